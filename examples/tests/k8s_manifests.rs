//! Checks `deploy/kubernetes/` without a cluster. `k8s-validate` (deploy/kubernetes/validate,
//! built from the Go module proxy) decodes every manifest strictly into the official Go types
//! and renders every kustomization with kustomize; a misspelled field must fail it. On the
//! rendered overlays, every ferrotel container must be wired as the README's "Running on
//! Kubernetes" says: the node agent through `status.hostIP`, the k8s detector's downward-API
//! variables, non-root, requests and limits, and a grace period that covers the guard's
//! bounded flush (computed by ferrotel's own configuration from the container's variables).
//! The collector configurations must be `collector/scaled/`'s but for the agent's resolver. And
//! the storage roles run as the StatefulSet and the gateway Deployment start them (their
//! arguments and variables, on loopback): nodes by host name, ids from 0, the gateway
//! initializing the cluster, an NFS client's write on every node, SIGTERM a clean stop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferrotel::config::{vars, ConfigBuilder, Env};
use ferrotel_testkit::Receiver;
use serde_yaml_ng::Value as Yaml;
use support::{demo, repo_root};

const DEPLOY: &str = "deploy/kubernetes";
const HAND_SET: &str = "deploy/kubernetes/overlays/hand-set";
const OPERATOR: &str = "deploy/kubernetes/overlays/operator";
/// The label every ferrotel workload carries (the overlays' patches select on it).
const PART_OF: &str = "ferrotel-demo";
/// The container of each ferrotel workload.
const CONTAINER: &str = "storage";
/// What the driver adds to a child's telemetry bound before it gives up on it
/// (storage_cluster/cluster.rs, `stop_timeout`).
const CHILD_STOP_MARGIN_SECS: u64 = 10;
/// Room for the rest of a stop: the runtime, the last writes, the kubelet's own delay.
const MARGIN_SECS: u64 = 5;

/// The cached validator, or `None` after a skip line.
fn validator() -> Option<PathBuf> {
    let output = Command::new("bash")
        .arg(repo_root().join("deploy/kubernetes/validate/build"))
        .arg("--which")
        .output()
        .expect("run deploy/kubernetes/validate/build --which");
    if output.status.success() {
        return Some(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    ferrotel_testkit::external::skip(
        "k8s-validate is not built (run deploy/kubernetes/validate/build; needs Go)",
    )
}

fn run(validator: &Path, args: &[&str]) -> std::process::Output {
    Command::new(validator)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", validator.display()))
}

/// `kustomize build` of `dir`, as YAML documents.
fn render(validator: &Path, dir: &str) -> Vec<Yaml> {
    let path = repo_root().join(dir);
    let out = run(validator, &["render", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "render {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml_ng::Deserializer::from_slice(&out.stdout)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

fn str_at<'a>(value: &'a Yaml, path: &[&str]) -> Option<&'a str> {
    at(value, path)?.as_str()
}

fn at<'a>(value: &'a Yaml, path: &[&str]) -> Option<&'a Yaml> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// The ferrotel workloads of a rendering: (kind/name, pod template).
fn ferrotel_workloads(docs: &[Yaml]) -> Vec<(String, &Yaml)> {
    let found: Vec<(String, &Yaml)> = docs
        .iter()
        .filter(|d| {
            str_at(d, &["metadata", "labels", "app.kubernetes.io/part-of"]) == Some(PART_OF)
                && at(d, &["spec", "template"]).is_some()
        })
        .map(|d| {
            let name = format!(
                "{}/{}",
                str_at(d, &["kind"]).unwrap(),
                str_at(d, &["metadata", "name"]).unwrap()
            );
            (name, at(d, &["spec", "template"]).unwrap())
        })
        .collect();
    let kinds: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "StatefulSet/storage-node",
            "Deployment/storage-gateway",
            "Job/storage-driver"
        ],
        "the storage nodes, the NFS gateway and the driver, in that order"
    );
    found
}

fn container<'a>(template: &'a Yaml, who: &str) -> &'a Yaml {
    at(template, &["spec", "containers"])
        .and_then(Yaml::as_sequence)
        .and_then(|cs| cs.iter().find(|c| str_at(c, &["name"]) == Some(CONTAINER)))
        .unwrap_or_else(|| panic!("{who} has no container named {CONTAINER}"))
}

