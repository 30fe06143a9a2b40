//! Resource detectors: where the service runs, as resource attributes.
//!
//! Five detectors, chosen with [`FERROTEL_RESOURCE_DETECTORS`](crate::vars::FERROTEL_RESOURCE_DETECTORS),
//! [`ConfigBuilder::resource_detectors`](crate::ConfigBuilder::resource_detectors) or a
//! configuration file's `resource.detection/development.detectors`:
//!
//! | detector | attributes | read from |
//! |---|---|---|
//! | `service` | `service.name`, `service.instance.id` | `OTEL_SERVICE_NAME`; a random UUID |
//! | `host` | `host.name`, `host.id`, `host.arch` | `/proc/sys/kernel/hostname` (else `/etc/hostname`), `/etc/machine-id` (else `/var/lib/dbus/machine-id`), the build target |
//! | `process` | `process.pid`, `process.executable.name`, `process.runtime.name`, `process.runtime.version` | the running process; never its command line, which can hold secrets |
//! | `container` | `container.id` | `/proc/self/cgroup` (cgroup v1 and v2), else `/proc/self/mountinfo` |
//! | `k8s` | `k8s.pod.name`, `k8s.node.name`, `k8s.namespace.name`, `k8s.pod.uid` | the OpenTelemetry Operator's `OTEL_RESOURCE_ATTRIBUTES_POD_NAME`, `_NODE_NAME`, `_POD_UID` (and `_POD_NAMESPACE`); in a pod (`KUBERNETES_SERVICE_HOST` set) the service account's namespace file |
//!
//! Detected values are the weakest source: `OTEL_RESOURCE_ATTRIBUTES`, a configuration file's
//! attributes and code settings all win over them. Detection never fails start-up: a missing,
//! oversized or garbled file, or a value that does not look like what it should be, is a
//! missing attribute. Reads are bounded: only regular files (never a FIFO or a device, which
//! could block), at most [`MAX_FILE_BYTES`] of each.
//!
//! The detectors that read variables (`service`, and `k8s` for the Operator's variables) run
//! during resolution, which stays pure. Those that read the system run in
//! [`Config::detect_resource`](crate::Config::detect_resource), below
//! [`ResourceDetection::root`] (`/`, or a faked tree in tests).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::glob;
use crate::parse::keyword_enum;
use crate::vars;

/// The most bytes read of any one file.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// The longest attribute value a detector reports; longer is garbage.
const MAX_VALUE_LEN: usize = 253;

/// `host.name`.
pub const HOST_NAME: &str = "host.name";
/// `host.id`.
pub const HOST_ID: &str = "host.id";
/// `host.arch`.
pub const HOST_ARCH: &str = "host.arch";
/// `process.pid`.
pub const PROCESS_PID: &str = "process.pid";
/// `process.executable.name`.
pub const PROCESS_EXECUTABLE_NAME: &str = "process.executable.name";
/// `process.runtime.name`.
pub const PROCESS_RUNTIME_NAME: &str = "process.runtime.name";
/// `process.runtime.version`.
pub const PROCESS_RUNTIME_VERSION: &str = "process.runtime.version";
/// `container.id`.
pub const CONTAINER_ID: &str = "container.id";
/// `k8s.pod.name`.
pub const K8S_POD_NAME: &str = "k8s.pod.name";
/// `k8s.node.name`.
pub const K8S_NODE_NAME: &str = "k8s.node.name";
/// `k8s.namespace.name`.
pub const K8S_NAMESPACE_NAME: &str = "k8s.namespace.name";
/// `k8s.pod.uid`.
pub const K8S_POD_UID: &str = "k8s.pod.uid";

/// Set by Kubernetes in every pod (not an OpenTelemetry variable, so not in
/// [`vars::ALL`]); the `k8s` detector reads the service account's namespace file only when it
/// is set.
pub const KUBERNETES_SERVICE_HOST: &str = "KUBERNETES_SERVICE_HOST";

/// The service account's namespace file, below the root.
const K8S_NAMESPACE_FILE: &str = "var/run/secrets/kubernetes.io/serviceaccount/namespace";

