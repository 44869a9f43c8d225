//! TLS and SASL against plainkafka's MockCluster: the security matrix, the mock's own checks
//! (mechanism lists, login before anything else, session lifetimes), and librdkafka (through
//! the rdkafka crate) as the client, to prove the mock's side of each mechanism.

#[macro_use]
mod common;

use common::security::{self, CertFiles, SecureCluster};
use common::{init_logging, produce_with, unique_topic, TestMsg};
use plainkafka::mock::{MockCluster, MockClusterBuilder};
use plainkafka::ApiKey;
use plainkafka::{Error, OAuthBearerToken};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USER: &str = "alice";
const PASSWORD: &str = "alice-test-password";
const TOKEN: &str = "mock-oauth-token";

fn cert_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "mock-certs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).expect("read pem")
}

fn with_tls(b: MockClusterBuilder, pair: &(PathBuf, PathBuf)) -> MockClusterBuilder {
    b.tls(&read(&pair.0), &read(&pair.1))
}

fn sasl(b: MockClusterBuilder) -> MockClusterBuilder {
    b.sasl_user(USER, PASSWORD).sasl_oauthbearer_token(TOKEN)
}

/// Mock clusters for each listener kind (the mock has one kind per cluster), kept alive
/// alongside the description the matrix runs on.
struct Secure {
    _clusters: Vec<MockCluster>,
    cluster: SecureCluster,
}

fn secure() -> Secure {
    init_logging();
    let files = CertFiles::generate(&cert_dir());
    let build = |b: MockClusterBuilder| b.brokers(2).build().expect("mock");
    let clusters = vec![
        build(MockCluster::builder()),
        build(with_tls(MockCluster::builder(), &files.server)),
        build(sasl(MockCluster::builder())),
        build(sasl(with_tls(MockCluster::builder(), &files.server))),
        build(with_tls(MockCluster::builder(), &files.wrong_name)),
        build(sasl(MockCluster::builder()).sasl_mechanisms(&["SCRAM-SHA-512"])),
        build(with_tls(MockCluster::builder(), &files.server).tls_client_ca(&read(&files.ca))),
    ];
    let cluster = SecureCluster {
        name: "MockCluster",
        plaintext: clusters[0].bootstrap(),
        ssl: clusters[1].bootstrap(),
        sasl_plaintext: clusters[2].bootstrap(),
        sasl_ssl: clusters[3].bootstrap(),
        wrong_name: clusters[4].bootstrap(),
        scram_512_only: clusters[5].bootstrap(),
        mutual: Some(clusters[6].bootstrap()),
        renewal: None,
        files,
        user: USER,
        password: PASSWORD,
        mechanisms: vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"],
        token: Arc::new(|| TOKEN.to_string()),
    };
    Secure { _clusters: clusters, cluster }
}

impl std::ops::Deref for Secure {
    type Target = SecureCluster;
    fn deref(&self) -> &SecureCluster {
        &self.cluster
    }
}

security_matrix!(secure(); mutual_tls);
security_matrix!(secure());

/// SASL against a cluster without it: the broker offers nothing, and the error says so.
#[test]
fn sasl_against_a_cluster_without_it() {
    init_logging();
    let plain = MockCluster::new().unwrap();
    let err = security::connect(
        &plain.bootstrap(),
        &[("security.protocol", "SASL_PLAINTEXT"), ("sasl.username", USER), ("sasl.password", PASSWORD)],
    )
    .expect_err("no SASL there");
    assert!(matches!(err, Error::SaslMechanismNotOffered { ref offered, .. } if offered.is_empty()), "{err:?}");
}

#[test]
fn nothing_is_served_before_the_login() {
    init_logging();
    let m = sasl(MockCluster::builder()).build().unwrap();
    let err = security::connect(&m.bootstrap(), &[]).expect_err("no login");
    assert!(matches!(err, Error::NoBrokerReachable { .. }), "{err:?}");
    assert_eq!(m.requests_served(ApiKey::Metadata), 0);
}

