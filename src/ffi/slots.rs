//! The built-in slots object: rcgc_slots_new, rcgc_slots_set, rcgc_slots_get,
//! rcgc_slots_len.

use std::ffi::c_void;

use super::macros::ffi_boundary;
use super::{heap_ref, object_ref, rcgc_heap};
use crate::error::rcgc_result;
use crate::slots;

/// A new slots object holding `nslots` references, all NULL: a tracked object
/// of the built-in type "rcgc.slots" with refcount 1 (a new reference owned by
/// the caller). It needs no callbacks: rcgc traverses and clears it. NULL on
/// failure, as rcgc_alloc, or with RCGC_ERR_INVALID_ARGUMENT when nslots is too
/// large for any object.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_slots_new(heap: *mut rcgc_heap, nslots: usize) -> *mut c_void {
    ffi_boundary!("rcgc_slots_new", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { heap_ref(heap) }?.slots_new(nslots)?.payload())
    })
}

/// Stores `value` in slot `index` of the slots object `obj` with a new
/// reference and drops the reference the slot held; `value` NULL empties the
/// slot. Errors: RCGC_ERR_NULL_ARGUMENT (obj NULL), RCGC_ERR_INVALID_ARGUMENT
/// (obj is not a slots object, or index >= its length), RCGC_ERR_WRONG_HEAP
/// (value belongs to another heap). Nothing changes on failure.
///
/// # Safety
/// `obj` must be NULL or a live object; `value` NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_slots_set(obj: *mut c_void, index: usize, value: *mut c_void) -> rcgc_result {
    ffi_boundary!("rcgc_slots_set", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        let value = if value.is_null() {
            None
        } else {
            // SAFETY: a live object per the contract.
            Some(unsafe { object_ref(value, "value") }?)
        };
        slots::set(h, index, value)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The object in slot `index` of the slots object `obj`, as a borrowed
/// reference (incref it to keep it), or NULL for an empty slot. Also NULL, with
/// the reason in rcgc_last_error(), when obj is NULL, not a slots object, or
/// index is past the end.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_slots_get(obj: *const c_void, index: usize) -> *mut c_void {
    ffi_boundary!("rcgc_slots_get", {
        // SAFETY: NULL or live per the contract.
        slots::get(unsafe { object_ref(obj, "obj") }?, index)
    })
}

/// The number of slots of the slots object `obj`; 0 when obj is NULL or not a
/// slots object (the reason in rcgc_last_error).
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_slots_len(obj: *const c_void) -> usize {
    ffi_boundary!("rcgc_slots_len", {
        // SAFETY: NULL or live per the contract.
        slots::len(unsafe { object_ref(obj, "obj") }?)
    })
}
