"""rcgc from Python: a private heap of refcounted objects with CPython's cycle collector.

Pure Python over ctypes; the shared library is found as ``rcgc._ffi`` describes
(``$RCGC_LIB``, next to the package, a source checkout's ``target/``, the system).

>>> import rcgc
>>> heap = rcgc.Heap()
>>> a, b = heap.slots(1), heap.slots(1)
>>> a[0], b[0] = b, a          # a 2-cycle
>>> del a, b                   # the handles' references go; the cycle stays
>>> heap.collect()
2

Every handle (``Object`` and its subclasses ``Slots`` and ``Struct``) holds exactly
one rcgc reference, dropped when the handle is garbage (or by ``handle.drop()``):
Python code cannot leak or double-free rcgc objects. Reading a slot or a
reference field gives a new handle, with a reference of its own; ``new_ref()``
gives a second handle to the same object. Handles keep their heap alive;
``Heap.close()`` (or the end of a ``with`` block) frees everything at once, after
which every handle of that heap refuses to be used.
"""

import collections
import ctypes
import sys
import warnings
import weakref

from . import _ffi
from ._ffi import lib

__all__ = [
    "Heap",
    "Object",
    "Slots",
    "Struct",
    "Ref",
    "WeakRef",
    "ref",
    "getweakrefcount",
    "GarbageList",
    "HeapStats",
    "DEBUG_STATS",
    "DEBUG_COLLECTABLE",
    "DEBUG_UNCOLLECTABLE",
    "DEBUG_SAVEALL",
    "DEBUG_LEAK",
    "Error",
    "NullArgumentError",
    "InvalidArgumentError",
    "NoMemoryError",
    "MemoryLimitError",
    "WrongHeapError",
    "InvalidObjectError",
    "ReentrantError",
    "PanicError",
    "NotFoundError",
    "AbortedError",
    "SlotIndexError",
    "InvalidHandleError",
    "library_version",
    "lib",
]

__version__ = "0.1.0"

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class Error(Exception):
    """A failed rcgc call: ``code`` (the rcgc_result value), ``name`` (e.g.
    "RCGC_ERR_INVALID_ARGUMENT") and ``message`` (rcgc_last_error(), which names the
    function and the offending value)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.name = lib.rcgc_result_name(code).decode()
        self.message = message


class NullArgumentError(Error, ValueError):
    """RCGC_ERR_NULL_ARGUMENT"""


class InvalidArgumentError(Error, ValueError):
    """RCGC_ERR_INVALID_ARGUMENT"""


class NoMemoryError(Error, MemoryError):  # noqa: A001 - rcgc's name for the code
    """RCGC_ERR_NO_MEMORY"""


class MemoryLimitError(Error, MemoryError):
    """RCGC_ERR_MEMORY_LIMIT: the heap's memory_limit, even after a full collection."""


class WrongHeapError(Error, ValueError):
    """RCGC_ERR_WRONG_HEAP"""


class InvalidObjectError(Error, ValueError):
    """RCGC_ERR_INVALID_OBJECT"""


class ReentrantError(Error, RuntimeError):
    """RCGC_ERR_REENTRANT, e.g. collect() from inside a callback."""


class PanicError(Error, SystemError):
    """RCGC_ERR_PANIC: a bug inside rcgc, caught at its C boundary."""


class NotFoundError(Error, LookupError):
    """RCGC_ERR_NOT_FOUND: what was asked for does not exist. Heap.why_alive answers
    None instead of raising it."""


class AbortedError(Error, RuntimeError):
    """RCGC_ERR_ABORTED: an output callback asked the call to stop. The package's own
    output callbacks only stop on an exception, which is raised instead."""


class SlotIndexError(InvalidArgumentError, IndexError):
    """A slot index out of range (RCGC_ERR_INVALID_ARGUMENT, and an IndexError)."""


class InvalidHandleError(ValueError):
    """A handle that can no longer be used: its heap is closed, it was dropped, or it
    is the borrowed ``self`` of a callback that has returned."""


_ERRORS = {
    1: NullArgumentError,
    2: InvalidArgumentError,
    3: NoMemoryError,
    4: MemoryLimitError,
    5: WrongHeapError,
    6: InvalidObjectError,
    7: ReentrantError,
    8: PanicError,
    9: NotFoundError,
    10: AbortedError,
}


def _last_error(cls=None):
    code = lib.rcgc_last_error_code()
    message = lib.rcgc_last_error().decode(errors="replace")
    return (cls or _ERRORS.get(code, Error))(code, message)


def _check(code):
    if code != 0:
        raise _ERRORS.get(code, Error)(code, lib.rcgc_last_error().decode(errors="replace"))


def _report_unraisable(exc):
    """Reports `exc` the way ctypes reports an exception leaving a callback (through
    sys.unraisablehook), for callbacks that go on after one of theirs failed."""

    def reraise():
        raise exc

    _ffi.REPORT_FN(reraise)()


def library_version():
    """The loaded library's version, e.g. "0.1.0" (rcgc_version())."""
    return lib.rcgc_version().decode()


# ---------------------------------------------------------------------------
# The heap
# ---------------------------------------------------------------------------

HeapStats = collections.namedtuple(
    "HeapStats",
    "live_objects tracked_objects bytes_in_use peak_bytes allocated_total freed_total",
)

# gc.DEBUG_* (rcgc_debug_flag), with CPython's values.
DEBUG_STATS = 1
DEBUG_COLLECTABLE = 2
DEBUG_UNCOLLECTABLE = 4
DEBUG_SAVEALL = 32
DEBUG_LEAK = DEBUG_COLLECTABLE | DEBUG_UNCOLLECTABLE | DEBUG_SAVEALL

