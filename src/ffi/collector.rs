//! The collector (Python's gc module): rcgc_collect, rcgc_get_threshold,
//! rcgc_set_threshold, rcgc_get_count, rcgc_enable, rcgc_disable,
//! rcgc_is_enabled, rcgc_is_tracked, rcgc_track, rcgc_untrack, rcgc_get_stats,
//! rcgc_add_callback, rcgc_remove_callback, rcgc_freeze, rcgc_unfreeze,
//! rcgc_get_freeze_count, rcgc_get_objects, rcgc_get_referrers,
//! rcgc_get_referents, rcgc_is_finalized.

use std::ffi::{c_int, c_void};

use super::macros::{Outcome, ffi_boundary};
use super::{heap_ref, object_ref, rcgc_heap};
use crate::collector::{GENERATIONS, rcgc_gc_callback_fn, rcgc_gen_stats};
use crate::error::{Error, rcgc_result};
use crate::introspect::rcgc_object_fn;

/// A generation number from C: 0..=2.
fn generation_arg(generation: c_int) -> Result<usize, Error> {
    usize::try_from(generation)
        .ok()
        .filter(|&g| g < GENERATIONS)
        .ok_or(Error::Generation(generation.into()))
}

/// The collection thresholds of the three generations (gc.get_threshold()).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rcgc_thresholds {
    /// Allocations minus deallocations of tracked-type objects that trigger a
    /// collection of generation 0; 0 disables automatic collection.
    pub gen0: usize,
    /// Collections of generation 0 that trigger a collection of generation 1.
    pub gen1: usize,
    /// Collections of generation 1 that may trigger a full collection.
    pub gen2: usize,
}

/// The counts of the three generations (gc.get_count()).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rcgc_counts {
    /// Allocations minus deallocations of objects of types with traverse since
    /// the last collection (never below 0).
    pub gen0: usize,
    /// Collections of generation 0 since the last collection of generation 1.
    pub gen1: usize,
    /// Collections of generation 1 since the last collection of generation 2.
    pub gen2: usize,
}

impl Outcome for rcgc_thresholds {
    fn on_error(_: rcgc_result) -> Self {
        Self::default()
    }
}

impl Outcome for rcgc_counts {
    fn on_error(_: rcgc_result) -> Self {
        Self::default()
    }
}

/// Collects generations 0..=generation (gc.collect(generation)) and writes to
/// `*unreachable_out` (which may be NULL) the number of unreachable objects
/// found, counted as CPython does: objects still unreachable after their
/// finalizers ran (a self-referencing object: 1, a two-object cycle: 2, an
/// object its finalizer resurrected: 0). Survivors move to the next older
/// generation. Runs even when automatic collection is disabled. Errors:
/// RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_INVALID_ARGUMENT (generation outside
/// 0..=2), RCGC_ERR_REENTRANT (called from a callback while the heap is
/// collecting or freeing), RCGC_ERR_NO_MEMORY (nothing was collected),
/// RCGC_ERR_INVALID_OBJECT (a refcount is smaller than the references the
/// traverse callbacks report; also reported to the misuse handler; nothing was
/// freed).
///
/// # Safety
/// `heap` must be NULL or live; `unreachable_out` NULL or writable.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_collect(
    heap: *mut rcgc_heap,
    generation: c_int,
    unreachable_out: *mut usize,
) -> rcgc_result {
    ffi_boundary!("rcgc_collect", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        let found = h.collect(generation_arg(generation)?)?;
        if !unreachable_out.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { unreachable_out.write(found) };
        }
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The thresholds (gc.get_threshold()); all zero for a NULL heap.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_get_threshold(heap: *const rcgc_heap) -> rcgc_thresholds {
    ffi_boundary!("rcgc_get_threshold", {
        // SAFETY: NULL or live per the contract.
        let [gen0, gen1, gen2] = unsafe { heap_ref(heap) }?.gc.thresholds();
        Ok(rcgc_thresholds { gen0, gen1, gen2 })
    })
}

/// Sets the thresholds (gc.set_threshold(gen0, gen1, gen2)); gen0 = 0 turns
/// automatic collection off, as in CPython. Errors: RCGC_ERR_NULL_ARGUMENT.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_set_threshold(
    heap: *mut rcgc_heap,
    gen0: usize,
    gen1: usize,
    gen2: usize,
) -> rcgc_result {
    ffi_boundary!("rcgc_set_threshold", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.gc.set_thresholds([gen0, gen1, gen2]);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The counts (gc.get_count()): gen0 = allocations minus deallocations of
/// objects of types with traverse since the last collection; gen1 and gen2 =
/// collections of the next younger generation since the last collection of
/// that one. All zero for a NULL heap.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_get_count(heap: *const rcgc_heap) -> rcgc_counts {
    ffi_boundary!("rcgc_get_count", {
        // SAFETY: NULL or live per the contract.
        let [gen0, gen1, gen2] = unsafe { heap_ref(heap) }?.gc.counts();
        Ok(rcgc_counts { gen0, gen1, gen2 })
    })
}

/// Turns automatic collection on (gc.enable()). Errors: RCGC_ERR_NULL_ARGUMENT.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_enable(heap: *mut rcgc_heap) -> rcgc_result {
    ffi_boundary!("rcgc_enable", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.gc.enabled.set(true);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Turns automatic collection off (gc.disable()); rcgc_collect still works.
/// Errors: RCGC_ERR_NULL_ARGUMENT.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_disable(heap: *mut rcgc_heap) -> rcgc_result {
    ffi_boundary!("rcgc_disable", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.gc.enabled.set(false);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Whether automatic collection is on (gc.isenabled()); false for NULL.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_is_enabled(heap: *const rcgc_heap) -> bool {
    ffi_boundary!("rcgc_is_enabled", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { heap_ref(heap) }?.gc.enabled.get())
    })
}

/// Whether the collector tracks `obj` (gc.is_tracked(obj)); false for NULL.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_is_tracked(obj: *const c_void) -> bool {
    ffi_boundary!("rcgc_is_tracked", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { object_ref(obj, "obj") }?.state().is_tracked())
    })
}

