/* test_refs.c: types with declared references (rcgc_type_register_with_refs).
 *
 * A type declares the offsets of its reference fields instead of writing
 * traverse and clear; rcgc reads and clears those fields itself. Every count
 * below is the one CPython 3.11 gives for the same graph of
 *   class N: __slots__ = ('a', 'b')
 * objects (whose member slots CPython also traverses and clears for the
 * class), checked with python3 (CPython 3.11.7).
 */
#include <stddef.h>

#include "check.h"

/* Reference fields between plain data, declared out of order. */
typedef struct node {
  long id;
  void *a;
  long tag;
  void *b;
} node;

static const size_t node_refs[] = {offsetof(node, b), offsetof(node, a)};

#define MAX_IDS 64
static unsigned destroyed[MAX_IDS];
static unsigned finalized[MAX_IDS];
static void *resurrected = NULL;

static void leaf_destroy(void *obj) { destroyed[*(long *)obj]++; }
static void node_destroy(void *obj) { destroyed[((node *)obj)->id]++; }
static void node_finalize(void *obj) {
  node *n = obj;
  finalized[n->id]++;
  if (n->tag == 1) { /* resurrect: keep a new reference */
    rcgc_incref(n);
    resurrected = n;
  }
}

typedef struct env {
  rcgc_heap *h;
  rcgc_type *node_t, *fin_t, *des_t, *leaf_t;
} env;

static env setup(void) {
  env e;
  memset(destroyed, 0, sizeof destroyed);
  memset(finalized, 0, sizeof finalized);
  e.h = rcgc_heap_new();
  CHECK(e.h != NULL);
  CHECK_RC(rcgc_disable(e.h), RCGC_OK);
  rcgc_type_spec ns = {.name = "node", .size = sizeof(node)};
  CHECK_RC(rcgc_type_register_with_refs(e.h, &ns, node_refs, 2, &e.node_t), RCGC_OK);
  rcgc_type_spec fs = {.name = "fin", .size = sizeof(node), .finalize = node_finalize};
  CHECK_RC(rcgc_type_register_with_refs(e.h, &fs, node_refs, 2, &e.fin_t), RCGC_OK);
  rcgc_type_spec ds = {.name = "des", .size = sizeof(node), .destroy = node_destroy};
  CHECK_RC(rcgc_type_register_with_refs(e.h, &ds, node_refs, 2, &e.des_t), RCGC_OK);
  rcgc_type_spec ls = {.name = "leaf", .size = sizeof(long), .destroy = leaf_destroy};
  CHECK_RC(rcgc_type_register(e.h, &ls, &e.leaf_t), RCGC_OK);
  return e;
}

static size_t collect(rcgc_heap *h) {
  size_t n = (size_t)-1;
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  return n;
}

static void teardown(env *e) {
  rcgc_heap_stats st = heap_stats(e->h);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.tracked_objects, 0);
  rcgc_heap_free(e->h);
}

static node *new_node(rcgc_type *t, long id, long tag) {
  node *n = rcgc_alloc(t);
  CHECK(n != NULL);
  CHECK(rcgc_is_tracked(n));
  CHECK(n->a == NULL && n->b == NULL);
  n->id = id;
  n->tag = tag;
  return n;
}

static long *new_leaf(env *e, long id) {
  long *l = rcgc_alloc(e->leaf_t);
  CHECK(l != NULL);
  *l = id;
  return l;
}

