//! The generational cycle collector: CPython 3.11's algorithm (Modules/gcmodule.c)
//! on per-generation vectors instead of doubly linked lists.
//!
//! # Bookkeeping
//!
//! Each generation is a `Vec` of 32-bit object ids (src/pool.rs: a block's
//! segment and granule, or its slot among large blocks), turned back into
//! headers by one load from the pool's tables. There are three such vectors,
//! and `vector_of` says which one holds which generation. A tracked object's
//! header holds its vector (state `Vector0`..`Vector2`) and, in its `gc`
//! word, its index there, so untracking is a swap-remove and a young
//! collection touches only young objects; and a full collection makes the
//! largest vector generation 2's by changing `vector_of`, without writing to
//! the objects that keep their place. Cost per tracked object: 16 bytes of
//! header plus the 4-byte vector slot. The permanent generation and the unreachable set hold
//! ids too (NO_ID for a hole); the mark stack, which lives only during a
//! scan, holds pointers.
//!
//! # Counting and triggering (as CPython 3.11)
//!
//! - Allocating an object of a type with traverse adds 1 to `counts[0]`; freeing
//!   one subtracts 1 if `counts[0]` is above zero. Tracking and untracking do not count.
//! - After such an allocation, if `counts[0] > thresholds[0]`, collection is
//!   enabled, `thresholds[0] != 0` and the heap is idle, the oldest generation
//!   whose count exceeds its threshold is collected, except that generation 2
//!   is skipped while `long_lived_pending < long_lived_total / 4` (objects
//!   promoted into generation 2 since the last full collection, against the
//!   survivors of that collection). This runs before the new object is tracked.
//! - A collection of generation g adds 1 to `counts[g + 1]` (g < 2) and zeroes
//!   `counts[0..=g]` before it starts.
//!
//! # One collection of generations 0..=g
//!
//! 1. Candidates: the vectors of generations 0..=g are concatenated, the
//!    largest first (the oldest on a tie), the others appended from the
//!    youngest up. In a full collection the largest vector's objects then keep
//!    their index, and their vector becomes generation 2's. No
//!    user code has run yet, and room for every survivor in the target
//!    generation (g + 1, or 2) and for the scan's side array is reserved now,
//!    so nothing later can fail for lack of memory after an object has
//!    changed state.
//! 2. Scan (phase Traversing: only traverse callbacks run; allocation, tracking
//!    changes and collections are refused). The scan keeps its numbers in a
//!    side array with one 32-bit entry per candidate, found from the header's
//!    state and index (see `Candidates`): it reads object headers but never
//!    writes them, so a full collection of a live heap writes nothing to the
//!    objects that keep their place.
//!    - every reference from a candidate to a candidate, reported through
//!      traverse, subtracts 1 from the referent's gc_refs, which an entry gets
//!      from the refcount the first time the scan touches it, as a member or as
//!      a referent: one pass instead of two. What remains is the number of
//!      references from outside the candidates: older generations and
//!      untracked objects act as roots, with no write barrier. gc_refs that
//!      would go below zero mean a refcount smaller than the references
//!      traverse reports (a bug in the program): the collection is abandoned,
//!      every candidate survives, and the misuse handler is told.
//!    - candidates with gc_refs > 0 are roots: they and everything they reach
//!      through candidates are marked reachable, by an explicit stack (never
//!      the C stack) on which the referents an object reports are queued so
//!      that the first one is expanded next (a tree allocated in preorder is
//!      then marked in address order), counting them. If the stack cannot grow,
//!      the entry is marked unscanned and repeated passes over the candidates
//!      finish the job.
//!    - objects of the built-in slots type and of types with declared
//!      references are traversed inline, without the indirect calls a user
//!      type's traverse and visit cost.
//! 3. One pass moves the reachable candidates to the target generation and
//!    the rest, whose number the count of step 2 gives in advance, to the
//!    unreachable set, with state Unreachable and their index there in `gc`;
//!    freeing or untracking one leaves a hole (NO_ID). Whichever of the two
//!    needs no new room is compacted, in order, into the candidates' own
//!    buffer: the survivors of a full collection (the largest vector
//!    compacted in place), unless most candidates are garbage, and otherwise
//!    the unreachable set, which then becomes `unreachable`. Under
//!    RCGC_DEBUG_SAVEALL room for that number is also reserved in the garbage
//!    list. RCGC_DEBUG_COLLECTABLE then writes the set (src/debug.rs), before
//!    anything else happens to it.
//!
//!    Then (step 3b, src/weakref.rs) weak references to unreachable objects,
//!    and unreachable weak references, are cleared, and the callbacks of the
//!    cleared ones that are not unreachable themselves run (phase WeakCallbacks);
//!    those weak references, if still alive, move to the target generation.
//! 4. Finalizing: every unreachable object whose type has finalize and which was
//!    never finalized is marked FINALIZED and finalized (held by an extra
//!    reference during the call). All of them run before any clear.
//! 5. If a finalizer ran, the scan of step 2 is repeated over the unreachable
//!    set alone: objects now referenced from outside it, and what they reach,
//!    were resurrected and move to the target generation.
//!
//!    Then (step 5b) weak references made by finalizers to objects still
//!    unreachable are cleared without callbacks.
//! 6. The number returned is the size of the unreachable set now (CPython's
//!    count: resurrected objects, and objects freed by refcounting during
//!    finalization, are not counted), plus the weak references freed when their
//!    callbacks of step 3b returned, as CPython 3.11 counts them.
//! 7. Clearing: each remaining object, held by an extra reference, has its
//!    clear callback run; refcounting then frees what the cycle held: the
//!    objects whose count that clear (and the release of the extra reference)
//!    took to zero are freed right after it, by one run of the freeing loop,
//!    before the next object is cleared. An object still alive after its
//!    clear moves to the target generation. Under RCGC_DEBUG_SAVEALL the
//!    object is appended to the heap's garbage list instead, with a new
//!    reference, and moves to the target generation uncleared (CPython's
//!    delete_garbage).
//!
//!    A set made only of objects whose references rcgc knows and which have
//!    no destroy callback (slots objects, types with declared references;
//!    known in step 3) is freed in one sweep instead, RCGC_DEBUG_SAVEALL
//!    off: no callback of its members can run, so nothing can reach them or
//!    resurrect them any more. The references that leave the set are
//!    dropped first, then every member is freed, without dropping the
//!    references between members one by one (`sweep_garbage`). What outside
//!    objects see is what the clearing loop gives them: each loses exactly
//!    the references the set held.
//!
//! # Invariants
//!
//! - Outside a collection, a tracked object is in exactly one generation vector
//!   at the index its `gc` word names, as its id, and its state names that
//!   vector; `vector_of` is a permutation of the three vectors.
//! - An id is turned into a header through a map of the pool's tables
//!   (`Pool::ids`) only while the pool cannot allocate (a scan, or a loop
//!   that runs no user code); loops that run user code decode each id afresh.
//! - During steps 4 to 7, an object is in `unreachable` iff its state is
//!   Unreachable, at the index in its `gc` word.
//! - During a scan no header is written: candidates keep their state and
//!   index, from which their side-array entry is found.
//! - No user code runs while a borrow of a vector is alive.

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_void};
use std::ptr;
use std::time::Instant;

