//! Types and objects: rcgc_type_register, rcgc_type_register_with_refs,
//! rcgc_alloc, rcgc_alloc_var, rcgc_incref, rcgc_decref, rcgc_refcount,
//! rcgc_set_ref, rcgc_clear_ref, rcgc_type_of, rcgc_type_name.

use std::ffi::{c_char, c_void};

use super::macros::{ffi_boundary, run};
use super::{heap_ref, object_ref, object_ref_or_misuse, rcgc_heap, rcgc_type, type_handle, type_ref};
use crate::error::{Error, rcgc_result};
use crate::header::Header;
use crate::refcount::{decref, incref, set_ref};
use crate::types::rcgc_type_spec;

/// Registers a type described by `spec` (read only during the call; the name
/// is copied) and writes it to `*out`. The type belongs to `heap` and lives
/// until the heap is freed. Errors: RCGC_ERR_NULL_ARGUMENT (heap, spec or out
/// NULL); RCGC_ERR_INVALID_ARGUMENT (name NULL, size 0 or larger than the
/// largest object, traverse set without clear); RCGC_ERR_NO_MEMORY. `*out` is
/// written only on RCGC_OK.
///
/// # Safety
/// Each pointer must be NULL or valid; spec->name NULL or NUL-terminated.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_type_register(
    heap: *mut rcgc_heap,
    spec: *const rcgc_type_spec,
    out: *mut *mut rcgc_type,
) -> rcgc_result {
    ffi_boundary!("rcgc_type_register", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        // SAFETY: NULL or a readable spec per the contract.
        let spec = unsafe { spec.as_ref() }.ok_or(Error::NullArgument("spec"))?;
        if out.is_null() {
            return Err(Error::NullArgument("out"));
        }
        let ty = h.register_type(spec)?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { out.write(type_handle(ty)) };
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Registers a container type whose object references are the pointer fields
/// at the byte offsets `offsets[0..count]` of its payload (any order; use
/// `offsetof`), and writes it to `*out`: rcgc traverses and clears those
/// fields itself, inline, so the type needs no traverse or clear callback and
/// the collector scans it without calling out (as the built-in slots object).
/// Each field holds NULL or a strong reference; store them with rcgc_set_ref
/// and rcgc_clear_ref (or hand a new reference over into an empty field), and
/// keep no other object references in the payload: rcgc does not see them.
/// Objects are tracked, like those of a type with traverse; finalize and
/// destroy work as for rcgc_type_register, and a type without destroy lets a
/// collection free a garbage set made only of such objects (and slots objects)
/// in one sweep, without clearing them one by one. `spec` and `offsets` are
/// read only during the call. Errors: RCGC_ERR_NULL_ARGUMENT (heap, spec, out,
/// or offsets with count > 0); RCGC_ERR_INVALID_ARGUMENT (what
/// rcgc_type_register refuses, traverse or clear set, count 0, an offset not
/// a multiple of sizeof(void *), a field that does not fit in spec->size or
/// lies beyond the payload's first 64 pointer-sized words, an offset given
/// twice); RCGC_ERR_NO_MEMORY. `*out` is written only on RCGC_OK.
///
/// # Safety
/// Each pointer must be NULL or valid; spec->name NULL or NUL-terminated;
/// `offsets` readable for `count` elements when not NULL.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_type_register_with_refs(
    heap: *mut rcgc_heap,
    spec: *const rcgc_type_spec,
    offsets: *const usize,
    count: usize,
    out: *mut *mut rcgc_type,
) -> rcgc_result {
    ffi_boundary!("rcgc_type_register_with_refs", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        // SAFETY: NULL or a readable spec per the contract.
        let spec = unsafe { spec.as_ref() }.ok_or(Error::NullArgument("spec"))?;
        if out.is_null() {
            return Err(Error::NullArgument("out"));
        }
        let offsets = match count {
            0 => &[][..],
            _ if offsets.is_null() => return Err(Error::NullArgument("offsets")),
            _ if count > spec.size / std::mem::size_of::<*mut c_void>() => {
                return Err(Error::InvalidSpec("more reference fields than fit in size"));
            }
            // SAFETY: readable for `count` elements per the contract; count is
            // at most size / 8, so the slice is not too long.
            _ => unsafe { std::slice::from_raw_parts(offsets, count) },
        };
        let ty = h.register_type_with_refs(spec, offsets)?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { out.write(type_handle(ty)) };
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Refuses the built-in types, whose objects have their own constructors.
fn user_type(ty: &crate::types::Type) -> Result<(), Error> {
    let heap = ty.heap();
    let maker = if std::ptr::eq(ty, heap.slots_type()) {
        "rcgc_slots_new"
    } else if std::ptr::eq(ty, heap.weakref_type()) {
        "rcgc_weakref_new"
    } else {
        return Ok(());
    };
    Err(Error::BuiltinType {
        ty: ty.display_name(),
        maker,
    })
}

/// A new object of `type` with refcount 1 and a zeroed, 16-byte aligned payload
/// of the type's size; returns the payload pointer, a new reference owned by
/// the caller. If the type has traverse, the object is tracked in generation 0
/// and counts toward count.gen0, and the allocation may run an automatic
/// collection first. NULL on failure, with rcgc_last_error_code():
/// RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_NO_MEMORY, RCGC_ERR_MEMORY_LIMIT,
/// RCGC_ERR_REENTRANT (called from a traverse callback), or
/// RCGC_ERR_INVALID_ARGUMENT for a built-in type (the type of a slots object
/// or of a weak reference: their objects are made by rcgc_slots_new and
/// rcgc_weakref_new).
///
/// # Safety
/// `type` must be NULL or a type of a live heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_alloc(r#type: *mut rcgc_type) -> *mut c_void {
    ffi_boundary!("rcgc_alloc", {
        // SAFETY: NULL or live per the contract.
        let ty = unsafe { type_ref(r#type) }?;
        user_type(ty)?;
        Ok(ty.heap().alloc(ty, ty.size)?.payload())
    })
}

/// Like rcgc_alloc with a payload of `size` bytes, for objects whose size
/// varies; `size` must be at least the type's size (else NULL with
/// RCGC_ERR_INVALID_ARGUMENT, as for sizes beyond the largest object).
///
/// # Safety
/// `type` must be NULL or a type of a live heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_alloc_var(r#type: *mut rcgc_type, size: usize) -> *mut c_void {
    ffi_boundary!("rcgc_alloc_var", {
        // SAFETY: NULL or live per the contract.
        let ty = unsafe { type_ref(r#type) }?;
        user_type(ty)?;
        Ok(ty.heap().alloc(ty, size)?.payload())
    })
}

/// Adds a reference to `obj` (Py_XINCREF). NULL is a no-op. A refcount that
/// reaches 4294967295 stays there: the object becomes immortal.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_incref(obj: *mut c_void) {
    ffi_boundary!("rcgc_incref", handles_checked_mode, {
        if crate::checked::active() {
            // SAFETY: checked mode validates before any dereference.
            unsafe { checked_refcount_op(obj, "rcgc_incref", incref) };
        } else if !obj.is_null() {
            // SAFETY: a live object per the contract.
            incref(unsafe { Header::from_payload(obj) });
        }
        Ok(())
    })
}

/// Drops a reference to `obj` (Py_XDECREF). NULL is a no-op. At zero the
/// object is finalized (once ever; the finalizer may resurrect it), cleared,
/// destroyed and freed, and so is everything only it held, iteratively. A
/// decref of an object whose count is already zero is reported to the misuse
/// handler and otherwise ignored.
///
/// # Safety
/// `obj` must be NULL or an object of a live heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_decref(obj: *mut c_void) {
    ffi_boundary!("rcgc_decref", handles_checked_mode, {
        if crate::checked::active() {
            // SAFETY: checked mode validates before any dereference.
            unsafe { checked_refcount_op(obj, "rcgc_decref", |h| decref(h, "rcgc_decref")) };
        } else if !obj.is_null() {
            // SAFETY: an object of a live heap per the contract.
            decref(unsafe { Header::from_payload(obj) }, "rcgc_decref");
        }
        Ok(())
    })
}

/// The reference count of `obj`; 0 for NULL (RCGC_ERR_NULL_ARGUMENT in
/// rcgc_last_error).
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_refcount(obj: *const c_void) -> usize {
    ffi_boundary!("rcgc_refcount", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { object_ref(obj, "obj") }?.refcnt() as usize)
    })
}

/// Stores `value` in `*slot` with a new reference, then drops the reference
/// the slot held (Py_XSETREF with an incref); safe when both are the same
/// object. `value` may be NULL. A NULL slot is a no-op (RCGC_ERR_NULL_ARGUMENT
/// in rcgc_last_error).
///
/// # Safety
/// `slot` must be NULL or valid for reads and writes; `value` and `*slot` NULL
/// or live objects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_set_ref(slot: *mut *mut c_void, value: *mut c_void) {
    ffi_boundary!("rcgc_set_ref", handles_checked_mode, {
        if crate::checked::active() || slot.is_null() {
            // SAFETY: per the contract.
            unsafe { store_ref_slow(slot, value, "rcgc_set_ref") };
        } else {
            // SAFETY: per the contract.
            unsafe { set_ref(slot, value, "rcgc_set_ref") };
        }
        Ok(())
    })
}