/* 1. What registration refuses, each with its reason. */
static void test_register_errors(void) {
  rcgc_heap *h = rcgc_heap_new();
  CHECK(h != NULL);
  rcgc_type *t = NULL;
  rcgc_type_spec ok = {.name = "n", .size = sizeof(node)};
  size_t one = offsetof(node, a);
  CHECK_RC(rcgc_type_register_with_refs(NULL, &ok, &one, 1, &t), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_type_register_with_refs(h, NULL, &one, 1, &t), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, NULL, 1, &t), RCGC_ERR_NULL_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "offsets");
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, &one, 1, NULL), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, NULL, 0, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "no reference offsets");

  rcgc_type_spec with_clear = ok;
  with_clear.clear = leaf_destroy;
  CHECK_RC(rcgc_type_register_with_refs(h, &with_clear, &one, 1, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "traverse and clear must be NULL");

  size_t odd = 4, past = sizeof(node), last = sizeof(node) - sizeof(void *);
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, &odd, 1, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "multiple of the pointer size");
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, &past, 1, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "does not fit in size");
  size_t twice[] = {offsetof(node, b), offsetof(node, a), offsetof(node, b)};
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, twice, 3, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "appears twice");
  size_t many[5] = {0, 8, 16, 24, 32};
  CHECK_RC(rcgc_type_register_with_refs(h, &ok, many, 5, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "more reference fields");
  rcgc_type_spec big = {.name = "big", .size = 600};
  size_t far = 64 * sizeof(void *), near = 63 * sizeof(void *);
  CHECK_RC(rcgc_type_register_with_refs(h, &big, &far, 1, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(rcgc_last_error(), "first 64 words");
  rcgc_type_spec no_name = {.name = NULL, .size = sizeof(node)};
  CHECK_RC(rcgc_type_register_with_refs(h, &no_name, &one, 1, &t), RCGC_ERR_INVALID_ARGUMENT);
  CHECK(t == NULL); /* written only on success */

  CHECK_RC(rcgc_type_register_with_refs(h, &ok, &last, 1, &t), RCGC_OK);
  CHECK(t != NULL);
  CHECK_STREQ(rcgc_type_name(t), "n");
  /* The last word that may be a reference: a self-cycle through it. */
  CHECK_RC(rcgc_type_register_with_refs(h, &big, &near, 1, &t), RCGC_OK);
  void *o = rcgc_alloc(t);
  CHECK(o != NULL);
  rcgc_set_ref((void **)((char *)o + near), o);
  rcgc_decref(o);
  size_t found = 0;
  CHECK_RC(rcgc_collect(h, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  rcgc_heap_free(h);
  printf("registration: NULLs, no offsets, callbacks, misaligned, outside, past 64 words, twice, too many refused\n");
}

/* 2. Cycles, held and unheld, and the plain data beside the references.
 *   a = N(); b = N(); a.a = b; b.b = a; s = N(); s.a = s
 *   gc.collect() == 0
 *   del a, b, s; gc.collect() == 3 */
static void test_cycles(void) {
  env e = setup();
  node *a = new_node(e.node_t, 1, 11), *b = new_node(e.node_t, 2, 22);
  node *s = new_node(e.node_t, 3, 33);
  rcgc_set_ref(&a->a, b);
  rcgc_set_ref(&b->b, a);
  rcgc_set_ref(&s->a, s);
  CHECK_EQ(collect(e.h), 0);
  CHECK(a->a == b && b->b == a && s->a == s);
  CHECK_EQ(a->id, 1);
  CHECK_EQ(b->tag, 22);
  CHECK_EQ(rcgc_refcount(a), 2);
  rcgc_decref(a);
  rcgc_decref(b);
  rcgc_decref(s);
  CHECK_EQ(heap_stats(e.h).live_objects, 3);
  CHECK_EQ(collect(e.h), 3);
  teardown(&e);
  printf("2-cycle and self-cycle: collect 0 while held, 3 after\n");
}

/* 3. rcgc_get_referents reports the declared fields, the ones set. */
static void count_referent(void *obj, void *ctx) {
  (void)obj;
  (*(int *)ctx)++;
}

static void test_referents(void) {
  env e = setup();
  node *a = new_node(e.node_t, 1, 0), *b = new_node(e.node_t, 2, 0);
  int n = 0;
  CHECK_RC(rcgc_get_referents(a, count_referent, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  rcgc_set_ref(&a->b, b);
  n = 0;
  CHECK_RC(rcgc_get_referents(a, count_referent, &n), RCGC_OK);
  CHECK_EQ(n, 1);
  rcgc_set_ref(&a->a, a);
  n = 0;
  CHECK_RC(rcgc_get_referents(a, count_referent, &n), RCGC_OK);
  CHECK_EQ(n, 2);
  rcgc_clear_ref(&a->a);
  rcgc_decref(a); /* frees a, which drops b */
  CHECK_EQ(rcgc_refcount(b), 1);
  rcgc_decref(b);
  teardown(&e);
  printf("referents: the declared fields that are set\n");
}

/* 4. Freeing by refcount drops every declared field, without recursion:
 *    a chain of 1,000,000 through b, and leaves hung on a. */
static void test_chain(void) {
  env e = setup();
  node *head = NULL;
  for (long i = 0; i < 1000000; i++) {
    node *n = new_node(e.node_t, 0, i);
    n->b = head; /* hands over our reference */
    if (i % 100000 == 0) {
      long *l = new_leaf(&e, i / 100000);
      n->a = l;
    }
    head = n;
  }
  CHECK_EQ(heap_stats(e.h).live_objects, 1000010);
  rcgc_decref(head);
  for (int i = 0; i < 10; i++) CHECK_EQ(destroyed[i], 1);
  teardown(&e);
  printf("a chain of 1,000,000 with 10 leaves freed by one decref\n");
}

/* 5. Garbage swept in one go (no destroy): what it references from outside
 *    loses exactly those references; what only it held goes.
 *   keep = N(); ring = [N() for _ in range(10)]
 *   for i, r in enumerate(ring): r.a = ring[(i + 1) % 10]; r.b = keep
 *   ring[3].b = 1.5; del ring, r
 *   gc.collect() == 10; sys.getrefcount(keep) - 1 == 1 */
static void test_sweep(void) {
  env e = setup();
  node *keep = new_node(e.node_t, 0, 0);
  node *ring[10];
  for (int i = 0; i < 10; i++) ring[i] = new_node(e.node_t, i, 0);
  for (int i = 0; i < 10; i++) {
    rcgc_set_ref(&ring[i]->a, ring[(i + 1) % 10]);
    rcgc_set_ref(&ring[i]->b, keep);
  }
  long *leaf = new_leaf(&e, 5);
  rcgc_set_ref(&ring[3]->b, leaf);
  rcgc_decref(leaf);
  for (int i = 0; i < 10; i++) rcgc_decref(ring[i]);
  CHECK_EQ(rcgc_refcount(keep), 10);
  CHECK_EQ(collect(e.h), 10);
  CHECK_EQ(destroyed[5], 1);
  CHECK_EQ(rcgc_refcount(keep), 1);
  CHECK_EQ(heap_stats(e.h).live_objects, 1);
  rcgc_decref(keep);
  teardown(&e);
  printf("a ring of 10 holding an outside object and a leaf: collect 10, the leaf freed\n");
}

/* 6. destroy runs for every garbage object; a finalizer runs once and may
 *    resurrect; a mixed set (declared references and a destroy type).
 *   class F(N): def __del__(self): ...   (resurrects when tag == 1)
 *   f = F(); f.a = f; f.tag = 1; del f; gc.collect() == 0   (resurrected)
 *   del keep; gc.collect() == 1; the finalizer does not run again */
static void test_callbacks(void) {
  env e = setup();
  node *d1 = new_node(e.des_t, 1, 0), *d2 = new_node(e.des_t, 2, 0);
  node *n3 = new_node(e.node_t, 3, 0);
  rcgc_set_ref(&d1->a, d2);
  rcgc_set_ref(&d2->a, n3);
  rcgc_set_ref(&n3->b, d1);
  rcgc_decref(d1);
  rcgc_decref(d2);
  rcgc_decref(n3);
  CHECK_EQ(collect(e.h), 3);
  CHECK_EQ(destroyed[1], 1);
  CHECK_EQ(destroyed[2], 1);
  CHECK_EQ(heap_stats(e.h).live_objects, 0);

  node *f = new_node(e.fin_t, 4, 1);
  rcgc_set_ref(&f->a, f);
  rcgc_decref(f);
  CHECK_EQ(collect(e.h), 0);
  CHECK_EQ(finalized[4], 1);
  CHECK(resurrected == f);
  CHECK(f->a == f); /* not cleared */
  CHECK(rcgc_is_finalized(f));
  rcgc_decref(resurrected);
  resurrected = NULL;
  CHECK_EQ(collect(e.h), 1);
  CHECK_EQ(finalized[4], 1);

  node *g = new_node(e.fin_t, 5, 0);
  rcgc_set_ref(&g->b, g);
  rcgc_decref(g);
  CHECK_EQ(collect(e.h), 1);
  CHECK_EQ(finalized[5], 1);
  teardown(&e);
  printf("destroy per object, a finalizer that resurrects once, a mixed set: 3, 0, 1, 1\n");
}

/* 7. A weak reference to swept garbage is cleared and called back.
 *   a = N(); a.a = a; r = weakref.ref(a, cb); del a
 *   gc.collect() == 1; cb ran once; r() is None */
static int called = 0;
static void on_dead(void *wr, void *ctx) {
  (void)ctx;
  CHECK(rcgc_weakref_get(wr) == NULL);
  called++;
}

static void test_weakref(void) {
  env e = setup();
  node *a = new_node(e.node_t, 1, 0);
  rcgc_set_ref(&a->a, a);
  void *wr = rcgc_weakref_new(a, on_dead, NULL);
  CHECK(wr != NULL);
  rcgc_decref(a);
  CHECK_EQ(collect(e.h), 1);
  CHECK_EQ(called, 1);
  CHECK(rcgc_weakref_get(wr) == NULL);
  rcgc_decref(wr);
  teardown(&e);
  printf("a weak reference to a swept self-cycle: collect 1, called back once\n");
}

/* 8. rcgc_alloc_var: the payload beyond the declared fields is the
 *    program's; rcgc never reads it as references. */
static void test_var(void) {
  env e = setup();
  node *n = rcgc_alloc_var(e.node_t, sizeof(node) + 64);
  CHECK(n != NULL);
  memset((char *)n + sizeof(node), 0xAB, 64); /* not pointers */
  rcgc_set_ref(&n->a, n);
  rcgc_decref(n);
  CHECK_EQ(collect(e.h), 1);
  teardown(&e);
  printf("a larger payload's extra bytes are not references: collect 1\n");
}

/* 9. The heap picture numbers a reference by its field's rank among the
 *    declared fields, in payload order (a before b), empty fields counted:
 *    with a empty, the reference in b is [1]. */
typedef struct text {
  char buf[4096];
  size_t len;
} text;

static int append_text(const char *chunk, size_t len, void *ctx) {
  text *t = ctx;
  CHECK(t->len + len < sizeof t->buf);
  memcpy(t->buf + t->len, chunk, len);
  t->len += len;
  t->buf[t->len] = '\0';
  return 0;
}

static text graph_of(rcgc_heap *h, void *root) {
  text t = {.len = 0};
  void *roots[] = {root};
  CHECK_RC(rcgc_export_graph(h, RCGC_GRAPH_JSON, roots, 1, append_text, &t), RCGC_OK);
  return t;
}

static void test_graph_positions(void) {
  env e = setup();
  node *n = new_node(e.node_t, 1, 0), *m = new_node(e.node_t, 2, 0);
  rcgc_set_ref(&n->b, m);
  text t = graph_of(e.h, n);
  CHECK_CONTAINS(t.buf, "\"index\":1}");
  CHECK(strstr(t.buf, "\"index\":0}") == NULL);
  rcgc_set_ref(&n->a, m);
  rcgc_clear_ref(&n->b);
  t = graph_of(e.h, n);
  CHECK_CONTAINS(t.buf, "\"index\":0}");
  CHECK(strstr(t.buf, "\"index\":1}") == NULL);
  rcgc_decref(m);
  rcgc_decref(n);
  teardown(&e);
  printf("heap picture: a reference in b is [1] whether a is empty or not\n");
}

int main(void) {
  test_register_errors();
  test_cycles();
  test_referents();
  test_chain();
  test_sweep();
  test_callbacks();
  test_weakref();
  test_var();
  test_graph_positions();
  CHECK_DONE("test_refs");
}
