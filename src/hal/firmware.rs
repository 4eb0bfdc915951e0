//! The graph firmware of a simulated chip: what runs a Buda graph on the device side.
//!
//! A host loads a model's graphs by writing a descriptor into device memory and sending
//! `CMD_LOAD_GRAPHS` naming it (as Buda loads a model's binaries at initialize); each execute
//! of a program is a `CMD_RUN_GRAPH` naming the loaded graphs, the graph and the execute's
//! settings in device memory. Nothing host-side crosses: the firmware reaches the model's
//! queues, their pointers and their data through the chip's memory.
//!
//! What a descriptor holds is the firmware's business: the HAL only carries the bytes. The
//! firmware is installed once per process by the code that knows how to run graphs (the
//! backend, or the `ttrt sim-device` program), so the chip does not name anything above it.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::wire::DeviceText;
use super::Chip;

/// Loads graph descriptors.
pub trait GraphFirmware: Sync {
    /// The graphs `desc` describes, ready to run on `chip` (whose memory holds their queues).
    fn load(&self, chip: &dyn Chip, desc: &[u8]) -> Result<Box<dyn LoadedGraphs>, DeviceText>;
}

/// Graphs a firmware loaded.
pub trait LoadedGraphs: Send + Sync {
    /// Runs graph `graph` with the execute's `settings` (bytes the host wrote to device
    /// memory). The host runs one graph of a load at a time.
    fn run(&self, chip: &dyn Chip, graph: u32, settings: &[u8]) -> Result<(), DeviceText>;
}

static FIRMWARE: AtomicPtr<&'static dyn GraphFirmware> = AtomicPtr::new(core::ptr::null_mut());

/// Installs the graph firmware of every simulated chip of this process (the last one wins;
/// installing the same one again changes nothing).
pub fn install(firmware: &'static &'static dyn GraphFirmware) {
    let p = firmware as *const &'static dyn GraphFirmware as *mut &'static dyn GraphFirmware;
    FIRMWARE.store(p, Ordering::Release);
}

/// The installed firmware, if any.
pub fn installed() -> Option<&'static dyn GraphFirmware> {
    let p = FIRMWARE.load(Ordering::Acquire);
    // SAFETY: only `install` stores, and it stores a `'static` reference.
    unsafe { p.as_ref() }.copied()
}

/// Loaded graphs of one chip: a fixed table of slots, so a run finds its graphs with one
/// atomic load (no lock, no allocation).
pub struct GraphSlots {
    slots: [AtomicPtr<Box<dyn LoadedGraphs>>; SLOTS],
}

/// Loads one chip holds at once.
pub const SLOTS: usize = 16;

impl GraphSlots {
    pub const fn new() -> GraphSlots {
        GraphSlots {
            slots: [const { AtomicPtr::new(core::ptr::null_mut()) }; SLOTS],
        }
    }

    /// Keeps `loaded`; its handle (1-based), or `None` when every slot is taken.
    pub fn insert(&self, loaded: Box<dyn LoadedGraphs>) -> Option<u32> {
        let p = Box::into_raw(Box::new(loaded));
        for (i, slot) in self.slots.iter().enumerate() {
            if slot
                .compare_exchange(
                    core::ptr::null_mut(),
                    p,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                return Some(i as u32 + 1);
            }
        }
        // SAFETY: `p` came from Box::into_raw above and was stored nowhere.
        drop(unsafe { Box::from_raw(p) });
        None
    }

    /// The graphs of `handle`. The caller does not remove them while it uses them (the host
    /// unloads only after its last run).
    pub fn get(&self, handle: u32) -> Option<&dyn LoadedGraphs> {
        let i = (handle as usize).checked_sub(1)?;
        let p = self.slots.get(i)?.load(Ordering::Acquire);
        // SAFETY: a non-null slot holds a live box until `remove` takes it.
        unsafe { p.as_ref() }.map(|b| &**b)
    }

    /// Forgets the graphs of `handle`; false if there were none.
    pub fn remove(&self, handle: u32) -> bool {
        let Some(slot) = (handle as usize)
            .checked_sub(1)
            .and_then(|i| self.slots.get(i))
        else {
            return false;
        };
        let p = slot.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return false;
        }
        // SAFETY: the slot held a box from `insert`, now taken out of the table.
        drop(unsafe { Box::from_raw(p) });
        true
    }
}

impl Default for GraphSlots {
    fn default() -> Self {
        GraphSlots::new()
    }
}

impl Drop for GraphSlots {
    fn drop(&mut self) {
        for i in 0..SLOTS {
            self.remove(i as u32 + 1);
        }
    }
}
