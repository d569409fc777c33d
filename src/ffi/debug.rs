//! Debugging the collector (gc.set_debug, gc.garbage): rcgc_set_debug,
//! rcgc_get_debug, rcgc_set_debug_output, rcgc_get_garbage,
//! rcgc_get_garbage_count, rcgc_clear_garbage.

use std::ffi::{c_int, c_void};

use super::heap_ref;
use super::macros::ffi_boundary;
use super::rcgc_heap;
use crate::debug::rcgc_debug_fn;
use crate::error::{Error, rcgc_result};
use crate::introspect::rcgc_object_fn;

/// Sets the debug flags (gc.set_debug(flags)): a combination of the
/// rcgc_debug_flag values, 0 for none. RCGC_DEBUG_STATS writes statistics at
/// the start and end of every collection, automatic or explicit, in
/// CPython's words ("gc: collecting generation 2...", "gc: objects in each
/// generation: 3 0 1", "gc: objects in permanent generation: 0", "gc: done,
/// 2 unreachable, 0 uncollectable, 0.0001s elapsed").
/// RCGC_DEBUG_COLLECTABLE writes "gc: collectable <TYPE 0xADDR>" for each
/// unreachable object, ADDR being the object's pointer as printf's %p shows
/// it, before its finalizer runs. RCGC_DEBUG_UNCOLLECTABLE is accepted and
/// writes nothing: rcgc has no legacy finalizers, so no object is ever
/// uncollectable. RCGC_DEBUG_SAVEALL keeps each object a collection would
/// clear alive and uncleared in the garbage list (rcgc_get_garbage) instead;
/// finalizers still run first, and the objects count as collected. With all
/// the bits of RCGC_DEBUG_LEAK set, rcgc_heap_free reports, after its
/// collection and before freeing anything, the objects still alive by type.
/// Output goes to stderr unless rcgc_set_debug_output set a sink. The flags
/// are read when a collection starts: a change during a collection applies
/// from the next one. Errors: RCGC_ERR_NULL_ARGUMENT,
/// RCGC_ERR_INVALID_ARGUMENT (a bit that is not a debug flag; the flags do
/// not change).
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_set_debug(heap: *mut rcgc_heap, flags: c_int) -> rcgc_result {
    ffi_boundary!("rcgc_set_debug", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.set_debug(flags)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The debug flags (gc.get_debug()); 0 for a NULL heap.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_get_debug(heap: *const rcgc_heap) -> c_int {
    ffi_boundary!("rcgc_get_debug", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { heap_ref(heap) }?.debug_flags())
    })
}

/// Sends the heap's debug output to `fn(line, ctx)` instead of stderr; NULL
/// `fn` restores stderr (the default). `fn` is called once per line, with
/// the line NUL-terminated and without a trailing newline (stderr gets the
/// newline), valid only during the call; lines longer than 511 bytes are
/// truncated. The sink runs on the heap's thread, sometimes in the middle of
/// a collection: it may allocate, incref and decref, but rcgc_collect and
/// rcgc_clear_garbage from it fail with RCGC_ERR_REENTRANT, and it must not
/// use the addresses it is shown as objects. Errors: RCGC_ERR_NULL_ARGUMENT
/// (heap NULL).
///
/// # Safety
/// `heap` must be NULL or live; `fn` is called on the heap's thread with `ctx`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_set_debug_output(
    heap: *mut rcgc_heap,
    r#fn: rcgc_debug_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_set_debug_output", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.set_debug_output(r#fn, ctx);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Calls `fn(obj, ctx)` for every object in the heap's garbage list
/// (gc.garbage), in the order they were saved: the objects
/// RCGC_DEBUG_SAVEALL kept instead of clearing them. The list is copied
/// first and each object is held alive during the call, so `fn` may call
/// rcgc freely. Errors: RCGC_ERR_NULL_ARGUMENT (heap or fn NULL),
/// RCGC_ERR_NO_MEMORY.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_get_garbage(heap: *mut rcgc_heap, r#fn: rcgc_object_fn, ctx: *mut c_void) -> rcgc_result {
    ffi_boundary!("rcgc_get_garbage", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        if r#fn.is_none() {
            return Err(Error::NullArgument("fn"));
        }
        let garbage = h.garbage()?;
        h.each_held(&garbage, r#fn, ctx);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The number of objects in the garbage list (len(gc.garbage)); 0 for a
/// NULL heap.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_get_garbage_count(heap: *const rcgc_heap) -> usize {
    ffi_boundary!("rcgc_get_garbage_count", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { heap_ref(heap) }?.garbage_count())
    })
}

/// Empties the garbage list and drops the reference it held to each object
/// (del gc.garbage[:]). Objects nothing else references are then ordinary
/// cyclic garbage, which the next collection frees (or, if
/// RCGC_DEBUG_SAVEALL is still set, saves again); dropping the references
/// may run finalizers. rcgc_heap_free empties the list itself. Allowed from
/// gc callbacks (rcgc_add_callback) and from callbacks run by refcounting.
/// Errors: RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_REENTRANT (from a callback a
/// collection runs between its start and its end: finalize, clear, destroy;
/// from the debug sink; from rcgc_heap_free's final destroy callbacks).
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_clear_garbage(heap: *mut rcgc_heap) -> rcgc_result {
    ffi_boundary!("rcgc_clear_garbage", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.clear_garbage()?;
        Ok(rcgc_result::RCGC_OK)
    })
}
