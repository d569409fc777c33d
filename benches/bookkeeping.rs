//! Which books for the cycle collector? A model of the two layouts rcgc chose
//! between, measured apart from the library, on 1,000,000 objects:
//!
//! - **lists** (CPython 3.11, Modules/gcmodule.c): every tracked object has a
//!   32-byte prefix, `gc_next` and `gc_prev` (16 bytes of links) then the
//!   object header `refcnt` and `type` (16 bytes), then its payload: 48-byte
//!   blocks. gc_refs is packed into `gc_prev` as CPython packs it (flags in
//!   bits 0 and 1, the count above them, from update_refs until
//!   move_unreachable restores the pointer). Generations are circular doubly
//!   linked lists with a sentinel. A collection of generations 0..=g splices
//!   the younger lists onto g's, runs update_refs, subtract_refs and
//!   move_unreachable, splices the survivors onto the next generation, and
//!   makes the unreachable list an ordinary one again (the walk of
//!   move_legacy_finalizers that clears NEXT_MASK_UNREACHABLE, counting).
//! - **vectors** (rcgc, src/collector.rs): a 16-byte header (`tag`: type and
//!   state bits, `refcnt: u32`, `gc: u32`, the object's index in its
//!   generation vector), then the payload: 32-byte blocks, plus a 4-byte slot
//!   in a `Vec<u32>` of object ids (the block's index in the slab: id to
//!   header is a shift and an add). Untracking is a swap-remove. A collection
//!   appends the younger vectors to the largest (a state names a vector, not
//!   a generation, so a full collection makes the largest vector the oldest
//!   generation's without touching its objects), keeps gc_refs in a side
//!   array of one `u32` per candidate, copied from the refcount lazily (the
//!   first time the subtraction pass touches the candidate, as member or
//!   referent), marks from the roots (entries still above 0) with an explicit
//!   stack, and in one pass moves the survivors to the next generation's
//!   vector (push id, rewrite state and index) and the rest to the
//!   unreachable vector. The side array is kept between collections, and the
//!   full-collection workloads touch its pages before the timed part: on this
//!   machine a cold 4 MB one costs about 2 ns/object more on 4 KB pages, 0.4
//!   on the fresh huge pages rcgc takes for a scan of 512K candidates or more.
//!
//! Objects are nodes of one type with two references, `a` and `b` (a 16-byte
//! payload); traverse is inlined (it reads `a` and `b`). Both layouts take
//! blocks from one slab sized in advance, with the same bump-then-free-list
//! allocator, so only the bookkeeping differs. Not modelled: finalizers, weak
//! references, resurrection, clearing or freeing garbage (a collection stops,
//! in both layouts, once the unreachable set is identified and usable), a real
//! allocator, freeing by refcount, automatic triggering (the workloads collect
//! explicitly), CPython's walks over survivors that the lists' missing length
//! and its tuple and dict untracking cost (untrack_tuples, untrack_dicts,
//! gc_list_size), rcgc's prefetching and root skipping, the indirect
//! traverse calls of user types (in both).
//!
//! Each measurement runs in a fresh process (the bench re-executes itself with
//! `--measure LAYOUT WORKLOAD`), the two layouts interleaved, in alternating
//! order; the table gives medians of 7 runs, with min–max. Every count a
//! collection finds, and every generation's length afterwards, is asserted,
//! so a broken model panics instead of printing numbers.
//!
//! `cargo bench --bench bookkeeping`, or, as it uses only std,
//! `rustc --edition 2024 -O benches/bookkeeping.rs -o /tmp/bookkeeping && /tmp/bookkeeping`

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Objects per workload.
const N: usize = 1_000_000;
/// Operations of the track_untrack workload.
const CHURN: usize = 10_000_000;
/// The young workload collects generation 0 after this many allocations.
const YOUNG_EVERY: usize = 700;
const GENERATIONS: usize = 3;
const REPS: usize = 7;
/// The type word of a node, standing for a (256-aligned) type's address.
const NODE_TYPE: usize = 0x100;

// ---------------------------------------------------------------------------
// The slab: the same cheap allocator for both layouts.

/// A block of one layout. The slab threads its free list through the block's
/// first word.
trait Block: Sized {
    fn free_link(&self) -> usize;
    fn set_free_link(&self, next: usize);
}

/// Blocks of one size in one buffer reserved up front (touched only as blocks
/// are handed out), bump-allocated, with a free list. Objects are named by the
/// address of their block.
struct Slab<B> {
    /// Owns the buffer; its length stays 0: blocks are written through `base`.
    _memory: Vec<B>,
    base: *mut B,
    capacity: usize,
    /// Blocks handed out at least once.
    used: usize,
    /// Address of the first free block, 0 if none.
    free: usize,
}