/// Sets `*slot` to NULL, then drops the reference it held (Py_CLEAR). A NULL
/// slot is a no-op (RCGC_ERR_NULL_ARGUMENT in rcgc_last_error).
///
/// # Safety
/// `slot` must be NULL or valid for reads and writes; `*slot` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_clear_ref(slot: *mut *mut c_void) {
    ffi_boundary!("rcgc_clear_ref", handles_checked_mode, {
        if crate::checked::active() || slot.is_null() {
            // SAFETY: per the contract.
            unsafe { store_ref_slow(slot, std::ptr::null_mut(), "rcgc_clear_ref") };
        } else {
            // SAFETY: per the contract.
            unsafe { set_ref(slot, std::ptr::null_mut(), "rcgc_clear_ref") };
        }
        Ok(())
    })
}

/// The type of `obj` (borrowed; lives as long as the heap); NULL for NULL.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_type_of(obj: *const c_void) -> *mut rcgc_type {
    ffi_boundary!("rcgc_type_of", {
        // SAFETY: NULL or live per the contract.
        Ok(type_handle(unsafe { object_ref(obj, "obj") }?.ty()))
    })
}

/// The name of `type` as given at registration (owned by the type, valid until
/// the heap is freed); NULL for NULL.
///
/// # Safety
/// `type` must be NULL or a type of a live heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_type_name(r#type: *const rcgc_type) -> *const c_char {
    ffi_boundary!("rcgc_type_name", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { type_ref(r#type) }?.name().as_ptr())
    })
}

