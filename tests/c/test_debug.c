/* test_debug.c: the debug flags (gc.set_debug, gc.get_debug), their output
 * (stderr or a sink), the garbage list of DEBUG_SAVEALL (gc.garbage) and the
 * leak report of rcgc_heap_free under DEBUG_LEAK.
 *
 * The Python snippets in the comments were run with python3 (CPython 3.11.7);
 * the value each gives is written next to it. They use
 *   import gc, sys; gc.disable()
 *   class N: __slots__ = ('x',)
 * N plays the part of a slots object, whose type name in rcgc is "rcgc.slots".
 * CPython's "objects in each generation" counts include the interpreter's own
 * objects; rcgc's heaps hold only the test's.
 *
 * Every heap here has automatic collection off (so the stress-gc build, which
 * collects on every tracked allocation of an enabled heap, gives the same
 * output), except in automatic_collections(), which allows for it. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static bool stress = false;

/* Compare two strings, printing both on failure. */
#define CHECK_STR(actual, expected)                                              \
  do {                                                                           \
    const char *check_a_ = (actual), *check_e_ = (expected);                     \
    check_count++;                                                               \
    if (strcmp(check_a_, check_e_) != 0) {                                       \
      fprintf(stderr, "%s:%d: CHECK_STR failed:\n  %s == \"%s\"\n  expected \"%s\"\n", \
              __FILE__, __LINE__, #actual, check_a_, check_e_);                  \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* ---------------------------------------------------------------------------
 * A sink that keeps the lines it receives.
 * ------------------------------------------------------------------------- */
#define MAX_LINES 32
typedef struct capture {
  char line[MAX_LINES][520];
  int n;
} capture;

static capture out;

static void keep_line(const char *line, void *ctx) {
  capture *c = ctx;
  CHECK(c->n < MAX_LINES);
  CHECK(strlen(line) < sizeof c->line[0]);
  CHECK(strchr(line, '\n') == NULL); /* one call per line, without the newline */
  strcpy(c->line[c->n++], line);
}

/* A heap with automatic collection off whose output goes to `out`, emptied. */
static rcgc_heap *captured_heap(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  CHECK_RC(rcgc_set_debug_output(heap, keep_line, &out), RCGC_OK);
  out.n = 0;
  return heap;
}

/* "gc: collectable <TYPE ADDR>" as the library writes it: ADDR as %p shows it. */
static const char *collectable(const char *type, const void *obj) {
  static char buf[4][160];
  static int next = 0;
  char *s = buf[next++ % 4];
  snprintf(s, sizeof buf[0], "gc: collectable <%s %p>", type, obj);
  return s;
}

/* Whether `line` is "gc: done, <found> unreachable, 0 uncollectable, D.DDDDs elapsed". */
static bool is_done_line(const char *line, size_t found) {
  char prefix[96];
  snprintf(prefix, sizeof prefix, "gc: done, %zu unreachable, 0 uncollectable, ", found);
  size_t len = strlen(prefix);
  if (strncmp(line, prefix, len) != 0) return false;
  const char *p = line + len;
  if (*p < '0' || *p > '9') return false;
  while (*p >= '0' && *p <= '9') p++;
  if (*p++ != '.') return false;
  for (int i = 0; i < 4; i++, p++) {
    if (*p < '0' || *p > '9') return false;
  }
  return strcmp(p, "s elapsed") == 0;
}

/* A 2-cycle of slots objects with no other reference; returns a, sets *b. */
static void *dropped_cycle(rcgc_heap *heap, void **b_out) {
  void *a = rcgc_slots_new(heap, 1), *b = rcgc_slots_new(heap, 1);
  CHECK(a != NULL && b != NULL);
  CHECK_RC(rcgc_slots_set(a, 0, b), RCGC_OK);
  CHECK_RC(rcgc_slots_set(b, 0, a), RCGC_OK);
  rcgc_decref(a);
  rcgc_decref(b);
  *b_out = b;
  return a; /* a borrowed pointer: only the cycle holds it */
}

/* ---------------------------------------------------------------------------
 * "Node": a user type with finalize and destroy, to see when they run.
 * ------------------------------------------------------------------------- */
typedef struct node {
  void *x;
  int id;
} node;

static rcgc_heap *node_heap; /* the heap of the running test, for the callbacks */
static int finalized = 0, destroyed = 0;
static int destroyed_alloc_ok = 0; /* destroy callbacks in which allocation worked */
static int lines_when_finalized = -1;
static rcgc_result clear_garbage_in_finalize = RCGC_OK;
static void *resurrect_into = NULL; /* a finalizer resurrects its object into this slots object */

static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx) { visit(((node *)obj)->x, ctx); }
static void node_clear(void *obj) { rcgc_clear_ref(&((node *)obj)->x); }
static void node_finalize(void *obj) {
  finalized++;
  lines_when_finalized = out.n;
  clear_garbage_in_finalize = rcgc_clear_garbage(node_heap);
  if (resurrect_into != NULL) CHECK_RC(rcgc_slots_set(resurrect_into, 0, obj), RCGC_OK);
}
static void node_destroy(void *obj) {
  (void)obj;
  destroyed++;
  /* Refused only in rcgc_heap_free's final sweep of what refcounting could not free. */
  void *tmp = rcgc_slots_new(node_heap, 0);
  if (tmp != NULL) destroyed_alloc_ok++;
  rcgc_decref(tmp);
}

static rcgc_type *node_type(rcgc_heap *heap) {
  rcgc_type_spec spec = {"Node", sizeof(node), node_traverse, node_clear, node_finalize, node_destroy};
  rcgc_type *type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  node_heap = heap;
  finalized = destroyed = destroyed_alloc_ok = 0;
  lines_when_finalized = -1;
  clear_garbage_in_finalize = RCGC_OK;
  resurrect_into = NULL;
  return type;
}

/* A 2-cycle of Nodes with no other reference; returns the first, sets *b. */
static void *node_cycle(rcgc_type *type, void **b_out) {
  node *a = rcgc_alloc(type), *b = rcgc_alloc(type);
  CHECK(a != NULL && b != NULL);
  a->id = 1;
  b->id = 2;
  rcgc_set_ref(&a->x, b);
  rcgc_set_ref(&b->x, a);
  rcgc_decref(a);
  rcgc_decref(b);
  *b_out = b;
  return a;
}

/* ---------------------------------------------------------------------------
 * gc.set_debug / gc.get_debug, and the errors.
 * ------------------------------------------------------------------------- */

/* (gc.DEBUG_STATS, gc.DEBUG_COLLECTABLE, gc.DEBUG_UNCOLLECTABLE,
 *  gc.DEBUG_SAVEALL, gc.DEBUG_LEAK) == (1, 2, 4, 32, 38)
 * gc.get_debug() == 0;  gc.set_debug(gc.DEBUG_LEAK); gc.get_debug() == 38
 * gc.set_debug(gc.DEBUG_STATS | gc.DEBUG_SAVEALL); gc.get_debug() == 33
 * CPython stores any int (gc.set_debug(64); gc.get_debug() == 64); rcgc
 * refuses bits that are not debug flags, and leaves the flags as they were. */
static void flags(void) {
  CHECK_EQ(RCGC_DEBUG_STATS, 1);
  CHECK_EQ(RCGC_DEBUG_COLLECTABLE, 2);
  CHECK_EQ(RCGC_DEBUG_UNCOLLECTABLE, 4);
  CHECK_EQ(RCGC_DEBUG_SAVEALL, 32);
  CHECK_EQ(RCGC_DEBUG_LEAK, 38);
  CHECK_EQ(RCGC_DEBUG_LEAK, RCGC_DEBUG_COLLECTABLE | RCGC_DEBUG_UNCOLLECTABLE | RCGC_DEBUG_SAVEALL);

  rcgc_heap *heap = captured_heap();
  CHECK_EQ(rcgc_get_debug(heap), 0);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_LEAK), RCGC_OK);
  CHECK_EQ(rcgc_get_debug(heap), 38);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS | RCGC_DEBUG_SAVEALL), RCGC_OK);
  CHECK_EQ(rcgc_get_debug(heap), 33);

  CHECK_RC(rcgc_set_debug(heap, 64), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_STR(rcgc_last_error(),
            "rcgc_set_debug: flags 64 (0x40) hold bits that are not RCGC_DEBUG_* flags (those are 0x27)");
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS | 8), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_RC(rcgc_set_debug(heap, -1), RCGC_ERR_INVALID_ARGUMENT);
  CHECK(strstr(rcgc_last_error(), "rcgc_set_debug: flags -1 ") == rcgc_last_error());
  CHECK_EQ(rcgc_get_debug(heap), 33); /* unchanged */
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK);
  CHECK_EQ(rcgc_get_debug(heap), 0);

  /* NULL where a heap or a function is required. */
  CHECK_RC(rcgc_set_debug(NULL, RCGC_DEBUG_STATS), RCGC_ERR_NULL_ARGUMENT);
  CHECK_STR(rcgc_last_error(), "rcgc_set_debug: argument `heap` is NULL");
  CHECK_EQ(rcgc_get_debug(NULL), 0);
  CHECK_RC(rcgc_set_debug_output(NULL, keep_line, &out), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_get_garbage(NULL, NULL, NULL), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_get_garbage(heap, NULL, NULL), RCGC_ERR_NULL_ARGUMENT);
  CHECK_STR(rcgc_last_error(), "rcgc_get_garbage: argument `fn` is NULL");
  CHECK_EQ(rcgc_get_garbage_count(NULL), 0);
  CHECK_RC(rcgc_clear_garbage(NULL), RCGC_ERR_NULL_ARGUMENT);
  CHECK_EQ(out.n, 0); /* setting flags writes nothing */
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * DEBUG_STATS
 * ------------------------------------------------------------------------- */