use crate::error::Error;
use crate::header::{Header, MAX_TRACKED, State};
use crate::heap::{Heap, Phase, PoisonOnUnwind};
use crate::pages::ZeroedPages;
use crate::pool::{Id, NO_ID};
use crate::refcount::{decref, incref};

/// Number of generations.
pub const GENERATIONS: usize = 3;
/// CPython's default thresholds.
pub const DEFAULT_THRESHOLDS: [usize; GENERATIONS] = [700, 10, 10];

type Objects = Vec<*const Header>;
type Ids = Vec<Id>;

/// Statistics of one generation (gc.get_stats()), cumulative since the heap
/// was created; filled by rcgc_get_stats.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rcgc_gen_stats {
    /// Set by the caller to sizeof(rcgc_gen_stats) before the call.
    pub struct_size: usize,
    /// Collections of this generation (and the younger ones with it).
    pub collections: usize,
    /// Unreachable objects found by them (what rcgc_collect returns).
    pub collected: usize,
    /// Objects that could not be collected (always 0: rcgc has no legacy
    /// finalizers; objects RCGC_DEBUG_SAVEALL keeps in the garbage list count
    /// as collected, as in CPython).
    pub uncollectable: usize,
    /// Objects examined by them (CPython 3.15's "candidates").
    pub candidates: usize,
    /// Time spent in them, in nanoseconds (CPython 3.15's "duration").
    pub duration_ns: u64,
}

/// Which end of a collection a gc callback is told about.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rcgc_gc_phase {
    /// Before the collection (gc.callbacks' "start").
    RCGC_GC_START = 0,
    /// After it (gc.callbacks' "stop").
    RCGC_GC_STOP = 1,
}

/// What a gc callback is told about a collection (gc.callbacks' info dict).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rcgc_gc_info {
    /// The oldest generation collected.
    pub generation: c_int,
    /// At RCGC_GC_STOP: the unreachable objects found; 0 at RCGC_GC_START.
    pub collected: usize,
    /// At RCGC_GC_STOP: the objects that could not be collected (0).
    pub uncollectable: usize,
    /// At RCGC_GC_STOP: how long the collection took, in nanoseconds.
    pub duration_ns: u64,
}

/// A gc callback (gc.callbacks): called before and after every collection,
/// automatic or explicit, with `info` valid only during the call. It may
/// allocate, incref and decref, and add or remove callbacks; rcgc_collect
/// from it fails with RCGC_ERR_REENTRANT.
#[allow(non_camel_case_types)]
pub type rcgc_gc_callback_fn =
    Option<unsafe extern "C" fn(phase: rcgc_gc_phase, info: *const rcgc_gc_info, ctx: *mut c_void)>;

/// The collector's state, owned by the heap.
pub struct GcState {
    /// The generation vectors, by vector number (an object's state names its
    /// vector: State::Vector0..=Vector2).
    vectors: [UnsafeCell<Ids>; GENERATIONS],
    /// The vector number of each generation: a permutation of 0..=2.
    vector_of: [Cell<u8>; GENERATIONS],
    /// The permanent generation (rcgc_freeze).
    permanent: UnsafeCell<Ids>,
    stats: [Cell<rcgc_gen_stats>; GENERATIONS],
    callbacks: UnsafeCell<Vec<(rcgc_gc_callback_fn, *mut c_void)>>,
    unreachable: UnsafeCell<Ids>,
    stack: UnsafeCell<Objects>,
    /// The scan's side array (gc_refs and marks), one entry per candidate.
    refs: UnsafeCell<SideArray>,
    thresholds: [Cell<usize>; GENERATIONS],
    counts: [Cell<usize>; GENERATIONS],
    /// Whether allocations may start a collection.
    pub enabled: Cell<bool>,
    pub(crate) long_lived_pending: Cell<usize>,
    pub(crate) long_lived_total: Cell<usize>,
}

/// Runs `f` on one of the collector's vectors. `f` must not run user code.
fn with<T, R>(cell: &UnsafeCell<T>, f: impl FnOnce(&mut T) -> R) -> R {
    // SAFETY: one thread uses the heap, and no closure passed here re-enters
    // it, so this is the only borrow of the vector while it lives.
    f(unsafe { &mut *cell.get() })
}

/// Makes room for one more object in generation 0, whose index must fit the
/// header's 32-bit `gc` word.
#[cold]
#[inline(never)]
fn grow_young(v: &mut Ids) -> Result<(), Error> {
    if v.len() >= MAX_TRACKED {
        return Err(Error::NoMemory);
    }
    v.try_reserve(1).map_err(|_| Error::NoMemory)
}

impl Default for GcState {
    fn default() -> Self {
        GcState::new()
    }
}

impl GcState {
    /// Empty generations with CPython's defaults.
    pub fn new() -> GcState {
        GcState {
            vectors: Default::default(),
            vector_of: [0, 1, 2].map(Cell::new),
            permanent: UnsafeCell::new(Vec::new()),
            stats: Default::default(),
            callbacks: UnsafeCell::new(Vec::new()),
            unreachable: UnsafeCell::new(Vec::new()),
            stack: UnsafeCell::new(Vec::new()),
            refs: UnsafeCell::new(SideArray::default()),
            thresholds: DEFAULT_THRESHOLDS.map(Cell::new),
            counts: Default::default(),
            enabled: Cell::new(true),
            long_lived_pending: Cell::new(0),
            long_lived_total: Cell::new(0),
        }
    }

    /// The thresholds of the three generations.
    pub fn thresholds(&self) -> [usize; GENERATIONS] {
        self.thresholds.each_ref().map(Cell::get)
    }

    /// Sets the thresholds; `thresholds[0] == 0` turns automatic collection off.
    pub fn set_thresholds(&self, thresholds: [usize; GENERATIONS]) {
        for (cell, value) in self.thresholds.iter().zip(thresholds) {
            cell.set(value);
        }
    }

    /// The counts of the three generations (see the module comment).
    pub fn counts(&self) -> [usize; GENERATIONS] {
        self.counts.each_ref().map(Cell::get)
    }

    /// Counts the allocation of an object of a type with traverse and runs an
    /// automatic collection when one is due.
    #[inline]
    pub(crate) fn count_allocation(&self, heap: &Heap) {
        let count = self.counts[0].get() + 1;
        self.counts[0].set(count);
        let threshold = self.thresholds[0].get();
        let due = cfg!(feature = "stress-gc") || (count > threshold && threshold != 0);
        if due && self.enabled.get() && heap.phase() == Phase::Idle {
            heap.collect_generations();
        }
    }

