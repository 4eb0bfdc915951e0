//! `ttrt merge`: images of several models merged into one open, list each model's names,
//! run each model's programs alone and interleaved on one backend to the bytes each image gives
//! alone, and report a footprint equal to sums computed here from the merged netlist. A merge
//! that does not fit names the channel, the queue and the bytes and writes nothing; fused op
//! ids and op names are made unique per model.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut, IoLayout};
use ttrt::image::Image;
use ttrt::netlist::{Netlist, QueueLocation};

const DIGITS_INPUT_BYTES: usize = 4 * 32 * 64 * 4;

fn ttrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .args(args)
        .output()
        .expect("run ttrt")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ttrt failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn digits() -> PathBuf {
    support::root().join("examples/digits.tti")
}

fn fused_netlist() -> PathBuf {
    support::root()
        .join("tests/corpus/netlists/verif/netlist_tests/netlists/basic/netlist_fused_op.yaml")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The fused-op corpus netlist packed as an image whose host-fed queues are all inputs.
fn fused_image(dir: &Path) -> PathBuf {
    let out = dir.join("fused.tti");
    ok(&ttrt(&[
        "pack",
        s(&fused_netlist()),
        "--no-tensors",
        "-o",
        s(&out),
    ]));
    out
}

fn merged(dir: &Path, name: &str, inputs: &[&Path]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec!["merge", "-o", s(&out)];
    args.extend(inputs.iter().map(|p| s(p)));
    ok(&ttrt(&args));
    out
}

fn backend(image: &Image) -> Backend {
    let be = Backend::create(image, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    be
}

/// Pushes the `k`th chunk of the digits model's held-out inputs to its queue `<pre>x`.
fn push_digits(be: &Backend, pre: &str, k: usize) {
    let inputs = std::fs::read(support::root().join("examples/digits/test_inputs.bin")).unwrap();
    let chunk = &inputs[k * DIGITS_INPUT_BYTES..(k + 1) * DIGITS_INPUT_BYTES];
    let x = format!("{pre}x");
    let d = be.queue_desc(&x).unwrap();
    let shape = d.layout.host_shape(d.input_count as usize);
    let t = HostTensor::contiguous(chunk, DataFormat::Float32, shape);
    be.push_input(&x, &t, false, 1000, -1).unwrap();
}

/// Reads and pops one run's logits from the digits model's `<pre>logits`.
fn pop_digits(be: &Backend, pre: &str) -> Vec<u8> {
    let n = be.queue_desc(&format!("{pre}x")).unwrap().input_count as usize;
    let logits = format!("{pre}logits");
    let mut buf = vec![0u8; n * 32 * 32 * 4];
    let mut dst = HostTensorMut::contiguous(&mut buf, DataFormat::Float32, [n, 1, 32, 32]);
    be.get_output_into(&logits, &mut dst, false, 1000, -1)
        .unwrap();
    be.pop_output(&logits, false, 1000).unwrap();
    buf
}

fn run_digits_program(be: &Backend, pre: &str) {
    be.run_program(&format!("{pre}run_fwd"), &[("$p_loop_count", "1")])
        .unwrap();
}

/// One run of the digits model (queues prefixed `pre`) on the `k`th chunk of its held-out
/// inputs: the logits' bytes.
fn run_digits(be: &Backend, pre: &str, k: usize) -> Vec<u8> {
    push_digits(be, pre, k);
    run_digits_program(be, pre);
    pop_digits(be, pre)
}

/// One run of the fused-op model (queues prefixed `pre`) on inputs made from `seed`, all
/// positive (the fused op takes a square root): the output's bytes.
fn run_fused(be: &Backend, pre: &str, seed: u32) -> Vec<u8> {
    for (i, q) in ["q0", "q1", "r0"].iter().enumerate() {
        let name = format!("{pre}{q}");
        let d = be.queue_desc(&name).unwrap();
        let shape = d.layout.host_shape(1);
        let n: usize = shape.iter().product();
        let data: Vec<u8> = (0..n)
            .flat_map(|j| {
                let v = 0.25 + ((j as u32 * 7 + seed * 13 + i as u32 * 5) % 17) as f32 / 64.0;
                v.to_le_bytes()
            })
            .collect();
        let t = HostTensor::contiguous(&data, DataFormat::Float32, shape);
        be.push_input(&name, &t, false, 1000, -1).unwrap();
    }
    be.run_program(&format!("{pre}program0"), &[]).unwrap();
    let out = format!("{pre}output");
    let shape = be.queue_desc(&out).unwrap().layout.host_shape(1);
    let mut buf = vec![0u8; shape.iter().product::<usize>() * 4];
    let mut dst = HostTensorMut::contiguous(&mut buf, DataFormat::Float32, shape);
    be.get_output_into(&out, &mut dst, false, 1000, -1).unwrap();
    be.pop_output(&out, false, 1000).unwrap();
    buf
}

#[test]
fn a_merged_image_lists_every_models_inputs_outputs_and_programs() {
    let dir = support::scratch("merge_lists");
    let fused = fused_image(&dir);
    for (name, parts) in [
        ("self.tti", vec![digits(), digits()]),
        ("two.tti", vec![digits(), fused.clone()]),
    ] {
        let refs: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
        let image = Image::open(merged(&dir, name, &refs)).unwrap();
        let second_inputs: &[&str] = if name == "self.tti" {
            &["model_1_x"]
        } else {
            &["model_1_q0", "model_1_q1", "model_1_r0"]
        };
        let mut inputs = vec!["model_0_x"];
        inputs.extend(second_inputs);
        let mut inputs_sorted: Vec<&str> = image.input_names().iter().map(String::as_str).collect();
        inputs_sorted.sort();
        assert_eq!(inputs_sorted, inputs, "{name}");
        let second_output = if name == "self.tti" {
            "model_1_logits"
        } else {
            "model_1_output"
        };
        assert_eq!(
            image.output_names(),
            ["model_0_logits", second_output],
            "{name}"
        );
        let programs: Vec<&str> = image
            .netlist()
            .programs
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let second_program = if name == "self.tti" {
            "model_1_run_fwd"
        } else {
            "model_1_program0"
        };
        assert_eq!(programs, ["model_0_run_fwd", second_program], "{name}");
        // The tensors of model 0's and model 1's parameters are both there, under their new
        // names, with the bytes of the original.
        let original = Image::open(digits()).unwrap();
        for t in original.tensors() {
            let want = original.tensor_bytes(&t.name).unwrap();
            let got = image.tensor_bytes(&format!("model_0_{}", t.name)).unwrap();
            assert_eq!(*got, *want, "{name}: {}", t.name);
            if name == "self.tti" {
                let got = image.tensor_bytes(&format!("model_1_{}", t.name)).unwrap();
                assert_eq!(*got, *want, "{name}: model_1 {}", t.name);
            }
        }
    }
}

#[test]
fn each_model_of_a_merged_image_runs_alone_and_interleaved_to_its_own_images_bytes() {
    let dir = support::scratch("merge_runs");
    let fused = fused_image(&dir);
    let two = Image::open(merged(&dir, "two.tti", &[&digits(), &fused])).unwrap();

    let alone_digits = {
        let image = Image::open(digits()).unwrap();
        let be = backend(&image);
        let r: Vec<Vec<u8>> = (0..3).map(|k| run_digits(&be, "", k)).collect();
        be.finish().unwrap();
        r
    };
    let alone_fused = {
        let image = Image::open(&fused).unwrap();
        let be = backend(&image);
        let r: Vec<Vec<u8>> = (0..3).map(|k| run_fused(&be, "", k)).collect();
        be.finish().unwrap();
        r
    };
    assert_ne!(alone_fused[0], alone_fused[1], "inputs differ per run");

    // Each model alone on the merged image.
    let be = backend(&two);
    for k in 0..3 {
        assert_eq!(
            run_digits(&be, "model_0_", k),
            alone_digits[k],
            "digits run {k}"
        );
    }
    be.finish().unwrap();
    let be = backend(&two);
    for k in 0..3 {
        assert_eq!(
            run_fused(&be, "model_1_", k as u32),
            alone_fused[k],
            "fused run {k}"
        );
    }
    be.finish().unwrap();
    // Interleaved on one backend.
    let be = backend(&two);
    for k in 0..3 {
        assert_eq!(
            run_fused(&be, "model_1_", k as u32),
            alone_fused[k],
            "interleaved fused {k}"
        );
        assert_eq!(
            run_digits(&be, "model_0_", k),
            alone_digits[k],
            "interleaved digits {k}"
        );
    }
    be.finish().unwrap();

    // Two copies of one model with inputs of both pushed before either runs, and both
    // outputs waiting before either is read: any memory the copies shared would mix them.
    let three = Image::open(merged(&dir, "three.tti", &[&digits(), &fused, &digits()])).unwrap();
    let be = backend(&three);
    for k in 0..2 {
        push_digits(&be, "model_0_", k);
        push_digits(&be, "model_2_", k + 1);
        run_digits_program(&be, "model_2_");
        assert_eq!(
            run_fused(&be, "model_1_", k as u32),
            alone_fused[k],
            "three: fused {k}"
        );
        run_digits_program(&be, "model_0_");
        assert_eq!(
            pop_digits(&be, "model_0_"),
            alone_digits[k],
            "three: model 0 run {k}"
        );
        assert_eq!(
            pop_digits(&be, "model_2_"),
            alone_digits[k + 1],
            "three: model 2 run {k}"
        );
    }
    be.finish().unwrap();
}

/// Bytes of one tilized tile of `df` on Grayskull: 32x32 datums and 32 bytes of header and
/// padding (Buda's `get_tile_size`).
fn gs_tile_bytes(df: DataFormat) -> u64 {
    match df {
        DataFormat::Float16B | DataFormat::Float16 => 2 * 1024 + 32,
        DataFormat::Float32 => 4 * 1024 + 32,
        other => panic!("no tile size here for {other:?}"),
    }
}

/// Per DRAM channel and per host channel, the end of the queues of `n` placed one after
/// another from the base (Grayskull's 83560448-byte backend reservation in DRAM, 0 in host
/// memory), each buffer `entries x t x tiles x tile + 32` bytes rounded up to 32; and every
/// buffer's range, to check that none overlap.
fn expected_footprint(n: &Netlist) -> (Vec<u64>, Vec<u64>, Vec<(bool, u32, u64, u64)>) {
    const BASE: u64 = 83_560_448;
    let mut dram = vec![BASE; 8];
    let mut host = vec![0u64; 1];
    let mut ranges = Vec::new();
    for q in &n.queues {
        assert!(q.alias.is_none());
        assert_eq!(q.layout, IoLayout::Tilized, "{}", q.name);
        let tiles = (q.mblock.m * q.mblock.n * q.ublock.rt * q.ublock.ct) as u64;
        let bytes = q.entries as u64 * q.t as u64 * tiles * gs_tile_bytes(q.df) + 32;
        for b in &q.buffers {
            let is_dram = q.loc == QueueLocation::Dram;
            let used = if is_dram {
                &mut dram[b.channel as usize]
            } else {
                &mut host[b.channel as usize]
            };
            ranges.push((is_dram, b.channel, b.address, b.address + bytes));
            *used += bytes.div_ceil(32) * 32;
        }
    }
    (dram, host, ranges)
}

#[test]
fn the_footprint_is_what_the_merged_netlists_queues_occupy() {
    let dir = support::scratch("merge_footprint");
    let fused = fused_image(&dir);
    let out = dir.join("m.tti");
    let json = ok(&ttrt(&[
        "merge",
        "-o",
        s(&out),
        "--json",
        s(&digits()),
        s(&fused),
        s(&digits()),
    ]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let image = Image::open(&out).unwrap();
    let (dram, host, mut ranges) = expected_footprint(image.netlist());
    let got = |kind: &str| -> Vec<u64> {
        v[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["bytes"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(got("dram"), dram);
    assert_eq!(got("host"), host);
    // Something went to more than one channel, and DRAM beyond the reservation.
    assert!(
        dram.iter().filter(|&&b| b > 83_560_448).count() >= 2,
        "{dram:?}"
    );
    // No two buffers overlap, and each starts at or after its channel's base.
    ranges.sort();
    for w in ranges.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.0 == b.0 && a.1 == b.1 {
            assert!(a.3 <= b.2, "buffers overlap: {a:?} and {b:?}");
        }
    }
    for r in &ranges {
        assert!(!r.0 || r.2 >= 83_560_448, "{r:?} inside the reservation");
    }
    // `ttrt info` reports the same footprint for the merged image.
    let info: serde_json::Value =
        serde_json::from_str(&ok(&ttrt(&["info", "--json", s(&out)]))).unwrap();
    assert_eq!(info["memory_footprint"], v);
    // The text report has the guide's shape and the same numbers in MB.
    let text = ok(&ttrt(&[
        "merge",
        "-o",
        s(&dir.join("m2.tti")),
        s(&digits()),
        s(&fused),
        s(&digits()),
    ]));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Displaying memory footprint per DRAM channel (MB):")
    );
    for (c, b) in dram.iter().enumerate() {
        let line = lines.next().unwrap();
        let (chan, mb) = line.split_once(" : ").unwrap();
        assert_eq!(chan, c.to_string());
        let mb: f64 = mb.parse().unwrap();
        assert!(
            (mb - *b as f64 / (1u64 << 20) as f64).abs() <= 0.005,
            "{line} vs {b} B"
        );
    }
    assert_eq!(
        lines.next(),
        Some("Displaying memory footprint per Host channel (MB):")
    );
    let line = lines.next().unwrap();
    assert!(line.starts_with("0 : "), "{line}");
}

/// The digits netlist with `x` holding `entries` entries (4160 bytes each), packed.
fn digits_with_big_input(dir: &Path, entries: u32) -> PathBuf {
    let text =
        std::fs::read_to_string(support::root().join("examples/digits/digits.yaml")).unwrap();
    let text = text.replacen(
        "x:                                    {input: HOST, type: queue, entries: 12,",
        &format!(
            "x:                                    {{input: HOST, type: queue, entries: {entries},"
        ),
        1,
    );
    assert!(text.contains(&format!("entries: {entries},")));
    let netlist = dir.join("big.yaml");
    std::fs::write(&netlist, text).unwrap();
    let out = dir.join("big.tti");
    ok(&ttrt(&["pack", s(&netlist), "--no-tensors", "-o", s(&out)]));
    out
}

#[test]
fn a_merge_that_does_not_fit_names_the_channel_queue_and_bytes_and_writes_nothing() {
    let dir = support::scratch("merge_capacity");
    // 131072 entries of 2 Float16_b tiles: 545259552 bytes with the header; two of them do
    // not fit one channel's 1 GiB above the reservation.
    let big = digits_with_big_input(&dir, 131_072);
    let out = dir.join("m.tti");
    let r = ttrt(&[
        "merge",
        "--skip-channel-reallocation",
        "-o",
        s(&out),
        s(&big),
        s(&big),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    let first_end = 83_560_448u64 + (545_259_552u64).div_ceil(32) * 32;
    assert!(
        err.starts_with("ttrt merge: DRAM channel 0 is full"),
        "{err}"
    );
    assert!(err.contains("queue model_1_x"), "{err}");
    assert!(err.contains("545259552 B"), "{err}");
    assert!(err.contains(&format!("{first_end} B")), "{err}");
    assert!(!out.exists(), "a failed merge wrote {}", out.display());
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| {
        let n = e.unwrap().file_name();
        !n.to_string_lossy().starts_with("m.tti")
    }));
    // With channel switching (the default) the second queue goes to another channel.
    ok(&ttrt(&["merge", "-o", s(&out), s(&big), s(&big)]));
    let image = Image::open(&out).unwrap();
    let q = image.netlist().queue("model_1_x").unwrap();
    assert_ne!(q.buffers[0].channel, 0);
    assert_eq!(
        image.netlist().queue("model_0_x").unwrap().buffers[0].channel,
        0
    );
}

#[test]
fn fused_op_ids_and_op_names_are_unique_per_model() {
    let dir = support::scratch("merge_fused");
    let fused = fused_image(&dir);
    let image = Image::open(merged(&dir, "m.tti", &[&fused, &digits(), &fused])).unwrap();
    let n = image.netlist();
    let graphs: Vec<&str> = n.graphs.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(graphs, ["model_0_fwd_0", "model_1_fwd_0", "model_2_fwd_0"]);
    for (m, id) in [(0, "0"), (2, "1")] {
        let g = &n.graphs[m];
        let op = g.op(&format!("model_{m}__fused_op_0")).unwrap();
        assert_eq!(op.attributes.fused_op_id.as_deref(), Some(id), "model {m}");
        assert_eq!(
            op.inputs,
            [format!("model_{m}_q1"), format!("model_{m}_matmul")]
        );
        let nop = g
            .op(&format!("model_{m}__fused_op_0_output_nop_0"))
            .unwrap();
        assert_eq!(nop.inputs, [format!("model_{m}__fused_op_0")]);
        assert_eq!(
            n.queue(&format!("model_{m}_output")).unwrap().input,
            format!("model_{m}__fused_op_0_output_nop_0")
        );
        let f = n.fused_ops.iter().find(|f| f.id == id).unwrap();
        let names: Vec<&str> = f.schedules[0].ops.iter().map(|o| o.name.as_str()).collect();
        let want: Vec<String> = ["add", "reciprocal", "sqrt", "exp", "datacopy", "mul"]
            .iter()
            .map(|o| format!("model_{m}_{o}"))
            .collect();
        assert_eq!(names, want, "model {m}");
    }
    assert_eq!(n.fused_ops.len(), 2);
    // The merged fused ops still compute what each model's did.
    let be = backend(&image);
    let alone = {
        let img = Image::open(&fused).unwrap();
        let b = backend(&img);
        let r = run_fused(&b, "", 5);
        b.finish().unwrap();
        r
    };
    assert_eq!(run_fused(&be, "model_2_", 5), alone);
    assert_eq!(run_fused(&be, "model_0_", 5), alone);
    be.finish().unwrap();
}

#[test]
fn merge_refuses_images_for_another_arch_in_one_line() {
    let dir = support::scratch("merge_arch");
    let out = dir.join("m.tti");
    let r = ttrt(&[
        "merge",
        "--arch",
        "wormhole_b0",
        "-o",
        s(&out),
        s(&digits()),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("model 0") && err.contains("Grayskull"),
        "{err}"
    );
    assert!(!out.exists());
}
