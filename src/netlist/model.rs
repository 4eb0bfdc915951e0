//! The netlist as a typed model: devices, queues, graphs and their ops, with upstream's
//! defaults filled in (tt-budabackend `netlist/netlist_info_types.hpp`,
//! `netlist_op_info_types.hpp`). Programs, fused ops and the test config live in their own
//! files.

use alloc::string::String;
use alloc::vec::Vec;

use crate::format::{Arch, DataFormat, IoLayout, QueueLayout, TileDim, UblockOrder};

use super::fused_op::FusedOp;
use super::op_type::OpTypeName;
use super::program::Program;
use super::test_config::TestConfig;

/// A value of the open parts of the schema (op attributes ttrt does not type, `test-args`,
/// `performance-check`), interpreted the way YAML's core schema would.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// Keys in file order.
    Map(Vec<(String, Value)>),
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Grid of cores `[r, c]` an op or queue spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridSize {
    pub r: u32,
    pub c: u32,
}

impl GridSize {
    /// Cores in the grid (one queue buffer per core).
    pub fn cores(self) -> u64 {
        u64::from(self.r) * u64::from(self.c)
    }
}

/// Top-left core `[r, c]` of an op (upstream `grid_loc`, stored as `[y, x]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridLoc {
    pub r: u32,
    pub c: u32,
}

/// Macro block `[m, n]`: ublocks per core, in rows and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mblock {
    pub m: u32,
    pub n: u32,
}

/// Micro block `[rt, ct]`: tiles in rows and columns; the unit the math engine works on, which
/// must fit in the destination register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ublock {
    pub rt: u32,
    pub ct: u32,
}

/// The `[a, b]` lists the netlist spells these as.
macro_rules! from_pair {
    ($t:ident, $a:ident, $b:ident) => {
        impl From<[u32; 2]> for $t {
            fn from([$a, $b]: [u32; 2]) -> $t {
                $t { $a, $b }
            }
        }
    };
}
from_pair!(GridSize, r, c);
from_pair!(GridLoc, r, c);
from_pair!(Mblock, m, n);
from_pair!(Ublock, rt, ct);

impl Ublock {
    pub fn tiles(self) -> u64 {
        u64::from(self.rt) * u64::from(self.ct)
    }
}

/// `devices:`: the chips the netlist was written for. A list means it runs on any of them
/// (upstream then picks one with `ARCH_NAME`).
#[derive(Clone, Debug, PartialEq)]
pub struct Devices {
    pub arch: Vec<Arch>,
    pub line: u32,
}

/// IO_TYPE: `queue` (FIFO with read/write pointers) or `ram` (RandomAccess, addressed by
/// pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoType {
    Queue,
    Ram,
}

/// QUEUE_LOCATION: where a queue's buffers live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueLocation {
    Dram,
    Host,
}

/// One buffer of a queue (one per core of its grid, row-major): the DRAM channel (0 for host
/// memory) and the address in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueBuffer {
    pub channel: u32,
    pub address: u64,
}

/// A queue or ram (tt_queue_info).
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    pub name: String,
    pub line: u32,
    /// `HOST`, or the op that writes it.
    pub input: String,
    /// `input_tms`: TMs applied when the producer op writes the queue.
    pub input_tms: Vec<Tm>,
    /// `type`.
    pub io_type: IoType,
    /// Slots in the queue (bufq_num_slots).
    pub entries: u32,
    pub grid_size: GridSize,
    /// Z dimension of one entry (upstream `t`).
    pub t: u32,
    pub mblock: Mblock,
    pub ublock: Ublock,
    pub ublock_order: UblockOrder,
    /// `df`: the queue's data format on the device.
    pub df: DataFormat,
    /// The device the queue lives on; upstream expands a list into one queue per device.
    pub target_device: Vec<u32>,
    pub loc: QueueLocation,
    /// `dram: [[channel, addr], ...]` or `host: [addr, ...]` (or `[[channel, addr]]`), one per
    /// core of the grid, row-major.
    pub buffers: Vec<QueueBuffer>,
    /// Wormhole B0 DRAM read/write ports per buffer (0..=2), empty when not given.
    pub read_ports: Vec<u32>,
    pub write_ports: Vec<u32>,
    pub layout: IoLayout,
    /// A ram sharing this one's memory (same buffers and volume).
    pub alias: Option<String>,
    pub tile_dim: TileDim,
}

