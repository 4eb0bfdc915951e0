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

/// Where an event id stands among the ids a CQ has issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Issued {
    /// Not an id this CQ has issued: 0, or above the last issued id before the ids wrapped.
    Never,
    /// One of the 2^31 ids issued last: `reached` tells whether it completed.
    Recent,
    /// Issued before the 2^31 ids issued last (only once the ids have wrapped): it completed
    /// long ago, since a CQ holds far fewer commands than that.
    Old,
}

/// Classifies `id` against `last`, the last id issued, and whether the ids have wrapped past
/// 2^32 - 1 (they go on from 1; 0 is never issued).
#[inline]
pub(crate) fn issued(last: u32, wrapped: bool, id: u32) -> Issued {
    if id == 0 || (!wrapped && id > last) {
        return Issued::Never;
    }
    if last.wrapping_sub(id) <= i32::MAX as u32 {
        Issued::Recent
    } else {
        Issued::Old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_up_to_the_last_issued_are_issued() {
        assert_eq!(issued(1, false, 1), Issued::Recent);
        assert_eq!(issued(1, false, 0), Issued::Never);
        assert_eq!(issued(1, false, 2), Issued::Never);
        assert_eq!(issued(1, false, 0x8000_0002), Issued::Never);
        assert_eq!(issued(1, false, 0xFFFF_FFFF), Issued::Never);
        assert_eq!(issued(0, false, 1), Issued::Never);
        assert_eq!(issued(0xFFFF_FFFF, false, 0xFFFF_FFFF), Issued::Recent);
        assert_eq!(issued(0xFFFF_FFFF, false, 1), Issued::Old);
    }

    #[test]
    fn after_the_wrap_every_nonzero_id_was_issued() {
        // Ids went ..., 0xFFFFFFFF, 1, 2: the last issued is 2.
        assert_eq!(issued(2, true, 2), Issued::Recent);
        assert_eq!(issued(2, true, 1), Issued::Recent);
        assert_eq!(issued(2, true, 0xFFFF_FFFF), Issued::Recent);
        assert_eq!(issued(2, true, 0x8000_0003), Issued::Recent);
        assert_eq!(issued(2, true, 0x8000_0002), Issued::Old);
        assert_eq!(issued(2, true, 3), Issued::Old);
        assert_eq!(issued(2, true, 0), Issued::Never);
        assert!(reached(2, 0xFFFF_FFFF));
        assert!(!reached(0xFFFF_FFFF, 2));
    }
}
