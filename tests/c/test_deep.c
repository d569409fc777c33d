/* test_deep.c: nothing recurses on the C stack.  On an 8 MiB stack (the test
 * runs on a thread created with exactly 8 MiB, whatever `ulimit -s` says):
 *   - one decref frees a chain of 10,000,000 objects;
 *   - a full collection traverses a live chain 10,000,000 deep (frees nothing);
 *   - a full collection finds a 10,000,000-long unreachable cycle;
 *   - the same (2,000,000 long) with a finalizer on every object, and a chain
 *     of slots objects.
 * Under valgrind (RCGC_UNDER_VALGRIND set) N is 200,000 instead of 10,000,000.
 *
 * CPython 3.11 equivalent (it survives the first thanks to its trashcan; with
 * __slots__ objects):
 *   class N: __slots__ = ('a',)
 *   head = None
 *   for i in range(10_000_000):
 *       n = N(); n.a = head; head = n
 *   gc.collect()                         # 0
 *   del head, n                          # frees all 10,000,000
 *   first = last = N()
 *   for i in range(10_000_000 - 1):
 *       n = N(); n.a = first; first = n
 *   last.a = first; del first, last, n
 *   gc.collect()                         # 10000000
 * (run with python3, 1,000,000 instead of 10,000,000 to keep it quick:
 *  0 and 1000000.)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

typedef struct link {
  void *next;
} link;

static size_t destroyed = 0;

static void link_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  link *l = (link *)obj;
  if (l->next) visit(l->next, ctx);
}
static void link_clear(void *obj) { rcgc_clear_ref(&((link *)obj)->next); }
static void link_destroy(void *obj) {
  (void)obj;
  destroyed++;
}

static size_t finalized = 0;
static void link_finalize(void *obj) {
  (void)obj;
  finalized++;
}

static size_t N = 10000000;

/* Builds a chain of n objects; returns the head (the only external reference).
 * Each new object takes over our reference to the previous head. */
static link *build_chain(rcgc_type *t, size_t n, link **tail_out) {
  link *head = NULL, *tail = NULL;
  for (size_t i = 0; i < n; i++) {
    link *l = (link *)rcgc_alloc(t);
    if (l == NULL) {
      fprintf(stderr, "allocation %zu failed: %s\n", i, rcgc_last_error());
      exit(1);
    }
    l->next = head; /* moves our reference */
    if (tail == NULL) tail = l;
    head = l;
  }
  if (tail_out) *tail_out = tail;
  return head;
}

