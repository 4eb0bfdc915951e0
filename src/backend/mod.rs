//! The Buda backend lifecycle of PyBuda's embedded TTI loader, on ttrt's device core:
//! create from an image (or a netlist), initialize (every queue laid out in device DRAM at the
//! netlist's channel and address, or in host memory, with its header; constants and parameters
//! loaded), then push_input -> run_program -> get_output -> pop_output, and finish.
//! See notes/buda-backend.md.
//!
//! The device is a simulated chip driven by one worker thread per command queue. Programs run
//! in the run CQ's order, CQ 0. With two CQs, transfers (push, get, the pointer updates of
//! pop) are made in the io CQ's order, CQ 1, and each graph waits for the io CQ's last event;
//! with one, transfers reach the chip directly (the backend enqueues nothing on CQ 0 for them
//! to follow), so io calls never wait for a graph's hold of CQ 0. Either way the queues' read
//! and write pointers order transfers and graphs. A graph runs as one kernel per `execute`; a
//! temporal graph (graphs joined by ops reading ops, netlist::temporal) as one kernel at the
//! execute of its last sub-graph. run_program waits for each kernel, so the kernel runs on the
//! calling thread in the run CQ's order (`Device::run_kernel_inline`) rather than being handed
//! to the worker and back. A transfer runs on the calling thread (`Device::run_inline`) and
//! converts straight between the caller's tensor and the queue's memory where the chip maps it
//! (`Chip::map`; entries.rs): no staging copy, and no trip through a CQ's worker.
//!
//! Threads: the io calls (push, get, pop, free) may run on one thread while run_program runs on
//! another; a second thread entering the same side at once is refused with
//! `InvalidState`, never blocked. initialize and finish take both sides; finish first makes
//! the io calls waiting for a queue return `Cancelled`, then waits for the sides to come free.

#![allow(clippy::result_large_err)]

mod entries;
mod error;
mod execute;
mod firmware;
mod placement;
mod queue;
mod shared;
mod temporal;
mod timeout;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use error::{err, RunError};
pub use error::{BackendError, BackendErrorKind};
use execute::RunHost;
pub use firmware::{install_graph_firmware, NetlistFirmware, FIRMWARE};
use queue::{ChipMem, HostMem, HostPlacer, Mem, QueueRt};
use timeout::{Timeout, TimeoutOverrides};

use crate::format::{check_untilize, Arch, DataFormat, HostTensor, HostTensorMut, QueueLayout};
use crate::hal::select::AnyChip;
use crate::message::count;
use crate::netlist::interp::Interpreter;
use crate::netlist::{IoType, Netlist, QueueLocation, TemporalGraphs};
use crate::runtime::host_memory::{try_zeroed, Bytes, HostMemoryBudget};
use crate::runtime::{Device, DeviceConfig};

/// How a backend is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// The chip to simulate; `None`: the image's arch (for a netlist, its first arch).
    pub arch: Option<Arch>,
    /// 1, or 2: transfers on CQ 1, programs on CQ 0, ordered by events.
    pub num_command_queues: u8,
    /// Bytes of host memory for what the image sizes (host queues, constants and parameters,
    /// each tensor get_output returns); 0: the machine's physical memory.
    pub host_memory_budget: u64,
    /// false (the default): queues hold their entries in their own format, as on silicon
    /// (an op's output written to a Bfp8_b queue is Bfp8_b when the next graph reads it).
    /// true: as upstream's golden model, a queue an op writes keeps the op's float32 output
    /// (with its format tag) in host memory, and get_output converts it to the queue's
    /// host format (Float16_b, Bfp8_b... truncated to bfloat16; Float16, Bfp8... to fp16_a).
    /// Constants, parameters and inputs are quantized to their queue's format either way,
    /// but for a flat input queue that only tilizers read, which keeps the host's values
    /// unquantized (golden's tilizer re-tilizes the host's buffer, not the queue's tiles).
    pub golden: bool,
    /// The device to run on: `"sim"` (the simulated chip in this process) or `"shm:NAME"`
    /// (the device process `ttrt sim-device NAME` serves); `None`: the `TTRT_DEVICE`
    /// environment variable, else `"sim"`.
    pub device: Option<String>,
    /// Which side of the backend this process is (see [`BackendRole`]).
    pub role: BackendRole,
    /// The path of the Buda SoC descriptor of the chip; `None`: the image's
    /// (`backend_build_binaries/device_desc.yaml`) when it carries one, else the arch's
    /// default geometry.
    pub soc_descriptor: Option<String>,
    /// The device's harvested rows (Buda's mask, bit `i`: NOC row `i`); 0: none. An image
    /// compiled for another mask is refused.
    pub harvested_rows: u64,
}

/// Where a backend's chip description came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocSource {
    /// The arch's default geometry.
    ArchDefault,
    /// The SoC descriptor file the config names.
    Config(String),
    /// The SoC descriptor the image carries ([`crate::image::SOC_DESCRIPTOR_MEMBER`]).
    Image,
}

impl core::fmt::Display for SocSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SocSource::ArchDefault => f.write_str("the arch's default"),
            SocSource::Config(path) => write!(f, "{path} (config)"),
            SocSource::Image => write!(f, "the image's {}", crate::image::SOC_DESCRIPTOR_MEMBER),
        }
    }
}

/// The chip a backend for `arch` runs on: the geometry the config's SoC descriptor, else the
/// image's (`image_desc`), else the arch's default describes, with the config's harvested
/// rows; and where the description came from.
pub fn chip_geometry(
    arch: Arch,
    config: &BackendConfig,
    image_desc: Option<&str>,
) -> Result<(crate::hal::ChipGeometry, SocSource), BackendError> {
    use crate::hal::soc::{geometry_for, read_file, GeometryError, SocDescriptor};
    let (desc, source) = match (&config.soc_descriptor, image_desc) {
        (Some(path), _) => (
            Some(read_file(path).map_err(|e| {
                BackendError::new(
                    BackendErrorKind::InvalidArgument,
                    alloc::format!("config.soc_descriptor: {e}"),
                )
            })?),
            SocSource::Config(path.clone()),
        ),
        (None, Some(text)) => (
            Some(
                SocDescriptor::parse(text, crate::image::SOC_DESCRIPTOR_MEMBER).map_err(|e| {
                    BackendError::new(BackendErrorKind::InvalidImage, alloc::format!("{e}"))
                })?,
            ),
            SocSource::Image,
        ),
        (None, None) => (None, SocSource::ArchDefault),
    };
    let name = match &source {
        SocSource::Config(p) => p.as_str(),
        _ => crate::image::SOC_DESCRIPTOR_MEMBER,
    };
    let g = geometry_for(
        arch,
        desc.as_ref().map(|d| (d, name)),
        config.harvested_rows,
    )
    .map_err(|e| {
        let (kind, field) = match (&e, &source) {
            (GeometryError::Harvest(_), _) => {
                (BackendErrorKind::InvalidArgument, "config.harvested_rows")
            }
            (_, SocSource::Image) => (BackendErrorKind::InvalidImage, "image"),
            _ => (BackendErrorKind::InvalidArgument, "config.soc_descriptor"),
        };
        BackendError::new(kind, alloc::format!("{field}: {e}"))
    })?;
    Ok((g, source))
}

/// The sides of PyBuda's embedded loader, which may be two processes attached to one device
/// (`ttrt sim-device`): the run side creates the queues, loads constants and parameters and
/// runs programs; an io side attaches to the run side's queues and pushes inputs and gets
/// and pops outputs. They meet only in device memory (shared.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendRole {
    /// Everything, in this process (the default): initialize lays out and owns the queues;
    /// io sides of other processes may attach to them.
    #[default]
    Run,
    /// push_input, get_output and pop_output on the queues of the run side of another process
    /// attached to the same device: initialize waits (up to [`ATTACH_WAIT_MS`]) for that run
    /// side's initialize of the same netlist; run_program is the run side's.
    Io,
}

