//! Stimulus for identity (sparse) matmuls, built from a dense truth.
//!
//! For an identity matmul op the generator first draws the left operand `A` of the product
//! densely, as a matrix of tiles per output slice: one row per output row tile (all core rows
//! stacked), one column per activation row tile (the activation's slices stacked: column `K`
//! is row `K mod rt` of slice `K / rt`). Each nonzero tile of `A` is one of its core row's
//! `num_sparse_tiles` distinct 0/1 tiles, which have exactly one 1 in each row (as upstream's
//! `verif_sparse.cpp` draws them), used round-robin. Which strips (`u_kt` consecutive columns),
//! ublocks (`ublock_rt` consecutive rows of a core row) and tiles are nonzero follows the
//! netlist's stimulus config in the spirit of upstream's generator:
//! - `sparse_encoding`: each strip, ublock of a nonzero strip, and tile of a nonzero ublock is
//!   zero with probability `zero_strip_freq` / `zero_ublock_freq` / `zero_tile_freq`, except that
//!   a nonzero strip keeps at least one ublock and a nonzero ublock at least one tile. Slice `t`
//!   uses strips of its own activation slice (or of the only one), no lower than the last strip
//!   of slice `t-1` and below `(t+1)·ceil(m_k / t_out)` (a banded, diagonal-ish pattern).
//! - `sparse_encoding_nz_counts`: exactly `nz_strips` strips per core row, spread over the
//!   slices, `nz_ublocks` ublocks spread over the strips and `nz_tiles` tiles over the ublocks
//!   (the first ones take the remainders), at random distinct places.
//!
//! Only then are the two queues the op reads written, from `A` alone: the sparse tiles
//! (input 0: core row `r`'s tiles at tile columns `0..num_sparse_tiles` of tile row `r`) and
//! the encoding (input 2), by this file's own encoder of the layout documented in
//! `src/netlist/exec/sparse.rs`. The reference (`reference_ops.rs`) multiplies the same dense
//! `A` with the activations, so a wrong encoder, a wrong decoder or a disagreement between them
//! shows up as a mismatch.
//!
//! Everything is deterministic: the draws come from a generator seeded by the op's name, so the
//! two queues and the reference rebuild the same `A` independently.
#![allow(dead_code)]

use ttrt::format::DataFormat;
use ttrt::netlist::{Netlist, Op, StimulusConfig, StimulusType, Value};

use super::reference::{invalid, unsupported, RefError, RefResult, Tensor, TILE};
use super::stimulus::{config_for, unit};
use super::XorShift;

/// Bytes of one RawUInt32 encoding tile.
const ENCODING_TILE_BYTES: usize = TILE * TILE * 4;

/// A tile record: (row in the ublock, k, sparse tile).
pub type TileRecord = (u32, u32, u32);

/// One strip of an encoding: its index, whether it ends its output slice, and its ublocks
/// (row index, tile records).
#[derive(Clone, Debug, PartialEq)]
pub struct Strip {
    pub index: u32,
    pub ends_slice: bool,
    pub ublocks: Vec<(u32, Vec<TileRecord>)>,
}

impl Strip {
    pub fn bytes(&self) -> usize {
        6 + 2 * self
            .ublocks
            .iter()
            .map(|(_, tiles)| 1 + tiles.len())
            .sum::<usize>()
    }
}

/// The geometry of one identity matmul op, from the netlist.
#[derive(Clone, Debug)]
pub struct SparseShape {
    pub grid_r: usize,
    pub slices: usize,
    /// Activation slices the strips address: 1 (shared) or `slices`.
    pub act_slices: usize,
    pub m_k: usize,
    pub u_kt: usize,
    pub mblock_m: usize,
    pub ublock_rt: usize,
    pub num_sparse_tiles: usize,
    pub num_index_tiles: usize,
    pub sparse_tile_ptr_bits: u32,
    pub sparse_ublock_idx_bits: u32,
}