impl Queue {
    /// Whether the host pushes this queue (it is not an op's output).
    pub fn is_host_input(&self) -> bool {
        // Upstream also treats `net2net` producers as outside the netlist.
        self.input == "HOST" || self.input.contains("net2net")
    }

    /// Where the queue's values sit in its buffers on `arch` (netlist queues have no stack
    /// factors).
    pub fn layout(&self, arch: Arch) -> QueueLayout {
        QueueLayout {
            format: self.df,
            arch,
            tile: self.tile_dim,
            grid_r: self.grid_size.r,
            grid_c: self.grid_size.c,
            mblock_m: self.mblock.m,
            mblock_n: self.mblock.n,
            ublock_rt: self.ublock.rt,
            ublock_ct: self.ublock.ct,
            ublock_order: self.ublock_order,
            t: self.t,
            hstack: 1,
            vstack: 1,
            stack_row_major: true,
            layout: self.layout,
        }
    }
}

/// A graph (one epoch): ops placed on the core grid, run `input_count` times per execute.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub name: String,
    pub line: u32,
    pub target_device: Vec<u32>,
    pub input_count: u32,
    /// Ops in file order.
    pub ops: Vec<Op>,
}

impl Graph {
    pub fn op(&self, name: &str) -> Option<&Op> {
        self.ops.iter().find(|o| o.name == name)
    }
}

/// MathFidelity: how many passes the multiplier makes over the mantissa bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathFidelity {
    LoFi = 0,
    HiFi2 = 2,
    HiFi3 = 3,
    HiFi4 = 4,
}

/// A dimension named in attributes and TMs (`r`, `c`, `z`, `rc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    R,
    C,
    Z,
    Rc,
}

impl Dim {
    pub const fn name(self) -> &'static str {
        match self {
            Dim::R => "r",
            Dim::C => "c",
            Dim::Z => "z",
            Dim::Rc => "rc",
        }
    }
}

/// ReduceFunc: what `reduce` computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceFunc {
    Max,
    Avg,
    Sum,
}

/// ReluMode: `min` clamps below the threshold to 0, `max` clamps above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReluMode {
    Min,
    Max,
}

/// SpliceMode (`granularity`): splice whole t slices or ublocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpliceMode {
    T,
    Ublock,
}

/// topk `sort`: the values or their indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopkSort {
    Max,
    ArgMax,
}

/// One input's splice window (`inputN: [index, length, stride]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpliceInput {
    pub index: i64,
    pub length: i64,
    pub stride: i64,
}

/// `kernel_broadcast: {input_N: tiles}` (or `kernel_broadcast_per_t`): the input is broadcast
/// inside the kernel from that many tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelBroadcast {
    pub input: u32,
    pub tiles: i64,
    pub per_t: bool,
}