/*   f = N(); gc.freeze()                     # 1 object in the permanent generation
 *   o = N(); gc.collect(0)                   # o moves to generation 1
 *   a = N(); b = N(); a.x = b; b.x = a; del a, b; c = N()
 *   gc.set_debug(gc.DEBUG_STATS); gc.collect(1) == 2, and stderr shows
 *     gc: collecting generation 1...
 *     gc: objects in each generation: 3 1 0         (rcgc; CPython adds its own objects)
 *     gc: objects in permanent generation: 1
 *     gc: done, 2 unreachable, 0 uncollectable, 0.0000s elapsed
 * The generation sizes are those when the collection starts, before the
 * younger generations are merged into the one collected. */
static void stats(void) {
  rcgc_heap *heap = captured_heap();
  void *f = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_freeze(heap), RCGC_OK);
  void *o = rcgc_slots_new(heap, 1);
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 0, &found), RCGC_OK);
  CHECK_EQ(out.n, 0); /* no flags, no output */
  void *b;
  dropped_cycle(heap, &b);
  void *c = rcgc_slots_new(heap, 1);

  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS), RCGC_OK);
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(out.n, 4);
  CHECK_STR(out.line[0], "gc: collecting generation 1...");
  CHECK_STR(out.line[1], "gc: objects in each generation: 3 1 0");
  CHECK_STR(out.line[2], "gc: objects in permanent generation: 1");
  CHECK(is_done_line(out.line[3], 2));

  /* The next full collection sees c and o in generation 2, and finds nothing. */
  out.n = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_EQ(out.n, 4);
  CHECK_STR(out.line[0], "gc: collecting generation 2...");
  CHECK_STR(out.line[1], "gc: objects in each generation: 0 0 2");
  CHECK_STR(out.line[2], "gc: objects in permanent generation: 1");
  CHECK(is_done_line(out.line[3], 0));

  rcgc_decref(c);
  rcgc_decref(o);
  rcgc_decref(f);
  rcgc_heap_free(heap);
}

