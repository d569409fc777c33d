/* Two threads inside one heap, for the checked-mode tests (test_checked.c,
 * test_inline.c): the main thread drops the last reference to an object whose
 * finalizer waits, and while it waits, inside the heap, a second thread runs
 * the test's action. The includer defines _POSIX_C_SOURCE and includes check.h. */
#ifndef RCGC_TEST_THREAD_GATE_H
#define RCGC_TEST_THREAD_GATE_H

#include <pthread.h>

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int finalizer_waiting, other_thread_done;

typedef struct gate {
  void (*action)(void);
} gate;

static void gate_finalize(void *obj) {
  (void)obj;
  pthread_mutex_lock(&gate_lock);
  finalizer_waiting = 1;
  pthread_cond_broadcast(&gate_cond);
  while (!other_thread_done) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
}

static void *gate_thread(void *arg) {
  pthread_mutex_lock(&gate_lock);
  while (!finalizer_waiting) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  ((gate *)arg)->action();
  pthread_mutex_lock(&gate_lock);
  other_thread_done = 1;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  return NULL;
}

/* Runs `action` on a second thread while this thread is inside `heap`. */
static void while_inside_heap(rcgc_heap *heap, void (*action)(void)) {
  finalizer_waiting = 0;
  other_thread_done = 0;
  rcgc_type_spec spec = {"Waiter", 16, NULL, NULL, gate_finalize, NULL};
  rcgc_type *type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  void *waiter = rcgc_alloc(type);
  CHECK(waiter != NULL);
  gate g = {action};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, gate_thread, &g) == 0);
  rcgc_decref(waiter); /* the finalizer blocks until the other thread has run `action` */
  CHECK(pthread_join(thread, NULL) == 0);
}

#endif
