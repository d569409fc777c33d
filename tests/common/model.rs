//! A reference model of an rcgc heap under CPython 3.11's rules, and a harness that
//! runs one operation sequence against a real heap and the model side by side.
//!
//! Shared by the property test (`tests/model.rs`, proptest) and the fuzz target
//! (`fuzz/fuzz_targets/ops.rs`), which both include this file with `#[path]`.
//!
//! The model knows every object: its kind (a `Node` with two reference fields,
//! of a user type with Rust `extern "C"` traverse/clear/finalize/destroy
//! callbacks or of one registered with declared references, whose fields rcgc
//! traverses and clears itself and whose garbage it sweeps, with the same
//! finalizer and no destroy; a slots object with 0..=3 slots; or a weak
//! reference made by rcgc_weakref_new, which has no fields), its references,
//! how many references the test holds on it ("external": the handles, plus
//! what finalizers resurrected into the test's list or made and handed to the
//! test), hence its refcount, its generation and whether its finalizer ran; for a weak reference its referent
//! (until cleared), its callback and the callback's `ctx`; for every object the
//! list of weak references to it, in the heap's order; and the collector's
//! counts, thresholds, enabled flag and long_lived_pending/total. From those it
//! predicts, with the rules of CPython 3.11's Modules/gcmodule.c and
//! Objects/weakrefobject.c (see the top comments of src/collector.rs and
//! src/weakref.rs):
//!
//! - counting: every allocation of a tracked object (weak references included,
//!   those finalizers make during a collection too) adds 1 to count 0, every
//!   freeing of one subtracts 1 if above 0; the allocation that makes count 0
//!   exceed threshold 0 (enabled, threshold 0 non-zero) first collects the
//!   oldest generation whose count exceeds its threshold, generation 2 only when
//!   long_lived_pending >= long_lived_total / 4, unless a collection or the
//!   freeing of objects is running (an allocation by a finalizer never
//!   collects); a collection of g adds 1 to count g+1 and zeroes counts 0..=g
//!   when it starts (with the `stress-gc` feature every tracked allocation
//!   collects, at least generation 0, under the same exception);
//! - one collection: candidates (generations 0..=g), gc_refs = refcount minus
//!   references from candidates, reachable = closure of gc_refs > 0, survivors to
//!   min(g+1, 2); then (handle_weakrefs) weak references to unreachable objects,
//!   and unreachable weak references, are cleared, and the callbacks of the
//!   cleared ones that are not unreachable themselves run, each weak reference
//!   held for its call and moved afterwards, if alive, to the survivors'
//!   generation; finalizers of every unreachable object not yet finalized run
//!   (each object's finalizer runs at most once, ever) before any clear; the
//!   weak references they make are new objects in generation 0, outside the
//!   unreachable set; the unreachable set is scanned again and what the
//!   finalizers resurrected survives; then the weak references the finalizers
//!   made to what is still unreachable are cleared, without callbacks (rcgc's
//!   documented rule, newer CPython's `clear_weakrefs` over the final
//!   unreachable set in Python/gc.c: CPython 3.11 leaves them to the
//!   deallocation during the clearing, which runs their callbacks); the count
//!   returned is what is still unreachable (objects freed during finalization
//!   are not counted, nor are weak references finalizers made) plus the weak
//!   references freed as their callbacks returned in handle_weakrefs (CPython
//!   3.11 counts them); clearing the rest frees the cycles, what each clear
//!   releases being freed after it. The model walks the unreachable set in the
//!   heap's list order, for the callbacks, the finalizers and the clears alike:
//!   it reads that order from the RCGC_DEBUG_COLLECTABLE lines the heap writes
//!   for each collection (to a sink; a gc callback marks where each collection
//!   starts), after checking that the heap's set is the model's. CPython's
//!   algorithm leaves that order open, and outcomes depend on it: which
//!   finalizer runs from deallocation rather than from the collector's loop
//!   (hence whether what it resurrects lands in generation 0 or the target
//!   generation), whether a weak reference and its referent dying in the same
//!   step call back, whether a finalizer gets the shared weak reference that
//!   the references another finalizer (or a clear) drops free in the same
//!   step, and count 0 (allocations and saturated decrements interleave);
//! - refcounting: an object whose count reaches 0 runs its finalizer (if not
//!   run yet; resurrection puts it back in generation 0), then its weak
//!   references (those its finalizer just made to it included) are cleared and
//!   the callbacks of those whose own count is not 0 run, a weak reference lets
//!   go of its referent, and it drops its references onto a last-in-first-out
//!   worklist like the heap's (so the model follows rcgc's freeing order, which
//!   differs from CPython's recursive one: README, Weak references);
//! - weak references: rcgc_weakref_new without callback returns the object's
//!   shared weak reference (the first in its list, without callback, and not
//!   waiting on the worklist with a count of 0: that one is being freed, as it
//!   would already be in CPython) when it has one, as a new reference;
//!   otherwise it allocates (holding the referent meanwhile: the allocation may
//!   collect); if it has no callback and that collection's finalizers made the
//!   object a shared weak reference meanwhile, it returns that one instead and
//!   frees the new one at once (count 0 goes up and down again), as CPython's
//!   PyWeakref_NewRef does; otherwise the new one goes first in the list if it
//!   has no callback, else right after the first if that one has none;
//!   rcgc_weakref_get returns the referent until the weak reference is
//!   cleared, NULL afterwards.
//!
//! Finalizer behaviours (per Node, changeable): none; resurrect the object itself
//! (incref it and push it on the test's "resurrected" list); resurrect its first
//! referent the same way; drop its first reference (which can free objects in
//! the middle of a collection's finalization); make a weak reference, without
//! callback or with a recording one, to the object itself or to its first
//! referent (if any), and hand it to the test, which from then on holds it as
//! it holds the weak references operations make (they can be read and dropped,
//! and freed by a later collection). The heap's finalizer reports the address
//! rcgc_weakref_new returned and the Node it finalized; the model, running the
//! same finalizer, takes that address for its new weak reference, or checks
//! that it is the shared one the model returns. Weak reference callbacks
//! never allocate (`ctx`: the number of the operation that made the weak
//! reference, or for one a finalizer made, the Node's id with the top bit
//! set): none; record the call; record it and drop the reference the test
//! handed the callback at creation, so that the weak reference is freed as its
//! callback returns unless something else holds it (this is how the collect
//! result's weak reference term is checked).
//!
//! After every operation the harness checks: the live set (destroy callbacks of
//! Nodes, and of a private untracked "tag" object each slots object holds in an
//! extra last slot and each declared Node in a third declared field; for weak
//! references, which have no destroy callback, the weak reference objects
//! rcgc_get_objects lists) equals the model's, each object
//! destroyed exactly once; every live object's refcount and generation; the
//! counts, thresholds, enabled flag and the heap's live/tracked statistics; the
//! objects finalizers resurrected; the weak references finalizers made (each
//! the model's new one, or the shared one it expects, and no other); the
//! callbacks that ran, each at most once ever, with its own weak reference,
//! which rcgc_weakref_get already reported cleared during the call; what
//! rcgc_weakref_get returns for every live weak reference; rcgc_weakref_count
//! of every live object; that the heap ran exactly the collections the model
//! ran, each with the model's unreachable set; that no misuse was reported.
//! After every collection the count returned equals the model's; after every
//! full collection the live set is exactly what is reachable from the test's
//! references and from the references of callbacks not run yet.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::mem::size_of;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgc::collector::{rcgc_gc_info, rcgc_gc_phase};
use rcgc::debug::rcgc_debug_flag;
use rcgc::error::rcgc_result;
use rcgc::ffi::{rcgc_counts, rcgc_thresholds};
use rcgc::header::Header;
use rcgc::heap::{Config, Heap};
use rcgc::refcount::{decref, incref, set_ref};
use rcgc::slots;
use rcgc::types::{Type, rcgc_type_spec, rcgc_visit_fn};
use rcgc::weakref::rcgc_weakref_fn;

/// The three values of an rcgc_counts or an rcgc_thresholds.
trait Triple {
    fn array(self) -> [usize; 3];
}

impl Triple for rcgc_counts {
    fn array(self) -> [usize; 3] {
        [self.gen0, self.gen1, self.gen2]
    }
}

impl Triple for rcgc_thresholds {
    fn array(self) -> [usize; 3] {
        [self.gen0, self.gen1, self.gen2]
    }
}

// The gc-module side of the collector (counts, thresholds, enable, the list of
// tracked objects, gc callbacks) is reached through the C API, as a program
// would: the core keeps that state crate-private. A heap handle is the heap's
// address. Reading a weak reference goes through the C API too
// (rcgc_weakref_get_ref in the operation, rcgc_weakref_get inside callbacks),
// and so does making one inside a finalizer (rcgc_weakref_new).
unsafe extern "C" {
    fn rcgc_get_count(heap: *const c_void) -> rcgc_counts;
    fn rcgc_get_threshold(heap: *const c_void) -> rcgc_thresholds;
    fn rcgc_set_threshold(heap: *mut c_void, gen0: usize, gen1: usize, gen2: usize) -> rcgc_result;
    fn rcgc_enable(heap: *mut c_void) -> rcgc_result;
    fn rcgc_disable(heap: *mut c_void) -> rcgc_result;
    fn rcgc_is_enabled(heap: *const c_void) -> bool;
    fn rcgc_add_callback(
        heap: *mut c_void,
        callback: Option<unsafe extern "C" fn(phase: rcgc_gc_phase, info: *const rcgc_gc_info, ctx: *mut c_void)>,
        ctx: *mut c_void,
    ) -> rcgc_result;
    fn rcgc_get_objects(
        heap: *mut c_void,
        generation: c_int,
        f: Option<unsafe extern "C" fn(obj: *mut c_void, ctx: *mut c_void)>,
        ctx: *mut c_void,
    ) -> rcgc_result;
    fn rcgc_weakref_new(obj: *mut c_void, callback: rcgc_weakref_fn, ctx: *mut c_void) -> *mut c_void;
    fn rcgc_weakref_get(weakref: *const c_void) -> *mut c_void;
    fn rcgc_weakref_get_ref(weakref: *const c_void, obj_out: *mut *mut c_void) -> rcgc_result;
}

