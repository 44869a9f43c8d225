//! One TCP connection to one broker.
//!
//! Every call takes a deadline; the socket's read and write timeouts are set from what is left
//! of it before each system call, so a slow broker can stretch no call past its deadline.
//! Responses are matched to requests by correlation id. A connection on which anything failed
//! mid-frame is out of step with the broker and must be dropped: [`Connection::is_broken`]
//! says so, and the pool owners discard broken connections instead of reusing them.
//!
//! Opening a connection runs, in order and each within a deadline: the TCP connect, the TLS
//! handshake (SSL, SASL_SSL), ApiVersions, and the SASL exchange (SASL_*). A SASL session with
//! a lifetime (KIP-368) is renewed on the same connection before it runs out, between
//! requests; one that ran out while the connection sat idle is replaced by a new connection.

use super::security::Security;
use super::stream::Stream;
use crate::error::{Context, Error, Result};
use crate::protocol::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::codec::DecodeError;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::frame::{self, decode_response_body, decode_response_header, encode_request};
use crate::protocol::sasl_authenticate::SaslAuthenticateRequest;
use crate::protocol::sasl_handshake::SaslHandshakeRequest;
use crate::protocol::{negotiate, ApiKey, Request, VersionRange};
use crate::sasl::Step;
use crate::stats::{BrokerMeter, Meters};
use socket2::{SockRef, TcpKeepalive};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings shared by every connection a client opens.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Sent as the client id in every request header.
    pub client_id: String,
    /// Time allowed to establish a TCP connection (per resolved address), and then again for
    /// the TLS handshake and for the ApiVersions exchange each.
    pub connect_timeout: Duration,
    /// Time allowed for a request and its response, on top of any wait the request asks the
    /// broker for (a Fetch's max wait).
    pub request_timeout: Duration,
    /// The largest response frame accepted.
    pub max_response_size: usize,
    /// TLS and SASL.
    pub(crate) security: Security,
    /// The client's per-broker counters, shared by all its connections.
    pub(crate) meters: Meters,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            client_id: "plainkafka".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_size: frame::DEFAULT_MAX_FRAME,
            security: Security::default(),
            meters: Meters::default(),
        }
    }
}

/// A connection to one broker, after the ApiVersions handshake (and SASL, when configured).
#[derive(Debug)]
pub struct Connection {
    addr: String,
    stream: Stream,
    cfg: ConnectionConfig,
    next_correlation: i32,
    versions: ApiVersionsResponse,
    broken: bool,
    buf: Vec<u8>,
    /// Requests written whose responses are not read yet: re-authentication waits for none.
    in_flight: usize,
    /// When to renew the SASL session, and when the broker will stop honouring it.
    reauth_at: Option<Instant>,
    expires_at: Option<Instant>,
    meter: Arc<BrokerMeter>,
    /// When each request awaiting its answer was written: (correlation id, time).
    sent_at: VecDeque<(i32, Instant)>,
}

/// The most SaslAuthenticate round trips one exchange may take (SCRAM takes two).
const MAX_SASL_ROUNDS: usize = 8;

/// Unix reports an expired socket timeout as WouldBlock, Windows as TimedOut.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
}

impl Connection {
    /// Connects to `addr` ("host:port") and learns which versions the broker speaks.
    pub fn connect(addr: &str, cfg: &ConnectionConfig) -> Result<Connection> {
        let meter = cfg.meters.broker(addr);
        Connection::open(addr, cfg, Arc::clone(&meter)).inspect_err(|_| meter.failed())
    }