    /// The statistics of `generation`.
    pub fn stats(&self, generation: usize) -> rcgc_gen_stats {
        self.stats[generation].get()
    }

    /// The number of objects in the permanent generation.
    pub fn freeze_count(&self) -> usize {
        with(&self.permanent, |v| v.len())
    }

    /// Adds a gc callback (the same function and context may be added twice).
    pub fn add_callback(&self, callback: rcgc_gc_callback_fn, ctx: *mut c_void) -> Result<(), Error> {
        // SAFETY: no user code runs while this borrow lives.
        let callbacks = unsafe { &mut *self.callbacks.get() };
        callbacks.try_reserve(1).map_err(|_| Error::NoMemory)?;
        callbacks.push((callback, ctx));
        Ok(())
    }

    /// Removes the first registration of `callback` with `ctx`.
    pub fn remove_callback(&self, callback: rcgc_gc_callback_fn, ctx: *mut c_void) -> Result<(), Error> {
        // SAFETY: no user code runs while this borrow lives.
        let callbacks = unsafe { &mut *self.callbacks.get() };
        let same = |&(f, c): &(rcgc_gc_callback_fn, *mut c_void)| {
            f.map(|f| f as usize) == callback.map(|f| f as usize) && c == ctx
        };
        let index = callbacks.iter().position(same).ok_or(Error::NoSuchCallback)?;
        callbacks.remove(index);
        Ok(())
    }

    fn callback(&self, index: usize) -> Option<(rcgc_gc_callback_fn, *mut c_void)> {
        // SAFETY: no user code runs while this borrow lives.
        unsafe { &*self.callbacks.get() }.get(index).copied()
    }

    /// Counts the freeing of an object of a type with traverse.
    #[inline]
    pub(crate) fn count_deallocation(&self) {
        let count = self.counts[0].get();
        self.counts[0].set(count.saturating_sub(1));
    }

    /// The vector of generation `generation`.
    #[inline(always)]
    fn generation(&self, generation: usize) -> &UnsafeCell<Ids> {
        &self.vectors[self.vector_of[generation].get() as usize]
    }

    /// The state of an object tracked in generation `generation`.
    #[inline(always)]
    fn state_of(&self, generation: usize) -> State {
        State::vector(self.vector_of[generation].get() as usize)
    }

    /// The generation of an object in state `state`, if it is in one.
    pub(crate) fn generation_of(&self, state: State) -> Option<usize> {
        let vector = state.as_vector()?;
        self.vector_of.iter().position(|v| v.get() as usize == vector)
    }

    /// The number of objects in `generation`.
    pub(crate) fn len(&self, generation: usize) -> usize {
        with(self.generation(generation), |v| v.len())
    }

    /// Appends `h`, whose id is `id`, to generation `generation`, which must
    /// have room (reserved earlier).
    fn place_reserved(&self, generation: usize, h: &Header, id: Id) {
        let state = self.state_of(generation);
        with(self.generation(generation), |v| {
            debug_assert!(
                v.len() < v.capacity(),
                "room was reserved at the start of the collection"
            );
            h.place(state, v.len());
            v.push(id);
        });
    }
}

/// The scan's side array. Small scans reuse one vector; a scan of
/// LARGE_SCAN candidates or more gets a fresh mapping in huge pages
/// (src/pages.rs), already zeroed by the kernel, let go after the collection:
/// 2 page faults per 2 MiB instead of 512 (about 1.4 ms saved per million
/// candidates on the VMs measured).
#[derive(Default)]
struct SideArray {
    small: Vec<u32>,
    large: Option<ZeroedPages>,
    /// `large` has not been written since it was mapped.
    fresh: bool,
}

/// The smallest scan whose side array fills a huge page.
pub(crate) const LARGE_SCAN: usize = crate::pages::HUGE_PAGE / size_of::<u32>();

impl SideArray {
    /// Makes room for a scan of `len` candidates, so that `zeroed(len)`
    /// cannot fail.
    fn reserve(&mut self, len: usize) -> Result<(), Error> {
        self.large = None;
        if len >= LARGE_SCAN
            && let Some(pages) = ZeroedPages::new(len)
        {
            self.large = Some(pages);
            self.fresh = true;
            return Ok(());
        }
        self.small.clear();
        self.small.try_reserve(len).map_err(|_| Error::NoMemory)
    }

    /// `len` zeroed entries, or None if there is no memory for them.
    fn zeroed(&mut self, len: usize) -> Option<&mut [u32]> {
        if self.large.as_ref().is_some_and(|pages| pages.as_slice().len() >= len) {
            let fresh = std::mem::take(&mut self.fresh);
            let entries = &mut self.large.as_mut()?.as_mut_slice()[..len];
            if !fresh {
                entries.fill(0);
            }
            return Some(entries);
        }
        self.large = None;
        self.small.clear();
        self.small.try_reserve(len).ok()?;
        self.small.resize(len, 0);
        Some(&mut self.small)
    }

    /// The entries of the last scan.
    fn entries(&self) -> &[u32] {
        match &self.large {
            Some(pages) => pages.as_slice(),
            None => &self.small,
        }
    }

    /// Lets the memory of a large scan go.
    fn trim(&mut self) {
        self.large = None;
        if self.small.capacity() > 1 << 16 {
            self.small = Vec::new();
        }
    }
}

/// Which objects a scan takes as candidates, and where each one's entry is in
/// the scan's side array: an object whose raw state is `raw` and whose `gc`
/// word is `i` is a candidate iff `offset[raw]` is set, at position
/// `offset[raw] + i`. The candidate set is laid out in that order, so the
/// member at position p has its entry at p.
#[derive(Clone, Copy)]
struct Candidates {
    offset: [u32; 8],
}

const NOT_A_CANDIDATE: u32 = u32::MAX;

impl Candidates {
    /// Generations 0..=oldest, laid out as `base` first, then the others from
    /// the youngest up, with the given lengths and states.
    fn generations(base: usize, oldest: usize, lens: [usize; GENERATIONS], states: [State; GENERATIONS]) -> Candidates {
        let mut offset = [NOT_A_CANDIDATE; 8];
        offset[states[base] as usize] = 0;
        let mut next = lens[base];
        for (generation, len) in lens.iter().enumerate().take(oldest + 1) {
            if generation != base {
                offset[states[generation] as usize] = next as u32;
                next += len;
            }
        }
        Candidates { offset }
    }

    /// The unreachable set, in its own order.
    fn unreachable() -> Candidates {
        let mut offset = [NOT_A_CANDIDATE; 8];
        offset[State::Unreachable as usize] = 0;
        Candidates { offset }
    }

