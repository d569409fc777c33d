//! A panic inside the library stops at the C boundary: the call returns
//! RCGC_ERR_PANIC with the panic's message, and the heap, whose structures the
//! panic may have left half-updated, refuses further work but can still be
//! freed. Runs with `--features fault-injection` (src/fault.rs).

use std::ffi::{CStr, c_char, c_int, c_void};

use rcgc::error::rcgc_result;
use rcgc::fault::{Site, arm};

unsafe extern "C" {
    fn rcgc_heap_new() -> *mut c_void;
    fn rcgc_heap_free(heap: *mut c_void);
    fn rcgc_slots_new(heap: *mut c_void, nslots: usize) -> *mut c_void;
    fn rcgc_slots_set(obj: *mut c_void, index: usize, value: *mut c_void) -> rcgc_result;
    fn rcgc_decref(obj: *mut c_void);
    fn rcgc_collect(heap: *mut c_void, generation: c_int, out: *mut usize) -> rcgc_result;
    fn rcgc_last_error() -> *const c_char;
    fn rcgc_last_error_code() -> rcgc_result;
}

fn last_error() -> String {
    // SAFETY: rcgc_last_error never returns NULL.
    unsafe { CStr::from_ptr(rcgc_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_panic_mid_collection_is_reported_and_the_heap_refused_then_freed() {
    // SAFETY: plain use of the C API.
    unsafe {
        let heap = rcgc_heap_new();
        let a = rcgc_slots_new(heap, 1);
        assert_eq!(rcgc_slots_set(a, 0, a), rcgc_result::RCGC_OK);
        rcgc_decref(a);

        arm(Site::Collection);
        let mut found = 123;
        assert_eq!(rcgc_collect(heap, 2, &mut found), rcgc_result::RCGC_ERR_PANIC);
        assert_eq!(found, 123, "no output on failure");
        assert_eq!(rcgc_last_error_code(), rcgc_result::RCGC_ERR_PANIC);
        let message = last_error();
        assert!(message.starts_with("rcgc_collect: internal error"), "{message}");
        assert!(message.contains("fault injected at Collection"), "{message}");

        // The heap now refuses work instead of running on half-updated state.
        assert_eq!(rcgc_collect(heap, 0, &mut found), rcgc_result::RCGC_ERR_PANIC);
        assert!(last_error().contains("the heap is unusable"), "{}", last_error());
        assert!(rcgc_slots_new(heap, 1).is_null());
        assert_eq!(rcgc_last_error_code(), rcgc_result::RCGC_ERR_PANIC);

        // ...and can still be freed (destroy callbacks run, memory goes).
        rcgc_heap_free(heap);
    }
}

#[test]
fn an_unarmed_heap_is_unaffected() {
    // SAFETY: plain use of the C API.
    unsafe {
        let heap = rcgc_heap_new();
        let a = rcgc_slots_new(heap, 1);
        assert_eq!(rcgc_slots_set(a, 0, a), rcgc_result::RCGC_OK);
        rcgc_decref(a);
        let mut found = 0;
        assert_eq!(rcgc_collect(heap, 2, &mut found), rcgc_result::RCGC_OK);
        assert_eq!(found, 1);
        rcgc_heap_free(heap);
    }
}
