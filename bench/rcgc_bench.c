/*
 * rcgc side of the benchmark: DESIGN.md's workloads through the public C API.
 *
 * Built three times by bench/run.py (-O2, against target/release/librcgc.a, so
 * every rcgc call is a real call across the C ABI):
 *   rcgc_bench_struct  nodes are a user type `struct node { void *a, *b; }`
 *                      with traverse and clear callbacks;
 *   rcgc_bench_refs    (-DREFS) the same struct node, registered with
 *                      rcgc_type_register_with_refs and the offsets of a and b
 *                      (no callbacks: rcgc traverses and clears the fields);
 *   rcgc_bench_slots   (-DSLOTS) nodes are built-in slots objects of 2 slots,
 *                      set with rcgc_slots_set and read with rcgc_slots_get.
 *
 * Usage: rcgc_bench_{struct,refs,slots} WORKLOAD [N|-] [MODE]
 * (MODE: build_auto on|off|trace, binarytrees on|off; see each workload)
 * Prints the standard output of the workload (binarytrees only), then one line
 * `RESULT {json}` that bench/run.py parses and checks. Exits non-zero on any
 * rcgc error.
 */
#include "common.h"
#include "rcgc.h"

static rcgc_heap *H;

static void check(rcgc_result r, const char *what) {
    if (r != RCGC_OK) die("%s: %s (%s)", what, rcgc_result_name(r), rcgc_last_error());
}

#if defined(SLOTS) && defined(REFS)
#error "SLOTS and REFS are different variants: define at most one"
#endif

#ifdef SLOTS
#define VARIANT "slots"

static void setup_types(void) {}

static inline void *new_node(void) {
    void *n = rcgc_slots_new(H, 2);
    if (!n) die("rcgc_slots_new: %s", rcgc_last_error());
    return n;
}
/* Store v in a slot with a new reference (the caller keeps its own). */
static inline void set_a(void *n, void *v) { check(rcgc_slots_set(n, 0, v), "rcgc_slots_set"); }
static inline void set_b(void *n, void *v) { check(rcgc_slots_set(n, 1, v), "rcgc_slots_set"); }
/* Store v in an empty slot, handing over the caller's reference. Slots have no
 * stealing setter: set (incref) then drop ours (decref). */
static inline void give_a(void *n, void *v) { set_a(n, v); rcgc_decref(v); }
static inline void give_b(void *n, void *v) { set_b(n, v); rcgc_decref(v); }
static inline void *get_a(void *n) { return rcgc_slots_get(n, 0); }
static inline void *get_b(void *n) { return rcgc_slots_get(n, 1); }

#else
#ifdef REFS
#define VARIANT "refs"
#else
#define VARIANT "struct"
#endif

/* The struct and refs variants share the node and everything but setup_types. */
typedef struct node {
    void *a, *b;
} node;

static rcgc_type *node_type;

#ifdef REFS
/* No callbacks: rcgc visits and clears the fields at these offsets itself. */
static void setup_types(void) {
    rcgc_type_spec spec = {.name = "node", .size = sizeof(node)};
    check(rcgc_type_register_with_refs(H, &spec, (size_t[]){offsetof(node, a), offsetof(node, b)}, 2,
                                       &node_type),
          "rcgc_type_register_with_refs");
}
#else
/* As CPython's Py_VISIT: skip NULL fields without a call. */
static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
    node *n = obj;
    if (n->a) visit(n->a, ctx);
    if (n->b) visit(n->b, ctx);
}

/* As Py_CLEAR. */
static void node_clear(void *obj) {
    node *n = obj;
    if (n->a) rcgc_clear_ref(&n->a);
    if (n->b) rcgc_clear_ref(&n->b);
}

static void setup_types(void) {
    rcgc_type_spec spec = {.name = "node",
                           .size = sizeof(node),
                           .traverse = node_traverse,
                           .clear = node_clear};
    check(rcgc_type_register(H, &spec, &node_type), "rcgc_type_register");
}
#endif

static inline void *new_node(void) {
    void *n = rcgc_alloc(node_type);
    if (!n) die("rcgc_alloc: %s", rcgc_last_error());
    return n;
}
static inline void set_a(void *n, void *v) { rcgc_set_ref(&((node *)n)->a, v); }
static inline void set_b(void *n, void *v) { rcgc_set_ref(&((node *)n)->b, v); }
/* An empty field takes over the caller's reference (as PyTuple_SET_ITEM). */
static inline void give_a(void *n, void *v) { ((node *)n)->a = v; }
static inline void give_b(void *n, void *v) { ((node *)n)->b = v; }
static inline void *get_a(void *n) { return ((node *)n)->a; }
static inline void *get_b(void *n) { return ((node *)n)->b; }
#endif