impl<B: Block> Slab<B> {
    fn new(capacity: usize) -> Slab<B> {
        let mut memory = Vec::with_capacity(capacity);
        let base = memory.as_mut_ptr();
        Slab {
            _memory: memory,
            base,
            capacity,
            used: 0,
            free: 0,
        }
    }

    /// The block at `addr`.
    #[inline(always)]
    fn at(&self, addr: usize) -> &B {
        debug_assert!(
            addr >= self.base.addr()
                && addr < self.base.addr() + self.used * size_of::<B>()
                && (addr - self.base.addr()) % size_of::<B>() == 0,
            "not a block of this slab: {addr:#x}"
        );
        // SAFETY: the model only stores and passes addresses that `alloc`
        // returned, or `addr_of` made from the index of one, so `addr` is that
        // of a block of this slab's buffer, written by `alloc`; the buffer lives,
        // unmoved, as long as `self`. A block is all `Cell`s, so shared
        // references to it may coexist and write through.
        unsafe { &*self.base.with_addr(addr) }
    }

    #[inline(always)]
    fn alloc(&mut self, block: B) -> usize {
        let addr = if self.free != 0 {
            let addr = self.free;
            self.free = self.at(addr).free_link();
            addr
        } else {
            assert!(self.used < self.capacity, "the slab is full");
            self.used += 1;
            self.base.wrapping_add(self.used - 1).addr()
        };
        // SAFETY: `addr` is a block of the buffer (below `capacity`: checked
        // above, or a freed block) that nothing uses and no reference points
        // to: it may be (re)written whole.
        unsafe { self.base.with_addr(addr).write(block) };
        addr
    }

    #[inline(always)]
    fn free(&mut self, addr: usize) {
        self.at(addr).set_free_link(self.free);
        self.free = addr;
    }

    /// An object's id: its block's index.
    #[inline(always)]
    fn index_of(&self, addr: usize) -> u32 {
        ((addr - self.base.addr()) / size_of::<B>()) as u32
    }

    #[inline(always)]
    fn addr_of(&self, id: u32) -> usize {
        self.base.addr() + id as usize * size_of::<B>()
    }
}

// ---------------------------------------------------------------------------
// What a workload asks of a layout.

trait Books {
    /// Bytes per tracked object, by construction: its block plus its slot in
    /// a generation vector.
    const BYTES_PER_OBJECT: usize;
    /// Books for `objects` nodes, with slabs sized exactly.
    fn new(objects: usize) -> Self;
    /// A node with refcount 1 and no references, untracked.
    fn alloc(&mut self) -> usize;
    fn free(&mut self, o: usize);
    fn set_a(&self, o: usize, referent: usize);
    /// Starts tracking `o` in generation 0.
    fn track(&mut self, o: usize);
    fn untrack(&mut self, o: usize);
    /// Collects generations 0..=g; returns how many objects it found
    /// unreachable, left identified in an unreachable set.
    fn collect(&mut self, g: usize) -> usize;
    /// In O(1).
    fn is_empty(&self, g: usize) -> bool;
    /// Possibly by a walk: for checks outside the timed parts.
    fn len(&self, g: usize) -> usize;
    fn unreachable_len(&self) -> usize;
    /// Gets the scratch memory a collection of every object needs, and
    /// touches it, outside the timed part.
    fn warm_scratch(&mut self) {}
}

// ---------------------------------------------------------------------------
// Layout A: CPython 3.11's lists.

/// PyGC_Head, then the PyObject header, then the payload.
#[repr(C, align(16))]
struct ListBlock {
    /// `_gc_next`: the next object in the list (0 when untracked), with
    /// NEXT_MASK_UNREACHABLE in bit 0 while move_unreachable runs.
    next: Cell<usize>,
    /// `_gc_prev`: FINALIZED in bit 0, COLLECTING in bit 1, and above them
    /// the previous object in the list, or gc_refs << 2 during a collection.
    prev: Cell<usize>,
    refcnt: Cell<usize>,
    ty: Cell<usize>,
    a: Cell<usize>,
    b: Cell<usize>,
}

const _: () = assert!(size_of::<ListBlock>() == 48);

const NEXT_MASK_UNREACHABLE: usize = 1;
const PREV_MASK_FINALIZED: usize = 1;
const PREV_MASK_COLLECTING: usize = 2;
const PREV_SHIFT: u32 = 2;
const PREV_MASK: usize = usize::MAX << PREV_SHIFT;

impl Block for ListBlock {
    fn free_link(&self) -> usize {
        self.next.get()
    }
    fn set_free_link(&self, next: usize) {
        self.next.set(next)
    }
}

