//! Blocking broker connections over `std::net`, with a deadline on every call.

mod connection;

pub use connection::{Connection, ConnectionConfig};
