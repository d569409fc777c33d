// rcgc::heap: ownership (move-only), the gc-module calls, stats, and every
// failure mapped to rcgc::error with the library's code and exact message.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"

namespace {
struct Big {
  unsigned char bytes[400];
};
struct Cell {
  rcgc::ref<void> value;
  void traverse(rcgc::visitor &v) { v(value); }
};
std::string last_misuse;
void record_misuse(const char *message, void *ctx) {
  last_misuse = message;
  ++*static_cast<int *>(ctx);
}
}  // namespace

int main() {
  // --- the gc module ---------------------------------------------------------
  rcgc::heap heap;
  CHECK(heap.get() != nullptr);
  rcgc_thresholds t = heap.get_threshold();
  CHECK_EQ(t.gen0, 700);
  CHECK_EQ(t.gen1, 10);
  CHECK_EQ(t.gen2, 10);
  heap.set_threshold(7777, 11, 12);
  t = heap.get_threshold();
  CHECK_EQ(t.gen0, 7777);
  CHECK_EQ(t.gen1, 11);
  CHECK_EQ(t.gen2, 12);
  heap.set_threshold(700, 10, 10);
  CHECK(heap.is_enabled());
  heap.disable();
  CHECK(!heap.is_enabled());
  heap.enable();
  CHECK(heap.is_enabled());
  CHECK_COUNTS(heap, 0, 0, 0);
  CHECK_EQ(heap.collect(0), 0);
  CHECK_COUNTS(heap, 0, 1, 0);
  CHECK_EQ(heap.collect(1), 0);
  CHECK_COUNTS(heap, 0, 0, 1);
  CHECK_EQ(heap.collect(), 0);
  CHECK_COUNTS(heap, 0, 0, 0);

  // --- stats ------------------------------------------------------------------
  {
    rcgc::slots a = heap.new_slots(2);
    rcgc::slots b = heap.new_slots(2);
    a.set(0, b);
    b.set(0, a);
    rcgc_heap_stats s = heap.stats();
    CHECK_EQ(s.struct_size, sizeof(rcgc_heap_stats));
    CHECK_EQ(s.live_objects, 2);
    CHECK_EQ(s.tracked_objects, 2);
    CHECK_EQ(s.allocated_total, 2);
    CHECK_EQ(s.freed_total, 0);
    CHECK(s.bytes_in_use > 0 && s.peak_bytes == s.bytes_in_use);
  }
  CHECK_EQ(heap.collect(), 2);
  rcgc_heap_stats s = heap.stats();
  CHECK_EQ(s.live_objects, 0);
  CHECK_EQ(s.tracked_objects, 0);
  CHECK_EQ(s.bytes_in_use, 0);
  CHECK_EQ(s.freed_total, 2);

  // --- errors: code and message of the library -----------------------------
  CHECK_THROWS(heap.collect(3), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_collect: generation 3 is outside 0..=2");
  CHECK_THROWS(heap.collect(-1), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_collect: generation -1 is outside 0..=2");
  try {
    (void)heap.collect(7);
  } catch (const rcgc::error &e) {
    CHECK_STR(e.name(), "RCGC_ERR_INVALID_ARGUMENT");
    const std::runtime_error &base = e;  // catchable as a standard exception
    CHECK_STR(base.what(), "rcgc_collect: generation 7 is outside 0..=2");
  }
  CHECK_THROWS((void)heap.register_type<Big>(nullptr), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_type_register: invalid type spec: name is NULL");
  CHECK_THROWS((void)heap.new_slots(SIZE_MAX), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_slots_new: 18446744073709551615 slots are more than the largest object can hold");

  // --- a memory limit: make() throws, the heap stays usable --------------------
  {
    rcgc_config config = rcgc::default_config();
    config.memory_limit = 4096;
    rcgc::heap small(config);
    rcgc::type<Big> big_t = small.register_type<Big>("Big");
    std::vector<rcgc::ref<Big>> kept;
    bool limited = false;
    for (int i = 0; i < 20 && !limited; i++) {
      try {
        kept.push_back(big_t.make());
      } catch (const rcgc::error &e) {
        CHECK_EQ(e.code(), RCGC_ERR_MEMORY_LIMIT);
        limited = true;
      }
    }
    CHECK(limited);
    // As many as fit: the limit counts each object's block (header included).
    std::size_t per_object = small.stats().bytes_in_use / kept.size();
    CHECK(per_object >= sizeof(Big) + 16);
    CHECK_EQ(kept.size(), 4096 / per_object);
    kept.pop_back();
    kept.push_back(big_t.make());  // room again
    CHECK_EQ(small.stats().live_objects, 9);
    kept.clear();
  }
  {
    rcgc_config config = rcgc::default_config();
    config.struct_size = 1;  // smaller than any version of rcgc_config
    CHECK_THROWS(rcgc::heap bad(config), RCGC_ERR_INVALID_ARGUMENT,
                 "rcgc_heap_new_with: struct_size 1 is smaller than 24, the size of the first "
                 "version of this struct");
  }

  // --- moving a heap moves ownership; the moved-from heap frees nothing -------
  {
    rcgc::heap a;
    rcgc_heap *raw = a.get();
    rcgc::heap b(std::move(a));
    CHECK(a.get() == nullptr);
    CHECK(b.get() == raw);
    rcgc::type<Cell> cell_t = b.register_type<Cell>("Cell");
    rcgc::ref<Cell> c = cell_t.make();
    c->value = c;  // a self-cycle, left for the heap's destructor
    c.reset();
    rcgc::heap d;
    d = std::move(b);  // frees d's empty heap, takes b's
    CHECK(d.get() == raw);
    CHECK(b.get() == nullptr);
    CHECK_EQ(d.stats().live_objects, 1);
    rcgc_heap *released = d.release();
    CHECK(d.get() == nullptr);
    rcgc::heap e(rcgc::adopt, released);
    CHECK_EQ(e.collect(), 1);
  }

  // --- the misuse handler is reachable through the wrapper -------------------
  {
    int misuses = 0;
    heap.set_misuse_handler(record_misuse, &misuses);
    rcgc::slots x = heap.new_slots(1);
    void *raw = x.get();
    rcgc_incref(raw);
    rcgc_decref(raw);
    CHECK_EQ(misuses, 0);
    x.reset();
    rcgc_decref(raw);  // a decref of a freed object: reported, ignored
    CHECK_EQ(misuses, 1);
    CHECK(last_misuse.find("rcgc_decref") == 0);
    heap.set_misuse_handler(nullptr, nullptr);
  }

  DONE("test_heap");
}
