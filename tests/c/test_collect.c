/* test_collect.c: what rcgc_collect finds and returns, compared with CPython 3.11.
 *
 * The Python snippets in the comments use
 *   import gc
 *   class N: __slots__ = ('a', 'b')
 * and were run with python3 (CPython 3.11.7); the value each gives is written
 * next to it.  Every rcgc_collect return value below is the one CPython gives
 * for the same graph (objects of types without traverse play the part of
 * CPython's ints, floats and strings: untracked, never counted).
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

/* ---------------------------------------------------------------------------
 * Types
 *   pair: two references a, b (like N above), an id, destroy records the id
 *   vec:  a variable number of references (like a list), via rcgc_alloc_var
 *   leaf: no traverse (like an int): never tracked, never counted
 * ------------------------------------------------------------------------- */
typedef struct pair {
  void *a, *b;
  long id;
} pair;

typedef struct vec {
  size_t n;
  long id;
  void *items[];
} vec;

typedef struct leaf {
  long id;
} leaf;

#define MAX_IDS 4096
static unsigned destroyed[MAX_IDS];
static unsigned long destroy_calls = 0;
static unsigned long clear_calls = 0;

static void record_destroy(long id) {
  destroy_calls++;
  if (id >= 0 && id < MAX_IDS) destroyed[id]++;
}

static void pair_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  pair *p = (pair *)obj;
  if (p->a) visit(p->a, ctx);
  if (p->b) visit(p->b, ctx);
}
static void pair_clear(void *obj) {
  pair *p = (pair *)obj;
  clear_calls++;
  rcgc_clear_ref(&p->a);
  rcgc_clear_ref(&p->b);
}
static void pair_destroy(void *obj) { record_destroy(((pair *)obj)->id); }

static void vec_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  vec *v = (vec *)obj;
  for (size_t i = 0; i < v->n; i++)
    if (v->items[i]) visit(v->items[i], ctx);
}
static void vec_clear(void *obj) {
  vec *v = (vec *)obj;
  clear_calls++;
  for (size_t i = 0; i < v->n; i++) rcgc_clear_ref(&v->items[i]);
}
static void vec_destroy(void *obj) { record_destroy(((vec *)obj)->id); }
static void leaf_destroy(void *obj) { record_destroy(((leaf *)obj)->id); }

typedef struct env {
  rcgc_heap *h;
  rcgc_type *pair_t, *vec_t, *leaf_t;
} env;

static env setup(void) {
  env e;
  memset(destroyed, 0, sizeof destroyed);
  destroy_calls = 0;
  clear_calls = 0;
  e.h = rcgc_heap_new();
  CHECK(e.h != NULL);
  rcgc_type_spec ps = {"pair", sizeof(pair), pair_traverse, pair_clear, NULL, pair_destroy};
  rcgc_type_spec vs = {"vec", sizeof(vec), vec_traverse, vec_clear, NULL, vec_destroy};
  rcgc_type_spec ls = {"leaf", sizeof(leaf), NULL, NULL, NULL, leaf_destroy};
  CHECK_RC(rcgc_type_register(e.h, &ps, &e.pair_t), RCGC_OK);
  CHECK_RC(rcgc_type_register(e.h, &vs, &e.vec_t), RCGC_OK);
  CHECK_RC(rcgc_type_register(e.h, &ls, &e.leaf_t), RCGC_OK);
  /* Only explicit collections in this file. */
  CHECK_RC(rcgc_disable(e.h), RCGC_OK);
  return e;
}

static void teardown(env *e) {
  rcgc_heap_stats st = heap_stats(e->h);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.tracked_objects, 0);
  CHECK_EQ(st.allocated_total, st.freed_total);
  rcgc_heap_free(e->h);
}

static pair *new_pair(env *e, long id) {
  pair *p = (pair *)rcgc_alloc(e->pair_t);
  CHECK(p != NULL);
  CHECK(rcgc_is_tracked(p));
  CHECK_EQ(rcgc_refcount(p), 1);
  p->id = id;
  return p;
}
static vec *new_vec(env *e, long id, size_t n) {
  vec *v = (vec *)rcgc_alloc_var(e->vec_t, sizeof(vec) + n * sizeof(void *));
  CHECK(v != NULL);
  CHECK(rcgc_is_tracked(v));
  for (size_t i = 0; i < n; i++) CHECK(v->items[i] == NULL); /* zeroed payload */
  v->n = n;
  v->id = id;
  return v;
}
static leaf *new_leaf(env *e, long id) {
  leaf *l = (leaf *)rcgc_alloc(e->leaf_t);
  CHECK(l != NULL);
  CHECK(!rcgc_is_tracked(l));
  l->id = id;
  return l;
}