impl SparseShape {
    pub fn from_op(op: &Op) -> RefResult<SparseShape> {
        let a = &op.attributes;
        let need = |v: Option<i64>, what: &str| -> RefResult<usize> {
            match v {
                Some(x) if x > 0 => Ok(x as usize),
                _ => invalid(format!("identity matmul {}: no positive {what}", op.name)),
            }
        };
        if a.fracture_factor.is_some_and(|f| f != 1) {
            return unsupported(format!(
                "identity matmul {} with fracture_factor (the stimulus draws one encoding per core row)",
                op.name
            ));
        }
        let slices = op.t as usize;
        let act_slices = match a.act_t {
            None | Some(0) => slices,
            Some(t) if t > 0 => t as usize,
            Some(t) => return invalid(format!("act_t {t}")),
        };
        if act_slices != 1 && act_slices != slices {
            return unsupported(format!(
                "identity matmul {}: act_t {act_slices} is neither 1 nor t {slices}",
                op.name
            ));
        }
        let ptr = need(a.sparse_tile_ptr_bits, "sparse_tile_ptr_bits")? as u32;
        let ub = match a.sparse_ublock_idx_bits {
            Some(b) if b > 0 => b as u32,
            _ => ptr,
        };
        Ok(SparseShape {
            grid_r: op.grid_size.r as usize,
            slices,
            act_slices,
            m_k: a.m_k.unwrap_or(1) as usize,
            u_kt: a.u_kt.unwrap_or(1) as usize,
            mblock_m: op.mblock.m as usize,
            ublock_rt: op.ublock.rt as usize,
            num_sparse_tiles: need(a.num_sparse_tiles, "num_sparse_tiles")?,
            num_index_tiles: need(a.num_index_tiles, "num_index_tiles")?,
            sparse_tile_ptr_bits: ptr,
            sparse_ublock_idx_bits: ub,
        })
    }

    /// Row tiles of one core row.
    pub fn core_rows(&self) -> usize {
        self.mblock_m * self.ublock_rt
    }
    /// Row tiles of `A` (all core rows).
    pub fn rows(&self) -> usize {
        self.grid_r * self.core_rows()
    }
    /// Column tiles of `A`: the activation's row tiles through its slices.
    pub fn k_tiles(&self) -> usize {
        self.act_slices * self.m_k * self.u_kt
    }
}

/// An identity matmul's dense left operand and the sparse tiles it is made of.
#[derive(Clone, Debug)]
pub struct SparseProblem {
    pub shape: SparseShape,
    /// Per core row, its distinct sparse tiles: for each tile row, the column of its one 1.
    pub tiles: Vec<Vec<[u8; TILE]>>,
    /// `A`: for (slice, row tile, column tile), the sparse tile of that row's core row, or None.
    a: Vec<Option<u16>>,
}

/// A numeric parameter of a stimulus config.
fn param(cfg: &StimulusConfig, key: &str) -> Option<f64> {
    cfg.other
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        })
}

fn ident_name(cfg: &StimulusConfig) -> Option<&str> {
    cfg.other
        .iter()
        .find(|(k, _)| k == "matmul_ident_name")
        .and_then(|(_, v)| v.as_str())
}

/// FNV-1a, to seed an op's generator from its name.
fn seed_of(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 1
}

/// A uniform integer in `0..n`.
fn below(rng: &mut XorShift, n: usize) -> usize {
    ((unit(rng) * n as f64) as usize).min(n.saturating_sub(1))
}

/// `count` distinct values of `0..n`, ascending.
fn pick(rng: &mut XorShift, n: usize, count: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..count.min(n) {
        let j = i + below(rng, n - i);
        all.swap(i, j);
    }
    let mut chosen = all[..count.min(n)].to_vec();
    chosen.sort_unstable();
    chosen
}

