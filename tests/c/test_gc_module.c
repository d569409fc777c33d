/* The rest of Python's gc module: get_stats, callbacks, freeze/unfreeze/
 * get_freeze_count (with the copy-on-write promise checked across fork()),
 * get_objects, get_referrers, get_referents, is_finalized. Each check names
 * the CPython 3.11 snippet it mirrors and what CPython gives. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static rcgc_heap *fresh_heap(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  return heap;
}

static void *cycle2(rcgc_heap *heap) {
  void *a = rcgc_slots_new(heap, 2), *b = rcgc_slots_new(heap, 2);
  CHECK_RC(rcgc_slots_set(a, 0, b), RCGC_OK);
  CHECK_RC(rcgc_slots_set(b, 0, a), RCGC_OK);
  rcgc_decref(b);
  return a; /* the caller holds a */
}

/* gc.get_stats(): cumulative per generation. */
static void stats(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_gen_stats s = {.struct_size = sizeof s};
  CHECK_RC(rcgc_get_stats(heap, 1, &s), RCGC_OK);
  CHECK_EQ(s.collections, 0);
  rcgc_decref(cycle2(heap));
  void *live = rcgc_slots_new(heap, 1);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_RC(rcgc_get_stats(heap, 1, &s), RCGC_OK);
  CHECK_EQ(s.struct_size, sizeof s);
  CHECK_EQ(s.collections, 2);
  CHECK_EQ(s.collected, 2);
  CHECK_EQ(s.uncollectable, 0);
  CHECK_EQ(s.candidates, 3); /* the cycle and `live`; the second found nothing: `live` went to generation 2 */
  CHECK(s.duration_ns > 0);
  CHECK_RC(rcgc_get_stats(heap, 0, &s), RCGC_OK);
  CHECK_EQ(s.collections, 0); /* collections of generation 1 count for generation 1 only */
  CHECK_RC(rcgc_get_stats(heap, 3, &s), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_RC(rcgc_get_stats(heap, 0, NULL), RCGC_ERR_NULL_ARGUMENT);
  s.struct_size = 8;
  CHECK_RC(rcgc_get_stats(heap, 0, &s), RCGC_ERR_INVALID_ARGUMENT);
  rcgc_decref(live);
  rcgc_heap_free(heap);
}

/* gc.callbacks:
 *   log = []; gc.callbacks.append(lambda p, i: log.append((p, i['generation'], i['collected'])))
 *   a = N(); b = N(); a.a = b; b.a = a; del a, b; gc.collect(1)
 *   log == [('start', 1, 0), ('stop', 1, 2)]            (CPython 3.11) */
typedef struct { int phase[8]; int generation[8]; size_t collected[8]; int n; rcgc_heap *heap; } cb_log;

static void log_callback(rcgc_gc_phase phase, const rcgc_gc_info *info, void *ctx) {
  cb_log *log = ctx;
  if (log->n < 8) {
    log->phase[log->n] = (int)phase;
    log->generation[log->n] = info->generation;
    log->collected[log->n] = info->collected;
    log->n++;
  }
  /* Inside a callback, a collection is refused and allocation works. */
  CHECK_RC(rcgc_collect(log->heap, 0, NULL), RCGC_ERR_REENTRANT);
  void *tmp = rcgc_slots_new(log->heap, 1);
  CHECK(tmp != NULL);
  rcgc_decref(tmp);
}

static void callbacks(void) {
  rcgc_heap *heap = fresh_heap();
  cb_log log = {.heap = heap};
  CHECK_RC(rcgc_add_callback(heap, log_callback, &log), RCGC_OK);
  rcgc_decref(cycle2(heap));
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  CHECK_EQ(log.n, 2);
  CHECK_EQ(log.phase[0], RCGC_GC_START);
  CHECK_EQ(log.generation[0], 1);
  CHECK_EQ(log.collected[0], 0);
  CHECK_EQ(log.phase[1], RCGC_GC_STOP);
  CHECK_EQ(log.generation[1], 1);
  CHECK_EQ(log.collected[1], 2);
  /* Automatic collections call them too: with threshold 1 the second
   * allocation collects (under the stress-gc build, both do). */
  const int automatic = getenv("RCGC_STRESS_GC") ? 2 : 1;
  CHECK_RC(rcgc_enable(heap), RCGC_OK);
  CHECK_RC(rcgc_set_threshold(heap, 1, 10, 10), RCGC_OK);
  void *a = rcgc_slots_new(heap, 0), *b = rcgc_slots_new(heap, 0);
  CHECK_EQ(log.n, 2 + 2 * automatic);
  CHECK_EQ(log.generation[2], 0);
  CHECK_RC(rcgc_disable(heap), RCGC_OK);
  /* gc.callbacks.remove(cb); removing it again is an error (ValueError). */
  CHECK_RC(rcgc_remove_callback(heap, log_callback, &log), RCGC_OK);
  CHECK_RC(rcgc_remove_callback(heap, log_callback, &log), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_RC(rcgc_add_callback(heap, NULL, NULL), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_collect(heap, 0, &found), RCGC_OK);
  CHECK_EQ(log.n, 2 + 2 * automatic);
  rcgc_decref(a);
  rcgc_decref(b);
  rcgc_heap_free(heap);
}

/* gc.freeze():
 *   x = N(); x.a = x; gc.freeze(); gc.get_count() == (0, 0, 0)
 *   del x; gc.collect() == 0        (frozen: ignored)
 *   gc.unfreeze(); gc.get_freeze_count() == 0; gc.collect() == 1   (CPython 3.11) */
static void freeze(void) {
  rcgc_heap *heap = fresh_heap();
  void *x = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_slots_set(x, 0, x), RCGC_OK);
  CHECK_COUNTS(heap, 1, 0, 0);
  CHECK_RC(rcgc_freeze(heap), RCGC_OK);
  CHECK_EQ(rcgc_get_freeze_count(heap), 1);
  CHECK_COUNTS(heap, 0, 0, 0);
  CHECK(rcgc_is_tracked(x));
  rcgc_decref(x);
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  CHECK_RC(rcgc_unfreeze(heap), RCGC_OK);
  CHECK_EQ(rcgc_get_freeze_count(heap), 0);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  /* An untracked frozen object leaves the permanent generation. */
  void *y = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_freeze(heap), RCGC_OK);
  CHECK_RC(rcgc_untrack(y), RCGC_OK);
  CHECK_EQ(rcgc_get_freeze_count(heap), 0);
  rcgc_decref(y);
  rcgc_heap_free(heap);
}

