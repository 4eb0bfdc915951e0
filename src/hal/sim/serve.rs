//! The simulated chip as a device process (`ttrt sim-device`): its memory and command slots
//! in shared memory ([`crate::hal::shm`] gives the layout), its "firmware" a thread per
//! attached client that runs the commands the client submits.
//!
//! A device process serves one name. By default every client attaches to the same chip (an IO
//! process and a runtime process sharing one device); with `per_client`, each client gets a
//! chip of its own, created when it attaches and freed when it goes, as a test farm wants.
//! When a client's connection hangs up (it closed the device, exited or crashed), its thread
//! frees its slots and its index; in `per_client` mode its chip goes with it.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::SimChip;
use crate::format::Arch;
use crate::hal::memory::FlatMemory;
use crate::hal::shm::{self, os, Control};
use crate::hal::wire::{self, Command, COMPLETION_SIZE};
use crate::hal::{Chip, ChipGeometry, HalError};

/// How long a client's thread watches for its next command after one, before it sleeps.
const ACTIVE_WINDOW: Duration = Duration::from_millis(2);

/// How a device process serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The device's name (clients attach with `TTRT_DEVICE=shm:<name>`).
    pub name: String,
    /// The arch of the shared chip (`per_client`: the default when a client does not ask).
    pub arch: Arch,
    /// A chip per client instead of one shared chip.
    pub per_client: bool,
    /// The chips' geometry when they are of `arch` (a SoC descriptor's, harvested rows);
    /// `None`: the arch's default. A per-client chip of another arch has that arch's default.
    pub geometry: Option<ChipGeometry>,
}

impl ServeConfig {
    /// The geometry of a chip of `arch` this device serves.
    fn geometry(&self, arch: Arch) -> ChipGeometry {
        match self.geometry {
            Some(g) if g.arch == arch => g,
            _ => ChipGeometry::of(arch),
        }
    }
}

/// One chip in shared memory.
struct Device {
    fd: OwnedFd,
    control: Control,
    chip: SimChip,
    size: u64,
    clients: Mutex<[bool; shm::MAX_CLIENTS as usize]>,
    /// For each graph handle, the client that loaded it (index + 1; 0: none).
    graph_owners: [AtomicU32; crate::hal::firmware::SLOTS],
}

impl Device {
    fn new(name: &str, geometry: ChipGeometry) -> io::Result<Device> {
        let size = FlatMemory::size(&geometry);
        let total = size + shm::MEMORY_OFFSET as u64;
        let fd = os::memfd(&format!("ttrt-sim/{name}"), total)?;
        let mut control = Control::map(&fd)?;
        shm::write_header(control.bytes_mut(), &geometry);
        let len = usize::try_from(total).map_err(|_| io::ErrorKind::OutOfMemory)?;
        // SAFETY: see `Control::map`.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(&fd)? };
        let memory = FlatMemory::in_map(map, shm::MEMORY_OFFSET, &geometry)
            .ok_or(io::ErrorKind::InvalidData)?;
        Ok(Device {
            fd,
            control,
            chip: SimChip::with_memory(geometry, memory),
            size,
            clients: Mutex::new([false; shm::MAX_CLIENTS as usize]),
            graph_owners: [const { AtomicU32::new(0) }; crate::hal::firmware::SLOTS],
        })
    }

    fn claim(&self) -> Option<u32> {
        let mut taken = self.clients.lock().ok()?;
        let i = taken.iter().position(|t| !t)?;
        taken[i] = true;
        Some(i as u32)
    }

    fn release(&self, client: u32) {
        // The graphs a client loaded go with it.
        for (i, owner) in self.graph_owners.iter().enumerate() {
            if owner
                .compare_exchange(client + 1, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let _ = self.chip.unload_graphs(i as u32 + 1);
            }
        }
        self.control.clear_client(client);
        if let Ok(mut taken) = self.clients.lock() {
            taken[client as usize] = false;
        }
    }

    fn execute(&self, client: u32, command: Command) -> Result<u32, HalError> {
        match command {
            Command::Run(program) => self.chip.run(&program).map(|()| 0),
            Command::Reset => os::punch_hole(&self.fd, shm::MEMORY_OFFSET as u64, self.size)
                .map(|()| 0)
                .map_err(|_| HalError::Unsupported("the device memory could not be reset")),
            Command::LoadGraphs(desc) => {
                let handle = self.chip.load_graphs(&desc)?;
                if let Some(owner) = self.owner_of(handle) {
                    owner.store(client + 1, Ordering::Release);
                }
                Ok(handle)
            }
            Command::RunGraph {
                handle,
                graph,
                settings,
            } => {
                if !self.owns(client, handle) {
                    return Err(HalError::BadCommand(
                        "graph handle (this client loaded nothing there)",
                    ));
                }
                self.chip.run_graph(handle, graph, &settings).map(|()| 0)
            }
            Command::UnloadGraphs(handle) => {
                if !self.owns(client, handle) {
                    return Err(HalError::BadCommand(
                        "graph handle (this client loaded nothing there)",
                    ));
                }
                if let Some(owner) = self.owner_of(handle) {
                    owner.store(0, Ordering::Release);
                }
                self.chip.unload_graphs(handle).map(|()| 0)
            }
        }
    }

    /// Who loaded the graphs of `handle`: the client's index + 1, or 0.
    fn owner_of(&self, handle: u32) -> Option<&AtomicU32> {
        self.graph_owners.get((handle as usize).checked_sub(1)?)
    }

