//! Process and runtime metrics, on by default: the process's CPU, memory, file descriptors,
//! threads and disk I/O under the semantic conventions' `process.*` names, the limits an
//! alert compares them with, and the Tokio runtime's figures that its stable API gives.
//!
//! | metric | instrument | what |
//! |---|---|---|
//! | `process.cpu.time` | Counter `s`, `cpu.mode` = `user` / `system` | CPU time used |
//! | `process.cpu.utilization` | Gauge `1`, `cpu.mode` | CPU time since the last collection ÷ (wall time × CPUs available) |
//! | `process.memory.usage` | UpDownCounter `By` | resident memory |
//! | `process.memory.virtual` | UpDownCounter `By` | virtual memory |
//! | `process.open_file_descriptor.count` | UpDownCounter `{file_descriptor}` | open descriptors |
//! | `process.thread.count` | UpDownCounter `{thread}` | threads |
//! | `process.disk.io` | Counter `By`, `disk.io.direction` = `read` / `write` | bytes read from and written to storage, where Linux gives it |
//! | `process.uptime` | Gauge `s` | time since the process started |
//! | `ferrotel.process.memory.limit` | UpDownCounter `By` | the memory the process may use: its cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`), else the machine's memory |
//! | `ferrotel.process.open_file_descriptor.limit` | UpDownCounter `{file_descriptor}` | the soft limit on open descriptors |
//! | `ferrotel.tokio.workers` | Gauge `{worker}` | worker threads of the runtime `init()` ran on |
//! | `ferrotel.tokio.alive_tasks` | Gauge `{task}` | tasks alive on it |
//! | `ferrotel.tokio.global_queue.depth` | Gauge `{task}` | tasks waiting in its global queue |
//! | `ferrotel.tokio.worker.busy_time` | Counter `s`, `tokio.worker` = index | time each worker spent busy |
//!
//! The limits and the Tokio figures have no name in the conventions; they are ferrotel's own.
//! The `ferrotel.tokio.*` instruments exist only when `init()` ran inside a Tokio runtime.
//!
//! Everything is read from `/proc` and `/sys/fs/cgroup` at each collection, each file at most
//! [`MAX_FILE_BYTES`]; a file that is missing or unreadable leaves its metric out of that
//! collection. Off with `FERROTEL_PROCESS_METRICS=false` or
//! [`ConfigBuilder::process_metrics`](crate::config::ConfigBuilder::process_metrics).
//!
//! ```no_run
//! // Off in code: the variable loses to the builder.
//! let telemetry = ferrotel::builder()
//!     .configure(|c| c.process_metrics(false))
//!     .try_init()?;
//! # Ok::<(), ferrotel::InitError>(())
//! ```

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tokio::runtime::Handle;

/// `process.cpu.time`.
pub const CPU_TIME: &str = "process.cpu.time";
/// `process.cpu.utilization`.
pub const CPU_UTILIZATION: &str = "process.cpu.utilization";
/// `process.memory.usage`.
pub const MEMORY_USAGE: &str = "process.memory.usage";
/// `process.memory.virtual`.
pub const MEMORY_VIRTUAL: &str = "process.memory.virtual";
/// `process.open_file_descriptor.count`.
pub const OPEN_FILE_DESCRIPTORS: &str = "process.open_file_descriptor.count";
/// `process.thread.count`.
pub const THREADS: &str = "process.thread.count";
/// `process.disk.io`.
pub const DISK_IO: &str = "process.disk.io";
/// `process.uptime`.
pub const UPTIME: &str = "process.uptime";
/// `ferrotel.process.memory.limit`.
pub const MEMORY_LIMIT: &str = "ferrotel.process.memory.limit";
/// `ferrotel.process.open_file_descriptor.limit`.
pub const OPEN_FILE_DESCRIPTOR_LIMIT: &str = "ferrotel.process.open_file_descriptor.limit";
/// `ferrotel.tokio.workers`.
pub const TOKIO_WORKERS: &str = "ferrotel.tokio.workers";
/// `ferrotel.tokio.alive_tasks`.
pub const TOKIO_ALIVE_TASKS: &str = "ferrotel.tokio.alive_tasks";
/// `ferrotel.tokio.global_queue.depth`.
pub const TOKIO_GLOBAL_QUEUE_DEPTH: &str = "ferrotel.tokio.global_queue.depth";
/// `ferrotel.tokio.worker.busy_time`.
pub const TOKIO_WORKER_BUSY_TIME: &str = "ferrotel.tokio.worker.busy_time";

