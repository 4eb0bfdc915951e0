//! A device in another process, reached over shared memory: the transport to `ttrt
//! sim-device` (or any process that serves the same layout).
//!
//! The device process owns one shared memory object (a memfd) per chip: a control page, the
//! command and completion slots of each attached client, then the chip's memory in the layout
//! of [`FlatMemory`]. A client attaches by connecting to the device's Unix socket (abstract
//! name `ttrt-sim/<name>`); the device answers with its verdict and, when it accepts, the
//! object's file descriptor and the client's index. The connection then stays open and carries
//! nothing: it is how each side learns that the other has gone (its end hangs up), so a client
//! whose device process died gets [`HalError::Lost`] instead of waiting, and a device process
//! frees the state of a client that died. Nothing is ever named in `/dev/shm`, so a crash on
//! either side leaves nothing behind.
//!
//! Control page (little-endian):
//!
//! | Offset | Field |
//! |---|---|
//! | 0 | magic `TTRTSIM1` |
//! | 8 | `u32` layout version ([`VERSION`]) |
//! | 12 | `u32` arch: 0 Grayskull, 1 Wormhole B0, 2 Blackhole |
//! | 16 | `u32` DRAM channels, grid x, grid y, client slots |
//! | 32 | `u64` DRAM channel size, L1 size, DRAM alignment, L1 alignment |
//! | 64 | `u64` first unreserved DRAM address, first unreserved L1 address |
//! | 80 | `u64` offset of the chip's memory in the object |
//! | 88 | `u32` host memory channels, `u32` reserved |
//! | 96 | `u64` host memory channel size |
//! | 104 | `u64` harvested rows mask (bit `i`: NOC row `i`) |
//! | 112 | `u32` worker grid columns, `u32` worker grid rows (Buda's, after harvesting) |
//!
//! Client `i`'s area starts at `CLIENTS_OFFSET + i * CLIENT_AREA`: a `u32` doorbell (the host
//! adds 1 after each command and wakes the device), then [`SLOTS`] slots of [`SLOT_SIZE`]
//! bytes: a `u32` state (0 free, 1 being written, 2 submitted, 3 done), the command record at
//! 64 and the completion record at 576 ([`super::wire`]). Waits are futexes on these words
//! (shared, not private), bounded so each side looks at the connection between waits.

pub(crate) mod os;

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use super::memory::FlatMemory;
use super::transport::{Ticket, Transport};
use super::wire::{Completion, DeviceText, Record, COMPLETION_SIZE, RECORD_SIZE};
use super::{ChipGeometry, HalError, MemKind};
use crate::format::Arch;

pub const MAGIC: [u8; 8] = *b"TTRTSIM1";
pub const VERSION: u32 = 3;
/// Clients one device serves at once.
pub const MAX_CLIENTS: u32 = 8;
/// Commands one client may have in flight (one per command queue, and room to spare).
pub const SLOTS: usize = 4;
pub const SLOT_SIZE: usize = 1024;
pub const CLIENTS_OFFSET: usize = 4096;
pub const CLIENT_AREA: usize = 8192;
/// Where the chip's memory starts in the object (a huge-page boundary).
pub const MEMORY_OFFSET: usize = 2 << 20;

/// How long `complete` watches a slot before it sleeps on it.
const COMPLETION_WATCH: std::time::Duration = std::time::Duration::from_millis(1);

pub const SLOT_FREE: u32 = 0;
pub const SLOT_WRITING: u32 = 1;
pub const SLOT_SUBMITTED: u32 = 2;
pub const SLOT_DONE: u32 = 3;

const RECORD_AT: usize = 64;
const COMPLETION_AT: usize = RECORD_AT + RECORD_SIZE;

/// How long one futex wait lasts before the waiter looks at the connection (milliseconds).
pub const WAIT_SLICE_MS: u32 = 20;

/// The hello a client sends: magic, layout version, the arch it wants.
pub const HELLO_MAGIC: [u8; 8] = *b"TTRTHELO";
/// The hello that asks the device process to stop serving (`ttrt sim-device NAME --stop`).
pub const STOP_MAGIC: [u8; 8] = *b"TTRTSTOP";
pub const HELLO_SIZE: usize = 16;
/// The device's answer: `u32` status (0 accepted), `u32` client index, `u32` text length, text.
pub const REPLY_SIZE: usize = 256;

