//! The README's variable table lists every variable ferrotel reads.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[test]
fn every_variable_is_in_the_readme_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let names = ferrotel::config::vars::ALL;
    assert!(names.len() > 40, "found only {} variables", names.len());
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| {
            // Per-signal variants are listed as `(+ _TRACES_, _METRICS_, _LOGS_)` beside the
            // generic one.
            let generic = name
                .replace("_TRACES_", "_")
                .replace("_METRICS_", "_")
                .replace("_LOGS_", "_")
                .replace("OTLP_TRACES", "OTLP")
                .replace("OTLP_METRICS", "OTLP")
                .replace("OTLP_LOGS", "OTLP");
            !readme.contains(&format!("`{name}`")) && !readme.contains(&format!("`{generic}` (+"))
        })
        .collect();
    assert!(missing.is_empty(), "README table lacks {missing:?}");
}
