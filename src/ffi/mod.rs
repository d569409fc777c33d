//! The C API (include/rcgc.h): a thin layer of argument checks, the panic
//! boundary and error mapping over the core.
//!
//! Threads: a heap, its types and its objects belong to one thread at a time.
//! Different heaps may be used from different threads at once with no
//! synchronisation; one heap must never be used by two threads at once. The
//! last-error message is per thread.
//!
//! Re-entrancy: callbacks (traverse, clear, finalize, destroy, misuse) must
//! return normally: no longjmp and no C++ exception may cross rcgc's frames.
//! finalize, clear and destroy may incref, decref and allocate; traverse may
//! only call visit. rcgc_collect from inside any callback (the debug output
//! sink included) fails with RCGC_ERR_REENTRANT, and no automatic collection
//! starts while one runs.

#![deny(missing_docs)]
#![allow(non_camel_case_types)]

pub(crate) mod macros;

mod error;
mod version;
mod heap;
mod object;
mod slots;
mod collector;
mod weakref;
mod debug;
mod graph;

pub use collector::{rcgc_counts, rcgc_thresholds};

use std::ffi::c_void;

use crate::checked;
use crate::error::Error;
use crate::header::Header;
use crate::heap::Heap;
use crate::types::Type;

/// An opaque private heap of refcounted objects (rcgc_heap_new, rcgc_heap_free).
/// Owned by one thread at a time; every type and object belongs to one heap
/// and must not outlive it.
pub struct rcgc_heap {
    _opaque: [u8; 0],
}

/// An opaque registered object type (rcgc_type_register). Belongs to one heap
/// and lives until that heap is freed.
pub struct rcgc_type {
    _opaque: [u8; 0],
}

/// The heap behind a C handle (entered for the call, in checked mode).
///
/// # Safety
/// `heap` must be NULL or a live heap from rcgc_heap_new.
unsafe fn heap_ref<'a>(heap: *const rcgc_heap) -> Result<&'a Heap, Error> {
    // SAFETY: per the contract, non-NULL handles point to live heaps.
    let heap = unsafe { heap.cast::<Heap>().as_ref() }.ok_or(Error::NullArgument("heap"))?;
    if checked::active() {
        checked::enter(heap);
    }
    Ok(heap)
}

/// Enters the heap a checked pointer belongs to, for the call.
#[cold]
#[inline(never)]
fn enter(known: checked::Known) {
    if let checked::Known::Live(heap) = known {
        // SAFETY: the registry only holds records of live heaps.
        checked::enter(unsafe { &*heap });
    }
}

/// The type behind a C handle, validated in checked mode.
///
/// # Safety
/// `ty` must be NULL or a type from rcgc_type_register whose heap is alive
/// (in checked mode, any pointer is rejected cleanly).
unsafe fn type_ref<'a>(ty: *const rcgc_type) -> Result<&'a Type, Error> {
    if ty.is_null() {
        return Err(Error::NullArgument("type"));
    }
    if checked::active() {
        enter(checked::type_ptr(ty as usize)?);
    }
    // SAFETY: per the contract (or checked above), a live type.
    Ok(unsafe { &*ty.cast::<Type>() })
}

/// The header of an object given by its payload pointer, validated in
/// checked mode.
///
/// # Safety
/// `obj` must be NULL or the payload of an object of a live heap (in checked
/// mode, any pointer is rejected cleanly).
unsafe fn object_ref<'a>(obj: *const c_void, name: &'static str) -> Result<&'a Header, Error> {
    if obj.is_null() {
        return Err(Error::NullArgument(name));
    }
    if checked::active() {
        enter(checked::object(obj as usize)?);
    }
    // SAFETY: per the contract (or checked above), a live object's payload.
    Ok(unsafe { Header::from_payload(obj) })
}

/// Like object_ref, for functions that return nothing: a pointer checked mode
/// rejects is also reported to the misuse handler of the heap it belonged to
/// (or, when no heap is known, printed before aborting, as the default handler does).
///
/// # Safety
/// As object_ref.
unsafe fn object_ref_or_misuse<'a>(obj: *const c_void, func: &'static str) -> Result<&'a Header, Error> {
    // SAFETY: forwarded contract.
    unsafe { object_ref(obj, "obj") }.inspect_err(|error| report_rejected(obj, func, error))
}

#[cold]
#[inline(never)]
fn report_rejected(obj: *const c_void, func: &'static str, error: &Error) {
    match checked::heap_of(obj as usize) {
        // SAFETY: the registry only holds records of live heaps.
        Some(heap) => unsafe { &*heap }.misuse(format_args!("{func}: {error}")),
        None => crate::heap::default_misuse(format_args!("{func}: {error}")),
    }
}

fn heap_handle(heap: &Heap) -> *mut rcgc_heap {
    heap as *const Heap as *mut rcgc_heap
}

fn type_handle(ty: &Type) -> *mut rcgc_type {
    ty as *const Type as *mut rcgc_type
}
