//! Weak references (Python's `weakref.ref`): objects of the built-in type
//! "rcgc.weakref" that point at a referent without owning a reference to it.
//!
//! # Where they live
//!
//! An object that never gets a weak reference pays nothing: its header does
//! not grow, and one tag bit (WEAKLY_REFERENCED) stays clear. The heap maps
//! each weakly referenced object's address to the head of its list of weak
//! references, doubly linked through their payloads. The order is CPython's:
//! the shared reference without callback first, then the references with a
//! callback, newest first; callbacks run in that order.
//!
//! Weak reference objects are tracked (their traverse reports nothing: a
//! weak reference owns no reference), so they count toward generation 0 as
//! CPython's do, and one that is itself cyclic garbage is found as such.
//!
//! # Rules (CPython's)
//!
//! - Without a callback, `rcgc_weakref_new` returns the object's existing
//!   reference without callback when it has one (`weakref.ref(o) is
//!   weakref.ref(o)`).
//! - When the referent's count reaches zero, after its finalizer (unless that
//!   resurrected it): every weak reference to it is cleared, then the
//!   callbacks run, each with its weak reference held for the call and
//!   `rcgc_weakref_get` already returning NULL.
//! - In a collection (src/collector.rs, steps 3b and 5b): once the
//!   unreachable set is known and before any finalizer runs, weak references
//!   to unreachable objects are cleared, and so are unreachable weak
//!   references, whatever they point to; then the callbacks of the cleared
//!   ones that are not unreachable themselves run (those that are garbage
//!   never call back), and each such weak reference still alive afterwards
//!   moves to the collection's target generation (CPython 3.11's
//!   handle_weakrefs moves it to `old`, even from an older generation). After
//!   the finalizers, weak references a finalizer made to what is still
//!   unreachable are cleared without callbacks: this is the rule of CPython's
//!   newer `Python/gc.c` (`clear_weakrefs` over the final unreachable set);
//!   CPython 3.11 left them to the deallocation, which called their callbacks.
//! - A weak reference or a referent whose count reached zero and which waits
//!   on the freeing worklist (rcgc frees iteratively, CPython at once) is
//!   already gone: `rcgc_weakref_new` does not share such a weak reference,
//!   and `rcgc_weakref_get` returns NULL for such a referent (CPython 3.11's
//!   PyWeakref_GET_OBJECT checks the referent's refcount the same way).
//! - `rcgc_heap_free` clears every weak reference without callbacks after its
//!   final collection.
//! - A weak reference made with a release function calls it once with its
//!   ctx: right after its callback returned, or, if the callback never runs,
//!   as the weak reference object is freed (its destroy), however that
//!   happens. (CPython's weak reference owns its callback object and drops it
//!   at the same two moments.)

use std::cell::{Cell, UnsafeCell};
use std::ffi::c_void;
use std::mem::size_of;
use std::ptr;

use crate::addr_map::AddrMap;
use crate::error::Error;
use crate::header::{Header, State};
use crate::heap::{Heap, Phase};
use crate::refcount::{decref, incref};
use crate::types::{rcgc_type_spec, rcgc_visit_fn};

/// A weak reference's callback: called once, when its referent dies while the
/// weak reference is alive, with the weak reference (a borrowed reference,
/// whose rcgc_weakref_get already returns NULL) and the `ctx` given to
/// rcgc_weakref_new. It may allocate, incref, decref and create weak
/// references; rcgc_collect from it fails with RCGC_ERR_REENTRANT when it runs
/// inside a collection.
#[allow(non_camel_case_types)]
pub type rcgc_weakref_fn = Option<unsafe extern "C" fn(weakref: *mut c_void, ctx: *mut c_void)>;

/// Lets go of a weak reference's `ctx` (rcgc_weakref_new_with_release):
/// called once, right after the callback returned, or, when the callback never
/// runs, as the weak reference object is freed (by its count, by a
/// collection, or by rcgc_heap_free). It may incref and decref objects, as a
/// destroy callback may (see rcgc_destroy_fn for rcgc_heap_free's final sweep).
#[allow(non_camel_case_types)]
pub type rcgc_weakref_release_fn = Option<unsafe extern "C" fn(ctx: *mut c_void)>;

