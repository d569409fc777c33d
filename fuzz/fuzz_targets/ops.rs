//! Bytes as an operation sequence against the model of tests/common/model.rs
//! (issue 3, item 8): allocations of Nodes (with finalizers that resurrect,
//! drop references or make weak references) and slots objects, stores, increfs
//! and decrefs, collections of each generation, thresholds, enable and disable,
//! weak references (made with or without a callback, read, dropped). After every operation the heap must
//! agree with the model (live set, refcounts, generations, counts, collect
//! results, resurrections, weak references and their callbacks); any
//! disagreement panics, which libFuzzer reports as a crash with the input that
//! caused it.
//!
//! Run (nightly toolchain and cargo-fuzz): `cd fuzz && cargo +nightly fuzz run ops`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tests/common/model.rs"]
mod model;

/// Longer inputs only slow the fuzzer down (every operation checks every object).
const MAX_OPS: usize = 300;

fuzz_target!(|data: &[u8]| {
    let (config, mut ops) = model::decode(data);
    ops.truncate(MAX_OPS);
    model::run(&config, &ops, false);
});