/* Automatic collections write the same lines:
 *   gc.set_threshold(1); gc.enable(); gc.set_debug(gc.DEBUG_STATS)
 *   p = N(); q = N()      # the second allocation collects generation 0:
 *     gc: collecting generation 0...  (then the sizes and the done line)
 * Under the stress-gc build both allocations collect. */
static void automatic_collections(void) {
  rcgc_heap *heap = captured_heap();
  CHECK_RC(rcgc_set_threshold(heap, 1, 10, 10), RCGC_OK);
  CHECK_RC(rcgc_enable(heap), RCGC_OK);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS), RCGC_OK);
  void *p = rcgc_slots_new(heap, 0), *q = rcgc_slots_new(heap, 0);
  const int collections = stress ? 2 : 1;
  CHECK_EQ(out.n, 4 * collections);
  for (int i = 0; i < collections; i++) {
    CHECK_STR(out.line[4 * i], "gc: collecting generation 0...");
    CHECK(is_done_line(out.line[4 * i + 3], 0));
  }
  /* Before the new object joins generation 0, as in CPython. */
  CHECK_STR(out.line[4 * collections - 3], "gc: objects in each generation: 1 0 0");
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  rcgc_decref(p);
  rcgc_decref(q);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * DEBUG_COLLECTABLE and DEBUG_UNCOLLECTABLE
 * ------------------------------------------------------------------------- */

