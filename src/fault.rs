//! Fault injection for tests (cargo feature `fault-injection`, never in a
//! release build): makes chosen internal steps panic, to prove that panics
//! stop at the C boundary and that the heap is then refused, not corrupted.

use std::cell::Cell;

/// Where a fault can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// In the middle of a collection, after the candidates were taken out of
    /// their generations.
    Collection,
}

thread_local! {
    static ARMED: Cell<Option<Site>> = const { Cell::new(None) };
}

/// Makes the next pass through `site` on this thread panic.
pub fn arm(site: Site) {
    ARMED.set(Some(site));
}

/// Panics if `site` is armed (and disarms it).
pub fn hit(site: Site) {
    if ARMED.get() == Some(site) {
        ARMED.set(None);
        panic!("fault injected at {site:?}");
    }
}
