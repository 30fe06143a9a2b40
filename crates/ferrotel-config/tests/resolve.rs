//! Resolution of `Config` from environment maps and code overrides, through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ferrotel_config::vars::*;
use ferrotel_config::{
    Compression, Config, ConfigBuilder, ConfigIssue, Env, ExemplarFilter, HistogramAggregation,
    LogFormat, LogLevel, MetricsExporter, OtlpOverrides, Propagator, Protocol, Resolved,
    RpcSemconv, Sampler, Severity, Temporality, TracesExporter,
};

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied())
}

/// Lenient resolution without code overrides.
fn resolve(pairs: &[(&str, &str)]) -> Resolved {
    resolve_with(Config::builder(), pairs)
}

fn resolve_with(builder: ConfigBuilder, pairs: &[(&str, &str)]) -> Resolved {
    builder
        .resolve(&env(pairs))
        .expect("lenient resolution never fails")
}

/// The only issue about `variable`.
fn issue<'a>(resolved: &'a Resolved, variable: &str) -> &'a ConfigIssue {
    let found: Vec<_> = resolved
        .issues
        .iter()
        .filter(|issue| issue.variable == variable)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "issues about {variable}: {:#?}",
        resolved.issues
    );
    found[0]
}

fn attribute<'a>(resolved: &'a Resolved, key: &str) -> Option<&'a str> {
    resolved
        .config
        .resource
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn secs(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

mod defaults {
    use super::*;

    #[test]
    fn empty_env_gives_every_default_and_no_issue() {
        let resolved = resolve(&[]);
        assert!(resolved.issues.is_empty(), "{:#?}", resolved.issues);
        let c = resolved.config;
        assert!(!c.strict);
        assert!(!c.sdk_disabled);
        assert_eq!(c.service_name, "unknown_service");
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(
            c.propagators,
            vec![Propagator::TraceContext, Propagator::Baggage]
        );
        assert_eq!(c.sampler, Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        assert_eq!(c.traces_exporter, vec![TracesExporter::Otlp]);
        assert_eq!(c.metrics_exporter, vec![MetricsExporter::Otlp]);

        assert_eq!(c.batch.schedule_delay, secs(5000));
        assert_eq!(c.batch.max_queue_size, 2048);
        assert_eq!(c.batch.max_export_batch_size, 512);
        assert_eq!(c.batch.export_timeout, Some(secs(30000)));

        assert_eq!(c.limits.attribute_value_length, None);
        assert_eq!(c.limits.attribute_count, 128);
        assert_eq!(c.limits.span_attribute_value_length, None);
        assert_eq!(c.limits.span_attribute_count, 128);
        assert_eq!(c.limits.span_event_count, 128);
        assert_eq!(c.limits.span_link_count, 128);
        assert_eq!(c.limits.event_attribute_count, 128);
        assert_eq!(c.limits.link_attribute_count, 128);

        assert_eq!(c.metrics.export_interval, secs(60000));
        assert_eq!(c.metrics.export_timeout, Some(secs(30000)));
        assert_eq!(c.metrics.exemplar_filter, ExemplarFilter::TraceBased);
        assert_eq!(c.metrics.temporality, Temporality::Cumulative);
        assert_eq!(
            c.metrics.histogram_aggregation,
            HistogramAggregation::ExplicitBucket
        );
        assert_eq!(
            c.metrics.addr,
            "127.0.0.1:9464".parse::<SocketAddr>().unwrap()
        );

        for (otlp, path) in [(&c.traces_otlp, "traces"), (&c.metrics_otlp, "metrics")] {
            assert_eq!(otlp.endpoint, format!("http://localhost:4318/v1/{path}"));
            assert_eq!(otlp.protocol, Protocol::HttpProtobuf);
            assert!(!otlp.protocol_explicit);
            assert!(otlp.headers.is_empty());
            assert_eq!(otlp.timeout, Some(secs(10000)));
            assert_eq!(otlp.compression, Compression::None);
            assert!(!otlp.insecure);
            assert_eq!(otlp.certificate, None);
            assert_eq!(otlp.client_key, None);
            assert_eq!(otlp.client_certificate, None);
        }
        assert_eq!(c.semconv_opt_in.rpc, RpcSemconv::Stable);
        assert_eq!(c.config_file, None);
    }

    #[test]
    fn empty_and_blank_values_are_unset() {
        let resolved = resolve(&[
            (OTEL_TRACES_SAMPLER, ""),
            (OTEL_LOG_LEVEL, "   "),
            (OTEL_BSP_MAX_QUEUE_SIZE, ""),
            (OTEL_EXPORTER_OTLP_ENDPOINT, " "),
        ]);
        assert!(resolved.issues.is_empty());
        let mut config = resolved.config;
        let mut default = Config::default();
        // Only the random service.instance.id may differ.
        config.resource.clear();
        default.resource.clear();
        assert_eq!(config, default);
    }

    #[test]
    fn unknown_variables_are_ignored() {
        let resolved = resolve(&[("OTEL_SOMETHING_NEW", "x"), ("FERROTEL_FUTURE", "y")]);
        assert!(resolved.issues.is_empty());
    }

    #[test]
    fn env_get_trims_and_treats_empty_as_unset() {
        let e = env(&[("A", "  x "), ("B", ""), ("C", " ")]);
        assert_eq!(e.get("A"), Some("x"));
        assert_eq!(e.get("B"), None);
        assert_eq!(e.get("C"), None);
        assert_eq!(e.get("D"), None);
    }

    #[test]
    fn set_and_executable_name() {
        let mut e = Env::new().with_executable_name("api");
        e.set(OTEL_SERVICE_NAME, "billing");
        assert_eq!(e.executable_name(), Some("api"));
        assert_eq!(
            Config::builder().resolve(&e).unwrap().config.service_name,
            "billing"
        );
    }

    #[test]
    fn from_process_snapshots_the_environment() {
        let e = Env::from_process();
        assert!(e.executable_name().is_some());
        let resolved = Config::builder().resolve(&e).unwrap();
        assert!(!resolved.config.service_name.is_empty());
    }
}

mod enums {
    use super::*;

    #[test]
    fn keyword_values_are_case_insensitive_and_trimmed() {
        let c = resolve(&[
            (OTEL_SDK_DISABLED, " TRUE "),
            (OTEL_LOG_LEVEL, "WaRn"),
            (FERROTEL_LOG_FORMAT, "JSON"),
            (OTEL_METRICS_EXEMPLAR_FILTER, "Always_On"),
            (
                OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                "LowMemory",
            ),
            (
                OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
                "BASE2_Exponential_Bucket_Histogram",
            ),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "HTTP/JSON"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "GZip"),
            (OTEL_EXPORTER_OTLP_INSECURE, "True"),
            (OTEL_PROPAGATORS, "B3Multi, Jaeger"),
            (OTEL_TRACES_EXPORTER, "Console"),
            (OTEL_METRICS_EXPORTER, "PROMETHEUS,Otlp"),
        ])
        .config;
        assert!(c.sdk_disabled);
        assert_eq!(c.log_level, LogLevel::Warn);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.metrics.exemplar_filter, ExemplarFilter::AlwaysOn);
        assert_eq!(c.metrics.temporality, Temporality::LowMemory);
        assert_eq!(
            c.metrics.histogram_aggregation,
            HistogramAggregation::Base2Exponential
        );
        assert_eq!(c.traces_otlp.protocol, Protocol::HttpJson);
        assert_eq!(c.metrics_otlp.compression, Compression::Gzip);
        assert!(c.traces_otlp.insecure);
        assert_eq!(c.propagators, vec![Propagator::B3Multi, Propagator::Jaeger]);
        assert_eq!(c.traces_exporter, vec![TracesExporter::Console]);
        assert_eq!(
            c.metrics_exporter,
            vec![MetricsExporter::Prometheus, MetricsExporter::Otlp]
        );
    }

    #[test]
    fn every_log_level() {
        for (text, level) in [
            ("trace", LogLevel::Trace),
            ("DEBUG", LogLevel::Debug),
            ("Info", LogLevel::Info),
            ("warn", LogLevel::Warn),
            ("ERROR", LogLevel::Error),
            ("Off", LogLevel::Off),
        ] {
            assert_eq!(resolve(&[(OTEL_LOG_LEVEL, text)]).config.log_level, level);
            assert_eq!(level.as_str(), text.to_ascii_lowercase());
        }
    }

    #[test]
    fn every_exemplar_filter_temporality_and_aggregation() {
        for (text, filter) in [
            ("TRACE_BASED", ExemplarFilter::TraceBased),
            ("always_on", ExemplarFilter::AlwaysOn),
            ("Always_Off", ExemplarFilter::AlwaysOff),
        ] {
            let c = resolve(&[(OTEL_METRICS_EXEMPLAR_FILTER, text)]).config;
            assert_eq!(c.metrics.exemplar_filter, filter);
        }
        for (text, temporality) in [
            ("Cumulative", Temporality::Cumulative),
            ("DELTA", Temporality::Delta),
            ("lowmemory", Temporality::LowMemory),
        ] {
            let var = OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;
            assert_eq!(
                resolve(&[(var, text)]).config.metrics.temporality,
                temporality
            );
        }
        for (text, aggregation) in [
            (
                "Explicit_Bucket_Histogram",
                HistogramAggregation::ExplicitBucket,
            ),
            (
                "base2_exponential_bucket_histogram",
                HistogramAggregation::Base2Exponential,
            ),
        ] {
            let var = OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION;
            let c = resolve(&[(var, text)]).config;
            assert_eq!(c.metrics.histogram_aggregation, aggregation);
        }
    }

    #[test]
    fn every_protocol_and_compression() {
        for (text, protocol) in [
            ("GRPC", Protocol::Grpc),
            ("http/protobuf", Protocol::HttpProtobuf),
            ("Http/Json", Protocol::HttpJson),
        ] {
            let c = resolve(&[(OTEL_EXPORTER_OTLP_PROTOCOL, text)]).config;
            assert_eq!(c.traces_otlp.protocol, protocol);
            assert!(c.traces_otlp.protocol_explicit);
        }
        for (text, compression) in [("NONE", Compression::None), ("gzip", Compression::Gzip)] {
            let c = resolve(&[(OTEL_EXPORTER_OTLP_COMPRESSION, text)]).config;
            assert_eq!(c.traces_otlp.compression, compression);
        }
    }

    #[test]
    fn every_sampler() {
        let parent = |s| Sampler::ParentBased(Box::new(s));
        for (text, sampler) in [
            ("Always_On", Sampler::AlwaysOn),
            ("ALWAYS_OFF", Sampler::AlwaysOff),
            ("TraceIdRatio", Sampler::TraceIdRatio(1.0)),
            ("parentbased_always_on", parent(Sampler::AlwaysOn)),
            ("ParentBased_Always_Off", parent(Sampler::AlwaysOff)),
            (
                "parentbased_traceidratio",
                parent(Sampler::TraceIdRatio(1.0)),
            ),
            (
                "parentbased_jaeger_remote",
                Sampler::jaeger_remote_default(true),
            ),
            ("Jaeger_Remote", Sampler::jaeger_remote_default(false)),
        ] {
            let resolved = resolve(&[(OTEL_TRACES_SAMPLER, text)]);
            assert!(resolved.issues.is_empty(), "{text}");
            assert_eq!(resolved.config.sampler, sampler, "{text}");
        }
    }

    #[test]
    fn booleans_accept_only_true_and_false() {
        assert!(!resolve(&[(OTEL_SDK_DISABLED, "FALSE")]).config.sdk_disabled);
        assert!(resolve(&[(OTEL_SDK_DISABLED, "tRuE")]).config.sdk_disabled);
        for bad in ["1", "yes", "on"] {
            let resolved = resolve(&[(OTEL_SDK_DISABLED, bad)]);
            assert!(!resolved.config.sdk_disabled);
            assert_eq!(
                issue(&resolved, OTEL_SDK_DISABLED).severity,
                Severity::Invalid
            );
        }
    }

    #[test]
    fn process_metrics_default_on_and_a_bad_value_keeps_them_on_and_is_named() {
        assert!(resolve(&[]).config.process_metrics);
        assert!(
            !resolve(&[(FERROTEL_PROCESS_METRICS, "false")])
                .config
                .process_metrics
        );
        let resolved = resolve(&[(FERROTEL_PROCESS_METRICS, "off")]);
        assert!(resolved.config.process_metrics, "the default is kept");
        let named = issue(&resolved, FERROTEL_PROCESS_METRICS);
        assert_eq!(named.severity, Severity::Invalid);
        assert_eq!(named.value, "off");
        let strict = ferrotel_config::Config::builder().strict(true).resolve(
            &ferrotel_config::Env::from_pairs([(FERROTEL_PROCESS_METRICS, "off")]),
        );
        assert!(strict.is_err(), "strict mode refuses it");
        // Code beats the variable.
        let code = ferrotel_config::Config::builder()
            .process_metrics(false)
            .resolve(&ferrotel_config::Env::from_pairs([(
                FERROTEL_PROCESS_METRICS,
                "true",
            )]))
            .unwrap();
        assert!(!code.config.process_metrics);
    }
}

