/*
 * Boehm GC side of the benchmark (Debian's libgc-dev): the same shapes as
 * rcgc_bench.c with GC_MALLOC'd `struct node { void *a, *b; }`.
 *
 * The collect workloads build with collection disabled (GC_disable), then
 * enable it and time one GC_gcollect(): for unreachable cycles that is Boehm's
 * cost to reclaim them, for live heaps its cost to mark them. Boehm returns no
 * count of what it freed: "found" is estimated from GC_get_memory_use() before
 * and after, in node blocks (Boehm is conservative and may keep a few).
 *
 * Usage: boehm_bench WORKLOAD [N|-] [MODE]; prints `RESULT {json}`.
 */
#include <gc/gc.h>

#include "common.h"

typedef struct node {
    void *a, *b;
} node;

/* Roots the collector sees: a global, not a register or a stack slot that
 * the compiler may reuse. */
static node *volatile g_root;
static void *volatile g_sink;

/* Bytes Boehm really gives a node (GC_size): with interior pointers on, as
 * Debian builds it, a 16-byte request takes a 32-byte block. */
static size_t node_block;

static inline node *new_node(void) {
    node *n = GC_MALLOC(sizeof(node));
    if (!n) die("GC_MALLOC failed");
    return n;
}

static node *make_tree(int d) {
    node *n = new_node();
    if (d > 0) {
        n->a = make_tree(d - 1);
        n->b = make_tree(d - 1);
    }
    return n;
}

static long tree_check(const node *n) {
    if (!n->a) return 1;
    return 1 + tree_check(n->a) + tree_check(n->b);
}

static void result_head(const char *workload) {
    result_begin();
    result_str("system", "boehm");
    result_str("variant", "gc_malloc");
    result_str("workload", workload);
}

/* Build garbage in a separate frame so that no pointer to it stays on the
 * stack of the frame that collects. */
static __attribute__((noinline)) void build_cycles2(long pairs) {
    for (long i = 0; i < pairs; i++) {
        node *a = new_node(), *b = new_node();
        a->a = b;
        b->a = a;
    }
}

static __attribute__((noinline)) void build_selfcycles(long n) {
    for (long i = 0; i < n; i++) {
        node *x = new_node();
        x->a = x;
    }
}

/* Scrub the stack below this frame of stale pointers left by the builders. */
static __attribute__((noinline)) void scrub_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

static void collect_garbage(const char *workload, long objects, void (*build)(long), long arg) {
    GC_disable();
    build(arg);
    scrub_stack();
    GC_enable();
    size_t used0 = GC_get_memory_use();
    uint64_t t0 = now_ns();
    GC_gcollect();
    uint64_t t1 = now_ns();
    size_t used1 = GC_get_memory_use();
    result_head(workload);
    result_num("ms", ms_since(t0, t1));
    result_int("objects", objects);
    result_int("found", (long long)((used0 - used1) / node_block));
    result_int("used_before", (long long)used0);
    result_int("used_after", (long long)used1);
    result_end();
}

static __attribute__((noinline)) void build_list_into_root(long n) {
    node *root = NULL;
    for (long i = 0; i < n; i++) {
        node *nd = new_node();
        nd->a = root;
        root = nd;
    }
    g_root = root;
}

static void w_live_list(long n) {
    GC_disable();
    long long rss0 = rss_bytes();
    build_list_into_root(n);
    long long rss1 = rss_bytes();
    GC_enable();
    size_t used0 = GC_get_memory_use();
    uint64_t t0 = now_ns();
    GC_gcollect();
    uint64_t t1 = now_ns();
    size_t used1 = GC_get_memory_use();
    result_head("live_list");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("found", (long long)((used0 - used1) / node_block));
    result_int("rss_delta", rss1 - rss0);
    result_end();
    g_root = NULL;
}

static void w_live_tree(long depth) {
    GC_disable();
    g_root = make_tree((int)depth);
    GC_enable();
    size_t used0 = GC_get_memory_use();
    uint64_t t0 = now_ns();
    GC_gcollect();
    uint64_t t1 = now_ns();
    size_t used1 = GC_get_memory_use();
    result_head("live_tree");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", (1L << (depth + 1)) - 1);
    result_int("found", (long long)((used0 - used1) / node_block));
    result_int("check", tree_check(g_root));
    result_end();
    g_root = NULL;
}

