//! Queue writes in the two modes of `BackendConfig::golden` (`ttrt_backend_config.golden`,
//! `ttrt run --golden`): by default a queue between ops holds its own format, as on silicon;
//! in golden mode it holds the op's float32 output, as upstream's golden model, and get_output
//! converts as golden's get_output does.
//!
//! The netlist squares x (Float16_b input, x = 1 + k/128, so x^2 is exact in float32 and lies
//! in [1, 2)) into a Bfp8_b queue `mid`, then doubles `mid` into a Float16_b output queue.
//! In [1, 2) Bfp8_b keeps 6 fraction bits, rounding to nearest (no value is a tie: k^2 mod 256
//! is never 128); Float16_b keeps 7 and get_output truncates. So, by hand:
//! - silicon: mid = round(64 x^2) / 64, out = 2 mid (exact in bfloat16);
//! - golden:  mid = x^2 (float32), out = bfloat16 truncation of 2 x^2, which lies in [2, 4)
//!   where bfloat16 steps by 1/64: floor(128 x^2) / 64.

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};

use crate::support;

const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  in0: {type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  mid: {type: queue, input: sq, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Bfp8_b, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}
  out: {type: queue, input: dbl, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[2, 0x10000000]]}
graphs:
  g1:
    target_device: 0
    input_count: 1
    sq: {type: multiply, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0, in0], in_df: [Float16_b, Float16_b], acc_df: Float16_b, out_df: Bfp8_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 2]}
  g2:
    target_device: 0
    input_count: 1
    dbl: {type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [mid, mid], in_df: [Bfp8_b, Bfp8_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 2]}
programs:
  - run:
      - var: {$c_zero: 0}
      - execute: {graph_name: g1, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $c_zero, rd_ptr_global: $c_zero}}}
      - execute: {graph_name: g2, queue_settings: {mid: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $c_zero, rd_ptr_global: $c_zero}}}
"#;

/// x = 1 + k/128 for k = 0..52 in turn: exact in bfloat16, x^2 in [1, 1.96).
fn input() -> Vec<f32> {
    (0..32 * 64)
        .map(|i| 1.0 + ((i * 7) % 52) as f32 / 128.0)
        .collect()
}

fn expected(golden: bool) -> Vec<f32> {
    input()
        .iter()
        .map(|&x| {
            let sq = f64::from(x) * f64::from(x);
            let out = if golden {
                (128.0 * sq).floor() / 64.0
            } else {
                2.0 * (64.0 * sq).round() / 64.0
            };
            out as f32
        })
        .collect()
}

/// Runs the netlist once; get_output (Float16_b, the queue's host format) widened to f32,
/// and get_output_into a Float32 tensor.
fn run(golden: bool) -> (Vec<f32>, Vec<f32>) {
    let n = ttrt::netlist::parse(NETLIST, "modes.yaml").unwrap();
    let be = Backend::from_netlist(
        n,
        &BackendConfig {
            golden,
            ..BackendConfig::default()
        },
    )
    .unwrap();
    be.initialize().unwrap();
    let data: Vec<u8> = input().iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, 1, 32, 64]);
    be.push_input("in0", &t, false, 1000, -1).unwrap();
    be.run_program("run", &[]).unwrap();
    let out = be.get_output("out", false, 1000, -1).unwrap();
    assert_eq!(out.format, DataFormat::Float16B);
    let host: Vec<f32> = out
        .data
        .chunks_exact(2)
        .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
        .collect();
    let mut wide = vec![0u8; 32 * 64 * 4];
    let mut dst = HostTensorMut::contiguous(&mut wide, DataFormat::Float32, [1, 1, 32, 64]);
    be.get_output_into("out", &mut dst, false, 1000, -1)
        .unwrap();
    let wide = wide
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    be.pop_output("out", false, 1000).unwrap();
    be.finish().unwrap();
    (host, wide)
}

fn differing(a: &[f32], b: &[f32]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn the_two_modes_expect_different_outputs() {
    let (silicon, golden) = (expected(false), expected(true));
    let n = differing(&silicon, &golden);
    // They differ exactly where Bfp8_b rounds up (the fraction of 64 x^2 is over 1/2): 826
    // of the 2048 values here.
    assert_eq!(n, 826, "values that differ");
}

#[test]
fn by_default_a_queue_between_ops_holds_its_own_format() {
    let (host, wide) = run(false);
    let want = expected(false);
    assert_eq!(differing(&host, &want), 0, "get_output");
    assert_eq!(differing(&wide, &want), 0, "get_output_into Float32");
    assert!(!BackendConfig::default().golden);
}

#[test]
fn golden_mode_keeps_float32_between_ops_and_converts_at_get_output() {
    let (host, wide) = run(true);
    let want = expected(true);
    assert_eq!(differing(&host, &want), 0, "get_output");
    assert_eq!(differing(&wide, &want), 0, "get_output_into Float32");
}

/// `ttrt run --golden` runs in golden mode: on this netlist its output checksum differs from
/// the default run's (seeded inputs in (0, 1] square into Bfp8_b blocks that lose bits).
#[test]
fn ttrt_run_golden_changes_the_output() {
    let dir = support::scratch("golden_mode");
    let path = dir.join("modes.yaml");
    std::fs::write(&path, NETLIST).unwrap();
    let checksum = |golden: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ttrt"));
        cmd.arg("run");
        if golden {
            cmd.arg("--golden");
        }
        let out = cmd.arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("out") && l.contains("checksum"))
            .unwrap_or_else(|| panic!("no checksum of out in:\n{text}"))
            .to_string();
        (line, text)
    };
    let (silicon, text) = checksum(false);
    let (golden, golden_text) = checksum(true);
    assert_ne!(silicon, golden, "default:\n{text}\ngolden:\n{golden_text}");
    assert!(golden_text.contains("golden"), "{golden_text}");
}