mod invalid_values {
    use super::*;

    #[test]
    fn the_sampler_message_reads_as_documented() {
        let resolved = resolve(&[(OTEL_TRACES_SAMPLER, "sometimes")]);
        assert_eq!(
            issue(&resolved, OTEL_TRACES_SAMPLER).to_string(),
            "OTEL_TRACES_SAMPLER=\"sometimes\" is not valid (allowed: always_on, always_off, \
             traceidratio, parentbased_always_on, parentbased_always_off, \
             parentbased_traceidratio, parentbased_jaeger_remote, jaeger_remote); using the \
             default parentbased_always_on"
        );
        assert_eq!(resolved.config.sampler, Sampler::default());
    }

    /// (variable, bad value, a fragment of the allowed text, other variables needed)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );

    const CASES: &[Case] = &[
        (OTEL_SDK_DISABLED, "yes", "true, false", &[]),
        (FERROTEL_CONFIG_STRICT, "maybe", "true, false", &[]),
        (
            OTEL_LOG_LEVEL,
            "verbose",
            "trace, debug, info, warn, error, off",
            &[],
        ),
        (FERROTEL_LOG_FORMAT, "xml", "text, json", &[]),
        (
            OTEL_TRACES_SAMPLER,
            "sometimes",
            "parentbased_traceidratio",
            &[],
        ),
        (
            OTEL_TRACES_SAMPLER_ARG,
            "1.5",
            "a number from 0 to 1",
            &[(OTEL_TRACES_SAMPLER, "traceidratio")],
        ),
        (
            OTEL_TRACES_SAMPLER_ARG,
            "half",
            "a number from 0 to 1",
            &[(OTEL_TRACES_SAMPLER, "parentbased_traceidratio")],
        ),
        (
            OTEL_BSP_SCHEDULE_DELAY,
            "-5",
            "a non-negative integer (milliseconds)",
            &[],
        ),
        (
            OTEL_BSP_EXPORT_TIMEOUT,
            "30s",
            "a non-negative integer (milliseconds)",
            &[],
        ),
        (OTEL_BSP_MAX_QUEUE_SIZE, "0", "a positive integer", &[]),
        (
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
            "many",
            "a positive integer",
            &[],
        ),
        (
            OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            "long",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_ATTRIBUTE_COUNT_LIMIT,
            "abc",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            "-1",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
            "1e3",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_SPAN_EVENT_COUNT_LIMIT,
            "x",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_SPAN_LINK_COUNT_LIMIT,
            "x",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
            "x",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
            "x",
            "a non-negative integer",
            &[],
        ),
        (
            OTEL_METRIC_EXPORT_INTERVAL,
            "1.5",
            "a non-negative integer (milliseconds)",
            &[],
        ),
        (
            OTEL_METRIC_EXPORT_TIMEOUT,
            "soon",
            "a non-negative integer (milliseconds)",
            &[],
        ),
        (
            OTEL_METRICS_EXEMPLAR_FILTER,
            "sometimes",
            "trace_based, always_on, always_off",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
            "low_memory",
            "cumulative, delta, lowmemory",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
            "exponential",
            "explicit_bucket_histogram, base2_exponential_bucket_histogram",
            &[],
        ),
        (
            FERROTEL_METRICS_ADDR,
            "localhost:9464",
            "socket address",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_PROTOCOL,
            "http",
            "grpc, http/protobuf, http/json",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            "thrift",
            "grpc, http/protobuf, http/json",
            &[],
        ),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd", "none, gzip", &[]),
        (
            OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
            "br",
            "none, gzip",
            &[],
        ),
        (OTEL_EXPORTER_OTLP_INSECURE, "1", "true, false", &[]),
        (
            OTEL_EXPORTER_OTLP_TIMEOUT,
            "10s",
            "a non-negative integer (milliseconds)",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
            "-1",
            "a non-negative integer (milliseconds)",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_ENDPOINT,
            "ftp://collector",
            "http:// or https:// URL",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "collector:4318",
            "http:// or https:// URL",
            &[],
        ),
        (
            OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
            "http://",
            "http:// or https:// URL",
            &[],
        ),
        (OTEL_RESOURCE_ATTRIBUTES, "a=1,b", "key=value", &[]),
        (
            OTEL_PROPAGATORS,
            "sometimes",
            "tracecontext, baggage, b3, b3multi, jaeger, xray, none",
            &[],
        ),
        (OTEL_TRACES_EXPORTER, "kafka", "otlp, console, none", &[]),
        (
            OTEL_METRICS_EXPORTER,
            "statsd",
            "otlp, prometheus, console, none",
            &[],
        ),
        (
            OTEL_CONFIG_FILE,
            "/etc/otel.yaml",
            "a file given with ConfigBuilder::config_file",
            &[],
        ),
    ];

