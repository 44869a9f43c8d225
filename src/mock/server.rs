//! The mock's sockets: an accept loop per broker, a thread per connection (TLS when
//! configured) reading frames and writing responses in order, and a janitor expiring group
//! sessions.

use super::auth::Session;
use super::control::{self, Control, Intercepted, Verdict};
use super::handlers::{self, Ctx};
use super::Shared;
use crate::protocol::api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::codec::Decoder;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::frame::{encode_response, RequestHeader};
use crate::protocol::sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use crate::protocol::sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
use crate::protocol::{implemented, ApiKey, Request, VersionRange, ALL_KEYS};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a blocked read looks at the shutdown and broker-down flags.
const TICK: Duration = Duration::from_millis(100);
/// How long a response may take to write: a client that stops reading loses its connection
/// instead of holding a thread forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn listen(shared: Arc<Shared>, idx: usize, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if !shared.brokers[idx].up.load(Ordering::Acquire) {
            continue; // a down broker: the connection closes at once
        }
        // Registered before its thread starts, so that Drop can close it and wait for it.
        let Some(id) = shared.live.register(&stream, shared.cfg.max_connections) else {
            ::log::warn!("mock broker {}: {} connections open; closing a new one", idx + 1, shared.cfg.max_connections);
            continue;
        };
        let s = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name(format!("plainkafka-mock-conn-{}", idx + 1)).spawn(move || {
            // A handler's panic is a bug in the mock: the client sees its connection close,
            // the test can see the count, and the connection is still let go.
            let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| accepted(&s, idx, stream)));
            if let Err(p) = served {
                let why =
                    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
                ::log::error!("mock broker {}: a connection thread panicked: {}", idx + 1, why.unwrap_or_default());
                s.panics.fetch_add(1, Ordering::AcqRel);
            }
            s.live.unregister(id);
        });
        if let Err(e) = spawned {
            shared.live.unregister(id);
            ::log::warn!("mock broker {}: no thread for a connection: {e}", idx + 1);
        }
    }
}

/// Expires group members whose session ran out and join phases whose deadline passed.
pub(crate) fn janitor(shared: Arc<Shared>) {
    while !shared.shutdown.load(Ordering::Acquire) {
        {
            let mut st = shared.lock();
            let now = Instant::now();
            let mut changed = false;
            for g in st.groups.values_mut() {
                changed |= g.expire(now);
            }
            if changed {
                shared.changed.notify_all();
            }
            let _ = shared.changed.wait_timeout(st, TICK);
        }
    }
}

fn alive(shared: &Shared, idx: usize) -> bool {
    !shared.shutdown.load(Ordering::Acquire) && shared.brokers[idx].up.load(Ordering::Acquire)
}