/// The payload of a weak reference object.
#[repr(C)]
struct WeakRef {
    /// The referent; NULL once cleared.
    referent: Cell<*const Header>,
    callback: Cell<rcgc_weakref_fn>,
    ctx: Cell<*mut c_void>,
    /// Called with `ctx` when the weak reference lets go of it; taken (None)
    /// once called.
    release: Cell<rcgc_weakref_release_fn>,
    /// Neighbours in the referent's list.
    prev: Cell<*const Header>,
    next: Cell<*const Header>,
    /// The next weak reference whose callback is due (see `Due`).
    due: Cell<*const Header>,
}

/// The spec of the weak reference type every heap registers.
pub fn spec() -> rcgc_type_spec {
    rcgc_type_spec {
        name: c"rcgc.weakref".as_ptr(),
        size: size_of::<WeakRef>(),
        traverse: Some(traverse),
        clear: Some(clear),
        finalize: None,
        destroy: Some(destroy),
    }
}

unsafe extern "C" fn traverse(_obj: *mut c_void, _visit: rcgc_visit_fn, _ctx: *mut c_void) {}

/// A weak reference's clear: it lets go of its referent, without callback.
/// Runs when the weak reference dies, or is cleared as cyclic garbage.
unsafe extern "C" fn clear(obj: *mut c_void) {
    // SAFETY: called with a weak reference object of a live heap.
    let h = unsafe { Header::from_payload(obj) };
    h.ty().heap().unlink(h);
}

/// A weak reference's destroy: it lets go of its `ctx` if its callback never
/// ran (the release function, if any, is still there).
unsafe extern "C" fn destroy(obj: *mut c_void) {
    // SAFETY: called with a weak reference object of a live heap.
    release_ctx(payload(unsafe { Header::from_payload(obj) }));
}

/// Calls `data`'s release function, if it has one not yet called, with its ctx.
fn release_ctx(data: &WeakRef) {
    if let Some(release) = data.release.take() {
        // SAFETY: the user's release function, called once with the ctx it was
        // given with (rcgc_weakref_new_with_release).
        unsafe { release(data.ctx.get()) };
    }
}

/// The payload of `h`, which must be a weak reference object.
fn payload(h: &Header) -> &WeakRef {
    // SAFETY: weak reference objects are allocated with a zeroed payload of
    // size_of::<WeakRef>() bytes, 16-byte aligned; all-zero bytes are a valid
    // WeakRef (NULL pointers, no callback), and its fields are Cells.
    unsafe { &*h.payload().cast::<WeakRef>() }
}

/// The heap's table of weakly referenced objects.
#[derive(Default)]
pub(crate) struct WeakTable {
    /// Referent address -> the first weak reference of its list.
    heads: UnsafeCell<AddrMap<*const Header>>,
}

impl WeakTable {
    fn with<R>(&self, f: impl FnOnce(&mut AddrMap<*const Header>) -> R) -> R {
        // SAFETY: one thread uses the heap and no closure passed here runs
        // user code, so this is the only borrow of the map while it lives.
        f(unsafe { &mut *self.heads.get() })
    }

    /// Whether no object has weak references (collections skip their steps).
    pub(crate) fn is_empty(&self) -> bool {
        self.with(|m| m.is_empty())
    }

    fn head(&self, referent: &Header) -> *const Header {
        self.with(|m| {
            m.get(&(referent as *const Header as usize))
                .copied()
                .unwrap_or(ptr::null())
        })
    }

    fn set_head(&self, referent: &Header, head: *const Header) {
        let key = referent as *const Header as usize;
        if head.is_null() {
            self.with(|m| m.remove(&key));
            referent.set_weakly_referenced(false);
        } else {
            // Room was reserved by the caller when this adds an entry.
            self.with(|m| m.insert(key, head));
            referent.set_weakly_referenced(true);
        }
    }
}