static size_t collect(rcgc_heap *h, int g) {
  size_t n = (size_t)-1;
  CHECK_RC(rcgc_collect(h, g, &n), RCGC_OK);
  return n;
}

static void check_each_destroyed_once(long first, long last) {
  for (long i = first; i <= last; i++) CHECK_EQ(destroyed[i], 1);
}

/* ---------------------------------------------------------------------------
 * 1. Unreachable rings of 1, 2, 3, 10 and 1000 objects.
 *
 *   def ring(n):
 *       objs = [N() for _ in range(n)]
 *       for i in range(n): objs[i].a = objs[(i + 1) % n]
 *       return objs
 *   gc.collect()
 *   for n in (1, 2, 3, 10, 1000):
 *       r = ring(n); del r
 *       gc.collect()        # 1, 2, 3, 10, 1000
 * ------------------------------------------------------------------------- */
static void test_rings(void) {
  static const long sizes[] = {1, 2, 3, 10, 1000};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    long n = sizes[s];
    env e = setup();
    static pair *objs[1000];
    for (long i = 0; i < n; i++) objs[i] = new_pair(&e, i);
    for (long i = 0; i < n; i++) rcgc_set_ref(&objs[i]->a, objs[(i + 1) % n]);
    for (long i = 0; i < n; i++) CHECK_EQ(rcgc_refcount(objs[i]), 2);
    for (long i = 0; i < n; i++) rcgc_decref(objs[i]);
    CHECK_EQ(destroy_calls, 0);
    CHECK_EQ(heap_stats(e.h).live_objects, (size_t)n);
    CHECK_EQ(collect(e.h, 2), (size_t)n);
    CHECK_EQ(destroy_calls, (unsigned long)n);
    check_each_destroyed_once(0, n - 1);
    CHECK_EQ(collect(e.h, 2), 0);
    CHECK_EQ(destroy_calls, (unsigned long)n);
    printf("ring of %ld pair objects: collect(2) returned %ld, %ld destroyed once each\n", n, n, n);
    teardown(&e);

    /* The same with slots objects. */
    e = setup();
    static void *sl[1000];
    for (long i = 0; i < n; i++) {
      sl[i] = rcgc_slots_new(e.h, 1);
      CHECK(sl[i] != NULL);
    }
    for (long i = 0; i < n; i++) CHECK_RC(rcgc_slots_set(sl[i], 0, sl[(i + 1) % n]), RCGC_OK);
    for (long i = 0; i < n; i++) rcgc_decref(sl[i]);
    CHECK_EQ(heap_stats(e.h).live_objects, (size_t)n);
    CHECK_EQ(collect(e.h, 2), (size_t)n);
    CHECK_EQ(heap_stats(e.h).live_objects, 0);
    printf("ring of %ld slots objects: collect(2) returned %ld\n", n, n);
    teardown(&e);
  }
}

/* ---------------------------------------------------------------------------
 * 2. A cycle held by one external reference survives; after the decref it is
 *    collected.
 *
 *   r = ring(3); keep = r[0]; del r
 *   gc.collect()            # 0
 *   del keep
 *   gc.collect()            # 3
 * ------------------------------------------------------------------------- */
