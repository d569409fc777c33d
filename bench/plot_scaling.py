"""Draws docs/scaling.png from target/bench/scaling.json (written by
`python3 bench/run.py --scaling`, i.e. `make bench-scaling`).

Usage: plot_scaling.py SCALING_JSON OUT_PNG  (needs matplotlib: bench/setup.sh plot)
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"rcgc_struct": "rcgc (struct node)", "rcgc_slots": "rcgc (slots object)",
          "rcgc_refs": "rcgc (struct node, declared references)",
          "cpython": "CPython 3.11 (__slots__ class)", "boehm": "Boehm GC"}
STYLE = {"rcgc_struct": ("tab:blue", "o"), "rcgc_slots": ("tab:cyan", "s"), "rcgc_refs": ("tab:purple", "v"),
         "cpython": ("tab:orange", "^"), "boehm": ("tab:gray", "d")}


def main(src, dst):
    with open(src) as f:
        res = json.load(f)
    systems = []
    for r in res["rows"]:
        if r["system"] not in systems:
            systems.append(r["system"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for s in systems:
        rs = sorted((r for r in res["rows"] if r["system"] == s), key=lambda r: r["n"])
        n = [r["n"] for r in rs]
        color, marker = STYLE.get(s, (None, "o"))
        kw = dict(label=LABELS.get(s, s), color=color, marker=marker)
        med = [r["median_ms"] for r in rs]
        lo = [r["median_ms"] - r["min_ms"] for r in rs]
        hi = [r["max_ms"] - r["median_ms"] for r in rs]
        axes[0].errorbar(n, med, yerr=[lo, hi], capsize=3, **kw)
        axes[1].plot(n, [r["ns_per_object"] for r in rs], **kw)
        axes[2].plot(n, [r["bytes_per_object"] for r in rs], **kw)
    axes[0].set(xscale="log", yscale="log", title="Full collection of a live list",
                xlabel="live objects", ylabel="ms (median, min-max)")
    axes[1].set(xscale="log", title="Full collection per object", xlabel="live objects",
                ylabel="ns / object")
    axes[2].set(xscale="log", title="Resident memory per object", xlabel="live objects",
                ylabel="bytes / object (RSS delta)")
    # DESIGN.md's targets at 1,000,000 objects, for reference
    axes[1].axhline(8, color="tab:green", linestyle="--", linewidth=1, label="DESIGN.md target (8 ns)")
    axes[2].axhline(40, color="tab:green", linestyle="--", linewidth=1, label="DESIGN.md target (40 B)")
    # room above the curves for the legend
    for ax in axes[1:]:
        ax.set_ylim(0, ax.get_ylim()[1] * 1.45)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    m = res["machine"]
    fig.suptitle(f"rcgc vs CPython: live heaps of 10^4..10^7 objects ({res['reps']} repetitions, "
                 f"{m['nproc']} cores {m['cpu']}, {res['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(f"plot_scaling.py: wrote {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