struct Lists {
    slab: Slab<ListBlock>,
    /// The sentinels of generations 0, 1 and 2 (blocks of the slab).
    heads: [usize; GENERATIONS],
    /// The sentinel of the unreachable list.
    unreachable: usize,
}

impl Lists {
    #[inline(always)]
    fn at(&self, addr: usize) -> &ListBlock {
        self.slab.at(addr)
    }

    fn init_list(&self, head: usize) {
        self.at(head).next.set(head);
        self.at(head).prev.set(head);
    }

    /// `_PyGCHead_SET_PREV`: keeps the flags.
    #[inline(always)]
    fn set_prev(&self, node: usize, prev: usize) {
        let n = self.at(node);
        n.prev.set((n.prev.get() & !PREV_MASK) | prev);
    }

    #[inline(always)]
    fn refs(o: &ListBlock) -> usize {
        o.prev.get() >> PREV_SHIFT
    }

    #[inline(always)]
    fn set_refs(o: &ListBlock, refs: usize) {
        o.prev.set((o.prev.get() & !PREV_MASK) | refs << PREV_SHIFT);
    }

    /// `_PyObject_IS_GC`: the type says so (CPython reads tp_flags through the
    /// type word; here the word alone).
    #[inline(always)]
    fn is_gc(o: &ListBlock) -> bool {
        o.ty.get() == NODE_TYPE
    }

    /// `gc_list_append`.
    #[inline(always)]
    fn append(&self, node: usize, list: usize) {
        let last = self.at(list).prev.get();
        self.set_prev(node, last);
        self.at(last).next.set(node);
        self.at(node).next.set(list);
        self.at(list).prev.set(node);
    }

    /// `gc_list_merge`: `from` onto the tail of `to`, in O(1).
    fn merge(&self, from: usize, to: usize) {
        let from_head = self.at(from).next.get();
        if from_head != from {
            let to_tail = self.at(to).prev.get() & PREV_MASK;
            let from_tail = self.at(from).prev.get() & PREV_MASK;
            self.at(to_tail).next.set(from_head);
            self.set_prev(from_head, to_tail);
            self.at(from_tail).next.set(to);
            self.set_prev(to, from_tail);
        }
        self.init_list(from);
    }

    /// gc_refs = refcount, COLLECTING set: a write to every header.
    fn update_refs(&self, young: usize) {
        let mut p = self.at(young).next.get();
        while p != young {
            let o = self.at(p);
            let refcnt = o.refcnt.get();
            debug_assert!(refcnt != 0);
            o.prev
                .set((o.prev.get() & PREV_MASK_FINALIZED) | PREV_MASK_COLLECTING | refcnt << PREV_SHIFT);
            p = o.next.get();
        }
    }

    /// `visit_decref`.
    #[inline(always)]
    fn visit_decref(&self, referent: usize) {
        if referent == 0 {
            return;
        }
        let t = self.at(referent);
        if Self::is_gc(t) && t.prev.get() & PREV_MASK_COLLECTING != 0 {
            debug_assert!(Self::refs(t) > 0, "refcount is too small");
            t.prev.set(t.prev.get() - (1 << PREV_SHIFT));
        }
    }

    fn subtract_refs(&self, young: usize) {
        let mut p = self.at(young).next.get();
        while p != young {
            let o = self.at(p);
            self.visit_decref(o.a.get());
            self.visit_decref(o.b.get());
            p = o.next.get();
        }
    }

    /// `visit_reachable`.
    #[inline(always)]
    fn visit_reachable(&self, referent: usize, young: usize) {
        if referent == 0 {
            return;
        }
        let t = self.at(referent);
        if !Self::is_gc(t) {
            return;
        }
        let prev_word = t.prev.get();
        // Other generations, and the objects move_unreachable has passed.
        if prev_word & PREV_MASK_COLLECTING == 0 {
            return;
        }
        let next_word = t.next.get();
        if next_word & NEXT_MASK_UNREACHABLE != 0 {
            // Tentatively unreachable: unlink it by hand (the list functions
            // do not know the mask) and put it back at the tail of young.
            let prev = prev_word & PREV_MASK;
            let next = next_word & !NEXT_MASK_UNREACHABLE;
            self.at(prev).next.set(next_word);
            self.set_prev(next, prev);
            self.append(referent, young);
            Self::set_refs(t, 1);
        } else if prev_word >> PREV_SHIFT == 0 {
            // Ahead in young, not reached yet: tell move_unreachable.
            Self::set_refs(t, 1);
        }
    }

