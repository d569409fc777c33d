"""gc.set_debug in rcgc: the flags, the output (sys.stderr by default, as CPython's),
and the garbage list of DEBUG_SAVEALL; compared with CPython's gc on the same graphs."""

import contextlib
import gc
import io
import re
import sys

import pytest

import rcgc
from cpython_gc import quiet_gc


def test_constants_are_cpythons():
    for name in ("DEBUG_STATS", "DEBUG_COLLECTABLE", "DEBUG_UNCOLLECTABLE", "DEBUG_SAVEALL", "DEBUG_LEAK"):
        assert getattr(rcgc, name) == getattr(gc, name), name
    assert (rcgc.DEBUG_STATS, rcgc.DEBUG_LEAK) == (1, 38)


def test_set_and_get_debug(heap):
    assert heap.get_debug() == 0
    heap.set_debug(rcgc.DEBUG_STATS | rcgc.DEBUG_SAVEALL)
    assert heap.get_debug() == 33
    with pytest.raises(rcgc.InvalidArgumentError) as info:
        heap.set_debug(8)  # not a debug flag
    assert info.value.message.startswith("rcgc_set_debug: ")
    assert heap.get_debug() == 33  # unchanged
    heap.set_debug(0)
    assert heap.get_debug() == 0


def normalize(text):
    text = re.sub(r"<[\w.]+ 0x[0-9a-f]+>", "<TYPE ADDR>", text)
    text = re.sub(r"generation: \d+ \d+ \d+", "generation: N N N", text)
    return re.sub(r"\d+\.\d{4}s elapsed", "T elapsed", text)


def test_output_goes_to_sys_stderr_like_cpythons(heap):
    heap.set_debug(rcgc.DEBUG_STATS | rcgc.DEBUG_COLLECTABLE)
    keep = heap.slots(0)
    c = heap.slots(1)
    c[0] = c
    addr = c.address
    del c
    with contextlib.redirect_stderr(io.StringIO()) as ours:
        assert heap.collect() == 1
    assert re.fullmatch(
        "gc: collecting generation 2...\n"
        "gc: objects in each generation: 2 0 0\n"
        "gc: objects in permanent generation: 0\n"
        f"gc: collectable <rcgc.slots {addr:#x}>\n"
        r"gc: done, 1 unreachable, 0 uncollectable, 0\.\d{4}s elapsed" "\n",
        ours.getvalue(),
    )
    with quiet_gc():
        lst = []
        lst.append(lst)
        del lst
        gc.set_debug(gc.DEBUG_STATS | gc.DEBUG_COLLECTABLE)
        with contextlib.redirect_stderr(io.StringIO()) as cpython:
            assert gc.collect() == 1
    assert normalize(ours.getvalue()) == normalize(cpython.getvalue())
    del keep


def test_set_debug_output_takes_a_callable(heap):
    lines = []
    heap.set_debug_output(lines.append)
    heap.set_debug(rcgc.DEBUG_COLLECTABLE)
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    addrs = sorted([a.address, b.address])
    del a, b
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert heap.collect() == 2
    assert err.getvalue() == ""
    assert sorted(lines) == [f"gc: collectable <rcgc.slots {x:#x}>" for x in addrs]
    heap.set_debug_output(None)  # back to sys.stderr
    c = heap.slots(1)
    c[0] = c
    del c
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert heap.collect() == 1
    assert err.getvalue().startswith("gc: collectable <rcgc.slots 0x")
    assert len(lines) == 2
    with pytest.raises(TypeError, match="takes a callable or None"):
        heap.set_debug_output("stderr")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_exception_in_the_output_is_reported(heap):
    def broken(line):
        raise OSError("disk full")

    heap.set_debug_output(broken)
    heap.set_debug(rcgc.DEBUG_STATS)
    assert heap.collect() == 0  # the collection goes on
    assert [str(e) for e in heap.callback_errors] == ["disk full"] * 4  # one per line


