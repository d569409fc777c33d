/* Weak references (weakref.ref) with CPython's rules, inside and outside
 * cyclic garbage. Each check names the CPython 3.11 snippet it mirrors and what
 * CPython gives; in the snippets
 *   class N: __slots__ = ('a', 'b', '__weakref__')
 * and a slots object of 2 slots plays N. `F` is N with a __del__; here a type
 * "F" with two references and a finalize callback. */
#include <stdint.h>

#include "check.h"

static rcgc_heap *fresh_heap(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  return heap;
}

static size_t live_objects(rcgc_heap *heap) {
  rcgc_heap_stats stats = {.struct_size = sizeof stats};
  CHECK_RC(rcgc_heap_get_stats(heap, &stats), RCGC_OK);
  return stats.live_objects;
}

static size_t collect(rcgc_heap *heap) {
  size_t found = SIZE_MAX;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  return found;
}

/* The callbacks' log: one letter per event. */
static char events[64];
static size_t n_events;
static void log_event(char c) {
  CHECK(n_events + 1 < sizeof events);
  events[n_events++] = c;
  events[n_events] = '\0';
}
static void reset_log(void) {
  n_events = 0;
  events[0] = '\0';
}

/* A callback that records ctx's letter and checks that its weak reference is
 * already dead: `lambda r: log.append((name, r() is None))`. */
static void log_callback(void *weakref, void *ctx) {
  CHECK(rcgc_is_weakref(weakref));
  CHECK(rcgc_weakref_get(weakref) == NULL);
  log_event(*(const char *)ctx);
}

/* Type F: two references and a finalizer whose action the test chooses. */
typedef struct { void *a, *b; } F;
static void (*f_action)(void *self);
static void f_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  F *f = obj;
  if (f->a) visit(f->a, ctx);
  if (f->b) visit(f->b, ctx);
}
static void f_clear(void *obj) {
  F *f = obj;
  rcgc_clear_ref(&f->a);
  rcgc_clear_ref(&f->b);
}
static void f_finalize(void *obj) {
  log_event('D'); /* __del__ */
  if (f_action) f_action(obj);
}
static rcgc_type *f_type(rcgc_heap *heap) {
  rcgc_type_spec spec = {"F", sizeof(F), f_traverse, f_clear, f_finalize, NULL};
  rcgc_type *type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  return type;
}

/*   o = N(); w = weakref.ref(o)
 *   w() is o, sys.getrefcount(o) == 2 (one name + the argument), gc.is_tracked(w)
 *   del o; w() is None                                         (CPython 3.11) */
