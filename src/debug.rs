//! The collector's debug switches (gc.set_debug, gc.garbage): statistics and
//! collectable objects written to stderr or to a sink the user sets, the
//! garbage list that RCGC_DEBUG_SAVEALL fills, and the leak report of
//! rcgc_heap_free under RCGC_DEBUG_LEAK.
//!
//! # Where output happens (as CPython 3.11's gc_collect_main)
//!
//! - RCGC_DEBUG_STATS: when a collection starts (after the RCGC_GC_START
//!   callbacks, before the counts change), "gc: collecting generation N...",
//!   "gc: objects in each generation: a b c" (the sizes of the three
//!   generations at that moment) and "gc: objects in permanent generation: p";
//!   when it ends (before the RCGC_GC_STOP callbacks), "gc: done, X
//!   unreachable, 0 uncollectable, T.TTTTs elapsed".
//! - RCGC_DEBUG_COLLECTABLE: "gc: collectable <TYPE 0xADDR>" for each object
//!   of the unreachable set, once that set is known and before any finalizer
//!   runs. ADDR is the payload address, the pointer C code holds.
//! - RCGC_DEBUG_UNCOLLECTABLE: nothing. CPython prints the objects that legacy
//!   (tp_del) finalizers keep from being collected; rcgc has no such
//!   finalizers (finalize is PEP 442's tp_finalize), so nothing is ever
//!   uncollectable, as for objects with __del__ in CPython 3.4 and later.
//! - RCGC_DEBUG_LEAK (all of COLLECTABLE, UNCOLLECTABLE and SAVEALL): after
//!   rcgc_heap_free's own collection and before anything is finalized or
//!   freed, a report of every object still alive, by type.
//!
//! The flags are read once when a collection starts: a change made during a
//! collection (from a sink, a finalizer, a gc callback) takes effect at the
//! next one.
//!
//! # The sink is user code
//!
//! While the sink runs the heap is in phase Reporting: rcgc_collect and
//! rcgc_clear_garbage fail with RCGC_ERR_REENTRANT, no automatic collection
//! starts, and allocation, incref and decref work as in a finalizer. Output
//! lines are formatted into a fixed buffer, so writing them never allocates.
//!
//! # The garbage list
//!
//! Under RCGC_DEBUG_SAVEALL the collector appends each object it would clear
//! to the list, with a new reference, instead of clearing it (step 7 of
//! src/collector.rs); the object stays alive, its references intact, in the
//! target generation, and counts as collected, as in CPython. The room is
//! reserved when the unreachable set is found (step 3), before any object
//! changes state; if it cannot be had, every candidate survives that
//! collection, which then finds nothing, as when the unreachable vector
//! itself cannot grow.

use std::cell::{Cell, UnsafeCell};
use std::cmp::Ordering;
use std::ffi::{c_char, c_int, c_void};
use std::fmt::{self, Write as _};
use std::io::Write as _;

use crate::error::Error;
use crate::header::Header;
use crate::heap::{Heap, Phase};
use crate::refcount::{decref, incref};
use crate::types::Type;

/// The debug flags of rcgc_set_debug (gc.DEBUG_*), with CPython's values;
/// combine them with `|`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rcgc_debug_flag {
    /// Statistics at the start and end of every collection (gc.DEBUG_STATS).
    RCGC_DEBUG_STATS = 1,
    /// Each unreachable object a collection finds (gc.DEBUG_COLLECTABLE).
    RCGC_DEBUG_COLLECTABLE = 2,
    /// Accepted and silent: rcgc never has uncollectable objects
    /// (gc.DEBUG_UNCOLLECTABLE).
    RCGC_DEBUG_UNCOLLECTABLE = 4,
    /// Keep unreachable objects alive and uncleared in the garbage list
    /// instead of clearing them (gc.DEBUG_SAVEALL).
    RCGC_DEBUG_SAVEALL = 32,
    /// COLLECTABLE | UNCOLLECTABLE | SAVEALL (gc.DEBUG_LEAK); with all three
    /// set, rcgc_heap_free also reports the objects still alive, by type.
    RCGC_DEBUG_LEAK = 38,
}