static void *run(void *arg) {
  (void)arg;
  rcgc_heap *h = rcgc_heap_new();
  CHECK(h != NULL);
  rcgc_type *t = NULL;
  rcgc_type_spec spec = {"link", sizeof(link), link_traverse, link_clear, NULL, link_destroy};
  CHECK_RC(rcgc_type_register(h, &spec, &t), RCGC_OK);

  /* Automatic collection off: building 10,000,000 objects with it on takes
   * ~13 s in a debug build (test_counts covers automatic collection). Every
   * object therefore stays in generation 0 until collected. */
  CHECK_RC(rcgc_disable(h), RCGC_OK);

  /* 1. A single decref frees the whole chain. */
  link *tail = NULL;
  link *head = build_chain(t, N, &tail);
  rcgc_heap_stats st = heap_stats(h);
  CHECK_EQ(st.live_objects, N);
  CHECK_EQ(st.tracked_objects, N);
  CHECK_EQ(destroyed, 0);
  CHECK_EQ(rcgc_refcount(head), 1);
  CHECK_EQ(rcgc_refcount(tail), 1);
  rcgc_decref(head);
  CHECK_EQ(destroyed, N);
  st = heap_stats(h);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.tracked_objects, 0);
  CHECK_EQ(st.bytes_in_use, 0);
  CHECK_EQ(st.allocated_total, N);
  CHECK_EQ(st.freed_total, N);
  printf("one decref freed a chain of %zu objects\n", N);

  /* 2. A collection of generation 0 (where the whole chain is) and then a full
   *    collection over a live chain N deep free nothing. */
  destroyed = 0;
  CHECK_COUNTS(h, 0, 0, 0);
  head = build_chain(t, N, &tail);
  CHECK_COUNTS(h, N, 0, 0);
  size_t n = 1;
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  CHECK_EQ(destroyed, 0);
  st = heap_stats(h);
  CHECK_EQ(st.live_objects, N);
  CHECK_EQ(st.tracked_objects, N);
  printf("collect(0) and collect(2) over a live chain %zu deep: 0 found, nothing freed\n", N);

  /* 3. Close the chain into a cycle and drop it: a full collection finds
   *    exactly N unreachable objects. */
  rcgc_set_ref(&tail->next, head);
  rcgc_decref(head);
  CHECK_EQ(destroyed, 0);
  CHECK_EQ(heap_stats(h).live_objects, N);
  CHECK_RC(rcgc_collect(h, 0, &n), RCGC_OK); /* all in generation 2: nothing */
  CHECK_EQ(n, 0);
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, N);
  CHECK_EQ(destroyed, N);
  st = heap_stats(h);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.tracked_objects, 0);
  CHECK_EQ(st.bytes_in_use, 0);
  printf("a %zu-long unreachable cycle: collect(2) returned %zu, all destroyed\n", N, N);

  /* 4. The same with a finalizer on every object: finalize runs once per
   *    object, with no nesting, both for a refcount cascade and for a
   *    collection of a cycle.  2,000,000 objects (40,000 under valgrind) to
   *    keep the debug-build run short. */
  size_t N2 = N / 5;
  rcgc_type *ft = NULL;
  rcgc_type_spec fspec = {"flink", sizeof(link), link_traverse, link_clear, link_finalize,
                          link_destroy};
  CHECK_RC(rcgc_type_register(h, &fspec, &ft), RCGC_OK);
  destroyed = 0;
  finalized = 0;
  head = build_chain(ft, N2, &tail);
  rcgc_decref(head);
  CHECK_EQ(finalized, N2);
  CHECK_EQ(destroyed, N2);
  CHECK_EQ(heap_stats(h).live_objects, 0);
  printf("one decref freed a chain of %zu objects with finalizers: %zu finalized\n", N2, N2);
  destroyed = 0;
  finalized = 0;
  head = build_chain(ft, N2, &tail);
  rcgc_set_ref(&tail->next, head);
  rcgc_decref(head);
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, N2);
  CHECK_EQ(finalized, N2);
  CHECK_EQ(destroyed, N2);
  CHECK_EQ(heap_stats(h).live_objects, 0);
  printf("a %zu-long cycle with finalizers: collect(2) returned %zu\n", N2, N2);

  /* 5. A chain of slots objects (rcgc's own traverse and clear). */
  void *shead = NULL;
  for (size_t i = 0; i < N2; i++) {
    void *s = rcgc_slots_new(h, 1);
    if (s == NULL) {
      fprintf(stderr, "slots allocation %zu failed: %s\n", i, rcgc_last_error());
      exit(1);
    }
    if (shead != NULL) {
      CHECK_RC(rcgc_slots_set(s, 0, shead), RCGC_OK);
      rcgc_decref(shead);
    }
    shead = s;
  }
  CHECK_EQ(heap_stats(h).live_objects, N2);
  CHECK_RC(rcgc_collect(h, 2, &n), RCGC_OK);
  CHECK_EQ(n, 0);
  rcgc_decref(shead);
  st = heap_stats(h);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.bytes_in_use, 0);
  printf("a chain of %zu slots objects: collect(2) 0, one decref freed it\n", N2);

  rcgc_heap_free(h);
  return NULL;
}

int main(void) {
  if (getenv("RCGC_UNDER_VALGRIND") != NULL) N = 200000;
  pthread_attr_t attr;
  CHECK(pthread_attr_init(&attr) == 0);
  CHECK(pthread_attr_setstacksize(&attr, 8u * 1024 * 1024) == 0);
  pthread_t th;
  CHECK(pthread_create(&th, &attr, run, NULL) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  pthread_attr_destroy(&attr);
  CHECK_DONE("test_deep");
}
