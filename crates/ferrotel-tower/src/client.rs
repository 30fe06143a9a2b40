use crate::service::ClientService;
use crate::shared::{Built, Settings, Side};

/// Instruments a gRPC (tonic) or HTTP client:
/// `ServiceBuilder::new().layer(ClientLayer::new().target(&uri)).service(channel)`.
///
/// Per request it opens a CLIENT span under the current context (so it is a child of whatever
/// span the caller is in), injects that context (traceparent, tracestate, baggage) into the
/// request headers with the configured propagator (by default the global one), and ends the span
/// and records `rpc.client.call.duration` (or `http.client.request.duration`) when the response
/// body ends, with the status from the trailers. Every non-OK gRPC status is an error here.
///
/// Setters only store values. The tracer, the duration instruments and the rest of what
/// requests share are built once, when the layer first wraps a service; tracer and meter come
/// from the OpenTelemetry globals at that moment unless set with [`ClientLayer::tracer_provider`] /
/// [`ClientLayer::meter_provider`], so apply layers after `ferrotel::init()`.
#[derive(Clone, Debug)]
pub struct ClientLayer {
    settings: Settings,
    built: Built,
}

crate::layer_methods::layer_methods!(
    ClientLayer,
    ClientService,
    Side::Client,
    "Injects with this propagator instead of the global one."
);

impl ClientLayer {
    /// The server this client talks to (the channel's URI); gives `server.address` and
    /// `server.port`, which a tonic channel does not put on the request.
    pub fn target(self, target: &http::Uri) -> Self {
        let target = target.clone();
        self.set(|s| s.target = Some(target))
    }
}
