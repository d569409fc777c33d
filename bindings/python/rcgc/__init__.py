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
    "HeapStats",
    "Error",
    "NullArgumentError",
    "InvalidArgumentError",
    "NoMemoryError",
    "MemoryLimitError",
    "WrongHeapError",
    "InvalidObjectError",
    "ReentrantError",
    "PanicError",
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
}


def _last_error(cls=None):
    code = lib.rcgc_last_error_code()
    message = lib.rcgc_last_error().decode(errors="replace")
    return (cls or _ERRORS.get(code, Error))(code, message)


def _check(code):
    if code != 0:
        raise _ERRORS.get(code, Error)(code, lib.rcgc_last_error().decode(errors="replace"))


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
            cls = Slots if name == b"rcgc.slots" else Object
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

    # -- objects -------------------------------------------------------------

    def slots(self, n):
        """A new slots object with n empty slots (rcgc_slots_new)."""
        return Slots(self, n)

    def register(self, cls):
        """Registers a Struct subclass with this heap (rcgc_type_register) and returns
        it. Optional: the first allocation of a class registers it."""
        self._type_for(cls)
        return cls

    @property
    def callback_errors(self):
        """Exceptions raised by Python callbacks (traverse, clear, finalize, destroy)
        of this heap, oldest first. Each was also reported as unraisable."""
        return self._st.callback_errors

    @property
    def misuse_reports(self):
        """Messages of rcgc's misuse handler (e.g. a decref of a freed object through
        the raw ``rcgc.lib``); the offending call did nothing."""
        return self._st.misuse_reports

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
        callbacks = _make_callbacks(st, cls)
        for field, fn in callbacks.items():
            setattr(spec, field, fn)
        out = ctypes.c_void_p()
        _check(lib.rcgc_type_register(st.check_open(), ctypes.byref(spec), ctypes.byref(out)))
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


def _make_callbacks(st, cls):
    """The C callbacks of a Struct subclass in one heap."""

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
    if cls._ref_fields or _overrides(cls, "traverse"):

        def traverse(ptr, visit, ctx):
            def visitor(x):
                if x is None:
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
