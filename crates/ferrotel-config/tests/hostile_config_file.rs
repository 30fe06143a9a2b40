//! Hostile configuration files: amplification through aliases and `${VAR}` substitution is
//! bounded by the expanded size, a huge mapping is read in linear time, oversized or non-UTF-8
//! contents are refused with the file and the line, and a secret substituted into a field
//! that fails validation is never printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ferrotel_config::{Config, ConfigFile, Env};

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied()).with_executable_name("svc")
}

#[test]
fn a_mapping_with_99000_keys_is_read_and_a_late_duplicate_is_still_found() {
    let mut text = String::from("file_format: \"1.1\"\nx:\n");
    for key in 0..99_000 {
        text.push_str(&format!("  k{key}: 1\n"));
    }
    let started = Instant::now();
    let file = ConfigFile::parse("big.yaml", &text, &env(&[]));
    eprintln!("99000 keys parsed in {:?}", started.elapsed());
    assert!(file.is_ok(), "{:?}", file.err());

    text.push_str("  k17: 2\n");
    let err = ConfigFile::parse("big.yaml", &text, &env(&[])).unwrap_err();
    assert_eq!(err.file_location(), Some(("big.yaml", 99_003)), "{err}");
    assert!(err.to_string().contains("first on line 20"), "{err}");
}

#[test]
fn an_anchor_aliased_many_times_is_refused_by_its_expanded_size() {
    // 1 MiB anchored once, aliased 300 times: 300 MiB once expanded, with few values.
    let big = "a".repeat(1 << 20);
    let mut text = format!("file_format: \"1.1\"\nbig: &big {big}\nx:\n");
    for copy in 0..300 {
        text.push_str(&format!("  c{copy}: *big\n"));
    }
    let err = ConfigFile::parse("alias.yaml", &text, &env(&[])).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("expands to more than"), "{message}");
    assert!(
        message.starts_with("configuration file alias.yaml:"),
        "{message}"
    );
}

#[test]
fn a_variable_substituted_many_times_is_refused_by_its_expanded_size() {
    let value = "v".repeat(128 << 10);
    // In one scalar, and spread over many.
    let one = format!("file_format: \"1.1\"\nx: {}\n", "${BIG}".repeat(2_000));
    let mut many = String::from("file_format: \"1.1\"\nx:\n");
    for copy in 0..2_000 {
        many.push_str(&format!("  c{copy}: ${{BIG}}\n"));
    }
    for text in [one, many] {
        let err = ConfigFile::parse("subst.yaml", &text, &env(&[("BIG", &value)])).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("expands to more than"), "{message}");
        assert!(!message.contains("vvvv"), "the value is not echoed");
    }
}

#[test]
fn contents_over_the_size_cap_are_refused_naming_the_file_and_the_cap() {
    let text = format!(
        "file_format: \"1.1\"\n#{}\n",
        "x".repeat(ConfigFile::MAX_BYTES)
    );
    let err = ConfigFile::from_bytes("huge.yaml", text.as_bytes(), &env(&[])).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("huge.yaml"), "{message}");
    assert!(message.contains("4 MiB"), "{message}");
}

#[test]
fn an_invalid_utf8_byte_is_reported_with_its_line() {
    let bytes = b"file_format: \"1.1\"\nresource:\n  attributes: [\xff]\n";
    let err = ConfigFile::from_bytes("bad.yaml", bytes, &env(&[])).unwrap_err();
    assert_eq!(err.file_location(), Some(("bad.yaml", 3)), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn a_substituted_value_that_fails_validation_names_the_field_and_the_variable_not_the_value() {
    let secret = "hunter2-SECRET-token";
    let text = "file_format: \"1.1\"\nlog_level: ${LEVEL}\ntracer_provider:\n  processors:\n    \
                - batch:\n        schedule_delay: ${DELAY}\n        exporter:\n          \
                otlp_http:\n            endpoint: ${ENDPOINT}\n            timeout: ${DELAY}\n            \
                compression: ${LEVEL}\n";
    let pairs = [("LEVEL", secret), ("DELAY", secret), ("ENDPOINT", secret)];
    let file = ConfigFile::parse("otel.yaml", text, &env(&pairs)).unwrap();
    let resolved = Config::builder()
        .config_file(file)
        .resolve(&env(&pairs))
        .unwrap();
    let messages: Vec<String> = resolved.issues.iter().map(|i| i.to_string()).collect();
    let all = messages.join("\n");
    for (field, var) in [
        ("log_level", "LEVEL"),
        ("schedule_delay", "DELAY"),
        ("endpoint", "ENDPOINT"),
        ("timeout", "DELAY"),
        ("compression", "LEVEL"),
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.contains(field) && m.contains(&format!("${{{var}}}"))),
            "{field} from ${{{var}}} not named:\n{all}"
        );
    }
    assert!(!all.contains("hunter2"), "{all}");
    let strict = Config::builder()
        .strict(true)
        .config_file(ConfigFile::parse("otel.yaml", text, &env(&pairs)).unwrap())
        .resolve(&env(&pairs))
        .unwrap_err();
    assert!(!strict.to_string().contains("hunter2"), "{strict}");
}

#[test]
fn a_hostile_variable_value_is_printed_escaped_and_bounded() {
    let value = format!(
        "x\r\n2026-01-01 ERROR forged\u{1b}[2J\u{7}\u{8}{}",
        "y".repeat(128 << 10)
    );
    let env = env(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", value.as_str()),
        ("OTEL_CONFIG_FILE", value.as_str()),
    ]);
    let resolved = Config::builder().resolve(&env).unwrap();
    assert!(!resolved.issues.is_empty());
    for issue in &resolved.issues {
        let text = issue.to_string();
        assert!(
            !text.contains(['\r', '\n', '\u{1b}', '\u{7}', '\u{8}']),
            "{text:?}"
        );
        assert!(text.len() < 4_000, "{} bytes", text.len());
    }
    let err = ConfigFile::parse(value.as_str(), "a: 1\n", &env).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(['\r', '\n', '\u{1b}']), "{text:?}");
    assert!(text.len() < 4_000, "{} bytes", text.len());
}

#[test]
fn garbage_in_the_semconv_opt_in_draws_a_warning_and_other_domains_do_not() {
    let issues = |value: &str| {
        Config::builder()
            .resolve(&env(&[("OTEL_SEMCONV_STABILITY_OPT_IN", value)]))
            .unwrap()
            .issues
    };
    let garbage = issues("rpc/dup, ;;; \u{1b}[2J, 42");
    let text: Vec<String> = garbage.iter().map(ToString::to_string).collect();
    assert_eq!(garbage.len(), 1, "{text:?}");
    assert!(
        text[0].contains("OTEL_SEMCONV_STABILITY_OPT_IN"),
        "{text:?}"
    );
    assert!(
        text[0].contains("not an opt-in: ;;; \\u{1b}[2J, 42"),
        "{text:?}"
    );
    assert!(
        issues("http/dup,database,rpc_latest_experimental,gen_ai_latest_experimental").is_empty()
    );
}

#[cfg(unix)]
#[test]
fn an_invalid_utf8_rust_log_draws_a_warning() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;
    let env = Env::from_os_pairs([(
        OsString::from("RUST_LOG"),
        OsString::from_vec(b"info,\xff\xfe".to_vec()),
    )]);
    let issues = Config::builder().resolve(&env).unwrap().issues;
    assert!(
        issues
            .iter()
            .any(|i| i.variable == "RUST_LOG" && i.to_string().contains("not UTF-8")),
        "{issues:?}"
    );
}
