//! The set of incident ids accepted so far in an ingest, for rejecting duplicates.
//!
//! An open-addressing table of 8-byte slots, each holding a 32-bit fingerprint of the id's
//! hash and the id's store row; the ids themselves stay in the store's id arena. The slot
//! for an id is known from its hash before it is needed, so the ingest touches a whole chunk's
//! slots in one pass (the cache misses overlap) and then probes them from cache. A probe reads
//! the id bytes only when the fingerprints agree (about once in 4 × 10⁹ for different ids).
//!
//! Why not `hashbrown::HashTable`: alone, a million inserts cost about the same in either
//! (`cargo bench --bench ingest -- 1m_inserts`: ≈ 50 ms each), because out-of-order execution
//! overlaps the misses of back-to-back inserts. Inside the ingest a row's parsing sits between
//! two inserts and each insert's misses (control bytes, then the data slot) stall on their
//! own. Measured on 1M timed rows, best of 9, alternating builds: hashbrown 1.27–1.29 s,
//! hashbrown with a read-only `find` pass per chunk 1.35–1.43 s, this table with its touch
//! pass 1.12–1.21 s. The binary's allocator puts the 16 MB of slots of a 1M-row ingest on
//! huge pages ([`crate::alloc`]), so the touch pass's misses do not each add a page walk.

use std::hash::BuildHasher;

/// Hashes of id bytes (foldhash, seeded per process).
#[derive(Debug, Clone, Default)]
pub struct IdHasher(hashbrown::DefaultHashBuilder);

impl IdHasher {
    /// The 64-bit hash of an id.
    pub fn hash(&self, id: &[u8]) -> u64 {
        self.0.hash_one(id)
    }
}

/// Ids seen so far, as store rows; `len() ≤ slots / 2` always.
#[derive(Debug, Clone)]
pub struct SeenIds {
    /// `fingerprint << 32 | (row + 1)`; 0 is an empty slot.
    slots: Vec<u64>,
    /// log2 of the slot count.
    bits: u32,
    len: usize,
}

impl Default for SeenIds {
    fn default() -> Self {
        Self::new()
    }
}

impl SeenIds {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            slots: vec![0; 16],
            bits: 4,
            len: 0,
        }
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    /// Makes room for `additional` more ids without growing.
    pub fn reserve(&mut self, additional: usize) {
        let want = (self.len + additional).saturating_mul(2).max(16);
        if want > self.slots.len() {
            self.resize(want.next_power_of_two().trailing_zeros());
        }
    }

    fn resize(&mut self, bits: u32) {
        let old = std::mem::replace(&mut self.slots, vec![0; 1 << bits]);
        self.bits = bits;
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|&s| s != 0) {
            // The fingerprint is the hash's top 32 bits, which also give the home slot.
            let mut i = ((s >> 32) << 32 >> (64 - bits)) as usize;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Loads the home slot of `hash` into cache; returns it so the load is not optimised away.
    #[inline]
    pub fn touch(&self, hash: u64) -> u64 {
        self.slots[self.home(hash)]
    }

    /// Adds the id with this hash as store row `row`, unless an equal id is already held:
    /// then returns that id's row. `id_of(row)` gives the bytes of a held row's id.
    pub fn insert<'s>(
        &mut self,
        hash: u64,
        id: &[u8],
        row: u32,
        id_of: impl Fn(u32) -> &'s [u8],
    ) -> Result<(), u32> {
        if (self.len + 1) * 2 > self.slots.len() {
            self.resize(self.bits + 1);
        }
        let fp = hash >> 32;
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.slots[i] = fp << 32 | (row as u64 + 1);
                self.len += 1;
                return Ok(());
            }
            let held = (s & 0xffff_ffff) as u32 - 1;
            if s >> 32 == fp && id_of(held) == id {
                return Err(held);
            }
            i = (i + 1) & mask;
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_std_hashmap_through_growth_and_duplicates() {
        let hasher = IdHasher::default();
        let mut set = SeenIds::new();
        let mut ids: Vec<Vec<u8>> = Vec::new();
        let mut reference: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
        for _ in 0..50_000 {
            // About one id in five repeats an earlier one.
            let id = format!("KM-{}", rng.random_range(0..40_000)).into_bytes();
            let row = ids.len() as u32;
            let got = set.insert(hasher.hash(&id), &id, row, |r| &ids[r as usize]);
            match reference.get(&id) {
                Some(&first) => assert_eq!(got, Err(first)),
                None => {
                    assert_eq!(got, Ok(()));
                    reference.insert(id.clone(), row);
                    ids.push(id);
                }
            }
            assert!(set.len() * 2 <= set.slots.len());
        }
        assert_eq!(set.len(), reference.len());
    }

    #[test]
    fn equal_fingerprints_still_compare_the_ids() {
        // Two different ids forced onto one hash: both are kept.
        let ids: Vec<&[u8]> = vec![b"a", b"b"];
        let mut set = SeenIds::new();
        set.reserve(100);
        assert_eq!(set.insert(42 << 40, b"a", 0, |r| ids[r as usize]), Ok(()));
        assert_eq!(set.insert(42 << 40, b"b", 1, |r| ids[r as usize]), Ok(()));
        assert_eq!(set.insert(42 << 40, b"a", 2, |r| ids[r as usize]), Err(0));
        assert_eq!(set.len(), 2);
        assert!(set.touch(42 << 40) != 0);
    }
}
