"""A picture of the heap: export_graph (DOT and JSON), why_alive and why_alive_text."""

import json

import pytest

import rcgc


class Tree(rcgc.Struct):
    _fields_ = [("left", rcgc.Ref), ("right", rcgc.Ref)]


def chain_of_three(heap):
    """root -> mid (right) -> leaf (left); only root has a Python handle."""
    root = Tree(heap)
    root.right = Tree(heap)
    root.right.left = heap.slots(0)
    return root


def test_json_whole_heap(heap):
    root = chain_of_three(heap)
    mid = root.right
    leaf = mid.left
    addrs = {root.address: "root", mid.address: "mid", leaf.address: "leaf"}
    del mid, leaf
    graph = json.loads(heap.export_graph("json"))
    assert graph["version"] == 1 and graph["roots"] is None
    nodes = {addrs[int(n["id"], 16)]: n for n in graph["nodes"]}
    assert sorted(nodes) == ["leaf", "mid", "root"]
    assert [int(n["id"], 16) for n in graph["nodes"]] == sorted(addrs)  # address order
    assert {k: (n["type"], n["refcount"], n["external"], n["reachable"]) for k, n in nodes.items()} == {
        "root": ("Tree", 1, 1, True),  # held by the Python handle `root`
        "mid": ("Tree", 1, 0, True),
        "leaf": ("rcgc.slots", 1, 0, True),
    }
    assert all(n["state"] == "gen0" and n["finalized"] is False for n in nodes.values())
    assert sum(n["size"] for n in nodes.values()) == heap.stats().bytes_in_use
    edges = [(addrs[int(e["source"], 16)], addrs[int(e["target"], 16)], e["index"]) for e in graph["edges"]]
    assert sorted(edges) == [("mid", "leaf", 0), ("root", "mid", 1)]  # left is 0, right 1
    # The edges are what get_referents reports.
    for h in (root, root.right):
        assert [addrs[x.address] for x in heap.get_referents(h)] == [
            t for s, t, _ in sorted(edges, key=lambda e: e[2]) if s == addrs[h.address]
        ]


def test_json_garbage_and_frozen_states(heap):
    keep = heap.slots(0)
    heap.freeze()
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    p = heap.register(type("P", (rcgc.Struct,), {"_fields_": []}))(heap)
    del a, b
    nodes = json.loads(heap.export_graph("json"))["nodes"]
    by_state = sorted((n["state"], n["reachable"], n["external"]) for n in nodes)
    assert by_state == [("gen0", False, 0), ("gen0", False, 0), ("permanent", True, 1), ("untracked", True, 1)]
    assert heap.collect() == 2
    assert len(json.loads(heap.export_graph("json"))["nodes"]) == 2
    heap.unfreeze()
    del keep, p


def test_json_from_roots(heap):
    root = chain_of_three(heap)
    other = heap.slots(0)
    mid = root.right
    graph = json.loads(heap.export_graph("json", roots=[mid]))
    assert graph["roots"] == [f"{mid.address:#x}"]
    assert sorted(int(n["id"], 16) for n in graph["nodes"]) == sorted([mid.address, mid.left.address])
    assert len(graph["edges"]) == 1
    # Roots from a generator: the handles stay alive through the call.
    graph = json.loads(heap.export_graph("json", roots=(x for x in [root.right, other])))
    assert len(graph["nodes"]) == 3
    empty = json.loads(heap.export_graph("json", roots=[]))
    assert (empty["roots"], empty["nodes"], empty["edges"]) == ([], [], [])


def test_dot(heap):
    root = chain_of_three(heap)
    dot = heap.export_graph()
    assert dot == heap.export_graph("dot")
    assert dot.startswith("digraph rcgc {\n") and dot.endswith("}\n")
    assert 'label="3 objects, 2 references' in dot
    assert dot.count(" -> ") == 2
    assert f'"{root.address:#x}" [label="Tree\\n{root.address:#x}\\nrefcount 1, external 1' in dot
    assert dot.count('fillcolor="#ffd966"') == 1  # one object held from outside: root


def test_export_graph_errors(heap):
    with pytest.raises(rcgc.InvalidArgumentError, match="format is 'dot' or 'json', not 'png'"):
        heap.export_graph("png")
    with pytest.raises(TypeError, match="expected an rcgc object"):
        heap.export_graph(roots=[None])
    with rcgc.Heap() as other:
        with pytest.raises(rcgc.WrongHeapError):
            heap.export_graph(roots=[other.slots(0)])


def test_an_exception_while_writing_is_raised_not_aborted(heap, monkeypatch):
    heap.slots(0)

    def broken(data, n):
        raise UnicodeError("write failed")

    monkeypatch.setattr(rcgc.ctypes, "string_at", broken)
    with pytest.raises(UnicodeError, match="write failed"):  # not AbortedError
        heap.export_graph("json")
    s = heap.slots(0)
    held = s.new_ref()  # so that why_alive_text asks the library
    with pytest.raises(UnicodeError):
        heap.why_alive_text(s)
    del held


def test_why_alive_gives_the_chain_root_first(heap):
    root = chain_of_three(heap)
    leaf = root.right.left
    chain = heap.why_alive(leaf)
    assert chain == [root, root.right, leaf]
    assert all(h.refcount >= 2 for h in chain)  # each is a new handle
    del chain  # its handles hold their objects from outside the heap
    mid = root.right
    assert heap.why_alive(mid) == [root, mid]
    # root is held by no other handle and no object: only the handle passed in.
    assert heap.why_alive(root) is None
    root2 = root.new_ref()
    assert heap.why_alive(root) == [root]  # now root2 holds it from outside
    del root2


def test_why_alive_of_garbage_is_none(heap):
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    del b
    assert heap.why_alive(a) is None  # a 2-cycle nothing else holds
    assert a.refcount == 2  # the handle's reference was given back
    s = heap.slots(1)
    s[0] = a
    assert heap.why_alive(a) == [s, a]
    del s
    assert heap.why_alive(a) is None


def test_why_alive_text(heap):
    root = chain_of_three(heap)
    mid = root.right
    leaf = mid.left
    r, m, x = root.address, mid.address, leaf.address
    del mid
    assert heap.why_alive_text(leaf) == (
        f"{r:#x} 'Tree': refcount 1, external 1: held from outside the heap\n"
        f"  [1] -> {m:#x} 'Tree': refcount 1, external 0\n"
        f"  [0] -> {x:#x} 'rcgc.slots': refcount 1, external 0\n"
    )
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    del b
    text = heap.why_alive_text(a)
    assert text.startswith(f"{a.address:#x} 'rcgc.slots': refcount 1, external 0: no chain")
    assert text.endswith("it is garbage waiting for a collection\n") and text.count("\n") == 1
    lone = heap.slots(0)
    assert heap.why_alive_text(lone) == (
        f"{lone.address:#x} 'rcgc.slots': held only by the handle passed to why_alive_text\n"
    )


def test_not_found_and_aborted_do_not_escape(heap):
    a = heap.slots(1)
    a[0] = a
    assert heap.why_alive(a) is None  # RCGC_ERR_NOT_FOUND is an answer, not an error
    assert "garbage" in heap.why_alive_text(a)
