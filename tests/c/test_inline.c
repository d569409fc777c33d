/* The header's inline refcount functions, rcgc_incref_inline and
 * rcgc_decref_inline: exact counts, mixed with the real calls, freeing at zero
 * (destroy once, a long chain freed iteratively), immortal objects, NULL, a
 * decref too many reaching the misuse handler, and objects of a checked heap,
 * which always take the checked call. Also the ABI they rely on: the layout of
 * rcgc_object_head. Written in C99, so the harness also builds it with -std=c99. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "thread_gate.h"

typedef struct link {
  void *next;
} link;

static unsigned long leaves_destroyed = 0;
static unsigned long links_destroyed = 0;

static void leaf_destroy(void *obj) {
  (void)obj;
  leaves_destroyed++;
}

static void link_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  visit(((link *)obj)->next, ctx);
}

/* What a user of the inline path writes: the field is emptied, then the old
 * value dropped, with no call unless it dies. */
static void link_clear(void *obj) {
  link *l = obj;
  void *old = l->next;
  l->next = NULL;
  rcgc_decref_inline(old);
}

static void link_destroy(void *obj) {
  (void)obj;
  links_destroyed++;
}

/* An object that drops one reference too many from its own destroy. */
static void selfish_destroy(void *obj) { rcgc_decref_inline(obj); }

static rcgc_type *register_type(rcgc_heap *heap, const char *name, size_t size,
                                rcgc_traverse_fn traverse, rcgc_clear_fn clear,
                                rcgc_destroy_fn destroy) {
  rcgc_type_spec spec;
  rcgc_type *type = NULL;
  spec.name = name;
  spec.size = size;
  spec.traverse = traverse;
  spec.clear = clear;
  spec.finalize = NULL;
  spec.destroy = destroy;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  return type;
}

static rcgc_heap_stats stats_of(rcgc_heap *heap) {
  rcgc_heap_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_RC(rcgc_heap_get_stats(heap, &stats), RCGC_OK);
  return stats;
}

static rcgc_heap *checked_heap(void) {
  rcgc_config config;
  rcgc_config_init(&config);
  config.checked = true;
  rcgc_heap *heap = rcgc_heap_new_with(&config);
  CHECK(heap != NULL);
  return heap;
}

/* The documented layout: the count is a uint32_t right after the tag word, and
 * the struct starts RCGC_OBJECT_HEAD_SIZE bytes before the payload. */
static void layout(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type *leaf = register_type(heap, "leaf", 24, NULL, NULL, NULL);
  void *obj = rcgc_alloc(leaf);
  CHECK(obj != NULL);
  CHECK_EQ(RCGC_OBJECT_HEAD_SIZE, 16);
  CHECK_EQ(offsetof(rcgc_object_head, tag), 0);
  CHECK_EQ(offsetof(rcgc_object_head, refcnt), sizeof(uintptr_t));
  CHECK_EQ(sizeof(((rcgc_object_head *)NULL)->refcnt), 4);
  CHECK_EQ(RCGC_REFCNT_IMMORTAL, 4294967295u);
  CHECK_EQ(RCGC_HEAD_SLOW, 0x80);
  rcgc_object_head *head = rcgc_object_head_of(obj);
  CHECK_EQ((uintptr_t)obj - (uintptr_t)head, 16);
  CHECK_EQ(head->refcnt, 1);
  CHECK_EQ(head->tag & RCGC_HEAD_SLOW, 0);
  rcgc_incref(obj);
  CHECK_EQ(head->refcnt, 2);
  CHECK_EQ(rcgc_refcount(obj), 2);
  rcgc_decref(obj);
  rcgc_decref(obj);
  rcgc_heap_free(heap);
}

