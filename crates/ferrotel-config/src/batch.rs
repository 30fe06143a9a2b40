//! Batch processor settings: spans from the `OTEL_BSP_*` variables, log records from the
//! `OTEL_BLRP_*` ones.

use std::time::Duration;

use crate::bounds;
use crate::issue::{ConfigIssue, Severity};
use crate::precedence::Resolver;
use crate::vars::{BatchNames, LOG_BATCH, SPAN_BATCH};

/// What a large queue costs, for the report of a value above [`bounds::MAX_QUEUE_SIZE`].
const QUEUE_COST: &str = "the queue is reserved up front at ~368 bytes a slot";

/// How finished spans (or log records) are batched before export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Delay between two exports ([`OTEL_BSP_SCHEDULE_DELAY`], default 5000 ms).
    ///
    /// [`OTEL_BSP_SCHEDULE_DELAY`]: crate::vars::OTEL_BSP_SCHEDULE_DELAY
    pub schedule_delay: Duration,
    /// Spans kept waiting before new ones are dropped ([`OTEL_BSP_MAX_QUEUE_SIZE`], default
    /// 2048, at most [`bounds::MAX_QUEUE_SIZE`]; reserved up front at
    /// [`bounds::QUEUE_SLOT_BYTES`] a slot).
    ///
    /// [`OTEL_BSP_MAX_QUEUE_SIZE`]: crate::vars::OTEL_BSP_MAX_QUEUE_SIZE
    pub max_queue_size: usize,
    /// Spans per export ([`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`], default 512), never more than
    /// `max_queue_size`.
    ///
    /// [`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`]: crate::vars::OTEL_BSP_MAX_EXPORT_BATCH_SIZE
    pub max_export_batch_size: usize,
    /// Maximum time of one export ([`OTEL_BSP_EXPORT_TIMEOUT`], default 30000 ms); `None`
    /// means no limit (`0`).
    ///
    /// [`OTEL_BSP_EXPORT_TIMEOUT`]: crate::vars::OTEL_BSP_EXPORT_TIMEOUT
    pub export_timeout: Option<Duration>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5_000),
            max_queue_size: 2_048,
            max_export_batch_size: 512,
            export_timeout: Some(Duration::from_millis(30_000)),
        }
    }
}

/// Batch settings made in code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BatchOverrides {
    pub(crate) schedule_delay: Option<Duration>,
    pub(crate) max_queue_size: Option<usize>,
    pub(crate) max_export_batch_size: Option<usize>,
    pub(crate) export_timeout: Option<Option<Duration>>,
}

/// The code settings of each processor, named in messages.
const SPANS_CODE: BatchNames = BatchNames {
    schedule_delay: "batch_schedule_delay",
    export_timeout: "batch_export_timeout",
    max_queue_size: "batch_max_queue_size",
    max_export_batch_size: "batch_max_export_batch_size",
};

const LOGS_CODE: BatchNames = BatchNames {
    schedule_delay: "logs_batch_schedule_delay",
    export_timeout: "logs_batch_export_timeout",
    max_queue_size: "logs_batch_max_queue_size",
    max_export_batch_size: "logs_batch_max_export_batch_size",
};

/// The batch log record processor's defaults: as for spans, but a 1000 ms schedule delay.
pub(crate) fn logs_defaults() -> BatchConfig {
    BatchConfig {
        schedule_delay: Duration::from_millis(1_000),
        ..BatchConfig::default()
    }
}

/// Resolves the batch span processor settings (`OTEL_BSP_*`).
pub(crate) fn resolve(resolver: &mut Resolver<'_>, code: &BatchOverrides) -> BatchConfig {
    resolve_with(
        resolver,
        code,
        (&SPAN_BATCH, &SPANS_CODE),
        BatchConfig::default(),
    )
}

/// Resolves the batch log record processor settings (`OTEL_BLRP_*`).
pub(crate) fn resolve_logs(resolver: &mut Resolver<'_>) -> BatchConfig {
    resolve_with(
        resolver,
        &BatchOverrides::default(),
        (&LOG_BATCH, &LOGS_CODE),
        logs_defaults(),
    )
}

/// Resolves one processor's settings. A batch size above the queue size is clamped to it: an
/// invalid value when the batch size was set explicitly, an advice when only the queue was made
/// small.
fn resolve_with(
    resolver: &mut Resolver<'_>,
    code: &BatchOverrides,
    (vars, code_names): (&BatchNames, &BatchNames),
    defaults: BatchConfig,
) -> BatchConfig {
    let schedule_delay = resolver.millis_at_least(
        code.schedule_delay,
        code_names.schedule_delay,
        &[vars.schedule_delay],
        defaults.schedule_delay,
        bounds::MIN_SCHEDULE_DELAY,
    );
    let candidates = resolver.chain(
        code.max_queue_size,
        code_names.max_queue_size,
        &[vars.max_queue_size],
    );
    let queue = resolver.count_at_most(
        candidates,
        defaults.max_queue_size,
        true,
        bounds::MAX_QUEUE_SIZE,
        QUEUE_COST,
    );
    let max_queue_size = queue.value;
    let candidates = resolver.chain(
        code.max_export_batch_size,
        code_names.max_export_batch_size,
        &[vars.max_export_batch_size],
    );
    let batch = resolver.count_at_most(
        candidates,
        defaults.max_export_batch_size,
        true,
        bounds::MAX_QUEUE_SIZE,
        QUEUE_COST,
    );
    let mut max_export_batch_size = batch.value;
    if max_export_batch_size > max_queue_size {
        let fallback = format!("a batch size of {max_queue_size} (the queue size)");
        let issue = if batch.origin.is_default() {
            // Only the queue was made small: point at it, as advice.
            ConfigIssue {
                variable: queue.origin.name(),
                value: max_queue_size.to_string(),
                allowed: String::new(),
                fallback,
                severity: Severity::Advice,
                reason: Some(format!(
                    "the queue is smaller than the default batch size \
                     {max_export_batch_size} ({})",
                    vars.max_export_batch_size
                )),
            }
        } else {
            ConfigIssue {
                variable: batch.origin.name(),
                value: max_export_batch_size.to_string(),
                allowed: format!("at most the queue size {max_queue_size}"),
                fallback,
                severity: Severity::Invalid,
                reason: Some("the batch size is larger than the queue size".to_owned()),
            }
        };
        resolver.report(issue);
        max_export_batch_size = max_queue_size;
    }
    let export_timeout = resolver.timeout(
        code.export_timeout,
        code_names.export_timeout,
        &[vars.export_timeout],
        defaults.export_timeout,
    );
    BatchConfig {
        schedule_delay,
        max_queue_size,
        max_export_batch_size,
        export_timeout,
    }
}
