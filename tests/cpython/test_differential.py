"""rcgc against the real CPython 3.11 collector, on the same object graphs.

Every graph is built twice:

* in CPython, from instances of ``Node`` (``__slots__ = ('a', 'b', '__weakref__')``) and of
  ``FinNode`` (a subclass with ``__slots__ = ()`` and a ``__del__``), then
  collected with ``gc.collect()``;
* in rcgc (loaded through ctypes), from slots objects with 2 slots and objects
  of a user type "FinNode" whose traverse/clear/finalize/destroy callbacks are
  written in Python, then collected with ``rcgc_collect(heap, 2, &n)``.

Then everything observable must agree: what ``gc.collect()`` returns, which
objects survive and what they still point to, which finalizers ran, what they
resurrected, how many objects are alive. A second test replays a random
sequence of allocations, deallocations, cycles and young-generation collections
with small thresholds and automatic collection on, and compares
``gc.get_count()`` after every step (and what each ``gc.collect(g)`` returned).
A third collects the graphs under ``gc.DEBUG_SAVEALL`` and compares what the
collection returned, which objects ``gc.garbage`` holds and that they are
uncleared, which finalizers ran, and what the next collection returns once the
list is emptied.

Run with ``python3 -m pytest -q tests/cpython`` after ``cargo build``; the
library is ``$RCGC_LIB`` or ``<repo>/target/debug/librcgc.so``.
"""

import ctypes
import gc
import os
import pathlib
import random
import sys
import weakref
from dataclasses import dataclass, field

import pytest

# ---------------------------------------------------------------------------
# Loading the library
# ---------------------------------------------------------------------------

REPO = pathlib.Path(__file__).resolve().parents[2]
LIB_PATH = os.environ.get("RCGC_LIB", str(REPO / "target" / "debug" / "librcgc.so"))

if sys.version_info[:2] != (3, 11):
    pytest.skip(
        "the differential tests compare rcgc with CPython 3.11's collector; "
        f"this is Python {sys.version.split()[0]}",
        allow_module_level=True,
    )

if not os.path.isfile(LIB_PATH):
    pytest.fail(
        f"rcgc shared library not found at {LIB_PATH}: run `cargo build` in {REPO} "
        "first, or point RCGC_LIB at librcgc.so",
        pytrace=False,
    )

lib = ctypes.CDLL(LIB_PATH)

c_void_p, c_size_t, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int

VISIT_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
TRAVERSE_FN = ctypes.CFUNCTYPE(None, c_void_p, VISIT_FN, c_void_p)
CLEAR_FN = ctypes.CFUNCTYPE(None, c_void_p)
FINALIZE_FN = ctypes.CFUNCTYPE(None, c_void_p)
DESTROY_FN = ctypes.CFUNCTYPE(None, c_void_p)
MISUSE_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, c_void_p)
WEAKREF_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)


class TypeSpec(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("size", c_size_t),
        ("traverse", TRAVERSE_FN),
        ("clear", CLEAR_FN),
        ("finalize", FINALIZE_FN),
        ("destroy", DESTROY_FN),
    ]


class Triple(ctypes.Structure):  # rcgc_thresholds and rcgc_counts
    _fields_ = [("gen0", c_size_t), ("gen1", c_size_t), ("gen2", c_size_t)]

    def astuple(self):
        return (self.gen0, self.gen1, self.gen2)


class HeapStats(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("live_objects", c_size_t),
        ("tracked_objects", c_size_t),
        ("bytes_in_use", c_size_t),
        ("peak_bytes", c_size_t),
        ("allocated_total", c_size_t),
        ("freed_total", c_size_t),
    ]


class FinPayload(ctypes.Structure):
    """The payload of the rcgc type "FinNode": two references and the node's index."""

    _fields_ = [("a", c_void_p), ("b", c_void_p), ("index", ctypes.c_int64)]


FIELD_OFFSET = {"a": FinPayload.a.offset, "b": FinPayload.b.offset}


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_proto("rcgc_last_error", ctypes.c_char_p)
_proto("rcgc_result_name", ctypes.c_char_p, c_int)
_proto("rcgc_heap_new", c_void_p)
_proto("rcgc_heap_free", None, c_void_p)
_proto("rcgc_heap_get_stats", c_int, c_void_p, ctypes.POINTER(HeapStats))
_proto("rcgc_set_misuse_handler", None, c_void_p, MISUSE_FN, c_void_p)
_proto("rcgc_type_register", c_int, c_void_p, ctypes.POINTER(TypeSpec), ctypes.POINTER(c_void_p))
_proto("rcgc_alloc", c_void_p, c_void_p)
_proto("rcgc_incref", None, c_void_p)
_proto("rcgc_decref", None, c_void_p)
_proto("rcgc_refcount", c_size_t, c_void_p)
_proto("rcgc_set_ref", None, c_void_p, c_void_p)
_proto("rcgc_clear_ref", None, c_void_p)
_proto("rcgc_slots_new", c_void_p, c_void_p, c_size_t)
_proto("rcgc_slots_set", c_int, c_void_p, c_size_t, c_void_p)
_proto("rcgc_slots_get", c_void_p, c_void_p, c_size_t)
_proto("rcgc_collect", c_int, c_void_p, c_int, ctypes.POINTER(c_size_t))
_proto("rcgc_get_threshold", Triple, c_void_p)
_proto("rcgc_set_threshold", c_int, c_void_p, c_size_t, c_size_t, c_size_t)
_proto("rcgc_get_count", Triple, c_void_p)
_proto("rcgc_enable", c_int, c_void_p)
_proto("rcgc_disable", c_int, c_void_p)
_proto("rcgc_is_enabled", ctypes.c_bool, c_void_p)
_proto("rcgc_weakref_new", c_void_p, c_void_p, WEAKREF_FN, c_void_p)
_proto("rcgc_weakref_get", c_void_p, c_void_p)


