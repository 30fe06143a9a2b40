//! Tower layers that carry W3C trace context across every gRPC (tonic) and HTTP hop, with spans
//! and duration metrics under the current semantic conventions.
//!
//! ```
//! use ferrotel_tower::{ClientLayer, ServerLayer, Trust};
//! use tower::ServiceBuilder;
//!
//! // Server side: `tonic::transport::Server::builder().layer(server)`.
//! let server = ServerLayer::new();
//! // A public edge: new trace per request, linked to the caller's, caller's baggage dropped.
//! let edge = ServerLayer::new().trust(Trust::Untrusted);
//! // Client side, around a channel: `ServiceBuilder::new().layer(client).service(channel)`.
//! let target: http::Uri = "http://storage-0:50051".parse().unwrap();
//! let client = ClientLayer::new().target(&target);
//! let _stack = ServiceBuilder::new().layer(client);
//! # let _ = (server, edge);
//! ```
//!
//! What reaches the wire:
//! - SERVER and CLIENT spans named `package.Service/Method` (`grpc` with
//!   `rpc.method=_OTHER` for paths that are not gRPC methods), with `rpc.system.name`,
//!   `rpc.method`, `server.address`/`server.port`, `network.peer.*`, set at creation so the
//!   sampler sees them; `rpc.response.status_code` and `error.type` at the end.
//! - The status comes from the trailers at the end of the body (or from the headers of a
//!   trailers-only response), and the span ends there: streams are timed to their last frame and
//!   an error sent in the trailers is seen. Server side, only UNKNOWN, DEADLINE_EXCEEDED,
//!   UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS are errors; client side, every non-OK
//!   code is.
//! - `rpc.server.call.duration` / `rpc.client.call.duration` (seconds, the conventions' buckets)
//!   with `rpc.system.name`, `rpc.method`, `rpc.response.status_code` and `error.type`.
//! - Plain HTTP requests (no `application/grpc` content type) get the HTTP conventions instead:
//!   `http.request.method`, `url.path`, `http.response.status_code`,
//!   `http.server.request.duration` / `http.client.request.duration`. A server names the route
//!   a request matched with [`ServerLayer::route`] (or, with the `axum` feature, axum's
//!   `MatchedPath`): `http.route` on the span and the metric, and the span name
//!   `{method} {route}`. The raw path is never a metric attribute.

mod body;
mod call;
mod carrier;
mod client;
mod future;
mod intern;
mod layer_methods;
mod request;
mod semconv;
mod server;
mod service;
mod shared;
mod status;

pub use body::ResponseBody;
pub use carrier::{HeaderExtractor, HeaderInjector};
pub use client::ClientLayer;
pub use ferrotel_config::RpcSemconv;
pub use future::ResponseFuture;
pub use server::ServerLayer;
pub use service::{ClientService, InstrumentedService, ServerService};
pub use shared::{RouteFn, SkipFn, Trust};
pub use status::GrpcCode;
