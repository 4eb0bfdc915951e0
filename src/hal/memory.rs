//! A chip's memory as one flat range of host memory: all DRAM channels, then the L1 of every
//! core, then the host memory channels the device reaches. The simulated chip computes in it; the shared-memory transport reaches another
//! process's simulated chip through the same layout.

use core::ptr::NonNull;

use crate::hal::{ChipGeometry, HalError, MemKind};

pub struct FlatMemory {
    base: *mut u8,
    len: usize,
    geometry: ChipGeometry,
    #[cfg(feature = "std")]
    _map: Option<memmap2::MmapMut>,
}

// SAFETY: the memory is plain bytes reached through raw pointers; `Chip` documents that
// concurrent access to the same bytes is the program's race, as on silicon.
unsafe impl Send for FlatMemory {}
unsafe impl Sync for FlatMemory {}

impl FlatMemory {
    /// Bytes of memory a chip of `geometry` has.
    pub fn size(geometry: &ChipGeometry) -> u64 {
        let dram = geometry.dram_channel_size * geometry.dram_channels as u64;
        let host = geometry.host_channel_size * geometry.host_channels as u64;
        dram + geometry.l1_size * geometry.l1_banks() as u64 + host
    }

    /// Reserves the chip's memory as an anonymous mapping without swap reservation: only
    /// touched pages cost memory.
    #[cfg(feature = "std")]
    pub fn reserve(geometry: &ChipGeometry) -> std::io::Result<FlatMemory> {
        let too_large = || {
            std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                "the simulated chip's memory does not fit this address space",
            )
        };
        let len = usize::try_from(Self::size(geometry)).map_err(|_| too_large())?;
        let map = memmap2::MmapOptions::new()
            .len(len)
            .no_reserve_swap()
            .map_anon()?;
        Self::in_map(map, 0, geometry).ok_or_else(too_large)
    }

    /// The memory at `offset` of a mapping (a shared one: another process maps the same
    /// object); `None` when the mapping does not hold it.
    #[cfg(feature = "std")]
    pub fn in_map(
        mut map: memmap2::MmapMut,
        offset: usize,
        geometry: &ChipGeometry,
    ) -> Option<FlatMemory> {
        let len = usize::try_from(Self::size(geometry)).ok()?;
        if offset.checked_add(len)? > map.len() {
            return None;
        }
        Some(FlatMemory {
            // SAFETY: offset + len lies inside the mapping (checked above).
            base: unsafe { map.as_mut_ptr().add(offset) },
            len,
            geometry: *geometry,
            _map: Some(map),
        })
    }

    /// Memory over a caller's arena, which must hold the geometry's DRAM, L1 and host memory.
    pub fn over(arena: &'static mut [u8], geometry: &ChipGeometry) -> FlatMemory {
        assert!(
            Self::size(geometry) <= arena.len() as u64,
            "arena smaller than the geometry"
        );
        FlatMemory {
            base: arena.as_mut_ptr(),
            len: arena.len(),
            geometry: *geometry,
            #[cfg(feature = "std")]
            _map: None,
        }
    }

    /// The address of `len` bytes at `addr` of `bank`, checked to lie inside the bank.
    pub fn at(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Result<*mut u8, HalError> {
        let g = &self.geometry;
        let (banks, bank_size) = (g.banks(kind), g.bank_size(kind));
        let start = match kind {
            MemKind::Dram => 0,
            MemKind::L1 => g.dram_channel_size * g.dram_channels as u64,
            MemKind::Host => {
                g.dram_channel_size * g.dram_channels as u64 + g.l1_size * g.l1_banks() as u64
            }
        };
        let end = addr.checked_add(len as u64);
        if bank >= banks || end.is_none_or(|e| e > bank_size) {
            return Err(HalError::OutOfRange {
                kind,
                bank,
                addr,
                len,
                banks,
                bank_size,
            });
        }
        let offset = start + bank as u64 * bank_size + addr;
        debug_assert!(offset as usize + len <= self.len);
        // SAFETY: offset + len lies inside the range (checked against the bank above, and the
        // banks tile the range).
        Ok(unsafe { self.base.add(offset as usize) })
    }

    /// Copies `dst.len()` bytes at `addr` of `bank` out.
    pub fn read(
        &self,
        kind: MemKind,
        bank: u32,
        addr: u64,
        dst: &mut [u8],
    ) -> Result<(), HalError> {
        let src = self.at(kind, bank, addr, dst.len())?;
        // SAFETY: `at` checked that the range lies inside the bank; the memory lives as long
        // as `self`. A concurrent write to the same bytes is the program's race (see `Chip`).
        unsafe { core::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Copies `src` in at `addr` of `bank`.
    pub fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError> {
        let dst = self.at(kind, bank, addr, src.len())?;
        // SAFETY: as in `read`.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }

    /// `len` bytes at `addr` of `bank` in place, when they lie inside the chip.
    pub fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        NonNull::new(self.at(kind, bank, addr, len).ok()?)
    }
}
