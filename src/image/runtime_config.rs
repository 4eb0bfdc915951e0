//! `compile_and_runtime_config.json` of a TTI image: the `PYBUDA_*` and `TT_BACKEND_*`
//! environment variables of the exporting process, which the backend applies before loading
//! so the image runs with the settings it was compiled with.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::image::{invalid, ImageError};

const FILE: &str = "compile_and_runtime_config.json";

/// Prefixes of the variables PyBuda captures (`get_buda_compile_and_runtime_configs`). Only
/// these are applied: the backend's loader set any name the file held, so an image could set
/// `LD_PRELOAD` or `PATH` for whatever the process starts later; ttrt keeps other names in
/// [`RuntimeConfig::entries`] but does not apply them.
const APPLIED_PREFIXES: [&str; 2] = ["PYBUDA_", "TT_BACKEND_"];

/// The variables of compile_and_runtime_config.json, sorted by name (the JSON reader keeps no
/// file order; the variables are independent, so order carries no meaning).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    entries: Vec<(String, String)>,
}

impl RuntimeConfig {
    /// Reads a flat object of variable name -> value. Values are strings as PyBuda writes
    /// them (it copies `os.environ`); a hand-written integer or float is taken as its decimal
    /// text, `true`/`false` as "1"/"0" (PyBuda reads its flags with `int(...)`); null, lists
    /// and objects are rejected with the variable named.
    pub fn parse(bytes: &[u8]) -> Result<RuntimeConfig, ImageError> {
        let value = crate::image::device_json::reader::document(bytes, FILE)?;
        let Value::Object(map) = value else {
            return invalid!("{FILE}: expected an object of variable name -> value");
        };
        let mut entries = BTreeMap::new();
        for (name, v) in map {
            check_name(&name)?;
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => String::from(if b { "1" } else { "0" }),
                Value::Null => return invalid!("{FILE}: {name}: expected a string, found null"),
                Value::Array(_) => {
                    return invalid!("{FILE}: {name}: expected a string, found a list")
                }
                Value::Object(_) => {
                    return invalid!("{FILE}: {name}: expected a string, found an object")
                }
            };
            if text.contains('\0') {
                return invalid!("{FILE}: {name}: the value holds a NUL byte");
            }
            entries.insert(name, text);
        }
        Ok(RuntimeConfig {
            entries: entries.into_iter().collect(),
        })
    }

    /// Every variable, sorted by name.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of `name`, if the file sets it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets each `PYBUDA_*` / `TT_BACKEND_*` variable that is not already set in the process
    /// environment (set to anything, even empty, counts as set: the user's value wins, as with
    /// `setenv(..., 0)` upstream). Returns the names it set. Call it before starting threads
    /// that read the environment: setting variables is not synchronised with C `getenv`.
    pub fn apply_to_environment(&self) -> Vec<String> {
        let mut set = Vec::new();
        for (name, value) in &self.entries {
            if !APPLIED_PREFIXES.iter().any(|p| name.starts_with(p)) {
                log::warn!(
                    "{FILE}: not applying {name}: only PYBUDA_* and TT_BACKEND_* are applied"
                );
                continue;
            }
            if std::env::var_os(name).is_some() {
                continue;
            }
            std::env::set_var(name, value);
            set.push(name.clone());
        }
        set
    }
}

/// A name `setenv` accepts: not empty, no '=' and no NUL.
fn check_name(name: &str) -> Result<(), ImageError> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return invalid!(
            "{FILE}: {}: not a valid environment variable name (empty, or holds '=' or NUL)",
            Value::String(name.to_string())
        );
    }
    Ok(())
}