/*   a = N(); b = N(); a.x = b; b.x = a; del a, b
 *   gc.set_debug(gc.DEBUG_COLLECTABLE); gc.collect() == 2, and stderr shows
 *     gc: collectable <N 0x7f08f63f2b90>
 *     gc: collectable <N 0x7f08f6053d30>
 *   class F:  __slots__ = ('x',); def __del__(self): print("del")
 *   the same with F: both collectable lines come before either "del". */
static void collectable_lines(void) {
  rcgc_heap *heap = captured_heap();
  void *b, *a = dropped_cycle(heap, &b);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_COLLECTABLE), RCGC_OK);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(out.n, 2);
  /* The addresses are the objects' pointers, as %p prints them. */
  CHECK_STR(out.line[0], collectable("rcgc.slots", a));
  CHECK_STR(out.line[1], collectable("rcgc.slots", b));

  /* With finalizers: the lines come before any finalizer runs. */
  rcgc_type *type = node_type(heap);
  out.n = 0;
  void *nb, *na = node_cycle(type, &nb);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(out.n, 2);
  CHECK_STR(out.line[0], collectable("Node", na));
  CHECK_STR(out.line[1], collectable("Node", nb));
  CHECK_EQ(finalized, 2);
  CHECK_EQ(lines_when_finalized, 2);
  CHECK_EQ(destroyed, 2);

  /* A line longer than 511 bytes (a long type name) is cut there. */
  static char long_name[701];
  memset(long_name, 'L', sizeof long_name - 1);
  rcgc_type_spec spec = {long_name, sizeof(node), node_traverse, node_clear, NULL, NULL};
  rcgc_type *long_type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &long_type), RCGC_OK);
  node *self = rcgc_alloc(long_type);
  rcgc_set_ref(&self->x, self);
  rcgc_decref(self);
  out.n = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_EQ(out.n, 1);
  CHECK_EQ(strlen(out.line[0]), 511);
  CHECK(strncmp(out.line[0], "gc: collectable <LLLL", 21) == 0);
  CHECK_EQ(out.line[0][510], 'L');
  rcgc_heap_free(heap);
}

/*   f = F(); g = F(); f.x = g; g.x = f; del f, g
 *   gc.set_debug(gc.DEBUG_UNCOLLECTABLE); gc.collect() == 2
 *   nothing is written, gc.garbage == [], gc.get_stats()[2]['uncollectable'] == 0:
 *   objects with __del__ are collectable since CPython 3.4 (PEP 442), and rcgc
 *   has no other kind of finalizer. */
static void uncollectable_is_silent(void) {
  rcgc_heap *heap = captured_heap();
  rcgc_type *type = node_type(heap);
  void *b;
  node_cycle(type, &b);
  dropped_cycle(heap, &b);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_UNCOLLECTABLE), RCGC_OK);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 4);
  CHECK_EQ(out.n, 0);
  CHECK_EQ(rcgc_get_garbage_count(heap), 0);
  rcgc_gen_stats s = {.struct_size = sizeof s};
  CHECK_RC(rcgc_get_stats(heap, 2, &s), RCGC_OK);
  CHECK_EQ(s.collected, 4);
  CHECK_EQ(s.uncollectable, 0);
  CHECK_EQ(destroyed, 2);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * DEBUG_SAVEALL and gc.garbage
 * ------------------------------------------------------------------------- */
typedef struct seen {
  void *obj[8];
  size_t refcount[8];
  int n;
} seen;

static void remember(void *obj, void *ctx) {
  seen *s = ctx;
  CHECK(s->n < 8);
  s->obj[s->n] = obj;
  s->refcount[s->n] = rcgc_refcount(obj);
  s->n++;
}

/*   gc.set_debug(gc.DEBUG_SAVEALL)
 *   a = N(); b = N(); a.x = b; b.x = a; del a, b
 *   gc.collect() == 2; len(gc.garbage) == 2; gc.garbage[0].x is gc.garbage[1]
 *   sys.getrefcount(gc.garbage[0]) - 1 == 2      (b.x and the garbage list)
 *   gc.get_stats()[2]: collected 2, uncollectable 0
 *   gc.collect() == 0; len(gc.garbage) == 2       (the list keeps them reachable)
 *   gc.is_tracked(gc.garbage[0]) and it is in gc.get_objects(2)
 *   del gc.garbage[:]; gc.collect() == 2; len(gc.garbage) == 2   (still SAVEALL: saved again)
 *   gc.set_debug(0); del gc.garbage[:]; gc.collect() == 2; gc.garbage == [] */