    /// `move_unreachable`: restores the prev pointers of young as it goes.
    fn move_unreachable(&self, young: usize, unreachable: usize) {
        let mut prev = young;
        let mut gc = self.at(young).next.get();
        while gc != young {
            let o = self.at(gc);
            if Self::refs(o) != 0 {
                self.visit_reachable(o.a.get(), young);
                self.visit_reachable(o.b.get(), young);
                self.set_prev(gc, prev);
                o.prev.set(o.prev.get() & !PREV_MASK_COLLECTING);
                prev = gc;
            } else {
                // Tentatively unreachable: to the tail of `unreachable`, with
                // the mask (young is singly linked until this pass ends).
                self.at(prev).next.set(o.next.get());
                let last = self.at(unreachable).prev.get() & PREV_MASK;
                self.at(last).next.set(NEXT_MASK_UNREACHABLE | gc);
                self.set_prev(gc, last);
                o.next.set(NEXT_MASK_UNREACHABLE | unreachable);
                self.at(unreachable).prev.set(gc);
            }
            gc = self.at(prev).next.get();
        }
        self.at(young).prev.set(prev);
        let u = self.at(unreachable);
        u.next.set(u.next.get() & !NEXT_MASK_UNREACHABLE);
    }

    /// The walk of `move_legacy_finalizers` (no legacy finalizers here): clears
    /// NEXT_MASK_UNREACHABLE, and counts.
    fn clear_unreachable_mask(&self, unreachable: usize) -> usize {
        let mut count = 0;
        let mut p = self.at(unreachable).next.get();
        while p != unreachable {
            let o = self.at(p);
            debug_assert!(o.next.get() & NEXT_MASK_UNREACHABLE != 0);
            let next = o.next.get() & !NEXT_MASK_UNREACHABLE;
            o.next.set(next);
            p = next;
            count += 1;
        }
        count
    }

    /// `gc_list_size`, checking the links both ways.
    fn list_len(&self, head: usize) -> usize {
        let mut count = 0;
        let mut prev = head;
        let mut p = self.at(head).next.get();
        while p != head {
            assert_eq!(self.at(p).prev.get() & PREV_MASK, prev, "a broken back link");
            assert_eq!(self.at(p).prev.get() & PREV_MASK_COLLECTING, 0, "COLLECTING left set");
            prev = p;
            p = self.at(p).next.get();
            count += 1;
        }
        assert_eq!(self.at(head).prev.get(), prev, "a broken tail link");
        count
    }
}

impl Books for Lists {
    const BYTES_PER_OBJECT: usize = size_of::<ListBlock>();

    fn new(objects: usize) -> Lists {
        let mut slab = Slab::new(objects + GENERATIONS + 1);
        let mut sentinel = || {
            slab.alloc(ListBlock {
                next: Cell::new(0),
                prev: Cell::new(0),
                refcnt: Cell::new(0),
                ty: Cell::new(0),
                a: Cell::new(0),
                b: Cell::new(0),
            })
        };
        let heads = [sentinel(), sentinel(), sentinel()];
        let unreachable = sentinel();
        let lists = Lists {
            slab,
            heads,
            unreachable,
        };
        for head in heads.into_iter().chain([unreachable]) {
            lists.init_list(head);
        }
        lists
    }

    #[inline(always)]
    fn alloc(&mut self) -> usize {
        self.slab.alloc(ListBlock {
            next: Cell::new(0),
            prev: Cell::new(0),
            refcnt: Cell::new(1),
            ty: Cell::new(NODE_TYPE),
            a: Cell::new(0),
            b: Cell::new(0),
        })
    }

    #[inline(always)]
    fn free(&mut self, o: usize) {
        self.slab.free(o)
    }

    fn set_a(&self, o: usize, referent: usize) {
        self.at(o).a.set(referent)
    }

    /// `_PyObject_GC_TRACK`.
    #[inline(always)]
    fn track(&mut self, o: usize) {
        debug_assert_eq!(self.at(o).next.get(), 0, "already tracked");
        let gen0 = self.heads[0];
        let last = self.at(gen0).prev.get();
        self.at(last).next.set(o);
        self.set_prev(o, last);
        self.at(o).next.set(gen0);
        self.at(gen0).prev.set(o);
    }

    /// `_PyObject_GC_UNTRACK`.
    #[inline(always)]
    fn untrack(&mut self, o: usize) {
        let g = self.at(o);
        let prev = g.prev.get() & PREV_MASK;
        let next = g.next.get();
        self.at(prev).next.set(next);
        self.set_prev(next, prev);
        g.next.set(0);
        g.prev.set(g.prev.get() & PREV_MASK_FINALIZED);
    }