/// KIP-368: with two-second sessions, a client busy for several seconds renews its session
/// on the connections it has, asking the token provider again each time, and never reconnects.
#[test]
fn sessions_are_renewed_on_the_same_connections() {
    init_logging();
    let m = sasl(MockCluster::builder()).sasl_session_lifetime(Duration::from_millis(2000)).build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let client = plainkafka::KafkaClient::builder(&m.bootstrap())
        .sasl_oauthbearer(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(OAuthBearerToken::new(TOKEN))
        })
        .build()
        .expect("client");
    let topic = client.topic("renewed").expect("topic");
    let connections = m.connections_accepted();
    let logins = m.requests_served(ApiKey::SaslAuthenticate);
    // Requests paced through three renewals, each of which must succeed; a loaded machine may
    // take longer than 3 s to see them, which only makes the wait longer.
    let deadline = Instant::now() + Duration::from_secs(60);
    while m.requests_served(ApiKey::SaslAuthenticate) - logins < 3 || calls.load(Ordering::SeqCst) < 4 {
        assert!(Instant::now() < deadline, "{} renewals in 60 s", m.requests_served(ApiKey::SaslAuthenticate) - logins);
        topic.latest_available_offsets().expect("offsets while sessions renew");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(m.connections_accepted(), connections, "a connection was replaced instead of renewed");
}

/// A connection left idle past its session's end is replaced before the next request, which
/// succeeds.
#[test]
fn a_session_that_expired_while_idle_gets_a_new_connection() {
    init_logging();
    let m = sasl(MockCluster::builder()).sasl_session_lifetime(Duration::from_millis(300)).build().unwrap();
    let client = security::connect(
        &m.bootstrap(),
        &[("security.protocol", "SASL_PLAINTEXT"), ("sasl.username", USER), ("sasl.password", PASSWORD)],
    )
    .unwrap();
    let topic = client.topic("idle").expect("topic");
    let before = m.connections_accepted();
    // Idle time is what this test is about.
    std::thread::sleep(Duration::from_millis(700));
    topic.latest_available_offsets().expect("offsets after the session expired");
    assert!(m.connections_accepted() > before);
}

#[test]
fn debug_output_hides_credentials() {
    let b = plainkafka::KafkaClient::builder("127.0.0.1:1").sasl_plain(USER, "hunter2-password");
    let shown = format!("{b:?}");
    assert!(shown.contains(USER) && !shown.contains("hunter2"), "{shown}");
    let b = plainkafka::KafkaClient::builder("127.0.0.1:1").set("sasl.password", "hunter2-password").unwrap();
    assert!(!format!("{b:?}").contains("hunter2"));
}

// librdkafka as the client.

fn rdkafka_settings<'a>(
    protocol: &'a str,
    mechanism: &'a str,
    password: &'a str,
    ca: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut s = vec![
        ("security.protocol", protocol),
        ("sasl.mechanisms", mechanism),
        ("sasl.username", USER),
        ("sasl.password", password),
    ];
    if protocol == "SASL_SSL" {
        s.push(("ssl.ca.location", ca));
    }
    s
}

/// librdkafka reads `n` messages of partition 0; errors it reports are collected.
fn rdkafka_consume(bootstrap: &str, topic: &str, n: usize, settings: &[(&str, &str)]) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message as _;
    let mut cfg = rdkafka::config::ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", unique_topic("rd-secure"))
        .set("enable.auto.commit", "false");
    for (k, v) in settings {
        cfg.set(*k, *v);
    }
    let c: BaseConsumer = cfg.create().expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning).unwrap();
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "librdkafka read {} of {n}", out.len());
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("message");
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

/// An rdkafka context that records the errors librdkafka reports.
#[derive(Default)]
struct Errors(Mutex<Vec<String>>);

impl rdkafka::ClientContext for Errors {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.0.lock().unwrap().push(format!("{error}: {reason}"));
    }
}

impl rdkafka::consumer::ConsumerContext for Errors {}

