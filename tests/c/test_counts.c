/* test_counts.c: rcgc's generation counts and automatic collection follow
 * CPython 3.11's rules exactly (Modules/gcmodule.c):
 *
 *   allocation of a tracked-type object (_PyObject_GC_Link):
 *     count0 += 1
 *     if count0 > threshold0 && enabled && threshold0 && !collecting:
 *       for i in 2, 1, 0:                     (gc_collect_generations)
 *         if count[i] > threshold[i]:
 *           if i == 2 && long_lived_pending < long_lived_total / 4: continue
 *           collect(i); break
 *     the new object then joins generation 0 (it is not part of that collection)
 *   free of a tracked-type object (PyObject_GC_Del): if count0 > 0: count0 -= 1
 *   collect(g): count[g+1] += 1 (g < 2); count[0..=g] = 0;
 *     survivors of 0..=g move to generation min(g+1, 2);
 *     g == 1: long_lived_pending += survivors
 *     g == 2: long_lived_pending = 0, long_lived_total = survivors
 *
 * The Python snippets in the comments were run with python3 (CPython 3.11.7);
 * the result each gives is written next to it.  The counting rules above were
 * also checked against CPython with a Python simulation (below; see also
 * test_trace_5_2_2 and test_skip_like_cpython): for thresholds (5, 2, 2), (3, 1, 1)
 * and (700, 10, 10) and every n < 300 allocations after gc.collect(), the
 * simulation (with CPython's huge long_lived_total, so generation 2 is always
 * skipped) gives exactly CPython's gc.get_count().
 *
 * The simulation (python3; Sim(th).alloc() per allocation of a live object,
 * s.count is gc.get_count(), s.log the generations collected):
 *   class Sim:
 *       def __init__(s, th=(700, 10, 10)):
 *           s.th = list(th); s.count = [0, 0, 0]; s.gen = [0, 0, 0]
 *           s.pending = 0; s.total = 0; s.log = []
 *       def collect(s, g):
 *           if g + 1 < 3: s.count[g + 1] += 1
 *           for i in range(g + 1): s.count[i] = 0
 *           young = sum(s.gen[:g + 1])
 *           for i in range(g + 1): s.gen[i] = 0
 *           if g == 2: s.gen[2] = young; s.pending = 0; s.total = young
 *           else:
 *               if g == 1: s.pending += young
 *               s.gen[g + 1] += young
 *           s.log.append(g)
 *       def alloc(s):
 *           s.count[0] += 1
 *           if s.count[0] > s.th[0] and s.th[0]:
 *               for i in (2, 1, 0):
 *                   if s.count[i] > s.th[i]:
 *                       if i == 2 and s.pending < s.total // 4: continue
 *                       s.collect(i); break
 *           s.gen[0] += 1
 *
 * Besides hand-written traces, the test drives a C model of these rules through
 * random operations and compares rcgc_get_count() after every operation, and
 * which objects the collections freed (destroy callbacks).
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

/* Set from RCGC_STRESS_GC, which the harness sets when the library is built with
 * the stress-gc feature: every tracked allocation then collects (at least
 * generation 0), so CPython's counts and the moments of its automatic
 * collections do not apply. CHECK_COUNTS (CPython's figures, written out in
 * the traces) is skipped then, and so are the checks of what a given automatic
 * collection freed; the models (fm_*, cmodel_*) know the stress rule, so their
 * counts (CHECK_COUNTS_ALWAYS) and every other check still run. */
static bool stress = false;
#undef CHECK_COUNTS
#define CHECK_COUNTS(heap, c0, c1, c2)                                          \
  do {                                                                          \
    if (!stress) CHECK_COUNTS_ALWAYS(heap, c0, c1, c2);                         \
  } while (0)

/* ---------------------------------------------------------------------------
 * Types: "node" (tracked; one reference, an id, a destroy callback) and
 * "leaf" (no traverse: never tracked, never counted).
 * ------------------------------------------------------------------------- */

typedef struct node {
  void *ref;
  long id;
} node;

#define MAX_IDS 40000
static unsigned char destroyed[MAX_IDS];
static unsigned long destroy_calls = 0;

static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  node *n = (node *)obj;
  if (n->ref != NULL) visit(n->ref, ctx);
}
static void node_clear(void *obj) { rcgc_clear_ref(&((node *)obj)->ref); }
static void node_destroy(void *obj) {
  node *n = (node *)obj;
  destroy_calls++;
  if (n->id >= 0 && n->id < MAX_IDS) destroyed[n->id]++;
}
static void leaf_destroy(void *obj) {
  (void)obj;
  destroy_calls++;
}

static rcgc_type *node_type(rcgc_heap *h) {
  rcgc_type_spec spec = {"node", sizeof(node), node_traverse, node_clear, NULL, node_destroy};
  rcgc_type *t = NULL;
  CHECK_RC(rcgc_type_register(h, &spec, &t), RCGC_OK);
  CHECK(t != NULL);
  return t;
}
static rcgc_type *leaf_type(rcgc_heap *h) {
  rcgc_type_spec spec = {"leaf", 24, NULL, NULL, NULL, leaf_destroy};
  rcgc_type *t = NULL;
  CHECK_RC(rcgc_type_register(h, &spec, &t), RCGC_OK);
  CHECK(t != NULL);
  return t;
}

static node *new_node(rcgc_type *t, long id) {
  node *n = (node *)rcgc_alloc(t);
  CHECK(n != NULL);
  n->id = id;
  return n;
}

static void reset_destroyed(void) {
  memset(destroyed, 0, sizeof destroyed);
  destroy_calls = 0;
}

static void check_thresholds(rcgc_heap *h, size_t a, size_t b, size_t c) {
  rcgc_thresholds t = rcgc_get_threshold(h);
  CHECK_EQ(t.gen0, a);
  CHECK_EQ(t.gen1, b);
  CHECK_EQ(t.gen2, c);
}

