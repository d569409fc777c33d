"""Object types written in Python: traverse, clear, finalize and destroy are Python
methods; the collector calls them with a borrowed `self`."""

import ctypes
import gc
import random

import pytest

import rcgc


class Node(rcgc.Struct):
    _fields_ = [("a", rcgc.Ref), ("b", rcgc.Ref), ("index", ctypes.c_int64)]

    def traverse(self, visit):
        visit(self.a)
        visit(self.b)

    def clear(self):
        self.a = None
        self.b = None


class Plain(rcgc.Struct):  # no Ref field, no traverse: untracked
    _fields_ = [("x", ctypes.c_double), ("n", ctypes.c_uint32)]


class Auto(rcgc.Struct, name="AutoNode"):  # default traverse and clear
    _fields_ = [("next", rcgc.Ref)]


def test_fields_and_refcounts(heap):
    a = Node(heap, index=1)
    b = Node(heap, index=2, a=a)
    assert a.refcount == 2
    assert (b.index, a.index) == (2, 1)
    assert b.a == a and b.b is None
    assert a.is_tracked and heap.is_tracked(a)
    b.index = 20
    assert b.index == 20
    b.a = b  # the old value is decref'd after the new one is stored
    assert (a.refcount, b.refcount) == (1, 2)
    b.a = b  # storing the same object again is safe
    assert b.refcount == 2
    with pytest.raises(AttributeError, match="Node has no field 'c'"):
        b.c = 1
    with pytest.raises(TypeError, match="Node has no field 'c'"):
        Node(heap, c=1)
    with pytest.raises(TypeError, match=r"Node\.a takes an rcgc object or None, not int"):
        b.a = 5
    p = Plain(heap, x=1.5, n=7)
    assert (p.x, p.n, p.is_tracked, p.type_name) == (1.5, 7, False, "Plain")
    assert Auto(heap).type_name == "AutoNode"


def test_a_python_traverse_finds_cycles(heap):
    a, b, c = Node(heap), Node(heap), Node(heap)
    a.a, b.a, c.a = b, c, a  # a 3-ring
    a.b = a  # and a self-reference
    del a, b, c
    assert heap.stats().live_objects == 3
    assert heap.collect() == 3
    assert heap.stats().live_objects == 0
    assert heap.callback_errors == []


def test_default_traverse_and_clear(heap):
    x, y = Auto(heap), Auto(heap)
    x.next, y.next = y, x
    del x, y
    assert heap.collect() == 2


def test_default_traverse_and_clear_run_inside_rcgc(heap, monkeypatch):
    """A Struct that keeps Struct's traverse and clear is registered with its Ref
    fields declared (rcgc_type_register_with_refs): collections read and empty the
    fields without calling Python. Struct's own methods are replaced here by ones
    that record their calls (the class still does not override them), so a
    collection through Python callbacks would record some."""
    calls = []
    monkeypatch.setattr(rcgc.Struct, "traverse", lambda self, visit: calls.append("traverse"))
    monkeypatch.setattr(rcgc.Struct, "clear", lambda self: calls.append("clear"))

    class Pair(rcgc.Struct):
        _fields_ = [("tag", ctypes.c_int64), ("left", rcgc.Ref), ("right", rcgc.Ref)]

    x, y, keep = Pair(heap, tag=1), Pair(heap, tag=2), Pair(heap, tag=3)
    x.left, x.right, y.right = y, keep, x  # a 2-cycle holding an outside object
    assert [o.type_name for o in heap.get_referents(x)] == ["Pair", "Pair"]
    del x, y
    assert heap.collect() == 2
    assert calls == []
    assert keep.refcount == 1  # the cycle's reference to it was dropped
    assert heap.callback_errors == []


def test_ref_fields_past_64_words_keep_python_callbacks(heap):
    """rcgc declares reference fields in the payload's first 64 words only; a Ref
    field further on leaves traverse and clear to Python, with the same results."""

    class Far(rcgc.Struct):
        _fields_ = [("pad", ctypes.c_int64 * 64), ("next", rcgc.Ref)]

    assert rcgc._declared_offsets(Far) is None
    assert rcgc._declared_offsets(Auto) == [0]
    assert rcgc._declared_offsets(Node) is None  # overrides traverse and clear
    a, b = Far(heap), Far(heap)
    a.next, b.next = b, a
    del a, b
    assert heap.collect() == 2
    assert heap.stats().live_objects == 0


def test_reachable_from_a_held_object_survives(heap):
    root = Node(heap)
    root.a = Node(heap)
    root.a.a = root  # a cycle, but held by the `root` handle
    assert heap.collect() == 0
    assert heap.stats().live_objects == 2
    del root
    assert heap.collect() == 2


RESURRECTED = []


class Phoenix(rcgc.Struct):
    _fields_ = [("self_ref", rcgc.Ref), ("keep", ctypes.c_int), ("finalized", ctypes.c_int)]

    def finalize(self):
        self.finalized += 1
        if self.keep == 1:
            RESURRECTED.append(self)  # keeping the borrowed self resurrects, as in __del__
        elif self.keep == 2:
            RESURRECTED.append(self.self_ref)  # a field read gives a new handle


@pytest.mark.parametrize("keep", [1, 2])
def test_finalize_resurrects_pep442(heap, keep):
    RESURRECTED.clear()
    p = Phoenix(heap, keep=keep)
    p.self_ref = p
    del p
    assert heap.collect() == 0  # resurrected: CPython returns 0 too
    assert len(RESURRECTED) == 1
    (p,) = RESURRECTED
    assert p.finalized == 1 and p.refcount == 2
    p.keep = 0
    RESURRECTED.clear()
    del p
    assert heap.collect() == 1  # garbage again; finalize does not run twice
    assert heap.stats().live_objects == 0
    assert RESURRECTED == []


