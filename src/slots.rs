//! The built-in slots object: a tracked object holding `n` references, so that
//! FFI users can build any graph without writing callbacks.
//!
//! Payload layout: the number of slots (a usize), then the slots.

use std::ffi::c_void;
use std::mem::size_of;

use crate::error::Error;
use crate::header::Header;
use crate::heap::Heap;
use crate::refcount::set_ref;
use crate::types::{MAX_PAYLOAD, rcgc_type_spec, rcgc_visit_fn};

const LEN_BYTES: usize = size_of::<usize>();

/// The spec of the slots type every heap registers.
pub fn spec() -> rcgc_type_spec {
    rcgc_type_spec {
        name: c"rcgc.slots".as_ptr(),
        size: LEN_BYTES,
        traverse: Some(traverse),
        clear: Some(clear),
        finalize: None,
        destroy: None,
    }
}

/// The slots of a slots object's payload.
///
/// # Safety
/// `payload` must be the payload of a live slots object.
pub(crate) unsafe fn slots<'a>(payload: *mut c_void) -> &'a mut [*mut c_void] {
    // SAFETY: the payload starts with the length, followed by that many slots.
    unsafe {
        let len = payload.cast::<usize>().read();
        std::slice::from_raw_parts_mut(payload.cast::<u8>().add(LEN_BYTES).cast::<*mut c_void>(), len)
    }
}

unsafe extern "C" fn traverse(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void) {
    let Some(visit) = visit else { return };
    // SAFETY: the collector calls traverse with live slots objects.
    for &referent in unsafe { slots(obj) }.iter() {
        if !referent.is_null() {
            // SAFETY: visit is the collector's callback.
            unsafe { visit(referent, ctx) };
        }
    }
}

unsafe extern "C" fn clear(obj: *mut c_void) {
    // SAFETY: called with a live slots object; the slice is re-read each time
    // because a decref may run user code, which cannot resize a slots object.
    let len = unsafe { slots(obj) }.len();
    for i in 0..len {
        // SAFETY: as above; index within the fixed length.
        let slot = unsafe { &mut slots(obj)[i] } as *mut *mut c_void;
        // SAFETY: the slot is valid; a NULL value empties it.
        unsafe { set_ref(slot, std::ptr::null_mut(), "rcgc_collect") };
    }
}

/// Drops the references of a slots object whose count reached zero: nothing
/// else can reach it, so no callback can change its slots meanwhile.
#[inline(always)]
pub(crate) fn clear_dead(h: &Header) {
    // SAFETY: a dead slots object being freed; its slots hold NULL or live objects.
    for slot in unsafe { slots(h.payload()) }.iter_mut() {
        if !slot.is_null() {
            let old = std::mem::replace(slot, std::ptr::null_mut());
            // SAFETY: the slot held a reference to a live object.
            crate::refcount::decref(unsafe { Header::from_payload(old) }, "rcgc_decref");
        }
    }
}

impl Heap {
    /// A new slots object with `nslots` empty slots and refcount 1.
    pub fn slots_new(&self, nslots: usize) -> Result<&Header, Error> {
        let size = nslots
            .checked_mul(size_of::<*mut c_void>())
            .and_then(|bytes| bytes.checked_add(LEN_BYTES))
            .filter(|&size| size <= MAX_PAYLOAD)
            .ok_or(Error::TooManySlots(nslots))?;
        let h = self.alloc(self.slots_type(), size)?;
        // SAFETY: a fresh slots payload of `size` bytes.
        unsafe { h.payload().cast::<usize>().write(nslots) };
        Ok(h)
    }
}

/// Checks that `h` is a slots object and returns its slots.
fn slots_of<'a>(h: &Header) -> Result<&'a mut [*mut c_void], Error> {
    if !std::ptr::eq(h.ty(), h.ty().heap().slots_type()) {
        return Err(Error::WrongType {
            addr: h.addr(),
            ty: h.ty().display_name(),
            expected: "not a slots object",
        });
    }
    // SAFETY: a live slots object.
    Ok(unsafe { slots(h.payload()) })
}

/// The number of slots of a slots object.
pub fn len(h: &Header) -> Result<usize, Error> {
    Ok(slots_of(h)?.len())
}

/// The borrowed reference in slot `index`, or NULL.
pub fn get(h: &Header, index: usize) -> Result<*mut c_void, Error> {
    let slots = slots_of(h)?;
    slots.get(index).copied().ok_or(Error::SlotIndex {
        index,
        len: slots.len(),
    })
}

/// Stores `value` (NULL empties the slot) with a new reference and drops the old one.
pub fn set(h: &Header, index: usize, value: Option<&Header>) -> Result<(), Error> {
    let slots = slots_of(h)?;
    let len = slots.len();
    let slot = slots.get_mut(index).ok_or(Error::SlotIndex { index, len })? as *mut *mut c_void;
    if let Some(v) = value
        && !std::ptr::eq(v.ty().heap_ptr(), h.ty().heap_ptr())
    {
        return Err(Error::WrongHeap {
            addr: v.addr(),
            ty: v.ty().display_name(),
        });
    }
    let value = value.map_or(std::ptr::null_mut(), Header::payload);
    // SAFETY: a slot of a live object; value is NULL or a live object.
    unsafe { set_ref(slot, value, "rcgc_slots_set") };
    Ok(())
}