/* ---------------------------------------------------------------------------
 * 1. Fresh heap, 700 / 701 / 702 allocations.
 *
 *   import gc
 *   class C: __slots__ = ('a',)
 *   k1 = [None]*2000; k2 = [None]*2000; k3 = [None]*2000
 *   gc.collect()
 *   for i in range(700): k1[i] = C()
 *   a = gc.get_count()                  # (700, 0, 0)
 *   gc.collect()
 *   for i in range(701): k2[i] = C()
 *   b = gc.get_count()                  # (0, 1, 0)
 *   gc.collect()
 *   for i in range(702): k3[i] = C()
 *   c = gc.get_count()                  # (1, 1, 0)
 *   gc.get_threshold()                  # (700, 10, 10)
 * ------------------------------------------------------------------------- */
static void test_fresh_701(void) {
  rcgc_heap *h = rcgc_heap_new();
  CHECK(h != NULL);
  rcgc_type *t = node_type(h);
  CHECK_COUNTS(h, 0, 0, 0);
  check_thresholds(h, 700, 10, 10);
  CHECK(rcgc_is_enabled(h));

  static node *objs[702];
  for (int i = 0; i < 700; i++) {
    objs[i] = new_node(t, i);
    CHECK_COUNTS(h, i + 1, 0, 0);
  }
  printf("700 allocations: counts (700, 0, 0)\n");
  /* The 701st makes count0 = 701 > 700: generation 0 is collected (count1 = 1,
   * count0 = 0) before the new object joins generation 0, so it is not counted. */
  objs[700] = new_node(t, 700);
  CHECK_COUNTS(h, 0, 1, 0);
  printf("701st allocation: counts (0, 1, 0)\n");
  objs[701] = new_node(t, 701);
  CHECK_COUNTS(h, 1, 1, 0);
  printf("702nd allocation: counts (1, 1, 0)\n");
  CHECK_EQ(destroy_calls, 0);

  rcgc_heap_stats st;
  st.struct_size = sizeof st;
  CHECK_RC(rcgc_heap_get_stats(h, &st), RCGC_OK);
  CHECK_EQ(st.live_objects, 702);
  CHECK_EQ(st.tracked_objects, 702);

  for (int i = 0; i < 702; i++) rcgc_decref(objs[i]);
  CHECK_EQ(destroy_calls, 702);
  /* 702 frees from count0 = 1: 1 -> 0, then stays at 0. */
  CHECK_COUNTS(h, 0, 1, 0);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* ---------------------------------------------------------------------------
 * 2. Frees decrement count0 only while it is above zero; slots objects count;
 *    untracked types never count; rcgc_track/rcgc_untrack change no count, but
 *    the free of an untracked object of a tracked type still decrements.
 *
 *   k = [None]*10
 *   gc.collect()
 *   for i in range(5): k[i] = C()
 *   for i in range(2): k[i] = None
 *   gc.get_count()                      # (3, 0, 0)
 *
 *   gc.collect()
 *   for i in range(5): k[i] = C()
 *   gc.collect(0)
 *   for i in range(5): k[i] = None
 *   gc.get_count()                      # (0, 1, 0)
 *
 *   f = [None]*1000
 *   gc.collect()
 *   for i in range(1000): f[i] = float(i)   # floats are not GC objects
 *   gc.get_count()                      # (0, 0, 0)
 * ------------------------------------------------------------------------- */
static void test_frees(void) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  rcgc_type *lt = leaf_type(h);
  node *k[5];
  for (int i = 0; i < 5; i++) k[i] = new_node(t, i);
  CHECK_COUNTS(h, 5, 0, 0);
  rcgc_decref(k[0]);
  rcgc_decref(k[1]);
  CHECK_COUNTS(h, 3, 0, 0);
  printf("5 allocations, 2 frees: counts (3, 0, 0)\n");
  size_t n = 99;
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  CHECK_COUNTS(h, 0, 1, 0);
  rcgc_decref(k[2]);
  rcgc_decref(k[3]);
  rcgc_decref(k[4]);
  CHECK_COUNTS(h, 0, 1, 0);
  CHECK_EQ(destroy_calls, 5);
  printf("collect(0), 3 frees of older objects: counts (0, 1, 0)\n");

  /* A free takes count0 from 1 to 0, the next leaves it at 0. */
  node *a = new_node(t, 10), *b = new_node(t, 11);
  CHECK_COUNTS(h, 2, 1, 0);
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK);
  CHECK_COUNTS(h, 0, 2, 0);
  node *c = new_node(t, 12);
  CHECK_COUNTS(h, 1, 2, 0);
  rcgc_decref(a);
  CHECK_COUNTS(h, 0, 2, 0);
  rcgc_decref(b);
  CHECK_COUNTS(h, 0, 2, 0);
  rcgc_decref(c);
  CHECK_COUNTS(h, 0, 2, 0);

  /* Untracked types (no traverse) never count, neither allocation nor free. */
  static void *leaves[1000];
  for (int i = 0; i < 1000; i++) {
    leaves[i] = rcgc_alloc(lt);
    CHECK(leaves[i] != NULL);
    CHECK(!rcgc_is_tracked(leaves[i]));
  }
  CHECK_COUNTS(h, 0, 2, 0);
  node *d = new_node(t, 13);
  CHECK_COUNTS(h, 1, 2, 0);
  for (int i = 0; i < 1000; i++) rcgc_decref(leaves[i]);
  CHECK_COUNTS(h, 1, 2, 0);
  printf("1000 allocations and frees of an untracked type: counts unchanged\n");

  /* Slots objects and rcgc_alloc_var objects are tracked and count. */
  void *s = rcgc_slots_new(h, 3);
  CHECK(s != NULL);
  CHECK(rcgc_is_tracked(s));
  CHECK_COUNTS(h, 2, 2, 0);
  node *v = (node *)rcgc_alloc_var(t, sizeof(node) + 100);
  CHECK(v != NULL);
  v->id = 15;
  CHECK(rcgc_is_tracked(v));
  CHECK_COUNTS(h, 3, 2, 0);
  void *lv = rcgc_alloc_var(lt, 200);
  CHECK(lv != NULL);
  CHECK_COUNTS(h, 3, 2, 0);
  rcgc_decref(lv);
  rcgc_decref(v);
  CHECK_COUNTS(h, 2, 2, 0);
  rcgc_decref(s);
  CHECK_COUNTS(h, 1, 2, 0);

  /* rcgc_untrack / rcgc_track change no count; freeing an untracked object of a
   * tracked type decrements count0 (PyObject_GC_Del does not look at tracking). */
  CHECK(rcgc_is_tracked(d));
  CHECK_RC(rcgc_untrack(d), RCGC_OK);
  CHECK(!rcgc_is_tracked(d));
  CHECK_COUNTS(h, 1, 2, 0);
  CHECK_RC(rcgc_track(d), RCGC_OK);
  CHECK(rcgc_is_tracked(d));
  CHECK_COUNTS(h, 1, 2, 0);
  CHECK_RC(rcgc_untrack(d), RCGC_OK);
  node *e = new_node(t, 14);
  CHECK_COUNTS(h, 2, 2, 0);
  rcgc_decref(d);
  CHECK_COUNTS(h, 1, 2, 0);
  rcgc_decref(e);
  CHECK_COUNTS(h, 0, 2, 0);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* ---------------------------------------------------------------------------
 * 3. rcgc_collect(g): count[g+1] += 1, counts 0..=g zeroed; manual collections
 *    run whatever the thresholds and counts are.
 *
 *   def run(stop):                      # one get_count() per run, at the end
 *       k = [None]*20
 *       gc.collect()
 *       for i in range(3): k[i] = C()
 *       if stop == 1: return gc.get_count()     # (3, 0, 0)
 *       gc.collect(0)
 *       for i in range(3, 5): k[i] = C()
 *       if stop == 2: return gc.get_count()     # (2, 1, 0)
 *       gc.collect(1)
 *       for i in range(5, 9): k[i] = C()
 *       if stop == 3: return gc.get_count()     # (4, 0, 1)
 *       gc.collect(0)
 *       if stop == 4: return gc.get_count()     # (0, 1, 1)
 *       gc.collect(1)
 *       if stop == 5: return gc.get_count()     # (0, 0, 2)
 *       gc.collect(2)
 *       return gc.get_count()                   # (0, 0, 0)
 * In rcgc (no hidden allocations):
 *   3 allocs (3,0,0); collect(0) (0,1,0); 2 allocs (2,1,0); collect(1) (0,0,1);
 *   4 allocs (4,0,1); collect(0) (0,1,1); collect(1) (0,0,2); collect(1) (0,0,3);
 *   collect(0) x 12 (0,12,3); collect(2) (0,0,0).
 * ------------------------------------------------------------------------- */
