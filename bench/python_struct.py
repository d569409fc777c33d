"""Full collections of rcgc.Struct objects through the Python bindings: a class that
keeps Struct's traverse and clear (registered with declared references, so rcgc
reads its fields itself) against the same class with traverse and clear written in
Python (called back for every object). Each figure is the median of REPS runs in
one process, alternating the two classes.

Usage: python3 bench/python_struct.py [N] [REPS]   (defaults 100000 and 5; uses the
library the bindings find, e.g. RCGC_LIB=target/release/librcgc.so)
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import rcgc  # noqa: E402


class Declared(rcgc.Struct):
    _fields_ = [("a", rcgc.Ref), ("b", rcgc.Ref)]


class Callbacks(rcgc.Struct):
    _fields_ = [("a", rcgc.Ref), ("b", rcgc.Ref)]

    def traverse(self, visit):
        visit(self.a)
        visit(self.b)

    def clear(self):
        self.a = None
        self.b = None


def once(cls, n):
    """ns per object: a full collection of an n-node live list, then of n/2
    unreachable 2-cycles; both built with collection off, the counts checked."""
    heap = rcgc.Heap()
    heap.disable()
    head = None
    for _ in range(n):
        head = cls(heap, a=head)
    t0 = time.perf_counter()
    found = heap.collect()
    live = (time.perf_counter() - t0) * 1e9 / n
    assert found == 0, found
    head = None
    assert heap.collect() == 0 and heap.stats().live_objects == 0
    for _ in range(n // 2):
        x = cls(heap)
        x.a = cls(heap, a=x)
    x = None
    t0 = time.perf_counter()
    found = heap.collect()
    garbage = (time.perf_counter() - t0) * 1e9 / n
    assert found == n, found
    heap.close()
    return live, garbage


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    runs = {Declared: [], Callbacks: []}
    for _ in range(reps):
        for cls in runs:
            runs[cls].append(once(cls, n))
    print(f"rcgc.Struct full collections, {n:,} objects, medians of {reps} (ns per object)")
    print("| class | live list | unreachable 2-cycles |")
    print("|---|---:|---:|")
    for cls, label in ((Declared, "default traverse/clear (declared references)"),
                       (Callbacks, "traverse/clear in Python")):
        live = statistics.median(r[0] for r in runs[cls])
        garbage = statistics.median(r[1] for r in runs[cls])
        print(f"| {label} | {live:,.0f} | {garbage:,.0f} |")


if __name__ == "__main__":
    main()
