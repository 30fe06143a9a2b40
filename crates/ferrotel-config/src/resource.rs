//! Resource attributes and the service name.
//!
//! `OTEL_RESOURCE_ATTRIBUTES` is read first (all or nothing), attributes set in code replace
//! same-named ones, then `service.name` is decided by precedence: code
//! ([`ConfigBuilder::service_name`](crate::ConfigBuilder::service_name), then a code
//! `service.name` resource attribute) > `OTEL_SERVICE_NAME` > `service.name` in
//! `OTEL_RESOURCE_ATTRIBUTES` > `unknown_service:<executable>` (`unknown_service` when the
//! executable name is unknown). Finally `service.instance.id` gets a random UUID v4 unless some
//! source already set it.

use crate::detect::{self, Detector, ResourceDetection};
use crate::env::Env;
use crate::issue::{ConfigIssue, Severity};
use crate::parse;
use crate::precedence::{Candidate, Resolver};
use crate::vars::{OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME};

/// `service.name`.
pub const SERVICE_NAME: &str = "service.name";
/// `service.instance.id`.
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// Resource attributes made in code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResourceOverrides {
    pub(crate) service_name: Option<String>,
    pub(crate) attributes: Vec<(String, String)>,
}

/// The final attributes (`service.name` first) and the service name.
///
/// `detection_env` is what the detectors read: the process environment even when a
/// configuration file stands in for the variables (`resolver`'s environment).
pub(crate) fn resolve(
    resolver: &mut Resolver<'_>,
    overrides: &ResourceOverrides,
    detection: &ResourceDetection,
    detection_env: &Env,
) -> (Vec<(String, String)>, String) {
    let env = resolver.env();
    let from_env = match env.get(OTEL_RESOURCE_ATTRIBUTES).map(parse::key_values) {
        None => Vec::new(),
        Some(Ok(attributes)) => attributes,
        Some(Err(rejection)) => {
            resolver.report(ConfigIssue {
                variable: OTEL_RESOURCE_ATTRIBUTES.to_owned(),
                value: env
                    .get(OTEL_RESOURCE_ATTRIBUTES)
                    .unwrap_or_default()
                    .to_owned(),
                allowed: parse::KEY_VALUES_ALLOWED.to_owned(),
                fallback: "no attributes from this variable (the whole value is discarded)"
                    .to_owned(),
                severity: Severity::Invalid,
                reason: rejection.reason,
            });
            Vec::new()
        }
    };
    let named = |attributes: &[(String, String)]| {
        attributes
            .iter()
            .find(|(key, value)| key == SERVICE_NAME && !value.is_empty())
            .map(|(_, value)| value.clone())
    };

    let default = match env.executable_name() {
        Some(exe) if !exe.is_empty() => format!("unknown_service:{exe}"),
        _ => "unknown_service".to_owned(),
    };
    let candidates = [
        Candidate::code(
            "service_name",
            overrides
                .service_name
                .clone()
                .filter(|name| !name.trim().is_empty()),
        ),
        Candidate::code(
            "resource_attribute(\"service.name\")",
            named(&overrides.attributes),
        ),
        Candidate::env(env, OTEL_SERVICE_NAME),
        Candidate::env_value(OTEL_RESOURCE_ATTRIBUTES, named(&from_env)),
        Candidate::env_value(
            OTEL_SERVICE_NAME,
            (detection.runs(Detector::Service) && detection.keeps(SERVICE_NAME))
                .then(|| detection_env.get(OTEL_SERVICE_NAME).map(str::to_owned))
                .flatten(),
        ),
    ];
    let service_name = resolver
        .resolve(candidates, "any text", default, String::clone, |_, text| {
            Ok(text.to_owned())
        })
        .value;

    let mut attributes = vec![(SERVICE_NAME.to_owned(), service_name.clone())];
    for (key, value) in from_env
        .into_iter()
        .chain(overrides.attributes.iter().cloned())
    {
        if key != SERVICE_NAME {
            parse::upsert(&mut attributes, &key, value);
        }
    }
    for (key, value) in detect::detect_variables(detection, detection_env) {
        if !attributes.iter().any(|(known, _)| *known == key) {
            attributes.push((key, value));
        }
    }
    if !attributes.iter().any(|(key, _)| key == SERVICE_INSTANCE_ID) {
        attributes.push((
            SERVICE_INSTANCE_ID.to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ));
    }
    (attributes, service_name)
}
