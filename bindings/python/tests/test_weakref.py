"""Weak references: rcgc.ref(obj, callback=None) and rcgc.getweakrefcount, compared
with CPython's weakref module on the same graphs."""

import gc
import sys
import weakref

import pytest

import rcgc
from cpython_gc import quiet_gc


class Thing:  # a weakly referenceable CPython object
    pass


class WList(list):  # a weakly referenceable list, with no __dict__ to count
    __slots__ = ("__weakref__",)


def test_call_gives_the_referent_then_none(heap):
    o = heap.slots(0)
    w = rcgc.ref(o)
    assert isinstance(w, rcgc.WeakRef) and isinstance(w, rcgc.ref) and rcgc.ref is rcgc.WeakRef
    assert w.type_name == "rcgc.weakref" and w.is_tracked
    assert o.refcount == 1  # a weak reference owns no reference
    got = w()
    assert got == o and o.refcount == 2  # a new handle, with a reference of its own
    del got
    del o
    assert w() is None

    t = Thing()
    cw = weakref.ref(t)
    assert cw() is t
    del t
    assert cw() is None


def test_without_callback_the_weak_reference_is_shared_like_cpython(heap):
    o = heap.slots(0)
    ours = [rcgc.ref(o) == rcgc.ref(o), rcgc.ref(o, print) == rcgc.ref(o, print)]
    t = Thing()
    cpython = [weakref.ref(t) is weakref.ref(t), weakref.ref(t, print) is weakref.ref(t, print)]
    assert ours == cpython == [True, False]


def test_getweakrefcount_like_cpython(heap):
    def counts(ref, getweakrefcount, obj):
        out = [getweakrefcount(obj)]
        plain = ref(obj)
        out.append(getweakrefcount(obj))
        plain2 = ref(obj)
        out.append(getweakrefcount(obj))
        with_cb = ref(obj, lambda w: None)
        out.append(getweakrefcount(obj))
        with_cb2 = ref(obj, lambda w: None)
        out.append(getweakrefcount(obj))
        del with_cb
        out.append(getweakrefcount(obj))
        del plain, plain2
        out.append(getweakrefcount(obj))
        del with_cb2
        out.append(getweakrefcount(obj))
        return out

    ours = counts(rcgc.ref, rcgc.getweakrefcount, heap.slots(0))
    cpython = counts(weakref.ref, weakref.getweakrefcount, Thing())
    assert ours == cpython == [0, 1, 1, 2, 3, 2, 1, 0]


def test_callbacks_run_newest_first_like_cpython(heap):
    def run(ref, obj):
        log = []
        w1 = ref(obj, lambda w: log.append(("w1", w() is None, w == w1)))
        w2 = ref(obj, lambda w: log.append(("w2", w() is None, w == w2)))
        return log, [w1, w2]

    o = heap.slots(0)
    ours, keep = run(rcgc.ref, o)
    del o
    t = Thing()
    cpython, ckeep = run(weakref.ref, t)
    del t
    assert ours == cpython == [("w2", True, True), ("w1", True, True)]
    assert heap._st.weakref_callbacks == {}  # each callback is let go once it has run
    del keep, ckeep


def test_the_callback_gets_a_handle_of_the_weak_reference(heap):
    seen = []
    o = heap.slots(0)
    w = rcgc.ref(o, seen.append)
    del o
    (h,) = seen
    assert isinstance(h, rcgc.WeakRef) and h == w and h is not w
    assert h.refcount == 2  # w and h each own one reference
    assert h() is None


def test_a_weak_reference_dropped_first_never_calls_back(heap):
    seen = []
    o = heap.slots(0)
    w = rcgc.ref(o, seen.append)
    del w
    del o
    assert seen == []


class Token:
    """Captured by a callback, to see when the callback is let go."""


def test_a_weak_reference_lets_go_of_its_callback_when_freed_like_cpython(heap):
    # CPython: the weak reference owns its callback and drops it when it is freed,
    # whether by its count or as cyclic garbage, with the referent still alive.
    def run(ref, obj, holder, collect):
        token = Token()
        gone = weakref.ref(token)
        w = ref(obj, lambda w, token=token: None)
        del token
        alive = [gone() is not None]
        if holder is None:
            del w
        else:
            holder[0] = holder  # a self-referencing holder: w goes with it
            holder[1] = w
            del w, holder
            collect()
        alive.append(gone() is not None)
        return alive

    o = heap.slots(0)
    ours = [run(rcgc.ref, o, None, None), run(rcgc.ref, o, heap.slots(2), heap.collect)]
    t = Thing()
    with quiet_gc():
        cpython = [run(weakref.ref, t, None, None), run(weakref.ref, t, WList([None, None]), gc.collect)]
    assert ours == cpython == [[True, False], [True, False]]
    assert heap._st.weakref_callbacks == {}
    assert rcgc.getweakrefcount(o) == 0