/// Starts tracking `obj` in generation 0 (PyObject_GC_Track), for objects a
/// type untracked while it filled in their references. Objects of types with
/// traverse are tracked at allocation, so most programs never call this.
/// Tracking an already tracked object does nothing. Counts do not change.
/// Errors: RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_INVALID_ARGUMENT (the type has no
/// traverse), RCGC_ERR_INVALID_OBJECT (a freed object), RCGC_ERR_REENTRANT
/// (from a traverse callback), RCGC_ERR_NO_MEMORY.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_track(obj: *mut c_void) -> rcgc_result {
    ffi_boundary!("rcgc_track", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        h.ty().heap().track(h)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Stops tracking `obj` (PyObject_GC_UnTrack): the collector no longer looks at
/// it, so it acts as a root and is never collected as part of a cycle.
/// Untracking an untracked object does nothing. Errors: RCGC_ERR_NULL_ARGUMENT,
/// RCGC_ERR_INVALID_OBJECT (a freed object), RCGC_ERR_REENTRANT (from a
/// traverse callback).
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_untrack(obj: *mut c_void) -> rcgc_result {
    ffi_boundary!("rcgc_untrack", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        h.ty().heap().untrack(h)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Writes the statistics of `generation` (gc.get_stats()[generation]) to
/// `out`: collections, unreachable objects collected, uncollectable objects,
/// candidates examined and time spent, cumulative since the heap was created.
/// The caller sets out->struct_size to sizeof(rcgc_gen_stats) first. Errors:
/// RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_INVALID_ARGUMENT (generation outside
/// 0..=2, struct_size too small). `out` is written only on RCGC_OK.
///
/// # Safety
/// `heap` must be NULL or live; `out` NULL or writable for out->struct_size bytes.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_get_stats(
    heap: *const rcgc_heap,
    generation: c_int,
    out: *mut rcgc_gen_stats,
) -> rcgc_result {
    ffi_boundary!("rcgc_get_stats", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        let generation = generation_arg(generation)?;
        if out.is_null() {
            return Err(Error::NullArgument("out"));
        }
        // SAFETY: a non-NULL out starts with its size.
        let given = unsafe { out.cast::<usize>().read_unaligned() };
        let known = std::mem::size_of::<rcgc_gen_stats>();
        if given < known {
            return Err(Error::StructSize { got: given, min: known });
        }
        let stats = rcgc_gen_stats {
            struct_size: given,
            ..h.gc.stats(generation)
        };
        // SAFETY: `given` writable bytes per the contract.
        unsafe {
            out.write_unaligned(stats);
            out.cast::<u8>().add(known).write_bytes(0, given - known);
        }
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Registers `callback` with `ctx` (appends to gc.callbacks): it is called
/// with RCGC_GC_START before and RCGC_GC_STOP after every collection of this
/// heap, automatic or explicit. Errors: RCGC_ERR_NULL_ARGUMENT (heap or
/// callback NULL), RCGC_ERR_NO_MEMORY.
///
/// # Safety
/// `heap` must be NULL or live; `callback` is called on the heap's thread.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_add_callback(
    heap: *mut rcgc_heap,
    callback: rcgc_gc_callback_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_add_callback", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        if callback.is_none() {
            return Err(Error::NullArgument("callback"));
        }
        h.gc.add_callback(callback, ctx)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Removes the first registration of `callback` with the same `ctx`
/// (gc.callbacks.remove). Errors: RCGC_ERR_NULL_ARGUMENT,
/// RCGC_ERR_INVALID_ARGUMENT (not registered).
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_remove_callback(
    heap: *mut rcgc_heap,
    callback: rcgc_gc_callback_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_remove_callback", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.gc.remove_callback(callback, ctx)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Moves every tracked object to the permanent generation, which collections
/// ignore, and zeroes the counts (gc.freeze()). No collection writes to a
/// frozen object's header, so after fork() a child's collections leave the
/// frozen pages shared. Errors: RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_REENTRANT
/// (from a callback), RCGC_ERR_NO_MEMORY (nothing moved).
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_freeze(heap: *mut rcgc_heap) -> rcgc_result {
    ffi_boundary!("rcgc_freeze", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.freeze()?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Moves the permanent generation back into generation 2 (gc.unfreeze()).
/// Errors: as rcgc_freeze.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_unfreeze(heap: *mut rcgc_heap) -> rcgc_result {
    ffi_boundary!("rcgc_unfreeze", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.unfreeze()?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// The number of objects in the permanent generation
/// (gc.get_freeze_count()); 0 for a NULL heap.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_get_freeze_count(heap: *const rcgc_heap) -> usize {
    ffi_boundary!("rcgc_get_freeze_count", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { heap_ref(heap) }?.gc.freeze_count())
    })
}

/// Calls `fn(obj, ctx)` for every object tracked in `generation`, or in all
/// three when generation is -1 (gc.get_objects(generation); the permanent
/// generation is not included, as in CPython). Each object is a borrowed
/// reference held alive during the call; `fn` may call rcgc freely. Errors:
/// RCGC_ERR_NULL_ARGUMENT (heap or fn NULL), RCGC_ERR_INVALID_ARGUMENT
/// (generation outside -1..=2), RCGC_ERR_REENTRANT (during a collection),
/// RCGC_ERR_NO_MEMORY.
///
/// # Safety
/// `heap` must be NULL or live.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_get_objects(
    heap: *mut rcgc_heap,
    generation: c_int,
    r#fn: rcgc_object_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_get_objects", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        let generation = if generation == -1 {
            None
        } else {
            Some(generation_arg(generation).map_err(|_| Error::GenerationOrAll(generation.into()))?)
        };
        if r#fn.is_none() {
            return Err(Error::NullArgument("fn"));
        }
        let objects = h.tracked_objects(generation)?;
        h.each_held(&objects, r#fn, ctx);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Calls `fn(referrer, ctx)` for every tracked object whose traverse reports a
/// reference to `obj` (gc.get_referrers(obj)), each held alive during the
/// call. Errors: as rcgc_get_objects.
///
/// # Safety
/// `heap` must be NULL or live; `obj` NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_get_referrers(
    heap: *mut rcgc_heap,
    obj: *const c_void,
    r#fn: rcgc_object_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_get_referrers", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        // SAFETY: NULL or live per the contract.
        let target = unsafe { object_ref(obj, "obj") }?;
        if r#fn.is_none() {
            return Err(Error::NullArgument("fn"));
        }
        let referrers = h.referrers(target)?;
        h.each_held(&referrers, r#fn, ctx);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Calls `fn(referent, ctx)` for every object `obj` references, as its
/// traverse reports them (gc.get_referents(obj); none for a type without
/// traverse), each held alive during the call. Errors: as rcgc_get_objects.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_get_referents(obj: *const c_void, r#fn: rcgc_object_fn, ctx: *mut c_void) -> rcgc_result {
    ffi_boundary!("rcgc_get_referents", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { object_ref(obj, "obj") }?;
        if r#fn.is_none() {
            return Err(Error::NullArgument("fn"));
        }
        let heap = h.ty().heap();
        let referents = heap.referents(h)?;
        heap.each_held(&referents, r#fn, ctx);
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Whether `obj`'s finalizer has run (gc.is_finalized(obj)); false for NULL.
///
/// # Safety
/// `obj` must be NULL or a live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_is_finalized(obj: *const c_void) -> bool {
    ffi_boundary!("rcgc_is_finalized", {
        // SAFETY: NULL or live per the contract.
        Ok(unsafe { object_ref(obj, "obj") }?.finalized())
    })
}
