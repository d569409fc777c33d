"""The rest of Python's gc module: get_stats, callbacks, freeze, get_objects,
get_referrers, get_referents, is_finalized; each compared with CPython's own gc
module on the same small graphs where CPython has the feature."""

import ctypes
import gc
import sys

import pytest

import rcgc
from cpython_gc import quiet_gc


class Node(rcgc.Struct):
    _fields_ = [("next", rcgc.Ref)]


class Plain(rcgc.Struct):  # no reference field: untracked
    _fields_ = [("x", ctypes.c_int)]


def test_get_stats_shape_and_figures(heap):
    stats = heap.get_stats()
    assert len(stats) == 3 == len(gc.get_stats())
    for s in stats:
        assert set(gc.get_stats()[0]) <= set(s)  # CPython 3.11's keys are all there
        assert set(s) == {"collections", "collected", "uncollectable", "candidates", "duration"}
        assert (s["collections"], s["collected"], s["uncollectable"], s["candidates"]) == (0, 0, 0, 0)
        assert s["duration"] == 0.0
    a, b, c = heap.slots(1), heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a  # a 2-cycle
    c[0] = c  # a self-cycle
    keep = heap.slots(0)
    del a, b, c
    assert heap.collect() == 3
    s2 = heap.get_stats()[2]
    assert (s2["collections"], s2["collected"], s2["uncollectable"], s2["candidates"]) == (1, 3, 0, 4)
    assert s2["duration"] > 0.0
    assert [s["collections"] for s in heap.get_stats()[:2]] == [0, 0]
    del keep


def test_get_stats_counts_collections_like_cpython(heap):
    order = (0, 1, 2, 2, 0)
    for g in order:
        heap.collect(g)
    ours = [s["collections"] for s in heap.get_stats()]
    with quiet_gc():
        before = [s["collections"] for s in gc.get_stats()]
        for g in order:
            gc.collect(g)
        cpython = [s["collections"] - b for s, b in zip(gc.get_stats(), before)]
    assert ours == cpython == [2, 1, 2]


def record(log):
    def cb(phase, info):
        log.append((phase, info["generation"], info["collected"], info["uncollectable"]))

    return cb


def test_callbacks_see_what_cpythons_see(heap):
    ours = []
    heap.callbacks.append(record(ours))
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    del a, b
    assert heap.collect(0) == 2
    assert heap.collect() == 0

    cpython = []
    with quiet_gc():
        gc.callbacks.append(record(cpython))
        try:
            x, y = [], []
            x.append(y)
            y.append(x)
            del x, y
            assert gc.collect(0) == 2
            assert gc.collect() == 0
        finally:
            gc.callbacks.pop()
    assert ours == cpython == [
        ("start", 0, 0, 0),
        ("stop", 0, 2, 0),
        ("start", 2, 0, 0),
        ("stop", 2, 0, 0),
    ]


def test_callback_info_keys(heap):
    infos = []
    heap.callbacks.append(lambda phase, info: infos.append((phase, dict(info))))
    heap.collect(1)
    (p0, start), (p1, stop) = infos
    assert (p0, p1) == ("start", "stop")
    assert start == {"generation": 1, "collected": 0, "uncollectable": 0}
    assert set(stop) == {"generation", "collected", "uncollectable", "duration"}
    assert stop["duration"] >= 0.0 and isinstance(stop["duration"], float)


def test_callbacks_run_on_automatic_collections(heap):
    log = []
    heap.callbacks.append(record(log))
    heap.set_threshold(3)
    keep = [heap.slots(0) for _ in range(4)]  # the 4th allocation collects generation 0
    assert log == [("start", 0, 0, 0), ("stop", 0, 0, 0)]
    del keep


def test_a_callback_removing_itself_is_iterated_like_cpython(heap):
    def run(callbacks, collect):
        log = []

        def remover(phase, info):
            callbacks.remove(remover)

        callbacks.extend([remover, lambda phase, info: log.append(phase)])
        collect()
        callbacks.clear()
        return log

    ours = run(heap.callbacks, heap.collect)
    with quiet_gc():
        saved = gc.callbacks[:]
        gc.callbacks.clear()
        try:
            cpython = run(gc.callbacks, gc.collect)
        finally:
            gc.callbacks[:] = saved
    # The list is walked by index: removing entry 0 during "start" skips entry 1 once.
    assert ours == cpython == ["stop"]