/// The most read of any one `/proc` or cgroup file.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The instrumentation scope of these metrics.
const SCOPE: &str = "ferrotel.process";

/// Linux reports `/proc` CPU times in `USER_HZ` ticks, 100 per second on every architecture
/// whose ABI Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;

/// Where the files are read: `/proc/self`, `/proc` and `/sys/fs/cgroup` under `root`.
#[derive(Clone, Debug)]
struct Source {
    root: PathBuf,
}

impl Source {
    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read(&self, relative: &str) -> Option<String> {
        read_bounded(&self.path(relative))
    }

    /// `(utime, stime, starttime)` in ticks, from `/proc/self/stat`.
    fn stat(&self) -> Option<(u64, u64, u64)> {
        let stat = self.read("proc/self/stat")?;
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let after = stat.get(stat.rfind(')')? + 1..)?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // Field 3 (state) is `fields[0]`; utime is field 14, stime 15, starttime 22.
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some((field(14)?, field(15)?, field(22)?))
    }

    /// A `Name:  value kB` line of `/proc/self/status`, in bytes (or the bare count).
    fn status(&self, name: &str) -> Option<u64> {
        let status = self.read("proc/self/status")?;
        let line = status.lines().find_map(|l| l.strip_prefix(name))?;
        let mut words = line.trim_start_matches(':').split_whitespace();
        let value = words.next()?.parse::<u64>().ok()?;
        Some(match words.next() {
            Some("kB") => value.saturating_mul(1024),
            _ => value,
        })
    }

    fn open_descriptors(&self) -> Option<u64> {
        let dir = std::fs::read_dir(self.path("proc/self/fd")).ok()?;
        // Bounded: a process cannot hold more descriptors than this anyway.
        Some(dir.take(1 << 24).count() as u64)
    }

    /// The soft limit on open descriptors, from `/proc/self/limits`.
    fn descriptor_limit(&self) -> Option<u64> {
        let limits = self.read("proc/self/limits")?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse().ok()
    }

