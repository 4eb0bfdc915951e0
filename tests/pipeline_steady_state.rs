//! A pipeline's steady state allocates nothing on the heap: with pre-allocated outputs,
//! enqueue + pop_all of every executor (the model's device ops included for the executors that
//! run it per input) makes no heap allocation on any thread, host or device workers, through
//! the Rust API and through the C API with a C model callback. A counting global allocator
//! proves it.

#![allow(clippy::result_large_err)] // the runtime's errors carry their text inline

mod support;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::compute::UnaryOp;
use ttrt::ffi::device::*;
use ttrt::ffi::pipeline::*;
use ttrt::ffi::status::ttrt_status;
use ttrt::ffi::tensor::*;
use ttrt::format::Arch;
use ttrt::hal::layout::{CoreRange, MemoryLayout, ShardOrientation, ShardSpec};
use ttrt::hal::select::{device_from_env, AnyChip};
use ttrt::pipeline::{
    memory_config_for_persistent_dram_tensor, ExecutorKind, HostTensor, MemoryConfigs, Pipeline,
};
use ttrt::runtime::allocator::BufferType;
use ttrt::runtime::{Device, DeviceConfig, MemoryConfig, RuntimeError, Tensor};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn model(dev: &Device<AnyChip>, cq: u8, x: &mut Tensor) -> Result<Tensor, RuntimeError> {
    let mem = x.memory_config();
    let mut y = dev.unary(cq, UnaryOp::Relu, x, &mem)?;
    let z = dev.unary(cq, UnaryOp::Neg, &y, &mem)?;
    dev.deallocate(&mut y, true)?;
    Ok(z)
}

/// The C model: relu then neg through the C API, the intermediate freed.
unsafe extern "C" fn c_model(
    _user: *mut c_void,
    dev: *mut ttrt_device,
    cq: u8,
    input: *mut ttrt_tensor,
    output: *mut *mut ttrt_tensor,
) -> u32 {
    let l1 = ttrt_memory_config {
        buffer_type: ttrt_buffer_type::L1 as u32,
        ..Default::default()
    };
    let mut y = ptr::null_mut();
    let st = ttrt_op_unary(dev, cq, ttrt_unary_op::Relu as u32, input, &l1, &mut y);
    if st != ttrt_status::Success {
        return st as u32;
    }
    let st = ttrt_op_unary(dev, cq, ttrt_unary_op::Neg as u32, y, &l1, output);
    ttrt_tensor_free(y);
    st as u32
}

#[track_caller]
fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{:?}", unsafe {
        std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message())
    });
}

/// Counts heap allocations while `f` runs.
fn allocations_in(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// One test, so that nothing else allocates while it counts.
#[test]
fn enqueue_and_pop_all_allocate_nothing_once_outputs_are_preallocated() {
    rust_api();
    c_api();
}

fn c_api() {
    let shape = [1u32, 1, 128, 64];
    let mut data: Vec<Vec<f32>> = (0..8)
        .map(|k| (0..128 * 64).map(|i| ((i + k) % 13) as f32 - 6.0).collect())
        .collect();
    let inputs: Vec<ttrt_host_tensor> = data
        .iter_mut()
        .map(|d| ttrt_host_tensor {
            data: d.as_mut_ptr().cast(),
            size: d.len() * 4,
            shape,
            format: 0, // Float32
            layout: ttrt_tensor_layout::RowMajor as u32,
        })
        .collect();
    let configs = [
        (false, 1, false),
        (true, 1, false),
        (false, 2, false),
        (true, 2, false),
        (true, 2, true),
    ];
    for (use_trace, cqs, separate) in configs {
        unsafe {
            let mut cfg = std::mem::zeroed::<ttrt_device_config>();
            ttrt_device_config_default(&mut cfg);
            cfg.num_command_queues = 2;
            cfg.trace_region_size = 64 << 10;
            let mut dev = ptr::null_mut();
            ok(ttrt_device_open(&cfg, &mut dev));
            let mut dram = ttrt_memory_config::default();
            ok(ttrt_memory_config_for_persistent_dram_tensor(
                shape.as_ptr(),
                ttrt_memory_layout::HeightSharded as u32,
                4,
                1,
                &mut dram,
            ));
            let mut l1 = dram;
            l1.buffer_type = ttrt_buffer_type::L1 as u32;
            l1.shard.shape = [32, 64];
            let mut pc = std::mem::zeroed::<ttrt_pipeline_config>();
            ttrt_pipeline_config_default(&mut pc);
            pc.use_trace = use_trace;
            pc.num_command_queues = cqs;
            pc.all_transfers_on_separate_command_queue = separate;
            let mut p = ptr::null_mut();
            ok(ttrt_pipeline_create(
                dev,
                &pc,
                Some(c_model),
                ptr::null_mut(),
                &l1,
                &dram,
                &dram,
                &mut p,
            ));
            ok(ttrt_pipeline_compile(p, &inputs[0]));
            ok(ttrt_pipeline_preallocate_output_tensors_on_host(
                p,
                inputs.len(),
            ));
            let (mut outs, mut n) = (ptr::null(), 0usize);
            let mut round = || {
                ok(ttrt_pipeline_enqueue(p, inputs.as_ptr(), inputs.len()));
                ok(ttrt_pipeline_pop_all(p, &mut outs, &mut n));
            };
            for _ in 0..2 {
                round();
            }
            let count = allocations_in(|| {
                for _ in 0..10 {
                    round();
                }
            });
            assert_eq!(
                count,
                0,
                "C API, config {:?}: heap allocations in 10 rounds",
                (use_trace, cqs, separate)
            );
            assert_eq!(n, inputs.len());
            let out = std::slice::from_raw_parts((*outs.add(5)).data as *const f32, 128 * 64);
            assert!(out.iter().zip(&data[5]).all(|(y, x)| *y == -x.max(0.0)));
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));
        }
    }
}

