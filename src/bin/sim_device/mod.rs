//! `ttrt sim-device NAME [--arch ARCH] [--per-client]`: the simulated chip as a device
//! process. Other processes attach to it with `TTRT_DEVICE=shm:NAME` (or the device config's
//! `device` field) and reach it only through shared memory: its memory, a command ring per
//! client and completions. It serves until it is killed (SIGTERM, SIGINT); clients attached
//! then get `TTRT_STATUS_DEVICE_LOST` from their next command instead of waiting.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use ttrt::format::Arch;

pub const USAGE: &str = "\
Usage: ttrt sim-device NAME [--arch ARCH] [--soc-descriptor FILE]
                       [--harvested-rows MASK] [--per-client] [--background]
       ttrt sim-device NAME --stop

Serves a simulated chip as a device process: other processes attach with
TTRT_DEVICE=shm:NAME (or ttrt_device_config.device = \"shm:NAME\") and reach it
only through shared memory. Runs until stopped or killed; attached clients then
get TTRT_STATUS_DEVICE_LOST.

  --arch ARCH      Grayskull, Wormhole_B0 (default) or Blackhole
  --soc-descriptor FILE
                   the chip is the one this Buda SoC descriptor describes (its
                   worker grid, DRAM channels and sizes, L1); its arch_name
                   must be the arch (--arch, else the descriptor's)
  --harvested-rows MASK
                   harvest the Tensix rows of MASK (bit i: NOC row i; e.g. 2050
                   for rows 1 and 11); Grayskull and Wormhole_B0 harvest rows
                   1-5 and 7-11 only, Blackhole none
  --per-client     each attaching client gets a chip of its own (of the arch it
                   asks for), freed when it goes; default: one chip all share
  --background     return once the device serves, leaving it running
  --stop           stop the device process serving NAME";

#[cfg(target_os = "linux")]
pub fn main(args: &[String]) -> ExitCode {
    use ttrt::hal::sim::serve::{serve, ServeConfig};
    let mut cfg = ServeConfig {
        name: String::new(),
        arch: Arch::WormholeB0,
        per_client: false,
        geometry: None,
    };
    let mut arch_given = false;
    let mut descriptor: Option<String> = None;
    let mut mask = 0u64;
    let (mut background, mut stop_it) = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--background" => background = true,
            "--stop" => stop_it = true,
            "--help" | "-h" => {
                outln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--per-client" => cfg.per_client = true,
            "--arch" => {
                let v = it.next().map(String::as_str).unwrap_or("");
                let Some(arch) = Arch::from_name(v) else {
                    eprintln!(
                        "ttrt sim-device: unknown arch `{v}` (Grayskull, Wormhole_B0 or Blackhole)"
                    );
                    return ExitCode::from(2);
                };
                cfg.arch = arch;
                arch_given = true;
            }
            "--soc-descriptor" => match it.next() {
                Some(v) => descriptor = Some(v.clone()),
                None => {
                    eprintln!("ttrt sim-device: --soc-descriptor needs a FILE");
                    return ExitCode::from(2);
                }
            },
            "--harvested-rows" => {
                let v = it.next().map(String::as_str).unwrap_or("");
                match crate::harvested_rows_arg(v) {
                    Ok(m) => mask = m,
                    Err(e) => {
                        eprintln!("ttrt sim-device: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            other if other.starts_with('-') => {
                eprintln!(
                    "ttrt sim-device: unknown option `{other}`; see `ttrt sim-device --help`"
                );
                return ExitCode::from(2);
            }
            other if cfg.name.is_empty() => cfg.name = other.to_string(),
            other => {
                eprintln!("ttrt sim-device: one name at a time (also given `{other}`)");
                return ExitCode::from(2);
            }
        }
    }
    if cfg.name.is_empty() {
        eprintln!("ttrt sim-device: no NAME given\n{USAGE}");
        return ExitCode::from(2);
    }
    if descriptor.is_some() || mask != 0 {
        let desc = match &descriptor {
            Some(path) => match ttrt::hal::soc::read_file(path) {
                Ok(d) => Some(d),
                Err(e) => {
                    eprintln!("ttrt sim-device: --soc-descriptor: {e}");
                    return ExitCode::from(2);
                }
            },
            None => None,
        };
        if let (Some(d), false) = (&desc, arch_given) {
            match d.arch.arch() {
                Some(a) => cfg.arch = a,
                None => {
                    eprintln!(
                        "ttrt sim-device: --soc-descriptor describes a {} chip, which ttrt does not simulate",
                        d.arch.name()
                    );
                    return ExitCode::from(2);
                }
            }
        }
        let named = descriptor.as_deref().unwrap_or_default();
        match ttrt::hal::soc::geometry_for(cfg.arch, desc.as_ref().map(|d| (d, named)), mask) {
            Ok(g) => cfg.geometry = Some(g),
            Err(e) => {
                eprintln!("ttrt sim-device: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if stop_it {
        return match ttrt::hal::shm::stop(&cfg.name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ttrt sim-device: {e}");
                ExitCode::from(1)
            }
        };
    }
    if background {
        return detach(args);
    }
    let stop = AtomicBool::new(false);
    // The device runs the Buda graphs its clients load.
    ttrt::backend::install_graph_firmware();
    let ready = || {
        let mode = if cfg.per_client {
            "a chip per client"
        } else {
            "one shared chip"
        };
        let chip = match cfg.geometry {
            Some(g) => format!(
                ", {}x{} workers, harvested rows mask {}",
                g.worker_grid.1, g.worker_grid.0, g.harvested_rows
            ),
            None => String::new(),
        };
        outln!(
            "ttrt sim-device: serving '{}' ({}{chip}, {mode}); attach with TTRT_DEVICE=shm:{}",
            cfg.name,
            cfg.arch.name(),
            cfg.name
        );
    };
    match serve(&cfg, &stop, ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ttrt sim-device: {e}");
            ExitCode::from(1)
        }
    }
}

/// Starts the same command without `--background`, waits until it serves, and returns.
#[cfg(target_os = "linux")]
fn detach(args: &[String]) -> ExitCode {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--background").collect();
    let child = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .arg("sim-device")
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    });
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ttrt sim-device: cannot start the device process: {e}");
            return ExitCode::from(1);
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line.contains("serving") {
        out!("{line}");
        outln!("ttrt sim-device: pid {}", child.id());
        ExitCode::SUCCESS
    } else {
        // It failed and said why on its stderr. Once it serves, it holds no pipe of ours: a
        // caller waiting for this command's output is not kept waiting for the device.
        let mut why = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut why);
        }
        let _ = child.wait();
        eprint!("{why}");
        ExitCode::from(1)
    }
}

#[cfg(not(target_os = "linux"))]
pub fn main(_args: &[String]) -> ExitCode {
    let _ = (USAGE, Arch::WormholeB0, AtomicBool::new(false));
    eprintln!("ttrt sim-device: device processes need Linux (shared memory and futexes)");
    ExitCode::from(1)
}
