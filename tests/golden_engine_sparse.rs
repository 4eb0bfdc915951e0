//! Identity (sparse) matmul in the golden engine against values computed another way:
//! encodings written byte by byte whose products are known by hand, a dense left operand drawn
//! by the test stimulus (tests/support/sparse_stimulus.rs) and multiplied here directly, and
//! malformed encodings that must give a clear error. The encoding layout is documented in
//! src/netlist/exec/sparse.rs.
//!
//! Every test takes one lock: the allocation test counts allocations on every thread.

mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use support::counting::{Counting, ALLOCATIONS, COUNTING};
use support::sparse_stimulus::SparseProblem;

use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::exec::sparse::{Core, SparseError, SparseLayout, StripAt};
use ttrt::netlist::exec::tm::Shape;
use ttrt::netlist::exec::{GraphPlan, QueueIo, Tensor};
use ttrt::netlist::Netlist;

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Netlists, queue entries and encodings.

/// Queue entries by name: reads come from here, writes go here.
struct MemIo {
    names: Vec<String>,
    data: HashMap<String, Tensor>,
}

impl MemIo {
    fn new(n: &Netlist) -> MemIo {
        MemIo {
            names: n.queues.iter().map(|q| q.name.clone()).collect(),
            data: HashMap::new(),
        }
    }
}

