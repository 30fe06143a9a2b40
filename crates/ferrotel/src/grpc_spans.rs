//! ferrotel's own OTLP/gRPC span exporter. opentelemetry-otlp's tonic exporter drops the
//! `partial_success` of the answer (it only logs it), and a tonic interceptor cannot see the
//! body, so the `rejected_spans` of a partial success would stay uncounted. This one sends the
//! same request on a channel built like the metric exporter's, with the OTLP retry rules
//! (SPEC-NOTES §3), and counts the rejected spans into the pipeline's counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

use crate::stats::PipelineCounters;

/// Retries after the first attempt (opentelemetry-otlp's recommended policy).
const MAX_RETRIES: u32 = 3;
/// The first backoff delay; doubled after each retry up to [`MAX_DELAY`].
const INITIAL_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_millis(1600);
/// The longest server-requested (`RetryInfo`) delay honoured.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// Exports spans with `TraceService/Export` and counts partial-success rejections.
#[derive(Debug)]
pub(crate) struct GrpcSpanExporter {
    client: TraceServiceClient<Channel>,
    metadata: MetadataMap,
    /// Bounds a whole export, retries included (`None`: no limit).
    timeout: Option<Duration>,
    resource: ResourceAttributesWithSchema,
    counters: Arc<PipelineCounters>,
    shut_down: AtomicBool,
}

impl GrpcSpanExporter {
    /// An exporter on `channel` (endpoint, TLS, user agent already set) that adds `metadata`
    /// to every request and counts rejected spans into `counters`.
    pub(crate) fn new(
        channel: Channel,
        metadata: MetadataMap,
        gzip: bool,
        timeout: Option<Duration>,
        counters: Arc<PipelineCounters>,
    ) -> Self {
        let mut client = TraceServiceClient::new(channel);
        if gzip {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        Self {
            client,
            metadata,
            timeout,
            resource: ResourceAttributesWithSchema::default(),
            counters,
            shut_down: AtomicBool::new(false),
        }
    }

    async fn attempt(
        &self,
        message: &ExportTraceServiceRequest,
        left: Option<Duration>,
    ) -> Result<i64, tonic::Status> {
        let mut request = tonic::Request::new(message.clone());
        *request.metadata_mut() = self.metadata.clone();
        if let Some(left) = left {
            request.set_timeout(left);
        }
        let response = self.client.clone().export(request).await?;
        Ok(response
            .into_inner()
            .partial_success
            .map_or(0, |p| p.rejected_spans.max(0)))
    }
}

impl SpanExporter for GrpcSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let message = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut delay = INITIAL_DELAY;
        let mut retries = 0;
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let status = match self.attempt(&message, left).await {
                Ok(rejected) => {
                    // A partial success is not retried (OTLP specification), only counted.
                    self.counters
                        .rejected
                        .fetch_add(u64::try_from(rejected).unwrap_or(0), Ordering::Relaxed);
                    return Ok(());
                }
                Err(status) => status,
            };
            let failed = || {
                OTelSdkError::InternalFailure(format!(
                    "OTLP/gRPC trace export failed: gRPC status {:?}: {}",
                    status.code(),
                    status.message()
                ))
            };
            let hint = status
                .get_details_retry_info()
                .and_then(|info| info.retry_delay);
            if retries >= MAX_RETRIES || !retryable(status.code(), hint.is_some()) {
                return Err(failed());
            }
            let wait = match hint {
                Some(hint) => hint.min(MAX_THROTTLE).max(delay),
                None => delay + jitter(),
            };
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Err(failed());
            }
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(MAX_DELAY);
            retries += 1;
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

/// The OTLP retryable codes; RESOURCE_EXHAUSTED only when the server says when to come back.
fn retryable(code: tonic::Code, has_retry_info: bool) -> bool {
    use tonic::Code;
    match code {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => has_retry_info,
        _ => false,
    }
}

/// Up to 100 ms, so that many clients do not retry in lockstep.
fn jitter() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(u64::from(nanos % 101))
}
