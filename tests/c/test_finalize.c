/* test_finalize.c: finalize (PEP 442 tp_finalize), resurrection, the order
 * finalize -> clear -> destroy, callbacks that allocate and change refcounts,
 * re-entrancy, and rcgc_heap_free's shutdown.
 *
 * The Python snippets in the comments were run with python3 (CPython 3.11.7);
 * the value each gives is written next to it.  They use
 *   import gc
 *   saved = []; log = []
 * and __slots__ classes whose __del__ plays the part of finalize.
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

/* Set from RCGC_STRESS_GC, which the harness sets when the library is built with
 * the stress-gc feature: every tracked allocation then collects (at least
 * generation 0), so CPython's counts and the moments of its automatic
 * collections do not apply. CHECK_COUNTS is skipped then, and so are the checks
 * of when an automatic collection ran; every other check stays. */
static bool stress = false;
#undef CHECK_COUNTS
#define CHECK_COUNTS(heap, c0, c1, c2)                                          \
  do {                                                                          \
    if (!stress) CHECK_COUNTS_ALWAYS(heap, c0, c1, c2);                         \
  } while (0)

/* ---------------------------------------------------------------------------
 * One type "fin" (traverse, clear, finalize, destroy) whose behaviour inside
 * the callbacks is chosen per object id, and a "leaf" type without traverse
 * that has finalize and destroy too.
 * ------------------------------------------------------------------------- */
typedef struct fin {
  void *a, *b;
  long id;
} fin;

typedef struct leaf {
  long id;
} leaf;

#define MAX_IDS 2048

enum {
  B_RESURRECT_SELF = 1 << 0,  /* finalize: saved[] takes a new reference to self */
  B_SAVE_A = 1 << 1,          /* finalize: saved[] takes a new reference to self->a */
  B_ALLOC_KEEP = 1 << 2,      /* finalize: allocate 5 objects kept in keep[] */
  B_ALLOC_INTO_B = 1 << 3,    /* finalize: allocate one object stored in self->b */
  B_DROP_B = 1 << 4,          /* finalize: rcgc_clear_ref(&self->b) */
  B_COLLECT = 1 << 5,         /* finalize, clear, destroy: try rcgc_collect */
  B_ALLOC_IN_CLEAR = 1 << 6,  /* clear: allocate a temporary, incref/decref neighbours */
  B_ALLOC_IN_DESTROY = 1 << 7, /* destroy: allocate and free a leaf */
  B_UNTRACK_SELF = 1 << 8      /* finalize: rcgc_untrack(self) */
};

static unsigned behaviour[MAX_IDS];
static unsigned fin_calls[MAX_IDS], clear_seen[MAX_IDS], destroy_calls[MAX_IDS];
static size_t refcount_in_finalize[MAX_IDS];
static size_t clears_before_finalize[MAX_IDS];
static unsigned long total_clears = 0;

/* Event log: 'F' finalize, 'C' clear (first clear of an object), 'D' destroy. */
#define MAX_EVENTS 20000
static char ev_kind[MAX_EVENTS];
static long ev_id[MAX_EVENTS];
static size_t n_ev = 0;
static void log_event(char kind, long id) {
  CHECK(n_ev < MAX_EVENTS);
  ev_kind[n_ev] = kind;
  ev_id[n_ev] = id;
  n_ev++;
}

static void *saved[64];
static size_t n_saved = 0;
static void *keep[64];
static size_t n_keep = 0;
static rcgc_counts counts_in_finalize[8];
static size_t n_counts_in_finalize = 0;
static rcgc_result collect_rc_in[3]; /* [0] finalize, [1] clear, [2] destroy */
static bool collect_tried[3];

static rcgc_heap *cur_heap;
static rcgc_type *fin_t, *leaf_t;
static long next_extra_id = 1000; /* ids of objects allocated inside callbacks */

static void fin_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  fin *f = (fin *)obj;
  if (f->a) visit(f->a, ctx);
  if (f->b) visit(f->b, ctx);
}

static fin *alloc_fin(long id) {
  fin *f = (fin *)rcgc_alloc(fin_t);
  CHECK(f != NULL);
  f->id = id;
  return f;
}

static void try_collect(int where) {
  size_t n = 777;
  collect_tried[where] = true;
  collect_rc_in[where] = rcgc_collect(cur_heap, 2, &n); /* checked by the caller */
}

static void fin_finalize(void *obj) {
  fin *f = (fin *)obj;
  long id = f->id;
  fin_calls[id]++;
  refcount_in_finalize[id] = rcgc_refcount(obj);
  clears_before_finalize[id] = total_clears;
  log_event('F', id);
  unsigned bh = behaviour[id];
  if (bh & B_RESURRECT_SELF) {
    rcgc_incref(obj);
    saved[n_saved++] = obj;
  }
  if (bh & B_SAVE_A) {
    rcgc_incref(f->a);
    saved[n_saved++] = f->a;
  }
  if (bh & B_ALLOC_KEEP) {
    for (int i = 0; i < 5; i++) {
      keep[n_keep++] = alloc_fin(next_extra_id++);
      counts_in_finalize[n_counts_in_finalize++] = rcgc_get_count(cur_heap);
    }
  }
  if (bh & B_ALLOC_INTO_B) {
    fin *n = alloc_fin(next_extra_id++);
    rcgc_set_ref(&f->b, n);
    rcgc_decref(n);
  }
  if (bh & B_DROP_B) rcgc_clear_ref(&f->b);
  if (bh & B_UNTRACK_SELF) CHECK_RC(rcgc_untrack(obj), RCGC_OK);
  if (bh & B_COLLECT) try_collect(0);
}