fn rust_api() {
    let shape = [1, 1, 128, 64];
    let dram = memory_config_for_persistent_dram_tensor(shape, MemoryLayout::HeightSharded, (4, 1))
        .unwrap();
    let mems = MemoryConfigs {
        l1_input: MemoryConfig {
            buffer_type: BufferType::L1,
            memory_layout: MemoryLayout::HeightSharded,
            shard: Some(ShardSpec {
                grid: CoreRange {
                    start: (0, 0),
                    end: (3, 0),
                },
                shape: [32, 64],
                orientation: ShardOrientation::RowMajor,
            }),
        },
        dram_input: Some(dram),
        dram_output: Some(dram),
    };
    let inputs: Vec<HostTensor> = (0..8)
        .map(|k| {
            let v: Vec<f32> = (0..128 * 64).map(|i| ((i + k) % 17) as f32 - 8.0).collect();
            HostTensor::from_f32(&v, shape)
        })
        .collect();
    for kind in ExecutorKind::ALL {
        let config = DeviceConfig {
            num_command_queues: 2,
            trace_region_size: 64 << 10,
            ..DeviceConfig::default()
        };
        let dev = Arc::new(
            Device::new(
                config,
                AnyChip::open(&device_from_env(), Arch::WormholeB0).unwrap(),
            )
            .unwrap(),
        );
        dev.set_threaded(true);
        let workers: Vec<_> = (0..2)
            .map(|cq| {
                let d = Arc::clone(&dev);
                std::thread::spawn(move || d.serve(cq))
            })
            .collect();
        {
            let mut p = Pipeline::new(
                Arc::clone(&dev),
                kind.config(),
                model as fn(&Device<AnyChip>, u8, &mut Tensor) -> _,
                mems,
            )
            .unwrap();
            p.compile(&inputs[0]).unwrap();
            p.preallocate_output_tensors_on_host(inputs.len()).unwrap();
            // Warm-up: handle slots, the allocator's free lists, thread-locals.
            for _ in 0..2 {
                p.enqueue(&inputs).unwrap().pop_all().unwrap();
            }
            let count = allocations_in(|| {
                for _ in 0..10 {
                    p.enqueue(&inputs).unwrap();
                    p.pop_all().unwrap();
                }
            });
            assert_eq!(
                count,
                0,
                "{}: heap allocations in 10 rounds of {} inputs",
                kind.name(),
                inputs.len()
            );
            // The rounds computed the model: -relu(x).
            let out = p.pop_all().unwrap()[3].to_f32().unwrap();
            let x = inputs[3].to_f32().unwrap();
            assert!(
                out.iter().zip(&x).all(|(y, x)| *y == -x.max(0.0)),
                "{}",
                kind.name()
            );
            p.cleanup().unwrap();
        }
        dev.synchronize().unwrap();
        dev.stop();
        for w in workers {
            w.join().unwrap();
        }
    }
}
