"""rcgc's picture of the heap against CPython 3.11's gc module, on the same graphs.

The graphs of ``test_differential.py`` (random ones and the named classic cases)
are built twice with collection off, garbage included: from CPython objects
(``Node``, ``__slots__ = ('a', 'b')``) and from rcgc slots objects with two
slots. In both worlds the program keeps one list of every node (left out of the
counts below) and one of the nodes the graph holds; the rest is reached only
through references. Then ``rcgc_export_graph``'s JSON, read with ``json.loads``,
must say what CPython's ``gc.get_referents`` says:

* the nodes are exactly the graph's objects, with the refcounts CPython has;
* each node's edges are its referents, in traverse order, with their slot;
* ``external`` is the refcount less the references from the graph's objects
  (1 for a held node, else 0), and ``reachable`` says whether a chain from a
  held node reaches it (a breadth-first walk over ``gc.get_referents``);
* the export from roots holds what the roots reach;
* ``rcgc_why_alive`` gives a chain exactly as long as the shortest CPython's
  walk finds (or RCGC_ERR_NOT_FOUND where it finds none), and a valid one.

It also checks that type names, which are user strings, come out of the JSON
as Python decodes them (``errors='replace'``), and that ``dot`` (Graphviz)
accepts the DOT export, when it is installed.

Run with ``python3 -m pytest -q tests/cpython`` after ``cargo build``.
"""

import ctypes
import gc
import json
import re
import shutil
import subprocess
import sys
import weakref

import pytest

from test_differential import (  # the library, loaded once, and the graphs
    NAMED_GRAPHS,
    TypeSpec,
    lib,
    not_null,
    ok,
    random_graph,
)

c_void_p, c_size_t, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int

WRITE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)
OBJECT_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)

RCGC_GRAPH_DOT, RCGC_GRAPH_JSON = 0, 1
RCGC_ERR_NOT_FOUND = 9


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_proto("rcgc_export_graph", c_int, c_void_p, c_int, ctypes.POINTER(c_void_p), c_size_t, WRITE_FN, c_void_p)
_proto("rcgc_why_alive", c_int, c_void_p, c_void_p, OBJECT_FN, c_void_p, ctypes.POINTER(c_size_t))
_proto("rcgc_why_alive_text", c_int, c_void_p, c_void_p, WRITE_FN, c_void_p)


# ---------------------------------------------------------------------------
# rcgc
# ---------------------------------------------------------------------------


def export(heap, fmt, roots=None):
    """rcgc_export_graph's output as bytes (roots None: the whole heap)."""
    chunks = []

    def write(data, length, ctx):
        chunks.append(ctypes.string_at(data, length))
        return 0

    callback = WRITE_FN(write)
    if roots is None:
        array, n = None, 0
    else:
        array, n = (c_void_p * len(roots))(*roots), len(roots)
    ok(lib.rcgc_export_graph(heap, fmt, array, n, callback, None), "rcgc_export_graph")
    return b"".join(chunks)


def why_alive(heap, obj):
    """rcgc_why_alive: (result code, the chain's objects, the length written)."""
    chain = []
    callback = OBJECT_FN(lambda o, ctx: chain.append(o))
    length = c_size_t(12345)
    rc = lib.rcgc_why_alive(heap, obj, callback, None, ctypes.byref(length))
    return rc, chain, length.value


def why_alive_text(heap, obj):
    chunks = []

    def write(data, length, ctx):
        chunks.append(ctypes.string_at(data, length))
        return 0

    rc = lib.rcgc_why_alive_text(heap, obj, WRITE_FN(write), None)
    return rc, b"".join(chunks).decode()


def build_rcgc(g):
    """The graph from slots objects: (heap, pointers, held pointers); collection off."""
    heap = not_null(lib.rcgc_heap_new(), "rcgc_heap_new")
    ok(lib.rcgc_disable(heap), "rcgc_disable")
    ptrs = [not_null(lib.rcgc_slots_new(heap, 2), "rcgc_slots_new") for _ in range(g.n)]
    for i, (a, b) in enumerate(g.edges):
        for slot, target in enumerate((a, b)):
            if target is not None:
                ok(lib.rcgc_slots_set(ptrs[i], slot, ptrs[target]), "rcgc_slots_set")
    held = [ptrs[i] for i in g.held]
    for p in held:
        lib.rcgc_incref(p)
    for p in ptrs:  # the references from slots_new go: what is not held lives through the graph
        lib.rcgc_decref(p)
    return heap, ptrs, held


