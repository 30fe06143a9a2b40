use std::sync::Arc;

use crate::service::ServerService;
use crate::shared::{Settings, Shared, Side, Trust};

/// Instruments a gRPC (tonic) or HTTP server: `Server::builder().layer(ServerLayer::new())`.
///
/// Per request it extracts the caller's context with the configured propagator (by default the
/// global one `ferrotel::init()` installed), opens a SERVER span named and attributed per the
/// RPC or HTTP semantic conventions, runs the handler with that span current, and ends the span
/// and records `rpc.server.call.duration` (or `http.server.request.duration`) when the response
/// body ends, with the status from the trailers. Health checks and reflection are skipped.
///
/// Tracer and meter are taken from the OpenTelemetry globals when the layer is built, unless set
/// with [`ServerLayer::tracer_provider`] / [`ServerLayer::meter_provider`]: build layers after
/// `ferrotel::init()`.
#[derive(Clone, Debug)]
pub struct ServerLayer {
    shared: Arc<Shared>,
    settings: Settings,
}

crate::layer_methods::layer_methods!(
    ServerLayer,
    ServerService,
    Side::Server,
    "Extracts with this propagator instead of the global one."
);

impl ServerLayer {
    /// How far to trust callers; [`Trust::Untrusted`] for public endpoints.
    pub fn trust(self, trust: Trust) -> Self {
        self.rebuild(|s| s.trust = trust)
    }
}