static void exact_counts(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type *leaf = register_type(heap, "leaf", 16, NULL, NULL, leaf_destroy);
  unsigned long destroyed = leaves_destroyed;
  void *obj = rcgc_alloc(leaf);
  CHECK(obj != NULL);
  rcgc_object_head *head = rcgc_object_head_of(obj);

  rcgc_incref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 2);
  rcgc_incref_inline(obj);
  rcgc_incref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 4);
  CHECK_EQ(head->refcnt, 4);
  rcgc_decref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 3);

  /* Mixed with the real calls: one count, whoever changes it. */
  rcgc_incref(obj);
  CHECK_EQ(rcgc_refcount(obj), 4);
  rcgc_decref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 3);
  rcgc_decref(obj);
  CHECK_EQ(rcgc_refcount(obj), 2);
  rcgc_incref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 3);
  rcgc_decref_inline(obj);
  rcgc_decref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 1);
  CHECK_EQ(leaves_destroyed, destroyed);
  CHECK_EQ(stats_of(heap).live_objects, 1);

  /* At zero the inline decref calls rcgc_decref, which frees: destroy once. */
  rcgc_decref_inline(obj);
  CHECK_EQ(leaves_destroyed, destroyed + 1);
  rcgc_heap_stats stats = stats_of(heap);
  CHECK_EQ(stats.live_objects, 0);
  CHECK_EQ(stats.freed_total, 1);
  rcgc_heap_free(heap);
  CHECK_EQ(leaves_destroyed, destroyed + 1);
}

/* NULL is a no-op, like rcgc_incref(NULL): no error is recorded either. */
static void null_is_a_no_op(void) {
  CHECK_RC(rcgc_enable(NULL), RCGC_ERR_NULL_ARGUMENT);
  const char *before = rcgc_last_error();
  char message[256];
  snprintf(message, sizeof message, "%s", before);
  rcgc_incref_inline(NULL);
  rcgc_decref_inline(NULL);
  CHECK_EQ(rcgc_last_error_code(), RCGC_ERR_NULL_ARGUMENT);
  CHECK_STREQ(rcgc_last_error(), message);
}

/* A chain of tracked objects, each holding the next, freed by one inline decref
 * of its head; link_clear drops each next with the inline decref too. */
static void chain(size_t n) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type *type = register_type(heap, "link", sizeof(link), link_traverse, link_clear, link_destroy);
  unsigned long destroyed = links_destroyed;
  link *head = rcgc_alloc(type);
  CHECK(head != NULL);
  link *tail = head;
  for (size_t i = 1; i < n; i++) {
    link *next = rcgc_alloc(type);
    CHECK(next != NULL);
    tail->next = next; /* the new reference from rcgc_alloc moves into the chain */
    tail = next;
  }
  CHECK_EQ(stats_of(heap).live_objects, n);
  rcgc_incref_inline(head);
  rcgc_decref_inline(head);
  CHECK_EQ(links_destroyed, destroyed);
  rcgc_decref_inline(head);
  CHECK_EQ(links_destroyed, destroyed + n);
  rcgc_heap_stats stats = stats_of(heap);
  CHECK_EQ(stats.live_objects, 0);
  CHECK_EQ(stats.freed_total, n);
  rcgc_heap_free(heap);
  CHECK_EQ(links_destroyed, destroyed + n);
}

/* A count that reaches 4294967295 stays there, on either path. */
static void immortal(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type *leaf = register_type(heap, "leaf", 16, NULL, NULL, leaf_destroy);
  unsigned long destroyed = leaves_destroyed;
  void *obj = rcgc_alloc(leaf);
  CHECK(obj != NULL);
  rcgc_object_head *head = rcgc_object_head_of(obj);
  /* The state 4294967292 increfs would leave (seconds of them, minutes under
   * valgrind), written directly. */
  head->refcnt = RCGC_REFCNT_IMMORTAL - 2;
  rcgc_incref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 4294967294u);
  rcgc_incref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 4294967295u);
  rcgc_incref_inline(obj);
  rcgc_incref(obj);
  CHECK_EQ(rcgc_refcount(obj), 4294967295u);
  for (int i = 0; i < 5; i++) rcgc_decref_inline(obj);
  rcgc_decref(obj);
  CHECK_EQ(rcgc_refcount(obj), 4294967295u);
  CHECK_EQ(head->refcnt, RCGC_REFCNT_IMMORTAL);
  CHECK_EQ(leaves_destroyed, destroyed);
  CHECK_EQ(stats_of(heap).live_objects, 1);
  /* Immortal objects go with their heap. */
  rcgc_heap_free(heap);
  CHECK_EQ(leaves_destroyed, destroyed + 1);
}