def test_removed_callbacks_are_not_called(heap):
    log = []
    cb = record(log)
    heap.callbacks.append(cb)
    heap.callbacks.remove(cb)
    heap.collect()
    assert log == []
    assert heap.callbacks is heap.callbacks  # one list, modified in place


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_exception_in_a_callback_is_reported_and_the_next_one_runs(heap, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: reported.append(args.exc_value))
    log = []

    def broken(phase, info):
        raise KeyError(phase)

    heap.callbacks.extend([broken, record(log)])
    c = heap.slots(1)
    c[0] = c
    del c
    assert heap.collect() == 1  # the collection goes on
    assert log == [("start", 2, 0, 0), ("stop", 2, 1, 0)]
    assert [repr(e) for e in heap.callback_errors] == ["KeyError('start')", "KeyError('stop')"]
    assert reported == heap.callback_errors


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_collect_from_a_callback_is_reentrant(heap):
    heap.callbacks.append(lambda phase, info: heap.collect())
    assert heap.collect() == 0
    assert [type(e) for e in heap.callback_errors] == [rcgc.ReentrantError, rcgc.ReentrantError]
    assert heap.callback_errors[0].message.startswith("rcgc_collect: ")


def test_freeze_like_cpython(heap):
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    p = Plain(heap)
    del a, b
    assert heap.get_count() == (2, 0, 0)
    heap.freeze()
    assert heap.get_freeze_count() == 2  # tracked objects only: not the Plain
    assert heap.get_count() == (0, 0, 0)
    assert heap.get_objects() == []
    ours = [heap.collect()]
    heap.unfreeze()
    assert heap.get_freeze_count() == 0
    assert len(heap.get_objects(2)) == 2
    ours.append(heap.collect())

    with quiet_gc():
        x, y = [], []
        x.append(y)
        y.append(x)
        del x, y
        gc.freeze()
        try:
            cpython = [gc.collect()]
        finally:
            gc.unfreeze()
        cpython.append(gc.collect())
    assert ours == cpython == [0, 2]
    del p


def test_get_objects_by_generation_like_cpython(heap):
    s, n, p = heap.slots(0), Node(heap), Plain(heap)
    w = rcgc.ref(p)  # a weak reference is tracked, as CPython's are
    assert heap.get_objects() == heap.get_objects(0) == [s, n, w]
    assert heap.get_objects(1) == heap.get_objects(2) == []
    assert p not in heap.get_objects()  # untracked
    heap.collect(0)
    ours = (s in heap.get_objects(0), s in heap.get_objects(1), s in heap.get_objects(2))
    heap.collect(1)
    ours += (s in heap.get_objects(1), s in heap.get_objects(2))

    def has(obj, generation):
        return any(o is obj for o in gc.get_objects(generation))

    with quiet_gc():
        lst = []
        assert has(lst, 0)
        gc.collect(0)
        cpython = (has(lst, 0), has(lst, 1), has(lst, 2))
        gc.collect(1)
        cpython += (has(lst, 1), has(lst, 2))
    assert ours == cpython == (False, True, False, False, True)
    # Each handle is new, with a reference of its own.
    before = s.refcount
    objs = heap.get_objects()
    assert s.refcount == before + 1
    del objs
    assert s.refcount == before


@pytest.mark.parametrize("generation", [-2, 3])
def test_get_objects_rejects_a_bad_generation_like_cpython(heap, generation):
    with pytest.raises(ValueError):
        gc.get_objects(generation)
    with pytest.raises(rcgc.InvalidArgumentError) as info:
        heap.get_objects(generation)
    assert info.value.message == (
        f"rcgc_get_objects: generation {generation} is outside -1..=2 (-1: every generation)"
    )


