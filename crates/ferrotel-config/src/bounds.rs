//! Upper (and a few lower) bounds on every size-, count- and duration-like value, with the
//! memory or load each one protects against.
//!
//! A value outside its bound is reported like any invalid value (the variable, the value and
//! the bound) and its default is used, or strict mode refuses it; a duration above
//! [`MAX_DURATION`] is capped to it, with a report. Nothing the environment says can make
//! ferrotel allocate without bound or export back to back.

use std::time::Duration;

/// Bytes the SDK's batch span processor reserves per queue slot, up front (measured: a queue of
/// 1,000,000 costs ~360 MiB of RSS at start).
pub const QUEUE_SLOT_BYTES: usize = 368;

/// Largest `OTEL_BSP_MAX_QUEUE_SIZE` (and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`): 262,144 slots,
/// about 92 MiB reserved at start ([`QUEUE_SLOT_BYTES`] each). The default 2048 costs ~0.7 MiB.
pub const MAX_QUEUE_SIZE: usize = 262_144;

/// Largest count limit (`OTEL_*_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`,
/// `OTEL_SPAN_LINK_COUNT_LIMIT`): 65,536 attributes, events or links on one record. Each one
/// kept costs its own size in every span that reaches the limit.
pub const MAX_COUNT_LIMIT: usize = 65_536;

/// Largest attribute value length limit (`OTEL_*ATTRIBUTE_VALUE_LENGTH_LIMIT`): 64 MiB, the
/// largest OTLP request; a larger limit cannot be told from none.
pub const MAX_LENGTH_LIMIT: usize = 64 * 1024 * 1024;

/// Longest duration or timeout (`OTEL_BSP_*`, `OTEL_METRIC_EXPORT_*`,
/// `OTEL_EXPORTER_OTLP_*TIMEOUT`): one day. A longer value is capped to it, with a report
/// (`0`, "no limit", stays allowed for timeouts).
pub const MAX_DURATION: Duration = Duration::from_millis(86_400_000);

/// Shortest `OTEL_METRIC_EXPORT_INTERVAL`: 100 ms. A shorter one (`0` included) would export
/// back to back, costing the service throughput for no information.
pub const MIN_METRIC_EXPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Shortest `OTEL_BSP_SCHEDULE_DELAY`: 1 ms. `0` would spin the batch processor's thread.
pub const MIN_SCHEDULE_DELAY: Duration = Duration::from_millis(1);

/// Largest `FERROTEL_METRICS_RATE_LIMIT` and `FERROTEL_METRICS_BURST`: 10,000 scrapes. Each
/// admitted scrape collects and renders every series; more than this is no limit at all.
pub const MAX_METRICS_SCRAPES: usize = 10_000;

/// Largest `FERROTEL_METRICS_MAX_CONNECTIONS` (and `…_PER_PEER`): 1,024 connections to
/// `/metrics`, each a task and a file descriptor held for up to two minutes.
pub const MAX_METRICS_CONNECTIONS: usize = 1_024;