_GRAPH_FORMATS = {"dot": 0, "json": 1}  # rcgc_graph_format

# Handle modes: an owning handle holds a reference; a borrowed one is the `self` of
# a callback; a traverse one is the `self` of traverse (no rcgc call but visit).
# destroy's self is borrowed too, but cannot be kept: the memory goes right after.
_OWNED, _BORROWED, _TRAVERSE, _DESTROY, _DEAD = range(5)


class _State:
    """What the C callbacks need: everything of a Heap but the Heap object itself
    (so that dropping the last Heap reference frees the heap at once)."""

    def __init__(self, ptr, heap):
        self.ptr = ptr
        self.heap_ref = weakref.ref(heap)
        self.closing_heap = None  # the Heap, while close() runs
        self.classes = {}  # rcgc_type* -> handle class
        self.types = {}  # Struct subclass -> rcgc_type*
        self.keepalive = []  # ctypes callbacks, alive as long as the heap
        self.callback_errors = []
        self.misuse_reports = []
        self.gc_callbacks = None  # Heap.callbacks, once asked for
        self.debug_sink = None  # the DEBUG_FN given to rcgc_set_debug_output
        self.debug_write = None  # Heap.set_debug_output's callable; None: sys.stderr
        self.weakref_fn = None  # the WEAKREF_FN every weak reference callback goes through
        self.weakref_release = None  # the WEAKREF_RELEASE_FN that lets go of a callback
        self.weakref_callbacks = {}  # ctx -> the Python callback of one weak reference
        self.next_ctx = 1

    def heap(self):
        """The Heap object, for handles made inside callbacks (None if it is being
        collected by Python's gc: the handles still work, through this state)."""
        return self.closing_heap or self.heap_ref()

    def check_open(self):
        if not self.ptr:
            raise InvalidHandleError("rcgc: the heap is closed")
        return self.ptr

    def class_of(self, ptr):
        t = lib.rcgc_type_of(ptr)
        cls = self.classes.get(t)
        if cls is None:
            name = lib.rcgc_type_name(t)
            cls = {b"rcgc.slots": Slots, b"rcgc.weakref": WeakRef}.get(name, Object)
            self.classes[t] = cls
        return cls

    def wrap_new(self, heap, ptr, cls=None):
        """An owning handle for a new reference the caller passes on."""
        h = object.__new__(cls or self.class_of(ptr))
        _init_handle(h, self, heap, ptr, _OWNED)
        return h

    def wrap_borrowed(self, heap, ptr):
        """An owning handle for a borrowed pointer (increfs)."""
        if not ptr:
            return None
        h = object.__new__(self.class_of(ptr))
        lib.rcgc_incref(ptr)
        _init_handle(h, self, heap, ptr, _OWNED)
        return h


def _init_handle(h, st, heap, ptr, mode):
    object.__setattr__(h, "_st", st)
    object.__setattr__(h, "_heap", heap)
    object.__setattr__(h, "_ptr", ptr)
    object.__setattr__(h, "_mode", mode)


def _run_gc_callbacks(st, phase, info_ptr):
    """The one rcgc gc callback of a heap: calls Heap.callbacks in order, as CPython's
    invoke_gc_callback does (by index, so a callback may modify the list)."""
    callbacks = st.gc_callbacks
    if not callbacks:
        return
    c = info_ptr.contents
    info = {"generation": c.generation, "collected": c.collected, "uncollectable": c.uncollectable}
    if phase == 1:  # RCGC_GC_STOP
        info["duration"] = c.duration_ns / 1e9
    name = "start" if phase == 0 else "stop"
    i = 0
    while i < len(callbacks):
        cb = callbacks[i]
        try:
            cb(name, info)
        except BaseException as e:  # noqa: BLE001 - reported; the next callback runs
            st.callback_errors.append(e)
            _report_unraisable(e)
        i += 1


def _write_text(call):
    """Runs call(write), write being a WRITE_FN that gathers the output; returns (the
    result code, the text). An exception in write stops the output (the C call then
    returns RCGC_ERR_ABORTED) and is raised here instead."""
    chunks, errors = [], []

    def write(data, n, _ctx):
        try:
            chunks.append(ctypes.string_at(data, n))
        except BaseException as e:  # noqa: BLE001 - raised after the C call
            errors.append(e)
            return 1
        return 0

    code = call(_ffi.WRITE_FN(write))
    if errors:
        raise errors[0]
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def _without_own_ref(h, call):
    """call() with the reference of the handle h left out of obj's refcount (dropped
    and taken back; obj stays alive, since something else holds it too). None without
    calling when h's reference is all that holds obj."""
    ptr = h._ptr
    if h._mode != _OWNED:
        return call()  # a borrowed self owns no reference
    if lib.rcgc_refcount(ptr) == 1:
        return None
    lib.rcgc_decref(ptr)
    try:
        return call()
    finally:
        lib.rcgc_incref(ptr)


