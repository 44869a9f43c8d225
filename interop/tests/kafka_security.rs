//! TLS and SASL against Apache Kafka itself, the newest 4.x and a 3.9.x: one broker of each
//! with a listener per security protocol (see `common::security::kafka_secure`), the security
//! matrix on it, KIP-368 session renewal against Kafka's `connections.max.reauth.ms`, and the
//! CLI.

#[macro_use]
mod common;

use common::security::{self, SecureCluster, KAFKA_REAUTH_MS};
use plainkafka::{KafkaClient, OAuthBearerToken};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

macro_rules! secure_suite {
    ($modname:ident, $version:expr) => {
        mod $modname {
            use super::common::{self, init_logging, security::{self, SecureCluster}};

            fn broker() -> &'static SecureCluster {
                init_logging();
                security::kafka_secure($version)
            }

            security_matrix!(broker(); mutual_tls);
            security_matrix!(broker());

            #[test]
            fn sessions_are_renewed_before_kafka_ends_them() {
                super::sessions_are_renewed_before_kafka_ends_them(broker());
            }

            #[test]
            fn oauthbearer_tokens_from_properties() {
                super::oauthbearer_tokens_from_properties(broker());
            }

            #[test]
            fn cli_produces_and_consumes_over_sasl_ssl() {
                super::cli_produces_and_consumes_over_sasl_ssl(broker());
            }
        }
    };
}

secure_suite!(kafka_4_4, "4.4.0");
secure_suite!(kafka_3_9, "3.9.1");

/// Kafka ends SASL sessions after `connections.max.reauth.ms` and closes a connection that
/// sends anything else after that. A client kept busy for three such periods renews its
/// sessions on the connections it has (the kernel's table shows the same ones at the end),
/// asking the token provider for a fresh token each time, and every request succeeds.
fn sessions_are_renewed_before_kafka_ends_them(c: &SecureCluster) {
    let listener = c.renewal.as_deref().expect("the renewal listener");
    let port: u16 = listener.rsplit_once(':').unwrap().1.parse().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let client = KafkaClient::builder(listener)
        .sasl_oauthbearer(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(OAuthBearerToken::new(security::unsecured_jwt(security::KAFKA_USER, Duration::from_secs(3600))))
        })
        .build()
        .expect("client");
    let topic = client.topic(&common::unique_topic("renew")).expect("topic");
    topic.latest_available_offsets().expect("offsets");
    let held = security::connections_to(port);
    let logins = calls.load(Ordering::SeqCst);
    assert!(!held.is_empty() && logins >= 1);
    // Paced requests until three renewals were seen (a loaded machine only makes it longer).
    let deadline = Instant::now() + Duration::from_millis(KAFKA_REAUTH_MS * 20);
    while calls.load(Ordering::SeqCst) - logins < 3 {
        assert!(
            Instant::now() < deadline,
            "{} renewals of {KAFKA_REAUTH_MS} ms sessions",
            calls.load(Ordering::SeqCst) - logins
        );
        topic.latest_available_offsets().expect("offsets while sessions renew");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(security::connections_to(port), held, "connections were replaced instead of renewed");
}

/// OAUTHBEARER configured by properties alone, as the CLI must: tokens read from a file
/// (`sasl.oauthbearer.token.endpoint.url=file://...`), and librdkafka's unsecured JWTs.
fn oauthbearer_tokens_from_properties(c: &SecureCluster) {
    let token = c.files.ca.with_file_name("oauth.token");
    std::fs::write(&token, security::unsecured_jwt(security::KAFKA_USER, Duration::from_secs(600))).unwrap();
    let url = format!("file://{}", token.display());
    let ca = c.files.ca.to_str().unwrap();
    let from_file = security::connect(
        &c.sasl_ssl,
        &[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", ca),
            ("sasl.mechanisms", "OAUTHBEARER"),
            ("sasl.oauthbearer.token.endpoint.url", &url),
        ],
    )
    .expect("token from a file");
    security::round_trip(&from_file, "oauth-file");
    let unsecured = security::connect(
        &c.sasl_plaintext,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "OAUTHBEARER"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ("sasl.oauthbearer.config", "principal=alice lifeSeconds=600"),
        ],
    )
    .expect("unsecured JWT");
    security::round_trip(&unsecured, "oauth-unsecured");
}

/// The CLI with kcat-style properties against Kafka's SASL_SSL listener: SCRAM-SHA-256 from
/// `-X` flags, a produce and a consume through it.
fn cli_produces_and_consumes_over_sasl_ssl(c: &SecureCluster) {
    let topic = common::unique_topic("cli-secure");
    let props = [
        "security.protocol=SASL_SSL".to_string(),
        format!("ssl.ca.location={}", c.files.ca.display()),
        "sasl.mechanisms=SCRAM-SHA-256".into(),
        format!("sasl.username={}", c.user),
        format!("sasl.password={}", c.password),
    ];
    use std::process::Command;
    let run = |args: &[&str], input: &str| {
        let mut cmd = Command::new(common::cli_bin());
        cmd.env_remove("KAFKA_BROKERS").args(["-b", &c.sasl_ssl]);
        for p in &props {
            cmd.args(["-X", p]);
        }
        let out = common::bounded::output_within(cmd.args(args), input.as_bytes(), common::bounded::CHILD_LIMIT);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["produce", &topic, "-p", "0"], "alpha\nbeta\n");
    assert_eq!(run(&["consume", &topic, "-c", "2"], ""), "alpha\nbeta\n");
}
