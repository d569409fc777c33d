//! The object header: 16 bytes in front of every payload.
//!
//! ```text
//! offset  0  tag: pointer  the object's Type | SLOW (bit 7)
//!                          | WEAKLY_REFERENCED (bit 6) | LARGE (bit 5)
//!                          | FINALIZED (bit 4) | state (bits 0..=3)
//!                          (a `*const Type` whose low bits carry the marks,
//!                          changed with `map_addr`, so it keeps its provenance;
//!                          C reads it as a uintptr_t)
//! offset  8  refcnt: u32   the reference count; u32::MAX is sticky (an immortal object)
//! offset 12  gc: u32       tracked: the object's index in the vector of its generation
//!                          (or in the collector's unreachable vector)
//! offset 16  payload       16-byte aligned, zeroed at allocation
//! ```
//!
//! Types are aligned to 256 bytes, so the eight low bits of their address are
//! free for the state, the FINALIZED mark, the LARGE mark (the block came from
//! the system allocator, not from a size-class arena), the WEAKLY_REFERENCED
//! mark (the heap's weak reference table has an entry for the object) and the
//! SLOW mark (the object belongs to a checked heap).
//!
//! The first 16 bytes are part of the C ABI: `rcgc_incref_inline` and
//! `rcgc_decref_inline` in include/rcgc.h (cbindgen.toml's trailer, struct
//! `rcgc_object_head`) read `tag` and `refcnt` and write `refcnt` directly.
//! They change a count only when SLOW is clear and the count is neither
//! IMMORTAL nor (for a decref) 0 or 1; everything else goes to rcgc_incref or
//! rcgc_decref. So SLOW must be set on every object whose refcount operations
//! need the library (checked heaps validate each pointer), it must survive
//! every later change of the tag, including the freed mark of a quarantined
//! block, and `refcnt` must stay a u32 at offset 8 with IMMORTAL = u32::MAX.
//! The const assertions below keep the layout.
//!
//! All fields are `Cell`s: objects are reached from C through raw pointers,
//! several `&Header` to one object may be alive at once (a callback decrefs an
//! object the collector is looking at), and the heap is used by one thread at
//! a time.

use std::cell::Cell;
use std::ffi::c_void;

use crate::types::Type;

/// Bytes in front of the payload.
pub const HEADER_SIZE: usize = 16;

/// Where an object stands with respect to the collector.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not tracked: a type without traverse, an untracked object, or one being freed.
    Untracked = 0,
    /// Tracked, in the collector's generation vector 0 (which generation
    /// that vector holds is the collector's business: a full collection can
    /// make the largest vector the oldest generation without touching a header).
    Vector0 = 1,
    /// Tracked, in generation vector 1.
    Vector1 = 2,
    /// Tracked, in generation vector 2.
    Vector2 = 3,
    /// Tracked, in the permanent generation (rcgc_freeze): never a candidate,
    /// so no collection writes to its header.
    Permanent = 4,
    /// Found unreachable by the running collection; `gc` indexes its unreachable vector.
    Unreachable = 7,
    /// A free block of the pool.
    Freed = 8,
}

// The collector indexes its vectors by a Vector state's value less one.
const _: () = assert!(State::Vector0 as u8 == 1 && State::Vector1 as u8 == 2 && State::Vector2 as u8 == 3);

const STATE_MASK: usize = 0b1111;
const FINALIZED: usize = 0b01_0000;
const LARGE: usize = 0b10_0000;
const WEAKLY_REFERENCED: usize = 0b100_0000;
/// The object belongs to a checked heap: the header's inline refcount
/// functions always call the library for it. Part of the ABI (RCGC_HEAD_SLOW).
const SLOW: usize = 0b1000_0000;
/// The low bits of a type's address that the tag uses.
pub const TAG_MASK: usize = 0b1111_1111;

impl State {
    /// The state the four state bits of a tag name (one load: the bits only
    /// ever hold a state's value).
    #[inline(always)]
    fn from_bits(bits: usize) -> State {
        const BY_BITS: [State; STATE_MASK + 1] = {
            let mut table = [State::Untracked; STATE_MASK + 1];
            table[State::Vector0 as usize] = State::Vector0;
            table[State::Vector1 as usize] = State::Vector1;
            table[State::Vector2 as usize] = State::Vector2;
            table[State::Permanent as usize] = State::Permanent;
            table[State::Unreachable as usize] = State::Unreachable;
            table[State::Freed as usize] = State::Freed;
            table
        };
        BY_BITS[bits & STATE_MASK]
    }

    /// The state of a tracked object in generation vector `vector` (0..=2).
    pub fn vector(vector: usize) -> State {
        match vector {
            0 => State::Vector0,
            1 => State::Vector1,
            _ => State::Vector2,
        }
    }

    /// The generation vector of a `Vector*` state.
    pub fn as_vector(self) -> Option<usize> {
        match self {
            State::Vector0 => Some(0),
            State::Vector1 => Some(1),
            State::Vector2 => Some(2),
            _ => None,
        }
    }

    /// Whether an object in this state is tracked by the collector.
    pub fn is_tracked(self) -> bool {
        !matches!(self, State::Untracked | State::Freed)
    }
}

/// The header in front of every object's payload.
#[repr(C, align(16))]
pub struct Header {
    /// The type's address with the mark bits in its low byte, kept as a
    /// pointer so that it keeps the type's provenance.
    tag: Cell<*const Type>,
    refcnt: Cell<u32>,
    gc: Cell<u32>,
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_SIZE);
// The layout include/rcgc.h's rcgc_object_head promises to C (see the top of this file).
const _: () = assert!(std::mem::offset_of!(Header, tag) == 0);
const _: () = assert!(std::mem::offset_of!(Header, refcnt) == std::mem::size_of::<usize>());
const _: () = assert!(std::mem::size_of::<Cell<u32>>() == 4);