static void fin_clear(void *obj) {
  fin *f = (fin *)obj;
  long id = f->id;
  total_clears++;
  if (clear_seen[id]++ == 0) log_event('C', id);
  if (behaviour[id] & B_ALLOC_IN_CLEAR) {
    fin *tmp = alloc_fin(next_extra_id++);
    rcgc_set_ref(&tmp->a, f->a); /* incref a neighbour... */
    rcgc_decref(tmp);            /* ...and free the temporary again */
    if (f->a) {
      rcgc_incref(f->a);
      rcgc_decref(f->a);
    }
  }
  if (behaviour[id] & B_COLLECT) try_collect(1);
  rcgc_clear_ref(&f->a);
  rcgc_clear_ref(&f->b);
}

static void fin_destroy(void *obj) {
  fin *f = (fin *)obj;
  long id = f->id;
  destroy_calls[id]++;
  log_event('D', id);
  if (behaviour[id] & B_ALLOC_IN_DESTROY) {
    leaf *l = (leaf *)rcgc_alloc(leaf_t);
    CHECK(l != NULL);
    l->id = next_extra_id++;
    rcgc_decref(l);
  }
  if (behaviour[id] & B_COLLECT) try_collect(2);
}

static void leaf_finalize(void *obj) {
  long id = ((leaf *)obj)->id;
  fin_calls[id]++;
  refcount_in_finalize[id] = rcgc_refcount(obj);
  log_event('F', id);
}
static void leaf_destroy(void *obj) {
  long id = ((leaf *)obj)->id;
  destroy_calls[id]++;
  log_event('D', id);
}

static void setup(void) {
  memset(behaviour, 0, sizeof behaviour);
  memset(fin_calls, 0, sizeof fin_calls);
  memset(clear_seen, 0, sizeof clear_seen);
  memset(destroy_calls, 0, sizeof destroy_calls);
  memset(refcount_in_finalize, 0, sizeof refcount_in_finalize);
  memset(clears_before_finalize, 0, sizeof clears_before_finalize);
  memset(collect_tried, 0, sizeof collect_tried);
  total_clears = 0;
  n_ev = 0;
  n_saved = 0;
  n_keep = 0;
  n_counts_in_finalize = 0;
  next_extra_id = 1000;
  cur_heap = rcgc_heap_new();
  CHECK(cur_heap != NULL);
  rcgc_type_spec fs = {"fin", sizeof(fin), fin_traverse, fin_clear, fin_finalize, fin_destroy};
  rcgc_type_spec ls = {"leaf", sizeof(leaf), NULL, NULL, leaf_finalize, leaf_destroy};
  CHECK_RC(rcgc_type_register(cur_heap, &fs, &fin_t), RCGC_OK);
  CHECK_RC(rcgc_type_register(cur_heap, &ls, &leaf_t), RCGC_OK);
}

static size_t live_objects(void) {
  rcgc_heap_stats st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  CHECK_RC(rcgc_heap_get_stats(cur_heap, &st), RCGC_OK);
  return st.live_objects;
}

static void teardown(void) {
  CHECK_EQ(live_objects(), 0);
  rcgc_heap_free(cur_heap);
  cur_heap = NULL;
}

static size_t collect(int g) {
  size_t n = (size_t)-1;
  CHECK_RC(rcgc_collect(cur_heap, g, &n), RCGC_OK);
  return n;
}

static size_t count_events(char kind, long id) {
  size_t c = 0;
  for (size_t i = 0; i < n_ev; i++)
    if (ev_kind[i] == kind && ev_id[i] == id) c++;
  return c;
}

/* ---------------------------------------------------------------------------
 * 1. Refcount death: finalize (refcount 1 inside), clear, destroy, in order,
 *    once each.
 *
 *   class R:
 *       __slots__ = ('a', 'name')
 *       def __del__(self): log.append(self.name)
 *   r = R(); r.name = 'r'; del r
 *   log                                  # ['r']
 * ------------------------------------------------------------------------- */
