//! Constants and parameters stored pre-tilized (`.tbin`, PyBuda's BACKEND_TILIZED export): the
//! member holds the queue's buffers back to back, in the queue's buffer order, each with the
//! tensor's W entries in the device layout (notes/buda-backend.md, "TTI archive"). initialize
//! writes them into the queue as they are. The test builds two images of one netlist, one
//! storing the tensors as `.bin` host data and one as `.tbin` bytes made by ttrt's own tilize
//! of the same values, and checks that both load the same queue contents and compute the same
//! outputs; and that a `.tbin` that does not fit its queue is refused at create with the
//! tensor named, expected against found.

use std::fs::File;
use std::path::PathBuf;

use ttrt::backend::{Backend, BackendConfig, BackendErrorKind};
use ttrt::format::{tilize, untilize, Arch, DataFormat, HostTensor, HostTensorMut, Rounding};
use ttrt::image::archive::TarWriter;
use ttrt::image::device_json::{DeviceJson, PackedGraph, TensorDescriptor, TilizedBuffers};
use ttrt::image::tensor_file::host_tensor_descriptor;
use ttrt::image::{Image, TTI_ROOT};

/// `y = (x + w) + c` on a 2x2 grid: `w` a Bfp8_b parameter ram, `c` a Float16_b constant
/// queue, each 2 t slices of 1x2 tiles per core.
const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  x: {type: queue, input: HOST, entries: 2, grid_size: [2, 2], t: 2, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x10000000], [1, 0x10000000], [2, 0x10000000], [3, 0x10000000]]}
  w: {type: ram, input: HOST, entries: 1, grid_size: [2, 2], t: 2, mblock: [1, 1], ublock: [1, 2], df: Bfp8_b, target_device: 0, loc: dram, dram: [[0, 0x20000000], [1, 0x20000000], [2, 0x20000000], [3, 0x20000000]]}
  c: {type: queue, input: HOST, entries: 1, grid_size: [2, 2], t: 2, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[4, 0x20000000], [5, 0x20000000], [4, 0x21000000], [5, 0x21000000]]}
  y: {type: queue, input: s2, entries: 2, grid_size: [2, 2], t: 2, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x30000000], [1, 0x30000000], [2, 0x30000000], [3, 0x30000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    s1: {type: add, grid_loc: [0, 0], grid_size: [2, 2], inputs: [x, w], in_df: [Float16_b, Bfp8_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 2, mblock: [1, 1], ublock: [1, 2]}
    s2: {type: add, grid_loc: [2, 0], grid_size: [2, 2], inputs: [s1, c], in_df: [Float16_b, Float16_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 2, mblock: [1, 1], ublock: [1, 2]}
programs:
  - run:
      - param: [$p_loop_count]
      - staticvar: {$lptr: 0, $gptr: 0}
      - loop: $p_loop_count
      - execute: {graph_name: g, queue_settings: {x: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}, c: {prologue: true, epilogue: false, zero: false, rd_ptr_local: 0, rd_ptr_global: 0}}}
      - varinst: [$lptr, incwrap, 1, 4]
      - varinst: [$gptr, incwrap, 1, 4]
      - endloop
"#;

/// `[1, 2, 64, 128]`: one entry of every queue of the netlist.
const SHAPE: [usize; 4] = [1, 2, 64, 128];

fn values(seed: usize) -> Vec<u8> {
    (0..SHAPE.iter().product::<usize>())
        .flat_map(|i| ((((i * 37 + seed * 11) % 97) as f32 - 48.0) * 0.125).to_le_bytes())
        .collect()
}

fn netlist() -> ttrt::netlist::Netlist {
    ttrt::netlist::parse(NETLIST, "tbin.yaml").unwrap()
}

/// One tensor to store: its queue, descriptor and member bytes.
struct Stored {
    queue: &'static str,
    parameter: bool,
    desc: TensorDescriptor,
    bytes: Vec<u8>,
}

/// The tensors as `.bin` host data.
fn as_bin(w: &[u8], c: &[u8]) -> Vec<Stored> {
    let bin = |queue: &'static str, parameter, bytes: &[u8]| Stored {
        queue,
        parameter,
        desc: host_tensor_descriptor(queue, DataFormat::Float32, SHAPE, 4).unwrap(),
        bytes: bytes.to_vec(),
    };
    vec![bin("w", true, w), bin("c", false, c)]
}

/// The tensors as `.tbin`: each queue's buffers from ttrt's tilize, described as PyBuda
/// describes them (host itemsize, shape and strides; the queue's format; the buffer count and
/// size).
fn as_tbin(w: &[u8], c: &[u8]) -> Vec<Stored> {
    let n = netlist();
    let tbin = |queue: &'static str, parameter, bytes: &[u8]| {
        let layout = n.queue(queue).unwrap().layout(Arch::WormholeB0);
        let host = HostTensor::contiguous(bytes, DataFormat::Float32, SHAPE);
        let mut tiles = vec![0u8; layout.tilized_size(1)];
        tilize(&host, &layout, Rounding::default(), &mut tiles).unwrap();
        let mut desc = host_tensor_descriptor(queue, DataFormat::Float32, SHAPE, 4).unwrap();
        desc.bin = format!("tensors/torch.Tensor.{queue}.tbin");
        desc.format = layout.format;
        desc.tilized = Some(TilizedBuffers {
            num_buffers: layout.buffers(),
            buffer_size_bytes: layout.entry_size(),
        });
        Stored {
            queue,
            parameter,
            desc,
            bytes: tiles,
        }
    };
    vec![tbin("w", true, w), tbin("c", false, c)]
}

