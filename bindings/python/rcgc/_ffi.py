"""Finding librcgc and declaring its C functions for ctypes.

The library is looked up, in this order:

1. ``$RCGC_LIB``: the path of the shared library (an error if it is not a file);
2. next to this package: ``rcgc/librcgc.so`` (a wheel or a copy that bundles it);
3. a source checkout: ``<repo>/target/debug`` and ``<repo>/target/release``, the
   more recently built of the two;
4. the system's search path, as ``ctypes.util.find_library("rcgc")`` sees it
   (after ``make install`` and ``ldconfig``, or with ``LD_LIBRARY_PATH``).
"""

import ctypes
import ctypes.util
import os
import pathlib
import sys

if sys.platform == "darwin":
    LIB_FILE = "librcgc.dylib"
elif sys.platform == "win32":
    LIB_FILE = "rcgc.dll"
else:
    LIB_FILE = "librcgc.so"

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent


def candidates():
    """Every place the library is looked for, in order, as (description, path or None)."""
    env = os.environ.get("RCGC_LIB")
    if env:
        yield "$RCGC_LIB", env
        return
    yield "next to the package", str(PACKAGE_DIR / LIB_FILE)
    repo = PACKAGE_DIR.parents[2] if len(PACKAGE_DIR.parents) > 2 else None
    if repo is not None and (repo / "Cargo.toml").is_file():
        built = [repo / "target" / profile / LIB_FILE for profile in ("debug", "release")]
        built = [p for p in built if p.is_file()]
        built.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for p in built:
            yield f"the checkout's {p.parent.name} build", str(p)
    system = ctypes.util.find_library("rcgc")
    if system:
        yield "the system's library path", system


def find_library():
    """The path (or soname) of the rcgc shared library; OSError naming every place tried."""
    tried = []
    for where, path in candidates():
        if where == "$RCGC_LIB":
            if not os.path.isfile(path):
                raise OSError(f"RCGC_LIB={path!r} is not a file")
            return path
        if where == "the system's library path" or os.path.isfile(path):
            return path
        tried.append(path)
    raise OSError(
        "rcgc: cannot find the rcgc shared library. Set RCGC_LIB to the path of "
        f"{LIB_FILE}, put it next to the package ({PACKAGE_DIR}), run `cargo build` in "
        "the source checkout, or install it (`make install`, then `ldconfig`). Tried: "
        + ", ".join(tried + ["ctypes.util.find_library('rcgc')"])
    )


LIB_PATH = find_library()
# PyDLL keeps the GIL during every call: a heap is used by one thread at a time, and
# callbacks into Python need the GIL anyway.
lib = ctypes.PyDLL(LIB_PATH)

c_void_p, c_size_t, c_int, c_bool, c_char_p = (
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_bool,
    ctypes.c_char_p,
)

VISIT_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
TRAVERSE_FN = ctypes.CFUNCTYPE(None, c_void_p, VISIT_FN, c_void_p)
CLEAR_FN = ctypes.CFUNCTYPE(None, c_void_p)
FINALIZE_FN = ctypes.CFUNCTYPE(None, c_void_p)
DESTROY_FN = ctypes.CFUNCTYPE(None, c_void_p)
MISUSE_FN = ctypes.CFUNCTYPE(None, c_char_p, c_void_p)
REPORT_FN = ctypes.CFUNCTYPE(None)
OBJECT_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
WEAKREF_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
WEAKREF_RELEASE_FN = ctypes.CFUNCTYPE(None, c_void_p)
DEBUG_FN = ctypes.CFUNCTYPE(None, c_char_p, c_void_p)
WRITE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)


class TypeSpec(ctypes.Structure):
    _fields_ = [
        ("name", c_char_p),
        ("size", c_size_t),
        ("traverse", TRAVERSE_FN),
        ("clear", CLEAR_FN),
        ("finalize", FINALIZE_FN),
        ("destroy", DESTROY_FN),
    ]


class Config(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("memory_limit", c_size_t), ("checked", c_bool)]


class Triple(ctypes.Structure):  # rcgc_thresholds and rcgc_counts
    _fields_ = [("gen0", c_size_t), ("gen1", c_size_t), ("gen2", c_size_t)]

    def astuple(self):
        return (self.gen0, self.gen1, self.gen2)


class HeapStatsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("live_objects", c_size_t),
        ("tracked_objects", c_size_t),
        ("bytes_in_use", c_size_t),
        ("peak_bytes", c_size_t),
        ("allocated_total", c_size_t),
        ("freed_total", c_size_t),
    ]


class GenStatsStruct(ctypes.Structure):  # rcgc_gen_stats
    _fields_ = [
        ("struct_size", c_size_t),
        ("collections", c_size_t),
        ("collected", c_size_t),
        ("uncollectable", c_size_t),
        ("candidates", c_size_t),
        ("duration_ns", ctypes.c_uint64),
    ]


class GcInfo(ctypes.Structure):  # rcgc_gc_info
    _fields_ = [
        ("generation", c_int),
        ("collected", c_size_t),
        ("uncollectable", c_size_t),
        ("duration_ns", ctypes.c_uint64),
    ]


