//! Typed extraction from a parsed JSON value, naming the key path of whatever does not fit
//! (`compiled_graph_state.ordered_input_shapes[1]: expected a list of integers, found "abc"`).

use serde_json::{Map, Value};

use crate::image::{invalid, ImageError};

/// The JSON document in `bytes` of the member `file`, or an error saying where it stops being
/// JSON.
pub(crate) fn document(bytes: &[u8], file: &str) -> Result<Value, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ImageError::invalid(format!(
            "{file}: not valid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// The path of `key` under `parent` (`a.b`, or just `b` at the top level).
pub(crate) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of list element `i` under `parent`.
pub(crate) fn element(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The path of the entry named `name` in the map at `parent`. Names hold dots and slashes
/// (`layer.0.weight`), so they are quoted rather than joined with a dot.
pub(crate) fn entry(parent: &str, name: &str) -> String {
    format!("{parent}[{}]", quoted(name))
}

/// `s` as a JSON string literal, cut short so one line stays one line.
fn quoted(s: &str) -> String {
    const MAX: usize = 48;
    let mut cut = s;
    let mut ellipsis = "";
    if s.chars().count() > MAX {
        let end = s.char_indices().nth(MAX).map_or(s.len(), |(i, _)| i);
        cut = &s[..end];
        ellipsis = "...";
    }
    let lit = serde_json::to_string(cut).unwrap_or_else(|_| String::from("\"?\""));
    match ellipsis {
        "" => lit,
        _ => format!("{}{ellipsis}\"", lit.trim_end_matches('"')),
    }
}

/// What a value is, for the "found ..." half of a message.
pub(crate) fn found(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Array(a) => format!("a list of {}", a.len()),
        Value::Object(_) => "an object".to_string(),
    }
}

pub(crate) fn mismatch<T>(path: &str, expected: &str, v: &Value) -> Result<T, ImageError> {
    // The document itself has the empty path; the file name in front already says where.
    let at = if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    };
    invalid!("{at}expected {expected}, found {}", found(v))
}

pub(crate) fn object<'v>(v: &'v Value, path: &str) -> Result<&'v Map<String, Value>, ImageError> {
    v.as_object()
        .map_or_else(|| mismatch(path, "an object", v), Ok)
}

pub(crate) fn string(v: &Value, path: &str) -> Result<String, ImageError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => mismatch(path, "a string", v),
    }
}

pub(crate) fn boolean(v: &Value, path: &str) -> Result<bool, ImageError> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => mismatch(path, "true or false", v),
    }
}

pub(crate) fn uint(v: &Value, path: &str) -> Result<usize, ImageError> {
    match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => mismatch(path, "a non-negative integer", v),
    }
}

pub(crate) fn uint32(v: &Value, path: &str) -> Result<u32, ImageError> {
    match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => mismatch(path, "an integer from 0 to 4294967295", v),
    }
}

/// Elements of a list, each converted by `each` with its own path.
pub(crate) fn list<T>(
    v: &Value,
    path: &str,
    what: &str,
    each: impl Fn(&Value, &str) -> Result<T, ImageError>,
) -> Result<Vec<T>, ImageError> {
    let Value::Array(items) = v else {
        return mismatch(path, what, v);
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| each(item, &element(path, i)))
        .collect()
}

pub(crate) fn strings(v: &Value, path: &str) -> Result<Vec<String>, ImageError> {
    list(v, path, "a list of strings", string)
}

pub(crate) fn uints(v: &Value, path: &str) -> Result<Vec<usize>, ImageError> {
    list(v, path, "a list of integers", uint)
}

pub(crate) fn uint32s(v: &Value, path: &str) -> Result<Vec<u32>, ImageError> {
    list(v, path, "a list of integers", uint32)
}

/// A list of exactly `N` integers (tensor shapes and strides are always 4-D in descriptors).
pub(crate) fn uint_array<const N: usize>(v: &Value, path: &str) -> Result<[usize; N], ImageError> {
    let items = uints(v, path)?;
    match <[usize; N]>::try_from(items) {
        Ok(a) => Ok(a),
        Err(items) => invalid!(
            "{path}: expected {N} integers, found a list of {}",
            items.len()
        ),
    }
}

/// An enum member as PyBuda spells it: the bare name (`"Wormhole_B0"`, what its `to_json`
/// methods write) or `{"__enum__": "BackendDevice.Wormhole_B0"}` (older images; the backend's
/// loader accepts both). Returns what follows the last '.'.
pub(crate) fn enum_name(v: &Value, path: &str) -> Result<String, ImageError> {
    let spelled = match v {
        Value::String(s) => s.as_str(),
        Value::Object(m) => match m.get("__enum__") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => return mismatch(&child(path, "__enum__"), "a string", other),
            None => return mismatch(path, "an enum name or {\"__enum__\": ...}", v),
        },
        _ => return mismatch(path, "an enum name or {\"__enum__\": ...}", v),
    };
    let name = spelled.rsplit('.').next().unwrap_or(spelled);
    if name.is_empty() {
        return mismatch(path, "an enum name", v);
    }
    Ok(name.to_string())
}

/// The keys of one JSON object, taken one by one; whatever is not taken is kept as extras so
/// `to_json` writes back keys ttrt does not model.
pub(crate) struct Fields<'v> {
    map: &'v Map<String, Value>,
    path: String,
    taken: Vec<&'static str>,
}

impl<'v> Fields<'v> {
    pub(crate) fn new(v: &'v Value, path: &str) -> Result<Fields<'v>, ImageError> {
        Ok(Fields {
            map: object(v, path)?,
            path: path.to_string(),
            taken: Vec::new(),
        })
    }

    pub(crate) fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// The value of `key`, `None` when it is absent or null (PyBuda writes `null` for unset
    /// optional fields).
    pub(crate) fn take(&mut self, key: &'static str) -> Option<&'v Value> {
        self.taken.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn required<T>(
        &mut self,
        key: &'static str,
        conv: impl Fn(&Value, &str) -> Result<T, ImageError>,
    ) -> Result<T, ImageError> {
        match self.take(key) {
            Some(v) => conv(v, &self.path(key)),
            None if self.map.contains_key(key) => {
                invalid!("{}: required, found null", self.path(key))
            }
            None => invalid!("{}: required key is missing", self.path(key)),
        }
    }

    pub(crate) fn optional<T>(
        &mut self,
        key: &'static str,
        conv: impl Fn(&Value, &str) -> Result<T, ImageError>,
    ) -> Result<Option<T>, ImageError> {
        self.take(key).map(|v| conv(v, &self.path(key))).transpose()
    }

    /// Every key not taken, as written.
    pub(crate) fn extras(&self) -> Map<String, Value> {
        self.map
            .iter()
            .filter(|(k, _)| !self.taken.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
