//! `ttrt run IMAGE [--loops N] [--inputs DIR] [--labels FILE] [--outputs DIR] [--cqs 2]
//! [--param NAME=VALUE]...`: the embedded loader's loop on the simulated device. Each loop
//! pushes input_count entries into every input queue, runs every program in netlist order and
//! reads (then pops) input_count entries of every output queue.
//!
//! Inputs come from `DIR/<input>.bin` (little-endian float32, whole entries back to back; with
//! one input, `DIR/test_inputs.bin` too), by default from the directory named like the image
//! next to it (`examples/digits/` for `examples/digits.tti`); without files, every loop pushes
//! the pattern `((i * 7 + 3) % 17) / 16 - 0.5` over the flat index `i` of the pushed tensor, in
//! the queue's host format, which `c-examples/tti_loader.c` pushes too. With labels
//! (`--labels FILE`, or `test_labels.bin` in the inputs directory: one byte per sample), the
//! first output's rows are classified by their largest column among the label values, and the
//! accuracy is reported.
//!
//! Each output's checksum is FNV-1a (64-bit) over the bytes get_output returned, all loops in
//! order.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{contiguous_strides, DataFormat, HostTensor, HostTensorMut};
use ttrt::image::Image;

const USAGE: &str = "\
Usage: ttrt run IMAGE [--loops N] [--inputs DIR] [--labels FILE] [--outputs DIR]
                      [--cqs 1|2] [--param NAME=VALUE]...
  IMAGE          a .tti archive or a netlist .yaml
  --loops N      loops to run (default: as many as the input files hold, else 1)
  --inputs DIR   <input>.bin per input: float32 entries back to back (default: the
                 directory named like the image, when it exists)
  --labels FILE  one byte per sample: report the accuracy of the first output
  --outputs DIR  write <output>.bin: every loop's output as get_output returned it
  --cqs 1|2      command queues of the simulated device (2: transfers on CQ 1)
  --param N=V    a program parameter (default: every declared parameter is 1)";

struct Args {
    image: PathBuf,
    loops: Option<usize>,
    inputs: Option<PathBuf>,
    labels: Option<PathBuf>,
    outputs: Option<PathBuf>,
    cqs: u8,
    params: Vec<(String, String)>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        image: PathBuf::new(),
        loops: None,
        inputs: None,
        labels: None,
        outputs: None,
        cqs: 1,
        params: Vec::new(),
    };
    let mut image = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match arg.as_str() {
            "--loops" => {
                let v = value("--loops")?;
                a.loops = Some(
                    v.parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("--loops {v}: a positive count is needed"))?,
                );
            }
            "--inputs" => a.inputs = Some(value("--inputs")?.into()),
            "--labels" => a.labels = Some(value("--labels")?.into()),
            "--outputs" => a.outputs = Some(value("--outputs")?.into()),
            "--cqs" => {
                a.cqs = match value("--cqs")?.as_str() {
                    "1" => 1,
                    "2" => 2,
                    v => return Err(format!("--cqs {v}: 1 or 2")),
                }
            }
            "--param" => {
                let v = value("--param")?;
                let (n, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--param {v}: NAME=VALUE expected"))?;
                a.params.push((n.to_string(), val.to_string()));
            }
            "--help" | "-h" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            other if image.is_none() => image = Some(PathBuf::from(other)),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    a.image = image.ok_or("IMAGE is missing")?;
    Ok(a)
}

pub fn main(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            outln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ttrt run: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ttrt run: {e}");
            ExitCode::FAILURE
        }
    }
}

/// FNV-1a, 64-bit.
pub fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The pattern value of flat index `i` (exact in every float host format).
fn pattern(i: usize) -> f32 {
    ((i * 7 + 3) % 17) as f32 / 16.0 - 0.5
}

/// Writes `v` as one item of a host format.
fn put(v: f32, format: DataFormat, out: &mut [u8]) {
    match format {
        DataFormat::Float32 => out.copy_from_slice(&v.to_le_bytes()),
        DataFormat::Float16B => out.copy_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes()),
        DataFormat::Float16 => out.copy_from_slice(&half(v).to_le_bytes()),
        DataFormat::Int8 | DataFormat::UInt8 | DataFormat::RawUInt8 => {
            out[0] = ((v + 0.5) * 16.0) as u8
        }
        DataFormat::UInt16 | DataFormat::RawUInt16 => {
            out.copy_from_slice(&(((v + 0.5) * 16.0) as u16).to_le_bytes())
        }
        _ => out.copy_from_slice(&(((v + 0.5) * 16.0) as u32).to_le_bytes()),
    }
}

