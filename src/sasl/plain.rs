//! PLAIN (RFC 4616): `authzid NUL authcid NUL password`, with an empty authzid.

use super::{Exchange, Step};

pub(crate) struct Plain {
    message: Vec<u8>,
}

impl Plain {
    pub(crate) fn new(username: &str, password: &str) -> Plain {
        let mut message = Vec::with_capacity(username.len() + password.len() + 2);
        message.push(0);
        message.extend_from_slice(username.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        Plain { message }
    }
}

impl Exchange for Plain {
    fn first(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.message)
    }

    /// The broker's answer to PLAIN is empty on success; failure comes as an error code.
    fn next(&mut self, _server: &[u8]) -> Result<Step, String> {
        Ok(Step::Done)
    }
}

/// Splits a PLAIN message into user and password (the mock's side). The authzid, if any,
/// must be empty or name the same user, as Kafka requires.
// The mock is the only caller outside tests.
#[cfg_attr(not(feature = "mock"), allow(dead_code))]
pub(crate) fn parse(message: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(message).ok()?;
    let mut parts = text.split('\0');
    let (authz, user, pass) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || user.is_empty() || !(authz.is_empty() || authz == user) {
        return None;
    }
    Some((user.to_string(), pass.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_and_parse() {
        let mut p = Plain::new("alice", "s3cret");
        let m = p.first();
        assert_eq!(m, b"\0alice\0s3cret");
        assert_eq!(p.next(b"").unwrap(), Step::Done);
        assert_eq!(parse(&m), Some(("alice".into(), "s3cret".into())));
        assert_eq!(parse(b"alice\0alice\0pw"), Some(("alice".into(), "pw".into())));
        assert_eq!(parse(b"bob\0alice\0pw"), None);
        assert_eq!(parse(b"\0alice"), None);
        assert_eq!(parse(b"\0\0pw"), None);
    }
}
