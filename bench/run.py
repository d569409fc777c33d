#!/usr/bin/env python3
"""The rcgc benchmark: DESIGN.md's workloads in rcgc, CPython 3.11 and the Boehm GC.

    make bench                      # full run: REPS=5 repetitions, every system
    make bench QUICK=1              # 1 repetition, rcgc only, same sizes
    make bench-scaling              # full collections of 10^4..10^7 live objects
    python3 bench/run.py --render target/bench/results.json --markdown
                                    # print a stored run as markdown
    python3 bench/run.py --render target/bench/results.json --update-readme
    python3 bench/run.py --render target/bench/scaling.json --update-readme
                                    # put a stored run into README's Performance section
                                    # (between <!-- bench:begin/end --> or
                                    # <!-- scaling:begin/end -->)

Each repetition runs every workload in a fresh process per system, systems
interleaved (rcgc struct, rcgc slots, rcgc refs, CPython, Boehm, then the next
workload). The rcgc systems are bench/rcgc_bench.c built three times: struct (a user
struct node with traverse/clear callbacks), slots (-DSLOTS, the built-in slots object)
and refs (-DREFS, the same struct node registered with rcgc_type_register_with_refs).
Every process prints `RESULT {json}`; this script checks what was measured
(collected counts, live counts, binarytrees' output, sizes), prints one table
and writes it as JSON (target/bench/results.json) and markdown
(target/bench/results.md). A failed check makes it exit 1 after printing all
failures.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(ROOT, "target", "bench")
LIB = os.path.join(ROOT, "target", "release", "librcgc.a")
README = os.path.join(ROOT, "README.md")
CC = os.environ.get("CC", "cc")
PYTHON = shutil.which("python3") or sys.executable
CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L"]
TIMEOUT = 600  # seconds per process

SYSTEMS = {
    "rcgc_struct": "rcgc struct",
    "rcgc_slots": "rcgc slots",
    "rcgc_refs": "rcgc refs",
    "cpython": "CPython 3.11",
    "boehm": "Boehm GC",
}
RCGC = ("rcgc_struct", "rcgc_slots", "rcgc_refs")

BT_DEPTH = 18
BT_MIN = 4


def binarytrees_expected(n=BT_DEPTH):
    """The standard program's output for depth n, computed."""
    max_depth = max(BT_MIN + 2, n)
    lines = [f"stretch tree of depth {max_depth + 1}\t check: {2 ** (max_depth + 2) - 1}"]
    nodes = 2 ** (max_depth + 2) - 1 + 2 ** (max_depth + 1) - 1
    for d in range(BT_MIN, max_depth + 1, 2):
        it = 2 ** (max_depth - d + BT_MIN)
        chk = it * (2 ** (d + 1) - 1)
        nodes += chk
        lines.append(f"{it}\t trees of depth {d}\t check: {chk}")
    lines.append(f"long lived tree of depth {max_depth}\t check: {2 ** (max_depth + 1) - 1}")
    return lines, nodes


