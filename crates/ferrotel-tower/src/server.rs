use crate::service::ServerService;
use crate::shared::{Built, Settings, Side, Trust};

/// Instruments a gRPC (tonic) or HTTP server: `Server::builder().layer(ServerLayer::new())`.
///
/// Per request it extracts the caller's context with the configured propagator (by default the
/// global one `ferrotel::init()` installed), opens a SERVER span named and attributed per the
/// RPC or HTTP semantic conventions, runs the handler with that span current, and ends the span
/// and records `rpc.server.call.duration` (or `http.server.request.duration`) when the response
/// body ends, with the status from the trailers. Health checks and reflection are skipped.
///
/// Setters only store values. The tracer, the duration instruments and the rest of what
/// requests share are built once, when the layer first wraps a service; tracer and meter come
/// from the OpenTelemetry globals at that moment unless set with [`ServerLayer::tracer_provider`] /
/// [`ServerLayer::meter_provider`], so apply layers after `ferrotel::init()`.
#[derive(Clone, Debug)]
pub struct ServerLayer {
    settings: Settings,
    built: Built,
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
        self.set(|s| s.trust = trust)
    }

    /// Names the route each plain HTTP request matched: `http.route` on its span and its
    /// duration metric, and the span name `{method} {route}`. The route is a template such as
    /// `/volumes/{id}`, never the raw path (that would make one metric series per path). With
    /// the `axum` feature and no function set, the route axum's router matched is used.
    ///
    /// ```
    /// use ferrotel_tower::ServerLayer;
    ///
    /// let layer = ServerLayer::new().route(|uri, _extensions| {
    ///     match uri.path().split('/').nth(1) {
    ///         Some("volumes") => Some("/volumes/{id}"),
    ///         _ => None,
    ///     }
    /// });
    /// # drop(layer);
    /// ```
    pub fn route(
        self,
        route: impl for<'a> Fn(&'a http::Uri, &'a http::Extensions) -> Option<&'a str>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        let route: crate::shared::RouteFn = std::sync::Arc::new(route);
        self.set(|s| s.route = Some(route))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tower::Layer as _;

    use super::*;

    #[test]
    fn setters_build_nothing_and_the_first_layer_call_builds_for_all() {
        let layer = ServerLayer::new()
            .semconv(ferrotel_config::RpcSemconv::Dup)
            .include_health_and_reflection();
        assert!(format!("{:?}", layer.built).contains("false"), "{layer:?}");
        let first = layer.layer(());
        let again = layer.layer(());
        let from_clone = layer.clone().layer(());
        assert!(Arc::ptr_eq(first.shared(), again.shared()));
        assert!(Arc::ptr_eq(first.shared(), from_clone.shared()));
        assert!(first.shared().instruments.rpc_old_ms.is_some());
        assert!(!first.shared().skip_defaults);

        // A setter after `layer` stands for a new configuration: built afresh, with it.
        let edge = layer.trust(Trust::Untrusted).layer(());
        assert!(!Arc::ptr_eq(first.shared(), edge.shared()));
        assert_eq!(edge.shared().trust, Trust::Untrusted);
        assert_eq!(first.shared().trust, Trust::Trusted);
    }
}
