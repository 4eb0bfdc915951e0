//! `ttrt`: the command-line tool. Subcommands arrive with the layers they drive.

#[macro_use]
mod output;

mod bench;
mod info;
mod pack;
mod progress;
mod run;

use std::process::ExitCode;

const USAGE: &str = "\
ttrt - embedded runtime for Tenstorrent accelerators (simulated device by default)

Usage:
  ttrt --version        print the library version and ABI version
  ttrt --help           print this help
  ttrt info IMAGE [--json]
                        summarize a .tti archive or a netlist: versions, arch,
                        grid, inputs and targets, queues and programs
  ttrt pack NETLIST --tensors DIR [--arch ARCH] -o OUT.tti
                        write a TTI archive in PyBuda's layout
  ttrt run IMAGE [--loops N] [--inputs DIR] [--labels FILE] [--outputs DIR]
                        the embedded loader's loop on the simulated device:
                        outputs' checksums, accuracy with labels, loops/s
  ttrt bench [SUITE...] [--quick]
                        measure against baselines: formats, device, netlist,
                        backend, pipeline
                        (`ttrt bench --help` for the suites)

The C library is libttrt.so / libttrt.a with include/ttrt.h; see README.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
        Some("pack") => pack::main(&args[1..]),
        Some("run") => run::main(&args[1..]),
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
