//! Unit tests of the core, through the Rust API (the C API has its own tests
//! in tests/c).

use std::cell::{Cell, RefCell};
use std::ffi::{CString, c_char, c_void};
use std::ptr::{self, NonNull};

use crate::header::{Header, State};
use crate::heap::{Config, Heap};
use crate::refcount::{decref, incref, set_ref};
use crate::slots;
use crate::types::{Type, rcgc_type_spec, rcgc_visit_fn};

/// A node with two references, like the benchmark's `__slots__ = ('a', 'b')` class.
#[repr(C)]
struct Node {
    a: *mut c_void,
    b: *mut c_void,
    id: usize,
}

thread_local! {
    static EVENTS: RefCell<Vec<(char, usize)>> = const { RefCell::new(Vec::new()) };
    static RESURRECT: Cell<*mut c_void> = const { Cell::new(ptr::null_mut()) };
    static KEEP: RefCell<Vec<*mut c_void>> = const { RefCell::new(Vec::new()) };
    static MISUSE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(kind: char, obj: *mut c_void) {
    // SAFETY: called from callbacks with live Node payloads.
    let id = unsafe { (*obj.cast::<Node>()).id };
    EVENTS.with(|e| e.borrow_mut().push((kind, id)));
}

fn events() -> Vec<(char, usize)> {
    EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

unsafe extern "C" fn node_traverse(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void) {
    let node = obj.cast::<Node>();
    let visit = visit.expect("visit is never NULL");
    // SAFETY: a live Node; visit is the collector's callback.
    unsafe {
        visit((*node).a, ctx);
        visit((*node).b, ctx);
    }
}

unsafe extern "C" fn node_clear(obj: *mut c_void) {
    let node = obj.cast::<Node>();
    log('c', obj);
    // SAFETY: a live Node whose fields hold NULL or live objects.
    unsafe {
        set_ref(&raw mut (*node).a, ptr::null_mut(), "test");
        set_ref(&raw mut (*node).b, ptr::null_mut(), "test");
    }
}

unsafe extern "C" fn node_finalize(obj: *mut c_void) {
    log('f', obj);
    if RESURRECT.get() == obj {
        // SAFETY: a live object; the test keeps this new reference.
        incref(unsafe { Header::from_payload(obj) });
        KEEP.with(|k| k.borrow_mut().push(obj));
    }
}

unsafe extern "C" fn node_destroy(obj: *mut c_void) {
    log('d', obj);
}

unsafe extern "C" fn record_misuse(message: *const c_char, _ctx: *mut c_void) {
    // SAFETY: the heap passes a NUL-terminated message.
    let text = unsafe { std::ffi::CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    MISUSE.with(|m| m.borrow_mut().push(text));
}

struct Fixture {
    heap: NonNull<Heap>,
    node: *const Type,
    next_id: Cell<usize>,
}

impl Fixture {
    fn new(with_finalizer: bool) -> Fixture {
        let heap = Heap::new(Config::default()).expect("heap");
        let name = CString::new("Node").unwrap();
        let spec = rcgc_type_spec {
            name: name.as_ptr(),
            size: size_of::<Node>(),
            traverse: Some(node_traverse),
            clear: Some(node_clear),
            finalize: if with_finalizer { Some(node_finalize) } else { None },
            destroy: Some(node_destroy),
        };
        // SAFETY: just created.
        let node = unsafe { heap.as_ref() }.register_type(&spec).expect("type") as *const Type;
        events();
        Fixture {
            heap,
            node,
            next_id: Cell::new(0),
        }
    }

    fn heap(&self) -> &Heap {
        // SAFETY: alive until drop.
        unsafe { self.heap.as_ref() }
    }

    /// A new node (refcount 1, owned by the test).
    fn node(&self) -> *mut c_void {
        // SAFETY: the type lives as long as the heap.
        let ty = unsafe { &*self.node };
        let obj = self.heap().alloc(ty, ty.size).expect("alloc").payload();
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        // SAFETY: a fresh Node payload.
        unsafe { (*obj.cast::<Node>()).id = id };
        obj
    }

    fn link(&self, from: *mut c_void, field: char, to: *mut c_void) {
        let node = from.cast::<Node>();
        // SAFETY: live nodes.
        unsafe {
            let slot = if field == 'a' {
                &raw mut (*node).a
            } else {
                &raw mut (*node).b
            };
            set_ref(slot, to, "test");
        }
    }

    /// The generation `obj` is tracked in, if any.
    fn generation(&self, obj: *mut c_void) -> Option<usize> {
        self.heap().generation_of(header(obj))
    }

    fn collect(&self, generation: usize) -> usize {
        self.heap().collect(generation).expect("collect")
    }

    fn counts(&self) -> [usize; 3] {
        self.heap().gc.counts()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: the heap is idle and not used again.
        unsafe { Heap::destroy(self.heap) };
    }
}

fn release(obj: *mut c_void) {
    // SAFETY: the test owns a reference to this live object.
    decref(unsafe { Header::from_payload(obj) }, "test");
}

fn header<'a>(obj: *mut c_void) -> &'a Header {
    // SAFETY: a live object in the tests.
    unsafe { Header::from_payload(obj) }
}

#[test]
fn self_cycle_is_found_and_counts_one() {
    let f = Fixture::new(false);
    let x = f.node();
    f.link(x, 'a', x);
    assert_eq!(header(x).refcnt(), 2);
    release(x);
    assert!(events().is_empty(), "refcounting alone cannot free a cycle");
    assert_eq!(f.collect(2), 1);
    // clear runs in the collection, and again when the count reaches zero (as
    // CPython's subtype_dealloc clears slots again); destroy runs once.
    assert_eq!(events(), vec![('c', 0), ('c', 0), ('d', 0)]);
    assert_eq!(f.heap().stats().live_objects, 0);
}

#[test]
fn what_a_collections_clear_releases_is_freed_before_the_next_clear() {
    let f = Fixture::new(false);
    // Two 2-cycles: 0 <-> 1 and 2 <-> 3, cleared in the order they were made.
    let nodes: Vec<_> = (0..4).map(|_| f.node()).collect();
    for pair in nodes.chunks(2) {
        f.link(pair[0], 'a', pair[1]);
        f.link(pair[1], 'a', pair[0]);
    }
    nodes.iter().for_each(|&n| release(n));
    assert_eq!(f.collect(2), 4);
    // Clearing 0 releases 1, which is freed (cleared, destroyed) and so
    // releases 0, freed in turn: all before 2 is cleared.
    assert_eq!(
        events(),
        vec![
            ('c', 0),
            ('c', 1),
            ('d', 1),
            ('c', 0),
            ('d', 0),
            ('c', 2),
            ('c', 3),
            ('d', 3),
            ('c', 2),
            ('d', 2)
        ]
    );
    assert_eq!(f.heap().stats().live_objects, 0);
}

#[test]
fn cycles_of_every_size_count_their_members() {
    let f = Fixture::new(false);
    for size in [1usize, 2, 3, 10, 1000] {
        let nodes: Vec<_> = (0..size).map(|_| f.node()).collect();
        for i in 0..size {
            f.link(nodes[i], 'a', nodes[(i + 1) % size]);
        }
        nodes.iter().for_each(|&n| release(n));
        assert_eq!(f.collect(2), size);
        assert_eq!(f.heap().stats().live_objects, 0);
    }
}

#[test]
fn externally_held_cycle_survives_and_is_promoted() {
    let f = Fixture::new(false);
    let a = f.node();
    let b = f.node();
    f.link(a, 'a', b);
    f.link(b, 'a', a);
    release(b);
    assert_eq!(f.collect(0), 0);
    assert_eq!(f.generation(a), Some(1));
    assert_eq!(f.generation(b), Some(1));
    assert_eq!(f.collect(1), 0);
    assert_eq!(f.generation(a), Some(2));
    release(a);
    assert_eq!(f.collect(1), 0, "generation 2 is not collected by collect(1)");
    assert_eq!(f.collect(2), 2);
}

#[test]
fn older_generation_acts_as_a_root() {
    let f = Fixture::new(false);
    let old = f.node();
    f.collect(2);
    assert_eq!(f.generation(old), Some(2));
    let young = f.node();
    f.link(old, 'a', young);
    f.link(young, 'a', young);
    release(young);
    assert_eq!(f.collect(0), 0, "referenced from generation 2");
    assert_eq!(f.generation(young), Some(1));
    f.link(old, 'a', ptr::null_mut());
    assert_eq!(f.collect(1), 1);
    release(old);
}

#[test]
fn untracked_objects_act_as_roots() {
    let f = Fixture::new(false);
    let root = f.node();
    let child = f.node();
    f.link(root, 'a', child);
    f.link(child, 'a', root);
    f.heap().untrack(header(root)).unwrap();
    assert_eq!(header(root).state(), State::Untracked);
    release(root);
    release(child);
    assert_eq!(f.collect(2), 0, "the untracked member keeps the cycle alive");
    f.heap().track(header(root)).unwrap();
    assert_eq!(f.collect(2), 2);
}

#[test]
fn counting_follows_cpython() {
    let f = Fixture::new(false);
    let mut keep = Vec::new();
    for i in 1..=700 {
        keep.push(f.node());
        assert_eq!(f.counts(), [i, 0, 0]);
    }
    keep.push(f.node());
    assert_eq!(
        f.counts(),
        [0, 1, 0],
        "the 701st allocation collects generation 0 first"
    );
    release(keep.pop().unwrap());
    assert_eq!(f.counts(), [0, 1, 0], "the count does not go below zero");
    keep.push(f.node());
    assert_eq!(f.counts(), [1, 1, 0]);
    f.collect(1);
    assert_eq!(f.counts(), [0, 0, 1]);
    f.collect(2);
    assert_eq!(f.counts(), [0, 0, 0]);
    keep.into_iter().for_each(release);
}

#[test]
fn generation_two_waits_for_a_quarter_of_new_long_lived_objects() {
    let f = Fixture::new(false);
    let mut keep: Vec<_> = (0..100).map(|_| f.node()).collect();
    f.collect(2);
    assert_eq!(f.heap().gc.long_lived_total.get(), 100);
    f.heap().gc.set_thresholds([1, 0, 0]);
    let mut expect = |counts: [usize; 3]| {
        keep.push(f.node());
        assert_eq!(f.counts(), counts);
    };
    expect([1, 0, 0]);
    expect([0, 1, 0]); // 2 > 1: generation 0 (gen1 and gen2 counts are not above 0)
    expect([1, 1, 0]);
    expect([0, 0, 1]); // count.gen1 = 1 > 0: generation 1; 3 objects promoted to generation 2
    expect([1, 0, 1]);
    // count.gen2 = 1 > 0, but long_lived_pending 3 < 100 / 4: generation 2 is
    // skipped and generation 0 is collected instead.
    expect([0, 1, 1]);
    assert_eq!(f.heap().gc.long_lived_pending.get(), 3);
    assert_eq!(f.heap().gc.long_lived_total.get(), 100);
    keep.into_iter().for_each(release);
}

#[test]
fn finalizers_all_run_before_any_clear_and_only_once() {
    let f = Fixture::new(true);
    let nodes: Vec<_> = (0..3).map(|_| f.node()).collect();
    for i in 0..3 {
        f.link(nodes[i], 'a', nodes[(i + 1) % 3]);
    }
    nodes.iter().for_each(|&n| release(n));
    assert_eq!(f.collect(2), 3);
    let log = events();
    let first_clear = log.iter().position(|e| e.0 == 'c').unwrap();
    let finalized: Vec<_> = log[..first_clear].iter().filter(|e| e.0 == 'f').collect();
    assert_eq!(
        finalized.len(),
        3,
        "every finalizer runs before the first clear: {log:?}"
    );
    assert_eq!(log.iter().filter(|e| e.0 == 'd').count(), 3);
}

#[test]
fn resurrected_object_counts_zero_then_one_without_refinalizing() {
    let f = Fixture::new(true);
    let x = f.node();
    f.link(x, 'a', x);
    RESURRECT.set(x);
    release(x);
    assert_eq!(f.collect(2), 0, "resurrected by its finalizer");
    assert_eq!(events(), vec![('f', 0)]);
    assert_eq!(f.generation(x), Some(2));
    RESURRECT.set(ptr::null_mut());
    let kept = KEEP.with(|k| k.borrow_mut().pop()).unwrap();
    release(kept);
    assert_eq!(f.collect(2), 1);
    assert_eq!(
        events(),
        vec![('c', 0), ('c', 0), ('d', 0)],
        "finalize runs at most once per object"
    );
}

#[test]
fn refcount_death_finalizes_once_and_may_resurrect() {
    let f = Fixture::new(true);
    let x = f.node();
    RESURRECT.set(x);
    release(x);
    assert_eq!(events(), vec![('f', 0)]);
    assert_eq!(header(x).refcnt(), 1);
    assert!(header(x).state().is_tracked(), "re-tracked while it lives on");
    RESURRECT.set(ptr::null_mut());
    let kept = KEEP.with(|k| k.borrow_mut().pop()).unwrap();
    release(kept);
    assert_eq!(events(), vec![('c', 0), ('d', 0)]);
}

#[test]
fn freeing_a_long_chain_does_not_recurse() {
    // Under Miri, which interprets every step, a shorter chain.
    const LEN: usize = if cfg!(miri) { 2_000 } else { 1_000_000 };
    let f = Fixture::new(false);
    let head = f.node();
    let mut tail = head;
    for _ in 0..LEN {
        let next = f.node();
        f.link(tail, 'a', next);
        release(next);
        tail = next;
    }
    assert_eq!(f.collect(2), 0);
    events();
    release(head);
    assert_eq!(f.heap().stats().live_objects, 0);
    assert_eq!(events().len(), 2 * (LEN + 1));
}

#[test]
fn traverse_reporting_too_many_references_abandons_the_collection() {
    unsafe extern "C" fn lying_traverse(obj: *mut c_void, visit: rcgc_visit_fn, ctx: *mut c_void) {
        let visit = visit.expect("visit");
        // SAFETY: reports the object itself twice, though it holds no reference.
        unsafe {
            visit(obj, ctx);
            visit(obj, ctx);
        }
    }
    let f = Fixture::new(false);
    f.heap().set_misuse_handler(Some(record_misuse), ptr::null_mut());
    let name = CString::new("Liar").unwrap();
    let spec = rcgc_type_spec {
        name: name.as_ptr(),
        size: size_of::<Node>(),
        traverse: Some(lying_traverse),
        clear: Some(node_clear),
        finalize: None,
        destroy: None,
    };
    let ty = f.heap().register_type(&spec).unwrap();
    let liar = f.heap().alloc(ty, size_of::<Node>()).unwrap();
    let err = f.heap().collect(2).unwrap_err();
    assert_eq!(err.code(), crate::error::rcgc_result::RCGC_ERR_INVALID_OBJECT);
    assert_eq!(f.heap().generation_of(liar), Some(2), "every candidate survives");
    let reports = MISUSE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    assert_eq!(reports.len(), 1);
    assert!(reports[0].contains("'Liar'"), "{}", reports[0]);
    f.heap().untrack(liar).unwrap();
    decref(liar, "test");
}

#[test]
fn double_decref_is_reported_not_freed_twice() {
    let f = Fixture::new(false);
    f.heap().set_misuse_handler(Some(record_misuse), ptr::null_mut());
    let x = f.node();
    let y = f.node();
    release(x);
    release(x);
    let reports = MISUSE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    assert_eq!(reports.len(), 1);
    assert!(
        reports[0].starts_with("test: object") && reports[0].contains("freed"),
        "{}",
        reports[0]
    );
    assert_eq!(f.heap().stats().live_objects, 1);
    release(y);
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

#[test]
fn random_slots_and_declared_refs_graphs_match_a_reachability_oracle() {
    unsafe extern "C" fn ignore(_obj: *mut c_void) {}
    let seeds: u64 = if cfg!(miri) { 20 } else { 200 };
    for seed in 1..=seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let heap = Heap::new(Config::default()).unwrap();
        // SAFETY: alive until destroyed at the end of the iteration.
        let h = unsafe { heap.as_ref() };
        // Slots objects, and objects of two types with declared references
        // (words 0 and 2 of 3; the second type has destroy, so a set that
        // holds one is cleared object by object instead of swept).
        let name = CString::new("refs").unwrap();
        let spec = |destroy| rcgc_type_spec {
            name: name.as_ptr(),
            size: 24,
            traverse: None,
            clear: None,
            finalize: None,
            destroy,
        };
        let offsets = [16, 0];
        let refs = h.register_type_with_refs(&spec(None), &offsets).unwrap();
        let refs_destroy = h.register_type_with_refs(&spec(Some(ignore)), &offsets).unwrap();
        let n = 1 + rng.below(60);
        let kinds: Vec<usize> = (0..n).map(|_| if seed % 3 == 0 { 0 } else { rng.below(4) }).collect();
        let objs: Vec<&Header> = kinds
            .iter()
            .map(|&kind| match kind {
                0 | 1 => h.slots_new(2).unwrap(),
                2 => h.alloc(refs, 24).unwrap(),
                _ => h.alloc(refs_destroy, 24).unwrap(),
            })
            .collect();
        let mut edges = vec![[None::<usize>; 2]; n];
        for _ in 0..rng.below(3 * n + 1) {
            let (from, slot, to) = (rng.below(n), rng.below(2), rng.below(n));
            if kinds[from] < 2 {
                slots::set(objs[from], slot, Some(objs[to])).unwrap();
            } else {
                // SAFETY: word 0 or 2 of a live object of a type that declared them.
                unsafe {
                    set_ref(
                        objs[from].payload().cast::<*mut c_void>().add(2 * slot),
                        objs[to].payload(),
                        "test",
                    )
                };
            }
            edges[from][slot] = Some(to);
        }
        let held: Vec<bool> = (0..n).map(|_| rng.below(4) == 0).collect();
        for (i, o) in objs.iter().enumerate() {
            if rng.below(5) == 0 {
                h.collect(rng.below(2)).unwrap();
            }
            if !held[i] {
                decref(o, "test");
            }
        }
        // The oracle: what is reachable from the held objects.
        let mut reachable = held.clone();
        let mut stack: Vec<usize> = (0..n).filter(|&i| held[i]).collect();
        while let Some(i) = stack.pop() {
            for j in edges[i].iter().flatten() {
                if !reachable[*j] {
                    reachable[*j] = true;
                    stack.push(*j);
                }
            }
        }
        let before = h.stats().live_objects;
        let found = h.collect(2).unwrap();
        let expected_live = reachable.iter().filter(|&&r| r).count();
        assert_eq!(h.stats().live_objects, expected_live, "seed {seed}");
        assert_eq!(found, before - expected_live, "seed {seed}");
        for (i, o) in objs.iter().enumerate() {
            if reachable[i] {
                assert!(o.state().is_tracked(), "seed {seed}: object {i} must be alive");
            }
        }
        // SAFETY: idle heap, not used again.
        unsafe { Heap::destroy(heap) };
    }
}

#[test]
fn heap_destroy_finalizes_and_destroys_everything_left() {
    let f = Fixture::new(true);
    let leaked = f.node();
    let cycle = f.node();
    f.link(cycle, 'a', cycle);
    f.link(leaked, 'b', cycle);
    drop(f);
    let log = events();
    assert_eq!(log.iter().filter(|e| e.0 == 'f').count(), 2, "{log:?}");
    assert_eq!(log.iter().filter(|e| e.0 == 'd').count(), 2, "{log:?}");
    let _ = leaked;
}

#[test]
fn heap_destroy_frees_leaked_chains_once_each() {
    let f = Fixture::new(true);
    let head = f.node();
    let mut tail = head;
    for _ in 0..50 {
        let next = f.node();
        f.link(tail, 'a', next);
        f.link(next, 'b', next);
        release(next);
        tail = next;
    }
    // `head` is leaked: its reference is never released.
    drop(f);
    let log = events();
    for id in 0..=50 {
        assert_eq!(
            log.iter().filter(|e| **e == ('f', id)).count(),
            1,
            "finalize of {id}: {log:?}"
        );
        assert_eq!(
            log.iter().filter(|e| **e == ('d', id)).count(),
            1,
            "destroy of {id}: {log:?}"
        );
    }
}

/// Slots objects with `n` slots: up to 62 give small blocks (16 + 8n bytes,
/// rounded up to 16), 80 a large one (16 + 640 bytes, above the pool's
/// 512-byte classes).
fn slots_objects(h: &Heap, count: usize, n: usize) -> Vec<&Header> {
    (0..count).map(|_| h.slots_new(n).unwrap()).collect()
}

#[test]
#[cfg_attr(miri, ignore = "hundreds of thousands of objects: too slow under Miri")]
fn ids_name_their_objects_across_segments_and_large_blocks() {
    let heap = Heap::new(Config::default()).unwrap();
    // SAFETY: alive until destroyed at the end.
    let h = unsafe { heap.as_ref() };
    h.gc.enabled.set(false);
    // 200,000 blocks of 48 bytes fill more than two 4 MiB segments.
    let mut objs = slots_objects(h, 200_000, 3);
    objs.extend(slots_objects(h, 300, 80));
    let mut seen = std::collections::HashSet::new();
    let mut segments = std::collections::HashSet::new();
    for o in &objs {
        let id = h.pool().id_of(o);
        assert!(seen.insert(id), "id {id:#x} given twice");
        if !o.is_large() {
            segments.insert(id >> 18);
        }
        // SAFETY: the id of a live object.
        assert!(ptr::eq(unsafe { h.pool().header_of(id) }, *o), "id {id:#x}");
    }
    assert!(segments.len() >= 3, "segments used: {segments:?}");
    for o in objs {
        decref(o, "test");
    }
    // SAFETY: idle heap, not used again.
    unsafe { Heap::destroy(heap) };
}

#[test]
fn large_blocks_reuse_the_ids_of_freed_ones() {
    let heap = Heap::new(Config::default()).unwrap();
    // SAFETY: alive until destroyed at the end.
    let h = unsafe { heap.as_ref() };
    let first = h.slots_new(80).unwrap();
    let second = h.slots_new(80).unwrap();
    let (id1, id2) = (h.pool().id_of(first), h.pool().id_of(second));
    assert_ne!(id1, id2);
    decref(first, "test");
    let third = h.slots_new(100).unwrap();
    assert_eq!(h.pool().id_of(third), id1, "the freed slot is reused");
    // SAFETY: the ids of live objects.
    unsafe {
        assert!(ptr::eq(h.pool().header_of(id1), third));
        assert!(ptr::eq(h.pool().header_of(id2), second));
    }
    // Both in one cycle, found through their ids.
    slots::set(second, 0, Some(third)).unwrap();
    slots::set(third, 0, Some(second)).unwrap();
    decref(second, "test");
    decref(third, "test");
    assert_eq!(h.collect(2).unwrap(), 2);
    assert_eq!(h.stats().live_objects, 0);
    // SAFETY: idle heap, not used again.
    unsafe { Heap::destroy(heap) };
}

#[test]
#[cfg_attr(miri, ignore = "hundreds of thousands of objects: too slow under Miri")]
fn collections_over_several_segments_match_a_reachability_oracle() {
    let heap = Heap::new(Config::default()).unwrap();
    // SAFETY: alive until destroyed at the end.
    let h = unsafe { heap.as_ref() };
    h.gc.enabled.set(false);
    let mut objs = slots_objects(h, 150_000, 2);
    // Large objects among them, some freed first so that their slots are reused.
    let spare = slots_objects(h, 200, 80);
    for o in spare.iter().step_by(2) {
        decref(o, "test");
    }
    objs.extend(slots_objects(h, 400, 80));
    let n = objs.len();
    let mut rng = Rng(0x05EE_D1D5);
    // Field 0 points into the object's group of 64 neighbours (cycles within
    // a segment), field 1 rarely anywhere (across segments and to large
    // blocks), so that most groups end up garbage.
    let mut edges = vec![[None::<usize>; 2]; n];
    for (from, slot) in edges.iter_mut().enumerate() {
        let near = (from / 64 * 64 + rng.below(64)).min(n - 1);
        let far = (rng.below(128) == 0).then(|| rng.below(n));
        for (field, to) in [Some(near), far].into_iter().enumerate() {
            slots::set(objs[from], field, to.map(|t| objs[t])).unwrap();
            slot[field] = to;
        }
    }
    let held: Vec<bool> = (0..n).map(|_| rng.below(1_000) == 0).collect();
    // Some held objects are untracked (a swap-remove moves another one's id
    // into their place); one young collection moves everything to generation 1.
    let untracked: Vec<usize> = (0..n).filter(|&i| held[i] && i % 2 == 0).collect();
    for &i in &untracked {
        h.untrack(objs[i]).unwrap();
    }
    assert_eq!(h.collect(0).unwrap(), 0);
    for (i, o) in objs.iter().enumerate() {
        if !held[i] {
            decref(o, "test");
        }
    }
    let mut reachable = held.clone();
    let mut stack: Vec<usize> = (0..n).filter(|&i| reachable[i]).collect();
    while let Some(i) = stack.pop() {
        for j in edges[i].iter().flatten() {
            if !reachable[*j] {
                reachable[*j] = true;
                stack.push(*j);
            }
        }
    }
    let expected_live = reachable.iter().filter(|&&r| r).count();
    // Refcounting already freed what no cycle held.
    for o in spare.iter().skip(1).step_by(2) {
        decref(o, "test");
    }
    let before = h.stats().live_objects;
    let found = h.collect(2).unwrap();
    assert_eq!(found, before - expected_live);
    assert!(found > n / 10, "found {found}");
    assert_eq!(h.stats().live_objects, expected_live);
    for (i, o) in objs.iter().enumerate() {
        if reachable[i] {
            assert_eq!(o.state().is_tracked(), !untracked.contains(&i), "object {i}");
        }
    }
    // SAFETY: idle heap, not used again.
    unsafe { Heap::destroy(heap) };
}

#[test]
#[cfg_attr(miri, ignore = "hundreds of thousands of objects: too slow under Miri")]
fn the_pool_refuses_a_segment_past_its_limit() {
    let mut pool = crate::pool::Pool::with_segment_limit(1);
    // One segment: 16 arenas of (256 KiB - 16) / 32 blocks of 32 bytes.
    let per_segment = 16 * ((256 * 1024 - 16) / 32);
    for i in 0..per_segment {
        assert!(pool.alloc(32).is_ok(), "block {i}");
    }
    assert!(matches!(pool.alloc(32), Err(crate::error::Error::NoMemory)));
    assert!(matches!(pool.alloc(48), Err(crate::error::Error::NoMemory)));
    // Large blocks do not come from segments.
    assert!(pool.alloc(1000).is_ok_and(|block| block.large));
}

#[test]
#[cfg_attr(miri, ignore = "hundreds of thousands of objects: too slow under Miri")]
fn large_collection_rescans_with_a_zeroed_side_array() {
    // Enough candidates for the side array in huge pages; the finalizer's
    // rescan reuses it, which must start from zero: stale marks of the first
    // scan would keep garbage alive, stale counts would lose the resurrected.
    let f = Fixture::new(true);
    let half = crate::collector::LARGE_SCAN / 2 + 1000;
    let live: Vec<_> = (0..half).map(|_| f.node()).collect();
    for &n in &live {
        f.link(n, 'a', n);
    }
    let garbage: Vec<_> = (0..half).map(|_| f.node()).collect();
    for &n in &garbage {
        f.link(n, 'a', n);
    }
    let x = garbage[half / 2];
    RESURRECT.set(x);
    garbage.iter().for_each(|&n| release(n));
    assert_eq!(f.collect(2), half - 1, "all the garbage but the resurrected");
    RESURRECT.set(ptr::null_mut());
    let log = events();
    assert_eq!(log.iter().filter(|e| e.0 == 'f').count(), half);
    assert_eq!(log.iter().filter(|e| e.0 == 'd').count(), half - 1);
    assert_eq!(f.generation(x), Some(2));
    assert!(live.iter().all(|&n| f.generation(n) == Some(2)));
    let kept = KEEP.with(|k| k.borrow_mut().pop()).unwrap();
    release(kept);
    live.iter().for_each(|&n| release(n));
    assert_eq!(f.collect(2), half + 1);
}

#[test]
fn slots_objects_know_their_length_from_their_block() {
    let heap = Heap::new(Config::default()).unwrap();
    // SAFETY: alive until destroyed at the end.
    let h = unsafe { heap.as_ref() };
    h.gc.enabled.set(false);
    let before = h.stats().bytes_in_use;
    let pair = h.slots_new(2).unwrap();
    assert_eq!(h.stats().bytes_in_use - before, 32, "two slots fill a 32-byte block");
    decref(pair, "test");
    // Every length from 0 to past the largest small block, and a few large ones
    // (under Miri, which retags a slots object's whole payload on each access,
    // one large one).
    let large: &[usize] = if cfg!(miri) { &[255] } else { &[255, 256, 1000] };
    for n in (0..=70).chain(large.iter().copied()) {
        let o = h.slots_new(n).unwrap();
        assert_eq!(slots::len(o).unwrap(), n, "length of a {n}-slot object");
        for i in 0..n {
            slots::set(o, i, Some(o)).unwrap();
            assert!(ptr::eq(slots::get(o, i).unwrap(), o.payload()));
        }
        assert!(slots::set(o, n, Some(o)).is_err(), "slot {n} of a {n}-slot object");
        assert!(slots::get(o, n).is_err());
        assert_eq!(slots::len(o).unwrap(), n, "filling the slots keeps the length");
        assert_eq!(header(o.payload()).refcnt() as usize, n + 1);
        decref(o, "test");
        assert_eq!(h.collect(2).unwrap(), usize::from(n > 0), "{n} self-references");
        assert_eq!(h.stats().live_objects, 0);
    }
    // SAFETY: idle heap, not used again.
    unsafe { Heap::destroy(heap) };
}
