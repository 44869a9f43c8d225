//! Client properties from the command line, as kcat takes them: `-F FILE` (one `name=value`
//! per line, `#` comments) and then `-X name=value`, later settings winning.

use crate::AnyResult;
use plainkafka::KafkaClient;
use std::path::Path;

/// Where to connect and how.
pub(crate) struct Conn {
    pub brokers: String,
    pub props: Vec<(String, String)>,
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
        props.retain(|(k, v)| match k.as_str() {
            "bootstrap.servers" | "metadata.broker.list" => {
                brokers = v.clone();
                false
            }
            _ => true,
        });
        Ok(Conn { brokers, props })
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
}
