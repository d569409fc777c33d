//! Heaps: rcgc_config_init, rcgc_heap_new, rcgc_heap_new_with, rcgc_heap_free,
//! rcgc_heap_get_stats, rcgc_set_misuse_handler.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::NonNull;

use super::macros::ffi_boundary;
use super::{heap_handle, heap_ref, rcgc_heap};
use crate::error::{Error, rcgc_result};
use crate::heap::{Config, Heap, Phase, rcgc_heap_stats, rcgc_misuse_fn};

/// Options for rcgc_heap_new_with. Always start from rcgc_config_init, which
/// fills in struct_size and the defaults; fields may be added at the end in
/// later versions.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rcgc_config {
    /// Set by rcgc_config_init to sizeof(rcgc_config); lets a newer library
    /// accept an older caller's struct.
    pub struct_size: usize,
    /// Bytes the heap may hold, object headers included; 0 means no limit. An
    /// allocation that would pass it runs a full collection first, then fails
    /// with RCGC_ERR_MEMORY_LIMIT if it still does not fit.
    pub memory_limit: usize,
    /// Checked mode, for debugging: every object and type pointer passed to
    /// rcgc is validated before use. A freed object (use after free, a decref
    /// too many), a pointer that is not an object, an object of another heap and
    /// two threads inside one heap at once are reported, naming the function,
    /// the address and the type: as RCGC_ERR_INVALID_OBJECT (or
    /// RCGC_ERR_WRONG_HEAP) by functions that return rcgc_result, to the misuse
    /// handler by the others. Freed objects' memory is kept (quarantined) until
    /// the heap is freed, so stale pointers stay recognisable. Costs a global
    /// lookup per call (see README, Reliability); other heaps are unaffected.
    pub checked: bool,
}

/// Fills `config` with the defaults: struct_size = sizeof(rcgc_config), no
/// memory limit, checked mode off. NULL is a no-op.
///
/// # Safety
/// `config` must be NULL or point to writable memory for an rcgc_config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_config_init(config: *mut rcgc_config) {
    ffi_boundary!("rcgc_config_init", {
        if !config.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe {
                config.write(rcgc_config {
                    struct_size: size_of::<rcgc_config>(),
                    memory_limit: 0,
                    checked: false,
                })
            };
        }
        Ok(())
    })
}

/// A new, empty heap with CPython's defaults: thresholds (700, 10, 10),
/// automatic collection enabled, no memory limit. The caller owns the heap and
/// frees it with rcgc_heap_free. Returns NULL only when memory is exhausted
/// (RCGC_ERR_NO_MEMORY).
#[unsafe(no_mangle)]
pub extern "C" fn rcgc_heap_new() -> *mut rcgc_heap {
    ffi_boundary!("rcgc_heap_new", {
        Ok(heap_handle(unsafe_ref(Heap::new(Config::default())?)))
    })
}

/// A new heap with the options of `config` (start from rcgc_config_init). The
/// config is only read during the call. Returns NULL, with the reason in
/// rcgc_last_error(), when config is NULL (RCGC_ERR_NULL_ARGUMENT), when its
/// struct_size is smaller than the first version of rcgc_config, or when it
/// is larger and the bytes this library does not know are not all zero
/// (RCGC_ERR_INVALID_ARGUMENT), or when memory is exhausted (RCGC_ERR_NO_MEMORY).
///
/// # Safety
/// `config` must be NULL or point to at least config->struct_size readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_heap_new_with(config: *const rcgc_config) -> *mut rcgc_heap {
    ffi_boundary!("rcgc_heap_new_with", {
        if config.is_null() {
            return Err(Error::NullArgument("config"));
        }
        // SAFETY: a non-NULL config starts with its size.
        let given = unsafe { config.cast::<usize>().read_unaligned() };
        let known = size_of::<rcgc_config>();
        if given < known {
            return Err(Error::StructSize { got: given, min: known });
        }
        // SAFETY: the caller promises `given` readable bytes.
        let extra = unsafe { std::slice::from_raw_parts(config.cast::<u8>().add(known), given - known) };
        if extra.iter().any(|&b| b != 0) {
            return Err(Error::InvalidConfig(
                "struct_size is larger than this library's rcgc_config and the fields it does not know are not zero",
            ));
        }
        // SAFETY: at least `known` readable bytes.
        let config = unsafe { config.read_unaligned() };
        Ok(heap_handle(unsafe_ref(Heap::new(Config {
            memory_limit: config.memory_limit,
            checked: config.checked,
        })?)))
    })
}

