//! `ttrt run IMAGE [--loops N] [--inputs DIR] [--labels FILE] [--outputs DIR] [--cqs 2]
//! [--param NAME=VALUE]...`: the embedded loader's loop on the simulated device, and a smoke
//! test of any netlist. Each loop runs every program once, in netlist order (except that a
//! program reading a queue another program writes runs after it), with its declared
//! parameters (`--param`, else 1, and the defaulted ones are listed).
//!
//! Constants and parameters that the image does not carry (every one of a bare netlist: its
//! host-fed rams and the host-fed queues read as a prologue) are written once before the
//! first loop, every entry of the queue, from `DIR/<queue>.bin` or seeded values (multiples
//! of 1/16 in [-1, 1)). The other host-fed queues are streamed: while the programs run on one
//! thread, this one pushes entries into them whenever they have room and pops the outputs
//! whenever they hold an entry, as an embedded loop does, so a program may consume more
//! entries than a queue holds, and the host holds one entry per queue.
//!
//! Streamed entries come from `DIR/<input>.bin` (little-endian float32, whole entries back to
//! back; with one input, `DIR/test_inputs.bin` too), by default from the directory named like
//! the image next to it (`examples/digits/` for `examples/digits.tti`); without files, entry n
//! holds the pattern `((i * 7 + 3) % 17) / 16 - 0.5` over the flat index `i` of the
//! input_count entries a push of them would hold (entry n is entry n % input_count of it), in
//! the queue's host format, which `c-examples/tti_loader.c` pushes too. With labels
//! (`--labels FILE`, or `test_labels.bin` in the inputs directory: one byte per sample), the
//! first output's rows are classified by their largest column among the label values, and the
//! accuracy is reported.
//!
//! Each output's checksum is FNV-1a (64-bit) over the bytes get_output returned, every entry in
//! order (a ram output: its entry 0 after the last loop). Inferences are the entries of the
//! first output popped, over the wall time of the loops.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ttrt::backend::{Backend, BackendConfig, BackendError, BackendErrorKind};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};
use ttrt::image::Image;
use ttrt::netlist::OpType;

use crate::progress::{Progress, Unit};

