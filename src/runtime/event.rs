//! Events: a point in one command queue's stream, named by a per-CQ id counting from 1.

/// An event recorded on a command queue. Plain data, as in TT-Metal: `(device, cq, id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub device_id: u32,
    pub cq_id: u8,
    pub id: u32,
}

/// Whether event id `id` is at or before `completed` (ids count up from 1 and wrap).
#[inline]
pub(crate) fn reached(completed: u32, id: u32) -> bool {
    completed.wrapping_sub(id) as i32 >= 0
}
