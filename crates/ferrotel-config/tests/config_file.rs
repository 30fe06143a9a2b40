//! The declarative configuration file (`OTEL_CONFIG_FILE`), through the public API: every
//! supported section, substitution, precedence over the environment, unsupported keys and
//! errors with their lines. The files are in `tests/testdata/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use ferrotel_config::vars::*;
use ferrotel_config::{
    Compression, Config, ConfigError, ConfigFile, ConfigIssue, Detector, Env, ExemplarFilter,
    HistogramAggregation, LogLevel, MetricsExporter, ParentBasedSamplers, Propagator, Protocol,
    Resolved, Sampler, Severity, Temporality, TracesExporter,
};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied()).with_executable_name("svc")
}

/// Parses `tests/testdata/<name>` (named `<name>` in messages) with `pairs` as the
/// environment.
fn parse(name: &str, pairs: &[(&str, &str)]) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path(name)).expect("test data");
    ConfigFile::parse(name, &text, &env(pairs))
}

/// Lenient resolution of a test file.
fn load(name: &str, pairs: &[(&str, &str)]) -> Resolved {
    let file = parse(name, pairs).unwrap_or_else(|err| panic!("{name}: {err}"));
    Config::builder()
        .config_file(file)
        .resolve(&env(pairs))
        .expect("lenient")
}

/// The only issue whose variable (`file:line: key`) is exactly `place`.
fn issue<'r>(resolved: &'r Resolved, place: &str) -> &'r ConfigIssue {
    let found: Vec<_> = resolved
        .issues
        .iter()
        .filter(|issue| issue.variable == place)
        .collect();
    assert_eq!(found.len(), 1, "issues at {place}: {:#?}", resolved.issues);
    found[0]
}

fn invalid(resolved: &Resolved) -> Vec<String> {
    resolved
        .issues
        .iter()
        .filter(|issue| issue.severity == Severity::Invalid)
        .map(ToString::to_string)
        .collect()
}

fn attr<'c>(config: &'c Config, key: &str) -> Option<&'c str> {
    config
        .resource
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

mod published_examples {
    use super::*;

