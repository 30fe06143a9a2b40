//! Checks the deployment stack (`docker-compose.yml` and `collector/`) without a Docker engine:
//! the files parse, images are pinned to the versions CI builds (`collector/versions.env`),
//! mounts exist, collector pipelines only name defined components and the builder manifest holds
//! exactly the components they use, Grafana dashboards only name provisioned datasources, every
//! alert has a runbook and a unit test in both directions, and Prometheus 3's `promtool` accepts
//! the Prometheus config, the alert rules, their unit tests and every dashboard query.
//! The stack itself runs in `stack_live.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use serde_yaml_ng::{Mapping, Value as Yaml};
use support::{repo_root, walk};

const COMPOSE: &str = "docker-compose.yml";
const COLLECTOR_CONFIG: &str = "collector/otel-collector.yaml";
/// Every collector config in the repository: the single node and the scaled variant's tiers.
const COLLECTOR_CONFIGS: [&str; 3] = [
    COLLECTOR_CONFIG,
    "collector/scaled/agent.yaml",
    "collector/scaled/gateway.yaml",
];
const BUILDER_CONFIG: &str = "collector/builder-config.yaml";
const VERSIONS: &str = "collector/versions.env";
const RUNBOOKS_DIR: &str = "collector/runbooks";
const PROMETHEUS_CONFIG: &str = "collector/prometheus.yml";
const ALERTS: &str = "collector/alerts.yml";
const ALERTS_TEST: &str = "collector/alerts_test.yml";
const DATASOURCES: &str = "collector/grafana/provisioning/datasources/datasources.yml";
const DASHBOARD_PROVIDERS: &str = "collector/grafana/provisioning/dashboards/dashboards.yml";
const DASHBOARDS_DIR: &str = "collector/grafana/dashboards";
const SERVICES: [&str; 4] = ["otel-collector", "jaeger", "prometheus", "grafana"];
const PROMTOOL_MISSING: &str =
    "Prometheus 3's promtool is not built (run collector/build-tools; needs Go)";

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(rel: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn mapping<'a>(value: &'a Yaml, what: &str) -> &'a Mapping {
    value
        .as_mapping()
        .unwrap_or_else(|| panic!("{what} must be a mapping, found {value:?}"))
}

fn strings(value: &Yaml, what: &str) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("{what} must be a list, found {value:?}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what} entries must be strings, found {v:?}"))
                .to_owned()
        })
        .collect()
}

fn keys(map: &Mapping, what: &str) -> BTreeSet<String> {
    map.keys()
        .map(|k| {
            k.as_str()
                .unwrap_or_else(|| panic!("{what} keys must be strings, found {k:?}"))
                .to_owned()
        })
        .collect()
}

/// The tag of an image reference (`repo/name:tag[@digest]`), if it has one.
fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let name_start = without_digest.rfind('/').map_or(0, |i| i + 1);
    without_digest[name_start..]
        .split_once(':')
        .map(|(_, tag)| tag)
}

/// `(host, container)` for every bind mount of a compose service; named volumes are skipped
/// after checking that they are declared at the top level.
fn bind_mounts(compose: &Yaml, service: &str) -> Vec<(String, String)> {
    let declared: BTreeSet<String> = compose
        .get("volumes")
        .and_then(Yaml::as_mapping)
        .map(|m| keys(m, "volumes"))
        .unwrap_or_default();
    let Some(volumes) = compose["services"][service].get("volumes") else {
        return Vec::new();
    };
    let mut mounts = Vec::new();
    for volume in volumes
        .as_sequence()
        .unwrap_or_else(|| panic!("{service}.volumes must be a list"))
    {
        let (source, target) = match volume {
            Yaml::String(short) => {
                let mut parts = short.split(':');
                let source = parts.next().unwrap_or_default().to_owned();
                let target = parts
                    .next()
                    .unwrap_or_else(|| panic!("{service}: volume {short:?} has no container path"))
                    .to_owned();
                (source, target)
            }
            Yaml::Mapping(long) => {
                let field = |name: &str| {
                    long.get(name)
                        .and_then(Yaml::as_str)
                        .unwrap_or_else(|| panic!("{service}: volume {long:?} lacks {name}"))
                        .to_owned()
                };
                (field("source"), field("target"))
            }
            other => panic!("{service}: unexpected volume entry {other:?}"),
        };
        if source.starts_with('.') || source.starts_with('/') {
            mounts.push((source, target));
        } else {
            assert!(
                declared.contains(&source),
                "{service}: named volume {source:?} is not declared under top-level volumes"
            );
        }
    }
    mounts
}