/* After freeze() and fork(), the child's collections never write to a frozen
 * object: the child makes the frozen objects' pages read-only, so a write
 * would kill it with SIGSEGV. The frozen objects are 32-byte slots objects;
 * the child allocates only 80-byte ones, which live in other arenas. */
#define FROZEN 2000
static void *frozen[FROZEN];

static void protect_frozen(void) {
  long page = sysconf(_SC_PAGESIZE);
  for (int i = 0; i < FROZEN; i++) {
    uintptr_t start = ((uintptr_t)frozen[i] - 16) & ~(uintptr_t)(page - 1);
    CHECK(mprotect((void *)start, (size_t)page, PROT_READ) == 0);
  }
}

static int run_child(rcgc_heap *heap, int touch_frozen) {
  pid_t child = fork();
  if (child == 0) {
    protect_frozen();
    if (touch_frozen) rcgc_incref(frozen[7]); /* a write: must crash */
    for (int round = 0; round < 5; round++) {
      for (int i = 0; i < 300; i++) {
        void *a = rcgc_slots_new(heap, 7), *b = rcgc_slots_new(heap, 7);
        if (rcgc_slots_set(a, 0, b) || rcgc_slots_set(b, 0, a)) _exit(3);
        rcgc_decref(a);
        rcgc_decref(b);
      }
      size_t found = 0;
      if (rcgc_collect(heap, round % 3, &found) != RCGC_OK) _exit(4);
    }
    size_t found = 0;
    if (rcgc_collect(heap, 2, &found) != RCGC_OK || found != 0) _exit(5);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  return status;
}

static void freeze_across_fork(void) {
  rcgc_heap *heap = fresh_heap();
  for (int i = 0; i < FROZEN; i++) {
    frozen[i] = rcgc_slots_new(heap, 2);
    if (i > 0) CHECK_RC(rcgc_slots_set(frozen[i], 0, frozen[i - 1]), RCGC_OK);
    if (i % 2) CHECK_RC(rcgc_slots_set(frozen[i], 1, frozen[i]), RCGC_OK);
  }
  CHECK_RC(rcgc_freeze(heap), RCGC_OK);
  CHECK_EQ(rcgc_get_freeze_count(heap), FROZEN);
  if (getenv("RCGC_UNDER_VALGRIND") == NULL) { /* valgrind does not model mprotect faults the same way */
    int status = run_child(heap, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    status = run_child(heap, 1); /* the instrument works: a write does crash */
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
  }
  for (int i = 0; i < FROZEN; i++) rcgc_decref(frozen[i]);
  rcgc_heap_free(heap);
}

/* gc.get_objects(generation), gc.get_referents(obj), gc.get_referrers(obj):
 *   p = N(); q = N(); p.a = q; p.b = q
 *   len(gc.get_referents(p)) == 3 in CPython (q, q and the type N; rcgc types
 *   are not objects, so rcgc reports 2); [r for r in gc.get_referrers(q) if r is p] == [p] */
typedef struct { void *seen[64]; int n; } seen_list;

static void remember(void *obj, void *ctx) {
  seen_list *list = ctx;
  CHECK(rcgc_refcount(obj) >= 2); /* held by rcgc during the call */
  if (list->n < 64) list->seen[list->n++] = obj;
}

static int count_of(const seen_list *list, const void *obj) {
  int n = 0;
  for (int i = 0; i < list->n; i++) n += list->seen[i] == obj;
  return n;
}

static void introspection(void) {
  rcgc_heap *heap = fresh_heap();
  void *p = rcgc_slots_new(heap, 2), *q = rcgc_slots_new(heap, 0), *r = rcgc_slots_new(heap, 1);
  CHECK_RC(rcgc_slots_set(p, 0, q), RCGC_OK);
  CHECK_RC(rcgc_slots_set(p, 1, q), RCGC_OK);
  CHECK_RC(rcgc_slots_set(r, 0, q), RCGC_OK);

  seen_list list = {{0}, 0};
  CHECK_RC(rcgc_get_referents(p, remember, &list), RCGC_OK);
  CHECK_EQ(list.n, 2);
  CHECK_EQ(count_of(&list, q), 2);

  list.n = 0;
  CHECK_RC(rcgc_get_referrers(heap, q, remember, &list), RCGC_OK);
  CHECK_EQ(list.n, 2);
  CHECK_EQ(count_of(&list, p), 1);
  CHECK_EQ(count_of(&list, r), 1);

  list.n = 0;
  CHECK_RC(rcgc_get_objects(heap, -1, remember, &list), RCGC_OK);
  CHECK_EQ(list.n, 3);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 0, &found), RCGC_OK); /* all three move to generation 1 */
  list.n = 0;
  CHECK_RC(rcgc_get_objects(heap, 0, remember, &list), RCGC_OK);
  CHECK_EQ(list.n, 0);
  CHECK_RC(rcgc_get_objects(heap, 1, remember, &list), RCGC_OK);
  CHECK_EQ(list.n, 3);
  CHECK_RC(rcgc_get_objects(heap, 3, remember, &list), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_RC(rcgc_get_objects(heap, -2, remember, &list), RCGC_ERR_INVALID_ARGUMENT);
  CHECK_RC(rcgc_get_objects(heap, -1, NULL, &list), RCGC_ERR_NULL_ARGUMENT);
  CHECK_RC(rcgc_get_referents(NULL, remember, &list), RCGC_ERR_NULL_ARGUMENT);
  CHECK_EQ(rcgc_refcount(q), 4); /* the references taken during the calls are gone */

  rcgc_decref(p);
  rcgc_decref(q);
  rcgc_decref(r);
  rcgc_heap_free(heap);
}

/* gc.is_finalized(obj): False until its finalizer ran (PEP 442 resurrection). */
static void *resurrected;
static void keep_finalize(void *obj) {
  rcgc_incref(obj);
  resurrected = obj;
}

static void is_finalized(void) {
  rcgc_heap *heap = fresh_heap();
  rcgc_type_spec spec = {"Phoenix", 16, NULL, NULL, keep_finalize, NULL};
  rcgc_type *type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  void *x = rcgc_alloc(type);
  CHECK(!rcgc_is_finalized(x));
  rcgc_decref(x); /* finalized, resurrected */
  CHECK(resurrected == x);
  CHECK(rcgc_is_finalized(x));
  CHECK(!rcgc_is_finalized(NULL));
  rcgc_decref(x); /* dies for good: finalize does not run again */
  rcgc_heap_free(heap);
}

int main(void) {
  stats();
  callbacks();
  freeze();
  freeze_across_fork();
  introspection();
  is_finalized();
  CHECK_DONE("test_gc_module");
}
