//! Which allocator for object memory? Measures rcgc's per-heap size-class pool
//! against glibc malloc, mimalloc as the process's allocator, and a first-class
//! mimalloc heap (`mi_heap_new`, one per rcgc heap as the pool is), on what
//! rcgc asks of an allocator: zeroed 32-byte blocks (a header and two
//! references), allocated and freed at once (churn), 1,000,000 kept live
//! (build), then freed, and the resident memory they take. Each measurement
//! runs in a fresh process (the bench re-executes itself), allocators
//! interleaved; medians of 5.
//!
//! `cargo bench --bench allocators`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

use mimalloc::MiMalloc;
use rcgc::pool::Pool;

const BLOCK: usize = 32;
const LIVE: usize = 1_000_000;
const CHURN: usize = 10_000_000;

trait Blocks {
    fn name(&self) -> &'static str;
    fn alloc(&mut self) -> *mut u8;
    /// # Safety
    /// `p` must come from `alloc` of the same allocator.
    unsafe fn free(&mut self, p: *mut u8);
}

struct Rcgc(Pool);
struct Global<A: GlobalAlloc + 'static>(&'static A, &'static str);
/// A first-class mimalloc heap of its own, as an rcgc heap would own one.
struct MiHeap(*mut libmimalloc_sys::mi_heap_t);

impl Blocks for Rcgc {
    fn name(&self) -> &'static str {
        "rcgc pool"
    }
    fn alloc(&mut self) -> *mut u8 {
        self.0.alloc(BLOCK).expect("memory").ptr
    }
    unsafe fn free(&mut self, p: *mut u8) {
        // SAFETY: a block of this pool; its header is written so the pool can free it.
        unsafe { self.0.free(&*p.cast()) }
    }
}

impl MiHeap {
    fn new() -> MiHeap {
        // SAFETY: mi_heap_new has no precondition.
        let heap = unsafe { libmimalloc_sys::mi_heap_new() };
        assert!(!heap.is_null(), "mi_heap_new failed");
        MiHeap(heap)
    }
}

impl Blocks for MiHeap {
    fn name(&self) -> &'static str {
        "mimalloc heap"
    }
    fn alloc(&mut self) -> *mut u8 {
        // SAFETY: a live heap made by mi_heap_new, used by this thread only.
        let p = unsafe { libmimalloc_sys::mi_heap_zalloc_aligned(self.0, BLOCK, 16) };
        assert!(!p.is_null(), "memory");
        p.cast()
    }
    unsafe fn free(&mut self, p: *mut u8) {
        // SAFETY: allocated from this heap (mi_free finds the heap itself).
        unsafe { libmimalloc_sys::mi_free(p.cast()) }
    }
}

impl Drop for MiHeap {
    fn drop(&mut self) {
        // SAFETY: the heap is live and nothing allocated from it is used afterwards.
        unsafe { libmimalloc_sys::mi_heap_destroy(self.0) }
    }
}

const LAYOUT: Layout = match Layout::from_size_align(BLOCK, 16) {
    Ok(layout) => layout,
    Err(_) => panic!("valid layout"),
};

impl<A: GlobalAlloc> Blocks for Global<A> {
    fn name(&self) -> &'static str {
        self.1
    }
    fn alloc(&mut self) -> *mut u8 {
        // SAFETY: a non-zero layout.
        unsafe { self.0.alloc_zeroed(LAYOUT) }
    }
    unsafe fn free(&mut self, p: *mut u8) {
        // SAFETY: allocated by this allocator with LAYOUT.
        unsafe { self.0.dealloc(p, LAYOUT) }
    }
}

static MIMALLOC: MiMalloc = MiMalloc;

/// (churn ns per alloc+free, build ns per block, free ns per block, resident bytes per block)
fn measure(a: &mut dyn Blocks) -> [f64; 4] {
    let start = Instant::now();
    for _ in 0..CHURN {
        let p = a.alloc();
        // The pool needs a header in the block to free it (rcgc writes one at once anyway).
        // SAFETY: a fresh block of BLOCK bytes.
        unsafe { p.cast::<[usize; 2]>().write([0, 1]) };
        // SAFETY: from `alloc` above.
        unsafe { a.free(black_box(p)) };
    }
    let churn = start.elapsed().as_nanos() as f64 / CHURN as f64;
    // Touch the pointer vector's pages before the baseline, so only the
    // blocks' memory is counted.
    let mut live = vec![std::ptr::dangling_mut::<u8>(); LIVE];
    live.clear();
    let before = common::resident_bytes();
    let start = Instant::now();
    for _ in 0..LIVE {
        let p = a.alloc();
        // SAFETY: as above.
        unsafe { p.cast::<[usize; 2]>().write([0, 1]) };
        live.push(p);
    }
    let build = start.elapsed().as_nanos() as f64 / LIVE as f64;
    let resident = (common::resident_bytes().saturating_sub(before)) as f64 / LIVE as f64;
    let start = Instant::now();
    for &p in &live {
        // SAFETY: from `alloc` above, freed once.
        unsafe { a.free(p) };
    }
    let free = start.elapsed().as_nanos() as f64 / LIVE as f64;
    [churn, build, free, resident]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn candidate(name: &str) -> Box<dyn Blocks> {
    match name {
        "pool" => Box::new(Rcgc(Pool::new())),
        "malloc" => Box::new(Global(&System, "glibc malloc")),
        "mimalloc" => Box::new(Global(&MIMALLOC, "mimalloc")),
        _ => Box::new(MiHeap::new()),
    }
}

fn main() {
    // A child measures one allocator and prints its four numbers.
    if let Some(name) = std::env::args().skip_while(|a| a != "--measure").nth(1) {
        let m = measure(candidate(&name).as_mut());
        println!("{} {} {} {}", m[0], m[1], m[2], m[3]);
        return;
    }
    let exe = std::env::current_exe().expect("the bench binary");
    let names = ["pool", "malloc", "mimalloc", "mimalloc-heap"];
    let mut runs: Vec<Vec<[f64; 4]>> = vec![Vec::new(); names.len()];
    for _ in 0..5 {
        for (i, name) in names.iter().enumerate() {
            let out = std::process::Command::new(&exe)
                .args(["--measure", name])
                .output()
                .expect("a child run");
            let text = String::from_utf8_lossy(&out.stdout);
            let v: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            assert_eq!(v.len(), 4, "child output: {text}");
            runs[i].push([v[0], v[1], v[2], v[3]]);
        }
    }
    println!(
        "| allocator | churn: alloc+free (ns) | build 1M live (ns/block) | free 1M (ns/block) | resident (bytes/block) |"
    );
    println!("|---|---|---|---|---|");
    for (i, name) in names.iter().enumerate() {
        let col = |k: usize| median(runs[i].iter().map(|r| r[k]).collect());
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            candidate(name).name(),
            col(0),
            col(1),
            col(2),
            col(3)
        );
    }
}