/// A list of weak references whose callbacks are due, linked through their
/// `due` fields (so making it never allocates); each holds a reference to
/// its weak reference until the callback has run.
struct Due {
    first: *const Header,
    last: *const Header,
}

impl Due {
    fn new() -> Due {
        Due {
            first: ptr::null(),
            last: ptr::null(),
        }
    }

    fn push(&mut self, wr: &Header) {
        incref(wr);
        payload(wr).due.set(ptr::null());
        if self.last.is_null() {
            self.first = wr;
        } else {
            // SAFETY: held by this list.
            payload(unsafe { &*self.last }).due.set(wr);
        }
        self.last = wr;
    }

    /// Runs the callbacks in order (each followed by its release function),
    /// dropping the list's references, and passes each weak reference still
    /// alive afterwards to `survived`.
    /// Returns how many weak references were freed by that (CPython counts
    /// them as collected when this happens in a collection).
    fn run(self, survived: impl Fn(&Header)) -> usize {
        let mut freed = 0;
        let mut next = self.first;
        while !next.is_null() {
            // SAFETY: held by this list until the decref below.
            let wr = unsafe { &*next };
            next = payload(wr).due.get();
            let data = payload(wr);
            if let Some(callback) = data.callback.get() {
                // SAFETY: the user's callback, with the weak reference held for the call.
                unsafe { callback(wr.payload(), data.ctx.get()) };
            }
            release_ctx(data);
            if wr.refcnt() == 1 {
                freed += 1;
                decref(wr, "rcgc_weakref callback");
            } else {
                decref(wr, "rcgc_weakref callback");
                survived(wr);
            }
        }
        freed
    }
}

impl Heap {
    /// Whether `h` is a weak reference object.
    pub fn is_weakref(&self, h: &Header) -> bool {
        ptr::eq(h.ty(), self.weakref_type_ptr())
    }

    fn expect_weakref(&self, h: &Header) -> Result<(), Error> {
        if self.is_weakref(h) {
            Ok(())
        } else {
            Err(Error::WrongType {
                addr: h.addr(),
                ty: h.ty().display_name(),
                expected: "not a weak reference",
            })
        }
    }

    /// The object's weak reference without callback, if it has one (always
    /// the head of its list) that is not being freed: one whose count reached
    /// zero waits on the freeing worklist, still in the list, and must not
    /// be handed out again (CPython frees it at once; CPython 3.13's
    /// try_reuse_basic_ref refuses a weak reference whose count is zero).
    fn basic_ref(&self, referent: &Header) -> Option<&Header> {
        if !referent.weakly_referenced() {
            return None;
        }
        // SAFETY: heads are live weak reference objects.
        let head = unsafe { self.weak.head(referent).as_ref() }?;
        (payload(head).callback.get().is_none() && head.refcnt() > 0).then_some(head)
    }

    /// rcgc_weakref_new: a weak reference to `referent` (a new reference).
    pub fn weakref_new(
        &self,
        referent: &Header,
        callback: rcgc_weakref_fn,
        ctx: *mut c_void,
    ) -> Result<&Header, Error> {
        self.weakref_new_with_release(referent, callback, ctx, None)
    }