/// Op attributes (tt_op_attributes). Typed where the golden model or validation reads them;
/// every other attribute is kept in `other`, by name and value, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpAttributes {
    /// matmul: macro-block count along the inner dimension.
    pub m_k: Option<u32>,
    /// matmul: tiles per ublock along the inner dimension.
    pub u_kt: Option<u32>,
    /// matmul: a bias input follows the two operands.
    pub bias: bool,
    /// matmul/reduce: accumulate over z (with `z`).
    pub accumulate: bool,
    /// matmul/depthwise: accumulate partials in L1 (Wormhole B0 and later).
    pub l1_acc: bool,
    pub requant: bool,
    pub dequant: bool,
    /// reduce `dim` (r, c, z).
    pub dim: Option<Dim>,
    /// reduce `type` (max, avg, sum).
    pub reduce_type: Option<ReduceFunc>,
    /// reduce over z / matmul accumulate: the z factor.
    pub z: Option<u32>,
    pub approximate_mode: bool,
    /// `vector`: which part of each tile an SFPU op computes (r, c, rc).
    pub vector: Option<Dim>,
    pub relu_en: bool,
    pub relu_mode: Option<ReluMode>,
    pub relu_threshold: Option<f32>,
    /// fused_op: the `fused_ops` entry this op runs.
    pub fused_op_id: Option<String>,
    pub kernel_broadcast: Vec<KernelBroadcast>,
    /// `single_tile: [inputs]`: kernel broadcast of one tile.
    pub single_tile: Vec<u32>,
    /// matmul: identity (sparse) matmul.
    pub identity: bool,
    pub num_sparse_tiles: Option<i64>,
    pub num_index_tiles: Option<i64>,
    pub num_columns: Option<i64>,
    pub sparse_tile_ptr_bits: Option<i64>,
    pub sparse_ublock_idx_bits: Option<i64>,
    pub indices_len: Option<i64>,
    pub fracture_factor: Option<i64>,
    pub starting_row: Option<i64>,
    pub act_t: Option<i64>,
    pub num_nz_strips: Vec<i64>,
    pub min_buffer_input: Option<u32>,
    /// dropout `p`.
    pub probability: Option<f32>,
    pub seed: Option<i64>,
    /// lrelu `slope`.
    pub slope: Option<f32>,
    /// power `exp`.
    pub exponent: Option<i64>,
    /// splice `inputN`, indexed by input.
    pub splice: Vec<Option<SpliceInput>>,
    /// splice `granularity`.
    pub granularity: Option<SpliceMode>,
    /// embedding `num_indices`.
    pub num_indices: Option<u32>,
    /// topk `k`.
    pub k: Option<u32>,
    pub sort: Option<TopkSort>,
    /// topk `kreduce`: the inputs are already sorted k-sequences; only the merges run.
    pub kreduce: bool,
    /// (de/re)quantization `zero_point`.
    pub zero_point: Option<f32>,
    /// matmul fused with an SFPU op.
    pub sfpu_op: Option<String>,
    pub sfpu_execution_thread: Option<String>,
    pub stoch_rnd_mode: Option<String>,
    pub ingress_channels: Vec<i64>,
    pub egress_channels: Vec<i64>,
    pub dest_device: Option<i64>,
    /// Attributes ttrt does not type, kept by name in file order.
    pub other: Vec<(String, Value)>,
}

/// A tensor manipulation on an op input (`input_N_tms`) or queue input (`input_tms`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tm {
    /// `broadcast: {r|c|z: factor}` (one entry per dimension, in map order).
    Broadcast {
        dim: Dim,
        factor: u32,
    },
    Hslice(u32),
    Hstack(u32),
    Vslice(u32),
    Vstack(u32),
    /// The bare scalar `transpose`.
    Transpose,
    /// `tile_broadcast: r|c` (fused ops only).
    TileBroadcast(Dim),
    /// `pad: [rt, ct, value]`: tiles added below and to the right, filled with `value`.
    Pad {
        rt: u32,
        ct: u32,
        value: f32,
    },
}

/// `input_N_pad: {rt, ct, pad_value}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputPad {
    pub rt: u32,
    pub ct: u32,
    pub pad_value: f32,
}

/// `input_N_unpad: {rt, ct}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputUnpad {
    pub rt: u32,
    pub ct: u32,
}

