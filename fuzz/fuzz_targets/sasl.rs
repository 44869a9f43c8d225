//! SASL server messages as the client reads them: SCRAM's challenge and final message (with a
//! salt, a nonce and an iteration count from the network) and OAUTHBEARER's error answer.
//! The input is split at its first 0xFF byte into the server's two messages; the client nonce
//! is `fuzz`, so a challenge can extend it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plainkafka::sasl::{replay, OAuthBearerToken, SaslMechanism, TokenProvider};

fuzz_target!(|data: &[u8]| {
    let (first, second) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    for name in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        let m = SaslMechanism::from_name(name, "user", "pencil").expect("mechanism");
        let _ = replay(&m, "fuzz", &[first, second]);
    }
    let oauth = SaslMechanism::OAuthBearer(TokenProvider::new(|| Ok(OAuthBearerToken::new("t"))));
    let _ = replay(&oauth, "fuzz", &[first, second]);
});
