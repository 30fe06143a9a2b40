//! The client side: open a CLIENT span under the current context, inject it into the request
//! headers, and close it when the response body ends.

mod layer;
mod service;

pub use layer::ClientLayer;
pub use service::ClientService;
