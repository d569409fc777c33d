//! rcgc: CPython's memory manager as a library.
//!
//! A private heap of refcounted objects with CPython 3.11's generational cycle
//! collector, exposed to C through `include/rcgc.h`. The safe-as-possible core is
//! split into one module per concept; `ffi` is the thin C surface above it.
//!
//! - `error`: the stable `rcgc_result` codes, the internal `Error`, the per-thread message.
//! - `header`: the 16-byte object header, its state bits, payload <-> header.
//! - `pool`: the per-heap size-class allocator, which can also walk every live object.
//! - `pages`: memory from the kernel in transparent huge pages (Linux).
//! - `types`: registered object types, their callbacks, declared reference fields.
//! - `heap`: the heap (types, generations, allocator, stats, limits, misuse reports).
//! - `refcount`: incref/decref and the iterative deallocation worklist.
//! - `collector`: generations, thresholds and the cycle-detection algorithm.
//! - `debug`: the debug flags, their output, the garbage list and the leak report.
//! - `slots`: the built-in slots object.
//! - `weakref`: weak references and their table.
//! - `graph`: the heap as a picture (DOT, JSON) and "why is this object alive?".

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod addr_map;
pub mod checked;
pub mod collector;
pub mod debug;
pub mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod ffi;
pub mod graph;
pub mod header;
pub mod heap;
pub mod introspect;
mod pages;
#[doc(hidden)]
pub mod pool;
pub mod refcount;
pub mod slots;
pub mod types;
pub mod weakref;

#[cfg(test)]
mod tests;