static void heap_new(int auto_gc) {
    H = rcgc_heap_new();
    if (!H) die("rcgc_heap_new: %s", rcgc_last_error());
    if (!auto_gc) check(rcgc_disable(H), "rcgc_disable");
    setup_types();
}

static rcgc_heap_stats stats(void) {
    rcgc_heap_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    check(rcgc_heap_get_stats(H, &s), "rcgc_heap_get_stats");
    return s;
}

static size_t collect_full(void) {
    size_t found = 0;
    check(rcgc_collect(H, 2, &found), "rcgc_collect");
    return found;
}

/* A linked list of n nodes through field a; returns the head (a new reference). */
static void *build_list(long n) {
    void *root = NULL;
    for (long i = 0; i < n; i++) {
        void *nd = new_node();
        if (root) give_a(nd, root);
        root = nd;
    }
    return root;
}

/* A complete binary tree: depth d has 2^(d+1) - 1 nodes. */
static void *make_tree(int d) {
    void *nd = new_node();
    if (d > 0) {
        give_a(nd, make_tree(d - 1));
        give_b(nd, make_tree(d - 1));
    }
    return nd;
}

static long tree_check(void *nd) {
    void *a = get_a(nd);
    if (!a) return 1;
    return 1 + tree_check(a) + tree_check(get_b(nd));
}

static void result_head(const char *workload) {
    result_begin();
    result_str("system", "rcgc");
    result_str("variant", VARIANT);
    result_str("workload", workload);
}

/* ---- the unreachable-cycle workloads: time one full collection ---- */

static void w_cycles2(long pairs) {
    heap_new(0);
    for (long i = 0; i < pairs; i++) {
        void *a = new_node(), *b = new_node();
        set_a(a, b);
        set_a(b, a);
        rcgc_decref(a);
        rcgc_decref(b);
    }
    size_t live_before = stats().live_objects;
    uint64_t t0 = now_ns();
    size_t found = collect_full();
    uint64_t t1 = now_ns();
    size_t live_after = stats().live_objects;
    result_head("cycles2");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", 2 * pairs);
    result_int("found", (long long)found);
    result_int("live_before", (long long)live_before);
    result_int("live_after", (long long)live_after);
    result_end();
    rcgc_heap_free(H);
}

static void w_selfcycle(long n) {
    heap_new(0);
    for (long i = 0; i < n; i++) {
        void *x = new_node();
        set_a(x, x);
        rcgc_decref(x);
    }
    size_t live_before = stats().live_objects;
    uint64_t t0 = now_ns();
    size_t found = collect_full();
    uint64_t t1 = now_ns();
    size_t live_after = stats().live_objects;
    result_head("selfcycle");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("found", (long long)found);
    result_int("live_before", (long long)live_before);
    result_int("live_after", (long long)live_after);
    result_end();
    rcgc_heap_free(H);
}

/* ---- live heaps: one full collection that frees nothing ---- */

static void w_live_list(long n) {
    heap_new(0);
    long long rss0 = rss_bytes();
    void *root = build_list(n);
    long long rss1 = rss_bytes();
    rcgc_heap_stats s = stats();
    uint64_t t0 = now_ns();
    size_t found = collect_full();
    uint64_t t1 = now_ns();
    size_t live_after = stats().live_objects;
    rcgc_decref(root);
    size_t live_after_free = stats().live_objects;
    result_head("live_list");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("found", (long long)found);
    result_int("live_before", (long long)s.live_objects);
    result_int("live_after", (long long)live_after);
    result_int("live_after_free", (long long)live_after_free);
    result_int("rss_delta", rss1 - rss0);
    result_int("bytes_in_use", (long long)s.bytes_in_use);
    result_end();
    rcgc_heap_free(H);
}

static void w_live_tree(long depth) {
    heap_new(0);
    void *root = make_tree((int)depth);
    size_t live_before = stats().live_objects;
    uint64_t t0 = now_ns();
    size_t found = collect_full();
    uint64_t t1 = now_ns();
    size_t live_after = stats().live_objects;
    long chk = tree_check(root);
    rcgc_decref(root);
    result_head("live_tree");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", (1L << (depth + 1)) - 1);
    result_int("found", (long long)found);
    result_int("live_before", (long long)live_before);
    result_int("live_after", (long long)live_after);
    result_int("check", chk);
    result_int("live_after_free", (long long)stats().live_objects);
    result_end();
    rcgc_heap_free(H);
}