const _: () = assert!(COMPLETION_AT + COMPLETION_SIZE <= SLOT_SIZE);
const _: () = assert!(64 + SLOTS * SLOT_SIZE <= CLIENT_AREA);
const _: () = assert!(CLIENTS_OFFSET + MAX_CLIENTS as usize * CLIENT_AREA <= MEMORY_OFFSET);

pub fn arch_code(arch: Arch) -> u32 {
    match arch {
        Arch::Grayskull => 0,
        Arch::WormholeB0 => 1,
        Arch::Blackhole => 2,
    }
}

pub fn arch_of(code: u32) -> Option<Arch> {
    [Arch::Grayskull, Arch::WormholeB0, Arch::Blackhole]
        .into_iter()
        .find(|a| arch_code(*a) == code)
}

/// The control part of a device's object (everything before its memory), mapped.
pub struct Control {
    map: memmap2::MmapMut,
}

impl Control {
    /// Maps the control part of `fd`.
    pub fn map(fd: &OwnedFd) -> std::io::Result<Control> {
        // SAFETY: the object is shared memory both sides access only through atomics and
        // through slots whose ownership the slot state hands over.
        let map = unsafe { memmap2::MmapOptions::new().len(MEMORY_OFFSET).map_mut(fd)? };
        Ok(Control { map })
    }

    fn base(&self) -> *mut u8 {
        self.map.as_ptr().cast_mut()
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map[..CLIENTS_OFFSET]
    }

    pub fn header(&self) -> &[u8] {
        &self.map[..CLIENTS_OFFSET]
    }

    fn word(&self, at: usize) -> &AtomicU32 {
        debug_assert!(at % 4 == 0 && at + 4 <= MEMORY_OFFSET);
        // SAFETY: in the mapping, aligned; the word is only ever accessed atomically.
        unsafe { &*self.base().add(at).cast::<AtomicU32>() }
    }

    fn area(client: u32) -> usize {
        CLIENTS_OFFSET + client as usize * CLIENT_AREA
    }

    pub fn doorbell(&self, client: u32) -> &AtomicU32 {
        self.word(Self::area(client))
    }

    fn slot_at(client: u32, slot: usize) -> usize {
        Self::area(client) + 64 + slot * SLOT_SIZE
    }

    pub fn slot_state(&self, client: u32, slot: usize) -> &AtomicU32 {
        self.word(Self::slot_at(client, slot))
    }

    /// The record of a slot the caller owns (by its state).
    pub fn record(&self, client: u32, slot: usize) -> *mut Record {
        // SAFETY: inside the mapping (see the layout asserts).
        unsafe {
            self.base()
                .add(Self::slot_at(client, slot) + RECORD_AT)
                .cast()
        }
    }

    /// The completion of a slot the caller owns (by its state).
    pub fn completion(&self, client: u32, slot: usize) -> *mut Completion {
        // SAFETY: as in `record`.
        unsafe {
            self.base()
                .add(Self::slot_at(client, slot) + COMPLETION_AT)
                .cast()
        }
    }

    /// Frees every slot of `client` (its process is gone).
    pub fn clear_client(&self, client: u32) {
        for slot in 0..SLOTS {
            self.slot_state(client, slot)
                .store(SLOT_FREE, Ordering::Release);
        }
        self.doorbell(client).store(0, Ordering::Release);
    }
}