class Heap:
    """A private rcgc heap, with Python's gc module as methods.

    ``Heap(memory_limit=0, checked=False)``: thresholds (700, 10, 10), automatic
    collection on; a non-zero ``memory_limit`` caps the bytes the heap may hold;
    ``checked=True`` asks for rcgc's checked mode (every pointer validated; an
    InvalidArgumentError from a library without it). Use it as a context
    manager, or call ``close()``, to free every object at a known point; otherwise
    the heap goes when the Heap and its last handle are garbage.
    """

    def __init__(self, memory_limit=0, checked=False):
        if memory_limit or checked:
            config = _ffi.Config()
            lib.rcgc_config_init(ctypes.byref(config))
            config.memory_limit = memory_limit
            config.checked = checked
            ptr = lib.rcgc_heap_new_with(ctypes.byref(config))
        else:
            ptr = lib.rcgc_heap_new()
        if not ptr:
            raise _last_error()
        st = self._st = _State(ptr, self)

        def misuse(message, _ctx):
            text = message.decode(errors="replace")
            st.misuse_reports.append(text)
            warnings.warn(f"rcgc misuse (ignored): {text}", RuntimeWarning, stacklevel=2)

        handler = _ffi.MISUSE_FN(misuse)
        st.keepalive.append(handler)
        lib.rcgc_set_misuse_handler(ptr, handler, None)

    # -- lifetime ------------------------------------------------------------

    def close(self):
        """Frees the heap and every object on it (rcgc_heap_free): finalizers run,
        then clear and destroy, like interpreter shutdown. Idempotent."""
        st = self._st
        if not st.ptr or st.closing_heap is not None:
            return  # closed, or close() called from a callback of the closing heap
        st.closing_heap = self
        try:
            lib.rcgc_heap_free(st.ptr)  # callbacks run; their handles still work
        finally:
            st.ptr = None
            st.closing_heap = None
            st.keepalive.clear()  # breaks the callbacks' cycles through st
            st.weakref_callbacks.clear()

    @property
    def closed(self):
        return not self._st.ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self):
        state = "closed" if self.closed else f"at {self._st.ptr:#x}"
        return f"<rcgc.Heap {state}>"

    # -- the gc module -------------------------------------------------------

    def collect(self, generation=2):
        """gc.collect(generation): the number of unreachable objects found."""
        found = ctypes.c_size_t()
        _check(lib.rcgc_collect(self._st.check_open(), generation, ctypes.byref(found)))
        return found.value

    def get_threshold(self):
        """gc.get_threshold(): (gen0, gen1, gen2)."""
        return lib.rcgc_get_threshold(self._st.check_open()).astuple()

    def set_threshold(self, threshold0, threshold1=None, threshold2=None):
        """gc.set_threshold(threshold0[, threshold1[, threshold2]]); omitted ones keep
        their value, and threshold0 = 0 turns automatic collection off."""
        ptr = self._st.check_open()
        _, t1, t2 = lib.rcgc_get_threshold(ptr).astuple()
        t1 = t1 if threshold1 is None else threshold1
        t2 = t2 if threshold2 is None else threshold2
        for t in (threshold0, t1, t2):
            if t < 0:
                raise ValueError(f"rcgc: a threshold cannot be negative ({t})")
        _check(lib.rcgc_set_threshold(ptr, threshold0, t1, t2))

    def get_count(self):
        """gc.get_count(): (gen0, gen1, gen2)."""
        return lib.rcgc_get_count(self._st.check_open()).astuple()

    def enable(self):
        """gc.enable()"""
        _check(lib.rcgc_enable(self._st.check_open()))

    def disable(self):
        """gc.disable(); collect() still works."""
        _check(lib.rcgc_disable(self._st.check_open()))

    def is_enabled(self):
        """gc.isenabled()"""
        return bool(lib.rcgc_is_enabled(self._st.check_open()))

    isenabled = is_enabled

    def is_tracked(self, obj):
        """gc.is_tracked(obj)"""
        return bool(lib.rcgc_is_tracked(self._own(obj)))

    def stats(self):
        """rcgc_heap_get_stats as a HeapStats named tuple."""
        s = _ffi.HeapStatsStruct()
        s.struct_size = ctypes.sizeof(s)
        _check(lib.rcgc_heap_get_stats(self._st.check_open(), ctypes.byref(s)))
        return HeapStats(*(getattr(s, f) for f in HeapStats._fields))

    def get_stats(self):
        """gc.get_stats(): one dict per generation with "collections", "collected" and
        "uncollectable", plus CPython 3.15's "candidates" (objects examined) and
        "duration" (seconds), cumulative since the heap was created."""
        ptr = self._st.check_open()
        out = []
        for generation in range(3):
            s = _ffi.GenStatsStruct()
            s.struct_size = ctypes.sizeof(s)
            _check(lib.rcgc_get_stats(ptr, generation, ctypes.byref(s)))
            out.append(
                {
                    "collections": s.collections,
                    "collected": s.collected,
                    "uncollectable": s.uncollectable,
                    "candidates": s.candidates,
                    "duration": s.duration_ns / 1e9,
                }
            )
        return out

    @property
    def callbacks(self):
        """gc.callbacks: a list of callables called as ``cb(phase, info)`` before
        (phase "start") and after ("stop") every collection of this heap, automatic or
        explicit. info is a dict with "generation", "collected" and "uncollectable" (0
        at "start"), and at "stop" also "duration" (seconds). Modify the list in place
        (append, remove, ...); do not rebind it. An exception in a callback is reported
        as unraisable, kept in ``callback_errors``, and the next callback still runs."""
        st = self._st
        if st.gc_callbacks is None:
            ptr = st.check_open()
            fn = _ffi.GC_CALLBACK_FN(lambda phase, info, _ctx: _run_gc_callbacks(st, phase, info))
            _check(lib.rcgc_add_callback(ptr, fn, None))
            st.keepalive.append(fn)
            st.gc_callbacks = []
        return st.gc_callbacks

    def freeze(self):
        """gc.freeze(): every tracked object moves to the permanent generation, which
        collections ignore; the counts go to zero."""
        _check(lib.rcgc_freeze(self._st.check_open()))

    def unfreeze(self):
        """gc.unfreeze(): the permanent generation goes back into generation 2."""
        _check(lib.rcgc_unfreeze(self._st.check_open()))

    def get_freeze_count(self):
        """gc.get_freeze_count(): the number of objects in the permanent generation."""
        return lib.rcgc_get_freeze_count(self._st.check_open())

    def get_objects(self, generation=None):
        """gc.get_objects(generation=None): new handles of the objects tracked in
        `generation` (0, 1 or 2), or in all three for None (or -1, as CPython takes
        it); frozen objects are not included."""
        ptr = self._st.check_open()
        if generation is None:
            generation = -1
        return self._handles(lambda fn: lib.rcgc_get_objects(ptr, generation, fn, None))

    def get_referrers(self, *objs):
        """gc.get_referrers(*objs): new handles of the tracked objects whose traverse
        reports a reference to any of objs, each once, in the order the heap gives
        them for the first of objs they refer to. Python handles are not objects of
        the heap, so they are never among the referrers."""
        ptr = self._st.check_open()
        out, seen = [], set()
        for obj in objs:
            target = self._own(obj)
            for h in self._handles(lambda fn, t=target: lib.rcgc_get_referrers(ptr, t, fn, None)):
                if h not in seen:
                    seen.add(h)
                    out.append(h)
        return out

    def get_referents(self, *objs):
        """gc.get_referents(*objs): new handles of the objects each of objs references,
        as its traverse reports them (a reference visited twice comes twice; empty
        slots and NULL fields are not references). Types are not objects in rcgc, so
        unlike CPython no type is among the referents."""
        self._st.check_open()
        out = []
        for obj in objs:
            target = self._own(obj)
            out.extend(self._handles(lambda fn, t=target: lib.rcgc_get_referents(t, fn, None)))
        return out

    def is_finalized(self, obj):
        """gc.is_finalized(obj): whether obj's finalizer has run."""
        return bool(lib.rcgc_is_finalized(self._own(obj)))

    # -- debugging -------------------------------------------------------------

    def set_debug(self, flags):
        """gc.set_debug(flags): a combination of the DEBUG_* constants, 0 for none.
        Output goes to sys.stderr (as CPython's does), or to the callable of
        set_debug_output. A bit that is not a debug flag is an InvalidArgumentError."""
        ptr = self._st.check_open()
        self._install_debug_sink()
        _check(lib.rcgc_set_debug(ptr, flags))

    def get_debug(self):
        """gc.get_debug()"""
        return lib.rcgc_get_debug(self._st.check_open())

    def set_debug_output(self, write=None):
        """Sends each line of debug output (a str, without its newline) to
        ``write(line)``; None restores the default, sys.stderr (looked up at each
        line, so redirecting sys.stderr redirects it). An exception in `write` is
        reported as unraisable and kept in ``callback_errors``."""
        if write is not None and not callable(write):
            raise TypeError(f"rcgc: set_debug_output takes a callable or None, not {write!r}")
        self._st.check_open()
        self._install_debug_sink()
        self._st.debug_write = write

    @property
    def garbage(self):
        """gc.garbage: the objects DEBUG_SAVEALL kept instead of clearing them, as a
        GarbageList (len, indexing and iteration give new handles; ``del
        heap.garbage[:]`` or ``heap.garbage.clear()`` empties it)."""
        self._st.check_open()
        return GarbageList(self)

    def clear_garbage(self):
        """Empties the garbage list and drops its references (``del gc.garbage[:]``);
        what nothing else holds is then ordinary cyclic garbage for the next
        collection. A ReentrantError from a callback of a running collection."""
        _check(lib.rcgc_clear_garbage(self._st.check_open()))

    # -- a picture of the heap -------------------------------------------------

    def export_graph(self, format="dot", roots=None):  # noqa: A002 - the C API's name
        """The heap as Graphviz DOT (format "dot") or JSON ("json", README's "A
        picture of the heap" gives the schema), as a str: every live object of the
        heap for roots=None, else the objects of the iterable `roots` and what they
        reach (an empty iterable: an empty picture). Every Python handle is a
        reference from outside the heap, so objects Python holds count as held from
        outside (gold, external > 0)."""
        fmt = _GRAPH_FORMATS.get(format)
        if fmt is None:
            raise InvalidArgumentError(2, f"rcgc: export_graph's format is 'dot' or 'json', not {format!r}")
        ptr = self._st.check_open()
        if roots is None:
            array, n = None, 0
        else:
            handles = list(roots)  # held until the call returns
            ptrs = [self._own(h) for h in handles]
            array, n = (ctypes.c_void_p * max(1, len(ptrs)))(*ptrs), len(ptrs)
        code, text = _write_text(lambda write: lib.rcgc_export_graph(ptr, fmt, array, n, write, None))
        _check(code)
        return text

    def why_alive(self, obj):
        """Why is obj alive? A shortest chain of references, as new handles, from an
        object held from outside the heap (root first) to obj (last); None when no
        such chain exists. The handle passed in does not count: the question is what
        keeps obj alive besides it, so None means obj is garbage waiting for a
        collection, or held by that handle alone. Other Python handles do count as
        holding their objects from outside."""
        ptr, target = self._st.check_open(), self._own(obj)
        chain = []
        code = _without_own_ref(
            obj,
            lambda: self._handles(
                lambda fn: lib.rcgc_why_alive(ptr, target, fn, None, None), into=chain, check=False
            ),
        )
        if code is None or code == 9:  # only obj's handle holds it, or RCGC_ERR_NOT_FOUND
            return None
        _check(code)
        return chain

    def why_alive_text(self, obj):
        """why_alive as text for people (rcgc_why_alive_text): one line per object of
        the chain, or one line saying obj is garbage. As in why_alive, the handle
        passed in does not count (the refcounts shown leave it out)."""
        ptr, target = self._st.check_open(), self._own(obj)
        result = _without_own_ref(
            obj,
            lambda: _write_text(lambda write: lib.rcgc_why_alive_text(ptr, target, write, None)),
        )
        if result is None:
            return f"{target:#x} '{obj.type_name}': held only by the handle passed to why_alive_text\n"
        code, text = result
        if code not in (0, 9):  # RCGC_ERR_NOT_FOUND still writes its line
            _check(code)
        return text

    # -- objects -------------------------------------------------------------

    def slots(self, n):
        """A new slots object with n empty slots (rcgc_slots_new)."""
        return Slots(self, n)

    def register(self, cls):
        """Registers a Struct subclass with this heap (rcgc_type_register, or
        rcgc_type_register_with_refs for a class that keeps Struct's traverse and
        clear) and returns it. Optional: the first allocation of a class registers
        it."""
        self._type_for(cls)
        return cls

    @property
    def callback_errors(self):
        """Exceptions raised by Python callbacks (traverse, clear, finalize, destroy,
        gc callbacks, weak reference callbacks, the debug output) of this heap,
        oldest first. Each was also reported as unraisable."""
        return self._st.callback_errors

    @property
    def misuse_reports(self):
        """Messages of rcgc's misuse handler (e.g. a decref of a freed object through
        the raw ``rcgc.lib``); the offending call did nothing."""
        return self._st.misuse_reports

    def _handles(self, call, into=None, check=True):
        """Runs call(fn), fn being an OBJECT_FN that turns each borrowed object into a
        new handle; an exception in fn is raised after the call, not across C."""
        st, heap = self._st, self
        out = [] if into is None else into
        errors = []

        def fn(ptr, _ctx):
            try:
                out.append(st.wrap_borrowed(heap, ptr))
            except BaseException as e:  # noqa: BLE001 - raised after the C call
                errors.append(e)

        code = call(_ffi.OBJECT_FN(fn))
        if errors:
            raise errors[0]
        if not check:
            return code
        _check(code)
        return out

    def _install_debug_sink(self):
        st = self._st
        if st.debug_sink is not None:
            return

        def sink(line, _ctx):
            text = line.decode(errors="replace")
            try:
                if st.debug_write is not None:
                    st.debug_write(text)
                elif sys.stderr is not None:
                    sys.stderr.write(text + "\n")
            except BaseException as e:
                st.callback_errors.append(e)
                raise  # reported as unraisable: it cannot cross rcgc's frames

        fn = _ffi.DEBUG_FN(sink)
        _check(lib.rcgc_set_debug_output(st.check_open(), ctypes.cast(fn, ctypes.c_void_p), None))
        st.keepalive.append(fn)
        st.debug_sink = fn

    def _own(self, obj):
        """The address of a live handle of this heap."""
        if not isinstance(obj, Object):
            raise TypeError(f"rcgc: expected an rcgc object, got {type(obj).__name__}")
        if obj._st is not self._st:
            raise WrongHeapError(5, f"rcgc: object {obj._ptr:#x} belongs to another heap")
        return obj._live_ptr()

    def _type_for(self, cls):
        st = self._st
        t = st.types.get(cls)
        if t is not None:
            return t
        if not (isinstance(cls, type) and issubclass(cls, Struct)) or cls is Struct:
            raise TypeError(f"rcgc: {cls!r} is not a subclass of rcgc.Struct")
        spec = _ffi.TypeSpec()
        spec.name = cls._rcgc_name.encode()
        spec.size = max(1, ctypes.sizeof(cls._layout))
        offsets = _declared_offsets(cls)
        callbacks = _make_callbacks(st, cls, declared=offsets is not None)
        for field, fn in callbacks.items():
            setattr(spec, field, fn)
        out = ctypes.c_void_p()
        if offsets is None:
            _check(lib.rcgc_type_register(st.check_open(), ctypes.byref(spec), ctypes.byref(out)))
        else:
            array = (ctypes.c_size_t * len(offsets))(*offsets)
            _check(
                lib.rcgc_type_register_with_refs(
                    st.check_open(), ctypes.byref(spec), array, len(offsets), ctypes.byref(out)
                )
            )
        st.keepalive.extend(callbacks.values())
        st.types[cls] = out.value
        st.classes[out.value] = cls
        return out.value