def ok(code, what):
    """Fail the test, with rcgc's own message, unless an rcgc call returned RCGC_OK."""
    if code != 0:
        name = lib.rcgc_result_name(code).decode()
        pytest.fail(f"{what} returned {name}: {lib.rcgc_last_error().decode()}")


def not_null(ptr, what):
    if not ptr:
        pytest.fail(f"{what} returned NULL: {lib.rcgc_last_error().decode()}")
    return ptr


# ---------------------------------------------------------------------------
# The graphs
# ---------------------------------------------------------------------------

ACTIONS = ("none", "self", "a", "b")  # what a finalizer resurrects


@dataclass
class Graph:
    """n nodes; node i holds references edges[i] = (a, b) (an index or None).

    held: the nodes the program keeps a reference to (the rest is dropped,
    in index order, right after building). fin: node index -> what its
    finalizer stores in the global list RESURRECTED: "none", "self", "a" (the
    node its field a points to) or "b"; nodes without an entry have no
    finalizer. weak: node index -> index of a plain or finalizer node: that
    node is not a Node but a weak reference to the other one, with a callback
    that logs its index; its edges are (None, None). Weak nodes are made after
    the others, in index order.
    """

    n: int
    edges: list
    held: list
    fin: dict = field(default_factory=dict)
    weak: dict = field(default_factory=dict)

    def as_python(self):
        """The graph as the Python program that builds it (for failure reports)."""
        names = [f"o{i}" for i in range(self.n)]
        lines = []
        for i in range(self.n):
            if i in self.weak:
                continue
            cls = "FinNode" if i in self.fin else "Node"
            note = f"   # __del__ resurrects {self.fin[i]}" if i in self.fin else ""
            lines.append(f"{names[i]} = {cls}(){note}")
        for i, target in sorted(self.weak.items()):
            lines.append(f"{names[i]} = weakref.ref({names[target]}, log_callback)")
        for i, (a, b) in enumerate(self.edges):
            if i in self.weak:
                continue
            ta = names[a] if a is not None else "None"
            tb = names[b] if b is not None else "None"
            lines.append(f"{names[i]}.a = {ta}; {names[i]}.b = {tb}")
        lines.append("held = [" + ", ".join(names[i] for i in self.held) + "]")
        lines.append("del " + ", ".join(names))
        return "\n".join(lines)


def random_graph(seed, finalizers, weak=False):
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    p_none = rng.choice([0.1, 0.3, 0.6])
    p_self = rng.choice([0.0, 0.1, 0.3])

    def target(i):
        r = rng.random()
        if r < p_none:
            return None
        if r < p_none + p_self:
            return i
        return rng.randrange(n)

    edges = [(target(i), target(i)) for i in range(n)]
    k = min(n, rng.choice([0, 0, 1, 1, 2, rng.randint(0, n)]))
    held = sorted(rng.sample(range(n), k))
    weak_nodes = set()
    if weak:
        p_weak = rng.choice([0.2, 0.4])
        weak_nodes = {i for i in range(n) if rng.random() < p_weak}
        if len(weak_nodes) == n:
            weak_nodes.discard(rng.randrange(n))
        for i in weak_nodes:
            edges[i] = (None, None)
        # Weak nodes are held by the program or by nobody, never by a node:
        # a weak reference freed by the same decref as its referent calls back
        # or not depending on the freeing order, which is CPython's recursive
        # one there and rcgc's worklist here (README, Ownership rules).
        for i, (a, b) in enumerate(edges):
            edges[i] = tuple(None if t in weak_nodes else t for t in (a, b))
    fin = {}
    if finalizers:
        p_fin = rng.choice([0.25, 0.5, 1.0])
        for i in range(n):
            if i not in weak_nodes and rng.random() < p_fin:
                fin[i] = rng.choice(ACTIONS + ("none",))
    plain = [i for i in range(n) if i not in weak_nodes]
    weak_of = {i: rng.choice(plain) for i in sorted(weak_nodes)}
    return Graph(n, edges, held, fin, weak_of)