    fn collect(&mut self, g: usize) -> usize {
        let young = self.heads[g];
        for &younger in &self.heads[..g] {
            self.merge(younger, young);
        }
        let old = if g + 1 < GENERATIONS { self.heads[g + 1] } else { young };
        self.update_refs(young);
        self.subtract_refs(young);
        self.init_list(self.unreachable);
        self.move_unreachable(young, self.unreachable);
        if young != old {
            self.merge(young, old);
        }
        self.clear_unreachable_mask(self.unreachable)
    }

    fn is_empty(&self, g: usize) -> bool {
        self.at(self.heads[g]).next.get() == self.heads[g]
    }

    fn len(&self, g: usize) -> usize {
        self.list_len(self.heads[g])
    }

    fn unreachable_len(&self) -> usize {
        let mut count = 0;
        let mut p = self.at(self.unreachable).next.get();
        while p != self.unreachable {
            count += 1;
            p = self.at(p).next.get();
        }
        count
    }
}

// ---------------------------------------------------------------------------
// Layout B: rcgc's vectors.

/// rcgc's header, then the payload.
#[repr(C, align(16))]
struct VecBlock {
    /// The type's address, with the state in bits 0..=3.
    tag: Cell<usize>,
    refcnt: Cell<u32>,
    /// Tracked: the index in the vector the state names (or in the unreachable vector).
    gc: Cell<u32>,
    a: Cell<usize>,
    b: Cell<usize>,
}

const _: () = assert!(size_of::<VecBlock>() == 32);

const STATE_MASK: usize = 0b1111;
/// States 1..=3 name vectors 0..=2.
const UNTRACKED: usize = 0;
const UNREACHABLE: usize = 7;

/// A side-array entry: holds gc_refs (copied from the refcount).
const INIT: u32 = 1 << 29;
const REACHABLE: u32 = 1 << 31;
const REFS: u32 = INIT - 1;
const NOT_A_CANDIDATE: u32 = u32::MAX;

impl Block for VecBlock {
    fn free_link(&self) -> usize {
        self.tag.get()
    }
    fn set_free_link(&self, next: usize) {
        self.tag.set(next)
    }
}

impl VecBlock {
    #[inline(always)]
    fn place(&self, state: usize, index: usize) {
        self.tag.set((self.tag.get() & !STATE_MASK) | state);
        self.gc.set(index as u32);
    }
}

struct Vectors {
    slab: Slab<VecBlock>,
    /// Vectors of object ids (block indices).
    vectors: [Vec<u32>; GENERATIONS],
    /// Which vector holds which generation.
    vector_of: [usize; GENERATIONS],
    unreachable: Vec<u32>,
    /// The scan's side array and mark stack, kept between collections.
    refs: Vec<u32>,
    stack: Vec<usize>,
}

/// The side-array entry of a candidate, holding gc_refs from the first touch on.
#[inline(always)]
fn entry<'a>(refs: &'a mut [u32], position: usize, h: &VecBlock) -> &'a mut u32 {
    let e = &mut refs[position];
    if *e & INIT == 0 {
        *e = INIT | h.refcnt.get().min(REFS);
    }
    e
}

impl Books for Vectors {
    const BYTES_PER_OBJECT: usize = size_of::<VecBlock>() + size_of::<u32>();

    fn new(objects: usize) -> Vectors {
        Vectors {
            slab: Slab::new(objects),
            vectors: [Vec::new(), Vec::new(), Vec::new()],
            vector_of: [0, 1, 2],
            unreachable: Vec::new(),
            refs: Vec::new(),
            stack: Vec::new(),
        }
    }

    #[inline(always)]
    fn alloc(&mut self) -> usize {
        self.slab.alloc(VecBlock {
            tag: Cell::new(NODE_TYPE | UNTRACKED),
            refcnt: Cell::new(1),
            gc: Cell::new(0),
            a: Cell::new(0),
            b: Cell::new(0),
        })
    }

    #[inline(always)]
    fn free(&mut self, o: usize) {
        self.slab.free(o)
    }

    fn set_a(&self, o: usize, referent: usize) {
        self.slab.at(o).a.set(referent)
    }

    #[inline(always)]
    fn track(&mut self, o: usize) {
        let h = self.slab.at(o);
        debug_assert_eq!(h.tag.get() & STATE_MASK, UNTRACKED, "already tracked");
        let vector = self.vector_of[0];
        let v = &mut self.vectors[vector];
        h.place(vector + 1, v.len());
        v.push(self.slab.index_of(o));
    }

