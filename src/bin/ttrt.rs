//! `ttrt`: the command-line tool. Subcommands arrive with the layers they drive.

#[macro_use]
mod output;

mod bench;
mod info;
mod merge;
mod pack;
mod progress;
mod run;
mod sim_device;

use std::ffi::{c_char, c_void, CStr};
use std::process::ExitCode;

use ttrt::ffi::log::{parse_log_spec, ttrt_log_level, ttrt_set_log_callback};

const USAGE: &str = "\
ttrt - embedded runtime for Tenstorrent accelerators (simulated device by default)

Usage:
  ttrt [-v | -vv | -vvv | -q] COMMAND ...
                        log to stderr at info, debug or trace, or errors only
                        (default: the level TTRT_LOG names, else warnings)
  ttrt --version        print the library version and ABI version
  ttrt --help           print this help
  ttrt info IMAGE [--json]
                        summarize a .tti archive or a netlist: versions, arch,
                        grid, inputs and targets, queues and programs
  ttrt merge -o OUT.tti [--arch ARCH] [--json] A.tti B.tti ...
                        merge models' images into one (names prefixed model_<i>_,
                        queues placed again) and print the memory footprint per
                        DRAM and host channel
  ttrt pack NETLIST (--tensors DIR | --no-tensors) [--arch ARCH] -o OUT.tti
                        write a TTI archive in PyBuda's layout (--no-tensors:
                        parameters and constants become inputs)
  ttrt run IMAGE [--loops N] [--inputs DIR] [--labels FILE] [--outputs DIR]
               [--cqs 1|2] [--param NAME=VALUE]...
                        the embedded loader's loop on the simulated device (or a
                        smoke test of any netlist): outputs' shapes and checksums,
                        accuracy with labels, loops/s (`ttrt run --help`)
  ttrt sim-device NAME [--arch ARCH] [--per-client]
                        serve a simulated chip as a device process that others
                        attach to with TTRT_DEVICE=shm:NAME (shared memory)
  ttrt bench [SUITE...] [--quick]
                        measure against baselines: formats, device, netlist,
                        backend, pipeline
                        (`ttrt bench --help` for the suites)

The C library is libttrt.so / libttrt.a with include/ttrt.h; see README.md.";

/// Prints one log record to stderr: `ttrt: LEVEL target: message`.
unsafe extern "C" fn print_record(
    _user: *mut c_void,
    level: ttrt_log_level,
    target: *const c_char,
    message: *const c_char,
) {
    let level = match level {
        ttrt_log_level::Error => "error",
        ttrt_log_level::Warn => "warn",
        ttrt_log_level::Info => "info",
        ttrt_log_level::Debug => "debug",
        ttrt_log_level::Trace => "trace",
        ttrt_log_level::Off => return,
    };
    // SAFETY: ttrt passes two NUL-terminated strings, valid during the call.
    let (target, message) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(message)) };
    eprintln!(
        "ttrt: {level} {}: {}",
        target.to_string_lossy(),
        message.to_string_lossy()
    );
}

/// Takes the global flags `-v`, `-vv`, `-vvv`, `-q` (and `--verbose`, `--quiet`) from the front
/// of `args` and sends log records to stderr at their level, else at the level `TTRT_LOG`
/// names, else warnings and errors.
fn set_up_logging(args: &mut Vec<String>) -> Result<(), String> {
    let mut level = None;
    while let Some(flag) = args.first() {
        let l = match flag.as_str() {
            "-q" | "--quiet" => ttrt_log_level::Error,
            "-v" | "--verbose" => ttrt_log_level::Info,
            "-vv" => ttrt_log_level::Debug,
            "-vvv" => ttrt_log_level::Trace,
            _ => break,
        };
        level = Some(l);
        args.remove(0);
    }
    let level = match level {
        Some(l) => l,
        None => {
            let value = std::env::var("TTRT_LOG").unwrap_or_default();
            parse_log_spec(&value)
                .map_err(|why| format!("TTRT_LOG is {value:?}: {why}"))?
                .unwrap_or(ttrt_log_level::Warn)
        }
    };
    let status = ttrt_set_log_callback(Some(print_record), std::ptr::null_mut(), level as u32);
    if status != ttrt::ffi::ttrt_status::Success {
        // SAFETY: never NULL.
        let text = unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) };
        return Err(text.to_string_lossy().into_owned());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = set_up_logging(&mut args) {
        eprintln!("ttrt: {e}");
        return ExitCode::from(2);
    }
    match args.first().map(String::as_str) {
        Some("--version") | Some("-V") => {
            outln!(
                "ttrt {} (ABI {})",
                ttrt::version::VERSION,
                ttrt::version::ABI
            );
            ExitCode::SUCCESS
        }
        Some("bench") => bench::main(&args[1..]),
        Some("info") => info::main(&args[1..]),
        Some("merge") => merge::main(&args[1..]),
        Some("pack") => pack::main(&args[1..]),
        Some("run") => run::main(&args[1..]),
        Some("sim-device") => sim_device::main(&args[1..]),
        Some("--help") | Some("-h") | None => {
            outln!("{USAGE}");
            if args.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(other) => {
            eprintln!("ttrt: unknown command `{other}`; see `ttrt --help`");
            ExitCode::from(2)
        }
    }
}

/// The value of `--harvested-rows` (run, pack, info, sim-device): Buda's mask, bit `i` for NOC
/// row `i`, as an integer or `0x` hex.
fn harvested_rows_arg(v: &str) -> Result<u64, String> {
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    }
    .map_err(|_| format!("--harvested-rows `{v}` is not a mask (an integer, or 0x hex)"))
}