static void test_refcount_death(void) {
  setup();
  fin *x = alloc_fin(1);
  fin *y = alloc_fin(2);
  rcgc_set_ref(&x->a, y);
  rcgc_decref(y);
  rcgc_decref(x);
  CHECK_EQ(fin_calls[1], 1);
  CHECK_EQ(fin_calls[2], 1);
  CHECK_EQ(refcount_in_finalize[1], 1);
  CHECK_EQ(refcount_in_finalize[2], 1);
  CHECK_EQ(destroy_calls[1], 1);
  CHECK_EQ(destroy_calls[2], 1);
  /* x: F C D in this order; y dies when x is cleared, after F(x). */
  CHECK_EQ(n_ev, 6);
  CHECK(ev_kind[0] == 'F' && ev_id[0] == 1);
  size_t c1 = n_ev, d1 = n_ev, f2 = n_ev, d2 = n_ev;
  for (size_t i = 0; i < n_ev; i++) {
    if (ev_kind[i] == 'C' && ev_id[i] == 1) c1 = i;
    if (ev_kind[i] == 'D' && ev_id[i] == 1) d1 = i;
    if (ev_kind[i] == 'F' && ev_id[i] == 2) f2 = i;
    if (ev_kind[i] == 'D' && ev_id[i] == 2) d2 = i;
  }
  CHECK(c1 < d1 && c1 < f2 && f2 < d2);
  /* an untracked-type object has finalize and destroy too */
  leaf *l = (leaf *)rcgc_alloc(leaf_t);
  l->id = 3;
  rcgc_decref(l);
  CHECK_EQ(fin_calls[3], 1);
  CHECK_EQ(refcount_in_finalize[3], 1);
  CHECK_EQ(destroy_calls[3], 1);
  printf("refcount death: finalize (refcount 1), clear, destroy, once each\n");
  teardown();
}

/* ---------------------------------------------------------------------------
 * 2. Resurrection from refcount death; the finalizer never runs again.
 *
 *   class R:
 *       __slots__ = ('a', 'b', 'name')
 *       def __del__(self):
 *           log.append(self.name)
 *           saved.append(self)
 *   r = R(); r.name = 'res1'; del r
 *   log, len(saved)                      # ['res1'] 1
 *   saved.clear()
 *   log                                  # ['res1']   (no second __del__)
 * ------------------------------------------------------------------------- */
static void test_refcount_resurrection(void) {
  setup();
  behaviour[1] = B_RESURRECT_SELF;
  fin *x = alloc_fin(1);
  fin *y = alloc_fin(2);
  rcgc_set_ref(&x->a, y);
  rcgc_decref(y);
  CHECK_COUNTS(cur_heap, 2, 0, 0);
  rcgc_decref(x);
  CHECK_COUNTS(cur_heap, 2, 0, 0); /* nothing freed: no decrement */
  CHECK_EQ(fin_calls[1], 1);
  CHECK_EQ(destroy_calls[1], 0);
  CHECK_EQ(clear_seen[1], 0);
  CHECK_EQ(n_saved, 1);
  CHECK(saved[0] == x);
  CHECK_EQ(rcgc_refcount(x), 1);
  CHECK(rcgc_is_tracked(x));
  CHECK(x->a == y); /* nothing was cleared */
  CHECK_EQ(fin_calls[2], 0);
  CHECK_EQ(live_objects(), 2);
  /* still fully usable */
  rcgc_set_ref(&x->b, x);
  rcgc_clear_ref(&x->b);
  CHECK_EQ(collect(2), 0);
  /* second death: no finalize */
  rcgc_decref(saved[0]);
  n_saved = 0;
  CHECK_EQ(fin_calls[1], 1);
  CHECK_EQ(destroy_calls[1], 1);
  CHECK_EQ(fin_calls[2], 1);
  CHECK_EQ(destroy_calls[2], 1);
  CHECK_EQ(count_events('F', 1), 1);
  printf("resurrection by refcount death: object kept with refcount 1; finalize not run "
         "again on its second death\n");

  /* An object resurrected by refcount death is tracked again in generation 0,
   * as subtype_dealloc re-tracks it (_PyObject_GC_TRACK appends to
   * generation 0), whatever generation it was in before.
   *   gc.collect()
   *   x = R(); x.name = 'res4'
   *   gc.collect()                       # x in generation 2
   *   del x                              # refcount death, resurrected
   *   y = saved.pop(); y.a = y; del y    # now self-cycle garbage
   *   gc.collect(0), gc.collect(1), gc.collect(2), log   # 1 0 0 ['res4']
   */
  behaviour[5] = B_RESURRECT_SELF;
  fin *z = alloc_fin(5);
  CHECK_EQ(collect(2), 0); /* z in generation 2 */
  rcgc_decref(z);
  CHECK_EQ(fin_calls[5], 1);
  CHECK_EQ(n_saved, 1);
  CHECK(rcgc_is_tracked(z));
  rcgc_set_ref(&z->a, z);
  rcgc_decref(saved[0]);
  n_saved = 0;
  CHECK_EQ(collect(0), 1);
  CHECK_EQ(destroy_calls[5], 1);
  CHECK_EQ(fin_calls[5], 1);
  printf("object of generation 2 resurrected by refcount death: back in generation 0 "
         "(collect(0) finds it once it is garbage)\n");
  teardown();
}

/* ---------------------------------------------------------------------------
 * 3. In a collection every member of an unreachable isolate is finalized
 *    before any is cleared.
 *
 *   class L:
 *       __slots__ = ('a', 'name')
 *       def __del__(self): log.append((self.name, self.a is not None))
 *   objs = [L() for _ in range(5)]
 *   for i in range(5): objs[i].name = i; objs[i].a = objs[(i + 1) % 5]
 *   del objs
 *   gc.collect(), sorted(log)
 *   # 5 [(0, True), (1, True), (2, True), (3, True), (4, True)]
 * ------------------------------------------------------------------------- */