// SAFETY: the control page is shared memory accessed through atomics (see `Control::map`).
unsafe impl Send for Control {}
unsafe impl Sync for Control {}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Writes the control page's header for a chip of `g`.
pub fn write_header(h: &mut [u8], g: &ChipGeometry) {
    h[..8].copy_from_slice(&MAGIC);
    let words = [
        VERSION,
        arch_code(g.arch),
        g.dram_channels,
        g.grid.0,
        g.grid.1,
        MAX_CLIENTS,
    ];
    for (i, w) in words.into_iter().enumerate() {
        h[8 + 4 * i..12 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    let longs = [
        g.dram_channel_size,
        g.l1_size,
        g.dram_alignment,
        g.l1_alignment,
        g.dram_unreserved_base,
        g.l1_unreserved_base,
        MEMORY_OFFSET as u64,
    ];
    for (i, w) in longs.into_iter().enumerate() {
        h[32 + 8 * i..40 + 8 * i].copy_from_slice(&w.to_le_bytes());
    }
    h[88..92].copy_from_slice(&g.host_channels.to_le_bytes());
    h[96..104].copy_from_slice(&g.host_channel_size.to_le_bytes());
    h[104..112].copy_from_slice(&g.harvested_rows.to_le_bytes());
    h[112..116].copy_from_slice(&g.worker_grid.0.to_le_bytes());
    h[116..120].copy_from_slice(&g.worker_grid.1.to_le_bytes());
}

/// The chip geometry a control page's header describes, checked.
pub fn read_header(h: &[u8]) -> Result<ChipGeometry, &'static str> {
    if h[..8] != MAGIC {
        return Err("the shared memory does not start with TTRTSIM1");
    }
    if get_u32(h, 8) != VERSION {
        return Err("the device process speaks another layout version");
    }
    let arch = arch_of(get_u32(h, 12)).ok_or("the header names no arch")?;
    let g = ChipGeometry {
        arch,
        dram_channels: get_u32(h, 16),
        grid: (get_u32(h, 20), get_u32(h, 24)),
        dram_channel_size: get_u64(h, 32),
        l1_size: get_u64(h, 40),
        dram_alignment: get_u64(h, 48),
        l1_alignment: get_u64(h, 56),
        dram_unreserved_base: get_u64(h, 64),
        l1_unreserved_base: get_u64(h, 72),
        host_channels: get_u32(h, 88),
        host_channel_size: get_u64(h, 96),
        harvested_rows: get_u64(h, 104),
        worker_grid: (get_u32(h, 112), get_u32(h, 116)),
    };
    if get_u64(h, 80) != MEMORY_OFFSET as u64 || get_u32(h, 28) != MAX_CLIENTS {
        return Err("the header's layout differs from this library's");
    }
    Ok(g)
}

/// Asks the device process serving `name` to stop: its clients get [`HalError::Lost`].
/// Returns once it has acknowledged.
pub fn stop(name: &str) -> Result<(), HalError> {
    let link = os::connect(name)
        .map_err(|e| attach_error(format_args!("no device process serves '{name}' ({e})")))?;
    let mut hello = [0u8; HELLO_SIZE];
    hello[..8].copy_from_slice(&STOP_MAGIC);
    hello[8..12].copy_from_slice(&VERSION.to_le_bytes());
    os::exchange(&link, &hello).map_err(|e| {
        attach_error(format_args!(
            "device process '{name}' did not answer the stop: {e}"
        ))
    })?;
    Ok(())
}

/// The text of a failure to attach, as a device error.
fn attach_error(args: core::fmt::Arguments<'_>) -> HalError {
    HalError::Device(DeviceText::from_fmt(args))
}

/// The transport to a device process over shared memory.
pub struct ShmTransport {
    geometry: ChipGeometry,
    control: Control,
    memory: FlatMemory,
    client: u32,
    link: UnixStream,
}

impl ShmTransport {
    /// Attaches to the device process serving `name`, asking for a chip of `arch`.
    pub fn attach(name: &str, arch: Arch) -> Result<ShmTransport, HalError> {
        let link = os::connect(name).map_err(|e| {
            attach_error(format_args!(
                "no device process serves '{name}' ({e}); start one with `ttrt sim-device {name}`"
            ))
        })?;
        let mut hello = [0u8; HELLO_SIZE];
        hello[..8].copy_from_slice(&HELLO_MAGIC);
        hello[8..12].copy_from_slice(&VERSION.to_le_bytes());
        hello[12..16].copy_from_slice(&arch_code(arch).to_le_bytes());
        let (reply, fd) = os::exchange(&link, &hello).map_err(|e| {
            attach_error(format_args!(
                "device process '{name}' did not answer the attach: {e}"
            ))
        })?;
        if get_u32(&reply, 0) != 0 {
            let len = (get_u32(&reply, 8) as usize).min(REPLY_SIZE - 12);
            let text = core::str::from_utf8(&reply[12..12 + len]).unwrap_or("(not UTF-8)");
            return Err(attach_error(format_args!(
                "device process '{name}' refused the attach: {text}"
            )));
        }
        let client = get_u32(&reply, 4);
        let fd = fd.ok_or_else(|| {
            attach_error(format_args!(
                "device process '{name}' sent no shared memory"
            ))
        })?;
        let broken = |what: &dyn core::fmt::Display| {
            attach_error(format_args!(
                "the shared memory of device process '{name}' is unusable: {what}"
            ))
        };
        let control = Control::map(&fd).map_err(|e| broken(&e))?;
        let geometry = read_header(control.header()).map_err(|e| broken(&e))?;
        if client >= MAX_CLIENTS {
            return Err(broken(&"client index out of range"));
        }
        let size = FlatMemory::size(&geometry);
        let len = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_add(MEMORY_OFFSET))
            .ok_or_else(|| broken(&"the chip's memory does not fit this address space"))?;
        // SAFETY: see `Control::map`; the chip's memory is plain bytes, raced only as `Chip`
        // allows.
        let map =
            unsafe { memmap2::MmapOptions::new().len(len).map_mut(&fd) }.map_err(|e| broken(&e))?;
        let memory = FlatMemory::in_map(map, MEMORY_OFFSET, &geometry)
            .ok_or_else(|| broken(&"the object is smaller than its chip"))?;
        Ok(ShmTransport {
            geometry,
            control,
            memory,
            client,
            link,
        })
    }

    /// This client's index on the device.
    pub fn client(&self) -> u32 {
        self.client
    }

    fn link_up(&self) -> Result<(), HalError> {
        if os::hung_up(&self.link) {
            Err(HalError::Lost("the device process ended"))
        } else {
            Ok(())
        }
    }
}