/// `collector/versions.env` as `NAME -> value`.
fn versions() -> std::collections::BTreeMap<String, String> {
    support::pinned_versions(VERSIONS)
}

/// The default of a `${env:NAME:-default}` collector setting, or the value itself.
fn env_default(value: &str) -> &str {
    value
        .strip_prefix("${env:")
        .and_then(|rest| rest.strip_suffix('}'))
        .and_then(|inner| inner.split_once(":-"))
        .map_or(value, |(_, default)| default)
}

#[test]
fn compose_images_are_the_versions_ci_builds() {
    let compose = yaml(COMPOSE);
    let versions = versions();
    for (service, expected) in [
        (
            "otel-collector",
            format!(
                "otel/opentelemetry-collector-contrib:{}",
                versions["OTELCOL_CONTRIB_VERSION"]
            ),
        ),
        (
            "jaeger",
            format!("jaegertracing/jaeger:{}", versions["JAEGER_VERSION"]),
        ),
        (
            "prometheus",
            format!("prom/prometheus:v{}", versions["PROMETHEUS_VERSION"]),
        ),
        (
            "alertmanager",
            format!("prom/alertmanager:v{}", versions["ALERTMANAGER_VERSION"]),
        ),
    ] {
        assert_eq!(
            compose["services"][service]["image"].as_str(),
            Some(expected.as_str()),
            "{COMPOSE}: {service} must run the version {VERSIONS} pins and CI tests"
        );
    }
    let builder = yaml(BUILDER_CONFIG);
    assert_eq!(
        builder["dist"]["version"].as_str(),
        Some(versions["OTELCOL_CONTRIB_VERSION"].as_str()),
        "{BUILDER_CONFIG}: dist.version"
    );
    let mut modules = Vec::new();
    for kind in [
        "receivers",
        "processors",
        "exporters",
        "connectors",
        "extensions",
    ] {
        for entry in builder[kind].as_sequence().into_iter().flatten() {
            let gomod = entry["gomod"].as_str().unwrap_or_default().to_owned();
            modules.push(gomod);
        }
    }
    for gomod in modules {
        let version = gomod.rsplit(' ').next().unwrap_or_default();
        let expected = if gomod.contains("opentelemetry-collector-contrib") {
            &versions["OTELCOL_CONTRIB_VERSION"]
        } else {
            &versions["OTELCOL_CORE_VERSION"]
        };
        assert_eq!(
            version.trim_start_matches('v'),
            expected,
            "{BUILDER_CONFIG}: {gomod} is not at the one release {VERSIONS} pins"
        );
    }
}

fn ports(compose: &Yaml, service: &str) -> Vec<String> {
    compose["services"][service]
        .get("ports")
        .map(|p| strings(p, &format!("{service}.ports")))
        .unwrap_or_default()
}