static void basic(void) {
  rcgc_heap *heap = fresh_heap();
  void *o = rcgc_slots_new(heap, 2);
  rcgc_counts before = rcgc_get_count(heap);
  void *w = rcgc_weakref_new(o, NULL, NULL);
  CHECK(w != NULL);
  CHECK(rcgc_is_weakref(w));
  CHECK(!rcgc_is_weakref(o));
  CHECK(rcgc_is_tracked(w));
  CHECK_EQ(rcgc_get_count(heap).gen0, before.gen0 + 1); /* tracked, so counted */
  CHECK_EQ(rcgc_refcount(o), 1);                        /* a weak reference owns nothing */
  CHECK_EQ(rcgc_weakref_count(o), 1);
  void *got = rcgc_weakref_get(w);
  CHECK(got == o);
  CHECK_EQ(rcgc_refcount(o), 2); /* get returns a new reference */
  rcgc_decref(got);
  void *out = w; /* rcgc_weakref_get_ref: the same answer, with a result code */
  CHECK_RC(rcgc_weakref_get_ref(w, &out), RCGC_OK);
  CHECK(out == o);
  CHECK_EQ(rcgc_refcount(o), 2);
  rcgc_decref(out);
  rcgc_decref(o);
  CHECK(rcgc_weakref_get(w) == NULL);
  out = w;
  CHECK_RC(rcgc_weakref_get_ref(w, &out), RCGC_OK); /* dead: RCGC_OK and NULL */
  CHECK(out == NULL);
  rcgc_decref(w);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/*   o = N(); w1 = weakref.ref(o); w2 = weakref.ref(o)
 *   w3 = weakref.ref(o, cb); w4 = weakref.ref(o, cb)
 *   w1 is w2 -> True; w3 is w4 -> False; weakref.getweakrefcount(o) -> 3   (CPython 3.11) */
static void sharing(void) {
  rcgc_heap *heap = fresh_heap();
  void *o = rcgc_slots_new(heap, 2);
  void *w1 = rcgc_weakref_new(o, NULL, NULL);
  void *w2 = rcgc_weakref_new(o, NULL, (void *)1); /* ctx is ignored without a callback */
  static const char a = 'a';
  void *w3 = rcgc_weakref_new(o, log_callback, (void *)&a);
  void *w4 = rcgc_weakref_new(o, log_callback, (void *)&a);
  CHECK(w1 == w2);
  CHECK_EQ(rcgc_refcount(w1), 2);
  CHECK(w3 != w4);
  CHECK_EQ(rcgc_weakref_count(o), 3);
  /* The shared one goes when its last holder lets it go; the others stay. */
  rcgc_decref(w1);
  rcgc_decref(w2);
  CHECK_EQ(rcgc_weakref_count(o), 2);
  void *w5 = rcgc_weakref_new(o, NULL, NULL); /* a fresh one */
  CHECK_EQ(rcgc_weakref_count(o), 3);
  rcgc_decref(w5);
  rcgc_decref(w3);
  rcgc_decref(w4);
  CHECK_EQ(rcgc_weakref_count(o), 0);
  reset_log();
  rcgc_decref(o);
  CHECK_EQ(n_events, 0); /* no weak reference left to call back */
  rcgc_heap_free(heap);
}

/*   o = N(); log = []
 *   a = weakref.ref(o, lambda w: log.append(('a', w() is None)))
 *   b = weakref.ref(o, lambda w: log.append(('b', w() is None)))
 *   del o; log -> [('b', True), ('a', True)]     newest first   (CPython 3.11) */
static void callbacks_on_refcount_death(void) {
  rcgc_heap *heap = fresh_heap();
  static const char a = 'a', b = 'b';
  void *o = rcgc_slots_new(heap, 2);
  void *wa = rcgc_weakref_new(o, log_callback, (void *)&a);
  void *plain = rcgc_weakref_new(o, NULL, NULL);
  void *wb = rcgc_weakref_new(o, log_callback, (void *)&b);
  reset_log();
  rcgc_decref(o);
  CHECK_STREQ(events, "ba");
  CHECK(rcgc_weakref_get(plain) == NULL);
  CHECK(rcgc_weakref_get(wa) == NULL);
  rcgc_decref(wa);
  rcgc_decref(wb);
  rcgc_decref(plain);
  CHECK_STREQ(events, "ba"); /* a callback runs once */
  rcgc_heap_free(heap);
}

/* Freeing the weak reference first: its callback never runs.
 *   o = N(); w = weakref.ref(o, cb); del w; del o; log -> []   (CPython 3.11) */
static void weakref_dies_first(void) {
  rcgc_heap *heap = fresh_heap();
  static const char a = 'a';
  void *o = rcgc_slots_new(heap, 2);
  void *w = rcgc_weakref_new(o, log_callback, (void *)&a);
  rcgc_decref(w);
  reset_log();
  rcgc_decref(o);
  CHECK_EQ(n_events, 0);
  rcgc_heap_free(heap);
}

/* Cleared before any finalizer; the callback runs before __del__:
 *   class F(N): def __del__(self): log.append(('del', w() is None))
 *   x = F(); x.a = x; w = weakref.ref(x, lambda r: log.append(('cb', r() is None))); del x
 *   gc.collect() -> 1; log -> [('cb', True), ('del', True)]   (CPython 3.11) */
static void *global_w;
static void check_w_dead(void *self) {
  (void)self;
  CHECK(rcgc_weakref_get(global_w) == NULL);
}
static void cleared_before_finalizers(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  static const char cb = 'c';
  F *x = rcgc_alloc(type);
  rcgc_set_ref(&x->a, x);
  global_w = rcgc_weakref_new(x, log_callback, (void *)&cb);
  f_action = check_w_dead;
  reset_log();
  rcgc_decref(x);
  CHECK_EQ(collect(heap), 1);
  CHECK_STREQ(events, "cD");
  f_action = NULL;
  rcgc_decref(global_w);
  rcgc_heap_free(heap);
}

/* A weak reference that is garbage itself never calls back:
 *   def cb(r): log.append('cb')
 *   x = N(); x.a = x; x.b = weakref.ref(x, cb); del x
 *   gc.collect() -> 2 (x and its weak reference); log -> []   (CPython 3.11)
 * (With a lambda as callback CPython finds 3: the lambda is garbage too; an
 * rcgc callback is a C function, not an object.) */
static void garbage_weakref_no_callback(void) {
  rcgc_heap *heap = fresh_heap();
  static const char cb = 'c';
  void *x = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(x, 0, x), RCGC_OK);
  void *w = rcgc_weakref_new(x, log_callback, (void *)&cb);
  CHECK_RC(rcgc_slots_set(x, 1, w), RCGC_OK);
  rcgc_decref(w);
  rcgc_decref(x);
  reset_log();
  CHECK_EQ(collect(heap), 2);
  CHECK_EQ(n_events, 0);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* A reachable weak reference to garbage calls back:
 *   x = N(); x.a = x; w = weakref.ref(x, cb); del x
 *   gc.collect() -> 1; log -> ['cb']; w() is None              (CPython 3.11) */
static void reachable_weakref_calls_back(void) {
  rcgc_heap *heap = fresh_heap();
  static const char cb = 'c';
  void *x = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(x, 0, x), RCGC_OK);
  void *w = rcgc_weakref_new(x, log_callback, (void *)&cb);
  rcgc_decref(x);
  reset_log();
  CHECK_EQ(collect(heap), 1);
  CHECK_STREQ(events, "c");
  CHECK(rcgc_weakref_get(w) == NULL);
  CHECK_EQ(collect(heap), 0); /* the callback does not run again */
  CHECK_STREQ(events, "c");
  rcgc_decref(w);
  rcgc_heap_free(heap);
}

