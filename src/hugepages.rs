//! Large zero-filled tables on transparent huge pages (2 MiB), for tables read or written
//! at random positions.
//!
//! With 4 KiB pages, a random access into a table of tens of megabytes usually misses the
//! TLB as well as the cache, and the page walk is paid on top of the memory fetch. This
//! machine's kernel gives huge pages only to memory that asks for them (`madvise` mode), so
//! such tables are mapped anonymously, aligned to 2 MiB, and advised `MADV_HUGEPAGE`.
//! The duplicate-id table of a 1M-row ingest (16 MB) is one: see `SeenIds`.
//!
//! Small tables, and systems where the mapping or the advice fails, get an ordinary heap
//! vector: the advice only ever changes speed, never contents.

use std::ops::{Deref, DerefMut};

use bytemuck::Pod;
use memmap2::{Advice, MmapMut, MmapOptions};

/// Size of one huge page, bytes.
const HUGE_PAGE_BYTES: usize = 2 << 20;

/// A fixed-length table of `T`, all zero bytes at creation.
#[derive(Debug)]
pub struct HugeTable<T: Pod> {
    storage: Storage<T>,
}

#[derive(Debug)]
enum Storage<T> {
    Heap(Vec<T>),
    /// `len` values starting `offset` bytes into `map` (offset puts them on a 2 MiB boundary).
    Mapped {
        map: MmapMut,
        offset: usize,
        len: usize,
    },
}

impl<T: Pod> HugeTable<T> {
    /// `len` zeroed values; on huge pages when the table spans at least one.
    pub fn zeroed(len: usize) -> Self {
        let bytes = len.saturating_mul(size_of::<T>());
        let storage = if bytes >= HUGE_PAGE_BYTES {
            Self::map(len, bytes).unwrap_or_else(|| Storage::Heap(vec![T::zeroed(); len]))
        } else {
            Storage::Heap(vec![T::zeroed(); len])
        };
        Self { storage }
    }

    fn map(len: usize, bytes: usize) -> Option<Storage<T>> {
        let map = MmapOptions::new()
            .len(bytes.checked_add(HUGE_PAGE_BYTES)?)
            .map_anon()
            .ok()?;
        let addr = map.as_ptr().addr();
        let offset = addr.next_multiple_of(HUGE_PAGE_BYTES) - addr;
        // Advice is a hint: when refused, the table still works on ordinary pages.
        let _ = map.advise_range(Advice::HugePage, offset, bytes);
        Some(Storage::Mapped { map, offset, len })
    }

    /// True when the table is an advised anonymous mapping rather than a heap vector.
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// Bytes reserved for the table (mapped tables include up to 2 MiB of alignment slack,
    /// never touched, so never backed by memory).
    pub fn reserved_bytes(&self) -> usize {
        match &self.storage {
            Storage::Heap(v) => v.capacity() * size_of::<T>(),
            Storage::Mapped { map, .. } => map.len(),
        }
    }
}

impl<T: Pod> Deref for HugeTable<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped { map, offset, len } => {
                bytemuck::cast_slice(&map[*offset..*offset + len * size_of::<T>()])
            }
        }
    }
}

impl<T: Pod> DerefMut for HugeTable<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped { map, offset, len } => {
                bytemuck::cast_slice_mut(&mut map[*offset..*offset + *len * size_of::<T>()])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_tables_are_zeroed_aligned_and_writable() {
        let n = 3 << 20; // 24 MiB of u64
        let mut t = HugeTable::<u64>::zeroed(n);
        assert_eq!(t.len(), n);
        assert!(t.iter().all(|&v| v == 0));
        if t.is_mapped() {
            assert_eq!(t.as_ptr().addr() % HUGE_PAGE_BYTES, 0);
        }
        for (i, v) in t.iter_mut().enumerate().step_by(4093) {
            *v = i as u64;
        }
        assert_eq!(t[4093 * 7], 4093 * 7);
        assert_eq!(t[n - 1], if (n - 1) % 4093 == 0 { n as u64 - 1 } else { 0 });
    }

    #[test]
    fn small_tables_live_on_the_heap() {
        let t = HugeTable::<u32>::zeroed(1000);
        assert!(!t.is_mapped());
        assert_eq!(t.len(), 1000);
        assert_eq!(t.reserved_bytes(), 4000);
    }
}
