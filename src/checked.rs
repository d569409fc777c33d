//! Checked mode (rcgc_config.checked): every object and type pointer passed to
//! the C API is looked up before it is used.
//!
//! - A process-wide registry maps the address of every object and type of a
//!   checked heap to its record. It is only consulted while at least one
//!   checked heap exists, so programs without one pay a relaxed atomic load per
//!   call. It is global because an object pointer alone (rcgc_incref) does not
//!   say which heap it belongs to.
//! - Freed objects of a checked heap are quarantined: their blocks are never
//!   reused until the heap is freed, so a stale pointer is still recognised,
//!   with the type it had.
//! - A pointer no checked heap knows is rejected when every live heap is
//!   checked; while unchecked heaps exist it may be one of theirs, and is used
//!   unchecked.
//! - Each call that reaches a checked heap enters it for the call's duration;
//!   a second thread entering while the first is inside is misuse.

use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::addr_map::AddrMap;
use crate::error::Error;
use crate::header::Header;
use crate::heap::Heap;
use crate::types::Type;

/// Live heaps, and live checked heaps.
static HEAPS: AtomicUsize = AtomicUsize::new(0);
static CHECKED_HEAPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy)]
enum Record {
    /// A live object of `heap`.
    Object { heap: *const Heap },
    /// A freed (quarantined) object that had type `ty`.
    Freed { heap: *const Heap, ty: *const Type },
    /// A type of `heap`.
    Type { heap: *const Heap },
}

// SAFETY: a record's pointers are only dereferenced while their heap lives
// (a heap removes its records before it goes), by the thread using that
// heap; the registry's lock orders every access to the records themselves.
unsafe impl Send for Record {}

type Map = AddrMap<Record>;

static REGISTRY: Mutex<Option<Map>> = Mutex::new(None);

fn registry<R>(f: impl FnOnce(&mut Map) -> R) -> R {
    // A panic while the lock is held cannot leave a record half-written.
    let mut guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Map::default))
}

/// Whether any checked heap exists.
#[inline(always)]
pub fn active() -> bool {
    CHECKED_HEAPS.load(Ordering::Relaxed) != 0
}

