//! One instrumented call, from its request head to the end of its response body: the span, the
//! clock, and the rules that turn what reached the wire into status, attributes and a metric.

use std::time::Instant;

use ferrotel_tracer::Presampled;
use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use smallvec::SmallVec;

use crate::request::{Protocol, RequestInfo};
use crate::semconv;
use crate::shared::{Shared, Side, Trust};
use crate::status::GrpcCode;
use ferrotel_config::RpcSemconv;

/// How a call ended, as far as the layer could see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The response body ended (or the response had none): use the status seen.
    Complete,
    /// The body was dropped before its end: the caller went away or cancelled.
    Abandoned,
    /// The inner service or the body failed with a transport error.
    Failed,
}

/// A call in flight. Finishing it ends the span and records the duration once.
pub(crate) struct Call {
    shared: std::sync::Arc<Shared>,
    info: RequestInfo,
    cx: Context,
    start: Instant,
    grpc_code: Option<GrpcCode>,
    http_status: Option<u16>,
    finished: bool,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.info.rpc_method)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Starts the span. `parent` is the extracted context (server) or the current one
    /// (client). Returns the call and the context that carries its span.
    pub(crate) fn start(
        shared: std::sync::Arc<Shared>,
        info: RequestInfo,
        parent: Context,
    ) -> (Call, Context) {
        let start = Instant::now();
        let kind = match shared.side {
            Side::Server => SpanKind::Server,
            Side::Client => SpanKind::Client,
        };
        let (parent, links) = match (shared.side, shared.trust) {
            (Side::Server, Trust::Untrusted) => {
                let remote = parent.span().span_context().clone();
                let links = if remote.is_valid() {
                    vec![Link::with_context(remote)]
                } else {
                    Vec::new()
                };
                // A fresh root, without the caller's baggage either.
                (Context::new(), links)
            }
            _ => (parent, Vec::new()),
        };
        let name = span_name(&info);
        let mut attributes = Attributes::new();
        start_attributes(&shared, &info, &mut attributes);
        let build = |attributes: &mut Attributes, links: Vec<Link>| {
            // Room for the (up to three) attributes `finish` adds, so the span never regrows.
            let mut owned = Vec::with_capacity(attributes.len() + 3);
            owned.extend(attributes.drain(..));
            let builder = shared
                .tracer
                .span_builder(name.clone())
                .with_kind(kind.clone())
                .with_attributes(owned)
                .with_links(links);
            parent.with_span(shared.tracer.build_with_context(builder, &parent))
        };
        let cx = match &shared.presampler {
            // The presampler does not see links; a linked root is left to the SDK.
            Some(presampler) if links.is_empty() => {
                match presampler.decide(&parent, &name, &kind, &attributes) {
                    Presampled::Dropped(sc) => parent.with_remote_span_context(sc),
                    Presampled::Build => {
                        let cx = build(&mut attributes, links);
                        presampler.built();
                        cx
                    }
                }
            }
            _ => build(&mut attributes, links),
        };
        (
            Call {
                shared,
                info,
                cx: cx.clone(),
                start,
                grpc_code: None,
                http_status: None,
                finished: false,
            },
            cx,
        )
    }

    /// The response head arrived: remember its HTTP status and a trailers-only gRPC status.
    pub(crate) fn on_response_head(&mut self, status: http::StatusCode, headers: &http::HeaderMap) {
        self.http_status = Some(status.as_u16());
        if let Some(code) = GrpcCode::from_headers(headers) {
            self.grpc_code = Some(code);
        }
    }

    /// Trailers arrived: they carry the final gRPC status of a streamed response.
    pub(crate) fn on_trailers(&mut self, trailers: &http::HeaderMap) {
        if let Some(code) = GrpcCode::from_headers(trailers) {
            self.grpc_code = Some(code);
        }
    }

    /// Ends the span and records the duration; later calls do nothing.
    pub(crate) fn finish(&mut self, ending: Ending) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.start.elapsed().as_secs_f64();
        let shared = &self.shared;
        let span = self.cx.span();
        let recording = span.is_recording();
        match self.info.protocol {
            Protocol::Grpc => {
                let code = match (ending, self.grpc_code) {
                    (_, Some(code)) => code,
                    (Ending::Abandoned, None) => GrpcCode::CANCELLED,
                    // A response without any grpc-status is a broken gRPC exchange.
                    (Ending::Complete | Ending::Failed, None) => GrpcCode::UNKNOWN,
                };
                let error = match shared.side {
                    Side::Server => code.is_server_error(),
                    Side::Client => code.is_client_error(),
                };
                let status_code_key = semconv::status_code_key(shared.semconv);
                // On the stack: interned method, static names, no vector per call.
                let all = [
                    KeyValue::new(semconv::RPC_SYSTEM_NAME, "grpc"),
                    KeyValue::new(semconv::RPC_METHOD, self.info.rpc_method.clone()),
                    KeyValue::new(status_code_key, code.name()),
                    KeyValue::new(semconv::ERROR_TYPE, code.name()),
                ];
                let metric_attrs = if error { &all[..] } else { &all[..3] };
                if recording {
                    span.set_attribute(KeyValue::new(status_code_key, code.name()));
                    if shared.semconv == RpcSemconv::Dup {
                        span.set_attribute(KeyValue::new(
                            semconv::RPC_GRPC_STATUS_CODE,
                            i64::from(code.0),
                        ));
                    }
                    if error {
                        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, code.name()));
                        span.set_status(Status::error(code.name()));
                    }
                }
                // The sample is offered as an exemplar of this call's own span, whatever context is
                // current where the body happens to end.
                shared
                    .instruments
                    .rpc
                    .record_with_context(elapsed, metric_attrs, &self.cx);
                if let Some(old) = &shared.instruments.rpc_old_ms {
                    let old_attrs = [
                        KeyValue::new(semconv::RPC_SYSTEM, "grpc"),
                        KeyValue::new(
                            semconv::RPC_SERVICE,
                            self.info.rpc_service.clone().unwrap_or_default(),
                        ),
                        KeyValue::new(semconv::RPC_GRPC_STATUS_CODE, i64::from(code.0)),
                    ];
                    old.record_with_context(elapsed * 1000.0, &old_attrs, &self.cx);
                }
            }
            Protocol::Http => {
                let status = self.http_status;
                let error = match (ending, status, shared.side) {
                    (Ending::Failed, _, _) | (_, None, _) => true,
                    (_, Some(s), Side::Server) => s >= 500,
                    (_, Some(s), Side::Client) => s >= 400,
                };
                let mut metric_attrs: Vec<KeyValue> = Vec::with_capacity(4);
                if let Some(route) = &self.info.route {
                    metric_attrs.push(KeyValue::new(semconv::HTTP_ROUTE, route.clone()));
                }
                let error_type = match status {
                    Some(s) if error => s.to_string(),
                    _ if error => "_OTHER".to_string(),
                    _ => String::new(),
                };
                metric_attrs.push(KeyValue::new(
                    semconv::HTTP_REQUEST_METHOD,
                    self.info.http_method,
                ));
                if let Some(s) = status {
                    metric_attrs.push(KeyValue::new(
                        semconv::HTTP_RESPONSE_STATUS_CODE,
                        i64::from(s),
                    ));
                    if recording {
                        span.set_attribute(KeyValue::new(
                            semconv::HTTP_RESPONSE_STATUS_CODE,
                            i64::from(s),
                        ));
                    }
                }
                if error {
                    metric_attrs.push(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
                    if recording {
                        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
                        span.set_status(Status::error(error_type));
                    }
                }
                shared
                    .instruments
                    .http
                    .record_with_context(elapsed, &metric_attrs, &self.cx);
            }
        }
        span.end();
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(Ending::Abandoned);
    }
}