    /// The entry position of `h`, if it is a candidate.
    #[inline(always)]
    fn position(&self, h: &Header) -> Option<usize> {
        match self.offset[h.state_raw() as usize & 7] {
            NOT_A_CANDIDATE => None,
            offset => Some(offset as usize + h.gc() as usize),
        }
    }
}

/// A side-array entry: set once the entry holds gc_refs.
const INIT: u32 = 1 << 29;
/// Known reachable (queued or scanned).
const REACHABLE: u32 = 1 << 31;
/// Known reachable, referents not scanned yet (the mark stack could not grow).
const UNSCANNED: u32 = 1 << 30;
/// gc_refs, clamped: a refcount above it counts as this many, which can only
/// make an object look referenced from outside (or, past it, end the scan as
/// a refcount contradiction): never unsafe.
const REFS: u32 = INIT - 1;

/// The state of one scan, shared with its visit callbacks.
struct Scan<'a> {
    candidates: Candidates,
    /// One entry per candidate: gc_refs and the marks. The scan never writes to
    /// an object's header.
    refs: &'a mut [u32],
    /// The built-in slots type, whose objects are traversed without callbacks.
    slots_type: *const crate::types::Type,
    stack: &'a mut Objects,
    /// Candidates found reachable so far.
    reached: usize,
    overflowed: bool,
    underflow: *const Header,
}

impl Scan<'_> {
    /// The entry of the candidate at `position`, holding its gc_refs.
    #[inline(always)]
    fn entry(&mut self, position: usize, h: &Header) -> &mut u32 {
        let entry = &mut self.refs[position];
        if *entry & INIT == 0 {
            *entry = INIT | h.refcnt().min(REFS);
        }
        entry
    }

    /// A reference from a candidate to `h`: one less reference from outside.
    #[inline(always)]
    fn subtract(&mut self, h: &Header) {
        let Some(position) = self.candidates.position(h) else {
            return;
        };
        let entry = self.entry(position, h);
        if *entry & REFS == 0 {
            self.underflow = h;
        } else {
            *entry -= 1;
        }
    }

    /// `h` is referenced from a reachable candidate: it is reachable too.
    #[inline(always)]
    fn reach(&mut self, h: &Header) {
        let Some(position) = self.candidates.position(h) else {
            return;
        };
        let entry = &mut self.refs[position];
        if *entry & (REACHABLE | UNSCANNED) != 0 {
            return;
        }
        self.reached += 1;
        let len = self.stack.len();
        if len < self.stack.capacity() {
            *entry |= REACHABLE;
            // SAFETY: len < capacity: the slot is allocated, and becomes initialized.
            unsafe {
                self.stack.as_mut_ptr().add(len).write(h);
                self.stack.set_len(len + 1);
            }
        } else {
            self.reach_grow(position, h);
        }
    }

    /// `reach` when the mark stack is full: it grows, or the entry is marked
    /// unscanned for the repeated passes.
    #[cold]
    #[inline(never)]
    fn reach_grow(&mut self, position: usize, h: &Header) {
        if self.stack.try_reserve(1).is_ok() {
            self.refs[position] |= REACHABLE;
            self.stack.push(h);
        } else {
            self.refs[position] |= UNSCANNED;
            self.overflowed = true;
        }
    }

    /// Calls `f` with each object `h` references.
    #[inline(always)]
    fn traverse(
        &mut self,
        h: &Header,
        visit: unsafe extern "C" fn(*mut c_void, *mut c_void),
        f: impl Fn(&mut Self, &Header),
    ) {
        let ty = h.ty();
        if std::ptr::eq(ty, self.slots_type) {
            // SAFETY: a live slots object; its words hold NULL, PAD or live objects.
            for &referent in unsafe { crate::slots::words(h) }.iter() {
                if crate::slots::is_object(referent) {
                    // SAFETY: as above.
                    f(self, unsafe { Header::from_payload(referent) });
                }
            }
        } else if ty.ref_words != 0 {
            // SAFETY: a live object of a type with declared references, whose
            // fields hold NULL or live objects.
            unsafe {
                crate::types::for_each_ref(h, ty.ref_words, |field| {
                    if !(*field).is_null() {
                        f(self, Header::from_payload(*field));
                    }
                });
            }
        } else if let Some(traverse) = ty.traverse {
            // SAFETY: a live tracked object; the callback only calls visit.
            unsafe { traverse(h.payload(), Some(visit), (self as *mut Self).cast()) }
        }
    }
}

/// How many side-array entries the search for roots tests at once.
const ROOT_CHUNK: usize = 16;

/// How many candidates ahead the subtraction pass prefetches.
const PREFETCH_DISTANCE: usize = 8;

/// Asks the CPU to start loading an object's header and first payload bytes,
/// which the scan will need shortly: scans are bound by memory latency.
#[inline(always)]
fn prefetch(p: *const Header) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// visit callback of the subtraction pass.
unsafe extern "C" fn visit_subtract(referent: *mut c_void, ctx: *mut c_void) {
    if !referent.is_null() {
        // SAFETY: traverse reports live objects; ctx is the Scan of this pass.
        unsafe { (*ctx.cast::<Scan>()).subtract(Header::from_payload(referent)) }
    }
}

/// visit callback of the marking pass.
unsafe extern "C" fn visit_reach(referent: *mut c_void, ctx: *mut c_void) {
    if !referent.is_null() {
        // SAFETY: traverse reports live objects; ctx is the Scan of this pass.
        unsafe { (*ctx.cast::<Scan>()).reach(Header::from_payload(referent)) }
    }
}

impl Heap {
    /// Starts tracking `h` in generation 0 (no count change).
    pub fn track(&self, h: &Header) -> Result<(), Error> {
        match h.state() {
            State::Untracked => {}
            State::Freed => {
                return Err(Error::Dead {
                    addr: h.addr(),
                    ty: h.ty().display_name(),
                });
            }
            _ => return Ok(()),
        }
        if !h.ty().is_gc() {
            return Err(Error::WrongType {
                addr: h.addr(),
                ty: h.ty().display_name(),
                expected: "which has no traverse callback and cannot be tracked",
            });
        }
        if self.phase() == Phase::Traversing {
            return Err(Error::Reentrant(Phase::Traversing.describe()));
        }
        self.check_usable()?;
        self.track_young(h)
    }

    /// Appends `h` to generation 0: what `track` does once its checks pass
    /// (an untracked live object of a type with traverse, outside traverse
    /// callbacks, in a usable heap).
    #[inline(never)]
    pub(crate) fn track_young(&self, h: &Header) -> Result<(), Error> {
        let id = self.pool().id_of(h);
        let state = self.gc.state_of(0);
        let placed = with(self.gc.generation(0), |v| {
            let len = v.len();
            if len == v.capacity() || len >= MAX_TRACKED {
                return false;
            }
            h.place(state, len);
            v.push(id);
            true
        });
        if !placed {
            return self.track_young_grow(h, id);
        }
        self.tracked.set(self.tracked.get() + 1);
        Ok(())
    }

