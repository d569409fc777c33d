/* Every public function of rcgc on valid input, with exact expected values
 * (see shared/API.md and docs/ABI-NOTES.md). Error paths are in test_errors.c. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Set from RCGC_STRESS_GC (the harness sets it when the library is built with the
 * stress-gc feature, which collects generation 0 on every tracked allocation): the
 * generation counts after allocations are then not CPython's. */
static int stress = 0;

#define CHECK_COUNTS_EXACT(heap, c0, c1, c2)                                    \
  do {                                                                          \
    if (!stress) CHECK_COUNTS(heap, c0, c1, c2);                                \
  } while (0)

/* Checks all six figures of rcgc_heap_stats except bytes (checked separately). */
#define CHECK_STATS(heap, live, tracked, allocated, freed)                      \
  do {                                                                          \
    rcgc_heap_stats st_ = heap_stats(heap);                                     \
    CHECK_EQ(st_.live_objects, (live));                                         \
    CHECK_EQ(st_.tracked_objects, (tracked));                                   \
    CHECK_EQ(st_.allocated_total, (allocated));                                 \
    CHECK_EQ(st_.freed_total, (freed));                                         \
    CHECK(st_.peak_bytes >= st_.bytes_in_use);                                  \
    CHECK_EQ(st_.bytes_in_use % 16, 0);                                         \
    CHECK((st_.live_objects == 0) == (st_.bytes_in_use == 0));                  \
  } while (0)

/* ---- a C type with references: node { a, b } ---- */

typedef struct {
  void *a, *b;
} node;

static int node_destroyed = 0;
static int node_destroyed_with_refs = 0; /* destroy saw a or b still set: clear did not run */

static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  node *n = obj;
  if (n->a) visit(n->a, ctx);
  if (n->b) visit(n->b, ctx);
}

static void node_clear(void *obj) {
  node *n = obj;
  rcgc_clear_ref(&n->a);
  rcgc_clear_ref(&n->b);
}

static void node_destroy(void *obj) {
  node *n = obj;
  node_destroyed++;
  if (n->a || n->b) node_destroyed_with_refs++;
}

/* ---- a type without references ---- */

typedef struct {
  unsigned char bytes[24];
} leaf;

static int leaf_destroyed = 0;

static void leaf_destroy(void *obj) {
  (void)obj;
  leaf_destroyed++;
}

static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0) return 0;
  return 1;
}

static int aligned16(const void *p) { return ((uintptr_t)p % 16) == 0; }

static void test_version_and_names(void) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", RCGC_VERSION_MAJOR, RCGC_VERSION_MINOR,
           RCGC_VERSION_PATCH);
  CHECK_STREQ(rcgc_version(), expected);
  CHECK_EQ(RCGC_VERSION_NUMBER,
           RCGC_VERSION_MAJOR * 10000 + RCGC_VERSION_MINOR * 100 + RCGC_VERSION_PATCH);

  CHECK_STREQ(rcgc_result_name(RCGC_OK), "RCGC_OK");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_NULL_ARGUMENT), "RCGC_ERR_NULL_ARGUMENT");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_INVALID_ARGUMENT), "RCGC_ERR_INVALID_ARGUMENT");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_NO_MEMORY), "RCGC_ERR_NO_MEMORY");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_MEMORY_LIMIT), "RCGC_ERR_MEMORY_LIMIT");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_WRONG_HEAP), "RCGC_ERR_WRONG_HEAP");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_INVALID_OBJECT), "RCGC_ERR_INVALID_OBJECT");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_REENTRANT), "RCGC_ERR_REENTRANT");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_PANIC), "RCGC_ERR_PANIC");
  /* the stable values */
  CHECK_EQ(RCGC_OK, 0);
  CHECK_EQ(RCGC_ERR_NULL_ARGUMENT, 1);
  CHECK_EQ(RCGC_ERR_INVALID_ARGUMENT, 2);
  CHECK_EQ(RCGC_ERR_NO_MEMORY, 3);
  CHECK_EQ(RCGC_ERR_MEMORY_LIMIT, 4);
  CHECK_EQ(RCGC_ERR_WRONG_HEAP, 5);
  CHECK_EQ(RCGC_ERR_INVALID_OBJECT, 6);
  CHECK_EQ(RCGC_ERR_REENTRANT, 7);
  CHECK_EQ(RCGC_ERR_PANIC, 8);
}

