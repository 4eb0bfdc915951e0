//! TT-CNN pipelines (src/pipeline): upstream's test matrix (`models/tt_cnn/tests/
//! test_pipeline.py`) on the simulated device driven by a worker thread per CQ, as the C API
//! opens it. Every output is compared bit for bit with the model computed on the host; config
//! errors carry upstream's texts.

#![allow(clippy::result_large_err)] // the runtime's errors carry their text inline

use crate::support::served;

use served::Dev;
use ttrt::compute::UnaryOp;
use ttrt::format::page::{decode_tile_page, encode_tile_page};
use ttrt::format::{BfpDecoding, DataFormat, Rounding};
use ttrt::hal::layout::{CoreRange, MemoryLayout, ShardOrientation, ShardSpec, TensorLayout};
use ttrt::hal::select::AnyChip;
use ttrt::pipeline::{
    memory_config_for_persistent_dram_tensor, ExecutorKind, HostTensor, MemoryConfigs, Pipeline,
    PipelineConfig, PipelineError,
};
use ttrt::runtime::allocator::BufferType;
use ttrt::runtime::{Device, DeviceConfig, MemoryConfig, RuntimeError, Tensor, TensorSpec};

/// Upstream's device parameters: l1_small_size 16384, trace_region_size 32768, 2 CQs.
fn open() -> Dev {
    open_with(2, 32768)
}

fn open_with(cqs: u8, trace_region_size: u64) -> Dev {
    let config = DeviceConfig {
        num_command_queues: cqs,
        trace_region_size,
        l1_small_size: 16384,
        ..DeviceConfig::default()
    };
    Dev::serve(config)
}

/// Upstream's shape configs: input shape, DRAM cores, L1 cores.
const SHAPES: [([u32; 4], u32, u32); 2] = [([1, 1, 32, 32], 1, 1), ([1, 1, 512, 64], 4, 8)];

fn height_sharded(buffer_type: BufferType, shape: [u32; 4], cores: u32) -> MemoryConfig {
    MemoryConfig {
        buffer_type,
        memory_layout: MemoryLayout::HeightSharded,
        shard: Some(ShardSpec {
            grid: CoreRange {
                start: (0, 0),
                end: (cores - 1, 0),
            },
            shape: [shape[2] / cores, shape[3]],
            orientation: ShardOrientation::RowMajor,
        }),
    }
}

/// Upstream's `create_memory_configs`; the DRAM config serves as input and output config.
fn memory_configs(shape: [u32; 4], dram_cores: u32, l1_cores: u32) -> MemoryConfigs {
    let dram = height_sharded(BufferType::Dram, shape, dram_cores);
    MemoryConfigs {
        l1_input: height_sharded(BufferType::L1, shape, l1_cores),
        dram_input: Some(dram),
        dram_output: Some(dram),
    }
}

type ModelFn = fn(&Device<AnyChip>, u8, &mut Tensor) -> Result<Tensor, RuntimeError>;
/// The model computed on the host, element by element on bfloat16 bits.
type Reference = fn(u16) -> u16;

/// The device ops of the two upstream models, into L1 with the input's memory config.
fn relu_model(dev: &Device<AnyChip>, cq: u8, x: &mut Tensor) -> Result<Tensor, RuntimeError> {
    assert_eq!(x.memory_config().buffer_type, BufferType::L1, "input in L1");
    dev.unary(cq, UnaryOp::Relu, x, &x.memory_config())
}

fn identity_model(dev: &Device<AnyChip>, cq: u8, x: &mut Tensor) -> Result<Tensor, RuntimeError> {
    assert_eq!(x.memory_config().buffer_type, BufferType::L1, "input in L1");
    dev.unary(cq, UnaryOp::Identity, x, &x.memory_config())
}

/// The host's relu on bfloat16 bits: `x >= 0 ? x : +0` (so -0.0 stays, NaN becomes +0).
fn relu_bits(b: u16) -> u16 {
    if f32::from_bits((b as u32) << 16) >= 0.0 {
        b
    } else {
        0
    }
}

fn identity_bits(b: u16) -> u16 {
    b
}

const MODELS: [(&str, ModelFn, Reference); 2] = [
    ("relu", relu_model, relu_bits),
    ("identity", identity_model, identity_bits),
];

/// A pseudo-random generator (splitmix64), so every run sees the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A bfloat16 in (-4, 4), both signs, every mantissa.
    fn bf16(&mut self) -> u16 {
        let r = self.next();
        let sign = ((r & 1) as u16) << 15;
        let exponent = 0x78 + (r >> 1) as u16 % 9; // 2^-7 .. 2^1
        let mantissa = (r >> 8) as u16 & 0x7f;
        sign | (exponent << 7) | mantissa
    }
}