static void test_isolate_order(void) {
  setup();
  enum { RING = 6, TAIL = 3 };
  fin *o[RING + TAIL];
  for (int i = 0; i < RING + TAIL; i++) o[i] = alloc_fin(i);
  for (int i = 0; i < RING; i++) rcgc_set_ref(&o[i]->a, o[(i + 1) % RING]);
  /* an acyclic tail hanging off member 2 */
  rcgc_set_ref(&o[2]->b, o[RING]);
  for (int i = RING; i < RING + TAIL - 1; i++) rcgc_set_ref(&o[i]->a, o[i + 1]);
  for (int i = 0; i < RING + TAIL; i++) rcgc_decref(o[i]);
  CHECK_EQ(n_ev, 0);
  CHECK_EQ(collect(2), RING + TAIL);
  CHECK_EQ(n_ev, 3 * (RING + TAIL));
  size_t last_f = 0, first_c = n_ev;
  for (size_t i = 0; i < n_ev; i++) {
    if (ev_kind[i] == 'F' && i > last_f) last_f = i;
    if (ev_kind[i] == 'C' && i < first_c) first_c = i;
  }
  CHECK_EQ(last_f, RING + TAIL - 1);
  CHECK_EQ(first_c, RING + TAIL);
  CHECK(last_f < first_c);
  for (int i = 0; i < RING + TAIL; i++) {
    CHECK_EQ(fin_calls[i], 1);
    CHECK_EQ(clears_before_finalize[i], 0);
    CHECK_EQ(destroy_calls[i], 1);
    CHECK_EQ(count_events('F', i), 1);
    CHECK_EQ(count_events('D', i), 1);
  }
  printf("isolate of %d (ring %d + tail %d): collect %d; all %d finalizers ran before the first "
         "clear\n",
         RING + TAIL, RING, TAIL, RING + TAIL, RING + TAIL);
  teardown();
}

/* ---------------------------------------------------------------------------
 * 4. An object resurrected by its finalizer during a collection.
 *
 *   x = R(); x.name = 'res2'; x.a = x; del x      # R as in 2
 *   gc.collect(), log, len(saved)        # 0 ['res2'] 1
 *   saved.clear()
 *   gc.collect(), log                    # 1 ['res2']
 * ------------------------------------------------------------------------- */
static void test_collect_resurrection(void) {
  setup();
  behaviour[1] = B_RESURRECT_SELF;
  fin *x = alloc_fin(1);
  rcgc_set_ref(&x->a, x);
  rcgc_decref(x);
  CHECK_EQ(collect(2), 0);
  CHECK_EQ(fin_calls[1], 1);
  CHECK_EQ(destroy_calls[1], 0);
  CHECK_EQ(clear_seen[1], 0);
  CHECK_EQ(n_saved, 1);
  CHECK(x->a == x);
  CHECK(rcgc_is_tracked(x));
  CHECK_EQ(rcgc_refcount(x), 2);
  CHECK_EQ(collect(2), 0); /* still held by saved[] */
  rcgc_decref(saved[0]);
  n_saved = 0;
  CHECK_EQ(destroy_calls[1], 0); /* the self-reference keeps it */
  CHECK_EQ(collect(2), 1);
  CHECK_EQ(fin_calls[1], 1);
  CHECK_EQ(destroy_calls[1], 1);
  printf("self-cycle resurrected by its finalizer: collect 0; dropped: collect 1, no second "
         "finalize\n");

  /* Resurrected, then freed by refcount (the cycle broken first). */
  behaviour[2] = B_RESURRECT_SELF;
  fin *y = alloc_fin(2);
  rcgc_set_ref(&y->a, y);
  rcgc_decref(y);
  CHECK_EQ(collect(0), 0);
  CHECK_EQ(fin_calls[2], 1);
  rcgc_clear_ref(&y->a);
  CHECK_EQ(destroy_calls[2], 0);
  rcgc_decref(saved[0]);
  n_saved = 0;
  CHECK_EQ(destroy_calls[2], 1);
  CHECK_EQ(fin_calls[2], 1);
  printf("resurrected, cycle broken, last reference dropped: freed by refcount without "
         "finalize\n");

  /* A resurrected object moves to the next generation like any survivor.
   *   x = R(); x.name = 'res3'; x.a = x; del x
   *   gc.collect(0), log, len(saved)     # 0 ['res3'] 1
   *   saved.clear()
   *   gc.collect(0), gc.collect(1), log  # 0 1 ['res3']
   */
  behaviour[3] = B_RESURRECT_SELF;
  fin *z = alloc_fin(3);
  rcgc_set_ref(&z->a, z);
  rcgc_decref(z);
  CHECK_EQ(collect(0), 0);
  CHECK_EQ(fin_calls[3], 1);
  CHECK_EQ(n_saved, 1);
  rcgc_decref(saved[0]);
  n_saved = 0;
  CHECK_EQ(collect(0), 0); /* in generation 1 now */
  CHECK_EQ(destroy_calls[3], 0);
  CHECK_EQ(collect(1), 1);
  CHECK_EQ(destroy_calls[3], 1);
  CHECK_EQ(fin_calls[3], 1);
  printf("resurrected by a collection of generation 0: promoted to generation 1 (collect(0) "
         "0, collect(1) 1 once dropped)\n");

  /* A finalizer that untracks its own (garbage, self-referencing) object: in
   * CPython PyObject_GC_UnTrack removes it from the unreachable list, so it is
   * neither counted nor cleared; it lives on untracked (a leak the program
   * asked for) until the heap is freed. */
  behaviour[4] = B_UNTRACK_SELF;
  fin *w = alloc_fin(4);
  rcgc_set_ref(&w->a, w);
  rcgc_decref(w);
  CHECK_EQ(collect(2), 0);
  CHECK_EQ(fin_calls[4], 1);
  CHECK_EQ(clear_seen[4], 0);
  CHECK_EQ(destroy_calls[4], 0);
  CHECK(!rcgc_is_tracked(w));
  CHECK_EQ(rcgc_refcount(w), 1);
  CHECK(w->a == w);
  CHECK_EQ(collect(2), 0);
  CHECK_EQ(live_objects(), 1);
  rcgc_heap_free(cur_heap);
  cur_heap = NULL;
  CHECK_EQ(fin_calls[4], 1);
  CHECK_EQ(destroy_calls[4], 1);
  printf("finalizer untracking its garbage object: collect 0, object kept until heap_free "
         "(destroyed once, not finalized again)\n");
}

