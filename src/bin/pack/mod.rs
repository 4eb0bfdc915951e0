//! `ttrt pack NETLIST --tensors DIR [--arch ARCH] [--name NAME] -o OUT.tti`: a TTI archive in
//! PyBuda's layout from a netlist and the tensors of its constants and parameters.
//!
//! The netlist's host-fed queues are the graph's inputs, except those with a tensor file in
//! DIR: `<queue>.bin`, the queue's one entry as little-endian float32 in
//! `[1, t, rows, cols]` order, which become parameters (ram queues) or constants (queues), as
//! PyBuda's constants and parameters are. Outputs are the queues an op writes and no op reads.
//!
//! A host-fed ram queue is a parameter, and a host-fed queue that an execute reads as a
//! prologue (`prologue: true`) is a constant: PyBuda writes both from tensors and never pushes
//! them as inputs. Each needs its file, or the image would ask the user to push weights as
//! inputs (and run on whatever they push): packing refuses, naming the first one without a
//! file, unless `--no-tensors` says every host-fed queue is to be an input. A netlist with
//! neither packs without `--tensors`.
//! device.json is filled from the netlist the way PyBuda fills it, so `ttrt info` (and
//! PyBuda's own loader) read the archive back.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ttrt::format::{Arch, DataFormat};
use ttrt::image::archive::TarWriter;
use ttrt::image::device_json::{DeviceJson, PackedGraph};
use ttrt::image::tensor_file::host_tensor_descriptor;
use ttrt::image::TTI_ROOT;
use ttrt::netlist::{Instruction, IoType, Netlist, Operand, Queue};

use crate::progress::{Counted, Progress, Unit};