/// A bfloat16 ROW_MAJOR host input and the host's expected output for it.
fn input(rng: &mut Rng, shape: [u32; 4], reference: Reference) -> (HostTensor, Vec<u16>) {
    let n = shape.iter().product::<u32>() as usize;
    let bits: Vec<u16> = (0..n).map(|_| rng.bf16()).collect();
    let expected = bits.iter().map(|&b| reference(b)).collect();
    (HostTensor::from_bf16_bits(&bits, shape), expected)
}

fn assert_outputs(outputs: &[HostTensor], expected: &[Vec<u16>], what: &str) {
    assert_eq!(outputs.len(), expected.len(), "{what}: number of outputs");
    for (i, (out, want)) in outputs.iter().zip(expected).enumerate() {
        assert_eq!(out.layout(), TensorLayout::RowMajor, "{what}: output {i}");
        let got = out.to_bf16_bits().expect("bfloat16 row-major output");
        if let Some(k) = (0..want.len()).find(|&k| got[k] != want[k]) {
            panic!(
                "{what}: output {i} differs at element {k}: {:#06x}, expected {:#06x}",
                got[k], want[k]
            );
        }
    }
}

/// Runs `f` for every cell of upstream's matrix: executor config x shape x model.
fn matrix(
    mut f: impl FnMut(&Dev, ExecutorKind, [u32; 4], MemoryConfigs, ModelFn, Reference, String),
) {
    for kind in ExecutorKind::ALL {
        for (shape, dram_cores, l1_cores) in SHAPES {
            for (name, model, reference) in MODELS {
                let dev = open();
                let what = format!("{} {shape:?} {name}", kind.name());
                let mems = memory_configs(shape, dram_cores, l1_cores);
                f(&dev, kind, shape, mems, model, reference, what);
            }
        }
    }
}

#[test]
fn config_chooses_upstreams_executor() {
    let dev = open();
    let mems = memory_configs([1, 1, 32, 32], 1, 1);
    for kind in ExecutorKind::ALL {
        let p = Pipeline::new(&*dev, kind.config(), relu_model as ModelFn, mems).unwrap();
        assert_eq!(p.executor(), kind);
    }
    assert_eq!(
        ExecutorKind::ALL.map(ExecutorKind::name),
        [
            "ModelExecutor",
            "TracedModelExecutor",
            "MultiCQModelOverlappedInputExecutor",
            "MultiCQTracedModelOverlappedInputExecutor",
            "MultiCQTracedModelPipelinedIOExecutor",
        ]
    );
    // The default config is upstream's: trace, one CQ, transfers on the ops queue.
    assert_eq!(
        PipelineConfig::default(),
        ExecutorKind::TracedModel.config()
    );
    // ModelExecutor needs no DRAM configs at all.
    let l1_only = MemoryConfigs {
        dram_input: None,
        dram_output: None,
        ..mems
    };
    let p = Pipeline::new(
        &*dev,
        ExecutorKind::Model.config(),
        relu_model as ModelFn,
        l1_only,
    )
    .unwrap();
    assert_eq!(p.executor(), ExecutorKind::Model);
}

#[test]
fn thirty_two_inputs_give_thirty_two_outputs_equal_to_the_host_reference() {
    let mut rng = Rng(1);
    matrix(|dev, kind, shape, mems, model, reference, what| {
        let mut p = Pipeline::new(&**dev, kind.config(), model, mems).unwrap();
        assert_eq!(p.executor(), kind);
        let (inputs, expected): (Vec<_>, Vec<_>) =
            (0..32).map(|_| input(&mut rng, shape, reference)).unzip();
        p.compile(&inputs[0]).unwrap();
        assert_eq!(p.trace_id().is_some(), kind.uses_trace(), "{what}");
        let outputs = p.enqueue(&inputs).unwrap().pop_all().unwrap().to_vec();
        p.cleanup().unwrap();
        assert_outputs(&outputs, &expected, &what);
    });
}

#[test]
fn one_compile_then_three_rounds_of_thirty_two() {
    let mut rng = Rng(2);
    matrix(|dev, kind, shape, mems, model, reference, what| {
        let mut p = Pipeline::new(&**dev, kind.config(), model, mems).unwrap();
        let (sample, _) = input(&mut rng, shape, reference);
        p.compile(&sample).unwrap();
        let (mut outputs, mut expected) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let (inputs, want): (Vec<_>, Vec<_>) =
                (0..32).map(|_| input(&mut rng, shape, reference)).unzip();
            outputs.extend_from_slice(p.enqueue(&inputs).unwrap().pop_all().unwrap());
            expected.extend(want);
        }
        p.cleanup().unwrap();
        assert_outputs(&outputs, &expected, &what);
    });
}