/// How long an io side's initialize waits for the run side's.
pub const ATTACH_WAIT_MS: u64 = 10_000;

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            arch: None,
            num_command_queues: 1,
            host_memory_budget: 0,
            golden: false,
            device: None,
            role: BackendRole::Run,
            soc_descriptor: None,
            harvested_rows: 0,
        }
    }
}

/// A tensor get_output returns in fresh memory.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputTensor {
    pub data: Vec<u8>,
    pub format: DataFormat,
    /// `[w, z, rows, cols]`, outermost first, contiguous.
    pub shape: [usize; 4],
}

/// A queue as `get_queue_descriptor` describes it (Buda's tt_dram_io_desc).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueDesc {
    pub name: String,
    pub io_type: IoType,
    pub location: QueueLocation,
    /// Format, grid, blocks, t, tile, layout (stack factors 1).
    pub layout: QueueLayout,
    pub entries: u32,
    pub input_count: u32,
    /// Bytes of one entry in one buffer, without header or padding.
    pub entry_size: usize,
    /// (DRAM channel or 0, address) of every buffer.
    pub buffers: Vec<(u32, u64)>,
}

/// A constant or parameter to load at initialize.
struct Load {
    queue: String,
    data: Vec<u8>,
    kind: LoadKind,
}

enum LoadKind {
    /// A `.bin`: a host tensor, converted as a push converts it.
    Host {
        format: DataFormat,
        shape: [usize; 4],
        strides: [usize; 4],
    },
    /// A `.tbin`: the queue's buffers in its buffer order, each holding `entries` entries in
    /// the device layout, written as they are.
    Tilized { entries: usize },
}

/// What an initialized backend runs on.
pub(crate) struct Runtime {
    device: Arc<Device<AnyChip>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    queues: Box<[QueueRt]>,
    /// Temporal graphs (netlist::temporal; most are one netlist graph each), as the device's
    /// graph firmware loaded them.
    graph_count: usize,
    /// The handle of the loaded graphs (0: none loaded, an io side).
    loaded: u32,
    /// Where an execute's settings go in device memory, and the run side's buffer for them.
    settings_at: crate::hal::DeviceRange,
    settings_buf: UnsafeCell<Vec<u8>>,
    interp: UnsafeCell<Interpreter>,
    /// Executes of sub-graphs waiting for the rest of their temporal graph (run side).
    temporal: UnsafeCell<temporal::TemporalRun>,
    io_cq: u8,
    run_cq: u8,
    /// The io CQ's last event after a push (0: none yet).
    last_io_event: AtomicU32,
    /// Graph kernels run since initialize, and the nanoseconds they took.
    kernels_run: AtomicU64,
    kernel_ns: AtomicU64,
    /// The queues' pointers, in the block every process attached to the device shares.
    shared: shared::SharedState,
    /// The run side's initialize this backend belongs to (shared.rs).
    generation: u32,
    role: BackendRole,
}

impl Runtime {
    pub(crate) fn device(&self) -> &Device<AnyChip> {
        &self.device
    }

    /// The io side's CQ: CQ 1 with two CQs. With one, None: the io side reaches the chip
    /// directly, outside CQ 0, which only the run side uses (see `run_io`).
    fn io_queue(&self) -> Option<u8> {
        (self.io_cq != self.run_cq).then_some(self.io_cq)
    }

    fn io_mem(&self) -> HostMem<'_, AnyChip> {
        HostMem {
            device: &self.device,
            cq: self.io_queue(),
        }
    }

    /// Runs `f` on the io side's memory, on the calling thread, with the chip's memory reached
    /// as a transfer command reaches it, in place where the chip maps it.
    ///
    /// With two CQs, in the io CQ's order (see `Device::run_inline`): once CQ 1 has run what
    /// was enqueued before. With one, directly: the backend enqueues nothing on CQ 0 for the
    /// io side to follow (graphs run on the run side's thread), and the queues' pointers order
    /// transfers and graphs, as they do between two CQs. So push, get and pop on one thread
    /// never meet run_program's hold of CQ 0 on another.
    fn run_io(&self, f: impl FnOnce(&dyn Mem) -> Result<(), RunError>) -> Result<(), RunError> {
        match self.io_queue() {
            Some(cq) => self.device.run_inline(cq, |chip| f(&ChipMem(chip)))?,
            None => f(&ChipMem(self.device.chip())),
        }
    }
}

/// The digest of queues' layout (shared.rs): what an io side, a run side and the device's
/// graph firmware must agree on.
fn layout_digest(queues: &[QueueRt], arch: Arch) -> u64 {
    let mut d = shared::Digest::new();
    d.word(arch as u64).word(queues.len() as u64);
    for q in queues {
        d.bytes(q.name.as_bytes())
            .word(q.mem.kind as u64)
            .word(u64::from(q.entries))
            .word(q.entry_size as u64)
            .word(q.layout.format as u64);
        for &(bank, addr) in &q.mem.buffers {
            d.word(u64::from(bank)).word(addr);
        }
    }
    d.value()
}

impl Runtime {
    /// For an io side: whether the run side it attached to is still there.
    fn attached(&self) -> bool {
        self.role == BackendRole::Run || self.shared.still(self.generation)
    }

    fn digest(&self, arch: Arch) -> u64 {
        layout_digest(&self.queues, arch)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.role == BackendRole::Run {
            self.shared.close();
        }
        if self.loaded != 0 {
            // A device that went away took the graphs with it.
            let _ = crate::hal::Chip::unload_graphs(self.device.chip(), self.loaded);
        }
        self.device.stop();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

const CREATED: u8 = 0;
const READY: u8 = 1;
const FINISHED: u8 = 2;

/// A Buda backend over a simulated device.
pub struct Backend {
    netlist: Netlist,
    arch: Arch,
    /// The chip the backend runs on (its worker grid and harvested rows were checked against
    /// the netlist and the image).
    geometry: crate::hal::ChipGeometry,
    soc_source: SocSource,
    config: BackendConfig,
    budget: HostMemoryBudget,
    loads: Vec<Load>,
    timeouts: TimeoutOverrides,
    state: AtomicU8,
    io_busy: AtomicBool,
    run_busy: AtomicBool,
    /// Set by `finish` before it takes both sides: waits of push, get and pop end with
    /// `Cancelled`, so their side comes free.
    finishing: AtomicBool,
    rt: UnsafeCell<Option<Box<Runtime>>>,
}

// SAFETY: `rt` is written only by initialize and finish, which hold both sides; the io and
// run sides read it under their own flag, and the runtime's parts follow the rules in
// queue.rs and execute.rs.
unsafe impl Sync for Backend {}
unsafe impl Send for Backend {}

/// One side of the backend, held for one call.
struct Side<'a>(&'a AtomicBool);

impl Drop for Side<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A trace record of a read of `span` (queue index, first pointer, entries) from `q`.
fn trace_read(call: &str, q: &QueueRt, (_, first, n): (usize, u32, usize)) {
    log::trace!(
        "{call} from queue '{}': {} at pointer {first}",
        q.name,
        count(n, "entry")
    );
}

/// run_program's parameters as `$p_loop_count=4, ...`, formatted in place.
struct Params<'a>(&'a [(&'a str, &'a str)]);

impl core::fmt::Display for Params<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no parameters");
        }
        for (i, (name, value)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

/// How a wait of push, get or pop ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waited {
    Ready,
    TimedOut,
    /// `finish` (or free) was called on another thread meanwhile.
    Cancelled,
}

/// Waits for `ready` per a Buda timeout in milliseconds: `< 0` forever, `0` one try, `> 0` at
/// most that long; or until `cancelled` is set (finish on another thread).
fn wait_for(timeout_ms: i32, cancelled: impl Fn() -> bool, ready: impl Fn() -> bool) -> Waited {
    if ready() {
        return Waited::Ready;
    }
    if timeout_ms == 0 {
        return Waited::TimedOut;
    }
    let start = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_micros(20));
        if ready() {
            return Waited::Ready;
        }
        if cancelled() {
            return Waited::Cancelled;
        }
        if timeout_ms > 0 && start.elapsed().as_millis() >= timeout_ms as u128 {
            return Waited::TimedOut;
        }
    }
}