    #[test]
    fn each_names_variable_value_and_allowed_values() {
        for (variable, value, allowed, extra) in CASES {
            let mut pairs = extra.to_vec();
            pairs.push((variable, value));
            let resolved = resolve(&pairs);
            let issue = issue(&resolved, variable);
            let text = issue.to_string();
            assert_eq!(issue.severity, Severity::Invalid, "{text}");
            assert_eq!(issue.value, *value);
            assert!(text.contains(variable), "{text}");
            assert!(text.contains(&format!("{value:?}")), "{text}");
            assert!(text.contains(allowed), "{text} lacks {allowed}");
            assert!(text.contains("; using "), "{text}");
        }
    }

    #[test]
    fn lenient_mode_uses_the_defaults() {
        let resolved = resolve(&[
            (OTEL_BSP_SCHEDULE_DELAY, "-5"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "10s"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd"),
            (OTEL_TRACES_SAMPLER, "traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, "2"),
            (FERROTEL_METRICS_ADDR, "nowhere"),
        ]);
        let c = &resolved.config;
        assert_eq!(c.batch.schedule_delay, secs(5000));
        assert_eq!(c.traces_otlp.timeout, Some(secs(10000)));
        assert_eq!(c.metrics_otlp.compression, Compression::None);
        assert_eq!(c.sampler, Sampler::TraceIdRatio(1.0));
        assert_eq!(c.metrics.addr.port(), 9464);
        // The generic variables are read once per signal, reported once.
        assert_eq!(resolved.issues.len(), 5, "{:#?}", resolved.issues);
        assert!(issue(&resolved, OTEL_BSP_SCHEDULE_DELAY)
            .to_string()
            .ends_with("using the default 5000 ms"));
        assert!(issue(&resolved, OTEL_TRACES_SAMPLER_ARG)
            .to_string()
            .contains("the ratio is outside [0, 1]"));
    }

    #[test]
    fn config_file_variable_without_the_parsed_file_is_reported() {
        // Resolution is pure: it cannot read the file, so it says so and uses the variables.
        let resolved = resolve(&[(OTEL_CONFIG_FILE, "/etc/otel.yaml")]);
        assert_eq!(resolved.config.config_file, None);
        let text = issue(&resolved, OTEL_CONFIG_FILE).to_string();
        assert!(text.contains("the file was not read"), "{text}");
        assert!(text.contains("using the OTEL_* variables"), "{text}");
    }

    #[test]
    fn header_values_are_redacted_in_issues() {
        let resolved = resolve(&[(
            OTEL_EXPORTER_OTLP_HEADERS,
            "authorization=Bearer%20s3cr3t,oops",
        )]);
        let issue = issue(&resolved, OTEL_EXPORTER_OTLP_HEADERS);
        let text = issue.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("oops"), "{text}");
        assert!(text.contains("authorization=<redacted>"), "{text}");
        assert!(text.contains("member 2 has no '='"), "{text}");
        assert!(resolved.config.traces_otlp.headers.is_empty());
    }

    #[test]
    fn invalid_code_endpoint_is_reported_under_its_setting() {
        let builder = Config::builder().traces_otlp(OtlpOverrides::new().endpoint("nope"));
        let resolved = resolve_with(builder, &[]);
        let issue = issue(&resolved, "code: traces_otlp.endpoint");
        assert_eq!(issue.value, "nope");
        assert_eq!(
            resolved.config.traces_otlp.endpoint,
            "http://localhost:4318/v1/traces"
        );
    }
}

mod strict_mode {
    use super::*;

