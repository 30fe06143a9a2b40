//! The server side: extract the caller's context, open a SERVER span, run the handler inside
//! it, and close it when the response body ends.

mod layer;
mod service;

pub use layer::ServerLayer;
pub use service::ServerService;