def test_uncollectable_prints_nothing(heap):
    lines = []
    heap.set_debug_output(lines.append)
    heap.set_debug(rcgc.DEBUG_UNCOLLECTABLE)
    c = heap.slots(1)
    c[0] = c
    del c
    assert heap.collect() == 1
    assert lines == []


def test_saveall_keeps_garbage_like_cpython(heap):
    heap.set_debug(rcgc.DEBUG_SAVEALL)
    a, b = heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a
    expected = [a.address, b.address]
    del a, b
    ours = [heap.collect(), len(heap.garbage)]
    garbage = list(heap.garbage)
    assert sorted(h.address for h in garbage) == sorted(expected)
    assert [h.refcount for h in garbage] == [3, 3]  # the cycle, the list, the handle
    assert garbage[0][0] == garbage[1]  # alive and uncleared
    assert heap.garbage == garbage and heap.garbage != [] and bool(heap.garbage)
    del garbage
    del heap.garbage[:]
    ours.append(len(heap.garbage))
    heap.set_debug(0)
    ours.append(heap.collect())

    with quiet_gc():
        gc.set_debug(gc.DEBUG_SAVEALL)
        x, y = [], []
        x.append(y)
        y.append(x)
        del x, y
        cpython = [gc.collect(), len(gc.garbage)]
        del gc.garbage[:]
        cpython.append(len(gc.garbage))
        gc.set_debug(0)
        cpython.append(gc.collect())
    assert ours == cpython == [2, 2, 0, 2]
    assert heap.get_stats()[2]["collected"] == 4  # saved objects count as collected


def test_garbage_list_view(heap):
    assert heap.garbage == [] and len(heap.garbage) == 0 and not heap.garbage
    assert repr(heap.garbage) == "[]"
    heap.set_debug(rcgc.DEBUG_SAVEALL)
    c = heap.slots(1)
    c[0] = c
    addr = c.address
    del c
    heap.collect()
    view = heap.garbage
    assert len(view) == 1 and view[0].address == addr and view[-1] == view[0]
    assert [h.address for h in view] == [addr]
    with pytest.raises(TypeError, match=r"del garbage\[:\]"):
        del view[0]
    with pytest.raises(IndexError):
        view[1]
    view.clear()
    assert len(view) == 0
    heap.clear_garbage()  # an empty list: nothing to do
    heap.set_debug(0)
    assert heap.collect() == 1


def test_clear_garbage_from_a_gc_callback(heap):
    heap.set_debug(rcgc.DEBUG_SAVEALL)
    heap.callbacks.append(lambda phase, info: phase == "stop" and heap.clear_garbage())
    c = heap.slots(1)
    c[0] = c
    del c
    assert heap.collect() == 1
    assert len(heap.garbage) == 0
    heap.set_debug(0)
    assert heap.collect() == 1  # cleared from the list: ordinary garbage again
    assert heap.callback_errors == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_clear_garbage_from_the_output_is_reentrant(heap):
    heap.set_debug_output(lambda line: heap.clear_garbage())
    heap.set_debug(rcgc.DEBUG_STATS)
    heap.collect()
    assert {type(e) for e in heap.callback_errors} == {rcgc.ReentrantError}


def test_leak_report_at_close():
    heap = rcgc.Heap()
    lines = []
    heap.set_debug_output(lines.append)
    heap.set_debug(rcgc.DEBUG_LEAK)
    c = heap.slots(1)
    c[0] = c
    addr = c.address
    del c
    keep = heap.slots(0)
    heap.close()
    assert lines == [
        f"gc: collectable <rcgc.slots {addr:#x}>",
        "gc: still alive at rcgc_heap_free: 2 objects, 64 bytes (1 in the garbage list)",
        "gc:   rcgc.slots: 2 objects, 64 bytes",
    ]
    del keep


def test_debug_output_default_survives_a_stderr_of_none(heap, monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)  # pythonw: no stderr at all
    heap.set_debug(rcgc.DEBUG_STATS)
    assert heap.collect() == 0
    assert heap.callback_errors == []