static void test_manual_collect_counts(void) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  node *k[9];
  size_t n;
  for (int i = 0; i < 3; i++) k[i] = new_node(t, i);
  CHECK_COUNTS(h, 3, 0, 0);
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK);
  CHECK_COUNTS(h, 0, 1, 0);
  for (int i = 3; i < 5; i++) k[i] = new_node(t, i);
  CHECK_COUNTS(h, 2, 1, 0);
  CHECK_RC(rcgc_collect(h, 1, &n), RCGC_OK);
  CHECK_COUNTS(h, 0, 0, 1);
  for (int i = 5; i < 9; i++) k[i] = new_node(t, i);
  CHECK_COUNTS(h, 4, 0, 1);
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK);
  CHECK_COUNTS(h, 0, 1, 1);
  CHECK_RC(rcgc_collect(h, 1, &n), RCGC_OK);
  CHECK_COUNTS(h, 0, 0, 2);
  CHECK_RC(rcgc_collect(h, 1, NULL), RCGC_OK);
  CHECK_COUNTS(h, 0, 0, 3);
  /* Manual collections of generation 0 push count1 past its threshold; no
   * automatic collection happens without an allocation. */
  for (int i = 0; i < 12; i++) CHECK_RC(rcgc_collect(h, 0, NULL), RCGC_OK);
  CHECK_COUNTS(h, 0, 12, 3);
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  CHECK_COUNTS(h, 0, 0, 0);
  printf("manual collections: count[g+1] += 1, counts 0..=g zeroed\n");

  /* count1 = 12 > 10 now: the next automatic trigger collects generation 1. */
  for (int i = 0; i < 12; i++) CHECK_RC(rcgc_collect(h, 0, NULL), RCGC_OK);
  CHECK_COUNTS(h, 0, 12, 0);
  static node *more[701];
  for (int i = 0; i < 700; i++) more[i] = new_node(t, 100 + i);
  CHECK_COUNTS(h, 700, 12, 0);
  more[700] = new_node(t, 800);
  CHECK_COUNTS(h, 0, 0, 1);
  printf("count1 = 12 > 10: the 701st allocation collected generation 1: (0, 0, 1)\n");
  CHECK_EQ(destroy_calls, 0);
  for (int i = 0; i < 9; i++) rcgc_decref(k[i]);
  for (int i = 0; i < 701; i++) rcgc_decref(more[i]);
  CHECK_EQ(destroy_calls, 710);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* ---------------------------------------------------------------------------
 * 4. Default thresholds: generation 1 is collected automatically once count1
 *    exceeds 10, i.e. at the 12th trigger (12 * 701 = 8412 allocations), and
 *    a cycle sitting in generation 1 is freed only then.
 *
 *   for n in (7701, 8000, 8411, 8412, 8413):
 *       k = [None]*n
 *       gc.collect()
 *       for i in range(n): k[i] = C()
 *       gc.get_count()
 *   # (691, 10, 0) (289, 11, 0) (700, 11, 0) (0, 0, 1) (1, 0, 1)
 * ------------------------------------------------------------------------- */
