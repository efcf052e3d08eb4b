//! The program's global allocator: the system allocator, with every large block advised onto
//! transparent huge pages (2 MiB).
//!
//! A county raster, a snapshot's columns or an ingest's tables are tens of megabytes each.
//! On 4 KiB pages every first touch of a page is a fault that the kernel serves one page at
//! a time: on this virtual machine a 1M-incident `hotspots kde` spent ≈ 150 ms of its
//! ≈ 300 ms in the kernel doing so. This machine's kernel gives huge pages only to memory
//! that asks (`madvise` mode); blocks of [`ADVISE_MIN_BYTES`] or more ask, so one fault maps
//! 2 MiB. Small blocks are untouched. The advice is a hint: if the kernel refuses it, nothing
//! changes but speed. Measured figures are in the README.
//!
//! The binary installs it (`#[global_allocator]` in `main.rs`), as do the benchmarks, so that
//! they time what the commands do.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are advised onto huge pages.
pub const ADVISE_MIN_BYTES: usize = 2 << 20;

/// The system allocator plus `MADV_HUGEPAGE` on large blocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct HugePageAlloc;

// SAFETY: every allocation, release and reallocation is the system allocator's, with the
// caller's arguments unchanged; `advise` only passes a range inside the returned block to
// madvise(2), which changes how the kernel backs the pages, never their contents.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        advise(p, new_size);
        p
    }
}

/// Asks for huge pages for the whole 4 KiB pages inside a large block.
fn advise(p: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    if len >= ADVISE_MIN_BYTES && !p.is_null() {
        const PAGE: usize = 4096;
        let start = p.addr().next_multiple_of(PAGE);
        let end = (p.addr() + len) & !(PAGE - 1);
        if end > start {
            // SAFETY: [start, end) lies inside the live block just returned by the system
            // allocator; MADV_HUGEPAGE does not change the memory's contents or mapping.
            unsafe {
                libc::madvise(p.with_addr(start).cast(), end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_blocks_keep_their_contents_through_realloc() {
        let a = HugePageAlloc;
        for (size, grown) in [
            (64usize, 4096usize),
            (ADVISE_MIN_BYTES + 123, 3 * ADVISE_MIN_BYTES),
        ] {
            let layout = Layout::from_size_align(size, 16).unwrap();
            // SAFETY: non-zero size; every pointer is used within its block and freed once.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                let block = std::slice::from_raw_parts_mut(p, size);
                assert!(block.iter().all(|&b| b == 0));
                for (i, b) in block.iter_mut().enumerate() {
                    *b = (i % 251) as u8;
                }
                let q = a.realloc(p, layout, grown);
                assert!(!q.is_null());
                let block = std::slice::from_raw_parts(q, size);
                assert!(block.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
                a.dealloc(q, Layout::from_size_align(grown, 16).unwrap());
            }
        }
    }
}