static void test_config_and_heaps(void) {
  rcgc_config cfg;
  memset(&cfg, 0xAB, sizeof cfg);
  rcgc_config_init(&cfg);
  CHECK_EQ(cfg.struct_size, sizeof(rcgc_config));
  CHECK_EQ(cfg.memory_limit, 0);
  CHECK(cfg.checked == false);

  rcgc_heap *heaps[2];
  heaps[0] = rcgc_heap_new();
  heaps[1] = rcgc_heap_new_with(&cfg);
  for (int i = 0; i < 2; i++) {
    rcgc_heap *h = heaps[i];
    CHECK(h != NULL);
    rcgc_thresholds t = rcgc_get_threshold(h);
    CHECK_EQ(t.gen0, 700);
    CHECK_EQ(t.gen1, 10);
    CHECK_EQ(t.gen2, 10);
    CHECK(rcgc_is_enabled(h));
    CHECK_COUNTS(h, 0, 0, 0);
    rcgc_heap_stats st = heap_stats(h);
    CHECK_EQ(st.live_objects, 0);
    CHECK_EQ(st.tracked_objects, 0);
    CHECK_EQ(st.bytes_in_use, 0);
    CHECK_EQ(st.peak_bytes, 0);
    CHECK_EQ(st.allocated_total, 0);
    CHECK_EQ(st.freed_total, 0);
  }
  CHECK(heaps[0] != heaps[1]);
  rcgc_heap_free(heaps[0]);
  rcgc_heap_free(heaps[1]);

  /* a heap with a memory limit that is never reached behaves like any other */
  cfg.memory_limit = 1 << 20;
  rcgc_heap *h = rcgc_heap_new_with(&cfg);
  CHECK(h != NULL);
  void *s = rcgc_slots_new(h, 4);
  CHECK(s != NULL);
  rcgc_decref(s);
  CHECK_STATS(h, 0, 0, 1, 1);
  rcgc_heap_free(h);
}