    /// `track_young` when generation 0's vector is full: it grows first.
    #[cold]
    #[inline(never)]
    fn track_young_grow(&self, h: &Header, id: Id) -> Result<(), Error> {
        let state = self.gc.state_of(0);
        with(self.gc.generation(0), |v| {
            grow_young(v)?;
            h.place(state, v.len());
            v.push(id);
            Ok(())
        })?;
        self.tracked.set(self.tracked.get() + 1);
        Ok(())
    }

    /// The generation `h` is tracked in (None: untracked, permanent, or found
    /// unreachable by the running collection).
    pub fn generation_of(&self, h: &Header) -> Option<usize> {
        self.gc.generation_of(h.state())
    }

    /// Stops tracking `h` (a no-op for untracked objects).
    pub fn untrack(&self, h: &Header) -> Result<(), Error> {
        match h.state() {
            State::Untracked => Ok(()),
            State::Freed => Err(Error::Dead {
                addr: h.addr(),
                ty: h.ty().display_name(),
            }),
            _ if self.phase() == Phase::Traversing => Err(Error::Reentrant(Phase::Traversing.describe())),
            _ if self.check_usable().is_err() => Err(Error::Poisoned),
            State::Vector0 | State::Vector1 | State::Vector2 | State::Permanent | State::Unreachable => {
                self.remove_tracked(h);
                Ok(())
            }
        }
    }

    /// Untracks an object whose count reached zero, if it is tracked.
    #[inline]
    pub(crate) fn untrack_dead(&self, h: &Header) {
        let state = h.state_raw();
        if state != State::Untracked as u8 && (state <= State::Permanent as u8 || state == State::Unreachable as u8) {
            self.remove_tracked(h);
        }
    }

    #[inline]
    fn remove_tracked(&self, h: &Header) {
        let index = h.gc() as usize;
        // In a generation, the last object takes the place of the one removed.
        let swap_out = |objects: &UnsafeCell<Ids>| {
            with(objects, |v| {
                debug_assert!(
                    v[index] == self.pool().id_of(h),
                    "a tracked object is where its gc word says"
                );
                if let Some(last) = v.pop()
                    && index < v.len()
                {
                    v[index] = last;
                    // SAFETY: generation vectors hold ids of live objects.
                    unsafe { self.pool().header_of(last) }.set_gc(index as u32);
                }
            })
        };
        // By the raw state: Vector0..=Vector2 are 1..=3, the vector numbers
        // plus one (asserted where State is defined).
        match h.state_raw() {
            raw @ 1..=3 => swap_out(&self.gc.vectors[usize::from(raw) - 1]),
            raw if raw == State::Permanent as u8 => swap_out(&self.gc.permanent),
            _ => with(&self.gc.unreachable, |v| v[index] = NO_ID),
        }
        h.set_state(State::Untracked);
        self.tracked.set(self.tracked.get() - 1);
    }

    /// Moves `h`, if it is tracked in a generation other than `generation`,
    /// there, keeping room for `keep` more objects (room the running
    /// collection reserved); without that room, `h` stays where it is.
    pub(crate) fn move_to_generation(&self, h: &Header, generation: usize, keep: usize) {
        if self
            .gc
            .generation_of(h.state())
            .is_none_or(|current| current == generation)
        {
            return;
        }
        let room = with(self.gc.generation(generation), |v| {
            v.len() + keep < MAX_TRACKED && v.try_reserve(keep + 1).is_ok()
        });
        if room {
            let id = self.pool().id_of(h);
            self.remove_tracked(h);
            self.tracked.set(self.tracked.get() + 1);
            self.gc.place_reserved(generation, h, id);
        }
    }

    /// rcgc_collect: collects generations 0..=generation and returns the number
    /// of unreachable objects found.
    pub fn collect(&self, generation: usize) -> Result<usize, Error> {
        if self.phase() != Phase::Idle {
            return Err(Error::Reentrant(self.phase().describe()));
        }
        self.check_usable()?;
        self.collect_with_callbacks(generation)
    }

    /// A collection wrapped in the gc callbacks (CPython's
    /// gc_collect_with_callback), with its statistics recorded.
    fn collect_with_callbacks(&self, generation: usize) -> Result<usize, Error> {
        let mut info = rcgc_gc_info {
            generation: generation as c_int,
            ..Default::default()
        };
        self.run_callbacks(rcgc_gc_phase::RCGC_GC_START, &info);
        self.debug_collection_start(generation);
        let started = Instant::now();
        let result = self.collect_now(generation);
        let duration_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let found = *result.as_ref().unwrap_or(&0);
        let cell = &self.gc.stats[generation];
        cell.set(rcgc_gen_stats {
            collections: cell.get().collections + 1,
            collected: cell.get().collected + found,
            duration_ns: cell.get().duration_ns.saturating_add(duration_ns),
            ..cell.get()
        });
        self.debug_collection_done(found, duration_ns);
        info.collected = found;
        info.duration_ns = duration_ns;
        self.run_callbacks(rcgc_gc_phase::RCGC_GC_STOP, &info);
        result
    }

    fn run_callbacks(&self, phase: rcgc_gc_phase, info: &rcgc_gc_info) {
        if self.gc.callback(0).is_none() {
            return;
        }
        let outer = self.enter(Phase::Callbacks);
        let mut i = 0;
        // The list is read afresh each time: a callback may add or remove callbacks.
        while let Some((callback, ctx)) = self.gc.callback(i) {
            if let Some(callback) = callback {
                // SAFETY: registered by the user for this heap; `info` outlives the call.
                unsafe { callback(phase, info, ctx) };
            }
            i += 1;
        }
        self.enter(outer);
    }

    /// rcgc_freeze: moves every tracked object to the permanent generation,
    /// which collections ignore, and zeroes the counts (gc.freeze()).
    pub fn freeze(&self) -> Result<(), Error> {
        if self.phase() != Phase::Idle {
            return Err(Error::Reentrant(self.phase().describe()));
        }
        self.check_usable()?;
        let total: usize = (0..GENERATIONS).map(|g| self.gc.len(g)).sum();
        with(&self.gc.permanent, |v| v.try_reserve(total)).map_err(|_| Error::NoMemory)?;
        for generation in 0..GENERATIONS {
            with(self.gc.generation(generation), |from| {
                with(&self.gc.permanent, |to| {
                    for &id in from.iter() {
                        // SAFETY: generation vectors hold ids of live objects.
                        unsafe { self.pool().header_of(id) }.place(State::Permanent, to.len());
                        to.push(id);
                    }
                });
                from.clear();
            });
            self.gc.counts[generation].set(0);
        }
        Ok(())
    }