/* ---------------------------------------------------------------------------
 * 5. A finalizer resurrecting another member of its cycle keeps the whole
 *    cycle alive.
 *
 *   class M:
 *       __slots__ = ('a', 'name', 'save')
 *       def __del__(self):
 *           log.append(self.name)
 *           if self.save is not None: saved.append(self.save)
 *   A = M(); B = M(); C = M()
 *   A.name, B.name, C.name = 'A', 'B', 'C'
 *   A.a = B; B.a = C; C.a = A
 *   A.save = B; B.save = None; C.save = None
 *   del A, B, C
 *   gc.collect(), sorted(log), len(saved)  # 0 ['A', 'B', 'C'] 1
 *   saved[0].a.a.save = None; saved.clear()
 *   gc.collect(), sorted(log)              # 3 ['A', 'B', 'C']
 * ------------------------------------------------------------------------- */
static void test_resurrect_other(void) {
  setup();
  behaviour[0] = B_SAVE_A; /* A saves B */
  fin *A = alloc_fin(0), *B = alloc_fin(1), *C = alloc_fin(2);
  rcgc_set_ref(&A->a, B);
  rcgc_set_ref(&B->a, C);
  rcgc_set_ref(&C->a, A);
  rcgc_decref(A);
  rcgc_decref(B);
  rcgc_decref(C);
  CHECK_EQ(collect(2), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(fin_calls[i], 1);
    CHECK_EQ(clear_seen[i], 0);
    CHECK_EQ(destroy_calls[i], 0);
  }
  CHECK_EQ(n_saved, 1);
  CHECK(saved[0] == B);
  CHECK(A->a == B && B->a == C && C->a == A);
  CHECK_EQ(live_objects(), 3);
  rcgc_decref(saved[0]);
  n_saved = 0;
  CHECK_EQ(collect(2), 3);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(fin_calls[i], 1);
    CHECK_EQ(destroy_calls[i], 1);
  }
  printf("finalizer of A resurrecting B keeps the ring A->B->C->A alive (collect 0); later "
         "collect 3, no finalizer again\n");
  teardown();
}

/* ---------------------------------------------------------------------------
 * 6. Callbacks may allocate, incref and decref.
 *
 *   class K: __slots__ = ('a', 'b')
 *   class P:
 *       __slots__ = ('a', 'b')
 *       def __del__(self): self.b = K()
 *   x = P(); y = P(); x.a = y; y.a = x; del x, y
 *   gc.collect()                         # 2
 *
 *   class M:
 *       __slots__ = ('a', 'b', 'name')
 *       def __del__(self):
 *           log.append(self.name)
 *           if self.name == 'A': self.b = None
 *   A = M(); B = M(); C = M(); A.name = 'A'; B.name = 'B'; C.name = 'C'
 *   A.a = B; B.a = A; A.b = C
 *   del A, B, C
 *   gc.collect(), log                    # 2 ['A', 'C', 'B']
 *   (C, freed by A's finalizer before the collection clears anything, is no
 *    longer unreachable garbage at the end: it is not counted)
 * ------------------------------------------------------------------------- */
