//! rcgc_version.

use std::ffi::c_char;

use super::macros::ffi_boundary;

/// The library's version as a static string "MAJOR.MINOR.PATCH", equal to the
/// RCGC_VERSION_MAJOR/MINOR/PATCH macros of the header it was built with.
#[unsafe(no_mangle)]
pub extern "C" fn rcgc_version() -> *const c_char {
    ffi_boundary!("rcgc_version", {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
}