    /// rcgc_unfreeze: moves the permanent generation back into the oldest one
    /// (gc.unfreeze()).
    pub fn unfreeze(&self) -> Result<(), Error> {
        if self.phase() != Phase::Idle {
            return Err(Error::Reentrant(self.phase().describe()));
        }
        self.check_usable()?;
        let oldest = GENERATIONS - 1;
        with(self.gc.generation(oldest), |v| v.try_reserve(self.gc.freeze_count())).map_err(|_| Error::NoMemory)?;
        let state = self.gc.state_of(oldest);
        with(&self.gc.permanent, |from| {
            with(self.gc.generation(oldest), |to| {
                for &id in from.iter() {
                    // SAFETY: the permanent generation holds ids of live objects.
                    unsafe { self.pool().header_of(id) }.place(state, to.len());
                    to.push(id);
                }
            });
            from.clear();
        });
        Ok(())
    }

    /// The tracked objects of `generation` (all three when None; never the
    /// permanent generation), in no particular order.
    pub(crate) fn tracked_objects(&self, generation: Option<usize>) -> Result<Objects, Error> {
        let range = generation.map_or(0..GENERATIONS, |g| g..g + 1);
        let total: usize = range.clone().map(|g| self.gc.len(g)).sum();
        let mut all = Vec::new();
        all.try_reserve_exact(total).map_err(|_| Error::NoMemory)?;
        let ids = self.pool().ids();
        for g in range {
            with(self.gc.generation(g), |v| {
                all.extend(v.iter().map(|&id| {
                    // SAFETY: generation vectors hold ids of live objects, and
                    // nothing allocates during this loop.
                    unsafe { ids.header(id) }
                }))
            });
        }
        Ok(all)
    }

    /// The automatic collection after an allocation (CPython's
    /// gc_collect_generations).
    pub(crate) fn collect_generations(&self) {
        let counts = self.gc.counts();
        let thresholds = self.gc.thresholds();
        for generation in (0..GENERATIONS).rev() {
            if counts[generation] > thresholds[generation] || (cfg!(feature = "stress-gc") && generation == 0) {
                if generation == GENERATIONS - 1
                    && self.gc.long_lived_pending.get() < self.gc.long_lived_total.get() / 4
                {
                    continue;
                }
                // Failures are reported through the misuse handler or retried at
                // the next allocation; the allocation itself goes on.
                let _ = self.collect_with_callbacks(generation);
                break;
            }
        }
    }