/* ---- freeing by refcount: drop the root of a 1,000,000-node list ---- */

static void w_free(long n) {
    heap_new(0);
    void *root = build_list(n);
    size_t live_before = stats().live_objects;
    uint64_t t0 = now_ns();
    rcgc_decref(root);
    uint64_t t1 = now_ns();
    result_head("free");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("live_before", (long long)live_before);
    result_int("live_after", (long long)stats().live_objects);
    result_end();
    rcgc_heap_free(H);
}

/* ---- building a live list with automatic collection ----
 * MODE on:    default thresholds, nothing but the build is timed;
 *      off:   automatic collection disabled;
 *      trace: on, and every allocation is timed; an allocation after which
 *             rcgc_get_count shows a collection's change of the counts ran
 *             one: its duration is that collection's pause, and the counts
 *             tell which generation it collected. */

static void w_build_auto(long n, const char *mode) {
    int trace = strcmp(mode, "trace") == 0;
    int on = trace || strcmp(mode, "on") == 0;
    if (!on && strcmp(mode, "off") != 0) die("build_auto: mode must be on, off or trace");
    heap_new(on);
    rcgc_thresholds th = rcgc_get_threshold(H);
    long collections[3] = {0, 0, 0};
    uint64_t in_gc = 0, max_pause = 0, in_gen[3] = {0, 0, 0};
    long long full_objects = 0; /* objects examined by the full collections */
    void *root = NULL;
    uint64_t t0 = now_ns();
    if (!trace) {
        root = build_list(n);
    } else {
        rcgc_counts prev = rcgc_get_count(H);
        for (long i = 0; i < n; i++) {
            uint64_t a0 = now_ns();
            void *nd = new_node();
            uint64_t a1 = now_ns();
            rcgc_counts c = rcgc_get_count(H);
            /* A collection of generation g zeroes counts 0..=g and adds 1 to count
             * g+1; a full one needs count.gen2 > threshold.gen2 >= 0 first. */
            int g = c.gen2 < prev.gen2 ? 2 : c.gen2 == prev.gen2 + 1 ? 1 : c.gen1 == prev.gen1 + 1 ? 0 : -1;
            if (g >= 0) {
                collections[g]++;
                in_gc += a1 - a0;
                in_gen[g] += a1 - a0;
                if (g == 2) full_objects += i;
                if (a1 - a0 > max_pause) max_pause = a1 - a0;
            }
            prev = c;
            if (root) give_a(nd, root);
            root = nd;
        }
    }
    uint64_t t1 = now_ns();
    size_t live = stats().live_objects;
    rcgc_decref(root);
    result_head("build_auto");
    result_str("mode", mode);
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("live_before", (long long)live);
    result_int("threshold0", (long long)th.gen0);
    result_int("threshold1", (long long)th.gen1);
    result_int("threshold2", (long long)th.gen2);
    if (trace) {
        result_num("gc_ms", (double)in_gc / 1e6);
        result_num("max_pause_ms", (double)max_pause / 1e6);
        result_int("collections0", collections[0]);
        result_int("collections1", collections[1]);
        result_int("collections2", collections[2]);
        for (int g = 0; g < 3; g++) {
            char k[16];
            snprintf(k, sizeof k, "gc_ms%d", g);
            result_num(k, (double)in_gen[g] / 1e6);
        }
        result_int("full_objects", full_objects);
    }
    result_end();
    rcgc_heap_free(H);
}

/* ---- churn: short-lived acyclic tracked objects ---- */

static void w_churn(long n) {
    heap_new(1);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        void *nd = new_node();
        rcgc_decref(nd);
    }
    uint64_t t1 = now_ns();
    rcgc_heap_stats s = stats();
    result_head("churn");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("allocated_total", (long long)s.allocated_total);
    result_int("live_after", (long long)s.live_objects);
    result_end();
    rcgc_heap_free(H);
}

/* ---- incref + decref pairs on one object ---- */

static void w_rc_ops(long n) {
    heap_new(1);
    void *obj = new_node();
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        rcgc_incref(obj);
        rcgc_decref(obj);
    }
    uint64_t t1 = now_ns();
    size_t rc = rcgc_refcount(obj);
    rcgc_decref(obj);
    result_head("rc_ops");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("refcount_after", (long long)rc);
    result_end();
    rcgc_heap_free(H);
}

/* ---- the same pairs through the header's static inline functions ---- */

