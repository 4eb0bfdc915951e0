//! A device driven as `ttrt_device_open` drives one: a worker thread per CQ. Dropping it
//! synchronizes, stops and joins the workers.

use std::sync::Arc;
use std::thread::JoinHandle;

use ttrt::format::Arch;
use ttrt::hal::select::{device_from_env, AnyChip};
use ttrt::runtime::{Device, DeviceConfig};

pub struct Dev {
    pub dev: Arc<Device<AnyChip>>,
    workers: Vec<JoinHandle<()>>,
}

impl Dev {
    /// A Wormhole B0 simulated chip with `config`, served by its workers.
    pub fn serve(config: DeviceConfig) -> Dev {
        let dev = Arc::new(
            Device::new(
                config,
                AnyChip::open(&device_from_env(), Arch::WormholeB0).unwrap(),
            )
            .unwrap(),
        );
        dev.set_threaded(true);
        let workers = (0..config.num_command_queues)
            .map(|cq| {
                let d = Arc::clone(&dev);
                std::thread::spawn(move || d.serve(cq))
            })
            .collect();
        Dev { dev, workers }
    }
}

impl std::ops::Deref for Dev {
    type Target = Device<AnyChip>;
    fn deref(&self) -> &Device<AnyChip> {
        &self.dev
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.dev.synchronize();
        self.dev.stop();
        for w in self.workers.drain(..) {
            w.join().unwrap();
        }
    }
}