fn span_name(info: &RequestInfo) -> std::borrow::Cow<'static, str> {
    match info.protocol {
        Protocol::Grpc if info.method_known() => info.rpc_method.clone(),
        Protocol::Grpc => "grpc".into(),
        Protocol::Http => match &info.route {
            Some(route) => format!("{} {route}", info.http_method).into(),
            None => info.http_method.into(),
        },
    }
}

/// The attributes a span starts with: at most nine (a gRPC call under `RpcSemconv::Dup` with an
/// unknown method, a server address and a peer).
type Attributes = SmallVec<[KeyValue; 9]>;

/// The attributes known at the start, given to the sampler.
fn start_attributes(shared: &Shared, info: &RequestInfo, attrs: &mut Attributes) {
    match info.protocol {
        Protocol::Grpc => {
            attrs.push(KeyValue::new(semconv::RPC_SYSTEM_NAME, "grpc"));
            attrs.push(KeyValue::new(semconv::RPC_METHOD, info.rpc_method.clone()));
            if let Some(original) = &info.rpc_method_original {
                attrs.push(KeyValue::new(
                    semconv::RPC_METHOD_ORIGINAL,
                    original.clone(),
                ));
            }
            if shared.semconv == RpcSemconv::Dup {
                attrs.push(KeyValue::new(semconv::RPC_SYSTEM, "grpc"));
                if let Some(service) = &info.rpc_service {
                    attrs.push(KeyValue::new(semconv::RPC_SERVICE, service.clone()));
                }
            }
        }
        Protocol::Http => {
            attrs.push(KeyValue::new(
                semconv::HTTP_REQUEST_METHOD,
                info.http_method,
            ));
            attrs.push(KeyValue::new(semconv::URL_PATH, info.path.clone()));
            if let Some(route) = &info.route {
                attrs.push(KeyValue::new(semconv::HTTP_ROUTE, route.clone()));
            }
            if let Some(scheme) = info.scheme {
                attrs.push(KeyValue::new(semconv::URL_SCHEME, scheme));
            }
        }
    }
    if let Some(address) = &info.server_address {
        attrs.push(KeyValue::new(semconv::SERVER_ADDRESS, address.clone()));
    }
    if let Some(port) = info.server_port {
        attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
    }
    if let Some(peer) = info.peer {
        attrs.push(KeyValue::new(
            semconv::NETWORK_PEER_ADDRESS,
            crate::request::peer_address(&peer),
        ));
        attrs.push(KeyValue::new(
            semconv::NETWORK_PEER_PORT,
            i64::from(peer.port()),
        ));
    }
}
