//! Blocking broker connections over `std::net`, with a deadline on every call; TLS and SASL
//! when configured.

mod connection;
pub(crate) mod security;
mod stream;
#[cfg(feature = "tls")]
mod tls;

pub use connection::{Connection, ConnectionConfig};
pub use security::{CaRoots, SecurityProtocol, TlsConfig};
