//! Choosing a chip: the simulated chip in this process (the default), or a device process
//! reached over shared memory. The one place above `hal::sim` that names the simulated chip.
//!
//! A device is named by a string, from the device config or the `TTRT_DEVICE` environment
//! variable: `sim` (or empty) is the chip in this process; `shm:<name>` attaches to the device
//! process `ttrt sim-device <name>` serves.

use core::ptr::NonNull;

#[cfg(all(feature = "std", target_os = "linux"))]
use super::shm::ShmTransport;
use super::sim::SimChip;
#[cfg(all(feature = "std", target_os = "linux"))]
use super::transport::{RemoteChip, Transport};
#[cfg(feature = "std")]
use super::wire::DeviceText;
use super::{Chip, ChipGeometry, DeviceRange, HalError, MemKind, Program};
use crate::format::Arch;

/// The environment variable naming the device when the config does not.
pub const DEVICE_ENV: &str = "TTRT_DEVICE";

/// Which device to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec<'a> {
    /// The simulated chip in this process.
    InProcess,
    /// The device process serving this name.
    Shm(&'a str),
}

impl<'a> DeviceSpec<'a> {
    /// Reads a device string; `None` when it names no device this build can open.
    pub fn parse(s: &'a str) -> Option<DeviceSpec<'a>> {
        match s {
            "" | "sim" => Some(DeviceSpec::InProcess),
            _ => match s.strip_prefix("shm:") {
                Some(name) if !name.is_empty() && !name.contains('\0') => {
                    Some(DeviceSpec::Shm(name))
                }
                _ => None,
            },
        }
    }
}

#[cfg(feature = "std")]
/// The device string `TTRT_DEVICE` holds ("" when unset or not UTF-8).
pub fn device_from_env() -> std::string::String {
    std::env::var(DEVICE_ENV).unwrap_or_default()
}

/// A chip of any kind this build can drive.
pub enum AnyChip {
    Sim(SimChip),
    #[cfg(all(feature = "std", target_os = "linux"))]
    Shm(RemoteChip<ShmTransport>),
}

impl AnyChip {
    /// The chip `device` names (see the module), of `arch`.
    #[cfg(feature = "std")]
    pub fn open(device: &str, arch: Arch) -> Result<AnyChip, HalError> {
        AnyChip::open_as(device, &ChipGeometry::of(arch))
    }

    /// The chip `device` names, of `geometry` (an arch's default, a SoC descriptor's, with
    /// harvested rows). A device process serves the geometry it was started with: when
    /// `geometry` is not its arch's default, the device's worker grid and harvested rows must
    /// be the same.
    #[cfg(feature = "std")]
    pub fn open_as(device: &str, geometry: &ChipGeometry) -> Result<AnyChip, HalError> {
        let arch = geometry.arch;
        match DeviceSpec::parse(device) {
            Some(DeviceSpec::InProcess) => SimChip::of(*geometry).map(AnyChip::Sim).map_err(|e| {
                HalError::Device(DeviceText::from_fmt(format_args!(
                    "cannot reserve the simulated chip's memory: {e}"
                )))
            }),
            #[cfg(target_os = "linux")]
            Some(DeviceSpec::Shm(name)) => {
                let t = ShmTransport::attach(name, arch)?;
                let got = *t.geometry();
                if *geometry != ChipGeometry::of(arch)
                    && (got.worker_grid != geometry.worker_grid
                        || got.harvested_rows != geometry.harvested_rows)
                {
                    return Err(HalError::Device(DeviceText::from_fmt(format_args!(
                        "device process '{name}' serves a chip of {}x{} workers (rows x columns) \
                         with harvested rows mask {}; this device was asked for {}x{} with mask {}",
                        got.worker_grid.1,
                        got.worker_grid.0,
                        got.harvested_rows,
                        geometry.worker_grid.1,
                        geometry.worker_grid.0,
                        geometry.harvested_rows
                    ))));
                }
                Ok(AnyChip::Shm(RemoteChip::new(t)))
            }
            #[cfg(not(target_os = "linux"))]
            Some(DeviceSpec::Shm(_)) => {
                Err(HalError::Unsupported("shared-memory devices need Linux"))
            }
            None => Err(HalError::Device(DeviceText::from_fmt(format_args!(
                "device '{device}' is neither 'sim' nor 'shm:<name>'"
            )))),
        }
    }

    /// The simulated chip over caller-provided memory (see [`SimChip::in_arena`]).
    pub fn in_arena(arch: Arch, arena: &'static mut [u8]) -> Option<AnyChip> {
        SimChip::in_arena(arch, arena).map(AnyChip::Sim)
    }

    /// The simulated chip of `geometry` over caller-provided memory.
    pub fn of_in_arena(geometry: ChipGeometry, arena: &'static mut [u8]) -> Option<AnyChip> {
        SimChip::of_in_arena(geometry, arena).map(AnyChip::Sim)
    }

    /// Whether the chip lives in another process.
    pub fn is_remote(&self) -> bool {
        match self {
            AnyChip::Sim(_) => false,
            #[cfg(all(feature = "std", target_os = "linux"))]
            AnyChip::Shm(_) => true,
        }
    }
}

/// `$body` with `$c` bound to the chip inside, whichever it is.
macro_rules! each_chip {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            AnyChip::Sim($c) => $body,
            #[cfg(all(feature = "std", target_os = "linux"))]
            AnyChip::Shm($c) => $body,
        }
    };
}

impl Chip for AnyChip {
    fn geometry(&self) -> &ChipGeometry {
        each_chip!(self, c => c.geometry())
    }

    #[inline]
    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError> {
        each_chip!(self, c => c.read(kind, bank, addr, dst))
    }

    #[inline]
    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError> {
        each_chip!(self, c => c.write(kind, bank, addr, src))
    }

    fn run(&self, program: &Program) -> Result<(), HalError> {
        each_chip!(self, c => c.run(program))
    }

    fn check(&self) -> Result<(), HalError> {
        each_chip!(self, c => c.check())
    }

    #[inline]
    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        each_chip!(self, c => c.map(kind, bank, addr, len))
    }

    fn load_graphs(&self, desc: &DeviceRange) -> Result<u32, HalError> {
        each_chip!(self, c => c.load_graphs(desc))
    }

    #[inline]
    fn run_graph(&self, handle: u32, graph: u32, settings: &DeviceRange) -> Result<(), HalError> {
        each_chip!(self, c => c.run_graph(handle, graph, settings))
    }

    fn unload_graphs(&self, handle: u32) -> Result<(), HalError> {
        each_chip!(self, c => c.unload_graphs(handle))
    }
}