# Hand-written graphs: the walkthrough's example and the classic cases.
NAMED_GRAPHS = {
    "self-loop (x.obj = x; del x)": Graph(1, [(0, None)], []),
    "two-cycle": Graph(2, [(1, None), (0, None)], []),
    "three-ring": Graph(3, [(1, None), (2, None), (0, None)], []),
    "held cycle": Graph(2, [(1, None), (0, None)], [0]),
    "garbage cycle pointing at a held node": Graph(3, [(1, 2), (0, None), (None, None)], [2]),
    "held node pointing into a cycle": Graph(3, [(1, None), (2, None), (1, None)], [0]),
    "chain, no cycle": Graph(3, [(1, None), (2, None), (None, None)], []),
    "finalizer in a self-loop": Graph(1, [(0, None)], [], {0: "none"}),
    "finalizer resurrects itself": Graph(1, [(0, None)], [], {0: "self"}),
    "finalizer resurrects its cycle partner": Graph(2, [(1, None), (0, None)], [], {0: "a"}),
    "finalizer resurrects the tail of a chain": Graph(
        4, [(1, None), (0, 2), (3, None), (None, None)], [], {0: "a", 2: "none"}
    ),
    "both partners resurrect each other": Graph(2, [(1, None), (0, None)], [], {0: "a", 1: "a"}),
    "refcount death resurrects (no cycle)": Graph(2, [(1, None), (None, None)], [], {0: "a", 1: "self"}),
    "weak reference inside the garbage cycle of its referent": Graph(
        3, [(1, 2), (0, None), (None, None)], [], weak={2: 0}
    ),
    "weak reference in a garbage cycle, referent held": Graph(
        4, [(1, 2), (0, None), (None, None), (None, None)], [3], weak={2: 3}
    ),
    "held weak reference to a garbage cycle": Graph(3, [(1, None), (0, None), (None, None)], [2], weak={2: 0}),
    "weak reference held by a finalizer's cycle": Graph(
        3, [(1, 2), (0, None), (None, None)], [], {0: "b", 1: "none"}, weak={2: 1}
    ),
}


# ---------------------------------------------------------------------------
# The CPython side
# ---------------------------------------------------------------------------


class Node:
    __slots__ = ("a", "b", "__weakref__")  # __weakref__: weak nodes need it; it adds no object


class FinNode(Node):
    __slots__ = ()

    def __del__(self):
        _cp_finalize(self)


CP_ACTIONS = {}  # id(node) -> (index, action), for the FinNodes of the current graph
CP_FINALIZED = []  # indices whose __del__ ran, in order
CP_RESURRECTED = []  # the global list the finalizers store objects into
CP_ERRORS = []
CP_CALLED_BACK = []  # indices of the weak nodes whose callback ran
CP_IDS = {}  # id(node) -> index, for the current graph


def _cp_weak_callback(wr):
    try:
        CP_CALLED_BACK.append(CP_IDS[id(wr)])
    except BaseException as e:  # noqa: BLE001 - reported by the test
        CP_ERRORS.append(repr(e))


def _cp_finalize(obj):
    try:
        index, action = CP_ACTIONS[id(obj)]
        CP_FINALIZED.append(index)
        if action == "self":
            CP_RESURRECTED.append(obj)
        elif action in ("a", "b"):
            target = getattr(obj, action)
            if target is not None:
                CP_RESURRECTED.append(target)
    except BaseException as e:  # noqa: BLE001 - reported by the test
        CP_ERRORS.append(repr(e))


@dataclass
class Snapshot:
    """What a world looks like at one step of the replay."""

    step: str
    collected: object  # what collect returned (None: no collection at this step)
    alive: int  # objects of the graph still allocated
    survivors: list  # indices reachable from held + RESURRECTED
    edges: dict  # survivor -> (a, b) it still points to
    finalized: list  # indices whose finalizer ran so far (sorted)
    resurrected: list  # indices in RESURRECTED now (sorted, with repeats)
    called_back: list  # weak nodes whose callback ran so far (sorted)
    referents: dict  # surviving weak node -> index its weak reference returns (None: dead)


def _cp_build(g):
    nodes = [None if i in g.weak else FinNode() if i in g.fin else Node() for i in range(g.n)]
    for i, target in sorted(g.weak.items()):
        nodes[i] = weakref.ref(nodes[target], _cp_weak_callback)
    for i, (a, b) in enumerate(g.edges):
        if i in g.weak:
            continue
        nodes[i].a = nodes[a] if a is not None else None
        nodes[i].b = nodes[b] if b is not None else None
    ids = {id(nodes[i]): i for i in range(g.n)}
    CP_IDS.clear()
    CP_IDS.update(ids)
    for i, action in g.fin.items():
        CP_ACTIONS[id(nodes[i])] = (i, action)
    held = [nodes[i] for i in g.held]
    for i in range(g.n):  # drop the names, in index order
        nodes[i] = None
    return held, ids


def _cp_snapshot(step, collected, held, ids):
    def idx(o):
        return None if o is None else ids[id(o)]

    roots = list(held) + list(CP_RESURRECTED)
    seen = {}
    referents = {}
    while roots:
        o = roots.pop()
        i = ids[id(o)]
        if i in seen:
            continue
        a, b = getattr(o, "a", None), getattr(o, "b", None)
        seen[i] = (idx(a), idx(b))
        roots.extend(x for x in (a, b) if x is not None)
        if isinstance(o, weakref.ReferenceType):
            referents[i] = idx(o())
    kinds = (Node, FinNode, weakref.ReferenceType)
    alive = sum(1 for o in gc.get_objects() if type(o) in kinds and id(o) in ids)
    return Snapshot(
        step,
        collected,
        alive,
        sorted(seen),
        seen,
        sorted(CP_FINALIZED),
        sorted(ids[id(o)] for o in CP_RESURRECTED),
        sorted(CP_CALLED_BACK),
        referents,
    )