/// Object indexes in operations are taken modulo the number of candidates, so any
/// value is valid and shrinking keeps sequences meaningful.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Allocate a Node (the test holds the new reference); `fin` % 8 is its finalizer.
    AllocNode { fin: u8 },
    /// Allocate a Node of the type registered with declared references
    /// (rcgc_type_register_with_refs: rcgc traverses and clears its fields
    /// itself, and frees a garbage set made only of such Nodes and slots
    /// objects in one sweep); otherwise as AllocNode.
    AllocDeclared { fin: u8 },
    /// Allocate a slots object with `n` % 4 slots.
    AllocSlots { n: u8 },
    /// Store a reference to a live object in a field of a live object.
    Link { src: u16, field: u8, dst: u16 },
    /// Clear a field of a live object.
    Unlink { src: u16, field: u8 },
    /// The test takes one more reference to a live object.
    Incref { obj: u16 },
    /// The test drops one of the references it holds.
    Decref { obj: u16 },
    /// rcgc_collect(generation % 3).
    Collect { generation: u8 },
    /// rcgc_set_threshold(t0, t1, t2): small values, so automatic collections happen;
    /// t0 = 0 turns them off.
    Thresholds { t0: u8, t1: u8, t2: u8 },
    /// rcgc_enable.
    Enable,
    /// rcgc_disable.
    Disable,
    /// Change a live Node's finalizer behaviour (`fin` % 8).
    SetFin { obj: u16, fin: u8 },
    /// rcgc_weakref_new on a live object, any kind (the test holds the new
    /// reference); `callback` % 3 says which callback (see `Callback`).
    WeakNew { obj: u16, callback: u8 },
    /// rcgc_weakref_get_ref on a live weak reference; the test holds what it returns.
    WeakGet { wr: u16 },
    /// The test drops one of the references it holds to a weak reference.
    WeakDrop { wr: u16 },
}

/// What a Node's finalizer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fin {
    /// Nothing.
    Nothing,
    /// Incref itself and push itself on the resurrected list.
    ResurrectSelf,
    /// Incref its first referent (field `a`), if any, and push it on the list.
    ResurrectReferent,
    /// Clear field `a` (rcgc_clear_ref), which may free what it referenced.
    DropFirst,
    /// Make a weak reference without callback to itself (rcgc_weakref_new,
    /// which may return the shared one) and hand it to the test, which then
    /// holds it as it holds the weak references operations make.
    WeakSelf,
    /// The same with a `Record` callback.
    WeakSelfRecord,
    /// Make a weak reference without callback to its first referent (field
    /// `a`), if any, and hand it to the test.
    WeakReferent,
    /// The same with a `Record` callback.
    WeakReferentRecord,
}

impl Fin {
    pub fn from_byte(b: u8) -> Fin {
        match b % 8 {
            0 => Fin::Nothing,
            1 => Fin::ResurrectSelf,
            2 => Fin::ResurrectReferent,
            3 => Fin::DropFirst,
            4 => Fin::WeakSelf,
            5 => Fin::WeakSelfRecord,
            6 => Fin::WeakReferent,
            _ => Fin::WeakReferentRecord,
        }
    }

    /// For the finalizers that make a weak reference: whether it is to the
    /// object itself (else to its first referent).
    fn weak_to_self(self) -> bool {
        matches!(self, Fin::WeakSelf | Fin::WeakSelfRecord)
    }

    /// For the finalizers that make a weak reference: its callback.
    fn weak_callback(self) -> Callback {
        if matches!(self, Fin::WeakSelfRecord | Fin::WeakReferentRecord) {
            Callback::Record
        } else {
            Callback::None
        }
    }
}

/// The `ctx` of a weak reference with a callback made by a finalizer: this
/// bit or'ed with the finalized Node's id (each finalizer runs at most once).
/// Operations use the operation's number.
const MADE_BY_FINALIZER: usize = 1 << (usize::BITS - 1);

/// What a weak reference's callback does. It never allocates (finalizers do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    /// No callback: the referent's shared weak reference.
    None,
    /// Records the call (and what rcgc_weakref_get returns during it).
    Record,
    /// Records the call, then drops the reference to its weak reference that
    /// the test handed it at creation (as a weak-value dictionary drops its
    /// entry): when that was the last one, the weak reference is freed as the
    /// callback returns, which CPython 3.11 counts in a collection's result.
    /// A weak reference to a weak reference gets `Record` instead: two DropRef
    /// weak references to each other would keep each other alive forever.
    DropRef,
}

impl Callback {
    pub fn from_byte(b: u8) -> Callback {
        match b % 3 {
            0 => Callback::None,
            1 => Callback::Record,
            _ => Callback::DropRef,
        }
    }
}

/// What one sequence exercised, among the cases that random sequences rarely
/// build (the fixed sequences of tests/model.rs check that they build theirs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exercised {
    /// rcgc_weakref_new without callback returned the shared weak reference
    /// that a finalizer made during the collection its allocation ran.
    pub shared_meanwhile: usize,
    /// Finalizers made a new weak reference.
    pub finalizer_weakrefs: usize,
    /// Finalizers got the shared weak reference.
    pub finalizer_shared: usize,
    /// Weak references finalizers made to garbage, cleared after the
    /// finalizers of a collection.
    pub cleared_after_finalizers: usize,
    /// Collections whose garbage the heap sweeps (a set of slots objects and
    /// declared Nodes only) after finalizers of declared Nodes ran in it.
    pub swept_after_finalizers: usize,
}

/// Per-sequence settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseConfig {
    /// Whether the Node type has a finalize callback (without one, no type of the
    /// heap has a finalizer and collections skip that step).
    pub finalizers: bool,
    /// Thresholds set at the start; None keeps CPython's (700, 10, 10).
    pub thresholds: Option<[u8; 3]>,
    /// End by freeing the heap with objects still alive (rcgc_heap_free's
    /// shutdown) instead of dropping every reference and collecting.
    pub leak_at_end: bool,
}

/// Totals over every sequence run in this process.
pub struct Totals {
    pub sequences: AtomicUsize,
    pub operations: AtomicUsize,
    pub objects: AtomicUsize,
    pub collections: [AtomicUsize; 3],
    pub automatic: AtomicUsize,
    pub found: AtomicUsize,
    pub full_exact: AtomicUsize,
    pub finalizers_run: AtomicUsize,
    pub resurrections: AtomicUsize,
    pub freed_while_finalizing: AtomicUsize,
    pub weakrefs: AtomicUsize,
    pub shared_weakrefs: AtomicUsize,
    pub shared_meanwhile: AtomicUsize,
    pub callbacks: AtomicUsize,
    pub callbacks_suppressed: AtomicUsize,
    pub freed_by_callbacks: AtomicUsize,
    pub finalizer_weakrefs: AtomicUsize,
    pub finalizer_shared: AtomicUsize,
    pub finalizer_callbacks: AtomicUsize,
    pub cleared_after_finalizers: AtomicUsize,
    pub swept: AtomicUsize,
    pub swept_after_finalizers: AtomicUsize,
}

pub static TOTALS: Totals = Totals {
    sequences: AtomicUsize::new(0),
    operations: AtomicUsize::new(0),
    objects: AtomicUsize::new(0),
    collections: [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)],
    automatic: AtomicUsize::new(0),
    found: AtomicUsize::new(0),
    full_exact: AtomicUsize::new(0),
    finalizers_run: AtomicUsize::new(0),
    resurrections: AtomicUsize::new(0),
    freed_while_finalizing: AtomicUsize::new(0),
    weakrefs: AtomicUsize::new(0),
    shared_weakrefs: AtomicUsize::new(0),
    shared_meanwhile: AtomicUsize::new(0),
    callbacks: AtomicUsize::new(0),
    callbacks_suppressed: AtomicUsize::new(0),
    freed_by_callbacks: AtomicUsize::new(0),
    finalizer_weakrefs: AtomicUsize::new(0),
    finalizer_shared: AtomicUsize::new(0),
    finalizer_callbacks: AtomicUsize::new(0),
    cleared_after_finalizers: AtomicUsize::new(0),
    swept: AtomicUsize::new(0),
    swept_after_finalizers: AtomicUsize::new(0),
};

impl Totals {
    pub fn summary(&self) -> String {
        let get = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        format!(
            "{} sequences, {} operations, {} objects; collections checked: {} of generation 0, {} of generation 1, \
             {} of generation 2 (+{} automatic, predicted); {} unreachable objects found; {} full collections \
             checked against reachability; {} finalizers run, {} resurrections, {} objects freed by \
             finalizers during a collection; {} weak references made by operations (+{} times the shared one \
             returned, {} of them made by a collection during the allocation), {} callbacks run, {} not run \
             because their weak reference was garbage, {} weak references freed by their callback in a \
             collection (counted in its result); finalizers made {} weak references (+{} times the shared one \
             returned), whose callbacks ran {} times, and {} of them were cleared after the finalizers of a \
             collection, without callback; {} garbage sets swept ({} after finalizers of declared Nodes)",
            get(&self.sequences),
            get(&self.operations),
            get(&self.objects),
            get(&self.collections[0]),
            get(&self.collections[1]),
            get(&self.collections[2]),
            get(&self.automatic),
            get(&self.found),
            get(&self.full_exact),
            get(&self.finalizers_run),
            get(&self.resurrections),
            get(&self.freed_while_finalizing),
            get(&self.weakrefs),
            get(&self.shared_weakrefs),
            get(&self.shared_meanwhile),
            get(&self.callbacks),
            get(&self.callbacks_suppressed),
            get(&self.freed_by_callbacks),
            get(&self.finalizer_weakrefs),
            get(&self.finalizer_shared),
            get(&self.finalizer_callbacks),
            get(&self.cleared_after_finalizers),
            get(&self.swept),
            get(&self.swept_after_finalizers),
        )
    }
}

fn add(a: &AtomicUsize, n: usize) {
    a.fetch_add(n, Ordering::Relaxed);
}

// --------------------------------------------------------------------------------
// The user type and its callbacks.