static void test_objects(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);

  /* type_register copies the name */
  char name[16];
  strcpy(name, "node");
  rcgc_type_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.name = name;
  spec.size = sizeof(node);
  spec.traverse = node_traverse;
  spec.clear = node_clear;
  spec.destroy = node_destroy;
  rcgc_type *node_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &node_t), RCGC_OK);
  CHECK(node_t != NULL);
  strcpy(name, "XXXX");
  CHECK_STREQ(rcgc_type_name(node_t), "node");

  rcgc_type_spec leaf_spec = {"leaf", sizeof(leaf), NULL, NULL, NULL, leaf_destroy};
  rcgc_type *leaf_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &leaf_spec, &leaf_t), RCGC_OK);
  CHECK(leaf_t != NULL && leaf_t != node_t);
  CHECK_STREQ(rcgc_type_name(leaf_t), "leaf");

  /* registering never allocates objects */
  CHECK_STATS(heap, 0, 0, 0, 0);

  /* alloc: zeroed, aligned, refcount 1, tracked iff traverse */
  node *n = rcgc_alloc(node_t);
  CHECK(n != NULL);
  CHECK(aligned16(n));
  CHECK(n->a == NULL && n->b == NULL);
  CHECK(all_zero(n, sizeof *n));
  CHECK_EQ(rcgc_refcount(n), 1);
  CHECK(rcgc_type_of(n) == node_t);
  CHECK(rcgc_is_tracked(n));
  CHECK_COUNTS_EXACT(heap, 1, 0, 0);

  leaf *l = rcgc_alloc(leaf_t);
  CHECK(l != NULL);
  CHECK(aligned16(l));
  CHECK(all_zero(l, sizeof *l));
  CHECK_EQ(rcgc_refcount(l), 1);
  CHECK(rcgc_type_of(l) == leaf_t);
  CHECK(!rcgc_is_tracked(l));
  CHECK_COUNTS_EXACT(heap, 1, 0, 0); /* untracked types never count */

  CHECK_STATS(heap, 2, 1, 2, 0);
  rcgc_heap_stats st = heap_stats(heap);
  CHECK(st.bytes_in_use >= (16 + sizeof(node)) + (16 + sizeof(leaf)));
  CHECK(st.peak_bytes >= st.bytes_in_use);
  size_t bytes_two = st.bytes_in_use;

  /* incref / decref / refcount */
  rcgc_incref(l);
  CHECK_EQ(rcgc_refcount(l), 2);
  rcgc_incref(l);
  CHECK_EQ(rcgc_refcount(l), 3);
  rcgc_decref(l);
  rcgc_decref(l);
  CHECK_EQ(rcgc_refcount(l), 1);
  CHECK_EQ(leaf_destroyed, 0);

  /* set_ref: increfs the new value, then decrefs the old one */
  rcgc_set_ref(&n->a, l);
  CHECK(n->a == l);
  CHECK_EQ(rcgc_refcount(l), 2);
  rcgc_set_ref(&n->a, l); /* same object */
  CHECK(n->a == l);
  CHECK_EQ(rcgc_refcount(l), 2);
  rcgc_decref(l); /* now n->a holds the only reference */
  CHECK_EQ(rcgc_refcount(l), 1);
  rcgc_set_ref(&n->a, l); /* same object, only reference: must not free it */
  CHECK(n->a == l);
  CHECK_EQ(rcgc_refcount(l), 1);
  CHECK_EQ(leaf_destroyed, 0);

  leaf *l2 = rcgc_alloc(leaf_t);
  CHECK(l2 != NULL && l2 != l);
  rcgc_set_ref(&n->a, l2); /* replaces l, whose only reference was n->a */
  CHECK(n->a == l2);
  CHECK_EQ(rcgc_refcount(l2), 2);
  CHECK_EQ(leaf_destroyed, 1);
  CHECK_STATS(heap, 2, 1, 3, 1);
  rcgc_set_ref(&n->a, NULL);
  CHECK(n->a == NULL);
  CHECK_EQ(rcgc_refcount(l2), 1);

  /* clear_ref */
  rcgc_set_ref(&n->b, l2);
  CHECK_EQ(rcgc_refcount(l2), 2);
  rcgc_clear_ref(&n->b);
  CHECK(n->b == NULL);
  CHECK_EQ(rcgc_refcount(l2), 1);
  rcgc_clear_ref(&n->b); /* already NULL: no-op */
  CHECK(n->b == NULL);
  CHECK_EQ(rcgc_refcount(l2), 1);

  /* refcount death: clear runs before destroy, destroy runs once, referents die too */
  rcgc_set_ref(&n->a, l2);
  rcgc_decref(l2);
  CHECK_EQ(rcgc_refcount(l2), 1);
  rcgc_decref(n);
  CHECK_EQ(node_destroyed, 1);
  CHECK_EQ(node_destroyed_with_refs, 0);
  CHECK_EQ(leaf_destroyed, 2);
  CHECK_COUNTS_EXACT(heap, 0, 0, 0); /* freeing a traverse-type object decrements count.gen0 */
  CHECK_STATS(heap, 0, 0, 3, 3);
  st = heap_stats(heap);
  CHECK_EQ(st.bytes_in_use, 0);
  CHECK(st.peak_bytes >= bytes_two);

  /* the payload is zeroed even when a block is reused */
  for (int round = 0; round < 3; round++) {
    leaf *dirty = rcgc_alloc(leaf_t);
    CHECK(dirty != NULL);
    CHECK(all_zero(dirty, sizeof *dirty));
    memset(dirty, 0xFF, sizeof *dirty);
    node *dn = rcgc_alloc(node_t);
    CHECK(dn != NULL);
    CHECK(all_zero(dn, sizeof *dn));
    memset(dn, 0, sizeof *dn); /* a node must hold valid references when it dies */
    rcgc_decref(dirty);
    rcgc_decref(dn);
  }
  CHECK_EQ(leaf_destroyed, 5);
  CHECK_EQ(node_destroyed, 4);
  CHECK_STATS(heap, 0, 0, 9, 9);

  /* alloc_var: at least the type's size, zeroed, aligned */
  size_t sizes[] = {sizeof(leaf), sizeof(leaf) + 1, 100, 1000, 4096, 70000};
  void *vars[sizeof sizes / sizeof sizes[0]];
  size_t nvars = sizeof sizes / sizeof sizes[0];
  size_t total = 0;
  for (size_t i = 0; i < nvars; i++) {
    vars[i] = rcgc_alloc_var(leaf_t, sizes[i]);
    CHECK(vars[i] != NULL);
    CHECK(aligned16(vars[i]));
    CHECK(all_zero(vars[i], sizes[i]));
    memset(vars[i], 0x5A, sizes[i]);
    CHECK_EQ(rcgc_refcount(vars[i]), 1);
    CHECK(rcgc_type_of(vars[i]) == leaf_t);
    CHECK(!rcgc_is_tracked(vars[i]));
    total += 16 + sizes[i];
  }
  CHECK_STATS(heap, nvars, 0, 9 + nvars, 9);
  st = heap_stats(heap);
  CHECK(st.bytes_in_use >= total);
  void *nvar = rcgc_alloc_var(node_t, 64); /* a var-sized tracked object */
  CHECK(nvar != NULL && aligned16(nvar) && all_zero(nvar, 64));
  CHECK(rcgc_is_tracked(nvar));
  CHECK_COUNTS_EXACT(heap, 1, 0, 0);
  rcgc_decref(nvar);
  CHECK_COUNTS_EXACT(heap, 0, 0, 0);
  for (size_t i = 0; i < nvars; i++) rcgc_decref(vars[i]);
  CHECK_EQ(leaf_destroyed, 5 + (int)nvars);
  CHECK_STATS(heap, 0, 0, 10 + nvars, 10 + nvars);

  /* is_tracked / untrack / track: no change to counts */
  node *t = rcgc_alloc(node_t);
  CHECK(t != NULL);
  CHECK(rcgc_is_tracked(t));
  CHECK_COUNTS_EXACT(heap, 1, 0, 0);
  CHECK_RC(rcgc_untrack(t), RCGC_OK);
  CHECK(!rcgc_is_tracked(t));
  CHECK_COUNTS_EXACT(heap, 1, 0, 0);
  CHECK_STATS(heap, 1, 0, 11 + nvars, 10 + nvars);
  CHECK_RC(rcgc_untrack(t), RCGC_OK); /* not tracked: no change */
  CHECK(!rcgc_is_tracked(t));
  CHECK_RC(rcgc_track(t), RCGC_OK);
  CHECK(rcgc_is_tracked(t));
  CHECK_RC(rcgc_track(t), RCGC_OK); /* already tracked: no change */
  CHECK(rcgc_is_tracked(t));
  CHECK_COUNTS_EXACT(heap, 1, 0, 0);
  CHECK_STATS(heap, 1, 1, 11 + nvars, 10 + nvars);
  /* an untracked cycle is invisible to the collector */
  rcgc_set_ref(&t->a, t);
  CHECK_RC(rcgc_untrack(t), RCGC_OK);
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_EQ(rcgc_refcount(t), 2);
  CHECK_RC(rcgc_track(t), RCGC_OK);
  rcgc_decref(t);
  CHECK_EQ(node_destroyed, 5); /* only the self-reference is left */
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_EQ(node_destroyed, 6);
  CHECK_EQ(node_destroyed_with_refs, 0);
  CHECK_STATS(heap, 0, 0, 11 + nvars, 11 + nvars);

  rcgc_heap_free(heap);
}

