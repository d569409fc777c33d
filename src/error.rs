//! Errors: the stable C result codes, the core's `Error`, and the per-thread
//! last-error message.
//!
//! Messages are written into a fixed per-thread buffer, so reporting an error
//! (including running out of memory) never allocates. Successful calls never
//! touch the slot.

use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::fmt;
use std::io::Write;

/// The result of every rcgc function that can fail.
///
/// Values are stable once released; new codes are only ever appended. Callers
/// must test the code, not the message of rcgc_last_error().
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rcgc_result {
    /// Success.
    RCGC_OK = 0,
    /// A required pointer was NULL.
    RCGC_ERR_NULL_ARGUMENT = 1,
    /// An argument is out of its range: a generation outside 0..=2, a slot index
    /// past the end, an invalid type spec or config.
    RCGC_ERR_INVALID_ARGUMENT = 2,
    /// The system allocator returned nothing.
    RCGC_ERR_NO_MEMORY = 3,
    /// The heap's configured memory limit would be exceeded, even after a full collection.
    RCGC_ERR_MEMORY_LIMIT = 4,
    /// An object or type belongs to another heap.
    RCGC_ERR_WRONG_HEAP = 5,
    /// Not a live object of this heap, or one whose refcount contradicts what
    /// the traverse callbacks report.
    RCGC_ERR_INVALID_OBJECT = 6,
    /// The call is not allowed in the heap's current phase, e.g. rcgc_collect
    /// from inside a callback of a running collection.
    RCGC_ERR_REENTRANT = 7,
    /// An internal bug was caught at the C boundary; the heap is still consistent.
    RCGC_ERR_PANIC = 8,
    /// What was asked for does not exist: rcgc_why_alive found no chain of
    /// references from an object held outside the heap to the object (it is
    /// garbage waiting for a collection).
    RCGC_ERR_NOT_FOUND = 9,
    /// A user callback asked the call to stop: an rcgc_write_fn returned non-zero.
    RCGC_ERR_ABORTED = 10,
}

impl rcgc_result {
    /// Converts a raw code received from C; unknown values give None.
    pub fn from_raw(code: i32) -> Option<Self> {
        use rcgc_result::*;
        Some(match code {
            0 => RCGC_OK,
            1 => RCGC_ERR_NULL_ARGUMENT,
            2 => RCGC_ERR_INVALID_ARGUMENT,
            3 => RCGC_ERR_NO_MEMORY,
            4 => RCGC_ERR_MEMORY_LIMIT,
            5 => RCGC_ERR_WRONG_HEAP,
            6 => RCGC_ERR_INVALID_OBJECT,
            7 => RCGC_ERR_REENTRANT,
            8 => RCGC_ERR_PANIC,
            9 => RCGC_ERR_NOT_FOUND,
            10 => RCGC_ERR_ABORTED,
            _ => return None,
        })
    }

    /// The code's name as a NUL-terminated static string, e.g. "RCGC_ERR_NO_MEMORY".
    pub fn name(self) -> &'static CStr {
        use rcgc_result::*;
        match self {
            RCGC_OK => c"RCGC_OK",
            RCGC_ERR_NULL_ARGUMENT => c"RCGC_ERR_NULL_ARGUMENT",
            RCGC_ERR_INVALID_ARGUMENT => c"RCGC_ERR_INVALID_ARGUMENT",
            RCGC_ERR_NO_MEMORY => c"RCGC_ERR_NO_MEMORY",
            RCGC_ERR_MEMORY_LIMIT => c"RCGC_ERR_MEMORY_LIMIT",
            RCGC_ERR_WRONG_HEAP => c"RCGC_ERR_WRONG_HEAP",
            RCGC_ERR_INVALID_OBJECT => c"RCGC_ERR_INVALID_OBJECT",
            RCGC_ERR_REENTRANT => c"RCGC_ERR_REENTRANT",
            RCGC_ERR_PANIC => c"RCGC_ERR_PANIC",
            RCGC_ERR_NOT_FOUND => c"RCGC_ERR_NOT_FOUND",
            RCGC_ERR_ABORTED => c"RCGC_ERR_ABORTED",
        }
    }
}

/// A type name borrowed from a live type, printable in messages.
#[derive(Clone, Copy, Debug)]
pub struct TypeName(pub &'static CStr);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.to_str().unwrap_or("<non-UTF-8 name>"))
    }
}