static void saveall(void) {
  rcgc_heap *heap = captured_heap();
  rcgc_type *type = node_type(heap);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_SAVEALL), RCGC_OK);
  void *b, *a = node_cycle(type, &b);
  rcgc_heap_stats hs = {.struct_size = sizeof hs};
  CHECK_RC(rcgc_heap_get_stats(heap, &hs), RCGC_OK);
  const size_t live = hs.live_objects;

  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);               /* counted as collected */
  CHECK_EQ(out.n, 0);               /* SAVEALL alone writes nothing */
  CHECK_EQ(finalized, 2);           /* finalizers ran, as in CPython */
  CHECK_EQ(destroyed, 0);           /* nothing was cleared or freed */
  CHECK_EQ(rcgc_get_garbage_count(heap), 2);
  CHECK(((node *)a)->x == b);       /* references intact */
  CHECK(((node *)b)->x == a);
  CHECK_EQ(rcgc_refcount(a), 2);    /* the other's reference and the list's */
  CHECK_EQ(rcgc_refcount(b), 2);
  CHECK(rcgc_is_tracked(a) && rcgc_is_tracked(b));
  CHECK(rcgc_is_finalized(a));
  rcgc_gen_stats s = {.struct_size = sizeof s};
  CHECK_RC(rcgc_get_stats(heap, 2, &s), RCGC_OK);
  CHECK_EQ(s.collected, 2);
  CHECK_EQ(s.uncollectable, 0);
  CHECK_RC(rcgc_heap_get_stats(heap, &hs), RCGC_OK);
  CHECK_EQ(hs.live_objects, live);

  /* rcgc_get_garbage: both objects, in the order saved, each held during the call. */
  seen g = {{0}, {0}, 0};
  CHECK_RC(rcgc_get_garbage(heap, remember, &g), RCGC_OK);
  CHECK_EQ(g.n, 2);
  CHECK(g.obj[0] == a && g.obj[1] == b);
  CHECK_EQ(g.refcount[0], 3);
  CHECK_EQ(rcgc_refcount(a), 2);

  /* They moved to generation 2 and stay reachable from the list. */
  seen gen2 = {{0}, {0}, 0};
  CHECK_RC(rcgc_get_objects(heap, 2, remember, &gen2), RCGC_OK);
  CHECK_EQ(gen2.n, 2);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_EQ(rcgc_get_garbage_count(heap), 2);

  /* del gc.garbage[:] with SAVEALL still set: the next collection saves them again
   * (their finalizers do not run twice). */
  CHECK_RC(rcgc_clear_garbage(heap), RCGC_OK);
  CHECK_EQ(rcgc_get_garbage_count(heap), 0);
  CHECK_EQ(rcgc_refcount(a), 1);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(rcgc_get_garbage_count(heap), 2);
  CHECK_EQ(finalized, 2);

  /* Flags off, list emptied: the next collection frees them. */
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK);
  CHECK_RC(rcgc_clear_garbage(heap), RCGC_OK);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(destroyed, 2);
  CHECK_EQ(rcgc_get_garbage_count(heap), 0);
  CHECK_RC(rcgc_heap_get_stats(heap, &hs), RCGC_OK);
  CHECK_EQ(hs.live_objects, live - 2);

  /* The same with slots objects alone (whose sets are otherwise freed in one
   * sweep): saved, references intact, then freed once the flag is off. */
  void *p = rcgc_slots_new(heap, 1), *q = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_slots_set(p, 0, q), RCGC_OK);
  CHECK_RC(rcgc_slots_set(q, 0, p), RCGC_OK);
  rcgc_decref(p);
  rcgc_decref(q);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_SAVEALL), RCGC_OK);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(rcgc_get_garbage_count(heap), 2);
  CHECK(rcgc_slots_get(p, 0) == q && rcgc_slots_get(q, 0) == p);
  CHECK_EQ(rcgc_refcount(p), 2);
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK);
  CHECK_RC(rcgc_clear_garbage(heap), RCGC_OK);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_RC(rcgc_heap_get_stats(heap, &hs), RCGC_OK);
  CHECK_EQ(hs.live_objects, live - 2);
  rcgc_heap_free(heap);
}

/*   keep = []
 *   class P: __slots__ = ('x',); def __del__(self): keep.append(self)
 *   gc.set_debug(gc.DEBUG_SAVEALL); p = P(); p.x = p; del p
 *   gc.collect() == 0; gc.garbage == []      (resurrected: not garbage) */