#[test]
fn compose_images_are_pinned_and_mounts_exist() {
    let compose = yaml(COMPOSE);
    let services = mapping(&compose["services"], "services");
    let names = keys(services, "services");
    for required in SERVICES {
        assert!(
            names.contains(required),
            "{COMPOSE}: service {required} is missing"
        );
    }
    for name in &names {
        let image = compose["services"][name.as_str()]["image"]
            .as_str()
            .unwrap_or_else(|| panic!("{COMPOSE}: service {name} has no image"));
        let tag = image_tag(image)
            .unwrap_or_else(|| panic!("{COMPOSE}: {name} image {image:?} has no version tag"));
        assert!(
            tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()),
            "{COMPOSE}: {name} image {image:?} must be pinned to a version, not {tag:?}"
        );
        for (host, container) in bind_mounts(&compose, name) {
            let path = repo_root().join(&host);
            assert!(
                path.exists(),
                "{COMPOSE}: {name} mounts {host} (-> {container}), which does not exist in the repository"
            );
        }
    }

    let collector_ports = ports(&compose, "otel-collector");
    for port in ["4317", "4318"] {
        let published = format!("127.0.0.1:{port}:{port}");
        assert!(
            collector_ports.iter().any(|p| p.starts_with(&published)),
            "{COMPOSE}: otel-collector must publish {published}, has {collector_ports:?}"
        );
    }
    for (service, port) in [
        ("jaeger", "16686"),
        ("prometheus", "9090"),
        ("grafana", "3000"),
    ] {
        let published = ports(&compose, service);
        assert!(
            published
                .iter()
                .any(|p| p.ends_with(&format!("{port}:{port}"))),
            "{COMPOSE}: {service} must publish {port}, has {published:?}"
        );
    }

    let collector_mounts = bind_mounts(&compose, "otel-collector");
    assert!(
        collector_mounts
            .iter()
            .any(|(host, _)| host.trim_start_matches("./") == COLLECTOR_CONFIG),
        "{COMPOSE}: otel-collector must mount {COLLECTOR_CONFIG}, mounts {collector_mounts:?}"
    );
    let prometheus_args = strings(
        &compose["services"]["prometheus"]["command"],
        "prometheus.command",
    );
    assert!(
        prometheus_args
            .iter()
            .any(|a| a == "--enable-feature=exemplar-storage"),
        "{COMPOSE}: prometheus needs --enable-feature=exemplar-storage to keep exemplars"
    );
}

/// The component types (`otlp` of `otlp/jaeger`) each config uses, by kind
/// (`receivers`, `processors`, `exporters`, `connectors`, `extensions`).
fn used_component_types() -> BTreeSet<(String, String)> {
    let mut used = BTreeSet::new();
    for file in COLLECTOR_CONFIGS {
        let config = yaml(file);
        for kind in [
            "receivers",
            "processors",
            "exporters",
            "connectors",
            "extensions",
        ] {
            if let Some(section) = config.get(kind).and_then(Yaml::as_mapping) {
                for id in keys(section, kind) {
                    let ty = id.split('/').next().unwrap_or_default().to_owned();
                    used.insert((kind.to_owned(), ty));
                }
            }
        }
    }
    used
}