static void test_callbacks_allocate(void) {
  setup();
  /* finalize allocates into the dying object */
  behaviour[0] = behaviour[1] = B_ALLOC_INTO_B;
  fin *x = alloc_fin(0), *y = alloc_fin(1);
  rcgc_set_ref(&x->a, y);
  rcgc_set_ref(&y->a, x);
  rcgc_decref(x);
  rcgc_decref(y);
  CHECK_EQ(collect(2), 2);
  CHECK_EQ(destroy_calls[0], 1);
  CHECK_EQ(destroy_calls[1], 1);
  CHECK_EQ(next_extra_id, 1002);
  CHECK_EQ(destroy_calls[1000], 1); /* the objects allocated by the finalizers */
  CHECK_EQ(destroy_calls[1001], 1);
  CHECK_EQ(live_objects(), 0);

  /* finalize drops a reference: the tail object C dies inside the finalizer */
  behaviour[10] = B_DROP_B;
  fin *A = alloc_fin(10), *B = alloc_fin(11), *C = alloc_fin(12);
  rcgc_set_ref(&A->a, B);
  rcgc_set_ref(&B->a, A);
  rcgc_set_ref(&A->b, C);
  rcgc_decref(A);
  rcgc_decref(B);
  rcgc_decref(C);
  CHECK_EQ(collect(2), 2);
  for (int i = 10; i <= 12; i++) {
    CHECK_EQ(fin_calls[i], 1);
    CHECK_EQ(destroy_calls[i], 1);
  }
  CHECK_EQ(live_objects(), 0);
  printf("finalizers allocating into their object: collect 2; a finalizer freeing a tail "
         "object: collect 2 (as CPython)\n");

  /* clear allocates, increfs and decrefs; destroy allocates and frees */
  long before = next_extra_id;
  behaviour[20] = behaviour[21] = B_ALLOC_IN_CLEAR | B_ALLOC_IN_DESTROY;
  fin *p = alloc_fin(20), *q = alloc_fin(21);
  rcgc_set_ref(&p->a, q);
  rcgc_set_ref(&q->a, p);
  rcgc_decref(p);
  rcgc_decref(q);
  CHECK_EQ(collect(2), 2);
  CHECK_EQ(destroy_calls[20], 1);
  CHECK_EQ(destroy_calls[21], 1);
  CHECK(next_extra_id >= before + 4); /* 2 temporaries in clear, 2 leaves in destroy */
  for (long i = before; i < next_extra_id; i++) CHECK_EQ(destroy_calls[i], 1);
  CHECK_EQ(live_objects(), 0);
  /* the same by refcount death */
  before = next_extra_id;
  behaviour[22] = B_ALLOC_IN_CLEAR | B_ALLOC_IN_DESTROY | B_ALLOC_KEEP;
  fin *r = alloc_fin(22);
  fin *s = alloc_fin(23);
  rcgc_set_ref(&r->a, s);
  rcgc_decref(s);
  rcgc_decref(r);
  CHECK_EQ(destroy_calls[22], 1);
  CHECK_EQ(destroy_calls[23], 1);
  CHECK_EQ(n_keep, 5);
  for (size_t i = 0; i < n_keep; i++) rcgc_decref(keep[i]);
  n_keep = 0;
  for (long i = before; i < next_extra_id; i++) CHECK_EQ(destroy_calls[i], 1);
  CHECK_EQ(live_objects(), 0);
  printf("clear and destroy allocating / increfing / decrefing, in a collection and by "
         "refcount: every object destroyed once\n");
  teardown();
}

/* ---------------------------------------------------------------------------
 * 7. rcgc_collect from inside finalize / clear / destroy: RCGC_ERR_REENTRANT
 *    (a collection already running, or a refcount cascade: ABI-NOTES).
 * ------------------------------------------------------------------------- */
static void test_reentrant(void) {
  setup();
  /* during a collection */
  behaviour[0] = B_COLLECT;
  fin *x = alloc_fin(0);
  rcgc_set_ref(&x->a, x);
  rcgc_decref(x);
  CHECK_EQ(collect(2), 1);
  for (int w = 0; w < 3; w++) {
    CHECK(collect_tried[w]);
    CHECK_RC(collect_rc_in[w], RCGC_ERR_REENTRANT);
  }
  /* during refcount death */
  memset(collect_tried, 0, sizeof collect_tried);
  behaviour[1] = B_COLLECT;
  fin *y = alloc_fin(1);
  rcgc_decref(y);
  for (int w = 0; w < 3; w++) {
    CHECK(collect_tried[w]);
    CHECK_RC(collect_rc_in[w], RCGC_ERR_REENTRANT);
  }
  CHECK_EQ(destroy_calls[1], 1);
  /* and afterwards a collection works again */
  CHECK_EQ(collect(2), 0);
  printf("rcgc_collect inside finalize, clear, destroy (collection and refcount death): "
         "RCGC_ERR_REENTRANT\n");
  teardown();
}

/* ---------------------------------------------------------------------------
 * 8. No automatic collection inside callbacks.
 *
 *   class N: __slots__ = ('a', 'b')
 *   keep = [None] * 10
 *   class F:
 *       __slots__ = ('a',)
 *       def __del__(self):
 *           for i in range(5): keep[i] = N()
 *   gc.collect()
 *   gc.set_threshold(1, 10, 10)
 *   f = F(); f.a = f; del f
 *   gc.collect(1), gc.get_count()        # 1 (4, 0, 1)
 *   (collect(1): counts (0, 0, 1); five allocations in __del__ with count0 > 1
 *    and no collection, as one is running; F freed: 4.  gc.collect(2) would
 *    show (0, 0, 0) in CPython only because it also empties the interpreter's
 *    free lists, each freed tuple decrementing count0.)
 * During refcount death rcgc suppresses automatic collection too (ABI-NOTES;
 * CPython 3.11 would collect there):
 *   thresholds (1, 10, 10): alloc F (1, 0, 0); decref: F's finalizer
 *   allocates 5 -> (2..6, 0, 0) with no collection; F freed -> (5, 0, 0); the
 *   next allocation outside: 6 > 1 -> generation 0 collected -> (0, 1, 0).
 * ------------------------------------------------------------------------- */
