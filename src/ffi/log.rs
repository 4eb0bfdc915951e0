//! Log records from the `log` crate, delivered to a C callback.
//!
//! By default nothing is printed: no logger is installed until the program registers a callback.
//! The callback and its user pointer are kept as one pair under a sequence counter, so a record
//! never sees the callback of one registration with the user pointer of another, and reading
//! them takes no lock. Messages are formatted into stack buffers: logging never allocates.
//! `ttrt_init_log_from_env` takes the level from `TTRT_LOG` ([`parse_log_spec`]).

use core::ffi::{c_char, c_void};
use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use super::boundary::call;
use super::error::{ArgError, CallError, MessageBuf};

/// Severity of a log record, and the most verbose level a callback receives.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ttrt_log_level {
    /// No records (as `max_level`: logging off).
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// Receives one log record: its level, its target (the ttrt module that wrote it, e.g.
/// `"ttrt::runtime::trace"`) and its message (one line). Both strings are valid only during the
/// call. The callback may be called from any thread that uses ttrt, including the device worker
/// threads, and must be thread-safe.
pub type ttrt_log_callback = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        level: ttrt_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

type Callback = unsafe extern "C" fn(*mut c_void, ttrt_log_level, *const c_char, *const c_char);

/// Registration: odd while being changed.
static SEQ: AtomicUsize = AtomicUsize::new(0);
static CALLBACK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
static USER: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
static INSTALLED: AtomicBool = AtomicBool::new(false);

struct CallbackLogger;
static LOGGER: CallbackLogger = CallbackLogger;

fn register(cb: ttrt_log_callback, user: *mut c_void) {
    let mut seq = SEQ.load(Ordering::Relaxed);
    loop {
        if seq % 2 == 1 {
            core::hint::spin_loop();
            seq = SEQ.load(Ordering::Relaxed);
            continue;
        }
        match SEQ.compare_exchange_weak(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => break,
            Err(now) => seq = now,
        }
    }
    fence(Ordering::Release);
    let raw = cb.map_or(core::ptr::null_mut(), |f| f as *mut ());
    CALLBACK.store(raw, Ordering::Relaxed);
    USER.store(user, Ordering::Relaxed);
    SEQ.store(seq + 2, Ordering::Release);
}

fn registration() -> Option<(Callback, *mut c_void)> {
    loop {
        let before = SEQ.load(Ordering::Acquire);
        if before % 2 == 1 {
            core::hint::spin_loop();
            continue;
        }
        let raw = CALLBACK.load(Ordering::Relaxed);
        let user = USER.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if SEQ.load(Ordering::Relaxed) != before {
            continue;
        }
        if raw.is_null() {
            return None;
        }
        // SAFETY: `raw` was stored from a `Callback` in `register`; fn pointers and data
        // pointers have the same size on every target ttrt supports.
        let cb = unsafe { core::mem::transmute::<*mut (), Callback>(raw) };
        return Some((cb, user));
    }
}

fn level_of(level: log::Level) -> ttrt_log_level {
    match level {
        log::Level::Error => ttrt_log_level::Error,
        log::Level::Warn => ttrt_log_level::Warn,
        log::Level::Info => ttrt_log_level::Info,
        log::Level::Debug => ttrt_log_level::Debug,
        log::Level::Trace => ttrt_log_level::Trace,
    }
}

fn filter_of(level: u32) -> Option<log::LevelFilter> {
    Some(match level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        5 => log::LevelFilter::Trace,
        _ => return None,
    })
}

impl log::Log for CallbackLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some((cb, user)) = registration() else {
            return;
        };
        let mut target = MessageBuf::<128>::new();
        target.set(format_args!("{}", record.target()));
        let mut message = MessageBuf::<1024>::new();
        message.set(*record.args());
        // SAFETY: the callback was registered by the program for exactly this call; both
        // strings are NUL-terminated and live until it returns.
        unsafe {
            cb(
                user,
                level_of(record.level()),
                target.as_c_ptr(),
                message.as_c_ptr(),
            )
        };
    }

    fn flush(&self) {}
}

fn logger_is_ours() -> bool {
    let current = log::logger() as *const dyn log::Log as *const ();
    core::ptr::eq(current, &LOGGER as *const CallbackLogger as *const ())
}