static void test_slots(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type_spec leaf_spec = {"leaf", sizeof(leaf), NULL, NULL, NULL, leaf_destroy};
  rcgc_type *leaf_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &leaf_spec, &leaf_t), RCGC_OK);
  int destroyed_before = leaf_destroyed;

  void *s = rcgc_slots_new(heap, 3);
  CHECK(s != NULL);
  CHECK(aligned16(s));
  CHECK_EQ(rcgc_refcount(s), 1);
  CHECK(rcgc_is_tracked(s));
  CHECK_EQ(rcgc_slots_len(s), 3);
  CHECK_STREQ(rcgc_type_name(rcgc_type_of(s)), "rcgc.slots");
  for (size_t i = 0; i < 3; i++) CHECK(rcgc_slots_get(s, i) == NULL);
  CHECK_COUNTS_EXACT(heap, 1, 0, 0);

  void *x = rcgc_alloc(leaf_t);
  CHECK(x != NULL);
  CHECK_RC(rcgc_slots_set(s, 0, x), RCGC_OK);
  CHECK(rcgc_slots_get(s, 0) == x);
  CHECK_EQ(rcgc_refcount(x), 2);
  CHECK_RC(rcgc_slots_set(s, 2, x), RCGC_OK);
  CHECK(rcgc_slots_get(s, 2) == x);
  CHECK(rcgc_slots_get(s, 1) == NULL);
  CHECK_EQ(rcgc_refcount(x), 3);
  CHECK_RC(rcgc_slots_set(s, 2, x), RCGC_OK); /* same value again */
  CHECK_EQ(rcgc_refcount(x), 3);
  CHECK_RC(rcgc_slots_set(s, 0, NULL), RCGC_OK); /* empties the slot */
  CHECK(rcgc_slots_get(s, 0) == NULL);
  CHECK_EQ(rcgc_refcount(x), 2);
  rcgc_decref(x); /* s holds the only reference in slot 2 */
  CHECK_EQ(rcgc_refcount(x), 1);
  CHECK_RC(rcgc_slots_set(s, 2, x), RCGC_OK); /* same value, only reference */
  CHECK_EQ(rcgc_refcount(x), 1);
  CHECK_EQ(leaf_destroyed, destroyed_before);

  void *empty = rcgc_slots_new(heap, 0);
  CHECK(empty != NULL);
  CHECK_EQ(rcgc_slots_len(empty), 0);
  CHECK_RC(rcgc_slots_set(s, 1, empty), RCGC_OK);
  rcgc_decref(empty);
  CHECK_EQ(rcgc_refcount(empty), 1);
  CHECK_STATS(heap, 3, 2, 3, 0);

  /* freeing s releases what it holds */
  rcgc_decref(s);
  CHECK_EQ(leaf_destroyed, destroyed_before + 1);
  CHECK_STATS(heap, 0, 0, 3, 3);
  CHECK_COUNTS_EXACT(heap, 0, 0, 0);

  /* a big slots object */
  void *big = rcgc_slots_new(heap, 10000);
  CHECK(big != NULL);
  CHECK_EQ(rcgc_slots_len(big), 10000);
  CHECK(rcgc_slots_get(big, 9999) == NULL);
  CHECK_RC(rcgc_slots_set(big, 9999, big), RCGC_OK); /* a self cycle */
  CHECK(rcgc_slots_get(big, 9999) == big);
  CHECK_EQ(rcgc_refcount(big), 2);
  rcgc_decref(big);
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_STATS(heap, 0, 0, 4, 4);

  rcgc_heap_free(heap);
}