def test_many_weak_references_dropped_first_keep_nothing(heap):
    o = heap.slots(0)
    for _ in range(1000):
        rcgc.ref(o, print)
    assert heap._st.weakref_callbacks == {}


def test_a_weak_reference_is_an_object_like_others(heap):
    o, s = heap.slots(0), heap.slots(2)
    s[0] = rcgc.ref(o)
    s[1] = o
    w = s[0]
    assert isinstance(w, rcgc.WeakRef) and w() == o
    assert w.refcount == 2  # the slot and the handle
    assert heap.get_referents(w) == []  # it references nothing
    assert heap.get_referents(s) == [w, o]
    del s[1]
    del o
    assert w() is None and s[0]() is None
    assert rcgc.ref(w)() == w  # weak references to weak references are allowed


def test_garbage_cycle_calls_back_like_cpython(heap):
    def run(make_pair, ref, collect):
        log = []
        a, b = make_pair()
        w = ref(b, lambda w: log.append("called"))
        del a, b
        return collect(), log, w

    def ours_pair():
        a, b = heap.slots(1), heap.slots(1)
        a[0], b[0] = b, a
        return a, b

    def cpython_pair():
        a, b = WList(), WList()
        a.append(b)
        b.append(a)
        return a, b

    ours = run(ours_pair, rcgc.ref, heap.collect)
    with quiet_gc():
        cpython = run(cpython_pair, weakref.ref, gc.collect)
    assert ours[:2] == cpython[:2] == (2, ["called"])
    assert ours[2]() is None


CALLED = []


def note(w):  # a module-level callback: not part of the garbage (a bound method would be)
    CALLED.append(w)


def test_a_weak_reference_that_is_garbage_never_calls_back_like_cpython(heap):
    CALLED.clear()
    a, b = heap.slots(2), heap.slots(1)
    a[0], b[0] = b, a
    a[1] = rcgc.ref(b, note)  # the weak reference is part of the garbage
    del a, b
    ours = (heap.collect(), len(CALLED))
    with quiet_gc():
        x, y = WList(), WList()
        x.append(y)
        y.append(x)
        x.append(weakref.ref(y, note))
        del x, y
        cpython = (gc.collect(), len(CALLED))
    assert ours == cpython == (3, 0)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_exception_in_a_callback_is_reported(heap, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: reported.append(args.exc_value))

    def broken(w):
        raise ValueError("callback failed")

    o = heap.slots(0)
    w = rcgc.ref(o, broken)
    del o  # the callback runs inside rcgc_decref: the error must not cross it
    assert [str(e) for e in heap.callback_errors] == ["callback failed"]
    assert reported == heap.callback_errors
    assert w() is None


def test_a_callback_may_use_the_heap(heap):
    made = []
    o = heap.slots(0)
    w = rcgc.ref(o, lambda w: made.append(heap.slots(1)))
    del o
    assert len(made) == 1 and heap.stats().live_objects == 2  # w and the new slots
    del w


def test_bad_input(heap):
    with pytest.raises(TypeError, match="cannot create a weak reference to a int"):
        rcgc.ref(5)
    with pytest.raises(TypeError, match="must be callable"):
        rcgc.ref(heap.slots(0), 5)
    with pytest.raises(TypeError, match="expected an rcgc object"):
        rcgc.getweakrefcount("x")
    with pytest.raises(rcgc.InvalidArgumentError) as info:
        rcgc.WeakRef.__call__(heap.slots(0))  # not a weak reference
    assert info.value.message.startswith("rcgc_weakref_get_ref: ")


def test_repr(heap):
    o = heap.slots(0)
    w = rcgc.ref(o)
    assert repr(w) == f"<rcgc weak reference at {w.address:#x}; to 'rcgc.slots' at {o.address:#x}>"
    del o
    assert repr(w) == f"<rcgc weak reference at {w.address:#x}; dead>"
    assert heap.stats().live_objects == 1  # repr's reference to the referent was dropped


def test_closing_the_heap_drops_pending_callbacks():
    heap = rcgc.Heap()
    seen = []
    o = heap.slots(0)
    w = rcgc.ref(o, seen.append)
    heap.close()  # weak references are cleared without callback
    assert seen == [] and heap._st.weakref_callbacks == {}
    with pytest.raises(rcgc.InvalidHandleError):
        w()
    with pytest.raises(rcgc.InvalidHandleError):
        rcgc.ref(o)
