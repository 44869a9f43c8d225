//! A 3-node Apache Kafka cluster on loopback (KRaft, every node broker and controller,
//! replication factor 3, min.insync.replicas 2), started once per test binary, and the real
//! faults to throw at it: SIGKILL, SIGSTOP/SIGCONT, SIGTERM, restart from the kept log dir, and
//! leader moves through Kafka's own admin tools.

use super::*;
use plainkafka::KafkaClient;
use std::io::Write;

/// The Kafka version the cluster runs.
pub const VERSION: &str = "4.4.0";

/// One node: its id (1–3) and client port (its controller listens on port + 1).
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub id: i32,
    pub port: u16,
}

/// The running cluster.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<Node>,
}

/// Settings every node shares, on top of start.sh's: replicated internal topics, and a
/// durable default for new topics.
const SHARED_PROPS: &str = "\
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
auto.leader.rebalance.enable=false
";

fn pid_file(port: u16) -> PathBuf {
    run_dir(VERSION, port).join("pid")
}

fn start_node(node: Node, mode: &str, env: &[(&str, String)]) -> Result<(), String> {
    let pid = std::process::id().to_string();
    let out = super::bounded::output_within(
        Command::new("bash")
            .args(["scripts/kafka/start.sh", VERSION, &node.port.to_string(), &pid, mode])
            .env("KAFKA_HEAP", "512m")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(root()),
        b"",
        Duration::from_secs(600),
    );
    if out.status.success() {
        return Ok(());
    }
    Err(format!("node {} ({mode}) failed to start:\n{}", node.id, String::from_utf8_lossy(&out.stderr)))
}

