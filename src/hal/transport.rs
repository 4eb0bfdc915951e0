//! The byte-level access a host has to a device, and the chip built on it.
//!
//! A [`Transport`] is what a PCIe driver, a SoC's bus or another process offers: reads and
//! writes at (memory kind, bank, address), a command ring the host fills with records and
//! rings a doorbell for, and completion records the device writes back. [`RemoteChip`] is the
//! [`Chip`] over any transport: memory accesses go straight through, and each program becomes a
//! command record ([`super::wire`]) that the device runs. The shared-memory transport to a
//! simulated chip in another process ([`super::shm`]) is one; a kernel-driver transport (BAR
//! windows, NoC reads and writes at core coordinates) or a NoC-level simulator is another,
//! and nothing above the HAL changes.

use core::ptr::NonNull;

use super::wire::{self, Completion, Record, COMPLETION_SIZE, RECORD_SIZE};
use super::{Chip, ChipGeometry, DeviceRange, HalError, MemKind, Program};

/// Names one submitted command until its completion is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(pub u32);

/// A host's byte-level access to one device.
///
/// Memory accesses follow the rules of [`Chip`]. `submit` and `complete` may be called from
/// several threads at once (one per command queue); each caller completes its own tickets.
pub trait Transport: Send + Sync {
    /// The device's memory geometry, as the device reported it when the host attached.
    fn geometry(&self) -> &ChipGeometry;

    /// Reads `dst.len()` bytes at `addr` of `bank`.
    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError>;

    /// Writes `src` at `addr` of `bank`.
    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError>;

    /// The device memory as host memory, when the transport maps it (a BAR window, a shared
    /// mapping); see [`Chip::map`]. The default is `None`.
    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        let _ = (kind, bank, addr, len);
        None
    }

    /// Whether the device is still there (see [`Chip::check`]). The default: always.
    fn check(&self) -> Result<(), HalError> {
        Ok(())
    }

    /// Places `record` in the device's command ring and rings its doorbell. Waits while the
    /// ring is full; fails with [`HalError::Lost`] when the device is gone.
    fn submit(&self, record: &Record) -> Result<Ticket, HalError>;

    /// Waits for the completion of `ticket` and copies it into `out`. Never waits on a device
    /// that is gone: that is [`HalError::Lost`].
    fn complete(&self, ticket: Ticket, out: &mut Completion) -> Result<(), HalError>;
}

/// A chip reached through a transport.
pub struct RemoteChip<T: Transport> {
    transport: T,
}

impl<T: Transport> RemoteChip<T> {
    pub fn new(transport: T) -> RemoteChip<T> {
        RemoteChip { transport }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn command(&self, record: &Record) -> Result<u32, HalError> {
        let ticket = self.transport.submit(record)?;
        let mut completion = [0; COMPLETION_SIZE];
        self.transport.complete(ticket, &mut completion)?;
        wire::decode_completion(&completion)
    }

    /// Returns the device to its power-on state: every byte of its memory reads as 0.
    pub fn reset(&self) -> Result<(), HalError> {
        let mut record = [0; RECORD_SIZE];
        wire::encode_reset(&mut record);
        self.command(&record).map(drop)
    }
}

impl<T: Transport> Chip for RemoteChip<T> {
    fn geometry(&self) -> &ChipGeometry {
        self.transport.geometry()
    }

    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError> {
        self.transport.read(kind, bank, addr, dst)
    }

    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError> {
        self.transport.write(kind, bank, addr, src)
    }

    fn run(&self, program: &Program) -> Result<(), HalError> {
        let mut record = [0; RECORD_SIZE];
        wire::encode_program(program, &mut record);
        self.command(&record).map(drop)
    }

    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        self.transport.map(kind, bank, addr, len)
    }

    fn check(&self) -> Result<(), HalError> {
        self.transport.check()
    }

    fn load_graphs(&self, desc: &DeviceRange) -> Result<u32, HalError> {
        let mut record = [0; RECORD_SIZE];
        wire::encode_load_graphs(desc, &mut record);
        self.command(&record)
    }

    fn run_graph(&self, handle: u32, graph: u32, settings: &DeviceRange) -> Result<(), HalError> {
        let mut record = [0; RECORD_SIZE];
        wire::encode_run_graph(handle, graph, settings, &mut record);
        self.command(&record).map(drop)
    }

    fn unload_graphs(&self, handle: u32) -> Result<(), HalError> {
        let mut record = [0; RECORD_SIZE];
        wire::encode_unload_graphs(handle, &mut record);
        self.command(&record).map(drop)
    }
}