impl QueueIo for MemIo {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String> {
        let src = self.data.get(&self.names[queue]).ok_or("no data")?;
        assert!(src.same_shape(out), "queue {} shape", self.names[queue]);
        out.data.copy_from_slice(&src.data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String> {
        match self.data.get_mut(&self.names[queue]) {
            Some(t) => t.copy_from(entry),
            None => {
                self.data.insert(self.names[queue].clone(), entry.clone());
            }
        }
        Ok(())
    }
}

/// A one-core-per-buffer queue of `t` slices of `rt x ct` tiles on a grid.
fn queue(
    name: &str,
    input: &str,
    t: u32,
    grid: [u32; 2],
    mblock: [u32; 2],
    df: &str,
    n: u32,
) -> String {
    format!(
        "  {name}: {{input: {input}, type: queue, entries: 1, grid_size: [{}, {}], t: {t}, mblock: [{}, {}], ublock: [1, 1], df: {df}, target_device: 0, loc: dram, dram: [{}]}}\n",
        grid[0],
        grid[1],
        mblock[0],
        mblock[1],
        (0..grid[0] * grid[1])
            .map(|k| format!("[0, 0x{:x}]", 0x1000_0000u32 + n * 0x0100_0000 + k * 0x0010_0000))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A netlist with one identity matmul `mm` reading `sp`, `act`, `enc` (and `bias`), writing
/// `out`. `op` is the op's YAML map body after its inputs; `config` a test-config section.
fn netlist(queues: &[String], inputs: &str, op: &str, config: &str) -> Netlist {
    let settings: Vec<String> = inputs
        .split(", ")
        .map(|name| format!("{name}: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}}"))
        .collect();
    let settings = settings.join(", ");
    let text = format!(
        "devices:\n  arch: grayskull\nqueues:\n{}graphs:\n  g:\n    target_device: 0\n    input_count: 1\n    mm: {{type: matmul, grid_loc: [0, 0], inputs: [{inputs}], acc_df: Float32, out_df: Float32, intermed_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, {op}}}\nprograms:\n  - p:\n    - var: {{$c_zero: 0}}\n    - execute: {{graph_name: g, queue_settings: {{{settings}}}}}\n{config}",
        queues.concat()
    );
    ttrt::netlist::parse(&text, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn tensor(
    t: u32,
    rt: u32,
    ct: u32,
    df: DataFormat,
    f: impl Fn(usize, usize, usize) -> f32,
) -> Tensor {
    let mut x = Tensor::zeros(t, rt, ct, df);
    let (rows, cols) = (x.rows(), x.cols());
    for z in 0..t as usize {
        for r in 0..rows {
            for c in 0..cols {
                x.data[(z * rows + r) * cols + c] = f(z, r, c);
            }
        }
    }
    x
}

fn at(x: &Tensor, z: usize, r: usize, c: usize) -> f32 {
    x.data[(z * x.rows() + r) * x.cols() + c]
}

/// Encoding tiles from bytes, `tiles` 4096-byte tiles in (row, column) order on a `rt x ct`
/// grid: word `w` of a tile (little-endian bytes `4w..4w+4`) is element (w / 32, w % 32).
fn encoding(rt: u32, ct: u32, tiles: &[Vec<u8>]) -> Tensor {
    assert_eq!(tiles.len(), (rt * ct) as usize);
    let mut t = Tensor::zeros(1, rt, ct, DataFormat::RawUInt32);
    let cols = t.cols();
    for (n, bytes) in tiles.iter().enumerate() {
        assert!(bytes.len() <= 4096);
        let mut b = bytes.clone();
        b.resize(4096, 0);
        let (tr, tc) = (n / ct as usize, n % ct as usize);
        for (w, x) in b.chunks_exact(4).enumerate() {
            let v = u32::from_le_bytes([x[0], x[1], x[2], x[3]]);
            t.data[(tr * 32 + w / 32) * cols + tc * 32 + w % 32] = f32::from_bits(v);
        }
    }
    t
}

/// Sparse tiles: tile `p` has one 1 per row, at column `cols[p](row)`.
fn sparse_tiles(rt: u32, ct: u32, cols: &[fn(usize) -> usize]) -> Tensor {
    let mut t = Tensor::zeros(1, rt, ct, DataFormat::Float32);
    let width = t.cols();
    for (p, f) in cols.iter().enumerate() {
        let (tr, tc) = (p / ct as usize, p % ct as usize);
        for i in 0..32 {
            t.data[(tr * 32 + i) * width + tc * 32 + f(i)] = 1.0;
        }
    }
    t
}

/// Small integers, so every sum below is exact in f32 whatever its order.
fn act_value(z: usize, r: usize, c: usize) -> f32 {
    ((z * 11 + r * 3 + c * 5) % 23) as f32 - 11.0
}

// ---------------------------------------------------------------------------------------------
// Hand-built encodings.

/// One strip, ublocks of one tile row (`u_kt` 2, so k takes one bit), sparse_tile_ptr_bits
/// and sparse_ublock_idx_bits 8: written out as the layout says.
#[test]
fn a_hand_written_encoding_selects_and_adds_the_named_tiles() {
    let _g = serial();
    // A is 2x4 tiles per slice (two ublocks of one row; strips of u_kt = 2 columns), with
    // tiles I (the identity) and R (row i has its 1 at column 31 - i):
    //   slice 0: [ I R . . ]     slice 1: all zero
    //            [ . I R . ]
    let mut tile0 = vec![
        0x00, 0x00, 0x00, 0x00, // strip 0: index 0, no flags
        0x02, 0x00, // two ublocks
        0x00, 0x02, // ublock 0: 2 tiles (2 << 8 | 0)
        0x00, 0x00, //   (row 0, k 0) -> tile 0
        0x01, 0x01, //   (row 0, k 1) -> tile 1: (1 << 8) | (0 << 1) | 1
        0x01, 0x01, // ublock 1: 1 tile (1 << 8 | 1)
        0x01, 0x00, //   (row 0, k 1) -> tile 0
        0x01, 0x00, 0x00,
        0xC0, // strip 1: index 1, ends slice 0 (bit 30) and the tile (bit 31)
        0x01, 0x00, // one ublock
        0x01, 0x01, // ublock 1: 1 tile
        0x00, 0x01, //   (row 0, k 0) -> tile 1
    ];
    // The rest of the tile is never read: the next strip starts at the next tile.
    tile0.resize(4096, 0xAB);
    let tile1 = vec![
        0x00, 0x00, 0x00, 0x40, // strip 0, ends slice 1
        0x00, 0x00, // no ublocks
    ];
    let n = netlist(
        &[
            queue("sp", "HOST", 1, [1, 1], [1, 2], "Float32", 0),
            queue("act", "HOST", 1, [1, 1], [4, 1], "Float32", 1),
            queue("enc", "HOST", 1, [1, 1], [1, 2], "RawUInt32", 2),
            queue("out", "mm", 2, [1, 1], [2, 1], "Float32", 3),
        ],
        "sp, act, enc",
        "in_df: [Float32, Float32, RawUInt32], grid_size: [1, 1], t: 2, mblock: [2, 1], ublock: [1, 1], attributes: {m_k: 2, u_kt: 2, identity: true, num_sparse_tiles: 2, num_index_tiles: 2, sparse_tile_ptr_bits: 8, act_t: 1}",
        "",
    );
    let mut io = MemIo::new(&n);
    let act = tensor(1, 4, 1, DataFormat::Float32, act_value);
    io.data
        .insert("sp".into(), sparse_tiles(1, 2, &[|i| i, |i| 31 - i]));
    io.data.insert("act".into(), act.clone());
    io.data
        .insert("enc".into(), encoding(1, 2, &[tile0, tile1]));
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    plan.run(&mut io).unwrap();
    let out = &io.data["out"];
    assert_eq!((out.z, out.rt, out.ct), (2, 2, 1));
    for i in 0..32 {
        for j in 0..32 {
            // I·act[tile k] is act tile k; R·act[tile k] has row i = row 31 - i of it.
            let row0 = at(&act, 0, i, j) + at(&act, 0, 32 + 31 - i, j);
            let row1 = at(&act, 0, 32 + i, j) + at(&act, 0, 64 + 31 - i, j);
            assert_eq!(at(out, 0, i, j), row0, "slice 0 tile row 0 ({i}, {j})");
            assert_eq!(at(out, 0, 32 + i, j), row1, "slice 0 tile row 1 ({i}, {j})");
            assert_eq!(at(out, 1, i, j), 0.0);
            assert_eq!(at(out, 1, 32 + i, j), 0.0);
        }
    }
}

/// Tile records of one ublock: (row, k, sparse tile).
type Records<'a> = &'a [(u16, u16, u16)];

/// Writes one strip: `(index, ends slice, ends tile)`, ublocks `(m, [(row, k, tile)])`, with
/// `u_kt` 1 (k takes one bit) and both bit widths 8.
fn strip(out: &mut Vec<u8>, index: u32, flags: (bool, bool), ublocks: &[(u16, Records)]) {
    let word = index | u32::from(flags.0) << 30 | u32::from(flags.1) << 31;
    out.extend_from_slice(&word.to_le_bytes());
    out.extend_from_slice(&(ublocks.len() as u16).to_le_bytes());
    for (m, tiles) in ublocks {
        out.extend_from_slice(&((tiles.len() as u16) << 8 | m).to_le_bytes());
        for &(row, k, p) in *tiles {
            out.extend_from_slice(&(p << 8 | row << 1 | k).to_le_bytes());
        }
    }
}

/// A 2x2 grid with fracture_factor 2: core (r, c) reads band r and group c of the sparse
/// tiles and the encoding, and column group c of the activations. The bias is added whole
/// (every row of its tiles), not row 0 broadcast.
#[test]
fn each_core_reads_its_band_and_fracture_group_and_the_bias_is_added_elementwise() {
    let _g = serial();
    // Sparse tiles: band r, group c holds tiles (I, R) shifted by r + c: tile p of core
    // (r, c) puts row i's 1 at column (i + r + 2c + p·5) % 32.
    let mut sp = Tensor::zeros(1, 2, 4, DataFormat::Float32);
    for r in 0..2 {
        for c in 0..2 {
            for p in 0..2 {
                for i in 0..32 {
                    let col = (c * 2 + p) * 32 + (i + r + 2 * c + p * 5) % 32;
                    sp.data[(r * 32 + i) * 128 + col] = 1.0;
                }
            }
        }
    }
    // Core (r, c): strip r (activation row tile r, u_kt 1), ublock 0, tile (0, 0) -> p = c;
    // core (1, 1) also takes strip 0 with tile 0.
    let mut tiles = Vec::new();
    for r in 0..2u32 {
        for c in 0..2u16 {
            let mut b = Vec::new();
            if (r, c) == (1, 1) {
                strip(&mut b, 0, (false, false), &[(0, &[(0, 0, 0)])]);
            }
            strip(&mut b, r, (true, true), &[(0, &[(0, 0, c)])]);
            tiles.push(b);
        }
    }
    let n = netlist(
        &[
            queue("sp", "HOST", 1, [2, 2], [1, 2], "Float32", 0),
            queue("act", "HOST", 1, [1, 2], [2, 1], "Float32", 1),
            queue("enc", "HOST", 1, [2, 2], [1, 1], "RawUInt32", 2),
            queue("bias", "HOST", 1, [2, 2], [1, 1], "Float32", 3),
            queue("out", "mm", 1, [2, 2], [1, 1], "Float32", 4),
        ],
        "sp, act, enc, bias",
        "in_df: [Float32, Float32, RawUInt32, Float32], grid_size: [2, 2], t: 1, mblock: [1, 1], ublock: [1, 1], attributes: {m_k: 2, u_kt: 1, identity: true, num_sparse_tiles: 2, num_index_tiles: 1, sparse_tile_ptr_bits: 8, fracture_factor: 2, bias: true}",
        "",
    );
    let act = tensor(1, 2, 2, DataFormat::Float32, act_value);
    let bias = tensor(1, 2, 2, DataFormat::Float32, |_, r, c| (r * 2 + c) as f32);
    let mut io = MemIo::new(&n);
    io.data.insert("sp".into(), sp.clone());
    io.data.insert("act".into(), act.clone());
    io.data.insert("enc".into(), encoding(2, 2, &tiles));
    io.data.insert("bias".into(), bias.clone());
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    plan.run(&mut io).unwrap();
    let out = &io.data["out"];
    // Row i of (sparse tile p of core (r, c)) · (activation tile (k, c)) is row
    // (i + r + 2c + p·5) % 32 of that activation tile.
    let pick = |r: usize, c: usize, p: usize, k: usize, i: usize, j: usize| {
        at(&act, 0, k * 32 + (i + r + 2 * c + p * 5) % 32, c * 32 + j)
    };
    for r in 0..2 {
        for c in 0..2 {
            for i in 0..32 {
                for j in 0..32 {
                    let mut want = pick(r, c, c, r, i, j);
                    if (r, c) == (1, 1) {
                        want += pick(r, c, 0, 0, i, j);
                    }
                    want += at(&bias, 0, r * 32 + i, c * 32 + j);
                    assert_eq!(
                        at(out, 0, r * 32 + i, c * 32 + j),
                        want,
                        "core ({r}, {c}) ({i}, {j})"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stimulus' dense truth: the engine's decoding against A · act computed here.

/// An identity matmul whose encodings need more than one 4096-byte tile per core row, with
/// its sparse operand drawn densely by the test stimulus (`act_t` 1: every output slice reads
/// the one activation slice; else each reads its own).
fn dense_truth_case(act_t: u32, nz_counts: bool) {
    let (t, m_k, u_kt) = (2u32, 64u32, 2u32);
    let act_slices = if act_t == 1 { 1 } else { t };
    let enc_cfg = if nz_counts {
        "type: sparse_encoding_nz_counts, nz_strips: 120, nz_ublocks: 900, nz_tiles: 3000"
    } else {
        "type: sparse_encoding, zero_strip_freq: 0.0, zero_ublock_freq: 0.05, zero_tile_freq: 0.1, enc_tile_byte_size: 4096"
    };
    let config = format!(
        "test-config:\n  stimulus-config:\n    type: Uniform\n    uniform_lower_bound: -1.0\n    uniform_upper_bound: 1.0\n    overrides:\n      sp: {{type: sparse, matmul_ident_name: mm}}\n      enc: {{{enc_cfg}, matmul_ident_name: mm}}\n"
    );
    let n = netlist(
        &[
            queue("sp", "HOST", 1, [3, 1], [1, 16], "Bfp2_b", 0),
            queue("act", "HOST", act_slices, [1, 2], [m_k * u_kt, 1], "Float32", 1),
            queue("enc", "HOST", 1, [3, 1], [1, 3], "RawUInt32", 2),
            queue("out", "mm", t, [3, 2], [16, 1], "Float32", 3),
        ],
        "sp, act, enc",
        &format!("in_df: [Bfp2_b, Float32, RawUInt32], grid_size: [3, 2], t: {t}, mblock: [8, 1], ublock: [2, 1], attributes: {{m_k: {m_k}, u_kt: {u_kt}, identity: true, num_sparse_tiles: 16, num_index_tiles: 3, sparse_tile_ptr_bits: 8, act_t: {act_t}}}"),
        &config,
    );
    let op = &n.graphs[0].ops[0];
    let p = SparseProblem::for_op(&n, op).unwrap();
    // More than one encoding tile in use for every core row.
    for row in 0..3 {
        let strips = p.strips(row);
        let bytes: usize = strips.iter().map(|s| s.bytes()).sum();
        assert!(bytes > 4096, "core row {row}: {bytes} bytes of strips");
    }
    let to_engine = |x: &support::reference::Tensor, raw: bool| {
        let mut t = Tensor::zeros(x.z as u32, x.rt() as u32, x.ct() as u32, x.tag);
        for (d, &v) in t.data.iter_mut().zip(&x.data) {
            *d = if raw {
                f32::from_bits(v as u32)
            } else {
                v as f32
            };
        }
        t
    };
    let sp = to_engine(
        &p.sparse_queue((1, 3, 16), DataFormat::Bfp2B).unwrap(),
        false,
    );
    let enc = to_engine(&p.encoding_queue((1, 3, 3)).unwrap(), true);
    let act = tensor(act_slices, m_k * u_kt, 2, DataFormat::Float32, act_value);
    let mut io = MemIo::new(&n);
    io.data.insert("sp".into(), sp);
    io.data.insert("act".into(), act.clone());
    io.data.insert("enc".into(), enc);
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    plan.run(&mut io).unwrap();
    let out = &io.data["out"];
    // out[z][R] = Σ_K A[z][R][K] · act row tile K (through the activation's slices), with
    // tile values 0/1 and small integer activations: exact in f32.
    let sh = &p.shape;
    let act_rt = (m_k * u_kt) as usize;
    let mut want = vec![0f64; out.data.len()];
    let (rows, cols) = (out.rows(), out.cols());
    let mut nonzero = 0;
    for z in 0..sh.slices {
        for r in 0..sh.rows() {
            for k in 0..sh.k_tiles() {
                let Some(tile) = p.at(z, r, k) else { continue };
                nonzero += 1;
                let (az, ar) = (k / act_rt, k % act_rt);
                for i in 0..32 {
                    for kk in 0..32 {
                        let v = p.tile_value(r / sh.core_rows(), tile, i, kk);
                        if v == 0.0 {
                            continue;
                        }
                        for c in 0..cols {
                            want[(z * rows + r * 32 + i) * cols + c] +=
                                v * f64::from(at(&act, az, ar * 32 + kk, c));
                        }
                    }
                }
            }
        }
    }
    assert!(nonzero > 1000, "{nonzero} nonzero tiles");
    for (k, (&got, &w)) in out.data.iter().zip(&want).enumerate() {
        assert_eq!(f64::from(got), w, "element {k}");
    }
}

#[test]
fn a_multi_tile_encoding_decodes_to_the_dense_operand_with_one_activation_slice() {
    let _g = serial();
    dense_truth_case(1, false);
}

#[test]
fn a_multi_tile_encoding_decodes_to_the_dense_operand_with_one_activation_slice_per_output() {
    let _g = serial();
    dense_truth_case(2, false);
}

#[test]
fn nonzero_count_encodings_decode_to_the_dense_operand() {
    let _g = serial();
    dense_truth_case(1, true);
}

// ---------------------------------------------------------------------------------------------
// Malformed encodings: a typed error naming the core, strip and byte, never a panic.

/// grid 1x1, t 1, two ublocks of one tile row, one tile column, u_kt 1, two sparse tiles,
/// activations of 4 row tiles, one encoding tile.
fn layout() -> SparseLayout {
    SparseLayout {
        grid_r: 1,
        grid_c: 1,
        fracture_factor: 1,
        t: 1,
        mblock_m: 2,
        mblock_n: 1,
        ublock_rt: 1,
        ublock_ct: 1,
        u_kt: 1,
        sparse_tile_ptr_bits: 8,
        sparse_ublock_idx_bits: 8,
    }
}

fn run_bytes(tiles: &[Vec<u8>]) -> Result<Tensor, SparseError> {
    let sp = sparse_tiles(1, 2, &[|i| i, |i| 31 - i]);
    let act = tensor(1, 4, 1, DataFormat::Float32, act_value);
    let enc = encoding(1, tiles.len() as u32, tiles);
    let mut out = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    layout().run(&sp, &act, &enc, &mut out).map(|()| out)
}

/// The error of a run whose one encoding tile `build` writes.
/// Callers hold `serial()` for their whole test: what they allocate around the run (the
/// error's text) must not land in another test's allocation count.
fn encoding_error(build: impl FnOnce(&mut Vec<u8>)) -> SparseError {
    let mut b = Vec::new();
    build(&mut b);
    run_bytes(&[b]).unwrap_err()
}

fn at_strip(strip: u32, offset: usize) -> StripAt {
    StripAt {
        core: Core { r: 0, c: 0 },
        strip,
        offset,
    }
}

#[test]
fn a_well_formed_encoding_runs() {
    let _g = serial();
    let mut b = Vec::new();
    strip(
        &mut b,
        3,
        (true, true),
        &[(0, &[(0, 0, 1)]), (1, &[(0, 0, 0)])],
    );
    let out = run_bytes(&[b]).unwrap();
    let act = tensor(1, 4, 1, DataFormat::Float32, act_value);
    for i in 0..32 {
        assert_eq!(at(&out, 0, i, 0), at(&act, 0, 96 + 31 - i, 0));
        assert_eq!(at(&out, 0, 32 + i, 0), at(&act, 0, 96 + i, 0));
    }
}

#[test]
fn a_strip_list_that_never_ends_the_slice_is_truncated() {
    let _g = serial();
    // The strip ends neither its slice nor its tile: the zeros after it read as empty strips
    // up to the end of the encoding.
    let mut b = Vec::new();
    strip(&mut b, 0, (false, false), &[(0, &[(0, 0, 0)])]);
    match run_bytes(&[b]) {
        Err(SparseError::Truncated {
            len: 4096,
            batch: 0,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_strip_that_continues_in_a_missing_tile_is_truncated() {
    let _g = serial();
    let mut b = Vec::new();
    strip(&mut b, 0, (false, true), &[(0, &[(0, 0, 0)])]);
    assert_eq!(
        run_bytes(&[b]).unwrap_err(),
        SparseError::Truncated {
            at: at_strip(1, 4096),
            needed: 4098,
            len: 4096,
            batch: 0
        }
    );
}

#[test]
fn a_ublock_count_past_the_end_of_the_encoding_is_truncated() {
    let _g = serial();
    // One 10-byte strip and 680 empty ones fill the tile up to byte 4090, where a strip
    // claiming one ublock ends exactly at the tile's end: its ublock record is missing.
    let mut b = Vec::new();
    strip(&mut b, 0, (false, false), &[(0, &[(0, 0, 0)])]);
    for _ in 0..680 {
        strip(&mut b, 0, (false, false), &[]);
    }
    assert_eq!(b.len(), 4090);
    b.extend_from_slice(&[0, 0, 0, 0, 1, 0]); // strip 681: index 0, no flags, one ublock
    assert_eq!(
        run_bytes(&[b]).unwrap_err(),
        SparseError::Truncated {
            at: at_strip(681, 4090),
            needed: 4098,
            len: 4096,
            batch: 0
        }
    );
}

#[test]
fn a_ublock_index_past_mblock_m_is_an_error() {
    let _g = serial();
    let e = encoding_error(|b| {
        strip(b, 0, (true, true), &[(5, &[(0, 0, 0)])]);
    });
    assert_eq!(
        e,
        SparseError::UblockIndex {
            at: at_strip(0, 0),
            record: 0,
            index: 5,
            mblock_m: 2
        }
    );
}

#[test]
fn ublocks_out_of_order_are_an_error() {
    let _g = serial();
    let e = encoding_error(|b| {
        strip(b, 0, (true, true), &[(1, &[(0, 0, 0)]), (0, &[(0, 0, 0)])]);
    });
    assert_eq!(
        e,
        SparseError::UblockIndex {
            at: at_strip(0, 0),
            record: 1,
            index: 0,
            mblock_m: 2
        }
    );
}

#[test]
fn a_tile_position_outside_the_ublock_is_an_error() {
    let _g = serial();
    // ublock_rt is 1: row 1 does not exist.
    let e = encoding_error(|b| {
        strip(b, 0, (true, true), &[(0, &[(1, 0, 0)])]);
    });
    assert_eq!(
        e,
        SparseError::TilePosition {
            at: at_strip(0, 0),
            ublock: 0,
            record: 0,
            row: 1,
            k: 0
        }
    );
}

#[test]
fn a_sparse_tile_index_past_the_sparse_tiles_is_an_error() {
    let _g = serial();
    let e = encoding_error(|b| {
        strip(b, 0, (true, true), &[(0, &[(0, 0, 7)])]);
    });
    assert_eq!(
        e,
        SparseError::SparseIndex {
            at: at_strip(0, 0),
            index: 7,
            tiles: 2
        }
    );
}

#[test]
fn a_strip_past_the_activation_rows_is_an_error() {
    let _g = serial();
    let index = (1 << 30) - 1;
    let e = encoding_error(|b| {
        strip(b, index, (true, true), &[(0, &[(0, 0, 0)])]);
    });
    assert_eq!(
        e,
        SparseError::ActivationRow {
            at: at_strip(0, 0),
            strip_index: index,
            row: u64::from(index),
            rows: 4
        }
    );
}

#[test]
fn an_encoding_error_names_the_netlist_op_core_and_strip() {
    let _g = serial();
    let n = netlist(
        &[
            queue("sp", "HOST", 1, [1, 1], [1, 2], "Float32", 0),
            queue("act", "HOST", 1, [1, 1], [4, 1], "Float32", 1),
            queue("enc", "HOST", 1, [1, 1], [1, 1], "RawUInt32", 2),
            queue("out", "mm", 1, [1, 1], [2, 1], "Float32", 3),
        ],
        "sp, act, enc",
        "in_df: [Float32, Float32, RawUInt32], grid_size: [1, 1], t: 1, mblock: [2, 1], ublock: [1, 1], attributes: {m_k: 4, u_kt: 1, identity: true, num_sparse_tiles: 2, num_index_tiles: 1, sparse_tile_ptr_bits: 8}",
        "",
    );
    let mut b = Vec::new();
    strip(&mut b, 0, (false, false), &[(0, &[(0, 0, 0)])]);
    strip(&mut b, 1, (true, true), &[(3, &[(0, 0, 0)])]);
    let mut io = MemIo::new(&n);
    io.data
        .insert("sp".into(), sparse_tiles(1, 2, &[|i| i, |i| 31 - i]));
    io.data.insert(
        "act".into(),
        tensor(1, 4, 1, DataFormat::Float32, act_value),
    );
    io.data.insert("enc".into(), encoding(1, 1, &[b]));
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let e = plan.run(&mut io).unwrap_err().to_string();
    assert!(
        e.starts_with("netlist test.yaml: graph g: op mm (line ")
            && e.ends_with("core (0, 0): encoding strip #1 at byte 10: ublock record 0 has index 3, outside mblock_m 2 or not above the previous record"),
        "{e}"
    );
    assert!(!e.contains('\n'));
}

// ---------------------------------------------------------------------------------------------
// Plans that cannot work are refused when the graph is compiled.

fn compile_error(op: &str, enc_df: &str) -> String {
    let n = netlist(
        &[
            queue("sp", "HOST", 1, [2, 1], [1, 2], "Float32", 0),
            queue("act", "HOST", 1, [1, 2], [4, 1], "Float32", 1),
            queue("enc", "HOST", 1, [2, 1], [1, 1], enc_df, 2),
            queue("out", "mm", 1, [2, 2], [2, 1], "Float32", 3),
        ],
        "sp, act, enc",
        &format!("in_df: [Float32, Float32, {enc_df}], grid_size: [2, 2], t: 1, mblock: [2, 1], ublock: [1, 1], {op}"),
        "",
    );
    match GraphPlan::new(&n, 0, Arch::Grayskull) {
        Ok(_) => panic!("compiled: {op}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn plans_that_cannot_decode_are_refused_at_compile_time() {
    let _g = serial();
    let base = "m_k: 4, u_kt: 1, identity: true, num_sparse_tiles: 2, num_index_tiles: 1";
    let e = compile_error(
        &format!("attributes: {{{base}, sparse_tile_ptr_bits: 8, fracture_factor: 3}}"),
        "RawUInt32",
    );
    assert!(
        e.contains("fracture_factor 3 must be positive and divide the grid's 2 columns"),
        "{e}"
    );
    let e = compile_error(
        &format!("attributes: {{{base}, sparse_tile_ptr_bits: 16}}"),
        "RawUInt32",
    );
    assert!(
        e.contains("sparse_tile_ptr_bits 16 must be in 1..=15"),
        "{e}"
    );
    let e = compile_error(&format!("attributes: {{{base}}}"), "RawUInt32");
    assert!(e.contains("needs attribute sparse_tile_ptr_bits"), "{e}");
    let e = compile_error(
        &format!("attributes: {{{base}, sparse_tile_ptr_bits: 8}}"),
        "Float32",
    );
    assert!(
        e.contains("the encoding (input 2) must be RawUInt32, not Float32"),
        "{e}"
    );
    // u_kt 64 needs 7 bits of the 16 - 12 = 4 position bits.
    let e = compile_error(
        "attributes: {m_k: 1, u_kt: 64, identity: true, sparse_tile_ptr_bits: 12}",
        "RawUInt32",
    );
    assert!(e.contains("cannot hold the k bits of u_kt 64"), "{e}");
    let e = compile_error(
        &format!("attributes: {{{base}, sparse_tile_ptr_bits: 8, requant: true}}"),
        "RawUInt32",
    );
    assert!(e.contains("requant"), "{e}");
}

#[test]
fn a_ublock_index_field_too_narrow_for_mblock_m_is_refused() {
    let _g = serial();
    let layout = SparseLayout {
        mblock_m: 5,
        sparse_ublock_idx_bits: 2,
        ..layout()
    };
    let e = layout
        .check(
            Shape::new(1, 1, 2),
            Shape::new(1, 4, 1),
            Shape::new(1, 1, 1),
        )
        .unwrap_err();
    assert_eq!(
        e,
        SparseError::Bits {
            field: "sparse_ublock_idx_bits",
            bits: 2,
            holds: "mblock_m",
            value: 5
        }
    );
    assert_eq!(
        e.to_string(),
        "sparse_ublock_idx_bits (2 bits) cannot hold mblock_m 5"
    );
}

#[test]
fn an_activation_narrower_than_the_output_block_is_refused() {
    let _g = serial();
    let layout = SparseLayout {
        grid_c: 2,
        mblock_n: 2,
        ..layout()
    };
    assert_eq!(
        layout.check(
            Shape::new(1, 1, 2),
            Shape::new(1, 4, 2),
            Shape::new(1, 1, 1)
        ),
        Err(SparseError::ActivationWidth {
            ct: 2,
            grid_c: 2,
            needed: 2
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Steady state.

#[test]
fn a_second_run_allocates_nothing() {
    let _g = serial();
    let n = netlist(
        &[
            queue("sp", "HOST", 1, [1, 1], [1, 2], "Float32", 0),
            queue("act", "HOST", 1, [1, 1], [4, 1], "Float32", 1),
            queue("enc", "HOST", 1, [1, 1], [1, 1], "RawUInt32", 2),
            queue("out", "mm", 1, [1, 1], [2, 1], "Float32", 3),
        ],
        "sp, act, enc",
        "in_df: [Float32, Float32, RawUInt32], grid_size: [1, 1], t: 1, mblock: [2, 1], ublock: [1, 1], attributes: {m_k: 4, u_kt: 1, identity: true, num_sparse_tiles: 2, num_index_tiles: 1, sparse_tile_ptr_bits: 8, sfpu_op: gelu}",
        "",
    );
    let mut b = Vec::new();
    strip(
        &mut b,
        1,
        (false, false),
        &[(0, &[(0, 0, 0)]), (1, &[(0, 0, 1)])],
    );
    strip(&mut b, 2, (true, true), &[(1, &[(0, 0, 0)])]);
    let mut io = MemIo::new(&n);
    io.data
        .insert("sp".into(), sparse_tiles(1, 2, &[|i| i, |i| 31 - i]));
    io.data.insert(
        "act".into(),
        tensor(1, 4, 1, DataFormat::Float32, act_value),
    );
    io.data.insert("enc".into(), encoding(1, 1, &[b]));
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    plan.run(&mut io).unwrap();
    let first = io.data["out"].clone();
    COUNTING.store(true, Ordering::SeqCst);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let result = plan.run(&mut io);
    COUNTING.store(false, Ordering::SeqCst);
    result.unwrap();
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst) - before,
        0,
        "allocations in the second run"
    );
    assert_eq!(io.data["out"], first);
    assert!(first.data.iter().any(|&v| v != 0.0));
}

#[test]
fn a_zero_sized_grid_or_input_is_an_error_not_a_panic() {
    let _g = serial();
    let empty = SparseLayout {
        grid_c: 0,
        ..layout()
    };
    let ok = (
        Shape::new(1, 1, 2),
        Shape::new(1, 4, 1),
        Shape::new(1, 1, 1),
    );
    assert_eq!(empty.check(ok.0, ok.1, ok.2), Err(SparseError::Geometry));
    let huge = SparseLayout {
        mblock_m: u32::MAX,
        ublock_rt: 2,
        ..layout()
    };
    assert_eq!(huge.check(ok.0, ok.1, ok.2), Err(SparseError::Geometry));
    let no_slices = Shape::new(0, 1, 2);
    assert!(matches!(
        layout().check(no_slices, ok.1, ok.2),
        Err(SparseError::Split { input: 0, .. })
    ));
}

/// Corrupting bytes of a valid encoding gives a result or an error, never a panic or a hang.
#[test]
fn corrupted_encodings_never_panic() {
    let _g = serial();
    let mut valid = Vec::new();
    strip(
        &mut valid,
        0,
        (false, false),
        &[(0, &[(0, 0, 0)]), (1, &[(0, 0, 1)])],
    );
    strip(&mut valid, 2, (false, true), &[(1, &[(0, 0, 1)])]);
    let mut second = Vec::new();
    strip(&mut second, 3, (true, true), &[(0, &[(0, 0, 0)])]);
    let mut rng = support::XorShift(0x5eed_1234_abcd_0001);
    let (mut ok, mut errors) = (0, 0);
    for _ in 0..3000 {
        let mut tiles = [valid.clone(), second.clone()];
        for _ in 0..1 + rng.next() % 4 {
            let t = (rng.next() % 2) as usize;
            let len = tiles[t].len();
            let at = (rng.next() as usize) % len;
            tiles[t][at] = rng.next() as u8;
        }
        match run_bytes(&tiles) {
            Ok(_) => ok += 1,
            Err(_) => errors += 1,
        }
    }
    assert!(ok > 0 && errors > 0, "{ok} ran, {errors} refused");
}