static void test_gen1_auto(void) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  enum { N = 8413 };
  static node *k[N];
  /* Objects 0 and 1 form a 2-cycle, held from outside until they are in
   * generation 1 (after the first collection, at allocation 701). */
  k[0] = new_node(t, 0);
  k[1] = new_node(t, 1);
  rcgc_set_ref(&k[0]->ref, k[1]);
  rcgc_set_ref(&k[1]->ref, k[0]);
  for (int i = 2; i < 701; i++) k[i] = new_node(t, i);
  CHECK_COUNTS(h, 0, 1, 0);
  rcgc_decref(k[0]);
  rcgc_decref(k[1]); /* now garbage in generation 1 */
  CHECK_COUNTS(h, 0, 1, 0);
  for (int i = 701; i < N; i++) {
    k[i] = new_node(t, i);
    size_t m = (size_t)i + 1; /* allocations so far */
    if (m == 7701) CHECK_COUNTS(h, 691, 10, 0);
    if (m == 8000) CHECK_COUNTS(h, 289, 11, 0);
    if (m == 8411 && !stress) {
      CHECK_COUNTS(h, 700, 11, 0);
      CHECK_EQ(destroy_calls, 0); /* 11 collections of generation 0 only */
    }
    if (m == 8412 && !stress) {
      CHECK_COUNTS(h, 0, 0, 1);
      CHECK_EQ(destroy_calls, 2); /* the generation-1 collection freed the cycle */
      CHECK_EQ(destroyed[0], 1);
      CHECK_EQ(destroyed[1], 1);
    }
  }
  CHECK_COUNTS(h, 1, 0, 1);
  printf("default thresholds: 8412 allocations -> (0, 0, 1), generation-1 cycle freed then\n");
  for (int i = 2; i < N; i++) rcgc_decref(k[i]);
  CHECK_EQ(destroy_calls, N);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* A model of every object: its generation, whether it is garbage. */
typedef struct mobj {
  node *p;       /* NULL for leaves */
  void *leaf;    /* leaf object */
  int gen;       /* 0..2 tracked in a generation, -1 untracked, -2 dead */
  bool garbage;  /* a self-cycle nobody else holds */
  bool is_leaf;
} mobj;

typedef struct fmodel {
  size_t th[3], count[3], pending, total;
  bool enabled;
  int nobj;
  mobj o[MAX_IDS];
} fmodel;

static fmodel FM;

static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static size_t fm_collect(fmodel *m, int g) {
  if (g < 2) m->count[g + 1]++;
  for (int i = 0; i <= g; i++) m->count[i] = 0;
  size_t survivors = 0, freed = 0;
  for (int i = 0; i < m->nobj; i++) {
    mobj *o = &m->o[i];
    if (o->gen < 0 || o->gen > g) continue;
    if (o->garbage) {
      o->gen = -2;
      freed++;
      /* freeing inside the collection: count0 was zeroed, stays 0 */
    } else {
      o->gen = g < 2 ? g + 1 : 2;
      survivors++;
    }
  }
  if (g == 2) {
    m->pending = 0;
    m->total = survivors;
  } else if (g == 1) {
    m->pending += survivors;
  }
  return freed;
}

/* Returns the generation collected automatically, or -1. */
static int fm_alloc_tracked(fmodel *m) {
  m->count[0]++;
  /* stress-gc: every allocation is due, and generation 0 at least is collected */
  bool due = stress || (m->count[0] > m->th[0] && m->th[0] != 0);
  if (due && m->enabled) {
    for (int i = 2; i >= 0; i--) {
      if (m->count[i] > m->th[i] || (stress && i == 0)) {
        if (i == 2 && m->pending < m->total / 4) continue;
        fm_collect(m, i);
        return i;
      }
    }
  }
  return -1;
}

static void fm_check(rcgc_heap *h, fmodel *m) {
  CHECK_COUNTS_ALWAYS(h, m->count[0], m->count[1], m->count[2]);
  for (int i = 0; i < m->nobj; i++) {
    mobj *o = &m->o[i];
    if (o->is_leaf) continue;
    CHECK_EQ(destroyed[i], o->gen == -2 ? 1 : 0);
    if (o->gen != -2) CHECK_EQ(rcgc_is_tracked(o->p), o->gen >= 0);
  }
}

/* ---------------------------------------------------------------------------
 * 5. Thresholds (5, 2, 2) from a fresh heap, 420 allocations: the exact
 *    trace (computed with the Python simulation of the rules above, which
 *    prints the collections of generations 1 and 2):
 *      alloc  gen  counts after   pending total
 *        24    1   (0, 0, 1)        23      0
 *        48    1   (0, 0, 2)        47      0
 *        72    1   (0, 0, 3)        71      0
 *        78    2   (0, 0, 0)         0     77   count2 3 > 2, 71 >= 0/4
 *       102, 126, 150: gen 1 -> (0,0,1..3); 156 gen 2 (total 155)
 *       180, 204, 228: gen 1;                 234 gen 2 (total 233)
 *       258, 282, 306: gen 1;                 312 gen 2 (total 311)
 *       336, 360, 384: gen 1 -> (0, 0, 1..3), pending 24, 48, 72
 *       390: count2 = 3 > 2 but pending 72 < 311/4 = 77: generation 2 skipped,
 *            count1 = 0 is not > 2, so generation 0: (0, 1, 3)
 *       396, 402: skip again, generation 0: (0, 2, 3), (0, 3, 3)
 *       408: skip (72 < 77), count1 = 3 > 2: generation 1: (0, 0, 4), pending 96
 *       414: pending 96 >= 77: generation 2: (0, 0, 0)
 *    (with the garbage described below, 408 promotes 23 objects, not 24:
 *     pending 95, still >= 77, same decisions)
 *    Every 6th allocation triggers a collection (count0 6 > 5; generation 0
 *    unless listed); in between count0 counts up 1..5.
 *    CPython cannot replay this trace literally (its long_lived_total is the
 *    whole interpreter's objects, ~11000, so generation 2 is always skipped in
 *    the first few hundred allocations; that case is test_skip_like_cpython).
 *    To make the collected generations visible, objects 0 and 1 form a 2-cycle
 *    that becomes garbage after the generation-2 collection at 312 (so it sits
 *    in generation 2), and object 385 (allocated after the generation-1
 *    collection at 384, promoted to generation 1 at 390) is a self-cycle that
 *    becomes garbage after allocation 403: the skip at 390..402 frees nothing,
 *    408 (generation 1) frees 385 only, 414 (generation 2) frees 0 and 1.
 *    (Object ids are 0-based: allocation m creates id m-1; so "object 385" is
 *    allocation 386.)  Garbage freed inside a collection does not change counts.
 * ------------------------------------------------------------------------- */