#[test]
fn librdkafka_authenticates_with_each_mechanism_and_fails_with_a_wrong_password() {
    let s = secure();
    let c = &s.cluster;
    let ca = c.files.ca.to_str().unwrap();
    for (protocol, bootstrap) in [("SASL_PLAINTEXT", &c.sasl_plaintext), ("SASL_SSL", &c.sasl_ssl)] {
        for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
            let tag = format!("rd-{}-{}", protocol.to_lowercase(), mechanism.to_lowercase());
            let topic = unique_topic(&tag);
            let settings = rdkafka_settings(protocol, mechanism, PASSWORD, ca);
            let sent: Vec<String> = (0..10).map(|i| format!("{tag}-{i}")).collect();
            produce_with(bootstrap, &topic, sent.iter().map(|v| TestMsg::value(0, v.as_bytes())), false, &settings);
            assert_eq!(rdkafka_consume(bootstrap, &topic, 10, &settings), sent, "{tag}");

            // A wrong password: librdkafka reports an authentication error and gets no metadata.
            use rdkafka::consumer::{BaseConsumer, Consumer};
            let mut cfg = rdkafka::config::ClientConfig::new();
            cfg.set("bootstrap.servers", bootstrap.as_str()).set("group.id", "rd-wrong");
            for (k, v) in rdkafka_settings(protocol, mechanism, "wrong-password", ca) {
                cfg.set(k, v);
            }
            let consumer: BaseConsumer<Errors> = cfg.create_with_context(Errors::default()).expect("consumer");
            let md = consumer.fetch_metadata(None, Duration::from_secs(3));
            assert!(md.is_err(), "{tag}: metadata with a wrong password");
            common::wait_until(&format!("{tag}: an authentication error"), Duration::from_secs(10), || {
                consumer.poll(Duration::from_millis(100));
                consumer.context().0.lock().unwrap().iter().any(|e| e.contains("Authentication failed"))
            });
        }
    }
}

/// Kafka's own console producer and consumer (the Java client) over SASL_SSL with
/// SCRAM-SHA-512 against the mock, whose sessions last two seconds: the Java client's TLS, SCRAM
/// and session renewal all meet the mock's, and plainkafka reads what Java wrote.
#[test]
fn java_clients_log_in_over_sasl_ssl() {
    let version = "4.4.0";
    common::kafka_jars(version);
    init_logging();
    let files = &CertFiles::generate(&cert_dir());
    let m = sasl(with_tls(MockCluster::builder(), &files.server))
        .sasl_session_lifetime(Duration::from_secs(2))
        .build()
        .unwrap();
    let config = files.ca.with_file_name("java-client.properties");
    std::fs::write(
        &config,
        format!(
            "security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\n\
             sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
             required username=\"{USER}\" password=\"{PASSWORD}\";\n",
            files.ca.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let lines: String = (0..10).map(|i| format!("java-{i}\n")).collect();
    common::kafka_tool(
        version,
        "org.apache.kafka.tools.ConsoleProducer",
        &["--bootstrap-server", &m.bootstrap(), "--topic", "java-secure", "--producer.config", config],
        Some(&lines),
    );
    let read = common::kafka_tool(
        version,
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        &[
            "--bootstrap-server",
            &m.bootstrap(),
            "--topic",
            "java-secure",
            "--from-beginning",
            "--max-messages",
            "10",
            "--consumer.config",
            config,
        ],
        None,
    );
    let got: Vec<&str> = read.lines().filter(|l| l.starts_with("java-")).collect();
    assert_eq!(got, lines.lines().collect::<Vec<_>>());
    let ours = security::connect(
        &m.bootstrap(),
        &[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", files.ca.to_str().unwrap()),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", USER),
            ("sasl.password", PASSWORD),
        ],
    )
    .unwrap();
    assert_eq!(ours.topic("java-secure").unwrap().latest_available_offsets().unwrap()[&0], 10);
    assert!(m.requests_served(ApiKey::SaslAuthenticate) >= 4, "Java logged in over SCRAM (two rounds each)");
}