fn unsafe_ref<'a>(heap: NonNull<Heap>) -> &'a Heap {
    // SAFETY: a heap fresh from Heap::new, owned by the caller from now on.
    unsafe { heap.as_ref() }
}

/// Frees the heap: runs a full collection, then finalize (once) for every
/// object not yet finalized, clears every container so refcounting frees what
/// it can, and finally runs destroy for every object left and releases all
/// memory, like interpreter shutdown. Every object and type of the heap is
/// invalid afterwards. NULL is a no-op. Calling it from a callback of the same
/// heap is misuse: it is reported to the misuse handler and nothing is freed.
///
/// # Safety
/// `heap` must be NULL or a live heap; it must not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_heap_free(heap: *mut rcgc_heap) {
    ffi_boundary!("rcgc_heap_free", {
        if heap.is_null() {
            return Ok(());
        }
        // SAFETY: a live heap per the contract.
        let h = unsafe { heap_ref(heap) }?;
        if h.phase() != Phase::Idle {
            h.misuse(format_args!(
                "rcgc_heap_free: called while the heap is {}; the heap is not freed",
                h.phase().describe()
            ));
            return Ok(());
        }
        // SAFETY: a live heap from Heap::new, idle, not used again by the caller.
        unsafe { Heap::destroy(NonNull::from(h)) };
        Ok(())
    })
}

/// Writes the heap's counters to `out` (see rcgc_heap_stats). The caller sets
/// out->struct_size to sizeof(rcgc_heap_stats) first; bytes past the fields
/// this library knows, up to struct_size, are zeroed. Errors:
/// RCGC_ERR_NULL_ARGUMENT (heap or out NULL), RCGC_ERR_INVALID_ARGUMENT
/// (struct_size too small). `out` is written only on RCGC_OK.
///
/// # Safety
/// `heap` must be NULL or live; `out` NULL or writable for out->struct_size bytes.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_heap_get_stats(heap: *const rcgc_heap, out: *mut rcgc_heap_stats) -> rcgc_result {
    ffi_boundary!("rcgc_heap_get_stats", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        if out.is_null() {
            return Err(Error::NullArgument("out"));
        }
        // SAFETY: a non-NULL out starts with its size.
        let given = unsafe { out.cast::<usize>().read_unaligned() };
        let known = size_of::<rcgc_heap_stats>();
        if given < known {
            return Err(Error::StructSize { got: given, min: known });
        }
        let stats = rcgc_heap_stats {
            struct_size: given,
            ..h.stats()
        };
        // SAFETY: `given` writable bytes per the contract.
        unsafe {
            out.write_unaligned(stats);
            out.cast::<u8>().add(known).write_bytes(0, given - known);
        }
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Sets the function that receives misuse a void function cannot return: a
/// decref of an object whose refcount is already zero (a double decref, a
/// decref of a freed object), an object reaching refcount zero inside a
/// traverse callback, a refcount smaller than the references traverse reports.
/// The message names the function, the object's address and its type, and is
/// valid only during the call. If the handler returns, the offending call does
/// nothing (the object is leaked rather than freed twice). `handler` NULL restores
/// the default, which prints the message to stderr and aborts. A NULL heap is
/// a no-op (RCGC_ERR_NULL_ARGUMENT in rcgc_last_error).
///
/// # Safety
/// `heap` must be NULL or live; `handler` is called on the heap's thread with `ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcgc_set_misuse_handler(heap: *mut rcgc_heap, handler: rcgc_misuse_fn, ctx: *mut c_void) {
    ffi_boundary!("rcgc_set_misuse_handler", {
        // SAFETY: NULL or live per the contract.
        unsafe { heap_ref(heap) }?.set_misuse_handler(handler, ctx);
        Ok(())
    })
}
