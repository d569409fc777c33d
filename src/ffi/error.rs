//! rcgc_last_error, rcgc_last_error_code, rcgc_result_name.

use std::ffi::{c_char, c_int};

use super::macros::ffi_boundary;
use crate::error::{last_error_code, last_error_message, rcgc_result};

/// The message of the last failing rcgc call on the calling thread, naming the
/// function and the offending value, e.g. "rcgc_collect: generation 3 is outside
/// 0..=2"; "no error" if no call has failed. Never NULL. The string is owned by
/// rcgc and valid until the next failing call on the same thread. Successful
/// calls leave it unchanged: test the return code, not the message.
#[unsafe(no_mangle)]
pub extern "C" fn rcgc_last_error() -> *const c_char {
    ffi_boundary!("rcgc_last_error", { Ok(last_error_message()) })
}

/// The code of the last failing rcgc call on the calling thread, RCGC_OK if
/// none has failed.
#[unsafe(no_mangle)]
pub extern "C" fn rcgc_last_error_code() -> rcgc_result {
    ffi_boundary!("rcgc_last_error_code", { Ok(last_error_code()) })
}

/// The name of a result code as a static string, e.g. "RCGC_ERR_NO_MEMORY";
/// "unknown rcgc_result" for a value that is not a code. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn rcgc_result_name(code: c_int) -> *const c_char {
    ffi_boundary!("rcgc_result_name", {
        Ok(rcgc_result::from_raw(code).map_or(c"unknown rcgc_result".as_ptr(), |c| c.name().as_ptr()))
    })
}