/// The stimulus configs of an identity matmul's sparse-tile and encoding queues.
fn configs<'a>(net: &'a Netlist, op: &Op) -> RefResult<(&'a StimulusConfig, &'a StimulusConfig)> {
    let Some(stim) = net.test_config.as_ref().and_then(|t| t.stimulus.as_ref()) else {
        return unsupported(format!(
            "identity matmul {} without a stimulus config",
            op.name
        ));
    };
    let (q0, q2) = (&op.inputs[0], &op.inputs[2]);
    let (c0, c2) = (config_for(stim, q0), config_for(stim, q2));
    let ours = |c: &StimulusConfig| ident_name(c) == Some(op.name.as_str());
    if c0.stimulus != Some(StimulusType::Sparse) || !ours(c0) || net.queue(q0).is_none() {
        return unsupported(format!(
            "identity matmul {}: input {q0} is not a queue with Sparse stimulus for it",
            op.name
        ));
    }
    let enc = matches!(
        c2.stimulus,
        Some(StimulusType::SparseEncoding | StimulusType::SparseEncodingNzCounts)
    );
    if !enc || !ours(c2) || net.queue(q2).is_none() {
        return unsupported(format!(
            "identity matmul {}: input {q2} is not a queue with sparse_encoding stimulus for it",
            op.name
        ));
    }
    Ok((c0, c2))
}

impl SparseProblem {
    /// Draws the dense `A` of identity matmul `op` from the netlist's stimulus config.
    pub fn for_op(net: &Netlist, op: &Op) -> RefResult<SparseProblem> {
        if !op.attributes.identity || op.inputs.len() < 3 {
            return invalid(format!("{} is not an identity matmul", op.name));
        }
        let (_, enc_cfg) = configs(net, op)?;
        let shape = SparseShape::from_op(op)?;
        if let Some(b) = param(enc_cfg, "enc_tile_byte_size") {
            if b as usize != ENCODING_TILE_BYTES {
                return unsupported(format!("enc_tile_byte_size {b} (RawUInt32 tiles only)"));
            }
        }
        let mut rng = XorShift(seed_of(&op.name));
        let n = shape.num_sparse_tiles;
        if n >= 1 << shape.sparse_tile_ptr_bits {
            return invalid(format!(
                "num_sparse_tiles {n} does not fit sparse_tile_ptr_bits {}",
                shape.sparse_tile_ptr_bits
            ));
        }
        let mut tiles = Vec::new();
        for _ in 0..shape.grid_r {
            let mut row: Vec<[u8; TILE]> = Vec::new();
            while row.len() < n {
                let mut t = [0u8; TILE];
                t.iter_mut().for_each(|c| *c = below(&mut rng, TILE) as u8);
                if !row.contains(&t) {
                    row.push(t);
                }
            }
            tiles.push(row);
        }
        let mut p = SparseProblem {
            a: vec![None; shape.slices * shape.rows() * shape.k_tiles()],
            shape,
            tiles,
        };
        match enc_cfg.stimulus {
            Some(StimulusType::SparseEncodingNzCounts) => p.draw_counts(enc_cfg, &mut rng)?,
            _ => p.draw_frequencies(enc_cfg, &mut rng)?,
        }
        Ok(p)
    }

    fn idx(&self, z: usize, r: usize, k: usize) -> usize {
        (z * self.shape.rows() + r) * self.shape.k_tiles() + k
    }

    /// The sparse tile at `A[z][r][k]` (tile coordinates), if nonzero.
    pub fn at(&self, z: usize, r: usize, k: usize) -> Option<usize> {
        self.a[self.idx(z, r, k)].map(usize::from)
    }

    /// Value of element (i, j) of sparse tile `p` of core row `row`.
    pub fn tile_value(&self, row: usize, p: usize, i: usize, j: usize) -> f64 {
        f64::from(u8::from(usize::from(self.tiles[row][p][i]) == j))
    }

    /// Sets the nonzero tiles of one strip: (ublock, [(row in ublock, k)]) of core row `row`,
    /// slice `z`, local strip `s`. Sparse tiles are used round-robin per core row.
    fn place(
        &mut self,
        row: usize,
        z: usize,
        s: usize,
        ublocks: &[(usize, Vec<(usize, usize)>)],
        next_tile: &mut usize,
    ) {
        let sh = &self.shape;
        let strip = if sh.act_slices == 1 {
            s
        } else {
            z * sh.m_k + s
        };
        let (core_rows, ublock_rt, u_kt, n) =
            (sh.core_rows(), sh.ublock_rt, sh.u_kt, sh.num_sparse_tiles);
        for (m, positions) in ublocks {
            for &(i, k) in positions {
                let r = row * core_rows + m * ublock_rt + i;
                let idx = self.idx(z, r, strip * u_kt + k);
                self.a[idx] = Some(*next_tile as u16);
                *next_tile = (*next_tile + 1) % n;
            }
        }
    }

