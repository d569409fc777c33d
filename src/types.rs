//! Registered object types: a name, a payload size and the callbacks that let
//! the collector see and break an object's references.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_void};

use crate::error::{Error, TypeName};
use crate::header::HEADER_SIZE;
use crate::heap::Heap;

/// Called by a traverse callback once for each object reference the payload
/// holds. NULL referents are ignored.
#[allow(non_camel_case_types)]
pub type rcgc_visit_fn = Option<unsafe extern "C" fn(referent: *mut c_void, ctx: *mut c_void)>;

/// Reports every object reference `obj`'s payload holds by calling
/// `visit(referent, ctx)` once per reference (like CPython's tp_traverse). It must
/// only call visit: no allocation, no incref or decref, no other rcgc call.
#[allow(non_camel_case_types)]
pub type rcgc_traverse_fn = Option<unsafe extern "C" fn(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void)>;

/// Drops every reference `obj`'s payload holds: set the field to NULL, then
/// decref the old value (rcgc_clear_ref does both), like CPython's tp_clear.
/// It may run more than once for one object (a collection clears it, then it
/// is cleared again when its count reaches zero), so a cleared field must be
/// NULL afterwards.
#[allow(non_camel_case_types)]
pub type rcgc_clear_fn = Option<unsafe extern "C" fn(obj: *mut c_void)>;

/// Runs at most once per object, before it is freed; may resurrect it by
/// storing a new reference to it somewhere (PEP 442).
#[allow(non_camel_case_types)]
pub type rcgc_finalize_fn = Option<unsafe extern "C" fn(obj: *mut c_void)>;

/// Releases resources rcgc does not manage (malloc'd buffers, file handles)
/// just before the object's memory goes. Like the other callbacks it may
/// incref, decref and allocate, except during rcgc_heap_free's final sweep of
/// objects still referenced, where allocation fails with RCGC_ERR_REENTRANT and
/// a count reaching zero frees nothing (the sweep destroys every object).
#[allow(non_camel_case_types)]
pub type rcgc_destroy_fn = Option<unsafe extern "C" fn(obj: *mut c_void)>;

/// What rcgc_type_register needs to know about a type.
///
/// name: copied; shown in errors and debug output. size: payload bytes (at least
/// 1); the payload is zeroed on allocation and 16-byte aligned. traverse: reports
/// each object reference the payload holds; NULL means the type holds no
/// references and its objects are never tracked. clear: required when traverse
/// is set. finalize and destroy: optional.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct rcgc_type_spec {
    /// NUL-terminated type name, copied at registration. Must not be NULL.
    pub name: *const c_char,
    /// Payload bytes: at least 1.
    pub size: usize,
    /// See rcgc_traverse_fn; NULL for types that hold no object references.
    pub traverse: rcgc_traverse_fn,
    /// See rcgc_clear_fn; required when traverse is set.
    pub clear: rcgc_clear_fn,
    /// See rcgc_finalize_fn; optional.
    pub finalize: rcgc_finalize_fn,
    /// See rcgc_destroy_fn; optional.
    pub destroy: rcgc_destroy_fn,
}

/// The largest payload an object may have.
pub const MAX_PAYLOAD: usize = (isize::MAX as usize) / 2 - HEADER_SIZE;

/// A registered type. Lives as long as its heap; aligned so that object
/// headers can keep state bits in the low bits of its address.
#[repr(align(256))]
pub struct Type {
    heap: *const Heap,
    name: CString,
    /// Payload bytes of a plain rcgc_alloc.
    pub size: usize,
    /// Reports references; None for types that are never tracked.
    pub traverse: rcgc_traverse_fn,
    /// Breaks references.
    pub clear: rcgc_clear_fn,
    /// Runs once per object before it dies.
    pub finalize: rcgc_finalize_fn,
    /// Releases foreign resources.
    pub destroy: rcgc_destroy_fn,
    /// Whether freeing an object of this type (one without weak references)
    /// is its clear callback and nothing else: tracked, with no finalizer
    /// and no destroy. False for the slots type, whose objects are cleared
    /// in place (src/slots.rs).
    pub(crate) clear_only: Cell<bool>,
    /// The payload words that are reference fields, bit i for word i, for a
    /// type registered with declared references (rcgc_type_register_with_refs);
    /// 0 for every other type. The collector reads them inline.
    pub(crate) ref_words: u64,
    /// Whether a collection may free a set of this type's objects in one
    /// sweep (src/collector.rs, step 7): rcgc knows their references (the
    /// slots object, declared references) and no callback of theirs runs
    /// when an unreachable one is freed (no destroy).
    pub(crate) sweepable: Cell<bool>,
}