    const BAD: &[(&str, &str)] = &[
        (OTEL_TRACES_SAMPLER, "sometimes"),
        (OTEL_BSP_MAX_QUEUE_SIZE, "lots"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd"),
    ];

    #[test]
    fn lists_every_invalid_issue() {
        let error = Config::builder()
            .strict(true)
            .resolve(&env(BAD))
            .unwrap_err();
        assert_eq!(error.issues().len(), 3, "{error}");
        let text = error.to_string();
        assert!(text.contains("3 problems"), "{text}");
        for (variable, value) in BAD {
            assert!(text.contains(&format!("{variable}={value:?}")), "{text}");
        }
        let _: &dyn std::error::Error = &error;
    }

    #[test]
    fn lenient_returns_defaults_with_the_same_issues() {
        let resolved = resolve(BAD);
        assert_eq!(resolved.issues.len(), 3);
        assert_eq!(resolved.config.sampler, Sampler::default());
        assert_eq!(resolved.config.batch.max_queue_size, 2048);
        assert!(!resolved.config.strict);
    }

    #[test]
    fn env_switches_it_on_and_code_beats_env() {
        let mut pairs = BAD.to_vec();
        pairs.push((FERROTEL_CONFIG_STRICT, "TRUE"));
        assert!(Config::builder().resolve(&env(&pairs)).is_err());
        let resolved = Config::builder()
            .strict(false)
            .resolve(&env(&pairs))
            .unwrap();
        assert!(!resolved.config.strict);
    }

    #[test]
    fn valid_config_passes_and_records_strict() {
        let resolved = Config::builder().strict(true).resolve(&Env::new()).unwrap();
        assert!(resolved.config.strict);
    }

    #[test]
    fn advice_never_fails() {
        let pairs = [(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317")];
        let resolved = Config::builder()
            .strict(true)
            .resolve(&env(&pairs))
            .unwrap();
        assert_eq!(resolved.issues.len(), 1);
        assert_eq!(resolved.issues[0].severity, Severity::Advice);
    }
}

mod resource {
    use super::*;

    #[test]
    fn service_name_precedence() {
        let attrs = (OTEL_RESOURCE_ATTRIBUTES, "service.name=from-attrs");
        let var = (OTEL_SERVICE_NAME, "from-var");
        let exe = |pairs: &[(&str, &str)]| env(pairs).with_executable_name("server");
        let name = |builder: ConfigBuilder, pairs: &[(&str, &str)]| {
            builder.resolve(&exe(pairs)).unwrap().config.service_name
        };
        assert_eq!(
            name(Config::builder().service_name("from-code"), &[attrs, var]),
            "from-code"
        );
        assert_eq!(
            name(
                Config::builder().resource_attribute("service.name", "code-attr"),
                &[attrs, var]
            ),
            "code-attr"
        );
        assert_eq!(
            name(
                Config::builder()
                    .resource_attribute("service.name", "code-attr")
                    .service_name("from-code"),
                &[]
            ),
            "from-code"
        );
        assert_eq!(name(Config::builder(), &[attrs, var]), "from-var");
        assert_eq!(name(Config::builder(), &[attrs]), "from-attrs");
        assert_eq!(name(Config::builder(), &[]), "unknown_service:server");
        assert_eq!(resolve(&[]).config.service_name, "unknown_service");
    }

    #[test]
    fn service_name_is_the_first_attribute_and_unique() {
        let resolved = resolve(&[
            (OTEL_RESOURCE_ATTRIBUTES, "a=1,service.name=attrs"),
            (OTEL_SERVICE_NAME, "svc"),
        ]);
        let r = &resolved.config.resource;
        assert_eq!(r[0], ("service.name".to_owned(), "svc".to_owned()));
        assert_eq!(r.iter().filter(|(k, _)| k == "service.name").count(), 1);
        assert_eq!(attribute(&resolved, "a"), Some("1"));
    }

    #[test]
    fn values_are_trimmed_and_percent_decoded() {
        let resolved = resolve(&[(
            OTEL_RESOURCE_ATTRIBUTES,
            " deployment.environment = prod%20eu ,team=a%2Cb%3Dc, emoji=%F0%9F%A6%80",
        )]);
        assert!(resolved.issues.is_empty());
        assert_eq!(
            attribute(&resolved, "deployment.environment"),
            Some("prod eu")
        );
        assert_eq!(attribute(&resolved, "team"), Some("a,b=c"));
        assert_eq!(attribute(&resolved, "emoji"), Some("🦀"));
    }

    #[test]
    fn a_malformed_member_discards_the_whole_value() {
        for bad in ["a=1,b", "a=1,=2", "a=1,b=%C3%28"] {
            let resolved = resolve(&[(OTEL_RESOURCE_ATTRIBUTES, bad)]);
            assert_eq!(attribute(&resolved, "a"), None, "{bad}");
            let text = issue(&resolved, OTEL_RESOURCE_ATTRIBUTES).to_string();
            assert!(text.contains("the whole value is discarded"), "{text}");
            // The service name does not come from the discarded value either.
            assert_eq!(resolved.config.service_name, "unknown_service");
        }
    }

    #[test]
    fn code_attributes_win() {
        let builder = Config::builder()
            .resource_attribute("team", "code")
            .resource_attribute("extra", "x");
        let resolved = resolve_with(builder, &[(OTEL_RESOURCE_ATTRIBUTES, "team=env")]);
        assert_eq!(attribute(&resolved, "team"), Some("code"));
        assert_eq!(attribute(&resolved, "extra"), Some("x"));
    }

    #[test]
    fn instance_id_is_added_only_when_absent() {
        let resolved = resolve(&[]);
        let id = attribute(&resolved, "service.instance.id").unwrap();
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        let other = resolve(&[]);
        assert_ne!(attribute(&other, "service.instance.id"), Some(id));

        let from_env = resolve(&[(OTEL_RESOURCE_ATTRIBUTES, "service.instance.id=pod-7")]);
        assert_eq!(attribute(&from_env, "service.instance.id"), Some("pod-7"));
        let count = from_env
            .config
            .resource
            .iter()
            .filter(|(k, _)| k == "service.instance.id")
            .count();
        assert_eq!(count, 1);

        let from_code = resolve_with(
            Config::builder().resource_attribute("service.instance.id", "fixed"),
            &[],
        );
        assert_eq!(attribute(&from_code, "service.instance.id"), Some("fixed"));
    }
}

mod otlp {
    use super::*;

    #[test]
    fn generic_http_endpoint_gets_the_signal_path() {
        for (base, traces, metrics) in [
            (
                "http://h:4318",
                "http://h:4318/v1/traces",
                "http://h:4318/v1/metrics",
            ),
            (
                "http://h:4318/",
                "http://h:4318/v1/traces",
                "http://h:4318/v1/metrics",
            ),
            (
                "https://h/otlp",
                "https://h/otlp/v1/traces",
                "https://h/otlp/v1/metrics",
            ),
            (
                "https://h/otlp/",
                "https://h/otlp/v1/traces",
                "https://h/otlp/v1/metrics",
            ),
        ] {
            let c = resolve(&[(OTEL_EXPORTER_OTLP_ENDPOINT, base)]).config;
            assert_eq!(c.traces_otlp.endpoint, traces);
            assert_eq!(c.metrics_otlp.endpoint, metrics);
        }
    }

    #[test]
    fn per_signal_endpoint_is_used_exactly() {
        let c = resolve(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://generic:4318"),
            (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://t:4318/custom"),
            (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, "http://m:4318/"),
        ])
        .config;
        assert_eq!(c.traces_otlp.endpoint, "http://t:4318/custom");
        assert_eq!(c.metrics_otlp.endpoint, "http://m:4318/");
    }

    #[test]
    fn grpc_endpoints_are_unchanged() {
        let c = resolve(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317/"),
        ])
        .config;
        assert_eq!(c.traces_otlp.endpoint, "http://collector:4317/");
        assert_eq!(c.metrics_otlp.endpoint, "http://collector:4317/");
        let c = resolve(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")]).config;
        assert_eq!(c.traces_otlp.endpoint, "http://localhost:4317");
    }

    #[test]
    fn scheme_less_grpc_endpoint_follows_insecure() {
        let grpc = (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc");
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317");
        let c = resolve(&[grpc, endpoint]).config;
        assert_eq!(c.traces_otlp.endpoint, "https://collector:4317");
        let c = resolve(&[grpc, endpoint, (OTEL_EXPORTER_OTLP_INSECURE, "true")]).config;
        assert_eq!(c.traces_otlp.endpoint, "http://collector:4317");
        let c = resolve(&[
            grpc,
            endpoint,
            (OTEL_EXPORTER_OTLP_METRICS_INSECURE, "true"),
        ])
        .config;
        assert_eq!(c.traces_otlp.endpoint, "https://collector:4317");
        assert_eq!(c.metrics_otlp.endpoint, "http://collector:4317");
    }

    #[test]
    fn invalid_per_signal_endpoint_falls_back_to_the_next_layer() {
        let resolved = resolve(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://generic:4318"),
            (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "not a url"),
        ]);
        assert_eq!(
            resolved.config.traces_otlp.endpoint,
            "http://generic:4318/v1/traces"
        );
        let text = issue(&resolved, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).to_string();
        assert!(
            text.ends_with("using http://generic:4318/v1/traces from OTEL_EXPORTER_OTLP_ENDPOINT"),
            "{text}"
        );
        let resolved = resolve(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "ftp://x")]);
        assert_eq!(
            resolved.config.traces_otlp.endpoint,
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            resolved.config.metrics_otlp.endpoint,
            "http://localhost:4318/v1/metrics"
        );
        // One problem, one issue, naming every signal's fallback.
        let text = issue(&resolved, OTEL_EXPORTER_OTLP_ENDPOINT).to_string();
        assert!(
            text.ends_with(
                "using the default http://localhost:4318/v1/traces, \
                 and the default http://localhost:4318/v1/metrics, \
                 and the default http://localhost:4318/v1/logs"
            ),
            "{text}"
        );
    }

    #[test]
    fn per_signal_beats_generic_beats_default() {
        let c = resolve(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json"),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "2000"),
            (OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, "3000"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "none"),
            (OTEL_EXPORTER_OTLP_CERTIFICATE, "/ca.pem"),
            (OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE, "/metrics-ca.pem"),
            (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, "/key.pem"),
            (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, "/cert.pem"),
        ])
        .config;
        assert_eq!(c.traces_otlp.protocol, Protocol::Grpc);
        assert_eq!(c.metrics_otlp.protocol, Protocol::HttpJson);
        assert_eq!(c.traces_otlp.timeout, Some(secs(2000)));
        assert_eq!(c.metrics_otlp.timeout, Some(secs(3000)));
        assert_eq!(c.traces_otlp.compression, Compression::None);
        assert_eq!(c.metrics_otlp.compression, Compression::Gzip);
        assert_eq!(c.traces_otlp.certificate, Some(PathBuf::from("/ca.pem")));
        assert_eq!(
            c.metrics_otlp.certificate,
            Some(PathBuf::from("/metrics-ca.pem"))
        );
        assert_eq!(c.traces_otlp.client_key, Some(PathBuf::from("/key.pem")));
        assert_eq!(c.metrics_otlp.client_key, None);
        assert_eq!(
            c.traces_otlp.client_certificate,
            Some(PathBuf::from("/cert.pem"))
        );
        assert_eq!(
            c.metrics_otlp.client_certificate,
            Some(PathBuf::from("/cert.pem"))
        );
    }