    fn draw_frequencies(&mut self, cfg: &StimulusConfig, rng: &mut XorShift) -> RefResult<()> {
        let freq = |key| param(cfg, key).unwrap_or(0.0);
        let (fs, fu, ft) = (
            freq("zero_strip_freq"),
            freq("zero_ublock_freq"),
            freq("zero_tile_freq"),
        );
        let sh = self.shape.clone();
        let width = sh.m_k.div_ceil(sh.slices);
        for row in 0..sh.grid_r {
            let mut next_tile = 0;
            let mut last: usize = 0;
            for z in 0..sh.slices {
                for s in 0..sh.m_k {
                    let zero = unit(rng) < fs || s < last || s >= (z + 1) * width;
                    if zero {
                        continue;
                    }
                    let keep_ub = below(rng, sh.mblock_m);
                    let mut ublocks = Vec::new();
                    for m in 0..sh.mblock_m {
                        if unit(rng) < fu && m != keep_ub {
                            continue;
                        }
                        let keep = (below(rng, sh.ublock_rt), below(rng, sh.u_kt));
                        let mut positions = Vec::new();
                        for i in 0..sh.ublock_rt {
                            for k in 0..sh.u_kt {
                                if unit(rng) < ft && (i, k) != keep {
                                    continue;
                                }
                                positions.push((i, k));
                            }
                        }
                        ublocks.push((m, positions));
                    }
                    self.place(row, z, s, &ublocks, &mut next_tile);
                    last = s;
                }
            }
        }
        Ok(())
    }