/* Simple model of counts for live objects: used for the "between collections"
 * part of the traces. */
typedef struct cmodel {
  size_t th[3], count[3], gen[3], pending, total;
  bool enabled;
} cmodel;

static void cmodel_collect(cmodel *m, int g, size_t garbage_in_young) {
  if (g < 2) m->count[g + 1]++;
  size_t young = 0;
  for (int i = 0; i <= g; i++) {
    m->count[i] = 0;
    young += m->gen[i];
    m->gen[i] = 0;
  }
  young -= garbage_in_young;
  if (g == 2) {
    m->gen[2] = young;
    m->pending = 0;
    m->total = young;
  } else {
    if (g == 1) m->pending += young;
    m->gen[g + 1] += young;
  }
}

/* Returns the generation collected automatically, or -1. */
static int cmodel_alloc(cmodel *m) {
  int collected = -1;
  m->count[0]++;
  bool due = stress || (m->count[0] > m->th[0] && m->th[0] != 0); /* as fm_alloc_tracked */
  if (due && m->enabled) {
    for (int i = 2; i >= 0; i--) {
      if (m->count[i] > m->th[i] || (stress && i == 0)) {
        if (i == 2 && m->pending < m->total / 4) continue;
        collected = i;
        break;
      }
    }
  }
  return collected;
}

