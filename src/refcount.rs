//! Reference counting and the deallocation worklist.
//!
//! When a count reaches zero the object is untracked and pushed on the heap's
//! pending list; one loop (the outermost) drains it: finalize (once per object
//! ever, with the count briefly 1 so the finalizer may resurrect), clear its
//! weak references and run their callbacks (src/weakref.rs), clear (which
//! decrefs the children and so pushes more work instead of recursing), destroy,
//! then the memory goes. Freeing a chain of any length uses constant C stack.

use std::ptr;

use crate::header::{Header, IMMORTAL, State};
use crate::heap::{Heap, Phase};

/// Adds a reference. A count at u32::MAX stays there (the object becomes immortal).
#[inline(always)]
pub fn incref(header: &Header) {
    let rc = header.refcnt();
    if rc != IMMORTAL {
        header.set_refcnt(rc + 1);
    }
}

/// Drops a reference; at zero the object is freed. `func` names the C function
/// for the misuse report of a decref of an object whose count is already zero.
#[inline(always)]
pub fn decref(header: &Header, func: &'static str) {
    match header.refcnt() {
        1 => {
            header.set_refcnt(0);
            header.ty().heap().release(header);
        }
        0 => decref_of_dead(header, func),
        IMMORTAL => {}
        rc => header.set_refcnt(rc - 1),
    }
}

#[cold]
#[inline(never)]
fn decref_of_dead(header: &Header, func: &'static str) {
    let ty = header.ty();
    let what = if header.state() == State::Freed {
        "a freed object"
    } else {
        "an object being freed"
    };
    ty.heap().misuse(format_args!(
        "{func}: object {:#x} (type {}) has refcount 0: decref of {what}, or one decref more than increfs",
        header.addr(),
        ty.display_name()
    ));
}

impl Heap {
    /// Called when `header`'s count has just reached zero.
    #[inline]
    pub(crate) fn release(&self, header: &Header) {
        match self.phase() {
            // The final sweep of rcgc_heap_free frees everything itself.
            Phase::Sweeping => return,
            Phase::Traversing => return self.released_in_traverse(header),
            _ => {}
        }
        self.untrack_dead(header);
        if self.draining.get() {
            self.push_pending(header);
        } else {
            self.drain(header);
        }
    }

    #[cold]
    #[inline(never)]
    fn released_in_traverse(&self, header: &Header) {
        self.misuse(format_args!(
            "rcgc_decref: object {:#x} (type {}) reached refcount 0 inside a traverse callback; it is leaked",
            header.addr(),
            header.ty().display_name()
        ));
    }

    #[inline]
    fn push_pending(&self, header: &Header) {
        let below = self.pending_top.replace(header);
        if below.is_null() {
            return;
        }
        // SAFETY: no user code runs while this borrow is alive.
        let pending = unsafe { &mut *self.pending.get() };
        if pending.len() < pending.capacity() {
            pending.push(below);
        } else {
            // SAFETY: pending objects are dead but their memory is still ours.
            self.push_pending_grow(unsafe { &*below });
        }
    }

    #[cold]
    #[inline(never)]
    fn push_pending_grow(&self, header: &Header) {
        // SAFETY: no user code runs while this borrow is alive.
        let pending = unsafe { &mut *self.pending.get() };
        if pending.try_reserve(1).is_ok() {
            pending.push(header);
        } else {
            // Out of memory: link through the dead object's (refcnt, gc) words.
            let link = self.overflow.replace(header);
            // SAFETY: the object is dead and untracked, so its count and gc words
            // are ours; they are 8 bytes, 8-aligned, at offset 8.
            unsafe {
                (header as *const Header as *mut u8)
                    .add(8)
                    .cast::<*const Header>()
                    .write(link)
            };
        }
    }

    #[inline]
    fn pop_pending(&self) -> Option<&Header> {
        let top = self.pending_top.replace(ptr::null());
        if !top.is_null() {
            // SAFETY: pending objects are dead but their memory is still ours.
            return Some(unsafe { &*top });
        }
        // SAFETY: no user code runs while this borrow is alive.
        if let Some(h) = unsafe { &mut *self.pending.get() }.pop() {
            // SAFETY: pending objects are dead but their memory is still ours.
            return Some(unsafe { &*h });
        }
        let head = self.overflow.get();
        if head.is_null() {
            return None;
        }
        // SAFETY: overflow objects store the next link at offset 8 (see push_pending_grow).
        unsafe {
            let next = (head as *const u8).add(8).cast::<*const Header>().read();
            self.overflow.set(next);
            let h = &*head;
            h.set_refcnt(0);
            h.set_gc(0);
            Some(h)
        }
    }