/// The payload of a Node.
#[repr(C)]
struct Node {
    a: *mut c_void,
    b: *mut c_void,
    id: usize,
    fin: usize,
}

/// The payload of a Node of the type with declared references: a Node, then
/// a third declared reference, to the untracked tag whose destroy callback
/// tells that the Node was freed (the type has no destroy callback, so that
/// its garbage can be swept).
#[repr(C)]
struct DeclaredNode {
    node: Node,
    tag: *mut c_void,
}

/// The payload of the untracked tag a slots object holds in its last slot
/// (and a Node of the declared type in its `tag` field).
#[repr(C)]
struct Tag {
    owner: usize,
}

thread_local! {
    /// Ids whose destroy callback ran (a Node's own, or the tag of a slots object).
    static DESTROYED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// References finalizers took and handed to the test.
    static RESURRECTED: RefCell<Vec<*mut c_void>> = const { RefCell::new(Vec::new()) };
    /// Messages of the misuse handler.
    static MISUSE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Finalizer calls (counted to check that each object's runs at most once).
    static FINALIZED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Weak reference callback calls, in order.
    static CALLED: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
    /// Weak references finalizers made and handed to the test, with the id of
    /// the Node whose finalizer made each.
    static MADE: RefCell<Vec<(usize, *mut c_void)>> = const { RefCell::new(Vec::new()) };
    /// One entry per collection the heap started: its unreachable set in the
    /// heap's list order (RCGC_DEBUG_COLLECTABLE's lines).
    static COLLECTIONS: RefCell<VecDeque<Vec<usize>>> = const { RefCell::new(VecDeque::new()) };
}

/// One call of a weak reference callback.
#[derive(Debug)]
struct Call {
    /// The `ctx` given to rcgc_weakref_new (see `MADE_BY_FINALIZER`).
    ctx: usize,
    /// The weak reference the callback received.
    weakref: *mut c_void,
    /// What rcgc_weakref_get returned for it during the call.
    referent: *mut c_void,
}

unsafe extern "C" fn node_traverse(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void) {
    let node = obj.cast::<Node>();
    let Some(visit) = visit else { return };
    // SAFETY: a live Node; visit is the collector's callback.
    unsafe {
        visit((*node).a, ctx);
        visit((*node).b, ctx);
    }
}

unsafe extern "C" fn node_clear(obj: *mut c_void) {
    let node = obj.cast::<Node>();
    // SAFETY: a live Node whose fields hold NULL or live objects.
    unsafe {
        set_ref(&raw mut (*node).a, ptr::null_mut(), "node_clear");
        set_ref(&raw mut (*node).b, ptr::null_mut(), "node_clear");
    }
}

unsafe extern "C" fn node_finalize(obj: *mut c_void) {
    let node = obj.cast::<Node>();
    // SAFETY: a live Node (the heap holds it during the call).
    let (id, fin, a) = unsafe { ((*node).id, (*node).fin, (*node).a) };
    FINALIZED.with(|f| f.borrow_mut().push(id));
    let fin = Fin::from_byte(fin as u8);
    match fin {
        Fin::Nothing => {}
        Fin::ResurrectSelf => {
            // SAFETY: a live object.
            incref(unsafe { Header::from_payload(obj) });
            RESURRECTED.with(|r| r.borrow_mut().push(obj));
        }
        Fin::ResurrectReferent => {
            if !a.is_null() {
                // SAFETY: the field holds a live object.
                incref(unsafe { Header::from_payload(a) });
                RESURRECTED.with(|r| r.borrow_mut().push(a));
            }
        }
        // SAFETY: the field of a live Node.
        Fin::DropFirst => unsafe { set_ref(&raw mut (*node).a, ptr::null_mut(), "node_finalize") },
        Fin::WeakSelf | Fin::WeakSelfRecord | Fin::WeakReferent | Fin::WeakReferentRecord => {
            let target = if fin.weak_to_self() { obj } else { a };
            if target.is_null() {
                return;
            }
            let (f, ctx): (rcgc_weakref_fn, *mut c_void) = match fin.weak_callback() {
                Callback::None => (None, ptr::null_mut()),
                _ => (Some(weak_record), ptr::without_provenance_mut(MADE_BY_FINALIZER | id)),
            };
            // SAFETY: a live object: the Node, or what its field holds.
            let weakref = unsafe { rcgc_weakref_new(target, f, ctx) };
            if !weakref.is_null() {
                MADE.with(|m| m.borrow_mut().push((id, weakref)));
            }
        }
    }
}

unsafe extern "C" fn node_destroy(obj: *mut c_void) {
    // SAFETY: a Node being destroyed; its payload is still readable.
    let id = unsafe { (*obj.cast::<Node>()).id };
    DESTROYED.with(|d| d.borrow_mut().push(id));
}

unsafe extern "C" fn tag_destroy(obj: *mut c_void) {
    // SAFETY: a Tag being destroyed.
    let id = unsafe { (*obj.cast::<Tag>()).owner };
    DESTROYED.with(|d| d.borrow_mut().push(id));
}

unsafe extern "C" fn weak_record(weakref: *mut c_void, ctx: *mut c_void) {
    // SAFETY: the heap passes a live weak reference, held for the call.
    let referent = unsafe { rcgc_weakref_get(weakref) };
    CALLED.with(|c| {
        c.borrow_mut().push(Call {
            ctx: ctx.addr(),
            weakref,
            referent,
        })
    });
}

unsafe extern "C" fn weak_drop_ref(weakref: *mut c_void, ctx: *mut c_void) {
    // SAFETY: as above.
    unsafe { weak_record(weakref, ctx) };
    // The reference the test handed this callback when it made the weak reference.
    decref(header(weakref), "weak_drop_ref");
}

/// gc callback: a collection starts.
unsafe extern "C" fn collection_starts(phase: rcgc_gc_phase, _info: *const rcgc_gc_info, _ctx: *mut c_void) {
    if phase == rcgc_gc_phase::RCGC_GC_START {
        COLLECTIONS.with(|c| c.borrow_mut().push_back(Vec::new()));
    }
}

/// Debug output sink: "gc: collectable <TYPE 0xADDR>" names the next member
/// of the running collection's unreachable set (the heap's list order), by
/// its payload address. Any other line is reported as misuse.
unsafe extern "C" fn collectable_line(line: *const c_char, _ctx: *mut c_void) {
    // SAFETY: the heap passes a NUL-terminated line valid during the call.
    let line = unsafe { CStr::from_ptr(line) }.to_string_lossy();
    let addr = line
        .strip_prefix("gc: collectable <")
        .and_then(|l| l.strip_suffix('>'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|hex| hex.strip_prefix("0x"))
        .and_then(|hex| usize::from_str_radix(hex, 16).ok());
    COLLECTIONS.with(|c| match (addr, c.borrow_mut().back_mut()) {
        (Some(addr), Some(set)) => set.push(addr),
        _ => MISUSE.with(|m| m.borrow_mut().push(format!("unexpected gc debug line {line:?}"))),
    });
}

unsafe extern "C" fn push_object(obj: *mut c_void, ctx: *mut c_void) {
    // SAFETY: ctx is the vector `verify_weakrefs` passes to rcgc_get_objects.
    unsafe { (*ctx.cast::<Vec<*mut c_void>>()).push(obj) };
}

unsafe extern "C" fn record_misuse(message: *const c_char, _ctx: *mut c_void) {
    // SAFETY: the heap passes a NUL-terminated message valid during the call.
    let text = unsafe { std::ffi::CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    MISUSE.with(|m| m.borrow_mut().push(text));
}

fn header<'a>(p: *mut c_void) -> &'a Header {
    // SAFETY: only called with payloads of objects the model knows are alive.
    unsafe { Header::from_payload(p) }
}

// --------------------------------------------------------------------------------
// The model.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Node,
    Slots,
    WeakRef,
}

/// The state of a weak reference object.
#[derive(Clone, Copy, Debug)]
struct Weak {
    /// The referent; None once cleared.
    referent: Option<usize>,
    callback: Callback,
    /// The callback's `ctx` (see `MADE_BY_FINALIZER`).
    ctx: usize,
    /// A DropRef callback still holds the reference the test handed it.
    held_by_callback: bool,
}

/// How rcgc_weakref_new answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Made {
    /// A new weak reference.
    New,
    /// The referent's shared weak reference.
    Shared,
    /// The shared weak reference a collection made (a finalizer) while the
    /// new one was allocated, which is freed at once.
    SharedMeanwhile,
}

#[derive(Clone, Debug)]
struct Obj {
    kind: Kind,
    /// The real object's payload (valid while alive).
    p: *mut c_void,
    fin: Fin,
    /// Fields (Node: a, b; slots: the user slots; none for a weak reference), as model ids.
    refs: Vec<Option<usize>>,
    /// References the test holds (handles and resurrected-list entries).
    ext: usize,
    /// ext + references from live objects' fields + a DropRef callback's
    /// reference (+ temporary holds).
    rc: usize,
    alive: bool,
    generation: usize,
    finalized: bool,
    /// A Node of the type with declared references.
    declared: bool,
    /// A weak reference object's state.
    weak: Option<Weak>,
    /// The weak references to this object not cleared yet, in the heap's list
    /// order: the shared one (without callback) first, then those with a
    /// callback, newest first.
    weakrefs: Vec<usize>,
}

impl Obj {
    fn new(kind: Kind, fin: Fin, fields: usize, p: *mut c_void) -> Obj {
        Obj {
            kind,
            p,
            fin,
            refs: vec![None; fields],
            ext: 1,
            rc: 1,
            alive: true,
            generation: 0,
            finalized: false,
            declared: false,
            weak: None,
            weakrefs: Vec::new(),
        }
    }
}

/// CPython 3.11's collector state and the object graph.
struct Model {
    objs: Vec<Obj>,
    th: [usize; 3],
    count: [usize; 3],
    pending: usize,
    total: usize,
    enabled: bool,
    stress: bool,
    finalizers: bool,
    /// The deallocation worklist (objects whose count reached 0 while freeing).
    draining: bool,
    worklist: Vec<usize>,
    /// A collection is running (no automatic collection starts).
    collecting: bool,
    /// During a collection: membership of the unreachable set.
    in_unreachable: Vec<bool>,
    /// Objects the finalizers of the current operation resurrected into the test's list.
    resurrected: Vec<usize>,
    finalizers_run: usize,
    /// Weak references whose callback ran during the current operation.
    calls: Vec<usize>,
    /// Disagreements with the heap found while running the current operation
    /// (the harness reports them).
    errors: Vec<String>,
    exercised: Exercised,
}

impl Model {
    fn new(stress: bool, finalizers: bool) -> Model {
        Model {
            objs: Vec::new(),
            th: [700, 10, 10],
            count: [0; 3],
            pending: 0,
            total: 0,
            enabled: true,
            stress,
            finalizers,
            draining: false,
            worklist: Vec::new(),
            collecting: false,
            in_unreachable: Vec::new(),
            resurrected: Vec::new(),
            finalizers_run: 0,
            calls: Vec::new(),
            errors: Vec::new(),
            exercised: Exercised::default(),
        }
    }

    fn alive(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.objs.len()).filter(|&i| self.objs[i].alive)
    }

    /// The allocation of a tracked object: count it, and collect first when one is
    /// due (CPython's _PyObject_GC_Link and gc_collect_generations), never while
    /// a collection or the freeing of objects runs (the heap is not idle: a
    /// finalizer's allocation). Returns the generation collected.
    fn count_allocation(&mut self) -> Option<usize> {
        self.count[0] += 1;
        let due = self.stress || (self.count[0] > self.th[0] && self.th[0] != 0);
        if !(due && self.enabled) || self.draining || self.collecting {
            return None;
        }
        for g in (0..3).rev() {
            if self.count[g] > self.th[g] || (self.stress && g == 0) {
                if g == 2 && self.pending < self.total / 4 {
                    continue;
                }
                self.collect(g);
                return Some(g);
            }
        }
        None
    }

    /// A new object held by the test; returns its id (known only now: the
    /// finalizers of a collection its allocation ran may have made weak
    /// references) and the generation of that collection, if any.
    fn alloc(&mut self, kind: Kind, fin: Fin, fields: usize, p: *mut c_void) -> (usize, Option<usize>) {
        let collected = self.count_allocation();
        self.objs.push(Obj::new(kind, fin, fields, p));
        (self.objs.len() - 1, collected)
    }

    fn incref(&mut self, i: usize) {
        assert!(self.objs[i].alive, "model: incref of dead object {i}");
        self.objs[i].rc += 1;
    }

    fn decref(&mut self, i: usize) {
        let o = &mut self.objs[i];
        assert!(o.alive && o.rc > 0, "model: decref of object {i} with count {}", o.rc);
        o.rc -= 1;
        if o.rc == 0 {
            self.release(i);
        }
    }

    /// rcgc_set_ref / rcgc_slots_set: incref the new value, store, decref the old.
    fn set_field(&mut self, i: usize, f: usize, value: Option<usize>) {
        if let Some(v) = value {
            self.incref(v);
        }
        let old = std::mem::replace(&mut self.objs[i].refs[f], value);
        if let Some(o) = old {
            self.decref(o);
        }
    }

    /// The freeing of a tracked object.
    fn count_deallocation(&mut self) {
        if self.count[0] > 0 {
            self.count[0] -= 1;
        }
    }

    /// What a Node's finalizer does (once per object, ever).
    fn run_finalizer(&mut self, i: usize) {
        self.finalizers_run += 1;
        match self.objs[i].fin {
            Fin::Nothing => {}
            Fin::ResurrectSelf => {
                self.objs[i].ext += 1;
                self.incref(i);
                self.resurrected.push(i);
            }
            Fin::ResurrectReferent => {
                if let Some(t) = self.objs[i].refs[0] {
                    self.objs[t].ext += 1;
                    self.incref(t);
                    self.resurrected.push(t);
                }
            }
            Fin::DropFirst => {
                if self.objs[i].refs[0].is_some() {
                    self.set_field(i, 0, None);
                }
            }
            Fin::WeakSelf | Fin::WeakSelfRecord | Fin::WeakReferent | Fin::WeakReferentRecord => {
                let fin = self.objs[i].fin;
                let target = if fin.weak_to_self() {
                    Some(i)
                } else {
                    self.objs[i].refs[0]
                };
                if let Some(x) = target {
                    self.finalizer_weakref(i, x, fin.weak_callback());
                }
            }
        }
    }

    /// The finalizer of Node `i` makes a weak reference to `x` and hands it to
    /// the test: the heap's finalizer made it already, and left its address
    /// in MADE, which the model's (new or shared) weak reference must have.
    fn finalizer_weakref(&mut self, i: usize, x: usize, callback: Callback) {
        let made = MADE.with(|m| {
            let mut m = m.borrow_mut();
            let at = m.iter().position(|&(creator, _)| creator == i)?;
            Some(m.remove(at).1)
        });
        let Some(p) = made else {
            self.errors.push(format!(
                "the finalizer of object {i} made no weak reference; the model's makes one to object {x}"
            ));
            return;
        };
        let (w, made, _) = self.weakref_new(x, callback, MADE_BY_FINALIZER | i, p);
        if made == Made::New {
            add(&TOTALS.finalizer_weakrefs, 1);
            self.exercised.finalizer_weakrefs += 1;
        } else {
            add(&TOTALS.finalizer_shared, 1);
            self.exercised.finalizer_shared += 1;
        }
        if let Some(error) = self.check_made(w, made, p) {
            self.errors.push(format!("in the finalizer of object {i}: {error}"));
        }
    }

    /// Whether rcgc_weakref_new's answer `p` is the model's `w`, a weak
    /// reference the model made (`made`) or shared.
    fn check_made(&self, w: usize, made: Made, p: *mut c_void) -> Option<String> {
        match made {
            Made::New => self.alive().find(|&i| i != w && self.objs[i].p == p).map(|other| {
                format!("rcgc_weakref_new returned object {other}, the model expects a new weak reference")
            }),
            Made::Shared | Made::SharedMeanwhile => (self.objs[w].p != p)
                .then(|| format!("rcgc_weakref_new did not return the shared weak reference {w} ({made:?})")),
        }
    }

    /// `first`'s count reached 0: it is freed, then what that releases, through
    /// a worklist like the heap's (last in, first out).
    fn release(&mut self, first: usize) {
        if self.draining {
            self.worklist.push(first);
            return;
        }
        self.draining = true;
        self.free(first);
        self.drain();
        self.draining = false;
    }

    /// Frees the worklist's objects until it is empty.
    fn drain(&mut self) {
        while let Some(x) = self.worklist.pop() {
            self.free(x);
        }
    }

    /// One object whose count reached 0: its finalizer (once; it may
    /// resurrect), then its weak references are cleared and their callbacks
    /// run, a weak reference lets go of its referent, and its references are
    /// dropped (onto the worklist).
    fn free(&mut self, x: usize) {
        // Untracked: it leaves the unreachable set of a running collection.
        if let Some(u) = self.in_unreachable.get_mut(x) {
            *u = false;
        }
        let o = &mut self.objs[x];
        if self.finalizers && o.kind == Kind::Node && !o.finalized {
            o.finalized = true;
            o.rc = 1;
            self.run_finalizer(x);
            let o = &mut self.objs[x];
            if o.rc > 1 {
                // Resurrected: tracked again, in generation 0.
                o.rc -= 1;
                o.generation = 0;
                return;
            }
            o.rc = 0;
        }
        let due = self.clear_weakrefs_to(x, |_, _| true);
        self.run_callbacks(due, None);
        self.unlink(x);
        let o = &mut self.objs[x];
        o.alive = false;
        let refs: Vec<usize> = o.refs.iter_mut().filter_map(Option::take).collect();
        self.count_deallocation();
        for t in refs {
            self.decref(t);
        }
    }

    fn weak(&self, w: usize) -> &Weak {
        self.objs[w].weak.as_ref().expect("model: a weak reference")
    }

    /// The first weak reference to `x` if it has no callback: the shared one,
    /// or one whose count reached 0 and which waits on the worklist.
    fn first_without_callback(&self, x: usize) -> Option<usize> {
        let first = *self.objs[x].weakrefs.first()?;
        (self.weak(first).callback == Callback::None).then_some(first)
    }

    /// The shared weak reference (the one without callback) to `x`, if any:
    /// one waiting on the worklist is being freed and is not shared.
    fn shared_weakref(&self, x: usize) -> Option<usize> {
        self.first_without_callback(x).filter(|&w| self.objs[w].rc > 0)
    }

    /// rcgc_weakref_new(x, callback, ctx) returned `p`: the weak reference the
    /// test now holds (the shared one, or a new one made with `p`), how it
    /// was made, and the generation of the automatic collection its
    /// allocation ran, if any.
    fn weakref_new(
        &mut self,
        x: usize,
        callback: Callback,
        ctx: usize,
        p: *mut c_void,
    ) -> (usize, Made, Option<usize>) {
        if callback == Callback::None
            && let Some(shared) = self.shared_weakref(x)
        {
            self.objs[shared].ext += 1;
            self.incref(shared);
            return (shared, Made::Shared, None);
        }
        // The referent is held while the allocation may collect.
        self.incref(x);
        let collected = self.count_allocation();
        if callback == Callback::None
            && let Some(shared) = self.shared_weakref(x)
        {
            // A finalizer of that collection made one: the new one is freed.
            self.objs[shared].ext += 1;
            self.incref(shared);
            self.count_deallocation();
            self.decref(x);
            return (shared, Made::SharedMeanwhile, collected);
        }
        let w = self.objs.len();
        let held_by_callback = callback == Callback::DropRef;
        let mut o = Obj::new(Kind::WeakRef, Fin::Nothing, 0, p);
        o.rc += usize::from(held_by_callback);
        o.weak = Some(Weak {
            referent: Some(x),
            callback,
            ctx,
            held_by_callback,
        });
        self.objs.push(o);
        let at = usize::from(callback != Callback::None && self.first_without_callback(x).is_some());
        self.objs[x].weakrefs.insert(at, w);
        self.decref(x);
        (w, Made::New, collected)
    }

    /// The weak reference with a callback whose `ctx` is `ctx`, alive or not.
    fn weakref_with_ctx(&self, ctx: usize) -> Option<usize> {
        (0..self.objs.len()).find(|&i| {
            self.objs[i]
                .weak
                .is_some_and(|w| w.callback != Callback::None && w.ctx == ctx)
        })
    }

    /// A weak reference's clear: it lets go of its referent, without callback.
    fn unlink(&mut self, w: usize) {
        if let Some(x) = self.objs[w].weak.as_mut().and_then(|weak| weak.referent.take()) {
            self.objs[x].weakrefs.retain(|&v| v != w);
        }
    }

    /// Clears every weak reference to `x`. Returns, held, those whose callback
    /// is due: they have one, a count above 0 (one waiting on the worklist
    /// does not call back) and `call_back` accepts them.
    fn clear_weakrefs_to(&mut self, x: usize, call_back: impl Fn(&Model, usize) -> bool) -> Vec<usize> {
        let mut due = Vec::new();
        for w in std::mem::take(&mut self.objs[x].weakrefs) {
            let weak = self.objs[w].weak.as_mut().expect("model: a weak reference");
            weak.referent = None;
            let callback = weak.callback;
            if callback != Callback::None && self.objs[w].rc > 0 && call_back(self, w) {
                self.incref(w);
                due.push(w);
            }
        }
        due
    }

    /// Runs the callbacks of `due`, each followed by the drop of the reference
    /// `due` holds. In a collection (`target`: its survivors' generation), a
    /// weak reference alive afterwards moves to that generation (CPython 3.11's
    /// handle_weakrefs moves it to `old`). Returns how many weak references
    /// this freed.
    fn run_callbacks(&mut self, due: Vec<usize>, target: Option<usize>) -> usize {
        let mut freed = 0;
        for w in due {
            self.calls.push(w);
            let weak = self.objs[w].weak.as_mut().expect("model: a weak reference");
            if weak.callback == Callback::DropRef {
                assert!(weak.held_by_callback, "model: callback of weak reference {w} ran twice");
                weak.held_by_callback = false;
                self.decref(w);
            }
            if self.objs[w].rc == 1 {
                freed += 1;
            }
            self.decref(w);
            if let Some(target) = target
                && self.objs[w].alive
            {
                self.objs[w].generation = target;
            }
        }
        freed
    }

    /// CPython's deduce_unreachable over `set`: the members reachable from
    /// references from outside the set.
    fn reachable_within(&self, set: &[bool]) -> Vec<bool> {
        let n = self.objs.len();
        let mut gc_refs: Vec<i64> = (0..n)
            .map(|i| if set[i] { self.objs[i].rc as i64 } else { 0 })
            .collect();
        for i in (0..n).filter(|&i| set[i]) {
            for t in self.objs[i].refs.iter().flatten() {
                if set[*t] {
                    gc_refs[*t] -= 1;
                }
            }
        }
        let mut reach = vec![false; n];
        let mut stack = Vec::new();
        for i in (0..n).filter(|&i| set[i]) {
            assert!(gc_refs[i] >= 0, "model: object {i} has more references than its count");
            if gc_refs[i] > 0 {
                reach[i] = true;
                stack.push(i);
            }
        }
        while let Some(x) = stack.pop() {
            for &t in self.objs[x].refs.iter().flatten() {
                if set[t] && !reach[t] {
                    reach[t] = true;
                    stack.push(t);
                }
            }
        }
        reach
    }

    /// Everything reachable from the test's references, and, with
    /// `callback_refs`, from the references DropRef callbacks hold.
    fn reachable_from_test(&self, callback_refs: bool) -> Vec<bool> {
        let n = self.objs.len();
        let mut reach: Vec<bool> = (0..n)
            .map(|i| {
                let o = &self.objs[i];
                o.alive && (o.ext > 0 || (callback_refs && o.weak.is_some_and(|w| w.held_by_callback)))
            })
            .collect();
        let mut stack: Vec<usize> = (0..n).filter(|&i| reach[i]).collect();
        while let Some(x) = stack.pop() {
            for &t in self.objs[x].refs.iter().flatten() {
                if !reach[t] {
                    reach[t] = true;
                    stack.push(t);
                }
            }
        }
        reach
    }

    /// The unreachable set the heap reported for the collection the model
    /// runs now, in the heap's list order, if it is the model's `unreachable`
    /// (ids, in id order); otherwise the error is recorded and the model's
    /// order is kept.
    fn heap_order(&mut self, g: usize, unreachable: Vec<usize>) -> Vec<usize> {
        let Some(reported) = COLLECTIONS.with(|c| c.borrow_mut().pop_front()) else {
            self.errors
                .push(format!("the heap did not collect; the model collects generation {g}"));
            return unreachable;
        };
        let order: Vec<Option<usize>> = reported
            .iter()
            .map(|&addr| unreachable.iter().copied().find(|&i| self.objs[i].p.addr() == addr))
            .collect();
        let mut sorted: Vec<usize> = order.iter().flatten().copied().collect();
        sorted.sort_unstable();
        if order.len() != unreachable.len() || sorted != unreachable {
            self.errors.push(format!(
                "the collection of generation {g} found {order:?} unreachable (by list order; None: an object \
                 the model does not find unreachable), the model {unreachable:?}"
            ));
            return unreachable;
        }
        order.into_iter().flatten().collect()
    }

    /// One collection of generations 0..=g; returns CPython's count. The
    /// unreachable set is walked in the heap's list order (see the top comment).
    fn collect(&mut self, g: usize) -> usize {
        let target = (g + 1).min(2);
        if g < 2 {
            self.count[g + 1] += 1;
        }
        for c in &mut self.count[..=g] {
            *c = 0;
        }
        let n = self.objs.len();
        let cands: Vec<bool> = self.objs.iter().map(|o| o.alive && o.generation <= g).collect();
        let reach = self.reachable_within(&cands);
        let mut survivors = 0;
        let mut unreachable = Vec::new();
        for i in (0..n).filter(|&i| cands[i]) {
            if reach[i] {
                self.objs[i].generation = target;
                survivors += 1;
            } else {
                unreachable.push(i);
            }
        }
        if g == 2 {
            self.pending = 0;
            self.total = survivors;
        } else if target == 2 {
            self.pending += survivors;
        }
        let unreachable = self.heap_order(g, unreachable);
        self.collecting = true;
        self.in_unreachable = vec![false; n];
        for &i in &unreachable {
            self.in_unreachable[i] = true;
        }

        // Weak references to unreachable objects, and unreachable weak
        // references, are cleared; then the callbacks of the cleared ones that
        // are not unreachable themselves run.
        let suppressed = unreachable
            .iter()
            .filter(|&&i| {
                self.objs[i]
                    .weak
                    .is_some_and(|w| w.callback != Callback::None && w.referent.is_some())
            })
            .count();
        add(&TOTALS.callbacks_suppressed, suppressed);
        let mut due = Vec::new();
        for &i in &unreachable {
            self.unlink(i);
            due.extend(self.clear_weakrefs_to(i, |m, w| !m.in_unreachable[w]));
        }
        let weakrefs_freed = self.run_callbacks(due, Some(target));
        add(&TOTALS.freed_by_callbacks, weakrefs_freed);

        // Finalizers of the unreachable objects, all before any clear. The weak
        // references they make are new objects (ids from n on), outside the set.
        let alive_before = self.alive().count();
        let objs_before = self.objs.len();
        let mut declared_finalized = false;
        if self.finalizers {
            for &i in &unreachable {
                let o = &self.objs[i];
                if o.alive && self.in_unreachable[i] && o.kind == Kind::Node && !o.finalized {
                    declared_finalized |= o.declared;
                    self.objs[i].finalized = true;
                    self.incref(i);
                    self.run_finalizer(i);
                    self.decref(i);
                }
            }
        }
        // (Minus the weak references the finalizers made, which the test holds.)
        add(
            &TOTALS.freed_while_finalizing,
            alive_before + (self.objs.len() - objs_before) - self.alive().count(),
        );

        // What the finalizers made reachable again survives.
        let set: Vec<bool> = (0..self.objs.len())
            .map(|i| i < n && self.in_unreachable[i] && self.objs[i].alive)
            .collect();
        let reach = self.reachable_within(&set);
        let mut garbage = Vec::new();
        for &i in unreachable.iter().filter(|&&i| set[i]) {
            if reach[i] {
                self.objs[i].generation = target;
                self.in_unreachable[i] = false;
            } else {
                garbage.push(i);
            }
        }
        // Weak references the finalizers made to what is still garbage are
        // cleared, without callbacks (newer CPython's rule: see the top comment).
        for &i in &garbage {
            add(&TOTALS.cleared_after_finalizers, self.objs[i].weakrefs.len());
            self.exercised.cleared_after_finalizers += self.objs[i].weakrefs.len();
            let due = self.clear_weakrefs_to(i, |_, _| false);
            assert!(due.is_empty(), "model: no callback is due");
        }
        let found = garbage.len() + weakrefs_freed;
        // The heap frees this garbage in one sweep rather than clearing it
        // object by object when every member of the set found unreachable
        // is a slots object or a declared Node; what the test can see is the
        // same, which the checks after the operation hold it to.
        let swept = unreachable
            .iter()
            .all(|&i| self.objs[i].kind == Kind::Slots || self.objs[i].declared);
        if swept && !garbage.is_empty() {
            add(&TOTALS.swept, 1);
            if declared_finalized {
                add(&TOTALS.swept_after_finalizers, 1);
                self.exercised.swept_after_finalizers += 1;
            }
        }

        // Clear what is left; refcounting frees the cycles. As in the heap, what
        // one clear releases is freed after it, from the worklist.
        for &i in &garbage {
            if !self.objs[i].alive {
                continue;
            }
            self.draining = true;
            self.incref(i);
            for f in 0..self.objs[i].refs.len() {
                if self.objs[i].refs[f].is_some() {
                    self.set_field(i, f, None);
                }
            }
            self.decref(i);
            self.drain();
            self.draining = false;
            if self.objs[i].alive {
                self.objs[i].generation = target;
            }
        }
        self.in_unreachable.clear();
        self.collecting = false;
        found
    }

    /// Every refcount equals the test's references plus the references from
    /// live objects and DropRef callbacks; weak references and their referents'
    /// lists agree.
    fn check_counts_consistent(&self) {
        let mut rc: Vec<usize> = self
            .objs
            .iter()
            .map(|o| o.ext + usize::from(o.weak.is_some_and(|w| w.held_by_callback)))
            .collect();
        for o in self.objs.iter().filter(|o| o.alive) {
            for &t in o.refs.iter().flatten() {
                assert!(self.objs[t].alive, "model: a live object references dead object {t}");
                rc[t] += 1;
            }
        }
        for (i, o) in self.objs.iter().enumerate() {
            if o.alive {
                assert_eq!(o.rc, rc[i], "model: refcount of object {i}");
            } else {
                assert_eq!(o.ext, 0, "model: dead object {i} is held by the test");
                assert_eq!(rc[i], 0, "model: dead object {i} is held by its callback");
                assert!(o.weakrefs.is_empty(), "model: dead object {i} has weak references");
            }
            for &w in &o.weakrefs {
                assert!(
                    self.objs[w].alive && self.weak(w).referent == Some(i),
                    "model: weak reference {w} in the list of object {i}"
                );
            }
            if let Some(x) = o.weak.and_then(|w| w.referent) {
                assert!(
                    o.alive && self.objs[x].weakrefs.contains(&i),
                    "model: weak reference {i} to object {x}"
                );
            }
        }
    }
}