/// Everything the core can fail with. Each variant maps to one `rcgc_result`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required pointer argument was NULL.
    #[error("argument `{0}` is NULL")]
    NullArgument(&'static str),
    /// A generation number outside 0..=2.
    #[error("generation {0} is outside 0..=2")]
    Generation(i64),
    /// A generation number outside -1..=2, where -1 means every generation.
    #[error("generation {0} is outside -1..=2 (-1: every generation)")]
    GenerationOrAll(i64),
    /// A type spec that cannot be registered.
    #[error("invalid type spec: {0}")]
    InvalidSpec(&'static str),
    /// rcgc_set_debug flags with bits that are not debug flags.
    #[error(
        "flags {0} ({0:#x}) hold bits that are not RCGC_DEBUG_* flags (those are {known:#x})",
        known = crate::debug::KNOWN_FLAGS
    )]
    DebugFlags(std::ffi::c_int),
    /// A config that cannot be used.
    #[error("invalid config: {0}")]
    InvalidConfig(&'static str),
    /// A struct_size the library cannot accept.
    #[error("struct_size {got} is smaller than {min}, the size of the first version of this struct")]
    StructSize {
        /// What the caller passed.
        got: usize,
        /// The smallest size accepted.
        min: usize,
    },
    /// A payload size smaller than the type's.
    #[error("size {size} is smaller than the size {min} of type {ty}")]
    SizeTooSmall {
        /// Requested payload size.
        size: usize,
        /// The type's payload size.
        min: usize,
        /// The type.
        ty: TypeName,
    },
    /// A size no allocation can satisfy.
    #[error("size {0} exceeds the largest object size")]
    SizeTooLarge(usize),
    /// More slots than the largest object can hold.
    #[error("{0} slots are more than the largest object can hold")]
    TooManySlots(usize),
    /// rcgc_alloc or rcgc_alloc_var with a built-in type, whose objects
    /// have their own constructor.
    #[error("type {ty} is built in: its objects are made by {maker}")]
    BuiltinType {
        /// The type.
        ty: TypeName,
        /// The function that makes its objects.
        maker: &'static str,
    },
    /// A slot index past the end.
    #[error("index {index} is out of range for a slots object of length {len}")]
    SlotIndex {
        /// The index passed.
        index: usize,
        /// The object's number of slots.
        len: usize,
    },
    /// An object of the wrong type for the call.
    #[error("object {addr:#x} has type {ty}, {expected}")]
    WrongType {
        /// The object.
        addr: usize,
        /// Its type.
        ty: TypeName,
        /// What was expected, as a phrase.
        expected: &'static str,
    },
    /// An object from another heap.
    #[error("object {addr:#x} of type {ty} belongs to another heap")]
    WrongHeap {
        /// The object.
        addr: usize,
        /// Its type.
        ty: TypeName,
    },
    /// A pointer checked mode does not know as an object (or type).
    #[error("pointer {addr:#x} is {what}")]
    NotAnObject {
        /// The pointer.
        addr: usize,
        /// What it is instead.
        what: &'static str,
    },
    /// An object that has been freed.
    #[error("object {addr:#x} (type {ty}) has been freed")]
    Dead {
        /// The object.
        addr: usize,
        /// The type it had.
        ty: TypeName,
    },
    /// Traverse reported more references to an object than its refcount.
    #[error(
        "the refcount of object {addr:#x} (type {ty}) is smaller than the references the traverse callbacks report; the collection was abandoned"
    )]
    RefcountTooSmall {
        /// The object.
        addr: usize,
        /// Its type.
        ty: TypeName,
    },
    /// The system allocator failed.
    #[error("out of memory")]
    NoMemory,
    /// The memory limit would be exceeded.
    #[error(
        "allocating {requested} bytes would exceed the memory limit of {limit} bytes ({in_use} in use after a full collection)"
    )]
    MemoryLimit {
        /// Bytes the allocation needs.
        requested: usize,
        /// Bytes in use.
        in_use: usize,
        /// The configured limit.
        limit: usize,
    },
    /// rcgc_remove_callback of a callback that is not registered.
    #[error("that callback and context are not registered")]
    NoSuchCallback,
    /// An earlier internal error left the heap unusable.
    #[error(
        "the heap is unusable: an internal error (a bug in rcgc) interrupted an earlier call; it can only be freed"
    )]
    Poisoned,
    /// The call is not allowed in the heap's current phase.
    #[error("not allowed while the heap is {0}")]
    Reentrant(&'static str),
    /// A NULL element of an array of objects.
    #[error("roots[{0}] is NULL")]
    NullRoot(usize),
    /// A graph format that does not exist.
    #[error("format {0} is neither RCGC_GRAPH_DOT (0) nor RCGC_GRAPH_JSON (1)")]
    GraphFormat(i64),
    /// No chain of references leads to the object from one held outside the heap.
    #[error(
        "object {addr:#x} (type {ty}) is not reachable from any object held outside the heap: it is garbage waiting for a collection"
    )]
    NotReachable {
        /// The object.
        addr: usize,
        /// Its type.
        ty: TypeName,
    },
    /// A write callback returned non-zero.
    #[error("the write callback returned {0}; the output is incomplete")]
    WriteFailed(i64),
}