#[test]
fn preallocated_outputs_are_filled_in_place() {
    let mut rng = Rng(3);
    matrix(|dev, kind, shape, mems, model, reference, what| {
        let mut p = Pipeline::new(&**dev, kind.config(), model, mems).unwrap();
        let (sample, _) = input(&mut rng, shape, reference);
        p.compile(&sample).unwrap();
        p.preallocate_output_tensors_on_host(32).unwrap();
        assert_eq!(p.preallocated_output_slots(), Some(32), "{what}");
        for _round in 0..2 {
            let (inputs, expected): (Vec<_>, Vec<_>) =
                (0..32).map(|_| input(&mut rng, shape, reference)).unzip();
            let first = p.enqueue(&inputs).unwrap().pop_all().unwrap();
            assert_outputs(first, &expected, &what);
            let at = first.as_ptr();
            // The same slots (the same buffers) every round.
            let (inputs, expected): (Vec<_>, Vec<_>) =
                (0..32).map(|_| input(&mut rng, shape, reference)).unzip();
            let second = p.enqueue(&inputs).unwrap().pop_all().unwrap();
            assert_eq!(second.as_ptr(), at, "{what}: outputs moved");
            assert_outputs(second, &expected, &what);
        }
        p.cleanup().unwrap();
    });
}

#[test]
fn enqueues_add_up_until_pop_all() {
    let mut rng = Rng(4);
    let dev = open();
    for kind in ExecutorKind::ALL {
        let (shape, d, l) = SHAPES[1];
        let mut p = Pipeline::new(
            &*dev,
            kind.config(),
            relu_model as ModelFn,
            memory_configs(shape, d, l),
        )
        .unwrap();
        let (sample, _) = input(&mut rng, shape, relu_bits);
        p.compile(&sample).unwrap();
        let (a, mut expected): (Vec<_>, Vec<_>) =
            (0..3).map(|_| input(&mut rng, shape, relu_bits)).unzip();
        let (b, more): (Vec<_>, Vec<_>) = (0..5).map(|_| input(&mut rng, shape, relu_bits)).unzip();
        expected.extend(more);
        p.enqueue(&a).unwrap().enqueue(&b).unwrap();
        let outputs = p.pop_all().unwrap().to_vec();
        assert_outputs(&outputs, &expected, kind.name());
        // pop_all again returns the same outputs; the next enqueue starts a new round.
        assert_eq!(p.pop_all().unwrap().len(), 8);
        let (c, expected): (Vec<_>, Vec<_>) =
            (0..2).map(|_| input(&mut rng, shape, relu_bits)).unzip();
        assert_outputs(
            p.enqueue(&c).unwrap().pop_all().unwrap(),
            &expected,
            kind.name(),
        );
        p.cleanup().unwrap();
    }
}

/// Events recorded per input on each CQ, read off the per-CQ event ids: the sequences of
/// notes/metal-dispatch.md record R(0) and R(1) this many times per input.
#[test]
fn each_executor_records_the_events_of_its_sequence() {
    let mut rng = Rng(5);
    let per_input = [
        (ExecutorKind::Model, [0, 0]),
        (ExecutorKind::TracedModel, [0, 0]),
        // op_event on CQ 0, write_event on CQ 1.
        (ExecutorKind::MultiCqModelOverlappedInput, [1, 1]),
        (ExecutorKind::MultiCqTracedModelOverlappedInput, [1, 1]),
        // first_op and last_op on CQ 0, write and read on CQ 1.
        (ExecutorKind::MultiCqTracedModelPipelinedIo, [2, 2]),
    ];
    let (shape, d, l) = SHAPES[0];
    for (kind, [on0, on1]) in per_input {
        let dev = open();
        let mut p = Pipeline::new(
            &*dev,
            kind.config(),
            relu_model as ModelFn,
            memory_configs(shape, d, l),
        )
        .unwrap();
        let (sample, _) = input(&mut rng, shape, relu_bits);
        p.compile(&sample).unwrap();
        let before = [
            dev.record_event(0).unwrap().id,
            dev.record_event(1).unwrap().id,
        ];
        let inputs: Vec<_> = (0..7)
            .map(|_| input(&mut rng, shape, relu_bits).0)
            .collect();
        p.enqueue(&inputs).unwrap();
        let after = [
            dev.record_event(0).unwrap().id,
            dev.record_event(1).unwrap().id,
        ];
        assert_eq!(
            [after[0] - before[0] - 1, after[1] - before[1] - 1],
            [7 * on0, 7 * on1],
            "{}: events recorded on CQ 0 and CQ 1 by 7 inputs",
            kind.name()
        );
        p.pop_all().unwrap();
    }
}