/// Sends ttrt's log records up to `max_level` (a `ttrt_log_level`) to `cb`, with `user` passed
/// back unchanged. A NULL `cb`, or `max_level` `TTRT_LOG_LEVEL_OFF`, turns logging off. By
/// default nothing is logged and nothing is printed. Replaces any earlier registration.
#[no_mangle]
pub extern "C" fn ttrt_set_log_callback(
    cb: ttrt_log_callback,
    user: *mut c_void,
    max_level: u32,
) -> super::ttrt_status {
    call("ttrt_set_log_callback", || {
        let filter = filter_of(max_level).ok_or(ArgError::Range {
            arg: "max_level",
            found: max_level.into(),
            allowed: "TTRT_LOG_LEVEL_OFF (0) .. TTRT_LOG_LEVEL_TRACE (5)",
        })?;
        install(cb, user, filter)
    })
}

/// Registers `cb` and `user` and lets records up to `filter` through.
fn install(
    cb: ttrt_log_callback,
    user: *mut c_void,
    filter: log::LevelFilter,
) -> Result<(), CallError> {
    if !INSTALLED.load(Ordering::Acquire) {
        if log::set_logger(&LOGGER).is_err() && !logger_is_ours() {
            return Err(CallError::OtherLogger);
        }
        INSTALLED.store(true, Ordering::Release);
    }
    register(cb, user);
    log::set_max_level(if cb.is_some() {
        filter
    } else {
        log::LevelFilter::Off
    });
    Ok(())
}

/// The level names of [`parse_log_spec`], least verbose first.
const LEVELS: [(&str, ttrt_log_level); 6] = [
    ("off", ttrt_log_level::Off),
    ("error", ttrt_log_level::Error),
    ("warn", ttrt_log_level::Warn),
    ("info", ttrt_log_level::Info),
    ("debug", ttrt_log_level::Debug),
    ("trace", ttrt_log_level::Trace),
];

fn level_named(name: &str) -> Option<ttrt_log_level> {
    LEVELS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|&(_, l)| l)
}

/// Reads a log level as `TTRT_LOG` gives it: `off`, `error`, `warn`, `info`, `debug` or
/// `trace` (any case), or `RUST_LOG`-style directives separated by commas, where `ttrt=LEVEL`
/// sets ttrt's level (over a bare level) and directives for other targets are ignored.
/// `Ok(None)`: the spec sets no level for ttrt (empty, or only other targets). The error says
/// what is wrong with the spec.
pub fn parse_log_spec(spec: &str) -> Result<Option<ttrt_log_level>, &'static str> {
    const EXPECTED: &str =
        "expected off, error, warn, info, debug or trace, or RUST_LOG-style ttrt=LEVEL";
    let (mut bare, mut ours) = (None, None);
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.split_once('=') {
            None => bare = Some(level_named(directive).ok_or(EXPECTED)?),
            Some((target, level)) => {
                let target = target.trim();
                if target == "ttrt" {
                    ours = Some(level_named(level).ok_or(EXPECTED)?);
                } else if target.starts_with("ttrt::") {
                    return Err("levels per ttrt module are not supported: use ttrt=LEVEL");
                }
            }
        }
    }
    Ok(ours.or(bare))
}

/// Sends ttrt's log records to `cb` (with `user` passed back) up to the level the environment
/// variable `TTRT_LOG` names: `off`, `error`, `warn`, `info`, `debug` or `trace`, or
/// `RUST_LOG`-style directives such as `warn,ttrt=debug` (`ttrt=LEVEL` wins; other targets
/// are ignored). Unset or empty: `warn`. A value it cannot read is
/// `TTRT_STATUS_INVALID_ARGUMENT`, naming the variable and its value, and changes nothing.
/// A NULL `cb` is refused. Builds with `std` only.
#[cfg(feature = "std")]
#[no_mangle]
pub extern "C" fn ttrt_init_log_from_env(
    cb: ttrt_log_callback,
    user: *mut c_void,
) -> super::ttrt_status {
    call("ttrt_init_log_from_env", || {
        if cb.is_none() {
            return Err(ArgError::Null { arg: "cb" }.into());
        }
        let value = std::env::var_os("TTRT_LOG").unwrap_or_default();
        let level = match value.to_str() {
            Some(text) => parse_log_spec(text).map_err(|why| CallError::LogSpec {
                value: text.into(),
                why,
            })?,
            None => {
                return Err(CallError::LogSpec {
                    value: value.to_string_lossy().into_owned(),
                    why: "not valid UTF-8",
                })
            }
        };
        let level = level.unwrap_or(ttrt_log_level::Warn);
        let filter = filter_of(level as u32).unwrap_or(log::LevelFilter::Warn);
        install(cb, user, filter)
    })
}
