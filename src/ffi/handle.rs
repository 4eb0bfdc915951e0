//! Opaque handles.
//!
//! A C handle (`ttrt_device *`, `ttrt_tensor *`, ...) is not the address of a Rust object but a
//! token: a type tag, a slot index and the slot's generation, packed into a pointer-sized
//! value. Each handle type has one [`HandleTable`]. Looking a token up checks all three, so a
//! freed handle, a handle of another type or a made-up pointer is refused with a clear error
//! instead of being dereferenced: "freed handles return a status, never crash".
//!
//! Lookups take no lock: a slot's state is one atomic word (generation, live bit, count of
//! borrows in flight), and a lookup is one compare-and-swap that bumps the count. Freeing clears
//! the live bit first (new lookups fail from then on), waits for borrows in flight to end, then
//! drops the object and bumps the generation. Creating and freeing take the table's lock.
//!
//! Slots live in segments that double in size (64, 128, ... slots), allocated on demand and
//! never moved, so a reference into a slot stays valid while the table grows.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ops::Deref;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::error::{ArgError, HandleProblem};
use crate::sync::Lock;

/// A Rust type that C programs hold through an opaque handle.
///
/// `Opaque` is the zero-sized C type (`ttrt_device`), `KIND` its C name for messages, `TAG` a
/// value in 1..=15 unique among handle types.
pub trait Handle: Sized + Send + Sync + 'static {
    type Opaque;
    const KIND: &'static str;
    const TAG: usize;
    fn table() -> &'static HandleTable<Self>;
}

const TAG_BITS: u32 = 4;
const INDEX_BITS: u32 = 20;
const GEN_SHIFT: u32 = TAG_BITS + INDEX_BITS;
/// Generation bits carried in a token: 40 on 64-bit targets, 8 on 32-bit ones.
const TOKEN_GEN_MASK: usize = usize::MAX >> GEN_SHIFT;

/// Slot state word: generation above the live bit, borrows in flight below it.
const LIVE: usize = 1 << 16;
const BORROWS: usize = LIVE - 1;
const STATE_GEN_SHIFT: u32 = 17;

const FIRST_SEGMENT: usize = 64;
const SEGMENTS: usize = 14; // 64 * (2^14 - 1) slots, just under 2^20 = 1 << INDEX_BITS

struct Slot<T> {
    state: AtomicUsize,
    value: AtomicPtr<T>,
    /// The allocation of the slot's last object, kept when it was freed so the next object in
    /// this slot needs no heap allocation (steady-state loops create and free handles).
    spare: AtomicPtr<T>,
}

struct FreeList {
    /// Slots handed out so far (the next new index).
    next: usize,
    /// Freed slots, reused most recently freed first.
    free: Vec<usize>,
}

/// The live objects of one handle type.
pub struct HandleTable<T> {
    segments: [AtomicPtr<Slot<T>>; SEGMENTS],
    alloc: Lock<FreeList>,
}

/// Where slot `index` lives: segment k holds `FIRST_SEGMENT << k` slots.
fn locate(index: usize) -> (usize, usize) {
    let block = index / FIRST_SEGMENT + 1;
    let k = (usize::BITS - 1 - block.leading_zeros()) as usize;
    let start = FIRST_SEGMENT * ((1 << k) - 1);
    (k, index - start)
}

impl<T: Handle> HandleTable<T> {
    pub const fn new() -> Self {
        HandleTable {
            segments: [const { AtomicPtr::new(core::ptr::null_mut()) }; SEGMENTS],
            alloc: Lock::new(FreeList {
                next: 0,
                free: Vec::new(),
            }),
        }
    }

    fn slot(&self, index: usize) -> Option<&Slot<T>> {
        let (k, offset) = locate(index);
        let seg = self.segments.get(k)?.load(Ordering::Acquire);
        if seg.is_null() {
            return None;
        }
        // SAFETY: segment k, once published, holds FIRST_SEGMENT << k initialized slots and is
        // never freed or moved (the table is a static).
        Some(unsafe { &*seg.add(offset) })
    }