    fn open(addr: &str, cfg: &ConnectionConfig, meter: Arc<BrokerMeter>) -> Result<Connection> {
        let tcp = tcp_connect(addr, cfg.connect_timeout)?;
        #[cfg(feature = "tls")]
        let stream = match &cfg.security.tls {
            Some(tls) => Stream::Tls(Box::new(tls.handshake(addr, tcp, Instant::now() + cfg.connect_timeout)?)),
            None => Stream::Plain(tcp),
        };
        #[cfg(not(feature = "tls"))]
        let stream = Stream::Plain(tcp);
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            cfg: cfg.clone(),
            next_correlation: 0,
            versions: ApiVersionsResponse::default(),
            broken: false,
            buf: Vec::new(),
            in_flight: 0,
            reauth_at: None,
            expires_at: None,
            meter,
            sent_at: VecDeque::new(),
        };
        conn.handshake()?;
        if conn.cfg.security.sasl.is_some() {
            conn.authenticate()?;
        }
        Ok(conn)
    }

    /// Runs the SASL exchange (KIP-152): SaslHandshake v1 names the mechanism, then
    /// SaslAuthenticate carries its messages. Also used to re-authenticate (KIP-368).
    fn authenticate(&mut self) -> Result<()> {
        let Some(mech) = self.cfg.security.sasl.clone() else { return Ok(()) };
        self.reauth_at = None;
        let started = Instant::now();
        let hs = self.send_now(&SaslHandshakeRequest { mechanism: mech.name().into() }, Duration::ZERO)?;
        match ErrorCode::from_i16(hs.error_code) {
            ErrorCode::NONE => {}
            // ILLEGAL_SASL_STATE to a first handshake: the listener has no SASL at all.
            ErrorCode::UNSUPPORTED_SASL_MECHANISM | ErrorCode::ILLEGAL_SASL_STATE => {
                self.broken = true;
                return Err(Error::SaslMechanismNotOffered {
                    broker: self.addr.clone(),
                    wanted: mech.name().into(),
                    offered: hs.mechanisms,
                });
            }
            code => {
                self.broken = true;
                return Err(Error::broker(ApiKey::SaslHandshake, code, Context::broker(&self.addr), None));
            }
        }
        let fail = |conn: &mut Connection, message: String| {
            // The broker closes the connection after a failed exchange; so do we.
            conn.broken = true;
            Error::AuthenticationFailed { broker: conn.addr.clone(), mechanism: mech.name().into(), message }
        };
        let mut exchange = mech.start().map_err(|m| fail(self, m))?;
        let mut message = exchange.first();
        for _ in 0..MAX_SASL_ROUNDS {
            let resp = self.send_now(&SaslAuthenticateRequest { auth_bytes: message }, Duration::ZERO)?;
            let code = ErrorCode::from_i16(resp.error_code);
            if !code.is_ok() {
                let why = resp.error_message.unwrap_or_else(|| code.to_string());
                return Err(fail(self, why));
            }
            match exchange.next(&resp.auth_bytes).map_err(|m| fail(self, m))? {
                Step::Send(next) => message = next,
                Step::Done => {
                    self.session_lifetime(started, resp.session_lifetime_ms);
                    log::debug!("broker {}: authenticated with {}", self.addr, mech.name());
                    return Ok(());
                }
            }
        }
        Err(fail(self, format!("no outcome after {MAX_SASL_ROUNDS} rounds")))
    }

    /// Schedules re-authentication at 85–95% of the session's lifetime, as the Java client
    /// does, so that many connections opened together don't all renew at once.
    fn session_lifetime(&mut self, started: Instant, lifetime_ms: i64) {
        if lifetime_ms <= 0 {
            self.reauth_at = None;
            self.expires_at = None;
            return;
        }
        let lifetime = Duration::from_millis(lifetime_ms as u64);
        let share = 0.85 + 0.10 * (crate::retry::seed() % 1000) as f64 / 1000.0;
        self.reauth_at = Some(started + lifetime.mul_f64(share));
        self.expires_at = Some(started + lifetime);
    }

    /// Renews the SASL session if it is due and no response is awaited. A session that
    /// already expired (the connection sat idle past it) gets a fresh connection instead:
    /// the broker would close this one at the next request.
    fn renew_session(&mut self) -> Result<()> {
        let now = Instant::now();
        if self.in_flight > 0 || self.reauth_at.is_none_or(|at| now < at) {
            return Ok(());
        }
        if self.expires_at.is_some_and(|at| now >= at) {
            log::debug!("broker {}: SASL session expired while idle; reconnecting", self.addr);
            return match Connection::connect(&self.addr.clone(), &self.cfg) {
                Ok(fresh) => {
                    *self = fresh;
                    Ok(())
                }
                Err(e) => {
                    self.broken = true;
                    Err(e)
                }
            };
        }
        log::debug!("broker {}: re-authenticating (KIP-368)", self.addr);
        self.authenticate()
    }

    /// Asks ApiVersions at our highest version; a broker that refuses it (error 35) lists its
    /// ranges anyway, and we ask again at the highest version it offers.
    fn handshake(&mut self) -> Result<()> {
        let req = ApiVersionsRequest {
            client_software_name: "plainkafka".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        let mut version = ApiVersionsRequest::MAX_VERSION;
        // A restarting broker accepts connections (its port is bound) well before it answers;
        // the setup budget, not the longer request timeout, decides how long that may take.
        let budget = self.cfg.connect_timeout.min(self.cfg.request_timeout);
        for _ in 0..2 {
            let deadline = Instant::now() + budget;
            let corr = self.write_request(&req, version, deadline)?;
            let frame = self.read_frame(ApiKey::ApiVersions, version, corr, deadline)?;
            let (_, d) = decode_response_header::<ApiVersionsRequest>(&frame, version)
                .map_err(|e| self.decode_err(ApiKey::ApiVersions, version, e))?;
            let resp = ApiVersionsResponse::decode_any(d.rest(), version)
                .map_err(|e| self.decode_err(ApiKey::ApiVersions, version, e))?;
            match resp.error() {
                ErrorCode::NONE => {
                    log::debug!("broker {} speaks ApiVersions v{version}: {} APIs", self.addr, resp.api_keys.len());
                    self.versions = resp;
                    return Ok(());
                }
                ErrorCode::UNSUPPORTED_VERSION => {
                    let theirs = resp.range(ApiKey::ApiVersions).map_or(0, |r| r.max);
                    let next = theirs.clamp(0, ApiVersionsRequest::MAX_VERSION);
                    if next >= version {
                        break;
                    }
                    version = next;
                }
                code => return Err(Error::broker(ApiKey::ApiVersions, code, Context::broker(&self.addr), None)),
            }
        }
        Err(self.no_common_version(
            ApiKey::ApiVersions,
            ApiVersionsRequest::MIN_VERSION,
            ApiVersionsRequest::MAX_VERSION,
        ))
    }

    fn no_common_version(&self, api: ApiKey, min: i16, max: i16) -> Error {
        Error::NoCommonVersion {
            broker: self.addr.clone(),
            api,
            ours: VersionRange { min: min.max(crate::protocol::versions::floor(api)), max },
            broker_range: self.versions.range(api),
        }
    }

    fn decode_err(&mut self, api: ApiKey, version: i16, source: DecodeError) -> Error {
        self.broken = true;
        self.meter.failed();
        Error::Decode { broker: self.addr.clone(), api, version, source }
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The broker's range for `api`, if it speaks it.
    pub fn speaks(&self, api: ApiKey) -> Option<VersionRange> {
        self.versions.range(api)
    }

    /// The level in force of a cluster feature, as this broker's ApiVersions answer gave it
    /// (KIP-584); `None` when not finalized or not said.
    pub fn feature_level(&self, name: &str) -> Option<i16> {
        self.versions.feature_level(name)
    }

    /// True once a failure left the connection out of step; drop it.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The version to speak for `req`: the highest both sides support, up to what the request
    /// allows ([`Request::max_version`]).
    pub fn version_for<R: Request>(&self, req: &R) -> Result<i16> {
        let ours = VersionRange { min: R::MIN_VERSION, max: req.max_version().min(R::MAX_VERSION) };
        self.versions
            .range(R::KEY)
            .and_then(|theirs| negotiate(R::KEY, ours, theirs))
            .ok_or_else(|| self.no_common_version(R::KEY, ours.min, ours.max))
    }

    /// Sends `req` at the negotiated version and waits for its response, for at most the
    /// request timeout plus `extra` (the time the request asks the broker to wait).
    pub fn send<R: Request>(&mut self, req: &R, extra: Duration) -> Result<R::Response> {
        self.renew_session()?;
        self.send_now(req, extra)
    }

    fn send_now<R: Request>(&mut self, req: &R, extra: Duration) -> Result<R::Response> {
        let version = self.version_for(req)?;
        let deadline = Instant::now() + self.cfg.request_timeout + extra;
        let corr = self.write_frame(req, version, deadline)?;
        self.read_response::<R>(corr, version, deadline)
    }

    /// Writes a request frame and returns its correlation id. Pair with
    /// [`Connection::read_response`]; several requests to different brokers can be written
    /// before any response is read.
    ///
    /// `version` must come from [`Connection::version_for`], asked after the last response was
    /// read: a due SASL renewal runs first and may replace the connection.
    pub fn write_request<R: Request>(&mut self, req: &R, version: i16, deadline: Instant) -> Result<i32> {
        self.renew_session()?;
        self.write_frame(req, version, deadline)
    }

    fn write_frame<R: Request>(&mut self, req: &R, version: i16, deadline: Instant) -> Result<i32> {
        let corr = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let buf = std::mem::take(&mut self.buf);
        let bytes = encode_request(buf, req, version, corr, &self.cfg.client_id);
        let r = self.write_all(&bytes, deadline, Some(R::KEY));
        match &r {
            Ok(()) => {
                self.meter.sent(bytes.len());
                self.sent_at.push_back((corr, Instant::now()));
            }
            Err(_) => self.meter.failed(),
        }
        let mut bytes = bytes;
        bytes.clear();
        self.buf = bytes;
        self.in_flight += 1;
        r.map(|_| corr)
    }

    /// Says that the last request written gets no response (Produce with acks=0).
    pub fn no_response_expected(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.sent_at.pop_back();
    }

    /// Reads the response to the request with correlation id `corr`.
    pub fn read_response<R: Request>(&mut self, corr: i32, version: i16, deadline: Instant) -> Result<R::Response> {
        let frame = self.read_frame(R::KEY, version, corr, deadline).inspect_err(|_| self.meter.failed())?;
        // Shared, so that a Fetch answer's records can stay in it rather than be copied out.
        let frame = Arc::new(frame);
        // Answers come in the order requests were written: older entries are gone for good.
        while let Some((c, at)) = self.sent_at.pop_front() {
            if c == corr {
                self.meter.answered(frame.len() + 4, at);
                break;
            }
        }
        let (_, d) = decode_response_header::<R>(&frame, version).map_err(|e| self.decode_err(R::KEY, version, e))?;
        let d = d.sharing(&frame);
        let (resp, trailing) =
            decode_response_body::<R>(d, version).map_err(|e| self.decode_err(R::KEY, version, e))?;
        if trailing > 0 {
            log::debug!("broker {}: {trailing} bytes after a complete {} v{version} response", self.addr, R::KEY);
        }
        Ok(resp)
    }

    fn write_all(&mut self, mut bytes: &[u8], deadline: Instant, api: Option<ApiKey>) -> Result<()> {
        while !bytes.is_empty() {
            let left = self.time_left(deadline, api)?;
            if let Err(e) = self.stream.tcp().set_write_timeout(Some(left)) {
                return Err(self.io_err(api, e));
            }
            match self.stream.write(bytes) {
                Ok(0) => return Err(self.io_err(api, io::ErrorKind::WriteZero.into())),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(self.timeout(api)),
                Err(e) => return Err(self.io_err(api, e)),
            }
        }
        // TLS may hold the last record back in its buffer until flushed.
        match self.stream.flush() {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(self.timeout(api)),
            Err(e) => Err(self.io_err(api, e)),
        }
    }

    /// Reads one frame body (the response to `api` at `version`) and checks its correlation id.
    fn read_frame(&mut self, api: ApiKey, version: i16, corr: i32, deadline: Instant) -> Result<Vec<u8>> {
        let mut prefix = [0u8; 4];
        self.read_exact(&mut prefix, deadline, api)?;
        if self.versions.api_keys.is_empty() && is_tls_record(prefix) {
            self.broken = true;
            return Err(Error::Tls {
                broker: self.addr.clone(),
                message: "the broker answered with TLS: this port wants security.protocol SSL or SASL_SSL".into(),
            });
        }
        let len = frame::frame_len(prefix, self.cfg.max_response_size).map_err(|e| self.decode_err(api, version, e))?;
        // Grow with what actually arrives: a lying size prefix can't make us allocate it all.
        let mut body = Vec::with_capacity(len.min(64 * 1024));
        while body.len() < len {
            let filled = body.len();
            let step = (len - filled).min(filled.max(64 * 1024));
            // Exactly: doubling would give a frame just over 1 MiB a 2 MiB buffer.
            body.reserve_exact(step);
            body.resize(filled + step, 0);
            self.read_exact(&mut body[filled..], deadline, api)?;
        }
        if len < 4 {
            self.broken = true;
            return Err(Error::io(
                self.addr.clone(),
                Some(api),
                io::Error::new(io::ErrorKind::InvalidData, "response frame shorter than its header"),
            ));
        }
        let received = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if received != corr {
            self.broken = true;
            return Err(Error::CorrelationMismatch { broker: self.addr.clone(), expected: corr, received });
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        Ok(body)
    }

    fn read_exact(&mut self, mut buf: &mut [u8], deadline: Instant, api: ApiKey) -> Result<()> {
        let api = Some(api);
        while !buf.is_empty() {
            let left = self.time_left(deadline, api)?;
            if let Err(e) = self.stream.tcp().set_read_timeout(Some(left)) {
                return Err(self.io_err(api, e));
            }
            match self.stream.read(buf) {
                Ok(0) => {
                    return Err(
                        self.io_err(api, io::Error::new(io::ErrorKind::UnexpectedEof, "broker closed the connection"))
                    )
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(self.timeout(api)),
                Err(e) => return Err(self.io_err(api, e)),
            }
        }
        Ok(())
    }

    fn time_left(&mut self, deadline: Instant, api: Option<ApiKey>) -> Result<Duration> {
        match remaining(deadline) {
            Some(d) => Ok(d),
            None => Err(self.timeout(api)),
        }
    }

    fn timeout(&mut self, api: Option<ApiKey>) -> Error {
        self.broken = true;
        let after = match api {
            Some(ApiKey::ApiVersions) => self.cfg.connect_timeout.min(self.cfg.request_timeout),
            _ => self.cfg.request_timeout,
        };
        Error::Timeout { broker: self.addr.clone(), api, after }
    }

    fn io_err(&mut self, api: Option<ApiKey>, source: io::Error) -> Error {
        self.broken = true;
        // A TLS alert after the handshake: most often a broker that wants a client
        // certificate (TLS 1.3 tells the client only after its side of the handshake is done).
        #[cfg(feature = "tls")]
        if let Some(e) = source.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            use rustls::AlertDescription::{BadCertificate, CertificateRequired};
            let during = api.map_or_else(|| "connecting".to_string(), |a| a.to_string());
            let hint = match e {
                rustls::Error::AlertReceived(BadCertificate | CertificateRequired) => {
                    "; the broker wants a client certificate it trusts (ssl.certificate.location, ssl.key.location)"
                }
                _ => "",
            };
            return Error::Tls { broker: self.addr.clone(), message: format!("{e} (during {during}){hint}") };
        }
        Error::io(self.addr.clone(), api, source)
    }
}

/// A TLS record header (alert or handshake, version 3.x) where a Kafka frame size should be.
fn is_tls_record(prefix: [u8; 4]) -> bool {
    matches!(prefix[0], 0x15 | 0x16) && prefix[1] == 0x03 && prefix[2] <= 0x04
}

/// Resolves `addr`, giving the system resolver at most `timeout`: it has no deadline of its
/// own, and a hung DNS server would hang every caller. A resolver that hangs is left to finish
/// in its own thread.
fn resolve(addr: &str, timeout: Duration) -> Result<Vec<SocketAddr>> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(vec![sa]);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let owned = addr.to_string();
    std::thread::Builder::new()
        .name("plainkafka-resolve".into())
        .spawn(move || {
            let _ = tx.send(owned.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
        })
        .map_err(|e| Error::io(addr, None, e))?;
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| Error::io(addr, None, e)),
        Err(_) => Err(Error::io(
            addr,
            None,
            io::Error::new(io::ErrorKind::TimedOut, format!("name resolution took longer than {timeout:?}")),
        )),
    }
}

