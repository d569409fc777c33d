//! Weak references (Python's weakref.ref): rcgc_weakref_new,
//! rcgc_weakref_new_with_release, rcgc_weakref_get,
//! rcgc_weakref_get_ref, rcgc_weakref_count, rcgc_is_weakref.

use std::ffi::c_void;

use super::macros::ffi_boundary;
use super::object_ref;
use crate::error::{Error, rcgc_result};
use crate::weakref::{rcgc_weakref_fn, rcgc_weakref_release_fn};

/// A weak reference to `obj` (weakref.ref(obj, callback)): an object of the
/// built-in tracked type "rcgc.weakref", returned as a new reference that the
/// caller releases with rcgc_decref like any object (it may also be stored in
/// slots or in the caller's own objects). It does not keep `obj` alive:
/// rcgc_weakref_get returns `obj` while it lives and NULL afterwards.
///
/// When `obj` dies while the weak reference is alive, `callback` (if not
/// NULL) is called once with the weak reference and `ctx`, after the weak
/// reference was cleared. In a collection, CPython's rules apply: weak
/// references to unreachable objects are cleared before any finalizer runs,
/// and the callback of a weak reference that is itself unreachable never runs.
///
/// Without a callback, the weak reference `obj` already has without one is
/// returned (a new reference to it), as weakref.ref(obj) does; `ctx` is
/// then ignored. Any object may be weakly referenced; objects that never are
/// pay nothing for the feature. NULL on failure: RCGC_ERR_NULL_ARGUMENT,
/// RCGC_ERR_INVALID_OBJECT (obj is being freed), RCGC_ERR_NO_MEMORY,
/// RCGC_ERR_MEMORY_LIMIT, RCGC_ERR_REENTRANT (inside a traverse callback).
///
/// A program cannot tell when a weak reference object is freed (a collection
/// may free it), so it cannot tell when `ctx` is no longer needed; when `ctx`
/// owns something, use rcgc_weakref_new_with_release.
///
/// # Safety
/// `obj` must be NULL or a live object; `callback`, if not NULL, must be safe
/// to call with `ctx` until it has run or the weak reference is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_weakref_new(
    obj: *mut c_void,
    callback: rcgc_weakref_fn,
    ctx: *mut c_void,
) -> *mut c_void {
    ffi_boundary!("rcgc_weakref_new", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        Ok(h.ty().heap().weakref_new(h, callback, ctx)?.payload())
    })
}

/// rcgc_weakref_new, and the weak reference owns `ctx`: `release` (if not
/// NULL) is called once with `ctx` when the weak reference lets go of it,
/// right after `callback` returned, or, if the callback never runs, when the
/// weak reference object is freed (its count reached zero, a collection found
/// it to be garbage, or rcgc_heap_free). As CPython's weak reference owns its
/// callback object and drops it at those two moments; a binding whose ctx
/// holds a closure releases it there. `release` may incref and decref
/// objects, as a destroy callback may (it runs where the weak reference's
/// destroy runs; see rcgc_destroy_fn for rcgc_heap_free's final sweep).
///
/// When the call fails (NULL), `release` is not called: `ctx` stays the
/// caller's. Without a callback, `ctx` and `release` are ignored, as in
/// rcgc_weakref_new (the shared weak reference without callback may be
/// returned). Errors are rcgc_weakref_new's.
///
/// # Safety
/// As rcgc_weakref_new; `release`, if not NULL, must be safe to call with
/// `ctx` until it has been called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_weakref_new_with_release(
    obj: *mut c_void,
    callback: rcgc_weakref_fn,
    ctx: *mut c_void,
    release: rcgc_weakref_release_fn,
) -> *mut c_void {
    ffi_boundary!("rcgc_weakref_new_with_release", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        Ok(h.ty()
            .heap()
            .weakref_new_with_release(h, callback, ctx, release)?
            .payload())
    })
}

/// The referent of the weak reference `weakref`, as a new reference the
/// caller must release, or NULL once the referent has died (not an error:
/// the last error is left as it was). NULL with RCGC_ERR_NULL_ARGUMENT or
/// RCGC_ERR_INVALID_ARGUMENT (weakref is not a weak reference) on bad input;
/// rcgc_weakref_get_ref tells the two cases apart by its result code.
///
/// # Safety
/// `weakref` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_weakref_get(weakref: *const c_void) -> *mut c_void {
    ffi_boundary!("rcgc_weakref_get", {
        // SAFETY: NULL or live per the contract.
        let wr = unsafe { object_ref(weakref, "weakref") }?;
        Ok(wr
            .ty()
            .heap()
            .weakref_get(wr)?
            .map_or(std::ptr::null_mut(), |h| h.payload()))
    })
}

/// rcgc_weakref_get with the outcome in the result code (CPython 3.13's
/// PyWeakref_GetRef): RCGC_OK with `*obj_out` set to the referent as a new
/// reference the caller must release, or to NULL once the referent has died.
/// On an error `*obj_out` (if `obj_out` is not NULL) is set to NULL: RCGC_ERR_NULL_ARGUMENT
/// (`weakref` or `obj_out` is NULL), RCGC_ERR_INVALID_ARGUMENT (`weakref` is
/// not a weak reference). Unlike rcgc_weakref_get, a dead referent and bad
/// input cannot be confused.
///
/// # Safety
/// `weakref` must be NULL or a live object; `obj_out` NULL or writable.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_weakref_get_ref(weakref: *const c_void, obj_out: *mut *mut c_void) -> rcgc_result {
    ffi_boundary!("rcgc_weakref_get_ref", {
        if obj_out.is_null() {
            return Err(Error::NullArgument("obj_out"));
        }
        // SAFETY: non-NULL and writable per the contract.
        unsafe { obj_out.write(std::ptr::null_mut()) };
        // SAFETY: NULL or live per the contract.
        let wr = unsafe { object_ref(weakref, "weakref") }?;
        if let Some(h) = wr.ty().heap().weakref_get(wr)? {
            // SAFETY: as above.
            unsafe { obj_out.write(h.payload()) };
        }
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The number of weak references to `obj` (weakref.getweakrefcount); 0 for
/// NULL (with RCGC_ERR_NULL_ARGUMENT).
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_weakref_count(obj: *const c_void) -> usize {
    ffi_boundary!("rcgc_weakref_count", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        Ok(h.ty().heap().weakref_count(h))
    })
}

/// Whether `obj` is a weak reference object; false for NULL (with
/// RCGC_ERR_NULL_ARGUMENT).
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_is_weakref(obj: *const c_void) -> bool {
    ffi_boundary!("rcgc_is_weakref", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        Ok(h.ty().heap().is_weakref(h))
    })
}