// --------------------------------------------------------------------------------
// The harness.

/// Objects per sequence at most (allocations past it are skipped).
pub const MAX_OBJECTS: usize = 400;

/// One real heap and its model.
pub struct Harness {
    heap: NonNull<Heap>,
    node_type: *const Type,
    declared_type: *const Type,
    tag_type: *const Type,
    model: Model,
    destroyed: Vec<usize>,
    finalized: Vec<usize>,
    /// Calls of each weak reference's callback so far.
    called: Vec<usize>,
    step: usize,
    last_op: Option<Op>,
    teardown: bool,
}

impl Harness {
    /// A fresh heap with the Node and tag types registered. `stress`: the library
    /// was built with the `stress-gc` feature.
    pub fn new(config: &CaseConfig, stress: bool) -> Harness {
        for log in [&DESTROYED, &FINALIZED] {
            log.with(|l| l.borrow_mut().clear());
        }
        RESURRECTED.with(|r| r.borrow_mut().clear());
        MISUSE.with(|m| m.borrow_mut().clear());
        CALLED.with(|c| c.borrow_mut().clear());
        MADE.with(|m| m.borrow_mut().clear());
        COLLECTIONS.with(|c| c.borrow_mut().clear());

        let heap = Heap::new(Config::default()).expect("Heap::new");
        // SAFETY: just created; alive until `finish` destroys it.
        let h = unsafe { heap.as_ref() };
        h.set_misuse_handler(Some(record_misuse), ptr::null_mut());
        // Every collection's unreachable set, in the heap's order.
        h.set_debug(rcgc_debug_flag::RCGC_DEBUG_COLLECTABLE as c_int)
            .expect("rcgc_set_debug");
        h.set_debug_output(Some(collectable_line), ptr::null_mut());
        // SAFETY: a live heap.
        let r = unsafe { rcgc_add_callback(heap.as_ptr().cast(), Some(collection_starts), ptr::null_mut()) };
        assert_eq!(r, rcgc_result::RCGC_OK, "rcgc_add_callback");
        let node_name = CString::new("Node").unwrap();
        let node = h
            .register_type(&rcgc_type_spec {
                name: node_name.as_ptr(),
                size: size_of::<Node>(),
                traverse: Some(node_traverse),
                clear: Some(node_clear),
                finalize: if config.finalizers { Some(node_finalize) } else { None },
                destroy: Some(node_destroy),
            })
            .expect("register Node") as *const Type;
        let declared_name = CString::new("DeclaredNode").unwrap();
        let declared = h
            .register_type_with_refs(
                &rcgc_type_spec {
                    name: declared_name.as_ptr(),
                    size: size_of::<DeclaredNode>(),
                    traverse: None,
                    clear: None,
                    finalize: if config.finalizers { Some(node_finalize) } else { None },
                    destroy: None,
                },
                &[
                    std::mem::offset_of!(Node, a),
                    std::mem::offset_of!(Node, b),
                    std::mem::offset_of!(DeclaredNode, tag),
                ],
            )
            .expect("register DeclaredNode") as *const Type;
        let tag_name = CString::new("Tag").unwrap();
        let tag = h
            .register_type(&rcgc_type_spec {
                name: tag_name.as_ptr(),
                size: size_of::<Tag>(),
                traverse: None,
                clear: None,
                finalize: None,
                destroy: Some(tag_destroy),
            })
            .expect("register Tag") as *const Type;
        let mut harness = Harness {
            heap,
            node_type: node,
            declared_type: declared,
            tag_type: tag,
            model: Model::new(stress, config.finalizers),
            destroyed: Vec::new(),
            finalized: Vec::new(),
            called: Vec::new(),
            step: 0,
            last_op: None,
            teardown: false,
        };
        if let Some([t0, t1, t2]) = config.thresholds {
            harness.apply(&Op::Thresholds { t0, t1, t2 });
        }
        add(&TOTALS.sequences, 1);
        harness
    }

