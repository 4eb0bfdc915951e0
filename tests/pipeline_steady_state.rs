//! A pipeline's steady state allocates nothing on the heap: with pre-allocated outputs,
//! enqueue + pop_all of every executor (the model's device ops included for the executors that
//! run it per input) makes no heap allocation on any thread, host or device workers. A counting
//! global allocator proves it.

#![allow(clippy::result_large_err)] // the runtime's errors carry their text inline

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::format::Arch;
use ttrt::hal::sim::compute::UnaryOp;
use ttrt::hal::sim::SimChip;
use ttrt::pipeline::{
    memory_config_for_persistent_dram_tensor, ExecutorKind, HostTensor, MemoryConfigs, Pipeline,
};
use ttrt::runtime::allocator::BufferType;
use ttrt::runtime::buffer::{CoreRange, MemoryLayout, ShardOrientation, ShardSpec};
use ttrt::runtime::{Device, DeviceConfig, MemoryConfig, RuntimeError, Tensor};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn model(dev: &Device<SimChip>, cq: u8, x: &mut Tensor) -> Result<Tensor, RuntimeError> {
    let mem = x.memory_config();
    let mut y = dev.unary(cq, UnaryOp::Relu, x, &mem)?;
    let z = dev.unary(cq, UnaryOp::Neg, &y, &mem)?;
    dev.deallocate(&mut y, true)?;
    Ok(z)
}

#[test]
fn enqueue_and_pop_all_allocate_nothing_once_outputs_are_preallocated() {
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
        let dev = Arc::new(Device::new(config, SimChip::new(Arch::WormholeB0).unwrap()).unwrap());
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
                model as fn(&Device<SimChip>, u8, &mut Tensor) -> _,
                mems,
            )
            .unwrap();
            p.compile(&inputs[0]).unwrap();
            p.preallocate_output_tensors_on_host(inputs.len()).unwrap();
            // Warm-up: handle slots, the allocator's free lists, thread-locals.
            for _ in 0..2 {
                p.enqueue(&inputs).unwrap().pop_all().unwrap();
            }
            ALLOCATIONS.store(0, Ordering::SeqCst);
            COUNTING.store(true, Ordering::SeqCst);
            for _ in 0..10 {
                p.enqueue(&inputs).unwrap();
                p.pop_all().unwrap();
            }
            COUNTING.store(false, Ordering::SeqCst);
            assert_eq!(
                ALLOCATIONS.load(Ordering::SeqCst),
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