/// IEEE half bits of a float that half holds exactly (the pattern's values).
fn half(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let e = ((b >> 23) & 0xff) as i32;
    if v == 0.0 {
        return sign;
    }
    let m = (b >> 13) & 0x3ff;
    sign | (((e - 127 + 15) as u16) << 10) | m as u16
}

struct InputData {
    name: String,
    format: DataFormat,
    shape: [usize; 4],
    /// Every entry's bytes, from a file (float32) or the pattern (host format).
    bytes: Vec<u8>,
    entries: usize,
}

fn default_dir(image: &Path) -> Option<PathBuf> {
    let stem = image.file_stem()?;
    let dir = image.with_file_name(stem);
    (image.extension().is_some_and(|e| e == "tti") && dir.is_dir()).then_some(dir)
}

fn run(args: &Args) -> Result<(), String> {
    let image = Image::open(&args.image).map_err(|e| e.to_string())?;
    let config = BackendConfig {
        arch: None,
        num_command_queues: args.cqs,
    };
    let backend = Backend::create(&image, &config).map_err(|e| e.to_string())?;
    backend.initialize().map_err(|e| e.to_string())?;
    let dir = args.inputs.clone().or_else(|| default_dir(&args.image));
    let names = image.input_names();

    let mut inputs = Vec::new();
    for name in names {
        let d = backend.queue_desc(name).map_err(|e| e.to_string())?;
        let n = d.input_count as usize;
        let entry_shape = d.layout.host_shape(1);
        let entry_items: usize = entry_shape.iter().product();
        let file = dir.as_ref().and_then(|dir| {
            let own = dir.join(format!("{name}.bin"));
            let single = dir.join("test_inputs.bin");
            if own.is_file() {
                Some(own)
            } else if names.len() == 1 && single.is_file() {
                Some(single)
            } else {
                None
            }
        });
        let shape = d.layout.host_shape(n);
        match file {
            Some(f) => {
                let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
                let entry_bytes = entry_items * 4;
                if bytes.is_empty() || bytes.len() % (entry_bytes * n) != 0 {
                    return Err(format!(
                        "{}: {} B is not a whole number of {n}-entry pushes of {entry_bytes} B (float32 {:?} per entry)",
                        f.display(),
                        bytes.len(),
                        entry_shape
                    ));
                }
                let entries = bytes.len() / entry_bytes;
                inputs.push(InputData {
                    name: name.clone(),
                    format: DataFormat::Float32,
                    shape,
                    bytes,
                    entries,
                });
            }
            None => {
                let format = d.layout.format.host_compatible();
                let item = format.host_item_size().unwrap_or(4);
                let items: usize = shape.iter().product();
                let mut bytes = vec![0u8; items * item];
                for (i, chunk) in bytes.chunks_exact_mut(item).enumerate() {
                    put(pattern(i), format, chunk);
                }
                inputs.push(InputData {
                    name: name.clone(),
                    format,
                    shape,
                    bytes,
                    entries: n,
                });
            }
        }
    }
    let loops = args.loops.unwrap_or_else(|| {
        inputs
            .iter()
            .map(|i| i.entries / i.shape[0].max(1))
            .max()
            .unwrap_or(1)
            .max(1)
    });

    let labels = match args.labels.clone().or_else(|| {
        dir.as_ref()
            .map(|d| d.join("test_labels.bin"))
            .filter(|p| p.is_file())
    }) {
        Some(p) => Some(std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };

    // Parameters: every declared one is 1 unless given.
    let mut params: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for p in backend.netlist().programs() {
        let mut list = Vec::new();
        for name in p.params() {
            let value = args
                .params
                .iter()
                .find(|(n, _)| n.trim_start_matches('$') == name)
                .map_or("1".to_string(), |(_, v)| v.clone());
            list.push((format!("${name}"), value));
        }
        params.push((p.name.clone(), list));
    }
    // Borrowed once, outside the timed loop.
    let params: Vec<(&str, Vec<(&str, &str)>)> = params
        .iter()
        .map(|(p, list)| {
            (
                p.as_str(),
                list.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            )
        })
        .collect();

    struct Out {
        name: String,
        format: DataFormat,
        shape: [usize; 4],
        buf: Vec<u8>,
        checksum: u64,
        all: Vec<u8>,
    }
    let mut outputs = Vec::new();
    for name in image.output_names() {
        let (format, shape) = backend
            .output_format(
                name,
                backend
                    .queue_desc(name)
                    .map_err(|e| e.to_string())?
                    .input_count as usize,
            )
            .map_err(|e| e.to_string())?;
        let item = format.host_item_size().unwrap_or(4);
        outputs.push(Out {
            name: name.clone(),
            format,
            shape,
            buf: vec![0u8; shape.iter().product::<usize>() * item],
            checksum: FNV_OFFSET,
            all: Vec::new(),
        });
    }

    let (mut t_push, mut t_run, mut t_get) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut correct = 0usize;
    let mut classified = 0usize;
    let classes = labels
        .as_ref()
        .map(|l| l.iter().copied().max().unwrap_or(0) as usize + 1);
    let start = Instant::now();
    for l in 0..loops {
        let t0 = Instant::now();
        for inp in &inputs {
            let item = inp.format.host_item_size().unwrap_or(4);
            let per_push = inp.shape.iter().product::<usize>() * item;
            let pushes = (inp.bytes.len() / per_push).max(1);
            let at = (l % pushes) * per_push;
            let t = HostTensor {
                data: &inp.bytes[at..at + per_push],
                format: inp.format,
                shape: inp.shape,
                strides: contiguous_strides(inp.shape, item),
            };
            backend
                .push_input(&inp.name, &t, false, -1, -1)
                .map_err(|e| e.to_string())?;
        }
        let t1 = Instant::now();
        for (program, list) in &params {
            backend
                .run_program(program, list)
                .map_err(|e| e.to_string())?;
        }
        let t2 = Instant::now();
        for (k, o) in outputs.iter_mut().enumerate() {
            let item = o.format.host_item_size().unwrap_or(4);
            let mut dst = HostTensorMut {
                data: &mut o.buf,
                format: o.format,
                shape: o.shape,
                strides: contiguous_strides(o.shape, item),
            };
            backend
                .get_output_into(&o.name, &mut dst, false, -1, -1)
                .map_err(|e| e.to_string())?;
            backend
                .pop_output(&o.name, false, -1)
                .map_err(|e| e.to_string())?;
            o.checksum = fnv1a(o.checksum, &o.buf);
            if args.outputs.is_some() {
                o.all.extend_from_slice(&o.buf);
            }
            if let (0, Some(labels), Some(classes)) = (k, labels.as_ref(), classes) {
                let cols = o.shape[3];
                let rows = o.shape[0] * o.shape[1] * o.shape[2];
                for r in 0..rows {
                    let sample = l * rows + r;
                    let Some(&label) = labels.get(sample) else {
                        continue;
                    };
                    let value = |c: usize| value_at(&o.buf, o.format, r * cols + c);
                    let best =
                        (0..classes.min(cols))
                            .fold(0, |b, c| if value(c) > value(b) { c } else { b });
                    classified += 1;
                    correct += (best == label as usize) as usize;
                }
            }
        }
        let t3 = Instant::now();
        t_push += t1 - t0;
        t_run += t2 - t1;
        t_get += t3 - t2;
    }
    let total = start.elapsed();
    backend.finish().map_err(|e| e.to_string())?;

    outln!(
        "image {} ({}), {loops} loop{}",
        args.image.display(),
        backend.arch().name(),
        if loops == 1 { "" } else { "s" }
    );
    for o in &outputs {
        outln!(
            "output {} shape {:?} format {} checksum {:#018x}",
            o.name,
            o.shape,
            o.format.name(),
            o.checksum
        );
        if let Some(dir) = &args.outputs {
            let path = dir.join(format!("{}.bin", o.name));
            std::fs::write(&path, &o.all).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let secs = total.as_secs_f64().max(1e-9);
    outln!(
        "{loops} loops in {:.3} ms: {:.1} loops/s (push {:.0}%, run_program {:.0}%, get+pop {:.0}%)",
        secs * 1e3,
        loops as f64 / secs,
        100.0 * t_push.as_secs_f64() / secs,
        100.0 * t_run.as_secs_f64() / secs,
        100.0 * t_get.as_secs_f64() / secs
    );
    if classified > 0 {
        outln!(
            "accuracy {correct}/{classified} = {:.2}% over the labelled samples; {:.0} inferences/s",
            100.0 * correct as f64 / classified as f64,
            classified as f64 / secs
        );
    }
    Ok(())
}

/// Value `i` of a host buffer as f32.
fn value_at(buf: &[u8], format: DataFormat, i: usize) -> f32 {
    let item = format.host_item_size().unwrap_or(4);
    ttrt::format::element::from_host(&buf[i * item..], format)
}