fn env_list(container: &Yaml) -> Vec<&Yaml> {
    at(container, &["env"])
        .and_then(Yaml::as_sequence)
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

#[test]
fn every_manifest_decodes_strictly_and_every_kustomization_renders() {
    let Some(validator) = validator() else { return };
    let root = repo_root().join(DEPLOY);
    let out = run(&validator, &["check", root.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "k8s-validate check: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("decode strictly"), "{stdout}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_misspelled_field_fails_and_the_error_names_it() {
    let Some(validator) = validator() else { return };
    let copy = std::env::temp_dir().join(format!("ferrotel-k8s-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(&repo_root().join(DEPLOY), &copy);
    let manifest = copy.join("base/storage/storage-node.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains("\n  replicas: 3\n"),
        "the StatefulSet sets replicas"
    );
    std::fs::write(
        &manifest,
        text.replace("\n  replicas: 3\n", "\n  replcas: 3\n"),
    )
    .unwrap();
    // And in the Operator's own type.
    let instrumentation = copy.join("overlays/operator/instrumentation.yaml");
    let text = std::fs::read_to_string(&instrumentation).unwrap();
    assert!(
        text.contains("\n    endpoint: "),
        "the Instrumentation names its endpoint"
    );
    std::fs::write(
        &instrumentation,
        text.replace("\n    endpoint: ", "\n    endpont: "),
    )
    .unwrap();

    let out = run(&validator, &["check", copy.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&copy);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a misspelled field was accepted");
    assert!(
        stderr.contains(r#"unknown field "spec.replcas""#),
        "the error must name the field: {stderr}"
    );
    assert!(
        stderr.contains("storage-node.yaml"),
        "the error must name the file: {stderr}"
    );
    assert!(
        stderr.contains(r#"unknown field "spec.exporter.endpont""#),
        "the Instrumentation's misspelled field must be named too: {stderr}"
    );
}

/// The shutdown bound ferrotel derives from a container's literal variables.
fn shutdown_bound_secs(env: &[&Yaml], who: &str) -> u64 {
    let pairs = env.iter().filter_map(|e| {
        Some((
            str_at(e, &["name"])?.to_string(),
            str_at(e, &["value"])?.to_string(),
        ))
    });
    let resolved = ConfigBuilder::default()
        .resolve(&Env::from_pairs(pairs))
        .unwrap_or_else(|e| panic!("{who}: ferrotel rejects its variables: {e}"));
    resolved.config.shutdown_bound().as_secs_f64().ceil() as u64
}

#[test]
fn every_ferrotel_container_sends_to_its_node_agent_and_stops_within_its_grace_period() {
    let Some(validator) = validator() else { return };
    let docs = render(&validator, HAND_SET);
    for (who, template) in ferrotel_workloads(&docs) {
        let c = container(template, &who);
        let env = env_list(c);
        let names: Vec<&str> = env.iter().filter_map(|e| str_at(e, &["name"])).collect();
        let field = |name: &str| {
            env.iter()
                .find(|e| str_at(e, &["name"]) == Some(name))
                .and_then(|e| str_at(e, &["valueFrom", "fieldRef", "fieldPath"]))
        };

        // The node agent, through the node's IP, defined before it is used.
        assert_eq!(field("HOST_IP"), Some("status.hostIP"), "{who}");
        let endpoint = env
            .iter()
            .find(|e| str_at(e, &["name"]) == Some(vars::OTEL_EXPORTER_OTLP_ENDPOINT))
            .and_then(|e| str_at(e, &["value"]));
        assert_eq!(endpoint, Some("http://$(HOST_IP):4317"), "{who}");
        let position = |name: &str| names.iter().position(|n| *n == name).unwrap();
        assert!(
            position("HOST_IP") < position(vars::OTEL_EXPORTER_OTLP_ENDPOINT),
            "{who}: $(HOST_IP) expands only a variable defined before it"
        );

        // What the k8s resource detector reads.
        for (name, path) in [
            (vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAME, "metadata.name"),
            (vars::OTEL_RESOURCE_ATTRIBUTES_POD_UID, "metadata.uid"),
            (
                vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE,
                "metadata.namespace",
            ),
            (vars::OTEL_RESOURCE_ATTRIBUTES_NODE_NAME, "spec.nodeName"),
        ] {
            assert_eq!(field(name), Some(path), "{who}: {name}");
        }

        // Non-root, no escalation, requests and limits.
        assert_eq!(
            at(template, &["spec", "securityContext", "runAsNonRoot"]).and_then(Yaml::as_bool),
            Some(true),
            "{who}: runAsNonRoot"
        );
        assert_eq!(
            at(c, &["securityContext", "allowPrivilegeEscalation"]).and_then(Yaml::as_bool),
            Some(false),
            "{who}: allowPrivilegeEscalation"
        );
        for kind in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    at(c, &["resources", kind, resource]).is_some(),
                    "{who}: resources.{kind}.{resource}"
                );
            }
        }

        // The grace period covers the preStop sleep, then the guard's flush and shutdown,
        // each within the bound; the driver first waits for its children to do the same.
        let sleep = at(c, &["lifecycle", "preStop", "sleep", "seconds"])
            .and_then(Yaml::as_u64)
            .unwrap_or_else(|| panic!("{who}: a preStop sleep"));
        let grace = at(template, &["spec", "terminationGracePeriodSeconds"])
            .and_then(Yaml::as_u64)
            .unwrap_or_else(|| panic!("{who}: terminationGracePeriodSeconds"));
        let bound = shutdown_bound_secs(&env, &who);
        let is_driver = !at(c, &["args"])
            .and_then(Yaml::as_sequence)
            .is_some_and(|args| {
                args.iter()
                    .any(|a| a.as_str().is_some_and(|a| a.starts_with("--role")))
            });
        let children = if is_driver {
            bound + CHILD_STOP_MARGIN_SECS
        } else {
            0
        };
        let needed = sleep + children + 2 * bound + MARGIN_SECS;
        assert!(
            grace >= needed,
            "{who}: terminationGracePeriodSeconds {grace} < preStop {sleep} s + children {children} s + 2 × bound {bound} s + {MARGIN_SECS} s"
        );
    }
}

#[test]
fn the_operator_overlay_asks_for_injection_and_ferrotel_accepts_what_it_injects() {
    let Some(validator) = validator() else { return };
    let docs = render(&validator, OPERATOR);
    let instrumentation = docs
        .iter()
        .find(|d| str_at(d, &["kind"]) == Some("Instrumentation"))
        .expect("an Instrumentation resource");
    assert_eq!(
        str_at(instrumentation, &["apiVersion"]),
        Some("opentelemetry.io/v1alpha1")
    );
    for (who, template) in ferrotel_workloads(&docs) {
        let annotations = at(template, &["metadata", "annotations"]).unwrap();
        assert_eq!(
            str_at(
                annotations,
                &["instrumentation.opentelemetry.io/inject-sdk"]
            ),
            Some("true"),
            "{who}"
        );
        let c = container(template, &who);
        for e in env_list(c) {
            let name = str_at(e, &["name"]).unwrap();
            assert!(
                name != vars::OTEL_EXPORTER_OTLP_ENDPOINT
                    && !name.starts_with("OTEL_RESOURCE_ATTRIBUTES"),
                "{who}: {name} is the Operator's to set; set by hand it would win"
            );
        }
    }

    // What the Operator injects, as the container would see it, resolves without an issue.
    let spec = at(instrumentation, &["spec"]).unwrap();
    let endpoint = str_at(spec, &["exporter", "endpoint"]).unwrap();
    assert!(
        endpoint.contains("$(OTEL_NODE_IP)"),
        "the node agent: {endpoint}"
    );
    let propagators: Vec<&str> = at(spec, &["propagators"])
        .and_then(Yaml::as_sequence)
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let sampler = str_at(spec, &["sampler", "type"]).unwrap();
    let argument = str_at(spec, &["sampler", "argument"]).unwrap();
    let mut env = Env::from_pairs([
        (
            vars::OTEL_EXPORTER_OTLP_ENDPOINT,
            endpoint.replace("$(OTEL_NODE_IP)", "10.0.0.7"),
        ),
        (vars::OTEL_PROPAGATORS, propagators.join(",")),
        (vars::OTEL_TRACES_SAMPLER, sampler.to_string()),
        (vars::OTEL_TRACES_SAMPLER_ARG, argument.to_string()),
        (
            vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAME,
            "storage-node-0".into(),
        ),
        (vars::OTEL_RESOURCE_ATTRIBUTES_NODE_NAME, "node-a".into()),
    ]);
    for e in at(spec, &["env"])
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
    {
        env.set(
            str_at(e, &["name"]).unwrap(),
            str_at(e, &["value"]).unwrap(),
        );
    }
    let issues = ConfigBuilder::default()
        .resolve(&env)
        .expect("ferrotel resolves what the Instrumentation injects")
        .issues;
    assert!(
        issues.is_empty(),
        "ferrotel must accept what the Instrumentation injects: {issues:?}"
    );
}

fn yaml_file(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(repo_root().join(rel)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_collector_configs_are_collector_scaled_but_for_the_agents_resolver() {
    let gateway = yaml_file("deploy/kubernetes/base/collector/config/gateway.yaml");
    assert_eq!(
        gateway,
        yaml_file("collector/scaled/gateway.yaml"),
        "the gateway's Kubernetes configuration must equal collector/scaled/gateway.yaml"
    );

    let mut agent = yaml_file("deploy/kubernetes/base/collector/config/agent.yaml");
    let scaled = yaml_file("collector/scaled/agent.yaml");
    let path = ["exporters", "loadbalancing", "resolver"];
    let resolver = at(&agent, &path).unwrap().clone();
    // The one difference: the gateway pods behind the headless Service, not a fixed list.
    assert_eq!(
        str_at(&resolver, &["k8s", "service"]),
        Some("otel-gateway"),
        "{resolver:?}"
    );
    assert_eq!(
        resolver.as_mapping().map(|m| m.len()),
        Some(1),
        "one resolver"
    );
    let scaled_resolver = at(&scaled, &path).unwrap().clone();
    *agent
        .get_mut("exporters")
        .and_then(|e| e.get_mut("loadbalancing"))
        .and_then(|l| l.get_mut("resolver"))
        .unwrap() = scaled_resolver;
    assert_eq!(
        agent, scaled,
        "the agent's Kubernetes configuration must equal collector/scaled/agent.yaml but for the resolver"
    );
}

#[test]
fn the_headless_gateway_service_is_what_the_agents_resolve() {
    let Some(validator) = validator() else { return };
    let docs = render(&validator, HAND_SET);
    let agent = yaml_file("deploy/kubernetes/base/collector/config/agent.yaml");
    let service = str_at(
        &agent,
        &["exporters", "loadbalancing", "resolver", "k8s", "service"],
    )
    .unwrap();
    let headless = docs.iter().find(|d| {
        str_at(d, &["kind"]) == Some("Service") && str_at(d, &["metadata", "name"]) == Some(service)
    });
    let headless = headless.unwrap_or_else(|| panic!("no Service {service}"));
    assert_eq!(str_at(headless, &["spec", "clusterIP"]), Some("None"));
    let port = at(
        &agent,
        &["exporters", "loadbalancing", "resolver", "k8s", "ports"],
    )
    .and_then(|p| p.get(0))
    .and_then(Yaml::as_u64)
    .unwrap();
    assert!(
        at(headless, &["spec", "ports"])
            .and_then(Yaml::as_sequence)
            .unwrap()
            .iter()
            .any(|p| at(p, &["port"]).and_then(Yaml::as_u64) == Some(port)),
        "the resolver's port {port} is the Service's"
    );
}

/// The `storage` container of the workload in `rel` (a base manifest, not rendered): its
/// arguments and its literal variables.
fn base_container(rel: &str) -> (Vec<String>, Vec<(String, String)>) {
    let text = std::fs::read_to_string(repo_root().join(rel)).unwrap();
    let docs: Vec<Yaml> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    let template = docs
        .iter()
        .find_map(|d| at(d, &["spec", "template"]))
        .unwrap_or_else(|| panic!("{rel}: no pod template"));
    let c = container(template, rel);
    let args = at(c, &["args"])
        .and_then(Yaml::as_sequence)
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let env = env_list(c)
        .into_iter()
        .filter_map(|e| {
            Some((
                str_at(e, &["name"])?.to_string(),
                str_at(e, &["value"])?.to_string(),
            ))
        })
        .collect();
    (args, env)
}

/// `args` with the pod-only parts replaced for loopback: the listen address, `$(NODE_ID)`,
/// the data directory, and each `storage-node-N.storage-node:7000` by `localhost:PORT`.
fn on_loopback(args: &[String], id: &str, data: &Path, nodes: &[SocketAddr]) -> Vec<String> {
    args.iter()
        .map(|arg| {
            let mut arg = arg.replace("$(NODE_ID)", id);
            if arg.starts_with("--listen=") {
                arg = "--listen=127.0.0.1:0".to_string();
            }
            if arg.starts_with("--data-dir=") {
                arg = format!("--data-dir={}", data.display());
            }
            for (n, addr) in nodes.iter().enumerate() {
                arg = arg.replace(
                    &format!("storage-node-{n}.storage-node:7000"),
                    &format!("localhost:{}", addr.port()),
                );
            }
            arg
        })
        .collect()
}

fn role_command(receiver: &Receiver, args: &[String], env: &[(String, String)]) -> Command {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = demo::command(receiver, &args);
    for (name, value) in env {
        command.env(name, value);
    }
    // One /metrics page per process, on a free loopback port instead of the pod's 9464.
    command.env("FERROTEL_METRICS_ADDR", "127.0.0.1:0");
    command.env("OTEL_TRACES_SAMPLER", "always_on");
    command
}

#[test]
fn the_roles_run_as_the_manifests_start_them_and_stop_on_sigterm() {
    if ferrotel_testkit::external::program("nfs-cp", "install Debian's libnfs-utils").is_none() {
        return;
    }
    let receiver = Receiver::start();
    let dir = std::env::temp_dir().join(format!("ferrotel-k8s-roles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The StatefulSet's three pods: ids 0, 1 and 2, as the pod index gives them.
    let (node_args, node_env) = base_container("deploy/kubernetes/base/storage/storage-node.yaml");
    assert!(
        node_args.iter().any(|a| a == "--id=$(NODE_ID)"),
        "{node_args:?}"
    );
    let nodes: Vec<demo::RoleProcess> = (0..3)
        .map(|id| {
            let args = on_loopback(&node_args, &id.to_string(), &dir, &[]);
            demo::start_role(role_command(&receiver, &args, &node_env))
        })
        .collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();

    // The gateway Deployment, reaching the nodes by host name and initializing the cluster.
    let (gateway_args, gateway_env) =
        base_container("deploy/kubernetes/base/storage/storage-gateway.yaml");
    assert!(
        gateway_args.iter().any(|a| a == "--initialize"),
        "{gateway_args:?}"
    );
    let args = on_loopback(&gateway_args, "", &dir, &addrs);
    assert!(
        args.iter().any(|a| a.contains("localhost:")),
        "the nodes by name: {args:?}"
    );
    let gateway = demo::start_role(role_command(&receiver, &args, &gateway_env));

    // An NFS client writes and reads back through the gateway once a leader is elected.
    let port = gateway.addr.port();
    let source = dir.join("in.bin");
    let back = dir.join("out.bin");
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&source, &data).unwrap();
    let url = format!("nfs://127.0.0.1/export/k8s.bin?version=3&nfsport={port}&mountport={port}");
    let copied = support::poll(Duration::from_secs(120), || {
        Command::new("nfs-cp")
            .args([source.to_str().unwrap(), &url])
            .output()
            .ok()
            .filter(|o| o.status.success())
    });
    assert!(
        copied.is_some(),
        "no NFS write succeeded through the gateway"
    );
    let read = Command::new("nfs-cp")
        .args([&url, back.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(std::fs::read(&back).unwrap(), data, "the bytes round-trip");

    // SIGTERM, as the kubelet stops a pod: each flushes and exits 0.
    assert!(gateway.terminate().success(), "the gateway's exit");
    for node in nodes {
        assert!(node.terminate().success(), "a node's exit");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // The WRITE went through Raft to all three nodes, each named by its pod index.
    let spans = receiver.spans();
    let write = spans
        .iter()
        .find(|s| s.name() == "nfs.WRITE" && demo::instance(s) == "gateway")
        .expect("a gateway nfs.WRITE span");
    let processes: std::collections::BTreeSet<String> =
        demo::trace_spans(&receiver, &write.trace_id_hex())
            .iter()
            .map(demo::instance)
            .collect();
    for p in ["gateway", "node-0", "node-1", "node-2"] {
        assert!(
            processes.contains(p),
            "no {p} span in the WRITE's trace: {processes:?}"
        );
    }
}

#[test]
fn images_are_the_versions_ci_builds_and_tests() {
    let Some(validator) = validator() else { return };
    let versions = support::pinned_versions("collector/versions.env");
    let expected = [
        (
            "otel/opentelemetry-collector-contrib",
            versions["OTELCOL_CONTRIB_VERSION"].clone(),
        ),
        ("jaegertracing/jaeger", versions["JAEGER_VERSION"].clone()),
        (
            "prom/prometheus",
            format!("v{}", versions["PROMETHEUS_VERSION"]),
        ),
        (
            "ferrotel/storage-cluster",
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for overlay in [HAND_SET, OPERATOR] {
        for doc in render(&validator, overlay) {
            let Some(containers) =
                at(&doc, &["spec", "template", "spec", "containers"]).and_then(Yaml::as_sequence)
            else {
                continue;
            };
            for c in containers {
                let image = str_at(c, &["image"]).unwrap();
                let (name, tag) = image
                    .rsplit_once(':')
                    .unwrap_or_else(|| panic!("{overlay}: {image} has no tag"));
                let (_, pinned) = expected
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("{overlay}: {image} is none of the pinned images"));
                assert_eq!(tag, pinned, "{overlay}: {image}");
                seen.insert(name.to_string());
            }
        }
    }
    assert_eq!(
        seen.len(),
        expected.len(),
        "every pinned image is used: {seen:?}"
    );
}
