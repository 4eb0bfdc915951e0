//! Events as the C caller holds them (TT-Metal's `Event`): a plain struct, copied freely.
//! Recording, waiting and synchronizing arrive with the device runtime.

/// A point in one command queue's stream of commands. Returned by recording; passed to waits,
/// synchronize and query. Ids count per command queue from 1.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ttrt_event {
    /// The device the event was recorded on.
    pub device_id: u32,
    /// The command queue it was recorded on (0 or 1).
    pub cq_id: u8,
    /// Its id within that command queue, from 1.
    pub id: u32,
}

// Pinned here and by _Static_assert in tests/c/header_check.c.
static_assertions::assert_eq_size!(ttrt_event, [u8; 12]);
static_assertions::assert_eq_align!(ttrt_event, u32);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_event, device_id), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_event, cq_id), 4);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_event, id), 8);
