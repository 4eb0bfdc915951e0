//! The tilizer op through the backend: the host pushes a flat queue, the op tilizes it, and
//! get_output of the op's queue is checked against values placed by hand (element (R, C) of a
//! slice of the flat entry, whose tiles are `th x tw`, goes to tile (R/th, C/tw) at
//! (R%th, C%tw); the op's tile_dim then keeps the top-left corner of every tile). Also what is
//! refused, as upstream refuses it, with one line naming the op.

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};

/// Slices, and tiles per slice of the flat queue and of the op (2 x 8, over a 2x2 grid).
const T: usize = 2;
const RT: usize = 2;
const CT: usize = 8;

struct Case<'a> {
    /// The flat queue's tile_dim and df.
    tile: (usize, usize),
    df: &'a str,
    /// The op's (and its output queue's) tile_dim and df.
    op_tile: (usize, usize),
    out_df: &'a str,
    /// More YAML for the op and for its input queue.
    op_extra: &'a str,
    queue_extra: &'a str,
    arch: &'a str,
    /// The op's and the flat queue's grid and blocks (2 x 8 tiles in all).
    op_blocks: &'a str,
    queue_blocks: &'a str,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Case {
            tile: (32, 32),
            df: "Float32",
            op_tile: (32, 32),
            out_df: "Float32",
            op_extra: "",
            queue_extra: "",
            arch: "wormhole_b0",
            op_blocks: "grid_size: [2, 2], t: 2, mblock: [1, 4], ublock: [1, 1]",
            queue_blocks: "grid_size: [2, 2], t: 2, mblock: [1, 2], ublock: [1, 2]",
        }
    }
}

fn netlist(c: &Case) -> String {
    let (th, tw) = c.tile;
    let (oh, ow) = c.op_tile;
    // One DRAM buffer per core of the flat queue's grid.
    let grid =
        &c.queue_blocks[c.queue_blocks.find('[').unwrap() + 1..c.queue_blocks.find(']').unwrap()];
    let cores: usize = grid
        .split(',')
        .map(|d| d.trim().parse::<usize>().unwrap())
        .product();
    let buffers: Vec<String> = (0..cores)
        .map(|i| format!("[0, 0x{:x}]", 0x1000_0000 + i * 0x10_0000))
        .collect();
    format!(
        r#"devices:
  arch: {arch}
queues:
  flat: {{type: queue, input: HOST, entries: 1, {queue_blocks}, ublock_order: r, df: {df}, layout: flat, tile_dim: [{th}, {tw}], target_device: 0, loc: dram, dram: [{buffers}]{queue_extra}}}
  out: {{type: queue, input: tilizer0, entries: 1, grid_size: [2, 2], t: {T}, mblock: [1, 4], ublock: [1, 1], ublock_order: r, df: {out_df}, tile_dim: [{oh}, {ow}], target_device: 0, loc: dram, dram: [[1, 0x10000000], [1, 0x10100000], [1, 0x10200000], [1, 0x10300000]]}}
graphs:
  g:
    target_device: 0
    input_count: 1
    tilizer0: {{type: tilizer, grid_loc: [0, 0], {op_blocks}, inputs: [flat], in_df: [{df}], out_df: {out_df}, intermed_df: {out_df}, acc_df: Float16_b, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, tile_dim: [{oh}, {ow}]{op_extra}}}
programs:
  - run:
      - var: {{$c_zero: 0}}
      - execute: {{graph_name: g, queue_settings: {{flat: {{prologue: false, epilogue: false, zero: false, rd_ptr_local: $c_zero, rd_ptr_global: $c_zero}}}}}}
"#,
        arch = c.arch,
        df = c.df,
        out_df = c.out_df,
        op_extra = c.op_extra,
        queue_extra = c.queue_extra,
        op_blocks = c.op_blocks,
        queue_blocks = c.queue_blocks,
        buffers = buffers.join(", "),
    )
}

fn backend(c: &Case, golden: bool) -> Result<Backend, String> {
    let n = ttrt::netlist::parse(&netlist(c), "tilizer.yaml").map_err(|e| e.to_string())?;
    let be = Backend::from_netlist(
        n,
        &BackendConfig {
            golden,
            ..BackendConfig::default()
        },
    )
    .map_err(|e| e.to_string())?;
    be.initialize().map_err(|e| e.to_string())?;
    Ok(be)
}