/* What Py_INCREF/Py_DECREF give CPython: each pair is two loads, tests and
 * stores in place, with no call while the count stays above 1. The empty asm
 * statements make the compiler keep every pair as written (real code has other
 * work between an incref and its decref), instead of folding the loop away. */
static void w_rc_ops_inline(long n) {
    heap_new(1);
    void *obj = new_node();
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        rcgc_incref_inline(obj);
        __asm__ __volatile__("" : : "r"(obj) : "memory");
        rcgc_decref_inline(obj);
        __asm__ __volatile__("" : : "r"(obj) : "memory");
    }
    uint64_t t1 = now_ns();
    size_t rc = rcgc_refcount(obj);
    rcgc_decref_inline(obj);
    result_head("rc_ops_inline");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("refcount_after", (long long)rc);
    result_int("live_after", (long long)stats().live_objects);
    result_end();
    rcgc_heap_free(H);
}

/* ---- the Computer Language Benchmarks Game's binary-trees ---- */

/* MODE on (default): automatic collection as any program has it; off: disabled
 * (refcounting alone frees the trees), to separate the collector's share. */
static void w_binarytrees(long n, const char *mode) {
    int on = strcmp(mode, "on") == 0;
    if (!on && strcmp(mode, "off") != 0) die("binarytrees: mode must be on or off");
    heap_new(on);
    const int min_depth = 4;
    int max_depth = (int)n < min_depth + 2 ? min_depth + 2 : (int)n;
    int stretch = max_depth + 1;
    long nodes = 0;
    uint64_t t0 = now_ns();

    void *t = make_tree(stretch);
    long chk = tree_check(t);
    nodes += chk;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, chk);
    rcgc_decref(t);

    void *long_lived = make_tree(max_depth);
    nodes += (2L << max_depth) - 1;

    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth);
        chk = 0;
        for (long i = 0; i < iterations; i++) {
            t = make_tree(d);
            chk += tree_check(t);
            rcgc_decref(t);
        }
        nodes += chk;
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, chk);
    }
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, tree_check(long_lived));
    rcgc_decref(long_lived);
    uint64_t t1 = now_ns();
    result_head("binarytrees");
    result_str("mode", mode);
    result_num("ms", ms_since(t0, t1));
    result_int("objects", nodes);
    result_int("live_after", (long long)stats().live_objects);
    result_end();
    rcgc_heap_free(H);
}

/* ---- memory: resident bytes per live two-reference object ---- */

static void w_memory(long n) {
    heap_new(0);
    long long rss0 = rss_bytes();
    uint64_t t0 = now_ns();
    void *root = build_list(n);
    uint64_t t1 = now_ns();
    long long rss1 = rss_bytes();
    rcgc_heap_stats s = stats();
    rcgc_decref(root);
    result_head("memory");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("rss_delta", rss1 - rss0);
    result_int("bytes_in_use", (long long)s.bytes_in_use);
    result_int("live_before", (long long)s.live_objects);
    result_int("tracked", (long long)s.tracked_objects);
    result_end();
    rcgc_heap_free(H);
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: %s WORKLOAD [N|-] [MODE]", argv[0]);
    const char *w = argv[1];
    if (!strcmp(w, "cycles2")) w_cycles2(arg_long(argc, argv, 2, N_CYCLES2));
    else if (!strcmp(w, "selfcycle")) w_selfcycle(arg_long(argc, argv, 2, N_SELFCYCLE));
    else if (!strcmp(w, "live_list")) w_live_list(arg_long(argc, argv, 2, N_LIST));
    else if (!strcmp(w, "live_tree")) w_live_tree(arg_long(argc, argv, 2, TREE_DEPTH));
    else if (!strcmp(w, "free")) w_free(arg_long(argc, argv, 2, N_LIST));
    else if (!strcmp(w, "build_auto")) w_build_auto(arg_long(argc, argv, 2, N_LIST), argc > 3 ? argv[3] : "on");
    else if (!strcmp(w, "churn")) w_churn(arg_long(argc, argv, 2, N_CHURN));
    else if (!strcmp(w, "rc_ops")) w_rc_ops(arg_long(argc, argv, 2, N_RCOPS));
    else if (!strcmp(w, "rc_ops_inline")) w_rc_ops_inline(arg_long(argc, argv, 2, N_RCOPS));
    else if (!strcmp(w, "binarytrees")) w_binarytrees(arg_long(argc, argv, 2, BT_DEPTH), argc > 3 ? argv[3] : "on");
    else if (!strcmp(w, "memory")) w_memory(arg_long(argc, argv, 2, N_LIST));
    else die("unknown workload %s", w);
    return 0;
}