    fn heap(&self) -> &Heap {
        // SAFETY: alive until `finish`.
        unsafe { self.heap.as_ref() }
    }

    fn handle(&self) -> *mut c_void {
        self.heap.as_ptr().cast()
    }

    fn fail(&self, what: std::fmt::Arguments<'_>) -> ! {
        panic!(
            "after operation {}{} ({:?}): {what}\nmodel: counts {:?}, thresholds {:?}, pending {}, total {}, enabled {}",
            self.step,
            if self.teardown {
                " (teardown: dropping every reference and collecting)"
            } else {
                ""
            },
            self.last_op,
            self.model.count,
            self.model.th,
            self.model.pending,
            self.model.total,
            self.model.enabled
        )
    }

    /// Fails unless `real` and `expected` hold the same elements, in any
    /// order; `what` names them in the message.
    fn check_same<T: Ord + std::fmt::Debug>(&self, what: &str, mut real: Vec<T>, mut expected: Vec<T>) {
        real.sort_unstable();
        expected.sort_unstable();
        if real != expected {
            self.fail(format_args!("{what}: {real:?}, the model expects {expected:?}"));
        }
    }

    /// The `k`-th live object (modulo their number) satisfying `keep`.
    fn pick(&self, k: u16, keep: impl Fn(&Obj) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = self.model.alive().filter(|&i| keep(&self.model.objs[i])).collect();
        (!candidates.is_empty()).then(|| candidates[k as usize % candidates.len()])
    }

