//! A picture of the heap: rcgc_export_graph, rcgc_why_alive, rcgc_why_alive_text.

use std::ffi::{c_int, c_void};

use super::macros::ffi_boundary;
use super::{heap_ref, object_ref, rcgc_heap};
use crate::error::{Error, rcgc_result};
use crate::graph::{rcgc_graph_format, rcgc_write_fn};
use crate::header::Header;
use crate::introspect::rcgc_object_fn;

/// Writes a picture of the heap through `write(data, len, ctx)`: objects and
/// the references their traverse callbacks report, as Graphviz DOT
/// (RCGC_GRAPH_DOT) or JSON (RCGC_GRAPH_JSON; README, "A picture of the
/// heap", gives the schema). With `roots` NULL (and `nroots` 0), every live
/// object of the heap: tracked or not, of every type, garbage included. Else
/// the `nroots` objects of `roots` (borrowed) and everything they reach
/// through references; `nroots` 0 then gives an empty graph.
///
/// Each object comes with its address, type name, refcount, state (gen0,
/// gen1, gen2, permanent or untracked), finalized mark, the bytes it occupies,
/// and two findings: `external`, its refcount minus the references to it
/// that traverse reports from objects of the heap (above 0: something
/// outside the heap, such as a C variable, holds it; below 0: some traverse
/// reports a reference it does not own), and whether a chain of references
/// from an object with external > 0 reaches it (if not, it is garbage waiting
/// for a collection). Each reference comes with its position in its
/// source's traverse order (NULL visits count), its slot index for slots
/// objects, or its field's rank among the declared fields (in payload order,
/// empty ones counted) for types with declared references. DOT draws objects
/// held from outside in gold and garbage grey and dashed.
///
/// The heap is looked at once, before `write` is first called: only traverse
/// callbacks run then (they must only call visit). `write` receives chunks
/// of UTF-8 text, not NUL-terminated, valid only during the call; it may
/// call any rcgc function, collections included (the output still describes
/// the heap as it was), but must not free the heap. A non-zero return stops
/// the output: the call then returns RCGC_ERR_ABORTED. Time and scratch
/// memory are proportional to the objects and references of the whole heap,
/// even with roots.
///
/// Errors: RCGC_ERR_NULL_ARGUMENT (heap or write NULL, roots NULL with nroots
/// above 0, an element of roots NULL); RCGC_ERR_INVALID_ARGUMENT (format is
/// not an rcgc_graph_format); RCGC_ERR_WRONG_HEAP (a root of another heap);
/// RCGC_ERR_INVALID_OBJECT (a root that is not a live object, detected in
/// checked mode); RCGC_ERR_REENTRANT (called from a callback of a collection
/// or of a refcount-freeing cascade); RCGC_ERR_NO_MEMORY; RCGC_ERR_ABORTED.
///
/// # Safety
/// `heap` must be NULL or live; `roots` NULL or `nroots` readable pointers,
/// each NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_export_graph(
    heap: *mut rcgc_heap,
    format: c_int,
    roots: *const *mut c_void,
    nroots: usize,
    write: rcgc_write_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_export_graph", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        let format = rcgc_graph_format::from_raw(format)?;
        let write = write.ok_or(Error::NullArgument("write"))?;
        let roots = if roots.is_null() {
            if nroots != 0 {
                return Err(Error::NullArgument("roots"));
            }
            None
        } else {
            // SAFETY: `nroots` readable pointers per the contract.
            let given = unsafe { std::slice::from_raw_parts(roots, nroots) };
            let mut headers: Vec<&Header> = Vec::new();
            headers.try_reserve_exact(nroots).map_err(|_| Error::NoMemory)?;
            for (i, &root) in given.iter().enumerate() {
                if root.is_null() {
                    return Err(Error::NullRoot(i));
                }
                // SAFETY: a live object per the contract (validated in checked mode).
                headers.push(unsafe { object_ref(root, "roots") }?);
            }
            Some(headers)
        };
        h.export_graph(format, roots.as_deref(), write, ctx)?;
        Ok(rcgc_result::RCGC_OK)
    })
}