/// An op of a graph (tt_op_info).
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub name: String,
    pub line: u32,
    /// `type`: matmul, add, nop, fused_op, ...
    pub op_type: OpTypeName,
    /// Empty only for ops upstream lets go without a place (ethernet_datacopy).
    pub grid_loc: Option<GridLoc>,
    pub grid_size: GridSize,
    /// Queue or op names, in operand order.
    pub inputs: Vec<String>,
    /// One format per input.
    pub in_df: Vec<DataFormat>,
    /// Destination register (accumulator) format.
    pub acc_df: DataFormat,
    pub out_df: DataFormat,
    pub intermed_df: DataFormat,
    pub ublock_order: UblockOrder,
    pub buf_size_mb: u32,
    pub math_fidelity: MathFidelity,
    pub untilize_output: bool,
    pub t: u32,
    pub mblock: Mblock,
    pub ublock: Ublock,
    pub tile_dim: TileDim,
    pub attributes: OpAttributes,
    /// `input_N_tms`, indexed by input (empty lists for inputs without TMs).
    pub input_tms: Vec<Vec<Tm>>,
    /// `input_N_pad`, indexed by input.
    pub input_pad: Vec<Option<InputPad>>,
    /// `input_N_unpad`, indexed by input.
    pub input_unpad: Vec<Option<InputUnpad>>,
    pub grid_transpose: bool,
    /// Accumulates into its output across runs (training).
    pub gradient_op: bool,
    pub overlay_size: Option<i64>,
    pub input_buf_min_size_tiles: Vec<i64>,
    pub input_dram_io_buf_size_tiles: Vec<i64>,
    /// `forked_dram_inputs: [{queue: op}, ...]`.
    pub forked_dram_inputs: Vec<(String, String)>,
}

impl Op {
    /// Whether an input TM list of this op transposes input `index` (an odd count of
    /// `transpose`).
    pub fn transposes_input(&self, index: usize) -> bool {
        self.input_tms
            .get(index)
            .is_some_and(|tms| tms.iter().filter(|t| matches!(t, Tm::Transpose)).count() % 2 == 1)
    }
}

/// A whole netlist, read and validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Netlist {
    /// The file name the netlist was read under (for messages).
    pub file: String,
    /// The text it was read from (what a backend hands its device's graph firmware).
    pub source: String,
    pub devices: Devices,
    /// Queues in file order.
    pub queues: Vec<Queue>,
    /// Graphs in file order.
    pub graphs: Vec<Graph>,
    /// Programs in file order (`get_programs()` lists them in this order).
    pub programs: Vec<Program>,
    /// `fused_ops` in file order.
    pub fused_ops: Vec<FusedOp>,
    /// `test-config`, when present.
    pub test_config: Option<TestConfig>,
    /// `performance-check`, kept as written.
    pub performance_check: Option<Value>,
}

impl Netlist {
    pub fn queues(&self) -> &[Queue] {
        &self.queues
    }
    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }
    pub fn graphs(&self) -> &[Graph] {
        &self.graphs
    }
    pub fn graph(&self, name: &str) -> Option<&Graph> {
        self.graphs.iter().find(|g| g.name == name)
    }
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }
    pub fn fused_op(&self, id: &str) -> Option<&FusedOp> {
        self.fused_ops.iter().find(|f| f.id == id)
    }
    /// Queues the host pushes (graph inputs, constants and parameters), in file order.
    pub fn host_fed_queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.iter().filter(|q| q.is_host_input())
    }
    /// Queues an op writes and no op reads (the model's outputs), in file order.
    pub fn output_queues(&self) -> impl Iterator<Item = &Queue> {
        let read_by_op = |q: &Queue| {
            self.graphs
                .iter()
                .any(|g| g.ops.iter().any(|op| op.inputs.contains(&q.name)))
        };
        self.queues
            .iter()
            .filter(move |q| !q.is_host_input() && !read_by_op(q))
    }
    /// The op named `name` in any graph, with its graph.
    pub fn op(&self, name: &str) -> Option<(&Graph, &Op)> {
        self.graphs
            .iter()
            .find_map(|g| g.op(name).map(|op| (g, op)))
    }
}