/// The refcount value that never changes again (UINT32_MAX, RCGC_REFCNT_IMMORTAL in C).
pub const IMMORTAL: u32 = u32::MAX;

impl Header {
    /// Writes a fresh header for a new object of `ty` with refcount 1, untracked;
    /// `large` records that the block came from the system allocator. Objects of
    /// a checked heap get the SLOW mark.
    ///
    /// # Safety
    /// `at` must point to writable memory of at least HEADER_SIZE bytes, 16-byte aligned.
    pub unsafe fn init<'a>(at: *mut u8, ty: &Type, large: bool) -> &'a Header {
        let header = at.cast::<Header>();
        let large = if large { LARGE } else { 0 };
        let slow = if ty.heap().checked().is_some() { SLOW } else { 0 };
        // SAFETY: the caller hands us aligned, writable, exclusively owned memory.
        unsafe {
            header.write(Header {
                tag: Cell::new((ty as *const Type).map_addr(|a| a | large | slow)),
                refcnt: Cell::new(1),
                gc: Cell::new(0),
            });
            &*header
        }
    }

    /// The header of the object whose payload starts at `payload`.
    ///
    /// # Safety
    /// `payload` must be the payload address of an object allocated by rcgc
    /// whose memory is still owned by its heap.
    #[inline(always)]
    pub unsafe fn from_payload<'a>(payload: *const c_void) -> &'a Header {
        // SAFETY: the header sits HEADER_SIZE bytes before every payload.
        unsafe { &*payload.cast::<u8>().sub(HEADER_SIZE).cast::<Header>() }
    }

    /// The payload address of this object.
    #[inline(always)]
    pub fn payload(&self) -> *mut c_void {
        (self as *const Header as *mut u8).wrapping_add(HEADER_SIZE).cast()
    }

    /// The object's address (its header) as an integer, for messages.
    pub fn addr(&self) -> usize {
        self.payload() as usize
    }

    /// The tag's bits: the type's address and the marks.
    #[inline(always)]
    fn bits(&self) -> usize {
        self.tag.get().addr()
    }

    /// Changes the tag's mark bits, keeping the type pointer's provenance.
    #[inline(always)]
    fn update(&self, f: impl FnOnce(usize) -> usize) {
        self.tag.set(self.tag.get().map_addr(f));
    }

    /// The object's type.
    #[inline(always)]
    pub fn ty(&self) -> &Type {
        // SAFETY: the tag holds the address of the object's type, which lives as
        // long as its heap, and so as long as any of its objects.
        unsafe { &*self.tag.get().map_addr(|a| a & !TAG_MASK) }
    }

    /// The collector state.
    #[inline(always)]
    pub fn state(&self) -> State {
        State::from_bits(self.bits() & STATE_MASK)
    }

    /// The collector state as its raw number (`State as u8`), for range tests.
    #[inline(always)]
    pub fn state_raw(&self) -> u8 {
        (self.bits() & STATE_MASK) as u8
    }

    /// Sets the collector state.
    #[inline(always)]
    pub fn set_state(&self, state: State) {
        self.update(|tag| (tag & !STATE_MASK) | state as usize);
    }

    /// Sets the state and the `gc` word together (tracking into a vector slot).
    #[inline(always)]
    pub fn place(&self, state: State, index: usize) {
        self.set_state(state);
        self.gc.set(index as u32);
    }

    /// Whether finalize has run for this object.
    pub fn finalized(&self) -> bool {
        self.bits() & FINALIZED != 0
    }

    /// Whether the block came from the system allocator rather than an arena.
    pub fn is_large(&self) -> bool {
        self.bits() & LARGE != 0
    }

    /// Marks finalize as run (it never runs again for this object).
    pub fn set_finalized(&self) {
        self.update(|tag| tag | FINALIZED);
    }

    /// Whether weak references to this object may exist (see src/weakref.rs).
    #[inline(always)]
    pub fn weakly_referenced(&self) -> bool {
        self.bits() & WEAKLY_REFERENCED != 0
    }

    /// Records whether weak references to this object exist.
    pub fn set_weakly_referenced(&self, value: bool) {
        let mark = if value { WEAKLY_REFERENCED } else { 0 };
        self.update(|tag| (tag & !WEAKLY_REFERENCED) | mark);
    }

    /// The reference count.
    #[inline(always)]
    pub fn refcnt(&self) -> u32 {
        self.refcnt.get()
    }

    /// Sets the reference count.
    #[inline(always)]
    pub fn set_refcnt(&self, value: u32) {
        self.refcnt.set(value);
    }

    /// The `gc` word: the object's index in its vector.
    #[inline(always)]
    pub fn gc(&self) -> u32 {
        self.gc.get()
    }

    /// Sets the `gc` word.
    #[inline(always)]
    pub fn set_gc(&self, value: u32) {
        self.gc.set(value);
    }

    /// Marks a block free, keeping its type for misuse reports and its SLOW
    /// mark (a stale pointer into a checked heap still takes the checked path).
    pub fn mark_freed(&self) {
        self.update(|tag| (tag & (!TAG_MASK | SLOW)) | State::Freed as usize);
        self.refcnt.set(0);
    }
}

/// The largest number of tracked objects one generation can hold (the index is a u32).
pub const MAX_TRACKED: usize = u32::MAX as usize;
