"""Heap: Python's gc module as methods, stats, errors, and the heap's lifetime."""

import gc

import pytest

import rcgc


def test_defaults_are_cpythons(heap):
    assert heap.get_threshold() == (700, 10, 10) == gc.get_threshold()
    assert heap.get_count() == (0, 0, 0)
    assert heap.is_enabled() is True
    assert heap.isenabled() is True


def test_set_threshold_keeps_omitted_values_like_gc(heap):
    heap.set_threshold(7777, 11, 11)
    assert heap.get_threshold() == (7777, 11, 11)
    heap.set_threshold(500)
    assert heap.get_threshold() == (500, 11, 11)
    heap.set_threshold(400, 3)
    assert heap.get_threshold() == (400, 3, 11)
    with pytest.raises(ValueError, match=r"rcgc: a threshold cannot be negative \(-1\)"):
        heap.set_threshold(-1)


def test_enable_disable(heap):
    heap.disable()
    assert heap.is_enabled() is False
    heap.enable()
    assert heap.is_enabled() is True


def test_counting_is_cpythons(heap):
    # From (0, 0, 0), 701 live tracked allocations collect generation 0 once.
    keep = [heap.slots(0) for _ in range(700)]
    assert heap.get_count() == (700, 0, 0)
    keep.append(heap.slots(0))
    assert heap.get_count() == (0, 1, 0)
    del keep
    assert heap.get_count() == (0, 1, 0)  # deallocations never go below zero
    assert heap.collect(0) == 0
    assert heap.get_count() == (0, 2, 0)
    assert heap.collect(1) == 0
    assert heap.get_count() == (0, 0, 1)
    assert heap.collect() == 0
    assert heap.get_count() == (0, 0, 0)


def test_collect_returns_what_cpython_returns(heap):
    a, b, c = heap.slots(1), heap.slots(1), heap.slots(1)
    a[0], b[0] = b, a  # a 2-cycle
    c[0] = c  # a self-cycle
    del a, b, c
    assert heap.collect() == 3


def test_automatic_collection_off_with_threshold_zero(heap):
    heap.set_threshold(0)
    for _ in range(2000):
        s = heap.slots(1)
        s[0] = s
    del s
    assert heap.get_count() == (2000, 0, 0)
    assert heap.collect() == 2000


def test_stats(heap):
    s = heap.stats()
    assert s == rcgc.HeapStats(0, 0, 0, 0, 0, 0)
    a = heap.slots(2)
    b = heap.slots(2)
    s = heap.stats()
    assert (s.live_objects, s.tracked_objects, s.allocated_total, s.freed_total) == (2, 2, 2, 0)
    assert s.bytes_in_use == s.peak_bytes > 0
    del a, b
    s = heap.stats()
    assert (s.live_objects, s.tracked_objects, s.bytes_in_use, s.freed_total) == (0, 0, 0, 2)


def test_errors_carry_the_librarys_code_and_message(heap):
    with pytest.raises(rcgc.InvalidArgumentError) as info:
        heap.collect(3)
    e = info.value
    assert (e.code, e.name) == (2, "RCGC_ERR_INVALID_ARGUMENT")
    assert e.message == str(e) == "rcgc_collect: generation 3 is outside 0..=2"
    assert isinstance(e, rcgc.Error) and isinstance(e, ValueError)
    with pytest.raises(rcgc.InvalidArgumentError, match=r"^rcgc_collect: generation -1 is outside 0\.\.=2$"):
        heap.collect(-1)
    with pytest.raises(rcgc.InvalidArgumentError) as info:
        heap.slots(2**64 - 1)
    assert info.value.message == "rcgc_slots_new: 18446744073709551615 slots are more than the largest object can hold"


def test_error_classes_per_code():
    for code, cls in [
        (1, rcgc.NullArgumentError),
        (2, rcgc.InvalidArgumentError),
        (3, rcgc.NoMemoryError),
        (4, rcgc.MemoryLimitError),
        (5, rcgc.WrongHeapError),
        (6, rcgc.InvalidObjectError),
        (7, rcgc.ReentrantError),
        (8, rcgc.PanicError),
    ]:
        assert rcgc._ERRORS[code] is cls
        assert cls(code, "m").name == rcgc.lib.rcgc_result_name(code).decode()
    assert issubclass(rcgc.MemoryLimitError, MemoryError)
    assert issubclass(rcgc.SlotIndexError, IndexError)


def test_memory_limit_raises_and_the_heap_stays_usable():
    with rcgc.Heap(memory_limit=4096) as heap:
        kept = []
        with pytest.raises(rcgc.MemoryLimitError) as info:
            for _ in range(1000):
                kept.append(heap.slots(16))
        assert info.value.code == 4
        assert info.value.message.startswith("rcgc_slots_new: ")
        per_object = heap.stats().bytes_in_use // len(kept)
        assert len(kept) == 4096 // per_object
        kept.pop()
        kept.append(heap.slots(16))  # room again
        assert heap.stats().live_objects == len(kept)


def test_close_frees_everything_and_invalidates_handles():
    heap = rcgc.Heap()
    a = heap.slots(1)
    a[0] = a
    b = heap.slots(3)
    assert not heap.closed
    heap.close()
    assert heap.closed
    heap.close()  # idempotent
    for use in (lambda: a.refcount, lambda: b[0], lambda: len(b), heap.collect, heap.get_count):
        with pytest.raises(rcgc.InvalidHandleError, match="the heap is closed"):
            use()
    assert "invalid handle" in repr(a)
    del a, b  # no decref of freed memory: the handles know their heap is gone


def test_context_manager():
    with rcgc.Heap() as heap:
        s = heap.slots(1)
        s[0] = s
    assert heap.closed
    with pytest.raises(rcgc.InvalidHandleError):
        s[0]


def test_handles_keep_the_heap_alive():
    s = rcgc.Heap().slots(2)  # the Heap object itself is not kept by the caller
    s[0] = s
    assert s.refcount == 2
    assert s.heap.stats().live_objects == 1
    assert not s.heap.closed


def test_dropping_the_last_reference_frees_the_heap():
    import weakref

    heap = rcgc.Heap()
    ref = weakref.ref(heap)
    heap.slots(1)
    del heap
    assert ref() is None  # freed by refcounting, no cycle through the callbacks


def test_misuse_through_the_raw_api_is_reported_not_fatal(heap):
    s = heap.slots(1)
    addr = s.address
    s.drop()
    with pytest.warns(RuntimeWarning, match="rcgc misuse"):
        rcgc.lib.rcgc_decref(addr)  # a decref of a freed object
    assert len(heap.misuse_reports) == 1
    assert heap.misuse_reports[0].startswith("rcgc_decref")


def test_version():
    assert rcgc.library_version() == rcgc.__version__ == "0.1.0"