static void saveall_skips_resurrected(void) {
  rcgc_heap *heap = captured_heap();
  rcgc_type *type = node_type(heap);
  void *keep = rcgc_slots_new(heap, 1);
  resurrect_into = keep;
  node *p = rcgc_alloc(type);
  rcgc_set_ref(&p->x, p);
  rcgc_decref(p);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_SAVEALL), RCGC_OK);
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_EQ(rcgc_get_garbage_count(heap), 0);
  CHECK(rcgc_slots_get(keep, 0) == p);
  CHECK(p->x == p);
  resurrect_into = NULL;
  rcgc_decref(keep);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Where output happens with respect to gc callbacks, and gc.garbage from them.
 * ------------------------------------------------------------------------- */

/*   def cb(phase, info):
 *       print("callback", phase, "garbage", len(gc.garbage), file=sys.stderr)
 *       if phase == "stop": gc.garbage.clear()
 *   gc.callbacks.append(cb); gc.set_debug(gc.DEBUG_STATS | gc.DEBUG_SAVEALL)
 *   a = N(); a.x = a; del a
 *   gc.collect() == 1, len(gc.garbage) == 0 afterwards, and stderr shows
 *     callback start garbage 0
 *     gc: collecting generation 2...
 *     gc: objects in each generation: ...
 *     gc: objects in permanent generation: ...
 *     gc: done, 1 unreachable, 0 uncollectable, 0.0010s elapsed
 *     callback stop garbage 1 */
static void log_and_clear(rcgc_gc_phase phase, const rcgc_gc_info *info, void *ctx) {
  (void)info;
  rcgc_heap *heap = ctx;
  char line[64];
  snprintf(line, sizeof line, "callback %s garbage %zu", phase == RCGC_GC_START ? "start" : "stop",
           rcgc_get_garbage_count(heap));
  keep_line(line, &out);
  if (phase == RCGC_GC_STOP) CHECK_RC(rcgc_clear_garbage(heap), RCGC_OK);
}

static void with_callbacks(void) {
  rcgc_heap *heap = captured_heap();
  CHECK_RC(rcgc_add_callback(heap, log_and_clear, heap), RCGC_OK);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS | RCGC_DEBUG_SAVEALL), RCGC_OK);
  void *a = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_slots_set(a, 0, a), RCGC_OK);
  rcgc_decref(a);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_EQ(rcgc_get_garbage_count(heap), 0);
  CHECK_EQ(out.n, 6);
  CHECK_STR(out.line[0], "callback start garbage 0");
  CHECK_STR(out.line[1], "gc: collecting generation 2...");
  CHECK_STR(out.line[2], "gc: objects in each generation: 1 0 0");
  CHECK_STR(out.line[3], "gc: objects in permanent generation: 0");
  CHECK(is_done_line(out.line[4], 1));
  CHECK_STR(out.line[5], "callback stop garbage 1");
  /* The callback released the list's reference: the next collection frees a. */
  CHECK_RC(rcgc_remove_callback(heap, log_and_clear, heap), RCGC_OK);
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  rcgc_heap_free(heap);
}

/* rcgc_clear_garbage from a finalizer that a collection runs is refused (the
 * collection has reserved room in the list); from a finalizer that
 * refcounting runs, it works. (CPython lets __del__ clear gc.garbage at any
 * time; its list grows on demand, where rcgc's room is reserved.) */
static void clear_garbage_from_finalizers(void) {
  rcgc_heap *heap = captured_heap();
  rcgc_type *type = node_type(heap);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_SAVEALL), RCGC_OK);
  void *b;
  node_cycle(type, &b);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(clear_garbage_in_finalize, RCGC_ERR_REENTRANT);
  CHECK_EQ(rcgc_get_garbage_count(heap), 2);
  finalized = 0;
  node *lone = rcgc_alloc(type);
  rcgc_decref(lone); /* finalized by refcounting: the heap is freeing, not collecting */
  CHECK_EQ(finalized, 1);
  CHECK_EQ(clear_garbage_in_finalize, RCGC_OK);
  CHECK_EQ(rcgc_get_garbage_count(heap), 0);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * The sink: user code that may call rcgc, within limits.
 * ------------------------------------------------------------------------- */
typedef struct reentrant {
  rcgc_heap *heap;
  int calls;
  rcgc_result collect, clear, set_debug;
  size_t misuse;
} reentrant;

static void misuse_counter(const char *message, void *ctx) {
  reentrant *r = ctx;
  CHECK(strstr(message, "rcgc_heap_free: called while the heap is writing gc debug output") == message);
  r->misuse++;
}