# ---------------------------------------------------------------------------
# Handles
# ---------------------------------------------------------------------------


class Object:
    """A handle holding one reference to an rcgc object (of a type Python does not
    know: a type registered from C). Equal handles name the same object."""

    __slots__ = ("_st", "_heap", "_ptr", "_mode", "__weakref__")

    def __init__(self, *args, **kwargs):
        raise TypeError(f"rcgc: {type(self).__name__} objects come from a Heap")

    def _live_ptr(self):
        mode = self._mode
        if mode == _DEAD or not self._ptr:
            raise InvalidHandleError(
                "rcgc: this handle was dropped, or is the self of a callback that returned"
            )
        if not self._st.ptr:
            raise InvalidHandleError("rcgc: the heap is closed")
        return self._ptr

    def _no_traverse(self, what):
        if self._mode == _TRAVERSE:
            raise ReentrantError(7, f"rcgc: {what} is not allowed in traverse (only visit is)")

    @property
    def address(self):
        """The object's address (its payload pointer), as an int."""
        return self._live_ptr()

    @property
    def heap(self):
        return self._heap if self._heap is not None else self._st.heap()

    @property
    def refcount(self):
        """rcgc_refcount: every reference, this handle's own included."""
        return lib.rcgc_refcount(self._live_ptr())

    @property
    def type_name(self):
        return lib.rcgc_type_name(lib.rcgc_type_of(self._live_ptr())).decode()

    @property
    def is_tracked(self):
        """Whether the collector tracks the object (gc.is_tracked)."""
        return bool(lib.rcgc_is_tracked(self._live_ptr()))

    def new_ref(self):
        """A second handle to the same object, with a reference of its own (incref)."""
        self._no_traverse("new_ref()")
        return self._st.wrap_borrowed(self.heap, self._live_ptr())

    def drop(self):
        """Drops this handle's reference now (decref); the handle is then unusable."""
        ptr, mode = self._ptr, self._mode
        self._no_traverse("drop()")
        object.__setattr__(self, "_mode", _DEAD)
        if mode == _OWNED and ptr and self._st.ptr:
            lib.rcgc_decref(ptr)

    def __del__(self):
        try:
            if self._mode == _OWNED and self._ptr and self._st.ptr:
                object.__setattr__(self, "_mode", _DEAD)
                lib.rcgc_decref(self._ptr)
        except Exception:  # noqa: BLE001 - interpreter shutdown, or a half-built handle
            pass

    def __eq__(self, other):
        if not isinstance(other, Object):
            return NotImplemented
        return self._st is other._st and self._ptr == other._ptr

    def __hash__(self):
        return hash((id(self._st), self._ptr))

    def __repr__(self):
        if self._mode == _DEAD or not self._ptr or not self._st.ptr:
            return f"<rcgc.{type(self).__name__} (invalid handle)>"
        return (
            f"<rcgc {self.type_name!r} object at {self._ptr:#x}, "
            f"refcount {lib.rcgc_refcount(self._ptr)}>"
        )