/* A weak reference freed by its own callback is counted, as CPython 3.11's
 * handle_weakrefs counts it:
 *   holder = {}
 *   x = N(); x.a = x; holder['w'] = weakref.ref(x, lambda r: holder.pop('w')); del x
 *   gc.collect() -> 2; holder -> {}                               (CPython 3.11) */
static void drop_holder(void *weakref, void *ctx) {
  void **holder = ctx;
  CHECK(*holder == weakref);
  rcgc_clear_ref(holder); /* the collector still holds it for the call */
  log_event('p');
}
static void freed_by_callback_counts(void) {
  rcgc_heap *heap = fresh_heap();
  void *holder = NULL;
  void *x = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(x, 0, x), RCGC_OK);
  holder = rcgc_weakref_new(x, drop_holder, &holder);
  rcgc_decref(x);
  reset_log();
  CHECK_EQ(collect(heap), 2);
  CHECK(holder == NULL);
  CHECK_STREQ(events, "p");
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* An unreachable weak reference lets go of a live referent before the
 * finalizers run, and never calls back (bpo-38006):
 *   live = N(); h = F(); h.a = h; h.b = weakref.ref(live, cb)
 *   F.__del__ = lambda self: log.append(('del', self.b() is None)); del h
 *   gc.collect() -> 2; log -> [('del', True)]; del live; log unchanged   (CPython 3.11) */