    #[inline(always)]
    fn untrack(&mut self, o: usize) {
        let h = self.slab.at(o);
        let state = h.tag.get() & STATE_MASK;
        debug_assert!((1..=GENERATIONS).contains(&state), "not in a generation");
        let index = h.gc.get() as usize;
        let v = &mut self.vectors[state - 1];
        v.swap_remove(index);
        if let Some(&moved) = v.get(index) {
            self.slab.at(self.slab.addr_of(moved)).gc.set(index as u32);
        }
        h.tag.set(h.tag.get() & !STATE_MASK);
    }

    fn collect(&mut self, g: usize) -> usize {
        let full = g == GENERATIONS - 1;
        let target = if full { g } else { g + 1 };
        let lens = self.vector_of.map(|v| self.vectors[v].len());
        // The largest vector (the oldest on a tie) is the base; the others
        // are appended from the youngest up.
        let base = (0..=g).max_by_key(|&k| lens[k]).expect("a generation");
        let mut offsets = [NOT_A_CANDIDATE; 8];
        offsets[self.vector_of[base] + 1] = 0;
        let mut cands = std::mem::take(&mut self.vectors[self.vector_of[base]]);
        for k in (0..=g).filter(|&k| k != base) {
            offsets[self.vector_of[k] + 1] = cands.len() as u32;
            let v = &mut self.vectors[self.vector_of[k]];
            cands.extend_from_slice(v);
            v.clear();
        }
        let n = cands.len();
        let slab = &self.slab;
        // A candidate's side-array position, from its state and index.
        let position = |h: &VecBlock| match offsets[h.tag.get() & 7] {
            NOT_A_CANDIDATE => None,
            offset => Some(offset as usize + h.gc.get() as usize),
        };
        let mut refs = std::mem::take(&mut self.refs);
        refs.clear();
        refs.resize(n, 0);

        // Subtract the references between candidates.
        for (i, &id) in cands.iter().enumerate() {
            let h = slab.at(slab.addr_of(id));
            entry(&mut refs, i, h);
            for r in [h.a.get(), h.b.get()] {
                if r != 0 {
                    let t = slab.at(r);
                    if let Some(p) = position(t) {
                        let e = entry(&mut refs, p, t);
                        debug_assert!(*e & REFS > 0, "refcount is too small");
                        *e -= 1;
                    }
                }
            }
        }

        // Mark from the roots, depth first, `a` expanded before `b`.
        let mut stack = std::mem::take(&mut self.stack);
        let mut reached = 0;
        for i in 0..n {
            if refs[i] & REACHABLE != 0 || refs[i] & REFS == 0 {
                continue;
            }
            refs[i] |= REACHABLE;
            reached += 1;
            stack.push(slab.addr_of(cands[i]));
            while let Some(p) = stack.pop() {
                let h = slab.at(p);
                for r in [h.b.get(), h.a.get()] {
                    if r != 0
                        && let Some(q) = position(slab.at(r))
                        && refs[q] & REACHABLE == 0
                    {
                        refs[q] |= REACHABLE;
                        reached += 1;
                        stack.push(r);
                    }
                }
            }
        }

        // One pass: survivors to the target vector, the rest to the
        // unreachable set. In a full collection the base vector becomes the
        // oldest generation's and is compacted in place (its objects that
        // keep their index are not written), unless most candidates are
        // garbage: then the garbage is compacted in place instead, as in a
        // young collection.
        let dead = n - reached;
        if full && base != g {
            self.vector_of.swap(g, base);
        }
        let target_vector = self.vector_of[target];
        let target_state = target_vector + 1;
        let garbage_in_place = !full || dead > reached;
        let mut unreachable = std::mem::take(&mut self.unreachable);
        unreachable.clear();
        let mut survivors = if !full {
            std::mem::take(&mut self.vectors[target_vector])
        } else {
            Vec::new()
        };
        if garbage_in_place {
            survivors.reserve(reached);
        } else {
            unreachable.reserve(dead);
        }
        let (mut kept, mut gone) = (0, 0);
        for i in 0..n {
            let id = cands[i];
            let h = slab.at(slab.addr_of(id));
            if refs[i] & REACHABLE != 0 {
                if garbage_in_place {
                    h.place(target_state, survivors.len());
                    survivors.push(id);
                } else {
                    if kept != i || i >= lens[base] {
                        h.place(target_state, kept);
                    }
                    cands[kept] = id;
                }
                kept += 1;
            } else if garbage_in_place {
                h.place(UNREACHABLE, gone);
                cands[gone] = id;
                gone += 1;
            } else {
                h.place(UNREACHABLE, unreachable.len());
                unreachable.push(id);
            }
        }
        if garbage_in_place {
            cands.truncate(gone);
            let spare = std::mem::replace(&mut unreachable, cands);
            if full {
                self.vectors[self.vector_of[g]] = survivors;
            } else {
                self.vectors[target_vector] = survivors;
                // Generation g gets a buffer back.
                self.vectors[self.vector_of[g]] = spare;
            }
        } else {
            cands.truncate(kept);
            self.vectors[self.vector_of[g]] = cands;
        }
        self.unreachable = unreachable;
        self.refs = refs;
        self.stack = stack;
        self.unreachable.len()
    }