    #[test]
    fn code_beats_env_and_per_signal_code_beats_generic_code() {
        let builder = Config::builder()
            .otlp(
                OtlpOverrides::new()
                    .endpoint("http://code-generic:4318")
                    .timeout(None)
                    .compression(Compression::Gzip)
                    .headers([("x-code", "generic")]),
            )
            .traces_otlp(
                OtlpOverrides::new()
                    .endpoint("http://code-traces:4318/exact")
                    .protocol(Protocol::HttpJson)
                    .insecure(true)
                    .certificate("/code-ca.pem")
                    .client_key("/code-key.pem")
                    .client_certificate("/code-cert.pem"),
            );
        let resolved = resolve_with(
            builder,
            &[
                (
                    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                    "http://env-traces:4318/v1/traces",
                ),
                (
                    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
                    "http://env-metrics:4318/v1/metrics",
                ),
                (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
                (OTEL_EXPORTER_OTLP_TIMEOUT, "5"),
                (OTEL_EXPORTER_OTLP_HEADERS, "x-env=1"),
            ],
        );
        let c = resolved.config;
        assert_eq!(c.traces_otlp.endpoint, "http://code-traces:4318/exact");
        assert_eq!(c.traces_otlp.protocol, Protocol::HttpJson);
        assert!(c.traces_otlp.insecure);
        assert_eq!(
            c.traces_otlp.certificate,
            Some(PathBuf::from("/code-ca.pem"))
        );
        assert_eq!(
            c.traces_otlp.client_key,
            Some(PathBuf::from("/code-key.pem"))
        );
        assert_eq!(
            c.traces_otlp.client_certificate,
            Some(PathBuf::from("/code-cert.pem"))
        );
        // Generic code beats the per-signal variable; gRPC from env keeps the URL as given.
        assert_eq!(c.metrics_otlp.endpoint, "http://code-generic:4318");
        assert_eq!(c.metrics_otlp.protocol, Protocol::Grpc);
        assert_eq!(c.traces_otlp.timeout, None);
        assert_eq!(c.metrics_otlp.compression, Compression::Gzip);
        assert_eq!(
            c.traces_otlp.headers,
            vec![("x-code".to_owned(), "generic".to_owned())]
        );
        assert!(!c.metrics_otlp.insecure);
    }

    #[test]
    fn generic_code_endpoint_gets_the_signal_path_for_http() {
        let builder = Config::builder().otlp(OtlpOverrides::new().endpoint("http://c:4318/base"));
        let c = resolve_with(builder, &[]).config;
        assert_eq!(c.traces_otlp.endpoint, "http://c:4318/base/v1/traces");
        assert_eq!(c.metrics_otlp.endpoint, "http://c:4318/base/v1/metrics");
    }

    #[test]
    fn headers_are_decoded_and_per_signal_replaces_generic() {
        let c = resolve(&[
            (
                OTEL_EXPORTER_OTLP_HEADERS,
                "api-key=a%20b%2Cc, x-team = core",
            ),
            (OTEL_EXPORTER_OTLP_METRICS_HEADERS, "x-metrics=1"),
        ])
        .config;
        assert_eq!(
            c.traces_otlp.headers,
            vec![
                ("api-key".to_owned(), "a b,c".to_owned()),
                ("x-team".to_owned(), "core".to_owned())
            ]
        );
        assert_eq!(
            c.metrics_otlp.headers,
            vec![("x-metrics".to_owned(), "1".to_owned())]
        );
    }

    #[test]
    fn malformed_headers_discard_the_whole_value() {
        for bad in ["a=1,b", "bad name=1", "a=%0A"] {
            let resolved = resolve(&[
                (OTEL_EXPORTER_OTLP_HEADERS, "fallback=1"),
                (OTEL_EXPORTER_OTLP_TRACES_HEADERS, bad),
            ]);
            assert_eq!(
                resolved.config.traces_otlp.headers,
                vec![("fallback".to_owned(), "1".to_owned())],
                "{bad}"
            );
            assert_eq!(
                issue(&resolved, OTEL_EXPORTER_OTLP_TRACES_HEADERS).severity,
                Severity::Invalid
            );
        }
    }

    #[test]
    fn port_4317_with_the_default_protocol_is_advised_once() {
        let resolved = resolve(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317")]);
        let advice = issue(&resolved, OTEL_EXPORTER_OTLP_ENDPOINT);
        assert_eq!(advice.severity, Severity::Advice);
        let text = advice.to_string();
        assert!(text.contains("4317 is the OTLP/gRPC port"), "{text}");
        assert!(text.contains("http/protobuf (port 4318)"), "{text}");
        assert!(text.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"), "{text}");
        // The endpoint is still used (with the HTTP path appended).
        assert_eq!(
            resolved.config.traces_otlp.endpoint,
            "http://collector:4317/v1/traces"
        );

        let per_signal = resolve(&[(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://c:4317")]);
        assert_eq!(
            issue(&per_signal, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).severity,
            Severity::Advice
        );

        for protocol in ["grpc", "http/protobuf"] {
            let resolved = resolve(&[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317"),
                (OTEL_EXPORTER_OTLP_PROTOCOL, protocol),
            ]);
            assert!(
                resolved.issues.is_empty(),
                "{protocol}: {:#?}",
                resolved.issues
            );
        }
        assert!(resolve(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318")])
            .issues
            .is_empty());
    }

    #[test]
    fn zero_timeout_means_no_limit() {
        let c = resolve(&[
            (OTEL_EXPORTER_OTLP_TIMEOUT, "0"),
            (OTEL_BSP_EXPORT_TIMEOUT, "0"),
            (OTEL_METRIC_EXPORT_TIMEOUT, "0"),
        ])
        .config;
        assert_eq!(c.traces_otlp.timeout, None);
        assert_eq!(c.metrics_otlp.timeout, None);
        assert_eq!(c.batch.export_timeout, None);
        assert_eq!(c.metrics.export_timeout, None);
        let c = resolve(&[
            (OTEL_EXPORTER_OTLP_TIMEOUT, "0"),
            (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "7"),
        ])
        .config;
        assert_eq!(c.traces_otlp.timeout, Some(secs(7)));
    }
}

mod lists {
    use super::*;

    fn propagators(value: &str) -> (Vec<Propagator>, Vec<String>) {
        let resolved = resolve(&[(OTEL_PROPAGATORS, value)]);
        let issues = resolved.issues.iter().map(ToString::to_string).collect();
        (resolved.config.propagators, issues)
    }

    #[test]
    fn none_alone_is_empty() {
        assert_eq!(propagators("none"), (vec![], vec![]));
        assert_eq!(propagators(" NONE "), (vec![], vec![]));
    }

    #[test]
    fn duplicates_are_removed_in_order() {
        let (list, issues) = propagators("b3, tracecontext, B3, baggage,,tracecontext");
        assert_eq!(
            list,
            vec![
                Propagator::B3,
                Propagator::TraceContext,
                Propagator::Baggage
            ]
        );
        assert!(issues.is_empty());
    }

    #[test]
    fn unknown_entries_are_dropped_and_reported() {
        let (list, issues) = propagators("tracecontext,sometimes,baggage");
        assert_eq!(list, vec![Propagator::TraceContext, Propagator::Baggage]);
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].contains("entry \"sometimes\" is unknown"),
            "{}",
            issues[0]
        );
        assert!(issues[0].contains("using tracecontext, baggage without that entry"));
    }

    #[test]
    fn ottrace_is_known_but_unsupported() {
        let (list, issues) = propagators("tracecontext,xray,OTTrace");
        assert_eq!(list, vec![Propagator::TraceContext, Propagator::Xray]);
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].contains("known to the specification but not supported by ferrotel"),
            "{}",
            issues[0]
        );
    }

    #[test]
    fn nothing_valid_falls_back_to_the_default() {
        let (list, issues) = propagators("ottrace");
        assert_eq!(list, vec![Propagator::TraceContext, Propagator::Baggage]);
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].contains("using the default tracecontext, baggage"),
            "{}",
            issues[0]
        );
    }

    #[test]
    fn none_with_other_entries_is_dropped() {
        let (list, issues) = propagators("none,b3");
        assert_eq!(list, vec![Propagator::B3]);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].contains("\"none\" cannot be combined"));
    }