/// Pushes `flat` (Float32, `[1, T, RT*th, CT*tw]`), runs, returns the output entry as Float32
/// in the host layout of the op's tiles (`[1, T, RT*oh, CT*ow]`).
fn run(c: &Case, golden: bool, flat: &[f32]) -> Vec<f32> {
    let be = backend(c, golden).unwrap();
    let (th, tw) = c.tile;
    let data: Vec<u8> = flat.iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, T, RT * th, CT * tw]);
    be.push_input("flat", &t, false, 1000, -1).unwrap();
    be.run_program("run", &[]).unwrap();
    let (oh, ow) = c.op_tile;
    let shape = [1, T, RT * oh, CT * ow];
    let mut out = vec![0u8; shape.iter().product::<usize>() * 4];
    let mut dst = HostTensorMut::contiguous(&mut out, DataFormat::Float32, shape);
    be.get_output_into("out", &mut dst, false, 1000, -1)
        .unwrap();
    be.pop_output("out", false, 1000).unwrap();
    be.finish().unwrap();
    out.chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Distinct values 1 + k * 2^-20, exact in Float32 and changed by a cut to Tf32 (10 bits).
fn host_values(tile: (usize, usize)) -> Vec<f32> {
    let n = T * RT * tile.0 * CT * tile.1;
    (0..n).map(|k| 1.0 + k as f32 / 1048576.0).collect()
}

/// The output by hand: output tile (i, j) at (a, b) holds flat element (i*th + a, j*tw + b)
/// while (a, b) is inside both the flat queue's tile and the op's, else 0.
fn expected(c: &Case, flat: &[f32]) -> Vec<f32> {
    let ((th, tw), (oh, ow)) = (c.tile, c.op_tile);
    let (rows, cols) = (RT * th, CT * tw);
    let (orows, ocols) = (RT * oh, CT * ow);
    let mut out = vec![0.0; T * orows * ocols];
    for z in 0..T {
        for r in 0..orows {
            for col in 0..ocols {
                let (i, a, j, b) = (r / oh, r % oh, col / ow, col % ow);
                if a < th && b < tw {
                    let v = flat[(z * rows + i * th + a) * cols + j * tw + b];
                    out[(z * orows + r) * ocols + col] = v;
                }
            }
        }
    }
    out
}

fn check(c: &Case) {
    let flat = host_values(c.tile);
    let got = run(c, false, &flat);
    let want = expected(c, &flat);
    let bad = got.iter().zip(&want).filter(|(g, w)| g != w).count();
    assert_eq!(
        bad, 0,
        "tile {:?} -> {:?}: {bad} values differ",
        c.tile, c.op_tile
    );
}

#[test]
fn a_flat_queue_of_32x32_tiles_comes_out_tilized_row_major() {
    // Over a 2x2 grid, 8 tiles wide: a megarow reading or a per-core one would move values.
    // On Wormhole B0 the Float32 input is not cut to Tf32: golden tilizes the host buffer.
    check(&Case::default());
}

#[test]
fn small_flat_tiles_keep_every_row_in_the_corner_of_their_tile() {
    for tile in [(1, 32), (2, 32), (4, 32), (8, 32), (16, 32), (32, 16)] {
        // The op's tiles as the queue's: the output's host layout is the flat entry itself.
        check(&Case {
            tile,
            op_tile: tile,
            ..Case::default()
        });
        // 32x32 tiles out: each tile's rows past the flat tile's are 0.
        check(&Case {
            tile,
            ..Case::default()
        });
    }
}

#[test]
fn the_ops_smaller_tiles_clear_the_rest_of_each_tile() {
    // 32x32 flat tiles, a 16x32 op: rows 16..31 of every tile are gone.
    check(&Case {
        op_tile: (16, 32),
        ..Case::default()
    });
    check(&Case {
        op_tile: (32, 16),
        ..Case::default()
    });
}

/// By default (as on silicon) the tilizer reads what the queue holds: the host's values in the
/// queue's df. Float16_b truncates 1 + k*2^-20 to 1 + (k >> 13) * 2^-7.
#[test]
fn by_default_the_tilizer_reads_the_values_quantized_to_the_queue_df() {
    let c = Case {
        df: "Float16_b",
        ..Case::default()
    };
    let flat = host_values(c.tile);
    let got = run(&c, false, &flat);
    let bf16: Vec<f32> = flat
        .iter()
        .map(|v| f32::from_bits(v.to_bits() & 0xffff_0000))
        .collect();
    assert_ne!(bf16, flat);
    assert_eq!(got, expected(&c, &bf16));
}

/// Golden mode keeps what golden's tilizer reads, the host's values unquantized: the same
/// Float16_b queue gives them back exactly.
#[test]
fn golden_mode_tilizes_the_host_values_unquantized() {
    let c = Case {
        df: "Float16_b",
        ..Case::default()
    };
    let flat = host_values(c.tile);
    assert_eq!(run(&c, true, &flat), expected(&c, &flat));
    // Small tiles too.
    let c = Case {
        df: "Float16_b",
        tile: (16, 32),
        op_tile: (16, 32),
        ..Case::default()
    };
    let flat = host_values(c.tile);
    assert_eq!(run(&c, true, &flat), expected(&c, &flat));
}