    /// The side array, kept between collections as rcgc keeps a small one.
    fn warm_scratch(&mut self) {
        self.refs.resize(self.slab.capacity, 0);
        self.refs.clear();
    }

    fn is_empty(&self, g: usize) -> bool {
        self.vectors[self.vector_of[g]].is_empty()
    }

    fn len(&self, g: usize) -> usize {
        let vector = self.vector_of[g];
        let v = &self.vectors[vector];
        for (i, &id) in v.iter().enumerate() {
            let h = self.slab.at(self.slab.addr_of(id));
            assert_eq!(h.tag.get() & STATE_MASK, vector + 1, "a wrong state");
            assert_eq!(h.gc.get() as usize, i, "a wrong index");
        }
        v.len()
    }

    fn unreachable_len(&self) -> usize {
        for (i, &id) in self.unreachable.iter().enumerate() {
            let h = self.slab.at(self.slab.addr_of(id));
            assert_eq!(h.tag.get() & STATE_MASK, UNREACHABLE, "a wrong state");
            assert_eq!(h.gc.get() as usize, i, "a wrong index");
        }
        self.unreachable.len()
    }
}

// ---------------------------------------------------------------------------
// Workloads.

fn ns_per(elapsed: Duration, objects: usize) -> f64 {
    elapsed.as_nanos() as f64 / objects as f64
}

/// Builds `n` live nodes in generation 0 (or, collecting generation 0 every
/// `young_every` allocations, in generations 0 and 1). Backward: each new node's
/// `a` references the previous one and the root holds the last; forward: each
/// node's `a` references the next one and the root holds the first. Each node
/// is referenced once, so every refcount is 1. Returns the time spent in
/// collections.
fn build_list<L: Books>(l: &mut L, n: usize, forward: bool, young_every: Option<usize>) -> Duration {
    let mut in_collections = Duration::ZERO;
    let mut prev = 0;
    for i in 0..n {
        let o = l.alloc();
        if prev != 0 {
            // Backward, the root's reference to `prev` moves to `o`; forward,
            // `prev` takes the reference `o` was born with, and the root keeps
            // the first node.
            if forward {
                l.set_a(prev, o);
            } else {
                l.set_a(o, prev);
            }
        }
        l.track(o);
        prev = o;
        if let Some(every) = young_every
            && (i + 1) % every == 0
        {
            let start = Instant::now();
            let found = l.collect(0);
            in_collections += start.elapsed();
            assert_eq!(found, 0, "a young collection found live nodes unreachable");
            assert!(l.is_empty(0), "generation 0 not empty after its collection");
        }
    }
    in_collections
}

/// One collection of every generation over a list of N live nodes: finds 0.
fn live_list<L: Books>(forward: bool) -> Vec<f64> {
    let mut l = L::new(N);
    build_list(&mut l, N, forward, None);
    l.warm_scratch();
    let start = Instant::now();
    let found = l.collect(GENERATIONS - 1);
    let elapsed = start.elapsed();
    assert_eq!(found, 0, "live nodes found unreachable");
    assert_eq!(l.len(2), N);
    assert!(l.is_empty(0) && l.is_empty(1) && l.unreachable_len() == 0);
    vec![ns_per(elapsed, N)]
}