/// Reads exactly `buf.len()` bytes, giving up when the broker goes down or the peer leaves.
fn read_full(shared: &Shared, idx: usize, s: &mut impl Read, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        if !alive(shared, idx) {
            return false;
        }
        match s.read(&mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Sets a new connection up, with TLS when configured, and serves it.
fn accepted(shared: &Shared, idx: usize, s: TcpStream) {
    shared.connections.fetch_add(1, Ordering::AcqRel);
    let _ = s.set_nodelay(true);
    // Reads wake every tick to notice shutdown; TLS reads see the same timeouts underneath.
    let _ = s.set_read_timeout(Some(TICK));
    let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
    #[cfg(feature = "tls")]
    if let Some(cfg) = &shared.tls {
        match rustls::ServerConnection::new(Arc::clone(cfg)) {
            Ok(conn) => serve(shared, idx, rustls::StreamOwned::new(conn, s)),
            Err(e) => ::log::warn!("mock broker {}: TLS: {e}", idx + 1),
        }
        return;
    }
    serve(shared, idx, s)
}

/// The connections being served, so that dropping the cluster can close every one (which
/// also ends a write blocked on a client that stopped reading) and wait for its thread.
#[derive(Debug, Default)]
pub(crate) struct Live {
    conns: std::sync::Mutex<(u64, std::collections::HashMap<u64, TcpStream>)>,
    gone: std::sync::Condvar,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, std::collections::HashMap<u64, TcpStream>)> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection; `None` when the cap is reached or it can't be tracked.
    fn register(&self, s: &TcpStream, max: usize) -> Option<u64> {
        let mut g = self.lock();
        if g.1.len() >= max {
            return None;
        }
        let handle = s.try_clone().ok()?;
        g.0 += 1;
        let id = g.0;
        g.1.insert(id, handle);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        self.lock().1.remove(&id);
        self.gone.notify_all();
    }

    /// How many connections are being served.
    pub fn count(&self) -> usize {
        self.lock().1.len()
    }

    /// Closes every connection, then waits until `deadline` for their threads to end;
    /// returns how many are still running.
    pub fn close_all(&self, deadline: Instant) -> usize {
        let mut g = self.lock();
        for s in g.1.values() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        while !g.1.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = self.gone.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        g.1.len()
    }
}

fn serve(shared: &Shared, idx: usize, mut s: impl Read + Write) {
    let ctx = Ctx { shared, broker: shared.brokers[idx].id };
    let mut session = Session::default();
    loop {
        let mut size = [0u8; 4];
        if !read_full(shared, idx, &mut s, &mut size) {
            return;
        }
        let n = i32::from_be_bytes(size);
        if n < 8 || n as usize > shared.cfg.max_request_size {
            return;
        }
        // Grown as bytes arrive: a size prefix alone can't make the mock allocate.
        let n = n as usize;
        let mut frame = Vec::with_capacity(n.min(64 * 1024));
        while frame.len() < n {
            let filled = frame.len();
            frame.resize(filled + (n - filled).min(filled.max(64 * 1024)), 0);
            if !read_full(shared, idx, &mut s, &mut frame[filled..]) {
                return;
            }
        }
        let (reply, delay) = respond(&ctx, &mut session, &frame);
        let (out, then_close) = match reply {
            Reply::Send(out) => (out, false),
            Reply::Nothing => continue, // acks=0
            Reply::HalfThenClose(out) | Reply::Last(out) => (out, true),
            Reply::Close => return,
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if s.write_all(&out).and_then(|_| s.flush()).is_err() || then_close {
            return;
        }
    }
}

/// Serves `frames` on one new connection of broker `idx` as `serve` would, without a socket,
/// returning each request with the answer written for it; a close ends the run.
#[cfg(feature = "unstable")]
pub(crate) fn serve_frames<'a>(shared: &Shared, idx: usize, frames: &[&'a [u8]]) -> Vec<(&'a [u8], Vec<u8>)> {
    let ctx = Ctx { shared, broker: shared.brokers[idx].id };
    let mut session = Session::default();
    let mut answers = Vec::new();
    for &frame in frames {
        if frame.len() < 8 || frame.len() > shared.cfg.max_request_size {
            break;
        }
        match respond(&ctx, &mut session, frame).0 {
            Reply::Send(out) => answers.push((frame, out)),
            Reply::Nothing => {}
            Reply::HalfThenClose(_) | Reply::Close => break,
            Reply::Last(out) => {
                answers.push((frame, out));
                break;
            }
        }
    }
    answers
}

/// The versions advertised for `key`: what is implemented, narrowed by a test's restriction.
pub(crate) fn advertised(shared: &Shared, key: ApiKey) -> Option<VersionRange> {
    let ours = implemented(key)?;
    match shared.faults().versions.get(&key) {
        Some(r) if r.min > r.max => None,
        Some(r) => Some(VersionRange { min: r.min.max(ours.min), max: r.max.min(ours.max) }),
        None => Some(ours),
    }
}

/// What to do with a request.
enum Reply {
    Send(Vec<u8>),
    /// No response (Produce with acks=0).
    Nothing,
    /// A fault: write this much of the response, then close.
    HalfThenClose(Vec<u8>),
    /// Write the response, then close (after a failed login).
    Last(Vec<u8>),
    /// Undecodable, or a version not spoken: close, as Kafka does.
    Close,
}

