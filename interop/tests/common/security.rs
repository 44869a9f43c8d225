//! The security matrix, run against Apache Kafka and plainkafka's MockCluster alike: every
//! protocol and mechanism round-trips data, and each misconfiguration fails fast with a clear,
//! typed error.

use super::scenarios::read_n;
use super::unique_topic;
use plainkafka::mock::CertificateAuthority;
use plainkafka::{Error, KafkaClient, OAuthBearerToken, ProducerRecord, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a secure cluster listens, and what it accepts.
pub struct SecureCluster {
    pub name: &'static str,
    /// A plaintext listener.
    pub plaintext: String,
    /// TLS, with a certificate for 127.0.0.1 and localhost signed by `ca`.
    pub ssl: String,
    pub sasl_plaintext: String,
    pub sasl_ssl: String,
    /// TLS with a certificate for another host name, signed by `ca`.
    pub wrong_name: String,
    /// TLS that requires a client certificate signed by `ca`, if the cluster has one.
    pub mutual: Option<String>,
    /// A SASL_PLAINTEXT listener only the session-renewal test uses, if the cluster has one.
    pub renewal: Option<String>,
    /// A SASL_PLAINTEXT listener that offers SCRAM-SHA-512 alone.
    pub scram_512_only: String,
    pub files: CertFiles,
    pub user: &'static str,
    pub password: &'static str,
    /// The SASL mechanisms to run, OAUTHBEARER included.
    pub mechanisms: Vec<&'static str>,
    /// An OAUTHBEARER token the cluster accepts.
    pub token: Arc<dyn Fn() -> String + Send + Sync>,
}

/// Certificates and keys generated for one test run, as PEM files.
pub struct CertFiles {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server: (PathBuf, PathBuf),
    pub wrong_name: (PathBuf, PathBuf),
    pub client: (PathBuf, PathBuf),
}

impl CertFiles {
    /// Issues everything into `dir`: the CA, an unrelated CA, a server certificate for
    /// loopback, one for another name, and a client certificate.
    pub fn generate(dir: &Path) -> CertFiles {
        std::fs::create_dir_all(dir).expect("cert dir");
        let ca = CertificateAuthority::generate("plainkafka test CA").expect("CA");
        let other = CertificateAuthority::generate("someone else's CA").expect("CA");
        let write = |name: &str, pem: &str| {
            let p = dir.join(name);
            std::fs::write(&p, pem).expect("write pem");
            p
        };
        let pair = |prefix: &str, names: &[&str]| {
            let c = ca.issue(names).expect("issue");
            (write(&format!("{prefix}.crt"), &c.cert_pem), write(&format!("{prefix}.key"), &c.key_pem))
        };
        CertFiles {
            ca: write("ca.pem", &ca.ca_pem()),
            other_ca: write("other-ca.pem", &other.ca_pem()),
            server: pair("server", &["localhost", "127.0.0.1"]),
            wrong_name: pair("wrong-name", &["broker.elsewhere.example"]),
            client: pair("client", &["plainkafka-test-client"]),
        }
    }
}

/// A client with the given properties and short timeouts.
pub fn connect(bootstrap: &str, props: &[(&str, &str)]) -> Result<KafkaClient> {
    let mut b = builder(bootstrap);
    for (k, v) in props {
        b = b.set(k, v)?;
    }
    b.build()
}

/// A client builder with short timeouts, so that failures show within seconds.
fn builder(bootstrap: &str) -> plainkafka::KafkaClientBuilder {
    KafkaClient::builder(bootstrap)
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
        .retry_backoff(Duration::from_millis(50))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Produces and reads back 20 messages over `client`.
pub fn round_trip(client: &KafkaClient, tag: &str) {
    let name = unique_topic(tag);
    let topic = client.topic(&name).unwrap_or_else(|e| panic!("{tag}: topic: {e}"));
    let producer = topic.producer().build().expect("producer");
    let sent: Vec<String> = (0..20).map(|i| format!("{tag}-{i}")).collect();
    for v in &sent {
        producer.send(ProducerRecord::new(v.clone()).partition(0)).unwrap_or_else(|e| panic!("{tag}: send: {e}"));
    }
    let mut c = topic
        .simple_consumer()
        .partitions(&[0])
        .consumer_timeout(Some(Duration::from_millis(200)))
        .build()
        .expect("consumer");
    let got: Vec<String> = read_n(&mut c, 20, Duration::from_secs(30))
        .iter()
        .map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into())
        .collect();
    assert_eq!(got, sent, "{tag}");
}

/// Builds a client that must fail; returns the error and checks it came within seconds.
fn must_fail(what: &str, bootstrap: &str, props: &[(&str, &str)]) -> Error {
    let start = Instant::now();
    let err = match connect(bootstrap, props) {
        Ok(_) => panic!("{what}: connected"),
        Err(e) => e,
    };
    let took = start.elapsed();
    assert!(took < Duration::from_secs(8), "{what}: took {took:?} to fail: {err}");
    eprintln!("{what}: failed in {took:?}: {err}");
    err
}

fn mechanism_props<'a>(
    c: &'a SecureCluster,
    protocol: &'a str,
    mechanism: &'a str,
    password: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![("security.protocol", protocol), ("sasl.mechanisms", mechanism)];
    if mechanism != "OAUTHBEARER" {
        p.extend([("sasl.username", c.user), ("sasl.password", password)]);
    }
    if protocol == "SASL_SSL" {
        p.push(("ssl.ca.location", path(&c.files.ca)));
    }
    p
}