static void test_trace_5_2_2(void) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  CHECK_RC(rcgc_set_threshold(h, 5, 2, 2), RCGC_OK);
  check_thresholds(h, 5, 2, 2);
  fmodel *m = &FM;
  memset(m, 0, sizeof *m);
  m->th[0] = 5;
  m->th[1] = 2;
  m->th[2] = 2;
  m->enabled = true;
  enum { N = 420 };
  static const struct {
    int alloc, gen;
    size_t c0, c1, c2;
  } expected[] = {
      {6, 0, 0, 1, 0}, {12, 0, 0, 2, 0}, {18, 0, 0, 3, 0}, {24, 1, 0, 0, 1},
      {48, 1, 0, 0, 2}, {72, 1, 0, 0, 3}, {78, 2, 0, 0, 0}, {102, 1, 0, 0, 1},
      {126, 1, 0, 0, 2}, {150, 1, 0, 0, 3}, {156, 2, 0, 0, 0}, {180, 1, 0, 0, 1},
      {204, 1, 0, 0, 2}, {228, 1, 0, 0, 3}, {234, 2, 0, 0, 0}, {258, 1, 0, 0, 1},
      {282, 1, 0, 0, 2}, {306, 1, 0, 0, 3}, {312, 2, 0, 0, 0}, {336, 1, 0, 0, 1},
      {360, 1, 0, 0, 2}, {384, 1, 0, 0, 3}, {390, 0, 0, 1, 3}, {396, 0, 0, 2, 3},
      {402, 0, 0, 3, 3}, {408, 1, 0, 0, 4}, {414, 2, 0, 0, 0},
  };
  size_t nexp = sizeof expected / sizeof expected[0], ei = 0;
  for (int i = 0; i < N; i++) {
    int a = i + 1; /* allocation number */
    int g = fm_alloc_tracked(m);
    mobj *o = &m->o[m->nobj++];
    memset(o, 0, sizeof *o);
    o->gen = 0;
    o->p = new_node(t, i);
    if (i == 1) {
      rcgc_set_ref(&m->o[0].p->ref, m->o[1].p);
      rcgc_set_ref(&m->o[1].p->ref, m->o[0].p);
    }
    if (i == 385) rcgc_set_ref(&o->p->ref, o->p);
    fm_check(h, m);
    if (ei < nexp && expected[ei].alloc == a) {
      if (!stress) CHECK_EQ(g, expected[ei].gen);
      CHECK_COUNTS(h, expected[ei].c0, expected[ei].c1, expected[ei].c2);
      ei++;
    } else if (!stress) {
      /* every 6th allocation triggers (count0 6 > 5); the others only count */
      CHECK_EQ(g, a % 6 == 0 ? 0 : -1);
      CHECK_EQ(m->count[0], (size_t)(a % 6));
    }
    if (a == 312) {
      /* The 2-cycle 0 <-> 1 is now in generation 2: make it garbage. */
      CHECK_EQ(m->o[0].gen, 2);
      CHECK_EQ(m->o[1].gen, 2); /* also under stress-gc (by then) */
      rcgc_decref(m->o[0].p);
      rcgc_decref(m->o[1].p);
      m->o[0].garbage = m->o[1].garbage = true;
    }
    if (a == 403) {
      if (!stress) CHECK_EQ(m->o[385].gen, 1);
      rcgc_decref(m->o[385].p);
      m->o[385].garbage = true;
    }
    /* under stress-gc, fm_check above says which collections freed what */
    if (a <= 407 && !stress) CHECK_EQ(destroy_calls, 0);
    if (a >= 408 && a <= 413 && !stress) {
      /* generation 1 collected at 408: 385 freed, the generation-2 cycle not */
      CHECK_EQ(destroy_calls, 1);
      CHECK_EQ(destroyed[385], 1);
    }
    if (a >= 414 && !stress) {
      CHECK_EQ(destroy_calls, 3);
      CHECK_EQ(destroyed[0], 1);
      CHECK_EQ(destroyed[1], 1);
    }
  }
  CHECK_EQ(ei, nexp);
  printf("thresholds (5, 2, 2): %d allocations traced; generation 2 skipped at 390..408 "
         "(pending 72 < 311/4), collected at 414\n",
         N);
  for (int i = 0; i < N; i++)
    if (m->o[i].gen != -2 && !m->o[i].garbage) rcgc_decref(m->o[i].p);
  CHECK_EQ(destroy_calls, N);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* ---------------------------------------------------------------------------
 * 6. The 25 % rule seen from CPython's side: after a full collection that
 *    leaves a large long_lived_total, generation 2 is skipped.
 *    In CPython, long_lived_total after gc.collect() is about 11000 (all the
 *    interpreter's objects), so within 299 allocations generation 2 is never
 *    collected.  We build the same situation with 3000 live objects
 *    (total 3000: generation 2 is skipped while pending < 750).
 *
 *   gc.set_threshold(5, 2, 2)
 *   for n in (24, 72, 78, 100, 250, 299):
 *       k = [None]*n
 *       gc.collect()
 *       for i in range(n): k[i] = C()
 *       gc.get_count()
 *   # (0, 0, 1) (0, 0, 3) (0, 1, 3) (4, 0, 4) (4, 1, 10) (5, 1, 12)
 *   (checked for every n < 300 against the simulation, which the C loop below
 *    mirrors; with total = 0 the same 78 allocations give (0, 0, 0) instead,
 *    see test_trace_5_2_2.)
 * ------------------------------------------------------------------------- */
static void test_skip_like_cpython(void) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  enum { L = 3000, N = 299 };
  static node *base[L];
  static node *k[N];
  for (int i = 0; i < L; i++) base[i] = new_node(t, i);
  CHECK_RC(rcgc_set_threshold(h, 5, 2, 2), RCGC_OK);
  size_t n = 1;
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  CHECK_COUNTS(h, 0, 0, 0);
  cmodel m;
  memset(&m, 0, sizeof m);
  m.th[0] = 5;
  m.th[1] = 2;
  m.th[2] = 2;
  m.enabled = true;
  m.total = L;
  m.gen[2] = L;
  for (int i = 0; i < N; i++) {
    int g = cmodel_alloc(&m);
    if (g >= 0) cmodel_collect(&m, g, 0);
    m.gen[0]++;
    CHECK(g != 2);
    k[i] = new_node(t, L + i);
    CHECK_COUNTS_ALWAYS(h, m.count[0], m.count[1], m.count[2]);
    int a = i + 1;
    if (a == 24) CHECK_COUNTS(h, 0, 0, 1);
    if (a == 72) CHECK_COUNTS(h, 0, 0, 3);
    if (a == 78) CHECK_COUNTS(h, 0, 1, 3);
    if (a == 100) CHECK_COUNTS(h, 4, 0, 4);
    if (a == 250) CHECK_COUNTS(h, 4, 1, 10);
    if (a == 299) CHECK_COUNTS(h, 5, 1, 12);
  }
  printf("after a full collection of 3000 live objects, (5, 2, 2): 299 allocations "
         "end at (5, 1, 12) as in CPython, generation 2 never collected\n");
  for (int i = 0; i < L; i++) rcgc_decref(base[i]);
  for (int i = 0; i < N; i++) rcgc_decref(k[i]);
  CHECK_EQ(destroy_calls, L + N);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* ---------------------------------------------------------------------------
 * 7. set_threshold(0, ...) disables automatic collection; disable/enable.
 *
 *   k = [None]*2001
 *   gc.set_threshold(0, 10, 10)
 *   gc.collect()
 *   for i in range(2000): k[i] = C()
 *   gc.get_count()                      # (2000, 0, 0)
 *   gc.set_threshold(700, 10, 10)
 *   k[2000] = C()
 *   gc.get_count()                      # (0, 1, 0)
 *
 *   k = [None]*2001
 *   gc.disable()
 *   gc.collect()
 *   for i in range(2000): k[i] = C()
 *   gc.get_count(), gc.isenabled()      # (2000, 0, 0) False
 *   gc.enable()
 *   k[2000] = C()
 *   gc.get_count()                      # (0, 1, 0)
 *   (the tuple built by the first get_count call is freed before the next
 *    allocation, so it leaves count0 where it was)
 * ------------------------------------------------------------------------- */
static void test_disable(void) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  enum { N = 2001 };
  static node *k[N];

  CHECK_RC(rcgc_set_threshold(h, 0, 10, 10), RCGC_OK);
  check_thresholds(h, 0, 10, 10);
  CHECK(rcgc_is_enabled(h));
  for (int i = 0; i < 2000; i++) {
    k[i] = new_node(t, i);
    CHECK_COUNTS(h, i + 1, 0, 0);
  }
  CHECK_RC(rcgc_set_threshold(h, 700, 10, 10), RCGC_OK);
  k[2000] = new_node(t, 2000);
  CHECK_COUNTS(h, 0, 1, 0);
  printf("threshold0 = 0: 2000 allocations, no collection; threshold back to 700: next "
         "allocation collects\n");
  for (int i = 0; i < N; i++) rcgc_decref(k[i]);

  CHECK_RC(rcgc_disable(h), RCGC_OK);
  CHECK(!rcgc_is_enabled(h));
  CHECK_RC(rcgc_disable(h), RCGC_OK); /* idempotent */
  CHECK(!rcgc_is_enabled(h));
  CHECK_RC(rcgc_collect(h, 2, NULL), RCGC_OK);
  CHECK_COUNTS(h, 0, 0, 0);
  for (int i = 0; i < 2000; i++) {
    k[i] = new_node(t, i);
    CHECK_COUNTS(h, i + 1, 0, 0);
  }
  /* A manual collection still works while disabled. */
  node *cyc = new_node(t, 5000);
  rcgc_set_ref(&cyc->ref, cyc);
  rcgc_decref(cyc);
  CHECK_COUNTS(h, 2001, 0, 0);
  size_t n = 0;
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK);
  CHECK_EQ(n, 1);
  CHECK_COUNTS(h, 0, 1, 0);
  for (int i = 0; i < 2000; i++) rcgc_decref(k[i]);
  for (int i = 0; i < 2000; i++) k[i] = new_node(t, i);
  CHECK_COUNTS(h, 2000, 1, 0);
  CHECK_RC(rcgc_enable(h), RCGC_OK);
  CHECK(rcgc_is_enabled(h));
  CHECK_COUNTS(h, 2000, 1, 0); /* enabling alone collects nothing */
  k[2000] = new_node(t, 2000);
  CHECK_COUNTS(h, 0, 2, 0);
  printf("disable: 2000 allocations, no collection; enable: next allocation collects\n");
  for (int i = 0; i < N; i++) rcgc_decref(k[i]);
  rcgc_heap_free(h);
  reset_destroyed();
}