    /// `(read_bytes, write_bytes)` from `/proc/self/io`.
    fn disk_io(&self) -> Option<(u64, u64)> {
        let io = self.read("proc/self/io")?;
        let value = |name: &str| {
            io.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Some((value("read_bytes:")?, value("write_bytes:")?))
    }

    /// Seconds since the machine booted.
    fn machine_uptime(&self) -> Option<f64> {
        self.read("proc/uptime")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The cgroup memory limit, or the machine's memory when the cgroup sets none.
    fn memory_limit(&self) -> Option<u64> {
        self.cgroup_memory_limit().or_else(|| {
            let meminfo = self.read("proc/meminfo")?;
            let line = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
            let kib = line.split_whitespace().next()?.parse::<u64>().ok()?;
            Some(kib.saturating_mul(1024))
        })
    }

    fn cgroup_memory_limit(&self) -> Option<u64> {
        let cgroups = self.read("proc/self/cgroup")?;
        let mut candidates = Vec::new();
        for line in cgroups.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = path.trim_start_matches('/');
            if controllers.is_empty() {
                candidates.push(format!("sys/fs/cgroup/{path}/memory.max"));
                candidates.push("sys/fs/cgroup/memory.max".to_owned());
            } else if controllers.split(',').any(|c| c == "memory") {
                candidates.push(format!("sys/fs/cgroup/memory/{path}/memory.limit_in_bytes"));
                candidates.push("sys/fs/cgroup/memory/memory.limit_in_bytes".to_owned());
            }
        }
        candidates.iter().find_map(|file| {
            let text = self.read(file.replace("//", "/").as_str())?;
            // `max` (v2) or a page-rounded i64::MAX (v1) means no limit.
            let limit = text.trim().parse::<u64>().ok()?;
            (limit < (1 << 62)).then_some(limit)
        })
    }
}

/// Reads at most [`MAX_FILE_BYTES`] of a regular file (`/proc` files are): a FIFO would block
/// the collection, a device could be endless.
fn read_bounded(path: &Path) -> Option<String> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// One figure reported as it is read: its instrument's name, unit and description.
struct Figure<T> {
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    read: fn(&T) -> Option<u64>,
}

/// The CPU times seen at the last collection, for the utilization between two.
struct LastCpu {
    at: Instant,
    user: f64,
    system: f64,
}

/// Registers the instruments on `provider`. `runtime`: the Tokio runtime whose figures are
/// reported, when there is one. `init()` does this on its own provider; call it only on a
/// provider you built yourself.
///
/// ```
/// use ferrotel::opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
///
/// let provider = SdkMeterProvider::builder()
///     .with_reader(ManualReader::builder().build())
///     .build();
/// ferrotel::process_metrics::register(&provider, tokio::runtime::Handle::try_current().ok());
/// ```
pub fn register(provider: &SdkMeterProvider, runtime: Option<Handle>) {
    register_from(provider, PathBuf::from("/"), runtime);
}

fn register_from(provider: &SdkMeterProvider, root: PathBuf, runtime: Option<Handle>) {
    let meter = provider.meter(SCOPE);
    let source = Source { root };
    register_cpu(&meter, &source);
    register_counts(&meter, &source);
    if let Some(runtime) = runtime {
        register_tokio(&meter, runtime);
    }
}

fn cpu_seconds(source: &Source) -> Option<(f64, f64)> {
    let (user, system, _) = source.stat()?;
    Some((
        user as f64 / TICKS_PER_SECOND,
        system as f64 / TICKS_PER_SECOND,
    ))
}

fn register_cpu(meter: &Meter, source: &Source) {
    let modes = |user: f64, system: f64| {
        [
            (user, [KeyValue::new("cpu.mode", "user")]),
            (system, [KeyValue::new("cpu.mode", "system")]),
        ]
    };
    let s = source.clone();
    meter
        .f64_observable_counter(CPU_TIME)
        .with_unit("s")
        .with_description("CPU time used by the process")
        .with_callback(move |observer| {
            if let Some((user, system)) = cpu_seconds(&s) {
                for (value, attributes) in modes(user, system) {
                    observer.observe(value, &attributes);
                }
            }
        })
        .build();
    let s = source.clone();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let last: Mutex<Option<LastCpu>> =
        Mutex::new(cpu_seconds(source).map(|(user, system)| LastCpu {
            at: Instant::now(),
            user,
            system,
        }));
    meter
        .f64_observable_gauge(CPU_UTILIZATION)
        .with_unit("1")
        .with_description(
            "CPU time used since the last collection, divided by the wall time and the CPUs \
             available to the process",
        )
        .with_callback(move |observer| {
            let Some((user, system)) = cpu_seconds(&s) else {
                return;
            };
            let now = Instant::now();
            let Ok(mut last) = last.lock() else {
                return;
            };
            if let Some(previous) = last.as_ref() {
                let wall = now.duration_since(previous.at).as_secs_f64() * cpus;
                if wall > 0.0 {
                    let used = modes(
                        (user - previous.user).max(0.0) / wall,
                        (system - previous.system).max(0.0) / wall,
                    );
                    for (value, attributes) in used {
                        observer.observe(value, &attributes);
                    }
                }
            }
            *last = Some(LastCpu {
                at: now,
                user,
                system,
            });
        })
        .build();
    let s = source.clone();
    meter
        .f64_observable_gauge(UPTIME)
        .with_unit("s")
        .with_description("Time since the process started")
        .with_callback(move |observer| {
            let started = s
                .stat()
                .map(|(_, _, start)| start as f64 / TICKS_PER_SECOND);
            if let (Some(started), Some(now)) = (started, s.machine_uptime()) {
                observer.observe((now - started).max(0.0), &[]);
            }
        })
        .build();
}

fn register_counts(meter: &Meter, source: &Source) {
    let figures = [
        Figure {
            name: MEMORY_USAGE,
            unit: "By",
            description: "Resident memory of the process",
            read: |s: &Source| s.status("VmRSS"),
        },
        Figure {
            name: MEMORY_VIRTUAL,
            unit: "By",
            description: "Virtual memory of the process",
            read: |s| s.status("VmSize"),
        },
        Figure {
            name: MEMORY_LIMIT,
            unit: "By",
            description:
                "The memory the process may use: its cgroup's limit, else the machine's memory",
            read: Source::memory_limit,
        },
        Figure {
            name: OPEN_FILE_DESCRIPTORS,
            unit: "{file_descriptor}",
            description: "Open file descriptors of the process",
            read: Source::open_descriptors,
        },
        Figure {
            name: OPEN_FILE_DESCRIPTOR_LIMIT,
            unit: "{file_descriptor}",
            description: "The soft limit on the process's open file descriptors",
            read: Source::descriptor_limit,
        },
        Figure {
            name: THREADS,
            unit: "{thread}",
            description: "Threads of the process",
            read: |s| s.status("Threads"),
        },
    ];
    for figure in figures {
        let s = source.clone();
        meter
            .i64_observable_up_down_counter(figure.name)
            .with_unit(figure.unit)
            .with_description(figure.description)
            .with_callback(move |observer| {
                if let Some(value) = (figure.read)(&s) {
                    observer.observe(i64::try_from(value).unwrap_or(i64::MAX), &[]);
                }
            })
            .build();
    }
    let s = source.clone();
    meter
        .u64_observable_counter(DISK_IO)
        .with_unit("By")
        .with_description("Bytes the process read from and wrote to storage")
        .with_callback(move |observer| {
            if let Some((read, write)) = s.disk_io() {
                observer.observe(read, &[KeyValue::new("disk.io.direction", "read")]);
                observer.observe(write, &[KeyValue::new("disk.io.direction", "write")]);
            }
        })
        .build();
}

fn register_tokio(meter: &Meter, runtime: Handle) {
    let runtime = Arc::new(runtime);
    let figures = [
        Figure {
            name: TOKIO_WORKERS,
            unit: "{worker}",
            description: "Worker threads of the Tokio runtime",
            read: |h: &Handle| Some(h.metrics().num_workers() as u64),
        },
        Figure {
            name: TOKIO_ALIVE_TASKS,
            unit: "{task}",
            description: "Tasks alive on the Tokio runtime",
            read: |h| Some(h.metrics().num_alive_tasks() as u64),
        },
        Figure {
            name: TOKIO_GLOBAL_QUEUE_DEPTH,
            unit: "{task}",
            description: "Tasks waiting in the Tokio runtime's global queue",
            read: |h| Some(h.metrics().global_queue_depth() as u64),
        },
    ];
    for figure in figures {
        let runtime = Arc::clone(&runtime);
        meter
            .u64_observable_gauge(figure.name)
            .with_unit(figure.unit)
            .with_description(figure.description)
            .with_callback(move |observer| {
                if let Some(value) = (figure.read)(&runtime) {
                    observer.observe(value, &[]);
                }
            })
            .build();
    }
    meter
        .f64_observable_counter(TOKIO_WORKER_BUSY_TIME)
        .with_unit("s")
        .with_description("Time each Tokio worker spent busy")
        .with_callback(move |observer| {
            let metrics = runtime.metrics();
            for worker in 0..metrics.num_workers() {
                let busy = metrics.worker_total_busy_duration(worker).as_secs_f64();
                let index = i64::try_from(worker).unwrap_or(i64::MAX);
                observer.observe(busy, &[KeyValue::new("tokio.worker", index)]);
            }
        })
        .build();
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test reports failure by panicking
mod tests {
    use super::*;

    use ferrotel_testkit::fake_root::FakeRoot;

    fn fake_root(files: &[(&str, &str)]) -> FakeRoot {
        let root = FakeRoot::new();
        for (path, text) in files {
            root.file(path, text);
        }
        root
    }

    #[test]
    fn stat_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let root = fake_root(&[(
            "proc/self/stat",
            "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1234 0 0",
        )]);
        let source = Source {
            root: root.path().to_owned(),
        };
        assert_eq!(source.stat(), Some((250, 75, 1234)));
    }

    #[test]
    fn the_cgroup_v2_and_v1_limits_are_found_and_max_means_the_machines_memory() {
        let v2 = fake_root(&[
            ("proc/self/cgroup", "0::/kubepods/pod1/abc\n"),
            ("sys/fs/cgroup/kubepods/pod1/abc/memory.max", "536870912\n"),
        ]);
        let v1 = fake_root(&[
            (
                "proc/self/cgroup",
                "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n",
            ),
            (
                "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                "268435456\n",
            ),
        ]);
        let unlimited = fake_root(&[
            ("proc/self/cgroup", "0::/user.slice\n"),
            ("sys/fs/cgroup/user.slice/memory.max", "max\n"),
            (
                "proc/meminfo",
                "MemTotal:       24000000 kB\nMemFree: 1 kB\n",
            ),
        ]);
        let limit = |root: &FakeRoot| {
            Source {
                root: root.path().to_owned(),
            }
            .memory_limit()
        };
        assert_eq!(limit(&v2), Some(536_870_912));
        assert_eq!(limit(&v1), Some(268_435_456));
        assert_eq!(limit(&unlimited), Some(24_000_000 * 1024));
    }

    #[test]
    fn missing_or_garbage_files_give_no_value() {
        let garbage = fake_root(&[
            ("proc/self/stat", "garbage"),
            ("proc/self/status", "VmRSS: lots\n"),
            ("proc/self/io", "read_bytes: -1\n"),
            ("proc/self/limits", "Max open files unlimited"),
        ]);
        for root in [fake_root(&[]), garbage] {
            let source = Source {
                root: root.path().to_owned(),
            };
            assert_eq!(source.stat(), None);
            assert_eq!(source.status("VmRSS"), None);
            assert_eq!(source.disk_io(), None);
            assert_eq!(source.descriptor_limit(), None);
            assert_eq!(source.memory_limit(), None);
        }
    }

    #[test]
    fn a_fifo_or_a_directory_in_place_of_a_file_is_not_read() {
        let root = fake_root(&[("proc/self/status", "VmRSS: 4 kB\n")]);
        std::fs::create_dir_all(root.path().join("proc/self/io")).unwrap();
        let fifo = root.path().join("proc/self/stat");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let source = Source {
            root: root.path().to_owned(),
        };
        // Opening the FIFO would block until a writer came; it is refused instead.
        assert_eq!(source.stat(), None);
        assert_eq!(source.disk_io(), None);
        assert_eq!(source.status("VmRSS"), Some(4096));
    }

    #[test]
    fn this_process_reports_its_own_figures() {
        let source = Source {
            root: PathBuf::from("/"),
        };
        assert!(source.stat().is_some());
        assert!(source.status("VmRSS").unwrap() > 0);
        assert!(source.open_descriptors().unwrap() >= 3);
        assert!(source.descriptor_limit().unwrap() > 0);
        assert!(source.memory_limit().unwrap() > 0);
    }
}