static void test_external_ref(void) {
  env e = setup();
  pair *o[3];
  for (int i = 0; i < 3; i++) o[i] = new_pair(&e, i);
  for (int i = 0; i < 3; i++) rcgc_set_ref(&o[i]->a, o[(i + 1) % 3]);
  rcgc_decref(o[1]);
  rcgc_decref(o[2]);
  for (int g = 0; g <= 2; g++) CHECK_EQ(collect(e.h, g), 0);
  CHECK_EQ(destroy_calls, 0);
  CHECK_EQ(rcgc_refcount(o[0]), 2);
  CHECK_EQ(rcgc_refcount(o[1]), 1);
  CHECK(o[0]->a == o[1] && o[1]->a == o[2] && o[2]->a == o[0]); /* untouched */
  rcgc_decref(o[0]);
  CHECK_EQ(destroy_calls, 0);
  CHECK_EQ(collect(e.h, 2), 3);
  check_each_destroyed_once(0, 2);
  printf("3-cycle held by one reference: collect 0; after decref: 3\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 3. Objects referenced from an older generation survive a young collection.
 *
 *   gc.collect()
 *   A = N(); gc.collect()              # A in generation 2
 *   B = N(); B.a = B; A.a = B; del B    # B young, held only by A (and itself)
 *   gc.collect(0), gc.is_tracked(A.a)  # 0 True
 *   A.a = None                         # B: garbage, now in generation 1
 *   gc.collect(0), gc.collect(1)       # 0 1
 * ------------------------------------------------------------------------- */
static void test_older_referrer(void) {
  env e = setup();
  pair *A = new_pair(&e, 0);
  CHECK_EQ(collect(e.h, 2), 0); /* A in generation 2 */
  pair *B = new_pair(&e, 1);
  rcgc_set_ref(&B->a, B);
  rcgc_set_ref(&A->a, B);
  rcgc_decref(B);
  CHECK_EQ(rcgc_refcount(B), 2);
  CHECK_EQ(collect(e.h, 0), 0);
  CHECK_EQ(destroy_calls, 0);
  CHECK(rcgc_is_tracked(B));
  CHECK(A->a == B && B->a == B);
  /* B was promoted to generation 1: as garbage, a generation-0 collection
   * does not see it, a generation-1 collection does. */
  rcgc_clear_ref(&A->a);
  CHECK_EQ(destroy_calls, 0);
  CHECK_EQ(collect(e.h, 0), 0);
  CHECK_EQ(destroy_calls, 0);
  CHECK_EQ(collect(e.h, 1), 1);
  CHECK_EQ(destroyed[1], 1);
  printf("young B held by old A: collect(0) 0; B in generation 1 afterwards (collect(0) 0, "
         "collect(1) 1 once garbage)\n");

  /* Acyclic: B referenced only by A is freed exactly when A's reference goes. */
  pair *B2 = new_pair(&e, 2);
  rcgc_set_ref(&A->b, B2);
  rcgc_decref(B2);
  CHECK_EQ(collect(e.h, 0), 0);
  CHECK_EQ(collect(e.h, 1), 0);
  CHECK_EQ(destroyed[2], 0);
  CHECK(rcgc_is_tracked(B2));
  CHECK_EQ(rcgc_refcount(B2), 1);
  rcgc_clear_ref(&A->b);
  CHECK_EQ(destroyed[2], 1);
  rcgc_decref(A);
  CHECK_EQ(destroyed[0], 1);
  CHECK_EQ(destroy_calls, 3);
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 4. Untracked objects act as roots (no CPython snippet: Python code cannot
 *    untrack an object; in C it is PyObject_GC_UnTrack).
 * ------------------------------------------------------------------------- */
static void test_untracked_roots(void) {
  env e = setup();
  /* U (untracked, held from outside) -> T <-> T2 */
  pair *U = new_pair(&e, 0), *T = new_pair(&e, 1), *T2 = new_pair(&e, 2);
  CHECK_RC(rcgc_untrack(U), RCGC_OK);
  CHECK(!rcgc_is_tracked(U));
  rcgc_set_ref(&U->a, T);
  rcgc_set_ref(&T->a, T2);
  rcgc_set_ref(&T2->a, T);
  rcgc_decref(T);
  rcgc_decref(T2);
  CHECK_EQ(collect(e.h, 2), 0);
  CHECK_EQ(destroy_calls, 0);
  CHECK(T->a == T2 && T2->a == T);
  /* Dropping U frees it by refcount; T <-> T2 become garbage. */
  rcgc_decref(U);
  CHECK_EQ(destroyed[0], 1);
  CHECK_EQ(destroy_calls, 1);
  CHECK_EQ(collect(e.h, 2), 2);
  check_each_destroyed_once(0, 2);

  /* U untracked inside a cycle U -> T -> U, nothing held from outside: the
   * collector cannot see U's reference, so T looks externally referenced. */
  U = new_pair(&e, 3);
  T = new_pair(&e, 4);
  CHECK_RC(rcgc_untrack(U), RCGC_OK);
  rcgc_set_ref(&U->a, T);
  rcgc_set_ref(&T->a, U);
  rcgc_decref(U);
  rcgc_decref(T);
  CHECK_EQ(collect(e.h, 2), 0);
  CHECK_EQ(collect(e.h, 2), 0);
  CHECK_EQ(destroy_calls, 3);
  CHECK_EQ(rcgc_refcount(U), 1);
  CHECK_EQ(rcgc_refcount(T), 1);
  /* Tracking U again makes the cycle collectable. */
  CHECK_RC(rcgc_track(U), RCGC_OK);
  CHECK(rcgc_is_tracked(U));
  CHECK_EQ(collect(e.h, 2), 2);
  check_each_destroyed_once(3, 4);

  /* An untracked self-cycle is never collected... */
  U = new_pair(&e, 5);
  rcgc_set_ref(&U->a, U);
  CHECK_RC(rcgc_untrack(U), RCGC_OK);
  rcgc_decref(U);
  CHECK_EQ(collect(e.h, 2), 0);
  CHECK_EQ(destroyed[5], 0);
  /* ...until it is tracked again. */
  CHECK_RC(rcgc_track(U), RCGC_OK);
  CHECK_EQ(collect(e.h, 0), 1);
  CHECK_EQ(destroyed[5], 1);
  CHECK_EQ(destroy_calls, 6);
  printf("untracked objects act as roots: their referents survive; tracked again, the "
         "cycle is collected\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 5. A cycle spanning generations is collected only by a collection of the
 *    older generation.
 *
 *   gc.collect()
 *   A = N(); gc.collect(0)              # A in generation 1
 *   B = N(); A.a = B; B.a = A; del A, B
 *   gc.collect(0), gc.collect(1)        # 0 2
 *   gc.collect()
 *   A = N(); gc.collect()               # A in generation 2
 *   B = N(); A.a = B; B.a = A; del A, B
 *   gc.collect(0), gc.collect(1), gc.collect(2)   # 0 0 2
 * ------------------------------------------------------------------------- */
static void test_spanning(void) {
  env e = setup();
  pair *A = new_pair(&e, 0);
  CHECK_EQ(collect(e.h, 0), 0);
  pair *B = new_pair(&e, 1);
  rcgc_set_ref(&A->a, B);
  rcgc_set_ref(&B->a, A);
  rcgc_decref(A);
  rcgc_decref(B);
  CHECK_EQ(collect(e.h, 0), 0);
  CHECK_EQ(destroy_calls, 0);
  CHECK_EQ(collect(e.h, 1), 2);
  check_each_destroyed_once(0, 1);

  A = new_pair(&e, 2);
  CHECK_EQ(collect(e.h, 2), 0);
  B = new_pair(&e, 3);
  rcgc_set_ref(&A->a, B);
  rcgc_set_ref(&B->a, A);
  rcgc_decref(A);
  rcgc_decref(B);
  CHECK_EQ(collect(e.h, 0), 0);
  CHECK_EQ(collect(e.h, 1), 0);
  CHECK_EQ(destroy_calls, 2);
  CHECK_EQ(collect(e.h, 2), 2);
  check_each_destroyed_once(2, 3);
  printf("cycle across generations 1/0: collect(0) 0, collect(1) 2; across 2/0: 0, 0, 2\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 6. Garbage hanging off a cycle: every tracked object reachable only from the
 *    cycle is counted; untracked-type objects are freed but not counted; a tail
 *    object also held from outside survives; a tail object in an older
 *    generation is freed by refcount but not counted by a young collection.
 *
 *   gc.collect()
 *   a = N(); b = N(); a.a = b; b.a = a
 *   c = N(); a.b = c; d = N(); c.a = d
 *   d.a = 123456789; c.b = 'x' * 10; d.b = 1.5      # untracked objects
 *   del a, b, c, d
 *   gc.collect()                        # 4
 *
 *   a = N(); b = N(); a.a = b; b.a = a; c = N(); a.b = c; d = N(); c.a = d
 *   keep = d; del a, b, c, d
 *   gc.collect()                        # 3
 *
 *   gc.collect()
 *   t = N(); t2 = N(); t.a = t2
 *   gc.collect()                        # t, t2 in generation 2
 *   a = N(); b = N(); a.a = b; b.a = a; a.b = t; del t, t2, a, b
 *   gc.collect(0), gc.collect()         # 2 0
 * ------------------------------------------------------------------------- */
static void test_tails(void) {
  env e = setup();
  pair *a = new_pair(&e, 0), *b = new_pair(&e, 1), *c = new_pair(&e, 2), *d = new_pair(&e, 3);
  leaf *l1 = new_leaf(&e, 4), *l2 = new_leaf(&e, 5), *l3 = new_leaf(&e, 6);
  rcgc_set_ref(&a->a, b);
  rcgc_set_ref(&b->a, a);
  rcgc_set_ref(&a->b, c);
  rcgc_set_ref(&c->a, d);
  rcgc_set_ref(&d->a, l1);
  rcgc_set_ref(&c->b, l2);
  rcgc_set_ref(&d->b, l3);
  rcgc_decref(l1);
  rcgc_decref(l2);
  rcgc_decref(l3);
  rcgc_decref(a);
  rcgc_decref(b);
  rcgc_decref(c);
  rcgc_decref(d);
  CHECK_EQ(destroy_calls, 0);
  CHECK_EQ(heap_stats(e.h).live_objects, 7);
  CHECK_EQ(heap_stats(e.h).tracked_objects, 4);
  CHECK_EQ(collect(e.h, 2), 4);
  check_each_destroyed_once(0, 6);
  CHECK_EQ(destroy_calls, 7);
  printf("2-cycle with a 2-object tail and 3 untracked leaves: collect 4, all 7 freed\n");

  /* Tail also held from outside. */
  a = new_pair(&e, 10);
  b = new_pair(&e, 11);
  c = new_pair(&e, 12);
  d = new_pair(&e, 13);
  rcgc_set_ref(&a->a, b);
  rcgc_set_ref(&b->a, a);
  rcgc_set_ref(&a->b, c);
  rcgc_set_ref(&c->a, d);
  rcgc_decref(a);
  rcgc_decref(b);
  rcgc_decref(c);
  /* d still held */
  CHECK_EQ(collect(e.h, 2), 3);
  check_each_destroyed_once(10, 12);
  CHECK_EQ(destroyed[13], 0);
  CHECK_EQ(rcgc_refcount(d), 1);
  rcgc_decref(d);
  CHECK_EQ(destroyed[13], 1);
  printf("same with the tail's end held from outside: collect 3, the held object survives\n");

  /* Tail in an older generation. */
  pair *t = new_pair(&e, 20), *t2 = new_pair(&e, 21);
  rcgc_set_ref(&t->a, t2);
  rcgc_decref(t2);
  CHECK_EQ(collect(e.h, 2), 0);
  a = new_pair(&e, 22);
  b = new_pair(&e, 23);
  rcgc_set_ref(&a->a, b);
  rcgc_set_ref(&b->a, a);
  rcgc_set_ref(&a->b, t);
  rcgc_decref(t);
  rcgc_decref(a);
  rcgc_decref(b);
  CHECK_EQ(collect(e.h, 0), 2);
  check_each_destroyed_once(20, 23); /* t, t2 freed by refcount when a was cleared */
  CHECK_EQ(collect(e.h, 2), 0);
  printf("tail in generation 2 off a young cycle: collect(0) 2, tail freed by refcount\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 7. Slots-object graphs.
 *
 *   class S5: __slots__ = ('s0', 's1', 's2', 's3', 's4')
 *   gc.collect()
 *   objs = [S5() for _ in range(5)]
 *   for o in objs:
 *       for j in range(5): setattr(o, 's%d' % j, objs[j])
 *   del objs, o
 *   gc.collect()                        # 5
 * ------------------------------------------------------------------------- */
static void test_slots_graphs(void) {
  env e = setup();
  void *k[5];
  for (int i = 0; i < 5; i++) {
    k[i] = rcgc_slots_new(e.h, 5);
    CHECK(k[i] != NULL);
    CHECK_EQ(rcgc_slots_len(k[i]), 5);
  }
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++) CHECK_RC(rcgc_slots_set(k[i], (size_t)j, k[j]), RCGC_OK);
  for (int i = 0; i < 5; i++) CHECK_EQ(rcgc_refcount(k[i]), 6);
  /* Hold one from outside: nothing is collected. */
  for (int i = 1; i < 5; i++) rcgc_decref(k[i]);
  CHECK_EQ(collect(e.h, 2), 0);
  CHECK_EQ(heap_stats(e.h).live_objects, 5);
  CHECK(rcgc_slots_get(k[3], 4) == k[4]);
  rcgc_decref(k[0]);
  CHECK_EQ(collect(e.h, 2), 5);
  CHECK_EQ(heap_stats(e.h).live_objects, 0);
  printf("complete graph of 5 slots objects (self-loops included): collect 5\n");

  /* A slots object as a list: holds itself and 50 pairs that hold it back,
   * plus untracked leaves.
   *   l = []; l.append(l)
   *   for i in range(50): n = N(); n.a = l; l.append(n)
   *   del l, n
   *   gc.collect()                      # 51
   */
  void *l = rcgc_slots_new(e.h, 60);
  CHECK(l != NULL);
  CHECK_RC(rcgc_slots_set(l, 0, l), RCGC_OK);
  for (long i = 0; i < 50; i++) {
    pair *n = new_pair(&e, i);
    rcgc_set_ref(&n->a, l);
    CHECK_RC(rcgc_slots_set(l, (size_t)(i + 1), n), RCGC_OK);
    rcgc_decref(n);
  }
  for (long i = 0; i < 5; i++) {
    leaf *lf = new_leaf(&e, 100 + i);
    CHECK_RC(rcgc_slots_set(l, (size_t)(51 + i), lf), RCGC_OK);
    rcgc_decref(lf);
  }
  rcgc_decref(l);
  CHECK_EQ(heap_stats(e.h).live_objects, 56);
  CHECK_EQ(collect(e.h, 2), 51);
  check_each_destroyed_once(0, 49);
  check_each_destroyed_once(100, 104);
  CHECK_EQ(heap_stats(e.h).live_objects, 0);
  printf("slots 'list' holding itself, 50 pairs holding it back and 5 leaves: collect 51\n");

  /* Two slots rings joined by one edge: the downstream ring is garbage only
   * when the upstream one is. */
  void *r1[4], *r2[4];
  for (int i = 0; i < 4; i++) {
    r1[i] = rcgc_slots_new(e.h, 2);
    r2[i] = rcgc_slots_new(e.h, 2);
  }
  for (int i = 0; i < 4; i++) {
    CHECK_RC(rcgc_slots_set(r1[i], 0, r1[(i + 1) % 4]), RCGC_OK);
    CHECK_RC(rcgc_slots_set(r2[i], 0, r2[(i + 1) % 4]), RCGC_OK);
  }
  CHECK_RC(rcgc_slots_set(r1[2], 1, r2[3]), RCGC_OK);
  for (int i = 1; i < 4; i++) {
    rcgc_decref(r1[i]);
    rcgc_decref(r2[i]);
  }
  rcgc_decref(r2[0]);
  CHECK_EQ(collect(e.h, 2), 0); /* r1[0] held: both rings reachable */
  CHECK_RC(rcgc_slots_set(r1[2], 1, NULL), RCGC_OK);
  CHECK_EQ(collect(e.h, 2), 4); /* r2 cut off */
  CHECK_EQ(heap_stats(e.h).live_objects, 4);
  rcgc_decref(r1[0]);
  CHECK_EQ(collect(e.h, 2), 4);
  printf("two slots rings joined by one edge: 0, then 4 after the cut, then 4\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 7b. A set of slots objects alone is freed in one sweep (no clear runs for
 *     them): what it references from outside must lose exactly those
 *     references, and what they held last must go, running its callbacks,
 *     even callbacks that allocate.
 *   q = N(); q.a = 1.5; gc.collect()    # q is old now
 *   shared = 2.5; keep = N()
 *   ring = [[None] * 4 for _ in range(100)]
 *   for i, r in enumerate(ring):
 *       r[0] = ring[(i + 1) % 100]; r[1] = float(i); r[2] = shared; r[3] = keep
 *   ring[7][3] = q
 *   del q, ring, r
 *   gc.collect(0)                       # 100: q is freed by refcount, uncounted
 * ------------------------------------------------------------------------- */
static void *noisy_chain = NULL;
static rcgc_heap *noisy_heap = NULL;

/* A leaf whose destroy allocates: enough slots objects for a new pool
 * segment, kept until the collection is over. */
static void noisy_destroy(void *obj) {
  record_destroy(((leaf *)obj)->id);
  rcgc_heap *h = noisy_heap;
  for (int i = 0; i < 200000; i++) {
    void *n = rcgc_slots_new(h, 1);
    CHECK(n != NULL);
    if (noisy_chain) {
      CHECK_RC(rcgc_slots_set(n, 0, noisy_chain), RCGC_OK);
      rcgc_decref(noisy_chain);
    }
    noisy_chain = n;
  }
}

static void test_slots_sweep(void) {
  env e = setup();
  rcgc_type *noisy_t;
  rcgc_type_spec ns = {"noisy", sizeof(leaf), NULL, NULL, NULL, noisy_destroy};
  CHECK_RC(rcgc_type_register(e.h, &ns, &noisy_t), RCGC_OK);
  pair *q = new_pair(&e, 500);
  leaf *ql = new_leaf(&e, 501);
  rcgc_set_ref(&q->a, ql);
  rcgc_decref(ql);
  CHECK_EQ(collect(e.h, 2), 0); /* q is in generation 2 now */
  noisy_heap = e.h;

  leaf *shared = new_leaf(&e, 502);
  pair *keep = new_pair(&e, 503);
  leaf *noisy = (leaf *)rcgc_alloc(noisy_t);
  CHECK(noisy != NULL);
  noisy->id = 504;
  void *ring[100];
  for (int i = 0; i < 100; i++) {
    ring[i] = rcgc_slots_new(e.h, 4);
    CHECK(ring[i] != NULL);
  }
  for (int i = 0; i < 100; i++) {
    CHECK_RC(rcgc_slots_set(ring[i], 0, ring[(i + 1) % 100]), RCGC_OK);
    leaf *own = new_leaf(&e, i);
    CHECK_RC(rcgc_slots_set(ring[i], 1, own), RCGC_OK);
    rcgc_decref(own);
    CHECK_RC(rcgc_slots_set(ring[i], 2, shared), RCGC_OK);
    CHECK_RC(rcgc_slots_set(ring[i], 3, keep), RCGC_OK);
  }
  CHECK_RC(rcgc_slots_set(ring[7], 3, q), RCGC_OK);
  CHECK_RC(rcgc_slots_set(ring[50], 1, noisy), RCGC_OK); /* leaf 50 goes now */
  rcgc_decref(q);
  rcgc_decref(noisy);
  for (int i = 0; i < 100; i++) rcgc_decref(ring[i]);
  CHECK_EQ(destroyed[50], 1);
  CHECK_EQ(rcgc_refcount(shared), 101);
  CHECK_EQ(rcgc_refcount(keep), 100);
  /* the ring, 99 own leaves, noisy, shared, keep, q and its leaf */
  CHECK_EQ(heap_stats(e.h).live_objects, 100 + 99 + 5);

  CHECK_EQ(collect(e.h, 0), 100);
  for (long i = 0; i < 100; i++) CHECK_EQ(destroyed[i], 1);
  check_each_destroyed_once(500, 501); /* q, and the leaf only q held */
  check_each_destroyed_once(504, 504); /* noisy, whose destroy allocated */
  CHECK_EQ(destroyed[502], 0);
  CHECK_EQ(destroyed[503], 0);
  CHECK_EQ(rcgc_refcount(shared), 1);
  CHECK_EQ(rcgc_refcount(keep), 1);
  CHECK_EQ(heap_stats(e.h).live_objects, 2 + 200000);
  CHECK_EQ(heap_stats(e.h).tracked_objects, 1 + 200000);
  CHECK_EQ(rcgc_slots_len(noisy_chain), 1);

  rcgc_decref(noisy_chain);
  noisy_chain = NULL;
  rcgc_decref(shared);
  rcgc_decref(keep);
  CHECK_EQ(destroy_calls, 100 + 5);
  printf("a ring of 100 slots objects referencing old, shared and dying objects: collect(0) 100\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 8. A user type with traverse/clear holding a variable number of references
 *    (like a list).
 *   l = [1.5, 2.5, 'x']; l.append(l); del l
 *   gc.collect()                        # 1
 * ------------------------------------------------------------------------- */
static void test_user_type(void) {
  env e = setup();
  vec *v = new_vec(&e, 0, 4);
  for (long i = 0; i < 3; i++) {
    leaf *lf = new_leaf(&e, 1 + i);
    rcgc_set_ref(&v->items[i], lf);
    rcgc_decref(lf);
  }
  rcgc_set_ref(&v->items[3], v);
  rcgc_decref(v);
  CHECK_EQ(collect(e.h, 2), 1);
  check_each_destroyed_once(0, 3);

  /* A vec of 200 pairs each pointing back at the vec and at the next pair, the
   * last pair pointing at a second vec that holds untracked leaves. */
  vec *big = new_vec(&e, 10, 200);
  vec *other = new_vec(&e, 500, 10);
  for (long i = 0; i < 10; i++) {
    leaf *lf = new_leaf(&e, 600 + i);
    rcgc_set_ref(&other->items[i], lf);
    rcgc_decref(lf);
  }
  pair *prev = NULL;
  for (long i = 0; i < 200; i++) {
    pair *p = new_pair(&e, 11 + i);
    rcgc_set_ref(&p->a, big);
    rcgc_set_ref(&big->items[i], p);
    if (prev) rcgc_set_ref(&prev->b, p);
    prev = p;
    rcgc_decref(p);
  }
  rcgc_set_ref(&prev->b, other);
  rcgc_decref(other);
  CHECK_EQ(collect(e.h, 2), 0); /* big still held */
  CHECK_EQ(rcgc_refcount(big), 201);
  rcgc_decref(big);
  CHECK_EQ(collect(e.h, 2), 202); /* big + 200 pairs + other */
  check_each_destroyed_once(10, 210);
  CHECK_EQ(destroyed[500], 1);
  check_each_destroyed_once(600, 609);
  CHECK_EQ(destroy_calls, 4 + 202 + 10);
  printf("vec type (rcgc_alloc_var) with itself and 3 leaves: collect 1; vec + 200 pairs + vec "
         "of 10 leaves: collect 202\n");
  teardown(&e);
}

/* ---------------------------------------------------------------------------
 * 9. Repeated self-references and multi-edges: a pair whose a and b both point
 *    to the same partner, plus self-loops, counted once per object.
 *   x = N(); y = N(); x.a = x.b = y; y.a = y.b = x; del x, y
 *   gc.collect()                        # 2
 *   z = N(); z.a = z.b = z; del z
 *   gc.collect()                        # 1
 * ------------------------------------------------------------------------- */
static void test_multi_edges(void) {
  env e = setup();
  pair *x = new_pair(&e, 0), *y = new_pair(&e, 1), *z = new_pair(&e, 2);
  rcgc_set_ref(&x->a, y);
  rcgc_set_ref(&x->b, y);
  rcgc_set_ref(&y->a, x);
  rcgc_set_ref(&y->b, x);
  rcgc_set_ref(&z->a, z);
  rcgc_set_ref(&z->b, z);
  CHECK_EQ(rcgc_refcount(x), 3);
  CHECK_EQ(rcgc_refcount(z), 3);
  rcgc_decref(x);
  rcgc_decref(y);
  CHECK_EQ(collect(e.h, 2), 2);
  rcgc_decref(z);
  CHECK_EQ(collect(e.h, 0), 0); /* z survived the full collection: generation 2 */
  CHECK_EQ(collect(e.h, 2), 1);
  check_each_destroyed_once(0, 2);
  printf("double edges: 2-cycle collect 2, double self-loop collect 1\n");
  teardown(&e);
}

int main(void) {
  test_rings();
  test_external_ref();
  test_older_referrer();
  test_untracked_roots();
  test_spanning();
  test_tails();
  test_slots_graphs();
  test_slots_sweep();
  test_user_type();
  test_multi_edges();
  CHECK_DONE("test_collect");
}
