//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), without channel binding (`n,,`), as
//! Kafka speaks them. Both sides are here: the client, and the server the MockCluster runs.
//! The hashing, HMAC and PBKDF2 come from the RustCrypto crates.

use super::{Exchange, Step};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// The fewest PBKDF2 iterations accepted: Kafka's minimum, RFC 7677's recommendation. A
/// server asking for fewer would make a captured proof cheap to attack.
pub(crate) const MIN_ITERATIONS: u32 = 4096;
/// The most PBKDF2 iterations a server may ask for. Kafka allows 4096 to 16384; the cap keeps
/// a hostile broker from making the client hash for minutes (~0.1 s at this count).
pub(crate) const MAX_ITERATIONS: u32 = 100_000;
/// The iterations the mock's credentials use: Kafka's minimum, RFC 7677's example.
pub(crate) const MOCK_ITERATIONS: u32 = 4096;

/// The hash a SCRAM variant is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => mac::<Hmac<Sha256>>(key, data),
            Hash::Sha512 => mac::<Hmac<Sha512>>(key, data),
        }
    }

    /// Constant-time check that `hmac(key, data) == expected`.
    fn hmac_matches(self, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
        match self {
            Hash::Sha256 => verify::<Hmac<Sha256>>(key, data, expected),
            Hash::Sha512 => verify::<Hmac<Sha512>>(key, data, expected),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
            Hash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
        }
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn verify<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    let mut m = <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.verify_slice(expected).is_ok()
}

/// A fresh nonce: 18 random bytes, base64 (printable, no comma).
pub(crate) fn nonce() -> Result<String, String> {
    let mut bytes = [0u8; 18];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness for the SCRAM nonce: {e}"))?;
    Ok(B64.encode(bytes))
}

/// RFC 5802 saslname: `=` and `,` escaped.
fn escape(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn unescape(name: &str) -> Option<String> {
    let out = name.replace("=2C", ",").replace("=3D", "=");
    // Any other '=' is malformed.
    (out.matches('=').count() == name.matches("=3D").count()).then_some(out)
}

/// The value of attribute `key` in a comma-separated `k=v` list.
fn attr(msg: &str, key: char) -> Option<&str> {
    msg.split(',').find_map(|kv| {
        let mut c = kv.chars();
        (c.next() == Some(key) && c.next() == Some('=')).then(|| &kv[2..])
    })
}

fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("the {what} is not UTF-8"))
}

#[derive(Clone)]
enum ClientState {
    Initial,
    SentFirst,
    SentFinal { auth_message: String, server_key: Vec<u8> },
    Done,
}

/// The client side.
#[derive(Clone)]
pub(crate) struct ScramClient {
    hash: Hash,
    password: String,
    nonce: String,
    first_bare: String,
    state: ClientState,
}

impl ScramClient {
    pub(crate) fn new(hash: Hash, username: &str, password: &str, nonce: &str) -> ScramClient {
        ScramClient {
            hash,
            password: password.to_string(),
            nonce: nonce.to_string(),
            first_bare: format!("n={},r={nonce}", escape(username)),
            state: ClientState::Initial,
        }
    }

    /// Takes the server-first message and returns the client-final one.
    fn answer_challenge(&mut self, server_first: &str) -> Result<Vec<u8>, String> {
        if attr(server_first, 'm').is_some() {
            return Err("the server requires a SCRAM extension plainkafka does not know".into());
        }
        if let Some(e) = attr(server_first, 'e') {
            return Err(format!("the server refused: {e}"));
        }
        let combined = attr(server_first, 'r').ok_or("the server's challenge has no nonce")?;
        if !combined.starts_with(&self.nonce) || combined.len() == self.nonce.len() {
            return Err("the server's nonce does not extend ours".into());
        }
        let salt = attr(server_first, 's').ok_or("the server's challenge has no salt")?;
        let salt = B64.decode(salt).map_err(|_| "the server's salt is not base64")?;
        let iterations: u32 = attr(server_first, 'i')
            .and_then(|i| i.parse().ok())
            .ok_or("the server's challenge has no valid iteration count")?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server asks for {iterations} iterations ({MIN_ITERATIONS} to {MAX_ITERATIONS} accepted)"
            ));
        }
        let salted = self.hash.salted_password(&self.password, &salt, iterations);
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let stored_key = self.hash.digest(&client_key);
        let without_proof = format!("c=biws,r={combined}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        let server_key = self.hash.hmac(&salted, b"Server Key");
        self.state = ClientState::SentFinal { auth_message, server_key };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }
}

