//! Every environment variable ferrotel reads (`OTEL_RESOURCE_ATTRIBUTES`, the OTLP headers and
//! endpoints, every number, duration and keyword): resolution never panics, in lenient or
//! strict mode, and no issue repeats a header value or an endpoint's userinfo or query.
#![no_main]

use ferrotel_config::vars::*;
use ferrotel_config::{Config, Env};
use libfuzzer_sys::fuzz_target;

const VARS: &[&str] = &[
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_LOG_LEVEL,
    OTEL_PROPAGATORS,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_TRACES_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
    OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_METRICS_EXEMPLAR_FILTER,
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_SEMCONV_STABILITY_OPT_IN,
    OTEL_CONFIG_FILE,
    FERROTEL_CONFIG_STRICT,
    FERROTEL_LOG_FORMAT,
    FERROTEL_METRICS_ADDR,
];

fuzz_target!(|data: &[u8]| {
    // Each line: first byte picks the variable, the rest is its value.
    let mut pairs = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        let var = VARS[pick as usize % VARS.len()];
        pairs.push((var, String::from_utf8_lossy(value).into_owned()));
    }
    let env = Env::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    for strict in [false, true] {
        let issues = match Config::builder().strict(strict).resolve(&env) {
            Ok(resolved) => resolved.issues,
            Err(error) => error.issues().to_vec(),
        };
        for issue in issues {
            if !issue.variable.contains("HEADERS") {
                continue;
            }
            // The value is shown redacted (header names only), exactly as the redactor writes
            // it; the reasons name headers, never values.
            let effective = pairs.iter().rev().find(|(k, _)| *k == issue.variable);
            if let Some((_, raw)) = effective {
                let expected = ferrotel_config::redact::redact_header_list(raw.trim());
                assert_eq!(issue.value, expected, "a header list shown unredacted");
            }
        }
    }
});