fn measure<L: Books>(workload: &str) -> Vec<f64> {
    match workload {
        // Take a block, init it, track, untrack, give it back.
        "track_untrack" => {
            let mut l = L::new(16);
            let start = Instant::now();
            for _ in 0..CHURN {
                let o = l.alloc();
                l.track(o);
                l.untrack(black_box(o));
                l.free(o);
            }
            let elapsed = start.elapsed();
            assert!(l.is_empty(0) && l.len(0) == 0);
            vec![ns_per(elapsed, CHURN)]
        }
        "live_list" => live_list::<L>(false),
        "live_list_fwd" => live_list::<L>(true),
        // N/2 unreachable 2-cycles (a.a = b, b.a = a, no other reference).
        // Timed: identifying the N unreachable, not freeing them.
        "cycles2" => {
            let mut l = L::new(N);
            for _ in 0..N / 2 {
                let (x, y) = (l.alloc(), l.alloc());
                l.set_a(x, y);
                l.set_a(y, x);
                l.track(x);
                l.track(y);
            }
            l.warm_scratch();
            let start = Instant::now();
            let found = l.collect(GENERATIONS - 1);
            let elapsed = start.elapsed();
            assert_eq!(found, N, "not every cycle found");
            assert_eq!(l.unreachable_len(), N);
            assert!(l.len(2) == 0 && l.is_empty(0) && l.is_empty(1));
            vec![ns_per(elapsed, N)]
        }
        // N live nodes, generation 0 collected every YOUNG_EVERY allocations.
        "young" => {
            let mut l = L::new(N);
            let start = Instant::now();
            let in_collections = build_list(&mut l, N, false, Some(YOUNG_EVERY));
            let elapsed = start.elapsed();
            let promoted = N / YOUNG_EVERY * YOUNG_EVERY;
            assert_eq!(l.len(1), promoted);
            assert_eq!(l.len(0), N - promoted);
            assert!(l.is_empty(2) && l.unreachable_len() == 0);
            vec![ns_per(elapsed, N), ns_per(in_collections, N)]
        }
        // Computed bytes per object, and resident growth while building N
        // live nodes (slabs sized exactly, their pages touched only now).
        "memory" => {
            let before = common::resident_bytes();
            let mut l = L::new(N);
            build_list(&mut l, N, false, None);
            let grown = common::resident_bytes().saturating_sub(before);
            assert_eq!(l.len(0), N);
            vec![L::BYTES_PER_OBJECT as f64, grown as f64 / N as f64]
        }
        _ => panic!("unknown workload {workload}"),
    }
}

// ---------------------------------------------------------------------------
// The driver.

const LAYOUTS: [&str; 2] = ["lists", "vectors"];
const WORKLOADS: [&str; 6] = [
    "track_untrack",
    "live_list",
    "live_list_fwd",
    "cycles2",
    "young",
    "memory",
];
/// (workload, index of the child's number, what the row shows).
const ROWS: [(&str, usize, &str); 8] = [
    (
        "track_untrack",
        0,
        "track_untrack: alloc, track, untrack, free (ns/object)",
    ),
    (
        "live_list",
        0,
        "live_list: full collection, 1M live, newest → oldest (ns/object)",
    ),
    (
        "live_list_fwd",
        0,
        "live_list_fwd: the same list, oldest → newest (ns/object)",
    ),
    (
        "cycles2",
        0,
        "cycles2: full collection, 500k garbage 2-cycles (ns/object)",
    ),
    (
        "young",
        0,
        "young: build 1M live, gen-0 collection every 700 (ns/object)",
    ),
    ("young", 1, "young: of which in the 1,428 collections (ns/object)"),
    ("memory", 0, "memory: block + vector slot, computed (bytes/object)"),
    ("memory", 1, "memory: resident growth building 1M live (bytes/object)"),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // A child measures one workload on one layout and prints its numbers.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        let (layout, workload) = (&args[i + 1], &args[i + 2]);
        let numbers = match layout.as_str() {
            "lists" => measure::<Lists>(workload),
            "vectors" => measure::<Vectors>(workload),
            _ => panic!("unknown layout {layout}"),
        };
        let text: Vec<String> = numbers.iter().map(f64::to_string).collect();
        println!("{}", text.join(" "));
        return;
    }
    let exe = std::env::current_exe().expect("the bench binary");
    // runs[layout][workload]: one Vec of numbers per repetition.
    let mut runs = vec![vec![Vec::<Vec<f64>>::new(); WORKLOADS.len()]; LAYOUTS.len()];
    for rep in 0..REPS {
        for (w, workload) in WORKLOADS.iter().enumerate() {
            let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let out = std::process::Command::new(&exe)
                    .args(["--measure", LAYOUTS[k], workload])
                    .output()
                    .expect("a child run");
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{} {workload} failed: {}",
                    LAYOUTS[k],
                    String::from_utf8_lossy(&out.stderr)
                );
                let v: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                assert!(!v.is_empty(), "child output: {text}");
                runs[k][w].push(v);
            }
        }
    }
    println!("| workload (unit) | A: CPython 3.11 lists | B: rcgc vectors | B/A |");
    println!("|---|---|---|---|");
    for (workload, column, label) in ROWS {
        let w = WORKLOADS.iter().position(|&x| x == workload).expect("a workload");
        let cell = |k: usize| {
            let values: Vec<f64> = runs[k][w].iter().map(|r| r[column]).collect();
            let (lo, hi) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            (median(values), lo, hi)
        };
        let (a, b) = (cell(0), cell(1));
        println!(
            "| {label} | {:.1} ({:.1}–{:.1}) | {:.1} ({:.1}–{:.1}) | {:.2} |",
            a.0,
            a.1,
            a.2,
            b.0,
            b.1,
            b.2,
            b.0 / a.0
        );
    }
}