    /// Whether `client` loaded the graphs of `handle`.
    fn owns(&self, client: u32, handle: u32) -> bool {
        self.owner_of(handle)
            .is_some_and(|o| o.load(Ordering::Acquire) == client + 1)
    }

    /// Runs `client`'s commands until its connection hangs up or `stop` is set.
    fn serve_client(&self, client: u32, link: &UnixStream, stop: &AtomicBool) {
        let c = &self.control;
        let bell = c.doorbell(client);
        let mut last = std::time::Instant::now();
        loop {
            let seen = bell.load(Ordering::Acquire);
            let mut ran = false;
            for slot in 0..shm::SLOTS {
                let state = c.slot_state(client, slot);
                if state.load(Ordering::Acquire) != shm::SLOT_SUBMITTED {
                    continue;
                }
                // SAFETY: a submitted slot belongs to the device until it is done.
                let record = unsafe { *c.record(client, slot) };
                let result = wire::decode(&record, self.chip.geometry())
                    .and_then(|cmd| self.execute(client, cmd));
                let mut completion = [0; COMPLETION_SIZE];
                wire::encode_completion(&result, &mut completion);
                // SAFETY: as above.
                unsafe { *c.completion(client, slot) = completion };
                state.store(shm::SLOT_DONE, Ordering::Release);
                os::futex_wake(state);
                ran = true;
            }
            if ran {
                last = std::time::Instant::now();
                continue;
            }
            // A client that just sent a command is likely to send the next soon (an execute
            // per graph, a program per input): watch for it a while before sleeping, so it
            // does not pay the device thread's wake-up.
            if last.elapsed() < ACTIVE_WINDOW {
                std::thread::yield_now();
                continue;
            }
            if stop.load(Ordering::Acquire) || os::hung_up(link) {
                return;
            }
            os::futex_wait(bell, seen, shm::WAIT_SLICE_MS);
        }
    }
}

fn reply(link: &UnixStream, client: u32, fd: Option<&OwnedFd>, refusal: Option<&str>) {
    let mut r = [0u8; shm::REPLY_SIZE];
    if let Some(text) = refusal {
        let text = &text.as_bytes()[..text.len().min(shm::REPLY_SIZE - 12)];
        r[0..4].copy_from_slice(&1u32.to_le_bytes());
        r[8..12].copy_from_slice(&(text.len() as u32).to_le_bytes());
        r[12..12 + text.len()].copy_from_slice(text);
    } else {
        r[4..8].copy_from_slice(&client.to_le_bytes());
    }
    // A client that went away during its attach has nothing to be told.
    let _ = os::send_reply(link, &r, fd);
}

/// Attaches one client and serves it until it goes.
fn attach(cfg: &ServeConfig, shared: Option<&Arc<Device>>, link: UnixStream, stop: &AtomicBool) {
    let Ok(hello) = os::read_hello(&link) else {
        return;
    };
    let version = u32::from_le_bytes([hello[8], hello[9], hello[10], hello[11]]);
    if hello[..8] == shm::STOP_MAGIC {
        stop.store(true, Ordering::Release);
        return reply(&link, 0, None, None);
    }
    if hello[..8] != shm::HELLO_MAGIC || version != shm::VERSION {
        let text = format!(
            "this device process speaks layout version {}; the client sent another hello",
            shm::VERSION
        );
        return reply(&link, 0, None, Some(&text));
    }
    let code = u32::from_le_bytes([hello[12], hello[13], hello[14], hello[15]]);
    let Some(arch) = shm::arch_of(code) else {
        return reply(&link, 0, None, Some("the client asked for no known arch"));
    };
    let device = match shared {
        Some(d) => {
            if d.chip.geometry().arch != arch {
                let text = format!(
                    "device '{}' is a {} chip; the client asked for {}",
                    cfg.name,
                    d.chip.geometry().arch.name(),
                    arch.name()
                );
                return reply(&link, 0, None, Some(&text));
            }
            Arc::clone(d)
        }
        None => match Device::new(&cfg.name, cfg.geometry(arch)) {
            Ok(d) => Arc::new(d),
            Err(e) => {
                let text = format!("cannot create a {} chip: {e}", arch.name());
                return reply(&link, 0, None, Some(&text));
            }
        },
    };
    let Some(client) = device.claim() else {
        let text = format!("all {} client slots are taken", shm::MAX_CLIENTS);
        return reply(&link, 0, None, Some(&text));
    };
    reply(&link, client, Some(&device.fd), None);
    device.serve_client(client, &link, stop);
    device.release(client);
}

/// Serves `cfg.name` until `stop` is set: binds the name, calls `ready`, then attaches clients
/// as they come. Fails when the name is taken or the shared chip cannot be created.
pub fn serve(cfg: &ServeConfig, stop: &AtomicBool, ready: impl FnOnce()) -> io::Result<()> {
    let listener = os::listen(&cfg.name).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot serve device '{}': {e}", cfg.name))
    })?;
    listener.set_nonblocking(true)?;
    let shared = match cfg.per_client {
        true => None,
        false => Some(Arc::new(Device::new(&cfg.name, cfg.geometry(cfg.arch))?)),
    };
    ready();
    std::thread::scope(|scope| {
        while !stop.load(Ordering::Acquire) {
            match listener.accept() {
                Ok((link, _)) => {
                    let _ = link.set_nonblocking(false);
                    let shared = shared.as_ref();
                    scope.spawn(move || attach(cfg, shared, link, stop));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
}
