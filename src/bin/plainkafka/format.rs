//! Output: kcat-style message formats, and JSON for scripts.

use plainkafka::{Message, TimestampType};
use std::io::{self, Write};

/// A piece of the output format.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Timestamp,
    Headers,
}

pub(crate) fn parse_format(f: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut chars = f.chars();
    while let Some(ch) = chars.next() {
        let piece = match ch {
            '%' => match chars.next() {
                Some('t') => Piece::Topic,
                Some('p') => Piece::Partition,
                Some('o') => Piece::Offset,
                Some('k') => Piece::Key,
                Some('s') => Piece::Value,
                Some('T') => Piece::Timestamp,
                Some('h') => Piece::Headers,
                Some(other) => {
                    if other != '%' {
                        text.push(b'%');
                    }
                    push_char(&mut text, other);
                    continue;
                }
                None => {
                    text.push(b'%');
                    continue;
                }
            },
            '\\' => {
                match chars.next() {
                    Some('n') => text.push(b'\n'),
                    Some('t') => text.push(b'\t'),
                    Some('\\') => text.push(b'\\'),
                    Some(other) => {
                        text.push(b'\\');
                        push_char(&mut text, other);
                    }
                    None => text.push(b'\\'),
                }
                continue;
            }
            other => {
                push_char(&mut text, other);
                continue;
            }
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(piece);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

pub(crate) fn write_message(out: &mut impl Write, format: &[Piece], m: &Message) -> io::Result<()> {
    for piece in format {
        match piece {
            Piece::Text(t) => out.write_all(t)?,
            Piece::Topic => out.write_all(m.topic().as_bytes())?,
            Piece::Partition => write!(out, "{}", m.partition())?,
            Piece::Offset => write!(out, "{}", m.offset())?,
            Piece::Key => out.write_all(m.key().unwrap_or_default())?,
            Piece::Value => out.write_all(m.value().unwrap_or_default())?,
            Piece::Timestamp => write!(out, "{}", m.timestamp().map_or(-1, |t| t.millis))?,
            Piece::Headers => {
                for (i, h) in m.headers().iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(h.key.as_bytes())?;
                    out.write_all(b"=")?;
                    out.write_all(h.value.as_deref().unwrap_or_default())?;
                }
            }
        }
    }
    Ok(())
}

/// kcat's `-J` envelope, on one line: topic, partition, offset, tstype, ts, broker (-1:
/// plainkafka's consumer doesn't say which broker served a message), headers (only when there
/// are some), key and payload (text; `null` when absent).
pub(crate) fn write_json_envelope(out: &mut impl Write, m: &Message) -> io::Result<()> {
    let text = |b: Option<&[u8]>| b.map_or(Json::Null, |b| Json::Str(String::from_utf8_lossy(b).into_owned()));
    let (tstype, ts) = match m.timestamp() {
        Some(t) if t.kind == TimestampType::LogAppendTime => ("logappend", Json::Int(t.millis)),
        Some(t) => ("create", Json::Int(t.millis)),
        None => ("unknown", Json::Int(-1)),
    };
    let mut fields = vec![
        ("topic".to_string(), Json::Str(m.topic().to_string())),
        ("partition".to_string(), Json::Int(m.partition().into())),
        ("offset".to_string(), Json::Int(m.offset())),
        ("tstype".to_string(), Json::Str(tstype.into())),
        ("ts".to_string(), ts),
        ("broker".to_string(), Json::Int(-1)),
    ];
    if !m.headers().is_empty() {
        let headers = m.headers().iter().map(|h| (h.key.clone(), text(h.value.as_deref()))).collect();
        fields.push(("headers".to_string(), Json::Map(headers)));
    }
    fields.push(("key".to_string(), text(m.key())));
    fields.push(("payload".to_string(), text(m.value())));
    let mut s = String::new();
    Json::Map(fields).render(&mut s);
    s.push('\n');
    out.write_all(s.as_bytes())
}

/// A JSON value, enough for the listing commands' output.
pub(crate) enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
    /// An object whose keys are data (header names).
    Map(Vec<(String, Json)>),
}

impl Json {
    /// An optional integer: `null` when absent.
    pub fn opt(v: Option<i64>) -> Json {
        v.map_or(Json::Null, Json::Int)
    }

    /// Compact JSON text.
    pub fn render(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => render_object(out, fields.iter().map(|(k, v)| (*k, v))),
            Json::Map(fields) => render_object(out, fields.iter().map(|(k, v)| (k.as_str(), v))),
        }
    }
}

fn render_object<'a>(out: &mut String, fields: impl Iterator<Item = (&'a str, &'a Json)>) {
    out.push('{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        Json::Str(k.to_string()).render(out);
        out.push(':');
        v.render(out);
    }
    out.push('}');
}

/// Prints `v` as one line of JSON.
pub(crate) fn print_json(v: &Json) -> io::Result<()> {
    let mut s = String::new();
    v.render(&mut s);
    writeln!(io::stdout().lock(), "{s}")
}

/// `n` and a noun, in the plural unless `n` is 1.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_it_must() {
        let mut s = String::new();
        Json::Obj(vec![
            ("name", Json::Str("a\"b\\c\nd\u{1}é".into())),
            ("n", Json::Arr(vec![Json::Int(-1), Json::Null])),
        ])
        .render(&mut s);
        assert_eq!(s, r#"{"name":"a\"b\\c\nd\u0001é","n":[-1,null]}"#);
    }

    #[test]
    fn formats_parse_like_kcat() {
        assert_eq!(parse_format("%s\\n"), vec![Piece::Value, Piece::Text(b"\n".to_vec())]);
        assert_eq!(
            parse_format("%t/%p@%o\\t%k=%s %T [%h] 100%% %x"),
            vec![
                Piece::Topic,
                Piece::Text(b"/".to_vec()),
                Piece::Partition,
                Piece::Text(b"@".to_vec()),
                Piece::Offset,
                Piece::Text(b"\t".to_vec()),
                Piece::Key,
                Piece::Text(b"=".to_vec()),
                Piece::Value,
                Piece::Text(b" ".to_vec()),
                Piece::Timestamp,
                Piece::Text(b" [".to_vec()),
                Piece::Headers,
                Piece::Text(b"] 100% %x".to_vec()),
            ]
        );
    }
}
