//! The C boundary: every exported function's body runs inside `ffi_boundary!`,
//! which catches panics and maps errors to a code plus the per-thread message.
//!
//! cbindgen cannot expand macros on stable Rust, so each export is written out
//! as `#[unsafe(no_mangle)] pub unsafe extern "C" fn` and its whole body is one
//! `ffi_boundary!` call; a test (tests/c_api.rs) fails if any export is not.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, rcgc_result, record, set_last_error};

/// What an exported function returns when it fails: its neutral value.
pub trait Outcome {
    /// The value returned for a failure with `code`.
    fn on_error(code: rcgc_result) -> Self;
}

impl Outcome for rcgc_result {
    fn on_error(code: rcgc_result) -> Self {
        code
    }
}

impl<T> Outcome for *mut T {
    fn on_error(_: rcgc_result) -> Self {
        std::ptr::null_mut()
    }
}

impl<T> Outcome for *const T {
    fn on_error(_: rcgc_result) -> Self {
        std::ptr::null()
    }
}

impl Outcome for bool {
    fn on_error(_: rcgc_result) -> Self {
        false
    }
}

impl Outcome for usize {
    fn on_error(_: rcgc_result) -> Self {
        0
    }
}

impl Outcome for std::ffi::c_int {
    fn on_error(_: rcgc_result) -> Self {
        0
    }
}

impl Outcome for () {
    fn on_error(_: rcgc_result) -> Self {}
}

/// Runs an exported function's body: returns its value, or records the error
/// (or the caught panic) as the last error and returns the neutral value.
#[inline(always)]
pub fn run<T: Outcome>(name: &'static str, body: impl FnOnce() -> Result<T, Error>) -> T {
    if crate::checked::active() {
        run_checked(name, body)
    } else {
        run_plain(name, body)
    }
}

/// `run` for rcgc_incref and rcgc_decref, whose bodies take checked mode's
/// out-of-line path themselves (and enter and leave heaps there), so the
/// unchecked fast path reads the checked-heap count once.
#[inline(always)]
pub fn run_plain<T: Outcome>(name: &'static str, body: impl FnOnce() -> Result<T, Error>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => failed(name, &error),
        Err(payload) => panicked(name, payload),
    }
}

/// Checked mode: the heaps the call enters are left when it returns.
#[inline(never)]
fn run_checked<T: Outcome>(name: &'static str, body: impl FnOnce() -> Result<T, Error>) -> T {
    let mark = crate::checked::mark();
    let value = run_plain(name, body);
    crate::checked::leave_to(mark);
    value
}

#[cold]
#[inline(never)]
fn failed<T: Outcome>(name: &'static str, error: &Error) -> T {
    record(name, error);
    T::on_error(error.code())
}

#[cold]
#[inline(never)]
fn panicked<T: Outcome>(name: &'static str, payload: Box<dyn Any + Send>) -> T {
    record_panic(name, payload.as_ref());
    T::on_error(rcgc_result::RCGC_ERR_PANIC)
}

#[cold]
fn record_panic(name: &str, payload: &(dyn Any + Send)) {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown cause");
    set_last_error(
        rcgc_result::RCGC_ERR_PANIC,
        format_args!("{name}: internal error (a bug in rcgc): {what}"),
    );
}

/// Defines the body of an exported function: `ffi_boundary!("rcgc_x", { ... Ok(v) })`.
/// `ffi_boundary!("rcgc_x", handles_checked_mode, { ... })` is for bodies that
/// enter checked heaps themselves (see `run_plain`).
macro_rules! ffi_boundary {
    ($name:literal, $body:block) => {
        $crate::ffi::macros::run($name, || -> ::core::result::Result<_, $crate::error::Error> { $body })
    };
    ($name:literal, handles_checked_mode, $body:block) => {
        $crate::ffi::macros::run_plain($name, || -> ::core::result::Result<_, $crate::error::Error> { $body })
    };
}

pub(crate) use ffi_boundary;
