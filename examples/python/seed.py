"""The seed demo in Python: "How is memory managed in Python?" replayed with rcgc.

The same walkthrough as examples/seed.c, step by step, through the Python package
(bindings/python): every step prints the Python line it mirrors, the rcgc call
that does it, and what rcgc returned; every figure is checked, and the program
exits 1 if any is not what the walkthrough says.

    cargo build && PYTHONPATH=bindings/python python3 examples/python/seed.py

Here Python names hold *handles*: each handle owns exactly one rcgc reference, so
the refcounts rise and fall as the walkthrough says when handles are made
(``x.new_ref()``, ``box[0] = x``) and dropped (``y = None``, ``del x``, a return).
"""

import ctypes
import sys

import rcgc


class Walkthrough:
    def __init__(self, want=None, out=print):
        self.wrong = 0
        self.want = want or {}  # figure -> replacement expected value (self-tests)
        self.out = out

    def section(self, title):
        self.out(f"\n== {title} ==")

    def step(self, python, call):
        self.out(f"\n  python> {python}")
        self.out(f"  py:     {call}")

    def say(self, text):
        self.out(text)

    def expect(self, figure, got, want):
        want = self.want.get(figure, want)
        if got == want:
            self.out(f"          {figure:<44} = {got}   [ok]")
        else:
            self.out(f"          {figure:<44} = {got}   [WRONG: should be {want}]")
            print(f"seed: wrong figure: {figure} is {got}, should be {want}", file=sys.stderr)
            self.wrong += 1

    def expect_yes(self, question, got, want):
        want = self.want.get(question, want)
        yes = {True: "yes", False: "no"}
        if got == want:
            self.out(f"          {question:<44} = {yes[got]}   [ok]")
        else:
            self.out(f"          {question:<44} = {yes[got]}   [WRONG: should be {yes[want]}]")
            print(f"seed: wrong answer: {question} {yes[got]}, should be {yes[want]}", file=sys.stderr)
            self.wrong += 1

    def expect_triple(self, what, got, want):
        want = self.want.get(what, want)
        if got == want:
            self.out(f"          prints {got}   [ok]")
        else:
            self.out(f"          prints {got}   [WRONG: should be {want}]")
            print(f"seed: wrong figure: {what} is {got}, should be {want}", file=sys.stderr)
            self.wrong += 1


# The walkthrough's class:   class Test(object): pass
# One reference field, obj (so that x.obj = x can be done), and a serial number so
# that destroy can note which Test died. traverse and clear are written in Python.
DESTROYED = []


class Test(rcgc.Struct):
    _fields_ = [("obj", rcgc.Ref), ("serial", ctypes.c_int)]

    def traverse(self, visit):  # tp_traverse: report the references a Test holds
        visit(self.obj)

    def clear(self):  # tp_clear: drop them
        self.obj = None

    def destroy(self):  # just before the memory goes
        DESTROYED.append(self.serial)


