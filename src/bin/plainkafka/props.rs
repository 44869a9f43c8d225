//! Properties from the command line, as kcat takes them: `-F FILE` (one `name=value` per line,
//! `#` comments) and then `-X name=value`, later settings winning. Names are librdkafka's
//! (`plainkafka::properties`); each goes to the builders that take it: the client's for every
//! command, the consumer's for `consume`, the producer's for `produce`.

use crate::AnyResult;
use plainkafka::properties::{self, Target};
use plainkafka::KafkaClient;
use std::path::Path;

/// Where to connect and how.
pub(crate) struct Conn {
    pub brokers: String,
    /// The client's properties.
    pub props: Vec<(String, String)>,
    /// The consumers' and the producer's, for the commands that make one.
    pub others: Vec<(String, String)>,
    /// `debug`'s value: librdkafka's debug contexts, turned into log levels.
    pub debug: Option<String>,
}

/// What a command makes besides the client, and so which properties it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uses {
    /// Only the client (the ops commands).
    Client,
    /// A consumer; a group member too when `group` is set.
    Consumer { group: bool },
    /// A producer.
    Producer,
}

impl Conn {
    /// Gathers the properties of `file` (if any), then of `-X` values. `bootstrap.servers`
    /// (or kcat's `metadata.broker.list`) replaces `-b`.
    pub(crate) fn new(brokers: &str, file: Option<&Path>, x: &[String]) -> AnyResult<Conn> {
        let mut props = Vec::new();
        if let Some(f) = file {
            let text = std::fs::read_to_string(f).map_err(|e| format!("-F {}: {e}", f.display()))?;
            props.extend(parse_lines(&text).map_err(|e| format!("-F {}: {e}", f.display()))?);
        }
        for p in x {
            props.push(parse_one(p).ok_or_else(|| format!("-X {p:?}: expected name=value"))?);
        }
        let mut brokers = brokers.to_string();
        let mut debug = None;
        let mut others = Vec::new();
        props.retain(|(k, v)| match k.as_str() {
            "bootstrap.servers" | "metadata.broker.list" => {
                brokers = v.clone();
                false
            }
            "debug" => {
                debug = Some(v.clone());
                false
            }
            _ if properties::takes(Target::Client, k) => true,
            _ => {
                others.push((k.clone(), v.clone()));
                false
            }
        });
        for (k, _) in &others {
            if properties::find(k).is_none() {
                return Err(unknown(k).into());
            }
        }
        // retry.backoff.ms is the producer's too.
        others.extend(props.iter().filter(|(k, _)| properties::takes(Target::Producer, k)).cloned());
        Ok(Conn { brokers, props, others, debug })
    }

    /// The properties a command's consumer or producer takes, in order; a property meant for
    /// another kind of command is an error that says which.
    pub(crate) fn for_command(&self, command: &str, uses: Uses) -> AnyResult<Vec<(String, String)>> {
        let mut taken = Vec::new();
        for (k, v) in &self.others {
            let takes = |t| properties::takes(t, k);
            let ok = match uses {
                Uses::Client => false,
                Uses::Consumer { group } => takes(Target::Consumer) || (group && takes(Target::Group)),
                Uses::Producer => takes(Target::Producer),
            };
            if ok {
                taken.push((k.clone(), v.clone()));
            } else if takes(Target::Client) {
                // retry.backoff.ms, given to the client already.
            } else {
                let what = if takes(Target::Producer) {
                    "a producer property"
                } else if takes(Target::Group) {
                    "a group member's property (consume -g GROUP --balanced)"
                } else {
                    "a consumer property"
                };
                return Err(format!("-X {k}: {what}; `{command}` does not take it").into());
            }
        }
        Ok(taken)
    }