#[test]
fn collector_pipelines_use_defined_components() {
    for file in COLLECTOR_CONFIGS {
        let config = yaml(file);
        let defined = |section: &str| {
            config
                .get(section)
                .and_then(Yaml::as_mapping)
                .map(|m| keys(m, section))
                .unwrap_or_default()
        };
        let connectors = defined("connectors");
        let receivers: BTreeSet<String> =
            defined("receivers").union(&connectors).cloned().collect();
        let processors = defined("processors");
        let exporters: BTreeSet<String> =
            defined("exporters").union(&connectors).cloned().collect();
        let extensions = defined("extensions");

        for id in strings(&config["service"]["extensions"], "service.extensions") {
            assert!(
                extensions.contains(&id),
                "{file}: extension {id} is not defined"
            );
        }
        let pipelines = mapping(&config["service"]["pipelines"], "service.pipelines");
        let mut connector_ends = BTreeSet::new();
        for (name, pipeline) in pipelines {
            let name = name.as_str().unwrap_or_default();
            for (part, known) in [
                ("receivers", &receivers),
                ("processors", &processors),
                ("exporters", &exporters),
            ] {
                let ids = strings(&pipeline[part], &format!("{name}.{part}"));
                assert!(!ids.is_empty(), "{file}: {name}.{part} is empty");
                for id in ids {
                    assert!(
                        known.contains(&id),
                        "{file}: {name} pipeline names {part} {id}, which is not defined"
                    );
                    if connectors.contains(&id) {
                        connector_ends.insert((id, part));
                    }
                }
            }
            let procs = strings(&pipeline["processors"], "processors");
            assert_eq!(
                procs.first().map(String::as_str),
                Some("memory_limiter"),
                "{file}: memory_limiter must come first in the {name} pipeline"
            );
        }
        for connector in &connectors {
            for end in ["receivers", "exporters"] {
                assert!(
                    connector_ends.contains(&(connector.clone(), end)),
                    "{file}: connector {connector} must be used among some pipeline's {end}"
                );
            }
        }
        let otlp = &config["receivers"]["otlp"]["protocols"];
        assert_eq!(
            otlp["grpc"]["endpoint"].as_str().map(env_default),
            Some("0.0.0.0:4317"),
            "{file}: OTLP gRPC must default to 4317"
        );
        if file != "collector/scaled/gateway.yaml" {
            assert_eq!(
                otlp["http"]["endpoint"].as_str().map(env_default),
                Some("0.0.0.0:4318"),
                "{file}: OTLP HTTP must default to 4318"
            );
        }
    }

    // The single node (and the gateway) tail-sample, keep errors and slow traces, and feed
    // spanmetrics with exemplars from every span before sampling.
    for file in [COLLECTOR_CONFIG, "collector/scaled/gateway.yaml"] {
        let config = yaml(file);
        let policies = config["processors"]["tail_sampling"]["policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{file}: tail_sampling has no policies"));
        let types: Vec<&str> = policies.iter().filter_map(|p| p["type"].as_str()).collect();
        assert_eq!(types, ["status_code", "latency", "probabilistic"], "{file}");
        assert_eq!(
            strings(&policies[0]["status_code"]["status_codes"], "status_codes"),
            ["ERROR"]
        );
        assert_eq!(
            config["connectors"]["spanmetrics"]["exemplars"]["enabled"].as_bool(),
            Some(true),
            "{file}: spanmetrics exemplars"
        );
        let pipelines = &config["service"]["pipelines"];
        assert_eq!(
            strings(&pipelines["traces/spanmetrics"]["processors"], "processors"),
            ["memory_limiter"],
            "{file}: spanmetrics must see every span, before tail sampling"
        );
        let traces = strings(&pipelines["traces"]["processors"], "processors");
        assert!(traces.contains(&"tail_sampling".to_owned()), "{file}");
        assert!(
            strings(&pipelines["metrics"]["receivers"], "receivers")
                .contains(&"spanmetrics".to_owned()),
            "{file}: spanmetrics must feed the metrics pipeline"
        );
        assert_eq!(
            env_default(
                config["exporters"]["otlp/jaeger"]["endpoint"]
                    .as_str()
                    .unwrap_or_default()
            ),
            "jaeger:4317",
            "{file}: traces must be exported to jaeger:4317"
        );
        let prometheus = &config["exporters"]["prometheus"];
        assert_eq!(
            prometheus["enable_open_metrics"].as_bool(),
            Some(true),
            "{file}: exemplars are only served in OpenMetrics format"
        );
        assert_eq!(
            prometheus["resource_to_telemetry_conversion"]["enabled"].as_bool(),
            Some(true),
            "{file}: service.name must become a label"
        );
    }
    let agent = yaml("collector/scaled/agent.yaml");
    assert_eq!(
        agent["exporters"]["loadbalancing"]["routing_key"].as_str(),
        Some("traceID"),
        "the agents must route by trace id, so a trace meets in one gateway"
    );

    let config = yaml(COLLECTOR_CONFIG);
    let exporter_endpoint = env_default(
        config["exporters"]["prometheus"]["endpoint"]
            .as_str()
            .unwrap_or_default(),
    );
    let port = exporter_endpoint.rsplit(':').next().unwrap_or_default();
    assert!(
        read(PROMETHEUS_CONFIG).contains(&format!("otel-collector:{port}")),
        "{PROMETHEUS_CONFIG} must scrape the collector's prometheus exporter on port {port}"
    );
}

#[test]
fn builder_manifest_holds_exactly_the_components_the_configs_use() {
    let builder = yaml(BUILDER_CONFIG);
    let mut built = BTreeSet::new();
    for kind in [
        "receivers",
        "processors",
        "exporters",
        "connectors",
        "extensions",
    ] {
        let singular = kind.trim_end_matches('s');
        for entry in builder[kind].as_sequence().into_iter().flatten() {
            let gomod = entry["gomod"].as_str().unwrap_or_default();
            let module = gomod.split(' ').next().unwrap_or_default();
            let last = module.rsplit('/').next().unwrap_or_default();
            let ty = last
                .strip_suffix(singular)
                .unwrap_or_else(|| panic!("{BUILDER_CONFIG}: {module} is not a {singular}"));
            built.insert((kind.to_owned(), ty.to_owned()));
        }
    }
    // Config type names keep underscores (memory_limiter); module names drop them.
    let used: BTreeSet<(String, String)> = used_component_types()
        .into_iter()
        .map(|(kind, ty)| (kind, ty.replace('_', "")))
        .collect();
    assert_eq!(
        built, used,
        "{BUILDER_CONFIG} must list exactly the components collector/*.yaml use"
    );
}