/// A heap was created.
pub fn heap_created(checked: bool) {
    HEAPS.fetch_add(1, Ordering::Relaxed);
    if checked {
        CHECKED_HEAPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A heap is gone: its records go too.
pub fn heap_freed(heap: &Heap) {
    HEAPS.fetch_sub(1, Ordering::Relaxed);
    if heap.checked().is_some() {
        let me: *const Heap = heap;
        registry(|r| {
            r.retain(|_, record| match *record {
                Record::Object { heap } | Record::Freed { heap, .. } | Record::Type { heap } => heap != me,
            })
        });
        CHECKED_HEAPS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Records a new object or type (fallibly: a full registry is out of memory).
pub fn register_object(heap: &Heap, h: &Header) -> Result<(), Error> {
    insert(
        h.payload() as usize,
        Record::Object {
            heap: ptr::from_ref(heap),
        },
    )
}

/// Records a new type.
pub fn register_type(heap: &Heap, ty: &Type) -> Result<(), Error> {
    insert(
        ty as *const Type as usize,
        Record::Type {
            heap: ptr::from_ref(heap),
        },
    )
}

fn insert(addr: usize, record: Record) -> Result<(), Error> {
    registry(|r| {
        r.try_reserve(1).map_err(|_| Error::NoMemory)?;
        r.insert(addr, record);
        Ok(())
    })
}

/// Forgets an object that was never handed out.
pub fn unregister(addr: usize) {
    registry(|r| r.remove(&addr));
}

/// The heap a registered pointer belongs (or belonged) to.
pub fn heap_of(addr: usize) -> Option<*const Heap> {
    registry(|r| match r.get(&addr).copied()? {
        Record::Object { heap } | Record::Freed { heap, .. } | Record::Type { heap } => Some(heap),
    })
}

/// Records that an object was freed (its block is quarantined).
pub fn object_freed(heap: &Heap, h: &Header) {
    let record = Record::Freed {
        heap: ptr::from_ref(heap),
        ty: ptr::from_ref(h.ty()),
    };
    // The record exists (inserted at allocation), so this never allocates.
    registry(|r| {
        if let Some(slot) = r.get_mut(&(h.payload() as usize)) {
            *slot = record;
        }
    });
}

/// What checked mode knows of a pointer.
pub enum Known {
    /// Nothing: use it unchecked (unchecked heaps exist).
    Unchecked,
    /// A live object or type of a checked heap.
    Live(*const Heap),
}

/// Validates an object pointer.
#[cold]
#[inline(never)]
pub fn object(addr: usize) -> Result<Known, Error> {
    match registry(|r| r.get(&addr).copied()) {
        Some(Record::Object { heap }) => Ok(Known::Live(heap)),
        Some(Record::Freed { ty, .. }) => {
            // SAFETY: types live as long as their heap, whose records exist.
            let ty = unsafe { &*ty };
            Err(Error::Dead {
                addr,
                ty: ty.display_name(),
            })
        }
        Some(Record::Type { .. }) => Err(Error::NotAnObject {
            addr,
            what: "a type, not an object",
        }),
        None => unknown(addr, "not an object of any heap"),
    }
}

/// Validates a type pointer.
#[cold]
#[inline(never)]
pub fn type_ptr(addr: usize) -> Result<Known, Error> {
    match registry(|r| r.get(&addr).copied()) {
        Some(Record::Type { heap }) => Ok(Known::Live(heap)),
        Some(_) => Err(Error::NotAnObject {
            addr,
            what: "an object, not a type",
        }),
        None => unknown(addr, "not a type of any heap"),
    }
}

fn unknown(addr: usize, what: &'static str) -> Result<Known, Error> {
    if HEAPS.load(Ordering::Relaxed) == CHECKED_HEAPS.load(Ordering::Relaxed) {
        Err(Error::NotAnObject { addr, what })
    } else {
        Ok(Known::Unchecked)
    }
}

/// The per-heap state checked mode keeps: which thread is inside, how deep.
#[derive(Default)]
pub struct Owner {
    thread: AtomicU64,
    depth: AtomicUsize,
}

fn this_thread() -> u64 {
    thread_local! { static ID: u8 = const { 0 } }
    ID.with(|id| id as *const u8 as u64)
}

thread_local! {
    /// Heaps this thread entered in the calls now running, innermost last.
    static ENTERED: std::cell::RefCell<Vec<*const Heap>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Enters `heap` for the rest of the current C API call. Another thread
/// inside the same heap is reported to the misuse handler.
#[cold]
#[inline(never)]
pub fn enter(heap: &Heap) {
    let Some(owner) = heap.checked() else { return };
    let me = this_thread();
    if owner.depth.fetch_add(1, Ordering::AcqRel) == 0 {
        owner.thread.store(me, Ordering::Release);
    } else {
        let other = owner.thread.load(Ordering::Acquire);
        if other != me {
            heap.misuse(format_args!(
                "heap {:#x} is used by two threads at once (a heap belongs to one thread at a time)",
                heap as *const Heap as usize
            ));
        }
    }
    let _ = ENTERED.try_with(|e| e.borrow_mut().push(heap));
}

/// Where the current call's entries start (see `leave_to`).
#[cold]
#[inline(never)]
pub fn mark() -> usize {
    ENTERED.try_with(|e| e.borrow().len()).unwrap_or(0)
}

/// Leaves every heap entered since `mark`.
#[cold]
#[inline(never)]
pub fn leave_to(mark: usize) {
    let _ = ENTERED.try_with(|e| {
        let mut e = e.borrow_mut();
        while e.len() > mark {
            let heap = e.pop().expect("len > mark");
            // SAFETY: a heap entered during this call is alive until it returns,
            // except one freed by the call, which was removed (`forget`).
            if let Some(owner) = unsafe { &*heap }.checked() {
                owner.depth.fetch_sub(1, Ordering::AcqRel);
            }
        }
    });
}

/// Drops this thread's entries for a heap about to be freed.
pub fn forget(heap: &Heap) {
    let me = heap as *const Heap;
    let _ = ENTERED.try_with(|e| e.borrow_mut().retain(|&h| h != me));
}