def test_get_objects_minus_one_is_all_like_cpython(heap):
    s = heap.slots(0)
    heap.collect(0)
    t = heap.slots(0)
    assert heap.get_objects(-1) == heap.get_objects() == [t, s]
    assert len(gc.get_objects(-1)) > 0


def test_referents_and_referrers_like_cpython(heap):
    x, v, y, z = heap.slots(3), heap.slots(1), heap.slots(0), heap.slots(0)
    x[0], x[1], x[2] = y, z, y
    v[0] = y
    ours_names = {x: "x", v: "v", y: "y", z: "z"}

    def ours(handles):
        return [ours_names[h] for h in handles]

    X, V, Y, Z = [], [], [], []  # noqa: N806 - the CPython twins of x, v, y, z
    X.extend([Y, Z, Y])
    V.append(Y)
    names = {id(X): "x", id(V): "v", id(Y): "y", id(Z): "z"}

    def cpython(objs):
        return [names[id(o)] for o in objs if id(o) in names]

    assert ours(heap.get_referents(x)) == cpython(gc.get_referents(X)) == ["y", "z", "y"]
    assert ours(heap.get_referents(x, v)) == cpython(gc.get_referents(X, V)) == ["y", "z", "y", "y"]
    assert ours(heap.get_referents(y)) == cpython(gc.get_referents(Y)) == []
    assert ours(heap.get_referents()) == cpython(gc.get_referents()) == []
    assert sorted(ours(heap.get_referrers(y))) == sorted(cpython(gc.get_referrers(Y))) == ["v", "x"]
    assert sorted(ours(heap.get_referrers(y, z))) == sorted(cpython(gc.get_referrers(Y, Z))) == ["v", "x"]
    assert ours(heap.get_referrers(x)) == cpython(gc.get_referrers(X)) == []
    # Referents of an untracked type: none (CPython: the type only).
    assert heap.get_referents(Plain(heap)) == []


def test_referrers_are_tracked_objects_only(heap):
    leaf = heap.slots(0)
    n = Node(heap, next=leaf)
    assert heap.get_referrers(leaf) == [n]
    heap.collect()  # n moves to generation 2: still found
    assert heap.get_referrers(leaf) == [n]


def test_is_finalized_like_cpython(heap):
    kept = []

    class Resurrect(rcgc.Struct):
        _fields_ = [("me", rcgc.Ref)]

        def finalize(self):
            kept.append(self)

    r = Resurrect(heap)
    r.me = r
    assert heap.is_finalized(r) is False
    del r
    ours = (heap.collect(), heap.is_finalized(kept[0]))

    cpython_kept = []

    class CResurrect:
        def __del__(self):
            cpython_kept.append(self)

    with quiet_gc():
        c = CResurrect()
        c.me = c
        assert gc.is_finalized(c) is False
        del c
        cpython = (gc.collect(), gc.is_finalized(cpython_kept[0]))
    assert ours == cpython == (0, True)
    assert heap.is_finalized(heap.slots(0)) is False


def test_new_result_codes_have_classes():
    assert rcgc._ERRORS[9] is rcgc.NotFoundError and rcgc._ERRORS[10] is rcgc.AbortedError
    assert rcgc.NotFoundError(9, "m").name == "RCGC_ERR_NOT_FOUND"
    assert rcgc.AbortedError(10, "m").name == "RCGC_ERR_ABORTED"
    assert issubclass(rcgc.NotFoundError, LookupError)


def test_objects_of_another_heap_are_refused(heap):
    with rcgc.Heap() as other:
        foreign = other.slots(0)
        for call in (heap.get_referents, heap.get_referrers, heap.is_finalized, heap.why_alive):
            with pytest.raises(rcgc.WrongHeapError):
                call(foreign)
        with pytest.raises(TypeError, match="expected an rcgc object, got list"):
            heap.get_referents([])


def test_closed_heap_refuses_the_new_methods():
    heap = rcgc.Heap()
    heap.close()
    for call in (heap.get_stats, heap.freeze, heap.get_objects, heap.get_debug, lambda: heap.garbage):
        with pytest.raises(rcgc.InvalidHandleError, match="the heap is closed"):
            call()