/// Provisioned datasources as `uid -> type`.
fn provisioned_datasources() -> Vec<(String, String)> {
    let provisioning = yaml(DATASOURCES);
    provisioning["datasources"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{DATASOURCES}: datasources must be a list"))
        .iter()
        .map(|ds| {
            let field = |name: &str| {
                ds[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{DATASOURCES}: datasource without {name}: {ds:?}"))
                    .to_owned()
            };
            (field("uid"), field("type"))
        })
        .collect()
}

/// Every dashboard JSON under `collector/grafana/dashboards`, parsed, with its file name.
fn dashboards() -> Vec<(String, Json)> {
    let dir = repo_root().join(DASHBOARDS_DIR);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not valid JSON: {e}"));
        found.push((name, json));
    }
    assert!(!found.is_empty(), "no dashboard JSON in {}", dir.display());
    found
}

/// Every PromQL expression of every dashboard target.
fn dashboard_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for (name, dashboard) in dashboards() {
        walk(&dashboard, &mut |key, value| {
            if key == "targets" {
                for target in value.as_array().into_iter().flatten() {
                    let expr = target["expr"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{name}: target without expr: {target}"));
                    queries.push((name.clone(), expr.to_owned()));
                }
            }
        });
    }
    queries
}

#[test]
fn grafana_dashboards_use_provisioned_datasources() {
    let datasources = provisioned_datasources();
    let uids: BTreeSet<&str> = datasources.iter().map(|(uid, _)| uid.as_str()).collect();
    let type_of = |uid: &str| {
        datasources
            .iter()
            .find(|(u, _)| u == uid)
            .map(|(_, t)| t.as_str())
    };
    assert!(
        uids.len() == datasources.len(),
        "{DATASOURCES}: duplicate uids"
    );
    assert!(
        datasources.iter().any(|(_, t)| t == "prometheus"),
        "{DATASOURCES}: no Prometheus"
    );
    assert!(
        datasources.iter().any(|(_, t)| t == "jaeger"),
        "{DATASOURCES}: no Jaeger"
    );

    let provisioning = yaml(DATASOURCES);
    let mut exemplar_links = 0;
    for ds in provisioning["datasources"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let destinations = &ds["jsonData"]["exemplarTraceIdDestinations"];
        for destination in destinations.as_sequence().into_iter().flatten() {
            let uid = destination["datasourceUid"].as_str().unwrap_or_default();
            assert_eq!(
                type_of(uid),
                Some("jaeger"),
                "{DATASOURCES}: exemplar link points at {uid:?}, which is not the Jaeger datasource"
            );
            assert_eq!(destination["name"].as_str(), Some("trace_id"));
            exemplar_links += 1;
        }
    }
    assert!(
        exemplar_links > 0,
        "{DATASOURCES}: no exemplarTraceIdDestinations"
    );

    // The dashboard provider reads the directory docker-compose mounts the dashboards into.
    let providers = yaml(DASHBOARD_PROVIDERS);
    let compose = yaml(COMPOSE);
    let grafana_mounts = bind_mounts(&compose, "grafana");
    for provider in providers["providers"].as_sequence().into_iter().flatten() {
        let path = provider["options"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{DASHBOARD_PROVIDERS}: provider without options.path"));
        assert!(
            grafana_mounts
                .iter()
                .any(|(host, container)| container == path
                    && host.trim_start_matches("./") == DASHBOARDS_DIR),
            "{DASHBOARD_PROVIDERS}: {path} is not where {COMPOSE} mounts {DASHBOARDS_DIR}"
        );
    }

    for (name, dashboard) in dashboards() {
        let uid = dashboard["uid"].as_str().unwrap_or_default();
        assert!(!uid.is_empty(), "{name}: dashboard uid is not set");
        assert!(dashboard["title"].as_str().is_some(), "{name}: no title");
        let mut panel_ids = BTreeSet::new();
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            let id = panel["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: panel without id"));
            assert!(panel_ids.insert(id), "{name}: panel id {id} is used twice");
        }
        // A dashboard with a datasource variable refers to it as `${datasource}`; its
        // default must be a provisioned Prometheus.
        let mut variables = BTreeSet::new();
        for var in dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if var["type"] == "datasource" {
                let default = var["current"]["value"].as_str().unwrap_or_default();
                assert_eq!(
                    type_of(default),
                    Some("prometheus"),
                    "{name}: datasource variable default"
                );
                variables.insert(format!("${{{}}}", var["name"].as_str().unwrap_or_default()));
            }
        }
        let mut exemplar_bucket_targets = 0;
        walk(&dashboard, &mut |key, value| {
            if key == "datasource" {
                let uid = value["uid"].as_str().unwrap_or_else(|| {
                    panic!("{name}: datasource must be referenced by uid, found {value}")
                });
                assert!(
                    uids.contains(uid) || variables.contains(uid),
                    "{name}: datasource uid {uid:?} is not provisioned"
                );
            }
            if key == "targets" {
                for target in value.as_array().into_iter().flatten() {
                    let expr = target["expr"].as_str().unwrap_or_default();
                    if target["exemplar"] == Json::Bool(true) && expr.contains("_bucket") {
                        exemplar_bucket_targets += 1;
                    }
                }
            }
        });
        // A dashboard of latencies shows exemplars on some bucket target.
        let mut bucket_targets = 0;
        walk(&dashboard, &mut |key, value| {
            if key == "expr" && value.as_str().is_some_and(|e| e.contains("_bucket")) {
                bucket_targets += 1;
            }
        });
        assert!(
            bucket_targets == 0 || exemplar_bucket_targets > 0,
            "{name}: no latency target over a _bucket metric has exemplars enabled"
        );
        // Every latency target (a quantile over a duration histogram) shows exemplars.
        walk(&dashboard, &mut |key, value| {
            if key == "targets" {
                for target in value.as_array().into_iter().flatten() {
                    let expr = target["expr"].as_str().unwrap_or_default();
                    if expr.contains("histogram_quantile") && expr.contains("duration") {
                        assert_eq!(
                            target["exemplar"],
                            Json::Bool(true),
                            "{name}: latency target without exemplars: {expr}"
                        );
                    }
                }
            }
        });
    }
}