impl Transport for ShmTransport {
    fn geometry(&self) -> &ChipGeometry {
        &self.geometry
    }

    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError> {
        self.memory.read(kind, bank, addr, dst)
    }

    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError> {
        self.memory.write(kind, bank, addr, src)
    }

    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        self.memory.map(kind, bank, addr, len)
    }

    fn check(&self) -> Result<(), HalError> {
        self.link_up()
    }

    fn submit(&self, record: &Record) -> Result<Ticket, HalError> {
        let c = &self.control;
        loop {
            for slot in 0..SLOTS {
                let state = c.slot_state(self.client, slot);
                if state
                    .compare_exchange(
                        SLOT_FREE,
                        SLOT_WRITING,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    // SAFETY: the slot is ours until we hand it to the device.
                    unsafe { *c.record(self.client, slot) = *record };
                    state.store(SLOT_SUBMITTED, Ordering::Release);
                    let bell = c.doorbell(self.client);
                    bell.fetch_add(1, Ordering::Release);
                    os::futex_wake(bell);
                    return Ok(Ticket(slot as u32));
                }
            }
            // Every slot is in flight: wait for one to come back.
            self.link_up()?;
            let state = c.slot_state(self.client, 0);
            let seen = state.load(Ordering::Acquire);
            if seen != SLOT_FREE {
                os::futex_wait(state, seen, WAIT_SLICE_MS);
            }
        }
    }

    fn complete(&self, ticket: Ticket, out: &mut Completion) -> Result<(), HalError> {
        let slot = ticket.0 as usize;
        if slot >= SLOTS {
            return Err(HalError::BadCommand("ticket"));
        }
        let state = self.control.slot_state(self.client, slot);
        let start = std::time::Instant::now();
        loop {
            let s = state.load(Ordering::Acquire);
            if s == SLOT_DONE {
                // SAFETY: a done slot is ours again.
                *out = unsafe { *self.control.completion(self.client, slot) };
                state.store(SLOT_FREE, Ordering::Release);
                os::futex_wake(state);
                return Ok(());
            }
            if s != SLOT_SUBMITTED {
                return Err(HalError::BadCommand("ticket of a slot not in flight"));
            }
            // A command of a graph takes the device tens to hundreds of microseconds: watch
            // the slot that long (giving the core away) before sleeping on it, so the answer
            // does not wait for this thread's wake-up.
            if start.elapsed() < COMPLETION_WATCH {
                std::thread::yield_now();
                continue;
            }
            self.link_up()?;
            os::futex_wait(state, s, WAIT_SLICE_MS);
        }
    }
}