#[test]
fn config_errors_carry_upstreams_texts() {
    let dev = open();
    let mems = memory_configs([1, 1, 32, 32], 1, 1);
    let err = |config: PipelineConfig, mems: MemoryConfigs| match Pipeline::new(
        &*dev,
        config,
        relu_model as ModelFn,
        mems,
    ) {
        Ok(_) => panic!("{config} was accepted"),
        Err(e) => e.to_string(),
    };
    let cfg = |use_trace, num_command_queues, separate| PipelineConfig {
        use_trace,
        num_command_queues,
        all_transfers_on_separate_command_queue: separate,
    };
    let no_dram_input = MemoryConfigs {
        dram_input: None,
        ..mems
    };
    let no_dram_output = MemoryConfigs {
        dram_output: None,
        ..mems
    };
    assert_eq!(
        err(cfg(true, 1, false), no_dram_input),
        "dram_input_memory_config must be provided when using trace (use_trace=True)"
    );
    assert_eq!(
        err(cfg(false, 2, false), no_dram_input),
        "dram_input_memory_config must be provided when using multi-CQ executor"
    );
    assert_eq!(
        err(cfg(true, 2, false), no_dram_input),
        "dram_input_memory_config must be provided when using multi-CQ executor"
    );
    assert_eq!(
        err(cfg(true, 2, true), no_dram_input),
        "dram_input_memory_config must be provided when using multi-CQ executor"
    );
    assert_eq!(
        err(cfg(false, 2, true), mems),
        "Pipelined I/O (all_transfers_on_separate_command_queue) requires tracing"
    );
    assert_eq!(
        err(cfg(true, 2, true), no_dram_output),
        "dram_output_memory_config must be provided when all_transfers_on_separate_command_queue=True."
    );
    for n in [0, 3] {
        assert_eq!(
            err(cfg(true, n, false), mems),
            format!(
                "Unsupported pipeline configuration: PipelineConfig(use_trace: True, \
                 num_command_queues: {n}, all_transfers_on_separate_command_queue: False)"
            )
        );
    }
    for trace in [false, true] {
        assert_eq!(
            err(cfg(trace, 1, true), mems),
            format!(
                "Unsupported pipeline configuration: PipelineConfig(use_trace: {}, \
                 num_command_queues: 1, all_transfers_on_separate_command_queue: True): \
                 all_transfers_on_separate_command_queue=True needs num_command_queues=2",
                if trace { "True" } else { "False" }
            )
        );
    }
    // Memory configs in the wrong memory.
    let dram = mems.dram_input.unwrap();
    assert_eq!(
        err(
            cfg(true, 1, false),
            MemoryConfigs {
                l1_input: dram,
                ..mems
            }
        ),
        "l1_input_memory_config must be in L1 memory, found DRAM"
    );
    assert_eq!(
        err(
            cfg(true, 2, false),
            MemoryConfigs {
                dram_input: Some(mems.l1_input),
                ..mems
            }
        ),
        "dram_input_memory_config must be in DRAM memory, found L1"
    );
    assert_eq!(
        err(
            cfg(true, 2, true),
            MemoryConfigs {
                dram_output: Some(mems.l1_input),
                ..mems
            }
        ),
        "dram_output_memory_config must be in DRAM memory, found L1"
    );
    // A 2-CQ config on a device opened with one CQ.
    let one = open_with(1, 32768);
    let e = Pipeline::new(&*one, cfg(true, 2, false), relu_model as ModelFn, mems)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "the pipeline needs 2 command queues but device 0 was opened with 1 (num_command_queues)"
    );
}