/* build_auto: MODE on (collection as Boehm decides, pauses timed through
 * GC_set_on_collection_event) or off (GC_disable). */
static uint64_t ev_start, ev_total, ev_max;
static long ev_count;
static void on_event(GC_EventType e) {
    if (e == GC_EVENT_START) {
        ev_start = now_ns();
    } else if (e == GC_EVENT_END) {
        uint64_t d = now_ns() - ev_start;
        ev_total += d;
        if (d > ev_max) ev_max = d;
        ev_count++;
    }
}

static void w_build_auto(long n, const char *mode) {
    int on = strcmp(mode, "on") == 0 || strcmp(mode, "trace") == 0;
    if (!on && strcmp(mode, "off") != 0) die("build_auto: mode must be on or off");
    if (on) GC_set_on_collection_event(on_event);
    else GC_disable();
    uint64_t t0 = now_ns();
    build_list_into_root(n);
    uint64_t t1 = now_ns();
    result_head("build_auto");
    result_str("mode", mode);
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    if (on) {
        result_num("gc_ms", (double)ev_total / 1e6);
        result_num("max_pause_ms", (double)ev_max / 1e6);
        result_int("collections", ev_count);
    }
    result_end();
    g_root = NULL;
}

static void w_churn(long n) {
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) g_sink = new_node();
    uint64_t t1 = now_ns();
    result_head("churn");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("collections", (long long)GC_get_gc_no());
    result_end();
}

static void w_binarytrees(long n) {
    const int min_depth = 4;
    int max_depth = (int)n < min_depth + 2 ? min_depth + 2 : (int)n;
    int stretch = max_depth + 1;
    long nodes = 0;
    uint64_t t0 = now_ns();

    node *t = make_tree(stretch);
    long chk = tree_check(t);
    nodes += chk;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, chk);

    node *long_lived = make_tree(max_depth);
    nodes += (2L << max_depth) - 1;

    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth);
        chk = 0;
        for (long i = 0; i < iterations; i++) {
            t = make_tree(d);
            chk += tree_check(t);
        }
        nodes += chk;
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, chk);
    }
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, tree_check(long_lived));
    uint64_t t1 = now_ns();
    result_head("binarytrees");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", nodes);
    result_int("collections", (long long)GC_get_gc_no());
    result_end();
}

static void w_memory(long n) {
    GC_disable();
    long long rss0 = rss_bytes();
    size_t heap0 = GC_get_heap_size();
    uint64_t t0 = now_ns();
    build_list_into_root(n);
    uint64_t t1 = now_ns();
    long long rss1 = rss_bytes();
    size_t heap1 = GC_get_heap_size();
    result_head("memory");
    result_num("ms", ms_since(t0, t1));
    result_int("objects", n);
    result_int("rss_delta", rss1 - rss0);
    result_int("heap_delta", (long long)(heap1 - heap0));
    result_end();
    g_root = NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: %s WORKLOAD [N|-] [MODE]", argv[0]);
    GC_INIT();
    node_block = GC_size(GC_MALLOC(sizeof(node)));
    const char *w = argv[1];
    if (!strcmp(w, "cycles2")) {
        long pairs = arg_long(argc, argv, 2, N_CYCLES2);
        collect_garbage(w, 2 * pairs, build_cycles2, pairs);
    } else if (!strcmp(w, "selfcycle")) {
        long n = arg_long(argc, argv, 2, N_SELFCYCLE);
        collect_garbage(w, n, build_selfcycles, n);
    } else if (!strcmp(w, "live_list")) w_live_list(arg_long(argc, argv, 2, N_LIST));
    else if (!strcmp(w, "live_tree")) w_live_tree(arg_long(argc, argv, 2, TREE_DEPTH));
    else if (!strcmp(w, "build_auto")) w_build_auto(arg_long(argc, argv, 2, N_LIST), argc > 3 ? argv[3] : "on");
    else if (!strcmp(w, "churn")) w_churn(arg_long(argc, argv, 2, N_CHURN));
    else if (!strcmp(w, "binarytrees")) w_binarytrees(arg_long(argc, argv, 2, BT_DEPTH));
    else if (!strcmp(w, "memory")) w_memory(arg_long(argc, argv, 2, N_LIST));
    else die("unknown workload %s (free and rc_ops do not apply to a tracing GC)", w);
    return 0;
}