/// Raw formats: golden tilizes in megarow order, tile k (row-major) holding values
/// k*1024.. of the slice's flat buffer.
#[test]
fn a_raw_flat_queue_is_tilized_in_megarow_order() {
    let c = Case {
        df: "RawUInt32",
        out_df: "RawUInt32",
        ..Case::default()
    };
    let be = backend(&c, false).unwrap();
    let (rows, cols) = (RT * 32, CT * 32);
    let flat: Vec<u32> = (0..(T * rows * cols) as u32).map(|k| k * 7 + 3).collect();
    let data: Vec<u8> = flat.iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = HostTensor::contiguous(&data, DataFormat::RawUInt32, [1, T, rows, cols]);
    be.push_input("flat", &t, false, 1000, -1).unwrap();
    be.run_program("run", &[]).unwrap();
    let out = be.get_output("out", false, 1000, -1).unwrap();
    assert_eq!(out.format, DataFormat::RawUInt32);
    let got: Vec<u32> = out
        .data
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for z in 0..T {
        for r in 0..rows {
            for col in 0..cols {
                let k = (r / 32) * CT + col / 32;
                let f = k * 1024 + (r % 32) * 32 + col % 32;
                let at = (z * rows + r) * cols + col;
                assert_eq!(
                    got[at],
                    flat[z * rows * cols + f],
                    "z {z} row {r} col {col}"
                );
            }
        }
    }
    be.finish().unwrap();
}

/// Refused at initialize with one line naming the op and what is wrong.
fn refused(c: &Case, what: &str) {
    let e = backend(c, false).err().expect("refused");
    assert!(e.contains("tilizer0") && e.contains(what), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn tms_pad_and_mismatched_ublocks_on_a_tilizer_input_are_refused() {
    refused(
        &Case {
            op_extra: ", input_0_tms: [vslice: 1]",
            ..Case::default()
        },
        "TMs on the input of a tilizer",
    );
    refused(
        &Case {
            op_extra: ", input_0_pad: {rt: 1, ct: 0, pad_value: 0.0}",
            ..Case::default()
        },
        "pad or unpad",
    );
    // ublock [2, 1] on the op against the queue's [1, 2]: upstream needs them equal once a
    // ublock has more than one row.
    refused(
        &Case {
            op_blocks: "grid_size: [1, 2], t: 2, mblock: [1, 4], ublock: [2, 1]",
            ..Case::default()
        },
        "ublock [2, 1] differs from its input queue flat's [1, 2]",
    );
    // The same blocks on both sides run.
    check(&Case {
        op_blocks: "grid_size: [1, 2], t: 2, mblock: [1, 4], ublock: [2, 1]",
        queue_blocks: "grid_size: [1, 2], t: 2, mblock: [1, 4], ublock: [2, 1]",
        ..Case::default()
    });
}

/// A tilizer reads a queue the host feeds: not an op (net2pipe refuses it), not a queue an op
/// writes (its entries carry no host buffer; golden's tilize asserts).
#[test]
fn a_tilizer_reading_an_op_or_an_op_written_queue_is_refused() {
    let base = netlist(&Case::default());
    // datacopy `copy0` reads `flat` and writes queue `mid`, both of `flat`'s shape.
    let copy = "    copy0: {type: datacopy, grid_loc: [0, 2], grid_size: [2, 2], inputs: [flat], in_df: [Float32], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 2, mblock: [1, 4], ublock: [1, 1]}\n    tilizer0:";
    let mid = "  mid: {type: queue, input: copy0, entries: 1, grid_size: [2, 2], t: 2, mblock: [1, 4], ublock: [1, 1], ublock_order: r, df: Float32, layout: flat, target_device: 0, loc: dram, dram: [[2, 0x10000000], [2, 0x10100000], [2, 0x10200000], [2, 0x10300000]]}\ngraphs:";
    for (input, what) in [
        ("copy0", "tilizer input copy0 is an op"),
        ("mid", "tilizer input queue mid is written by copy0"),
    ] {
        let text = base
            .replace("    tilizer0:", copy)
            .replace("graphs:", mid)
            .replace("inputs: [flat], in_df: [Float32], out_df: Float32, intermed_df: Float32, acc_df: Float16_b", &format!("inputs: [{input}], in_df: [Float32], out_df: Float32, intermed_df: Float32, acc_df: Float16_b"));
        assert!(text.contains(&format!("inputs: [{input}]")), "{text}");
        let e = ttrt::netlist::parse(&text, "tilizer.yaml")
            .map_err(|e| e.to_string())
            .and_then(|n| {
                Backend::from_netlist(n, &BackendConfig::default()).map_err(|e| e.to_string())
            })
            .and_then(|be| be.initialize().map_err(|e| e.to_string()))
            .err()
            .expect("refused");
        assert!(e.contains("op tilizer0") && e.contains(what), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