#[test]
fn call_order_and_input_errors() {
    let mut rng = Rng(6);
    let dev = open();
    let (shape, d, l) = SHAPES[0];
    let mems = memory_configs(shape, d, l);
    let new = |kind: ExecutorKind| {
        Pipeline::new(&*dev, kind.config(), relu_model as ModelFn, mems).unwrap()
    };
    let (x, _) = input(&mut rng, shape, relu_bits);

    // Pre-allocation needs the output's shape: compile first (upstream's text).
    let mut p = new(ExecutorKind::TracedModel);
    assert_eq!(
        p.preallocate_output_tensors_on_host(4)
            .err()
            .unwrap()
            .to_string(),
        "Pipeline must be compiled before pre-allocating output tensors."
    );
    assert_eq!(
        p.enqueue(std::slice::from_ref(&x))
            .err()
            .unwrap()
            .to_string(),
        "Pipeline must be compiled before enqueue."
    );
    p.compile(&x).unwrap();
    assert!(matches!(p.compile(&x), Err(PipelineError::AlreadyCompiled)));

    // More inputs than pre-allocated slots (upstream's text), counted since the last pop_all.
    p.preallocate_output_tensors_on_host(4).unwrap();
    let five = vec![x.clone(); 5];
    assert_eq!(
        p.enqueue(&five).err().unwrap().to_string(),
        "Number of inputs (5) exceeds the number of pre-allocated output slots (4)."
    );
    p.enqueue(&five[..3]).unwrap();
    assert_eq!(
        p.enqueue(&five[..2]).err().unwrap().to_string(),
        "Number of inputs (5) exceeds the number of pre-allocated output slots (4)."
    );
    assert_eq!(
        p.preallocate_output_tensors_on_host(8)
            .err()
            .unwrap()
            .to_string(),
        "3 outputs of an earlier enqueue are not popped yet; call pop_all first"
    );
    assert_eq!(p.pop_all().unwrap().len(), 3);
    p.enqueue(&five[..4]).unwrap();
    assert_eq!(p.pop_all().unwrap().len(), 4);

    // Inputs that are not the compiled sample are refused before anything is enqueued.
    let wrong_shape = HostTensor::from_bf16_bits(&[0; 64 * 32], [1, 1, 64, 32]);
    assert_eq!(
        p.enqueue(&[x.clone(), wrong_shape])
            .err()
            .unwrap()
            .to_string(),
        "input 1: shape is [1, 1, 64, 32], but the pipeline was compiled for [1, 1, 32, 32]"
    );
    let wrong_format = HostTensor::from_f32(&[0.0; 32 * 32], shape);
    assert_eq!(
        p.enqueue(&[wrong_format]).err().unwrap().to_string(),
        "input 0: data format is Float32, but the pipeline was compiled for Float16_b"
    );
    let short = HostTensor::new(
        vec![0; 100],
        shape,
        DataFormat::Float16B,
        TensorLayout::RowMajor,
    );
    assert_eq!(
        p.enqueue(&[short]).err().unwrap().to_string(),
        "input 0: size is 100 B, but the pipeline was compiled for 2048 B"
    );
    let tiled = HostTensor::new(
        vec![0; 2048],
        shape,
        DataFormat::Float16B,
        TensorLayout::Tile,
    );
    assert_eq!(
        p.enqueue(&[tiled]).err().unwrap().to_string(),
        "input 0: layout is TILE, but the pipeline was compiled for ROW_MAJOR"
    );
    assert_eq!(p.pop_all().unwrap().len(), 0, "nothing was enqueued");

    // After cleanup the trace is gone and nothing can be enqueued; popping still works.
    let tid = p.trace_id().unwrap();
    p.enqueue(&five[..1]).unwrap();
    p.cleanup().unwrap();
    assert_eq!(p.pop_all().unwrap().len(), 1);
    assert_eq!(
        p.enqueue(&five[..1]).err().unwrap().to_string(),
        "enqueue after cleanup: the pipeline's trace and device tensors are released"
    );
    assert_eq!(
        dev.execute_trace(0, tid, false).err().unwrap().to_string(),
        format!("Trace instance {tid} must exist on device 0")
    );
    p.cleanup().unwrap();

    // Pipelined IO needs two inputs per enqueue (upstream's text).
    let mut p = new(ExecutorKind::MultiCqTracedModelPipelinedIo);
    p.compile(&x).unwrap();
    assert_eq!(
        p.enqueue(&five[..1]).err().unwrap().to_string(),
        "n is 1: the Pipelined I/O executor requires at least 2 inputs for pipelining"
    );
    assert_eq!(p.pop_all().unwrap().len(), 0);
}

