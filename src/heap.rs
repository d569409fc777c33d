//! The heap: owns the types, the allocator, the collector's generations, the
//! statistics, the configuration and the misuse handler.
//!
//! A heap is used by one thread at a time and is re-entered by user callbacks
//! (a finalizer decrefs, a clear callback allocates), so its methods take
//! `&self` and its state lives in `Cell`s and `UnsafeCell`s whose borrows never
//! span a user callback.

use std::alloc::{Layout, alloc};
use std::cell::{Cell, UnsafeCell};
use std::ffi::{CString, c_char, c_void};
use std::fmt;
use std::ptr::{self, NonNull};

use crate::collector::GcState;
use crate::debug::DebugState;
use crate::error::Error;
use crate::header::{HEADER_SIZE, Header};
use crate::pool::Pool;
use crate::types::{MAX_PAYLOAD, Type, rcgc_type_spec};

/// Receives misuse that a void function cannot return (a decref of an object
/// whose refcount is already zero, ...): `message` names the function, the
/// object's address and its type; it is valid only during the call. If the
/// handler returns, the offending call does nothing.
#[allow(non_camel_case_types)]
pub type rcgc_misuse_fn = Option<unsafe extern "C" fn(message: *const c_char, ctx: *mut c_void)>;

/// What the heap is doing; decides which calls are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing running: every call is allowed.
    Idle,
    /// A collection is running traverse callbacks: no allocation, no tracking changes.
    Traversing,
    /// A collection is running finalizers of unreachable objects.
    Finalizing,
    /// A collection is clearing unreachable objects.
    Clearing,
    /// Objects whose refcount reached zero are being finalized and freed.
    Freeing,
    /// The gc callbacks (rcgc_add_callback) of a collection are running.
    Callbacks,
    /// A collection is running the callbacks of weak references to unreachable objects.
    WeakCallbacks,
    /// rcgc_heap_free is finalizing and clearing what is left.
    ShuttingDown,
    /// The debug output sink (rcgc_set_debug_output) is running.
    Reporting,
    /// rcgc_heap_free is running the destroy callbacks of what is left: no
    /// allocation, and reaching a count of zero frees nothing.
    Sweeping,
}

impl Phase {
    /// The phase as words for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Traversing => "running traverse callbacks of a collection",
            Phase::Finalizing => "running finalizers of a collection",
            Phase::Clearing => "clearing the garbage of a collection",
            Phase::Freeing => "freeing objects whose refcount reached zero",
            Phase::Callbacks => "running the gc callbacks of a collection",
            Phase::WeakCallbacks => "running weak reference callbacks of a collection",
            Phase::ShuttingDown => "being freed (rcgc_heap_free)",
            Phase::Reporting => "writing gc debug output (rcgc_set_debug_output)",
            Phase::Sweeping => "destroying its last objects (rcgc_heap_free)",
        }
    }
}

/// Options for a new heap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    /// Bytes the heap may hold, headers included; 0 for no limit.
    pub memory_limit: usize,
    /// Checked mode (src/checked.rs).
    pub checked: bool,
}

/// Counters of a heap, filled by rcgc_heap_get_stats.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rcgc_heap_stats {
    /// Set by the caller to sizeof(rcgc_heap_stats) before the call.
    pub struct_size: usize,
    /// Objects allocated and not yet freed.
    pub live_objects: usize,
    /// Objects tracked by the collector.
    pub tracked_objects: usize,
    /// Bytes occupied by live objects, 16-byte headers included, each object
    /// rounded up to its allocation block.
    pub bytes_in_use: usize,
    /// The highest bytes_in_use so far.
    pub peak_bytes: usize,
    /// Objects ever allocated in this heap.
    pub allocated_total: usize,
    /// Objects ever freed in this heap.
    pub freed_total: usize,
}