def free_rcgc(heap, held):
    for p in held:
        lib.rcgc_decref(p)
    lib.rcgc_heap_free(heap)


# ---------------------------------------------------------------------------
# CPython: the helpers of tests/c/test_graph.c
# ---------------------------------------------------------------------------


class Node:
    __slots__ = ("a", "b", "__weakref__")  # gc.get_referents reports a and b only


def referents(o):
    """What o's traverse reports (CPython adds the class; rcgc types are not objects)."""
    return [r for r in gc.get_referents(o) if not isinstance(r, type)]


def index_of(r, objs):
    return next(k for k, o in enumerate(objs) if o is r)


def external(i, objs):
    """objs[i]'s refcount less objs' reference, getrefcount's, and those from objects of objs."""
    return sys.getrefcount(objs[i]) - 2 - sum(r is objs[i] for p in objs for r in referents(p))


def reach(roots, objs):
    seen = list(dict.fromkeys(roots))
    for j in seen:
        for k in (index_of(r, objs) for r in referents(objs[j])):
            if k not in seen:
                seen.append(k)
    return sorted(seen)


def shortest_chain(i, objs):
    parent = {j: None for j in range(len(objs)) if external(j, objs) > 0}
    queue = list(parent)
    for j in queue:
        for k in (index_of(r, objs) for r in referents(objs[j])):
            if k not in parent:
                parent[k] = j
                queue.append(k)
    chain = [i] if i in parent else []
    while chain and parent[chain[0]] is not None:
        chain.insert(0, parent[chain[0]])
    return chain


def build_cpython(g):
    """The graph from Node objects; the caller disables gc. Returns (alive, objs,
    held): the indices of the nodes that outlive the building (refcounting frees
    the rest, as in rcgc), a list of those nodes, and the held ones."""
    nodes = [Node() for _ in range(g.n)]
    for i, (a, b) in enumerate(g.edges):
        if a is not None:
            nodes[i].a = nodes[a]
        if b is not None:
            nodes[i].b = nodes[b]
    held = [nodes[i] for i in g.held]
    refs = [weakref.ref(o) for o in nodes]
    del nodes
    alive = [i for i, r in enumerate(refs) if r() is not None]
    return alive, [refs[i]() for i in alive], held


# ---------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------

GRAPHS = [pytest.param(g, id=name) for name, g in NAMED_GRAPHS.items() if not (g.fin or g.weak)] + [
    pytest.param(random_graph(seed, finalizers=False), id=f"random-{seed}") for seed in range(60)
]


@pytest.fixture
def gc_off():
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


def cpython_facts(objs):
    """What CPython's gc says about each of objs, by position, as plain numbers
    (no reference to an object outlives the call, so the refcounts it reads are
    the graph's)."""
    n = len(objs)
    return {
        "refcount": [sys.getrefcount(objs[k]) - 2 for k in range(n)],
        "external": [external(k, objs) for k in range(n)],
        "referents": [[index_of(r, objs) for r in referents(objs[k])] for k in range(n)],
        "slots": [
            [(s, index_of(getattr(objs[k], f), objs)) for s, f in enumerate("ab") if hasattr(objs[k], f)]
            for k in range(n)
        ],
        "chain": [shortest_chain(k, objs) for k in range(n)],
    }