impl Type {
    /// Validates `spec` and builds the type for `heap`. The name is copied with
    /// fallible allocation.
    ///
    /// # Safety
    /// `spec.name`, if not NULL, must point to a NUL-terminated string.
    pub unsafe fn from_spec(heap: *const Heap, spec: &rcgc_type_spec) -> Result<Type, Error> {
        if spec.name.is_null() {
            return Err(Error::InvalidSpec("name is NULL"));
        }
        if spec.size == 0 {
            return Err(Error::InvalidSpec("size is 0"));
        }
        if spec.size > MAX_PAYLOAD {
            return Err(Error::InvalidSpec("size exceeds the largest object size"));
        }
        if spec.traverse.is_some() && spec.clear.is_none() {
            return Err(Error::InvalidSpec("traverse is set but clear is NULL"));
        }
        // SAFETY: checked non-NULL above; the caller promises NUL termination.
        let name = unsafe { CStr::from_ptr(spec.name) };
        Ok(Type {
            heap,
            name: copy_cstr(name)?,
            size: spec.size,
            traverse: spec.traverse,
            clear: spec.clear,
            finalize: spec.finalize,
            destroy: spec.destroy,
            clear_only: Cell::new(spec.traverse.is_some() && spec.finalize.is_none() && spec.destroy.is_none()),
            ref_words: 0,
            sweepable: Cell::new(false),
        })
    }

    /// Validates `spec` and `offsets` and builds a type whose references are
    /// the pointer fields at `offsets` (bytes into the payload, any order):
    /// rcgc traverses and clears them itself, so spec's traverse and clear
    /// must be NULL.
    ///
    /// # Safety
    /// As `from_spec`.
    pub unsafe fn with_refs(heap: *const Heap, spec: &rcgc_type_spec, offsets: &[usize]) -> Result<Type, Error> {
        if spec.traverse.is_some() || spec.clear.is_some() {
            return Err(Error::InvalidSpec(
                "traverse and clear must be NULL: rcgc traverses and clears the declared references itself",
            ));
        }
        if offsets.is_empty() {
            return Err(Error::InvalidSpec(
                "no reference offsets (a type without references needs rcgc_type_register)",
            ));
        }
        if offsets.iter().any(|&offset| offset % WORD != 0) {
            return Err(Error::InvalidSpec(
                "a reference offset is not a multiple of the pointer size",
            ));
        }
        if offsets
            .iter()
            .any(|&offset| spec.size < WORD || offset > spec.size - WORD)
        {
            return Err(Error::InvalidSpec("a reference field does not fit in size"));
        }
        if offsets.iter().any(|&offset| offset / WORD >= MAX_REF_WORDS) {
            return Err(Error::InvalidSpec(
                "a reference field lies beyond the payload's first 64 words (use traverse and clear)",
            ));
        }
        let mut ref_words = 0u64;
        for &offset in offsets {
            let bit = 1u64 << (offset / WORD);
            if ref_words & bit != 0 {
                return Err(Error::InvalidSpec("a reference offset appears twice"));
            }
            ref_words |= bit;
        }
        let spec = rcgc_type_spec {
            traverse: Some(refs_traverse),
            clear: Some(refs_clear),
            ..*spec
        };
        // SAFETY: per the contract.
        let mut ty = unsafe { Type::from_spec(heap, &spec) }?;
        ty.ref_words = ref_words;
        ty.sweepable.set(spec.destroy.is_none());
        Ok(ty)
    }

