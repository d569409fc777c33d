"""Slots objects from Python: item access, exact refcounts, no leak, no double free."""

import pytest

import rcgc


def test_item_access_and_refcounts(heap):
    box = heap.slots(3)
    x = heap.slots(0)
    assert len(box) == 3
    assert list(box) == [None, None, None]
    assert box.type_name == "rcgc.slots"
    assert x.refcount == 1
    box[0] = x
    assert x.refcount == 2
    got = box[0]  # a new handle: a reference of its own
    assert got == x and got is not x
    assert x.refcount == 3
    del got
    assert x.refcount == 2
    box[-1] = x  # negative indices count from the end
    assert box[2] == x
    assert x.refcount == 3
    del box[0]
    assert box[0] is None
    assert x.refcount == 2
    box[2] = None
    assert x.refcount == 1
    del box
    assert x.refcount == 1
    assert heap.stats().live_objects == 1


def test_index_errors_are_index_errors_with_rcgcs_message(heap):
    box = heap.slots(3)
    x = heap.slots(0)
    with pytest.raises(IndexError) as info:
        box[3] = x
    assert isinstance(info.value, rcgc.InvalidArgumentError)
    assert info.value.message == "rcgc_slots_set: index 3 is out of range for a slots object of length 3"
    with pytest.raises(rcgc.SlotIndexError) as info:
        box[5]
    assert info.value.message == "rcgc_slots_get: index 5 is out of range for a slots object of length 3"
    with pytest.raises(IndexError):
        box[-4]
    with pytest.raises(IndexError):
        box[-4] = x
    assert x.refcount == 1  # nothing changed
    with pytest.raises(TypeError):
        box["0"]
    with pytest.raises(TypeError, match="a slot holds an rcgc object or None, not int"):
        box[0] = 5
    with pytest.raises(ValueError):
        heap.slots(-1)


def test_objects_of_another_heap_are_refused_by_rcgc(heap):
    other = rcgc.Heap()
    box = heap.slots(1)
    foreign = other.slots(0)
    with pytest.raises(rcgc.WrongHeapError) as info:
        box[0] = foreign
    assert info.value.message == (
        f"rcgc_slots_set: object {foreign.address:#x} of type 'rcgc.slots' belongs to another heap"
    )
    other.close()


def test_drop_and_new_ref(heap):
    x = heap.slots(0)
    y = x.new_ref()
    assert x.refcount == 2 and y == x and hash(y) == hash(x)
    y.drop()
    assert x.refcount == 1
    y.drop()  # a second drop does nothing
    with pytest.raises(rcgc.InvalidHandleError, match="dropped"):
        y.refcount
    assert x.refcount == 1
    x.drop()
    assert heap.stats().live_objects == 0


def test_handles_cannot_leak(heap):
    # Build and throw away a lot of structure through every kind of access.
    for i in range(200):
        a, b = heap.slots(2), heap.slots(2)
        a[0], a[1], b[0] = b, a, a
        _ = [a[0], a[1], b[0], b[1]]
        if i % 3 == 0:
            b[0] = None
    del a, b, _
    heap.collect()
    assert heap.stats().live_objects == 0


def test_a_deep_chain_freed_by_one_handle(heap):
    head = heap.slots(1)
    cur = head
    for _ in range(100_000):
        nxt = heap.slots(1)
        cur[0] = nxt
        cur = nxt
    del cur, nxt
    assert heap.stats().live_objects == 100_001
    del head  # one decref frees the chain, iteratively
    assert heap.stats().live_objects == 0


def test_objects_of_types_registered_from_c_are_plain_handles(heap):
    # A type registered through the raw API (no Python callbacks) still works.
    import ctypes

    spec = rcgc._ffi.TypeSpec()
    spec.name = b"CLeaf"
    spec.size = 8
    out = ctypes.c_void_p()
    assert rcgc.lib.rcgc_type_register(heap._st.ptr, ctypes.byref(spec), ctypes.byref(out)) == 0
    box = heap.slots(1)
    raw = rcgc.lib.rcgc_alloc(out.value)
    assert rcgc.lib.rcgc_slots_set(box.address, 0, raw) == 0
    rcgc.lib.rcgc_decref(raw)
    leaf = box[0]
    assert type(leaf) is rcgc.Object
    assert leaf.type_name == "CLeaf"
    assert not leaf.is_tracked
    assert leaf.refcount == 2
    with pytest.raises(TypeError, match="come from a Heap"):
        rcgc.Object()