fn oauth_client(
    c: &SecureCluster,
    bootstrap: &str,
    protocol: &str,
    token: impl Fn() -> String + Send + Sync + 'static,
) -> Result<KafkaClient> {
    let mut b = builder(bootstrap)
        .set("security.protocol", protocol)?
        .sasl_oauthbearer(move || Ok(OAuthBearerToken::new(token())));
    if protocol == "SASL_SSL" {
        b = b.set("ssl.ca.location", path(&c.files.ca))?;
    }
    b.build()
}

/// SSL, and SASL_PLAINTEXT and SASL_SSL with every mechanism: data goes through.
pub fn every_protocol_and_mechanism_round_trips(c: &SecureCluster) {
    let ssl = connect(&c.ssl, &[("security.protocol", "SSL"), ("ssl.ca.location", path(&c.files.ca))]).expect("SSL");
    round_trip(&ssl, "ssl");
    for protocol in ["SASL_PLAINTEXT", "SASL_SSL"] {
        let bootstrap = if protocol == "SASL_SSL" { &c.sasl_ssl } else { &c.sasl_plaintext };
        for &mechanism in &c.mechanisms {
            let tag = format!("{}-{}", protocol.to_lowercase(), mechanism.to_lowercase());
            let client = if mechanism == "OAUTHBEARER" {
                let token = Arc::clone(&c.token);
                oauth_client(c, bootstrap, protocol, move || token())
            } else {
                connect(bootstrap, &mechanism_props(c, protocol, mechanism, c.password))
            };
            let client = client.unwrap_or_else(|e| panic!("{} {tag}: {e}", c.name));
            round_trip(&client, &tag);
        }
    }
}

/// A wrong password (or a refused token) fails at once with AuthenticationFailed carrying the
/// broker's message, for every mechanism, on both SASL protocols.
pub fn a_wrong_password_fails_fast(c: &SecureCluster) {
    for protocol in ["SASL_PLAINTEXT", "SASL_SSL"] {
        let bootstrap = if protocol == "SASL_SSL" { &c.sasl_ssl } else { &c.sasl_plaintext };
        for &mechanism in &c.mechanisms {
            let what = format!("{} {protocol} {mechanism}", c.name);
            let err = if mechanism == "OAUTHBEARER" {
                let start = Instant::now();
                let err = oauth_client(c, bootstrap, protocol, || "not-a-token".into()).expect_err(&what);
                assert!(start.elapsed() < Duration::from_secs(8), "{what}");
                err
            } else {
                must_fail(&what, bootstrap, &mechanism_props(c, protocol, mechanism, "wrong-password"))
            };
            match &err {
                Error::AuthenticationFailed { broker, mechanism: m, message, .. } => {
                    assert_eq!(m, mechanism, "{what}");
                    assert!(!broker.is_empty() && !message.is_empty(), "{what}: {err}");
                }
                other => panic!("{what}: expected AuthenticationFailed, got {other:?}"),
            }
            assert!(!err.is_retriable(), "{what}");
            assert!(!format!("{err} {err:?}").contains("wrong-password"), "{what}: the password leaked");
        }
    }
}

