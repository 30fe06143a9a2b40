//! `vars::ALL` names every variable constant of `vars`, once: tools that check names against it
//! (`ferrotel-doctor`) must not miss a variable that a later change adds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrotel_config::vars;

/// The module's source, read for its `pub const NAME: &str` items.
const SOURCE: &str = include_str!("../src/vars.rs");

#[test]
fn all_lists_every_variable_constant_once() {
    let mut declared: Vec<&str> = SOURCE
        .lines()
        .filter_map(|line| line.strip_prefix("pub const "))
        .filter_map(|rest| rest.split_once(": &str"))
        .map(|(name, _)| name)
        .collect();
    let mut listed = vars::ALL.to_vec();
    assert_eq!(
        listed.len(),
        declared.len(),
        "vars::ALL has a duplicate or a gap"
    );
    declared.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, declared);
}

#[test]
fn every_constant_is_its_own_name() {
    for name in vars::ALL {
        assert!(
            name.starts_with("OTEL_") || name.starts_with("FERROTEL_"),
            "{name}"
        );
    }
    assert!(vars::ALL.contains(&vars::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE));
}