/* The counts a B_ALLOC_KEEP finalizer saw at its 5 allocations: count0 is
 * first0, then one more at each (no collection runs inside a callback), the
 * others are c1 and c2. Under stress-gc only the "no collection inside" part
 * holds: count0 goes up by one each time, and the others do not change. */
static void check_counts_in_finalize(size_t first0, size_t c1, size_t c2) {
  CHECK_EQ(n_counts_in_finalize, 5);
  rcgc_counts first = counts_in_finalize[0];
  if (!stress) {
    first.gen0 = first0;
    first.gen1 = c1;
    first.gen2 = c2;
  }
  for (size_t i = 0; i < 5; i++) {
    CHECK_EQ(counts_in_finalize[i].gen0, first.gen0 + i);
    CHECK_EQ(counts_in_finalize[i].gen1, first.gen1);
    CHECK_EQ(counts_in_finalize[i].gen2, first.gen2);
  }
}

static void test_no_auto_collect_in_callbacks(void) {
  setup();
  CHECK_RC(rcgc_set_threshold(cur_heap, 1, 10, 10), RCGC_OK);
  behaviour[0] = B_ALLOC_KEEP;
  fin *f = alloc_fin(0);
  CHECK_COUNTS(cur_heap, 1, 0, 0);
  rcgc_set_ref(&f->a, f);
  rcgc_decref(f);
  CHECK_EQ(collect(1), 1);
  check_counts_in_finalize(1, 0, 1);
  CHECK_COUNTS(cur_heap, 4, 0, 1);
  for (size_t i = 0; i < n_keep; i++) rcgc_decref(keep[i]);
  n_keep = 0;
  CHECK_COUNTS(cur_heap, 0, 0, 1);
  printf("thresholds (1, 10, 10), finalizer allocating 5 during collect(1): counts inside "
         "(1..5, 0, 1), after (4, 0, 1) as CPython\n");

  n_counts_in_finalize = 0;
  CHECK_EQ(collect(2), 0);
  CHECK_COUNTS(cur_heap, 0, 0, 0);
  behaviour[1] = B_ALLOC_KEEP;
  fin *g = alloc_fin(1);
  CHECK_COUNTS(cur_heap, 1, 0, 0);
  rcgc_decref(g);
  check_counts_in_finalize(2, 0, 0);
  CHECK_COUNTS(cur_heap, 5, 0, 0);
  fin *h = alloc_fin(2);
  CHECK_COUNTS(cur_heap, 0, 1, 0);
  rcgc_decref(h);
  for (size_t i = 0; i < n_keep; i++) rcgc_decref(keep[i]);
  n_keep = 0;
  printf("same by refcount death: counts inside (2..6, 0, 0), after (5, 0, 0); the next "
         "allocation collects: (0, 1, 0)\n");
  teardown();

  /* The same inside an automatic collection, thresholds (3, 10, 10), following
   * gcmodule.c's order (counts zeroed when the collection starts, allocations
   * in finalizers counted but not collecting, the triggering object joining
   * generation 0 afterwards):
   *   alloc F (1, 0, 0) -> self-cycle garbage; alloc a, b (3, 0, 0);
   *   alloc c: 4 > 3 -> generation 0 collected: (0, 1, 0); F's finalizer
   *   allocates 5: (1..5, 1, 0); F freed: (4, 1, 0); c joins: (4, 1, 0);
   *   alloc d: 5 > 3 -> generation 0 collected: (0, 2, 0).
   * (Not replayed in CPython: the interpreter's own allocations around
   * __del__ shift its counts by a few.) */
  setup();
  CHECK_RC(rcgc_set_threshold(cur_heap, 3, 10, 10), RCGC_OK);
  behaviour[0] = B_ALLOC_KEEP;
  fin *F = alloc_fin(0);
  rcgc_set_ref(&F->a, F);
  rcgc_decref(F);
  /* (under stress-gc F is collected by a's allocation already) */
  n_counts_in_finalize = 0;
  fin *a = alloc_fin(1), *b = alloc_fin(2);
  CHECK_COUNTS(cur_heap, 3, 0, 0);
  if (!stress) CHECK_EQ(fin_calls[0], 0);
  fin *c = alloc_fin(3);
  CHECK_EQ(fin_calls[0], 1);
  CHECK_EQ(destroy_calls[0], 1);
  check_counts_in_finalize(1, 1, 0);
  CHECK_COUNTS(cur_heap, 4, 1, 0);
  fin *d = alloc_fin(4);
  CHECK_COUNTS(cur_heap, 0, 2, 0);
  rcgc_decref(a);
  rcgc_decref(b);
  rcgc_decref(c);
  rcgc_decref(d);
  for (size_t i = 0; i < n_keep; i++) rcgc_decref(keep[i]);
  n_keep = 0;
  printf("finalizer allocating 5 inside an automatic collection (3, 10, 10): counts inside "
         "(1..5, 1, 0), after (4, 1, 0), next allocation collects: (0, 2, 0)\n");
  teardown();
}

