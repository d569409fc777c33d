//! The per-heap allocator: size classes of 16-byte steps up to 512 bytes,
//! carved from 256 KiB arenas aligned to their size, and the system allocator
//! for larger blocks.
//!
//! Arenas are carved from 4 MiB segments, each one aligned allocation from
//! the system allocator. glibc serves such an allocation with mmap and writes
//! two chunk headers into it, one on the mapping's first page and one on the
//! page before the aligned address, so every allocation costs two resident
//! pages beside its alignment padding (which stays virtual): 8 KiB per
//! 256 KiB arena was 1 byte per 32-byte block, 8 KiB per segment is 0.06.
//! Segments are not zeroed in advance: a block is zeroed when it is handed
//! out, so the pages of a segment become resident only as blocks are used.
//! Segments are aligned to 2 MiB, and every segment after a heap's first is
//! advised to the kernel for transparent huge pages: one page fault per
//! 2 MiB instead of 512 (building 1,000,000 objects went from 26.6 to 15.3 ms,
//! README "Performance"), at the price of up to 2 MiB resident ahead of use
//! per segment being filled. The first segment keeps small pages, so a heap
//! of a few objects costs a few pages, not 2 MiB.
//!
//! Small blocks are found again from their address alone: the arena base is
//! the address rounded down to ARENA_SIZE, and the arena's first word is its
//! block size. Free blocks keep their header (state Freed, refcount 0, the type
//! they had) and link to the next free block at offset 16, so a decref of a
//! freed small object is still caught and every block ever handed out can be
//! walked. Large blocks carry a 32-byte prefix that links them in a list.
//!
//! Arenas go back to the system only when the heap is freed (see README,
//! "Limitations").
//!
//! # Object ids
//!
//! Every block has a 32-bit id, which the collector's generation vectors hold
//! instead of an 8-byte pointer (src/collector.rs). A small block's id is
//! `segment << 18 | granule`: the index of its segment in `segments` and its
//! offset in that segment in 16-byte granules (a 4 MiB segment has 2^18).
//! Each arena keeps the id of its first granule in its header's second word,
//! so the id of a block is one load from its arena's first cache line. Going
//! back is one load too: `segments` holds each segment's address minus
//! `segment << 22`, so that adding `id << 4` gives the block. Ids from
//! LARGE_IDS up belong to large blocks: `LARGE_IDS + slot`, the block's slot
//! in the table `large_ids`, given when the block is allocated and kept in its
//! prefix; free slots are chained through the table. So small blocks may fill
//! MAX_SEGMENTS segments (60 GiB): a pool refuses the next one with NoMemory.

use std::alloc::{Layout, alloc, alloc_zeroed, dealloc};
use std::ptr;

use crate::error::Error;
use crate::header::{HEADER_SIZE, Header, State};
use crate::pages::{HUGE_PAGE, advise_huge_pages};

const GRANULE: usize = 16;
/// The largest block served from a size class.
const MAX_SMALL: usize = 512;
/// The smallest block: a header and the free-list link.
const MIN_BLOCK: usize = HEADER_SIZE + 16;
const NUM_CLASSES: usize = MAX_SMALL / GRANULE;
const ARENA_SIZE: usize = 256 * 1024;
/// Arenas per segment.
const SEGMENT_ARENAS: usize = 16;
const SEGMENT_SIZE: usize = ARENA_SIZE * SEGMENT_ARENAS;
/// The arena header: its block size and the id of its first granule.
const ARENA_HEADER: usize = 16;
/// The prefix in front of a large block: prev, next, size, id.
const LARGE_PREFIX: usize = 32;

/// A block's 32-bit id (see the module comment).
/// cbindgen:ignore
pub type Id = u32;
/// No block: a hole in a vector of ids.
pub const NO_ID: Id = u32::MAX;
/// log2 of the granules in a segment.
const SEGMENT_ID_SHIFT: u32 = (SEGMENT_SIZE / GRANULE).trailing_zeros();
const _: () = assert!(1 << SEGMENT_ID_SHIFT == SEGMENT_SIZE / GRANULE);
/// The first id of a large block; ids below it are small blocks'.
const LARGE_IDS: Id = 15 << 28;
/// The most segments a pool takes: their ids stay below LARGE_IDS.
pub const MAX_SEGMENTS: usize = (LARGE_IDS >> SEGMENT_ID_SHIFT) as usize;
/// The most large blocks alive at once: their ids stay below NO_ID.
const MAX_LARGE: usize = (NO_ID - LARGE_IDS) as usize;
/// A free slot of `large_ids` holds the next free slot shifted left by one,
/// with this bit set, as an address without provenance (headers are 16-byte
/// aligned, so their addresses never have it).
const FREE_SLOT: usize = 1;