    /// Frees `first`, then pending objects until none is left. Callbacks run
    /// here at a constant depth; decrefs they make push more work onto the list.
    #[inline(never)]
    fn drain(&self, first: &Header) {
        let poison = crate::heap::PoisonOnUnwind(self);
        self.draining.set(true);
        let outer = self.phase();
        if outer == Phase::Idle {
            self.enter(Phase::Freeing);
        }
        self.free_from(first);
        if outer == Phase::Idle {
            self.enter(Phase::Idle);
        }
        self.draining.set(false);
        poison.disarm();
    }

    /// Frees `first`, then pending objects until none is left; `draining`
    /// is set.
    #[inline(always)]
    fn free_from(&self, first: &Header) {
        let mut next = Some(first);
        while let Some(h) = next {
            self.free_dead(h);
            next = self.pop_pending();
        }
    }

    /// Frees the pending objects, for a loop that holds `draining` set
    /// itself (the collector's clearing step, which so frees the objects
    /// each clear releases in one go instead of entering the freeing loop
    /// once per object).
    #[inline]
    pub(crate) fn free_pending(&self) {
        debug_assert!(self.draining.get(), "the caller holds the freeing loop");
        if let Some(first) = self.pop_pending() {
            self.free_from(first);
        }
    }

    /// Finalizes (once ever), clears and frees one object whose count
    /// reached zero, unless its finalizer resurrects it.
    #[inline(always)]
    fn free_dead(&self, h: &Header) {
        let ty = h.ty();
        if ty.clear_only.get() && !h.weakly_referenced() {
            // What the general path below does for such an object, with its
            // tests answered once for the type.
            if let Some(clear) = ty.clear {
                // SAFETY: the object is dead and untracked; clear drops its references.
                unsafe { clear(h.payload()) };
            }
            self.gc.count_deallocation();
            self.release_memory(h);
            return;
        }
        if ty.finalize.is_some() && !h.finalized() && self.finalize_dead(h) {
            return;
        }
        if h.weakly_referenced() {
            self.weakly_referenced_dies(h);
        }
        if std::ptr::eq(ty, self.slots_type_ptr()) {
            crate::slots::clear_dead(h);
        } else if let Some(clear) = ty.clear {
            // SAFETY: the object is dead and untracked; clear drops its references.
            unsafe { clear(h.payload()) };
        }
        if let Some(destroy) = ty.destroy {
            // SAFETY: as above; destroy releases foreign resources.
            unsafe { destroy(h.payload()) };
        }
        if ty.is_gc() {
            self.gc.count_deallocation();
        }
        self.release_memory(h);
    }

    /// Runs the finalizer of a dead object that has one and was never
    /// finalized; returns whether it resurrected the object.
    #[cold]
    #[inline(never)]
    fn finalize_dead(&self, h: &Header) -> bool {
        let ty = h.ty();
        h.set_finalized();
        // Like CPython's subtype_dealloc: the object is tracked again
        // while its finalizer runs, so a resurrected cycle is found later.
        if ty.is_gc() {
            let _ = self.track(h);
        }
        h.set_refcnt(1);
        if let Some(finalize) = ty.finalize {
            // SAFETY: the object is alive (count 1) for the finalizer.
            unsafe { finalize(h.payload()) };
        }
        match h.refcnt() {
            1 => {
                h.set_refcnt(0);
                self.untrack_dead(h);
                false
            }
            IMMORTAL => true,
            rc => {
                // Resurrected: the finalizer kept a reference.
                h.set_refcnt(rc - 1);
                true
            }
        }
    }
}

/// Stores `value` in `*slot` with a new reference, then drops the old one
/// (safe when they are the same object).
///
/// # Safety
/// `slot` must be valid for reads and writes; `value` and the old value must
/// each be NULL or a live object.
pub unsafe fn set_ref(slot: *mut *mut std::ffi::c_void, value: *mut std::ffi::c_void, func: &'static str) {
    if !value.is_null() {
        // SAFETY: a live object per the contract.
        incref(unsafe { Header::from_payload(value) });
    }
    // SAFETY: `slot` is valid per the contract.
    let old = unsafe { ptr::replace(slot, value) };
    if !old.is_null() {
        // SAFETY: a live object per the contract.
        decref(unsafe { Header::from_payload(old) }, func);
    }
}
