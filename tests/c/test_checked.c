/* Checked mode (rcgc_config.checked): use after free, decref below zero, a
 * pointer that is not an object, a type passed as an object, an object of
 * another heap and two threads inside one heap are reported with the
 * function, the address and the type, instead of crashing or corrupting. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "thread_gate.h"

typedef struct node { void *next; } node;

static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx) { visit(((node *)obj)->next, ctx); }
static void node_clear(void *obj) { rcgc_clear_ref(&((node *)obj)->next); }

static pthread_mutex_t misuse_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_misuse[512];
static int misuse_count;

static void record_misuse(const char *message, void *ctx) {
  (void)ctx;
  pthread_mutex_lock(&misuse_lock);
  snprintf(last_misuse, sizeof last_misuse, "%s", message);
  misuse_count++;
  pthread_mutex_unlock(&misuse_lock);
}

static int misuses(void) {
  pthread_mutex_lock(&misuse_lock);
  int n = misuse_count;
  pthread_mutex_unlock(&misuse_lock);
  return n;
}

static rcgc_heap *checked_heap(void) {
  rcgc_config config;
  rcgc_config_init(&config);
  config.checked = true;
  rcgc_heap *heap = rcgc_heap_new_with(&config);
  CHECK(heap != NULL);
  rcgc_set_misuse_handler(heap, record_misuse, NULL);
  return heap;
}

static rcgc_type *node_type(rcgc_heap *heap) {
  rcgc_type_spec spec = {"Node", sizeof(node), node_traverse, node_clear, NULL, NULL};
  rcgc_type *type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  return type;
}

#define CHECK_MISUSE(call, ...)                                                   \
  do {                                                                           \
    int before_ = misuses();                                                     \
    call;                                                                        \
    CHECK_EQ(misuses(), before_ + 1);                                            \
    const char *want_[] = {__VA_ARGS__};                                         \
    for (size_t i_ = 0; i_ < sizeof want_ / sizeof *want_; i_++) {               \
      if (!strstr(last_misuse, want_[i_])) {                                     \
        fprintf(stderr, "misuse message \"%s\" lacks \"%s\"\n", last_misuse, want_[i_]); \
        exit(1);                                                                 \
      }                                                                          \
    }                                                                            \
  } while (0)

static void use_after_free(void) {
  rcgc_heap *heap = checked_heap();
  rcgc_type *type = node_type(heap);
  node *x = rcgc_alloc(type);
  CHECK(x != NULL);
  rcgc_decref(x); /* freed: its block is quarantined */

  CHECK_MISUSE(rcgc_decref(x), "rcgc_decref", "has been freed", "'Node'");
  CHECK_MISUSE(rcgc_incref(x), "rcgc_incref", "has been freed", "'Node'");
  node *y = rcgc_alloc(type);
  CHECK_MISUSE(rcgc_set_ref(&y->next, x), "rcgc_set_ref", "has been freed");
  CHECK(y->next == NULL); /* the call did nothing */

  CHECK_EQ(rcgc_refcount(x), 0);
  CHECK_EQ(rcgc_last_error_code(), RCGC_ERR_INVALID_OBJECT);
  CHECK(strncmp(rcgc_last_error(), "rcgc_refcount: object", 21) == 0);
  CHECK(strstr(rcgc_last_error(), "has been freed") != NULL);
  CHECK_RC(rcgc_track(x), RCGC_ERR_INVALID_OBJECT);
  CHECK(!rcgc_is_tracked(x));
  CHECK(rcgc_type_of(x) == NULL);

  /* The heap is unharmed: y works, cycles are collected, memory is accounted. */
  rcgc_heap_stats stats = {.struct_size = sizeof stats};
  CHECK_RC(rcgc_heap_get_stats(heap, &stats), RCGC_OK);
  CHECK_EQ(stats.live_objects, 1);
  CHECK_EQ(stats.freed_total, 1);
  CHECK_EQ(stats.bytes_in_use, 32);
  rcgc_set_ref(&y->next, y);
  rcgc_decref(y);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_MISUSE(rcgc_decref(y), "rcgc_decref", "has been freed");
  rcgc_heap_free(heap);
}