#[test]
fn cleanup_releases_the_trace_and_every_device_tensor() {
    let mut rng = Rng(7);
    let (shape, d, l) = SHAPES[1];
    let mems = memory_configs(shape, d, l);
    let spec = TensorSpec {
        shape,
        format: DataFormat::Float16B,
        layout: TensorLayout::Tile,
    };
    for kind in ExecutorKind::ALL {
        let dev = open();
        // Where the first DRAM and L1 buffers go on an empty device.
        let probe = |dev: &Dev| {
            [MemoryConfig::DRAM_INTERLEAVED, MemoryConfig::L1_INTERLEAVED].map(|m| {
                let mut t = dev.allocate_tensor(&spec, &m).unwrap();
                dev.deallocate(&mut t, true).unwrap();
                t.address()
            })
        };
        let empty = probe(&dev);
        {
            let mut p = Pipeline::new(&*dev, kind.config(), relu_model as ModelFn, mems).unwrap();
            let (x, _) = input(&mut rng, shape, relu_bits);
            p.compile(&x).unwrap();
            p.enqueue(&[x.clone(), x.clone()]).unwrap();
            p.pop_all().unwrap();
            if kind != ExecutorKind::Model {
                assert_ne!(
                    probe(&dev)[0],
                    empty[0],
                    "{}: holds a DRAM input",
                    kind.name()
                );
            }
            p.cleanup().unwrap();
            assert_eq!(probe(&dev), empty, "{}: after cleanup", kind.name());
        }
        // Dropping a pipeline without cleanup releases everything too.
        {
            let mut p = Pipeline::new(&*dev, kind.config(), relu_model as ModelFn, mems).unwrap();
            let (x, _) = input(&mut rng, shape, relu_bits);
            p.compile(&x).unwrap();
            p.enqueue(&[x.clone(), x.clone()]).unwrap();
        }
        assert_eq!(probe(&dev), empty, "{}: after drop", kind.name());
    }
}

/// A model that frees its input after the first op and puts its output where the input was:
/// the persistent L1 input cannot land at the captured address, and compile says so in
/// upstream's words.
#[test]
fn l1_input_address_mismatch_is_reported_at_compile() {
    fn model(dev: &Device<AnyChip>, cq: u8, x: &mut Tensor) -> Result<Tensor, RuntimeError> {
        let mem = x.memory_config();
        let mut y = dev.unary(cq, UnaryOp::Relu, x, &mem)?;
        dev.deallocate(x, true)?;
        let z = dev.unary(cq, UnaryOp::Identity, &y, &mem)?;
        dev.deallocate(&mut y, true)?;
        Ok(z)
    }
    let mut rng = Rng(8);
    let (shape, d, l) = SHAPES[0];
    let l1_probe = |dev: &Dev| {
        let spec = TensorSpec {
            shape,
            format: DataFormat::Float16B,
            layout: TensorLayout::Tile,
        };
        let mut t = dev
            .allocate_tensor(&spec, &memory_configs(shape, d, l).l1_input)
            .unwrap();
        dev.deallocate(&mut t, true).unwrap();
        t.address()
    };
    for kind in ExecutorKind::ALL.into_iter().filter(|k| k.uses_trace()) {
        let dev = open();
        let empty = l1_probe(&dev);
        let mut p = Pipeline::new(
            &*dev,
            kind.config(),
            model as ModelFn,
            memory_configs(shape, d, l),
        )
        .unwrap();
        let (x, _) = input(&mut rng, shape, relu_bits);
        let e = p.compile(&x).err().unwrap();
        match &e {
            PipelineError::L1AddressMismatch { expected, got } => {
                assert_ne!(expected, got, "{}", kind.name());
                assert_eq!(
                    e.to_string(),
                    format!("L1 input tensor address mismatch: expected {expected}, got {got}")
                );
            }
            other => panic!("{}: {other}", kind.name()),
        }
        // A failed compile leaves nothing behind: L1 is empty again and the trace released.
        assert!(p.trace_id().is_none());
        assert_eq!(l1_probe(&dev), empty, "{}", kind.name());
        assert_eq!(
            p.enqueue(&[x.clone(), x.clone()])
                .err()
                .unwrap()
                .to_string(),
            "Pipeline must be compiled before enqueue."
        );
    }
}

#[test]
fn model_errors_and_a_returned_input_are_reported() {
    let mut rng = Rng(9);
    let (shape, d, l) = SHAPES[0];
    let (x, _) = input(&mut rng, shape, relu_bits);
    for kind in ExecutorKind::ALL {
        let dev = open();
        let echo = |_: &Device<AnyChip>, _: u8, x: &mut Tensor| Ok(*x);
        let mut p = Pipeline::new(&*dev, kind.config(), echo, memory_configs(shape, d, l)).unwrap();
        assert_eq!(
            p.compile(&x).err().unwrap().to_string(),
            "the model returned its input tensor; it must return a new tensor (an identity \
             model runs an identity op)"
        );
        drop(p);
        // A model that reads (refused during capture) fails the traced compile with the
        // device's text; the non-traced executors never capture.
        let reads = |dev: &Device<AnyChip>, cq: u8, x: &mut Tensor| {
            let mut host = vec![0u8; 32 * 32 * 2];
            let h = ttrt::pipeline::host_buffer(
                host.as_mut_ptr(),
                host.len(),
                [1, 1, 32, 32],
                DataFormat::Float16B,
                TensorLayout::RowMajor,
            );
            // SAFETY: blocking: `host` outlives the read.
            unsafe { dev.read_tensor(cq, x, h, true) }?;
            dev.unary(cq, UnaryOp::Relu, x, &x.memory_config())
        };
        let mut p =
            Pipeline::new(&*dev, kind.config(), reads, memory_configs(shape, d, l)).unwrap();
        let r = p.compile(&x);
        if kind.uses_trace() {
            assert_eq!(
                r.err().unwrap().to_string(),
                "the model failed: Reads are not supported during trace capture."
            );
        } else {
            r.unwrap();
        }
    }
}

