//! Timeouts of push, get and pop: the caller's, or upstream's environment overrides.
//!
//! tt-budabackend's push_input, get_output and pop_output replace the timeout they are called
//! with by `TT_BACKEND_PUSH_TIMEOUT`, `TT_BACKEND_GET_TIMEOUT` and `TT_BACKEND_POP_TIMEOUT`
//! when the variable is set (whole seconds; PyBuda sets them for slow runs, and images carry
//! them in compile_and_runtime_config.json). ttrt does the same, with these decisions:
//! - the variables are read once, when the backend is created (upstream read them on every
//!   call): the hot path reads no environment and allocates nothing;
//! - the value is a whole number of seconds, surrounding blanks allowed; `< 0` waits forever,
//!   `0` tries once, `> 0` waits at most that long (ttrt's millisecond rules, times 1000,
//!   saturating); set but empty counts as not set; anything else is refused at create with
//!   the variable named (upstream's `std::stoi` threw out of the call);
//! - the override applies to every push_input (not to initialize's loads), to get_output in
//!   both forms, and to pop_output.

use alloc::string::String;
use core::fmt;

use super::error::{err, BackendError};

/// A wait of push, get or pop, and where its length came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeout {
    /// `< 0` forever, `0` one try, `> 0` at most that many milliseconds.
    pub ms: i32,
    /// The variable that set it, if an override did.
    pub env: Option<&'static str>,
}

impl Timeout {
    /// The caller's timeout.
    pub const fn given(ms: i32) -> Timeout {
        Timeout { ms, env: None }
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.ms)?;
        if let Some(name) = self.env {
            write!(f, " (set by {name})")?;
        }
        Ok(())
    }
}

pub(crate) const PUSH: &str = "TT_BACKEND_PUSH_TIMEOUT";
pub(crate) const GET: &str = "TT_BACKEND_GET_TIMEOUT";
pub(crate) const POP: &str = "TT_BACKEND_POP_TIMEOUT";

/// The overrides in force for one backend, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimeoutOverrides {
    pub push: Option<i32>,
    pub get: Option<i32>,
    pub pop: Option<i32>,
}

impl TimeoutOverrides {
    /// Reads the three variables of the process environment.
    pub fn from_env() -> Result<TimeoutOverrides, BackendError> {
        let read = |name: &'static str| match std::env::var(name) {
            Ok(v) => parse(name, &v),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => parse(name, &v.to_string_lossy()),
        };
        Ok(TimeoutOverrides {
            push: read(PUSH)?,
            get: read(GET)?,
            pop: read(POP)?,
        })
    }

    /// The timeout of a call given `ms`, under the override of variable `name` (`None`: the
    /// call's own).
    pub fn apply(override_ms: Option<i32>, name: &'static str, ms: i32) -> Timeout {
        match override_ms {
            Some(ms) => Timeout {
                ms,
                env: Some(name),
            },
            None => Timeout::given(ms),
        }
    }
}

/// A variable's value in seconds as milliseconds; `None` when empty.
fn parse(name: &str, value: &str) -> Result<Option<i32>, BackendError> {
    let text = value.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return err!(
            InvalidArgument,
            "{name} is {}: expected a whole number of seconds (< 0 waits forever, 0 tries once)",
            quoted(value)
        );
    }
    // Any run of digits: a value beyond i64 still means "longer than i32 milliseconds".
    let seconds: i64 = match text.parse::<i64>() {
        Ok(s) => s,
        Err(_) if text.starts_with('-') => i64::MIN,
        Err(_) => i64::MAX,
    };
    let ms = seconds.saturating_mul(1000);
    Ok(Some(if ms < 0 {
        -1
    } else {
        i32::try_from(ms).unwrap_or(i32::MAX)
    }))
}

fn quoted(value: &str) -> String {
    alloc::format!("{value:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_whole_seconds_made_milliseconds() {
        assert_eq!(parse(PUSH, "5").unwrap(), Some(5000));
        assert_eq!(parse(PUSH, " 0 ").unwrap(), Some(0));
        assert_eq!(parse(PUSH, "+2").unwrap(), Some(2000));
        assert_eq!(parse(PUSH, "-1").unwrap(), Some(-1));
        assert_eq!(parse(PUSH, "-99999999999999999999999").unwrap(), Some(-1));
        assert_eq!(parse(PUSH, "3000000").unwrap(), Some(i32::MAX));
        assert_eq!(
            parse(PUSH, "99999999999999999999999").unwrap(),
            Some(i32::MAX)
        );
        assert_eq!(parse(PUSH, "").unwrap(), None);
        assert_eq!(parse(PUSH, "  ").unwrap(), None);
        for bad in ["10s", "1.5", "-", "ten", "0x10"] {
            let e = parse(GET, bad).unwrap_err();
            assert_eq!(
                e.message,
                alloc::format!(
                    "TT_BACKEND_GET_TIMEOUT is {bad:?}: expected a whole number of seconds (< 0 waits forever, 0 tries once)"
                )
            );
        }
    }

    #[test]
    fn an_override_replaces_the_callers_timeout_and_says_so() {
        let t = TimeoutOverrides::apply(Some(0), POP, -1);
        assert_eq!(t.ms, 0);
        assert_eq!(
            alloc::format!("{t}"),
            "0 ms (set by TT_BACKEND_POP_TIMEOUT)"
        );
        let t = TimeoutOverrides::apply(None, POP, 250);
        assert_eq!(alloc::format!("{t}"), "250 ms");
    }
}
