// The header from C++: included twice (the include guard must hold), with
// extern "C" linkage, [[nodiscard]] results and C++'s stricter conversions.
#include "rcgc.h"
#include "rcgc.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

static int checks = 0;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: EXPECT failed: %s\n  last error: %s\n",     \
                   __FILE__, __LINE__, #cond, rcgc_last_error());              \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

namespace {

struct Pair {
  void *first;
  void *second;
};

int pairs_destroyed = 0;

extern "C" void pair_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  Pair *p = static_cast<Pair *>(obj);
  if (p->first) visit(p->first, ctx);
  if (p->second) visit(p->second, ctx);
}

extern "C" void pair_clear(void *obj) {
  Pair *p = static_cast<Pair *>(obj);
  rcgc_clear_ref(&p->first);
  rcgc_clear_ref(&p->second);
}

extern "C" void pair_destroy(void *) { pairs_destroyed++; }

int debug_lines = 0;

extern "C" void count_line(const char *line, void *) {
  if (std::strncmp(line, "gc: ", 4) == 0) debug_lines++;
}

}  // namespace

int main() {
  char version[32];
  std::snprintf(version, sizeof version, "%d.%d.%d", RCGC_VERSION_MAJOR, RCGC_VERSION_MINOR,
                RCGC_VERSION_PATCH);
  EXPECT(std::strcmp(rcgc_version(), version) == 0);

  rcgc_heap *heap = rcgc_heap_new();
  EXPECT(heap != nullptr);

  // a slots 2-cycle
  void *a = rcgc_slots_new(heap, 1);
  void *b = rcgc_slots_new(heap, 1);
  EXPECT(a != nullptr && b != nullptr);
  EXPECT(rcgc_slots_set(a, 0, b) == RCGC_OK);
  EXPECT(rcgc_slots_set(b, 0, a) == RCGC_OK);
  EXPECT(rcgc_refcount(a) == 2 && rcgc_refcount(b) == 2);
  rcgc_decref(a);
  rcgc_decref(b);
  size_t found = 0;
  EXPECT(rcgc_collect(heap, 2, &found) == RCGC_OK);
  EXPECT(found == 2);

  // a C++ type with callbacks, in a self cycle
  rcgc_type_spec spec = {"Pair", sizeof(Pair), pair_traverse, pair_clear, nullptr, pair_destroy};
  rcgc_type *pair_t = nullptr;
  EXPECT(rcgc_type_register(heap, &spec, &pair_t) == RCGC_OK);
  Pair *p = static_cast<Pair *>(rcgc_alloc(pair_t));
  EXPECT(p != nullptr && p->first == nullptr && p->second == nullptr);
  rcgc_set_ref(&p->first, p);
  rcgc_decref(p);
  EXPECT(rcgc_collect(heap, 2, &found) == RCGC_OK);
  EXPECT(found == 1);
  EXPECT(pairs_destroyed == 1);

  rcgc_heap_stats st;
  std::memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  EXPECT(rcgc_heap_get_stats(heap, &st) == RCGC_OK);
  EXPECT(st.live_objects == 0 && st.allocated_total == 3 && st.freed_total == 3);

  rcgc_thresholds t = rcgc_get_threshold(heap);
  EXPECT(t.gen0 == 700 && t.gen1 == 10 && t.gen2 == 10);

  // debug flags combine with | (an int in C++ too), and a C++ sink
  void *c = rcgc_slots_new(heap, 1);
  EXPECT(c != nullptr && rcgc_slots_set(c, 0, c) == RCGC_OK);
  rcgc_decref(c);
  EXPECT(rcgc_set_debug(heap, RCGC_DEBUG_STATS | RCGC_DEBUG_SAVEALL) == RCGC_OK);
  EXPECT(rcgc_set_debug_output(heap, count_line, nullptr) == RCGC_OK);
  EXPECT(rcgc_collect(heap, 2, &found) == RCGC_OK);
  EXPECT(found == 1 && debug_lines == 4 && rcgc_get_garbage_count(heap) == 1);
  EXPECT(rcgc_set_debug(heap, 0) == RCGC_OK && rcgc_clear_garbage(heap) == RCGC_OK);

  // the header's inline refcount functions, compiled as C++
  Pair *q = static_cast<Pair *>(rcgc_alloc(pair_t));
  EXPECT(q != nullptr);
  rcgc_incref_inline(q);
  rcgc_incref_inline(q);
  EXPECT(rcgc_refcount(q) == 3 && rcgc_object_head_of(q)->refcnt == 3);
  rcgc_decref_inline(q);
  rcgc_decref_inline(q);
  EXPECT(rcgc_refcount(q) == 1 && pairs_destroyed == 1);
  rcgc_decref_inline(q);
  EXPECT(pairs_destroyed == 2);
  rcgc_incref_inline(nullptr);
  rcgc_decref_inline(nullptr);

  EXPECT(rcgc_collect(heap, 3, nullptr) == RCGC_ERR_INVALID_ARGUMENT);
  EXPECT(std::strcmp(rcgc_result_name(rcgc_last_error_code()), "RCGC_ERR_INVALID_ARGUMENT") == 0);

  rcgc_heap_free(heap);
  std::printf("test_cpp: %d checks passed\n", checks);
  return 0;
}