/* ---------------------------------------------------------------------------
 * 9. rcgc_heap_free finalizes (once) and destroys (once) every object left:
 *    leaked references, live cycles, garbage cycles never collected, untracked
 *    objects, objects of types without traverse, objects already finalized
 *    (resurrected earlier: not finalized again), and objects allocated by a
 *    finalizer during the shutdown itself (destroyed too).
 * ------------------------------------------------------------------------- */
static void test_heap_free(void) {
  setup();
  /* leaked acyclic object with refcount 2 */
  fin *leak = alloc_fin(0);
  rcgc_incref(leak);
  /* live 3-cycle held from outside */
  fin *c[3];
  for (int i = 0; i < 3; i++) c[i] = alloc_fin(1 + i);
  for (int i = 0; i < 3; i++) rcgc_set_ref(&c[i]->a, c[(i + 1) % 3]);
  rcgc_decref(c[1]);
  rcgc_decref(c[2]);
  /* garbage 2-cycle, never collected */
  fin *g1 = alloc_fin(4), *g2 = alloc_fin(5);
  rcgc_set_ref(&g1->a, g2);
  rcgc_set_ref(&g2->a, g1);
  /* untracked self-cycle, unreferenced */
  fin *u = alloc_fin(6);
  rcgc_set_ref(&u->a, u);
  CHECK_RC(rcgc_untrack(u), RCGC_OK);
  rcgc_decref(u);
  /* untracked object held from outside, referencing a tracked one */
  fin *u2 = alloc_fin(7), *t2 = alloc_fin(8);
  CHECK_RC(rcgc_untrack(u2), RCGC_OK);
  rcgc_set_ref(&u2->a, t2);
  rcgc_decref(t2);
  /* leaves: one leaked, one referenced by the live cycle */
  leaf *l1 = (leaf *)rcgc_alloc(leaf_t);
  l1->id = 9;
  leaf *l2 = (leaf *)rcgc_alloc(leaf_t);
  l2->id = 10;
  rcgc_set_ref(&c[0]->b, l2);
  rcgc_decref(l2);
  /* resurrected earlier, still held in saved[] */
  behaviour[11] = B_RESURRECT_SELF;
  fin *r = alloc_fin(11);
  rcgc_decref(r);
  CHECK_EQ(fin_calls[11], 1);
  CHECK_EQ(n_saved, 1);
  /* a finalizer that allocates during shutdown (kept in keep[], never freed) */
  behaviour[12] = B_ALLOC_KEEP;
  fin *ak = alloc_fin(12);
  (void)ak; /* leaked */
  (void)l1;
  /* a finalizer that resurrects its object during shutdown, in a garbage cycle */
  behaviour[13] = B_RESURRECT_SELF;
  fin *rs = alloc_fin(13);
  rcgc_set_ref(&rs->a, rs);
  /* a finalizer that tries to collect during shutdown */
  behaviour[14] = B_COLLECT;
  fin *co = alloc_fin(14);
  (void)co; /* leaked */
  /* The two garbage cycles become garbage after the last allocation, so that no
   * automatic collection finds them before the shutdown (under stress-gc every
   * allocation collects). */
  rcgc_decref(g1);
  rcgc_decref(g2);
  rcgc_decref(rs);
  CHECK_EQ(live_objects(), 15);
  size_t ev_before = n_ev;
  rcgc_heap_free(cur_heap);
  cur_heap = NULL;
  for (long id = 0; id <= 14; id++) {
    CHECK_EQ(fin_calls[id], 1);
    CHECK_EQ(destroy_calls[id], 1);
  }
  CHECK(collect_tried[0]);
  CHECK_RC(collect_rc_in[0], RCGC_ERR_REENTRANT);
  CHECK_EQ(count_events('F', 11), 1); /* only the earlier one */
  CHECK_EQ(n_keep, 5);
  for (long id = 1000; id < next_extra_id; id++) {
    CHECK(fin_calls[id] <= 1);
    CHECK_EQ(destroy_calls[id], 1);
  }
  CHECK(n_ev > ev_before);
  printf("rcgc_heap_free: 15 objects left (leaks, cycles, untracked, leaves, resurrected "
         "before and during shutdown) + 5 allocated during shutdown: each finalized once, "
         "destroyed once; rcgc_collect inside: RCGC_ERR_REENTRANT\n");
  n_saved = 0;
  n_keep = 0;
}

int main(void) {
  stress = getenv("RCGC_STRESS_GC") != NULL;
  test_refcount_death();
  test_refcount_resurrection();
  test_isolate_order();
  test_collect_resurrection();
  test_resurrect_other();
  test_callbacks_allocate();
  test_reentrant();
  test_no_auto_collect_in_callbacks();
  test_heap_free();
  CHECK_DONE("test_finalize");
}