const STATS: c_int = rcgc_debug_flag::RCGC_DEBUG_STATS as c_int;
const COLLECTABLE: c_int = rcgc_debug_flag::RCGC_DEBUG_COLLECTABLE as c_int;
const UNCOLLECTABLE: c_int = rcgc_debug_flag::RCGC_DEBUG_UNCOLLECTABLE as c_int;
const SAVEALL: c_int = rcgc_debug_flag::RCGC_DEBUG_SAVEALL as c_int;
const LEAK: c_int = rcgc_debug_flag::RCGC_DEBUG_LEAK as c_int;
/// Every bit rcgc_set_debug accepts.
pub const KNOWN_FLAGS: c_int = STATS | COLLECTABLE | UNCOLLECTABLE | SAVEALL;

const _: () = assert!(LEAK == COLLECTABLE | UNCOLLECTABLE | SAVEALL);

/// Receives gc debug output (rcgc_set_debug_output): called once per line
/// with the line NUL-terminated and without a trailing newline; `line` is
/// valid only during the call.
#[allow(non_camel_case_types)]
pub type rcgc_debug_fn = Option<unsafe extern "C" fn(line: *const c_char, ctx: *mut c_void)>;

/// The debug state of a heap.
pub struct DebugState {
    /// What rcgc_set_debug set.
    flags: Cell<c_int>,
    /// The flags of the running (or last) collection, read when it started.
    in_force: Cell<c_int>,
    /// The sink; None writes to stderr.
    output: Cell<(rcgc_debug_fn, *mut c_void)>,
    /// gc.garbage: objects saved by RCGC_DEBUG_SAVEALL, each held by a reference.
    garbage: UnsafeCell<Vec<*const Header>>,
}

impl Default for DebugState {
    fn default() -> Self {
        DebugState {
            flags: Cell::new(0),
            in_force: Cell::new(0),
            output: Cell::new((None, std::ptr::null_mut())),
            garbage: UnsafeCell::new(Vec::new()),
        }
    }
}

impl DebugState {
    /// Runs `f` on the garbage list. `f` must not run user code.
    fn with_garbage<R>(&self, f: impl FnOnce(&mut Vec<*const Header>) -> R) -> R {
        // SAFETY: one thread uses the heap, and no closure passed here
        // re-enters it, so this is the only borrow of the list while it lives.
        f(unsafe { &mut *self.garbage.get() })
    }

    fn saves_all(&self) -> bool {
        self.in_force.get() & SAVEALL != 0
    }
}

/// Room for one output line; longer lines (long type names) are truncated.
const LINE_CAPACITY: usize = 512;

/// One output line, formatted without allocating; the last byte of the
/// buffer is kept for the terminator (NUL for a sink, newline for stderr).
struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(LINE_CAPACITY - 1 - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// "1 object", "2 objects".
fn objects(n: usize) -> &'static str {
    if n == 1 { "object" } else { "objects" }
}

/// One type's share of the leak report.
struct Alive {
    ty: *const Type,
    objects: usize,
    bytes: usize,
}

impl Alive {
    fn ty(&self) -> &Type {
        // SAFETY: types live as long as their heap, which is being freed but
        // still holds them.
        unsafe { &*self.ty }
    }
}