static void reentrant_sink(const char *line, void *ctx) {
  reentrant *r = ctx;
  keep_line(line, &out);
  r->calls++;
  r->collect = rcgc_collect(r->heap, 0, NULL);
  r->clear = rcgc_clear_garbage(r->heap);
  /* Allocating and freeing work, as in a finalizer. */
  void *tmp = rcgc_slots_new(r->heap, 2);
  CHECK(tmp != NULL);
  CHECK_RC(rcgc_slots_set(tmp, 0, tmp), RCGC_OK);
  CHECK_RC(rcgc_slots_set(tmp, 0, NULL), RCGC_OK);
  rcgc_decref(tmp);
  if (r->calls == 1) {
    rcgc_heap_free(r->heap); /* misuse, reported; nothing is freed */
    r->set_debug = rcgc_set_debug(r->heap, 0); /* applies from the next collection */
  }
}

static void sink_reentrancy(void) {
  rcgc_heap *heap = captured_heap();
  reentrant r = {heap, 0, RCGC_OK, RCGC_OK, RCGC_ERR_PANIC, 0};
  rcgc_set_misuse_handler(heap, misuse_counter, &r);
  CHECK_RC(rcgc_set_debug_output(heap, reentrant_sink, &r), RCGC_OK);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS | RCGC_DEBUG_COLLECTABLE), RCGC_OK);
  void *b, *a = dropped_cycle(heap, &b);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_EQ(r.calls, 6); /* the flags of this collection were read when it started */
  CHECK_EQ(r.collect, RCGC_ERR_REENTRANT);
  CHECK_EQ(r.clear, RCGC_ERR_REENTRANT);
  CHECK_EQ(r.set_debug, RCGC_OK);
  CHECK_EQ(r.misuse, 1);
  CHECK_STR(out.line[3], collectable("rcgc.slots", a));
  CHECK_STR(out.line[4], collectable("rcgc.slots", b));
  CHECK(is_done_line(out.line[5], 2));
  CHECK_EQ(rcgc_get_debug(heap), 0);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(r.calls, 6); /* flags off now */
  CHECK_STR(rcgc_result_name(r.collect), "RCGC_ERR_REENTRANT");
  rcgc_heap_free(heap);
}

/* Output goes to stderr, with a newline, when no sink is set, and again after
 * rcgc_set_debug_output(heap, NULL, NULL). */
static void default_stderr(void) {
  rcgc_heap *heap = captured_heap();
  CHECK_RC(rcgc_set_debug_output(heap, NULL, NULL), RCGC_OK);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS | RCGC_DEBUG_COLLECTABLE), RCGC_OK);
  void *a = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_slots_set(a, 0, a), RCGC_OK);
  rcgc_decref(a);

  FILE *tmp = tmpfile();
  CHECK(tmp != NULL);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  CHECK(saved >= 0);
  CHECK(dup2(fileno(tmp), STDERR_FILENO) == STDERR_FILENO);
  size_t found = 0;
  rcgc_result rc = rcgc_collect(heap, 0, &found);
  fflush(stderr);
  CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
  close(saved);
  CHECK_RC(rc, RCGC_OK);
  CHECK_EQ(found, 1);

  char text[1024] = {0};
  rewind(tmp);
  size_t len = fread(text, 1, sizeof text - 1, tmp);
  fclose(tmp);
  char expected[512];
  snprintf(expected, sizeof expected,
           "gc: collecting generation 0...\n"
           "gc: objects in each generation: 1 0 0\n"
           "gc: objects in permanent generation: 0\n"
           "gc: collectable <rcgc.slots %p>\n",
           a);
  CHECK(len > strlen(expected));
  CHECK(strncmp(text, expected, strlen(expected)) == 0);
  CHECK_EQ(text[len - 1], '\n');
  text[len - 1] = '\0';
  CHECK(is_done_line(text + strlen(expected), 1));
  CHECK_EQ(out.n, 0);
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK); /* keep rcgc_heap_free's collection quiet */
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * DEBUG_LEAK at rcgc_heap_free
 * ------------------------------------------------------------------------- */
typedef struct blob {
  char bytes[100];
} blob;

/* rcgc's own report; in CPython terms, after gc.set_debug(gc.DEBUG_LEAK) and a
 * last gc.collect(), what
 *   collections.Counter(type(o).__name__ for o in gc.get_objects())
 * counts for the program's types, plus objects of types without traverse:
 * 2 Node still referenced, 1 Blob still referenced, and a dropped 2-cycle of
 * slots objects that DEBUG_SAVEALL keeps in gc.garbage (listed as
 * collectable by the last collection). Bytes are the blocks the objects
 * occupy, 16-byte headers included, as rcgc_heap_stats.bytes_in_use counts
 * them: 32 per Node (16 + 16), 128 per Blob (16 + 100, rounded up to 16),
 * 32 per 1-slot slots object (16 + 8 + 8). Types are listed by name. */