/* ---------------------------------------------------------------------------
 * 8. Thresholds (1, 0, 0) with and without a large long_lived_total: the
 *    generation-2 check happens at every trigger.
 *    Fresh heap (total 0):
 *      a1 (1,0,0)  a2: 2>1, gen0 -> (0,1,0)  a3 (1,1,0)
 *      a4: count1 1>0 -> gen1 (0,0,1), pending 3
 *      a5 (1,0,1)  a6: count2 1>0, 3 >= 0/4 -> gen2 (0,0,0), total 5
 *      a7 (1,0,0)  a8: gen0 (0,1,0)  a9 (1,1,0)  a10: gen1 (0,0,1), pending 4
 *      a11 (1,0,1) a12: count2 1>0, 4 < 5/4 = 1? no -> gen2 (0,0,0), total 11
 *    After a full collection of 100 live objects (total 100, skip while
 *    pending < 25):
 *      a1 (1,0,0) a2 (0,1,0) a3 (1,1,0) a4 gen1 (0,0,1) p=3
 *      a5 (1,0,1) a6: skip, count1 0 -> gen0 (0,1,1) a7 (1,1,1)
 *      a8: skip, gen1 (0,0,2) p=3+4=7 ... every 4 allocations p grows by 4.
 *    (computed by the C model, which is the Python simulation transcribed.)
 * ------------------------------------------------------------------------- */
static void run_model_trace(size_t live_before, size_t th0, size_t th1, size_t th2, int n,
                            const size_t (*expect)[3], int nexpect, size_t *gen2_collections) {
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  node **base = (node **)malloc(sizeof(node *) * (live_before + 1));
  node **k = (node **)malloc(sizeof(node *) * (size_t)n);
  CHECK(base != NULL && k != NULL);
  for (size_t i = 0; i < live_before; i++) base[i] = new_node(t, -1);
  CHECK_RC(rcgc_set_threshold(h, th0, th1, th2), RCGC_OK);
  CHECK_RC(rcgc_collect(h, 2, NULL), RCGC_OK);
  cmodel m;
  memset(&m, 0, sizeof m);
  m.th[0] = th0;
  m.th[1] = th1;
  m.th[2] = th2;
  m.enabled = true;
  m.total = live_before;
  m.gen[2] = live_before;
  *gen2_collections = 0;
  for (int i = 0; i < n; i++) {
    int g = cmodel_alloc(&m);
    if (g >= 0) cmodel_collect(&m, g, 0);
    if (g == 2) (*gen2_collections)++;
    m.gen[0]++;
    k[i] = new_node(t, -1);
    CHECK_COUNTS_ALWAYS(h, m.count[0], m.count[1], m.count[2]);
    if (i < nexpect) CHECK_COUNTS(h, expect[i][0], expect[i][1], expect[i][2]);
  }
  for (size_t i = 0; i < live_before; i++) rcgc_decref(base[i]);
  for (int i = 0; i < n; i++) rcgc_decref(k[i]);
  free(base);
  free(k);
  rcgc_heap_free(h);
  reset_destroyed();
}