fn tcp_connect(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let io_err = |source| Error::io(addr, None, source);
    let addrs = resolve(addr, timeout)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing");
    for sa in addrs {
        match TcpStream::connect_timeout(&sa, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(io_err)?;
                // Keepalive finds a broker that vanished without a FIN (host down, cable cut)
                // while a connection sits idle between requests.
                let ka = TcpKeepalive::new().with_time(Duration::from_secs(60)).with_interval(Duration::from_secs(10));
                SockRef::from(&stream).set_tcp_keepalive(&ka).map_err(io_err)?;
                return Ok(stream);
            }
            Err(e) if is_timeout(&e) => {
                return Err(Error::Timeout { broker: addr.to_string(), api: None, after: timeout })
            }
            Err(e) => last = e,
        }
    }
    Err(io_err(last))
}

#[cfg(test)]
mod tests {
    //! The connection's guards, against a scripted peer on loopback: it answers the handshake
    //! correctly, then misbehaves in one way per test.
    use super::*;
    use crate::protocol::api_versions::ApiVersion;
    use crate::protocol::codec::Encoder;
    use crate::protocol::metadata::MetadataRequest;
    use std::net::TcpListener;

    /// Reads one request frame and returns its correlation id.
    fn read_request(s: &mut TcpStream) -> i32 {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        i32::from_be_bytes(body[4..8].try_into().unwrap())
    }

