/* Minimal checking helpers shared by the C tests: every CHECK prints what it
 * compared and exits non-zero on the first failure. */
#ifndef RCGC_TEST_CHECK_H
#define RCGC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcgc.h"

static unsigned long check_count = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    check_count++;                                                               \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n  last error: %s\n", __FILE__, \
              __LINE__, #cond, rcgc_last_error());                               \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Compare two unsigned integers, printing both on failure. */
#define CHECK_EQ(actual, expected)                                               \
  do {                                                                           \
    unsigned long long check_a_ = (unsigned long long)(actual);                  \
    unsigned long long check_e_ = (unsigned long long)(expected);                \
    check_count++;                                                               \
    if (check_a_ != check_e_) {                                                  \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %llu, expected %s == %llu\n" \
              "  last error: %s\n",                                              \
              __FILE__, __LINE__, #actual, check_a_, #expected, check_e_,        \
              rcgc_last_error());                                                \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Check a call's result code, printing both codes and the last error on failure. */
#define CHECK_RC(call, expected)                                                 \
  do {                                                                           \
    rcgc_result check_r_ = (call);                                               \
    check_count++;                                                               \
    if (check_r_ != (expected)) {                                                \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s\n  last error: %s\n",  \
              __FILE__, __LINE__, #call, rcgc_result_name(check_r_),             \
              rcgc_result_name(expected), rcgc_last_error());                    \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Compare two strings, printing both (on their own lines: they may be long) on failure. */
#define CHECK_STREQ(actual, expected)                                            \
  do {                                                                           \
    const char *check_sa_ = (actual);                                            \
    const char *check_se_ = (expected);                                          \
    check_count++;                                                               \
    if (check_sa_ == NULL || strcmp(check_sa_, check_se_) != 0) {                \
      fprintf(stderr, "%s:%d: CHECK_STREQ failed: %s is\n%s\n--- expected ---\n%s\n", \
              __FILE__, __LINE__, #actual, check_sa_ ? check_sa_ : "(null)",     \
              check_se_);                                                        \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Check that a string contains `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                         \
  do {                                                                           \
    const char *check_h_ = (haystack);                                           \
    check_count++;                                                               \
    if (check_h_ == NULL || strstr(check_h_, (needle)) == NULL) {                \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,       \
              __LINE__, check_h_ ? check_h_ : "(null)", (needle));              \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* CHECK_COUNTS is an alias, so that a test may redefine it (to skip CPython's
 * exact counts under the stress-gc feature) and still check a model's counts
 * with CHECK_COUNTS_ALWAYS. */
#define CHECK_COUNTS(heap, c0, c1, c2) CHECK_COUNTS_ALWAYS(heap, c0, c1, c2)

#define CHECK_COUNTS_ALWAYS(heap, c0, c1, c2)                                    \
  do {                                                                           \
    rcgc_counts check_c_ = rcgc_get_count(heap);                                 \
    check_count++;                                                               \
    if (check_c_.gen0 != (size_t)(c0) || check_c_.gen1 != (size_t)(c1) ||       \
        check_c_.gen2 != (size_t)(c2)) {                                         \
      fprintf(stderr, "%s:%d: counts are (%zu, %zu, %zu), expected (%zu, %zu, %zu)\n", \
              __FILE__, __LINE__, check_c_.gen0, check_c_.gen1, check_c_.gen2,   \
              (size_t)(c0), (size_t)(c1), (size_t)(c2));                         \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Call at the end of main: prints the closing line the harness looks for. */
#define CHECK_DONE(name)                                                         \
  do {                                                                           \
    printf("%s: %lu checks passed\n", (name), check_count);                      \
    return 0;                                                                    \
  } while (0)

/* The heap's statistics; fails the test if the call does. The struct is
 * filled with 0xAB first, so a field the library forgot to write shows. */
static inline rcgc_heap_stats heap_stats(const rcgc_heap *heap) {
  rcgc_heap_stats st;
  memset(&st, 0xAB, sizeof st);
  st.struct_size = sizeof st;
  CHECK_RC(rcgc_heap_get_stats(heap, &st), RCGC_OK);
  CHECK_EQ(st.struct_size, sizeof st);
  return st;
}

/* A misuse handler that counts its calls and keeps (and prints) the last
 * message; install it with rcgc_set_misuse_handler(heap, log_misuse, &log). */
typedef struct misuse_log {
  int calls;
  char last[512];
} misuse_log;

static inline void log_misuse(const char *message, void *ctx) {
  misuse_log *log = (misuse_log *)ctx;
  log->calls++;
  snprintf(log->last, sizeof log->last, "%s", message ? message : "(null)");
  printf("  misuse handler: %s\n", log->last);
}

#endif
