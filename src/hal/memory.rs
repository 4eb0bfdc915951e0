//! A chip's memory as one flat range of host memory: all DRAM channels, then the L1 of every
//! core. The simulated chip computes in it; the shared-memory transport reaches another
//! process's simulated chip through the same layout.

use crate::hal::{ChipGeometry, HalError, MemKind};

pub struct FlatMemory {
    base: *mut u8,
    len: usize,
    dram_channel_size: u64,
    dram_channels: u32,
    l1_size: u64,
    l1_banks: u32,
    #[cfg(feature = "std")]
    _map: Option<memmap2::MmapMut>,
}

// SAFETY: the memory is plain bytes reached through raw pointers; `Chip` documents that
// concurrent access to the same bytes is the program's race, as on silicon.
unsafe impl Send for FlatMemory {}
unsafe impl Sync for FlatMemory {}

impl FlatMemory {
    fn layout(geometry: &ChipGeometry) -> (u64, u64) {
        let dram = geometry.dram_channel_size * geometry.dram_channels as u64;
        let l1 = geometry.l1_size * geometry.l1_banks() as u64;
        (dram, l1)
    }

    /// Reserves the chip's memory as an anonymous mapping without swap reservation: only
    /// touched pages cost memory.
    #[cfg(feature = "std")]
    pub fn reserve(geometry: &ChipGeometry) -> std::io::Result<FlatMemory> {
        let (dram, l1) = Self::layout(geometry);
        let len = usize::try_from(dram + l1).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                "the simulated chip's memory does not fit this address space",
            )
        })?;
        let mut map = memmap2::MmapOptions::new()
            .len(len)
            .no_reserve_swap()
            .map_anon()?;
        Ok(FlatMemory {
            base: map.as_mut_ptr(),
            len,
            dram_channel_size: geometry.dram_channel_size,
            dram_channels: geometry.dram_channels,
            l1_size: geometry.l1_size,
            l1_banks: geometry.l1_banks(),
            _map: Some(map),
        })
    }

    /// The memory at `offset` of a shared mapping (another process maps the same object).
    #[cfg(feature = "std")]
    pub fn in_map(
        mut map: memmap2::MmapMut,
        offset: usize,
        geometry: &ChipGeometry,
    ) -> Option<FlatMemory> {
        let (dram, l1) = Self::layout(geometry);
        let len = usize::try_from(dram + l1).ok()?;
        if offset.checked_add(len)? > map.len() {
            return None;
        }
        Some(FlatMemory {
            // SAFETY: offset + len lies inside the mapping (checked above).
            base: unsafe { map.as_mut_ptr().add(offset) },
            len,
            dram_channel_size: geometry.dram_channel_size,
            dram_channels: geometry.dram_channels,
            l1_size: geometry.l1_size,
            l1_banks: geometry.l1_banks(),
            _map: Some(map),
        })
    }

    /// Bytes of memory a chip of `geometry` has.
    pub fn size(geometry: &ChipGeometry) -> u64 {
        let (dram, l1) = Self::layout(geometry);
        dram + l1
    }

    /// Memory over a caller's arena, which must hold the geometry's DRAM and L1.
    pub fn over(arena: &'static mut [u8], geometry: &ChipGeometry) -> FlatMemory {
        let (dram, l1) = Self::layout(geometry);
        assert!(
            dram + l1 <= arena.len() as u64,
            "arena smaller than the geometry"
        );
        FlatMemory {
            base: arena.as_mut_ptr(),
            len: arena.len(),
            dram_channel_size: geometry.dram_channel_size,
            dram_channels: geometry.dram_channels,
            l1_size: geometry.l1_size,
            l1_banks: geometry.l1_banks(),
            #[cfg(feature = "std")]
            _map: None,
        }
    }

    /// The address of `len` bytes at `addr` of `bank`, checked to lie inside the bank.
    pub fn at(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Result<*mut u8, HalError> {
        let (banks, bank_size, start) = match kind {
            MemKind::Dram => (self.dram_channels, self.dram_channel_size, 0),
            MemKind::L1 => (
                self.l1_banks,
                self.l1_size,
                self.dram_channel_size * self.dram_channels as u64,
            ),
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
}