def cpython_replay(g):
    """Build g from Python objects and let CPython's collector loose on it."""
    CP_ACTIONS.clear()
    CP_FINALIZED.clear()
    CP_RESURRECTED.clear()
    CP_ERRORS.clear()
    CP_CALLED_BACK.clear()
    was_enabled = gc.isenabled()
    gc.collect()  # clear unrelated garbage first
    gc.disable()
    try:
        held, ids = _cp_build(g)
        snaps = [_cp_snapshot("built", None, held, ids)]
        snaps.append(_cp_snapshot("collect", gc.collect(), held, ids))
        snaps.append(_cp_drop_and_collect("drop RESURRECTED, collect", [], ids, held))
        snaps.append(_cp_drop_and_collect("drop held and RESURRECTED, collect", held, ids, held))
        for _ in range(g.n + 2):  # finalizers may resurrect again; each runs once
            if not (snaps[-1].survivors or snaps[-1].resurrected):
                break
            snaps.append(_cp_drop_and_collect("drop RESURRECTED, collect", [], ids, held))
        return snaps
    finally:
        held = None
        CP_RESURRECTED.clear()
        CP_ACTIONS.clear()
        CP_IDS.clear()
        if was_enabled:
            gc.enable()


def _cp_drop_and_collect(step, held_to_drop, ids, held):
    held_to_drop.clear()  # list.clear drops the items last to first
    CP_RESURRECTED.clear()
    return _cp_snapshot(step, gc.collect(), held, ids)


# ---------------------------------------------------------------------------
# The rcgc side
# ---------------------------------------------------------------------------


class RcgcWorld:
    """A heap with the user type "FinNode" whose callbacks are Python functions."""

    def __init__(self):
        self.heap = not_null(lib.rcgc_heap_new(), "rcgc_heap_new")
        self.misuse = []
        self.errors = []
        self.actions = {}  # index -> action
        self.finalized = []
        self.resurrected = []  # pointers, each holding a reference (the global list)
        self.destroyed = []
        self.called_back = []  # weak nodes whose callback ran
        self.closing = False
        # Keep every CFUNCTYPE object alive as long as the heap.
        self._misuse = MISUSE_FN(lambda msg, ctx: self.misuse.append(msg.decode()))
        lib.rcgc_set_misuse_handler(self.heap, self._misuse, None)
        self._traverse = TRAVERSE_FN(self._traverse_cb)
        self._clear = CLEAR_FN(self._clear_cb)
        self._finalize = FINALIZE_FN(self._finalize_cb)
        self._destroy = DESTROY_FN(self._destroy_cb)
        self.weak_callback = WEAKREF_FN(self._weak_cb)
        spec = TypeSpec(
            b"FinNode",
            ctypes.sizeof(FinPayload),
            self._traverse,
            self._clear,
            self._finalize,
            self._destroy,
        )
        out = c_void_p()
        ok(lib.rcgc_type_register(self.heap, ctypes.byref(spec), ctypes.byref(out)), "rcgc_type_register")
        self.fin_type = out.value

    # -- callbacks (exceptions cannot cross the C boundary: record them) --
    def _traverse_cb(self, obj, visit, ctx):
        try:
            p = FinPayload.from_address(obj)
            if p.a:
                visit(p.a, ctx)
            if p.b:
                visit(p.b, ctx)
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"traverse: {e!r}")

    def _clear_cb(self, obj):
        try:
            lib.rcgc_clear_ref(obj + FIELD_OFFSET["a"])
            lib.rcgc_clear_ref(obj + FIELD_OFFSET["b"])
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"clear: {e!r}")

    def _finalize_cb(self, obj):
        try:
            if self.closing:
                return
            p = FinPayload.from_address(obj)
            self.finalized.append(p.index)
            action = self.actions[p.index]
            target = {"none": None, "self": obj, "a": p.a, "b": p.b}[action]
            if target:
                lib.rcgc_incref(target)  # store a new reference in the global list
                self.resurrected.append(target)
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"finalize: {e!r}")

    def _weak_cb(self, weakref_obj, ctx):
        try:
            if lib.rcgc_weakref_get(weakref_obj):
                self.errors.append("a weak reference callback saw its referent alive")
            self.called_back.append(ctx - 1)  # ctx is the weak node's index + 1
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"weak callback: {e!r}")

    def _destroy_cb(self, obj):
        try:
            self.destroyed.append(FinPayload.from_address(obj).index)
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"destroy: {e!r}")

    # -- helpers --
    def stats(self):
        s = HeapStats(struct_size=ctypes.sizeof(HeapStats))
        ok(lib.rcgc_heap_get_stats(self.heap, ctypes.byref(s)), "rcgc_heap_get_stats")
        return s

    def collect(self, generation=2):
        n = c_size_t(12345)
        ok(lib.rcgc_collect(self.heap, generation, ctypes.byref(n)), f"rcgc_collect(heap, {generation})")
        return n.value

    def close(self):
        self.closing = True
        if self.heap:
            lib.rcgc_heap_free(self.heap)
            self.heap = None


