//! One TCP connection to one broker.
//!
//! Every call takes a deadline; the socket's read and write timeouts are set from what is left
//! of it before each system call, so a slow broker can stretch no call past its deadline.
//! Responses are matched to requests by correlation id. A connection on which anything failed
//! mid-frame is out of step with the broker and must be dropped: [`Connection::is_broken`]
//! says so, and the pool owners discard broken connections instead of reusing them.

use crate::error::{Error, Result};
use crate::protocol::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::codec::DecodeError;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::frame::{self, decode_response_body, decode_response_header, encode_request};
use crate::protocol::{negotiate, ApiKey, Request, VersionRange};
use socket2::{SockRef, TcpKeepalive};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Settings shared by every connection a client opens.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Sent as the client id in every request header.
    pub client_id: String,
    /// Time allowed to establish a TCP connection (per resolved address).
    pub connect_timeout: Duration,
    /// Time allowed for a request and its response, on top of any wait the request asks the
    /// broker for (a Fetch's max wait).
    pub request_timeout: Duration,
    /// The largest response frame accepted.
    pub max_response_size: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            client_id: "plainkafka".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_size: frame::DEFAULT_MAX_FRAME,
        }
    }
}

/// A connection to one broker, after the ApiVersions handshake.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    stream: TcpStream,
    client_id: String,
    max_response_size: usize,
    request_timeout: Duration,
    next_correlation: i32,
    versions: ApiVersionsResponse,
    broken: bool,
    buf: Vec<u8>,
}

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
        let stream = tcp_connect(addr, cfg.connect_timeout)?;
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            client_id: cfg.client_id.clone(),
            max_response_size: cfg.max_response_size,
            request_timeout: cfg.request_timeout,
            next_correlation: 0,
            versions: ApiVersionsResponse::default(),
            broken: false,
            buf: Vec::new(),
        };
        conn.handshake()?;
        Ok(conn)
    }

    /// Asks ApiVersions at our highest version; a broker that refuses it (error 35) lists its
    /// ranges anyway, and we ask again at the highest version it offers.
    fn handshake(&mut self) -> Result<()> {
        let req = ApiVersionsRequest {
            client_software_name: "plainkafka".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        let mut version = ApiVersionsRequest::MAX_VERSION;
        for _ in 0..2 {
            let deadline = Instant::now() + self.request_timeout;
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
                code => {
                    return Err(Error::Broker {
                        api: ApiKey::ApiVersions,
                        code,
                        context: format!("broker {}", self.addr),
                        message: None,
                    })
                }
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
        Error::Decode { broker: self.addr.clone(), api, version, source }
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// True once a failure left the connection out of step; drop it.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The version to speak for `R`: the highest both sides support.
    pub fn version_for<R: Request>(&self) -> Result<i16> {
        let ours = VersionRange { min: R::MIN_VERSION, max: R::MAX_VERSION };
        self.versions
            .range(R::KEY)
            .and_then(|theirs| negotiate(R::KEY, ours, theirs))
            .ok_or_else(|| self.no_common_version(R::KEY, R::MIN_VERSION, R::MAX_VERSION))
    }

    /// Sends `req` at the negotiated version and waits for its response, for at most the
    /// request timeout plus `extra` (the time the request asks the broker to wait).
    pub fn send<R: Request>(&mut self, req: &R, extra: Duration) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        let deadline = Instant::now() + self.request_timeout + extra;
        let corr = self.write_request(req, version, deadline)?;
        self.read_response::<R>(corr, version, deadline)
    }

    /// Writes a request frame and returns its correlation id. Pair with
    /// [`Connection::read_response`]; several requests to different brokers can be written
    /// before any response is read.
    pub fn write_request<R: Request>(&mut self, req: &R, version: i16, deadline: Instant) -> Result<i32> {
        let corr = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let buf = std::mem::take(&mut self.buf);
        let bytes = encode_request(buf, req, version, corr, &self.client_id);
        let r = self.write_all(&bytes, deadline, Some(R::KEY));
        let mut bytes = bytes;
        bytes.clear();
        self.buf = bytes;
        r.map(|_| corr)
    }

    /// Reads the response to the request with correlation id `corr`.
    pub fn read_response<R: Request>(&mut self, corr: i32, version: i16, deadline: Instant) -> Result<R::Response> {
        let frame = self.read_frame(R::KEY, version, corr, deadline)?;
        let (_, d) = decode_response_header::<R>(&frame, version).map_err(|e| self.decode_err(R::KEY, version, e))?;
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
            if let Err(e) = self.stream.set_write_timeout(Some(left)) {
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
        Ok(())
    }

    /// Reads one frame body (the response to `api` at `version`) and checks its correlation id.
    fn read_frame(&mut self, api: ApiKey, version: i16, corr: i32, deadline: Instant) -> Result<Vec<u8>> {
        let mut prefix = [0u8; 4];
        self.read_exact(&mut prefix, deadline, api)?;
        let len = frame::frame_len(prefix, self.max_response_size).map_err(|e| self.decode_err(api, version, e))?;
        // Grow with what actually arrives: a lying size prefix can't make us allocate it all.
        let mut body = Vec::with_capacity(len.min(64 * 1024));
        while body.len() < len {
            let filled = body.len();
            let step = (len - filled).min(filled.max(64 * 1024));
            body.resize(filled + step, 0);
            self.read_exact(&mut body[filled..], deadline, api)?;
        }
        if len < 4 {
            self.broken = true;
            return Err(Error::Io {
                broker: self.addr.clone(),
                api: Some(api),
                source: io::Error::new(io::ErrorKind::InvalidData, "response frame shorter than its header"),
            });
        }
        let received = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if received != corr {
            self.broken = true;
            return Err(Error::CorrelationMismatch { broker: self.addr.clone(), expected: corr, received });
        }
        Ok(body)
    }

    fn read_exact(&mut self, mut buf: &mut [u8], deadline: Instant, api: ApiKey) -> Result<()> {
        let api = Some(api);
        while !buf.is_empty() {
            let left = self.time_left(deadline, api)?;
            if let Err(e) = self.stream.set_read_timeout(Some(left)) {
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
        Error::Timeout { broker: self.addr.clone(), api, after: self.request_timeout }
    }

    fn io_err(&mut self, api: Option<ApiKey>, source: io::Error) -> Error {
        self.broken = true;
        Error::Io { broker: self.addr.clone(), api, source }
    }
}

fn tcp_connect(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let io_err = |source| Error::Io { broker: addr.to_string(), api: None, source };
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(io_err)?.collect();
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
        MetadataRequest { topics: None, allow_auto_topic_creation: false }
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
}