fn write_image(name: &str, stored: &[Stored]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("backend_tbin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.tti"));
    let split = |parameter: bool| {
        stored
            .iter()
            .filter(|s| s.parameter == parameter)
            .map(|s| (s.queue.to_string(), s.desc.clone()))
            .collect::<Vec<_>>()
    };
    let device = DeviceJson::for_pack(PackedGraph {
        arch: Arch::WormholeB0,
        device_image_name: name.to_string(),
        graph_name: "g".into(),
        microbatch: 1,
        inputs: vec![("x".into(), SHAPE.to_vec())],
        outputs: vec![("y".into(), SHAPE.to_vec(), DataFormat::Float16B)],
        constants: split(false),
        parameters: split(true),
        netlist_filename: "tbin.yaml".into(),
    })
    .unwrap();
    let mut tar = TarWriter::new(File::create(&path).unwrap());
    tar.add_dir(TTI_ROOT).unwrap();
    tar.add_file(
        &format!("{TTI_ROOT}device.json"),
        device.to_json().as_bytes(),
    )
    .unwrap();
    tar.add_file(&format!("{TTI_ROOT}tbin.yaml"), NETLIST.as_bytes())
        .unwrap();
    tar.add_dir(&format!("{TTI_ROOT}tensors")).unwrap();
    for s in stored {
        tar.add_file(&format!("{TTI_ROOT}{}", s.desc.bin), &s.bytes)
            .unwrap();
    }
    tar.finish().unwrap();
    path
}

/// What a backend of `image` holds and computes: w (ram slot 0) and c as get_output returns
/// them, and y for one input.
fn run(image: &Image, cqs: u8, x: &[u8]) -> [Vec<u8>; 3] {
    let be = Backend::create(
        image,
        &BackendConfig {
            arch: None,
            num_command_queues: cqs,
            ..BackendConfig::default()
        },
    )
    .unwrap();
    be.initialize().unwrap();
    let w = be.get_output("w", true, 0, 0).unwrap();
    let c = be.get_output("c", true, 0, -1).unwrap();
    assert_eq!((w.shape, c.shape), (SHAPE, SHAPE));
    be.push_input(
        "x",
        &HostTensor::contiguous(x, DataFormat::Float32, SHAPE),
        true,
        0,
        -1,
    )
    .unwrap();
    be.run_program("run", &[("$p_loop_count", "1")]).unwrap();
    let y = be.get_output("y", true, 0, -1).unwrap();
    be.finish().unwrap();
    [w.data, c.data, y.data]
}

