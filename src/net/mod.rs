//! Blocking broker connections over `std::net`, with a deadline on every call; TLS and SASL
//! when configured.

mod connection;
mod dedicated;
pub(crate) mod security;
mod stream;
#[cfg(feature = "tls")]
mod tls;

pub use connection::{Connection, ConnectionConfig};
pub use dedicated::Dedicated;
pub use security::{CaRoots, SecurityProtocol, TlsConfig};