impl Backend {
    fn new(
        netlist: Netlist,
        arch: Arch,
        config: &BackendConfig,
        loads: Vec<Load>,
        (geometry, soc_source): (crate::hal::ChipGeometry, SocSource),
    ) -> Result<Backend, BackendError> {
        if !(1..=2).contains(&config.num_command_queues) {
            return err!(
                InvalidArgument,
                "num_command_queues is {}: a backend uses 1 or 2",
                config.num_command_queues
            );
        }
        placement::check_grid(&netlist, &geometry)?;
        let timeouts = TimeoutOverrides::from_env()?;
        log::info!(
            "backend created for {}: {}, {}, {}, {} to load",
            netlist.file,
            arch.name(),
            count(config.num_command_queues, "command queue"),
            count(netlist.programs.len(), "program"),
            count(loads.len(), "constant or parameter tensor")
        );
        Ok(Backend {
            netlist,
            arch,
            geometry,
            soc_source,
            config: config.clone(),
            budget: HostMemoryBudget::new(config.host_memory_budget),
            loads,
            timeouts,
            state: AtomicU8::new(CREATED),
            io_busy: AtomicBool::new(false),
            run_busy: AtomicBool::new(false),
            finishing: AtomicBool::new(false),
            rt: UnsafeCell::new(None),
        })
    }

    /// A backend for a netlist alone (no constants or parameters are loaded).
    pub fn from_netlist(netlist: Netlist, config: &BackendConfig) -> Result<Backend, BackendError> {
        let arch = match config.arch {
            Some(a) => a,
            None => match netlist.devices.arch.first() {
                Some(&a) => a,
                None => {
                    return err!(
                        InvalidImage,
                        "netlist {}: devices names no arch",
                        netlist.file
                    )
                }
            },
        };
        let chip = chip_geometry(arch, config, None)?;
        Backend::new(netlist, arch, config, Vec::new(), chip)
    }

    /// A backend for a TTI image: arch from the image unless the config names one; the
    /// image's constants and parameters are read (and `.tbin` ones checked against their
    /// queues) now, and loaded by initialize.
    pub fn create(
        image: &crate::image::Image,
        config: &BackendConfig,
    ) -> Result<Backend, BackendError> {
        use crate::image::device_json::TensorEntry;
        let arch = config.arch.unwrap_or_else(|| image.arch());
        let chip = chip_geometry(arch, config, image.soc_descriptor())?;
        let want = image.harvested_rows();
        if want != chip.0.harvested_rows {
            let have = chip.0.harvested_rows;
            return err!(
                InvalidArgument,
                "{}: the image was compiled for harvested rows mask {want} (rows {}), but the \
                 device's harvested rows mask is {have} (rows {}): open the device with the \
                 image's mask",
                image.file(),
                crate::hal::soc::Rows(want),
                crate::hal::soc::Rows(have)
            );
        }
        let budget = HostMemoryBudget::new(config.host_memory_budget);
        let mut loads = Vec::new();
        // Host memory the loads take, checked before each tensor is read or inflated.
        let mut used = 0u64;
        for t in image.tensors() {
            let desc = match &t.entry {
                TensorEntry::Binary(d) => d,
                TensorEntry::Pickled(member) => {
                    return err!(
                        InvalidImage,
                        "{}: tensor '{}' is pickled ({member}): the embedded loader cannot read it; re-export the image with PYBUDA_TTI_BACKEND_FORMAT=1",
                        image.file(),
                        t.name
                    )
                }
            };
            let kind = match desc.tilized {
                Some(buffers) => LoadKind::Tilized {
                    entries: tilized_entries(image, arch, &t.name, desc, buffers)?,
                },
                None => LoadKind::Host {
                    format: desc.format,
                    shape: desc.shape,
                    strides: desc.strides,
                },
            };
            let size = crate::image::tensor_file::expected_size(desc);
            let total = size.and_then(|n| n.checked_add(used));
            if !budget.admits(total) {
                return err!(
                    OutOfMemory,
                    "{}: tensor '{}' ({}) needs {} of host memory{}, over the host memory budget of {} B",
                    image.file(),
                    t.name,
                    desc.bin,
                    Bytes(size),
                    if used > 0 {
                        alloc::format!(" besides the {used} B of the tensors before it")
                    } else {
                        String::new()
                    },
                    budget.bytes()
                );
            }
            used = total.unwrap_or(used);
            let data = image.tensor_bytes(&t.name).map_err(|e| {
                BackendError::new(BackendErrorKind::InvalidImage, alloc::format!("{e}"))
            })?;
            let data = match data {
                alloc::borrow::Cow::Owned(v) => v,
                alloc::borrow::Cow::Borrowed(b) => {
                    let mut v = Vec::new();
                    v.try_reserve_exact(b.len()).map_err(|_| {
                        BackendError::new(
                            BackendErrorKind::OutOfMemory,
                            alloc::format!(
                                "{}: tensor '{}': cannot allocate {} B of host memory",
                                image.file(),
                                t.name,
                                b.len()
                            ),
                        )
                    })?;
                    v.extend_from_slice(b);
                    v
                }
            };
            loads.push(Load {
                queue: t.name.clone(),
                data,
                kind,
            });
        }
        Backend::new(image.netlist().clone(), arch, config, loads, chip)
    }

    pub fn netlist(&self) -> &Netlist {
        &self.netlist
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The chip the backend runs on: its geometry (worker grid, harvested rows, memory) and
    /// where its description came from.
    pub fn chip(&self) -> (&crate::hal::ChipGeometry, &SocSource) {
        (&self.geometry, &self.soc_source)
    }

    /// Programs in netlist order.
    pub fn program_names(&self) -> impl Iterator<Item = &str> {
        self.netlist.programs.iter().map(|p| p.name.as_str())
    }

    fn take<'a>(&'a self, flag: &'a AtomicBool, call: &str) -> Result<Side<'a>, BackendError> {
        if flag
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return err!(
                InvalidState,
                "{call}: another thread is inside a call on the same side of this backend"
            );
        }
        Ok(Side(flag))
    }