    /// A new untracked tag whose destroy callback records `owner`; the caller
    /// holds the new reference.
    fn new_tag(&self, owner: usize) -> &Header {
        // SAFETY: the type lives as long as the heap.
        let tag_type = unsafe { &*self.tag_type };
        // (The tag's type has no traverse: its allocation never collects.)
        let tag = self.heap().alloc(tag_type, size_of::<Tag>()).expect("alloc Tag");
        // SAFETY: a fresh Tag payload.
        unsafe { (*tag.payload().cast::<Tag>()).owner = owner };
        tag
    }

    /// Stores `value` in field `f` of object `i`, in the heap and in the model.
    fn set_field(&mut self, i: usize, f: usize, value: Option<usize>) {
        let o = &self.model.objs[i];
        let v = value.map_or(ptr::null_mut(), |v| self.model.objs[v].p);
        match o.kind {
            Kind::Node => {
                let node = o.p.cast::<Node>();
                // SAFETY: a live Node; the value is NULL or a live object.
                unsafe {
                    let slot = if f == 0 { &raw mut (*node).a } else { &raw mut (*node).b };
                    set_ref(slot, v, "model test");
                }
            }
            Kind::Slots => {
                let value = (!v.is_null()).then(|| header(v));
                slots::set(header(o.p), f, value).expect("slots::set");
            }
            Kind::WeakRef => unreachable!("a weak reference has no fields"),
        }
        self.model.set_field(i, f, value);
    }