/// The arena a small block lies in: its address rounded down to ARENA_SIZE,
/// with the block's provenance (the segment's).
#[inline(always)]
fn arena_of<T>(block: *const T) -> *const u8 {
    block.cast::<u8>().map_addr(|a| a & !(ARENA_SIZE - 1))
}

/// The layout of a segment.
fn segment_layout() -> Layout {
    Layout::from_size_align(SEGMENT_SIZE, HUGE_PAGE).expect("constant layout")
}

#[derive(Clone, Copy)]
struct Class {
    free: *mut u8,
    bump: *mut u8,
    end: *mut u8,
}

#[repr(C)]
struct LargePrefix {
    prev: *mut LargePrefix,
    next: *mut LargePrefix,
    size: usize,
    id: usize,
}

const _: () = assert!(std::mem::size_of::<LargePrefix>() == LARGE_PREFIX);

/// One heap's object memory.
pub struct Pool {
    classes: [Class; NUM_CLASSES],
    arenas: Vec<*mut u8>,
    /// Every segment, to give back when the pool goes, as a pointer to it
    /// moved down by its index times SEGMENT_SIZE (wrapping, so it keeps the
    /// segment's provenance): a small block's id names its segment by its
    /// index here, and `segments[id >> 18] + id * 16` is the block.
    segments: Vec<*mut u8>,
    /// The most segments this pool takes (MAX_SEGMENTS; less in tests).
    segment_limit: usize,
    /// Large blocks by their id's slot: a header, or a free slot (FREE_SLOT,
    /// the next free slot above it).
    large_ids: Vec<*mut u8>,
    /// The first free slot of `large_ids`, or NO_ID.
    large_free: Id,
    /// The next arena of the newest segment not carved yet, and that segment's end.
    carve: *mut u8,
    carve_end: *mut u8,
    large: *mut LargePrefix,
    bytes_in_use: usize,
    peak_bytes: usize,
}

/// A copy of the pool's id tables' addresses: turns ids into headers with one
/// load, so a collection's scan can hold it while no allocation can happen.
#[derive(Clone, Copy)]
pub struct IdMap {
    segments: *const *mut u8,
    large: *const *mut u8,
}

impl IdMap {
    /// The header of the object whose id is `id`.
    ///
    /// # Safety
    /// `id` must be the id of a live object of the pool this map was taken
    /// from, which has not allocated since.
    #[inline(always)]
    pub unsafe fn header(self, id: Id) -> *const Header {
        // SAFETY: per the contract.
        unsafe { if id < LARGE_IDS { self.small(id) } else { self.large(id) } }
    }

    /// As `header`, but NULL for NO_ID; a small block's id still takes one
    /// comparison.
    ///
    /// # Safety
    /// As for `header`, unless `id` is NO_ID.
    #[inline(always)]
    pub unsafe fn header_or_null(self, id: Id) -> *const Header {
        // SAFETY: per the contract.
        unsafe {
            if id < LARGE_IDS {
                self.small(id)
            } else if id == NO_ID {
                ptr::null()
            } else {
                self.large(id)
            }
        }
    }

    /// # Safety
    /// `id` must name a segment of `segments` and a block in it.
    #[inline(always)]
    unsafe fn small(self, id: Id) -> *const Header {
        // SAFETY: per the contract.
        let biased = unsafe { *self.segments.add((id >> SEGMENT_ID_SHIFT) as usize) };
        biased.wrapping_add(id as usize * GRANULE).cast::<Header>()
    }

    /// # Safety
    /// `id - LARGE_IDS` must be a slot of `large` that holds a header.
    #[inline(always)]
    unsafe fn large(self, id: Id) -> *const Header {
        // SAFETY: per the contract.
        unsafe { (*self.large.add((id - LARGE_IDS) as usize)).cast::<Header>() }
    }
}

