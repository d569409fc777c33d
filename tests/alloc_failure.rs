//! Allocation failure everywhere (SQLite's way): a scenario of C API calls runs
//! with the N-th allocation failing, for N = 1, 2, ... until it completes
//! without meeting the failure. Every failure must give RCGC_ERR_NO_MEMORY (or
//! NULL with that code) and a message, never an abort, and after the heap is
//! freed not one byte may be left allocated. The global allocator below sees
//! every allocation rcgc makes: heaps, types, pool arenas, large objects and
//! every internal vector. The scenario runs once with no debug flags and once
//! with all of them (output to a sink that drops it), so that the garbage
//! list of RCGC_DEBUG_SAVEALL and the leak report of RCGC_DEBUG_LEAK fail
//! cleanly too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use rcgc::error::rcgc_result;

struct FailingAllocator;

thread_local! {
    /// Allocations left before the failing one; 0 means not armed.
    static COUNTDOWN: Cell<usize> = const { Cell::new(0) };
    /// Whether the armed failure happened.
    static FAILED: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated minus bytes freed on this thread.
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator, except for the one failure it is told to make.
unsafe impl GlobalAlloc for FailingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let armed = COUNTDOWN.try_with(|c| {
            let left = c.get();
            if left == 0 {
                return false;
            }
            c.set(left - 1);
            left == 1
        });
        if armed == Ok(true) {
            let _ = FAILED.try_with(|f| f.set(true));
            return ptr::null_mut();
        }
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let _ = LIVE_BYTES.try_with(|b| b.set(b.get() + layout.size() as isize));
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        let _ = LIVE_BYTES.try_with(|b| b.set(b.get() - layout.size() as isize));
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(p, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: FailingAllocator = FailingAllocator;

unsafe extern "C" {
    fn rcgc_heap_new() -> *mut c_void;
    fn rcgc_heap_free(heap: *mut c_void);
    fn rcgc_type_register(heap: *mut c_void, spec: *const Spec, out: *mut *mut c_void) -> rcgc_result;
    fn rcgc_alloc(ty: *mut c_void) -> *mut c_void;
    fn rcgc_alloc_var(ty: *mut c_void, size: usize) -> *mut c_void;
    fn rcgc_slots_new(heap: *mut c_void, nslots: usize) -> *mut c_void;
    fn rcgc_slots_set(obj: *mut c_void, index: usize, value: *mut c_void) -> rcgc_result;
    fn rcgc_set_ref(slot: *mut *mut c_void, value: *mut c_void);
    fn rcgc_clear_ref(slot: *mut *mut c_void);
    fn rcgc_decref(obj: *mut c_void);
    fn rcgc_collect(heap: *mut c_void, generation: c_int, out: *mut usize) -> rcgc_result;
    fn rcgc_set_threshold(heap: *mut c_void, g0: usize, g1: usize, g2: usize) -> rcgc_result;
    fn rcgc_untrack(obj: *mut c_void) -> rcgc_result;
    fn rcgc_track(obj: *mut c_void) -> rcgc_result;
    fn rcgc_set_debug(heap: *mut c_void, flags: c_int) -> rcgc_result;
    fn rcgc_set_debug_output(
        heap: *mut c_void,
        sink: Option<unsafe extern "C" fn(*const c_char, *mut c_void)>,
        ctx: *mut c_void,
    ) -> rcgc_result;
    fn rcgc_clear_garbage(heap: *mut c_void) -> rcgc_result;
    fn rcgc_last_error() -> *const c_char;
    fn rcgc_last_error_code() -> rcgc_result;
    fn rcgc_export_graph(
        heap: *mut c_void,
        format: c_int,
        roots: *const *mut c_void,
        nroots: usize,
        write: Option<WriteFn>,
        ctx: *mut c_void,
    ) -> rcgc_result;
    fn rcgc_why_alive(
        heap: *mut c_void,
        obj: *const c_void,
        f: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
        ctx: *mut c_void,
        length_out: *mut usize,
    ) -> rcgc_result;
    fn rcgc_why_alive_text(
        heap: *mut c_void,
        obj: *const c_void,
        write: Option<WriteFn>,
        ctx: *mut c_void,
    ) -> rcgc_result;
}

type WriteFn = unsafe extern "C" fn(*const c_char, usize, *mut c_void) -> c_int;

unsafe extern "C" fn discard_text(_: *const c_char, _: usize, _: *mut c_void) -> c_int {
    0
}

unsafe extern "C" fn discard_object(_: *mut c_void, _: *mut c_void) {}

#[repr(C)]
struct Spec {
    name: *const c_char,
    size: usize,
    traverse:
        Option<unsafe extern "C" fn(*mut c_void, Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>, *mut c_void)>,
    clear: Option<unsafe extern "C" fn(*mut c_void)>,
    finalize: Option<unsafe extern "C" fn(*mut c_void)>,
    destroy: Option<unsafe extern "C" fn(*mut c_void)>,
}

unsafe extern "C" fn pair_traverse(
    obj: *mut c_void,
    visit: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
    ctx: *mut c_void,
) {
    let fields = obj.cast::<*mut c_void>();
    // SAFETY: a live pair: two reference fields.
    unsafe {
        visit.unwrap()(*fields, ctx);
        visit.unwrap()(*fields.add(1), ctx);
    }
}

unsafe extern "C" fn pair_clear(obj: *mut c_void) {
    let fields = obj.cast::<*mut c_void>();
    // SAFETY: a live pair.
    unsafe {
        rcgc_clear_ref(fields);
        rcgc_clear_ref(fields.add(1));
    }
}

unsafe extern "C" fn pair_finalize(obj: *mut c_void) {
    // Finalizers may allocate; under failure injection this may fail, which
    // the finalizer must simply tolerate.
    let fields = obj.cast::<*mut c_void>();
    // SAFETY: a live pair; a NULL from rcgc_slots_new is a valid empty value.
    unsafe {
        let heap = HEAP.get();
        let extra = rcgc_slots_new(heap, 1);
        rcgc_set_ref(fields.add(1), extra);
        rcgc_decref(extra);
    }
}

thread_local! {
    static HEAP: Cell<*mut c_void> = const { Cell::new(ptr::null_mut()) };
}

/// The debug sink of the scenario: drops every line.
unsafe extern "C" fn drop_line(_line: *const c_char, _ctx: *mut c_void) {}

/// RCGC_DEBUG_STATS | RCGC_DEBUG_LEAK: every flag.
const ALL_DEBUG_FLAGS: c_int = 1 | 38;

/// Checks a failed call: the code must be NO_MEMORY and the message name the function.
fn expect_no_memory(function: &str) {
    // SAFETY: rcgc_last_error never returns NULL.
    let message = unsafe { CStr::from_ptr(rcgc_last_error()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: plain call.
    let code = unsafe { rcgc_last_error_code() };
    assert_eq!(code, rcgc_result::RCGC_ERR_NO_MEMORY, "{function}: {message}");
    assert!(
        message.starts_with(function),
        "message {message:?} must name {function}"
    );
    assert!(message.contains("out of memory"), "{message}");
}

/// The scenario: every kind of allocation rcgc makes, with the debug `flags`.
/// Returns normally whatever fails. `held` has room for 64 objects, so the
/// test itself never allocates.
fn scenario(held: &mut Vec<*mut c_void>, flags: c_int) {
    // SAFETY: plain use of the C API; every result is checked before use.
    unsafe {
        let heap = rcgc_heap_new();
        if heap.is_null() {
            expect_no_memory("rcgc_heap_new");
            return;
        }
        HEAP.set(heap);
        let spec = Spec {
            name: c"Pair".as_ptr(),
            size: 16,
            traverse: Some(pair_traverse),
            clear: Some(pair_clear),
            finalize: Some(pair_finalize),
            destroy: None,
        };
        let mut ty = ptr::null_mut();
        if rcgc_type_register(heap, &spec, &mut ty) != rcgc_result::RCGC_OK {
            expect_no_memory("rcgc_type_register");
            rcgc_heap_free(heap);
            return;
        }
        // Small thresholds: allocations run automatic collections of every generation.
        assert_eq!(rcgc_set_threshold(heap, 5, 2, 2), rcgc_result::RCGC_OK);
        assert_eq!(rcgc_set_debug(heap, flags), rcgc_result::RCGC_OK);
        assert_eq!(
            rcgc_set_debug_output(heap, Some(drop_line), ptr::null_mut()),
            rcgc_result::RCGC_OK
        );
        held.clear();
        for i in 0..60usize {
            let obj = match i % 4 {
                0 => rcgc_alloc(ty),
                1 => rcgc_slots_new(heap, 3),
                2 => rcgc_alloc_var(ty, 1000), // a large block
                _ => rcgc_slots_new(heap, 100),
            };
            if obj.is_null() {
                let function = match i % 4 {
                    0 => "rcgc_alloc",
                    2 => "rcgc_alloc_var",
                    _ => "rcgc_slots_new",
                };
                expect_no_memory(function);
                continue;
            }
            // Cycles with the previous objects, some garbage, some held.
            if let Some(&prev) = held.last() {
                if i % 4 == 1 || i % 4 == 3 {
                    assert_eq!(rcgc_slots_set(obj, 0, prev), rcgc_result::RCGC_OK);
                } else {
                    rcgc_set_ref(obj.cast::<*mut c_void>(), prev);
                }
                if i % 4 == 0 || i % 4 == 2 {
                    rcgc_set_ref(prev.cast::<*mut c_void>().add(1), obj);
                }
            }
            if i % 3 == 0 {
                rcgc_decref(obj);
            } else {
                held.push(obj);
            }
            if i % 7 == 0 && !held.is_empty() {
                let _ = rcgc_untrack(held[0]);
                if rcgc_track(held[0]) != rcgc_result::RCGC_OK {
                    expect_no_memory("rcgc_track");
                }
            }
            if i % 13 == 0 {
                assert_eq!(rcgc_clear_garbage(heap), rcgc_result::RCGC_OK);
            }
            if i % 11 == 0 {
                let mut found = 0;
                match rcgc_collect(heap, (i % 3) as c_int, &mut found) {
                    rcgc_result::RCGC_OK => {}
                    _ => expect_no_memory("rcgc_collect"),
                }
            }
        }
        // The heap picture: its snapshot, copies of type names and search queues.
        if let Some(&obj) = held.last() {
            for (roots, nroots) in [(ptr::null(), 0), (&obj as *const *mut c_void, 1)] {
                for format in [0, 1] {
                    let r = rcgc_export_graph(heap, format, roots, nroots, Some(discard_text), ptr::null_mut());
                    if r != rcgc_result::RCGC_OK {
                        expect_no_memory("rcgc_export_graph");
                    }
                }
            }
            if rcgc_why_alive(heap, obj, Some(discard_object), ptr::null_mut(), ptr::null_mut()) != rcgc_result::RCGC_OK
            {
                expect_no_memory("rcgc_why_alive");
            }
            if rcgc_why_alive_text(heap, obj, Some(discard_text), ptr::null_mut()) != rcgc_result::RCGC_OK {
                expect_no_memory("rcgc_why_alive_text");
            }
        }
        for (i, obj) in held.drain(..).enumerate() {
            if i % 2 == 0 {
                rcgc_decref(obj);
            }
        }
        let mut found = 0;
        if rcgc_collect(heap, 2, &mut found) != rcgc_result::RCGC_OK {
            expect_no_memory("rcgc_collect");
        }
        // The odd ones are still referenced: rcgc_heap_free must free them.
        rcgc_heap_free(heap);
        HEAP.set(ptr::null_mut());
    }
}

/// Runs the scenario with the N-th allocation failing, for every N.
fn fail_everywhere(flags: c_int) {
    let mut held = Vec::with_capacity(64);
    // A warm-up run, so lazily initialised state of std is not counted.
    scenario(&mut held, flags);
    let mut n = 1;
    loop {
        let before = LIVE_BYTES.get();
        FAILED.set(false);
        COUNTDOWN.set(n);
        scenario(&mut held, flags);
        COUNTDOWN.set(0);
        let leaked = LIVE_BYTES.get() - before;
        assert_eq!(leaked, 0, "failing allocation {n}: {leaked} bytes leaked");
        if !FAILED.get() {
            break;
        }
        n += 1;
    }
    println!(
        "debug flags {flags}: allocation failure injected at each of {} allocation points; all failed cleanly",
        n - 1
    );
    assert!(
        n > 50,
        "the scenario makes more than 50 allocations (it made {})",
        n - 1
    );
}

#[test]
fn every_allocation_can_fail_cleanly() {
    fail_everywhere(0);
}

#[test]
fn every_allocation_can_fail_cleanly_with_debug_flags() {
    fail_everywhere(ALL_DEBUG_FLAGS);
}