/* A decref of an object whose count is 0 reaches the misuse handler through
 * rcgc_decref, with the same message, and changes nothing. */
static void decref_too_many(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  misuse_log log;
  memset(&log, 0, sizeof log);
  rcgc_set_misuse_handler(heap, log_misuse, &log);
  rcgc_type *leaf = register_type(heap, "doomed", 16, NULL, NULL, leaf_destroy);
  unsigned long destroyed = leaves_destroyed;
  void *keep = rcgc_alloc(leaf);
  void *x = rcgc_alloc(leaf);
  CHECK(keep != NULL && x != NULL);
  char addr[64];
  snprintf(addr, sizeof addr, "%p", x);
  rcgc_decref_inline(x);
  CHECK_EQ(leaves_destroyed, destroyed + 1);
  CHECK_EQ(log.calls, 0);
  rcgc_decref_inline(x); /* x is freed */
  CHECK_EQ(log.calls, 1);
  char expected[256];
  snprintf(expected, sizeof expected,
           "rcgc_decref: object %s (type 'doomed') has refcount 0: decref of a freed object, "
           "or one decref more than increfs",
           addr);
  CHECK_STREQ(log.last, expected);
  CHECK_EQ(leaves_destroyed, destroyed + 1);
  rcgc_heap_stats stats = stats_of(heap);
  CHECK_EQ(stats.live_objects, 1);
  CHECK_EQ(stats.freed_total, 1);

  /* From the object's own destroy: "an object being freed". */
  rcgc_type *selfish = register_type(heap, "selfish", 16, NULL, NULL, selfish_destroy);
  void *s = rcgc_alloc(selfish);
  CHECK(s != NULL);
  rcgc_decref_inline(s);
  CHECK_EQ(log.calls, 2);
  snprintf(addr, sizeof addr, "%p", s);
  snprintf(expected, sizeof expected,
           "rcgc_decref: object %s (type 'selfish') has refcount 0: decref of an object being "
           "freed, or one decref more than increfs",
           addr);
  CHECK_STREQ(log.last, expected);
  stats = stats_of(heap);
  CHECK_EQ(stats.live_objects, 1);
  CHECK_EQ(stats.freed_total, 2);

  CHECK_EQ(rcgc_refcount(keep), 1);
  rcgc_decref_inline(keep);
  CHECK_EQ(leaves_destroyed, destroyed + 2);
  CHECK_EQ(log.calls, 2);
  rcgc_heap_free(heap);
}

/* Objects of a checked heap carry RCGC_HEAD_SLOW, so the inline functions call
 * rcgc_incref/rcgc_decref, which validate the pointer: a freed object is
 * reported instead of having its quarantined block written to. Objects of an
 * unchecked heap living alongside keep the fast path. */