@pytest.mark.parametrize("g", GRAPHS)
def test_export_and_why_alive_agree_with_cpython(g, gc_off):
    alive, objs, held = build_cpython(g)
    cp = cpython_facts(objs)
    heap, ptrs, rc_held = build_rcgc(g)
    try:
        # rcgc's survivors, by position in `alive` (CPython's survivors), as cp has them
        where = {ptrs[i]: k for k, i in enumerate(alive)}
        doc = json.loads(export(heap, RCGC_GRAPH_JSON))
        assert doc["version"] == 1 and doc["roots"] is None
        ids = [int(n["id"], 16) for n in doc["nodes"]]
        assert sorted(ids) == sorted(where), f"survivors differ:\n{g.as_python()}"
        assert ids == sorted(ids)  # in address order
        nodes = {where[p]: n for p, n in zip(ids, doc["nodes"])}
        edges = {k: [] for k in range(len(alive))}
        for e in doc["edges"]:
            edges[where[int(e["source"], 16)]].append((e["index"], where[int(e["target"], 16)]))

        for k, i in enumerate(alive):
            node = nodes[k]
            what = f"node {i} of\n{g.as_python()}"
            assert [t for _, t in cp["slots"][k]] == cp["referents"][k]
            assert edges[k] == cp["slots"][k], what
            assert node["refcount"] == cp["refcount"][k], what
            assert node["external"] == cp["external"][k] == (1 if i in g.held else 0), what
            chain = cp["chain"][k]
            assert node["reachable"] == (chain != []), what
            facts = (node["type"], node["state"], node["finalized"], node["size"])
            # A 2-slot object's block: 16-byte header, two 8-byte slots.
            assert facts == ("rcgc.slots", "gen0", False, 32), what

            rc, rc_chain, length = why_alive(heap, ptrs[i])
            if not chain:
                assert (rc, rc_chain, length) == (RCGC_ERR_NOT_FOUND, [], 0), what
                continue
            ok(rc, f"rcgc_why_alive of {what}")
            assert length == len(rc_chain) == len(chain), what
            steps = [where[p] for p in rc_chain]
            assert steps[-1] == k and cp["external"][steps[0]] > 0, what
            for u, v in zip(steps, steps[1:]):
                assert v in [t for _, t in edges[u]], what
            rc, text = why_alive_text(heap, ptrs[i])
            ok(rc, "rcgc_why_alive_text")
            assert [int(re.search("0x[0-9a-f]+", line)[0], 16) for line in text.splitlines()] == rc_chain

        roots = list(range(len(alive)))[:1] + list(range(len(alive)))[-2:]
        doc = json.loads(export(heap, RCGC_GRAPH_JSON, [ptrs[alive[k]] for k in roots]))
        assert doc["roots"] == [hex(ptrs[alive[k]]) for k in roots]
        shown = reach(roots, objs)
        assert sorted(where[int(n["id"], 16)] for n in doc["nodes"]) == shown, g.as_python()
        assert len(doc["edges"]) == sum(len(cp["referents"][k]) for k in shown)
    finally:
        free_rcgc(heap, rc_held)
        del held, objs


NASTY_NAMES = [
    b'quote" backslash\\ slash/ tab\t newline\n',
    bytes(range(1, 32)) + b"\x7f",
    "\u00e9t\u00e9 \u2603 \U0001f600 \u2028\u2029".encode(),
    b"bad \xff utf-8 \xc3 \xed\xa0\x80 \xf0\x9f\x98 end",
    b"}]\",{\"id\":\"injected",
]


def test_type_names_are_escaped():
    heap = not_null(lib.rcgc_heap_new(), "rcgc_heap_new")
    specs, objs = [], []
    try:
        for name in NASTY_NAMES:
            spec = TypeSpec(name, 8)
            out = c_void_p()
            ok(lib.rcgc_type_register(heap, ctypes.byref(spec), ctypes.byref(out)), "rcgc_type_register")
            specs.append(spec)
            objs.append(not_null(lib.rcgc_alloc(out.value), "rcgc_alloc"))
        doc = json.loads(export(heap, RCGC_GRAPH_JSON).decode("utf-8"))
        types = {int(n["id"], 16): n["type"] for n in doc["nodes"]}
        assert [types[p] for p in objs] == [name.decode("utf-8", errors="replace") for name in NASTY_NAMES]
        assert all(n["state"] == "untracked" and n["external"] == 1 for n in doc["nodes"])
        export(heap, RCGC_GRAPH_DOT).decode("utf-8")  # valid UTF-8 too
        rc, text = why_alive_text(heap, objs[0])
        ok(rc, "rcgc_why_alive_text")
        assert text.endswith("external 1: held from outside the heap\n") and text.count("\n") == 1
    finally:
        for p in objs:
            lib.rcgc_decref(p)
        lib.rcgc_heap_free(heap)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_renders():
    g = random_graph(7, finalizers=False)
    heap, ptrs, held = build_rcgc(g)
    try:
        spec = TypeSpec(NASTY_NAMES[0] + NASTY_NAMES[1], 8)
        out = c_void_p()
        ok(lib.rcgc_type_register(heap, ctypes.byref(spec), ctypes.byref(out)), "rcgc_type_register")
        odd = not_null(lib.rcgc_alloc(out.value), "rcgc_alloc")
        held.append(odd)
        doc = json.loads(export(heap, RCGC_GRAPH_JSON))
        dot = export(heap, RCGC_GRAPH_DOT)
        result = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, check=False)
        assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
        svg = result.stdout.decode()
        assert svg.count('class="node"') == len(doc["nodes"]) > 1
        assert svg.count('class="edge"') == len(doc["edges"]) > 0
        assert "quote&quot; backslash\\ slash/ tab\\t newline\\n" in svg
    finally:
        free_rcgc(heap, held)