/// A block handed out by the pool.
pub struct Block {
    /// Where the object's header goes; every byte after the header is zero,
    /// the header's are the caller's to write.
    pub ptr: *mut u8,
    /// Whether it came from the system allocator.
    pub large: bool,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl Pool {
    /// An empty pool; nothing is allocated until the first object.
    pub fn new() -> Pool {
        Pool {
            classes: [Class {
                free: ptr::null_mut(),
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
            }; NUM_CLASSES],
            arenas: Vec::new(),
            segments: Vec::new(),
            segment_limit: MAX_SEGMENTS,
            large_ids: Vec::new(),
            large_free: NO_ID,
            carve: ptr::null_mut(),
            carve_end: ptr::null_mut(),
            large: ptr::null_mut(),
            bytes_in_use: 0,
            peak_bytes: 0,
        }
    }

    /// The bytes an object of `total` bytes (header included) occupies.
    pub fn charge(total: usize) -> usize {
        let rounded = total.max(MIN_BLOCK).next_multiple_of(GRANULE);
        if rounded <= MAX_SMALL {
            rounded
        } else {
            rounded + LARGE_PREFIX
        }
    }

    /// Bytes occupied by live objects.
    pub fn bytes_in_use(&self) -> usize {
        self.bytes_in_use
    }

    /// The highest bytes_in_use seen.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// A block for an object of `total` bytes (header included), zeroed after
    /// its header; `total` must not exceed what Layout accepts (types.rs
    /// bounds payloads).
    #[inline(always)]
    pub fn alloc(&mut self, total: usize) -> Result<Block, Error> {
        let size = total.max(MIN_BLOCK).next_multiple_of(GRANULE);
        if size > MAX_SMALL {
            return self.alloc_large(size);
        }
        let index = size / GRANULE - 1;
        let class = &mut self.classes[index];
        let block = if !class.free.is_null() {
            let block = class.free;
            // SAFETY: free blocks store the next free block at offset 16.
            class.free = unsafe { block.add(16).cast::<*mut u8>().read() };
            block
        } else if class.bump < class.end {
            // The bump pointer moves in steps of `size` up to `end` (both NULL
            // until the class has an arena), so `bump < end` leaves room.
            let block = class.bump;
            class.bump = block.wrapping_add(size);
            block
        } else {
            self.new_arena(index, size)?
        };
        // Zero the payload; the caller writes the header. The smallest block
        // has 16 payload bytes: one store, and a call to memset only beyond.
        // SAFETY: the block is `size` bytes, 16-aligned, at least MIN_BLOCK.
        unsafe {
            block.add(HEADER_SIZE).cast::<u128>().write(0);
            if size > MIN_BLOCK {
                ptr::write_bytes(block.add(MIN_BLOCK), 0, size - MIN_BLOCK);
            }
        }
        self.bytes_in_use += size;
        self.peak_bytes = self.peak_bytes.max(self.bytes_in_use);
        Ok(Block {
            ptr: block,
            large: false,
        })
    }

    /// Gives size class `index` (blocks of `size` bytes) a new arena, carved
    /// from the newest segment or from a new one, and returns its first block.
    #[cold]
    #[inline(never)]
    fn new_arena(&mut self, index: usize, size: usize) -> Result<*mut u8, Error> {
        self.arenas.try_reserve(1).map_err(|_| Error::NoMemory)?;
        if self.carve == self.carve_end {
            if self.segments.len() >= self.segment_limit {
                return Err(Error::NoMemory);
            }
            self.segments.try_reserve(1).map_err(|_| Error::NoMemory)?;
            // SAFETY: the layout has a non-zero size.
            let segment = unsafe { alloc(segment_layout()) };
            if segment.is_null() {
                return Err(Error::NoMemory);
            }
            // A heap's first segment keeps 4 KiB pages: a small heap stays small.
            if !self.segments.is_empty() {
                advise_huge_pages(segment, SEGMENT_SIZE);
            }
            let biased = segment.wrapping_sub(self.segments.len() * SEGMENT_SIZE);
            self.segments.push(biased);
            self.carve = segment;
            self.carve_end = segment.wrapping_add(SEGMENT_SIZE);
        }
        let base = self.carve;
        self.carve = base.wrapping_add(ARENA_SIZE);
        // The segment's biased address is `segment * SEGMENT_SIZE` below its
        // real one, so this is `segment << 18 | granule`.
        let first_id = (base.addr().wrapping_sub(self.segments[self.segments.len() - 1].addr()) / GRANULE) as Id;
        // SAFETY: the arena is ours, ARENA_SIZE-aligned; its first word holds
        // its block size, its second the id of its first granule.
        unsafe {
            base.cast::<usize>().write(size);
            base.cast::<usize>().add(1).write(first_id as usize);
        }
        self.arenas.push(base);
        let first = base.wrapping_add(ARENA_HEADER);
        let blocks = (ARENA_SIZE - ARENA_HEADER) / size;
        let class = &mut self.classes[index];
        class.bump = first.wrapping_add(size);
        class.end = first.wrapping_add(blocks * size);
        Ok(first)
    }

    #[cold]
    #[inline(never)]
    fn alloc_large(&mut self, size: usize) -> Result<Block, Error> {
        let total = size + LARGE_PREFIX;
        let layout = Layout::from_size_align(total, GRANULE).map_err(|_| Error::SizeTooLarge(size))?;
        if self.large_free == NO_ID {
            if self.large_ids.len() >= MAX_LARGE {
                return Err(Error::NoMemory);
            }
            self.large_ids.try_reserve(1).map_err(|_| Error::NoMemory)?;
        }
        // SAFETY: the layout has a non-zero size.
        let prefix = unsafe { alloc_zeroed(layout) }.cast::<LargePrefix>();
        if prefix.is_null() {
            return Err(Error::NoMemory);
        }
        let header = prefix.cast::<u8>().wrapping_add(LARGE_PREFIX);
        // Room for a new slot was reserved above when no slot was free.
        let slot = if self.large_free == NO_ID {
            self.large_ids.push(header);
            self.large_ids.len() - 1
        } else {
            let slot = self.large_free as usize;
            self.large_free = (self.large_ids[slot].addr() >> 1) as Id;
            self.large_ids[slot] = header;
            slot
        };
        // SAFETY: `prefix` is a fresh block we own; `self.large` is the list head.
        unsafe {
            (*prefix).next = self.large;
            (*prefix).size = total;
            (*prefix).id = LARGE_IDS as usize + slot;
            if !self.large.is_null() {
                (*self.large).prev = prefix;
            }
        }
        self.large = prefix;
        self.bytes_in_use += total;
        self.peak_bytes = self.peak_bytes.max(self.bytes_in_use);
        Ok(Block {
            ptr: header,
            large: true,
        })
    }

    /// Returns an object's block. The caller has run every callback; the header
    /// is marked Freed here.
    ///
    /// # Safety
    /// `header` must be a live object allocated by this pool, not used again.
    #[inline]
    pub unsafe fn free(&mut self, header: &Header) {
        let block = header as *const Header as *mut u8;
        if header.is_large() {
            header.mark_freed();
            // SAFETY: per the contract.
            return unsafe { self.free_large(block) };
        }
        header.mark_freed();
        let base = arena_of(block);
        // SAFETY: small blocks live in an ARENA_SIZE-aligned arena whose first
        // word is the block size; the block has room for the link at offset 16.
        // That size is a multiple of GRANULE from MIN_BLOCK to MAX_SMALL, so
        // its class index is in bounds.
        unsafe {
            let size = base.cast::<usize>().read();
            let class = self.classes.get_unchecked_mut(size / GRANULE - 1);
            block.add(16).cast::<*mut u8>().write(class.free);
            class.free = block;
            self.bytes_in_use -= size;
        }
    }

    /// Returns a large block (its header marked Freed) to the system.
    ///
    /// # Safety
    /// `block` must be a large block of this pool, not used again.
    #[cold]
    #[inline(never)]
    unsafe fn free_large(&mut self, block: *mut u8) {
        let prefix = block.wrapping_sub(LARGE_PREFIX).cast::<LargePrefix>();
        // SAFETY: large blocks carry a prefix linking them into `self.large`.
        unsafe {
            let LargePrefix { prev, next, size, id } = prefix.read();
            let slot = id - LARGE_IDS as usize;
            self.large_ids[slot] = ptr::without_provenance_mut((self.large_free as usize) << 1 | FREE_SLOT);
            self.large_free = slot as Id;
            if prev.is_null() {
                self.large = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            self.bytes_in_use -= size;
            dealloc(prefix.cast(), Layout::from_size_align_unchecked(size, GRANULE));
        }
    }

    /// Retires an object's block without making it reusable (checked mode's
    /// quarantine): the header stays, marked Freed, until the pool goes.
    pub fn retire(&mut self, header: &Header) {
        let size = self.block_bytes(header);
        header.mark_freed();
        self.bytes_in_use -= size;
    }

    /// The bytes a live object of this pool is charged in `bytes_in_use`
    /// (its block, and the prefix of a large block).
    pub fn block_bytes(&self, header: &Header) -> usize {
        let prefix = if header.is_large() { LARGE_PREFIX } else { 0 };
        prefix + Self::header_to_end(header)
    }

    /// The payload bytes of a live object's block: its payload as allocated,
    /// plus the rounding up to the block's size.
    pub fn payload_bytes(header: &Header) -> usize {
        Self::header_to_end(header) - HEADER_SIZE
    }

    /// The bytes from a live object's header to the end of its block, read
    /// from the block alone.
    #[inline(always)]
    fn header_to_end(header: &Header) -> usize {
        let block = header as *const Header as *const u8;
        if header.is_large() {
            // SAFETY: large blocks carry their prefix, with the size of it and the block.
            unsafe { (*block.wrapping_sub(LARGE_PREFIX).cast::<LargePrefix>()).size - LARGE_PREFIX }
        } else {
            // SAFETY: small blocks live in an arena whose first word is the block size.
            unsafe { arena_of(block).cast::<usize>().read() }
        }
    }

    /// The id of a live object of this pool.
    #[inline(always)]
    pub fn id_of(&self, header: &Header) -> Id {
        let block = header as *const Header as *const u8;
        if header.is_large() {
            // SAFETY: large blocks carry their prefix, with the id.
            unsafe { (*block.wrapping_sub(LARGE_PREFIX).cast::<LargePrefix>()).id as Id }
        } else {
            let base = arena_of(block);
            // SAFETY: small blocks live in an arena whose second word is the
            // id of its first granule.
            let first = unsafe { base.cast::<usize>().add(1).read() } as Id;
            first + ((block.addr() - base.addr()) / GRANULE) as Id
        }
    }

    /// What turns ids back into headers, valid until the pool next allocates
    /// (a new segment or large block may move the tables it reads).
    #[inline(always)]
    pub fn ids(&self) -> IdMap {
        IdMap {
            segments: self.segments.as_ptr(),
            large: self.large_ids.as_ptr(),
        }
    }

    /// The header of the live object whose id is `id`.
    ///
    /// # Safety
    /// `id` must be the id of a live object of this pool.
    #[inline(always)]
    pub unsafe fn header_of(&self, id: Id) -> &Header {
        // SAFETY: per the contract; the map is used before anything allocates.
        unsafe { &*self.ids().header(id) }
    }

    /// A pool that takes at most `limit` segments, to test the limit without
    /// 60 GiB of objects.
    #[cfg(test)]
    pub fn with_segment_limit(limit: usize) -> Pool {
        let mut pool = Pool::new();
        pool.segment_limit = limit;
        pool
    }

    /// Calls `f` with every live object's header. Nothing may allocate from or
    /// free to this pool until the walk ends.
    pub fn for_each_live(&self, mut f: impl FnMut(&Header)) {
        for &base in &self.arenas {
            // SAFETY: every arena starts with its block size.
            let size = unsafe { base.cast::<usize>().read() };
            let class = &self.classes[size / GRANULE - 1];
            let first = base.wrapping_add(ARENA_HEADER);
            let inside = |p: *mut u8| p >= first && p < base.wrapping_add(ARENA_SIZE);
            // Only the class's newest arena is partly handed out.
            let end = if inside(class.bump) || class.bump == base.wrapping_add(ARENA_SIZE) {
                class.bump
            } else {
                first.wrapping_add((ARENA_SIZE - ARENA_HEADER) / size * size)
            };
            let mut p = first;
            while p < end {
                // SAFETY: every block below the bump pointer holds a header.
                let header = unsafe { &*p.cast::<Header>() };
                if header.state() != State::Freed {
                    f(header);
                }
                p = p.wrapping_add(size);
            }
        }
        let mut prefix = self.large;
        while !prefix.is_null() {
            // SAFETY: the list links large blocks (live, or retired), each followed by a header.
            unsafe {
                let header = &*prefix.cast::<u8>().add(LARGE_PREFIX).cast::<Header>();
                if header.state() != State::Freed {
                    f(header);
                }
                prefix = (*prefix).next;
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for (index, &biased) in self.segments.iter().enumerate() {
            let segment = biased.wrapping_add(index * SEGMENT_SIZE);
            // SAFETY: each segment was allocated with this layout and is freed once.
            unsafe { dealloc(segment, segment_layout()) };
        }
        let mut prefix = self.large;
        while !prefix.is_null() {
            // SAFETY: the list links blocks allocated with their recorded size.
            unsafe {
                let next = (*prefix).next;
                dealloc(
                    prefix.cast(),
                    Layout::from_size_align_unchecked((*prefix).size, GRANULE),
                );
                prefix = next;
            }
        }
    }
}