    /// Runs one operation on the heap and in the model, then checks everything.
    pub fn apply(&mut self, op: &Op) {
        self.step += 1;
        self.last_op = Some(*op);
        add(&TOTALS.operations, 1);
        let mut automatic = None;
        match *op {
            Op::AllocNode { fin } | Op::AllocDeclared { fin } => {
                if self.model.objs.len() >= MAX_OBJECTS {
                    return;
                }
                let declared = matches!(op, Op::AllocDeclared { .. });
                let fin = Fin::from_byte(fin);
                let (ty, size) = if declared {
                    (self.declared_type, size_of::<DeclaredNode>())
                } else {
                    (self.node_type, size_of::<Node>())
                };
                // SAFETY: the type lives as long as the heap.
                let p = self.heap().alloc(unsafe { &*ty }, size).expect("alloc Node").payload();
                let id;
                (id, automatic) = self.model.alloc(Kind::Node, fin, 2, p);
                // SAFETY: a fresh, zeroed payload that starts with a Node (nothing
                // ran since its allocation).
                unsafe {
                    (*p.cast::<Node>()).id = id;
                    (*p.cast::<Node>()).fin = fin as usize;
                }
                if declared {
                    self.model.objs[id].declared = true;
                    let tag = self.new_tag(id);
                    // SAFETY: the empty tag field of a live DeclaredNode; the tag is live.
                    unsafe { set_ref(&raw mut (*p.cast::<DeclaredNode>()).tag, tag.payload(), "model test") };
                    decref(tag, "model test");
                }
                add(&TOTALS.objects, 1);
            }
            Op::AllocSlots { n } => {
                if self.model.objs.len() >= MAX_OBJECTS {
                    return;
                }
                let n = usize::from(n % 4);
                let p = self.heap().slots_new(n + 1).expect("slots_new").payload();
                let id;
                (id, automatic) = self.model.alloc(Kind::Slots, Fin::Nothing, n, p);
                let tag = self.new_tag(id);
                slots::set(header(p), n, Some(tag)).expect("slots::set tag");
                decref(tag, "model test");
                add(&TOTALS.objects, 1);
            }
            Op::Link { src, field, dst } => {
                if let Some(s) = self.pick(src, |o| !o.refs.is_empty()) {
                    let f = usize::from(field) % self.model.objs[s].refs.len();
                    let d = self.pick(dst, |_| true);
                    self.set_field(s, f, d);
                }
            }
            Op::Unlink { src, field } => {
                if let Some(s) = self.pick(src, |o| !o.refs.is_empty()) {
                    let f = usize::from(field) % self.model.objs[s].refs.len();
                    self.set_field(s, f, None);
                }
            }
            Op::Incref { obj } => {
                if let Some(i) = self.pick(obj, |_| true) {
                    incref(header(self.model.objs[i].p));
                    self.model.objs[i].ext += 1;
                    self.model.incref(i);
                }
            }
            Op::Decref { obj } => {
                if let Some(i) = self.pick(obj, |o| o.ext > 0) {
                    self.drop_ref(i);
                }
            }
            Op::Collect { generation } => {
                let g = usize::from(generation % 3);
                // (A DropRef callback may drop the last reference to its weak reference.)
                let reach_before = self.model.reachable_from_test(false);
                let found = self
                    .heap()
                    .collect(g)
                    .unwrap_or_else(|e| self.fail(format_args!("collect({g}): {e}")));
                let expected = self.model.collect(g);
                add(&TOTALS.collections[g], 1);
                add(&TOTALS.found, found);
                if found != expected {
                    self.fail(format_args!(
                        "collect({g}) returned {found}, CPython's rules give {expected}"
                    ));
                }
                // No collection frees what the test could reach (finalizers may
                // have made objects since).
                for (i, (o, &reached)) in self.model.objs.iter().zip(&reach_before).enumerate() {
                    if reached && !o.alive {
                        self.fail(format_args!(
                            "object {i} was reachable before the collection and is dead"
                        ));
                    }
                }
                if g == 2 {
                    // After a full collection exactly what the test (or a callback
                    // not run yet) can reach is alive (what finalizers resurrected is
                    // held by the test, hence reachable); verify() compares the heap's
                    // live set with the model's.
                    let reach = self.model.reachable_from_test(true);
                    for (i, o) in self.model.objs.iter().enumerate() {
                        if o.alive != reach[i] {
                            self.fail(format_args!(
                                "after a full collection object {i} is {} but {} from the test's references",
                                if o.alive { "alive" } else { "dead" },
                                if reach[i] { "reachable" } else { "unreachable" }
                            ));
                        }
                    }
                    add(&TOTALS.full_exact, 1);
                }
            }
            Op::Thresholds { t0, t1, t2 } => {
                let th = [usize::from(t0), usize::from(t1), usize::from(t2)];
                // SAFETY: a live heap.
                let r = unsafe { rcgc_set_threshold(self.handle(), th[0], th[1], th[2]) };
                assert_eq!(r, rcgc_result::RCGC_OK);
                self.model.th = th;
            }
            Op::Enable => {
                // SAFETY: a live heap.
                assert_eq!(unsafe { rcgc_enable(self.handle()) }, rcgc_result::RCGC_OK);
                self.model.enabled = true;
            }
            Op::Disable => {
                // SAFETY: a live heap.
                assert_eq!(unsafe { rcgc_disable(self.handle()) }, rcgc_result::RCGC_OK);
                self.model.enabled = false;
            }
            Op::SetFin { obj, fin } => {
                if let Some(i) = self.pick(obj, |o| o.kind == Kind::Node) {
                    let fin = Fin::from_byte(fin);
                    // SAFETY: a live Node.
                    unsafe { (*self.model.objs[i].p.cast::<Node>()).fin = fin as usize };
                    self.model.objs[i].fin = fin;
                }
            }
            Op::WeakNew { obj, callback } => {
                if self.model.objs.len() >= MAX_OBJECTS {
                    return;
                }
                if let Some(x) = self.pick(obj, |_| true) {
                    automatic = self.weakref_new(x, Callback::from_byte(callback));
                }
            }
            Op::WeakGet { wr } => {
                if let Some(w) = self.pick(wr, |o| o.kind == Kind::WeakRef) {
                    let mut got = ptr::null_mut();
                    // SAFETY: a live weak reference; `got` is writable.
                    let r = unsafe { rcgc_weakref_get_ref(self.model.objs[w].p, &mut got) };
                    let expected = self.model.weak(w).referent;
                    if r != rcgc_result::RCGC_OK || got != expected.map_or(ptr::null_mut(), |x| self.model.objs[x].p) {
                        self.fail(format_args!(
                            "rcgc_weakref_get_ref of weak reference {w} gave {r:?} and {got:?}, the model expects \
                             object {expected:?}"
                        ));
                    }
                    if let Some(x) = expected {
                        self.model.objs[x].ext += 1;
                        self.model.incref(x);
                    }
                }
            }
            Op::WeakDrop { wr } => {
                if let Some(w) = self.pick(wr, |o| o.kind == Kind::WeakRef && o.ext > 0) {
                    self.drop_ref(w);
                }
            }
        }
        if automatic.is_some() {
            add(&TOTALS.automatic, 1);
        }
        self.verify();
    }

    /// The test drops one of the references it holds to object `i`.
    fn drop_ref(&mut self, i: usize) {
        decref(header(self.model.objs[i].p), "model test");
        self.model.objs[i].ext -= 1;
        self.model.decref(i);
    }

    /// rcgc_weakref_new on object `x`, in the heap and in the model; returns the
    /// generation of the automatic collection it ran, if any.
    fn weakref_new(&mut self, x: usize, callback: Callback) -> Option<usize> {
        let callback = match callback {
            Callback::DropRef if self.model.objs[x].kind == Kind::WeakRef => Callback::Record,
            callback => callback,
        };
        // A callback's context is the operation's number.
        let ctx = self.step;
        let (f, ctx_ptr): (rcgc_weakref_fn, *mut c_void) = match callback {
            Callback::None => (None, ptr::null_mut()),
            Callback::Record => (Some(weak_record), ptr::without_provenance_mut(ctx)),
            Callback::DropRef => (Some(weak_drop_ref), ptr::without_provenance_mut(ctx)),
        };
        let referent = header(self.model.objs[x].p);
        // A DropRef callback gets its reference before the referent can die:
        // the test holds the referent meanwhile.
        let hold = callback == Callback::DropRef;
        if hold {
            incref(referent);
            self.model.incref(x);
        }
        let wr = self
            .heap()
            .weakref_new(referent, f, ctx_ptr)
            .unwrap_or_else(|e| self.fail(format_args!("rcgc_weakref_new of object {x}: {e}")));
        if hold {
            incref(wr);
        }
        let p = wr.payload();
        let (w, made, automatic) = self.model.weakref_new(x, callback, ctx, p);
        if hold {
            decref(referent, "model test");
            self.model.decref(x);
        }
        match made {
            Made::New => add(&TOTALS.weakrefs, 1),
            Made::Shared => add(&TOTALS.shared_weakrefs, 1),
            Made::SharedMeanwhile => {
                add(&TOTALS.shared_weakrefs, 1);
                add(&TOTALS.shared_meanwhile, 1);
                self.model.exercised.shared_meanwhile += 1;
            }
        }
        if let Some(error) = self.model.check_made(w, made, p) {
            self.fail(format_args!("{callback:?}: {error}"));
        }
        automatic
    }

    /// The model id of a live object the heap handed to the test.
    fn id_of(&self, p: *mut c_void) -> usize {
        let h = header(p);
        if self.heap().is_weakref(h) {
            self.model
                .alive()
                .find(|&i| self.model.objs[i].p == p)
                .expect("a live weak reference the model knows")
        } else if ptr::eq(h.ty(), self.node_type) || ptr::eq(h.ty(), self.declared_type) {
            // SAFETY: a live object whose payload starts with a Node.
            unsafe { (*p.cast::<Node>()).id }
        } else {
            let len = slots::len(h).expect("a slots object");
            let tag = slots::get(h, len - 1).expect("the tag slot");
            // SAFETY: the last slot of a live slots object holds its live tag.
            unsafe { (*tag.cast::<Tag>()).owner }
        }
    }