keyword_enum! {
    /// A resource detector.
    pub enum Detector {
        /// `service`: `service.name` from `OTEL_SERVICE_NAME` and `service.instance.id`.
        #[default]
        Service => "service",
        /// `host`: `host.name`, `host.id`, `host.arch`.
        Host => "host",
        /// `process`: `process.pid`, `process.executable.name`, `process.runtime.*`.
        Process => "process",
        /// `container`: `container.id`.
        Container => "container",
        /// `k8s`: `k8s.pod.name`, `k8s.node.name`, `k8s.namespace.name`, `k8s.pod.uid`.
        K8s => "k8s",
    }
}

impl Detector {
    /// The variables this detector reads (so a configuration file does not call them ignored).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Detector::Service => &[vars::OTEL_SERVICE_NAME],
            Detector::K8s => &[
                vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAME,
                vars::OTEL_RESOURCE_ATTRIBUTES_NODE_NAME,
                vars::OTEL_RESOURCE_ATTRIBUTES_POD_UID,
                vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE,
                KUBERNETES_SERVICE_HOST,
            ],
            Detector::Host | Detector::Process | Detector::Container => &[],
        }
    }
}

/// Every detector: the default, as none of them reads anything secret.
pub fn default_detectors() -> Vec<Detector> {
    vec![
        Detector::Service,
        Detector::Host,
        Detector::Process,
        Detector::Container,
        Detector::K8s,
    ]
}

/// Which detectors run, which of their attributes are kept, and where the system is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDetection {
    /// The detectors, in order ([`vars::FERROTEL_RESOURCE_DETECTORS`], default all).
    pub detectors: Vec<Detector>,
    /// Attribute-key patterns to keep (`*` matches any run of characters, `?` one); empty
    /// keeps every detected attribute.
    pub included: Vec<String>,
    /// Attribute-key patterns to drop, applied after [`ResourceDetection::included`].
    pub excluded: Vec<String>,
    /// The directory that holds `proc/`, `etc/` and `var/` for the system detectors: `/`
    /// unless [`ConfigBuilder::resource_detection_root`](crate::ConfigBuilder::resource_detection_root) says otherwise.
    pub root: PathBuf,
    /// The executable's name, from the [`Env`].
    pub(crate) executable_name: Option<String>,
    /// `KUBERNETES_SERVICE_HOST` was set: the namespace file is worth reading.
    pub(crate) in_kubernetes: bool,
}

impl Default for ResourceDetection {
    fn default() -> Self {
        Self {
            detectors: default_detectors(),
            included: Vec::new(),
            excluded: Vec::new(),
            root: PathBuf::from("/"),
            executable_name: None,
            in_kubernetes: false,
        }
    }
}

impl ResourceDetection {
    /// Whether `detector` is selected.
    pub fn runs(&self, detector: Detector) -> bool {
        self.detectors.contains(&detector)
    }

    /// Whether a detected attribute `key` passes the included/excluded filters.
    pub fn keeps(&self, key: &str) -> bool {
        (self.included.is_empty()
            || self
                .included
                .iter()
                .any(|p| glob::matches(p.as_bytes(), key.as_bytes())))
            && !self
                .excluded
                .iter()
                .any(|p| glob::matches(p.as_bytes(), key.as_bytes()))
    }