static void test_threshold_1_0_0(void) {
  static const size_t fresh[][3] = {{1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {0, 0, 1},
                                    {1, 0, 1}, {0, 0, 0}, {1, 0, 0}, {0, 1, 0},
                                    {1, 1, 0}, {0, 0, 1}, {1, 0, 1}, {0, 0, 0}};
  size_t g2 = 0;
  run_model_trace(0, 1, 0, 0, 12, fresh, 12, &g2);
  if (!stress) CHECK_EQ(g2, 2);
  static const size_t big[][3] = {{1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {0, 0, 1},
                                  {1, 0, 1}, {0, 1, 1}, {1, 1, 1}, {0, 0, 2}};
  run_model_trace(100, 1, 0, 0, 8, big, 8, &g2);
  if (!stress) CHECK_EQ(g2, 0);
  /* Longer: with total 100, the first generation-2 collection comes once
   * pending >= 25 (model: at allocation 28). */
  run_model_trace(100, 1, 0, 0, 400, big, 8, &g2);
  CHECK(g2 > 0);
  printf("thresholds (1, 0, 0): generation 2 collected at every other trigger on a "
         "fresh heap, skipped while pending < total/4 after 100 live objects\n");
}

/* ---------------------------------------------------------------------------
 * 9. Random operations against the full model: allocations (tracked and
 *    untracked types), frees, self-cycle garbage, untrack/track, manual
 *    collections, threshold changes, disable/enable. After every operation the
 *    counts must equal the model's, and the set of destroyed objects must equal
 *    the model's.
 * ------------------------------------------------------------------------- */
static unsigned long model_ops = 0;
static bool trace_ops = false;

static void test_model_random(uint64_t seed) {
  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
  rcgc_heap *h = rcgc_heap_new();
  rcgc_type *t = node_type(h);
  rcgc_type *lt = leaf_type(h);
  fmodel *m = &FM;
  memset(m, 0, sizeof *m);
  m->th[0] = 700;
  m->th[1] = 10;
  m->th[2] = 10;
  m->enabled = true;
  /* Small thresholds make collections of every generation frequent. */
  size_t t0 = 1 + rnd_below(12), t1 = rnd_below(4), t2 = rnd_below(4);
  CHECK_RC(rcgc_set_threshold(h, t0, t1, t2), RCGC_OK);
  m->th[0] = t0;
  m->th[1] = t1;
  m->th[2] = t2;
  for (int step = 0; step < 3000 && m->nobj < MAX_IDS - 1; step++) {
    size_t r = rnd_below(100);
    int nlive = 0;
    if (r < 45) { /* allocate a tracked object */
      fm_alloc_tracked(m); /* may collect: the new object is not there yet */
      int id = m->nobj++;
      mobj *o = &m->o[id];
      memset(o, 0, sizeof *o);
      o->gen = 0;
      o->p = new_node(t, id);
    } else if (r < 50) { /* allocate a leaf */
      int id = m->nobj++;
      mobj *o = &m->o[id];
      memset(o, 0, sizeof *o);
      o->is_leaf = true;
      o->gen = -1;
      o->leaf = rcgc_alloc(lt);
      CHECK(o->leaf != NULL);
    } else if (r < 85) { /* free something, or make it self-cycle garbage */
      for (int tries = 0; tries < 8 && m->nobj > 0; tries++) {
        int id = (int)rnd_below((size_t)m->nobj);
        mobj *o = &m->o[id];
        if (o->gen == -2 || o->garbage || (o->is_leaf && o->leaf == NULL)) continue;
        if (o->is_leaf) {
          rcgc_decref(o->leaf);
          o->leaf = NULL;
          o->gen = -2;
        } else if (rnd_below(3) == 0) {
          rcgc_set_ref(&o->p->ref, o->p);
          rcgc_decref(o->p);
          o->garbage = true; /* freed by the next collection of its generation */
        } else {
          rcgc_decref(o->p);
          if (m->count[0] > 0) m->count[0]--;
          o->gen = -2;
        }
        break;
      }
    } else if (r < 88) { /* untrack or track */
      int id = (int)rnd_below((size_t)m->nobj);
      mobj *o = &m->o[id];
      if (m->nobj > 0 && !o->is_leaf && o->gen != -2) {
        if (o->gen >= 0) {
          CHECK_RC(rcgc_untrack(o->p), RCGC_OK);
          o->gen = -1;
        } else {
          CHECK_RC(rcgc_track(o->p), RCGC_OK);
          o->gen = 0;
        }
      }
    } else if (r < 94) { /* manual collection */
      int g = (int)rnd_below(3);
      size_t n = 12345;
      size_t expect = fm_collect(m, g);
      CHECK_RC(rcgc_collect(h, g, &n), RCGC_OK);
      CHECK_EQ(n, expect);
    } else if (r < 97) { /* new thresholds (sometimes threshold0 = 0) */
      size_t a = rnd_below(4) == 0 ? 0 : 1 + rnd_below(12), b = rnd_below(4), c = rnd_below(4);
      CHECK_RC(rcgc_set_threshold(h, a, b, c), RCGC_OK);
      m->th[0] = a;
      m->th[1] = b;
      m->th[2] = c;
    } else { /* toggle automatic collection */
      if (m->enabled) {
        CHECK_RC(rcgc_disable(h), RCGC_OK);
      } else {
        CHECK_RC(rcgc_enable(h), RCGC_OK);
      }
      m->enabled = !m->enabled;
      CHECK_EQ(rcgc_is_enabled(h), m->enabled);
    }
    (void)nlive;
    if (trace_ops) { /* RCGC_TEST_TRACE=1: print the model next to rcgc's counts */
      rcgc_counts c = rcgc_get_count(h);
      printf("seed %d step %d op %zu: model (%zu, %zu, %zu) pending %zu total %zu enabled %d | "
             "rcgc (%zu, %zu, %zu)\n",
             (int)seed, step, r, m->count[0], m->count[1], m->count[2], m->pending, m->total,
             (int)m->enabled, c.gen0, c.gen1, c.gen2);
    }
    model_ops++;
    fm_check(h, m);
  }
  /* Drop everything: live objects by decref, then one full collection frees the
   * remaining garbage (tracked self-cycles); untracked garbage needs tracking. */
  for (int i = 0; i < m->nobj; i++) {
    mobj *o = &m->o[i];
    if (o->gen == -2) continue;
    if (o->is_leaf) {
      if (o->leaf) rcgc_decref(o->leaf);
      o->gen = -2;
      continue;
    }
    if (o->garbage) {
      if (o->gen == -1) {
        CHECK_RC(rcgc_track(o->p), RCGC_OK);
        o->gen = 0;
      }
      continue;
    }
    rcgc_decref(o->p);
    if (m->count[0] > 0) m->count[0]--;
    o->gen = -2;
  }
  size_t n = 0, expect = fm_collect(m, 2);
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, expect);
  fm_check(h, m);
  rcgc_heap_stats st;
  st.struct_size = sizeof st;
  CHECK_RC(rcgc_heap_get_stats(h, &st), RCGC_OK);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.tracked_objects, 0);
  rcgc_heap_free(h);
  reset_destroyed();
}

int main(void) {
  stress = getenv("RCGC_STRESS_GC") != NULL;
  trace_ops = getenv("RCGC_TEST_TRACE") != NULL;
  bool valgrind = getenv("RCGC_UNDER_VALGRIND") != NULL;
  test_fresh_701();
  test_frees();
  test_manual_collect_counts();
  test_gen1_auto();
  test_trace_5_2_2();
  test_skip_like_cpython();
  test_disable();
  test_threshold_1_0_0();
  uint64_t seeds = valgrind ? 6 : 40;
  for (uint64_t seed = 1; seed <= seeds; seed++) test_model_random(seed);
  printf("random model: %d seeds, %lu operations, counts and freed objects matched after each\n",
         (int)seeds, model_ops);
  CHECK_DONE("test_counts");
}
