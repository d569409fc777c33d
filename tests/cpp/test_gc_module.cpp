// rcgc::heap's rest of the gc module: get_stats, callbacks (owned by the heap,
// exceptions to the unraisable hook), freeze, get_objects / get_referrers /
// get_referents, is_finalized, debug flags, the debug sink, SAVEALL's garbage list.
// Each check names the CPython 3.11 snippet it mirrors; in the snippets
//   import gc; gc.disable(); class N: __slots__ = ('a', 'b', '__weakref__')
// and a slots object of 2 slots plays N.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "check.hpp"

namespace {

rcgc::heap fresh_heap() {
  rcgc::heap h;
  h.disable();
  return h;
}

// a <-> b, both dropped: a two-object cycle nobody holds.
void make_cycle(rcgc::heap &h) {
  rcgc::slots a = h.new_slots(2), b = h.new_slots(2);
  a.set(0, b);
  b.set(0, a);
}

std::vector<rcgc::unraisable> unraisables;
void record_unraisable(const rcgc::unraisable &u) { unraisables.push_back(u); }

int finalized = 0;
struct Cell {
  rcgc::ref<void> value;
  std::string label = "a label long enough to live on the heap, not in the object";
  void traverse(rcgc::visitor &v) { v(value); }
  void finalize() { finalized++; }
};

rcgc::ref<void> graveyard;
struct Phoenix {
  void finalize() { graveyard = rcgc::ref<Phoenix>(rcgc::borrow, this); }
};

std::size_t count_of(const std::vector<rcgc::ref<void>> &objs, const rcgc::ref<void> &o) {
  std::size_t n = 0;
  for (const auto &x : objs) n += x == o;
  return n;
}

/* gc.get_stats(), cumulative per generation:
 *   a <-> b cycle, del a, b; live = N()
 *   gc.collect(1) -> 2; gc.collect(1) -> 0
 *   gc.get_stats()[1]: collections +2, collected +2, uncollectable +0;
 *   gc.get_stats()[0] and [2]: collections +0                    (CPython 3.11) */
void stats() {
  rcgc::heap h = fresh_heap();
  auto before = h.get_stats();
  for (const rcgc_gen_stats &s : before) {
    CHECK_EQ(s.struct_size, sizeof(rcgc_gen_stats));
    CHECK_EQ(s.collections, 0);
    CHECK_EQ(s.collected, 0);
  }
  make_cycle(h);
  rcgc::slots live = h.new_slots(1);
  CHECK_EQ(h.collect(1), 2);
  CHECK_EQ(h.collect(1), 0);
  std::array<rcgc_gen_stats, 3> s = h.get_stats();
  CHECK_EQ(s[1].collections, 2);
  CHECK_EQ(s[1].collected, 2);
  CHECK_EQ(s[1].uncollectable, 0);
  CHECK_EQ(s[1].candidates, 3);  // the cycle and `live`; then `live` was in generation 2
  CHECK(s[1].duration_ns > 0);
  CHECK_EQ(s[0].collections, 0);
  CHECK_EQ(s[2].collections, 0);
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(h.get_stats()[2].collections, 1);
  CHECK_EQ(h.get_stats()[2].candidates, 1);
}

/* gc.callbacks:
 *   log = []; gc.callbacks.append(lambda p, i: log.append((p, i['generation'], i['collected'])))
 *   a <-> b cycle; del a, b; gc.collect(1)
 *   log == [('start', 1, 0), ('stop', 1, 2)]                    (CPython 3.11) */
struct entry {
  rcgc_gc_phase phase;
  int generation;
  std::size_t collected;
};

void callbacks() {
  rcgc::heap h = fresh_heap();
  std::vector<entry> log;
  std::vector<std::string> refused;
  rcgc::callback_id id = h.add_callback([&](rcgc_gc_phase p, const rcgc_gc_info &info) {
    log.push_back({p, info.generation, info.collected});
    // Inside a callback a collection is refused, allocation works.
    try {
      h.collect(0);
    } catch (const rcgc::error &e) {
      refused.push_back(std::string(e.name()) + ": " + e.what());
    }
    rcgc::slots tmp = h.new_slots(1);
  });
  make_cycle(h);
  CHECK_EQ(h.collect(1), 2);
  CHECK_EQ(log.size(), 2);
  CHECK_EQ(log[0].phase, RCGC_GC_START);
  CHECK_EQ(log[0].generation, 1);
  CHECK_EQ(log[0].collected, 0);
  CHECK_EQ(log[1].phase, RCGC_GC_STOP);
  CHECK_EQ(log[1].generation, 1);
  CHECK_EQ(log[1].collected, 2);
  CHECK_EQ(refused.size(), 2);
  CHECK_STR(refused[0],
            "RCGC_ERR_REENTRANT: rcgc_collect: not allowed while the heap is running the gc callbacks "
            "of a collection");

  // Automatic collections call them too: threshold 1, the second allocation collects.
  h.set_threshold(1, 10, 10);
  h.enable();
  {
    rcgc::slots a = h.new_slots(0), b = h.new_slots(0);
    h.disable();
  }
  CHECK_EQ(log.size(), 4);
  CHECK_EQ(log[2].phase, RCGC_GC_START);
  CHECK_EQ(log[2].generation, 0);

  // gc.callbacks.remove(cb); removing it again is an error (ValueError in CPython).
  h.remove_callback(id);
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(log.size(), 4);
  CHECK_THROWS(h.remove_callback(id), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_remove_callback: that callback and context are not registered");
  CHECK_THROWS(h.remove_callback(rcgc::callback_id{12345}), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_remove_callback: that callback and context are not registered");
}

/* A callback that raises does not stop the collection or the other callbacks:
 *   def bad(p, i): raise ValueError('boom')
 *   gc.callbacks[:] = [bad, good]; a <-> b cycle; del a, b
 *   gc.collect() -> 2; good saw 'start' and 'stop'; stderr, twice:
 *     Exception ignored in: <function bad at 0x...>
 *     ...
 *     ValueError: boom                                           (CPython 3.11) */
void throwing_callbacks() {
  rcgc::heap h = fresh_heap();
  unraisables.clear();
  rcgc::unraisable_hook old = rcgc::set_unraisable_hook(&record_unraisable);
  CHECK(old == nullptr);
  int good = 0;
  rcgc::callback_id bad = h.add_callback([](rcgc_gc_phase p, const rcgc_gc_info &) {
    if (p == RCGC_GC_START) throw std::runtime_error("boom");
    throw 42;  // not a std::exception
  });
  h.add_callback([&good](rcgc_gc_phase, const rcgc_gc_info &) { good++; });
  make_cycle(h);
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(good, 2);
  CHECK_EQ(unraisables.size(), 2);
  CHECK_STR(unraisables[0].where, "gc callback");
  CHECK_STR(unraisables[0].what, "boom");
  CHECK_STR(unraisables[1].what, "unknown exception");
  bool rethrown = false;
  try {
    std::rethrow_exception(unraisables[0].exception);
  } catch (const std::runtime_error &e) {
    rethrown = std::string(e.what()) == "boom";
  }
  CHECK(rethrown);
  CHECK_EQ(h.get_stats()[2].collected, 2);

  // The default hook (nullptr) writes one line to stderr.
  rcgc::set_unraisable_hook(nullptr);
  std::fflush(stderr);
  std::FILE *capture = std::tmpfile();
  CHECK(capture != nullptr);
  int saved = dup(2);
  dup2(fileno(capture), 2);
  CHECK_EQ(h.collect(), 0);
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::rewind(capture);
  char text[256] = {0};
  std::size_t n = std::fread(text, 1, sizeof text - 1, capture);
  std::fclose(capture);
  CHECK_STR(std::string(text, n),
            "rcgc: exception ignored in gc callback: boom\n"
            "rcgc: exception ignored in gc callback: unknown exception\n");
  h.remove_callback(bad);
  unraisables.clear();
}

/* A callback that removes itself (gc.callbacks.remove(cb) from cb) is destroyed only
 * after it returns: the std::string it owns is read after the removal (valgrind
 * would see a use after free). A heap owns its callbacks across moves, and destroys
 * them before rcgc_heap_free: a ref a callback captured is dropped while the heap
 * lives (valgrind again). */
void callback_lifetimes() {
  rcgc::heap h = fresh_heap();
  rcgc::callback_id self{};
  std::vector<std::string> seen;
  std::string owned = "a string long enough to be on the heap: the callback's own";
  self = h.add_callback([&h, &self, &seen, owned](rcgc_gc_phase, const rcgc_gc_info &) {
    h.remove_callback(self);
    seen.push_back(owned);
  });
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(seen.size(), 1);  // removed at "start": "stop" does not call it
  CHECK_STR(seen[0], owned);
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(seen.size(), 1);

  int calls = 0;
  {
    rcgc::heap a = fresh_heap();
    rcgc::slots held = a.new_slots(1);
    a.add_callback([held, &calls](rcgc_gc_phase, const rcgc_gc_info &) { calls++; });
    CHECK_EQ(held.refcount(), 2);
    rcgc::heap b(std::move(a));  // the callback moves with the heap
    CHECK_EQ(b.collect(), 0);
    CHECK_EQ(calls, 2);
    rcgc::heap c = fresh_heap();
    c = std::move(b);
    CHECK_EQ(c.collect(0), 0);
    CHECK_EQ(calls, 4);
    held.reset();  // the callback's copy remains
    CHECK_LIVE(c, 1);
  }  // c's destructor drops the callback (and its copy of `held`), then frees the heap
  CHECK_EQ(calls, 4);  // the shutdown collection calls no callback, as in CPython

  // release() unregisters them: the raw heap then calls nothing of ours.
  rcgc::heap r = fresh_heap();
  r.add_callback([&calls](rcgc_gc_phase, const rcgc_gc_info &) { calls++; });
  rcgc_heap *raw = r.release();
  std::size_t found = 99;
  CHECK_EQ(rcgc_collect(raw, 2, &found), RCGC_OK);
  CHECK_EQ(calls, 4);
  rcgc_heap_free(raw);
}

/* gc.freeze():
 *   x = N(); x.a = x; gc.freeze(); gc.get_count() == (0, 0, 0); gc.get_freeze_count() == 1
 *   del x; gc.collect() == 0        (frozen: ignored)
 *   gc.unfreeze(); gc.get_freeze_count() == 0; gc.collect() == 1   (CPython 3.11) */
void freeze() {
  rcgc::heap h = fresh_heap();
  {
    rcgc::slots x = h.new_slots(1);
    x.set(0, x);
    CHECK_COUNTS(h, 1, 0, 0);
    h.freeze();
    CHECK_EQ(h.freeze_count(), 1);
    CHECK_COUNTS(h, 0, 0, 0);
    CHECK(x.is_tracked());
    CHECK_EQ(h.get_objects().size(), 0);  // the permanent generation is not listed
  }
  CHECK_EQ(h.collect(), 0);
  h.unfreeze();
  CHECK_EQ(h.freeze_count(), 0);
  CHECK_EQ(h.collect(), 1);
  rcgc::heap moved_from = std::move(h);
  CHECK_THROWS(h.freeze(), RCGC_ERR_NULL_ARGUMENT, "rcgc_freeze: argument `heap` is NULL");
  CHECK_EQ(h.freeze_count(), 0);
}

/* gc.get_objects(generation), gc.get_referents(obj), gc.get_referrers(obj):
 *   p = N(); q = N(); r = N(); p.a = q; p.b = q; r.a = q
 *   [x for x in gc.get_referents(p) if x is q] == [q, q]  (CPython adds the type N;
 *       rcgc types are not objects)
 *   [x for x in gc.get_referrers(q) if x in (p, r)] == [p, r] in some order
 *   sys.getrefcount(q) - 1 == 4 afterwards                      (CPython 3.11) */
void introspection() {
  rcgc::heap h = fresh_heap();
  rcgc::slots p = h.new_slots(2), q = h.new_slots(0), r = h.new_slots(1);
  p.set(0, q);
  p.set(1, q);
  r.set(0, q);
  {
    std::vector<rcgc::ref<void>> referents = h.get_referents(p);
    CHECK_EQ(referents.size(), 2);
    CHECK(referents[0] == q && referents[1] == q);
    CHECK_EQ(q.refcount(), 6);  // each element is a reference of its own
    std::vector<rcgc::ref<void>> referrers = h.get_referrers(q);
    CHECK_EQ(referrers.size(), 2);
    CHECK_EQ(count_of(referrers, p), 1);
    CHECK_EQ(count_of(referrers, r), 1);
    std::vector<rcgc::ref<void>> all = h.get_objects();
    CHECK_EQ(all.size(), 3);
    CHECK_EQ(count_of(all, p) + count_of(all, q) + count_of(all, r), 3);
  }
  CHECK_EQ(q.refcount(), 4);
  CHECK_EQ(h.collect(0), 0);  // all three move to generation 1
  CHECK_EQ(h.get_objects(0).size(), 0);
  CHECK_EQ(h.get_objects(1).size(), 3);
  CHECK_EQ(h.get_objects(2).size(), 0);
  CHECK_THROWS(h.get_objects(3), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_get_objects: generation 3 is outside -1..=2 (-1: every generation)");
  CHECK_THROWS(h.get_referents(rcgc::ref<void>()), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_get_referents: argument `obj` is NULL");
  CHECK_EQ(h.get_referents(q).size(), 0);
  CHECK_EQ(q.refcount(), 4);
}

/* gc.is_finalized(obj): False until its finalizer ran (PEP 442):
 *   class P: def __del__(self): global g; g = self
 *   x = P(); gc.is_finalized(x) -> False; del x; gc.is_finalized(g) -> True */
void is_finalized() {
  rcgc::heap h = fresh_heap();
  rcgc::type<Phoenix> t = h.register_type<Phoenix>("Phoenix");
  rcgc::ref<Phoenix> x = t.make();
  CHECK(!h.is_finalized(x));
  void *raw = x.get();
  x.reset();  // finalized, resurrected into graveyard
  CHECK(graveyard.get() == raw);
  CHECK(rcgc::heap::is_finalized(graveyard));
  CHECK(!h.is_finalized(rcgc::ref<void>()));
  graveyard.reset();  // dies for good
}

/* gc.set_debug / gc.get_debug:
 *   gc.set_debug(gc.DEBUG_STATS | gc.DEBUG_SAVEALL); gc.get_debug() == 33
 * CPython accepts any int; rcgc refuses bits that are not flags. With DEBUG_STATS,
 * gc.collect() writes to stderr (CPython 3.11, `gc.collect()` of a 2-cycle after
 * gc.freeze() of one object):
 *   gc: collecting generation 2...
 *   gc: objects in each generation: 2 0 0     (rcgc: only its own objects)
 *   gc: objects in permanent generation: 1
 *   gc: done, 2 unreachable, 0 uncollectable, 0.0000s elapsed */
void debug_output() {
  rcgc::heap h = fresh_heap();
  CHECK_EQ(h.get_debug(), 0);
  h.set_debug(RCGC_DEBUG_STATS | RCGC_DEBUG_SAVEALL);
  CHECK_EQ(h.get_debug(), 33);
  CHECK_THROWS(h.set_debug(64), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_set_debug: flags 64 (0x40) hold bits that are not RCGC_DEBUG_* flags (those are 0x27)");
  CHECK_EQ(h.get_debug(), 33);
  h.set_debug(RCGC_DEBUG_STATS);

  std::vector<std::string> lines;
  h.set_debug_output([&lines](const char *line) { lines.emplace_back(line); });
  rcgc::slots frozen = h.new_slots(0);
  h.freeze();
  make_cycle(h);
  CHECK_EQ(lines.size(), 0);
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(lines.size(), 4);
  CHECK_STR(lines[0], "gc: collecting generation 2...");
  CHECK_STR(lines[1], "gc: objects in each generation: 2 0 0");
  CHECK_STR(lines[2], "gc: objects in permanent generation: 1");
  CHECK_STR(lines[3].substr(0, 42), "gc: done, 2 unreachable, 0 uncollectable, ");
  CHECK_STR(lines[3].substr(lines[3].size() - 9), "s elapsed");

  // A sink that throws: each line's exception goes to the hook, collection goes on.
  unraisables.clear();
  rcgc::set_unraisable_hook(&record_unraisable);
  h.set_debug_output([](const char *line) { throw std::length_error(line); });
  make_cycle(h);
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(unraisables.size(), 4);
  CHECK_STR(unraisables[0].where, "debug output");
  CHECK_STR(unraisables[0].what, "gc: collecting generation 2...");
  rcgc::set_unraisable_hook(nullptr);
  unraisables.clear();

  // A sink replaced from inside itself lives until it returns (its string is read after).
  std::string tail = "the first sink's own string, long enough for the heap";
  std::vector<std::string> second;
  h.set_debug_output([&h, &lines, &second, tail](const char *line) {
    h.set_debug_output([&second](const char *l) { second.emplace_back(l); });
    lines.push_back(std::string(line) + tail);
  });
  lines.clear();
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(lines.size(), 1);
  CHECK_STR(lines[0], "gc: collecting generation 2..." + tail);
  CHECK_EQ(second.size(), 3);
  CHECK_STR(second[0], "gc: objects in each generation: 0 0 0");

  // Back to stderr.
  h.set_debug_output(nullptr);
  h.set_debug(0);
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(second.size(), 3);  // the second sink was destroyed
  h.unfreeze();
}

/* DEBUG_SAVEALL and gc.garbage:
 *   gc.set_debug(gc.DEBUG_SAVEALL)
 *   a = C(); b = C(); a.value = b; b.value = a; del a, b     (C has a __del__)
 *   gc.collect() == 2; len(gc.garbage) == 2; gc.garbage[0].value is gc.garbage[1]
 *   both __del__ ran; sys.getrefcount(gc.garbage[0]) - 1 == 2 (b.value and the list)
 *   gc.collect() == 0; len(gc.garbage) == 2      (the list keeps them reachable)
 *   del gc.garbage[:]; gc.collect() == 2; len(gc.garbage) == 2   (saved again, no __del__)
 *   gc.set_debug(0); del gc.garbage[:]; gc.collect() == 2; gc.garbage == []  (CPython 3.11) */
void saveall() {
  rcgc::heap h = fresh_heap();
  rcgc::type<Cell> cell_t = h.register_type<Cell>("Cell");
  h.set_debug(RCGC_DEBUG_SAVEALL);
  void *a_raw, *b_raw;
  {
    rcgc::ref<Cell> a = cell_t.make(), b = cell_t.make();
    a->value = b;
    b->value = a;
    a_raw = a.get();
    b_raw = b.get();
  }
  finalized = 0;
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(finalized, 2);
  CHECK_EQ(h.garbage_count(), 2);
  {
    std::vector<rcgc::ref<void>> g = h.garbage();
    CHECK_EQ(g.size(), 2);
    CHECK(g[0].get() == a_raw && g[1].get() == b_raw);
    rcgc::ref<Cell> a = cell_t.cast(g[0]);
    CHECK(a->value.get() == b_raw);
    CHECK_EQ(a.refcount(), 4);  // b.value, the list, g[0], a
    CHECK(h.is_finalized(a));
  }
  CHECK_EQ(rcgc_refcount(a_raw), 2);
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(h.garbage_count(), 2);
  CHECK_EQ(h.get_stats()[2].collected, 2);
  CHECK_EQ(h.get_stats()[2].uncollectable, 0);

  h.clear_garbage();
  CHECK_EQ(h.garbage_count(), 0);
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(h.garbage_count(), 2);
  CHECK_EQ(finalized, 2);

  h.set_debug(0);
  h.clear_garbage();
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(h.garbage().size(), 0);
  CHECK_LIVE(h, 0);
}

/* gc.set_debug(gc.DEBUG_LEAK) at exit: rcgc_heap_free (the heap's destructor) writes
 * what is still alive to the sink, which the heap keeps until after the free. The
 * object below is leaked on purpose (its reference released). */
void leak_report() {
  std::vector<std::string> lines;
  {
    rcgc::heap h = fresh_heap();
    h.set_debug_output([&lines](const char *line) { lines.emplace_back(line); });
    h.set_debug(RCGC_DEBUG_LEAK);
    rcgc::slots kept = h.new_slots(2);
    (void)kept.release();
  }
  CHECK_EQ(lines.size(), 2);
  CHECK_STR(lines[0], "gc: still alive at rcgc_heap_free: 1 object, 32 bytes (0 in the garbage list)");
  CHECK_STR(lines[1], "gc:   rcgc.slots: 1 object, 32 bytes");
}

}  // namespace

int main() {
  stats();
  callbacks();
  throwing_callbacks();
  callback_lifetimes();
  freeze();
  introspection();
  is_finalized();
  debug_output();
  saveall();
  leak_report();
  DONE("test_gc_module");
}