    /// What the system-reading detectors find (`host`, `process`, `container`, and the `k8s`
    /// namespace file), filtered. Bounded reads below [`ResourceDetection::root`]; nothing
    /// here fails: what cannot be read or makes no sense is left out.
    pub fn detect_system(&self) -> Vec<(String, String)> {
        let mut found: Vec<(&'static str, String)> = Vec::new();
        let root = self.root.as_path();
        if self.runs(Detector::Host) {
            let name = read_line(root, "proc/sys/kernel/hostname")
                .filter(|name| is_host_name(name))
                .or_else(|| read_line(root, "etc/hostname").filter(|name| is_host_name(name)));
            found.extend(name.map(|name| (HOST_NAME, name)));
            let id = read_line(root, "etc/machine-id")
                .filter(|id| is_machine_id(id))
                .or_else(|| {
                    read_line(root, "var/lib/dbus/machine-id").filter(|id| is_machine_id(id))
                });
            found.extend(id.map(|id| (HOST_ID, id)));
            found.extend(host_arch().map(|arch| (HOST_ARCH, arch.to_owned())));
        }
        if self.runs(Detector::Process) {
            found.push((PROCESS_PID, std::process::id().to_string()));
            if let Some(name) = self.executable_name.as_deref().filter(|n| is_plain(n)) {
                found.push((PROCESS_EXECUTABLE_NAME, name.to_owned()));
            }
            found.push((PROCESS_RUNTIME_NAME, "rustc".to_owned()));
            if let Some(version) = option_env!("FERROTEL_RUSTC_VERSION") {
                found.push((PROCESS_RUNTIME_VERSION, version.to_owned()));
            }
        }
        if self.runs(Detector::Container) {
            let id = read_lines(root, "proc/self/cgroup")
                .and_then(|text| container_id_from_cgroup(&text))
                .or_else(|| {
                    read_lines(root, "proc/self/mountinfo")
                        .and_then(|text| container_id_from_mountinfo(&text))
                });
            found.extend(id.map(|id| (CONTAINER_ID, id)));
        }
        if self.runs(Detector::K8s) && self.in_kubernetes {
            let namespace = read_line(root, K8S_NAMESPACE_FILE).filter(|ns| is_dns_label(ns));
            found.extend(namespace.map(|ns| (K8S_NAMESPACE_NAME, ns)));
        }
        found
            .into_iter()
            .filter(|(key, _)| self.keeps(key))
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }
}

/// What the variable-reading detectors find in `env`, before filtering: the `k8s` detector's
/// Operator variables. (`service.name` is decided with the other service-name sources.)
pub(crate) fn detect_variables(detection: &ResourceDetection, env: &Env) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if detection.runs(Detector::K8s) {
        for (var, key) in [
            (vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAME, K8S_POD_NAME),
            (vars::OTEL_RESOURCE_ATTRIBUTES_NODE_NAME, K8S_NODE_NAME),
            (
                vars::OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE,
                K8S_NAMESPACE_NAME,
            ),
            (vars::OTEL_RESOURCE_ATTRIBUTES_POD_UID, K8S_POD_UID),
        ] {
            if let Some(value) = env.get(var).filter(|value| is_plain(value)) {
                found.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    found
        .into_iter()
        .filter(|(key, _)| detection.keeps(key))
        .collect()
}

/// The first bytes of a regular file below `root`, at most [`MAX_FILE_BYTES`] plus one (to
/// tell a longer file); `None` for anything else (a FIFO could block start-up, a device could
/// be endless).
fn read_bytes(root: &Path, relative: &str) -> Option<Vec<u8>> {
    let path = root.join(relative);
    let metadata = std::fs::metadata(&path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .ok()?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// A file holding one value on one line (a trailing newline allowed), in UTF-8.
fn read_line(root: &Path, relative: &str) -> Option<String> {
    let bytes = read_bytes(root, relative)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    let value = text.trim();
    (!value.is_empty() && !value.contains('\n')).then(|| value.to_owned())
}

/// The whole lines of a file of many (`/proc/self/mountinfo` can be long on a busy host): the
/// first [`MAX_FILE_BYTES`], cut after the last complete line; bytes that are not UTF-8 are
/// replaced, so one odd mount path does not hide the others.
fn read_lines(root: &Path, relative: &str) -> Option<String> {
    let mut bytes = read_bytes(root, relative)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let end = bytes.iter().rposition(|&b| b == b'\n')?;
        bytes.truncate(end + 1);
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Printable text of a sane length, without control characters.
fn is_plain(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_VALUE_LEN && !value.chars().any(char::is_control)
}

/// A host name: letters, digits, `-`, `.`, `_`.
fn is_host_name(name: &str) -> bool {
    is_plain(name)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A machine id: 32 hexadecimal digits.
fn is_machine_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A Kubernetes namespace: a DNS label.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A container id: 64 (or, for some runtimes, 32) hexadecimal digits.
fn is_container_id(id: &str) -> bool {
    (id.len() == 64 || id.len() == 32) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `host.arch` in the semantic conventions' spelling, for the target this was built for.
fn host_arch() -> Option<&'static str> {
    Some(match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        _ => return None,
    })
}

/// The container id in `/proc/self/cgroup`. cgroup v1 lines (`4:memory:/docker/<id>`) and the
/// v2 line (`0::/system.slice/docker-<id>.scope`) end with the id, possibly wrapped in a
/// runtime's prefix and `.scope`. A v2 line of `/` (a private cgroup namespace) holds none.
fn container_id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let last = path.trim().rsplit('/').next()?;
        let last = last.strip_suffix(".scope").unwrap_or(last);
        let id = last.rsplit(['-', ':']).next()?;
        is_container_id(id).then(|| id.to_ascii_lowercase())
    })
}

/// The container id in `/proc/self/mountinfo`: the runtimes bind-mount the container's own
/// `hostname`, `hosts` and `resolv.conf` from `…/containers/<id>/…`, which cgroup v2 with a
/// private namespace no longer shows.
fn container_id_from_mountinfo(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(' ');
        let source = fields.nth(3)?;
        let mount_point = fields.next()?;
        if !matches!(
            mount_point,
            "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf"
        ) {
            return None;
        }
        let segments: Vec<&str> = source.split('/').collect();
        segments.windows(2).find_map(|pair| {
            (matches!(pair[0], "containers" | "overlay-containers") && is_container_id(pair[1]))
                .then(|| pair[1].to_ascii_lowercase())
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const ID: &str = "3f1c5e2b9a7d4c8e0f6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";

    #[test]
    fn cgroup_v1_and_v2_lines_yield_the_id() {
        for text in [
            format!("12:memory:/docker/{ID}\n11:cpu:/docker/{ID}\n"),
            format!("0::/system.slice/docker-{ID}.scope\n"),
            format!("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{ID}.scope\n"),
            format!("3:cpuset:/kubepods/besteffort/pod1234/{ID}\n"),
            format!("0::/machine.slice/libpod-{ID}.scope/container\n0::/crio-{ID}.scope\n"),
        ] {
            assert_eq!(
                container_id_from_cgroup(&text).as_deref(),
                Some(ID),
                "{text}"
            );
        }
        for text in [
            "0::/\n",
            "0::/user.slice/user-1000.slice/session-2.scope\n",
            "garbage",
            "",
        ] {
            assert_eq!(container_id_from_cgroup(text), None, "{text}");
        }
    }

    #[test]
    fn mountinfo_yields_the_id_of_the_hostname_mount() {
        let text = format!(
            "736 700 0:52 / / rw,relatime - overlay overlay rw\n\
             742 736 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n"
        );
        assert_eq!(container_id_from_mountinfo(&text).as_deref(), Some(ID));
        let other = format!("742 736 254:1 /containers/{ID}/x /data rw - ext4 /dev/vda1 rw\n");
        assert_eq!(container_id_from_mountinfo(&other), None);
    }

    #[test]
    fn long_files_are_read_up_to_the_bound() {
        let root =
            std::env::temp_dir().join(format!("ferrotel-detect-unit-{}", std::process::id()));
        std::fs::create_dir_all(root.join("proc/self")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        let mut mountinfo = format!(
            "1 0 0:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 x rw\n"
        );
        while mountinfo.len() as u64 <= MAX_FILE_BYTES {
            mountinfo.push_str("9 1 0:2 / /mnt/filler rw - tmpfs tmpfs rw\n");
        }
        std::fs::write(root.join("proc/self/mountinfo"), &mountinfo).unwrap();
        let id = format!("{}\n", "a".repeat(32));
        std::fs::write(root.join("etc/machine-id"), id.repeat(10_000)).unwrap();
        let detection = ResourceDetection {
            detectors: vec![Detector::Host, Detector::Container],
            root: root.clone(),
            ..ResourceDetection::default()
        };
        let found = detection.detect_system();
        let _ = std::fs::remove_dir_all(&root);
        assert!(
            found.contains(&(CONTAINER_ID.to_owned(), ID.to_owned())),
            "{found:?}"
        );
        assert!(!found.iter().any(|(key, _)| key == HOST_ID), "{found:?}");
    }

    #[test]
    fn globs_match_keys() {
        assert!(glob::matches(b"host.*", b"host.name"));
        assert!(glob::matches(b"*", b"anything"));
        assert!(glob::matches(b"k8s.?od.name", b"k8s.pod.name"));
        assert!(!glob::matches(b"host.*", b"process.pid"));
        assert!(glob::matches(b"*.name", b"k8s.pod.name"));
        assert!(!glob::matches(b"*.id", b"k8s.pod.uid"));
    }

    #[test]
    fn filters_keep_included_and_drop_excluded() {
        let detection = ResourceDetection {
            included: vec!["host.*".into(), "process.*".into()],
            excluded: vec!["host.id".into()],
            ..ResourceDetection::default()
        };
        assert!(detection.keeps("host.name"));
        assert!(!detection.keeps("host.id"));
        assert!(!detection.keeps("container.id"));
    }
}