const USAGE: &str = "\
Usage: ttrt pack NETLIST --tensors DIR [--arch ARCH] [--name NAME] -o OUT.tti
  NETLIST        a Buda netlist (.yaml)
  --tensors DIR  <queue>.bin for each constant or parameter queue: its entry as
                 little-endian float32, [1, t, rows, cols]; every host-fed ram
                 queue and every queue read as a prologue needs one
  --no-tensors   make every host-fed queue an input, parameters and constants too
                 (the host pushes them before running)
  --arch ARCH    Grayskull, Wormhole_B0 or Blackhole (default: the netlist's first)
  --name NAME    the device image name (default: the netlist's file stem)
  --harvested-rows MASK
                 compile for a chip with the Tensix rows of MASK harvested (bit
                 i: NOC row i; 2050 for rows 1 and 11): device.json's
                 harvested_rows and grid_size say so, and a backend refuses the
                 image on a device of another mask
  --soc-descriptor FILE
                 the Buda SoC descriptor of the target chip, embedded as
                 backend_build_binaries/device_desc.yaml (as PyBuda does); its
                 worker grid is device.json's grid_size
  -o OUT.tti     the archive to write";

struct Args {
    netlist: PathBuf,
    tensors: Option<PathBuf>,
    no_tensors: bool,
    arch: Option<Arch>,
    name: Option<String>,
    out: PathBuf,
    harvested_rows: u64,
    soc_descriptor: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut netlist, mut tensors, mut arch, mut name, mut out) = (None, None, None, None, None);
    let mut no_tensors = false;
    let (mut harvested_rows, mut soc_descriptor) = (0u64, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match a.as_str() {
            "--tensors" => tensors = Some(PathBuf::from(value("--tensors")?)),
            "--no-tensors" => no_tensors = true,
            "--arch" => {
                let v = value("--arch")?;
                arch = Some(Arch::from_name(&v).ok_or_else(|| {
                    format!("unknown arch `{v}` (Grayskull, Wormhole_B0 or Blackhole)")
                })?);
            }
            "--name" => name = Some(value("--name")?),
            "--harvested-rows" => {
                harvested_rows = crate::harvested_rows_arg(&value("--harvested-rows")?)?;
            }
            "--soc-descriptor" => soc_descriptor = Some(PathBuf::from(value("--soc-descriptor")?)),
            "-o" | "--output" => out = Some(PathBuf::from(value("-o")?)),
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            other if netlist.is_none() => netlist = Some(PathBuf::from(other)),
            other => return Err(format!("one netlist at a time (also given `{other}`)")),
        }
    }
    if no_tensors && tensors.is_some() {
        return Err("--tensors and --no-tensors exclude each other".to_string());
    }
    Ok(Args {
        netlist: netlist.ok_or("no netlist given")?,
        tensors,
        no_tensors,
        arch,
        name,
        out: out.ok_or("no output given (-o OUT.tti)")?,
        harvested_rows,
        soc_descriptor,
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
            eprintln!("ttrt pack: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match pack(&args) {
        Ok(summary) => {
            outln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ttrt pack: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `[1, t, rows, cols]` of one entry of `q`.
fn entry_shape(q: &Queue, arch: Arch) -> [usize; 4] {
    q.layout(arch).host_shape(1)
}

/// A tensor to store: the queue, where its bytes come from, its descriptor.
struct Stored {
    queue: String,
    file: PathBuf,
    size: u64,
    parameter: bool,
    desc: ttrt::image::device_json::TensorDescriptor,
}

fn pack(args: &Args) -> Result<String, String> {
    let shown = args.netlist.display().to_string();
    let text = std::fs::read_to_string(&args.netlist)
        .map_err(|e| format!("{shown}: cannot read the netlist: {e}"))?;
    let netlist = ttrt::netlist::parse(&text, &shown).map_err(|e| e.to_string())?;
    let arch = match args.arch {
        Some(a) => a,
        None => *netlist
            .devices
            .arch
            .first()
            .ok_or_else(|| format!("{shown}: the netlist names no arch; pass --arch"))?,
    };
    let file_name = args
        .netlist
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{shown}: the netlist's file name is not UTF-8"))?
        .to_string();
    let stem = args
        .netlist
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("model")
        .to_string();

    if let Some(dir) = args.tensors.as_deref().filter(|d| !d.is_dir()) {
        let needed = netlist
            .host_fed_queues()
            .find(|q| holds_weights(&netlist, q))
            .map(|q| {
                format!(
                    " (queue {:?} needs its {:?} there)",
                    q.name,
                    format!("{}.bin", q.name)
                )
            })
            .unwrap_or_default();
        return Err(format!(
            "--tensors {}: no such directory{needed}",
            dir.display()
        ));
    }
    let stored = tensors_of(&netlist, arch, args.tensors.as_deref())?;
    if !args.no_tensors {
        check_weights_covered(&netlist, &shown, args.tensors.as_deref(), &stored)?;
    }
    let inputs: Vec<(String, Vec<usize>)> = netlist
        .host_fed_queues()
        .filter(|q| !stored.iter().any(|s| s.queue == q.name))
        .map(|q| (q.name.clone(), entry_shape(q, arch).to_vec()))
        .collect();
    let outputs: Vec<(String, Vec<usize>, DataFormat)> = netlist
        .output_queues()
        .map(|q| (q.name.clone(), entry_shape(q, arch).to_vec(), q.df))
        .collect();
    let graph = netlist
        .graphs()
        .first()
        .ok_or_else(|| format!("{shown}: the netlist has no graph"))?;
    let split = |parameter: bool| {
        stored
            .iter()
            .filter(|s| s.parameter == parameter)
            .map(|s| (s.queue.clone(), s.desc.clone()))
            .collect::<Vec<_>>()
    };
    let device = DeviceJson::for_pack(PackedGraph {
        arch,
        device_image_name: args.name.clone().unwrap_or(stem),
        graph_name: graph.name.clone(),
        microbatch: graph.input_count as usize,
        inputs,
        outputs,
        constants: split(false),
        parameters: split(true),
        netlist_filename: file_name.clone(),
    })
    .map_err(|e| e.to_string())?;
    let mut device = device;
    // The chip the image is compiled for: its worker grid and harvested rows.
    let soc = match &args.soc_descriptor {
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
            let d = std::str::from_utf8(&text)
                .map_err(|e| format!("{shown}: not UTF-8 text ({e})"))
                .and_then(|t| {
                    ttrt::hal::soc::SocDescriptor::parse(t, &shown).map_err(|e| e.to_string())
                })?;
            Some((d, shown, text))
        }
        None => None,
    };
    if soc.is_some() || args.harvested_rows != 0 {
        let g = ttrt::hal::soc::geometry_for(
            arch,
            soc.as_ref().map(|(d, shown, _)| (d, shown.as_str())),
            args.harvested_rows,
        )
        .map_err(|e| e.to_string())?;
        device.grid_size = Some([g.worker_grid.1 as usize, g.worker_grid.0 as usize]);
        if args.harvested_rows != 0 {
            let mask = u32::try_from(args.harvested_rows).map_err(|_| {
                format!(
                    "--harvested-rows {} does not fit 32 bits",
                    args.harvested_rows
                )
            })?;
            device.harvested_rows = vec![mask];
        }
    }

    let out_shown = args.out.display().to_string();
    let io = |e: std::io::Error| format!("{out_shown}: {e}");
    let file = File::create(&args.out).map_err(io)?;
    let mut tar = TarWriter::new(BufWriter::new(file));
    tar.add_dir(TTI_ROOT).map_err(io)?;
    tar.add_file(
        &format!("{TTI_ROOT}device.json"),
        device.to_json().as_bytes(),
    )
    .map_err(io)?;
    tar.add_file(&format!("{TTI_ROOT}compile_and_runtime_config.json"), b"{}")
        .map_err(io)?;
    tar.add_file(&format!("{TTI_ROOT}{file_name}"), text.as_bytes())
        .map_err(io)?;
    if let Some((_, _, bytes)) = &soc {
        tar.add_dir(&format!("{TTI_ROOT}backend_build_binaries"))
            .map_err(io)?;
        tar.add_file(ttrt::image::SOC_DESCRIPTOR_MEMBER, bytes)
            .map_err(io)?;
    }
    if !stored.is_empty() {
        tar.add_dir(&format!("{TTI_ROOT}tensors")).map_err(io)?;
    }
    let total = stored.iter().map(|s| s.size).sum();
    let mut progress = Progress::new(&format!("ttrt pack {out_shown}"), total, Unit::Bytes);
    let mut written = 0u64;
    for s in &stored {
        let f = File::open(&s.file).map_err(|e| format!("{}: {e}", s.file.display()))?;
        let mut counted = Counted {
            inner: f,
            progress: &mut progress,
            done: &mut written,
        };
        tar.add_file_from(&format!("{TTI_ROOT}{}", s.desc.bin), s.size, &mut counted)
            .map_err(io)?;
    }
    drop(progress);
    tar.finish().map_err(io)?;
    Ok(format!(
        "{out_shown}: {} for {}, {} inputs, {} outputs, {} constants, {} parameters",
        file_name,
        arch.name(),
        device.compiled_graph_state.ordered_input_names.len(),
        device.compiled_graph_state.ordered_output_names.len(),
        device
            .compiled_graph_state
            .ordered_constant_node_names
            .len(),
        device
            .compiled_graph_state
            .ordered_parameter_node_names
            .len(),
    ))
}

/// Whether PyBuda would write `q` from a tensor rather than push it as an input: a host-fed
/// ram (a parameter) or a host-fed queue some execute reads as a prologue (a constant).
pub fn holds_weights(netlist: &Netlist, q: &Queue) -> bool {
    if !q.is_host_input() {
        return false;
    }
    q.io_type == IoType::Ram
        || netlist.programs().iter().any(|p| {
            p.instructions.iter().any(|step| match &step.instruction {
                Instruction::Execute(e) => e
                    .queue_setting(&q.name)
                    .is_some_and(|s| matches!(s.prologue, Some(Operand::Imm(v)) if v != 0)),
                _ => false,
            })
        })
}

/// Refuses an archive whose parameters or constants would become inputs: every queue that
/// holds weights needs its tensor file.
fn check_weights_covered(
    netlist: &Netlist,
    shown: &str,
    dir: Option<&Path>,
    stored: &[Stored],
) -> Result<(), String> {
    let missing: Vec<&Queue> = netlist
        .host_fed_queues()
        .filter(|q| holds_weights(netlist, q) && !stored.iter().any(|s| s.queue == q.name))
        .collect();
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let kind = if first.io_type == IoType::Ram {
        "a parameter (a host-fed ram)"
    } else {
        "a constant (read as a prologue)"
    };
    let count = missing.len();
    let others = match count {
        1 => String::new(),
        n => format!("; {n} constant and parameter queues have no file"),
    };
    Err(match dir {
        None => format!(
            "{shown}: queue {:?} is {kind} and no --tensors DIR was given{others}; pass --tensors DIR holding {:?}, or --no-tensors to make them inputs",
            first.name,
            format!("{}.bin", first.name),
        ),
        Some(dir) => format!(
            "--tensors {}: no {:?} for queue {:?}, {kind}{others}",
            dir.display(),
            format!("{}.bin", first.name),
            first.name,
        ),
    })
}

/// The constant and parameter tensors found in `dir`: one `<queue>.bin` per host-fed queue,
/// sized as that queue's entry in float32. A file that names no such queue is an error (a
/// misspelt name would otherwise silently become a model input).
fn tensors_of(netlist: &Netlist, arch: Arch, dir: Option<&Path>) -> Result<Vec<Stored>, String> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let shown = dir.display();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("--tensors {shown}: {e}"))?;
    let mut stored = Vec::new();
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("{shown}: {e}"))?;
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("bin") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            return Err(format!("{}: the file name is not UTF-8", path.display()));
        };
        names.push((stem.to_string(), path));
    }
    names.sort();
    for (name, path) in names {
        let Some(q) = netlist.queue(&name) else {
            return Err(format!(
                "{}: no queue of the netlist is named {name:?}",
                path.display()
            ));
        };
        if !q.is_host_input() {
            return Err(format!(
                "{}: queue {name:?} is written by op {:?}, not loaded from the host",
                path.display(),
                q.input
            ));
        }
        let shape = entry_shape(q, arch);
        let desc = host_tensor_descriptor(&name, DataFormat::Float32, shape, 4)
            .map_err(|e| e.to_string())?;
        let expected: usize = shape.iter().product::<usize>() * 4;
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if size != expected as u64 {
            return Err(format!(
                "{}: expected {expected} bytes (float32 {shape:?} of queue {name:?}), found {size}",
                path.display()
            ));
        }
        stored.push(Stored {
            queue: name,
            file: path,
            size,
            parameter: q.io_type == IoType::Ram,
            desc,
        });
    }
    Ok(stored)
}