    /// The logger's filter for `debug`: librdkafka's contexts, roughly. `all` and the
    /// wire-level ones (protocol, msg, fetch) show everything; any other, the debug level.
    pub(crate) fn log_filter(&self) -> Option<&'static str> {
        let d = self.debug.as_deref()?;
        let wire = d.split(',').map(str::trim).any(|c| matches!(c, "all" | "protocol" | "msg" | "fetch"));
        Some(if wire { "plainkafka=trace,warn" } else { "plainkafka=debug,warn" })
    }

    /// A client with these settings, for commands that only read: a topic the cluster doesn't
    /// have is an error, not a new topic (unless `-X allow.auto.create.topics=true`).
    pub(crate) fn client(&self) -> plainkafka::Result<KafkaClient> {
        self.build(false)
    }

    /// A client for `produce`: it may ask the broker to create the topic, as the Java and
    /// librdkafka producers do (`-X allow.auto.create.topics=false` to stop it).
    pub(crate) fn producing_client(&self) -> plainkafka::Result<KafkaClient> {
        self.build(true)
    }

    fn build(&self, auto_create_topics: bool) -> plainkafka::Result<KafkaClient> {
        let mut b = KafkaClient::builder(&self.brokers).allow_auto_create_topics(auto_create_topics);
        for (k, v) in &self.props {
            b = b.set(k, v)?;
        }
        b.build()
    }
}

/// An unknown name's error, listing every known one.
fn unknown(name: &str) -> String {
    let known: Vec<_> = properties::PROPERTIES.iter().map(|p| p.name).collect();
    format!("unknown property {name:?}; known: {} (-X list describes them)", known.join(", "))
}

/// `-X list`: every property, the builders that take it and what it sets.
pub(crate) fn list() -> String {
    let mut out = String::new();
    for p in properties::PROPERTIES {
        let to: Vec<_> = p
            .targets
            .iter()
            .map(|t| match t {
                Target::Client => "client",
                Target::Consumer => "consumer",
                Target::Group => "group",
                Target::Producer => "producer",
                _ => "other",
            })
            .collect();
        out.push_str(&format!("{:<40} {:<16} {}\n", p.name, to.join(","), p.meaning));
    }
    out
}

fn parse_one(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once('=')?;
    let k = k.trim();
    (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
}

/// `name=value` lines; blank lines and `#` comments are skipped.
fn parse_lines(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| parse_one(l).ok_or_else(|| format!("line {}: expected name=value", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags_and_bootstrap_servers() {
        let lines = "# secure\nsecurity.protocol=SASL_SSL\n\n sasl.password = p=w \n";
        assert_eq!(
            parse_lines(lines).unwrap(),
            vec![("security.protocol".into(), "SASL_SSL".into()), ("sasl.password".into(), "p=w".into())]
        );
        assert_eq!(parse_lines("ok=1\nnot a property").unwrap_err(), "line 2: expected name=value");
        let c = Conn::new("a:1", None, &["bootstrap.servers=b:2".into(), "sasl.username=u".into()]).unwrap();
        assert_eq!(c.brokers, "b:2");
        assert_eq!(c.props, vec![("sasl.username".to_string(), "u".to_string())]);
        assert!(Conn::new("a:1", None, &["novalue".into()]).is_err());
    }

    #[test]
    fn properties_go_to_the_builders_that_take_them() {
        let x = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = Conn::new("a:1", None, &x(&["acks=1", "client.id=me", "retry.backoff.ms=5", "debug=all"])).unwrap();
        assert_eq!(c.props, vec![("client.id".into(), "me".into()), ("retry.backoff.ms".into(), "5".into())]);
        assert_eq!(c.log_filter(), Some("plainkafka=trace,warn"));
        let p = c.for_command("produce", Uses::Producer).unwrap();
        assert_eq!(p, vec![("acks".into(), "1".into()), ("retry.backoff.ms".into(), "5".into())]);
        let e = c.for_command("consume", Uses::Consumer { group: true }).unwrap_err().to_string();
        assert_eq!(e, "-X acks: a producer property; `consume` does not take it");
        let g = Conn::new("a:1", None, &x(&["session.timeout.ms=6000", "fetch.min.bytes=1"])).unwrap();
        assert_eq!(g.for_command("consume", Uses::Consumer { group: true }).unwrap().len(), 2);
        let e = g.for_command("consume", Uses::Consumer { group: false }).unwrap_err().to_string();
        assert!(e.contains("session.timeout.ms: a group member's property"), "{e}");
        let e = g.for_command("offsets", Uses::Client).unwrap_err().to_string();
        assert!(e.contains("`offsets` does not take it"), "{e}");
        let e = Conn::new("a:1", None, &x(&["foo=1"])).err().unwrap().to_string();
        assert!(
            e.starts_with("unknown property \"foo\"; known: bootstrap.servers,") && e.contains("transactional.id"),
            "{e}"
        );
        assert!(list().lines().any(|l| l.starts_with("linger.ms") && l.contains("producer")));
    }
}