static void checked_heaps_take_the_call(void) {
  rcgc_heap *heap = checked_heap();
  misuse_log log;
  memset(&log, 0, sizeof log);
  rcgc_set_misuse_handler(heap, log_misuse, &log);
  rcgc_type *leaf = register_type(heap, "guarded", 16, NULL, NULL, leaf_destroy);
  rcgc_type *type = register_type(heap, "link", sizeof(link), link_traverse, link_clear, link_destroy);
  unsigned long destroyed = leaves_destroyed;

  rcgc_heap *plain = rcgc_heap_new();
  CHECK(plain != NULL);
  void *fast = rcgc_slots_new(plain, 1);
  CHECK(fast != NULL);
  CHECK_EQ(rcgc_object_head_of(fast)->tag & RCGC_HEAD_SLOW, 0);

  void *obj = rcgc_alloc(leaf);
  CHECK(obj != NULL);
  rcgc_object_head *head = rcgc_object_head_of(obj);
  CHECK_EQ(head->tag & RCGC_HEAD_SLOW, RCGC_HEAD_SLOW);
  void *box = rcgc_slots_new(heap, 2);
  CHECK(box != NULL);
  CHECK_EQ(rcgc_object_head_of(box)->tag & RCGC_HEAD_SLOW, RCGC_HEAD_SLOW);

  rcgc_incref_inline(obj);
  rcgc_incref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 3);
  rcgc_decref_inline(obj);
  CHECK_EQ(rcgc_refcount(obj), 2);
  rcgc_decref_inline(obj);
  rcgc_decref_inline(obj);
  CHECK_EQ(leaves_destroyed, destroyed + 1);
  CHECK_EQ(log.calls, 0);

  /* The block is quarantined and keeps its mark: both functions report. */
  CHECK_EQ(head->tag & RCGC_HEAD_SLOW, RCGC_HEAD_SLOW);
  CHECK_EQ(head->refcnt, 0);
  rcgc_decref_inline(obj);
  CHECK_EQ(log.calls, 1);
  CHECK_CONTAINS(log.last, "rcgc_decref: object");
  CHECK_CONTAINS(log.last, "(type 'guarded') has been freed");
  rcgc_incref_inline(obj);
  CHECK_EQ(log.calls, 2);
  CHECK_CONTAINS(log.last, "rcgc_incref: object");
  CHECK_CONTAINS(log.last, "has been freed");
  CHECK_EQ(head->refcnt, 0);
  CHECK_EQ(leaves_destroyed, destroyed + 1);

  /* A chain in the checked heap, freed through link_clear's inline decrefs. */
  unsigned long links = links_destroyed;
  link *first = rcgc_alloc(type);
  CHECK(first != NULL);
  first->next = rcgc_alloc(type);
  CHECK(first->next != NULL);
  rcgc_decref_inline(first);
  CHECK_EQ(links_destroyed, links + 2);
  CHECK_EQ(log.calls, 2);

  /* The unchecked heap's object: exact counts on the fast path. */
  rcgc_incref_inline(fast);
  CHECK_EQ(rcgc_refcount(fast), 2);
  rcgc_decref_inline(fast);
  CHECK_EQ(rcgc_refcount(fast), 1);
  rcgc_decref_inline(fast);
  CHECK_EQ(stats_of(plain).live_objects, 0);

  rcgc_decref_inline(box);
  rcgc_heap_stats stats = stats_of(heap);
  CHECK_EQ(stats.live_objects, 0);
  CHECK_EQ(log.calls, 2);
  rcgc_heap_free(plain);
  rcgc_heap_free(heap);
}

/* Checked mode's thread rule holds on the inline path too: while the main
 * thread is inside the heap (a finalizer that waits), another thread's inline
 * decref of a live object with count 2 is reported and does nothing. Without
 * the call it would silently write the count. */
static void *shared_obj;

static void inline_pair(void) {
  rcgc_decref_inline(shared_obj);
  rcgc_incref_inline(shared_obj);
}

static void checked_threads(void) {
  rcgc_heap *heap = checked_heap();
  misuse_log log;
  memset(&log, 0, sizeof log);
  rcgc_set_misuse_handler(heap, log_misuse, &log);
  shared_obj = rcgc_slots_new(heap, 0);
  CHECK(shared_obj != NULL);
  rcgc_incref(shared_obj);
  while_inside_heap(heap, inline_pair);
  CHECK_EQ(log.calls, 2);
  CHECK_CONTAINS(log.last, "used by two threads at once");
  CHECK_EQ(rcgc_refcount(shared_obj), 2);
  rcgc_decref_inline(shared_obj);
  rcgc_decref_inline(shared_obj);
  CHECK_EQ(log.calls, 2);
  CHECK_EQ(stats_of(heap).live_objects, 0);
  rcgc_heap_free(heap);
}

int main(void) {
  layout();
  exact_counts();
  null_is_a_no_op();
  chain(getenv("RCGC_UNDER_VALGRIND") != NULL ? 200000 : 1000000);
  immortal();
  decref_too_many();
  checked_heaps_take_the_call();
  checked_threads();
  CHECK_DONE("test_inline");
}