    fn collect_now(&self, g: usize) -> Result<usize, Error> {
        let _poison = PoisonOnUnwind(self);
        let target = (g + 1).min(GENERATIONS - 1);
        // 1. Candidates, and room for every survivor in the target generation
        //    and for the scan's side array.
        let lens = [self.gc.len(0), self.gc.len(1), self.gc.len(2)];
        let total: usize = lens[..=g].iter().sum();
        // The largest vector is the base the others are appended to: the
        // first full collection of a heap built with collection off copies
        // nothing.
        let base = (0..=g).max_by_key(|&k| lens[k]).unwrap_or(g);
        with(self.gc.generation(base), |v| v.try_reserve(total - lens[base])).map_err(|_| Error::NoMemory)?;
        with(&self.gc.refs, |v| v.reserve(total))?;
        if target != g {
            let room = self.gc.len(target) + total;
            if room > MAX_TRACKED {
                return Err(Error::NoMemory);
            }
            with(self.gc.generation(target), |v| v.try_reserve(total)).map_err(|_| Error::NoMemory)?;
        }
        let stats = &self.gc.stats[g];
        stats.set(rcgc_gen_stats {
            candidates: stats.get().candidates + total,
            ..stats.get()
        });
        let mut cands = with(self.gc.generation(base), std::mem::take);
        for k in (0..=g).filter(|&k| k != base) {
            with(self.gc.generation(k), |v| {
                cands.extend_from_slice(v);
                v.clear();
            });
        }
        #[cfg(feature = "fault-injection")]
        crate::fault::hit(crate::fault::Site::Collection);
        if g + 1 < GENERATIONS {
            self.gc.counts[g + 1].set(self.gc.counts[g + 1].get() + 1);
        }
        for count in &self.gc.counts[..=g] {
            count.set(0);
        }

        // 2. Scan.
        let outer = self.enter(Phase::Traversing);
        let states = [0, 1, 2].map(|k| self.gc.state_of(k));
        let scanned = self.scan(&cands, Candidates::generations(base, g, lens, states));
        // 3. One pass: survivors to the target generation, the rest to the
        //    unreachable set. Whichever of the two does not need `cands` is
        //    compacted into it, in order (index <= i, so nothing unread is
        //    overwritten): the unreachable set in a young collection, whose
        //    survivors go to the reserved room of the next generation; in a
        //    full collection the survivors, unless most candidates are
        //    garbage: then the survivors go to a new vector with room for
        //    every candidate. If the scan failed, or the vector that needs
        //    room (or, under RCGC_DEBUG_SAVEALL, the garbage list) cannot get
        //    it, every candidate survives.
        let mut unreachable = with(&self.gc.unreachable, std::mem::take);
        let mut survivors: Ids = Vec::new();
        let mut garbage_in_place = target != g;
        let all_survive = match scanned {
            Ok(reached) => {
                let room = cands.len() - reached;
                if !garbage_in_place && room > reached {
                    garbage_in_place = survivors.try_reserve_exact(cands.len()).is_ok();
                }
                (!garbage_in_place && unreachable.try_reserve(room).is_err()) || !self.reserve_garbage(room)
            }
            Err(_) => true,
        };
        // In a full collection the base vector, compacted in place, becomes
        // generation 2's: its objects that keep their index keep their state
        // too, so they are not written to (nor even read) at all.
        if target == g && base != g {
            let vector = self.gc.vector_of[g].get();
            self.gc.vector_of[g].set(self.gc.vector_of[base].get());
            self.gc.vector_of[base].set(vector);
        }
        let oldest = self.gc.state_of(GENERATIONS - 1);
        let mut sweepable = true;
        let mut kept = 0;
        let mut dead = 0;
        let ids = self.pool().ids();
        let side = with(&self.gc.refs, std::mem::take);
        let marks = side.entries();
        for i in 0..cands.len() {
            let id = cands[i];
            // SAFETY: candidates are ids of live objects, and nothing allocates
            // during this loop.
            let h = || unsafe { &*ids.header(id) };
            if all_survive || marks[i] & REACHABLE != 0 {
                if target != g {
                    self.gc.place_reserved(target, h(), id);
                } else if garbage_in_place {
                    h().place(oldest, survivors.len());
                    survivors.push(id);
                } else {
                    if kept != i || i >= lens[base] {
                        h().place(oldest, kept);
                    }
                    cands[kept] = id;
                }
                kept += 1;
            } else if garbage_in_place {
                sweepable &= h().ty().sweepable.get();
                h().place(State::Unreachable, dead);
                cands[dead] = id;
                dead += 1;
            } else {
                sweepable &= h().ty().sweepable.get();
                h().place(State::Unreachable, unreachable.len());
                unreachable.push(id);
            }
        }
        with(&self.gc.refs, |v| *v = side);
        if target != g {
            if target == GENERATIONS - 1 {
                self.gc.long_lived_pending.set(self.gc.long_lived_pending.get() + kept);
            }
        } else {
            self.gc.long_lived_pending.set(0);
            self.gc.long_lived_total.set(kept);
        }
        if garbage_in_place {
            cands.truncate(dead);
            unreachable.clear();
            std::mem::swap(&mut cands, &mut unreachable);
            if target == g {
                cands = survivors;
            }
        } else if target != g {
            cands.clear();
        } else {
            cands.truncate(kept);
        }
        // Generation g gets a buffer back: the survivors if it is the target.
        with(self.gc.generation(g), |v| *v = cands);
        with(&self.gc.unreachable, |v| *v = unreachable);
        if let Err(bad) = scanned {
            self.enter(outer);
            return Err(self.report_underflow(bad));
        }
        // RCGC_DEBUG_COLLECTABLE output, before anything else happens to the set.
        let unreachable_at = |i: usize| self.unreachable_at(i);
        self.debug_collectable(unreachable_at);

        // 3b. Weak references to unreachable objects, and unreachable weak
        //     references, are cleared; the callbacks of the cleared ones that
        //     are not unreachable themselves run.
        let weakrefs_freed = if self.weak.is_empty() {
            0
        } else {
            self.weakrefs_of_garbage(unreachable_at, target)
        };

        // 4. Finalizers, all before any clear.
        self.enter(Phase::Finalizing);
        let mut finalized_any = false;
        let mut i = 0;
        while let Some(p) = self.unreachable_at(i).filter(|_| self.has_finalizers()) {
            i += 1;
            if p.is_null() {
                continue;
            }
            // SAFETY: non-NULL entries are live objects.
            let h = unsafe { &*p };
            if let Some(finalize) = h.ty().finalize
                && !h.finalized()
            {
                h.set_finalized();
                finalized_any = true;
                incref(h);
                // SAFETY: a live object, held by the reference taken above.
                unsafe { finalize(h.payload()) };
                decref(h, "rcgc_collect");
            }
        }

        // 5. Resurrection: what a finalizer made reachable again survives.
        if finalized_any {
            self.enter(Phase::Traversing);
            let mut set = with(&self.gc.unreachable, std::mem::take);
            let rescanned = self.scan(&set, Candidates::unreachable());
            let ids = self.pool().ids();
            let side = with(&self.gc.refs, std::mem::take);
            let marks = side.entries();
            for (i, slot) in set.iter_mut().enumerate() {
                if *slot != NO_ID && (rescanned.is_err() || marks[i] & REACHABLE != 0) {
                    // SAFETY: entries other than NO_ID are ids of live objects,
                    // and nothing allocates during this loop.
                    self.gc.place_reserved(target, unsafe { &*ids.header(*slot) }, *slot);
                    *slot = NO_ID;
                }
            }
            with(&self.gc.refs, |v| *v = side);
            with(&self.gc.unreachable, |v| *v = set);
            if let Err(bad) = rescanned {
                self.enter(outer);
                return Err(self.report_underflow(bad));
            }
        }

        // 5b. Weak references made by finalizers to what is still
        //     unreachable are cleared, without callbacks.
        if !self.weak.is_empty() {
            self.clear_weakrefs_of_garbage(unreachable_at);
        }

        // 6. CPython's count.
        let found = with(&self.gc.unreachable, |v| v.iter().filter(|&&id| id != NO_ID).count()) + weakrefs_freed;

        // 7. Clear: refcounting frees what the cycles held. Under
        //    RCGC_DEBUG_SAVEALL the garbage list keeps the object instead.
        //    The loop holds the freeing loop's place (`draining`): what one
        //    clear releases is freed after it, in one go.
        self.enter(Phase::Clearing);
        debug_assert!(!self.draining.get(), "collections start only from idle");
        self.draining.set(true);
        if sweepable && !self.saves_garbage() {
            self.sweep_garbage();
        }
        let mut i = 0;
        while let Some(id) = with(&self.gc.unreachable, |v| v.get(i).copied()) {
            if id != NO_ID {
                // SAFETY: entries other than NO_ID are ids of live objects.
                let h = unsafe { self.pool().header_of(id) };
                if !self.keeps_garbage(h) {
                    incref(h);
                    if let Some(clear) = h.ty().clear {
                        // SAFETY: a live object, held by the reference taken above.
                        unsafe { clear(h.payload()) };
                    }
                    decref(h, "rcgc_collect");
                    self.free_pending();
                }
                // Still here: something kept it alive; it lives on, older.
                if with(&self.gc.unreachable, |v| v[i]) == id {
                    with(&self.gc.unreachable, |v| v[i] = NO_ID);
                    self.gc.place_reserved(target, h, id);
                }
            }
            i += 1;
        }
        self.draining.set(false);
        with(&self.gc.unreachable, |v| {
            v.clear();
            if v.capacity() > 4096 {
                v.shrink_to(4096);
            }
        });
        self.trim_scratch();
        self.enter(outer);
        Ok(found)
    }

    /// Step 7 for a set whose members' types are all sweepable (the slots
    /// object, declared references without destroy), RCGC_DEBUG_SAVEALL
    /// off: no callback of the members can run, so nothing can reach them
    /// or resurrect them any more (weak references to them were cleared in
    /// steps 3b and 5b, and what the freeing of other objects runs cannot
    /// see them: an object outside the set that referenced a member would
    /// have made it reachable). So every member is freed whatever its count:
    /// first (A) the references that leave the set are dropped, each freeing
    /// what it held last; then (B) the members go, without dropping the
    /// references between them, which CPython's clear-then-free drops one
    /// by one. Afterwards the set is empty.
    fn sweep_garbage(&self) {
        // A: a member's state is Unreachable until B, so a referent with
        // another state is outside the set.
        let slots_type = self.slots_type_ptr();
        let mut i = 0;
        while let Some(id) = with(&self.gc.unreachable, |v| v.get(i).copied()) {
            i += 1;
            if id == NO_ID {
                continue;
            }
            // SAFETY: entries other than NO_ID are ids of live objects.
            let h = unsafe { self.pool().header_of(id) };
            debug_assert!(!h.weakly_referenced(), "step 3b or 5b cleared its weak references");
            let mut released = false;
            let mut drop_outside = |field: &mut *mut c_void| {
                // SAFETY: the field holds a reference to a live object.
                let referent = unsafe { Header::from_payload(*field) };
                if referent.state() != State::Unreachable {
                    *field = ptr::null_mut();
                    decref(referent, "rcgc_collect");
                    released = true;
                }
            };
            // The decrefs run only the callbacks of objects outside the set,
            // which cannot reach `h`.
            if ptr::eq(h.ty(), slots_type) {
                // SAFETY: a live slots object.
                for word in unsafe { crate::slots::words(h) }.iter_mut() {
                    if crate::slots::is_object(*word) {
                        drop_outside(word);
                    }
                }
            } else {
                // SAFETY: a live object of a type with declared references.
                unsafe {
                    crate::types::for_each_ref(h, h.ty().ref_words, |field| {
                        if !(*field).is_null() {
                            drop_outside(&mut *field);
                        }
                    });
                }
            }
            if released {
                self.free_pending();
            }
        }
        // B: nothing outside the set references a member, nor can any more.
        let mut set = with(&self.gc.unreachable, std::mem::take);
        for &id in set.iter().filter(|&&id| id != NO_ID) {
            // SAFETY: entries other than NO_ID are ids of live objects.
            let h = unsafe { self.pool().header_of(id) };
            h.set_state(State::Untracked);
            self.tracked.set(self.tracked.get() - 1);
            self.gc.count_deallocation();
            self.release_memory(h);
        }
        set.clear();
        with(&self.gc.unreachable, |v| *v = set);
    }