    fn draw_counts(&mut self, cfg: &StimulusConfig, rng: &mut XorShift) -> RefResult<()> {
        let count = |key| -> RefResult<usize> {
            match param(cfg, key) {
                Some(v) if v >= 1.0 => Ok(v as usize),
                _ => invalid(format!(
                    "sparse_encoding_nz_counts without a positive {key}"
                )),
            }
        };
        let (strips, ublocks, tiles) = (
            count("nz_strips")?,
            count("nz_ublocks")?,
            count("nz_tiles")?,
        );
        let sh = self.shape.clone();
        // `total` spread over `parts`: the first `total % parts` parts take one more.
        let share =
            |total: usize, parts: usize, i: usize| total / parts + usize::from(i < total % parts);
        if ublocks < strips || tiles < ublocks {
            return invalid(format!(
                "nz counts {strips} strips, {ublocks} ublocks, {tiles} tiles: each level needs at least one per parent"
            ));
        }
        for row in 0..sh.grid_r {
            let mut next_tile = 0;
            let (mut strip_no, mut ublock_no) = (0, 0);
            for z in 0..sh.slices {
                let here = share(strips, sh.slices, z);
                if here > sh.m_k {
                    return invalid(format!(
                        "{here} nonzero strips in a slice of m_k {}",
                        sh.m_k
                    ));
                }
                for s in pick(rng, sh.m_k, here) {
                    let nu = share(ublocks, strips, strip_no);
                    strip_no += 1;
                    if nu > sh.mblock_m {
                        return invalid(format!(
                            "{nu} ublocks in a strip of mblock_m {}",
                            sh.mblock_m
                        ));
                    }
                    let mut chosen = Vec::new();
                    for m in pick(rng, sh.mblock_m, nu) {
                        let nt = share(tiles, ublocks, ublock_no);
                        ublock_no += 1;
                        let slots = sh.ublock_rt * sh.u_kt;
                        if nt > slots {
                            return invalid(format!("{nt} tiles in a ublock of {slots}"));
                        }
                        let positions = pick(rng, slots, nt)
                            .into_iter()
                            .map(|q| (q / sh.u_kt, q % sh.u_kt))
                            .collect();
                        chosen.push((m, positions));
                    }
                    self.place(row, z, s, &chosen, &mut next_tile);
                }
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // The encoder: from A alone
    // -----------------------------------------------------------------------------------------

    /// The strips of core row `row`, in stream order: for each slice, every strip with a
    /// nonzero tile in the core row, ascending; a slice without one gets one empty strip.
    pub fn strips(&self, row: usize) -> Vec<Strip> {
        let sh = &self.shape;
        let mut out = Vec::new();
        for z in 0..sh.slices {
            let before = out.len();
            for strip in 0..sh.k_tiles() / sh.u_kt {
                let mut ublocks = Vec::new();
                for m in 0..sh.mblock_m {
                    let mut tiles = Vec::new();
                    for i in 0..sh.ublock_rt {
                        for k in 0..sh.u_kt {
                            let r = row * sh.core_rows() + m * sh.ublock_rt + i;
                            if let Some(p) = self.at(z, r, strip * sh.u_kt + k) {
                                tiles.push((i as u32, k as u32, p as u32));
                            }
                        }
                    }
                    if !tiles.is_empty() {
                        ublocks.push((m as u32, tiles));
                    }
                }
                if !ublocks.is_empty() {
                    out.push(Strip {
                        index: strip as u32,
                        ends_slice: false,
                        ublocks,
                    });
                }
            }
            if out.len() == before {
                out.push(Strip {
                    index: 0,
                    ends_slice: false,
                    ublocks: Vec::new(),
                });
            }
            out.last_mut().expect("a strip per slice").ends_slice = true;
        }
        out
    }

    /// Core row `row`'s encoding tiles, 4096 bytes each, padded to `num_index_tiles`.
    pub fn encoding_bytes(&self, row: usize) -> RefResult<Vec<Vec<u8>>> {
        let sh = &self.shape;
        let strips = self.strips(row);
        // Which strips end an encoding tile: a strip goes to the next tile when it would not
        // fit the current one.
        let mut ends_tile = vec![false; strips.len()];
        let mut used = 0;
        for (i, s) in strips.iter().enumerate() {
            let b = s.bytes();
            if b > ENCODING_TILE_BYTES {
                return invalid(format!(
                    "a strip of {b} bytes does not fit an encoding tile"
                ));
            }
            if used + b > ENCODING_TILE_BYTES {
                ends_tile[i - 1] = true;
                used = 0;
            }
            used += b;
        }
        if let Some(last) = ends_tile.last_mut() {
            *last = true;
        }
        let k_bits = bit_width(sh.u_kt as u32);
        let pos_bits = 16 - sh.sparse_tile_ptr_bits;
        let ub_bits = sh.sparse_ublock_idx_bits;
        let mut tiles: Vec<Vec<u8>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        for (s, &end) in strips.iter().zip(&ends_tile) {
            let mut word = s.index;
            if s.ends_slice {
                word |= 1 << 30;
            }
            if end {
                word |= 1 << 31;
            }
            cur.extend_from_slice(&word.to_le_bytes());
            cur.extend_from_slice(&(s.ublocks.len() as u16).to_le_bytes());
            for (m, ts) in &s.ublocks {
                // A full ublock's count does not fit its field: it is written as 0.
                let n = (ts.len() as u32) % (1 << (16 - ub_bits));
                cur.extend_from_slice(&(((n << ub_bits) | m) as u16).to_le_bytes());
                for &(i, k, p) in ts {
                    let v = (p << pos_bits) | (i << k_bits) | k;
                    cur.extend_from_slice(&(v as u16).to_le_bytes());
                }
            }
            if end {
                cur.resize(ENCODING_TILE_BYTES, 0);
                tiles.push(std::mem::take(&mut cur));
            }
        }
        if tiles.len() > sh.num_index_tiles {
            return invalid(format!(
                "the encoding of core row {row} needs {} tiles, num_index_tiles is {}",
                tiles.len(),
                sh.num_index_tiles
            ));
        }
        tiles.resize(sh.num_index_tiles, vec![0; ENCODING_TILE_BYTES]);
        Ok(tiles)
    }

    /// The encoding queue entry: tiles in (t, row, column) order, `num_index_tiles` per core
    /// row; tile element (i, j) is the little-endian word at byte `4·(32·i + j)`.
    pub fn encoding_queue(&self, shape: (usize, usize, usize)) -> RefResult<Tensor> {
        let (z, rt, ct) = shape;
        let sh = &self.shape;
        if z * rt * ct != sh.grid_r * sh.num_index_tiles {
            return unsupported(format!(
                "an encoding queue of {} tiles for {} core rows of {} index tiles",
                z * rt * ct,
                sh.grid_r,
                sh.num_index_tiles
            ));
        }
        let mut t = Tensor::zeros(z, rt, ct, DataFormat::RawUInt32);
        for row in 0..sh.grid_r {
            for (k, bytes) in self.encoding_bytes(row)?.iter().enumerate() {
                let n = row * sh.num_index_tiles + k;
                let (tz, tr, tc) = (n / (rt * ct), n / ct % rt, n % ct);
                for (w, b) in bytes.chunks_exact(4).enumerate() {
                    let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    t.set(tz, tr * TILE + w / TILE, tc * TILE + w % TILE, f64::from(v));
                }
            }
        }
        Ok(t)
    }

    /// The sparse-tile queue entry: tiles in (t, row, column) order, `num_sparse_tiles` per
    /// core row.
    pub fn sparse_queue(&self, shape: (usize, usize, usize), df: DataFormat) -> RefResult<Tensor> {
        let (z, rt, ct) = shape;
        let sh = &self.shape;
        let n = sh.num_sparse_tiles;
        if z * rt * ct != sh.grid_r * n {
            return unsupported(format!(
                "a sparse-tile queue of {} tiles for {} core rows of {n} sparse tiles",
                z * rt * ct,
                sh.grid_r
            ));
        }
        let mut t = Tensor::zeros(z, rt, ct, df);
        for (row, tiles) in self.tiles.iter().enumerate() {
            for (p, ones) in tiles.iter().enumerate() {
                let q = row * n + p;
                let (tz, tr, tc) = (q / (rt * ct), q / ct % rt, q % ct);
                for (i, &j) in ones.iter().enumerate() {
                    t.set(tz, tr * TILE + i, tc * TILE + usize::from(j), 1.0);
                }
            }
        }
        Ok(t)
    }
}

/// Golden's bit width of a count: the smallest `w >= 1` with `(v - 1) >> w == 0`.
pub fn bit_width(v: u32) -> u32 {
    let mut w = 1;
    while (v.saturating_sub(1) >> w) != 0 {
        w += 1;
    }
    w
}

/// Values for queue `queue` when its stimulus config is one of the sparse types: the sparse
/// tiles or the encoding of the identity matmul the config names. None for other types.
pub fn generate(
    net: &Netlist,
    queue: &str,
    shape: (usize, usize, usize),
) -> Option<RefResult<Tensor>> {
    let stim = net.test_config.as_ref()?.stimulus.as_ref()?;
    let cfg = config_for(stim, queue);
    let sparse = match cfg.stimulus? {
        StimulusType::Sparse => true,
        StimulusType::SparseEncoding | StimulusType::SparseEncodingNzCounts => false,
        _ => return None,
    };
    let df = net.queue(queue)?.df;
    Some((|| {
        let name = ident_name(cfg).ok_or_else(|| {
            RefError::Invalid(format!(
                "sparse stimulus of {queue} without matmul_ident_name"
            ))
        })?;
        let op = net
            .graphs
            .iter()
            .flat_map(|g| &g.ops)
            .find(|o| o.name == name)
            .ok_or_else(|| RefError::Invalid(format!("matmul_ident_name {name}: no such op")))?;
        let p = SparseProblem::for_op(net, op)?;
        if sparse {
            p.sparse_queue(shape, df)
        } else {
            p.encoding_queue(shape)
        }
    })())
}
