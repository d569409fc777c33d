//! Looking into the heap: gc.get_objects, gc.get_referents, gc.get_referrers.
//!
//! Each call takes a snapshot first, holds a reference to every object of it
//! while the user's function runs (which may do anything, even collect), and
//! drops those references afterwards.

use std::ffi::c_void;

use crate::error::Error;
use crate::header::Header;
use crate::heap::{Heap, Phase};
use crate::refcount::{decref, incref};
use crate::types::rcgc_visit_fn;

/// Receives one object (a borrowed reference, valid during the call) of
/// rcgc_get_objects, rcgc_get_referrers or rcgc_get_referents.
#[allow(non_camel_case_types)]
pub type rcgc_object_fn = Option<unsafe extern "C" fn(obj: *mut c_void, ctx: *mut c_void)>;

type Objects = Vec<*const Header>;

struct Collect {
    found: Objects,
    out_of_memory: bool,
    /// With `Some`, only whether this object is referenced is recorded.
    target: Option<*const Header>,
    hit: bool,
}

unsafe extern "C" fn visit_collect(referent: *mut c_void, ctx: *mut c_void) {
    if referent.is_null() {
        return;
    }
    // SAFETY: ctx is the Collect of the running traverse; referents are live objects.
    let (collect, h) = unsafe { (&mut *ctx.cast::<Collect>(), Header::from_payload(referent)) };
    match collect.target {
        Some(target) => collect.hit |= std::ptr::eq(target, h),
        None if collect.found.try_reserve(1).is_ok() => collect.found.push(h),
        None => collect.out_of_memory = true,
    }
}

impl Heap {
    /// Traverses `h` (if its type has traverse) into `collect`, in phase Traversing.
    fn traverse_into(&self, h: &Header, collect: &mut Collect) {
        if let Some(traverse) = h.ty().traverse {
            let visit: rcgc_visit_fn = Some(visit_collect);
            // SAFETY: a live object; its traverse only calls visit.
            unsafe { traverse(h.payload(), visit, (collect as *mut Collect).cast()) };
        }
    }

    /// Runs `f` in `phase` if the heap is idle and usable (for calls that
    /// run traverse callbacks outside a collection).
    pub(crate) fn in_phase<R>(&self, phase: Phase, f: impl FnOnce() -> R) -> Result<R, Error> {
        if self.phase() != Phase::Idle {
            return Err(Error::Reentrant(self.phase().describe()));
        }
        self.check_usable()?;
        let outer = self.enter(phase);
        let result = f();
        self.enter(outer);
        Ok(result)
    }

    /// The objects `h` references (gc.get_referents), duplicates included.
    pub fn referents(&self, h: &Header) -> Result<Objects, Error> {
        let mut collect = Collect {
            found: Vec::new(),
            out_of_memory: false,
            target: None,
            hit: false,
        };
        self.in_phase(Phase::Traversing, || self.traverse_into(h, &mut collect))?;
        if collect.out_of_memory {
            Err(Error::NoMemory)
        } else {
            Ok(collect.found)
        }
    }

    /// The tracked objects that reference `target` (gc.get_referrers).
    pub fn referrers(&self, target: &Header) -> Result<Objects, Error> {
        let candidates = self.tracked_objects(None)?;
        let mut found = Vec::new();
        self.in_phase(Phase::Traversing, || {
            for &p in &candidates {
                let mut collect = Collect {
                    found: Vec::new(),
                    out_of_memory: false,
                    target: Some(target),
                    hit: false,
                };
                // SAFETY: a snapshot of tracked objects; nothing is freed while traversing.
                self.traverse_into(unsafe { &*p }, &mut collect);
                if collect.hit {
                    found.try_reserve(1).map_err(|_| Error::NoMemory)?;
                    found.push(p);
                }
            }
            Ok(())
        })??;
        Ok(found)
    }

    /// Calls `f` with every object of `objects`, each held by a reference
    /// for the duration.
    pub(crate) fn each_held(&self, objects: &[*const Header], f: rcgc_object_fn, ctx: *mut c_void) {
        let Some(f) = f else { return };
        for &p in objects {
            // SAFETY: a fresh snapshot of live objects.
            incref(unsafe { &*p });
        }
        for &p in objects {
            // SAFETY: held by the reference taken above.
            unsafe { f((*p).payload(), ctx) };
        }
        for &p in objects {
            // SAFETY: releases the reference taken above.
            decref(unsafe { &*p }, "rcgc_get_objects");
        }
    }
}
