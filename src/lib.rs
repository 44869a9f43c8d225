//! plainkafka
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod protocol;

pub use error::{Error, Result, Retry};