    /// The heap this type belongs to.
    #[inline(always)]
    pub fn heap(&self) -> &Heap {
        // SAFETY: a type never outlives its heap, which never moves.
        unsafe { &*self.heap }
    }

    /// The heap's address, for "same heap" checks.
    pub fn heap_ptr(&self) -> *const Heap {
        self.heap
    }

    /// Whether objects of this type take part in collection (and in the counts).
    #[inline(always)]
    pub fn is_gc(&self) -> bool {
        self.traverse.is_some()
    }

    /// The NUL-terminated name.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// The name for error messages.
    pub fn display_name(&self) -> TypeName {
        // SAFETY: messages are formatted before the call that raised them
        // returns, while the type (owned by its heap) is alive.
        TypeName(unsafe { &*(self.name.as_c_str() as *const CStr) })
    }
}

/// Pointer size: the unit of declared reference offsets.
const WORD: usize = std::mem::size_of::<*mut c_void>();

/// Declared reference fields lie in the payload's first MAX_REF_WORDS words.
const MAX_REF_WORDS: usize = 64;

/// Calls `f` with a pointer to each declared reference field of `h`, whose
/// type's `ref_words` is `words`, in payload order. The field addresses
/// depend on the bits only through branches, which the CPU predicts per
/// type, not through loaded offsets: a freeing or scanning loop bound by
/// memory latency does not wait for the type's metadata before it loads the
/// fields.
///
/// # Safety
/// `h` must be a live (or dying) object of a type whose `ref_words` is `words`.
#[inline(always)]
pub(crate) unsafe fn for_each_ref(h: &crate::header::Header, words: u64, mut f: impl FnMut(*mut *mut c_void)) {
    let fields = h.payload().cast::<*mut c_void>();
    let mut rest = words;
    let mut i = 0;
    while rest != 0 {
        if rest & 1 != 0 {
            // SAFETY: bit i is set only for a pointer field inside the payload
            // (validated at registration).
            f(unsafe { fields.add(i) });
        }
        rest >>= 1;
        i += 1;
    }
}

/// The traverse callback of a type with declared references, for the callers
/// that go through traverse (introspection, the heap picture; the collector
/// reads the fields inline). It visits every declared field in payload order,
/// NULL ones too, so that a reference's position in traverse order is its
/// field's rank, whichever fields before it are empty.
unsafe extern "C" fn refs_traverse(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void) {
    let Some(visit) = visit else { return };
    // SAFETY: rcgc calls traverse with live objects of this type.
    let h = unsafe { crate::header::Header::from_payload(obj) };
    // SAFETY: as above; each field holds NULL or a live object, and visit
    // accepts both.
    unsafe { for_each_ref(h, h.ty().ref_words, |field| visit(*field, ctx)) };
}

/// The clear callback of a type with declared references: each field to
/// NULL, then its old value decref'd (which may run user code, so each field
/// is read afresh and no reference to it is held across the decref).
unsafe extern "C" fn refs_clear(obj: *mut c_void) {
    // SAFETY: rcgc calls clear with live (or dying) objects of this type.
    let h = unsafe { crate::header::Header::from_payload(obj) };
    // SAFETY: as above; each field holds NULL or a live object, and a NULL
    // value empties it.
    unsafe {
        for_each_ref(h, h.ty().ref_words, |field| {
            if !(*field).is_null() {
                crate::refcount::set_ref(field, std::ptr::null_mut(), "rcgc_decref");
            }
        });
    }
}

/// Copies a C string without aborting when memory runs out.
fn copy_cstr(s: &CStr) -> Result<CString, Error> {
    let bytes = s.to_bytes_with_nul();
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(bytes.len()).map_err(|_| Error::NoMemory)?;
    v.extend_from_slice(bytes);
    // The bytes came from a CStr, so they hold exactly one NUL, at the end.
    CString::from_vec_with_nul(v).map_err(|_| Error::InvalidSpec("name is not NUL-terminated"))
}

const _: () = assert!(std::mem::align_of::<Type>() > crate::header::TAG_MASK);