impl Exchange for ScramClient {
    fn first(&mut self) -> Vec<u8> {
        self.state = ClientState::SentFirst;
        format!("n,,{}", self.first_bare).into_bytes()
    }

    fn next(&mut self, server: &[u8]) -> Result<Step, String> {
        let msg = text(server, "server's SCRAM message")?;
        match std::mem::replace(&mut self.state, ClientState::Done) {
            ClientState::SentFirst => self.answer_challenge(&msg).map(Step::Send),
            ClientState::SentFinal { auth_message, server_key } => {
                // Some brokers report a failed proof as `e=` with error code 0: it is a failure
                // all the same.
                if let Some(e) = attr(&msg, 'e') {
                    return Err(format!("the server refused: {e}"));
                }
                let v = attr(&msg, 'v').ok_or("the server's final message has no signature")?;
                let v = B64.decode(v).map_err(|_| "the server's signature is not base64")?;
                if !self.hash.hmac_matches(&server_key, auth_message.as_bytes(), &v) {
                    return Err("the server's signature is wrong: it does not know the password".into());
                }
                Ok(Step::Done)
            }
            ClientState::Initial | ClientState::Done => Err("unexpected SCRAM message".into()),
        }
    }
}

/// What a SCRAM server stores for a user instead of the password.
#[derive(Clone)]
pub(crate) struct Credential {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Credential {
    pub(crate) fn new(hash: Hash, password: &str, salt: &[u8], iterations: u32) -> Credential {
        let salted = hash.salted_password(password, salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        Credential {
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.digest(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
        }
    }
}

/// The server side of one exchange, for the mock. `lookup` finds a user's credential.
pub(crate) struct ScramServer {
    hash: Hash,
    state: Option<(String, String, Credential, String)>, // (user, client-first-bare, credential, server-first)
}

/// Why a server refused: a message for the client (`e=`) and one for the log.
pub(crate) type Refusal = String;

/// What a server says for a wrong password and for an unknown user alike (Kafka's words).
pub(crate) const INVALID_CREDENTIALS: &str = "Invalid user credentials";

/// A credential for a user that doesn't exist: its salt is the same at every attempt (derived
/// from the name and a secret of this process, as a real user's stays the same), its keys are
/// from a random password, so no proof matches.
fn decoy(hash: Hash, user: &str) -> Credential {
    static SECRET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let secret = SECRET.get_or_init(|| nonce().unwrap_or_else(|_| format!("{:?}", std::time::Instant::now())));
    let salt = hash.hmac(secret.as_bytes(), user.as_bytes());
    let password = nonce().unwrap_or_else(|_| secret.clone() + user);
    Credential::new(hash, &password, &salt[..16], MOCK_ITERATIONS)
}

impl ScramServer {
    pub(crate) fn new(hash: Hash) -> ScramServer {
        ScramServer { hash, state: None }
    }

    /// Takes the client-first message; returns the server-first one.
    pub(crate) fn challenge(
        &mut self,
        client_first: &[u8],
        server_nonce: &str,
        lookup: impl FnOnce(&str) -> Option<Credential>,
    ) -> Result<Vec<u8>, Refusal> {
        let msg = text(client_first, "client's first message")?;
        let bare = msg.strip_prefix("n,,").ok_or("channel binding is not supported")?;
        let user = attr(bare, 'n').and_then(unescape).ok_or("no user name")?;
        let client_nonce = attr(bare, 'r').filter(|r| !r.is_empty()).ok_or("no nonce")?;
        // An unknown user gets a challenge like any other (a stable decoy salt, a key nobody
        // holds) and fails where a wrong password fails, with the same words (RFC 5802 §5.1), so
        // answers don't tell which user names exist.
        let cred = lookup(&user).unwrap_or_else(|| decoy(self.hash, &user));
        let server_first = format!("r={client_nonce}{server_nonce},s={},i={}", B64.encode(&cred.salt), cred.iterations);
        self.state = Some((user, bare.to_string(), cred, server_first.clone()));
        Ok(server_first.into_bytes())
    }

    /// Takes the client-final message; returns the authenticated user and the server-final
    /// message.
    pub(crate) fn verify(&mut self, client_final: &[u8]) -> Result<(String, Vec<u8>), Refusal> {
        let (user, first_bare, cred, server_first) = self.state.take().ok_or("no challenge was sent")?;
        let msg = text(client_final, "client's final message")?;
        let (without_proof, proof) = msg.rsplit_once(",p=").ok_or("no proof")?;
        let nonce = attr(&server_first, 'r').unwrap_or_default();
        if attr(without_proof, 'r') != Some(nonce) || attr(without_proof, 'c') != Some("biws") {
            return Err("the nonce or channel binding does not match".into());
        }
        let proof = B64.decode(proof).map_err(|_| "the proof is not base64")?;
        let auth_message = format!("{first_bare},{server_first},{without_proof}");
        let signature = self.hash.hmac(&cred.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err(INVALID_CREDENTIALS.into());
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !super::constant_time_eq(&self.hash.digest(&client_key), &cred.stored_key) {
            return Err(INVALID_CREDENTIALS.into());
        }
        let v = self.hash.hmac(&cred.server_key, auth_message.as_bytes());
        Ok((user, format!("v={}", B64.encode(v)).into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 §3.
    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    #[test]
    fn client_matches_the_rfc_7677_vector() {
        let mut c = ScramClient::new(Hash::Sha256, "user", "pencil", CLIENT_NONCE);
        assert_eq!(c.first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(c.next(SERVER_FIRST.as_bytes()).unwrap(), Step::Send(CLIENT_FINAL.as_bytes().to_vec()));
        assert_eq!(c.next(SERVER_FINAL.as_bytes()).unwrap(), Step::Done);
    }

    #[test]
    fn server_matches_the_rfc_7677_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = Credential::new(Hash::Sha256, "pencil", &salt, 4096);
        let mut s = ScramServer::new(Hash::Sha256);
        let first = s.challenge(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", |u| {
            (u == "user").then(|| cred.clone())
        });
        assert_eq!(first.unwrap(), SERVER_FIRST.as_bytes());
        let (user, last) = s.verify(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!((user.as_str(), last.as_slice()), ("user", SERVER_FINAL.as_bytes()));
    }

    #[test]
    fn a_wrong_server_signature_or_an_error_answer_fails() {
        let mut c = ScramClient::new(Hash::Sha256, "user", "pencil", CLIENT_NONCE);
        c.first();
        c.next(SERVER_FIRST.as_bytes()).unwrap();
        let err = c.next(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap_err();
        assert!(err.contains("signature is wrong"), "{err}");

        let mut c = ScramClient::new(Hash::Sha256, "user", "pencil", CLIENT_NONCE);
        c.first();
        c.next(SERVER_FIRST.as_bytes()).unwrap();
        let err = c.next(b"e=invalid-proof").unwrap_err();
        assert!(err.contains("invalid-proof"), "{err}");
    }

    #[test]
    fn hostile_challenges_are_refused() {
        for (server_first, why) in [
            ("r=someoneelse,s=QUJD,i=4096", "nonce"),
            ("r=rOprNGfwEbeRWgbNEkqO,s=QUJD,i=4096", "nonce"),
            ("r=rOprNGfwEbeRWgbNEkqOxx,s=QUJD,i=4294967295", "iterations"),
            ("r=rOprNGfwEbeRWgbNEkqOxx,s=QUJD,i=0", "iterations"),
            ("r=rOprNGfwEbeRWgbNEkqOxx,s=QUJD,i=4095", "iterations"),
            ("r=rOprNGfwEbeRWgbNEkqOxx,s=QUJD,i=-1", "iteration"),
            ("r=rOprNGfwEbeRWgbNEkqOxx,s=!!!,i=4096", "salt"),
            ("r=rOprNGfwEbeRWgbNEkqOxx,i=4096", "salt"),
            ("m=ext,r=rOprNGfwEbeRWgbNEkqOxx,s=QUJD,i=4096", "extension"),
            ("e=other-error", "refused"),
            ("", "nonce"),
        ] {
            let mut c = ScramClient::new(Hash::Sha512, "user", "pencil", CLIENT_NONCE);
            c.first();
            let err = c.next(server_first.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{server_first}: {err}");
        }
        let mut c = ScramClient::new(Hash::Sha512, "user", "pencil", CLIENT_NONCE);
        c.first();
        assert!(c.next(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn sha512_client_and_server_agree_and_a_wrong_password_is_refused() {
        let cred = Credential::new(Hash::Sha512, "right", b"salty", MOCK_ITERATIONS);
        for (password, ok) in [("right", true), ("wrong", false)] {
            let mut c = ScramClient::new(Hash::Sha512, "a,b=c", password, &nonce().unwrap());
            let mut s = ScramServer::new(Hash::Sha512);
            let first = c.first();
            let challenge = s.challenge(&first, &nonce().unwrap(), |u| (u == "a,b=c").then(|| cred.clone())).unwrap();
            let Step::Send(fin) = c.next(&challenge).unwrap() else { panic!("no final message") };
            match s.verify(&fin) {
                Ok((user, last)) => {
                    assert!(ok);
                    assert_eq!(user, "a,b=c");
                    assert_eq!(c.next(&last).unwrap(), Step::Done);
                }
                Err(e) => assert!(!ok && e == INVALID_CREDENTIALS, "{e}"),
            }
        }
    }

    /// An unknown user is challenged as a known one, with the same salt each time, and refused
    /// with the words a wrong password gets.
    #[test]
    fn an_unknown_user_is_refused_like_a_wrong_password() {
        let salts: Vec<String> = (0..2)
            .map(|_| {
                let mut c = ScramClient::new(Hash::Sha256, "nobody", "guess", &nonce().unwrap());
                let mut s = ScramServer::new(Hash::Sha256);
                let challenge = s.challenge(&c.first(), &nonce().unwrap(), |_| None).expect("a challenge");
                let text = String::from_utf8(challenge.clone()).unwrap();
                let Step::Send(fin) = c.next(&challenge).unwrap() else { panic!("no final message") };
                assert_eq!(s.verify(&fin).unwrap_err(), INVALID_CREDENTIALS);
                attr(&text, 's').unwrap().to_string()
            })
            .collect();
        assert_eq!(salts[0], salts[1]);
    }

    #[test]
    fn every_truncated_server_message_is_an_error() {
        for n in 0..SERVER_FIRST.len() {
            let mut c = ScramClient::new(Hash::Sha256, "user", "pencil", CLIENT_NONCE);
            c.first();
            assert!(c.next(&SERVER_FIRST.as_bytes()[..n]).is_err(), "server-first prefix of {n} bytes");
        }
        let mut challenged = ScramClient::new(Hash::Sha256, "user", "pencil", CLIENT_NONCE);
        challenged.first();
        challenged.next(SERVER_FIRST.as_bytes()).unwrap();
        for n in 0..SERVER_FINAL.len() {
            let mut c = challenged.clone();
            assert!(c.next(&SERVER_FINAL.as_bytes()[..n]).is_err(), "server-final prefix of {n} bytes");
        }
        let mut s = ScramServer::new(Hash::Sha256);
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = Credential::new(Hash::Sha256, "pencil", &salt, 4096);
        for n in 0..CLIENT_FINAL.len() {
            s.challenge(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", |_| Some(cred.clone()))
                .unwrap();
            assert!(s.verify(&CLIENT_FINAL.as_bytes()[..n]).is_err(), "client-final prefix of {n} bytes");
        }
    }

    #[test]
    fn names_are_escaped_both_ways() {
        assert_eq!(escape("a=b,c"), "a=3Db=2Cc");
        assert_eq!(unescape("a=3Db=2Cc").as_deref(), Some("a=b,c"));
        assert_eq!(unescape("a=b"), None);
    }
}