def rcgc_replay(g):
    """Build g from rcgc objects and let rcgc's collector loose on it."""
    w = RcgcWorld()
    try:
        return _rcgc_replay(w, g), w
    finally:
        w.close()


def _rcgc_build(w, g):
    """Build g in w's heap, with automatic collection off. Returns the objects
    in index order, index_of (pointer -> index), the held references and
    get(p, k), the reference in field k of object p."""
    ok(lib.rcgc_disable(w.heap), "rcgc_disable")
    w.actions = dict(g.fin)
    ptrs = [None] * g.n
    for i in range(g.n):
        if i in g.weak:
            continue
        if i in g.fin:
            p = not_null(lib.rcgc_alloc(w.fin_type), "rcgc_alloc")
            FinPayload.from_address(p).index = i
        else:
            p = not_null(lib.rcgc_slots_new(w.heap, 2), "rcgc_slots_new")
        ptrs[i] = p
    for i, target in sorted(g.weak.items()):
        ptrs[i] = not_null(lib.rcgc_weakref_new(ptrs[target], w.weak_callback, i + 1), "rcgc_weakref_new")
    index_of = {p: i for i, p in enumerate(ptrs)}

    def is_fin(p):
        return index_of[p] in g.fin

    def get(p, k):
        if index_of[p] in g.weak:
            return None
        if is_fin(p):
            return c_void_p.from_address(p + FIELD_OFFSET["ab"[k]]).value
        return lib.rcgc_slots_get(p, k)

    def put(p, k, value):
        if is_fin(p):
            lib.rcgc_set_ref(p + FIELD_OFFSET["ab"[k]], value)
        else:
            ok(lib.rcgc_slots_set(p, k, value), "rcgc_slots_set")

    for i, (a, b) in enumerate(g.edges):
        if i in g.weak:
            continue
        put(ptrs[i], 0, ptrs[a] if a is not None else None)
        put(ptrs[i], 1, ptrs[b] if b is not None else None)
    held = []
    for i in g.held:
        lib.rcgc_incref(ptrs[i])
        held.append(ptrs[i])
    for p in ptrs:  # drop the names, in index order
        lib.rcgc_decref(p)
    return ptrs, index_of, held, get


def _rcgc_replay(w, g):
    ptrs, index_of, held, get = _rcgc_build(w, g)
    refcount_errors = []

    def snapshot(step, collected):
        roots = list(held) + list(w.resurrected)
        seen = {}
        referents = {}
        while roots:
            p = roots.pop()
            i = index_of[p]
            if i in seen:
                continue
            a, b = get(p, 0), get(p, 1)
            seen[i] = (index_of[a] if a else None, index_of[b] if b else None)
            roots.extend(x for x in (a, b) if x)
            if i in g.weak:
                r = lib.rcgc_weakref_get(p)
                referents[i] = index_of[r] if r else None
                if r:
                    lib.rcgc_decref(r)
        # After a collection, each survivor's refcount must be exactly the
        # references to it: held, RESURRECTED, and the fields of the survivors.
        want = {i: 0 for i in seen}
        for p in list(held) + list(w.resurrected):
            want[index_of[p]] += 1
        for a, b in seen.values():
            for t in (a, b):
                if t is not None:
                    want[t] += 1
        for i in sorted(want) if collected is not None else []:
            got = lib.rcgc_refcount(ptrs[i])
            if got != want[i]:
                refcount_errors.append(f"{step}: refcount of o{i} is {got}, should be {want[i]}")
        return Snapshot(
            step,
            collected,
            w.stats().live_objects,
            sorted(seen),
            seen,
            sorted(w.finalized),
            sorted(index_of[p] for p in w.resurrected),
            sorted(w.called_back),
            referents,
        )

    def drop_and_collect(step, held_to_drop):
        # As CPython's held.clear(); RESURRECTED.clear(): list.clear empties the
        # list first, then drops the items last to first.
        while held_to_drop:
            lib.rcgc_decref(held_to_drop.pop())
        old, w.resurrected = w.resurrected, []
        for p in reversed(old):
            lib.rcgc_decref(p)
        return snapshot(step, w.collect(2))

    snaps = [snapshot("built", None)]
    snaps.append(snapshot("collect", w.collect(2)))
    snaps.append(drop_and_collect("drop RESURRECTED, collect", []))
    snaps.append(drop_and_collect("drop held and RESURRECTED, collect", held))
    for _ in range(g.n + 2):
        if not (snaps[-1].survivors or snaps[-1].resurrected):
            break
        snaps.append(drop_and_collect("drop RESURRECTED, collect", []))
    destroyed = set(w.destroyed)
    for i in g.fin:
        alive_in_rcgc = i not in destroyed
        if alive_in_rcgc != (i in snaps[-1].survivors):
            refcount_errors.append(f"end: FinNode o{i} destroyed={not alive_in_rcgc}")
    return snaps, refcount_errors


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------


def _fmt(s):
    return (
        f"{s.step:38} collected={s.collected!s:>4} alive={s.alive:<3} survivors={s.survivors} "
        f"finalized={s.finalized} resurrected={s.resurrected} called_back={s.called_back} "
        f"referents={s.referents}"
    )