#[test]
fn dittofs_dashboard_has_the_seed_panels() {
    let dashboard: Json =
        serde_json::from_str(&read("collector/grafana/dashboards/dittofs-nfs.json")).unwrap();
    assert_eq!(dashboard["title"], "DittoFS NFS Performance");
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .filter_map(|p| p["title"].as_str())
        .collect();
    // The 18 panels of the DittoFS monitoring guide, in its order.
    let seed = [
        "Active Connections",
        "Request Rate",
        "Error Rate",
        "Request Latency (p95)",
        "Requests per Second by Procedure",
        "Request Duration by Procedure",
        "Requests In Flight",
        "Requests per Second by Share",
        "Throughput by Direction",
        "Throughput by Procedure",
        "Operation Size Distribution",
        "Bytes Transferred by Procedure",
        "Active Connections Over Time",
        "Connection Lifecycle",
        "Total Connection Stats",
        "Errors per Second by Procedure",
        "Error Codes Distribution",
        "Top 20 Errors",
    ];
    assert_eq!(titles, seed);
}

/// Every dashboard's title with the titles of its panels, rows and nested panels included.
fn dashboard_panel_titles() -> Vec<(String, BTreeSet<String>)> {
    dashboards()
        .into_iter()
        .map(|(name, dashboard)| {
            let title = dashboard["title"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: dashboard without a title"))
                .to_owned();
            let mut panels = BTreeSet::new();
            walk(&dashboard, &mut |key, value| {
                if key == "panels" {
                    for panel in value.as_array().into_iter().flatten() {
                        if let Some(title) = panel["title"].as_str() {
                            panels.insert(title.to_owned());
                        }
                    }
                }
            });
            (title, panels)
        })
        .collect()
}

/// The double-quoted strings of `line`, in order.
fn quoted(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

#[test]
fn every_panel_title_a_runbook_quotes_exists() {
    let dashboards = dashboard_panel_titles();
    let dir = repo_root().join(RUNBOOKS_DIR);
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let Some((_, section)) = text.split_once("## Panels to open\n") else {
            continue;
        };
        let section = section.split("\n## ").next().unwrap_or_default();
        for line in section.lines() {
            let quotes = quoted(line);
            // `"Dashboard" → "Panel" and "Panel"`: the panels must be that dashboard's.
            let (within, panels) = match quotes.split_first() {
                Some((first, rest)) if line.contains(&format!("\"{first}\" →")) => {
                    let board = dashboards
                        .iter()
                        .find(|(title, _)| title == first)
                        .unwrap_or_else(|| {
                            panic!("{name}: no dashboard titled {first:?} ({line})")
                        });
                    (vec![board], rest.to_vec())
                }
                _ => (dashboards.iter().collect(), quotes),
            };
            for panel in panels {
                assert!(
                    within.iter().any(|(_, titles)| titles.contains(panel)),
                    "{name}: no panel titled {panel:?} in {:?} ({line})",
                    within.iter().map(|(t, _)| t).collect::<Vec<_>>()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} quoted panel titles found");
}

/// `(alert name, runbook_url)` of every rule in alerts.yml.
fn alert_rules() -> Vec<(String, String)> {
    let alerts = yaml(ALERTS);
    let mut rules = Vec::new();
    for group in alerts["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            let name = rule["alert"]
                .as_str()
                .unwrap_or_else(|| panic!("{ALERTS}: rule without alert: {rule:?}"));
            let runbook = rule["annotations"]["runbook_url"]
                .as_str()
                .unwrap_or_default();
            rules.push((name.to_owned(), runbook.to_owned()));
        }
    }
    rules
}

#[test]
fn every_alert_has_a_runbook() {
    let rules = alert_rules();
    assert!(rules.len() >= 13, "{ALERTS}: {} rules", rules.len());
    for (alert, runbook) in &rules {
        assert!(
            runbook.starts_with(&format!("{RUNBOOKS_DIR}/")),
            "{ALERTS}: {alert} needs a runbook_url under {RUNBOOKS_DIR}/, has {runbook:?}"
        );
        let text = read(runbook);
        assert!(
            text.starts_with(&format!("# {alert}\n")),
            "{runbook}: must be titled {alert}"
        );
        for section in [
            "## Symptom",
            "## Panels to open",
            "## Traces to look for",
            "## Likely causes",
            "## Actions",
        ] {
            assert!(text.contains(section), "{runbook}: no {section:?} section");
        }
    }
    // The seed alerts our metrics support, and a service-down alert that needs no `up`.
    for required in [
        "ServiceStoppedReporting",
        "RaftReplicationLagHigh",
        "RaftProposalFailureRatioHigh",
        "RaftLeaderChangesFrequent",
        "ServiceErrorRatioHigh",
        "ServiceResponseTimeHigh",
    ] {
        assert!(
            rules.iter().any(|(a, _)| a == required),
            "{ALERTS}: no {required}"
        );
    }
    let stopped = read(ALERTS);
    let expr_start = stopped.find("alert: ServiceStoppedReporting").unwrap();
    let expr = &stopped[expr_start..stopped[expr_start..].find("for:").unwrap() + expr_start];
    assert!(
        !expr.contains("up{") && !expr.contains(" up "),
        "push-only service down must not use up: {expr}"
    );
}

/// The statuses `NfsErrorRatioHigh` counts, under both naming profiles, are exactly those
/// ferrotel-ops calls the server's fault (the ones that mark a server span as an error).
#[test]
fn nfs_error_alert_counts_exactly_the_server_faults() {
    use ferrotel::ops::nfs::NfsStatus;
    let faults: BTreeSet<&str> = (0..=10_010)
        .map(NfsStatus::from_code)
        .filter(|s| s.is_server_fault())
        .map(NfsStatus::name)
        .collect();
    assert!(faults.contains("NFS3ERR_IO") && !faults.contains("NFS3ERR_NOENT"));
    let alerts = yaml(ALERTS);
    let expr = alerts["groups"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_sequence().into_iter().flatten())
        .find(|r| r["alert"].as_str() == Some("NfsErrorRatioHigh"))
        .and_then(|r| r["expr"].as_str())
        .expect("NfsErrorRatioHigh in alerts.yml")
        .to_owned();
    for label in ["error_type", "error_code"] {
        let pattern = format!("{label}=~\"");
        let (_, rest) = expr
            .split_once(&pattern)
            .unwrap_or_else(|| panic!("NfsErrorRatioHigh has no {label}=~ matcher: {expr}"));
        let alternatives: BTreeSet<&str> = rest.split('"').next().unwrap().split('|').collect();
        assert_eq!(
            alternatives, faults,
            "the {label} matcher of NfsErrorRatioHigh"
        );
    }
}

#[test]
fn every_alert_is_unit_tested_in_both_directions() {
    let tests = yaml(ALERTS_TEST);
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for group in tests["tests"].as_sequence().into_iter().flatten() {
        for case in group["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap_or_default().to_owned();
            let expected = case["exp_alerts"].as_sequence().map_or(0, Vec::len);
            if expected == 0 {
                silent.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    for (alert, _) in alert_rules() {
        assert!(
            firing.contains(&alert),
            "{ALERTS_TEST}: no case where {alert} fires"
        );
        assert!(
            silent.contains(&alert),
            "{ALERTS_TEST}: no case where {alert} stays silent"
        );
    }
}

/// Prometheus 3's promtool, built by `collector/build-tools` at the version compose pins.
fn promtool() -> Option<PathBuf> {
    let output = Command::new("bash")
        .arg(repo_root().join("collector/build-tools"))
        .args(["--which", "promtool"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

fn run_promtool(promtool: &Path, args: &[&str]) {
    let output = Command::new(promtool)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    assert!(
        output.status.success(),
        "promtool {} failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes the dashboard queries as recording rules, with Grafana's variables filled in, so
/// promtool parses every one of them.
fn dashboard_queries_as_rules() -> PathBuf {
    let mut rules = Vec::new();
    for (i, (_, expr)) in dashboard_queries().iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "1m")
            .replace("$__range", "1h")
            .replace("$service", ".*")
            .replace("${prefix}", "ferrotel");
        let mut rule = Mapping::new();
        rule.insert("record".into(), format!("dashboard:query_{i}").into());
        rule.insert("expr".into(), expr.into());
        rules.push(Yaml::Mapping(rule));
    }
    let mut group = Mapping::new();
    group.insert("name".into(), "dashboard-queries".into());
    group.insert("rules".into(), Yaml::Sequence(rules));
    let mut file = Mapping::new();
    file.insert("groups".into(), Yaml::Sequence(vec![Yaml::Mapping(group)]));
    let text = serde_yaml_ng::to_string(&Yaml::Mapping(file)).unwrap();
    let path = std::env::temp_dir().join(format!(
        "ferrotel-dashboard-queries-{}.yml",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn promtool_accepts_config_rules_and_queries() {
    let Some(promtool) = promtool().or_else(|| ferrotel_testkit::external::skip(PROMTOOL_MISSING))
    else {
        return;
    };
    let version = Command::new(&promtool).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    let pinned = &versions()["PROMETHEUS_VERSION"];
    assert!(
        version.contains(&format!("version {pinned}")),
        "promtool must be Prometheus {pinned}, the version compose pins: {version}"
    );
    run_promtool(&promtool, &["check", "config", PROMETHEUS_CONFIG]);
    run_promtool(&promtool, &["check", "rules", ALERTS]);
    run_promtool(&promtool, &["test", "rules", ALERTS_TEST]);

    let queries = dashboard_queries_as_rules();
    let queries_arg = queries.to_str().expect("temp dir path is UTF-8").to_owned();
    let output = Command::new(&promtool)
        .args(["check", "rules", &queries_arg])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    std::fs::remove_file(&queries).ok();
    assert!(
        output.status.success(),
        "a Grafana dashboard query is not valid PromQL:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn image_tag_parsing() {
    assert_eq!(image_tag("prom/prometheus:v3.11.3"), Some("v3.11.3"));
    assert_eq!(image_tag("localhost:5000/img"), None);
    assert_eq!(image_tag("localhost:5000/img:1.2@sha256:abc"), Some("1.2"));
    assert_eq!(image_tag("grafana/grafana"), None);
}