impl Cluster {
    /// The cluster of this test binary, started on first use. A failed start is remembered:
    /// every test fails with its log.
    pub fn get() -> &'static Cluster {
        super::bounded::watch_this_test();
        static STARTED: OnceLock<Result<Cluster, String>> = OnceLock::new();
        STARTED.get_or_init(Cluster::start).as_ref().unwrap_or_else(|e| panic!("{e}"))
    }

    fn start() -> Result<Cluster, String> {
        kafka_jars(VERSION);
        let nodes: Vec<Node> = (1..=3).map(|id| Node { id, port: free_port_pair() }).collect();
        let voters: Vec<String> = nodes.iter().map(|n| format!("{}@127.0.0.1:{}", n.id, n.port + 1)).collect();
        // StorageTool wants a UUID in URL-safe base64; every node is formatted with the same.
        let out = super::bounded::output_within(
            Command::new("python3").args([
                "-c",
                "import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip('='))",
            ]),
            b"",
            super::bounded::CHILD_LIMIT,
        );
        let cluster_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let props = root().join(format!("target/kafka/cluster-{}.properties", std::process::id()));
        std::fs::File::create(&props)
            .and_then(|mut f| f.write_all(SHARED_PROPS.as_bytes()))
            .map_err(|e| format!("{}: {e}", props.display()))?;
        // The nodes wait for each other's votes before they call themselves started.
        let starts: Vec<_> = nodes
            .iter()
            .map(|&n| {
                let env = vec![
                    ("KAFKA_NODE_ID", n.id.to_string()),
                    ("KAFKA_VOTERS", voters.join(",")),
                    ("KAFKA_CLUSTER_ID", cluster_id.clone()),
                    ("KAFKA_EXTRA_PROPS", props.display().to_string()),
                ];
                std::thread::spawn(move || start_node(n, "fresh", &env))
            })
            .collect();
        for s in starts {
            s.join().map_err(|_| "start thread panicked".to_string())??;
        }
        Ok(Cluster { nodes })
    }

    /// Every node's address, as a bootstrap list.
    pub fn bootstrap(&self) -> String {
        self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    pub fn node(&self, id: i32) -> Node {
        *self.nodes.iter().find(|n| n.id == id).expect("node id")
    }

    fn pid(&self, id: i32) -> String {
        let f = pid_file(self.node(id).port);
        std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display())).trim().to_string()
    }

    /// Sends `signal` (KILL, STOP, CONT, TERM) to node `id`'s JVM.
    pub fn signal(&self, id: i32, signal: &str) {
        let st = Command::new("kill").args([&format!("-{signal}"), &self.pid(id)]).status().expect("kill");
        assert!(st.success(), "kill -{signal} node {id}");
    }

    /// Waits until node `id`'s JVM has exited (after SIGKILL or SIGTERM).
    pub fn wait_exit(&self, id: i32, timeout: Duration) {
        let pid = self.pid(id);
        wait_until(&format!("node {id} exits"), timeout, || {
            !Command::new("kill")
                .args(["-0", &pid])
                .stderr(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        });
    }

    /// Restarts node `id` from its kept log dir; returns once it serves again.
    pub fn restart(&self, id: i32) {
        start_node(self.node(id), "restart", &[]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// A fresh client on the whole cluster.
    pub fn client(&self) -> KafkaClient {
        KafkaClient::builder(&self.bootstrap()).request_timeout(Duration::from_secs(10)).build().expect("client")
    }

    /// The leader of `topic`/`partition` now, from fresh metadata.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.client().topic(topic).expect("topic");
        t.partitions().iter().find(|p| p.partition == partition).and_then(|p| p.leader)
    }

    /// Waits until every partition of `topic` has all its replicas in sync (after a node
    /// came back), so the next fault starts from a whole cluster.
    pub fn wait_in_sync(&self, topic: &str, timeout: Duration) {
        wait_until(&format!("{topic} fully in sync"), timeout, || {
            KafkaClient::builder(&self.bootstrap())
                .request_timeout(Duration::from_secs(5))
                .build()
                .and_then(|c| c.topic(topic))
                .map(|t| t.partitions().iter().all(|p| p.isr.len() == p.replicas.len() && p.leader.is_some()))
                .unwrap_or(false)
        });
    }

    /// Runs one of Kafka's admin tools against the cluster; a failure fails the test.
    pub fn tool(&self, class: &str, args: &[&str]) -> String {
        self.try_tool(class, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs one of Kafka's admin tools against the cluster, which may refuse (an election not
    /// possible yet).
    pub fn try_tool(&self, class: &str, args: &[&str]) -> Result<String, String> {
        let bootstrap = self.bootstrap();
        let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
        all.extend_from_slice(args);
        try_kafka_tool(VERSION, class, &all, None)
    }
}

/// The Java client's numbers for one run of `interop/tests/java/FaultPeer.java`.
#[derive(Debug, Clone, Copy)]
pub struct JavaNumbers {
    pub producer: Duration,
    pub consumer: Duration,
    pub failed: u64,
    pub unread: u64,
    pub total: u64,
}

/// Kafka's Java client, run by `interop/tests/java/FaultPeer.java` beside plainkafka under the same
/// fault.
pub struct JavaPeer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

/// Compiles the peer against Kafka's client jar, once per test binary; returns its class dir.
fn java_peer_classes() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            kafka_jars(VERSION);
            let out = root().join("target/java-peer");
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let src = root().join("interop/tests/java/FaultPeer.java");
            let javac = super::bounded::output_within(
                Command::new("javac").args(["-cp", &kafka_classpath(VERSION), "-d"]).arg(&out).arg(&src),
                b"",
                super::bounded::CHILD_LIMIT,
            );
            if !javac.status.success() {
                return Err(format!("javac failed:\n{}", String::from_utf8_lossy(&javac.stderr)));
            }
            Ok(out)
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

impl JavaPeer {
    /// Starts the peer writing `rate` messages/s for `seconds` to `topic` and reading them in
    /// a group; returns once its first message went round (or panics after 90 s).
    pub fn start(bootstrap: &str, topic: &str, partitions: i32, rate: u64, seconds: u64) -> JavaPeer {
        use std::io::BufRead;
        let cp = format!("{}:{}", java_peer_classes().display(), kafka_classpath(VERSION));
        let mut child = Command::new("java")
            .args(["-Xmx256m", "-cp", &cp, "FaultPeer", bootstrap, topic])
            .args([partitions.to_string(), rate.to_string(), seconds.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("java");
        super::bounded::track(child.id());
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = JavaPeer { child, lines };
        let first = peer.next_line(Duration::from_secs(90));
        assert_eq!(first.as_deref(), Some("ready"), "the Java peer did not get going");
        peer
    }

    fn next_line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Waits (up to `timeout`) for the peer's numbers.
    pub fn finish(mut self, timeout: Duration) -> JavaNumbers {
        let line = self.next_line(timeout).unwrap_or_else(|| panic!("no numbers from the Java peer in {timeout:?}"));
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing from {line:?}"))
        };
        let n = JavaNumbers {
            producer: Duration::from_millis(field("producer_ms")),
            consumer: Duration::from_millis(field("consumer_ms")),
            failed: field("failed"),
            unread: field("unread"),
            total: field("total"),
        };
        // It exits once it printed its numbers; kill it if it doesn't.
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::bounded::untrack(self.child.id());
        n
    }
}

impl Drop for JavaPeer {
    fn drop(&mut self) {
        // Gone already after `finish`; a test that failed first must not leave it running.
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::bounded::untrack(self.child.id());
    }
}