impl Heap {
    /// rcgc_set_debug: sets the flags (gc.set_debug(flags)).
    pub fn set_debug(&self, flags: c_int) -> Result<(), Error> {
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::DebugFlags(flags));
        }
        self.debug.flags.set(flags);
        Ok(())
    }

    /// rcgc_get_debug: the flags (gc.get_debug()).
    pub fn debug_flags(&self) -> c_int {
        self.debug.flags.get()
    }

    /// rcgc_set_debug_output: where output lines go; None for stderr.
    pub fn set_debug_output(&self, sink: rcgc_debug_fn, ctx: *mut c_void) {
        self.debug.output.set((sink, ctx));
    }

    /// Writes `line` to the sink (in phase Reporting) or to stderr.
    fn emit(&self, line: &mut Line) {
        match self.debug.output.get() {
            (Some(sink), ctx) => {
                line.buf[line.len] = 0;
                let outer = self.enter(Phase::Reporting);
                // SAFETY: the user set this sink for this heap; the line is
                // NUL-terminated and outlives the call.
                unsafe { sink(line.buf.as_ptr().cast(), ctx) };
                self.enter(outer);
            }
            (None, _) => {
                line.buf[line.len] = b'\n';
                // Debug output that cannot be written is lost, as in CPython.
                let _ = std::io::stderr().write_all(&line.buf[..=line.len]);
            }
        }
    }

    fn emit_fmt(&self, args: fmt::Arguments<'_>) {
        let mut line = Line::new();
        // A full line only truncates.
        let _ = line.write_fmt(args);
        self.emit(&mut line);
    }

    /// A collection of generations 0..=generation starts: takes the flags
    /// for it and, under RCGC_DEBUG_STATS, writes the opening lines. Called
    /// before the collector looks at anything, since the sink may allocate.
    pub(crate) fn debug_collection_start(&self, generation: usize) {
        let flags = self.debug.flags.get();
        self.debug.in_force.set(flags);
        if flags & STATS == 0 {
            return;
        }
        self.emit_fmt(format_args!("gc: collecting generation {generation}..."));
        let [young, middle, old] = [0, 1, 2].map(|g| self.gc.len(g));
        let permanent = self.gc.freeze_count();
        self.emit_fmt(format_args!("gc: objects in each generation: {young} {middle} {old}"));
        self.emit_fmt(format_args!("gc: objects in permanent generation: {permanent}"));
    }

    /// Under RCGC_DEBUG_COLLECTABLE, writes a line for each object of the
    /// unreachable set, whose entry `i` (NULL for a hole) `at(i)` gives,
    /// reading it afresh after each line since the sink may free objects.
    pub(crate) fn debug_collectable(&self, at: impl Fn(usize) -> Option<*const Header>) {
        if self.debug.in_force.get() & COLLECTABLE == 0 {
            return;
        }
        let mut i = 0;
        while let Some(p) = at(i) {
            i += 1;
            if p.is_null() {
                continue;
            }
            // SAFETY: non-NULL entries of the unreachable set are live objects.
            let h = unsafe { &*p };
            let mut line = Line::new();
            line.push(b"gc: collectable <");
            line.push(h.ty().name().to_bytes());
            let _ = write!(line, " {:#x}>", h.addr());
            self.emit(&mut line);
        }
    }

    /// Whether RCGC_DEBUG_SAVEALL is set: collections keep what they find.
    pub(crate) fn saves_garbage(&self) -> bool {
        self.debug.saves_all()
    }

    /// Under RCGC_DEBUG_SAVEALL, reserves room in the garbage list for the
    /// `room` objects found unreachable. False when it cannot be had.
    pub(crate) fn reserve_garbage(&self, room: usize) -> bool {
        !self.debug.saves_all() || self.debug.with_garbage(|v| v.try_reserve(room).is_ok())
    }

    /// Under RCGC_DEBUG_SAVEALL, appends `h`, with a new reference, to the
    /// garbage list and returns true: the collector must not clear it. The
    /// room was reserved by `reserve_garbage`; without it (which cannot
    /// happen) the object is left uncleared and alive but not listed, as
    /// CPython does when gc.garbage cannot grow.
    pub(crate) fn keeps_garbage(&self, h: &Header) -> bool {
        if !self.debug.saves_all() {
            return false;
        }
        self.debug.with_garbage(|v| {
            debug_assert!(v.len() < v.capacity(), "room was reserved when the set was found");
            if v.len() < v.capacity() {
                incref(h);
                v.push(h);
            }
        });
        true
    }

    /// Under RCGC_DEBUG_STATS, writes the closing line of a collection that
    /// found `found` unreachable objects in `duration_ns`.
    pub(crate) fn debug_collection_done(&self, found: usize, duration_ns: u64) {
        if self.debug.in_force.get() & STATS != 0 {
            // Nothing is uncollectable in rcgc (see the module comment).
            let seconds = duration_ns as f64 / 1e9;
            self.emit_fmt(format_args!(
                "gc: done, {found} unreachable, 0 uncollectable, {seconds:.4}s elapsed"
            ));
        }
    }

    /// A snapshot of the garbage list, in the order objects were saved.
    pub fn garbage(&self) -> Result<Vec<*const Header>, Error> {
        self.check_usable()?;
        self.debug.with_garbage(|v| {
            let mut copy = Vec::new();
            copy.try_reserve_exact(v.len()).map_err(|_| Error::NoMemory)?;
            copy.extend_from_slice(v);
            Ok(copy)
        })
    }

    /// The number of objects in the garbage list (len(gc.garbage)).
    pub fn garbage_count(&self) -> usize {
        self.debug.with_garbage(|v| v.len())
    }

    /// rcgc_clear_garbage: drops the garbage list's references (del
    /// `gc.garbage[:]`). Refused in the middle of a collection, whose room in
    /// the list may be reserved, and from the debug sink.
    pub fn clear_garbage(&self) -> Result<(), Error> {
        if !matches!(
            self.phase(),
            Phase::Idle | Phase::Callbacks | Phase::Freeing | Phase::ShuttingDown
        ) {
            return Err(Error::Reentrant(self.phase().describe()));
        }
        self.check_usable()?;
        self.release_garbage("rcgc_clear_garbage");
        Ok(())
    }

    /// Empties the garbage list, then drops its references (which may run
    /// finalizers and free objects); `func` names the C function for misuse reports.
    pub(crate) fn release_garbage(&self, func: &'static str) {
        let list = self.debug.with_garbage(std::mem::take);
        for &p in &list {
            // SAFETY: the list held a reference to each object, so each is alive.
            decref(unsafe { &*p }, func);
        }
    }

    /// rcgc_heap_free under RCGC_DEBUG_LEAK: reports every object still
    /// alive, a total line and then one line per type, by type name (types
    /// of the same name in address order). Bytes are counted as
    /// rcgc_heap_stats.bytes_in_use counts them.
    pub(crate) fn report_leaks(&self) {
        if self.debug.flags.get() & LEAK != LEAK {
            return;
        }
        let (mut total, mut bytes, mut complete) = (0, 0, true);
        let mut types: Vec<Alive> = Vec::new();
        let mut last = 0;
        let pool = self.pool();
        pool.for_each_live(|h| {
            let size = pool.block_bytes(h);
            total += 1;
            bytes += size;
            let ty: *const Type = h.ty();
            // Objects of one type tend to come together: try the last one first.
            let index = match types.get(last) {
                Some(alive) if alive.ty == ty => Some(last),
                _ => types.iter().position(|alive| alive.ty == ty),
            };
            match index {
                Some(i) => {
                    last = i;
                    types[i].objects += 1;
                    types[i].bytes += size;
                }
                None if types.try_reserve(1).is_ok() => {
                    last = types.len();
                    types.push(Alive {
                        ty,
                        objects: 1,
                        bytes: size,
                    });
                }
                None => complete = false,
            }
        });
        types.sort_by(|a, b| match a.ty().name().cmp(b.ty().name()) {
            Ordering::Equal => a.ty.cmp(&b.ty),
            order => order,
        });
        let saved = self.garbage_count();
        self.emit_fmt(format_args!(
            "gc: still alive at rcgc_heap_free: {total} {}, {bytes} bytes ({saved} in the garbage list)",
            objects(total)
        ));
        for alive in &types {
            let mut line = Line::new();
            line.push(b"gc:   ");
            line.push(alive.ty().name().to_bytes());
            let _ = write!(
                line,
                ": {} {}, {} bytes",
                alive.objects,
                objects(alive.objects),
                alive.bytes
            );
            self.emit(&mut line);
        }
        if !complete {
            self.emit_fmt(format_args!("gc:   (out of memory: some types are not listed)"));
        }
    }
}
