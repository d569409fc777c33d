//! The built-in slots object: a tracked object holding `n` references, so that
//! FFI users can build any graph without writing callbacks.
//!
//! Payload layout: the slots, then PAD words up to the end of the object's
//! block. The pool's blocks are multiples of 16 bytes with at least 16
//! payload bytes, so there are at most two PAD words, and the length needs
//! no word of its own: it is the block's payload words (src/pool.rs) less the
//! PAD words at the end. Two slots fit a 32-byte block. A slot holds NULL or
//! an object, never PAD (objects are 16-byte aligned), so walks over every
//! word (traverse, clear) only skip what is not an object.

use std::ffi::c_void;
use std::mem::size_of;

use crate::error::Error;
use crate::header::Header;
use crate::heap::Heap;
use crate::pool::Pool;
use crate::refcount::set_ref;
use crate::types::{MAX_PAYLOAD, rcgc_type_spec, rcgc_visit_fn};

const WORD: usize = size_of::<*mut c_void>();

/// A payload word past the last slot.
const PAD: *mut c_void = std::ptr::without_provenance_mut(1);

/// The spec of the slots type every heap registers (its size is the
/// smallest payload, one word).
pub fn spec() -> rcgc_type_spec {
    rcgc_type_spec {
        name: c"rcgc.slots".as_ptr(),
        size: WORD,
        traverse: Some(traverse),
        clear: Some(clear),
        finalize: None,
        destroy: None,
    }
}

/// Every payload word of a slots object: its slots, then its PAD words.
///
/// # Safety
/// `h` must be a live slots object.
#[inline(always)]
pub(crate) unsafe fn words<'a>(h: &Header) -> &'a mut [*mut c_void] {
    let len = Pool::payload_bytes(h) / WORD;
    // SAFETY: the block's payload is `len` words, all slots or PAD.
    unsafe { std::slice::from_raw_parts_mut(h.payload().cast::<*mut c_void>(), len) }
}

/// Whether a payload word holds an object (neither NULL nor PAD).
#[inline(always)]
pub(crate) fn is_object(word: *mut c_void) -> bool {
    word.addr() > PAD.addr()
}

/// The slots of a slots object.
///
/// # Safety
/// `h` must be a live slots object.
pub(crate) unsafe fn slots<'a>(h: &Header) -> &'a mut [*mut c_void] {
    // SAFETY: per the contract.
    let words = unsafe { words(h) };
    let pads = words.iter().rev().take_while(|&&word| word == PAD).count();
    let len = words.len() - pads;
    &mut words[..len]
}

unsafe extern "C" fn traverse(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void) {
    let Some(visit) = visit else { return };
    // SAFETY: the collector calls traverse with live slots objects.
    for &referent in unsafe { slots(Header::from_payload(obj)) }.iter() {
        if !referent.is_null() {
            // SAFETY: visit is the collector's callback.
            unsafe { visit(referent, ctx) };
        }
    }
}

unsafe extern "C" fn clear(obj: *mut c_void) {
    // SAFETY: called with a live slots object.
    let len = unsafe { words(Header::from_payload(obj)) }.len();
    let words = obj.cast::<*mut c_void>();
    for i in 0..len {
        // SAFETY: word i of the payload. A decref may run user code, which
        // cannot resize a slots object nor store PAD in it, so the word is
        // read afresh each time and no reference to it outlives the step.
        let word = unsafe { words.add(i) };
        // SAFETY: as above.
        if is_object(unsafe { *word }) {
            // SAFETY: the slot holds a live object; a NULL value empties it.
            unsafe { set_ref(word, std::ptr::null_mut(), "rcgc_collect") };
        }
    }
}

/// Drops the references of a slots object whose count reached zero: nothing
/// else can reach it, so no callback can change its slots meanwhile.
#[inline(always)]
pub(crate) fn clear_dead(h: &Header) {
    // SAFETY: a dead slots object being freed; its words hold NULL, PAD or live objects.
    for slot in unsafe { words(h) }.iter_mut() {
        if is_object(*slot) {
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
            .checked_mul(WORD)
            .filter(|&size| size <= MAX_PAYLOAD)
            .ok_or(Error::TooManySlots(nslots))?
            .max(WORD);
        let h = self.alloc(self.slots_type(), size)?;
        // SAFETY: a fresh slots object: every word is NULL, and the block
        // holds at least `nslots` of them.
        let words = unsafe { words(h) };
        words[nslots..].fill(PAD);
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
    Ok(unsafe { slots(h) })
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