    /// rcgc_weakref_new_with_release: rcgc_weakref_new, and `release` is
    /// kept to let go of `ctx` when it succeeds with a weak reference of its
    /// own (a callback is given).
    pub fn weakref_new_with_release(
        &self,
        referent: &Header,
        callback: rcgc_weakref_fn,
        ctx: *mut c_void,
        release: rcgc_weakref_release_fn,
    ) -> Result<&Header, Error> {
        if referent.refcnt() == 0 || referent.state() == State::Freed {
            return Err(Error::Dead {
                addr: referent.addr(),
                ty: referent.ty().display_name(),
            });
        }
        if callback.is_none()
            && let Some(basic) = self.basic_ref(referent)
        {
            incref(basic);
            return Ok(basic);
        }
        // The allocation may collect, and the collection run user code: the
        // referent is held meanwhile, and its list is read afterwards.
        incref(referent);
        let made = self.alloc(self.weakref_type(), size_of::<WeakRef>());
        let linked = made.and_then(|wr| {
            if callback.is_none()
                && let Some(basic) = self.basic_ref(referent)
            {
                // A collection made one meanwhile: it is the one to share.
                incref(basic);
                decref(wr, "rcgc_weakref_new");
                return Ok(basic);
            }
            if !referent.weakly_referenced() && self.weak.with(|m| m.try_reserve(1)).is_err() {
                decref(wr, "rcgc_weakref_new");
                return Err(Error::NoMemory);
            }
            let data = payload(wr);
            data.referent.set(referent);
            data.callback.set(callback);
            data.ctx.set(ctx);
            // Without a callback, there is no ctx to let go of.
            data.release.set(if callback.is_some() { release } else { None });
            self.link(referent, wr);
            Ok(wr)
        });
        decref(referent, "rcgc_weakref_new");
        linked
    }

    /// Puts `wr` in `referent`'s list at CPython's place: a reference without
    /// callback at the head, one with a callback after it (or at the head).
    fn link(&self, referent: &Header, wr: &Header) {
        let head = if referent.weakly_referenced() {
            self.weak.head(referent)
        } else {
            ptr::null()
        };
        // SAFETY: list members are live weak reference objects.
        let after = unsafe { head.as_ref() }
            .filter(|h| payload(wr).callback.get().is_some() && payload(h).callback.get().is_none());
        let data = payload(wr);
        match after {
            Some(basic) => {
                let next = payload(basic).next.get();
                data.prev.set(basic);
                data.next.set(next);
                payload(basic).next.set(wr);
                // SAFETY: as above.
                if let Some(next) = unsafe { next.as_ref() } {
                    payload(next).prev.set(wr);
                }
            }
            None => {
                data.prev.set(ptr::null());
                data.next.set(head);
                // SAFETY: as above.
                if let Some(head) = unsafe { head.as_ref() } {
                    payload(head).prev.set(wr);
                }
                self.weak.set_head(referent, wr);
            }
        }
    }

    /// Takes `wr` out of its referent's list and clears it (no callback).
    pub(crate) fn unlink(&self, wr: &Header) {
        let data = payload(wr);
        let referent = data.referent.replace(ptr::null());
        if referent.is_null() {
            return;
        }
        let (prev, next) = (data.prev.replace(ptr::null()), data.next.replace(ptr::null()));
        // SAFETY: list members are live weak reference objects.
        if let Some(next) = unsafe { next.as_ref() } {
            payload(next).prev.set(prev);
        }
        // SAFETY: as above.
        match unsafe { prev.as_ref() } {
            Some(prev) => payload(prev).next.set(next),
            // SAFETY: a referent is alive while weak references point to it.
            None => self.weak.set_head(unsafe { &*referent }, next),
        }
    }

    /// Clears every weak reference to `referent`; those with a callback that
    /// `call_back` accepts are added to `due`.
    fn clear_list(&self, referent: &Header, due: &mut Due, call_back: impl Fn(&Header) -> bool) {
        while referent.weakly_referenced() {
            // SAFETY: heads are live weak reference objects.
            let wr = unsafe { &*self.weak.head(referent) };
            self.unlink(wr);
            // A weak reference whose own count reached zero is being freed
            // (it waits on the pending list): it does not call back, as in
            // CPython's PyObject_ClearWeakRefs.
            if payload(wr).callback.get().is_some() && wr.refcnt() > 0 && call_back(wr) {
                due.push(wr);
            }
        }
    }

    /// `referent`'s count reached zero and it stays dead: its weak references
    /// are cleared, then their callbacks run. Out of line: the freeing loop
    /// calls it only for objects marked weakly referenced.
    #[cold]
    #[inline(never)]
    pub(crate) fn weakly_referenced_dies(&self, referent: &Header) {
        let mut due = Due::new();
        self.clear_list(referent, &mut due, |_| true);
        due.run(|_| {});
    }