static void check_b_dead(void *self) {
  CHECK(rcgc_weakref_get(((F *)self)->b) == NULL);
}
static void unreachable_weakref_to_live(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  static const char cb = 'c';
  void *live = rcgc_slots_new(heap, 2);
  F *h = rcgc_alloc(type);
  rcgc_set_ref(&h->a, h);
  h->b = rcgc_weakref_new(live, log_callback, (void *)&cb); /* h owns it */
  rcgc_decref(h);
  f_action = check_b_dead;
  reset_log();
  CHECK_EQ(collect(heap), 2);
  CHECK_STREQ(events, "D");
  CHECK_EQ(rcgc_weakref_count(live), 0);
  rcgc_decref(live);
  CHECK_STREQ(events, "D");
  f_action = NULL;
  rcgc_heap_free(heap);
}

/* A resurrected object's weak references stay cleared (they were cleared
 * before its finalizer ran):
 *   class R(N): def __del__(self): saved.append(self)
 *   x = R(); x.a = x; w = weakref.ref(x, cb); del x
 *   gc.collect() -> 0; w() is None; log -> ['cb']; len(saved) -> 1   (CPython 3.11) */
static void *saved;
static void resurrect(void *self) {
  rcgc_incref(self);
  saved = self;
}
static void resurrection(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  static const char cb = 'c';
  F *x = rcgc_alloc(type);
  rcgc_set_ref(&x->a, x);
  void *w = rcgc_weakref_new(x, log_callback, (void *)&cb);
  rcgc_decref(x);
  f_action = resurrect;
  reset_log();
  CHECK_EQ(collect(heap), 0);
  CHECK(saved == x);
  CHECK(rcgc_weakref_get(w) == NULL);
  CHECK_STREQ(events, "cD");
  /* A new weak reference to the resurrected object works as usual. */
  void *w2 = rcgc_weakref_new(saved, NULL, NULL);
  void *got = rcgc_weakref_get(w2);
  CHECK(got == saved);
  rcgc_decref(got);
  f_action = NULL;
  rcgc_clear_ref(&((F *)saved)->a);
  rcgc_decref(saved); /* dies by refcount now; finalize does not run again */
  CHECK(rcgc_weakref_get(w2) == NULL);
  CHECK_STREQ(events, "cD");
  rcgc_decref(w2);
  rcgc_decref(w);
  rcgc_heap_free(heap);
}

/* A weak reference whose callback a collection ran moves to the collection's
 * target generation, even from an older one (handle_weakrefs moves it to `old`):
 *   class R(N): def __del__(self): saved.append(self)
 *   def gen(o): return next(g for g in range(3) if any(p is o for p in gc.get_objects(g)))
 *   x = R(); w = weakref.ref(x, cb); gc.collect(1); gen(x), gen(w) -> 2, 2
 *   del x; x = saved.pop(); gen(x) -> 0        (resurrected: tracked again)
 *   x.a = x; del x
 *   gc.collect(0) -> 1; log -> ['cb']; gen(w) -> 1             (CPython 3.11.7) */