# name, objects (what ns/object divides by), description, systems that run it
WORKLOADS = [
    ("cycles2", 1_000_000, "full collect, 500,000 unreachable 2-cycles", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("selfcycle", 1_000_000, "full collect, 1,000,000 unreachable self-cycles", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("live_list", 1_000_000, "full collect, 1,000,000 live nodes in a list", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("live_tree", 1_048_575, "full collect, live binary tree of depth 19", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("build_auto", 1_000_000, "build a 1,000,000-node live list, automatic collection on", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("free", 1_000_000, "free a 1,000,000-node list by refcount (drop its root)", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython")),
    ("churn", 10_000_000, "10,000,000 short-lived objects, allocate + free", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("rc_ops", 100_000_000, "100,000,000 incref + decref pairs through the C ABI", ("rcgc_struct", "rcgc_slots", "rcgc_refs")),
    ("rc_ops_inline", 100_000_000, "the same pairs through rcgc.h's static inline functions", ("rcgc_struct", "rcgc_slots", "rcgc_refs")),
    ("binarytrees", binarytrees_expected()[1], "binary-trees, depth 18, whole run", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
    ("memory", 1_000_000, "resident bytes per live two-reference object (1,000,000)", ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython", "boehm")),
]
WL = {w[0]: w for w in WORKLOADS}
NOT_APPLICABLE = {
    ("free", "boehm"): "no refcount: garbage waits for a collection (see churn)",
    ("rc_ops", "cpython"): "CPython inlines Py_INCREF/Py_DECREF",
    ("rc_ops", "boehm"): "no reference counts",
    ("rc_ops_inline", "cpython"): "what Py_INCREF/Py_DECREF do in CPython",
    ("rc_ops_inline", "boehm"): "no reference counts",
}
# build_auto runs in several modes: on (timed), off (timed), trace (pauses; rcgc only:
# CPython's gc.callbacks and Boehm's collection events cost nothing between collections).
BUILD_MODES = {"rcgc_struct": ("on", "off", "trace"), "rcgc_slots": ("on", "off", "trace"),
               "rcgc_refs": ("on", "off", "trace"), "cpython": ("on", "off"), "boehm": ("on", "off")}
# binarytrees runs with automatic collection (timed) and, for rcgc, also without it, to
# show the collector's share (CPython's whole run is too long to repeat).
BT_MODES = {"rcgc_struct": ("on", "off"), "rcgc_slots": ("on", "off"), "rcgc_refs": ("on", "off")}


def modes(workload, system):
    if workload == "build_auto":
        return BUILD_MODES[system]
    if workload == "binarytrees":
        return BT_MODES.get(system, (None,))
    return (None,)

SCALING_N = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
SCALING_SYSTEMS = ("rcgc_struct", "rcgc_slots", "rcgc_refs", "cpython")


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# building and running
# ---------------------------------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, check=True, **kw)


def build(systems, cargo=True):
    os.makedirs(OUT, exist_ok=True)
    if "boehm" in systems:
        run(["sh", os.path.join(BENCH, "setup.sh"), "gc"])
    if cargo:
        run(["cargo", "build", "--release", "--quiet"])
    inc = ["-I", os.path.join(ROOT, "include"), "-I", BENCH]
    libs = ["-lpthread", "-ldl", "-lm"]
    src = os.path.join(BENCH, "rcgc_bench.c")
    run([CC, *CFLAGS, *inc, src, LIB, *libs, "-o", os.path.join(OUT, "rcgc_bench_struct")])
    run([CC, *CFLAGS, "-DSLOTS", *inc, src, LIB, *libs, "-o", os.path.join(OUT, "rcgc_bench_slots")])
    run([CC, *CFLAGS, "-DREFS", *inc, src, LIB, *libs, "-o", os.path.join(OUT, "rcgc_bench_refs")])
    if "boehm" in systems:
        run([CC, *CFLAGS, "-I", BENCH, os.path.join(BENCH, "boehm_bench.c"), "-lgc",
             "-o", os.path.join(OUT, "boehm_bench")])


def command(system, workload, n=None, mode=None):
    arg = [workload, str(n) if n is not None else "-"] + ([mode] if mode else [])
    if system in RCGC:
        return [os.path.join(OUT, "rcgc_bench_" + system.split("_")[1])] + arg
    if system == "boehm":
        return [os.path.join(OUT, "boehm_bench")] + arg
    return [PYTHON, os.path.join(BENCH, "cpython_bench.py")] + arg


def raise_priority():
    """Runs in each measured child: a higher scheduling priority (when allowed, e.g. as
    root) keeps compilers and test suites sharing this 2-core machine from preempting it."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass


def run_one(system, workload, n=None, mode=None):
    cmd = command(system, workload, n, mode)
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                           preexec_fn=raise_priority)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(cmd)}: timed out after {TIMEOUT} s")
    if p.returncode != 0:
        raise BenchError(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    results = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if len(results) != 1:
        raise BenchError(f"{' '.join(cmd)}: expected one RESULT line, got:\n{p.stdout}{p.stderr}")
    r = json.loads(results[0][len("RESULT "):])
    r["output"] = [l for l in p.stdout.splitlines() if not l.startswith("RESULT ")]
    r["key"] = system
    return r


# ---------------------------------------------------------------------------
# checking
# ---------------------------------------------------------------------------

def check_sample(r, failures):
    """Checks one process's result against what the workload must give."""
    w, s = r["workload"], r["key"]
    name = f"{w}/{SYSTEMS[s]}" + (f" ({r['mode']})" if "mode" in r else "")

    def want(cond, msg):
        if not cond:
            failures.append(f"{name}: {msg}")

    objects = WL[w][1]
    want(r.get("objects") == objects, f"measured {r.get('objects')} objects, the workload has {objects}")
    expected_found = {"cycles2": objects, "selfcycle": objects, "live_list": 0, "live_tree": 0}
    if w in expected_found:
        exp = expected_found[w]
        if s == "boehm":
            # Boehm reports no count: what GC_get_memory_use says it freed, in node blocks.
            if exp:
                want(r["found"] >= 0.99 * exp, f"reclaimed about {r['found']} nodes, expected {exp}")
            else:
                want(r["found"] <= 0.01 * objects, f"reclaimed about {r['found']} nodes of a live heap")
        else:
            want(r["found"] == exp, f"collect returned {r['found']}, expected {exp}")
    if s in RCGC:
        if w in ("cycles2", "selfcycle"):
            want(r["live_before"] == objects and r["live_after"] == 0,
                 f"live objects {r['live_before']} -> {r['live_after']}, expected {objects} -> 0")
        if w in ("live_list", "live_tree"):
            want(r["live_before"] == objects and r["live_after"] == objects,
                 f"live objects {r['live_before']} -> {r['live_after']}, expected {objects} both")
            want(r["live_after_free"] == 0, f"{r['live_after_free']} objects left after dropping the root")
        if w in ("free", "churn", "binarytrees"):
            want(r["live_after"] == 0, f"{r['live_after']} objects still live at the end")
        if w == "churn":
            want(r["allocated_total"] == objects, f"allocated {r['allocated_total']}")
        if w in ("rc_ops", "rc_ops_inline"):
            want(r["refcount_after"] == 1, f"refcount {r['refcount_after']} after the pairs, expected 1")
        if w == "rc_ops_inline":
            want(r["live_after"] == 0, f"{r['live_after']} objects live after the last inline decref")
        if w in ("build_auto", "memory"):
            want(r["live_before"] == objects, f"{r['live_before']} live objects after building")
        if w == "build_auto":
            want((r["threshold0"], r["threshold1"], r["threshold2"]) == (700, 10, 10),
                 "thresholds are not the defaults (700, 10, 10)")
    if w == "live_tree":
        want(r["check"] == objects, f"tree check {r['check']}")
    if w == "binarytrees":
        lines, _ = binarytrees_expected()
        want(r["output"] == lines,
             "output differs from the standard program's:\n    " + "\n    ".join(r["output"]))


# ---------------------------------------------------------------------------
# summarizing
# ---------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else None


def summarize(samples, cpython_ref=None):
    """Rows of the table from the raw samples: one per workload x system."""
    measured = {r["key"] for r in samples}
    rows = []
    by = {}
    for r in samples:
        by.setdefault((r["workload"], r["key"], r.get("mode")), []).append(r)
    for w, objects, desc, systems in WORKLOADS:
        for s in SYSTEMS:
            if (w, s) in NOT_APPLICABLE:
                if s in measured:
                    rows.append({"workload": w, "system": s, "na": NOT_APPLICABLE[(w, s)]})
                continue
            if s not in systems:
                continue
            runs = by.get((w, s, "on")) or by.get((w, s, None))
            if not runs:
                continue
            ms = [r["ms"] for r in runs]
            row = {"workload": w, "system": s, "reps": len(ms), "samples_ms": ms,
                   "median_ms": med(ms), "min_ms": min(ms), "max_ms": max(ms),
                   "objects": objects, "ns_per_object": med(ms) * 1e6 / objects}
            if w == "memory":
                row["bytes_per_object"] = med([r["rss_delta"] for r in runs]) / objects
                if s in RCGC:
                    row["bytes_in_use_per_object"] = med([r["bytes_in_use"] for r in runs]) / objects
                if s == "boehm":
                    row["heap_bytes_per_object"] = med([r["heap_delta"] for r in runs]) / objects
            if w in ("cycles2", "selfcycle", "live_list", "live_tree"):
                row["found"] = med([r["found"] for r in runs])
            if w == "build_auto":
                off = [r["ms"] for r in by.get((w, s, "off"), [])]
                trace = by.get((w, s, "trace"), runs)
                row["off_median_ms"] = med(off)
                row["off_samples_ms"] = off
                if off:
                    row["overhead_pct"] = 100.0 * (med(ms) - med(off)) / med(off)
                if trace and "gc_ms" in trace[0]:
                    row["gc_ms"] = med([r["gc_ms"] for r in trace])
                    row["max_pause_ms"] = med([r["max_pause_ms"] for r in trace])
                    row["max_pause_worst_ms"] = max(r["max_pause_ms"] for r in trace)
                    if "collections0" in trace[0]:
                        row["collections"] = [med([r[f"collections{g}"] for r in trace]) for g in range(3)]
                        row["gc_ms_per_generation"] = [med([r[f"gc_ms{g}"] for r in trace]) for g in range(3)]
                    else:
                        row["collections"] = [med([r["collections"] for r in trace])]
            if w == "binarytrees" and by.get((w, s, "off")):
                row["gc_off_median_ms"] = med([r["ms"] for r in by[(w, s, "off")]])
                row["gc_off_samples_ms"] = [r["ms"] for r in by[(w, s, "off")]]
            rows.append(row)
    # ratio to CPython, from this run or (quick mode) from a stored full run
    cp = {r["workload"]: r for r in rows if r["system"] == "cpython" and "na" not in r}
    ref_note = None
    if not cp and cpython_ref:
        cp, ref_note = cpython_ref
    for row in rows:
        c = cp.get(row["workload"])
        if "na" in row or not c:
            continue
        key = "bytes_per_object" if row["workload"] == "memory" else "median_ms"
        if row.get(key) is not None and c.get(key):
            row["ratio_to_cpython"] = row[key] / c[key]
    return rows, cp, ref_note


def fmt_ms(x):
    if x is None:
        return "-"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_ns(x):
    if x is None:
        return "-"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def notes(row):
    w, s = row["workload"], row["system"]
    if "na" in row:
        return row["na"]
    if w in ("cycles2", "selfcycle", "live_list", "live_tree"):
        if s == "boehm":
            return f"~{row['found']:,.0f} reclaimed (estimate)"
        return f"collect() -> {row['found']:,.0f}"
    if w == "build_auto":
        parts = []
        if row.get("off_median_ms") is not None:
            parts.append(f"gc off {fmt_ms(row['off_median_ms'])} ms (+{row['overhead_pct']:.0f} %)")
        if row.get("gc_ms") is not None:
            g = row.get("gc_ms_per_generation")
            parts.append(f"in gc {fmt_ms(row['gc_ms'])} ms" + (f" (full {fmt_ms(g[2])})" if g else ""))
            parts.append(f"longest pause {fmt_ms(row['max_pause_ms'])} ms")
            c = row["collections"]
            parts.append("collections " + ("/".join(f"{x:.0f}" for x in c) if len(c) == 3 else f"{c[0]:.0f}"))
        return ", ".join(parts)
    if w == "memory":
        t = "time = building"
        if "bytes_in_use_per_object" in row:
            t += f"; bytes_in_use {row['bytes_in_use_per_object']:.0f} B/obj"
        if "heap_bytes_per_object" in row:
            t += f"; GC heap {row['heap_bytes_per_object']:.0f} B/obj"
        return t
    if w == "binarytrees":
        if row.get("gc_off_median_ms") is not None:
            return f"ns per node; automatic gc off: {fmt_ms(row['gc_off_median_ms'])} ms"
        return "ns per node allocated"
    if w == "rc_ops":
        return "ns per pair, two calls"
    if w == "rc_ops_inline":
        return "ns per pair, rcgc_incref_inline + rcgc_decref_inline"
    return ""


HEAD = ["workload", "system", "median ms", "min-max ms", "ns/obj", "B/obj", "x CPython", "notes"]


def table_cells(rows):
    out = []
    for row in rows:
        if "na" in row:
            out.append([row["workload"], SYSTEMS[row["system"]], "n/a", "", "", "", "", notes(row)])
            continue
        b = row.get("bytes_per_object")
        ratio = row.get("ratio_to_cpython")
        out.append([row["workload"], SYSTEMS[row["system"]], fmt_ms(row["median_ms"]),
                    f"{fmt_ms(row['min_ms'])}-{fmt_ms(row['max_ms'])}", fmt_ns(row["ns_per_object"]),
                    f"{b:.1f}" if b is not None else "", f"{ratio:.2f}" if ratio is not None else "",
                    notes(row)])
    return out


def text_table(head, cells, right=(2, 3, 4, 5, 6)):
    widths = [max(len(str(c[i])) for c in [head] + cells) for i in range(len(head))]
    lines = []
    for k, c in enumerate([head] + cells):
        lines.append("  ".join((str(x).rjust(widths[i]) if i in right and k else str(x).ljust(widths[i]))
                               for i, x in enumerate(c)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * wd for wd in widths))
    return "\n".join(lines)


def md_table(head, cells, right=(2, 3, 4, 5, 6)):
    lines = ["| " + " | ".join(head) + " |",
             "| " + " | ".join("---:" if i in right else "---" for i in range(len(head))) + " |"]
    for c in cells:
        lines.append("| " + " | ".join(str(x).replace("|", "/") for x in c) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# DESIGN.md's targets
# ---------------------------------------------------------------------------

def targets(rows, cp, ref_rows=()):
    """DESIGN.md's targets against this run; systems this run did not measure (quick
    mode) come from ref_rows, the stored full run."""
    get = {(r["workload"], r["system"]): r for r in list(ref_rows) + rows if "na" not in r}
    out = []

    def add(label, design, cpython, per_variant):
        res = {"target": label, "design": design, "cpython": cpython}
        for s in RCGC:
            r = per_variant(s)
            if r is None:
                continue
            res[s] = {"value": r[0], "met": r[1]}
        out.append(res)

    def collect_target(w, limit):
        """Two rows: issue 4's target (a third of CPython's time in this run) and,
        where DESIGN.md gives one, its absolute figure, each judged on its own."""
        c = cp.get(w)
        cns = c["ns_per_object"] if c else None

        def ratio(s):
            r = get.get((w, s))
            if not r:
                return None
            ns = r["ns_per_object"]
            if cns is None:
                return (f"{ns:.1f} ns/obj", None)
            return (f"{ns / cns:.2f} x CPython ({ns:.1f} ns/obj)", ns <= cns / 3)

        def absolute(s):
            r = get.get((w, s))
            if not r:
                return None
            return (f"{r['ns_per_object']:.1f} ns/obj", r["ns_per_object"] <= limit)
        add(f"{w}: {WL[w][2]}", "<= 1/3 of CPython", f"{cns:.1f} ns/obj" if cns else "-", ratio)
        if limit is not None:
            add(f"{w}: the same, absolute", f"<= {limit} ns/object",
                f"{cns:.1f} ns/obj" if cns else "-", absolute)

    collect_target("cycles2", 15)
    collect_target("selfcycle", 15)
    collect_target("live_list", 8)
    collect_target("live_tree", None)

    c = cp.get("build_auto")

    def ba(s):
        r = get.get(("build_auto", s))
        if not r or r.get("overhead_pct") is None:
            return None
        return (f"+{r['overhead_pct']:.0f} %, longest pause {fmt_ms(r.get('max_pause_ms'))} ms",
                r["overhead_pct"] <= 25)
    add("build_auto: overhead of automatic collection", "<= +25 %, longest pause reported",
        f"+{c['overhead_pct']:.0f} %, longest pause {fmt_ms(c.get('max_pause_ms'))} ms"
        if c and c.get("overhead_pct") is not None else "-", ba)

    def per_obj(w, limit, unit="ns/obj", key="ns_per_object"):
        c = cp.get(w)

        def f(s):
            r = get.get((w, s))
            if not r or r.get(key) is None:
                return None
            return (f"{r[key]:.1f} {unit}", r[key] <= limit)
        add(f"{w}: {WL[w][2]}", f"<= {limit} {unit}",
            f"{c[key]:.1f} {unit}" if c and c.get(key) is not None else "n/a", f)

    per_obj("free", 8)
    per_obj("churn", 8)
    per_obj("rc_ops", 2, "ns/pair")
    per_obj("rc_ops_inline", 2, "ns/pair")
    per_obj("memory", 40, "B/obj", "bytes_per_object")

    boehm = get.get(("binarytrees", "boehm"))

    def bt(s):
        r = get.get(("binarytrees", s))
        if not r:
            return None
        if not boehm:
            return (f"{fmt_ms(r['median_ms'])} ms", None)
        return (f"{fmt_ms(r['median_ms'])} ms ({r['median_ms'] / boehm['median_ms']:.2f} x Boehm)",
                r["median_ms"] < boehm["median_ms"])
    c = cp.get("binarytrees")
    add("binarytrees: depth 18", "faster than Boehm" + (f" ({fmt_ms(boehm['median_ms'])} ms)" if boehm else ""),
        f"{fmt_ms(c['median_ms'])} ms" if c else "-", bt)
    return out


def target_systems(tg):
    """The rcgc columns of the target table: struct and slots always, refs when the run
    has a refs figure (runs from before the refs variant render as they did)."""
    return [s for s in RCGC if s != "rcgc_refs" or any(s in t for t in tg)]


def target_cells(tg):
    def m(x):
        if x is None:
            return "-"
        return {True: "met", False: "MISSED", None: "?"}[x["met"]] + ": " + x["value"]
    return [[t["target"], t["design"], t["cpython"]] + [m(t.get(s)) for s in target_systems(tg)] for t in tg]


def target_head(tg):
    return ["target", "DESIGN.md / issue 4", "CPython 3.11"] + [SYSTEMS[s] for s in target_systems(tg)]


# ---------------------------------------------------------------------------
# the machine
# ---------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, shell=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        mem_kb = 0
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg()[0],
        "python": sh(f"{PYTHON} -c 'import sys; print(sys.version.split()[0])'"),
        "cc": sh(f"{CC} --version | head -1"),
        "rustc": sh("rustc --version"),
        "boehm": sh("dpkg-query -W -f '${Version}' libgc-dev 2>/dev/null"),
        "git": sh("git rev-parse --short HEAD") + (" (with uncommitted changes)" if sh("git status --porcelain -- src") else ""),
    }


def busy_note(m):
    """A warning when other work shared the machine (1-minute load average)."""
    loads = [m.get("loadavg_at_start"), m.get("loadavg_at_end")]
    worst = max((x for x in loads if x is not None), default=0)
    if worst > 1.5:
        return (f"the machine was busy (1-minute load average up to {worst:.1f} on {m['nproc']} cores, "
                f"this run counting for 1): timings are noisy, compare medians and minimums")
    return None


def machine_line(m):
    return (f"{m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
            f"CPython {m['python']}; {m['cc']}; {m['rustc']}; libgc-dev {m['boehm'] or '-'}; "
            f"rcgc {m['git']}"
            + (f"; load average {m['loadavg_at_start']:.1f} before, {m['loadavg_at_end']:.1f} after"
               if m.get("loadavg_at_end") is not None else ""))


# ---------------------------------------------------------------------------
# rendering a run
# ---------------------------------------------------------------------------

def render_text(res):
    out = [f"rcgc benchmark: {res['reps']} repetition(s), {res['date']}",
           "machine: " + machine_line(res["machine"]),
           "x CPython = median / CPython's median (lower is better); B/obj = resident bytes per object",
           ""]
    if res.get("cpython_ref"):
        out.append(f"(CPython and Boehm figures, for the ratios and targets, from {res['cpython_ref']})")
    busy = busy_note(res["machine"])
    if busy:
        out += ["WARNING: " + busy, ""]
    out.append(text_table(HEAD, table_cells(res["rows"])))
    out += ["", "DESIGN.md targets:", text_table(target_head(res["targets"]), target_cells(res["targets"]), right=())]
    if res["failures"]:
        out += ["", "CHECKS FAILED:"] + ["  " + f for f in res["failures"]]
    else:
        out += ["", "checks: every collected count, live count, size and binarytrees output as expected"]
    return "\n".join(out)


def render_markdown(res):
    m = res["machine"]
    out = [f"Command: `{res['command']}` ({res['reps']} repetitions, each a fresh process, systems "
           f"interleaved; {res['date']}; the whole run took {res['elapsed_s'] / 60:.1f} min).",
           "",
           f"Machine: {machine_line(m)}.",
           "",
           "Medians with min-max; `x CPython` is the median divided by CPython's (lower is better); "
           "`B/obj` is resident memory per object.",
           ""]
    if res.get("cpython_ref"):
        out += [f"CPython and Boehm figures, for the ratios and targets, from {res['cpython_ref']}.", ""]
    if busy_note(m):
        out += ["**Warning:** " + busy_note(m) + ".", ""]
    out.append(md_table(HEAD, table_cells(res["rows"])))
    out += ["", md_table(target_head(res["targets"]), target_cells(res["targets"]), right=())]
    if res["failures"]:
        out += ["", "**Checks failed:**", ""] + ["- " + f for f in res["failures"]]
    return "\n".join(out)


def write_outputs(res, name):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(OUT, name + ".md"), "w") as f:
        f.write(render_markdown(res) + "\n")
    return path


def render_scaling_markdown(res):
    return "\n".join([
        f"Command: `{res['command']}` ({res['reps']} repetitions; {res['date']}). Machine: "
        f"{machine_line(res['machine'])}. Live list of N nodes built with automatic collection "
        "off; time of the first full collection (frees nothing); RSS growth while building.",
        "",
        md_table(*scaling_cells(res["rows"]), right=SCALING_RIGHT),
    ] + (["", "**Checks failed:**", ""] + ["- " + f for f in res["failures"]] if res["failures"] else []))


def update_readme(res):
    """Replaces README's generated block (bench or scaling) with this run."""
    scaling_run = "table_md" in res
    name = "scaling" if scaling_run else "bench"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    with open(README) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise SystemExit(f"README.md has no {begin} ... {end} block")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = render_scaling_markdown(res) if scaling_run else render_markdown(res)
    with open(README, "w") as f:
        f.write(head + begin + "\n" + body + "\n" + end + tail)
    log(f"README.md: the {name} block is updated")


# ---------------------------------------------------------------------------
# the runs
# ---------------------------------------------------------------------------

def bench(args):
    systems = list(RCGC) if args.quick else list(SYSTEMS)
    if args.systems:
        systems = [s for s in systems if s in args.systems.split(",")]
    workloads = [w[0] for w in WORKLOADS]
    if args.workloads:
        workloads = [w for w in workloads if w in args.workloads.split(",")]
    reps = 1 if args.quick else args.reps
    build(systems, cargo=not args.no_cargo)
    m = machine()
    log(f"rcgc bench: {reps} repetition(s) of {', '.join(workloads)} in {', '.join(SYSTEMS[s] for s in systems)}")
    t_start = time.time()
    samples, failures = [], []
    for rep in range(reps):
        for w in workloads:
            for s in systems:
                if s not in WL[w][3]:
                    continue
                for mode in modes(w, s):
                    r = run_one(s, w, mode=mode)
                    check_sample(r, failures)
                    r["rep"] = rep
                    samples.append(r)
                    log(f"  [{rep + 1}/{reps}] {w:<13} {SYSTEMS[s]:<13}{' ' + mode if mode else '':<6} {r['ms']:10.2f} ms")
    # binarytrees must print the same in every system
    outs = {tuple(r["output"]) for r in samples if r["workload"] == "binarytrees"}
    if len(outs) > 1:
        failures.append("binarytrees: the systems printed different output")
    cpython_ref, ref_rows = None, []
    if "cpython" not in systems or "boehm" not in systems:
        full = os.path.join(OUT, "results.json")
        if os.path.exists(full):
            with open(full) as f:
                old = json.load(f)
            ref_rows = [r for r in old["rows"] if r["system"] not in systems and "na" not in r]
            cp = {r["workload"]: r for r in ref_rows if r["system"] == "cpython"}
            if ref_rows:
                cpython_ref = (cp, f"the full run of {old['date']} (target/bench/results.json)")
    rows, cp, ref_note = summarize(samples, cpython_ref)
    cmd = "make bench QUICK=1" if args.quick else f"make bench REPS={reps}" if reps != 5 else "make bench"
    if args.workloads or args.systems:
        cmd = "python3 bench/run.py " + " ".join(sys.argv[1:])
    m["loadavg_at_end"] = os.getloadavg()[0]
    res = {"command": cmd, "reps": reps, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
           "elapsed_s": time.time() - t_start, "machine": m, "rows": rows,
           "targets": targets(rows, cp, ref_rows), "failures": failures, "cpython_ref": ref_note,
           "samples": samples}
    name = "results-quick" if args.quick else ("results-partial" if args.workloads or args.systems else "results")
    path = write_outputs(res, name)
    print(render_text(res))
    if args.markdown:
        print("\n" + render_markdown(res))
    log(f"\nwritten: {path} and {path[:-5]}.md ({res['elapsed_s']:.0f} s)")
    if args.update_readme:
        update_readme(res)
    return res


SCALING_RIGHT = (2, 3, 4, 5, 6, 7)


def scaling_cells(rows):
    cp = {r["n"]: r for r in rows if r["system"] == "cpython"}
    head = ["N", "system", "median ms", "min-max ms", "ns/obj", "RSS MB", "B/obj", "x CPython"]
    cells = []
    for r in rows:
        c = cp.get(r["n"])
        cells.append([f"{r['n']:,}", SYSTEMS[r["system"]], fmt_ms(r["median_ms"]),
                      f"{fmt_ms(r['min_ms'])}-{fmt_ms(r['max_ms'])}", fmt_ns(r["ns_per_object"]),
                      f"{r['rss_bytes'] / 1e6:.1f}", f"{r['bytes_per_object']:.1f}",
                      f"{r['median_ms'] / c['median_ms']:.2f}" if c and c["median_ms"] else ""])
    return head, cells


def scaling(args):
    systems = list(SCALING_SYSTEMS)
    if args.systems:
        systems = [s for s in systems if s in args.systems.split(",")]
    reps = args.reps
    build(systems, cargo=not args.no_cargo)
    m = machine()
    t_start = time.time()
    samples, failures = [], []
    log(f"rcgc bench scaling: {reps} repetition(s), N = {SCALING_N}")
    for rep in range(reps):
        for n in SCALING_N:
            for s in systems:
                r = run_one(s, "live_list", n=n)
                r["rep"], r["n"] = rep, n
                if r["found"] != 0 or r["objects"] != n:
                    failures.append(f"live_list N={n} {SYSTEMS[s]}: collect returned {r['found']}, objects {r['objects']}")
                if s in RCGC and not (r["live_after"] == n and r["live_after_free"] == 0):
                    failures.append(f"live_list N={n} {SYSTEMS[s]}: live {r['live_after']}, after free {r['live_after_free']}")
                samples.append(r)
                log(f"  [{rep + 1}/{reps}] N={n:<10,} {SYSTEMS[s]:<13} {r['ms']:10.3f} ms  {r['rss_delta'] / n:6.1f} B/obj")
    rows = []
    for n in SCALING_N:
        for s in systems:
            rs = [r for r in samples if r["n"] == n and r["key"] == s]
            ms = [r["ms"] for r in rs]
            rows.append({"n": n, "system": s, "median_ms": med(ms), "min_ms": min(ms), "max_ms": max(ms),
                         "ns_per_object": med(ms) * 1e6 / n,
                         "rss_bytes": med([r["rss_delta"] for r in rs]),
                         "bytes_per_object": med([r["rss_delta"] for r in rs]) / n,
                         "samples_ms": ms})
    m["loadavg_at_end"] = os.getloadavg()[0]
    res = {"command": "make bench-scaling" + (f" REPS={reps}" if reps != 5 else ""), "reps": reps, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
           "elapsed_s": time.time() - t_start, "machine": m, "rows": rows, "failures": failures}
    head, cells = scaling_cells(rows)
    res["table_md"] = md_table(head, cells, right=SCALING_RIGHT)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "scaling.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"Full collection of a live list of N objects (first collection after building, gc off while building); "
          f"{reps} repetitions; {res['date']}\nmachine: {machine_line(m)}\n")
    print(text_table(head, cells, right=SCALING_RIGHT))
    if args.markdown:
        print("\n" + res["table_md"])
    run(["sh", os.path.join(BENCH, "setup.sh"), "plot"])
    run([os.path.join(OUT, "venv", "bin", "python"), os.path.join(BENCH, "plot_scaling.py"), path,
         os.path.join(ROOT, "docs", "scaling.png")])
    log(f"written: {path}, docs/scaling.png ({res['elapsed_s']:.0f} s)")
    if args.update_readme:
        update_readme(res)
    if failures:
        print("\nCHECKS FAILED:\n" + "\n".join("  " + f for f in failures))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=int(os.environ.get("REPS", 5)), help="repetitions (default 5)")
    ap.add_argument("--quick", action="store_true", help="1 repetition, rcgc only, same sizes")
    ap.add_argument("--scaling", action="store_true", help="full collections of 10^4..10^7 live objects")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as markdown")
    ap.add_argument("--update-readme", action="store_true",
                    help="replace README's generated block (<!-- bench:begin/end -->, "
                         "or <!-- scaling:begin/end --> with --scaling)")
    ap.add_argument("--render", metavar="JSON", help="print a stored run instead of running")
    ap.add_argument("--workloads", help="comma-separated subset (writes results-partial.json)")
    ap.add_argument("--systems", help="comma-separated subset of " + ",".join(SYSTEMS))
    ap.add_argument("--no-cargo", action="store_true", help="do not run cargo build --release first")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    try:
        if args.render:
            with open(args.render) as f:
                res = json.load(f)
            if "table_md" in res:
                print(render_scaling_markdown(res))
            else:
                cp = {r["workload"]: r for r in res["rows"] if r["system"] == "cpython"}
                if cp:  # a run with its own CPython rows: judged by the targets as written now
                    res["targets"] = targets(res["rows"], cp)
                print(render_markdown(res) if args.markdown else render_text(res))
            if args.update_readme:
                update_readme(res)
            return 1 if res.get("failures") else 0
        res = scaling(args) if args.scaling else bench(args)
    except (BenchError, subprocess.CalledProcessError) as e:
        print(f"\nBENCHMARK FAILED: {e}", file=sys.stderr)
        return 1
    if res["failures"]:
        print(f"\nBENCHMARK FAILED: {len(res['failures'])} check(s) failed (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