    #[test]
    fn code_propagators_beat_env_and_are_deduplicated() {
        let builder = Config::builder().propagators([Propagator::Jaeger, Propagator::Jaeger]);
        let c = resolve_with(builder, &[(OTEL_PROPAGATORS, "garbage")]);
        assert_eq!(c.config.propagators, vec![Propagator::Jaeger]);
        assert!(c.issues.is_empty(), "a shadowed variable is not read");
    }

    #[test]
    fn exporters() {
        let c = resolve(&[
            (OTEL_TRACES_EXPORTER, "none"),
            (OTEL_METRICS_EXPORTER, "none"),
        ])
        .config;
        assert!(c.traces_exporter.is_empty());
        assert!(c.metrics_exporter.is_empty());
        let resolved = resolve(&[
            (OTEL_TRACES_EXPORTER, "otlp,console,otlp,zipkin"),
            (OTEL_METRICS_EXPORTER, "console,prometheus"),
        ]);
        assert_eq!(
            resolved.config.traces_exporter,
            vec![TracesExporter::Otlp, TracesExporter::Console]
        );
        assert_eq!(
            resolved.config.metrics_exporter,
            vec![MetricsExporter::Console, MetricsExporter::Prometheus]
        );
        assert!(issue(&resolved, OTEL_TRACES_EXPORTER)
            .to_string()
            .contains("\"zipkin\" is known to the specification but not supported"));
        let code = resolve_with(
            Config::builder()
                .traces_exporter([])
                .metrics_exporter([MetricsExporter::Prometheus]),
            &[(OTEL_TRACES_EXPORTER, "console")],
        );
        assert!(code.config.traces_exporter.is_empty());
        assert_eq!(
            code.config.metrics_exporter,
            vec![MetricsExporter::Prometheus]
        );
    }