    /// Moves `value` into the table and returns its handle, or `None` when the table is full
    /// (about a million live objects of one type).
    pub fn insert(&self, value: T) -> Option<*mut T::Opaque> {
        let index = self.alloc.with(|list| {
            if let Some(i) = list.free.pop() {
                return Some(i);
            }
            let i = list.next;
            let (k, _) = locate(i);
            if k >= SEGMENTS {
                return None;
            }
            if self.segments[k].load(Ordering::Relaxed).is_null() {
                let len = FIRST_SEGMENT << k;
                let seg: Box<[Slot<T>]> = (0..len)
                    .map(|_| Slot {
                        state: AtomicUsize::new(0),
                        value: AtomicPtr::new(core::ptr::null_mut()),
                        spare: AtomicPtr::new(core::ptr::null_mut()),
                    })
                    .collect();
                self.segments[k].store(Box::into_raw(seg).cast::<Slot<T>>(), Ordering::Release);
            }
            list.next += 1;
            Some(i)
        })?;
        let slot = self.slot(index)?;
        let generation = slot.state.load(Ordering::Relaxed) >> STATE_GEN_SHIFT;
        let spare = slot.spare.swap(core::ptr::null_mut(), Ordering::Acquire);
        let ptr = if spare.is_null() {
            Box::into_raw(Box::new(value))
        } else {
            // SAFETY: `spare` is the allocation of a `Box<T>` whose value was dropped in
            // `remove`; writing a new value makes it a valid box again.
            unsafe { spare.write(value) };
            spare
        };
        slot.value.store(ptr, Ordering::Relaxed);
        slot.state
            .store((generation << STATE_GEN_SHIFT) | LIVE, Ordering::Release);
        let token = ((generation & TOKEN_GEN_MASK) << GEN_SHIFT) | (index << TAG_BITS) | T::TAG;
        // A token, not an address: it carries no provenance and is never dereferenced.
        Some(core::ptr::without_provenance_mut(token))
    }

    fn matches(state: usize, token_gen: usize) -> bool {
        state & LIVE != 0 && ((state >> STATE_GEN_SHIFT) & TOKEN_GEN_MASK) == token_gen
    }