/// One private heap of refcounted objects.
pub struct Heap {
    pool: UnsafeCell<Pool>,
    types: UnsafeCell<Vec<NonNull<Type>>>,
    slots_type: Cell<*const Type>,
    weakref_type: Cell<*const Type>,
    /// Which objects have weak references (src/weakref.rs).
    pub(crate) weak: crate::weakref::WeakTable,
    /// Whether any registered type has a finalizer (else collections skip that step).
    has_finalizers: Cell<bool>,
    /// Set when an internal error (a panic) interrupted a collection or a
    /// freeing loop: the heap's structures may be half-updated, so it refuses
    /// further work and can only be freed.
    poisoned: Cell<bool>,
    /// The collector's generations, counts and thresholds.
    pub(crate) gc: GcState,
    /// The debug flags, their output and the garbage list (src/debug.rs).
    pub(crate) debug: DebugState,
    phase: Cell<Phase>,
    /// The newest object whose refcount reached zero while the freeing loop
    /// runs (NULL if none): the top of the pending list, kept apart from
    /// `pending` because freeing a chain pushes one object and pops it again.
    pub(crate) pending_top: Cell<*const Header>,
    /// The older objects waiting for the freeing loop, the newest last.
    pub(crate) pending: UnsafeCell<Vec<*const Header>>,
    /// Where pending objects go when `pending` cannot grow: a list linked
    /// through their (refcnt, gc) words, which dead objects no longer need.
    pub(crate) overflow: Cell<*const Header>,
    pub(crate) draining: Cell<bool>,
    pub(crate) tracked: Cell<usize>,
    allocated_total: Cell<usize>,
    freed_total: Cell<usize>,
    memory_limit: usize,
    misuse: Cell<(rcgc_misuse_fn, *mut c_void)>,
    /// Present in checked mode: which thread is inside the heap.
    checked: Option<crate::checked::Owner>,
}

/// The default misuse handler: prints the message to stderr and aborts, as a
/// sanitizer would.
pub fn default_misuse(message: fmt::Arguments<'_>) -> ! {
    eprintln!("rcgc: misuse: {message}");
    std::process::abort();
}

/// Marks the heap unusable if it is dropped while a panic unwinds: held over
/// the operations that could leave the heap's structures half-updated.
pub(crate) struct PoisonOnUnwind<'a>(pub(crate) &'a Heap);

impl PoisonOnUnwind<'_> {
    /// The operation finished without unwinding: drops the guard without
    /// asking whether the thread is panicking.
    #[inline(always)]
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.set(true);
        }
    }
}

/// The error of an allocation whose payload size is out of bounds.
#[cold]
#[inline(never)]
fn size_error(ty: &Type, size: usize) -> Error {
    if size < ty.size {
        Error::SizeTooSmall {
            size,
            min: ty.size,
            ty: ty.display_name(),
        }
    } else {
        Error::SizeTooLarge(size)
    }
}

/// Moves `value` into a fresh heap allocation without aborting when memory runs out.
fn try_box<T>(value: T) -> Result<NonNull<T>, Error> {
    let layout = Layout::new::<T>();
    // SAFETY: T is a non-zero-sized struct here (Heap, Type).
    let p = unsafe { alloc(layout) }.cast::<T>();
    let p = NonNull::new(p).ok_or(Error::NoMemory)?;
    // SAFETY: fresh, aligned, exclusively owned memory.
    unsafe { p.as_ptr().write(value) };
    Ok(p)
}

/// Drops and frees what `try_box` made.
///
/// # Safety
/// `p` must come from `try_box::<T>` and not be used again.
unsafe fn drop_box<T>(p: NonNull<T>) {
    // SAFETY: per the contract, `p` holds a live T allocated with Layout::new::<T>().
    unsafe {
        ptr::drop_in_place(p.as_ptr());
        std::alloc::dealloc(p.as_ptr().cast(), Layout::new::<T>());
    }
}

impl Heap {
    /// A new heap with CPython's defaults and the built-in slots type.
    pub fn new(config: Config) -> Result<NonNull<Heap>, Error> {
        let heap = try_box(Heap {
            pool: UnsafeCell::new(Pool::new()),
            types: UnsafeCell::new(Vec::new()),
            slots_type: Cell::new(ptr::null()),
            weakref_type: Cell::new(ptr::null()),
            weak: Default::default(),
            has_finalizers: Cell::new(false),
            poisoned: Cell::new(false),
            gc: GcState::new(),
            debug: DebugState::default(),
            phase: Cell::new(Phase::Idle),
            pending_top: Cell::new(ptr::null()),
            pending: UnsafeCell::new(Vec::new()),
            overflow: Cell::new(ptr::null()),
            draining: Cell::new(false),
            tracked: Cell::new(0),
            allocated_total: Cell::new(0),
            freed_total: Cell::new(0),
            memory_limit: config.memory_limit,
            misuse: Cell::new((None, ptr::null_mut())),
            checked: config.checked.then(Default::default),
        })?;
        crate::checked::heap_created(config.checked);
        // SAFETY: just created, not shared yet.
        let h = unsafe { heap.as_ref() };
        let builtins = h.register_type(&crate::slots::spec()).and_then(|slots| {
            slots.clear_only.set(false);
            slots.sweepable.set(true);
            h.slots_type.set(slots);
            h.weakref_type.set(h.register_type(&crate::weakref::spec())?);
            Ok(())
        });
        match builtins {
            Ok(()) => Ok(heap),
            Err(e) => {
                // SAFETY: the heap holds no objects yet and is not used again.
                unsafe { Heap::destroy(heap) };
                Err(e)
            }
        }
    }