    #[test]
    fn semconv_opt_in() {
        let rpc = |value: &str| {
            resolve(&[(OTEL_SEMCONV_STABILITY_OPT_IN, value)])
                .config
                .semconv_opt_in
                .rpc
        };
        assert_eq!(rpc("rpc"), RpcSemconv::Stable);
        assert_eq!(rpc("http, RPC/DUP"), RpcSemconv::Dup);
        assert_eq!(rpc("rpc,rpc/dup"), RpcSemconv::Dup);
        assert_eq!(rpc("rpc_latest_experimental"), RpcSemconv::Latest);
        assert_eq!(rpc("rpc_latest_experimental,rpc/dup"), RpcSemconv::Dup);
        let resolved = resolve(&[(OTEL_SEMCONV_STABILITY_OPT_IN, "http/dup,database,whatever")]);
        assert!(resolved.issues.is_empty());
        assert_eq!(resolved.config.semconv_opt_in.rpc, RpcSemconv::Stable);
        let code = resolve_with(
            Config::builder().rpc_semconv(RpcSemconv::Dup),
            &[(OTEL_SEMCONV_STABILITY_OPT_IN, "rpc")],
        );
        assert_eq!(code.config.semconv_opt_in.rpc, RpcSemconv::Dup);
    }
}

mod limits_and_batch {
    use super::*;

    #[test]
    fn attribute_limits_fall_back_to_the_general_ones() {
        let c = resolve(&[
            (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "256"),
            (OTEL_ATTRIBUTE_COUNT_LIMIT, "64"),
        ])
        .config
        .limits;
        assert_eq!(c.attribute_value_length, Some(256));
        assert_eq!(c.span_attribute_value_length, Some(256));
        assert_eq!(c.attribute_count, 64);
        assert_eq!(c.span_attribute_count, 64);
        assert_eq!(c.event_attribute_count, 64);
        assert_eq!(c.link_attribute_count, 64);
        // Count limits of events and links themselves have no general fallback.
        assert_eq!(c.span_event_count, 128);
        assert_eq!(c.span_link_count, 128);
    }

    #[test]
    fn specific_limits_beat_general_ones() {
        let c = resolve(&[
            (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "256"),
            (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "0"),
            (OTEL_ATTRIBUTE_COUNT_LIMIT, "64"),
            (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "10"),
            (OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, "11"),
            (OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, "12"),
            (OTEL_SPAN_EVENT_COUNT_LIMIT, "13"),
            (OTEL_SPAN_LINK_COUNT_LIMIT, "14"),
        ])
        .config
        .limits;
        assert_eq!(c.span_attribute_value_length, Some(0));
        assert_eq!(c.span_attribute_count, 10);
        assert_eq!(c.event_attribute_count, 11);
        assert_eq!(c.link_attribute_count, 12);
        assert_eq!(c.span_event_count, 13);
        assert_eq!(c.span_link_count, 14);
    }

    #[test]
    fn invalid_specific_limit_falls_back_to_the_general_one() {
        let resolved = resolve(&[
            (OTEL_ATTRIBUTE_COUNT_LIMIT, "64"),
            (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "many"),
        ]);
        assert_eq!(resolved.config.limits.span_attribute_count, 64);
        assert!(issue(&resolved, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)
            .to_string()
            .ends_with("using 64 from OTEL_ATTRIBUTE_COUNT_LIMIT"));
    }

    #[test]
    fn invalid_general_limit_is_reported_once() {
        let resolved = resolve(&[(OTEL_ATTRIBUTE_COUNT_LIMIT, "many")]);
        assert_eq!(resolved.issues.len(), 1, "{:#?}", resolved.issues);
        assert_eq!(resolved.config.limits.link_attribute_count, 128);
    }

    #[test]
    fn code_general_limit_is_below_specific_variables() {
        let builder = Config::builder()
            .attribute_count_limit(5)
            .span_link_count_limit(3);
        let c = resolve_with(builder, &[(OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, "9")])
            .config
            .limits;
        assert_eq!(c.attribute_count, 5);
        assert_eq!(c.span_attribute_count, 5);
        assert_eq!(c.link_attribute_count, 9);
        assert_eq!(c.span_link_count, 3);
    }

    #[test]
    fn batch_values_and_clamping() {
        let c = resolve(&[
            (OTEL_BSP_SCHEDULE_DELAY, "100"),
            (OTEL_BSP_MAX_QUEUE_SIZE, "4096"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "1024"),
            (OTEL_BSP_EXPORT_TIMEOUT, "250"),
        ])
        .config
        .batch;
        assert_eq!(c.schedule_delay, secs(100));
        assert_eq!((c.max_queue_size, c.max_export_batch_size), (4096, 1024));
        assert_eq!(c.export_timeout, Some(secs(250)));

        let explicit = resolve(&[
            (OTEL_BSP_MAX_QUEUE_SIZE, "100"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "200"),
        ]);
        assert_eq!(explicit.config.batch.max_export_batch_size, 100);
        let text = issue(&explicit, OTEL_BSP_MAX_EXPORT_BATCH_SIZE).to_string();
        assert!(text.contains("is not valid"), "{text}");
        assert!(
            text.contains("using a batch size of 100 (the queue size)"),
            "{text}"
        );

        let defaulted = resolve(&[(OTEL_BSP_MAX_QUEUE_SIZE, "100")]);
        assert_eq!(defaulted.config.batch.max_export_batch_size, 100);
        let advice = issue(&defaulted, OTEL_BSP_MAX_QUEUE_SIZE);
        assert_eq!(advice.severity, Severity::Advice);
        assert!(advice
            .to_string()
            .contains("smaller than the default batch size 512"));
    }