#[test]
fn trace_region_too_small_fails_compile_with_the_size_to_set() {
    let mut rng = Rng(10);
    let (shape, d, l) = SHAPES[0];
    let dev = open_with(2, 0);
    let mut p = Pipeline::new(
        &*dev,
        ExecutorKind::MultiCqTracedModelOverlappedInput.config(),
        relu_model as ModelFn,
        memory_configs(shape, d, l),
    )
    .unwrap();
    let (x, _) = input(&mut rng, shape, relu_bits);
    let e = p.compile(&x).err().unwrap().to_string();
    let size = ttrt::runtime::trace_size(1);
    assert_eq!(
        e,
        format!(
            "Creating trace buffers of size {size}B on device 0, but only 0B is allocated for \
             trace region."
        )
    );
}

#[test]
fn memory_config_utility_matches_upstreams_cases() {
    // DRAM grid (2, 1), a 64x64 tensor.
    let width = memory_config_for_persistent_dram_tensor(
        [1, 1, 64, 64],
        MemoryLayout::WidthSharded,
        (2, 1),
    )
    .unwrap();
    assert_eq!(width.buffer_type, BufferType::Dram);
    assert_eq!(width.memory_layout, MemoryLayout::WidthSharded);
    assert_eq!(width.shard.unwrap().shape, [64, 32]);
    let height = memory_config_for_persistent_dram_tensor(
        [1, 1, 64, 64],
        MemoryLayout::HeightSharded,
        (2, 1),
    )
    .unwrap();
    assert_eq!(height.buffer_type, BufferType::Dram);
    assert_eq!(height.memory_layout, MemoryLayout::HeightSharded);
    assert_eq!(height.shard.unwrap().shape, [32, 64]);
    // A (2, 2) grid is an error.
    assert_eq!(
        memory_config_for_persistent_dram_tensor(
            [1, 1, 64, 64],
            MemoryLayout::WidthSharded,
            (2, 2)
        )
        .unwrap_err()
        .to_string(),
        "only a 1D DRAM grid is supported (dram_grid_y must be 1): expected 2 x 1, found 2 x 2"
    );
    // The utility's config serves a pipeline: 512 x 64 over the chip's 6 DRAM banks (4 divide
    // 512 rows evenly... and 64 columns: 4 banks of 16).
    let dev = open();
    let mut rng = Rng(11);
    let shape = [1, 1, 512, 64];
    let dram = memory_config_for_persistent_dram_tensor(shape, MemoryLayout::HeightSharded, (6, 1))
        .unwrap();
    assert_eq!(dram.shard.unwrap().shape, [128, 64]);
    let mems = MemoryConfigs {
        l1_input: height_sharded(BufferType::L1, shape, 8),
        dram_input: Some(dram),
        dram_output: Some(dram),
    };
    for kind in ExecutorKind::ALL {
        let mut p = Pipeline::new(&*dev, kind.config(), relu_model as ModelFn, mems).unwrap();
        let (inputs, expected): (Vec<_>, Vec<_>) =
            (0..4).map(|_| input(&mut rng, shape, relu_bits)).unzip();
        p.compile(&inputs[0]).unwrap();
        assert_outputs(
            p.enqueue(&inputs).unwrap().pop_all().unwrap(),
            &expected,
            kind.name(),
        );
    }
}