    /// Fails if an internal error left the heap unusable.
    pub fn check_usable(&self) -> Result<(), Error> {
        if self.poisoned.get() {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// What the heap is doing.
    pub fn phase(&self) -> Phase {
        self.phase.get()
    }

    /// Sets the phase, returning the previous one.
    pub(crate) fn enter(&self, phase: Phase) -> Phase {
        self.phase.replace(phase)
    }

    /// Registers a type. The returned type lives as long as the heap.
    pub fn register_type(&self, spec: &rcgc_type_spec) -> Result<&Type, Error> {
        // SAFETY: the FFI layer passes specs whose name is NULL or NUL-terminated.
        self.add_type(unsafe { Type::from_spec(self, spec) }?)
    }

    /// Registers a type whose references are the pointer fields at `offsets`
    /// (see `Type::with_refs`). The returned type lives as long as the heap.
    pub fn register_type_with_refs(&self, spec: &rcgc_type_spec, offsets: &[usize]) -> Result<&Type, Error> {
        // SAFETY: as in register_type.
        self.add_type(unsafe { Type::with_refs(self, spec, offsets) }?)
    }

    fn add_type(&self, ty: Type) -> Result<&Type, Error> {
        let has_finalizer = ty.finalize.is_some();
        // SAFETY: no user code runs while this borrow is alive.
        let types = unsafe { &mut *self.types.get() };
        types.try_reserve(1).map_err(|_| Error::NoMemory)?;
        let ty = try_box(ty)?;
        if self.checked.is_some() {
            // SAFETY: just made; freed below if it cannot be registered.
            if let Err(e) = crate::checked::register_type(self, unsafe { ty.as_ref() }) {
                // SAFETY: not shared with anyone yet.
                unsafe { drop_box(ty) };
                return Err(e);
            }
        }
        types.push(ty);
        if has_finalizer {
            self.has_finalizers.set(true);
        }
        // SAFETY: types are freed only with the heap.
        Ok(unsafe { ty.as_ref() })
    }

    /// Checked mode's state, if the heap is checked.
    pub fn checked(&self) -> Option<&crate::checked::Owner> {
        self.checked.as_ref()
    }

    /// Whether any type of this heap has a finalizer.
    pub fn has_finalizers(&self) -> bool {
        self.has_finalizers.get()
    }

    /// The built-in slots type.
    pub fn slots_type(&self) -> &Type {
        // SAFETY: set at creation (a heap whose creation failed never reaches
        // a caller), freed with the heap.
        unsafe { &*self.slots_type.get() }
    }

    /// The built-in slots type's address (NULL while the heap is being built),
    /// for identity tests.
    pub(crate) fn slots_type_ptr(&self) -> *const Type {
        self.slots_type.get()
    }

    /// The built-in weak reference type.
    pub fn weakref_type(&self) -> &Type {
        // SAFETY: as for slots_type.
        unsafe { &*self.weakref_type.get() }
    }

    /// The built-in weak reference type's address, for identity tests.
    pub(crate) fn weakref_type_ptr(&self) -> *const Type {
        self.weakref_type.get()
    }

    /// Runs `f` with the allocator. `f` must not call user code.
    #[inline(always)]
    fn with_pool<R>(&self, f: impl FnOnce(&mut Pool) -> R) -> R {
        // SAFETY: one thread uses the heap, and `f` never re-enters it; the only
        // shared borrows that span user code (the final sweep's) exist while the
        // phase is Sweeping, when nothing takes this path (alloc is refused and
        // a count reaching zero frees nothing).
        f(unsafe { &mut *self.pool.get() })
    }

    /// The allocator, read-only.
    pub(crate) fn pool(&self) -> &Pool {
        // SAFETY: mutable borrows (with_pool) never span user code and never
        // happen while this one lives (see with_pool).
        unsafe { &*self.pool.get() }
    }

    /// Allocates an object of `ty` with a zeroed payload of `size` bytes and
    /// refcount 1; objects of types with traverse are counted (which may run
    /// an automatic collection first) and tracked in generation 0.
    #[inline(always)]
    pub fn alloc(&self, ty: &Type, size: usize) -> Result<&Header, Error> {
        if size < ty.size || size > MAX_PAYLOAD {
            return Err(size_error(ty, size));
        }
        if matches!(self.phase(), Phase::Traversing | Phase::Sweeping) {
            return Err(Error::Reentrant(self.phase().describe()));
        }
        self.check_usable()?;
        let total = HEADER_SIZE + size;
        if self.memory_limit != 0 {
            self.check_limit(total)?;
        }
        let block = self.with_pool(|pool| pool.alloc(total))?;
        // SAFETY: the pool hands out 16-byte aligned blocks of at least `total` bytes.
        let header = unsafe { Header::init(block.ptr, ty, block.large) };
        if self.checked.is_some() {
            self.register_checked(header)?;
        }
        self.allocated_total.set(self.allocated_total.get() + 1);
        if ty.is_gc() {
            self.gc.count_allocation(self);
            // What track checks holds here: the object is new and untracked,
            // its type has traverse, and the collection count_allocation may
            // have run is over (it left the phase as it found it, not
            // Traversing, and the heap usable, or it would have unwound).
            if let Err(e) = self.track_young(header) {
                self.undo_tracked_alloc(header);
                return Err(e);
            }
        }
        Ok(header)
    }

    /// Checked mode: registers a new object, or gives its block back.
    #[cold]
    #[inline(never)]
    fn register_checked(&self, header: &Header) -> Result<(), Error> {
        crate::checked::register_object(self, header).inspect_err(|_| {
            // SAFETY: the block was never handed out.
            self.with_pool(|pool| unsafe { pool.free(header) });
        })
    }

    /// The object could not be tracked: it never existed for the caller, so
    /// its allocation is undone quietly.
    #[cold]
    #[inline(never)]
    fn undo_tracked_alloc(&self, header: &Header) {
        self.gc.count_deallocation();
        if self.checked.is_some() {
            crate::checked::unregister(header.payload() as usize);
        }
        // SAFETY: the block was never handed out.
        self.with_pool(|pool| unsafe { pool.free(header) });
        self.allocated_total.set(self.allocated_total.get() - 1);
    }

    /// Fails with MemoryLimit when `total` more bytes would pass the limit even
    /// after a full collection (the heap has a limit).
    #[inline(never)]
    fn check_limit(&self, total: usize) -> Result<(), Error> {
        let needed = Pool::charge(total);
        let fits = |heap: &Heap| heap.pool().bytes_in_use().saturating_add(needed) <= heap.memory_limit;
        if fits(self) {
            return Ok(());
        }
        if self.phase() == Phase::Idle {
            // An emergency collection; its own failures leave the limit to decide.
            let _ = self.collect(2);
        }
        if fits(self) {
            Ok(())
        } else {
            Err(Error::MemoryLimit {
                requested: needed,
                in_use: self.pool().bytes_in_use(),
                limit: self.memory_limit,
            })
        }
    }

    /// Gives an object's memory back; every callback has run.
    #[inline]
    pub(crate) fn release_memory(&self, header: &Header) {
        if self.checked.is_some() {
            crate::checked::object_freed(self, header);
            self.with_pool(|pool| pool.retire(header));
        } else {
            // SAFETY: the object is dead and no pointer to its header is used
            // again except for misuse detection of freed small blocks.
            self.with_pool(|pool| unsafe { pool.free(header) });
        }
        self.freed_total.set(self.freed_total.get() + 1);
    }

    /// The number of live objects: allocated less freed (one counter fewer
    /// to keep on every allocation and free).
    fn live(&self) -> usize {
        self.allocated_total.get() - self.freed_total.get()
    }

    /// The heap's counters (struct_size is left 0 for the caller to fill).
    pub fn stats(&self) -> rcgc_heap_stats {
        let pool = self.pool();
        let (bytes_in_use, peak_bytes) = (pool.bytes_in_use(), pool.peak_bytes());
        rcgc_heap_stats {
            struct_size: 0,
            live_objects: self.live(),
            tracked_objects: self.tracked.get(),
            bytes_in_use,
            peak_bytes,
            allocated_total: self.allocated_total.get(),
            freed_total: self.freed_total.get(),
        }
    }

    /// Sets the misuse handler; None restores the default (print and abort).
    pub fn set_misuse_handler(&self, handler: rcgc_misuse_fn, ctx: *mut c_void) {
        self.misuse.set((handler, ctx));
    }

    /// Reports misuse that cannot be returned as an error. The default handler
    /// prints the message to stderr and aborts, as a sanitizer would.
    pub fn misuse(&self, message: fmt::Arguments<'_>) {
        let text = CString::new(message.to_string().replace('\0', "?")).unwrap_or_default();
        match self.misuse.get() {
            (Some(handler), ctx) => {
                // SAFETY: the user registered this handler for this heap; the
                // message outlives the call.
                unsafe { handler(text.as_ptr(), ctx) }
            }
            (None, _) => default_misuse(format_args!("{}", text.to_string_lossy())),
        }
    }

    /// Collects every live object's header (a snapshot), for shutdown and
    /// the heap picture.
    pub(crate) fn live_objects(&self, keep: impl Fn(&Header) -> bool) -> Result<Vec<*const Header>, Error> {
        let count = self.live();
        let mut all = Vec::new();
        all.try_reserve_exact(count).map_err(|_| Error::NoMemory)?;
        self.pool().for_each_live(|h| {
            if keep(h) && all.len() < all.capacity() {
                all.push(h as *const Header);
            }
        });
        Ok(all)
    }

    /// Shutdown: collects, reports what is left under RCGC_DEBUG_LEAK and
    /// releases the garbage list, finalizes every object not yet finalized,
    /// clears every container, then destroys and frees everything left, and
    /// the heap.
    ///
    /// # Safety
    /// `heap` must come from `Heap::new` and not be used again; no callback of
    /// it may be running.
    pub unsafe fn destroy(heap: NonNull<Heap>) {
        // SAFETY: per the contract the heap is alive.
        let h = unsafe { heap.as_ref() };
        h.gc.enabled.set(false);
        if h.poisoned.get() {
            // The collector's structures cannot be trusted: only destroy
            // callbacks run, and all memory goes with the pool.
            h.enter(Phase::Sweeping);
        } else {
            let _ = h.collect(2);
            h.enter(Phase::ShuttingDown);
            h.clear_all_weakrefs();
            // Under RCGC_DEBUG_LEAK, what survived; then the garbage list's
            // references go, so that what it held is freed with the rest.
            h.report_leaks();
            h.release_garbage("rcgc_heap_free");
        }
        // Finalizers may create objects with finalizers; a bounded number of
        // rounds keeps a finalizer that always makes a new one from looping forever.
        let rounds = if h.phase() == Phase::Sweeping { 0 } else { 16 };
        for _ in 0..rounds {
            let Ok(batch) = h.live_objects(|o| o.ty().finalize.is_some() && !o.finalized()) else {
                break;
            };
            if batch.is_empty() {
                break;
            }
            h.hold_and_run(&batch, |o| {
                o.set_finalized();
                if let Some(finalize) = o.ty().finalize {
                    // SAFETY: a live object of this heap, held by us during the call.
                    unsafe { finalize(o.payload()) }
                }
            });
        }
        // Break every reference so that what refcounting can free, it frees.
        if let Some(Ok(batch)) = (h.phase() != Phase::Sweeping).then(|| h.live_objects(|o| o.ty().clear.is_some())) {
            h.hold_and_run(&batch, |o| {
                if let Some(clear) = o.ty().clear {
                    // SAFETY: a live object of this heap, held by us during the call.
                    unsafe { clear(o.payload()) }
                }
            });
        }
        // What is left is held by references the program never released:
        // destroy it all; from now on nothing allocates and nothing is freed
        // one by one, so the walk sees a pool that does not change.
        h.enter(Phase::Sweeping);
        h.pool().for_each_live(|o| {
            if let Some(destroy) = o.ty().destroy {
                // SAFETY: a live object; destroy must not touch other objects.
                unsafe { destroy(o.payload()) }
            }
        });
        crate::checked::forget(h);
        crate::checked::heap_freed(h);
        // SAFETY: the types live in the heap until now.
        unsafe {
            for &ty in (*h.types.get()).iter() {
                drop_box(ty);
            }
            drop_box(heap);
        }
    }

    /// Increfs every object of `batch`, runs `f` on each, then decrefs them
    /// all, so that none is freed while the batch is being worked on.
    fn hold_and_run(&self, batch: &[*const Header], f: impl Fn(&Header)) {
        for &o in batch {
            // SAFETY: snapshot of live objects; none can die while we hold them.
            unsafe { crate::refcount::incref(&*o) };
        }
        for &o in batch {
            // SAFETY: held by the loop above.
            f(unsafe { &*o });
        }
        for &o in batch {
            // SAFETY: held since the first loop; this releases our reference.
            unsafe { crate::refcount::decref(&*o, "rcgc_heap_free") };
        }
    }
}