    #[test]
    fn code_batch_and_metrics_settings_beat_env() {
        let builder = Config::builder()
            .batch_schedule_delay(secs(1))
            .batch_max_queue_size(10)
            .batch_max_export_batch_size(5)
            .batch_export_timeout(None)
            .metric_export_interval(secs(2))
            .metric_export_timeout(Some(secs(3)))
            .exemplar_filter(ExemplarFilter::AlwaysOff)
            .temporality(Temporality::Delta)
            .histogram_aggregation(HistogramAggregation::Base2Exponential)
            .metrics_addr("0.0.0.0:9000".parse().unwrap())
            .sdk_disabled(true)
            .log_level(LogLevel::Debug)
            .log_format(LogFormat::Json);
        let c = resolve_with(
            builder,
            &[
                (OTEL_BSP_SCHEDULE_DELAY, "9"),
                (OTEL_METRIC_EXPORT_INTERVAL, "9"),
                (OTEL_METRICS_EXEMPLAR_FILTER, "always_on"),
                (FERROTEL_METRICS_ADDR, "[::1]:1"),
                (OTEL_SDK_DISABLED, "false"),
                (OTEL_LOG_LEVEL, "error"),
            ],
        )
        .config;
        assert_eq!(c.batch.schedule_delay, secs(1));
        assert_eq!(
            (c.batch.max_queue_size, c.batch.max_export_batch_size),
            (10, 5)
        );
        assert_eq!(c.batch.export_timeout, None);
        assert_eq!(c.metrics.export_interval, secs(2));
        assert_eq!(c.metrics.export_timeout, Some(secs(3)));
        assert_eq!(c.metrics.exemplar_filter, ExemplarFilter::AlwaysOff);
        assert_eq!(c.metrics.temporality, Temporality::Delta);
        assert_eq!(
            c.metrics.histogram_aggregation,
            HistogramAggregation::Base2Exponential
        );
        assert_eq!(
            c.metrics.addr,
            "0.0.0.0:9000".parse::<SocketAddr>().unwrap()
        );
        assert!(c.sdk_disabled);
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn metrics_endpoint_limits_default_and_come_from_env() {
        let c = resolve(&[]).config;
        assert_eq!(
            (
                c.metrics.rate_limit,
                c.metrics.burst,
                c.metrics.max_connections,
                c.metrics.max_connections_per_peer
            ),
            (10, 20, 16, 4)
        );
        let c = resolve(&[
            (FERROTEL_METRICS_RATE_LIMIT, "0"),
            (FERROTEL_METRICS_BURST, " 50 "),
            (FERROTEL_METRICS_MAX_CONNECTIONS, "64"),
            (FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER, "0"),
        ])
        .config;
        assert_eq!(
            (
                c.metrics.rate_limit,
                c.metrics.burst,
                c.metrics.max_connections,
                c.metrics.max_connections_per_peer
            ),
            (0, 50, 64, 0)
        );
    }

    #[test]
    fn bad_metrics_endpoint_limits_are_named_with_their_value_and_bound() {
        let resolved = resolve(&[
            (FERROTEL_METRICS_RATE_LIMIT, "-1"),
            (FERROTEL_METRICS_BURST, "0"),
            (FERROTEL_METRICS_MAX_CONNECTIONS, "100000"),
            (FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER, "four"),
        ]);
        let c = &resolved.config;
        assert_eq!(
            (
                c.metrics.rate_limit,
                c.metrics.burst,
                c.metrics.max_connections,
                c.metrics.max_connections_per_peer
            ),
            (10, 20, 16, 4),
            "the defaults stand in"
        );
        assert_eq!(resolved.issues.len(), 4, "{:#?}", resolved.issues);
        for (var, value, allowed) in [
            (
                FERROTEL_METRICS_RATE_LIMIT,
                "-1",
                "a non-negative integer up to 10000",
            ),
            (
                FERROTEL_METRICS_BURST,
                "0",
                "a positive integer up to 10000",
            ),
            (
                FERROTEL_METRICS_MAX_CONNECTIONS,
                "100000",
                "a positive integer up to 1024",
            ),
            (
                FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER,
                "four",
                "a non-negative integer up to 1024",
            ),
        ] {
            let text = issue(&resolved, var).to_string();
            assert!(text.contains(var), "{text}");
            assert!(text.contains(value), "{text}");
            assert!(text.contains(allowed), "{text}");
            assert!(text.contains("using the default"), "{text}");
        }
        let strict = Config::builder()
            .strict(true)
            .resolve(&env(&[(FERROTEL_METRICS_BURST, "0")]))
            .expect_err("strict mode refuses a zero burst");
        assert!(
            strict.to_string().contains(FERROTEL_METRICS_BURST),
            "{strict}"
        );
    }

    #[test]
    fn code_metrics_endpoint_limits_beat_env() {
        let builder = Config::builder()
            .metrics_rate_limit(2)
            .metrics_burst(3)
            .metrics_max_connections(5, 1);
        let c = resolve_with(
            builder,
            &[
                (FERROTEL_METRICS_RATE_LIMIT, "7"),
                (FERROTEL_METRICS_BURST, "8"),
                (FERROTEL_METRICS_MAX_CONNECTIONS, "9"),
                (FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER, "9"),
            ],
        )
        .config;
        assert_eq!(
            (
                c.metrics.rate_limit,
                c.metrics.burst,
                c.metrics.max_connections,
                c.metrics.max_connections_per_peer
            ),
            (2, 3, 5, 1)
        );
    }

    #[test]
    fn metrics_addr_accepts_ipv6() {
        let c = resolve(&[(FERROTEL_METRICS_ADDR, "[::]:9464")]).config;
        assert_eq!(c.metrics.addr, "[::]:9464".parse::<SocketAddr>().unwrap());
    }
}

mod sampler {
    use super::*;

    #[test]
    fn ratio_argument() {
        let c = resolve(&[
            (OTEL_TRACES_SAMPLER, "traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, "0.1"),
        ]);
        assert_eq!(c.config.sampler, Sampler::TraceIdRatio(0.1));
        // The argument is ignored by samplers that take none.
        let c = resolve(&[
            (OTEL_TRACES_SAMPLER, "always_on"),
            (OTEL_TRACES_SAMPLER_ARG, "junk"),
        ]);
        assert!(c.issues.is_empty());
    }

    #[test]
    fn jaeger_remote_argument() {
        let c = resolve(&[
            (OTEL_TRACES_SAMPLER, "parentbased_jaeger_remote"),
            (
                OTEL_TRACES_SAMPLER_ARG,
                "endpoint=http://agent:14250, pollingIntervalMs=5000,initialSamplingRate=0.25",
            ),
        ]);
        assert!(c.issues.is_empty(), "{:#?}", c.issues);
        assert_eq!(
            c.config.sampler,
            Sampler::JaegerRemote {
                endpoint: "http://agent:14250".to_owned(),
                polling_interval: secs(5000),
                initial_sampling_rate: 0.25,
                parent_based: true,
            }
        );
        assert_eq!(
            Sampler::jaeger_remote_default(false),
            Sampler::JaegerRemote {
                endpoint: "http://localhost:5778/sampling".to_owned(),
                polling_interval: secs(60000),
                initial_sampling_rate: 0.001,
                parent_based: false,
            }
        );
    }

    #[test]
    fn bad_jaeger_keys_fall_back_one_by_one() {
        let resolved = resolve(&[
            (OTEL_TRACES_SAMPLER, "jaeger_remote"),
            (
                OTEL_TRACES_SAMPLER_ARG,
                "endpoint=agent,pollingIntervalMs=soon,initialSamplingRate=0.5,colour=blue",
            ),
        ]);
        assert_eq!(
            resolved.config.sampler,
            Sampler::JaegerRemote {
                endpoint: "http://localhost:5778/sampling".to_owned(),
                polling_interval: secs(60000),
                initial_sampling_rate: 0.5,
                parent_based: false,
            }
        );
        assert_eq!(resolved.issues.len(), 3, "{:#?}", resolved.issues);
        let text: Vec<String> = resolved.issues.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.contains("colour=blue")), "{text:#?}");
        assert!(
            text.iter()
                .any(|t| t.contains("using the default pollingIntervalMs=60000")),
            "{text:#?}"
        );
        assert!(text
            .iter()
            .any(|t| t.contains("using the default endpoint=http://localhost:5778/sampling")));
    }

    #[test]
    fn code_sampler_beats_env() {
        let builder = Config::builder().sampler(Sampler::AlwaysOff);
        let c = resolve_with(builder, &[(OTEL_TRACES_SAMPLER, "nonsense")]);
        assert_eq!(c.config.sampler, Sampler::AlwaysOff);
        assert!(c.issues.is_empty());
    }
}