static void not_an_object(void) {
  rcgc_heap *heap = checked_heap();
  rcgc_type *type = node_type(heap);
  long local[4] = {0, 0, 0, 0};
  /* Every live heap is checked, so an unknown pointer is rejected. */
  CHECK_RC(rcgc_slots_set(&local[2], 0, NULL), RCGC_ERR_INVALID_OBJECT);
  CHECK(strstr(rcgc_last_error(), "is not an object of any heap") != NULL);
  CHECK(rcgc_alloc((rcgc_type *)&local[2]) == NULL);
  CHECK_EQ(rcgc_last_error_code(), RCGC_ERR_INVALID_OBJECT);
  CHECK(strstr(rcgc_last_error(), "not a type of any heap") != NULL);
  /* A type where an object belongs, and the reverse. */
  CHECK_EQ(rcgc_slots_len(type), 0);
  CHECK(strstr(rcgc_last_error(), "a type, not an object") != NULL);
  void *obj = rcgc_slots_new(heap, 1);
  CHECK(rcgc_type_name((rcgc_type *)obj) == NULL);
  CHECK(strstr(rcgc_last_error(), "an object, not a type") != NULL);
  /* An object of another heap. */
  rcgc_heap *other = checked_heap();
  void *foreign = rcgc_slots_new(other, 1);
  CHECK_RC(rcgc_slots_set(obj, 0, foreign), RCGC_ERR_WRONG_HEAP);
  rcgc_decref(foreign);
  rcgc_heap_free(other);
  rcgc_decref(obj);

  /* A void function given a pointer no heap knows cannot return an error and
   * has no heap whose handler to call: the default handler aborts. */
  pid_t child = fork();
  if (child == 0) {
    fclose(stderr); /* keep the expected message out of the test's output */
    rcgc_decref(&local[2]);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  rcgc_heap_free(heap);
}

static void unchecked_heaps_still_work(void) {
  rcgc_heap *checked = checked_heap();
  rcgc_heap *plain = rcgc_heap_new();
  void *obj = rcgc_slots_new(plain, 1);
  /* Unknown to checked mode, but an unchecked heap exists: used as is. */
  rcgc_incref(obj);
  CHECK_EQ(rcgc_refcount(obj), 2);
  rcgc_decref(obj);
  CHECK_RC(rcgc_slots_set(obj, 0, obj), RCGC_OK);
  rcgc_decref(obj);
  size_t found = 0;
  CHECK_RC(rcgc_collect(plain, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  rcgc_heap_free(plain);
  rcgc_heap_free(checked);
}

/* Two threads inside one heap: the main thread is inside rcgc_decref (running
 * a finalizer that waits) while a second thread calls into the same heap. */
static void *shared_obj;

static void enter_the_heap(void) {
  (void)rcgc_refcount(shared_obj); /* enters the heap while main is inside */
}

static void two_threads(void) {
  rcgc_heap *heap = checked_heap();
  shared_obj = rcgc_slots_new(heap, 0);
  int before = misuses();
  while_inside_heap(heap, enter_the_heap);
  CHECK_EQ(misuses(), before + 1);
  CHECK(strstr(last_misuse, "used by two threads at once") != NULL);
  /* Handing a heap from one thread to another is fine: nothing reported. */
  CHECK_EQ(rcgc_refcount(shared_obj), 1);
  CHECK_EQ(misuses(), before + 1);
  rcgc_decref(shared_obj);
  rcgc_heap_free(heap);
}

int main(void) {
  use_after_free();
  not_an_object();
  unchecked_heaps_still_work();
  two_threads();
  CHECK_DONE("test_checked");
}