def compare(g, label):
    (rc_snaps, rc_problems), world = rcgc_replay(g)
    cp_snaps = cpython_replay(g)  # second: its gc.collect() first clears our ctypes garbage
    assert not CP_ERRORS, f"{label}: CPython finalizer errors: {CP_ERRORS}"
    assert not world.errors, f"{label}: errors in rcgc callbacks: {world.errors}"
    assert not world.misuse, f"{label}: rcgc reported misuse: {world.misuse}"
    if rc_snaps != cp_snaps or rc_problems:
        lines = [f"{label}: rcgc and CPython disagree on this graph:", g.as_python(), "", "CPython:"]
        lines += ["  " + _fmt(s) for s in cp_snaps]
        lines.append("rcgc:")
        lines += ["  " + _fmt(s) for s in rc_snaps]
        for c, r in zip(cp_snaps, rc_snaps):
            if c.edges != r.edges:
                lines.append(f"  after '{c.step}': CPython edges {c.edges}, rcgc edges {r.edges}")
                break
        lines += ["  " + p for p in rc_problems]
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def _frozen_interpreter():
    """Move pytest's own objects to the permanent generation: full collections then
    only look at what the tests create, which keeps hundreds of them fast."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("name", list(NAMED_GRAPHS))
def test_named_graph(name):
    compare(NAMED_GRAPHS[name], name)


@pytest.mark.parametrize("seed", range(600))
def test_random_graph(seed):
    compare(random_graph(seed, finalizers=False), f"random graph, seed {seed}")


@pytest.mark.parametrize("seed", range(600))
def test_random_graph_with_finalizers(seed):
    compare(random_graph(1_000_000 + seed, finalizers=True), f"random graph with finalizers, seed {seed}")


@pytest.mark.parametrize("seed", range(300))
def test_random_graph_with_weakrefs(seed):
    """Weak references as graph members (weakref.ref(node, callback) in CPython,
    rcgc_weakref_new in rcgc), with finalizers that resurrect: which callbacks
    ran, what each surviving weak reference returns, what collect returns."""
    g = random_graph(2_000_000 + seed, finalizers=seed % 2 == 1, weak=True)
    compare(g, f"random graph with weak references, seed {seed}")


def test_seed_walkthrough_counts():
    """The walkthrough's own example: x = Test(); x.obj = x; del x; gc.collect() == 1."""

    class Test:
        pass

    gc.collect()
    x = Test()
    x.obj = x
    del x
    assert gc.collect() == 1  # CPython 3.11: no separate __dict__ object
    w = RcgcWorld()
    try:
        x = not_null(lib.rcgc_slots_new(w.heap, 1), "rcgc_slots_new")
        ok(lib.rcgc_slots_set(x, 0, x), "rcgc_slots_set")
        lib.rcgc_decref(x)
        assert w.collect(2) == 1
    finally:
        w.close()


# ---------------------------------------------------------------------------
# gc.DEBUG_SAVEALL and gc.garbage
# ---------------------------------------------------------------------------

OBJECT_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
_proto("rcgc_set_debug", c_int, c_void_p, c_int)
_proto("rcgc_get_garbage", c_int, c_void_p, OBJECT_FN, c_void_p)
_proto("rcgc_get_garbage_count", c_size_t, c_void_p)
_proto("rcgc_clear_garbage", c_int, c_void_p)
RCGC_DEBUG_SAVEALL = 32


@dataclass
class Saved:
    """One collection under DEBUG_SAVEALL, then one more after del gc.garbage[:]."""

    collected: int  # what the collection returned
    garbage: list  # the indices in the garbage list (sorted)
    edges: dict  # index in the garbage list -> (a, b) it still points to (uncleared)
    finalized: list  # indices whose finalizer ran (sorted)
    resurrected: list  # indices in RESURRECTED (sorted, with repeats)
    collected_after_release: int  # flags off, list emptied: what the next collection returns


def cpython_saveall(g):
    CP_ACTIONS.clear()
    CP_FINALIZED.clear()
    CP_RESURRECTED.clear()
    CP_ERRORS.clear()
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    assert gc.garbage == []
    held = []
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        held, ids = _cp_build(g)
        collected = gc.collect()

        def idx(o):
            return None if o is None else ids[id(o)]

        garbage = [ids[id(o)] for o in gc.garbage]
        edges = {ids[id(o)]: (idx(o.a), idx(o.b)) for o in gc.garbage}
        gc.set_debug(0)
        del gc.garbage[:]
        return Saved(
            collected,
            sorted(garbage),
            edges,
            sorted(CP_FINALIZED),
            sorted(ids[id(o)] for o in CP_RESURRECTED),
            gc.collect(),
        )
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
        # Free what is left while CP_ACTIONS still knows it: finalizers may
        # resurrect again, and each runs once.
        for _ in range(g.n + 2):
            held.clear()
            CP_RESURRECTED.clear()
            gc.collect()
        CP_ACTIONS.clear()
        if was_enabled:
            gc.enable()