fn respond(ctx: &Ctx<'_>, session: &mut Session, frame: &[u8]) -> (Reply, Duration) {
    let mut d = Decoder::new(frame);
    let Ok(hdr) = RequestHeader::decode(&mut d) else { return (Reply::Close, Duration::ZERO) };
    let Some(key) = ApiKey::from_code(hdr.api_key) else { return (Reply::Close, Duration::ZERO) };
    if key == ApiKey::ApiVersions {
        return (Reply::Send(api_versions(ctx, &hdr, d)), Duration::ZERO);
    }
    let Some(range) = advertised(ctx.shared, key) else { return (Reply::Close, Duration::ZERO) };
    if hdr.api_version < range.min || hdr.api_version > range.max {
        ::log::debug!("mock: {key} v{} is not supported; closing", hdr.api_version);
        return (Reply::Close, Duration::ZERO);
    }
    if matches!(key, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate) {
        *ctx.shared.faults().served.entry(key).or_default() += 1;
        return (sasl(ctx, session, key, &hdr, d), Duration::ZERO);
    }
    if ctx.shared.sasl.is_some() && !session.allows(key) {
        ::log::debug!("mock: {key} on a connection that is not authenticated; closing");
        return (Reply::Close, Duration::ZERO);
    }
    let hooks = ctx.shared.faults().controls.for_api(key);
    let verdict = if hooks.is_empty() {
        Verdict::default()
    } else {
        let body = frame.get(d.position()..).unwrap_or_default();
        let seen = Intercepted {
            broker: ctx.broker,
            api: key,
            version: hdr.api_version,
            client_id: hdr.client_id.as_deref(),
            body,
        };
        let v = control::decide(&hooks, &seen);
        ctx.shared.faults().controls.prune();
        v
    };
    let delay = verdict.delay;
    match verdict.fate {
        Some(Control::Close) => return (Reply::Close, delay),
        Some(Control::Ignore) => return (Reply::Nothing, delay),
        _ => {}
    }
    let fault = match verdict.fate {
        Some(Control::Fail(code)) => Some(code),
        _ => None,
    };
    let handled = handlers::dispatch(ctx, key, &hdr, d, fault);
    *ctx.shared.faults().served.entry(key).or_default() += 1;
    let out = match handled {
        Some(Some(out)) => out,
        Some(None) => return (Reply::Nothing, delay),
        None => return (Reply::Close, delay),
    };
    if verdict.fate == Some(Control::DropResponse) {
        let half = out.len() / 2;
        return (Reply::HalfThenClose(out[..half].to_vec()), delay);
    }
    (Reply::Send(out), delay)
}

fn decode<R: Request>(hdr: &RequestHeader, mut d: Decoder<'_>) -> Option<R> {
    d.skip_tagged_fields(R::flexible(hdr.api_version)).ok()?;
    R::decode(&mut d, hdr.api_version).ok()
}

/// SaslHandshake and SaslAuthenticate, which change the connection's state. On a cluster
/// without SASL both get ILLEGAL_SASL_STATE, as from a Kafka listener without SASL.
fn sasl(ctx: &Ctx<'_>, session: &mut Session, key: ApiKey, hdr: &RequestHeader, d: Decoder<'_>) -> Reply {
    let (v, corr) = (hdr.api_version, hdr.correlation_id);
    let illegal = ErrorCode::ILLEGAL_SASL_STATE.code();
    if key == ApiKey::SaslHandshake {
        let Some(req) = decode::<SaslHandshakeRequest>(hdr, d) else { return Reply::Close };
        let resp = match &ctx.shared.sasl {
            Some(server) => session.handshake(server, req),
            None => SaslHandshakeResponse { error_code: illegal, mechanisms: Vec::new() },
        };
        return Reply::Send(encode_response::<SaslHandshakeRequest>(&resp, v, corr));
    }
    let Some(req) = decode::<SaslAuthenticateRequest>(hdr, d) else { return Reply::Close };
    let (resp, close) = match &ctx.shared.sasl {
        Some(server) => session.authenticate(server, req),
        None => {
            let resp = SaslAuthenticateResponse {
                error_code: illegal,
                error_message: Some("this listener does not use SASL".into()),
                auth_bytes: Vec::new(),
                session_lifetime_ms: 0,
            };
            (resp, true)
        }
    };
    let out = encode_response::<SaslAuthenticateRequest>(&resp, v, corr);
    if close {
        Reply::Last(out)
    } else {
        Reply::Send(out)
    }
}

fn api_versions(ctx: &Ctx<'_>, hdr: &RequestHeader, mut d: Decoder<'_>) -> Vec<u8> {
    let range = implemented(ApiKey::ApiVersions).expect("implemented");
    let api_keys: Vec<ApiVersion> = ALL_KEYS
        .iter()
        .filter_map(|k| {
            advertised(ctx.shared, *k).map(|r| ApiVersion { api_key: k.code(), min_version: r.min, max_version: r.max })
        })
        .collect();
    let supported = hdr.api_version >= range.min && hdr.api_version <= range.max;
    // A version we don't speak gets error 35 in the v0 layout, so the client can retry (KIP-511).
    let version = if supported { hdr.api_version } else { 0 };
    let error_code = if supported {
        let ok = d
            .skip_tagged_fields(ApiVersionsRequest::flexible(version))
            .and_then(|_| ApiVersionsRequest::decode(&mut d, version))
            .is_ok();
        if ok {
            0
        } else {
            ErrorCode::INVALID_REQUEST.code()
        }
    } else {
        ErrorCode::UNSUPPORTED_VERSION.code()
    };
    let resp = ApiVersionsResponse { error_code, api_keys, throttle_time_ms: 0, finalized_features: Vec::new() };
    encode_response::<ApiVersionsRequest>(&resp, version, hdr.correlation_id)
}