static void leak_report(void) {
  rcgc_heap *heap = captured_heap();
  rcgc_type *type = node_type(heap);
  rcgc_type_spec blob_spec = {"Blob", sizeof(blob), NULL, NULL, NULL, NULL};
  rcgc_type *blob_type = NULL;
  CHECK_RC(rcgc_type_register(heap, &blob_spec, &blob_type), RCGC_OK);
  node *n1 = rcgc_alloc(type), *n2 = rcgc_alloc(type);
  rcgc_set_ref(&n1->x, n2);
  void *blob_obj = rcgc_alloc(blob_type);
  CHECK(n1 != NULL && n2 != NULL && blob_obj != NULL);
  void *b, *a = dropped_cycle(heap, &b);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_LEAK), RCGC_OK);
  rcgc_heap_stats hs = {.struct_size = sizeof hs};
  CHECK_RC(rcgc_heap_get_stats(heap, &hs), RCGC_OK);
  CHECK_EQ(hs.bytes_in_use, 2 * 32 + 128 + 2 * 32);

  rcgc_heap_free(heap); /* n1, n2 and blob_obj are never released: leaks */
  CHECK_EQ(out.n, 6);
  CHECK_STR(out.line[0], collectable("rcgc.slots", a));
  CHECK_STR(out.line[1], collectable("rcgc.slots", b));
  CHECK_STR(out.line[2], "gc: still alive at rcgc_heap_free: 5 objects, 256 bytes (2 in the garbage list)");
  CHECK_STR(out.line[3], "gc:   Blob: 1 object, 128 bytes");
  CHECK_STR(out.line[4], "gc:   Node: 2 objects, 64 bytes");
  CHECK_STR(out.line[5], "gc:   rcgc.slots: 2 objects, 64 bytes");
  CHECK_EQ(destroyed, 2); /* then everything was freed, as without the flag */
  CHECK_EQ(destroyed_alloc_ok, 0); /* by the final sweep: the program still held them */
}

/* The report needs every bit of DEBUG_LEAK; with them, an empty heap says so. */
static void leak_report_needs_all_bits(void) {
  rcgc_heap *heap = captured_heap();
  void *b;
  dropped_cycle(heap, &b);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_COLLECTABLE | RCGC_DEBUG_SAVEALL), RCGC_OK);
  rcgc_heap_free(heap); /* the cycle is saved by the last collection, then freed */
  CHECK_EQ(out.n, 2);

  heap = captured_heap();
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_LEAK), RCGC_OK);
  rcgc_heap_free(heap);
  CHECK_EQ(out.n, 1);
  CHECK_STR(out.line[0], "gc: still alive at rcgc_heap_free: 0 objects, 0 bytes (0 in the garbage list)");
}

/* SAVEALL's garbage list is released by rcgc_heap_free, before it clears
 * what is left: the saved cycles are then freed by refcounting (where destroy
 * callbacks may allocate) rather than by the final sweep of objects still
 * referenced (where they may not). Under valgrind, nothing leaks. */
static void heap_free_releases_garbage(void) {
  rcgc_heap *heap = captured_heap();
  rcgc_type *type = node_type(heap);
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_SAVEALL), RCGC_OK);
  for (int i = 0; i < 50; i++) {
    void *b;
    node_cycle(type, &b);
    dropped_cycle(heap, &b);
  }
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 200);
  CHECK_EQ(rcgc_get_garbage_count(heap), 200);
  CHECK_EQ(destroyed, 0);
  rcgc_heap_free(heap);
  CHECK_EQ(destroyed, 100);
  CHECK_EQ(destroyed_alloc_ok, 100);
}

int main(void) {
  stress = getenv("RCGC_STRESS_GC") != NULL;
  flags();
  stats();
  automatic_collections();
  collectable_lines();
  uncollectable_is_silent();
  saveall();
  saveall_skips_resurrected();
  with_callbacks();
  clear_garbage_from_finalizers();
  sink_reentrancy();
  default_stderr();
  leak_report();
  leak_report_needs_all_bits();
  heap_free_releases_garbage();
  CHECK_DONE("test_debug");
}