    /// Compares the heap with the model.
    fn verify(&mut self) {
        let misuse = MISUSE.with(|m| std::mem::take(&mut *m.borrow_mut()));
        if !misuse.is_empty() {
            self.fail(format_args!("misuse reported: {misuse:?}"));
        }
        let errors = std::mem::take(&mut self.model.errors);
        if !errors.is_empty() {
            self.fail(format_args!("{}", errors.join("; ")));
        }
        let made = MADE.with(|m| std::mem::take(&mut *m.borrow_mut()));
        if !made.is_empty() {
            self.fail(format_args!(
                "finalizers made weak references the model's did not make: (Node, address) {made:?}"
            ));
        }
        let collections = COLLECTIONS.with(|c| std::mem::take(&mut *c.borrow_mut()));
        if !collections.is_empty() {
            self.fail(format_args!(
                "the heap ran {} collections the model did not run",
                collections.len()
            ));
        }
        self.model.check_counts_consistent();

        // What finalizers handed to the test.
        let real: Vec<*mut c_void> = RESURRECTED.with(|r| std::mem::take(&mut *r.borrow_mut()));
        let real: Vec<usize> = real.into_iter().map(|p| self.id_of(p)).collect();
        let expected = std::mem::take(&mut self.model.resurrected);
        add(&TOTALS.resurrections, expected.len());
        self.check_same("objects finalizers resurrected", real, expected);
        // Finalizers: at most once per object, and as many as the model ran.
        let ran: Vec<usize> = FINALIZED.with(|f| std::mem::take(&mut *f.borrow_mut()));
        add(&TOTALS.finalizers_run, ran.len());
        if ran.len() != self.model.finalizers_run {
            self.fail(format_args!(
                "{} finalizers ran ({ran:?}), the model expects {}",
                ran.len(),
                self.model.finalizers_run
            ));
        }
        self.model.finalizers_run = 0;
        let n = self.model.objs.len();
        self.finalized.resize(n, 0);
        for id in ran {
            self.finalized[id] += 1;
            if self.finalized[id] > 1 || !self.model.objs[id].finalized {
                self.fail(format_args!(
                    "the finalizer of object {id} ran when the model says it must not"
                ));
            }
        }

        self.verify_weakrefs();

        // The live set, object by object.
        self.destroyed.resize(n, 0);
        for id in DESTROYED.with(|d| std::mem::take(&mut *d.borrow_mut())) {
            self.destroyed[id] += 1;
        }
        let (mut live, mut tagged) = (0, 0);
        for i in 0..n {
            let o = &self.model.objs[i];
            if !o.alive {
                // (Weak references have no destroy callback: verify_weakrefs checks them.)
                if o.kind != Kind::WeakRef && self.destroyed[i] != 1 {
                    self.fail(format_args!(
                        "object {i} ({:?}) is dead in the model but was destroyed {} times",
                        o.kind, self.destroyed[i]
                    ));
                }
                continue;
            }
            if self.destroyed[i] != 0 {
                self.fail(format_args!(
                    "object {i} ({:?}) is alive in the model but was destroyed",
                    o.kind
                ));
            }
            live += 1;
            tagged += usize::from(o.kind == Kind::Slots || o.declared);
            let h = header(o.p);
            if h.refcnt() as usize != o.rc {
                self.fail(format_args!(
                    "object {i} ({:?}): refcount {}, model {}",
                    o.kind,
                    h.refcnt(),
                    o.rc
                ));
            }
            let Some(real_gen) = self.heap().generation_of(h) else {
                self.fail(format_args!(
                    "object {i}: state {:?}, the model says generation {}",
                    h.state(),
                    o.generation
                ))
            };
            if real_gen != o.generation {
                self.fail(format_args!(
                    "object {i} ({:?}) is in generation {real_gen}, the model says {}",
                    o.kind, o.generation
                ));
            }
        }

        // The collector's state.
        // SAFETY: a live heap.
        let (counts, thresholds, enabled) = unsafe {
            (
                rcgc_get_count(self.handle()).array(),
                rcgc_get_threshold(self.handle()).array(),
                rcgc_is_enabled(self.handle()),
            )
        };
        if counts != self.model.count {
            self.fail(format_args!(
                "counts are {counts:?}, CPython's rules give {:?}",
                self.model.count
            ));
        }
        if thresholds != self.model.th || enabled != self.model.enabled {
            self.fail(format_args!("thresholds {thresholds:?} enabled {enabled}"));
        }
        let stats = self.heap().stats();
        if stats.live_objects != live + tagged || stats.tracked_objects != live {
            self.fail(format_args!(
                "stats: {} live, {} tracked; the model has {live} objects, {tagged} of them with a tag (slots objects, declared Nodes)",
                stats.live_objects, stats.tracked_objects
            ));
        }
    }

    /// Compares weak references: the callbacks that ran, which weak references
    /// are alive, what each returns, how many point to each object.
    fn verify_weakrefs(&mut self) {
        let n = self.model.objs.len();
        self.called.resize(n, 0);
        let mut real = Vec::new();
        for call in CALLED.with(|c| std::mem::take(&mut *c.borrow_mut())) {
            let Some(id) = self.model.weakref_with_ctx(call.ctx) else {
                self.fail(format_args!(
                    "a callback ran with ctx {:#x}, which no weak reference of the model has",
                    call.ctx
                ))
            };
            if self.model.objs[id].p != call.weakref {
                self.fail(format_args!(
                    "a callback made for weak reference {id} was called with {:?}",
                    call.weakref
                ));
            }
            if call.ctx & MADE_BY_FINALIZER != 0 {
                add(&TOTALS.finalizer_callbacks, 1);
            }
            if !call.referent.is_null() {
                self.fail(format_args!(
                    "during the callback of weak reference {id}, rcgc_weakref_get returned {:?}",
                    call.referent
                ));
            }
            self.called[id] += 1;
            if self.called[id] > 1 {
                self.fail(format_args!("the callback of weak reference {id} ran twice"));
            }
            real.push(id);
        }
        let expected = std::mem::take(&mut self.model.calls);
        add(&TOTALS.callbacks, real.len());
        self.check_same("weak references whose callback ran", real, expected);

        // The live weak references (they have no destroy callback to tell).
        let mut tracked: Vec<*mut c_void> = Vec::new();
        // SAFETY: a live heap; the callback pushes onto `tracked`.
        let r = unsafe { rcgc_get_objects(self.handle(), -1, Some(push_object), (&raw mut tracked).cast()) };
        assert_eq!(r, rcgc_result::RCGC_OK, "rcgc_get_objects");
        let real: Vec<*mut c_void> = tracked
            .into_iter()
            .filter(|&p| self.heap().is_weakref(header(p)))
            .collect();
        let expected: Vec<*mut c_void> = self
            .model
            .alive()
            .filter(|&i| self.model.objs[i].kind == Kind::WeakRef)
            .map(|i| self.model.objs[i].p)
            .collect();
        self.check_same("live weak references", real, expected);

        for i in self.model.alive() {
            let o = &self.model.objs[i];
            let h = header(o.p);
            let count = self.heap().weakref_count(h);
            if count != o.weakrefs.len() {
                self.fail(format_args!(
                    "object {i} ({:?}) has {count} weak references, the model {:?}",
                    o.kind, o.weakrefs
                ));
            }
            if let Some(weak) = o.weak {
                let got = self
                    .heap()
                    .weakref_get(h)
                    .unwrap_or_else(|e| self.fail(format_args!("weakref_get of weak reference {i}: {e}")));
                let got = got.map(|r| {
                    decref(r, "model test");
                    r.payload()
                });
                if got != weak.referent.map(|x| self.model.objs[x].p) {
                    self.fail(format_args!(
                        "weak reference {i} ({:?}) gives {got:?}, the model says object {:?}",
                        weak.callback, weak.referent
                    ));
                }
            }
        }
    }

    /// Ends the sequence: either drops every reference and collects until nothing
    /// is left (then the heap must be empty), or frees the heap with objects alive
    /// (then each is destroyed exactly once).
    pub fn finish(mut self, leak: bool) {
        self.teardown = true;
        if !leak {
            for _round in 0..=self.model.objs.len() + 1 {
                while self.pick(0, |o| o.ext > 0).is_some() {
                    self.apply(&Op::Decref { obj: 0 });
                }
                self.apply(&Op::Collect { generation: 2 });
                if self.model.alive().next().is_none() {
                    break;
                }
            }
            if let Some(i) = self.model.alive().next() {
                self.fail(format_args!(
                    "object {i} is still alive after every reference was dropped"
                ));
            }
            let stats = self.heap().stats();
            assert_eq!(stats.live_objects, 0, "the heap is empty");
        }
        // (Weak references have no destroy callback.)
        let expected: Vec<usize> = self
            .model
            .alive()
            .filter(|&i| self.model.objs[i].kind != Kind::WeakRef)
            .collect();
        // SAFETY: the heap is idle and not used again.
        unsafe { Heap::destroy(self.heap) };
        let mut destroyed = DESTROYED.with(|d| std::mem::take(&mut *d.borrow_mut()));
        destroyed.sort_unstable();
        assert_eq!(
            destroyed, expected,
            "rcgc_heap_free destroys every live object exactly once"
        );
        // (rcgc_heap_free's own collections and finalizers run unchecked.)
        RESURRECTED.with(|r| r.borrow_mut().clear());
        FINALIZED.with(|f| f.borrow_mut().clear());
        CALLED.with(|c| c.borrow_mut().clear());
        MADE.with(|m| m.borrow_mut().clear());
        COLLECTIONS.with(|c| c.borrow_mut().clear());
    }
}

/// Reads a sequence from bytes (the fuzz target's input): a settings byte, then
/// operations of one opcode byte and their argument bytes.
pub fn decode(data: &[u8]) -> (CaseConfig, Vec<Op>) {
    let mut bytes = data.iter().copied();
    let flags = bytes.next().unwrap_or(0);
    let config = CaseConfig {
        finalizers: flags & 1 != 0,
        thresholds: (flags & 2 != 0).then_some([1 + ((flags >> 2) & 7), (flags >> 5) & 1, (flags >> 6) & 1]),
        leak_at_end: flags & 0x80 != 0,
    };
    let mut ops = Vec::new();
    while let Some(code) = bytes.next() {
        let mut b = || bytes.next().unwrap_or(0);
        let op = match code % 19 {
            0 => Op::AllocNode { fin: b() },
            1 => Op::AllocDeclared { fin: b() },
            2 => Op::AllocSlots { n: b() },
            3..=5 => Op::Link {
                src: u16::from(b()),
                field: b(),
                dst: u16::from(b()),
            },
            6 => Op::Unlink {
                src: u16::from(b()),
                field: b(),
            },
            7 => Op::Incref { obj: u16::from(b()) },
            8 | 9 => Op::Decref { obj: u16::from(b()) },
            10 | 11 => Op::Collect { generation: b() },
            12 => {
                let (t0, t1, t2) = (b() % 8, b() % 4, b() % 4);
                Op::Thresholds { t0, t1, t2 }
            }
            13 => Op::Enable,
            14 => Op::Disable,
            15 => Op::SetFin {
                obj: u16::from(b()),
                fin: b(),
            },
            16 => Op::WeakNew {
                obj: u16::from(b()),
                callback: b(),
            },
            17 => Op::WeakGet { wr: u16::from(b()) },
            _ => Op::WeakDrop { wr: u16::from(b()) },
        };
        ops.push(op);
    }
    (config, ops)
}

/// Runs one whole sequence; returns what it exercised.
pub fn run(config: &CaseConfig, ops: &[Op], stress: bool) -> Exercised {
    let mut harness = Harness::new(config, stress);
    for op in ops {
        harness.apply(op);
    }
    let exercised = harness.model.exercised;
    harness.finish(config.leak_at_end);
    exercised
}
