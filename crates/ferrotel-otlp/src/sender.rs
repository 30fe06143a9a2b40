//! Sending one request of any signal: on the export runtime, under the retry policy, within the
//! export timeout, with a message that names the signal, the endpoint and what was lost, and
//! carries no secret.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel_config::OtlpConfig;
use prost::Message as _;
use tokio::runtime::Handle;

use crate::error::SetupError;
use crate::retry::with_retries;
use crate::signal::{Accepted, Signal};
use crate::transport::Transport;

/// The largest request sent, measured before compression (OTLP: at most 64 MiB).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Why a request was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendError {
    /// The whole message, scrubbed of the transport's secrets.
    pub(crate) message: String,
    /// The endpoint does not serve the signal at all: retrying or waiting will not help.
    pub(crate) unsupported: bool,
}

/// Sends the requests of signal `S`.
#[derive(Debug)]
pub(crate) struct Sender<S> {
    transport: Arc<Transport>,
    runtime: Handle,
    signal: PhantomData<fn() -> S>,
}

impl<S: Signal> Sender<S> {
    pub(crate) fn new(otlp: &OtlpConfig, runtime: &Handle) -> Result<Self, SetupError> {
        Ok(Self {
            transport: Arc::new(Transport::new::<S>(otlp, runtime)?),
            runtime: runtime.clone(),
            signal: PhantomData,
        })
    }

    /// The endpoint, secrets hidden.
    pub(crate) fn target(&self) -> &str {
        self.transport.target()
    }

    /// Sends `request`, retrying what the specification retries. The future can be polled on
    /// any executor: the exchange runs on the export runtime. An error is a whole message,
    /// scrubbed of the transport's secrets.
    pub(crate) async fn send(&self, request: S::Request) -> Result<Accepted, SendError> {
        let items = S::items(&request);
        let started = Instant::now();
        let size = request.encoded_len();
        let outcome = if size > MAX_REQUEST_BYTES {
            Err((
                format!(
                    "a request of {size} bytes exceeds the {MAX_REQUEST_BYTES}-byte limit; not \
                     sent (export more often, or send fewer or smaller items)"
                ),
                false,
            ))
        } else {
            self.send_on_runtime(request, started).await
        };
        outcome.map_err(|(message, unsupported)| {
            let message = self.transport.redactor().scrub(&message).into_owned();
            let message = if unsupported {
                format!(
                    "the endpoint {} does not accept OTLP {} ({message}): Jaeger, for one, takes \
                     traces only. Send {} to an OpenTelemetry Collector, or set \
                     OTEL_{}_EXPORTER=none",
                    self.transport.target(),
                    S::NAME,
                    S::NAME,
                    S::ENV,
                )
            } else {
                format!(
                    "OTLP {} export to {} failed ({items} {} lost after {:?}): {message}",
                    S::NAME,
                    self.transport.target(),
                    S::ITEMS,
                    round_ms(started.elapsed()),
                )
            };
            SendError {
                message,
                unsupported,
            }
        })
    }

    async fn send_on_runtime(
        &self,
        request: S::Request,
        started: Instant,
    ) -> Result<Accepted, (String, bool)> {
        let transport = Arc::clone(&self.transport);
        let task = self.runtime.spawn(async move {
            let deadline = transport.timeout().map(|t| started + t);
            let prepared = transport
                .prepare::<S>(request)
                .map_err(|message| (message, false))?;
            let send = with_retries(deadline, |left| transport.send(&prepared, left));
            let report = match transport.timeout() {
                // Also bounds an attempt that hangs past its own timeout.
                Some(limit) => match tokio::time::timeout(limit, send).await {
                    Ok(report) => report,
                    Err(_) => return Err((format!("export timed out after {limit:?}"), false)),
                },
                None => send.await,
            };
            let (attempts, unsupported) = (report.attempts, report.unsupported);
            report
                .result
                .map_err(|e| (format!("{e}; {attempts} attempt(s)"), unsupported))
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(e) if e.is_cancelled() => Err((
                "the export had not returned when shutdown hit its bound (the collector did \
                 not answer); cut off"
                    .to_owned(),
                false,
            )),
            Err(e) => Err((format!("the export task failed: {e}"), false)),
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