def test_finalize_at_refcount_zero_and_destroy(heap):
    events = []

    class Noisy(rcgc.Struct):
        _fields_ = [("tag", ctypes.c_int)]

        def finalize(self):
            events.append(("finalize", self.tag))

        def destroy(self):
            events.append(("destroy", self.tag))

    n = Noisy(heap, tag=3)
    assert not n.is_tracked  # finalize/destroy alone do not make a container
    del n
    assert events == [("finalize", 3), ("destroy", 3)]


def test_destroy_cannot_keep_self(heap):
    kept = []

    class Leaky(rcgc.Struct):
        _fields_ = [("x", ctypes.c_int)]

        def destroy(self):
            kept.append(self)

    Leaky(heap)
    assert len(kept) == 1
    with pytest.raises(rcgc.InvalidHandleError):
        kept[0].x  # the memory is gone: the handle knows


def test_traverse_gets_addresses_and_may_not_call_rcgc(heap):
    seen = []

    class Spy(rcgc.Struct):
        _fields_ = [("next", rcgc.Ref)]

        def traverse(self, visit):
            seen.append(self.next)  # an address (int) or None: no handle in traverse
            visit(self.next)
            with pytest.raises(rcgc.ReentrantError, match="new_ref\\(\\) is not allowed in traverse"):
                self.new_ref()
            with pytest.raises(rcgc.ReentrantError, match="not allowed in traverse"):
                self.next = None

    s = Spy(heap)
    s.next = s
    addr = s.address
    del s
    assert heap.collect() == 1
    assert seen == [addr]
    assert heap.callback_errors == []


def test_the_borrowed_self_of_traverse_dies_with_the_call(heap):
    kept = []

    class Keeper(rcgc.Struct):
        _fields_ = [("next", rcgc.Ref)]

        def traverse(self, visit):
            kept.append(self)
            visit(self.next)

    k = Keeper(heap)
    heap.collect()
    assert k.refcount == 1  # traverse may not incref: the kept self is not promoted
    with pytest.raises(rcgc.InvalidHandleError):
        kept[0].next


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_exceptions_in_callbacks_are_reported_and_recorded(heap):
    class Broken(rcgc.Struct):
        _fields_ = [("next", rcgc.Ref)]

        def finalize(self):
            raise RuntimeError("finalize failed")

    b = Broken(heap)
    b.next = b
    del b
    assert heap.collect() == 1  # the collection goes on
    assert [str(e) for e in heap.callback_errors] == ["finalize failed"]


def test_assigning_an_object_of_another_heap_is_refused(heap):
    with rcgc.Heap() as other:
        foreign = other.slots(0)
        n = Node(heap)
        with pytest.raises(rcgc.WrongHeapError) as info:
            n.a = foreign
        assert info.value.code == 5
        assert info.value.message == (
            f"Node.a: object {foreign.address:#x} of type 'rcgc.slots' belongs to another heap"
        )


def test_inherited_fields(heap):
    class Base(rcgc.Struct):
        _fields_ = [("left", rcgc.Ref)]

    class Derived(Base):
        _fields_ = [("right", rcgc.Ref), ("w", ctypes.c_int)]

    d = Derived(heap, w=4)
    d.left = d
    d.right = d
    assert Derived._ref_fields == ("left", "right")
    assert d.refcount == 3
    del d
    assert heap.collect() == 1


def test_close_runs_python_finalizers(heap):
    done = []

    class Fin(rcgc.Struct):
        _fields_ = [("next", rcgc.Ref), ("tag", ctypes.c_int)]

        def finalize(self):
            done.append(self.tag)

    a = Fin(heap, tag=1)
    a.next = Fin(heap, tag=2)
    a.next.next = a
    held = a
    heap.close()  # like interpreter shutdown: finalizers run, everything goes
    assert sorted(done) == [1, 2]
    with pytest.raises(rcgc.InvalidHandleError):
        held.tag


# --- the same graphs in CPython and in rcgc, through this package ----------


class PyNode:
    __slots__ = ("a", "b")


def test_collect_counts_match_cpython_on_random_graphs():
    rng = random.Random(5)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(60):
            n = rng.randint(1, 25)
            edges = [(rng.choice([None, rng.randrange(n)]), rng.choice([None, rng.randrange(n)])) for _ in range(n)]
            held = rng.sample(range(n), rng.choice([0, 0, 1, min(2, n)]))

            gc.collect()
            nodes = [PyNode() for _ in range(n)]
            for i, (a, b) in enumerate(edges):
                nodes[i].a = nodes[a] if a is not None else None
                nodes[i].b = nodes[b] if b is not None else None
            keep_py = [nodes[i] for i in held]
            del nodes
            expected = gc.collect()

            with rcgc.Heap() as heap:
                heap.disable()
                rnodes = [Node(heap, index=i) for i in range(n)]
                for i, (a, b) in enumerate(edges):
                    rnodes[i].a = rnodes[a] if a is not None else None
                    rnodes[i].b = rnodes[b] if b is not None else None
                keep_rc = [rnodes[i] for i in held]
                del rnodes
                assert heap.collect() == expected, (edges, held)
                assert heap.collect() == 0
                del keep_rc
            del keep_py
    finally:
        if was_enabled:
            gc.enable()