def rcgc_saveall(g):
    w = RcgcWorld()
    try:
        ok(lib.rcgc_set_debug(w.heap, RCGC_DEBUG_SAVEALL), "rcgc_set_debug")
        w.actions = dict(g.fin)
        ptrs, index_of, held, get = _rcgc_build(w, g)
        collected = w.collect(2)
        saved = []
        keep = OBJECT_FN(lambda obj, ctx: saved.append(obj))
        ok(lib.rcgc_get_garbage(w.heap, keep, None), "rcgc_get_garbage")
        assert lib.rcgc_get_garbage_count(w.heap) == len(saved)
        edges = {}
        for p in saved:
            a, b = get(p, 0), get(p, 1)
            edges[index_of[p]] = (index_of[a] if a else None, index_of[b] if b else None)
        ok(lib.rcgc_set_debug(w.heap, 0), "rcgc_set_debug")
        ok(lib.rcgc_clear_garbage(w.heap), "rcgc_clear_garbage")
        assert w.errors == [] and w.misuse == []
        return Saved(
            collected,
            sorted(index_of[p] for p in saved),
            edges,
            sorted(w.finalized),
            sorted(index_of[p] for p in w.resurrected),
            w.collect(2),
        )
    finally:
        w.close()


def compare_saveall(g, label):
    rc = rcgc_saveall(g)
    cp = cpython_saveall(g)
    assert not CP_ERRORS, f"{label}: CPython finalizer errors: {CP_ERRORS}"
    if rc != cp:
        pytest.fail(
            f"{label}: under DEBUG_SAVEALL rcgc and CPython disagree on this graph:\n"
            f"{g.as_python()}\n\nCPython: {cp}\nrcgc:    {rc}",
            pytrace=False,
        )


# The SAVEALL comparison reads the saved objects' fields: graphs without weak nodes.
@pytest.mark.parametrize("name", [name for name, g in NAMED_GRAPHS.items() if not g.weak])
def test_saveall_named_graph(name):
    compare_saveall(NAMED_GRAPHS[name], name)


@pytest.mark.parametrize("seed", range(200))
def test_saveall_random_graph_with_finalizers(seed):
    compare_saveall(random_graph(2_000_000 + seed, finalizers=True), f"random graph with finalizers, seed {seed}")


# ---------------------------------------------------------------------------
# Thresholds, enable/disable
# ---------------------------------------------------------------------------


@pytest.fixture
def saved_gc_settings():
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*threshold)
    (gc.enable if enabled else gc.disable)()


def test_default_threshold_matches_cpython():
    w = RcgcWorld()
    try:
        assert lib.rcgc_get_threshold(w.heap).astuple() == (700, 10, 10)
        assert lib.rcgc_is_enabled(w.heap) is True
        assert lib.rcgc_get_count(w.heap).astuple() == (0, 0, 0)
    finally:
        w.close()
    # CPython's defaults, in a fresh interpreter (this one may have been tuned).
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", "import gc; print(gc.get_threshold(), gc.isenabled())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(")")
    assert out[0] + ")" == "(700, 10, 10)"
    assert out[1].strip() == "True"


@pytest.mark.parametrize("thresholds", [(7777, 11, 11), (0, 10, 10), (1, 1, 1), (700, 10, 10), (5, 0, 3)])
def test_set_threshold_matches_cpython(saved_gc_settings, thresholds):
    w = RcgcWorld()
    try:
        gc.set_threshold(*thresholds)
        ok(lib.rcgc_set_threshold(w.heap, *thresholds), "rcgc_set_threshold")
        assert lib.rcgc_get_threshold(w.heap).astuple() == gc.get_threshold() == thresholds
    finally:
        w.close()


def test_enable_disable_matches_cpython(saved_gc_settings):
    w = RcgcWorld()
    try:
        for enable in (False, True, False, False, True, True):
            (gc.enable if enable else gc.disable)()
            ok((lib.rcgc_enable if enable else lib.rcgc_disable)(w.heap), "rcgc_enable/disable")
            assert lib.rcgc_is_enabled(w.heap) == gc.isenabled() == enable
    finally:
        w.close()


# ---------------------------------------------------------------------------
# The counting sequence: gc.get_count() after every step
# ---------------------------------------------------------------------------

NEW, DROP, LINK, CYCLE, COLLECT = range(5)
NSLOTS = 8


def random_ops(seed, length):
    """(op, x, y) steps: NEW x (slot x = a new node), DROP x, LINK x y (slot x's
    node .a = slot y's node), CYCLE (a 2-object garbage cycle), COLLECT g (g 0 or 1)."""
    rng = random.Random(seed)
    filled = [False] * NSLOTS
    ops = []
    while len(ops) < length:
        r = rng.random()
        x, y = rng.randrange(NSLOTS), rng.randrange(NSLOTS)
        if r < 0.35:
            ops.append((NEW, x, 0))
            filled[x] = True
        elif r < 0.55:
            ops.append((DROP, x, 0))
            filled[x] = False
        elif r < 0.75:
            if filled[x]:
                ops.append((LINK, x, y))
        elif r < 0.9:
            ops.append((CYCLE, 0, 0))
        else:
            ops.append((COLLECT, rng.randrange(2), 0))
    return ops


