/* Does the collector pay for branches it cannot predict? (docs/performance.md,
 * live_tree.) Four live lists of 1,000,000 nodes of a type with declared
 * references {a, b}: each node's a points to the previous node, and b holds
 * either NULL or a reference to one frozen object (frozen: in the permanent
 * generation, never a candidate, so the scan only tests it and moves on).
 * The lists differ only in which nodes have b set: none, all, every other
 * one (a pattern a predictor learns) or a random half (one it cannot). The
 * last two have the same objects, the same references and the same
 * instructions per node; only the predictability of "is b NULL?" differs.
 * Prints, per list, the median and minimum of 9 full collections (each finds
 * nothing), in ns per node, as a markdown table.
 *
 *   make bench-branches
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "rcgc.h"

typedef struct node {
    void *a, *b;
} node;

enum { N = 1000000, RUNS = 9 };

static void check(enum rcgc_result r, const char *what) {
    if (r != RCGC_OK) {
        fprintf(stderr, "%s: %s\n", what, rcgc_last_error());
        exit(1);
    }
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Whether node i's b is set, for each list. */
static int has_b(int list, long i) {
    switch (list) {
    case 0: return 0;
    case 1: return 1;
    case 2: return (int)(i & 1);
    default: return rand() & 1;
    }
}

static void measure(int list, double *median, double *min) {
    rcgc_heap *h = rcgc_heap_new();
    if (!h) check(RCGC_ERR_NO_MEMORY, "rcgc_heap_new");
    check(rcgc_disable(h), "rcgc_disable");
    rcgc_type_spec spec = {.name = "node", .size = sizeof(node)};
    size_t offsets[] = {offsetof(node, a), offsetof(node, b)};
    rcgc_type *t;
    check(rcgc_type_register_with_refs(h, &spec, offsets, 2, &t), "rcgc_type_register_with_refs");
    node *frozen = rcgc_alloc(t);
    check(rcgc_freeze(h), "rcgc_freeze");
    srand(42);
    node *head = NULL;
    for (long i = 0; i < N; i++) {
        node *n = rcgc_alloc(t);
        if (!n) check(RCGC_ERR_NO_MEMORY, "rcgc_alloc");
        n->a = head; /* hands our reference over */
        if (has_b(list, i)) rcgc_set_ref(&n->b, frozen);
        head = n;
    }
    double ns[RUNS];
    for (int r = 0; r < RUNS; r++) {
        size_t found = 1;
        uint64_t t0 = now_ns();
        check(rcgc_collect(h, 2, &found), "rcgc_collect");
        ns[r] = (double)(now_ns() - t0) / N;
        if (found != 0) {
            fprintf(stderr, "collect found %zu, expected 0\n", found);
            exit(1);
        }
    }
    qsort(ns, RUNS, sizeof ns[0], by_value);
    *median = ns[RUNS / 2];
    *min = ns[0];
    rcgc_decref(head);
    rcgc_decref(frozen);
    rcgc_heap_free(h);
}

int main(void) {
    const char *names[] = {"b always NULL", "b always set", "b set on every other node",
                           "b set on a random half"};
    printf("| live list of %d nodes | full collection, median ns/node | min |\n|---|---:|---:|\n", N);
    for (int list = 0; list < 4; list++) {
        double median, min;
        measure(list, &median, &min);
        printf("| %s | %.1f | %.1f |\n", names[list], median, min);
    }
    return 0;
}