    /// Borrows the object behind `handle` (the argument named `arg` in messages).
    pub fn get(
        &self,
        handle: *const T::Opaque,
        arg: &'static str,
    ) -> Result<Borrow<'_, T>, ArgError> {
        let (slot, token_gen) = self.decode(handle, arg)?;
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            if !Self::matches(state, token_gen) {
                return Err(ArgError::Handle {
                    arg,
                    kind: T::KIND,
                    problem: HandleProblem::Freed,
                });
            }
            if state & BORROWS == BORROWS {
                // 65535 borrows in flight: wait for one to end rather than overflow the count.
                core::hint::spin_loop();
                state = slot.state.load(Ordering::Acquire);
                continue;
            }
            match slot.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let ptr = slot.value.load(Ordering::Acquire);
        Ok(Borrow {
            slot,
            ptr,
            _table: PhantomData,
        })
    }

    /// Checks a token's tag and index and finds its slot (no lock; the generation is checked
    /// by the caller against the slot's state).
    fn decode(
        &self,
        handle: *const T::Opaque,
        arg: &'static str,
    ) -> Result<(&Slot<T>, usize), ArgError> {
        let err = |problem| ArgError::Handle {
            arg,
            kind: T::KIND,
            problem,
        };
        if handle.is_null() {
            return Err(ArgError::Null { arg });
        }
        let token = handle as usize;
        let tag = token & ((1 << TAG_BITS) - 1);
        if tag != T::TAG {
            return Err(err(if tag == 0 {
                HandleProblem::Invalid
            } else {
                HandleProblem::WrongType
            }));
        }
        let index = (token >> TAG_BITS) & ((1 << INDEX_BITS) - 1);
        let slot = self.slot(index).ok_or(err(HandleProblem::Invalid))?;
        if slot.state.load(Ordering::Acquire) == 0 {
            // A slot that has never held an object (a used slot's state is never 0 again).
            return Err(err(HandleProblem::Invalid));
        }
        Ok((slot, token >> GEN_SHIFT))
    }

    /// Frees the object behind `handle`: from now on the handle is refused. Waits for borrows
    /// already in flight on other threads to end before dropping the object.
    pub fn remove(&self, handle: *const T::Opaque, arg: &'static str) -> Result<(), ArgError> {
        self.remove_waking(handle, arg, wait_a_moment)
    }

    /// [`HandleTable::remove`] that calls `wake` (instead of a plain pause) while it waits for
    /// the borrows of other threads to end: a free that must wake a call in progress, which
    /// may be about to sleep, repeats its wake until that call has left.
    pub fn remove_waking(
        &self,
        handle: *const T::Opaque,
        arg: &'static str,
        mut wake: impl FnMut(),
    ) -> Result<(), ArgError> {
        let (slot, token_gen) = self.decode(handle, arg)?;
        let index = ((handle as usize) >> TAG_BITS) & ((1 << INDEX_BITS) - 1);
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            if !Self::matches(state, token_gen) {
                return Err(ArgError::Handle {
                    arg,
                    kind: T::KIND,
                    problem: HandleProblem::Freed,
                });
            }
            match slot.state.compare_exchange_weak(
                state,
                state & !LIVE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        while slot.state.load(Ordering::Acquire) & BORROWS != 0 {
            wake();
        }
        let ptr = slot.value.swap(core::ptr::null_mut(), Ordering::AcqRel);
        let next_gen = ((state >> STATE_GEN_SHIFT) + 1) & (usize::MAX >> STATE_GEN_SHIFT);
        // A generation of 0 with a zero state means "never used"; skip it on wrap.
        let next_gen = if next_gen & TOKEN_GEN_MASK == 0 {
            next_gen + 1
        } else {
            next_gen
        };
        slot.state
            .store(next_gen << STATE_GEN_SHIFT, Ordering::Release);
        // SAFETY: `ptr` came from Box::into_raw in `insert`; the live bit is clear and no borrow
        // is in flight, so nothing else can reach it. The value is dropped; the allocation is
        // kept for the slot's next object.
        unsafe { core::ptr::drop_in_place(ptr) };
        slot.spare.store(ptr, Ordering::Release);
        self.alloc.with(|list| list.free.push(index));
        Ok(())
    }
}

impl<T: Handle> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn wait_a_moment() {
    #[cfg(feature = "std")]
    std::thread::yield_now();
    #[cfg(not(feature = "std"))]
    core::hint::spin_loop();
}

/// A borrowed handle object; the handle cannot be freed while this lives.
pub struct Borrow<'a, T> {
    slot: &'a Slot<T>,
    ptr: *const T,
    _table: PhantomData<&'a T>,
}

impl<T> Deref for Borrow<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the borrow count is held, so `remove` has not dropped the object.
        unsafe { &*self.ptr }
    }
}

impl<T> Drop for Borrow<'_, T> {
    fn drop(&mut self) {
        self.slot.state.fetch_sub(1, Ordering::Release);
    }
}

// SAFETY: a Borrow only hands out `&T`, and T: Sync (Handle requires it).
unsafe impl<T: Sync> Send for Borrow<'_, T> {}
unsafe impl<T: Sync> Sync for Borrow<'_, T> {}

#[cfg(test)]
mod tests {
    //! The table's own rules, small enough for Miri (`.ci/run` runs them under it): tokens
    //! encode type, slot and generation; a freed, foreign or made-up token is refused without
    //! being dereferenced; a slot's allocation is reused; a borrow holds off a free.

    use super::*;
    use core::sync::atomic::AtomicUsize;