/// The same run through the C API with `cfg` set by `set`: get_output_into a Float32 tensor.
fn run_c(set: impl Fn(&mut ttrt::ffi::backend::ttrt_backend_config)) -> Result<Vec<f32>, String> {
    use std::ffi::{CStr, CString};
    use ttrt::ffi::backend::*;
    use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
    use ttrt::ffi::image::*;
    use ttrt::ffi::status::ttrt_status;
    let last = || unsafe {
        CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message())
            .to_string_lossy()
            .into_owned()
    };
    let ok = |st: ttrt_status| {
        if st == ttrt_status::Success {
            Ok(())
        } else {
            Err(last())
        }
    };
    let f32_desc = |p: *const u8| ttrt_tensor_desc {
        ptr: p.cast(),
        itemsize: 4,
        format: 0,
        shape: [1, 1, 32, 64],
        strides: [32 * 64 * 4, 32 * 64 * 4, 64 * 4, 4],
        dim: 4,
        owner: 0,
    };
    let dir = support::scratch("golden_mode_c");
    let path = dir.join("modes.yaml");
    std::fs::write(&path, NETLIST).unwrap();
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let (in0, out, run) = (
        CString::new("in0").unwrap(),
        CString::new("out").unwrap(),
        CString::new("run").unwrap(),
    );
    let data: Vec<u8> = input().iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut got = vec![0u8; 32 * 64 * 4];
    unsafe {
        let mut img = std::ptr::null_mut();
        ok(ttrt_image_open(path.as_ptr(), &mut img))?;
        let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
        ttrt_backend_config_default(&mut cfg);
        set(&mut cfg);
        let mut be = std::ptr::null_mut();
        let created = ok(ttrt_backend_create(img, &cfg, &mut be));
        if let Err(e) = created {
            ttrt_image_free(img);
            return Err(e);
        }
        let (mut qi, mut qo) = (
            std::mem::zeroed::<ttrt_io_desc>(),
            std::mem::zeroed::<ttrt_io_desc>(),
        );
        ok(ttrt_backend_initialize(be))?;
        ok(ttrt_backend_get_queue_descriptor(be, in0.as_ptr(), &mut qi))?;
        ok(ttrt_backend_get_queue_descriptor(be, out.as_ptr(), &mut qo))?;
        ok(ttrt_push_input(
            be,
            &qi,
            &f32_desc(data.as_ptr()),
            false,
            1000,
            -1,
        ))?;
        ok(ttrt_backend_run_program(
            be,
            run.as_ptr(),
            std::ptr::null(),
            0,
        ))?;
        ok(ttrt_get_output_into(
            be,
            &qo,
            &f32_desc(got.as_mut_ptr()),
            false,
            1000,
            -1,
        ))?;
        ok(ttrt_pop_output(be, &qo, false, 1000))?;
        ok(ttrt_backend_finish(be))?;
        ttrt_backend_free(be);
        ttrt_image_free(img);
    }
    Ok(got
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect())
}

/// `ttrt_backend_config.golden`: 0 by default (silicon), 1 golden, read only when
/// `struct_size` covers it (a config of the size before it was appended runs as silicon
/// whatever follows), and any other value refused naming the field.
#[test]
fn the_c_config_selects_the_mode() {
    assert_eq!(differing(&run_c(|_| {}).unwrap(), &expected(false)), 0);
    let golden = run_c(|c| c.golden = 1).unwrap();
    assert_eq!(differing(&golden, &expected(true)), 0);
    let short = run_c(|c| {
        c.golden = 1;
        c.struct_size = 24;
    })
    .unwrap();
    assert_eq!(differing(&short, &expected(false)), 0);
    let e = run_c(|c| c.golden = 2).unwrap_err();
    assert!(e.contains("cfg->golden"), "{e}");
}

/// A host push into a ram an op writes: in golden mode, as golden's push, the values are
/// quantized to the ram's format (Bfp8_b: round(64 v) / 64 in [1, 2)) before they are kept
/// as float32; get_output then gives them exactly (they are exact in bfloat16).
#[test]
fn golden_mode_quantizes_a_push_into_a_ram_an_op_writes() {
    let netlist = NETLIST
        .replace(
            "  mid: {type: queue, input: sq, entries: 1,",
            "  mid: {type: ram, input: sq, entries: 1,",
        )
        .replace(
            "mid: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $c_zero, rd_ptr_global: $c_zero}",
            "mid: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, wr_ptr_global: $c_zero}",
        );
    let n = ttrt::netlist::parse(&netlist, "ram.yaml").unwrap();
    let be = Backend::from_netlist(
        n,
        &BackendConfig {
            golden: true,
            ..BackendConfig::default()
        },
    )
    .unwrap();
    be.initialize().unwrap();
    let squares: Vec<f32> = input().iter().map(|x| x * x).collect();
    let data: Vec<u8> = squares.iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, 1, 32, 64]);
    be.push_input("mid", &t, false, 1000, 0).unwrap();
    let mut got = vec![0u8; 32 * 64 * 4];
    let mut dst = HostTensorMut::contiguous(&mut got, DataFormat::Float32, [1, 1, 32, 64]);
    be.get_output_into("mid", &mut dst, true, 1000, 0).unwrap();
    let got: Vec<f32> = got
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let want: Vec<f32> = squares
        .iter()
        .map(|&v| ((f64::from(v) * 64.0).round() / 64.0) as f32)
        .collect();
    assert_eq!(differing(&got, &want), 0);
    be.finish().unwrap();
}