/// A CA that didn't sign the broker's certificate: a TLS error naming the broker.
pub fn an_unknown_ca_fails_fast(c: &SecureCluster) {
    let err = must_fail(
        &format!("{} unknown CA", c.name),
        &c.ssl,
        &[("security.protocol", "SSL"), ("ssl.ca.location", path(&c.files.other_ca))],
    );
    match &err {
        Error::Tls { broker, message, .. } => {
            assert!(c.ssl.contains(broker.as_str()), "{err}");
            assert!(message.contains("UnknownIssuer") || message.contains("unknown issuer"), "{err}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

/// A certificate for another name fails, unless hostname verification is turned off.
pub fn a_certificate_for_another_name_fails_unless_verification_is_off(c: &SecureCluster) {
    let ca = path(&c.files.ca);
    let err = must_fail(
        &format!("{} wrong name", c.name),
        &c.wrong_name,
        &[("security.protocol", "SSL"), ("ssl.ca.location", ca)],
    );
    assert!(matches!(&err, Error::Tls { message, .. } if message.contains("not valid for name")), "{err:?}");
    let lax = connect(
        &c.wrong_name,
        &[("security.protocol", "SSL"), ("ssl.ca.location", ca), ("ssl.endpoint.identification.algorithm", "none")],
    )
    .expect("verification off");
    round_trip(&lax, "no-hostname-check");
}

/// Plaintext to a TLS port, and TLS to a plaintext port: both fail fast and say TLS.
pub fn mixing_up_tls_and_plaintext_fails_fast(c: &SecureCluster) {
    let err = must_fail(&format!("{} plaintext client on a TLS port", c.name), &c.ssl, &[]);
    assert!(err.to_string().contains("TLS"), "{err}");
    let err = must_fail(
        &format!("{} TLS client on a plaintext port", c.name),
        &c.plaintext,
        &[("security.protocol", "SSL"), ("ssl.ca.location", path(&c.files.ca))],
    );
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
}

/// A mechanism the listener does not offer: an error naming the ones it does.
pub fn a_mechanism_not_offered_is_named_with_the_offered_ones(c: &SecureCluster) {
    let err = must_fail(
        &format!("{} PLAIN where only SCRAM-SHA-512 is offered", c.name),
        &c.scram_512_only,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "PLAIN"),
            ("sasl.username", c.user),
            ("sasl.password", c.password),
        ],
    );
    match &err {
        Error::SaslMechanismNotOffered { wanted, offered, .. } => {
            assert_eq!((wanted.as_str(), offered.as_slice()), ("PLAIN", &["SCRAM-SHA-512".to_string()][..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retriable() && err.to_string().contains("SCRAM-SHA-512"), "{err}");
}

/// A listener that requires a client certificate: refused without one, served with one.
pub fn mutual_tls(c: &SecureCluster) {
    let mutual = c.mutual.as_ref().expect("a listener that requires client certificates");
    let ca = path(&c.files.ca);
    let err = must_fail(&format!("{} no client certificate", c.name), mutual, &[("ssl.ca.location", ca)]);
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    let client = connect(
        mutual,
        &[
            ("ssl.ca.location", ca),
            ("ssl.certificate.location", path(&c.files.client.0)),
            ("ssl.key.location", path(&c.files.client.1)),
        ],
    )
    .expect("mutual TLS");
    round_trip(&client, "mtls");
}

/// The local ports of this machine's established TCP connections to loopback `port` (from
/// /proc/net/tcp): which connections a client holds, as the kernel sees them.
pub fn connections_to(port: u16) -> std::collections::BTreeSet<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let hex_port = |field: &str| field.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // st 01 is ESTABLISHED.
            (f.len() > 3 && f[3] == "01" && hex_port(f[2]) == Some(port)).then(|| hex_port(f[1])).flatten()
        })
        .collect()
}

/// The PLAIN and SCRAM user on the secure Kafka broker, and its password.
pub const KAFKA_USER: &str = "alice";
pub const KAFKA_PASSWORD: &str = "alice-test-password";
/// Kafka's `connections.max.reauth.ms` on the secure broker: short, so that sessions are
/// renewed while the tests run.
pub const KAFKA_REAUTH_MS: u64 = 3000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// An unsecured JWT (`alg: none`), which Kafka's default OAUTHBEARER validator accepts.
pub fn unsecured_jwt(subject: &str, lifetime: Duration) -> String {
    plainkafka::sasl::unsecured_jwt(subject, lifetime).expect("jwt")
}

/// Apache Kafka `version` with listeners for PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, a TLS
/// listener requiring client certificates, and one whose certificate names another host.
/// PLAIN users come from the JAAS config, SCRAM users are added when the log dir is formatted,
/// OAUTHBEARER uses Kafka's validator of unsecured tokens. Started once per test binary.
pub fn kafka_secure(version: &str) -> &'static SecureCluster {
    type Started =
        std::sync::Mutex<std::collections::HashMap<String, &'static std::result::Result<SecureCluster, String>>>;
    static STARTED: std::sync::OnceLock<Started> = std::sync::OnceLock::new();
    let mut map = STARTED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let started: &'static _ =
        *map.entry(version.to_string()).or_insert_with(|| Box::leak(Box::new(start_kafka_secure(version))));
    started.as_ref().unwrap_or_else(|e| panic!("{e}"))
}

fn start_kafka_secure(version: &str) -> std::result::Result<SecureCluster, String> {
    let port = super::free_port_pair();
    let (ssl, sasl_pt, sasl_ssl, mutual, wrong) = (free_port(), free_port(), free_port(), free_port(), free_port());
    let (renewal, limited) = (free_port(), free_port());
    let dir = super::root().join(format!("target/kafka/secure-{version}-{port}"));
    let files = CertFiles::generate(&dir);
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    // Kafka's PEM keystores hold the key and the certificate chain in one file.
    let keystore = |pair: &(PathBuf, PathBuf), name: &str| -> std::result::Result<PathBuf, String> {
        let p = dir.join(name);
        std::fs::write(&p, format!("{}{}", read(&pair.1)?, read(&pair.0)?)).map_err(|e| e.to_string())?;
        Ok(p)
    };
    let server_ks = keystore(&files.server, "server-keystore.pem")?;
    let wrong_ks = keystore(&files.wrong_name, "wrong-name-keystore.pem")?;
    let h = "127.0.0.1";
    let plain_jaas = format!(
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_{KAFKA_USER}="{KAFKA_PASSWORD}";"#
    );
    let scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
    let oauth_jaas = r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";"#;
    let mut props = format!(
        "listeners=PLAINTEXT://{h}:{port},CONTROLLER://{h}:{c},SSL://{h}:{ssl},SASL_PLAINTEXT://{h}:{sasl_pt},\
SASL_SSL://{h}:{sasl_ssl},MUTUAL://{h}:{mutual},WRONGNAME://{h}:{wrong},RENEWAL://{h}:{renewal},LIMITED://{h}:{limited}\n\
advertised.listeners=PLAINTEXT://{h}:{port},SSL://{h}:{ssl},SASL_PLAINTEXT://{h}:{sasl_pt},SASL_SSL://{h}:{sasl_ssl},\
MUTUAL://{h}:{mutual},WRONGNAME://{h}:{wrong},RENEWAL://{h}:{renewal},LIMITED://{h}:{limited}\n\
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,\
SASL_SSL:SASL_SSL,MUTUAL:SSL,WRONGNAME:SSL,RENEWAL:SASL_PLAINTEXT,LIMITED:SASL_PLAINTEXT\n\
listener.name.limited.sasl.enabled.mechanisms=SCRAM-SHA-512\n\
listener.name.limited.scram-sha-512.sasl.jaas.config={scram_jaas}\n\
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER\n\
connections.max.reauth.ms={KAFKA_REAUTH_MS}\n\
ssl.keystore.type=PEM\n\
ssl.keystore.location={}\n\
ssl.truststore.type=PEM\n\
ssl.truststore.location={}\n\
listener.name.mutual.ssl.client.auth=required\n\
listener.name.wrongname.ssl.keystore.location={}\n",
        server_ks.display(),
        files.ca.display(),
        wrong_ks.display(),
        c = port + 1,
    );
    for listener in ["sasl_plaintext", "sasl_ssl", "renewal"] {
        props.push_str(&format!("listener.name.{listener}.plain.sasl.jaas.config={plain_jaas}\n"));
        props.push_str(&format!("listener.name.{listener}.scram-sha-256.sasl.jaas.config={scram_jaas}\n"));
        props.push_str(&format!("listener.name.{listener}.scram-sha-512.sasl.jaas.config={scram_jaas}\n"));
        props.push_str(&format!("listener.name.{listener}.oauthbearer.sasl.jaas.config={oauth_jaas}\n"));
    }
    let props_file = dir.join("extra.properties");
    std::fs::write(&props_file, props).map_err(|e| e.to_string())?;
    let scram = format!(
        "--add-scram\nSCRAM-SHA-256=[name={KAFKA_USER},password={KAFKA_PASSWORD}]\n\
--add-scram\nSCRAM-SHA-512=[name={KAFKA_USER},password={KAFKA_PASSWORD}]"
    );
    let out = super::bounded::output_within(
        std::process::Command::new("bash")
            .args(["scripts/kafka/start.sh", version, &port.to_string(), &std::process::id().to_string()])
            .env("KAFKA_EXTRA_PROPS", &props_file)
            .env("KAFKA_FORMAT_ARGS", scram)
            .current_dir(super::root()),
        b"",
        std::time::Duration::from_secs(600),
    );
    if !out.status.success() {
        return Err(format!(
            "secure Kafka {version} did not start:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let at = |p: u16| format!("{h}:{p}");
    Ok(SecureCluster {
        name: "Kafka",
        plaintext: at(port),
        ssl: at(ssl),
        sasl_plaintext: at(sasl_pt),
        sasl_ssl: at(sasl_ssl),
        wrong_name: at(wrong),
        mutual: Some(at(mutual)),
        renewal: Some(at(renewal)),
        scram_512_only: at(limited),
        files,
        user: KAFKA_USER,
        password: KAFKA_PASSWORD,
        mechanisms: vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"],
        token: Arc::new(|| unsecured_jwt(KAFKA_USER, Duration::from_secs(3600))),
    })
}
