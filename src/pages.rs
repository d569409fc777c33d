//! Memory straight from the kernel, in transparent huge pages where it gives
//! them: one page fault per 2 MiB instead of 512, which on the VMs this was
//! measured on is most of the cost of touching fresh memory (about 1.4 us per
//! 4 KiB fault). Linux only, and not under Miri (which cannot run these
//! calls); elsewhere `ZeroedPages::new` returns None and callers use the
//! global allocator, and the advice does nothing.

/// A transparent huge page on x86-64 (and aarch64 with 4 KiB pages).
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back `len` bytes at `p` with transparent huge pages
/// (where THP is "madvise" or "always"; elsewhere, or on failure, nothing
/// changes: the advice is only a hint).
pub(crate) fn advise_huge_pages(p: *mut u8, len: usize) {
    #[cfg(all(target_os = "linux", not(miri)))]
    // SAFETY: madvise with MADV_HUGEPAGE changes no contents and no
    // permissions; the caller owns the range.
    unsafe {
        libc::madvise(p.cast(), len, libc::MADV_HUGEPAGE);
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = (p, len);
}

/// A zeroed array of `u32` in its own anonymous mapping, aligned to
/// HUGE_PAGE and advised for huge pages; unmapped when dropped.
pub(crate) struct ZeroedPages {
    /// The mapping as the kernel gave it.
    map: *mut u8,
    map_len: usize,
    /// The array: HUGE_PAGE-aligned, inside the mapping.
    data: *mut u32,
    len: usize,
}

impl ZeroedPages {
    /// `len` zeroed entries, or None (not Linux, or no memory).
    pub(crate) fn new(len: usize) -> Option<ZeroedPages> {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            let bytes = len.checked_mul(size_of::<u32>())?.checked_next_multiple_of(HUGE_PAGE)?;
            let map_len = bytes.checked_add(HUGE_PAGE)?;
            // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
            let map = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if map == libc::MAP_FAILED {
                return None;
            }
            let map = map.cast::<u8>();
            let data = map.wrapping_add(map.align_offset(HUGE_PAGE));
            advise_huge_pages(data, bytes);
            Some(ZeroedPages {
                map,
                map_len,
                data: data.cast(),
                len,
            })
        }
        #[cfg(not(all(target_os = "linux", not(miri))))]
        {
            let _ = len;
            None
        }
    }

    /// The entries.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u32] {
        // SAFETY: `len` entries from `data` lie inside the mapping, which is
        // readable, writable, zero-filled by the kernel and ours alone.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }

    /// The entries, read-only.
    pub(crate) fn as_slice(&self) -> &[u32] {
        // SAFETY: as in as_mut_slice.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for ZeroedPages {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", not(miri)))]
        // SAFETY: the mapping made in `new`, unmapped once; no slice of it outlives `self`.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
        #[cfg(not(all(target_os = "linux", not(miri))))]
        let _ = (self.map, self.map_len);
    }
}
