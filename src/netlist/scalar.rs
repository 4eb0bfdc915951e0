//! Scalar text to values. Netlists are read by yaml-cpp upstream, which converts on request:
//! integers in decimal or `0x` hex (DRAM addresses), floats, and booleans in any case
//! (`False` appears in PyBuda output).

use alloc::string::String;
use alloc::vec::Vec;

use super::model::Value;
use super::yaml::{Kind, Node};

/// An integer in decimal, `0x` hex or `0o` octal, with an optional sign.
pub fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, body) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// A float: decimal or exponent notation, an integer, or YAML's `.inf` / `.nan`.
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(t) {
        return Some(i as f64);
    }
    // Rust also reads "inf" and "nan" spelled out; YAML does not mean those as numbers.
    if t.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// `true`/`false` in any case (yaml-cpp also takes yes/no and on/off).
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    for (word, value) in [
        ("true", true),
        ("false", false),
        ("yes", true),
        ("no", false),
        ("on", true),
        ("off", false),
    ] {
        if t.eq_ignore_ascii_case(word) {
            return Some(value);
        }
    }
    None
}

/// A node as an untyped value, the way YAML's core schema reads plain scalars. The tree is at
/// most [`super::yaml::MAX_DEPTH`] deep, so the recursion is bounded.
pub fn value_of(node: &Node) -> Value {
    match &node.kind {
        Kind::Scalar { text, plain } => {
            if !*plain {
                return Value::Str(text.clone());
            }
            if node.is_null() {
                Value::Null
            } else if let Some(i) = parse_int(text) {
                Value::Int(i)
            } else if let Some(b) = parse_bool(text) {
                Value::Bool(b)
            } else if let Some(f) = parse_float(text) {
                Value::Float(f)
            } else {
                Value::Str(text.clone())
            }
        }
        Kind::Seq(items) => Value::List(items.iter().map(value_of).collect()),
        Kind::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.text.clone(), value_of(v)))
                .collect::<Vec<(String, Value)>>(),
        ),
    }
}