def _handle_ptr(st, value, what):
    """The address to store for `value` (None or a live handle of the same heap)."""
    if value is None:
        return None
    if not isinstance(value, Object):
        raise TypeError(f"rcgc: {what} takes an rcgc object or None, not {type(value).__name__}")
    ptr = value._live_ptr()
    if value._st is not st:
        tname = lib.rcgc_type_name(lib.rcgc_type_of(ptr)).decode()
        raise WrongHeapError(5, f"{what}: object {ptr:#x} of type '{tname}' belongs to another heap")
    return ptr


class Slots(Object):
    """A built-in slots object: a fixed number of references, accessed by index.

    ``s[i]`` gives a new handle (or None for an empty slot), ``s[i] = obj`` stores a
    reference (None empties the slot), ``del s[i]`` empties it, ``len(s)`` is fixed.
    """

    __slots__ = ()

    def __init__(self, heap, n):
        if n < 0:
            raise ValueError(f"rcgc: a slots object cannot have {n} slots")
        ptr = lib.rcgc_slots_new(heap._st.check_open(), n)
        if not ptr:
            raise _last_error()
        _init_handle(self, heap._st, heap, ptr, _OWNED)

    def __len__(self):
        return lib.rcgc_slots_len(self._live_ptr())

    def _index(self, index, ptr):
        if not isinstance(index, int):
            raise TypeError(f"rcgc: slot indices are integers, not {type(index).__name__}")
        if index < 0:
            index += lib.rcgc_slots_len(ptr)
        return index

    def __getitem__(self, index):
        self._no_traverse("reading a slot")
        ptr = self._live_ptr()
        i = self._index(index, ptr)
        if not 0 <= i < lib.rcgc_slots_len(ptr):
            if i >= 0:
                lib.rcgc_slots_get(ptr, i)  # let rcgc word the error
                raise _last_error(SlotIndexError)
            raise SlotIndexError(2, f"rcgc_slots_get: index {index} is out of range")
        return self._st.wrap_borrowed(self.heap, lib.rcgc_slots_get(ptr, i))

    def __setitem__(self, index, value):
        self._no_traverse("setting a slot")
        ptr = self._live_ptr()
        i = self._index(index, ptr)
        if i < 0:
            raise SlotIndexError(2, f"rcgc_slots_set: index {index} is out of range")
        if value is not None and not isinstance(value, Object):
            raise TypeError(f"rcgc: a slot holds an rcgc object or None, not {type(value).__name__}")
        code = lib.rcgc_slots_set(ptr, i, value._live_ptr() if value is not None else None)
        if code == 2 and i >= lib.rcgc_slots_len(ptr):
            raise _last_error(SlotIndexError)
        _check(code)

    def __delitem__(self, index):
        self[index] = None

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class WeakRef(Object):
    """weakref.ref for rcgc objects: ``rcgc.ref(obj, callback=None)`` (``rcgc.ref`` is
    this class) makes a weak reference object on obj's heap and returns a handle of
    it, owning one reference like any handle; it can be stored in slots and fields.
    ``w()`` is a new handle of the referent, or None once it has died.

    When the referent dies while the weak reference is alive, ``callback(w)`` runs
    once with a handle of the weak reference (whose ``w()`` is then None). Without a
    callback, the weak reference obj already has without one is returned, as
    ``weakref.ref(o) is weakref.ref(o)`` (the handles are distinct but equal). As
    in CPython, the weak reference owns its callback: it is let go once it has run,
    or when the weak reference object is freed without calling back
    (rcgc_weakref_new_with_release).
    """

    __slots__ = ()

    def __new__(cls, obj, callback=None):
        if not isinstance(obj, Object):
            raise TypeError(f"rcgc: cannot create a weak reference to a {type(obj).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"rcgc: a weak reference callback must be callable, not {callback!r}")
        obj._no_traverse("rcgc.ref()")
        ptr, st = obj._live_ptr(), obj._st
        if callback is None:
            w = lib.rcgc_weakref_new(ptr, None, None)
        else:
            ctx = st.next_ctx
            st.next_ctx += 1
            st.weakref_callbacks[ctx] = callback
            w = lib.rcgc_weakref_new_with_release(
                ptr,
                ctypes.cast(_weakref_fn(st), ctypes.c_void_p),
                ctx,
                ctypes.cast(_weakref_release(st), ctypes.c_void_p),
            )
            if not w:
                del st.weakref_callbacks[ctx]
        if not w:
            raise _last_error()
        return st.wrap_new(obj.heap, w, WeakRef)

    def __init__(self, obj, callback=None):
        pass  # made by __new__

    def __call__(self):
        """The referent as a new handle, or None once it has died
        (rcgc_weakref_get_ref)."""
        self._no_traverse("calling a weak reference")
        out = ctypes.c_void_p()
        _check(lib.rcgc_weakref_get_ref(self._live_ptr(), ctypes.byref(out)))
        if out.value is None:
            return None
        return self._st.wrap_new(self.heap, out.value)

    def __repr__(self):
        if self._mode == _DEAD or not self._ptr or not self._st.ptr:
            return "<rcgc.WeakRef (invalid handle)>"
        target = lib.rcgc_weakref_get(self._ptr)
        if not target:
            return f"<rcgc weak reference at {self._ptr:#x}; dead>"
        name = lib.rcgc_type_name(lib.rcgc_type_of(target)).decode()
        lib.rcgc_decref(target)
        return f"<rcgc weak reference at {self._ptr:#x}; to {name!r} at {target:#x}>"


ref = WeakRef


def getweakrefcount(obj):
    """weakref.getweakrefcount(obj): the number of weak references to obj."""
    if not isinstance(obj, Object):
        raise TypeError(f"rcgc: expected an rcgc object, got {type(obj).__name__}")
    return lib.rcgc_weakref_count(obj._live_ptr())


def _weakref_fn(st):
    """The WEAKREF_FN of a heap: every weak reference callback goes through it, with
    ctx the key of the Python callback in st.weakref_callbacks."""
    if st.weakref_fn is None:

        def dispatch(wptr, ctx):
            callback = st.weakref_callbacks.get(ctx)  # _weakref_release drops it
            if callback is None:
                return
            try:
                callback(st.wrap_borrowed(st.heap(), wptr))
            except BaseException as e:
                st.callback_errors.append(e)
                raise  # reported as unraisable: it cannot cross rcgc's frames

        st.weakref_fn = _ffi.WEAKREF_FN(dispatch)
        st.keepalive.append(st.weakref_fn)
    return st.weakref_fn


def _weakref_release(st):
    """The WEAKREF_RELEASE_FN of a heap: rcgc calls it once per weak reference with a
    callback, when it lets go of ctx (after the callback, or as the weak reference
    object is freed); the Python callback is dropped then."""
    if st.weakref_release is None:

        def release(ctx):
            st.weakref_callbacks.pop(ctx, None)

        st.weakref_release = _ffi.WEAKREF_RELEASE_FN(release)
        st.keepalive.append(st.weakref_release)
    return st.weakref_release


class GarbageList:
    """gc.garbage of one heap (Heap.garbage): the objects DEBUG_SAVEALL kept. A view:
    ``len()`` is the list's length now, indexing and iteration give new handles of
    its objects; ``del garbage[:]`` and ``clear()`` empty it (rcgc_clear_garbage).
    It compares equal to a list of the same handles."""

    __slots__ = ("_heap",)

    def __init__(self, heap):
        self._heap = heap

    def _list(self):
        heap = self._heap
        ptr = heap._st.check_open()
        return heap._handles(lambda fn: lib.rcgc_get_garbage(ptr, fn, None))

    def __len__(self):
        return lib.rcgc_get_garbage_count(self._heap._st.check_open())

    def __getitem__(self, index):
        return self._list()[index]

    def __iter__(self):
        return iter(self._list())

    def __eq__(self, other):
        if isinstance(other, GarbageList):
            other = other._list()
        if not isinstance(other, (list, tuple)):
            return NotImplemented
        return self._list() == list(other)

    __hash__ = None

    def clear(self):
        self._heap.clear_garbage()

    def __delitem__(self, index):
        if index != slice(None):
            raise TypeError("rcgc: only the whole garbage list can be deleted (del garbage[:])")
        self.clear()

    def __repr__(self):
        return repr(self._list())


class Ref:
    """Marks a reference field in a Struct's ``_fields_`` (stored as a pointer)."""


class _Field:
    """A payload field of a Struct, as a descriptor on the class."""

    def __init__(self, name, offset, is_ref):
        self.name, self.offset, self.is_ref = name, offset, is_ref

    def __get__(self, h, owner):
        if h is None:
            return self
        ptr = h._live_ptr()
        if self.is_ref:
            target = ctypes.c_void_p.from_address(ptr + self.offset).value
            if h._mode == _TRAVERSE:
                return target  # traverse may only call visit: the address, no handle
            return h._st.wrap_borrowed(h.heap, target)
        return getattr(type(h)._layout.from_address(ptr), self.name)

    def __set__(self, h, value):
        h._no_traverse(f"setting {type(h).__name__}.{self.name}")
        ptr = h._live_ptr()
        if self.is_ref:
            target = _handle_ptr(h._st, value, f"{type(h).__name__}.{self.name}")
            lib.rcgc_set_ref(ptr + self.offset, target)
        else:
            setattr(type(h)._layout.from_address(ptr), self.name, value)


class Struct(Object):
    """Base class of object types defined in Python.

    ``_fields_`` lists the payload's fields, like ctypes.Structure: ``Ref`` for a
    reference to another rcgc object, any ctypes type for plain data. Methods the
    collector calls, each with a borrowed ``self``:

    - ``traverse(self, visit)``: call ``visit(x)`` for every reference field (the
      default visits each Ref field). Reading a Ref field here gives its address
      (an int, or None), since traverse may not call rcgc: ``visit(self.next)``.
    - ``clear(self)``: drop every reference, leaving the fields None (the default
      sets each Ref field to None).
    - ``finalize(self)``: optional, runs at most once (PEP 442). Keeping ``self``
      (storing it anywhere) resurrects the object, as in a ``__del__``.
    - ``destroy(self)``: optional, just before the memory goes.

    A class that keeps both defaults is registered with its Ref fields declared
    (``rcgc_type_register_with_refs``, when they lie in the payload's first 64
    words): rcgc then reads and empties them itself, and a collection calls no
    Python code for its objects but finalize and destroy (a full collection of a
    100,000-object list: about 11 ns per object, against 6.8 us through Python
    callbacks; bench/python_struct.py).

    A class with no Ref field and no traverse makes untracked objects. Create
    objects with ``Cls(heap, field=value, ...)``; the class is registered with the
    heap on first use (or with ``heap.register(Cls)``) under ``Cls.__name__``, or
    the ``name`` given as ``class Cls(rcgc.Struct, name="..."):``.
    """

    __slots__ = ()
    _fields_ = ()
    _layout = None
    _ref_fields = ()
    _field_names = frozenset()

    def __init_subclass__(cls, name=None, **kwargs):
        super().__init_subclass__(**kwargs)
        own = list(cls.__dict__.get("_fields_", ()))
        inherited = []
        for base in reversed(cls.__mro__[1:]):
            if issubclass(base, Struct) and "_fields_" in base.__dict__:
                inherited.extend(base.__dict__["_fields_"])
        fields = inherited + own if "_fields_" in cls.__dict__ else inherited
        ctype_fields = [(n, ctypes.c_void_p if t is Ref else t) for n, t in fields]
        cls._layout = type(f"{cls.__name__}Payload", (ctypes.Structure,), {"_fields_": ctype_fields})
        cls._ref_fields = tuple(n for n, t in fields if t is Ref)
        for n, t in fields:
            setattr(cls, n, _Field(n, getattr(cls._layout, n).offset, t is Ref))
        cls._field_names = frozenset(n for n, _ in fields)
        cls._rcgc_name = name or cls.__dict__.get("_rcgc_name") or cls.__name__

    def __init__(self, heap, **values):
        t = heap._type_for(type(self))
        ptr = lib.rcgc_alloc(t)
        if not ptr:
            raise _last_error()
        _init_handle(self, heap._st, heap, ptr, _OWNED)
        for k, v in values.items():
            if k not in self._field_names:
                raise TypeError(f"rcgc: {type(self).__name__} has no field {k!r}")
            setattr(self, k, v)

    def __setattr__(self, name, value):
        if name not in type(self)._field_names:
            raise AttributeError(
                f"rcgc: {type(self).__name__} has no field {name!r} (a Struct's attributes "
                "are the fields of its _fields_)"
            )
        object.__setattr__(self, name, value)

    def traverse(self, visit):
        for n in self._ref_fields:
            visit(getattr(self, n))

    def clear(self):
        for n in self._ref_fields:
            setattr(self, n, None)

    def finalize(self):
        pass

    def destroy(self):
        pass


def _overrides(cls, name):
    return getattr(cls, name) is not getattr(Struct, name)


# rcgc_type_register_with_refs takes reference fields in the payload's first 64 words.
_MAX_DECLARED_OFFSET = 64 * ctypes.sizeof(ctypes.c_void_p)


def _declared_offsets(cls):
    """The offsets of cls's Ref fields when rcgc can traverse and clear them itself
    (rcgc_type_register_with_refs): the class has Ref fields and keeps Struct's
    traverse and clear, which visit and empty exactly those fields. None otherwise,
    and then Python callbacks do it."""
    if not cls._ref_fields or _overrides(cls, "traverse") or _overrides(cls, "clear"):
        return None
    offsets = [getattr(cls._layout, n).offset for n in cls._ref_fields]
    if max(offsets) >= _MAX_DECLARED_OFFSET:
        return None
    return offsets


def _make_callbacks(st, cls, declared=False):
    """The C callbacks of a Struct subclass in one heap (with `declared`, rcgc
    traverses and clears its Ref fields itself: no traverse or clear callback)."""

    def call(ptr, mode, method, *args):
        h = object.__new__(cls)
        _init_handle(h, st, st.heap(), ptr, mode)
        before = sys.getrefcount(h)
        try:
            method(h, *args)
        except BaseException as e:
            object.__setattr__(h, "_mode", _DEAD)
            st.callback_errors.append(e)
            raise  # ctypes reports it as unraisable: it cannot cross rcgc's frames
        kept = sys.getrefcount(h) > before
        if kept and mode == _BORROWED:
            lib.rcgc_incref(ptr)  # the callback kept `self`: it now owns a reference
            object.__setattr__(h, "_mode", _OWNED)
        else:
            object.__setattr__(h, "_mode", _DEAD)

    callbacks = {}
    if not declared and (cls._ref_fields or _overrides(cls, "traverse")):

        def traverse(ptr, visit, ctx):
            def visitor(x):
                if x is None:
                    visit(None, ctx)  # ignored, but counted: a field keeps its edge index
                    return
                target = x._ptr if isinstance(x, Object) else x
                if not isinstance(target, int):
                    raise TypeError(f"rcgc: visit() takes an rcgc object, an address or None, not {x!r}")
                visit(target, ctx)

            call(ptr, _TRAVERSE, cls.traverse, visitor)

        callbacks["traverse"] = _ffi.TRAVERSE_FN(traverse)
        callbacks["clear"] = _ffi.CLEAR_FN(lambda ptr: call(ptr, _BORROWED, cls.clear))
    if _overrides(cls, "finalize"):
        callbacks["finalize"] = _ffi.FINALIZE_FN(lambda ptr: call(ptr, _BORROWED, cls.finalize))
    if _overrides(cls, "destroy"):
        callbacks["destroy"] = _ffi.DESTROY_FN(lambda ptr: call(ptr, _DESTROY, cls.destroy))
    return callbacks