/// Answers "why is obj alive?": calls `fn(o, ctx)` for each object of a
/// shortest chain of references from an object held from outside the heap
/// (refcount above the references to it that traverse reports: a C variable
/// holds it) to `obj`, the held object first and `obj` last, and writes the
/// chain's length to `*length_out` (which may be NULL). An `obj` held from
/// outside is a chain of one. Each object is a borrowed reference held alive
/// during the calls; `fn` may call rcgc freely but must not free the heap.
/// References that traverse does not report (from a payload whose traverse
/// omits them) count as held from outside.
///
/// When no such chain exists, `obj` is garbage waiting for a collection (say,
/// a cycle nothing else holds): the result is RCGC_ERR_NOT_FOUND, `fn` is not
/// called and `*length_out` is set to 0. Only traverse callbacks run while
/// the heap is looked at; time and scratch memory are proportional to the
/// objects and references of the whole heap.
///
/// Errors: RCGC_ERR_NULL_ARGUMENT (heap, obj or fn NULL); RCGC_ERR_WRONG_HEAP
/// (obj of another heap); RCGC_ERR_INVALID_OBJECT (obj not a live object,
/// detected in checked mode); RCGC_ERR_REENTRANT (from a callback of a
/// collection or of a refcount-freeing cascade); RCGC_ERR_NO_MEMORY;
/// RCGC_ERR_NOT_FOUND. `*length_out` is written on RCGC_OK and RCGC_ERR_NOT_FOUND.
///
/// # Safety
/// `heap` must be NULL or live; `obj` NULL or a live object; `length_out`
/// NULL or writable.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_why_alive(
    heap: *mut rcgc_heap,
    obj: *const c_void,
    r#fn: rcgc_object_fn,
    ctx: *mut c_void,
    length_out: *mut usize,
) -> rcgc_result {
    ffi_boundary!("rcgc_why_alive", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        // SAFETY: NULL or live per the contract.
        let target = unsafe { object_ref(obj, "obj") }?;
        if r#fn.is_none() {
            return Err(Error::NullArgument("fn"));
        }
        let chain = h.why_alive(target).inspect_err(|e| {
            if matches!(e, Error::NotReachable { .. }) && !length_out.is_null() {
                // SAFETY: writable per the contract.
                unsafe { length_out.write(0) };
            }
        })?;
        h.each_held(&chain, r#fn, ctx);
        if !length_out.is_null() {
            // SAFETY: writable per the contract.
            unsafe { length_out.write(chain.len()) };
        }
        Ok(rcgc_result::RCGC_OK)
    })
}

/// rcgc_why_alive as text for people, written through `write(data, len,
/// ctx)` (see rcgc_export_graph for `write`): one line per object of the
/// chain, the object held from outside first, each later one with the
/// position of the reference that leads to it, for example (three lines):
/// `0x5555d0a0 'tree': refcount 1, external 1: held from outside the heap`,
/// `  [0] -> 0x5555d0c0 'tree': refcount 1, external 0`,
/// `  [1] -> 0x5555d0e0 'leaf': refcount 1, external 0`.
/// When no chain exists, one line saying so about `obj`, and the result is
/// RCGC_ERR_NOT_FOUND. Errors: as rcgc_why_alive (write NULL is
/// RCGC_ERR_NULL_ARGUMENT), and RCGC_ERR_ABORTED when write returns non-zero.
///
/// # Safety
/// `heap` must be NULL or live; `obj` NULL or a live object.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn rcgc_why_alive_text(
    heap: *mut rcgc_heap,
    obj: *const c_void,
    write: rcgc_write_fn,
    ctx: *mut c_void,
) -> rcgc_result {
    ffi_boundary!("rcgc_why_alive_text", {
        // SAFETY: NULL or live per the contract.
        let h = unsafe { heap_ref(heap) }?;
        // SAFETY: NULL or live per the contract.
        let target = unsafe { object_ref(obj, "obj") }?;
        let write = write.ok_or(Error::NullArgument("write"))?;
        h.why_alive_text(target, write, ctx)?;
        Ok(rcgc_result::RCGC_OK)
    })
}
