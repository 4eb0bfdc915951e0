//! The program cache: which device programs have been "compiled" (run once) on a device.
//!
//! On silicon the first run of an op with a given signature builds and loads its kernels; a
//! trace may only contain programs already loaded. The simulated chip has nothing to build,
//! but the rule is part of the contract, so the cache keeps the signatures: a fixed table of
//! 32-bit hashes (32-bit targets have no 64-bit atomics), inserted and looked up without a
//! lock.

use core::hash::{Hash, Hasher};
use core::sync::atomic::{AtomicU32, Ordering};

/// Signatures a device remembers; once full, new programs are still run but not remembered
/// (so they cannot be captured).
pub const PROGRAM_CACHE_CAPACITY: usize = 1024;

pub struct ProgramCache {
    slots: [AtomicU32; PROGRAM_CACHE_CAPACITY],
}

/// A word-at-a-time multiplicative hash (the shape of rustc's FxHash): deterministic, no
/// allocation, and a few instructions per field, since it runs on every op enqueue.
struct WordHash(u64);

const SEED: u64 = 0x517c_c1b7_2722_0a95;

impl WordHash {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        for b in chunks.remainder() {
            self.mix(*b as u64);
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.mix(v as u64);
    }

    fn write_u32(&mut self, v: u32) {
        self.mix(v as u64);
    }

    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }
}

/// The signature of a program: everything but buffer addresses.
pub fn signature(parts: &impl Hash) -> u32 {
    let mut h = WordHash(0);
    parts.hash(&mut h);
    // 0 marks an empty slot.
    let h = h.finish();
    (h ^ (h >> 32)) as u32 | 1
}

impl ProgramCache {
    pub const fn new() -> ProgramCache {
        ProgramCache {
            slots: [const { AtomicU32::new(0) }; PROGRAM_CACHE_CAPACITY],
        }
    }

    fn probe(&self, key: u32, insert: bool) -> bool {
        let start = (key >> 1) as usize % PROGRAM_CACHE_CAPACITY;
        for i in 0..PROGRAM_CACHE_CAPACITY {
            let slot = &self.slots[(start + i) % PROGRAM_CACHE_CAPACITY];
            let v = slot.load(Ordering::Acquire);
            if v == key {
                return true;
            }
            if v == 0 {
                if !insert {
                    return false;
                }
                match slot.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return true,
                    Err(now) if now == key => return true,
                    Err(_) => continue,
                }
            }
        }
        false
    }

    pub fn contains(&self, key: u32) -> bool {
        self.probe(key, false)
    }

    /// Remembers `key`; false when the cache is full.
    pub fn insert(&self, key: u32) -> bool {
        self.probe(key, true)
    }
}

impl Default for ProgramCache {
    fn default() -> Self {
        Self::new()
    }
}