    fn handshake_reply(s: &mut TcpStream, corr: i32) {
        let resp = ApiVersionsResponse {
            error_code: 0,
            api_keys: vec![
                ApiVersion { api_key: 3, min_version: 0, max_version: 12 },
                ApiVersion { api_key: 18, min_version: 0, max_version: 3 },
            ],
            throttle_time_ms: 0,
            finalized_features: Vec::new(),
        };
        s.write_all(&frame::encode_response::<ApiVersionsRequest>(&resp, 3, corr)).unwrap();
    }

    /// A peer that completes the handshake, then runs `then` on the next request.
    fn peer(then: impl FnOnce(&mut TcpStream, i32) + Send + 'static) -> (String, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let corr = read_request(&mut s);
            handshake_reply(&mut s, corr);
            let corr = read_request(&mut s);
            then(&mut s, corr);
        });
        (addr, t)
    }

    fn cfg(timeout_ms: u64) -> ConnectionConfig {
        ConnectionConfig {
            request_timeout: Duration::from_millis(timeout_ms),
            max_response_size: 1024,
            ..ConnectionConfig::default()
        }
    }

    fn metadata() -> MetadataRequest {
        MetadataRequest { topics: None, topic_ids: Vec::new(), allow_auto_topic_creation: false }
    }

    #[test]
    fn a_mismatched_correlation_id_breaks_the_connection() {
        let (addr, t) = peer(|s, corr| {
            let mut e = Encoder::new();
            e.i32(4);
            e.i32(corr + 1);
            s.write_all(&e.into_inner()).unwrap();
        });
        let mut c = Connection::connect(&addr, &cfg(5000)).unwrap();
        let err = c.send(&metadata(), Duration::ZERO).unwrap_err();
        assert!(matches!(err, Error::CorrelationMismatch { .. }), "{err}");
        assert!(c.is_broken());
        t.join().unwrap();
    }

    #[test]
    fn a_silent_broker_times_out_at_the_deadline() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (addr, t) = peer(move |_, _| {
            // Hold the connection open, answering nothing, until the client gave up.
            let _ = rx.recv();
        });
        let mut c = Connection::connect(&addr, &cfg(200)).unwrap();
        let start = Instant::now();
        let err = c.send(&metadata(), Duration::ZERO).unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout { api: Some(ApiKey::Metadata), .. }), "{err}");
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(5), "{took:?}");
        assert!(c.is_broken());
        tx.send(()).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn an_oversized_frame_is_refused_before_reading_it() {
        let (addr, t) = peer(|s, _| {
            s.write_all(&i32::MAX.to_be_bytes()).unwrap();
        });
        let mut c = Connection::connect(&addr, &cfg(5000)).unwrap();
        let err = c.send(&metadata(), Duration::ZERO).unwrap_err();
        assert!(matches!(err, Error::Decode { api: ApiKey::Metadata, .. }), "{err}");
        assert!(c.is_broken());
        t.join().unwrap();
    }

    #[test]
    fn a_connection_closed_mid_frame_is_an_io_error() {
        let (addr, t) = peer(|s, corr| {
            let mut e = Encoder::new();
            e.i32(100);
            e.i32(corr);
            s.write_all(&e.into_inner()).unwrap();
            // Dropping the stream closes it 96 bytes short.
        });
        let mut c = Connection::connect(&addr, &cfg(5000)).unwrap();
        let err = c.send(&metadata(), Duration::ZERO).unwrap_err();
        assert!(
            matches!(&err, Error::Io { api: Some(ApiKey::Metadata), source, .. } if source.kind() == io::ErrorKind::UnexpectedEof),
            "{err}"
        );
        assert!(c.is_broken());
        t.join().unwrap();
    }

    #[test]
    fn connecting_to_nothing_fails_fast() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let err = Connection::connect(&addr, &cfg(5000)).unwrap_err();
        assert!(matches!(&err, Error::Io { api: None, .. }), "{err}");
    }

    #[test]
    fn names_resolve_within_the_budget_and_bad_ones_fail_with_the_address() {
        let t = Duration::from_secs(5);
        assert_eq!(resolve("127.0.0.1:9092", t).expect("literal"), vec!["127.0.0.1:9092".parse().unwrap()]);
        assert!(resolve("localhost:9092", t).expect("localhost").iter().all(|a| a.ip().is_loopback()));
        let bad = resolve("no-such-host.invalid:9092", t).expect_err("unresolvable");
        assert!(bad.to_string().contains("no-such-host.invalid"), "{bad}");
    }
}