/// Float32 host inputs, a model of several ops with a weight and a bias on the device, TILE
/// host tensors: not only the upstream models.
#[test]
fn a_matmul_model_with_float32_and_tile_inputs() {
    use ttrt::compute::BinaryOp;
    let dev = open();
    let shape = [1, 1, 64, 64];
    let dram = memory_config_for_persistent_dram_tensor(shape, MemoryLayout::HeightSharded, (2, 1))
        .unwrap();
    let mems = MemoryConfigs {
        l1_input: height_sharded(BufferType::L1, shape, 2),
        dram_input: Some(dram),
        dram_output: Some(dram),
    };
    // Small integers: every product and sum is exact in float32, whatever the order.
    let w: Vec<f32> = (0..64 * 64).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
    let bias: Vec<f32> = (0..64 * 64).map(|i| (i % 3) as f32).collect();
    let spec = TensorSpec {
        shape,
        format: DataFormat::Float32,
        layout: TensorLayout::Tile,
    };
    let put = |values: &[f32]| {
        let t = dev
            .allocate_tensor(&spec, &MemoryConfig::DRAM_INTERLEAVED)
            .unwrap();
        let h = HostTensor::from_f32(values, shape);
        let buf = ttrt::pipeline::host_buffer(
            h.as_bytes().as_ptr().cast_mut(),
            h.as_bytes().len(),
            shape,
            DataFormat::Float32,
            TensorLayout::RowMajor,
        );
        dev.write_tensor(0, &buf, &t, true).unwrap();
        t
    };
    let (wt, bt) = (put(&w), put(&bias));
    let model = move |dev: &Device<AnyChip>, cq: u8, x: &mut Tensor| {
        let l1 = MemoryConfig::L1_INTERLEAVED;
        // The input stays allocated: an L1 buffer allocated after freeing it would take its
        // place, and the traced executors' persistent input could not land there.
        let mut r = dev.unary(cq, UnaryOp::Relu, x, &l1)?;
        let mut m = dev.matmul(cq, &r, &wt, &l1)?;
        dev.deallocate(&mut r, true)?;
        let y = dev.binary(cq, BinaryOp::Add, &m, &bt, &x.memory_config())?;
        dev.deallocate(&mut m, true)?;
        Ok(y)
    };
    let reference = |x: &[f32]| -> Vec<f32> {
        let mut y = vec![0f32; 64 * 64];
        for i in 0..64 {
            for j in 0..64 {
                let s: f32 = (0..64)
                    .map(|k| x[i * 64 + k].max(0.0) * w[k * 64 + j])
                    .sum();
                y[i * 64 + j] = s + bias[i * 64 + j];
            }
        }
        y
    };
    let mut rng = Rng(12);
    let xs: Vec<Vec<f32>> = (0..6)
        .map(|_| {
            (0..64 * 64)
                .map(|_| (rng.next() % 9) as f32 - 4.0)
                .collect()
        })
        .collect();
    // TILE host tensors: the device's Float32 pages, tiles in row-major order.
    let tiles_of = |x: &[f32]| -> HostTensor {
        let mut bytes = vec![0u8; 64 * 64 * 4];
        for (t, page) in bytes.chunks_exact_mut(4096).enumerate() {
            let (tr, tc) = (t / 2, t % 2);
            let vals: [f32; 1024] =
                std::array::from_fn(|k| x[(tr * 32 + k / 32) * 64 + tc * 32 + k % 32]);
            encode_tile_page(&vals, DataFormat::Float32, Rounding::default(), page).unwrap();
        }
        HostTensor::new(bytes, shape, DataFormat::Float32, TensorLayout::Tile)
    };
    let values_of = |h: &HostTensor| -> Vec<f32> {
        if h.layout() == TensorLayout::RowMajor {
            return h.to_f32().unwrap();
        }
        let mut y = vec![0f32; 64 * 64];
        for (t, page) in h.as_bytes().chunks_exact(4096).enumerate() {
            let (tr, tc) = (t / 2, t % 2);
            let mut vals = [0f32; 1024];
            decode_tile_page(page, DataFormat::Float32, BfpDecoding::Buda, &mut vals).unwrap();
            for (k, v) in vals.iter().enumerate() {
                y[(tr * 32 + k / 32) * 64 + tc * 32 + k % 32] = *v;
            }
        }
        y
    };
    for layout in [TensorLayout::RowMajor, TensorLayout::Tile] {
        for kind in ExecutorKind::ALL {
            let mut p = Pipeline::new(&*dev, kind.config(), model, mems).unwrap();
            let inputs: Vec<HostTensor> = xs
                .iter()
                .map(|x| match layout {
                    TensorLayout::RowMajor => HostTensor::from_f32(x, shape),
                    TensorLayout::Tile => tiles_of(x),
                })
                .collect();
            p.compile(&inputs[0]).unwrap();
            let outputs = p.enqueue(&inputs).unwrap().pop_all().unwrap();
            for (x, out) in xs.iter().zip(outputs) {
                assert_eq!((out.format(), out.layout()), (DataFormat::Float32, layout));
                let (got, want) = (values_of(out), reference(x));
                if let Some(k) = (0..want.len()).find(|&k| got[k] != want[k]) {
                    panic!(
                        "{} {layout}: element {k} is {}, expected {}",
                        kind.name(),
                        got[k],
                        want[k]
                    );
                }
            }
            p.cleanup().unwrap();
        }
    }
}