static void *sought;
static int sought_in;
static void find_sought(void *obj, void *ctx) {
  if (obj == sought) sought_in = *(const int *)ctx;
}
static int generation_of(rcgc_heap *heap, void *obj) {
  sought = obj;
  sought_in = -1;
  for (int g = 0; g < 3; g++) CHECK_RC(rcgc_get_objects(heap, g, find_sought, &g), RCGC_OK);
  return sought_in;
}
static void called_back_weakref_moves(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  static const char cb = 'c';
  F *x = rcgc_alloc(type);
  void *w = rcgc_weakref_new(x, log_callback, (void *)&cb);
  size_t found = SIZE_MAX;
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  CHECK_EQ(generation_of(heap, x), 2);
  CHECK_EQ(generation_of(heap, w), 2);
  f_action = resurrect;
  reset_log();
  rcgc_decref(x);
  CHECK(saved == x);
  CHECK_EQ(generation_of(heap, x), 0);
  f_action = NULL;
  rcgc_set_ref(&x->a, x);
  rcgc_decref(x);
  CHECK_RC(rcgc_collect(heap, 0, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_STREQ(events, "Dc");
  CHECK_EQ(generation_of(heap, w), 1);
  CHECK(rcgc_weakref_get(w) == NULL);
  rcgc_decref(w);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* Weak references made by a finalizer to garbage are cleared too, without
 * callback:
 *   class G(N): def __del__(self): made.append(weakref.ref(self, cb))
 *   x = G(); x.a = x; del x
 *   gc.collect() -> 1; made[0]() is None
 * CPython 3.11 clears it when x is deallocated, and so calls cb (log ['cb']);
 * newer CPython (Python/gc.c, clear_weakrefs over the final unreachable set)
 * clears it in the collector before tp_clear, without callback (log []). rcgc
 * follows the newer rule: a callback then could see half-cleared garbage. */
static void *made;
static void make_weakref(void *self) {
  static const char cb = 'c';
  made = rcgc_weakref_new(self, log_callback, (void *)&cb);
  CHECK(made != NULL);
}
static void made_during_finalization(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  F *x = rcgc_alloc(type);
  rcgc_set_ref(&x->a, x);
  rcgc_decref(x);
  f_action = make_weakref;
  reset_log();
  CHECK_EQ(collect(heap), 1);
  CHECK_STREQ(events, "D");
  CHECK(rcgc_weakref_get(made) == NULL);
  f_action = NULL;
  rcgc_decref(made);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* A weak reference without callback whose count reached zero, waiting on
 * the freeing worklist, is not shared: a finalizer run meanwhile gets a new
 * one. (CPython frees such a weak reference at once; CPython 3.13's
 * try_reuse_basic_ref refuses one whose count is zero.)
 *   class F(N): def __del__(self): made.append(weakref.ref(self.a))
 *   x = N(); s = weakref.ref(x); m = F(); m.a = x
 *   h = N(); h.a = s; h.b = m; del s, m, h          (h drops s, then m)
 *   made[0]() is x -> True; weakref.getweakrefcount(x) -> 1   (CPython 3.11) */
/* Drops `first` and then `m` (an F) through one holder h, whose last reference
 * the caller gives up here: h's clear releases `first`, whose count reaches 0 and
 * which waits on the freeing worklist, then `m`, pushed last and so freed first,
 * whose finalizer runs `action` meanwhile. Each of the caller's references to
 * `first` and `m` is handed over. */
static void drop_through_holder(rcgc_heap *heap, void *first, F *m, void (*action)(void *self)) {
  void *h = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(h, 0, first), RCGC_OK);
  CHECK_RC(rcgc_slots_set(h, 1, m), RCGC_OK);
  rcgc_decref(first);
  rcgc_decref(m);
  f_action = action;
  reset_log();
  rcgc_decref(h);
  f_action = NULL;
  CHECK_STREQ(events, "D");
}

static void make_weakref_to_a(void *self) {
  made = rcgc_weakref_new(((F *)self)->a, NULL, NULL);
  CHECK(made != NULL);
}
static void dying_weakref_not_shared(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  void *x = rcgc_slots_new(heap, 2);
  void *s = rcgc_weakref_new(x, NULL, NULL);
  F *m = rcgc_alloc(type);
  rcgc_set_ref(&m->a, x);
  drop_through_holder(heap, s, m, make_weakref_to_a); /* s waits while m is freed */
  CHECK(made != s); /* s was still in its block when made was allocated */
  CHECK_EQ(rcgc_refcount(made), 1);
  void *got = rcgc_weakref_get(made);
  CHECK(got == x);
  rcgc_decref(got);
  CHECK_EQ(rcgc_weakref_count(x), 1);
  rcgc_decref(made);
  rcgc_decref(x);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* A referent whose count reached zero, waiting on the freeing worklist, reads
 * as dead: CPython 3.11's PyWeakref_GET_OBJECT returns None for a referent
 * whose refcount is 0 (gh-60806: the trashcan defers deallocations there as
 * rcgc's worklist does here).
 *   class F(N): def __del__(self): got.append(self.a())
 *   x = N(); w = weakref.ref(x); m = F(); m.a = w
 *   h = N(); h.a = x; h.b = m; del x, m, h          (h drops x, then m)
 *   got -> [None]; w() is None                                 (CPython 3.11) */
static void *got_in_finalizer;
static void read_weakref_a(void *self) {
  got_in_finalizer = rcgc_weakref_get(((F *)self)->a);
}
static void dying_referent_reads_dead(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type *type = f_type(heap);
  void *x = rcgc_slots_new(heap, 2);
  void *w = rcgc_weakref_new(x, NULL, NULL);
  F *m = rcgc_alloc(type);
  rcgc_set_ref(&m->a, w);
  got_in_finalizer = w;
  drop_through_holder(heap, x, m, read_weakref_a); /* x waits while m is freed */
  CHECK(got_in_finalizer == NULL);
  CHECK(rcgc_weakref_get(w) == NULL);
  rcgc_decref(w);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* Inside a weak reference callback of a collection: a collection is refused,
 * allocation works, and new weak references work. (In CPython, gc.collect()
 * from inside a collection returns 0 without collecting.) */
static rcgc_heap *cb_heap;
static void busy_callback(void *weakref, void *ctx) {
  (void)weakref;
  (void)ctx;
  CHECK_RC(rcgc_collect(cb_heap, 0, NULL), RCGC_ERR_REENTRANT);
  CHECK_CONTAINS(rcgc_last_error(), "weak reference callbacks");
  void *tmp = rcgc_slots_new(cb_heap, 1);
  CHECK(tmp != NULL);
  void *wt = rcgc_weakref_new(tmp, log_callback, (void *)"t");
  rcgc_decref(tmp); /* calls back at once */
  rcgc_decref(wt);
  log_event('b');
}
static void callback_may_work(void) {
  rcgc_heap *heap = fresh_heap();
  cb_heap = heap;
  void *x = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(x, 0, x), RCGC_OK);
  void *w = rcgc_weakref_new(x, busy_callback, NULL);
  rcgc_decref(x);
  reset_log();
  CHECK_EQ(collect(heap), 1);
  CHECK_STREQ(events, "tb");
  rcgc_decref(w);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* A weak reference whose count reached zero and which waits on the freeing
 * worklist when its referent dies does not call back, as in CPython
 * (PyObject_ClearWeakRefs skips weak references with refcount 0; there this
 * happens past its trashcan depth of 50), and it is freed exactly once.
 *   c[i].a = c[i + 1] for i < 49; c[49].a = w; c[49].b = c50; c50.a = t
 *   w = weakref.ref(t, cb); del everything but c[0]; del c[0]: log -> []  (CPython 3.11) */
static void deferred_weakref_does_not_call_back(void) {
  rcgc_heap *heap = fresh_heap();
  enum { DEPTH = 50 };
  void *c[DEPTH];
  for (int i = 0; i < DEPTH; i++) c[i] = rcgc_slots_new(heap, 2);
  for (int i = 0; i + 1 < DEPTH; i++) CHECK_RC(rcgc_slots_set(c[i], 0, c[i + 1]), RCGC_OK);
  void *c50 = rcgc_slots_new(heap, 1), *t = rcgc_slots_new(heap, 1);
  void *w = rcgc_weakref_new(t, log_callback, (void *)"w");
  CHECK_RC(rcgc_slots_set(c[DEPTH - 1], 0, w), RCGC_OK);
  CHECK_RC(rcgc_slots_set(c[DEPTH - 1], 1, c50), RCGC_OK);
  CHECK_RC(rcgc_slots_set(c50, 0, t), RCGC_OK);
  rcgc_decref(w);
  rcgc_decref(t);
  rcgc_decref(c50);
  for (int i = 1; i < DEPTH; i++) rcgc_decref(c[i]);
  reset_log();
  rcgc_decref(c[0]);
  CHECK_EQ(n_events, 0);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* Weak references to weak references and to untracked objects work too (in
 * CPython, weakref objects themselves cannot be weakly referenced; rcgc
 * accepts any object). */
static void any_object(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type_spec leaf_spec = {"leaf", 8, NULL, NULL, NULL, NULL};
  rcgc_type *leaf = NULL;
  CHECK_RC(rcgc_type_register(heap, &leaf_spec, &leaf), RCGC_OK);
  void *l = rcgc_alloc(leaf);
  void *wl = rcgc_weakref_new(l, log_callback, (void *)"l");
  void *ww = rcgc_weakref_new(wl, log_callback, (void *)"w");
  reset_log();
  rcgc_decref(l);
  CHECK_STREQ(events, "l");
  rcgc_decref(wl);
  CHECK_STREQ(events, "lw");
  CHECK(rcgc_weakref_get(ww) == NULL);
  rcgc_decref(ww);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* rcgc_heap_free clears every weak reference without calling back, after its
 * final collection (whose callbacks do run). */
static void heap_free_clears(void) {
  rcgc_heap *heap = fresh_heap();
  void *o = rcgc_slots_new(heap, 2);
  void *w = rcgc_weakref_new(o, log_callback, (void *)"o");
  void *x = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(x, 0, x), RCGC_OK);
  void *wx = rcgc_weakref_new(x, log_callback, (void *)"x");
  rcgc_decref(x);
  reset_log();
  (void)w;
  (void)wx;
  rcgc_heap_free(heap); /* o, w and wx were never released: freed with the heap */
  CHECK_STREQ(events, "x");
}

/* rcgc_weakref_new_with_release: the weak reference owns ctx and lets go of
 * it once: right after its callback (CPython drops wr_callback after calling
 * it), or, when the callback never runs, as the weak reference object is
 * freed, however that happens (CPython's weakref_dealloc and the gc's
 * clearing of garbage weak references drop it there). The release function
 * logs ctx's letter in upper case. */
static void log_release(void *ctx) { log_event((char)(*(const char *)ctx - 'a' + 'A')); }

/* A ctx that is an object: the release function drops the reference the weak
 * reference owned, as a binding's closure holding handles would. */
static void drop_object(void *ctx) {
  log_event('R');
  rcgc_decref(ctx);
}

static void release_ctx(void) {
  rcgc_heap *heap = fresh_heap();
  /* The callback runs: release right after it. */
  void *a = rcgc_slots_new(heap, 2);
  void *wa = rcgc_weakref_new_with_release(a, log_callback, (void *)"a", log_release);
  CHECK(wa != NULL);
  reset_log();
  rcgc_decref(a);
  CHECK_STREQ(events, "aA");
  rcgc_decref(wa); /* its callback ran: nothing is released twice */
  CHECK_STREQ(events, "aA");

  /* The weak reference dies first: released then, never called back. */
  void *b = rcgc_slots_new(heap, 2);
  void *wb = rcgc_weakref_new_with_release(b, log_callback, (void *)"b", log_release);
  reset_log();
  rcgc_decref(wb);
  CHECK_STREQ(events, "B");
  rcgc_decref(b);
  CHECK_STREQ(events, "B");

  /* The weak reference is cyclic garbage (held by a self-referencing slots
   * object) while its referent lives: the collection frees it without
   * callback, and releases its ctx, here an object it owned. */
  void *c = rcgc_slots_new(heap, 2);
  void *owned = rcgc_slots_new(heap, 1);
  void *holder = rcgc_slots_new(heap, 2);
  void *wc = rcgc_weakref_new_with_release(c, log_callback, owned, drop_object);
  CHECK_RC(rcgc_slots_set(holder, 0, holder), RCGC_OK);
  CHECK_RC(rcgc_slots_set(holder, 1, wc), RCGC_OK);
  rcgc_decref(wc);
  rcgc_decref(holder);
  reset_log();
  CHECK_EQ(collect(heap), 2);
  CHECK_STREQ(events, "R");
  CHECK_EQ(live_objects(heap), 1); /* c; `owned` went with the release */
  rcgc_decref(c);
  CHECK_STREQ(events, "R");
  CHECK_EQ(live_objects(heap), 0);

  /* Failure: NULL, and ctx stays the caller's (nothing is called). */
  reset_log();
  CHECK(rcgc_weakref_new_with_release(NULL, log_callback, (void *)"f", log_release) == NULL);
  CHECK_RC(rcgc_last_error_code(), RCGC_ERR_NULL_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "rcgc_weakref_new_with_release");

  /* Without a callback, ctx and release are ignored: the shared weak reference. */
  void *d = rcgc_slots_new(heap, 2);
  void *wd = rcgc_weakref_new(d, NULL, NULL);
  void *wd2 = rcgc_weakref_new_with_release(d, NULL, (void *)"d", log_release);
  CHECK(wd2 == wd);
  rcgc_decref(wd2);
  rcgc_decref(wd);
  void *wd3 = rcgc_weakref_new_with_release(d, NULL, (void *)"d", log_release);
  CHECK(wd3 != NULL);
  rcgc_decref(wd3);
  rcgc_decref(d);
  CHECK_STREQ(events, "");

  /* Weak references the program never released go with the heap, their ctx
   * released by rcgc_heap_free: one whose referent lives, one whose referent
   * died (its callback ran, so only the first is released there). */
  void *e = rcgc_slots_new(heap, 2);
  void *g = rcgc_slots_new(heap, 2);
  void *we = rcgc_weakref_new_with_release(e, log_callback, (void *)"e", log_release);
  void *wg = rcgc_weakref_new_with_release(g, log_callback, (void *)"g", log_release);
  rcgc_decref(g);
  CHECK_STREQ(events, "gG");
  reset_log();
  (void)we;
  (void)wg;
  rcgc_heap_free(heap);
  CHECK_STREQ(events, "E");
}

/* Bad input. */
static void bad_input(void) {
  rcgc_heap *heap = fresh_heap();
  CHECK(rcgc_weakref_new(NULL, NULL, NULL) == NULL);
  CHECK_RC(rcgc_last_error_code(), RCGC_ERR_NULL_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "rcgc_weakref_new");
  CHECK(rcgc_weakref_get(NULL) == NULL);
  CHECK_RC(rcgc_last_error_code(), RCGC_ERR_NULL_ARGUMENT);
  void *o = rcgc_slots_new(heap, 1);
  CHECK(rcgc_weakref_get(o) == NULL);
  CHECK_RC(rcgc_last_error_code(), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "rcgc_weakref_get");
  CHECK_CONTAINS(rcgc_last_error(), "not a weak reference");
  void *out = o; /* set to NULL on every error */
  CHECK_RC(rcgc_weakref_get_ref(o, &out), RCGC_ERR_INVALID_ARGUMENT);
  CHECK(out == NULL);
  CHECK_CONTAINS(rcgc_last_error(), "rcgc_weakref_get_ref");
  out = o;
  CHECK_RC(rcgc_weakref_get_ref(NULL, &out), RCGC_ERR_NULL_ARGUMENT);
  CHECK(out == NULL);
  CHECK_RC(rcgc_weakref_get_ref(o, NULL), RCGC_ERR_NULL_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "obj_out");
  CHECK_EQ(rcgc_refcount(o), 1);
  CHECK_EQ(rcgc_weakref_count(NULL), 0);
  CHECK_RC(rcgc_last_error_code(), RCGC_ERR_NULL_ARGUMENT);
  CHECK(!rcgc_is_weakref(NULL));
  rcgc_decref(o);
  rcgc_heap_free(heap);
}

int main(void) {
  basic();
  sharing();
  callbacks_on_refcount_death();
  weakref_dies_first();
  cleared_before_finalizers();
  garbage_weakref_no_callback();
  reachable_weakref_calls_back();
  freed_by_callback_counts();
  unreachable_weakref_to_live();
  resurrection();
  called_back_weakref_moves();
  made_during_finalization();
  dying_weakref_not_shared();
  dying_referent_reads_dead();
  callback_may_work();
  deferred_weakref_does_not_call_back();
  any_object();
  heap_free_clears();
  release_ctx();
  bad_input();
  CHECK_DONE("test_weakref");
}
