//! The host memory budget: how many bytes of host memory one allocation sized by input (a
//! queue's entries, a tensor's shape, an input count, a preallocation count) may take. Such
//! sizes are computed with checked arithmetic, compared with the budget, and allocated
//! fallibly, so a hostile netlist or argument gets `OutOfMemory` and a line of text instead of
//! aborting the host in the global allocator.

/// The most host memory an allocation sized by input may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostMemoryBudget(u64);

impl HostMemoryBudget {
    /// `bytes`, or the default for 0: the machine's physical memory (with `std` on Unix;
    /// elsewhere no limit beyond what the allocator grants).
    pub fn new(bytes: u64) -> HostMemoryBudget {
        if bytes == 0 {
            HostMemoryBudget(physical_memory().unwrap_or(u64::MAX))
        } else {
            HostMemoryBudget(bytes)
        }
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Whether `need` bytes (`None`: the size overflowed) fit in the budget.
    pub fn admits(self, need: Option<u64>) -> bool {
        need.is_some_and(|n| n <= self.0)
    }
}

impl Default for HostMemoryBudget {
    fn default() -> Self {
        HostMemoryBudget::new(0)
    }
}

#[cfg(all(feature = "std", unix))]
fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system parameters.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let pages = u64::try_from(pages).ok().filter(|&p| p > 0)?;
    let page = u64::try_from(page).ok().filter(|&p| p > 0)?;
    pages.checked_mul(page)
}

#[cfg(not(all(feature = "std", unix)))]
fn physical_memory() -> Option<u64> {
    None
}

/// A size as the text of a message: the bytes, or "more than 2^64 B" when it overflowed.
pub struct Bytes(pub Option<u64>);

impl core::fmt::Display for Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n} B"),
            None => f.write_str("more than 18446744073709551615 B"),
        }
    }
}

/// `len` zero bytes, or `None` when the allocator refuses them (never aborts). Zeroed memory
/// comes from the allocator already zero (calloc), so untouched pages cost nothing.
#[cfg(feature = "alloc")]
pub fn try_zeroed(len: usize) -> Option<alloc::vec::Vec<u8>> {
    if len == 0 {
        return Some(alloc::vec::Vec::new());
    }
    let layout = core::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a nonzero size.
    let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` was allocated by the global allocator with the layout of `len` bytes of
    // alignment 1, which is what a Vec<u8> of capacity `len` holds; all of them are
    // initialized (zero).
    Some(unsafe { alloc::vec::Vec::from_raw_parts(p, len, len) })
}