    /// Defines a handle type with its own table, so that tests running in parallel do not
    /// share free lists.
    macro_rules! handle_type {
        ($name:ident, $opaque:ident, $tag:expr) => {
            pub struct $opaque {
                _private: [u8; 0],
            }
            struct $name {
                value: u64,
                drops: Option<&'static AtomicUsize>,
            }
            impl Drop for $name {
                fn drop(&mut self) {
                    if let Some(d) = self.drops {
                        d.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            impl Handle for $name {
                type Opaque = $opaque;
                const KIND: &'static str = stringify!($opaque);
                const TAG: usize = $tag;
                fn table() -> &'static HandleTable<Self> {
                    static TABLE: HandleTable<$name> = HandleTable::new();
                    &TABLE
                }
            }
        };
    }

    handle_type!(Apple, apple, 9);
    handle_type!(Pear, pear, 10);
    handle_type!(Plum, plum, 11);
    handle_type!(Fig, fig, 12);
    handle_type!(Lime, lime, 13);

    fn new<T: Handle>(make: impl FnOnce() -> T) -> *mut T::Opaque {
        T::table().insert(make()).expect("table full")
    }

    fn problem<T>(r: Result<T, ArgError>) -> Option<HandleProblem> {
        match r {
            Err(ArgError::Handle { problem, .. }) => Some(problem),
            _ => None,
        }
    }

    #[test]
    fn insert_get_remove_round_trip_drops_the_value_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let h = new(|| Apple {
            value: 7,
            drops: Some(&DROPS),
        });
        let token = h as usize;
        assert_eq!(token & 0xf, Apple::TAG, "the type tag is in the low bits");
        assert_eq!(Apple::table().get(h, "h").map(|b| b.value).ok(), Some(7));
        assert_eq!(DROPS.load(Ordering::SeqCst), 0);
        Apple::table().remove(h, "h").unwrap();
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert_eq!(
            problem(Apple::table().get(h, "h")),
            Some(HandleProblem::Freed)
        );
        assert_eq!(
            problem(Apple::table().remove(h, "h")),
            Some(HandleProblem::Freed)
        );
        assert_eq!(
            DROPS.load(Ordering::SeqCst),
            1,
            "a second free drops nothing"
        );
    }

    #[test]
    fn a_reused_slot_gets_a_new_generation_and_the_old_token_stays_refused() {
        let first = new(|| Pear {
            value: 1,
            drops: None,
        });
        let at = {
            let b = Pear::table().get(first, "h").unwrap();
            &*b as *const Pear
        };
        Pear::table().remove(first, "h").unwrap();
        let second = new(|| Pear {
            value: 2,
            drops: None,
        });
        let index = |h: *mut pear| ((h as usize) >> TAG_BITS) & ((1 << INDEX_BITS) - 1);
        assert_eq!(index(first), index(second), "the freed slot is reused");
        assert_ne!(first, second, "with a new generation");
        let b = Pear::table().get(second, "h").unwrap();
        assert_eq!(b.value, 2);
        assert_eq!(
            &*b as *const Pear, at,
            "and with the freed object's allocation"
        );
        drop(b);
        assert_eq!(
            problem(Pear::table().get(first, "h")),
            Some(HandleProblem::Freed)
        );
        assert_eq!(
            problem(Pear::table().remove(first, "h")),
            Some(HandleProblem::Freed)
        );
        assert_eq!(
            Pear::table().get(second, "h").map(|b| b.value).ok(),
            Some(2)
        );
        Pear::table().remove(second, "h").unwrap();
    }

    #[test]
    fn foreign_null_and_made_up_tokens_are_refused() {
        let p = new(|| Plum {
            value: 3,
            drops: None,
        });
        // A plum's token given to the apple table: another type.
        let as_apple = p.cast::<apple>().cast_const();
        assert_eq!(
            problem(Apple::table().get(as_apple, "h")),
            Some(HandleProblem::WrongType)
        );
        assert_eq!(
            problem(Apple::table().remove(as_apple, "h")),
            Some(HandleProblem::WrongType)
        );
        assert!(matches!(
            Plum::table().get(core::ptr::null(), "h"),
            Err(ArgError::Null { arg: "h" })
        ));
        // Tag 0 (an aligned address) and slots never handed out are invalid, not freed.
        for made_up in [0x1000usize, 0x10, usize::MAX & !0xf] {
            let h = core::ptr::without_provenance::<plum>(made_up);
            assert_eq!(
                problem(Plum::table().get(h, "h")),
                Some(HandleProblem::Invalid)
            );
        }
        let index = ((p as usize) >> TAG_BITS) & ((1 << INDEX_BITS) - 1);
        let unused_slot = ((index + 5) << TAG_BITS) | Plum::TAG; // same segment, never used
        let past_segments = (((1usize << INDEX_BITS) - 1) << TAG_BITS) | Plum::TAG;
        for h in [unused_slot, past_segments] {
            assert_eq!(
                problem(Plum::table().get(core::ptr::without_provenance(h), "h")),
                Some(HandleProblem::Invalid)
            );
        }
        // The right slot with a generation never issued.
        let forged = (p as usize) ^ (1 << GEN_SHIFT);
        assert_eq!(
            problem(Plum::table().get(core::ptr::without_provenance(forged), "h")),
            Some(HandleProblem::Freed)
        );
        assert_eq!(Plum::table().get(p, "h").map(|b| b.value).ok(), Some(3));
        Plum::table().remove(p, "h").unwrap();
    }

    #[test]
    fn objects_stay_put_while_the_table_grows_segments() {
        // 64 + 128 + a few: three segments. A borrow taken early stays valid throughout.
        let first = new(|| Fig {
            value: 0,
            drops: None,
        });
        let early = Fig::table().get(first, "h").unwrap();
        let handles: Vec<*mut fig> = (1..200)
            .map(|i| {
                new(|| Fig {
                    value: i,
                    drops: None,
                })
            })
            .collect();
        assert_eq!(early.value, 0);
        for (i, &h) in handles.iter().enumerate() {
            assert_eq!(Fig::table().get(h, "h").unwrap().value, i as u64 + 1);
        }
        drop(early);
        for h in handles.into_iter().chain([first]) {
            Fig::table().remove(h, "h").unwrap();
        }
    }

    #[test]
    fn a_free_waits_for_a_borrow_in_flight_on_another_thread() {
        extern crate std;
        use std::sync::atomic::AtomicBool;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        static BORROWED: AtomicBool = AtomicBool::new(false);
        static RELEASE: AtomicBool = AtomicBool::new(false);
        let h = new(|| Lime {
            value: 5,
            drops: Some(&DROPS),
        }) as usize;
        let reader = std::thread::spawn(move || {
            let b = Lime::table()
                .get(core::ptr::without_provenance::<lime>(h), "h")
                .unwrap();
            BORROWED.store(true, Ordering::SeqCst);
            while !RELEASE.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            // The object is still there: the free is waiting for this borrow.
            let v = b.value;
            assert_eq!(DROPS.load(Ordering::SeqCst), 0);
            v
        });
        while !BORROWED.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let freer = std::thread::spawn(move || {
            Lime::table().remove(core::ptr::without_provenance::<lime>(h), "h")
        });
        // Give the free time to start and find the borrow, then end the borrow.
        for _ in 0..100 {
            std::thread::yield_now();
        }
        assert_eq!(DROPS.load(Ordering::SeqCst), 0);
        RELEASE.store(true, Ordering::SeqCst);
        assert_eq!(reader.join().unwrap(), 5);
        freer.join().unwrap().unwrap();
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert_eq!(
            problem(Lime::table().get(core::ptr::without_provenance::<lime>(h), "h")),
            Some(HandleProblem::Freed)
        );
    }
}
