//! `ttrt merge -o OUT.tti A.tti B.tti ...`: one image holding several models, as PyBuda's
//! `tti_merge` makes for embedded deployments (see ttrt::image::merge), and the memory
//! footprint per DRAM and host channel of the merged image's queues.

use std::path::PathBuf;
use std::process::ExitCode;

use ttrt::format::Arch;
use ttrt::image::merge::{merge, MergeOptions};
use ttrt::image::Image;

const USAGE: &str = "\
Usage: ttrt merge -o OUT.tti [--arch ARCH] [--skip-channel-reallocation] [--json] A.tti B.tti ...
  A.tti B.tti ...  the models' images; model i's queues, graphs, ops and programs
                   are renamed model_<i>_<name>
  --arch ARCH      Grayskull or Wormhole_B0 (default: the images'; every image must
                   be for it)
  --skip-channel-reallocation
                   keep every buffer in the channel its model chose, failing when it
                   is full (default: move it to the first channel with room)
  --json           print the memory footprint as JSON
  -o OUT.tti       the merged image to write (nothing is written when the merge
                   fails)";

struct Args {
    inputs: Vec<PathBuf>,
    out: PathBuf,
    options: MergeOptions,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut inputs, mut out, mut json) = (Vec::new(), None, false);
    let mut options = MergeOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match a.as_str() {
            "--arch" => {
                let v = value("--arch")?;
                options.arch = Some(
                    Arch::from_name(&v)
                        .ok_or_else(|| format!("unknown arch `{v}` (Grayskull or Wormhole_B0)"))?,
                );
            }
            "--skip-channel-reallocation" => options.switch_channels = false,
            "--json" => json = true,
            "-o" | "--output" => out = Some(PathBuf::from(value("-o")?)),
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            other => inputs.push(PathBuf::from(other)),
        }
    }
    if inputs.is_empty() {
        return Err("no images given".to_string());
    }
    Ok(Args {
        inputs,
        out: out.ok_or("no output given (-o OUT.tti)")?,
        options,
        json,
    })
}

pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        outln!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ttrt merge: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(report) => {
            outln!("{report}");
            ExitCode::SUCCESS
        }
        // The library's messages start with `merge: `.
        Err(e) if e.starts_with("merge: ") => {
            eprintln!("ttrt {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ttrt merge: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let mut images = Vec::with_capacity(args.inputs.len());
    for p in &args.inputs {
        images.push(Image::open(p).map_err(|e| e.to_string())?);
    }
    let refs: Vec<&Image> = images.iter().collect();
    let merged = merge(&refs, &args.options).map_err(|e| e.to_string())?;
    // Written beside the output and renamed over it, so a failed write leaves no partial image.
    let mut tmp = args.out.clone().into_os_string();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let out = args.out.display();
    if let Err(e) = std::fs::write(&tmp, &merged.bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: cannot write: {e}", tmp.display()));
    }
    if let Err(e) = std::fs::rename(&tmp, &args.out) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{out}: cannot write: {e}"));
    }
    if args.json {
        return Ok(merged.footprint.to_json());
    }
    Ok(format!(
        "{}merged {} models into {out} ({} bytes)",
        merged.footprint.report(),
        images.len(),
        merged.bytes.len()
    ))
}