/// The values a tilized buffer set holds, as Float16_b host data (get_output's format).
fn decoded(layout_of: &str, tiles: &[u8]) -> Vec<u8> {
    let layout = netlist().queue(layout_of).unwrap().layout(Arch::WormholeB0);
    let mut out = vec![0u8; SHAPE.iter().product::<usize>() * 2];
    untilize(
        tiles,
        &layout,
        &mut HostTensorMut::contiguous(&mut out, DataFormat::Float16B, SHAPE),
    )
    .unwrap();
    out
}

#[test]
fn tbin_constants_and_parameters_load_as_their_bin_equivalents() {
    let (w, c, x) = (values(1), values(2), values(3));
    let bin = Image::open(write_image("bin", &as_bin(&w, &c))).unwrap();
    let tbin_stored = as_tbin(&w, &c);
    let tbin = Image::open(write_image("tbin", &tbin_stored)).unwrap();
    for cqs in [1, 2] {
        let from_bin = run(&bin, cqs, &x);
        let from_tbin = run(&tbin, cqs, &x);
        assert!(
            from_bin == from_tbin,
            "{cqs} CQ(s): the .tbin image loads or computes differently from the .bin one"
        );
        // And what was loaded is what the .tbin holds, buffer for buffer.
        assert_eq!(from_tbin[0], decoded("w", &tbin_stored[0].bytes));
        assert_eq!(from_tbin[1], decoded("c", &tbin_stored[1].bytes));
    }
    // The values went through the queues' formats: c (Float16_b) exactly, as these values
    // are exact in bfloat16.
    let c_bf16: Vec<u8> = c.chunks_exact(4).flat_map(|v| [v[2], v[3]]).collect();
    assert_eq!(run(&tbin, 1, &x)[1], c_bf16);
}

/// A change that makes a stored tensor not fit its queue.
type Spoil = Box<dyn Fn(&mut Stored)>;

#[test]
fn a_tbin_that_does_not_fit_its_queue_is_refused_at_create_naming_it() {
    let (w, c) = (values(1), values(2));
    let entry = {
        let n = netlist();
        n.queue("w").unwrap().layout(Arch::WormholeB0).entry_size()
    };
    let cases: Vec<(&str, Spoil, String)> = vec![
        (
            "buffers",
            Box::new(move |s: &mut Stored| {
                s.desc.tilized = Some(TilizedBuffers {
                    num_buffers: 3,
                    buffer_size_bytes: entry,
                });
                s.bytes.truncate(3 * entry);
            }),
            "tensor 'w' (tensors/torch.Tensor.w.tbin): 3 buffers, but queue 'w' has 4 (a 2x2 grid)".into(),
        ),
        (
            "size",
            Box::new(move |s: &mut Stored| {
                s.desc.tilized = Some(TilizedBuffers {
                    num_buffers: 4,
                    buffer_size_bytes: entry / 2,
                });
                s.bytes.truncate(4 * (entry / 2));
            }),
            format!(
                "tensor 'w' (tensors/torch.Tensor.w.tbin): buffers of {} B, but 1 entry of queue 'w' take {entry} B per buffer ({entry} B each)",
                entry / 2
            ),
        ),
        (
            "format",
            Box::new(|s: &mut Stored| s.desc.format = DataFormat::Bfp4B),
            "tensor 'w' (tensors/torch.Tensor.w.tbin): tilized as Bfp4_b, but queue 'w' holds Bfp8_b".into(),
        ),
    ];
    for (name, spoil, expected) in cases {
        let mut stored = as_tbin(&w, &c);
        spoil(&mut stored[0]);
        let path = write_image(&format!("bad_{name}"), &stored);
        let image = Image::open(&path).unwrap();
        let e = Backend::create(&image, &BackendConfig::default())
            .err()
            .unwrap_or_else(|| panic!("{name}: a .tbin that does not fit must be refused"));
        assert_eq!(e.kind, BackendErrorKind::InvalidImage, "{name}");
        assert!(
            e.message.ends_with(&expected) && !e.message.contains('\n'),
            "{name}: {}",
            e.message
        );
    }
}