    /// Step 2 over `set` (ids; holes, NO_ID, allowed), whose member at
    /// position p is the candidate with entry p. Afterwards entry p of `self.gc.refs`
    /// has REACHABLE set for the members reachable from outside the set.
    /// Returns how many they are, or, on a refcount smaller than the
    /// references reported, the object (NULL if the side array could not be
    /// had).
    fn scan(&self, set: &[Id], candidates: Candidates) -> Result<usize, *const Header> {
        let mut side = with(&self.gc.refs, std::mem::take);
        let Some(refs) = side.zeroed(set.len()) else {
            return Err(ptr::null());
        };
        let mut stack = with(&self.gc.stack, std::mem::take);
        let mut scan = Scan {
            candidates,
            refs,
            slots_type: self.slots_type_ptr(),
            stack: &mut stack,
            reached: 0,
            overflowed: false,
            underflow: ptr::null(),
        };
        // No allocation happens during a scan (phase Traversing), so the ids
        // stay valid, and so does this map.
        let ids = self.pool().ids();
        // SAFETY: the set holds NO_ID or ids of live objects.
        let header = |id: Id| unsafe { ids.header_or_null(id) };
        // Each member is decoded once, PREFETCH_DISTANCE positions ahead,
        // prefetched, and kept here until its turn.
        let mut ahead = [ptr::null(); PREFETCH_DISTANCE];
        for (slot, &id) in ahead.iter_mut().zip(set) {
            *slot = header(id);
            prefetch(*slot);
        }
        for position in 0..set.len() {
            let slot = &mut ahead[position % PREFETCH_DISTANCE];
            let p = *slot;
            if let Some(&next) = set.get(position + PREFETCH_DISTANCE) {
                *slot = header(next);
                prefetch(*slot);
            }
            if p.is_null() {
                continue;
            }
            // SAFETY: a live member.
            let h = unsafe { &*p };
            scan.entry(position, h);
            scan.traverse(h, visit_subtract, Scan::subtract);
        }
        let result = if scan.underflow.is_null() {
            // Holes have entry 0: neither roots nor unscanned. Only the roots
            // are decoded, and runs of entries with none are skipped a
            // vector of them at a time: most entries are not roots, either
            // garbage or marked from an earlier root.
            let is_root = |entry: u32| entry & (REACHABLE | UNSCANNED) == 0 && entry & REFS > 0;
            for start in (0..set.len()).step_by(ROOT_CHUNK) {
                let end = (start + ROOT_CHUNK).min(set.len());
                if !scan.refs[start..end]
                    .iter()
                    .fold(false, |any, &entry| any | is_root(entry))
                {
                    continue;
                }
                for (position, &id) in set.iter().enumerate().take(end).skip(start) {
                    // Re-read: marking from a root marks later entries too.
                    if is_root(scan.refs[position]) {
                        scan.refs[position] |= REACHABLE;
                        scan.reached += 1;
                        // SAFETY: a member with an entry is live.
                        mark_from(unsafe { &*header(id) }, &mut scan);
                    }
                }
            }
            while scan.overflowed {
                scan.overflowed = false;
                for (position, &id) in set.iter().enumerate() {
                    if scan.refs[position] & UNSCANNED != 0 {
                        scan.refs[position] = (scan.refs[position] & !UNSCANNED) | REACHABLE;
                        // SAFETY: as above.
                        mark_from(unsafe { &*header(id) }, &mut scan);
                    }
                }
            }
            Ok(scan.reached)
        } else {
            Err(scan.underflow)
        };
        stack.clear();
        if stack.capacity() > 4096 {
            stack.shrink_to(4096);
        }
        with(&self.gc.stack, |v| *v = stack);
        with(&self.gc.refs, |v| *v = side);
        result
    }

    /// Entry `i` of the unreachable set as a header pointer (NULL for a hole),
    /// or None past its end.
    fn unreachable_at(&self, i: usize) -> Option<*const Header> {
        let id = with(&self.gc.unreachable, |v| v.get(i).copied())?;
        // SAFETY: entries other than NO_ID are ids of live objects.
        Some(unsafe { self.pool().ids().header_or_null(id) })
    }

    /// Lets the side array go after a large collection.
    fn trim_scratch(&self) {
        with(&self.gc.refs, SideArray::trim);
    }

    #[cold]
    fn report_underflow(&self, bad: *const Header) -> Error {
        // A scan that could not get its side array reports no object (room
        // is reserved before step 2, so this is only a safety net).
        if bad.is_null() {
            return Error::NoMemory;
        }
        // SAFETY: otherwise the scan reports a live candidate.
        let h = unsafe { &*bad };
        let error = Error::RefcountTooSmall {
            addr: h.addr(),
            ty: h.ty().display_name(),
        };
        self.misuse(format_args!("rcgc_collect: {error}"));
        error
    }
}

/// Marks everything reachable from `root` (already marked) through candidates.
fn mark_from(root: &Header, scan: &mut Scan<'_>) {
    expand(root, scan);
    while let Some(p) = scan.stack.pop() {
        // SAFETY: the stack holds live candidates.
        expand(unsafe { &*p }, scan);
    }
}

/// Marks what `h` references and queues it, so that the first referent is
/// expanded next: a structure built in order (a tree in preorder) is then
/// marked in address order, not backwards from its last branch.
#[inline(always)]
fn expand(h: &Header, scan: &mut Scan<'_>) {
    let pushed = scan.stack.len();
    scan.traverse(h, visit_reach, Scan::reach);
    scan.stack[pushed..].reverse();
}