def cpython_counts(ops, thresholds):
    """Run ops in CPython with automatic collection on; record gc.get_count()
    after each step and what each gc.collect(g) returned.

    The loop must allocate no tracked object besides the nodes, not even a
    short-lived one: an allocation that finds count0 at the threshold triggers
    a collection even if the object dies at once. So it avoids tuple
    unpacking (until the interpreter specializes UNPACK_SEQUENCE it creates a
    tuple iterator) and for-loops (a list iterator).

    Reading the counts is the delicate part: gc.get_count() builds a 3-tuple
    after reading, which may be a new tracked object (+1 to count0) or one from
    the tuple free list (no change), and when freed may go back to the free
    list without the -1. So the counts are read with automatic collection off,
    twice: the first read is exact, and the second (also exact; its tuple comes
    from the free list the first one refilled, and goes back there) tells
    whether the first left a +1 behind. That residue is returned too, for rcgc
    to mirror with an object that stays alive."""
    ops_op = [op for op, _, _ in ops]
    ops_x = [x for _, x, _ in ops]
    ops_y = [y for _, _, y in ops]
    live = [None] * NSLOTS
    rec = []
    residue = []
    n = len(ops)
    i = 0
    gc.disable()
    gc.set_threshold(*thresholds)
    gc.collect()
    gc.get_count()
    gc.get_count()
    gc.collect(1)  # counts (0, 0, 1), no garbage anywhere
    gc.enable()
    while i < n:
        op = ops_op[i]
        x = ops_x[i]
        y = ops_y[i]
        i += 1
        if op == NEW:
            live[x] = Node()
        elif op == DROP:
            live[x] = None
        elif op == LINK:
            live[x].a = live[y]
        elif op == CYCLE:
            t = Node()
            t.a = Node()
            t.a.a = t
            t = None
        else:
            rec.append(gc.collect(x))
        gc.disable()
        c = gc.get_count()
        c0 = c[0]
        rec.append(c0)
        rec.append(c[1])
        rec.append(c[2])
        c = None
        c = gc.get_count()
        residue.append(c[0] - c0)
        c = None
        gc.enable()
    gc.disable()
    live = None
    gc.collect()
    return rec, residue


def rcgc_counts(ops, thresholds, residue):
    w = RcgcWorld()
    try:
        heap = w.heap
        ok(lib.rcgc_set_threshold(heap, *thresholds), "rcgc_set_threshold")
        w.collect(1)  # counts (0, 0, 1), as on the CPython side

        def node():
            return not_null(lib.rcgc_slots_new(heap, 2), "rcgc_slots_new")

        live = [None] * NSLOTS
        rec = []
        kept = []
        for (op, x, y), extra in zip(ops, residue):
            if op == NEW:
                new, old = node(), live[x]
                live[x] = new
                lib.rcgc_decref(old)
            elif op == DROP:
                old, live[x] = live[x], None
                lib.rcgc_decref(old)
            elif op == LINK:
                ok(lib.rcgc_slots_set(live[x], 0, live[y]), "rcgc_slots_set")
            elif op == CYCLE:
                t = node()
                u = node()
                ok(lib.rcgc_slots_set(t, 0, u), "rcgc_slots_set")
                lib.rcgc_decref(u)
                ok(lib.rcgc_slots_set(u, 0, t), "rcgc_slots_set")
                lib.rcgc_decref(t)
            else:
                rec.append(w.collect(x))
            rec.extend(lib.rcgc_get_count(heap).astuple())
            if extra:  # CPython's reading left count0 higher (see cpython_counts)
                ok(lib.rcgc_disable(heap), "rcgc_disable")
                kept.extend(node() for _ in range(extra))
                ok(lib.rcgc_enable(heap), "rcgc_enable")
        for p in live + kept:
            lib.rcgc_decref(p)
        assert not w.misuse, w.misuse
        return rec
    finally:
        w.close()


def _first_difference(ops, cp, rc):
    """Describe where two records part, step by step."""
    ci = ri = 0
    for step, (op, x, y) in enumerate(ops):
        width = 4 if op == COLLECT else 3
        c, r = cp[ci : ci + width], rc[ri : ri + width]
        if c != r:
            name = ["NEW", "DROP", "LINK", "CYCLE", "COLLECT"][op]
            history = ", ".join(
                ["NEW", "DROP", "LINK", "CYCLE", "COLLECT"][o] + f"({a},{b})" for o, a, b in ops[: step + 1]
            )
            return (
                f"step {step} ({name} {x} {y}): CPython recorded {c}, rcgc {r} "
                f"(record = [collect result,] count0, count1, count2)\nops so far: {history}"
            )
        ci += width
        ri += width
    return "records have different lengths"


@pytest.mark.parametrize(
    "seed,thresholds",
    [(s, t) for s, t in enumerate([(5, 2, 1000), (3, 1, 1000), (10, 3, 1000), (1, 1, 1000), (7, 0, 1000)] * 8)],
)
def test_counting_sequence(saved_gc_settings, seed, thresholds):
    ops = random_ops(seed, 400)
    cp, residue = cpython_counts(ops, thresholds)
    if cpython_counts(ops, thresholds)[0] != cp:
        pytest.skip("CPython's counts are not reproducible in this process")
    rc = rcgc_counts(ops, thresholds, residue)
    assert rc == cp, _first_difference(ops, cp, rc)
