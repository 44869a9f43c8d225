//! Blocking broker connections over `std::net`, with a deadline on every call.

mod connection;
mod dedicated;

pub use connection::{Connection, ConnectionConfig};
pub use dedicated::Dedicated;