    /// A collection's first weak reference step, over the unreachable
    /// objects `unreachable` (holes allowed): clears the weak references to
    /// them and the weak references among them, then runs the callbacks of
    /// the cleared ones that are not unreachable themselves; those still
    /// alive afterwards move to the collection's `target` generation. Returns
    /// how many weak references that freed (CPython 3.11 counts them as
    /// collected).
    pub(crate) fn weakrefs_of_garbage(
        &self,
        unreachable: impl Fn(usize) -> Option<*const Header>,
        target: usize,
    ) -> usize {
        let mut due = Due::new();
        let mut i = 0;
        while let Some(p) = unreachable(i) {
            i += 1;
            // SAFETY: non-NULL entries are live objects.
            if let Some(h) = unsafe { p.as_ref() } {
                if self.is_weakref(h) {
                    // Unreachable itself: it lets go of its referent, whatever
                    // that is, and never calls back (bpo-38006).
                    self.unlink(h);
                }
                self.clear_list(h, &mut due, |wr| wr.state() != State::Unreachable);
            }
        }
        if due.first.is_null() {
            return 0;
        }
        let outer = self.enter(Phase::WeakCallbacks);
        // As CPython 3.11's handle_weakrefs moves them to `old`; the room the
        // rest of the collection may need there (at most one place per
        // unreachable object) stays reserved.
        let freed = due.run(|wr| self.move_to_generation(wr, target, i));
        self.enter(outer);
        freed
    }

    /// A collection's second weak reference step, after the finalizers: weak
    /// references to what is still unreachable (made by finalizers) are
    /// cleared, without callbacks.
    pub(crate) fn clear_weakrefs_of_garbage(&self, unreachable: impl Fn(usize) -> Option<*const Header>) {
        let mut i = 0;
        let mut due = Due::new();
        while let Some(p) = unreachable(i) {
            i += 1;
            // SAFETY: non-NULL entries are live objects.
            if let Some(h) = unsafe { p.as_ref() } {
                self.clear_list(h, &mut due, |_| false);
            }
        }
        debug_assert!(due.first.is_null(), "no callback is due");
    }

    /// rcgc_heap_free: clears every weak reference, without callbacks.
    pub(crate) fn clear_all_weakrefs(&self) {
        for (_, head) in self.weak.with(std::mem::take) {
            // SAFETY: the table holds live weak references to live referents;
            // a list's head points at the referent the entry is for.
            unsafe { &*payload(&*head).referent.get() }.set_weakly_referenced(false);
            let mut next = head;
            // SAFETY: as above.
            while let Some(wr) = unsafe { next.as_ref() } {
                let data = payload(wr);
                next = data.next.replace(ptr::null());
                data.prev.set(ptr::null());
                data.referent.set(ptr::null());
            }
        }
    }

    /// rcgc_weakref_get: the referent, with a new reference, or None once it
    /// died. A referent whose count reached zero is dead even while it waits
    /// on the freeing worklist with its weak references not cleared yet, as
    /// CPython 3.11's PyWeakref_GET_OBJECT returns None for a referent whose
    /// refcount is zero (gh-60806, deallocations the trashcan deferred).
    pub fn weakref_get(&self, wr: &Header) -> Result<Option<&Header>, Error> {
        self.expect_weakref(wr)?;
        // SAFETY: a weak reference's referent is alive (its memory not
        // released) while it is set.
        let referent = unsafe { payload(wr).referent.get().as_ref() }.filter(|h| h.refcnt() > 0);
        if let Some(h) = referent {
            incref(h);
        }
        Ok(referent)
    }

    /// rcgc_weakref_count: how many weak references point to `referent`.
    pub fn weakref_count(&self, referent: &Header) -> usize {
        if !referent.weakly_referenced() {
            return 0;
        }
        let mut count = 0;
        let mut next = self.weak.head(referent);
        // SAFETY: list members are live weak reference objects.
        while let Some(wr) = unsafe { next.as_ref() } {
            count += 1;
            next = payload(wr).next.get();
        }
        count
    }
}