GC_CALLBACK_FN = ctypes.CFUNCTYPE(None, c_int, ctypes.POINTER(GcInfo), c_void_p)


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_proto("rcgc_last_error", c_char_p)
_proto("rcgc_last_error_code", c_int)
_proto("rcgc_result_name", c_char_p, c_int)
_proto("rcgc_version", c_char_p)
_proto("rcgc_config_init", None, ctypes.POINTER(Config))
_proto("rcgc_heap_new", c_void_p)
_proto("rcgc_heap_new_with", c_void_p, ctypes.POINTER(Config))
_proto("rcgc_heap_free", None, c_void_p)
_proto("rcgc_heap_get_stats", c_int, c_void_p, ctypes.POINTER(HeapStatsStruct))
_proto("rcgc_set_misuse_handler", None, c_void_p, MISUSE_FN, c_void_p)
_proto("rcgc_type_register", c_int, c_void_p, ctypes.POINTER(TypeSpec), ctypes.POINTER(c_void_p))
_proto(
    "rcgc_type_register_with_refs",
    c_int,
    c_void_p,
    ctypes.POINTER(TypeSpec),
    ctypes.POINTER(c_size_t),
    c_size_t,
    ctypes.POINTER(c_void_p),
)
_proto("rcgc_alloc", c_void_p, c_void_p)
_proto("rcgc_alloc_var", c_void_p, c_void_p, c_size_t)
_proto("rcgc_incref", None, c_void_p)
_proto("rcgc_decref", None, c_void_p)
_proto("rcgc_refcount", c_size_t, c_void_p)
_proto("rcgc_set_ref", None, c_void_p, c_void_p)
_proto("rcgc_clear_ref", None, c_void_p)
_proto("rcgc_type_of", c_void_p, c_void_p)
_proto("rcgc_type_name", c_char_p, c_void_p)
_proto("rcgc_slots_new", c_void_p, c_void_p, c_size_t)
_proto("rcgc_slots_set", c_int, c_void_p, c_size_t, c_void_p)
_proto("rcgc_slots_get", c_void_p, c_void_p, c_size_t)
_proto("rcgc_slots_len", c_size_t, c_void_p)
_proto("rcgc_collect", c_int, c_void_p, c_int, ctypes.POINTER(c_size_t))
_proto("rcgc_get_threshold", Triple, c_void_p)
_proto("rcgc_set_threshold", c_int, c_void_p, c_size_t, c_size_t, c_size_t)
_proto("rcgc_get_count", Triple, c_void_p)
_proto("rcgc_enable", c_int, c_void_p)
_proto("rcgc_disable", c_int, c_void_p)
_proto("rcgc_is_enabled", c_bool, c_void_p)
_proto("rcgc_is_tracked", c_bool, c_void_p)
_proto("rcgc_track", c_int, c_void_p)
_proto("rcgc_untrack", c_int, c_void_p)
_proto("rcgc_get_stats", c_int, c_void_p, c_int, ctypes.POINTER(GenStatsStruct))
_proto("rcgc_add_callback", c_int, c_void_p, GC_CALLBACK_FN, c_void_p)
_proto("rcgc_remove_callback", c_int, c_void_p, GC_CALLBACK_FN, c_void_p)
_proto("rcgc_freeze", c_int, c_void_p)
_proto("rcgc_unfreeze", c_int, c_void_p)
_proto("rcgc_get_freeze_count", c_size_t, c_void_p)
_proto("rcgc_get_objects", c_int, c_void_p, c_int, OBJECT_FN, c_void_p)
_proto("rcgc_get_referrers", c_int, c_void_p, c_void_p, OBJECT_FN, c_void_p)
_proto("rcgc_get_referents", c_int, c_void_p, OBJECT_FN, c_void_p)
_proto("rcgc_is_finalized", c_bool, c_void_p)
_proto("rcgc_weakref_new", c_void_p, c_void_p, c_void_p, c_void_p)  # callback: WEAKREF_FN or None
_proto("rcgc_weakref_new_with_release", c_void_p, c_void_p, c_void_p, c_void_p, c_void_p)  # + WEAKREF_RELEASE_FN
_proto("rcgc_weakref_get", c_void_p, c_void_p)
_proto("rcgc_weakref_get_ref", c_int, c_void_p, ctypes.POINTER(c_void_p))
_proto("rcgc_weakref_count", c_size_t, c_void_p)
_proto("rcgc_is_weakref", c_bool, c_void_p)
_proto("rcgc_set_debug", c_int, c_void_p, c_int)
_proto("rcgc_get_debug", c_int, c_void_p)
_proto("rcgc_set_debug_output", c_int, c_void_p, c_void_p, c_void_p)  # fn: DEBUG_FN or None
_proto("rcgc_get_garbage", c_int, c_void_p, OBJECT_FN, c_void_p)
_proto("rcgc_get_garbage_count", c_size_t, c_void_p)
_proto("rcgc_clear_garbage", c_int, c_void_p)
_proto(
    "rcgc_export_graph", c_int, c_void_p, c_int, ctypes.POINTER(c_void_p), c_size_t, WRITE_FN, c_void_p
)
_proto("rcgc_why_alive", c_int, c_void_p, c_void_p, OBJECT_FN, c_void_p, ctypes.POINTER(c_size_t))
_proto("rcgc_why_alive_text", c_int, c_void_p, c_void_p, WRITE_FN, c_void_p)