    /// Takes a side for `finish`, waiting for the call inside it to end: io calls waiting for
    /// a queue see `finishing` and return, and run_program's waits are bounded.
    fn wait_side<'a>(&'a self, flag: &'a AtomicBool) -> Side<'a> {
        while flag
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            std::thread::sleep(std::time::Duration::from_micros(20));
        }
        Side(flag)
    }

    /// The runtime, for a call made while holding a side.
    fn runtime(&self, call: &str) -> Result<&Runtime, BackendError> {
        match self.state.load(Ordering::Acquire) {
            READY => {}
            CREATED => {
                return err!(
                    InvalidState,
                    "{call}: the backend is not initialized (call initialize first)"
                )
            }
            _ => return err!(InvalidState, "{call}: the backend has finished"),
        }
        // SAFETY: READY means `rt` is set, and it changes only under both sides.
        match unsafe { (*self.rt.get()).as_deref() } {
            Some(rt) if rt.attached() => Ok(rt),
            Some(_) => err!(
                InvalidState,
                "{call}: the run side this io side attached to has finished its backend (or initialized it again)"
            ),
            None => err!(InvalidState, "{call}: the backend is not initialized"),
        }
    }

    /// Whether a wait of an io call must end: finish was called, or (an io side) the run side
    /// it attached to finished.
    fn ended(&self, rt: &Runtime) -> bool {
        self.finishing.load(Ordering::Acquire) || !rt.attached()
    }

    /// Why a wait ended (`ended`).
    fn ending(&self) -> &'static str {
        if self.finishing.load(Ordering::Acquire) {
            "the backend was finished"
        } else {
            "the run side finished its backend"
        }
    }

    fn queue_index(&self, call: &str, name: &str) -> Result<usize, BackendError> {
        match self.netlist.queues.iter().position(|q| q.name == name) {
            Some(i) => Ok(i),
            None => err!(
                NotFound,
                "{call}: queue '{name}' is not in netlist {}",
                self.netlist.file
            ),
        }
    }

    /// The netlist's queue `name` (NotFound, naming the netlist and `call`, if it has none).
    /// Allocates nothing: the C API checks descriptors against it on every transfer.
    pub fn queue(&self, call: &str, name: &str) -> Result<&crate::netlist::Queue, BackendError> {
        Ok(&self.netlist.queues[self.queue_index(call, name)?])
    }

    /// The descriptor of `queue` (tt_dram_io_desc).
    pub fn queue_desc(&self, queue: &str) -> Result<QueueDesc, BackendError> {
        if self.state.load(Ordering::Acquire) == FINISHED {
            return err!(
                InvalidState,
                "get_queue_descriptor: the backend has finished"
            );
        }
        let q = self.queue("get_queue_descriptor", queue)?;
        let layout = q.layout(self.arch);
        Ok(QueueDesc {
            name: q.name.clone(),
            io_type: q.io_type,
            location: q.loc,
            layout,
            entries: q.entries,
            input_count: queue::input_count_of(&self.netlist, q),
            entry_size: layout.entry_size(),
            buffers: q.buffers.iter().map(|b| (b.channel, b.address)).collect(),
        })
    }

    /// Starts the simulated device, lays out every queue and loads the image's constants and
    /// parameters.
    pub fn initialize(&self) -> Result<(), BackendError> {
        let _io = self.take(&self.io_busy, "initialize")?;
        let _run = self.take(&self.run_busy, "initialize")?;
        match self.state.load(Ordering::Acquire) {
            CREATED => {}
            READY => {
                return err!(
                    InvalidState,
                    "initialize: the backend is already initialized"
                )
            }
            _ => return err!(InvalidState, "initialize: the backend has finished"),
        }
        let rt = self.start()?;
        let role = rt.role;
        // SAFETY: both sides are held.
        unsafe { *self.rt.get() = Some(rt) };
        self.state.store(READY, Ordering::Release);
        // An io side's constants and parameters are the run side's.
        let loads = if role == BackendRole::Run {
            &self.loads[..]
        } else {
            &[]
        };
        let loaded = loads.iter().try_for_each(|l| {
            let qi = self.queue_index("initialize", &l.queue)?;
            let rt = self.runtime("initialize")?;
            let q = &rt.queues[qi];
            let ptr = if q.io_type == IoType::Ram { 0 } else { -1 };
            let now = Timeout::given(0);
            match l.kind {
                LoadKind::Host {
                    format,
                    shape,
                    strides,
                } => {
                    let t = HostTensor {
                        data: &l.data,
                        format,
                        shape,
                        strides,
                    };
                    self.push(rt, qi, &t, false, now, ptr, "initialize")
                }
                LoadKind::Tilized { .. } if q.golden.is_some() => err!(
                    Unsupported,
                    "initialize: tensor '{}' is pre-tilized (.tbin), but golden mode keeps queue '{}' as float32: export it as a .bin",
                    l.queue,
                    q.name
                ),
                LoadKind::Tilized { entries } => {
                    let first = self.push_span(rt, qi, entries, false, now, ptr, "initialize")?;
                    self.deliver(rt, qi, first, entries, "initialize", |mem| {
                        q.write_entries(mem, first, entries, &l.data)
                    })
                }
            }
        });
        if let Err(e) = loaded {
            self.state.store(FINISHED, Ordering::Release);
            // SAFETY: both sides are held.
            drop(unsafe { (*self.rt.get()).take() });
            return Err(e);
        }
        let rt = self.runtime("initialize")?;
        if role == BackendRole::Run {
            rt.shared.publish();
        }
        if log::log_enabled!(log::Level::Info) {
            self.log_layout(rt);
        }
        Ok(())
    }

    /// An io side's initialize: waits for the run side's (the same netlist, ready) and takes
    /// its generation.
    fn attach(&self, rt: &mut Runtime) -> Result<(), BackendError> {
        if !rt.shared.is_shared() {
            return err!(
                InvalidArgument,
                "initialize: role io, but this device does not map its host memory, where a run side's queue pointers would be"
            );
        }
        let digest = rt.digest(self.arch);
        let start = std::time::Instant::now();
        loop {
            if let Some(a) = rt.shared.ready() {
                if !a.magic_ok || a.queues as usize != rt.queues.len() || a.digest != digest {
                    return err!(
                        InvalidState,
                        "initialize: the run side on this device initialized another netlist ({} queues, layout digest {:#018x}) than {} ({} queues, layout digest {digest:#018x})",
                        a.queues,
                        a.digest,
                        self.netlist.file,
                        rt.queues.len()
                    );
                }
                if (a.flags & shared::FLAG_GOLDEN != 0) != self.config.golden {
                    let (run, io) = match self.config.golden {
                        true => ("does not run", "does"),
                        false => ("runs", "does not"),
                    };
                    return err!(
                        InvalidState,
                        "initialize: the run side on this device {run} in golden mode and this io side {io}: give both the same config.golden"
                    );
                }
                rt.generation = a.generation;
                return Ok(());
            }
            if self.finishing.load(Ordering::Acquire) {
                return err!(
                    Cancelled,
                    "initialize: the backend was finished while this io side waited for the run side"
                );
            }
            if start.elapsed().as_millis() >= u128::from(ATTACH_WAIT_MS) {
                return err!(
                    Timeout,
                    "initialize: no run side initialized {} on this device within {} s (an io side attaches to the queues of a run side in another process)",
                    self.netlist.file,
                    ATTACH_WAIT_MS / 1000
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The initialize summary: where the queues went and what was loaded.
    fn log_layout(&self, rt: &Runtime) {
        let (mut dram, mut host, mut dram_bytes, mut host_bytes) = (0usize, 0usize, 0usize, 0usize);
        for q in rt.queues.iter() {
            let bytes = if q.owns_header {
                q.buffers * (q.header_size + q.entries as usize * q.entry_size)
            } else {
                0
            };
            if q.mem.kind == crate::hal::MemKind::Host {
                host += 1;
                host_bytes += bytes;
            } else {
                dram += 1;
                dram_bytes += bytes;
            }
        }
        log::info!(
            "initialized {}: {} in DRAM ({}), {} in host memory ({}), {} compiled, {} loaded",
            self.netlist.file,
            count(dram, "queue"),
            count(dram_bytes, "byte"),
            count(host, "queue"),
            count(host_bytes, "byte"),
            count(rt.graph_count, "graph"),
            count(self.loads.len(), "constant or parameter tensor")
        );
    }

    fn start(&self) -> Result<Box<Runtime>, BackendError> {
        let netlist = &self.netlist;
        let temporal = TemporalGraphs::new(netlist)
            .and_then(|t| t.check_programs(netlist).map(|()| t))
            .map_err(|e| {
                BackendError::new(
                    BackendErrorKind::InvalidImage,
                    alloc::format!("netlist {}: {e}", netlist.file),
                )
            })?;
        // Checked before the device starts, so a bad netlist leaves no worker behind.
        placement::check_dram_overlaps(netlist, self.arch)?;
        let interp = Interpreter::new(netlist).map_err(|e| {
            BackendError::new(BackendErrorKind::InvalidImage, alloc::format!("{e}"))
        })?;
        let device_name = match &self.config.device {
            Some(d) => d.clone(),
            None => crate::hal::select::device_from_env(),
        };
        let chip = AnyChip::open_as(&device_name, &self.geometry).map_err(|e| {
            let env = match self.config.device {
                Some(_) => "config.device",
                None => crate::hal::select::DEVICE_ENV,
            };
            let (kind, text) = match crate::hal::select::DeviceSpec::parse(&device_name) {
                Some(crate::hal::select::DeviceSpec::InProcess) => {
                    (BackendErrorKind::OutOfMemory, alloc::format!("{e}"))
                }
                Some(_) => (BackendErrorKind::Runtime, alloc::format!("{env}: {e}")),
                None => (
                    BackendErrorKind::InvalidArgument,
                    alloc::format!("{env}: {e}"),
                ),
            };
            BackendError::new(kind, text)
        })?;
        {
            let got = crate::hal::Chip::geometry(&chip);
            if got.harvested_rows != self.geometry.harvested_rows
                || got.worker_grid != self.geometry.worker_grid
            {
                return err!(
                    InvalidArgument,
                    "initialize: device '{device_name}' has harvested rows mask {} and a {}x{} worker grid, but the backend was created for mask {} and a {}x{} grid (rows x columns)",
                    got.harvested_rows,
                    got.worker_grid.1,
                    got.worker_grid.0,
                    self.geometry.harvested_rows,
                    self.geometry.worker_grid.1,
                    self.geometry.worker_grid.0
                );
            }
        }
        if self.config.role == BackendRole::Io {
            if !chip.is_remote() {
                return err!(
                    InvalidArgument,
                    "initialize: role io attaches to the queues of a run side in another process, so it needs a device that process shares ('shm:NAME'), not '{device_name}'"
                );
            }
        }
        let cqs = self.config.num_command_queues;
        let device = Arc::new(Device::new(
            DeviceConfig {
                arch: self.arch,
                num_command_queues: cqs,
                ..DeviceConfig::default()
            },
            chip,
        )?);
        device.set_threaded(true);
        let mut workers = Vec::new();
        let started = Arc::new(AtomicU32::new(0));
        for cq in 0..cqs {
            let d = Arc::clone(&device);
            let started = Arc::clone(&started);
            match std::thread::Builder::new()
                .name(alloc::format!("ttrt-backend-cq{cq}"))
                .spawn(move || {
                    started.fetch_add(1, Ordering::Release);
                    d.serve(cq)
                }) {
                Ok(w) => workers.push(w),
                Err(e) => {
                    device.stop();
                    workers
                        .into_iter()
                        .for_each(|w: std::thread::JoinHandle<()>| drop(w.join()));
                    return err!(
                        OutOfMemory,
                        "cannot start the worker thread of CQ {cq}: {e}"
                    );
                }
            }
        }
        // The workers are running before initialize returns: what a thread's start does (std
        // allocates its name and signal stack) is over before the first push, even when the
        // graphs run on the caller's thread and a worker is never woken.
        while started.load(Ordering::Acquire) < u32::from(cqs) {
            std::thread::yield_now();
        }
        let shared =
            shared::SharedState::locate(device.chip(), netlist.queues.len()).ok_or_else(|| {
                BackendError::new(
                    BackendErrorKind::OutOfMemory,
                    alloc::format!(
                        "initialize: no memory for the pointers of {}",
                        count(netlist.queues.len(), "queue")
                    ),
                )
            })?;
        let mut rt = Box::new(Runtime {
            shared,
            generation: 0,
            role: self.config.role,
            device,
            workers,
            queues: Box::new([]),
            graph_count: temporal.groups().len(),
            loaded: 0,
            settings_at: crate::hal::DeviceRange {
                kind: crate::hal::MemKind::Host,
                bank: 0,
                addr: 0,
                len: 0,
            },
            settings_buf: UnsafeCell::new(Vec::new()),
            interp: UnsafeCell::new(interp),
            io_cq: if cqs == 2 { 1 } else { 0 },
            run_cq: 0,
            last_io_event: AtomicU32::new(0),
            kernels_run: AtomicU64::new(0),
            kernel_ns: AtomicU64::new(0),
            temporal: UnsafeCell::new(temporal::TemporalRun::new(netlist, &temporal)),
        });
        crate::hal::firmware::install(&FIRMWARE);
        let chip = rt.device.chip();
        let mut host = HostPlacer::new(chip, self.budget, shared::block_size(netlist.queues.len()));
        let queues = netlist
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let state = rt.shared.queue(i);
                QueueRt::new(
                    netlist,
                    q,
                    self.arch,
                    chip,
                    &mut host,
                    state,
                    self.config.golden,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        rt.queues = queues.into_boxed_slice();
        if self.config.role == BackendRole::Io {
            self.attach(&mut rt)?;
            return Ok(rt);
        }
        let flags = if self.config.golden {
            shared::FLAG_GOLDEN
        } else {
            0
        };
        rt.generation = rt.shared.begin(rt.digest(self.arch), flags);
        for q in rt.queues.iter() {
            q.reset_tags();
            q.set_rd(&rt.io_mem(), 0)
                .and_then(|()| q.set_wr(&rt.io_mem(), 0))
                .map_err(|e| {
                    BackendError::new(
                        BackendErrorKind::Runtime,
                        alloc::format!("queue '{}': {e}", q.name),
                    )
                })?;
        }
        self.load_graphs(&mut rt, &mut host)?;
        Ok(rt)
    }

    /// The run side's part of initialize on the device: the settings area and the graph
    /// descriptor placed in host memory after the queues, the descriptor written and loaded
    /// into the device's graph firmware.
    fn load_graphs(&self, rt: &mut Runtime, host: &mut HostPlacer) -> Result<(), BackendError> {
        let netlist = &self.netlist;
        let oom = |what: &str| {
            BackendError::new(
                BackendErrorKind::OutOfMemory,
                alloc::format!("initialize: no host memory the device reaches for {what}"),
            )
        };
        let size = firmware::settings_size(netlist.queues.len());
        let mut buf = Vec::new();
        buf.try_reserve_exact(size)
            .map_err(|_| oom("the settings of an execute"))?;
        buf.resize(size, 0);
        rt.settings_buf = UnsafeCell::new(buf);
        let (ch, addr) = host
            .place(size as u64)
            .ok_or_else(|| oom("the settings of an execute"))?;
        rt.settings_at = crate::hal::DeviceRange {
            kind: crate::hal::MemKind::Host,
            bank: ch,
            addr,
            len: size as u64,
        };
        let desc = firmware::Descriptor {
            arch: self.arch,
            golden: self.config.golden,
            queues: netlist.queues.len(),
            budget: self.config.host_memory_budget,
            digest: rt.digest(self.arch),
            file: &netlist.file,
            text: &netlist.source,
        }
        .encode()
        .ok_or_else(|| oom("the graph descriptor"))?;
        let (ch, addr) = host
            .place(desc.len() as u64)
            .ok_or_else(|| oom("the graph descriptor"))?;
        let at = crate::hal::DeviceRange {
            kind: crate::hal::MemKind::Host,
            bank: ch,
            addr,
            len: desc.len() as u64,
        };
        let chip = rt.device.chip();
        crate::hal::Chip::write(chip, at.kind, at.bank, at.addr, &desc).map_err(|e| {
            BackendError::new(
                BackendErrorKind::Runtime,
                alloc::format!("initialize: the graph descriptor: {e}"),
            )
        })?;
        rt.loaded = crate::hal::Chip::load_graphs(chip, &at).map_err(|e| {
            let text = alloc::format!("{e}");
            let kind = match e {
                crate::hal::HalError::Lost(_) => BackendErrorKind::DeviceLost,
                crate::hal::HalError::Device(_) if text.contains("not supported") => {
                    BackendErrorKind::Unsupported
                }
                crate::hal::HalError::Device(_) => BackendErrorKind::InvalidImage,
                _ => BackendErrorKind::Runtime,
            };
            BackendError::new(kind, text)
        })?;
        Ok(())
    }

    /// Pushes `t` (W entries along its outermost dimension) into `queue`.
    /// `TT_BACKEND_PUSH_TIMEOUT`, when set at create, replaces `timeout_ms`.
    pub fn push_input(
        &self,
        queue: &str,
        t: &HostTensor<'_>,
        push_one: bool,
        timeout_ms: i32,
        ptr: i32,
    ) -> Result<(), BackendError> {
        let _io = self.take(&self.io_busy, "push_input")?;
        let rt = self.runtime("push_input")?;
        let qi = self.queue_index("push_input", queue)?;
        let timeout = TimeoutOverrides::apply(self.timeouts.push, timeout::PUSH, timeout_ms);
        self.push(rt, qi, t, push_one, timeout, ptr, "push_input")
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        rt: &Runtime,
        qi: usize,
        t: &HostTensor<'_>,
        push_one: bool,
        timeout: Timeout,
        ptr: i32,
        call: &str,
    ) -> Result<(), BackendError> {
        let w = t.shape[0];
        let first = self.push_span(rt, qi, w, push_one, timeout, ptr, call)?;
        let q = &rt.queues[qi];
        crate::format::check_tilize(t, &q.view()).map_err(|e| {
            BackendError::new(
                BackendErrorKind::InvalidArgument,
                alloc::format!("{call} to queue '{}': {e}", q.name),
            )
        })?;
        // A flat queue golden mode keeps as float32 for its tilizers takes the host's values
        // as they are (golden's tilizer reads the unquantized host buffer).
        if q.golden.is_some() && !q.host_fed {
            return self.push_golden(rt, qi, t, first, call);
        }
        self.deliver(rt, qi, first, w, call, |mem| {
            // SAFETY: the io side's staging; this call holds the io side (or both).
            q.tilize_entries(mem, first, t, unsafe { &mut *q.io_staging.get() })
        })?;
        log::trace!(
            "{call} to queue '{}': {} at pointer {first}",
            q.name,
            count(w, "entry")
        );
        Ok(())
    }

    /// A push into a queue golden mode keeps as float32 (a ram an op writes): as golden's
    /// push, the values are quantized to the queue's format first (tilized to it and back).
    fn push_golden(
        &self,
        rt: &Runtime,
        qi: usize,
        t: &HostTensor<'_>,
        first: u32,
        call: &str,
    ) -> Result<(), BackendError> {
        let q = &rt.queues[qi];
        let w = t.shape[0];
        let view = q.view();
        let shape = view.host_shape(w);
        let values = shape.iter().try_fold(4usize, |a, &d| a.checked_mul(d));
        let sizes = values.map(|v| (view.tilized_size(w), v));
        let buffers = sizes
            .filter(|&(a, b)| {
                self.budget
                    .admits(Some(a as u64).and_then(|a| a.checked_add(b as u64)))
            })
            .and_then(|(a, b)| Some((try_zeroed(a)?, try_zeroed(b)?)));
        let Some((mut device, mut plain)) = buffers else {
            return err!(
                OutOfMemory,
                "{call} to queue '{}': no host memory to quantize {} to {}",
                q.name,
                count(w, "entry"),
                q.df.name()
            );
        };
        let fail = |e: &dyn core::fmt::Display| {
            BackendError::new(
                BackendErrorKind::InvalidArgument,
                alloc::format!("{call} to queue '{}': {e}", q.name),
            )
        };
        crate::format::tilize(t, &view, crate::format::Rounding::default(), &mut device)
            .map_err(|e| fail(&e))?;
        let mut dst = HostTensorMut::contiguous(&mut plain, DataFormat::Float32, shape);
        crate::format::untilize(&device, &view, &mut dst).map_err(|e| fail(&e))?;
        let src = HostTensor::contiguous(&plain, DataFormat::Float32, shape);
        self.deliver(rt, qi, first, w, call, |mem| {
            // SAFETY: the io side's staging; this call holds the io side (or both).
            q.tilize_entries(mem, first, &src, unsafe { &mut *q.io_staging.get() })
        })?;
        for e in 0..w as u32 {
            q.set_tag(q.advance(first, e), q.df);
        }
        Ok(())
    }

    /// Checks a push of `w` entries into queue `qi` and waits for room; returns the pointer
    /// of the first entry.
    #[allow(clippy::too_many_arguments)]
    fn push_span(
        &self,
        rt: &Runtime,
        qi: usize,
        w: usize,
        push_one: bool,
        timeout: Timeout,
        ptr: i32,
        call: &str,
    ) -> Result<u32, BackendError> {
        let q = &rt.queues[qi];
        let name = &q.name;
        if !q.host_fed && q.io_type == IoType::Queue {
            return err!(
                InvalidArgument,
                "{call}: queue '{name}' is written by op '{}', not by the host",
                self.netlist.queues[qi].input
            );
        }
        if w == 0 {
            return err!(
                InvalidArgument,
                "{call} to queue '{name}': the tensor has no entries (W = 0)"
            );
        }
        if push_one && w != 1 {
            return err!(
                InvalidArgument,
                "{call} to queue '{name}': push_one with a tensor of {}",
                crate::message::count(w, "entry")
            );
        }
        if w != 1 && w % q.input_count as usize != 0 {
            return err!(
                InvalidArgument,
                "{call} to queue '{name}': a tensor of {}; W must be 1 or a multiple of the input_count {}",
                crate::message::count(w, "entry"),
                q.input_count
            );
        }
        if w > q.entries as usize {
            return err!(
                InvalidArgument,
                "{call} to queue '{name}': {} do not fit a queue of {}",
                count(w, "entry"),
                q.entries
            );
        }
        match q.io_type {
            IoType::Ram => {
                if ptr >= 0 && ptr as u32 >= q.entries {
                    return err!(
                        InvalidArgument,
                        "{call} to ram '{name}': ptr {ptr} is outside its {}",
                        count(q.entries, "entry")
                    );
                }
                if ptr >= 0 {
                    Ok(ptr as u32)
                } else {
                    Ok(q.wr())
                }
            }
            IoType::Queue => {
                if ptr >= 0 {
                    return err!(
                        InvalidArgument,
                        "{call} to queue '{name}': ptr {ptr} selects an entry of a ram; a queue is written at its write pointer (pass -1)"
                    );
                }
                let need = q.entries - w as u32;
                let waited = wait_for(timeout.ms, || self.ended(rt), || q.occupancy() <= need);
                if waited == Waited::Cancelled {
                    return err!(
                        Cancelled,
                        "{call} to queue '{name}': {} while this call waited for room for {}",
                        self.ending(),
                        count(w, "entry")
                    );
                }
                if waited == Waited::TimedOut {
                    let occupied = q.occupancy();
                    return err!(
                        Timeout,
                        "{call} to queue '{name}' timed out after {timeout}: {occupied} of {} {} full and {w} {} pushed",
                        crate::message::count(q.entries, "entry"),
                        if occupied == 1 { "is" } else { "are" },
                        if w == 1 { "is" } else { "are" }
                    );
                }
                Ok(q.wr())
            }
        }
    }

    /// Writes `w` entries into queue `qi` from pointer `first` on with `write`, in the io
    /// CQ's order; then publishes them: the write pointer of a queue moves past them and,
    /// with two CQs, an event on the io CQ tells the run CQ they are there.
    fn deliver(
        &self,
        rt: &Runtime,
        qi: usize,
        first: u32,
        w: usize,
        call: &str,
        write: impl FnOnce(&dyn Mem) -> Result<(), RunError>,
    ) -> Result<(), BackendError> {
        let q = &rt.queues[qi];
        rt.run_io(|mem| {
            write(mem)?;
            if q.io_type == IoType::Queue {
                q.set_wr(mem, q.advance(first, w as u32))?;
            }
            Ok(())
        })
        .map_err(|e| {
            BackendError::new(
                BackendErrorKind::Runtime,
                alloc::format!("{call} to queue '{}': {e}", q.name),
            )
        })?;
        if rt.io_cq != rt.run_cq {
            let ev = rt.device.record_event(rt.io_cq)?;
            rt.last_io_event.store(ev.id, Ordering::Release);
        }
        Ok(())
    }

    /// Runs program `program` with `params` (name with or without `$`, value).
    pub fn run_program(&self, program: &str, params: &[(&str, &str)]) -> Result<(), BackendError> {
        let _run = self.take(&self.run_busy, "run_program")?;
        let rt = self.runtime("run_program")?;
        if rt.role == BackendRole::Io {
            return err!(
                InvalidState,
                "run_program: this backend is an io side (role io); programs run on the run side that initialized the device's queues"
            );
        }
        // SAFETY: the run side is held.
        let interp = unsafe { &mut *rt.interp.get() };
        let Some(index) = interp.program_index(program) else {
            return err!(
                NotFound,
                "run_program: program '{program}' is not in netlist {} (programs: {})",
                self.netlist.file,
                self.netlist
                    .programs
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        // SAFETY: the run side is held. Upstream forgets partial temporal graphs per program.
        unsafe { &mut *rt.temporal.get() }.reset();
        let mut host = RunHost { rt };
        let start = log::log_enabled!(log::Level::Debug).then(std::time::Instant::now);
        interp.run(index, params, &mut host).map_err(|e| {
            // A program that failed because its device went away says so by its kind too.
            let kind = match crate::hal::Chip::check(rt.device.chip()) {
                Ok(()) => BackendErrorKind::Runtime,
                Err(_) => BackendErrorKind::DeviceLost,
            };
            BackendError::new(kind, alloc::format!("{e}"))
        })?;
        if let Some(start) = start {
            log::debug!(
                "run_program '{program}' ({}) took {:.3} ms",
                Params(params),
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        Ok(())
    }

    /// The entries get_output reads: (queue index, first pointer, count).
    fn output_span(
        &self,
        rt: &Runtime,
        call: &str,
        queue: &str,
        one: bool,
        timeout: Timeout,
        ptr: i32,
    ) -> Result<(usize, u32, usize), BackendError> {
        let qi = self.queue_index(call, queue)?;
        let q = &rt.queues[qi];
        let n = if one { 1 } else { q.input_count };
        match q.io_type {
            IoType::Ram => {
                if ptr >= 0 && ptr as u32 >= q.entries {
                    return err!(
                        InvalidArgument,
                        "{call} from ram '{queue}': ptr {ptr} is outside its {}",
                        crate::message::count(q.entries, "entry")
                    );
                }
                let first = if ptr >= 0 { ptr as u32 } else { q.rd() };
                Ok((qi, first, n as usize))
            }
            IoType::Queue => {
                if ptr >= 0 {
                    return err!(
                        InvalidArgument,
                        "{call} from queue '{queue}': ptr {ptr} selects an entry of a ram; a queue is read at its read pointer (pass -1)"
                    );
                }
                let waited = wait_for(timeout.ms, || self.ended(rt), || q.occupancy() >= n);
                if waited == Waited::Cancelled {
                    return err!(
                        Cancelled,
                        "{call} from queue '{queue}': {} while this call waited for {}",
                        self.ending(),
                        count(n, "entry")
                    );
                }
                if waited == Waited::TimedOut {
                    return err!(
                        Timeout,
                        "{call} from queue '{queue}' timed out after {timeout}: {} needed, {} available",
                        count(n, "entry"),
                        q.occupancy()
                    );
                }
                Ok((qi, q.rd(), n as usize))
            }
        }
    }

    /// Reads the entries of a span and converts them into `dst`.
    fn read_into(
        &self,
        rt: &Runtime,
        call: &str,
        (qi, first, n): (usize, u32, usize),
        dst: &mut HostTensorMut<'_>,
    ) -> Result<(), BackendError> {
        let q = &rt.queues[qi];
        let fail = |kind, e: &dyn core::fmt::Display| {
            BackendError::new(kind, alloc::format!("{call} from queue '{}': {e}", q.name))
        };
        let found = check_untilize(dst, &q.view())
            .map_err(|e| fail(BackendErrorKind::InvalidArgument, &e))?;
        if found != n {
            let e = crate::format::FormatError::Entries {
                found,
                detail: "get_output reads 1 entry with get_one, else input_count entries",
            };
            return Err(fail(BackendErrorKind::InvalidArgument, &e));
        }
        if q.golden.is_some() {
            return rt
                .run_io(|mem| golden_output(q, mem, first, dst))
                .map_err(|e| fail(BackendErrorKind::Runtime, &e));
        }
        // SAFETY: the io side's staging; this call holds the io side.
        rt.run_io(|mem| q.untilize_entries(mem, first, dst, unsafe { &mut *q.io_staging.get() }))
            .map_err(|e| fail(BackendErrorKind::Runtime, &e))
    }

    /// Peeks at 1 (`get_one`) or input_count entries of `queue`; returns them in fresh memory
    /// in the host-compatible format of the queue's format. `TT_BACKEND_GET_TIMEOUT`, when
    /// set at create, replaces `timeout_ms` (also for `get_output_into`).
    pub fn get_output(
        &self,
        queue: &str,
        get_one: bool,
        timeout_ms: i32,
        ptr: i32,
    ) -> Result<OutputTensor, BackendError> {
        let _io = self.take(&self.io_busy, "get_output")?;
        let rt = self.runtime("get_output")?;
        let timeout = TimeoutOverrides::apply(self.timeouts.get, timeout::GET, timeout_ms);
        let span = self.output_span(rt, "get_output", queue, get_one, timeout, ptr)?;
        let q = &rt.queues[span.0];
        let OutputTensor {
            mut data,
            format,
            shape,
        } = self.host_tensor(&q.name, &q.view(), span.2)?;
        let mut dst = HostTensorMut::contiguous(&mut data, format, shape);
        self.read_into(rt, "get_output", span, &mut dst)?;
        trace_read("get_output", q, span);
        Ok(OutputTensor {
            data,
            format,
            shape,
        })
    }

    /// get_output into the caller's tensor (Float32 or the queue's host-compatible format,
    /// shape `[n, z, rows, cols]`): nothing is allocated.
    pub fn get_output_into(
        &self,
        queue: &str,
        dst: &mut HostTensorMut<'_>,
        get_one: bool,
        timeout_ms: i32,
        ptr: i32,
    ) -> Result<(), BackendError> {
        let _io = self.take(&self.io_busy, "get_output")?;
        let rt = self.runtime("get_output")?;
        let timeout = TimeoutOverrides::apply(self.timeouts.get, timeout::GET, timeout_ms);
        let span = self.output_span(rt, "get_output", queue, get_one, timeout, ptr)?;
        self.read_into(rt, "get_output", span, dst)?;
        trace_read("get_output_into", &rt.queues[span.0], span);
        Ok(())
    }

    /// Advances the read pointer of `queue` by 1 (`pop_one`) or input_count entries.
    /// `TT_BACKEND_POP_TIMEOUT`, when set at create, replaces `timeout_ms`.
    pub fn pop_output(
        &self,
        queue: &str,
        pop_one: bool,
        timeout_ms: i32,
    ) -> Result<(), BackendError> {
        let _io = self.take(&self.io_busy, "pop_output")?;
        let rt = self.runtime("pop_output")?;
        let qi = self.queue_index("pop_output", queue)?;
        let q = &rt.queues[qi];
        if q.io_type == IoType::Ram {
            return err!(
                InvalidArgument,
                "pop_output: queue '{queue}' is a ram (RandomAccess): rams are read with a ptr, not popped"
            );
        }
        let timeout = TimeoutOverrides::apply(self.timeouts.pop, timeout::POP, timeout_ms);
        let (_, first, n) = self.output_span(rt, "pop_output", queue, pop_one, timeout, -1)?;
        rt.run_io(|mem| q.set_rd(mem, q.advance(first, n as u32)))
            .map_err(|e| {
                BackendError::new(
                    BackendErrorKind::Runtime,
                    alloc::format!("pop_output from queue '{queue}': {e}"),
                )
            })?;
        log::trace!(
            "pop_output from queue '{queue}': {}, read pointer {first} -> {}",
            count(n, "entry"),
            q.advance(first, n as u32)
        );
        Ok(())
    }

    /// The graph kernels run_program has run since initialize, and the time they took in all:
    /// the device's compute and queue conversions, without the program interpreter's dispatch
    /// around them.
    pub fn kernel_time(&self) -> Result<(u64, core::time::Duration), BackendError> {
        let rt = self.runtime("kernel_time")?;
        Ok((
            rt.kernels_run.load(Ordering::Relaxed),
            core::time::Duration::from_nanos(rt.kernel_ns.load(Ordering::Relaxed)),
        ))
    }

    /// Waits until the device has run everything enqueued.
    pub fn wait_for_idle(&self) -> Result<(), BackendError> {
        let rt = self.runtime("wait_for_idle")?;
        Ok(rt.device.synchronize()?)
    }

    /// Stops the device and frees its memory. Every later call fails with InvalidState.
    ///
    /// Calls waiting on other threads (push for room, get or pop for entries) are woken first
    /// and return `Cancelled`; finish then waits for the calls in progress to end. A finish
    /// that fails leaves the backend as it was.
    pub fn finish(&self) -> Result<(), BackendError> {
        if self.state.load(Ordering::Acquire) == FINISHED {
            return err!(InvalidState, "finish: the backend has already finished");
        }
        self.finishing.store(true, Ordering::Release);
        let _io = self.wait_side(&self.io_busy);
        let _run = self.wait_side(&self.run_busy);
        if self.state.load(Ordering::Acquire) == FINISHED {
            // Another thread's finish got both sides first.
            return err!(InvalidState, "finish: the backend has already finished");
        }
        // SAFETY: both sides are held.
        if let Some(rt) = unsafe { (*self.rt.get()).as_deref() } {
            if let Err(e) = rt.device.synchronize() {
                // Nothing is released: the backend stays usable, as before the call.
                self.finishing.store(false, Ordering::Release);
                return Err(e.into());
            }
        }
        self.state.store(FINISHED, Ordering::Release);
        // SAFETY: both sides are held.
        drop(unsafe { (*self.rt.get()).take() });
        Ok(())
    }

    /// A zeroed host tensor of `n` entries of a queue of `layout`, in the host-compatible
    /// format of its format, within the host memory budget.
    fn host_tensor(
        &self,
        queue: &str,
        layout: &QueueLayout,
        n: usize,
    ) -> Result<OutputTensor, BackendError> {
        let format = layout.format.host_compatible();
        let shape = layout.host_shape(n);
        let item = format.host_item_size().unwrap_or(4);
        let need = shape
            .iter()
            .try_fold(item as u64, |acc, &d| acc.checked_mul(d as u64));
        let data = need
            .filter(|_| self.budget.admits(need))
            .and_then(|n| usize::try_from(n).ok())
            .and_then(try_zeroed);
        match data {
            Some(data) => Ok(OutputTensor {
                data,
                format,
                shape,
            }),
            None => err!(
                OutOfMemory,
                "queue `{queue}`: a host tensor of {n} entries ({} x {} x {} {}) needs {} of host memory, over the host memory budget of {} B (or more than the allocator gives)",
                shape[1],
                shape[2],
                shape[3],
                format.name(),
                Bytes(need),
                self.budget.bytes()
            ),
        }
    }

    /// A zeroed host tensor shaped for one (`single`) or input_count entries of `queue`, in
    /// the host-compatible format of its format (the io_utils helper), within the host
    /// memory budget.
    pub fn zeroed_host_tensor(
        &self,
        queue: &str,
        single: bool,
    ) -> Result<OutputTensor, BackendError> {
        let d = self.queue_desc(queue)?;
        let n = if single { 1 } else { d.input_count as usize };
        self.host_tensor(queue, &d.layout, n)
    }

    /// The format get_output returns for `queue` and the host shape of `n` entries.
    pub fn output_format(
        &self,
        queue: &str,
        n: usize,
    ) -> Result<(DataFormat, [usize; 4]), BackendError> {
        let d = self.queue_desc(queue)?;
        Ok((d.layout.format.host_compatible(), d.layout.host_shape(n)))
    }
}

/// get_output of a queue golden mode keeps as float32: upstream golden's conversion at
/// get_output, to the host format of the queue's format (`DataFormat::host_compatible`):
/// Float16_b and the B block floats truncate to bfloat16, Float16 and the A block floats
/// become fp16_a, Float32 and Tf32 stay. A Float32 `dst` gets the values that conversion
/// gives, as float32.
fn golden_output(
    q: &QueueRt,
    mem: &dyn Mem,
    first: u32,
    dst: &mut HostTensorMut<'_>,
) -> Result<(), RunError> {
    use crate::format::element::{float16_b_to_f32, fp16a_to_f32, to_host};
    let shape = dst.shape;
    let values = shape.iter().product::<usize>();
    // The entries as float32, in the io side's staging (one io call at a time).
    // SAFETY: this call holds the io side.
    let staging = unsafe { &mut *q.io_staging.get() };
    if staging.len() < values * 4 {
        staging.resize(values * 4, 0);
    }
    let f32s = &mut staging[..values * 4];
    let mut plain = HostTensorMut::contiguous(f32s, DataFormat::Float32, shape);
    // Host memory converts in place: no staging of its own.
    q.untilize_entries(mem, first, &mut plain, &mut Vec::new())?;
    let f32s = &staging[..values * 4];
    let host = q.df.host_compatible();
    let [s0, s1, s2, s3] = dst.strides;
    let out_format = dst.format;
    let item = out_format.host_item_size().unwrap_or(4);
    let mut bits = [0u8; 4];
    let mut i = 0;
    for w in 0..shape[0] {
        for z in 0..shape[1] {
            for r in 0..shape[2] {
                for c in 0..shape[3] {
                    let x = f32::from_le_bytes([
                        f32s[i * 4],
                        f32s[i * 4 + 1],
                        f32s[i * 4 + 2],
                        f32s[i * 4 + 3],
                    ]);
                    i += 1;
                    to_host(x, host, &mut bits);
                    let at = w * s0 + z * s1 + r * s2 + c * s3;
                    let out = &mut dst.data[at..at + item];
                    if out_format == host {
                        out.copy_from_slice(&bits[..item]);
                        continue;
                    }
                    // A Float32 destination: the converted value, widened.
                    let v = match host {
                        DataFormat::Float16B => {
                            float16_b_to_f32(u16::from_le_bytes([bits[0], bits[1]]))
                        }
                        DataFormat::Float16 => fp16a_to_f32(u16::from_le_bytes([bits[0], bits[1]])),
                        _ => x,
                    };
                    out.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    Ok(())
}

/// Checks a `.tbin` constant or parameter against the queue it loads: the queue's format, one
/// buffer per core of its grid, and buffers of W whole entries (W the descriptor's outermost
/// dimension, as PyBuda's tilize wrote it); returns W.
fn tilized_entries(
    image: &crate::image::Image,
    arch: Arch,
    name: &str,
    desc: &crate::image::device_json::TensorDescriptor,
    buffers: crate::image::device_json::TilizedBuffers,
) -> Result<usize, BackendError> {
    let file = image.file();
    let member = &desc.bin;
    let Some(q) = image.netlist().queues.iter().find(|q| q.name == name) else {
        return err!(
            InvalidImage,
            "{file}: tensor '{name}' ({member}): the netlist has no queue '{name}' to load it into"
        );
    };
    let layout = q.layout(arch);
    if desc.format != layout.format {
        return err!(
            InvalidImage,
            "{file}: tensor '{name}' ({member}): tilized as {}, but queue '{name}' holds {}",
            desc.format.name(),
            layout.format.name()
        );
    }
    if buffers.num_buffers != layout.buffers() {
        return err!(
            InvalidImage,
            "{file}: tensor '{name}' ({member}): {}, but queue '{name}' has {} (a {}x{} grid)",
            crate::message::count(buffers.num_buffers, "buffer"),
            layout.buffers(),
            layout.grid_r,
            layout.grid_c
        );
    }
    let entry = layout.entry_size();
    let w = desc.shape[0].max(1);
    let expected = w.saturating_mul(entry);
    if expected != buffers.buffer_size_bytes {
        return err!(
            InvalidImage,
            "{file}: tensor '{name}' ({member}): buffers of {} B, but {} of queue '{name}' take {expected} B per buffer ({entry} B each)",
            buffers.buffer_size_bytes,
            count(w, "entry")
        );
    }
    Ok(w)
}