/// rcgc_set_ref and rcgc_clear_ref for a NULL slot or in checked mode: the
/// whole call as it is written, run with its own boundary (which enters and
/// leaves checked heaps and records the error). Kept out of line so the
/// common path of those functions needs no stack frame for an error.
///
/// # Safety
/// As for rcgc_set_ref.
#[cold]
#[inline(never)]
unsafe fn store_ref_slow(slot: *mut *mut c_void, value: *mut c_void, func: &'static str) {
    run(func, || {
        if slot.is_null() {
            return Err(Error::NullArgument("slot"));
        }
        // SAFETY: per the contract, `slot` is valid; checked mode validates what it holds.
        unsafe { check_slot(slot, value, func) }?;
        // SAFETY: per the contract.
        unsafe { set_ref(slot, value, func) };
        Ok(())
    })
}

/// In checked mode, validates the object a slot holds and the value stored
/// into it (reporting a bad one to the misuse handler).
///
/// # Safety
/// `slot` must be valid for reads.
unsafe fn check_slot(slot: *mut *mut c_void, value: *mut c_void, func: &'static str) -> Result<(), Error> {
    if crate::checked::active() {
        // SAFETY: `slot` is readable per the contract.
        for obj in [unsafe { *slot }, value] {
            if !obj.is_null() {
                // SAFETY: checked mode validates before any dereference.
                unsafe { object_ref_or_misuse(obj, func) }?;
            }
        }
    }
    Ok(())
}

/// Checked mode's rcgc_incref/rcgc_decref: validates `obj` (a rejected pointer
/// goes to the misuse handler and becomes the last error), then applies `op`.
/// Kept out of line so the unchecked fast path needs no stack frame.
///
/// # Safety
/// `obj` must be NULL or a pointer checked mode may look up.
#[cold]
#[inline(never)]
unsafe fn checked_refcount_op(obj: *mut c_void, func: &'static str, op: fn(&Header)) {
    if obj.is_null() {
        return;
    }
    let mark = crate::checked::mark();
    // SAFETY: checked mode validates before any dereference.
    match unsafe { object_ref_or_misuse(obj, func) } {
        Ok(h) => op(h),
        Err(error) => crate::error::record(func, &error),
    }
    crate::checked::leave_to(mark);
}