const USAGE: &str = "\
Usage: ttrt run IMAGE [--loops N] [--inputs DIR] [--labels FILE] [--outputs DIR]
                      [--cqs 1|2] [--param NAME=VALUE]... [--golden]
                      [--soc-descriptor FILE] [--harvested-rows MASK]
  IMAGE          a .tti archive or a netlist .yaml
  --loops N      times to run every program (default: as many as the input files
                 hold, else 1)
  --inputs DIR   <queue>.bin per input, constant or parameter: float32 entries back
                 to back (default: the directory named like the image, when it
                 exists); without a file, a pattern (inputs) or seeded values
  --labels FILE  one byte per sample: report the accuracy of the first output
  --outputs DIR  write <output>.bin: every loop's output as get_output returned it
  --cqs 1|2      command queues of the simulated device (2: transfers on CQ 1)
  --param N=V    a program parameter, e.g. '$p_loop_count=2' (default: every
                 declared parameter is 1; the defaulted ones are listed)
  --golden       queues between ops keep float32, as Buda's golden model, and
                 outputs convert at get_output as golden's do (default: each queue
                 holds its own format, as on silicon)
  --soc-descriptor FILE
                 the Buda SoC descriptor of the device (default: the image's,
                 else the arch's default)
  --harvested-rows MASK
                 the device's harvested rows (bit i: NOC row i); an image
                 compiled for another mask is refused";

struct Args {
    image: PathBuf,
    loops: Option<usize>,
    inputs: Option<PathBuf>,
    labels: Option<PathBuf>,
    outputs: Option<PathBuf>,
    cqs: u8,
    params: Vec<(String, String)>,
    golden: bool,
    soc_descriptor: Option<String>,
    harvested_rows: u64,
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
        golden: false,
        soc_descriptor: None,
        harvested_rows: 0,
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
            "--golden" => a.golden = true,
            "--soc-descriptor" => a.soc_descriptor = Some(value("--soc-descriptor")?),
            "--harvested-rows" => {
                a.harvested_rows = crate::harvested_rows_arg(&value("--harvested-rows")?)?;
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

/// Where a streamed input's entries come from.
enum Source {
    /// Whole float32 entries from a file, taken in turn.
    File { bytes: Vec<u8>, entries: usize },
    /// The pattern over the flat index of input_count entries, as one push of them would hold
    /// (an image's inputs: what tti_loader pushes).
    Pattern,
    /// Seeded values (a bare netlist's inputs).
    Seeded(Seeded),
}

/// Seeded or pattern values that an op could not take, replaced by valid ones (upstream's
/// op tests generate these inputs to fit the op too).
#[derive(Clone, Copy)]
enum Fit {
    /// Input 2 of identity matmuls (the encoding): in every tile, `slices` empty strips, one
    /// per output slice, so the op runs with no nonzero tile (its output is 0, plus bias).
    Encoding { slices: usize },
    /// Input 1 of embedding ops: index `i % rows` at flat position `i`.
    Indices { rows: usize },
}

impl Fit {
    fn of(netlist: &ttrt::netlist::Netlist, backend: &Backend, name: &str) -> Option<Fit> {
        let ops = netlist.graphs.iter().flat_map(|g| &g.ops);
        for op in ops {
            let at = |k: usize| op.inputs.get(k).is_some_and(|n| n == name);
            if op.op_type.is(OpType::Matmul) && op.attributes.identity && at(2) {
                return Some(Fit::Encoding {
                    slices: op.t as usize,
                });
            }
            if op.op_type.is(OpType::Embedding) && at(1) {
                let table = backend.queue_desc(&op.inputs[0]).ok()?;
                let rows = table.layout.host_shape(1)[2].max(1);
                return Some(Fit::Indices { rows });
            }
        }
        None
    }

    /// Rewrites `entry` (host shape `shape`, items of `format`).
    fn apply(self, format: DataFormat, shape: [usize; 4], entry: &mut [u8]) {
        let item = format.host_item_size().unwrap_or(4);
        match self {
            Fit::Indices { rows } => {
                for (i, b) in entry.chunks_exact_mut(item).enumerate() {
                    b.copy_from_slice(&((i % rows) as u32).to_le_bytes()[..item]);
                }
            }
            Fit::Encoding { slices } => {
                if item != 4 {
                    return;
                }
                entry.fill(0);
                let [w, z, rows, cols] = shape;
                // A strip: u32 index 0 with bit 30 (ends the slice), u16 no ublocks.
                let strip = [0u8, 0, 0, 0x40, 0, 0];
                for zz in 0..w * z {
                    for tr in 0..rows / 32 {
                        for tc in 0..cols / 32 {
                            for b in 0..(6 * slices).min(4096) {
                                let word = b / 4;
                                let (r, c) = (word / 32, word % 32);
                                let i = (zz * rows + tr * 32 + r) * cols + tc * 32 + c;
                                entry[i * 4 + b % 4] = strip[b % 6];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An input queue fed one entry at a time while the programs run.
struct Stream {
    name: String,
    /// One entry in `format`, refilled before each push.
    entry: Vec<u8>,
    format: DataFormat,
    entry_shape: [usize; 4],
    input_count: usize,
    source: Source,
    /// Entries pushed so far.
    pushed: usize,
    /// Whether `entry` holds entry `pushed` already (a push found the queue full).
    ready: bool,
    /// Generated values (not a file's) that must fit an op.
    fit: Option<Fit>,
}

impl Stream {
    /// Fills `entry` with entry number `self.pushed`.
    fn fill(&mut self) {
        let item = self.format.host_item_size().unwrap_or(4);
        match &mut self.source {
            Source::File { bytes, entries } => {
                let size = self.entry.len();
                let at = (self.pushed % *entries) * size;
                self.entry.copy_from_slice(&bytes[at..at + size]);
            }
            Source::Seeded(seeded) => seeded.fill(self.format, &mut self.entry),
            Source::Pattern => {
                let items = self.entry.len() / item;
                let base = (self.pushed % self.input_count.max(1)) * items;
                for (i, chunk) in self.entry.chunks_exact_mut(item).enumerate() {
                    put(pattern(base + i), self.format, chunk);
                }
            }
        }
        if let (Some(fit), false) = (self.fit, matches!(self.source, Source::File { .. })) {
            fit.apply(self.format, self.entry_shape, &mut self.entry);
        }
    }
}

/// An output queue drained one entry at a time while the programs run.
struct Drain {
    name: String,
    format: DataFormat,
    /// The shape get_output gives for input_count entries (what the summary prints).
    shape: [usize; 4],
    entry_shape: [usize; 4],
    ram: bool,
    buf: Vec<u8>,
    checksum: u64,
    entries: usize,
    all: Vec<u8>,
}

fn default_dir(image: &Path) -> Option<PathBuf> {
    let stem = image.file_stem()?;
    let dir = image.with_file_name(stem);
    (image.extension().is_some_and(|e| e == "tti") && dir.is_dir()).then_some(dir)
}

/// `DIR/<queue>.bin`, or with a single input `DIR/test_inputs.bin`, when there.
fn input_file(dir: Option<&Path>, name: &str, single: bool) -> Option<PathBuf> {
    let dir = dir?;
    let own = dir.join(format!("{name}.bin"));
    let shared = dir.join("test_inputs.bin");
    if own.is_file() {
        Some(own)
    } else if single && shared.is_file() {
        Some(shared)
    } else {
        None
    }
}

/// Reads `file` as whole float32 entries of `entry_shape`, a multiple of `group` of them.
fn read_entries(
    file: &Path,
    entry_shape: [usize; 4],
    group: usize,
) -> Result<(Vec<u8>, usize), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let entry_bytes = entry_shape.iter().product::<usize>() * 4;
    let group = group.max(1);
    if bytes.is_empty() || bytes.len() % (entry_bytes * group) != 0 {
        return Err(format!(
            "{}: {} B is not a whole number of {group}-entry pushes of {entry_bytes} B (float32 {entry_shape:?} per entry)",
            file.display(),
            bytes.len(),
        ));
    }
    let entries = bytes.len() / entry_bytes;
    Ok((bytes, entries))
}

/// Seeded values (xorshift64) for a queue no file feeds: uniform in the range the netlist's
/// `stimulus-config` gives the queue (uniform bounds, a constant, normal mean +- stddev), else
/// in (0, 1]: positive, since golden refuses the sqrt or log of a negative value.
struct Seeded {
    state: u64,
    lo: f32,
    hi: f32,
}

impl Seeded {
    fn for_queue(netlist: &ttrt::netlist::Netlist, name: &str) -> Seeded {
        let stimulus = netlist
            .test_config
            .as_ref()
            .and_then(|t| t.stimulus.as_ref());
        let cfg = stimulus.map(|s| {
            s.overrides
                .iter()
                .find(|(k, _)| k == name)
                .map_or(s, |(_, c)| c)
        });
        use ttrt::netlist::StimulusType as S;
        let range = cfg.and_then(|c| match c.stimulus.unwrap_or(S::Uniform) {
            S::Uniform => Some((c.uniform_lower_bound?, c.uniform_upper_bound?)),
            S::Constant => c.constant_value.map(|v| (v, v)),
            S::Normal => {
                let (m, d) = (c.normal_mean?, c.normal_stddev?);
                Some((m - d, m + d))
            }
            _ => None,
        });
        let (lo, hi) = range.map_or((1.0 / 16.0, 1.0), |(lo, hi)| (lo as f32, hi as f32));
        Seeded {
            state: fnv1a(FNV_OFFSET, name.as_bytes()) | 1,
            lo,
            hi,
        }
    }

    fn next(&mut self) -> f32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let unit = (self.state >> 40) as f32 / (1u64 << 24) as f32;
        self.lo + (self.hi - self.lo) * unit
    }

    /// Fills `entry`, items of `format` (float32, or an integer host format).
    fn fill(&mut self, format: DataFormat, entry: &mut [u8]) {
        let item = format.host_item_size().unwrap_or(4);
        for v in entry.chunks_exact_mut(item) {
            let x = self.next();
            match format {
                DataFormat::Float32 => v.copy_from_slice(&x.to_le_bytes()),
                _ => put(x, format, v),
            }
        }
    }
}

/// The host format seeded values of a queue in `df` are pushed in: float32 for float queues
/// (the backend converts), the queue's own for integer ones.
fn seeded_format(df: DataFormat) -> DataFormat {
    match df.host_compatible() {
        f @ (DataFormat::Int8
        | DataFormat::Int32
        | DataFormat::UInt8
        | DataFormat::UInt16
        | DataFormat::RawUInt8
        | DataFormat::RawUInt16
        | DataFormat::RawUInt32) => f,
        _ => DataFormat::Float32,
    }
}

/// Inferences per second: `inferences` in `elapsed`.
pub fn per_second(inferences: usize, elapsed: Duration) -> f64 {
    inferences as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The parameters of every program: each declared one from `--param`, else 1 (its name then
/// listed in the second value). A `--param` that no program declares is an error.
#[allow(clippy::type_complexity)]
fn program_params(
    netlist: &ttrt::netlist::Netlist,
    given: &[(String, String)],
) -> Result<(Vec<(String, Vec<(String, String)>)>, Vec<String>), String> {
    for (name, _) in given {
        let bare = name.trim_start_matches('$');
        if !netlist
            .programs()
            .iter()
            .any(|p| p.params().any(|d| d == bare))
        {
            let declared: Vec<String> = netlist
                .programs()
                .iter()
                .flat_map(|p| p.params().map(|d| format!("${d}")))
                .collect();
            return Err(format!(
                "--param {name}: no program declares it (declared: {})",
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            ));
        }
    }
    let mut defaulted = Vec::new();
    let mut params = Vec::new();
    for p in program_order(netlist)
        .into_iter()
        .map(|i| &netlist.programs()[i])
    {
        let mut list = Vec::new();
        for name in p.params() {
            let value = match given
                .iter()
                .find(|(n, _)| n.trim_start_matches('$') == name)
            {
                Some((_, v)) => v.clone(),
                None => {
                    let shown = format!("{}: ${name} = 1", p.name);
                    if !defaulted.contains(&shown) {
                        defaulted.push(shown);
                    }
                    "1".to_string()
                }
            };
            list.push((format!("${name}"), value));
        }
        params.push((p.name.clone(), list));
    }
    Ok((params, defaulted))
}

/// The order programs run in each loop: netlist order, except that a program whose graphs
/// read a queue that another program's graphs write (and its own do not) runs after that
/// program, as upstream's tests run netlists that list consumers first. Programs in a cycle
/// keep netlist order.
fn program_order(netlist: &ttrt::netlist::Netlist) -> Vec<usize> {
    use ttrt::netlist::Instruction;
    let programs = netlist.programs();
    // Queues each program's graphs read and write.
    let io: Vec<(Vec<&str>, Vec<&str>)> = programs
        .iter()
        .map(|p| {
            let (mut reads, mut writes) = (Vec::new(), Vec::new());
            for step in &p.instructions {
                let Instruction::Execute(e) = &step.instruction else {
                    continue;
                };
                let Some(g) = netlist.graph(&e.graph_name) else {
                    continue;
                };
                for op in &g.ops {
                    reads.extend(
                        op.inputs
                            .iter()
                            .filter(|n| netlist.op(n).is_none())
                            .map(String::as_str),
                    );
                }
                writes.extend(
                    netlist
                        .queues
                        .iter()
                        .filter(|q| g.ops.iter().any(|op| op.name == q.input))
                        .map(|q| q.name.as_str()),
                );
            }
            (reads, writes)
        })
        .collect();
    let waits_for = |p: usize, q: usize| {
        p != q
            && io[p]
                .0
                .iter()
                .any(|r| io[q].1.contains(r) && !io[p].1.contains(r))
    };
    let mut pending: Vec<usize> = (0..programs.len()).collect();
    let mut order = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let k = pending
            .iter()
            .position(|&p| !pending.iter().any(|&q| waits_for(p, q)))
            .unwrap_or(0);
        order.push(pending.remove(k));
    }
    order
}

/// Pushes into every input queue until it is full; whether anything was pushed.
fn feed(backend: &Backend, inputs: &mut [Stream], busy: &mut Duration) -> Result<bool, String> {
    let mut moved = false;
    for inp in inputs.iter_mut() {
        loop {
            if !inp.ready {
                inp.fill();
                inp.ready = true;
            }
            let t0 = Instant::now();
            let t = HostTensor::contiguous(&inp.entry, inp.format, inp.entry_shape);
            match backend.push_input(&inp.name, &t, false, 0, -1) {
                Ok(()) => {
                    inp.pushed += 1;
                    inp.ready = false;
                    moved = true;
                    *busy += t0.elapsed();
                }
                Err(e) if is_timeout(&e) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(moved)
}

fn is_timeout(e: &BackendError) -> bool {
    e.kind == BackendErrorKind::Timeout
}

fn run(args: &Args) -> Result<(), String> {
    for (flag, dir) in [("--inputs", &args.inputs), ("--outputs", &args.outputs)] {
        if let Some(dir) = dir.as_deref().filter(|d| !d.is_dir()) {
            return Err(format!("{flag} {}: no such directory", dir.display()));
        }
    }
    if let Some(labels) = args.labels.as_deref().filter(|f| !f.is_file()) {
        return Err(format!("--labels {}: no such file", labels.display()));
    }
    let image = Image::open(&args.image).map_err(|e| e.to_string())?;
    let config = BackendConfig {
        arch: None,
        num_command_queues: args.cqs,
        golden: args.golden,
        soc_descriptor: args.soc_descriptor.clone(),
        harvested_rows: args.harvested_rows,
        ..BackendConfig::default()
    };
    let backend = Backend::create(&image, &config).map_err(|e| e.to_string())?;
    let netlist = backend.netlist();
    let (params, defaulted) = program_params(netlist, &args.params)?;
    backend.initialize().map_err(|e| e.to_string())?;
    let dir = args.inputs.clone().or_else(|| default_dir(&args.image));
    let names = image.input_names();

    // Constants and parameters the image does not carry (a bare netlist, or an image packed
    // with --no-tensors) are written once, from a file or seeded values; the other inputs are
    // streamed.
    let (weights, streamed): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| {
        netlist
            .queue(n)
            .is_some_and(|q| crate::pack::holds_weights(netlist, q))
    });
    for name in &weights {
        let d = backend.queue_desc(name).map_err(|e| e.to_string())?;
        let entry_shape = d.layout.host_shape(1);
        let ram = d.io_type == ttrt::netlist::IoType::Ram;
        // From a file: its entries in turn (float32). Else seeded values, one entry at a time.
        let (format, mut entry, file_entries) = match input_file(dir.as_deref(), name, false) {
            Some(f) => {
                let (bytes, n) = read_entries(&f, entry_shape, 1)?;
                (DataFormat::Float32, bytes, Some(n))
            }
            None => {
                let format = seeded_format(d.layout.format);
                let item = format.host_item_size().unwrap_or(4);
                let size = entry_shape.iter().product::<usize>() * item;
                (format, vec![0u8; size], None)
            }
        };
        let mut seeded = Seeded::for_queue(netlist, name);
        for e in 0..d.entries as usize {
            let chunk = match file_entries {
                Some(n) => {
                    let size = entry.len() / n;
                    &entry[(e % n) * size..(e % n + 1) * size]
                }
                None => {
                    seeded.fill(format, &mut entry);
                    if let Some(fit) = Fit::of(netlist, &backend, name) {
                        fit.apply(format, entry_shape, &mut entry);
                    }
                    &entry[..]
                }
            };
            let t = HostTensor::contiguous(chunk, format, entry_shape);
            let ptr = if ram { e as i32 } else { -1 };
            backend
                .push_input(name, &t, false, 0, ptr)
                .map_err(|e| e.to_string())?;
        }
    }

    let bare = image.device_json().is_none();
    let mut inputs = Vec::new();
    for name in &streamed {
        let d = backend.queue_desc(name).map_err(|e| e.to_string())?;
        let input_count = d.input_count as usize;
        let entry_shape = d.layout.host_shape(1);
        let (format, source) = match input_file(dir.as_deref(), name, streamed.len() == 1) {
            Some(f) => {
                let (bytes, entries) = read_entries(&f, entry_shape, input_count)?;
                (DataFormat::Float32, Source::File { bytes, entries })
            }
            None if bare => (
                seeded_format(d.layout.format),
                Source::Seeded(Seeded::for_queue(netlist, name)),
            ),
            None => (d.layout.format.host_compatible(), Source::Pattern),
        };
        let item = format.host_item_size().unwrap_or(4);
        inputs.push(Stream {
            name: name.to_string(),
            entry: vec![0u8; entry_shape.iter().product::<usize>() * item],
            format,
            entry_shape,
            input_count,
            source,
            pushed: 0,
            ready: false,
            fit: Fit::of(netlist, &backend, name),
        });
    }
    let loops = args.loops.unwrap_or_else(|| {
        inputs
            .iter()
            .map(|i| match &i.source {
                Source::File { entries, .. } => entries / i.input_count.max(1),
                Source::Pattern | Source::Seeded(_) => 1,
            })
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
    let classes = labels
        .as_ref()
        .map(|l| l.iter().copied().max().unwrap_or(0) as usize + 1);

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

    let mut outputs = Vec::new();
    for name in image.output_names() {
        let d = backend.queue_desc(name).map_err(|e| e.to_string())?;
        let (format, shape) = backend
            .output_format(name, d.input_count as usize)
            .map_err(|e| e.to_string())?;
        let entry_shape = d.layout.host_shape(1);
        let item = format.host_item_size().unwrap_or(4);
        outputs.push(Drain {
            name: name.clone(),
            format,
            shape,
            entry_shape,
            ram: d.io_type == ttrt::netlist::IoType::Ram,
            buf: vec![0u8; entry_shape.iter().product::<usize>() * item],
            checksum: FNV_OFFSET,
            entries: 0,
            all: Vec::new(),
        });
    }

    let (mut t_push, mut t_get) = (Duration::ZERO, Duration::ZERO);
    let mut correct = 0usize;
    let mut classified = 0usize;
    let loops_done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut progress = Progress::new("ttrt run", loops as u64, Unit::Count("loops"));
    let start = Instant::now();
    // Full queues before the first program: the first executes find their entries.
    feed(&backend, &mut inputs, &mut t_push)?;
    // The programs run on one thread while this one feeds the input queues and drains the
    // outputs an entry at a time, as an embedded loop does: a program may consume more entries
    // than its queues hold, and memory stays one entry per queue.
    let (t_run, io_result) = std::thread::scope(|scope| {
        let runner = scope.spawn(|| -> Result<Duration, String> {
            let mut busy = Duration::ZERO;
            for l in 0..loops {
                for (program, list) in &params {
                    if stop.load(Ordering::Acquire) {
                        return Ok(busy);
                    }
                    let t = Instant::now();
                    backend
                        .run_program(program, list)
                        .map_err(|e| format!("loop {} of {loops}: {e}", l + 1))?;
                    busy += t.elapsed();
                }
                loops_done.store(l + 1, Ordering::Release);
            }
            Ok(busy)
        });
        let io = (|| -> Result<(), String> {
            loop {
                let finished = runner.is_finished();
                let mut moved = false;
                if !finished {
                    moved |= feed(&backend, &mut inputs, &mut t_push)?;
                }
                for (k, o) in outputs.iter_mut().enumerate() {
                    while !o.ram {
                        let t0 = Instant::now();
                        let mut dst =
                            HostTensorMut::contiguous(&mut o.buf, o.format, o.entry_shape);
                        match backend.get_output_into(&o.name, &mut dst, true, 0, -1) {
                            Ok(()) => {}
                            Err(e) if is_timeout(&e) => break,
                            Err(e) => return Err(e.to_string()),
                        }
                        backend
                            .pop_output(&o.name, true, 0)
                            .map_err(|e| e.to_string())?;
                        t_get += t0.elapsed();
                        moved = true;
                        o.checksum = fnv1a(o.checksum, &o.buf);
                        if args.outputs.is_some() {
                            o.all.extend_from_slice(&o.buf);
                        }
                        if let (0, Some(labels), Some(classes)) = (k, labels.as_ref(), classes) {
                            let cols = o.entry_shape[3];
                            let rows = o.entry_shape[1] * o.entry_shape[2];
                            for r in 0..rows {
                                let Some(&label) = labels.get(o.entries * rows + r) else {
                                    continue;
                                };
                                let value = |c: usize| value_at(&o.buf, o.format, r * cols + c);
                                let best = (0..classes.min(cols)).fold(0, |b, c| {
                                    if value(c) > value(b) {
                                        c
                                    } else {
                                        b
                                    }
                                });
                                classified += 1;
                                correct += (best == label as usize) as usize;
                            }
                        }
                        o.entries += 1;
                    }
                }
                progress.set(loops_done.load(Ordering::Acquire) as u64);
                if finished && !moved {
                    return Ok(());
                }
                if !moved {
                    std::thread::sleep(Duration::from_micros(20));
                }
            }
        })();
        if io.is_err() {
            stop.store(true, Ordering::Release);
        }
        let ran = runner
            .join()
            .unwrap_or_else(|_| Err("the program thread panicked".to_string()));
        (ran, io)
    });
    let total = start.elapsed();
    drop(progress);
    let t_run = t_run?;
    io_result?;
    // A ram output is read where its programs left it.
    for o in outputs.iter_mut().filter(|o| o.ram) {
        let mut dst = HostTensorMut::contiguous(&mut o.buf, o.format, o.entry_shape);
        backend
            .get_output_into(&o.name, &mut dst, true, 0, 0)
            .map_err(|e| e.to_string())?;
        o.checksum = fnv1a(o.checksum, &o.buf);
        o.all.extend_from_slice(&o.buf);
        o.shape = o.entry_shape;
        o.entries = 1;
    }
    backend.finish().map_err(|e| e.to_string())?;

    outln!(
        "image {} ({}), {loops} loop{}{}",
        args.image.display(),
        backend.arch().name(),
        if loops == 1 { "" } else { "s" },
        if args.golden {
            ", golden mode (queues between ops keep float32)"
        } else {
            ""
        }
    );
    for d in &defaulted {
        outln!("param {d} (not given: default)");
    }
    if !weights.is_empty() {
        outln!(
            "{} constant and parameter queues written once (seeded values, or <queue>.bin of the inputs directory)",
            weights.len()
        );
    }
    for inp in &inputs {
        outln!(
            "input {} shape {:?} pushed {} entries",
            inp.name,
            inp.entry_shape,
            inp.pushed
        );
    }
    for o in &outputs {
        outln!(
            "output {} shape {:?} format {} checksum {:#018x}",
            o.name,
            o.shape,
            o.format.name(),
            o.checksum,
        );
        if let Some(dir) = &args.outputs {
            let path = dir.join(format!("{}.bin", o.name));
            std::fs::write(&path, &o.all).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    for o in &outputs {
        let how = if o.ram { "read" } else { "popped" };
        outln!("{how} {} entries of {}", o.entries, o.name);
    }
    let secs = total.as_secs_f64().max(1e-9);
    outln!(
        "{loops} loop{} in {:.3} ms: {:.1} loops/s (run_program {:.0}%, push {:.0}%, get+pop {:.0}% of the time)",
        if loops == 1 { "" } else { "s" },
        secs * 1e3,
        loops as f64 / secs,
        100.0 * t_run.as_secs_f64() / secs,
        100.0 * t_push.as_secs_f64() / secs,
        100.0 * t_get.as_secs_f64() / secs
    );
    if let Some(first) = outputs.iter().find(|o| !o.ram && o.entries > 0) {
        outln!(
            "{} inferences ({} entries of {}) in {:.3} ms: {:.1} inferences/s",
            first.entries,
            first.entries,
            first.name,
            secs * 1e3,
            per_second(first.entries, total)
        );
    }
    if classified > 0 {
        outln!(
            "accuracy {correct}/{classified} = {:.2}% over the labelled samples",
            100.0 * correct as f64 / classified as f64,
        );
    }
    Ok(())
}

/// Value `i` of a host buffer as f32.
fn value_at(buf: &[u8], format: DataFormat, i: usize) -> f32 {
    let item = format.host_item_size().unwrap_or(4);
    ttrt::format::element::from_host(&buf[i * item..], format)
}
