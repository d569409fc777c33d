"""CPython side of the benchmark: DESIGN.md's workloads with objects of a
``__slots__ = ('a', 'b')`` class.

Usage: python3 bench/cpython_bench.py WORKLOAD [N|-] [MODE]
Prints the workload's standard output (binarytrees only), then one line
``RESULT {json}`` that bench/run.py parses and checks.

Before building, every workload runs gc.collect() and gc.freeze(), so that the
interpreter's own objects (modules, functions, ...) are neither counted by nor
scanned by the timed collection: the timings are of the workload's objects only.
The collect workloads build with gc disabled and time only gc.collect().
"""

import gc
import json
import os
import sys
import time

N_CYCLES2 = 500_000
N_SELFCYCLE = 1_000_000
N_LIST = 1_000_000
TREE_DEPTH = 19
N_CHURN = 10_000_000
BT_DEPTH = 18

PAGE = os.sysconf("SC_PAGE_SIZE")


class Node:
    __slots__ = ("a", "b")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def now():
    return time.perf_counter_ns()


def ms(t0, t1):
    return (t1 - t0) / 1e6


def result(workload, **fields):
    out = {"system": "cpython", "variant": "slots_class", "workload": workload}
    out.update(fields)
    print("RESULT " + json.dumps(out), flush=True)


def quiesce():
    gc.collect()
    gc.freeze()


def build_list(n):
    root = None
    for _ in range(n):
        nd = Node()
        nd.a = root
        root = nd
    return root


def make_tree(d):
    nd = Node()
    if d:
        d -= 1
        nd.a = make_tree(d)
        nd.b = make_tree(d)
    else:
        nd.a = nd.b = None
    return nd


def tree_check(nd):
    a = nd.a
    if a is None:
        return 1
    return 1 + tree_check(a) + tree_check(nd.b)


def w_cycles2(pairs):
    quiesce()
    gc.disable()
    for _ in range(pairs):
        a = Node()
        b = Node()
        a.a = b
        b.a = a
    del a, b
    t0 = now()
    found = gc.collect()
    t1 = now()
    result("cycles2", ms=ms(t0, t1), objects=2 * pairs, found=found)


def w_selfcycle(n):
    quiesce()
    gc.disable()
    for _ in range(n):
        x = Node()
        x.a = x
    del x
    t0 = now()
    found = gc.collect()
    t1 = now()
    result("selfcycle", ms=ms(t0, t1), objects=n, found=found)


def w_live_list(n):
    quiesce()
    gc.disable()
    rss0 = rss_bytes()
    root = build_list(n)
    rss1 = rss_bytes()
    t0 = now()
    found = gc.collect()
    t1 = now()
    del root
    result("live_list", ms=ms(t0, t1), objects=n, found=found, rss_delta=rss1 - rss0)


def w_live_tree(depth):
    quiesce()
    gc.disable()
    root = make_tree(depth)
    t0 = now()
    found = gc.collect()
    t1 = now()
    chk = tree_check(root)
    del root
    result("live_tree", ms=ms(t0, t1), objects=2 ** (depth + 1) - 1, found=found, check=chk)


def w_free(n):
    quiesce()
    gc.disable()
    root = build_list(n)
    t0 = now()
    del root
    t1 = now()
    result("free", ms=ms(t0, t1), objects=n)


def w_build_auto(n, mode):
    if mode not in ("on", "off", "trace"):
        raise SystemExit("build_auto: mode must be on, off or trace")
    quiesce()
    pauses = []
    gens = [0, 0, 0]
    in_gen = [0, 0, 0]
    start = [0]

    def callback(phase, info):
        if phase == "start":
            start[0] = time.perf_counter_ns()
        else:
            d = time.perf_counter_ns() - start[0]
            pauses.append(d)
            gens[info["generation"]] += 1
            in_gen[info["generation"]] += d

    on = mode != "off"
    if on:
        gc.callbacks.append(callback)
        gc.enable()
    else:
        gc.disable()
    threshold = gc.get_threshold()
    t0 = now()
    root = build_list(n)
    t1 = now()
    gc.disable()
    fields = dict(ms=ms(t0, t1), objects=n, threshold0=threshold[0],
                  threshold1=threshold[1], threshold2=threshold[2])
    if on:
        fields.update(gc_ms=sum(pauses) / 1e6, max_pause_ms=max(pauses, default=0) / 1e6,
                      collections0=gens[0], collections1=gens[1], collections2=gens[2],
                      gc_ms0=in_gen[0] / 1e6, gc_ms1=in_gen[1] / 1e6, gc_ms2=in_gen[2] / 1e6)
    del root
    result("build_auto", mode=mode, **fields)


def w_churn(n):
    quiesce()
    t0 = now()
    for _ in range(n):
        Node()
    t1 = now()
    result("churn", ms=ms(t0, t1), objects=n)


def w_binarytrees(n):
    """The benchmarks game program, single process, on Node objects; gc as
    any Python program has it (enabled, default thresholds)."""
    quiesce()
    gc.enable()
    min_depth = 4
    max_depth = max(min_depth + 2, n)
    stretch = max_depth + 1
    nodes = 0
    t0 = now()
    chk = tree_check(make_tree(stretch))
    nodes += chk
    print(f"stretch tree of depth {stretch}\t check: {chk}")
    long_lived = make_tree(max_depth)
    nodes += 2 ** (max_depth + 1) - 1
    for d in range(min_depth, max_depth + 1, 2):
        iterations = 2 ** (max_depth - d + min_depth)
        chk = 0
        for _ in range(iterations):
            chk += tree_check(make_tree(d))
        nodes += chk
        print(f"{iterations}\t trees of depth {d}\t check: {chk}")
    print(f"long lived tree of depth {max_depth}\t check: {tree_check(long_lived)}")
    del long_lived
    t1 = now()
    result("binarytrees", ms=ms(t0, t1), objects=nodes)


def w_memory(n):
    quiesce()
    gc.disable()
    rss0 = rss_bytes()
    t0 = now()
    root = build_list(n)
    t1 = now()
    rss1 = rss_bytes()
    del root
    result("memory", ms=ms(t0, t1), objects=n, rss_delta=rss1 - rss0)


def main(argv):
    if len(argv) < 2:
        raise SystemExit("usage: cpython_bench.py WORKLOAD [N|-] [MODE]")
    w = argv[1]
    arg = int(argv[2]) if len(argv) > 2 and argv[2] != "-" else None
    mode = argv[3] if len(argv) > 3 else "on"
    sys.setrecursionlimit(10_000)
    table = {
        "cycles2": lambda: w_cycles2(arg or N_CYCLES2),
        "selfcycle": lambda: w_selfcycle(arg or N_SELFCYCLE),
        "live_list": lambda: w_live_list(arg or N_LIST),
        "live_tree": lambda: w_live_tree(arg or TREE_DEPTH),
        "free": lambda: w_free(arg or N_LIST),
        "build_auto": lambda: w_build_auto(arg or N_LIST, mode),
        "churn": lambda: w_churn(arg or N_CHURN),
        "binarytrees": lambda: w_binarytrees(arg or BT_DEPTH),
        "memory": lambda: w_memory(arg or N_LIST),
    }
    if w not in table:
        raise SystemExit(f"unknown workload {w} (rc_ops has no CPython equivalent)")
    table[w]()


if __name__ == "__main__":
    main(sys.argv)