static void test_collector(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type_spec spec = {"node", sizeof(node), node_traverse, node_clear, NULL, node_destroy};
  rcgc_type *node_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &node_t), RCGC_OK);

  /* thresholds */
  rcgc_thresholds t = rcgc_get_threshold(heap);
  CHECK_EQ(t.gen0, 700);
  CHECK_EQ(t.gen1, 10);
  CHECK_EQ(t.gen2, 10);
  CHECK_RC(rcgc_set_threshold(heap, 7777, 11, 11), RCGC_OK);
  t = rcgc_get_threshold(heap);
  CHECK_EQ(t.gen0, 7777);
  CHECK_EQ(t.gen1, 11);
  CHECK_EQ(t.gen2, 11);
  CHECK_RC(rcgc_set_threshold(heap, 0, 0, 0), RCGC_OK);
  t = rcgc_get_threshold(heap);
  CHECK_EQ(t.gen0, 0);
  CHECK_EQ(t.gen1, 0);
  CHECK_EQ(t.gen2, 0);
  CHECK(rcgc_is_enabled(heap)); /* threshold 0 is not the same as disable */
  CHECK_RC(rcgc_set_threshold(heap, 700, 10, 10), RCGC_OK);
  t = rcgc_get_threshold(heap);
  CHECK_EQ(t.gen0, 700);
  CHECK_EQ(t.gen1, 10);
  CHECK_EQ(t.gen2, 10);

  /* enable / disable / is_enabled */
  CHECK(rcgc_is_enabled(heap));
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  CHECK(!rcgc_is_enabled(heap));
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  CHECK(!rcgc_is_enabled(heap));
  CHECK_RC(rcgc_enable(heap), RCGC_OK);
  CHECK(rcgc_is_enabled(heap));
  CHECK_RC(rcgc_enable(heap), RCGC_OK);
  CHECK(rcgc_is_enabled(heap));

  /* collections of an empty heap, and how they move the counts */
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 0, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_COUNTS(heap, 0, 1, 0);
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_COUNTS(heap, 0, 0, 1);
  CHECK_RC(rcgc_collect(heap, 2, NULL), RCGC_OK); /* unreachable_out may be NULL */
  CHECK_COUNTS(heap, 0, 0, 0);

  /* a self cycle survives refcounting and is found by a collection */
  int destroyed = node_destroyed;
  node *x = rcgc_alloc(node_t);
  CHECK(x != NULL);
  rcgc_set_ref(&x->a, x);
  CHECK_EQ(rcgc_refcount(x), 2);
  rcgc_decref(x);
  CHECK_EQ(node_destroyed, destroyed);
  CHECK_STATS(heap, 1, 1, 1, 0);
  found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_EQ(node_destroyed, destroyed + 1);
  CHECK_EQ(node_destroyed_with_refs, 0);
  CHECK_STATS(heap, 0, 0, 1, 1);
  CHECK_COUNTS_EXACT(heap, 0, 0, 0);

  /* a 2-cycle, found by a generation 0 collection (under stress-gc, q's allocation
   * collected generation 0 and moved p to generation 1: collect them all) */
  node *p = rcgc_alloc(node_t);
  node *q = rcgc_alloc(node_t);
  CHECK(p != NULL && q != NULL);
  rcgc_set_ref(&p->a, q);
  rcgc_set_ref(&q->b, p);
  rcgc_decref(p);
  rcgc_decref(q);
  CHECK_STATS(heap, 2, 2, 3, 1);
  CHECK_COUNTS_EXACT(heap, 2, 0, 0);
  found = 99;
  CHECK_RC(rcgc_collect(heap, stress ? 2 : 0, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(node_destroyed, destroyed + 3);
  CHECK_COUNTS_EXACT(heap, 0, 1, 0);
  CHECK_STATS(heap, 0, 0, 3, 3);

  /* reachable objects survive a collection; a live object referring to a cycle keeps it */
  node *root = rcgc_alloc(node_t);
  node *c = rcgc_alloc(node_t);
  CHECK(root != NULL && c != NULL);
  rcgc_set_ref(&c->a, c);
  rcgc_set_ref(&root->a, c);
  rcgc_decref(c);
  found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_EQ(rcgc_refcount(c), 2);
  CHECK_EQ(rcgc_refcount(root), 1);
  CHECK_EQ(node_destroyed, destroyed + 3);
  rcgc_decref(root); /* c is now garbage again */
  CHECK_EQ(node_destroyed, destroyed + 4);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_EQ(node_destroyed, destroyed + 5);
  CHECK_STATS(heap, 0, 0, 5, 5);

  rcgc_heap_free(heap);
}

static int misuse_calls = 0;
static void count_misuse(const char *message, void *ctx) {
  (void)message;
  (*(int *)ctx)++;
}

/* rcgc_heap_free finalizes and frees everything left, destroy running once each */
static int fin_calls = 0;
static void node_finalize(void *obj) {
  (void)obj;
  fin_calls++;
}

static void test_heap_free_with_objects(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_set_misuse_handler(heap, count_misuse, &misuse_calls);
  rcgc_set_misuse_handler(heap, NULL, NULL); /* back to the default */
  rcgc_set_misuse_handler(heap, count_misuse, &misuse_calls);

  rcgc_type_spec spec = {"node", sizeof(node), node_traverse, node_clear, node_finalize,
                         node_destroy};
  rcgc_type *node_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &node_t), RCGC_OK);
  rcgc_type_spec leaf_spec = {"leaf", sizeof(leaf), NULL, NULL, NULL, leaf_destroy};
  rcgc_type *leaf_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &leaf_spec, &leaf_t), RCGC_OK);

  int nd = node_destroyed, ld = leaf_destroyed;
  /* a live chain, a garbage cycle, a lone leaf and a slots object holding a node */
  node *a = rcgc_alloc(node_t);
  node *b = rcgc_alloc(node_t);
  node *cyc = rcgc_alloc(node_t);
  leaf *l = rcgc_alloc(leaf_t);
  void *s = rcgc_slots_new(heap, 2);
  CHECK(a && b && cyc && l && s);
  rcgc_set_ref(&a->a, b);
  rcgc_set_ref(&b->a, l);
  rcgc_decref(b);
  rcgc_set_ref(&cyc->a, cyc);
  rcgc_decref(cyc);
  CHECK_RC(rcgc_slots_set(s, 0, a), RCGC_OK);
  CHECK_STATS(heap, 5, 4, 5, 0);
  rcgc_heap_free(heap);
  CHECK_EQ(node_destroyed, nd + 3);
  CHECK_EQ(leaf_destroyed, ld + 1);
  CHECK_EQ(fin_calls, 3);
  CHECK_EQ(misuse_calls, 0);
}

int main(void) {
  stress = getenv("RCGC_STRESS_GC") != NULL;
  /* before any failure on this thread */
  CHECK_STREQ(rcgc_last_error(), "no error");
  CHECK_EQ(rcgc_last_error_code(), RCGC_OK);

  test_version_and_names();
  test_config_and_heaps();
  test_objects();
  test_slots();
  test_collector();
  test_heap_free_with_objects();

  /* valid calls never set an error */
  CHECK_STREQ(rcgc_last_error(), "no error");
  CHECK_EQ(rcgc_last_error_code(), RCGC_OK);
  CHECK_DONE("test_api");
}