def run(want=None, out=print):
    """Replays the walkthrough; returns the number of wrong figures."""
    w = Walkthrough(want, out)
    out(f'rcgc {rcgc.library_version()}: "How is memory managed in Python?", replayed in Python')
    out("Each step shows the Python line it mirrors, the rcgc call, and what rcgc\n"
        "returned. Every figure is checked: [ok] means it is what it should be.")

    w.section("1. Objects live on a private heap")
    w.say("  Python keeps every object on a private heap. rcgc gives a program one of\n"
          "  its own: objects are allocated on it and freed when nobody needs them.")

    w.step("x = [0] * 5", "heap = rcgc.Heap();  x = heap.slots(5)")
    heap = rcgc.Heap()
    x = heap.slots(5)
    w.say(f'          x is a "{x.type_name}" object with {len(x)} slots (a list-like container)')
    w.expect("refcount of x (one name: x)", x.refcount, 1)
    w.expect("live objects on the heap", heap.stats().live_objects, 1)

    w.section("2. The refcount rises")
    w.say("  ...when an object is given a new name, or placed in a container.")

    w.step("y = x                  # a new name", "y = x.new_ref()")
    y = x.new_ref()
    w.expect("refcount of x", x.refcount, 2)

    w.step("box = [x]              # placed in a container", "box = heap.slots(1);  box[0] = x")
    box = heap.slots(1)
    box[0] = x
    w.expect("refcount of x", x.refcount, 3)

    w.section("3. The refcount falls")
    w.say("  ...when a name is reassigned, goes out of scope, or the object is removed.")

    w.step("y = None               # the name y is reassigned", "y = None")
    y = None  # noqa: F841 - dropping the handle is the point
    w.expect("refcount of x", x.refcount, 2)

    def f(x):
        z = x.new_ref()  # z = x: a new name  # noqa: F841
        w.expect("refcount of x while f() runs", x.refcount, 3)
        # f returns: z goes out of scope, and its handle with it

    w.step("f()                    # def f(): z = x", "f(x)    # def f(x): z = x.new_ref()")
    f(x)
    w.expect("refcount of x after f() returned", x.refcount, 2)

    w.step("box.remove(x)          # removed from the container", "del box[0]")
    del box[0]
    w.expect("refcount of x", x.refcount, 1)

    w.step("del x                  # the last name goes", "del x")
    del x
    w.say("          the count reached 0, so x was freed at once (no collector needed)")
    w.expect("live objects on the heap (only box)", heap.stats().live_objects, 1)

    w.step("del box", "del box")
    del box
    w.expect("live objects on the heap", heap.stats().live_objects, 0)

    w.section("4. An object that refers to itself")
    w.say("  Refcounting alone cannot free a cycle: the object keeps its own count up.")

    w.step("class Test(object): pass",
           'class Test(rcgc.Struct): _fields_ = [("obj", rcgc.Ref), ...];  heap.register(Test)')
    heap.register(Test)
    w.say(f'          registered type "{Test.__name__}": one reference field, obj')

    w.step("x = Test()", "x = Test(heap, serial=1)")
    x = Test(heap, serial=1)
    w.expect("refcount of x", x.refcount, 1)

    w.step("x.obj = x              # x is now an attribute of itself", "x.obj = x")
    x.obj = x
    w.expect("refcount of x (the name x, and x.obj)", x.refcount, 2)

    w.step("del x", "old = x.address;  del x   # the address is only peeked at below")
    old = x.address
    del x
    w.say("          nobody can reach the object any more, but x.obj still counts:")
    # A peek through the raw C API, as the C demo does: safe only because the
    # object is known to be alive (the cycle keeps it).
    w.expect("refcount of the old x", rcgc.lib.rcgc_refcount(old), 1)
    w.expect_yes("is it still alive (not destroyed)?", 1 not in DESTROYED, True)
    w.expect("live objects on the heap", heap.stats().live_objects, 1)

    w.step("gc.collect()           # the cycle collector finds it", "found = heap.collect()")
    found = heap.collect()
    w.say("          (CPython 3.11+ also returns 1 here: the instance has no separate\n"
          "          __dict__ object; older Pythons counted the dict too and returned 2)")
    w.expect("objects found unreachable", found, 1)
    w.expect_yes("has the old x been destroyed?", 1 in DESTROYED, True)
    w.expect("live objects on the heap", heap.stats().live_objects, 0)

    w.section("5. The gc module")

    w.step("print(gc.get_threshold())", "print(heap.get_threshold())")
    w.expect_triple("get_threshold()", heap.get_threshold(), (700, 10, 10))
    w.say("          generation 0 is collected when allocations minus deallocations of\n"
          "          tracked objects pass 700; generations 1 and 2 after 10 collections\n"
          "          of the generation below")

    w.say("\n  Before counting, make some garbage: two cycles of Test objects.")
    w.step("a, b = Test(), Test(); a.obj = b; b.obj = a; del a, b",
           "a, b = Test(heap), Test(heap); a.obj = b; b.obj = a; del a, b")
    a, b = Test(heap, serial=2), Test(heap, serial=3)
    a.obj = b
    b.obj = a
    del a, b
    w.step("c, d, e = Test(), Test(), Test(); c.obj = d; d.obj = e; e.obj = c; del c, d, e",
           "the same with Test(heap)")
    c, d, e = Test(heap, serial=4), Test(heap, serial=5), Test(heap, serial=6)
    c.obj = d
    d.obj = e
    e.obj = c
    del c, d, e
    w.expect("live objects on the heap (all garbage)", heap.stats().live_objects, 5)

    w.step("print(gc.get_count())", "print(heap.get_count())")
    w.expect_triple("get_count()", heap.get_count(), (5, 0, 0))
    w.say("          5 tracked objects allocated since the last collection; no collections\n"
          "          of generations 0 or 1 since then (Python itself would show other\n"
          "          numbers: the interpreter allocates objects of its own)")

    w.step("print(gc.collect())", "print(heap.collect())")
    destroyed_before = len(DESTROYED)
    found = heap.collect()
    w.say(f"          prints {found}   (the 2-object cycle + the 3-object ring)")
    w.expect("objects found unreachable", found, 5)
    w.expect("Test objects destroyed by this collection", len(DESTROYED) - destroyed_before, 5)
    w.expect("live objects on the heap", heap.stats().live_objects, 0)

    w.step("print(gc.get_count())  # a full collection resets every count",
           "print(heap.get_count())")
    w.expect_triple("get_count() after collect()", heap.get_count(), (0, 0, 0))

    w.step("gc.set_threshold(7777, 11, 11); print(gc.get_threshold())",
           "heap.set_threshold(7777, 11, 11);  print(heap.get_threshold())")
    heap.set_threshold(7777, 11, 11)
    w.expect_triple("get_threshold() after set_threshold", heap.get_threshold(), (7777, 11, 11))

    w.section("Done")
    w.step("(the interpreter exits)", "heap.close()")
    heap.close()
    w.say("          the heap and everything on it is gone\n")

    if w.wrong:
        out(f"{w.wrong} figure(s) were WRONG (see above)")
    else:
        out("Every figure matched the walkthrough.")
    return w.wrong


if __name__ == "__main__":
    sys.exit(1 if run() else 0)
