/* Every reachable error of rcgc: NULL arguments, out-of-range values, invalid
 * type specs and configs, objects of another heap, the memory limit, calls from
 * inside callbacks, refcount misuse. Each failing call is checked for its exact
 * code, rcgc_last_error_code(), and a rcgc_last_error() that starts with the
 * function's name. (RCGC_ERR_PANIC is not reachable from valid C code.) */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static unsigned long cases = 0;

static int all_zero_bytes(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

/* Does `message` start with `fname` followed by a non-identifier character? */
static int names_function(const char *message, const char *fname) {
  size_t n = strlen(fname);
  if (message == NULL || strncmp(message, fname, n) != 0) return 0;
  char next = message[n];
  return !(next == '_' || (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
           (next >= '0' && next <= '9'));
}

/* Leaves a known error behind, from another function, so a call that fails to
 * record its own error cannot pass on a stale message. */
static void prime(const char *fname) {
  rcgc_result r = strcmp(fname, "rcgc_enable") != 0 ? rcgc_enable(NULL) : rcgc_disable(NULL);
  CHECK_EQ(r, RCGC_ERR_NULL_ARGUMENT);
  CHECK(!names_function(rcgc_last_error(), fname));
}

static void expect_error(const char *file, int line, const char *call, int failed,
                         rcgc_result got, rcgc_result expected, const char *fname) {
  rcgc_result code = rcgc_last_error_code();
  const char *message = rcgc_last_error();
  cases++;
  check_count++;
  if (!failed || got != expected || code != expected || !names_function(message, fname)) {
    fprintf(stderr,
            "%s:%d: %s\n  failed: %s, returned %s, expected %s\n"
            "  rcgc_last_error_code() = %s\n  rcgc_last_error() = \"%s\", expected to start with %s\n",
            file, line, call, failed ? "yes" : "NO", rcgc_result_name(got),
            rcgc_result_name(expected), rcgc_result_name(code), message ? message : "(null)",
            fname);
    exit(1);
  }
  printf("case %3lu: %-55s -> %-25s \"%s\"\n", cases, call, rcgc_result_name(code), message);
}

/* A call returning rcgc_result fails with `code`. */
#define EXPECT_RC(call, code, fname)                                             \
  do {                                                                           \
    prime(fname);                                                                \
    rcgc_result expect_r_ = (call);                                              \
    expect_error(__FILE__, __LINE__, #call, expect_r_ != RCGC_OK, expect_r_, (code), fname); \
  } while (0)

/* A call returning a pointer gives NULL and records `code`. */
#define EXPECT_NULL(call, code, fname)                                           \
  do {                                                                           \
    prime(fname);                                                                \
    const void *expect_p_ = (call);                                              \
    expect_error(__FILE__, __LINE__, #call, expect_p_ == NULL, (code), (code), fname); \
  } while (0)

/* A call returning a value gives the neutral `value` and records `code`. */
#define EXPECT_VALUE(call, value, code, fname)                                   \
  do {                                                                           \
    prime(fname);                                                                \
    int expect_ok_ = (call) == (value);                                          \
    expect_error(__FILE__, __LINE__, #call, expect_ok_, (code), (code), fname);  \
  } while (0)

/* A void call that records `code` and does nothing else (checked by the caller). */
#define EXPECT_VOID(call, code, fname)                                           \
  do {                                                                           \
    prime(fname);                                                                \
    call;                                                                        \
    expect_error(__FILE__, __LINE__, #call, 1, (code), (code), fname);           \
  } while (0)

/* A neutral result with no error code required. */
#define EXPECT_NEUTRAL(cond)                                                     \
  do {                                                                           \
    cases++;                                                                     \
    CHECK(cond);                                                                 \
    printf("case %3lu: %s\n", cases, #cond);                                     \
  } while (0)

/* ---- types ---- */

typedef struct {
  void *a, *b;
} node;

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

static rcgc_type *register_type(rcgc_heap *heap, const char *name, size_t size, int refs) {
  rcgc_type_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.name = name;
  spec.size = size;
  if (refs) {
    spec.traverse = node_traverse;
    spec.clear = node_clear;
  }
  rcgc_type *t = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &t), RCGC_OK);
  CHECK(t != NULL);
  return t;
}

/* An rcgc_object_fn that must not be called. */
static void never_called(void *obj, void *ctx) {
  (void)obj;
  (void)ctx;
  CHECK(!"called");
}

/* ---- NULL arguments ---- */

static void gc_callback(rcgc_gc_phase phase, const rcgc_gc_info *info, void *ctx) {
  (void)phase;
  (void)info;
  (void)ctx;
}

static void count_object(void *obj, void *ctx) {
  (void)obj;
  (void)ctx;
}

static int discard_text(const char *data, size_t len, void *ctx) {
  (void)data;
  (void)len;
  (void)ctx;
  return 0;
}

static void test_null_arguments(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type *leaf_t = register_type(heap, "leaf", 16, 0);
  void *x = rcgc_alloc(leaf_t);
  CHECK(x != NULL);
  size_t out = 12345;
  rcgc_heap_stats st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  rcgc_type_spec spec = {"t", 8, NULL, NULL, NULL, NULL};
  rcgc_type *tout = NULL;

  /* functions returning rcgc_result */
  EXPECT_RC(rcgc_collect(NULL, 2, &out), RCGC_ERR_NULL_ARGUMENT, "rcgc_collect");
  EXPECT_RC(rcgc_collect(NULL, 0, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_collect");
  CHECK_EQ(out, 12345);
  EXPECT_RC(rcgc_set_threshold(NULL, 1, 2, 3), RCGC_ERR_NULL_ARGUMENT, "rcgc_set_threshold");
  EXPECT_RC(rcgc_enable(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_enable");
  EXPECT_RC(rcgc_disable(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_disable");
  EXPECT_RC(rcgc_track(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_track");
  EXPECT_RC(rcgc_untrack(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_untrack");
  EXPECT_RC(rcgc_heap_get_stats(NULL, &st), RCGC_ERR_NULL_ARGUMENT, "rcgc_heap_get_stats");
  EXPECT_RC(rcgc_heap_get_stats(heap, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_heap_get_stats");
  EXPECT_RC(rcgc_type_register(NULL, &spec, &tout), RCGC_ERR_NULL_ARGUMENT, "rcgc_type_register");
  EXPECT_RC(rcgc_type_register(heap, NULL, &tout), RCGC_ERR_NULL_ARGUMENT, "rcgc_type_register");
  EXPECT_RC(rcgc_type_register(heap, &spec, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_type_register");
  CHECK(tout == NULL);
  EXPECT_RC(rcgc_slots_set(NULL, 0, x), RCGC_ERR_NULL_ARGUMENT, "rcgc_slots_set");
  CHECK_EQ(rcgc_refcount(x), 1);
  rcgc_gen_stats gs;
  memset(&gs, 0, sizeof gs);
  gs.struct_size = sizeof gs;
  EXPECT_RC(rcgc_get_stats(NULL, 0, &gs), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_stats");
  EXPECT_RC(rcgc_get_stats(heap, 0, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_stats");
  EXPECT_RC(rcgc_add_callback(NULL, gc_callback, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_add_callback");
  EXPECT_RC(rcgc_add_callback(heap, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_add_callback");
  EXPECT_RC(rcgc_remove_callback(NULL, gc_callback, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_remove_callback");
  EXPECT_RC(rcgc_remove_callback(heap, gc_callback, NULL), RCGC_ERR_INVALID_ARGUMENT, "rcgc_remove_callback");
  EXPECT_RC(rcgc_freeze(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_freeze");
  EXPECT_RC(rcgc_unfreeze(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_unfreeze");
  EXPECT_RC(rcgc_get_objects(NULL, -1, count_object, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_objects");
  EXPECT_RC(rcgc_get_objects(heap, -1, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_objects");
  EXPECT_RC(rcgc_get_referrers(NULL, x, count_object, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_referrers");
  EXPECT_RC(rcgc_get_referrers(heap, NULL, count_object, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_referrers");
  EXPECT_RC(rcgc_get_referrers(heap, x, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_referrers");
  EXPECT_RC(rcgc_get_referents(NULL, count_object, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_referents");
  EXPECT_RC(rcgc_get_referents(x, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_referents");
  EXPECT_RC(rcgc_set_debug(NULL, RCGC_DEBUG_STATS), RCGC_ERR_NULL_ARGUMENT, "rcgc_set_debug");
  EXPECT_RC(rcgc_set_debug_output(NULL, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_set_debug_output");
  EXPECT_RC(rcgc_get_garbage(NULL, never_called, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_garbage");
  EXPECT_RC(rcgc_get_garbage(heap, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_get_garbage");
  EXPECT_RC(rcgc_clear_garbage(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_clear_garbage");

  /* functions returning a pointer */
  EXPECT_NULL(rcgc_heap_new_with(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_heap_new_with");
  EXPECT_NULL(rcgc_alloc(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_alloc");
  EXPECT_NULL(rcgc_alloc_var(NULL, 64), RCGC_ERR_NULL_ARGUMENT, "rcgc_alloc_var");
  EXPECT_NULL(rcgc_slots_new(NULL, 3), RCGC_ERR_NULL_ARGUMENT, "rcgc_slots_new");
  EXPECT_NULL(rcgc_slots_get(NULL, 0), RCGC_ERR_NULL_ARGUMENT, "rcgc_slots_get");
  EXPECT_NULL(rcgc_weakref_new(NULL, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_weakref_new");
  EXPECT_NULL(rcgc_weakref_get(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_weakref_get");
  EXPECT_NULL(rcgc_weakref_get(x), RCGC_ERR_INVALID_ARGUMENT, "rcgc_weakref_get");
  void *referent = x;
  EXPECT_RC(rcgc_weakref_get_ref(NULL, &referent), RCGC_ERR_NULL_ARGUMENT, "rcgc_weakref_get_ref");
  EXPECT_RC(rcgc_weakref_get_ref(x, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_weakref_get_ref");
  EXPECT_RC(rcgc_weakref_get_ref(x, &referent), RCGC_ERR_INVALID_ARGUMENT, "rcgc_weakref_get_ref");
  CHECK(referent == NULL);
  EXPECT_RC(rcgc_export_graph(NULL, RCGC_GRAPH_DOT, NULL, 0, discard_text, NULL), RCGC_ERR_NULL_ARGUMENT,
            "rcgc_export_graph");
  EXPECT_RC(rcgc_export_graph(heap, RCGC_GRAPH_DOT, NULL, 0, NULL, NULL), RCGC_ERR_NULL_ARGUMENT,
            "rcgc_export_graph");
  EXPECT_RC(rcgc_export_graph(heap, RCGC_GRAPH_JSON, NULL, 1, discard_text, NULL), RCGC_ERR_NULL_ARGUMENT,
            "rcgc_export_graph");
  EXPECT_RC(rcgc_export_graph(heap, 2, NULL, 0, discard_text, NULL), RCGC_ERR_INVALID_ARGUMENT,
            "rcgc_export_graph");
  EXPECT_RC(rcgc_why_alive(NULL, x, count_object, NULL, &out), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive");
  EXPECT_RC(rcgc_why_alive(heap, NULL, count_object, NULL, &out), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive");
  EXPECT_RC(rcgc_why_alive(heap, x, NULL, NULL, &out), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive");
  EXPECT_RC(rcgc_why_alive_text(NULL, x, discard_text, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive_text");
  EXPECT_RC(rcgc_why_alive_text(heap, NULL, discard_text, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive_text");
  EXPECT_RC(rcgc_why_alive_text(heap, x, NULL, NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive_text");
  CHECK_EQ(out, 12345); /* written only on RCGC_OK and RCGC_ERR_NOT_FOUND */

  /* functions returning a value, documented to record the error */
  EXPECT_VALUE(rcgc_refcount(NULL), 0, RCGC_ERR_NULL_ARGUMENT, "rcgc_refcount");
  EXPECT_VALUE(rcgc_slots_len(NULL), 0, RCGC_ERR_NULL_ARGUMENT, "rcgc_slots_len");
  EXPECT_VALUE(rcgc_get_freeze_count(NULL), 0, RCGC_ERR_NULL_ARGUMENT, "rcgc_get_freeze_count");
  EXPECT_VALUE(rcgc_is_finalized(NULL), false, RCGC_ERR_NULL_ARGUMENT, "rcgc_is_finalized");
  EXPECT_VALUE(rcgc_weakref_count(NULL), 0, RCGC_ERR_NULL_ARGUMENT, "rcgc_weakref_count");
  EXPECT_VALUE(rcgc_is_weakref(NULL), false, RCGC_ERR_NULL_ARGUMENT, "rcgc_is_weakref");
  EXPECT_VOID(rcgc_set_ref(NULL, x), RCGC_ERR_NULL_ARGUMENT, "rcgc_set_ref");
  CHECK_EQ(rcgc_refcount(x), 1);
  EXPECT_VOID(rcgc_clear_ref(NULL), RCGC_ERR_NULL_ARGUMENT, "rcgc_clear_ref");
  EXPECT_VOID(rcgc_set_misuse_handler(NULL, log_misuse, NULL), RCGC_ERR_NULL_ARGUMENT,
              "rcgc_set_misuse_handler");

  /* neutral values */
  rcgc_thresholds t = rcgc_get_threshold(NULL);
  EXPECT_NEUTRAL(t.gen0 == 0 && t.gen1 == 0 && t.gen2 == 0);
  rcgc_counts c = rcgc_get_count(NULL);
  EXPECT_NEUTRAL(c.gen0 == 0 && c.gen1 == 0 && c.gen2 == 0);
  EXPECT_NEUTRAL(rcgc_is_enabled(NULL) == false);
  EXPECT_NEUTRAL(rcgc_is_tracked(NULL) == false);
  EXPECT_NEUTRAL(rcgc_type_of(NULL) == NULL);
  EXPECT_NEUTRAL(rcgc_type_name(NULL) == NULL);
  EXPECT_NEUTRAL(rcgc_get_debug(NULL) == 0);
  EXPECT_NEUTRAL(rcgc_get_garbage_count(NULL) == 0);
  rcgc_incref(NULL);
  rcgc_decref(NULL);
  rcgc_heap_free(NULL);
  rcgc_config_init(NULL);
  EXPECT_NEUTRAL(rcgc_refcount(x) == 1); /* incref, decref, heap_free, config_init of NULL: no-ops */

  /* an empty slot: set_ref and clear_ref on a slot holding NULL are fine */
  void *slot = NULL;
  rcgc_clear_ref(&slot);
  CHECK(slot == NULL);
  rcgc_set_ref(&slot, NULL);
  CHECK(slot == NULL);

  /* the heap is unaffected */
  CHECK_EQ(rcgc_refcount(x), 1);
  rcgc_decref(x);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  rcgc_heap_free(heap);
}

/* ---- out-of-range values ---- */

static void test_ranges(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  size_t out = 12345;

  int generations[] = {-1, 3, INT_MAX, INT_MIN, 100};
  for (size_t i = 0; i < sizeof generations / sizeof generations[0]; i++) {
    char call[64], number[32];
    snprintf(call, sizeof call, "rcgc_collect(heap, %d, &out)", generations[i]);
    snprintf(number, sizeof number, "%d", generations[i]);
    prime("rcgc_collect");
    rcgc_result r = rcgc_collect(heap, generations[i], &out);
    expect_error(__FILE__, __LINE__, call, r != RCGC_OK, r, RCGC_ERR_INVALID_ARGUMENT,
                 "rcgc_collect");
    CHECK_CONTAINS(rcgc_last_error(), number); /* names the offending value */
  }
  CHECK_EQ(out, 12345);
  CHECK_COUNTS(heap, 0, 0, 0); /* nothing ran */

  /* rcgc_get_objects takes -1 (every generation) too, and says so */
  int object_generations[] = {-2, 3, INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof object_generations / sizeof object_generations[0]; i++) {
    char call[64], number[48];
    snprintf(call, sizeof call, "rcgc_get_objects(heap, %d, ...)", object_generations[i]);
    snprintf(number, sizeof number, "generation %d is outside -1..=2", object_generations[i]);
    prime("rcgc_get_objects");
    rcgc_result r = rcgc_get_objects(heap, object_generations[i], count_object, NULL);
    expect_error(__FILE__, __LINE__, call, r != RCGC_OK, r, RCGC_ERR_INVALID_ARGUMENT, "rcgc_get_objects");
    CHECK_CONTAINS(rcgc_last_error(), number);
  }

  /* debug flags: bits that are not RCGC_DEBUG_* flags; the flags do not change */
  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_STATS), RCGC_OK);
  int flags[] = {8, 16, 64, RCGC_DEBUG_LEAK | 128, -1, INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    char call[64], number[32];
    snprintf(call, sizeof call, "rcgc_set_debug(heap, %d)", flags[i]);
    snprintf(number, sizeof number, "flags %d ", flags[i]);
    prime("rcgc_set_debug");
    rcgc_result r = rcgc_set_debug(heap, flags[i]);
    expect_error(__FILE__, __LINE__, call, r != RCGC_OK, r, RCGC_ERR_INVALID_ARGUMENT,
                 "rcgc_set_debug");
    CHECK_CONTAINS(rcgc_last_error(), number); /* names the offending value */
  }
  CHECK_EQ(rcgc_get_debug(heap), RCGC_DEBUG_STATS);
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK);

  /* result names */
  int unknown[] = {11, 12, -1, 1000, INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    cases++;
    CHECK_STREQ(rcgc_result_name(unknown[i]), "unknown rcgc_result");
    printf("case %3lu: rcgc_result_name(%d) -> \"%s\"\n", cases, unknown[i],
           rcgc_result_name(unknown[i]));
  }

  /* heap stats with a struct_size too small, and a bigger one */
  rcgc_heap_stats st;
  memset(&st, 0x5A, sizeof st);
  st.struct_size = 0;
  EXPECT_RC(rcgc_heap_get_stats(heap, &st), RCGC_ERR_INVALID_ARGUMENT, "rcgc_heap_get_stats");
  CHECK_EQ(st.struct_size, 0);
  st.struct_size = sizeof st - 1;
  EXPECT_RC(rcgc_heap_get_stats(heap, &st), RCGC_ERR_INVALID_ARGUMENT, "rcgc_heap_get_stats");
  CHECK_EQ(st.live_objects, (size_t)0x5A5A5A5A5A5A5A5AULL); /* out untouched on failure */
  {
    size_t big = sizeof(rcgc_heap_stats) + 32;
    unsigned char *buf = malloc(big);
    CHECK(buf != NULL);
    memset(buf, 0x77, big);
    rcgc_heap_stats *bst = (rcgc_heap_stats *)(void *)buf;
    bst->struct_size = big;
    CHECK_RC(rcgc_heap_get_stats(heap, bst), RCGC_OK);
    CHECK_EQ(bst->live_objects, 0);
    CHECK(all_zero_bytes(buf + sizeof(rcgc_heap_stats), 32)); /* unknown bytes zeroed */
    free(buf);
  }
  rcgc_heap_free(heap);
}

/* ---- type specs and sizes ---- */

static void test_types_and_sizes(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  int dummy = 0;
  rcgc_type *const untouched = (rcgc_type *)(void *)&dummy;
  rcgc_type *tout = untouched;

  rcgc_type_spec spec = {NULL, 16, NULL, NULL, NULL, NULL};
  EXPECT_RC(rcgc_type_register(heap, &spec, &tout), RCGC_ERR_INVALID_ARGUMENT,
            "rcgc_type_register"); /* name NULL */
  spec.name = "zero";
  spec.size = 0;
  EXPECT_RC(rcgc_type_register(heap, &spec, &tout), RCGC_ERR_INVALID_ARGUMENT,
            "rcgc_type_register"); /* size 0 */
  spec.name = "huge";
  spec.size = SIZE_MAX;
  EXPECT_RC(rcgc_type_register(heap, &spec, &tout), RCGC_ERR_INVALID_ARGUMENT,
            "rcgc_type_register"); /* size SIZE_MAX */
  spec.size = SIZE_MAX / 2 + 1;
  EXPECT_RC(rcgc_type_register(heap, &spec, &tout), RCGC_ERR_INVALID_ARGUMENT,
            "rcgc_type_register"); /* size past isize::MAX */
  spec.name = "no_clear";
  spec.size = sizeof(node);
  spec.traverse = node_traverse;
  EXPECT_RC(rcgc_type_register(heap, &spec, &tout), RCGC_ERR_INVALID_ARGUMENT,
            "rcgc_type_register"); /* traverse without clear */
  CHECK(tout == untouched); /* *out is written only on RCGC_OK */
  rcgc_heap_stats st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);

  rcgc_type *leaf_t = register_type(heap, "leaf32", 32, 0);
  rcgc_type *node_t = register_type(heap, "node", sizeof(node), 1);

  /* built-in types: their objects have their own constructors (in a heap of
   * their own: this one counts its allocations below) */
  rcgc_heap *own = rcgc_heap_new();
  CHECK(own != NULL);
  void *slots_obj = rcgc_slots_new(own, 2);
  void *weak_obj = rcgc_weakref_new(slots_obj, NULL, NULL);
  CHECK(slots_obj != NULL && weak_obj != NULL);
  rcgc_type *builtin[2] = {rcgc_type_of(slots_obj), rcgc_type_of(weak_obj)};
  const char *maker[2] = {"rcgc_slots_new", "rcgc_weakref_new"};
  for (int i = 0; i < 2; i++) {
    EXPECT_NULL(rcgc_alloc(builtin[i]), RCGC_ERR_INVALID_ARGUMENT, "rcgc_alloc");
    CHECK_CONTAINS(rcgc_last_error(), maker[i]);
    EXPECT_NULL(rcgc_alloc_var(builtin[i], 64), RCGC_ERR_INVALID_ARGUMENT, "rcgc_alloc_var");
    CHECK_CONTAINS(rcgc_last_error(), maker[i]);
  }
  rcgc_decref(weak_obj);
  rcgc_decref(slots_obj);
  CHECK_EQ(heap_stats(own).live_objects, 0);
  CHECK_EQ(heap_stats(own).allocated_total, 2);
  rcgc_heap_free(own);

  /* alloc_var sizes */
  EXPECT_NULL(rcgc_alloc_var(leaf_t, 31), RCGC_ERR_INVALID_ARGUMENT, "rcgc_alloc_var");
  CHECK_CONTAINS(rcgc_last_error(), "31");
  CHECK_CONTAINS(rcgc_last_error(), "leaf32");
  EXPECT_NULL(rcgc_alloc_var(leaf_t, 0), RCGC_ERR_INVALID_ARGUMENT, "rcgc_alloc_var");
  EXPECT_NULL(rcgc_alloc_var(node_t, sizeof(node) - 1), RCGC_ERR_INVALID_ARGUMENT,
              "rcgc_alloc_var");
  EXPECT_NULL(rcgc_alloc_var(leaf_t, SIZE_MAX), RCGC_ERR_INVALID_ARGUMENT, "rcgc_alloc_var");
  EXPECT_NULL(rcgc_alloc_var(leaf_t, SIZE_MAX - 15), RCGC_ERR_INVALID_ARGUMENT,
              "rcgc_alloc_var");
  EXPECT_NULL(rcgc_alloc_var(leaf_t, SIZE_MAX / 2 + 1), RCGC_ERR_INVALID_ARGUMENT,
              "rcgc_alloc_var");
#if SIZE_MAX > 0xFFFFFFFFu
  /* a valid size no system can provide (1 EiB): the allocator returns nothing */
  EXPECT_NULL(rcgc_alloc_var(leaf_t, (size_t)1 << 60), RCGC_ERR_NO_MEMORY, "rcgc_alloc_var");
#endif
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.allocated_total, 0);
  CHECK_COUNTS(heap, 0, 0, 0);

  /* track: a type without traverse can never be tracked */
  void *x = rcgc_alloc(leaf_t);
  CHECK(x != NULL);
  EXPECT_RC(rcgc_track(x), RCGC_ERR_INVALID_ARGUMENT, "rcgc_track");
  CHECK_CONTAINS(rcgc_last_error(), "leaf32");
  CHECK(!rcgc_is_tracked(x));
  CHECK_RC(rcgc_untrack(x), RCGC_OK); /* not tracked: no change */
  CHECK_COUNTS(heap, 0, 0, 0);

  /* slots errors */
  void *s = rcgc_slots_new(heap, 3);
  CHECK(s != NULL);
  node *n = rcgc_alloc(node_t);
  CHECK(n != NULL);
  EXPECT_RC(rcgc_slots_set(s, 3, x), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_set");
  CHECK_CONTAINS(rcgc_last_error(), "3");
  EXPECT_RC(rcgc_slots_set(s, 1000, NULL), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_set");
  CHECK_CONTAINS(rcgc_last_error(), "1000");
  EXPECT_RC(rcgc_slots_set(s, SIZE_MAX, x), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_set");
  EXPECT_NULL(rcgc_slots_get(s, 3), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_get");
  EXPECT_NULL(rcgc_slots_get(s, SIZE_MAX), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_get");
  EXPECT_RC(rcgc_slots_set(x, 0, x), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_set"); /* not slots */
  CHECK_CONTAINS(rcgc_last_error(), "leaf32");
  EXPECT_RC(rcgc_slots_set(n, 0, NULL), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_set");
  EXPECT_NULL(rcgc_slots_get(x, 0), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_get");
  EXPECT_NULL(rcgc_slots_get(n, 0), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_get");
  EXPECT_VALUE(rcgc_slots_len(x), 0, RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_len");
  EXPECT_VALUE(rcgc_slots_len(n), 0, RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_len");
  EXPECT_NULL(rcgc_slots_new(heap, SIZE_MAX), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_new");
  EXPECT_NULL(rcgc_slots_new(heap, SIZE_MAX / 8), RCGC_ERR_INVALID_ARGUMENT, "rcgc_slots_new");
  /* nothing changed */
  CHECK_EQ(rcgc_refcount(x), 1);
  CHECK_EQ(rcgc_refcount(n), 1);
  CHECK_EQ(rcgc_slots_len(s), 3);
  for (size_t i = 0; i < 3; i++) CHECK(rcgc_slots_get(s, i) == NULL);

  /* a value from another heap */
  rcgc_heap *other = rcgc_heap_new();
  CHECK(other != NULL);
  rcgc_type *other_leaf = register_type(other, "other_leaf", 16, 0);
  void *y = rcgc_alloc(other_leaf);
  void *s2 = rcgc_slots_new(other, 1);
  CHECK(y != NULL && s2 != NULL);
  EXPECT_RC(rcgc_slots_set(s, 0, y), RCGC_ERR_WRONG_HEAP, "rcgc_slots_set");
  CHECK_CONTAINS(rcgc_last_error(), "other_leaf");
  EXPECT_RC(rcgc_slots_set(s2, 0, x), RCGC_ERR_WRONG_HEAP, "rcgc_slots_set");
  EXPECT_RC(rcgc_slots_set(s, 2, s2), RCGC_ERR_WRONG_HEAP, "rcgc_slots_set");
  CHECK_EQ(rcgc_refcount(y), 1);
  CHECK_EQ(rcgc_refcount(x), 1);
  CHECK_EQ(rcgc_refcount(s2), 1);
  CHECK(rcgc_slots_get(s, 0) == NULL && rcgc_slots_get(s, 2) == NULL);
  CHECK(rcgc_slots_get(s2, 0) == NULL);
  rcgc_decref(y);
  rcgc_decref(s2);
  st = heap_stats(other);
  CHECK_EQ(st.live_objects, 0);
  rcgc_heap_free(other);

  rcgc_decref(x);
  rcgc_decref(n);
  rcgc_decref(s);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  rcgc_heap_free(heap);
}

/* ---- configs ---- */

static void test_configs(void) {
  rcgc_config cfg;
  rcgc_config_init(&cfg);
  size_t sizes[] = {0, 1, sizeof(size_t), sizeof(rcgc_config) - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    cfg.struct_size = sizes[i];
    EXPECT_NULL(rcgc_heap_new_with(&cfg), RCGC_ERR_INVALID_ARGUMENT, "rcgc_heap_new_with");
  }
  rcgc_config_init(&cfg);
  cfg.checked = true; /* accepted: checked mode has its own test, test_checked.c */
  rcgc_heap *checked = rcgc_heap_new_with(&cfg);
  CHECK(checked != NULL);
  rcgc_heap_free(checked);

  /* a newer caller's bigger struct: accepted when the unknown bytes are zero */
  size_t extra = 32;
  size_t big = sizeof(rcgc_config) + extra;
  unsigned char *buf = calloc(1, big);
  CHECK(buf != NULL);
  rcgc_config_init(&cfg);
  memcpy(buf, &cfg, sizeof cfg);
  ((rcgc_config *)(void *)buf)->struct_size = big;
  rcgc_heap *h = rcgc_heap_new_with((const rcgc_config *)(const void *)buf);
  CHECK(h != NULL);
  rcgc_heap_free(h);
  size_t offsets[] = {0, 7, extra - 1};
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    buf[sizeof(rcgc_config) + offsets[i]] = 1;
    EXPECT_NULL(rcgc_heap_new_with((const rcgc_config *)(const void *)buf),
                RCGC_ERR_INVALID_ARGUMENT, "rcgc_heap_new_with");
    buf[sizeof(rcgc_config) + offsets[i]] = 0;
  }
  h = rcgc_heap_new_with((const rcgc_config *)(const void *)buf);
  CHECK(h != NULL);
  rcgc_heap_free(h);
  free(buf);
}

/* ---- the memory limit ---- */

static int cyc_destroyed = 0;
static void cyc_destroy(void *obj) {
  (void)obj;
  cyc_destroyed++;
}

static void test_memory_limit(void) {
  const size_t limit = 64 * 1024;
  const size_t payload = 200; /* a block of at least 216 bytes */
  rcgc_config cfg;
  rcgc_config_init(&cfg);
  cfg.memory_limit = limit;

  /* 1. live objects fill the heap; the allocation that does not fit fails */
  rcgc_heap *heap = rcgc_heap_new_with(&cfg);
  CHECK(heap != NULL);
  rcgc_type *blob_t = register_type(heap, "blob", payload, 0);
  enum { CAP = 10000 };
  static void *objs[CAP];
  size_t n = 0;
  while (n < CAP) {
    void *p = rcgc_alloc(blob_t);
    if (p == NULL) break;
    objs[n++] = p;
  }
  printf("  memory limit %zu: %zu live objects of %zu bytes fit\n", limit, n, payload);
  CHECK(n > 0 && n < CAP);
  CHECK(n * (16 + payload) <= limit);
  expect_error(__FILE__, __LINE__, "rcgc_alloc(blob_t) past the limit", 1,
               RCGC_ERR_MEMORY_LIMIT, RCGC_ERR_MEMORY_LIMIT, "rcgc_alloc");
  rcgc_heap_stats st = heap_stats(heap);
  CHECK_EQ(st.live_objects, n);
  CHECK_EQ(st.allocated_total, n);
  CHECK(st.bytes_in_use <= limit);
  CHECK(st.peak_bytes <= limit);
  CHECK(st.bytes_in_use + 16 + payload > limit); /* the failure was justified */
  EXPECT_NULL(rcgc_alloc(blob_t), RCGC_ERR_MEMORY_LIMIT, "rcgc_alloc");
  EXPECT_NULL(rcgc_alloc_var(blob_t, 1000), RCGC_ERR_MEMORY_LIMIT, "rcgc_alloc_var");
  EXPECT_NULL(rcgc_slots_new(heap, 64), RCGC_ERR_MEMORY_LIMIT, "rcgc_slots_new");

  /* still fully usable: free five, allocate five */
  for (size_t i = 0; i < 5; i++) rcgc_decref(objs[--n]);
  for (size_t i = 0; i < 5; i++) {
    objs[n] = rcgc_alloc(blob_t);
    CHECK(objs[n] != NULL);
    n++;
  }
  EXPECT_NULL(rcgc_alloc(blob_t), RCGC_ERR_MEMORY_LIMIT, "rcgc_alloc");
  size_t found = 99;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  while (n > 0) rcgc_decref(objs[--n]);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(st.bytes_in_use, 0);
  /* a single object bigger than the limit never fits */
  EXPECT_NULL(rcgc_alloc_var(blob_t, limit), RCGC_ERR_MEMORY_LIMIT, "rcgc_alloc_var");
  void *s = rcgc_slots_new(heap, 8);
  CHECK(s != NULL);
  rcgc_decref(s);
  rcgc_heap_free(heap);

  /* 2. garbage cycles are freed by the emergency collection: allocation goes on */
  heap = rcgc_heap_new_with(&cfg);
  CHECK(heap != NULL);
  CHECK_RC(rcgc_set_threshold(heap, 1000000, 10, 10), RCGC_OK); /* no automatic collection */
  rcgc_type_spec spec = {"cyc", payload, node_traverse, node_clear, NULL, cyc_destroy};
  rcgc_type *cyc_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &cyc_t), RCGC_OK);
  const int rounds = 2000;
  for (int i = 0; i < rounds; i++) {
    node *c = rcgc_alloc(cyc_t);
    CHECK(c != NULL);
    rcgc_set_ref(&c->a, c);
    rcgc_decref(c); /* garbage, held only by itself */
    st = heap_stats(heap);
    CHECK(st.bytes_in_use <= limit);
  }
  st = heap_stats(heap);
  printf("  memory limit %zu: %d garbage cycles allocated, %d freed by emergency collections\n",
         limit, rounds, cyc_destroyed);
  CHECK(cyc_destroyed > 0);
  CHECK_EQ(st.live_objects, (size_t)(rounds - cyc_destroyed));
  CHECK(st.peak_bytes <= limit);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, (size_t)(rounds - st.freed_total));
  CHECK_EQ(cyc_destroyed, rounds);
  rcgc_heap_free(heap);
}

/* ---- calls from inside callbacks ---- */

typedef struct {
  int calls;
  rcgc_result rc, code;
  size_t out;
  char message[256];
} attempt;

static rcgc_heap *g_heap;
static rcgc_type *g_reent_t;
static attempt at_finalize, at_clear, at_destroy, at_traverse, at_alloc;

static void try_collect(attempt *a) {
  if (a->calls++) return;
  CHECK_EQ(rcgc_disable(NULL), RCGC_ERR_NULL_ARGUMENT); /* leave a different error behind */
  a->out = 4242;
  a->rc = rcgc_collect(g_heap, 2, &a->out);
  a->code = rcgc_last_error_code();
  snprintf(a->message, sizeof a->message, "%s", rcgc_last_error());
}

static void reent_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  node_traverse(obj, visit, ctx);
  if (at_traverse.calls == 0) {
    try_collect(&at_traverse);
    at_alloc.calls++;
    CHECK_EQ(rcgc_disable(NULL), RCGC_ERR_NULL_ARGUMENT);
    void *p = rcgc_alloc(g_reent_t);
    at_alloc.rc = p == NULL ? rcgc_last_error_code() : RCGC_OK;
    at_alloc.code = rcgc_last_error_code();
    snprintf(at_alloc.message, sizeof at_alloc.message, "%s", rcgc_last_error());
  }
}
static void reent_clear(void *obj) {
  try_collect(&at_clear);
  node_clear(obj);
}
static void reent_finalize(void *obj) {
  (void)obj;
  try_collect(&at_finalize);
}
static void reent_destroy(void *obj) {
  (void)obj;
  try_collect(&at_destroy);
}

static void check_attempt(const char *what, const attempt *a, const char *fname) {
  char call[128];
  snprintf(call, sizeof call, "%s from %s", fname, what);
  cases++;
  check_count++;
  if (a->calls == 0 || a->rc != RCGC_ERR_REENTRANT || a->code != RCGC_ERR_REENTRANT ||
      !names_function(a->message, fname)) {
    fprintf(stderr,
            "%s: calls %d, returned %s, rcgc_last_error_code() %s, rcgc_last_error() \"%s\"; "
            "expected RCGC_ERR_REENTRANT and a message starting with %s\n",
            call, a->calls, rcgc_result_name(a->rc), rcgc_result_name(a->code), a->message,
            fname);
    exit(1);
  }
  printf("case %3lu: %-55s -> %-25s \"%s\"\n", cases, call, rcgc_result_name(a->code),
         a->message);
}

static void test_reentrant(void) {
  g_heap = rcgc_heap_new();
  CHECK(g_heap != NULL);
  rcgc_type_spec spec = {"reent", sizeof(node), reent_traverse, reent_clear, reent_finalize,
                         reent_destroy};
  CHECK_RC(rcgc_type_register(g_heap, &spec, &g_reent_t), RCGC_OK);

  /* refcount death: finalize, clear, destroy */
  node *r = rcgc_alloc(g_reent_t);
  CHECK(r != NULL);
  rcgc_decref(r);
  check_attempt("finalize (refcount death)", &at_finalize, "rcgc_collect");
  check_attempt("clear (refcount death)", &at_clear, "rcgc_collect");
  check_attempt("destroy (refcount death)", &at_destroy, "rcgc_collect");
  CHECK_EQ(at_traverse.calls, 0);
  rcgc_heap_stats st = heap_stats(g_heap);
  CHECK_EQ(st.live_objects, 0);

  /* inside a collection: traverse, finalize, clear, destroy */
  memset(&at_finalize, 0, sizeof(attempt));
  memset(&at_clear, 0, sizeof(attempt));
  memset(&at_destroy, 0, sizeof(attempt));
  node *c = rcgc_alloc(g_reent_t);
  CHECK(c != NULL);
  rcgc_set_ref(&c->a, c);
  rcgc_decref(c);
  CHECK_EQ(at_finalize.calls, 0);
  size_t found = 99;
  CHECK_RC(rcgc_collect(g_heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  check_attempt("traverse (collection)", &at_traverse, "rcgc_collect");
  check_attempt("finalize (collection)", &at_finalize, "rcgc_collect");
  check_attempt("clear (collection)", &at_clear, "rcgc_collect");
  check_attempt("destroy (collection)", &at_destroy, "rcgc_collect");
  check_attempt("traverse (collection)", &at_alloc, "rcgc_alloc");
  st = heap_stats(g_heap);
  CHECK_EQ(st.live_objects, 0);
  CHECK_COUNTS(g_heap, 0, 0, 0);
  rcgc_heap_free(g_heap);
  g_heap = NULL;
}

/* ---- refcount misuse ---- */

static int doomed_destroyed = 0;
static void doomed_destroy(void *obj) {
  (void)obj;
  doomed_destroyed++;
}

static void selfish_destroy(void *obj) {
  doomed_destroyed++;
  rcgc_decref(obj); /* its count is already 0: one decref too many */
}

static void heap_freeing_finalize(void *obj) {
  (void)obj;
  rcgc_heap_free(g_heap); /* misuse: from a callback of the same heap */
}

static void test_misuse(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  misuse_log log;
  memset(&log, 0, sizeof log);
  rcgc_set_misuse_handler(heap, log_misuse, &log);
  rcgc_type_spec spec = {"doomed", 32, NULL, NULL, NULL, doomed_destroy};
  rcgc_type *doomed_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &doomed_t), RCGC_OK);

  /* a double decref: the second one is reported and ignored */
  void *keep = rcgc_alloc(doomed_t);
  void *x = rcgc_alloc(doomed_t);
  CHECK(keep != NULL && x != NULL);
  char addr[64];
  snprintf(addr, sizeof addr, "%p", x);
  rcgc_decref(x);
  CHECK_EQ(doomed_destroyed, 1);
  CHECK_EQ(log.calls, 0);
  rcgc_decref(x); /* x is freed */
  cases++;
  CHECK_EQ(log.calls, 1);
  CHECK_CONTAINS(log.last, "rcgc_decref");
  CHECK_CONTAINS(log.last, "doomed");
  CHECK_CONTAINS(log.last, addr);
  printf("case %3lu: double rcgc_decref -> misuse handler \"%s\"\n", cases, log.last);
  CHECK_EQ(doomed_destroyed, 1);
  rcgc_heap_stats st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 1);
  CHECK_EQ(st.freed_total, 1);

  /* the program and the heap go on */
  void *z = rcgc_alloc(doomed_t);
  CHECK(z != NULL);
  CHECK_EQ(rcgc_refcount(z), 1);
  CHECK_EQ(rcgc_refcount(keep), 1);
  rcgc_decref(z);
  rcgc_decref(keep);
  CHECK_EQ(doomed_destroyed, 3);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  CHECK_EQ(log.calls, 1);

  /* a decref of an object being freed (from its own destroy) */
  rcgc_type_spec selfish_spec = {"selfish", 16, NULL, NULL, NULL, selfish_destroy};
  rcgc_type *selfish_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &selfish_spec, &selfish_t), RCGC_OK);
  void *sf = rcgc_alloc(selfish_t);
  CHECK(sf != NULL);
  rcgc_decref(sf);
  cases++;
  CHECK_EQ(log.calls, 2);
  CHECK_CONTAINS(log.last, "rcgc_decref");
  CHECK_CONTAINS(log.last, "selfish");
  printf("case %3lu: rcgc_decref in destroy -> misuse handler \"%s\"\n", cases, log.last);
  CHECK_EQ(doomed_destroyed, 4);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);

  /* rcgc_heap_free from a callback of the same heap: reported, nothing freed */
  g_heap = heap;
  rcgc_type_spec hf_spec = {"heap_freer", 16, NULL, NULL, heap_freeing_finalize, NULL};
  rcgc_type *hf_t = NULL;
  CHECK_RC(rcgc_type_register(heap, &hf_spec, &hf_t), RCGC_OK);
  void *hf = rcgc_alloc(hf_t);
  CHECK(hf != NULL);
  rcgc_decref(hf);
  cases++;
  CHECK_EQ(log.calls, 3);
  CHECK_CONTAINS(log.last, "rcgc_heap_free");
  printf("case %3lu: rcgc_heap_free in finalize -> misuse handler \"%s\"\n", cases, log.last);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  void *after = rcgc_slots_new(heap, 2);
  CHECK(after != NULL);
  rcgc_decref(after);
  g_heap = NULL;

  /* a refcount smaller than the references traverse reports */
  rcgc_type *node_t = register_type(heap, "node", sizeof(node), 1);
  node *target = rcgc_alloc(node_t);
  node *n1 = rcgc_alloc(node_t);
  node *n2 = rcgc_alloc(node_t);
  CHECK(target && n1 && n2);
  n1->a = target; /* two references stored without rcgc_incref */
  n2->a = target;
  size_t found = 4242;
  EXPECT_RC(rcgc_collect(heap, 2, &found), RCGC_ERR_INVALID_OBJECT, "rcgc_collect");
  CHECK(log.calls >= 4);
  CHECK_CONTAINS(log.last, "node");
  printf("  misuse handler: \"%s\"\n", log.last);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 3); /* nothing was freed */
  n1->a = NULL;
  n2->a = NULL;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 0);
  rcgc_decref(target);
  rcgc_decref(n1);
  rcgc_decref(n2);
  st = heap_stats(heap);
  CHECK_EQ(st.live_objects, 0);
  rcgc_heap_free(heap);
}

/* The default misuse handler prints the message to stderr and aborts. */
static void test_default_misuse_handler(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    rcgc_heap *heap = rcgc_heap_new();
    rcgc_type_spec spec = {"aborter", 16, NULL, NULL, NULL, NULL};
    rcgc_type *t = NULL;
    if (heap == NULL || rcgc_type_register(heap, &spec, &t) != RCGC_OK) _exit(3);
    void *keep = rcgc_alloc(t);
    void *x = rcgc_alloc(t);
    if (keep == NULL || x == NULL) _exit(3);
    rcgc_decref(x);
    rcgc_decref(x); /* must abort */
    _exit(4);
  }
  close(fds[1]);
  char out[2048];
  size_t len = 0;
  ssize_t got;
  while ((got = read(fds[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)got;
  out[len] = '\0';
  close(fds[0]);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  cases++;
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
    fprintf(stderr, "the default misuse handler did not abort: status %d, stderr: %s\n",
            status, out);
    exit(1);
  }
  CHECK_CONTAINS(out, "rcgc_decref");
  CHECK_CONTAINS(out, "aborter");
  char *nl = strchr(out, '\n');
  if (nl) *nl = '\0';
  printf("case %3lu: double rcgc_decref with the default handler -> SIGABRT, stderr \"%s\"\n",
         cases, out);
}

/* ---- the last error is per thread ---- */

static void *other_thread(void *arg) {
  int *ok = arg;
  *ok = rcgc_last_error_code() == RCGC_OK && strcmp(rcgc_last_error(), "no error") == 0;
  rcgc_result r = rcgc_set_threshold(NULL, 1, 1, 1);
  *ok = *ok && r == RCGC_ERR_NULL_ARGUMENT &&
        rcgc_last_error_code() == RCGC_ERR_NULL_ARGUMENT &&
        names_function(rcgc_last_error(), "rcgc_set_threshold");
  return NULL;
}

static void test_threads(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  EXPECT_RC(rcgc_collect(heap, 7, NULL), RCGC_ERR_INVALID_ARGUMENT, "rcgc_collect");
  int ok = 0;
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, other_thread, &ok) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  cases++;
  CHECK(ok);
  printf("case %3lu: another thread starts with \"no error\" and keeps its own errors\n", cases);
  CHECK_EQ(rcgc_last_error_code(), RCGC_ERR_INVALID_ARGUMENT);
  CHECK(names_function(rcgc_last_error(), "rcgc_collect"));
  CHECK_CONTAINS(rcgc_last_error(), "7");
  rcgc_heap_free(heap);
}

int main(void) {
  CHECK_EQ(rcgc_last_error_code(), RCGC_OK);
  CHECK_STREQ(rcgc_last_error(), "no error");

  test_null_arguments();
  test_ranges();
  test_types_and_sizes();
  test_configs();
  test_memory_limit();
  test_reentrant();
  test_misuse();
  test_default_misuse_handler();
  test_threads();

  CHECK(rcgc_last_error() != NULL);
  printf("test_errors: %lu error cases\n", cases);
  CHECK_DONE("test_errors");
}