impl Error {
    /// The C code for this error.
    pub fn code(&self) -> rcgc_result {
        use rcgc_result::*;
        match self {
            Error::NullArgument(_) | Error::NullRoot(_) => RCGC_ERR_NULL_ARGUMENT,
            Error::Generation(_)
            | Error::GenerationOrAll(_)
            | Error::GraphFormat(_)
            | Error::InvalidSpec(_)
            | Error::InvalidConfig(_)
            | Error::DebugFlags(_)
            | Error::StructSize { .. }
            | Error::SizeTooSmall { .. }
            | Error::SizeTooLarge(_)
            | Error::TooManySlots(_)
            | Error::BuiltinType { .. }
            | Error::SlotIndex { .. }
            | Error::WrongType { .. }
            | Error::NoSuchCallback => RCGC_ERR_INVALID_ARGUMENT,
            Error::WrongHeap { .. } => RCGC_ERR_WRONG_HEAP,
            Error::RefcountTooSmall { .. } | Error::Dead { .. } | Error::NotAnObject { .. } => RCGC_ERR_INVALID_OBJECT,
            Error::NoMemory => RCGC_ERR_NO_MEMORY,
            Error::MemoryLimit { .. } => RCGC_ERR_MEMORY_LIMIT,
            Error::Reentrant(_) => RCGC_ERR_REENTRANT,
            Error::Poisoned => RCGC_ERR_PANIC,
            Error::NotReachable { .. } => RCGC_ERR_NOT_FOUND,
            Error::WriteFailed(_) => RCGC_ERR_ABORTED,
        }
    }
}

/// Room for one message; longer messages are truncated.
const MESSAGE_CAPACITY: usize = 512;

struct LastError {
    code: rcgc_result,
    len: usize,
    buf: [u8; MESSAGE_CAPACITY],
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError { code: rcgc_result::RCGC_OK, len: 0, buf: [0; MESSAGE_CAPACITY] })
    };
}

/// Records `message` (formatted into the per-thread buffer, truncated to fit,
/// without allocating) as this thread's last error.
pub fn set_last_error(code: rcgc_result, message: fmt::Arguments<'_>) {
    let _ = LAST_ERROR.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        let mut cursor = std::io::Cursor::new(&mut slot.buf[..MESSAGE_CAPACITY - 1]);
        // A full buffer only truncates the message.
        let _ = cursor.write_fmt(message);
        let mut len = cursor.position() as usize;
        // Interior NULs would cut the C string short; keep the text readable instead.
        for byte in &mut slot.buf[..len] {
            if *byte == 0 {
                *byte = b'?';
            }
        }
        // Never end in the middle of a UTF-8 sequence.
        while len > 0 && std::str::from_utf8(&slot.buf[..len]).is_err() {
            len -= 1;
        }
        slot.buf[len] = 0;
        slot.len = len;
        slot.code = code;
    });
}

/// Records `error`, raised by the C function `func`, as this thread's last error.
pub fn record(func: &str, error: &Error) {
    set_last_error(error.code(), format_args!("{func}: {error}"));
}

/// The last error's code on this thread (RCGC_OK when none).
pub fn last_error_code() -> rcgc_result {
    LAST_ERROR
        .try_with(|slot| slot.borrow().code)
        .unwrap_or(rcgc_result::RCGC_OK)
}

/// The last error's message, valid until the next failing call on this thread.
pub fn last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| {
            let slot = slot.borrow();
            if slot.code == rcgc_result::RCGC_OK {
                c"no error".as_ptr()
            } else {
                slot.buf.as_ptr().cast::<c_char>()
            }
        })
        .unwrap_or(c"no error".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_truncated_on_a_character_boundary() {
        let long = "é".repeat(400);
        set_last_error(rcgc_result::RCGC_ERR_INVALID_ARGUMENT, format_args!("{long}"));
        // SAFETY: the pointer refers to this thread's NUL-terminated buffer.
        let text = unsafe { CStr::from_ptr(last_error_message()) }
            .to_str()
            .expect("valid UTF-8");
        assert_eq!(text.len(), 510);
        assert_eq!(last_error_code(), rcgc_result::RCGC_ERR_INVALID_ARGUMENT);
    }

    #[test]
    fn every_code_round_trips() {
        for raw in 0..=10 {
            let code = rcgc_result::from_raw(raw).expect("known code");
            assert_eq!(code as i32, raw);
            assert!(code.name().to_str().unwrap().starts_with("RCGC_"));
        }
        assert_eq!(rcgc_result::from_raw(11), None);
        assert_eq!(rcgc_result::from_raw(-1), None);
    }
}