    #[test]
    fn otel_sdk_config_loads_with_nothing_unsupported() {
        let resolved = load("published-otel-sdk-config.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        let c = &resolved.config;
        assert_eq!(
            c.config_file.as_deref(),
            Some("published-otel-sdk-config.yaml")
        );
        assert!(!c.sdk_disabled);
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.service_name, "unknown_service");
        assert_eq!(
            c.propagators,
            [Propagator::TraceContext, Propagator::Baggage]
        );
        assert_eq!(c.sampler, Sampler::default());
        assert_eq!(c.traces_exporter, [TracesExporter::Otlp]);
        assert_eq!(c.traces_otlp.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(c.traces_otlp.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.traces_otlp.compression, Compression::Gzip);
        assert_eq!(c.traces_otlp.certificate, None);
        assert_eq!(c.metrics_exporter, [MetricsExporter::Otlp]);
        assert_eq!(c.metrics_otlp.endpoint, "http://localhost:4318/v1/metrics");
        assert_eq!(c.metrics.export_interval, ms(60_000));
        assert_eq!(c.metrics.exemplar_filter, ExemplarFilter::TraceBased);
        assert_eq!(c.limits.span_attribute_count, 128);
        let file = parse("published-otel-sdk-config.yaml", &[]).unwrap();
        let logs = file.logger_provider().expect("logger_provider is kept");
        assert!(logs.variables().contains(&(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT".to_owned(),
            "http://localhost:4318/v1/logs".to_owned()
        )));
        assert!(logs
            .variables()
            .contains(&("OTEL_BLRP_SCHEDULE_DELAY".to_owned(), "1000".to_owned())));
    }

    /// The migration example references every variable that maps to the file, so with the
    /// same variables set it must resolve as the variables alone do.
    #[test]
    fn migration_config_resolves_like_the_variables_it_references() {
        let vars = [
            (OTEL_SERVICE_NAME, "orders"),
            (
                OTEL_RESOURCE_ATTRIBUTES,
                "service.instance.id=i-1,zone=eu%2D1",
            ),
            (OTEL_PROPAGATORS, "tracecontext,b3"),
            (OTEL_BSP_SCHEDULE_DELAY, "123"),
            (OTEL_BSP_MAX_QUEUE_SIZE, "999"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "x-tenant=acme"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "none"),
            (OTEL_EXPORTER_OTLP_METRICS_COMPRESSION, "gzip"),
            // The example's logger_provider defaults its compression to gzip.
            (OTEL_EXPORTER_OTLP_LOGS_COMPRESSION, "gzip"),
            (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "2500"),
            (OTEL_SPAN_EVENT_COUNT_LIMIT, "7"),
            (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "300"),
            (OTEL_METRIC_EXPORT_INTERVAL, "5000"),
            (OTEL_METRICS_EXEMPLAR_FILTER, "always_off"),
            (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, "delta"),
            (OTEL_SEMCONV_STABILITY_OPT_IN, "rpc/dup"),
        ];
        let from_file = load("published-otel-sdk-migration-config.yaml", &vars);
        assert!(invalid(&from_file).is_empty(), "{:#?}", from_file.issues);
        let from_env = Config::builder().resolve(&env(&vars)).unwrap().config;
        let mut file_config = from_file.config.clone();
        // Only the bookkeeping differs: the file names its protocol, the variables default it.
        file_config.config_file = None;
        file_config.traces_otlp.protocol_explicit = false;
        file_config.metrics_otlp.protocol_explicit = false;
        file_config.logs_otlp.protocol_explicit = false;
        // A file without resource.detection/development runs no detector (the schema's rule);
        // the variables run them all.
        assert!(file_config.resource_detection.detectors.is_empty());
        file_config.resource_detection.detectors = from_env.resource_detection.detectors.clone();
        assert_eq!(file_config, from_env);
    }

    #[test]
    fn getting_started_loads_its_detectors_without_an_issue() {
        let resolved = load(
            "published-otel-getting-started.yaml",
            &[(OTEL_SERVICE_NAME, "inventory")],
        );
        assert!(resolved.issues.is_empty(), "{:#?}", resolved.issues);
        assert_eq!(
            resolved.config.resource_detection.detectors,
            [
                Detector::Service,
                Detector::Host,
                Detector::Process,
                Detector::Container
            ]
        );
        // The service detector is what reads OTEL_SERVICE_NAME once a file is in charge.
        assert_eq!(resolved.config.service_name, "inventory");
        assert_eq!(
            resolved.config.traces_otlp.endpoint,
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn getting_started_without_the_service_detector_ignores_otel_service_name() {
        let text = std::fs::read_to_string(path("published-otel-getting-started.yaml")).unwrap();
        let text = text.replace("      - service:", "");
        let vars = [(OTEL_SERVICE_NAME, "inventory")];
        let file = ConfigFile::parse("otel.yaml", &text, &env(&vars)).unwrap();
        let resolved = Config::builder()
            .config_file(file)
            .resolve(&env(&vars))
            .unwrap();
        assert_eq!(resolved.config.service_name, "unknown_service:svc");
        assert!(
            resolved
                .issues
                .iter()
                .any(|issue| issue.variable.contains(OTEL_SERVICE_NAME)),
            "now OTEL_SERVICE_NAME is ignored, and said to be: {:#?}",
            resolved.issues
        );
    }
}

mod sections {
    use super::*;

    #[test]
    fn detection_reads_detectors_and_attribute_filters() {
        let yaml = r#"
file_format: "1.1"
resource:
  attributes:
    - name: k8s.pod.name
      value: from-the-file
  detection/development:
    attributes:
      included: [k8s.*, service.*]
      excluded: [k8s.node.*]
    detectors:
      - k8s:
      - service: {}
      - os:
"#;
        let vars = [
            (OTEL_SERVICE_NAME, "ledger"),
            (OTEL_RESOURCE_ATTRIBUTES_POD_NAME, "ledger-0"),
            (OTEL_RESOURCE_ATTRIBUTES_NODE_NAME, "node-a"),
            (OTEL_RESOURCE_ATTRIBUTES_POD_UID, "5f1d-uid"),
        ];
        let file = ConfigFile::parse("otel.yaml", yaml, &env(&vars)).unwrap();
        let resolved = Config::builder()
            .config_file(file)
            .resolve(&env(&vars))
            .unwrap();
        let c = &resolved.config;
        assert_eq!(
            c.resource_detection.detectors,
            [Detector::K8s, Detector::Service]
        );
        assert_eq!(c.service_name, "ledger");
        // The file's attribute wins over the detected one; the filter drops the node.
        assert_eq!(attr(c, "k8s.pod.name"), Some("from-the-file"));
        assert_eq!(attr(c, "k8s.pod.uid"), Some("5f1d-uid"));
        assert_eq!(attr(c, "k8s.node.name"), None);
        // The one problem: a detector ferrotel does not have.
        let problems = invalid(&resolved);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("detectors[2]"), "{problems:#?}");
    }

    #[test]
    fn code_detectors_win_over_the_file() {
        let yaml = "file_format: \"1.1\"\nresource:\n  detection/development:\n    detectors:\n      - host:\n";
        let file = ConfigFile::parse("otel.yaml", yaml, &env(&[])).unwrap();
        let c = Config::builder()
            .config_file(file)
            .resource_detectors([Detector::Process])
            .resolve(&env(&[]))
            .unwrap()
            .config;
        assert_eq!(c.resource_detection.detectors, [Detector::Process]);
    }

    #[test]
    fn resource_attributes_win_over_the_list() {
        let resolved = load("resource.yaml", &[(OTEL_SERVICE_NAME, "ignored")]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        let c = &resolved.config;
        assert_eq!(c.service_name, "ledger");
        assert_eq!(attr(c, "service.version"), Some("2.4.1"));
        assert_eq!(attr(c, "deployment.environment"), Some("stage one"));
        assert_eq!(attr(c, "team"), Some("storage"));
        assert_eq!(attr(c, "replicas"), Some("3"));
        assert_eq!(attr(c, "canary"), Some("true"));
        assert_eq!(attr(c, "dropped.because.null"), None);
        assert_eq!(attr(c, "service.instance.id"), Some("instance-7"));
    }

    #[test]
    fn propagators_merge_composite_and_list_in_order() {
        let c = load("propagators.yaml", &[]).config;
        assert_eq!(
            c.propagators,
            [
                Propagator::TraceContext,
                Propagator::B3Multi,
                Propagator::Baggage,
                Propagator::Jaeger
            ]
        );
    }

    #[test]
    fn absent_sections_mean_noop_components() {
        let resolved = load("no-providers.yaml", &[(OTEL_TRACES_EXPORTER, "console")]);
        let c = &resolved.config;
        assert!(c.propagators.is_empty());
        assert!(c.traces_exporter.is_empty());
        assert!(c.metrics_exporter.is_empty());
        assert_eq!(c.service_name, "unknown_service:svc");
        let file = parse("no-providers.yaml", &[]).unwrap();
        assert!(file.logger_provider().is_none());
    }

    #[test]
    fn tracer_provider_batch_otlp_grpc_console_and_limits() {
        let resolved = load("tracer-provider.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        let c = &resolved.config;
        assert_eq!(
            c.traces_exporter,
            [TracesExporter::Otlp, TracesExporter::Console]
        );
        assert_eq!(c.batch.schedule_delay, ms(250));
        assert_eq!(c.batch.export_timeout, None);
        assert_eq!(c.batch.max_queue_size, 4096);
        assert_eq!(c.batch.max_export_batch_size, 256);
        let otlp = &c.traces_otlp;
        assert_eq!(otlp.protocol, Protocol::Grpc);
        assert!(otlp.insecure);
        assert_eq!(otlp.endpoint, "http://collector:4317");
        assert_eq!(
            otlp.headers,
            [
                ("x-tenant".to_owned(), "acme".to_owned()),
                ("authorization".to_owned(), "Bearer s3cr3t".to_owned()),
            ]
        );
        assert_eq!(otlp.compression, Compression::Gzip);
        assert_eq!(otlp.timeout, Some(ms(2000)));
        assert_eq!(otlp.certificate, Some(PathBuf::from("/etc/otel/ca.pem")));
        assert_eq!(otlp.client_key, Some(PathBuf::from("/etc/otel/client.key")));
        assert_eq!(
            otlp.client_certificate,
            Some(PathBuf::from("/etc/otel/client.pem"))
        );
        // The metrics signal keeps its own defaults.
        assert_eq!(c.metrics_otlp.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.limits.attribute_value_length, Some(4096));
        assert_eq!(c.limits.attribute_count, 64);
        assert_eq!(c.limits.span_attribute_value_length, Some(4096));
        assert_eq!(c.limits.span_attribute_count, 32);
        assert_eq!(c.limits.span_event_count, 10);
        assert_eq!(c.limits.span_link_count, 11);
        assert_eq!(c.limits.event_attribute_count, 12);
        assert_eq!(c.limits.link_attribute_count, 13);
        assert_eq!(c.sampler, Sampler::AlwaysOff);
        assert!(c.simple_span_exporters.is_empty(), "both are batched");
    }

    #[test]
    fn meter_provider_readers_exporters_and_exemplars() {
        let resolved = load("meter-provider.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        let c = &resolved.config;
        assert_eq!(
            c.metrics_exporter,
            [
                MetricsExporter::Otlp,
                MetricsExporter::Console,
                MetricsExporter::Prometheus
            ]
        );
        assert_eq!(c.metrics.export_interval, ms(1500));
        assert_eq!(c.metrics.export_timeout, Some(ms(700)));
        assert_eq!(c.metrics.temporality, Temporality::LowMemory);
        assert_eq!(
            c.metrics.histogram_aggregation,
            HistogramAggregation::Base2Exponential
        );
        assert_eq!(c.metrics.exemplar_filter, ExemplarFilter::AlwaysOn);
        assert_eq!(c.metrics.addr.to_string(), "0.0.0.0:9099");
        let otlp = &c.metrics_otlp;
        assert_eq!(otlp.protocol, Protocol::HttpJson);
        assert_eq!(otlp.endpoint, "https://metrics.example:4318/custom/metrics");
        assert_eq!(otlp.headers, [("x-tenant".to_owned(), "acme".to_owned())]);
        assert!(c.traces_exporter.is_empty());
    }

    #[test]
    fn logger_provider_is_kept_apart_as_the_logs_variables() {
        let file = parse("logger-provider.yaml", &[]).unwrap();
        let logs = file.logger_provider().expect("section");
        let get = |name: &str| {
            logs.variables()
                .iter()
                .find(|(var, _)| var == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("OTEL_LOGS_EXPORTER"), Some("otlp"));
        assert_eq!(get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"), Some("grpc"));
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
            Some("http://logs:4317")
        );
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_LOGS_HEADERS"),
            Some("x-tenant=acme")
        );
        assert_eq!(get("OTEL_BLRP_SCHEDULE_DELAY"), Some("300"));
        assert_eq!(get("OTEL_BLRP_EXPORT_TIMEOUT"), Some("4000"));
        assert_eq!(get("OTEL_BLRP_MAX_QUEUE_SIZE"), Some("100"));
        assert_eq!(get("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"), Some("50"));
        assert_eq!(
            get("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
            Some("512")
        );
        assert_eq!(get("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT"), Some("16"));
        // Debug output never shows values (headers are secrets).
        assert!(!format!("{file:?}").contains("acme"));
        let resolved = load("logger-provider.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
    }

    #[test]
    fn parent_based_sampler_with_a_ratio_root() {
        let resolved = load("parent-based-sampler.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        assert_eq!(
            resolved.config.sampler,
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.125)))
        );
    }

    #[test]
    fn parent_based_delegates_other_than_the_defaults() {
        let resolved = load("parent-based-delegates.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        assert_eq!(
            resolved.config.sampler,
            Sampler::ParentBasedWith(Box::new(ParentBasedSamplers {
                root: Sampler::TraceIdRatio(0.5),
                remote_parent_sampled: Sampler::AlwaysOn,
                remote_parent_not_sampled: Sampler::TraceIdRatio(0.25),
                local_parent_sampled: Sampler::AlwaysOff,
                local_parent_not_sampled: Sampler::AlwaysOff,
            }))
        );
        // A sampler set in code still wins.
        let file = parse("parent-based-delegates.yaml", &[]).unwrap();
        let c = Config::builder()
            .config_file(file)
            .sampler(Sampler::AlwaysOn)
            .resolve(&env(&[]))
            .unwrap()
            .config;
        assert_eq!(c.sampler, Sampler::AlwaysOn);
    }

    #[test]
    fn jaeger_remote_sampler_under_parent_based() {
        let resolved = load("jaeger-remote.yaml", &[]);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        assert_eq!(
            resolved.config.sampler,
            Sampler::JaegerRemote {
                endpoint: "http://jaeger:5778/sampling".to_owned(),
                polling_interval: ms(30_000),
                initial_sampling_rate: 0.5,
                parent_based: true,
            }
        );
    }
}

mod substitution {
    use super::*;

    #[test]
    fn values_are_substituted_then_typed() {
        let vars = [
            ("DISABLED", "false"),
            ("SERVICE_NAME", "from-env"),
            ("NOT_SUBSTITUTED", "oops"),
            ("PORT", "8080"),
            ("REGION", "eu"),
            ("DELAY", "75"),
            ("ENDPOINT", "http://collector:4318"),
            ("HEADERS", "x-api-key=k%2C1"),
        ];
        let resolved = load("substitution.yaml", &vars);
        assert!(invalid(&resolved).is_empty(), "{:#?}", resolved.issues);
        let c = &resolved.config;
        assert!(!c.sdk_disabled);
        assert_eq!(c.service_name, "from-env");
        assert_eq!(attr(c, "literal"), Some("${NOT_SUBSTITUTED}"));
        assert_eq!(attr(c, "port.text"), Some("8080"));
        assert_eq!(attr(c, "from.env"), Some("eu"));
        assert_eq!(c.batch.schedule_delay, ms(75));
        assert_eq!(c.traces_otlp.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(
            c.traces_otlp.headers,
            [("x-api-key".to_owned(), "k,1".to_owned())]
        );
        assert_eq!(c.sampler, Sampler::TraceIdRatio(0.5));
    }

    #[test]
    fn undefined_variables_become_empty_and_defaults_apply() {
        let resolved = load("substitution.yaml", &[]);
        let c = &resolved.config;
        // `disabled: ${DISABLED}` with DISABLED unset is null: the default.
        assert!(!c.sdk_disabled);
        assert_eq!(c.service_name, "fallback-service");
        // Quoted, so text: the empty string.
        assert_eq!(attr(c, "port.text"), Some(""));
        assert_eq!(c.batch.schedule_delay, ms(5000));
        assert_eq!(c.traces_otlp.endpoint, "http://localhost:4318/v1/traces");
        assert!(c.traces_otlp.headers.is_empty());
    }

    #[test]
    fn a_substituted_boolean_turns_the_sdk_off() {
        let resolved = load("substitution.yaml", &[("DISABLED", "TRUE")]);
        assert!(resolved.config.sdk_disabled);
    }

    #[test]
    fn a_substituted_number_for_a_quoted_field_is_text() {
        // `schedule_delay: "${X}"` would be text; the plain form is an integer.
        let yaml = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        \
                    schedule_delay: \"${DELAY}\"\n        exporter: {console: }\n";
        let env = env(&[("DELAY", "75")]);
        let file = ConfigFile::parse("q.yaml", yaml, &env).unwrap();
        let resolved = Config::builder().config_file(file).resolve(&env).unwrap();
        let text = issue(
            &resolved,
            "q.yaml:5: tracer_provider.processors[0].batch.schedule_delay",
        )
        .to_string();
        assert!(text.contains("not an integer"), "{text}");
    }
}

mod precedence {
    use super::*;

    #[test]
    fn the_environment_is_ignored_while_a_file_is_used() {
        let vars = [
            (OTEL_SERVICE_NAME, "env-name"),
            (OTEL_TRACES_SAMPLER, "always_off"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json"),
            (OTEL_BSP_SCHEDULE_DELAY, "1"),
            (OTEL_SDK_DISABLED, "true"),
            (OTEL_PROPAGATORS, "b3"),
        ];
        let resolved = load("tracer-provider.yaml", &vars);
        let c = &resolved.config;
        assert_eq!(c.service_name, "unknown_service:svc");
        assert_eq!(c.sampler, Sampler::AlwaysOff, "from the file");
        assert_eq!(c.traces_otlp.protocol, Protocol::Grpc);
        assert_eq!(c.batch.schedule_delay, ms(250));
        assert!(!c.sdk_disabled);
        assert!(c.propagators.is_empty());
        // Said once, as advice, naming the ignored variables.
        let advice: Vec<_> = resolved
            .issues
            .iter()
            .filter(|issue| issue.severity == Severity::Advice)
            .map(ToString::to_string)
            .collect();
        assert_eq!(advice.len(), 1, "{advice:#?}");
        assert!(advice[0].contains("OTEL_SERVICE_NAME"), "{}", advice[0]);
        assert!(advice[0].contains("OTEL_SDK_DISABLED"), "{}", advice[0]);
    }

    #[test]
    fn referenced_variables_are_not_reported_as_ignored() {
        let resolved = load(
            "substitution.yaml",
            &[(OTEL_SERVICE_NAME, "x"), ("DELAY", "5")],
        );
        let advice: Vec<_> = resolved
            .issues
            .iter()
            .filter(|issue| issue.severity == Severity::Advice)
            .map(ToString::to_string)
            .collect();
        assert_eq!(advice.len(), 1, "{advice:#?}");
        assert!(!advice[0].contains("DELAY"));
    }

    #[test]
    fn code_settings_still_win_over_the_file() {
        let file = parse("tracer-provider.yaml", &[]).unwrap();
        let c = Config::builder()
            .config_file(file)
            .service_name("from-code")
            .sampler(Sampler::AlwaysOn)
            .resolve(&env(&[]))
            .unwrap()
            .config;
        assert_eq!(c.service_name, "from-code");
        assert_eq!(c.sampler, Sampler::AlwaysOn);
    }

    #[test]
    fn ferrotel_variables_still_apply() {
        let file = parse("invalid-values.yaml", &[]).unwrap();
        let strict = Config::builder()
            .config_file(file)
            .resolve(&env(&[(FERROTEL_CONFIG_STRICT, "true")]));
        // FERROTEL_CONFIG_STRICT is read from the real environment at parse time.
        assert!(strict.is_ok(), "the file was parsed without it");
        let file = parse("invalid-values.yaml", &[(FERROTEL_CONFIG_STRICT, "true")]).unwrap();
        let err = Config::builder()
            .config_file(file)
            .resolve(&env(&[]))
            .unwrap_err();
        assert!(err.issues().len() >= 5, "{err}");
    }
}

mod problems {
    use super::*;

    #[test]
    fn unsupported_keys_are_named_with_their_lines() {
        let resolved = load("unsupported.yaml", &[]);
        let places: Vec<&str> = resolved
            .issues
            .iter()
            .filter(|issue| issue.severity == Severity::Invalid)
            .map(|issue| issue.variable.as_str())
            .collect();
        assert_eq!(
            places,
            [
                "unsupported.yaml:4: resource.schema_url",
                "unsupported.yaml:12: tracer_provider.processors[0].batch.exporter.otlp_file/development",
                "unsupported.yaml:18: tracer_provider.processors[1].batch.exporter.otlp_http.retry",
                "unsupported.yaml:25: tracer_provider.sampler.parent_based.remote_parent_not_sampled.parent_based",
                "unsupported.yaml:26: tracer_provider.tracer_configurator/development",
                "unsupported.yaml:34: meter_provider.readers[0].periodic.producers",
                "unsupported.yaml:36: meter_provider.meter_configurator/development",
                "unsupported.yaml:39: colour",
            ],
            "{:#?}",
            resolved.issues
        );
        let colour = issue(&resolved, "unsupported.yaml:39: colour").to_string();
        assert!(colour.contains("not a key of the top level"), "{colour}");
        assert!(
            colour.contains("tracer_provider"),
            "lists the keys: {colour}"
        );
        // What could be used still is: the OTLP exporter and the console one, the latter
        // behind its simple processor.
        assert_eq!(
            resolved.config.traces_exporter,
            [TracesExporter::Otlp, TracesExporter::Console]
        );
        assert_eq!(
            resolved.config.simple_span_exporters,
            [TracesExporter::Console]
        );
        // Strict mode refuses the same file.
        let file = parse("unsupported.yaml", &[]).unwrap();
        let err = Config::builder()
            .strict(true)
            .config_file(file)
            .resolve(&env(&[]))
            .unwrap_err();
        assert_eq!(err.issues().len(), 8, "{err}");
    }

    #[test]
    fn invalid_values_name_file_line_key_and_allowed_values() {
        let resolved = load("invalid-values.yaml", &[]);
        let c = &resolved.config;
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.batch.schedule_delay, ms(5000));
        assert_eq!(c.batch.max_queue_size, 2048);
        assert_eq!(c.traces_otlp.compression, Compression::None);
        assert_eq!(c.sampler, Sampler::TraceIdRatio(1.0));
        for (place, expected) in [
            ("invalid-values.yaml:3: log_level", "allowed: trace, debug"),
            (
                "invalid-values.yaml:7: tracer_provider.processors[0].batch.schedule_delay",
                "not an integer",
            ),
            (
                "invalid-values.yaml:8: tracer_provider.processors[0].batch.max_queue_size",
                "zero is not allowed",
            ),
            (
                "invalid-values.yaml:11: tracer_provider.processors[0].batch.exporter.otlp_grpc.endpoint",
                "the URL contains whitespace",
            ),
            (
                "invalid-values.yaml:12: tracer_provider.processors[0].batch.exporter.otlp_grpc.compression",
                "allowed: none, gzip",
            ),
            (
                "invalid-values.yaml:15: tracer_provider.sampler.trace_id_ratio_based.ratio",
                "the ratio is outside [0, 1]",
            ),
        ] {
            let text = issue(&resolved, place).to_string();
            assert!(text.contains(expected), "{text} lacks {expected}");
            assert!(!text.contains("OTEL_"), "named by its key, not a variable: {text}");
        }
    }

    #[test]
    fn a_client_key_without_its_certificate_is_reported_at_the_tls_key() {
        let yaml = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        \
                    exporter:\n          otlp_grpc:\n            tls:\n              \
                    key_file: /k.pem\n";
        let file = ConfigFile::parse("t.yaml", yaml, &env(&[])).unwrap();
        let resolved = Config::builder()
            .config_file(file)
            .resolve(&env(&[]))
            .unwrap();
        let text = issue(
            &resolved,
            "t.yaml:8: tracer_provider.processors[0].batch.exporter.otlp_grpc.tls",
        )
        .to_string();
        assert!(text.contains("both key_file and cert_file"), "{text}");
        assert_eq!(resolved.config.traces_otlp.client_key, None);
    }

    #[test]
    fn header_values_never_reach_messages() {
        let yaml = "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        \
                    exporter:\n          otlp_http:\n            headers:\n              - name: \
                    \"bad name\"\n                value: s3cr3t\n";
        let file = ConfigFile::parse("h.yaml", yaml, &env(&[])).unwrap();
        let resolved = Config::builder()
            .config_file(file)
            .resolve(&env(&[]))
            .unwrap();
        let text = format!("{:?} {}", resolved.issues, invalid(&resolved).join(" "));
        assert!(text.contains("bad name"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn unusable_files_are_errors_with_the_line() {
        for (name, line, expected) in [
            ("bad-syntax.yaml", 3, "not valid YAML"),
            ("bad-reference.yaml", 5, "${SERVICE:?required}"),
            ("no-file-format.yaml", 1, "file_format is required"),
            ("old-major.yaml", 1, "file_format=\"0.4\" is not supported"),
        ] {
            let err = parse(name, &[]).unwrap_err();
            let text = err.to_string();
            let (file, at) = err.file_location().expect("a file error");
            assert_eq!(file, name);
            assert!(at >= line, "{name}: line {at}, {text}");
            assert!(text.contains(expected), "{text} lacks {expected}");
            assert!(
                text.starts_with(&format!("configuration file {name}:")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_newer_minor_version_is_advice() {
        let resolved = load("newer-minor.yaml", &[]);
        let advice = issue(&resolved, "newer-minor.yaml:1: file_format");
        assert_eq!(advice.severity, Severity::Advice);
    }
}

mod views {
    use super::*;
    use ferrotel_config::{
        AttributeKeys, CardinalityLimits, InstrumentType, View, ViewAggregation,
    };

    #[test]
    fn the_schema_form_loads_without_a_single_issue() {
        let resolved = load("views.yaml", &[]);
        assert!(resolved.issues.is_empty(), "{:#?}", resolved.issues);
        let views = &resolved.config.views;
        assert_eq!(views.len(), 7);
        let first = &views[0];
        assert_eq!(
            first.selector.instrument_name.as_deref(),
            Some("nfs.server.request.duration")
        );
        assert_eq!(
            first.selector.instrument_type,
            Some(InstrumentType::Histogram)
        );
        assert_eq!(first.selector.unit.as_deref(), Some("s"));
        assert_eq!(first.selector.meter_name.as_deref(), Some("ferrotel-ops"));
        assert_eq!(first.stream.name.as_deref(), Some("nfs.latency"));
        assert_eq!(
            first.stream.aggregation,
            Some(ViewAggregation::ExplicitBucketHistogram {
                boundaries: vec![0.00001, 0.00005, 0.0001, 0.0005, 0.001],
                record_min_max: false,
            })
        );
        assert_eq!(
            first.stream.attribute_keys,
            Some(AttributeKeys {
                included: Some(vec!["rpc.method".to_owned(), "nfs.share".to_owned()]),
                excluded: vec!["nfs.share".to_owned()],
            })
        );
        assert_eq!(first.stream.aggregation_cardinality_limit, Some(50));
        assert_eq!(
            views[1].stream.aggregation,
            Some(ViewAggregation::Base2ExponentialBucketHistogram {
                max_scale: 10,
                max_size: 80,
                record_min_max: true,
            })
        );
        assert_eq!(views[2].stream.aggregation, Some(ViewAggregation::Drop));
        assert_eq!(views[2].selector.meter_version.as_deref(), Some("1.0.0"));
        assert_eq!(
            views[3].stream.aggregation,
            Some(ViewAggregation::LastValue)
        );
        assert_eq!(views[4].stream.aggregation, Some(ViewAggregation::Sum));
        assert_eq!(views[5].stream.aggregation, Some(ViewAggregation::Default));
        assert_eq!(
            views[6].stream.aggregation,
            Some(ViewAggregation::ExplicitBucketHistogram {
                boundaries: ferrotel_config::DEFAULT_VIEW_BOUNDARIES.to_vec(),
                record_min_max: true,
            })
        );
        // Two readers: the tighter limit of each kind.
        let limits = resolved.config.cardinality_limits;
        assert_eq!(limits.of(InstrumentType::Counter), 400);
        assert_eq!(limits.of(InstrumentType::Histogram), 300);
    }

    #[test]
    fn without_views_the_limit_is_two_thousand() {
        let resolved = load("meter-provider.yaml", &[]);
        assert!(resolved.config.views.is_empty());
        assert_eq!(
            resolved.config.cardinality_limits,
            CardinalityLimits::default()
        );
        assert_eq!(
            resolved
                .config
                .cardinality_limits
                .of(InstrumentType::Histogram),
            2000
        );
    }

    #[test]
    fn bad_views_are_named_by_line_key_and_value_and_left_out() {
        let resolved = load("bad-views.yaml", &[]);
        let texts = invalid(&resolved);
        let find = |place: &str| {
            texts
                .iter()
                .find(|t| t.contains(place))
                .unwrap_or_else(|| panic!("no issue at {place}: {texts:#?}"))
                .clone()
        };
        let limit =
            find("bad-views.yaml:9: meter_provider.readers[0].periodic.cardinality_limits.default");
        assert!(limit.contains("from 1 to 1000000"), "{limit}");
        let unknown = find("meter_provider.views[0].stream.aggregation.percentile");
        assert!(unknown.contains("explicit_bucket_histogram"), "{unknown}");
        let unsorted =
            find("meter_provider.views[1].stream.aggregation.explicit_bucket_histogram.boundaries");
        assert!(unsorted.contains("[5.0, 1.0, 10.0]"), "{unsorted}");
        assert!(unsorted.contains("strictly increasing"), "{unsorted}");
        let wildcard = find("meter_provider.views[2].selector.instrument_name");
        assert!(wildcard.contains("rpc.*"), "{wildcard}");
        assert!(wildcard.contains("exact instrument name"), "{wildcard}");
        let kind = find("meter_provider.views[3].selector.instrument_type");
        assert!(
            kind.contains("timer") && kind.contains("observable_gauge"),
            "{kind}"
        );
        let scale = find(
            "meter_provider.views[4].stream.aggregation.base2_exponential_bucket_histogram.max_scale",
        );
        assert!(
            scale.contains("21") && scale.contains("-10 to 20"),
            "{scale}"
        );
        assert_eq!(texts.len(), 6, "{texts:#?}");
        // Only the good view is used; the limit stays the default.
        assert_eq!(resolved.config.views.len(), 1);
        assert_eq!(
            resolved.config.views[0].stream.name.as_deref(),
            Some("still.used")
        );
        assert_eq!(
            resolved.config.cardinality_limits,
            CardinalityLimits::default()
        );
        // Strict mode refuses the file.
        let file = parse("bad-views.yaml", &[]).unwrap();
        let err = Config::builder()
            .strict(true)
            .config_file(file)
            .resolve(&env(&[]))
            .unwrap_err();
        assert_eq!(err.issues().len(), 6, "{err}");
    }

    #[test]
    fn code_views_replace_the_files_and_are_checked_alike() {
        let file = parse("views.yaml", &[]).unwrap();
        let mut bad = View::named("x");
        bad.stream.aggregation = Some(ViewAggregation::ExplicitBucketHistogram {
            boundaries: vec![1.0, f64::NAN],
            record_min_max: true,
        });
        let resolved = Config::builder()
            .config_file(file)
            .views([View::named("kept"), bad])
            .cardinality_limits(CardinalityLimits::all(10))
            .resolve(&env(&[]))
            .unwrap();
        assert_eq!(resolved.config.views, [View::named("kept")]);
        assert_eq!(
            resolved.config.cardinality_limits,
            CardinalityLimits::all(10)
        );
        let texts = invalid(&resolved);
        assert_eq!(texts.len(), 1, "{texts:#?}");
        assert!(
            texts[0].contains("views[1].stream.aggregation.explicit_bucket_histogram.boundaries")
                && texts[0].contains("NaN"),
            "{}",
            texts[0]
        );
        let err = Config::builder()
            .strict(true)
            .cardinality_limits(CardinalityLimits::all(0))
            .resolve(&env(&[]))
            .unwrap_err();
        assert!(
            err.to_string().contains("cardinality_limits.default"),
            "{err}"
        );
    }
}
