// rcgc::weak_ref<T>: weakref.ref with CPython's rules, std::weak_ptr's shape
// (lock, expired, copies sharing one weak reference object), callbacks owned by the
// weak_ref and its copies, exceptions from callbacks to the unraisable hook. Each
// check names the CPython 3.11 snippet it mirrors; in the snippets
//   import gc, weakref; gc.disable(); class N: __slots__ = ('a', 'b', '__weakref__')
// and a slots object of 2 slots plays N.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"

namespace {

rcgc::heap fresh_heap() {
  rcgc::heap h;
  h.disable();
  return h;
}

struct Node {
  rcgc::ref<Node> next;
  std::string name;
  explicit Node(std::string n) : name(std::move(n)) {}
  void traverse(rcgc::visitor &v) { v(next); }
};

std::vector<std::string> log;  // what the callbacks saw, in order

std::vector<rcgc::unraisable> unraisables;
void record_unraisable(const rcgc::unraisable &u) { unraisables.push_back(u); }

/*   o = N(); w = weakref.ref(o)
 *   w() is o; sys.getrefcount(o) - 1 == 1 (a weak reference owns nothing)
 *   weakref.ref(o) is w; weakref.getweakrefcount(o) == 1
 *   del o; w() is None                                          (CPython 3.11) */
void basic() {
  rcgc::heap h = fresh_heap();
  rcgc::slots o = h.new_slots(2);
  rcgc_counts before = h.get_count();
  rcgc::weak_ref<void> w(o);
  CHECK(static_cast<bool>(w));
  CHECK(rcgc_is_weakref(w.get()));
  CHECK_EQ(h.get_count().gen0, before.gen0 + 1);  // tracked, so counted, as in CPython
  CHECK_EQ(o.refcount(), 1);
  CHECK_EQ(rcgc::weakref_count(o), 1);
  CHECK(!w.expired());
  {
    rcgc::ref<void> got = w.lock();
    CHECK(got == o);
    CHECK_EQ(o.refcount(), 2);  // lock() returns a new reference
  }
  CHECK_EQ(o.refcount(), 1);
  rcgc::weak_ref<void> again(o);  // weakref.ref(o) is weakref.ref(o)
  CHECK(again.get() == w.get());
  CHECK_EQ(rcgc_refcount(w.get()), 2);
  CHECK_EQ(h.weakref_count(o), 1);
  o.reset();
  CHECK(w.expired());
  CHECK(!w.lock());
  CHECK(again.expired());
  CHECK_LIVE(h, 1);  // the weak reference object, held by w and again
}

/* Copies share the weak reference object (copy: +1, move: free), like std::weak_ptr;
 * weak_ref<Node> converts to weak_ref<void>; an empty weak_ref is expired. */
void copies() {
  rcgc::heap h = fresh_heap();
  rcgc::type<Node> node_t = h.register_type<Node>("Node");
  rcgc::ref<Node> n = node_t.make("n");
  rcgc::weak_ref<Node> w(n);
  void *obj = w.get();
  CHECK_EQ(rcgc_refcount(obj), 1);
  {
    rcgc::weak_ref<Node> c = w;
    CHECK(c.get() == obj);
    CHECK_EQ(rcgc_refcount(obj), 2);
    rcgc::weak_ref<Node> m = std::move(c);
    CHECK(!c);
    CHECK(c.expired());
    CHECK(!c.lock());
    CHECK_EQ(rcgc_refcount(obj), 2);
    rcgc::weak_ref<void> v = m;  // to weak_ref<void>
    CHECK_EQ(rcgc_refcount(obj), 3);
    CHECK(v.lock() == n);
    m = w;  // self-sharing assignment
    CHECK_EQ(rcgc_refcount(obj), 3);
    v.reset();
    CHECK_EQ(rcgc_refcount(obj), 2);
  }
  CHECK_EQ(rcgc_refcount(obj), 1);
  CHECK_STR(w.lock()->name, "n");
  rcgc::weak_ref<Node> empty;
  CHECK(empty.expired());
  CHECK(empty.get() == nullptr);
  swap(empty, w);
  CHECK(empty.get() == obj);
  CHECK(!w);
  CHECK_THROWS(rcgc::weak_ref<Node>(rcgc::ref<Node>()), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_weakref_new: argument `obj` is NULL");
}

/* Callbacks run newest first, each seeing its weak reference dead:
 *   o = N(); log = []
 *   wa = weakref.ref(o, lambda r: log.append(('a', r() is None)))
 *   wb = weakref.ref(o, lambda r: log.append(('b', r() is None)))
 *   weakref.getweakrefcount(o) == 2; wa is not wb
 *   del o; log -> [('b', True), ('a', True)]                     (CPython 3.11) */
void callbacks_newest_first() {
  rcgc::heap h = fresh_heap();
  rcgc::slots o = h.new_slots(2);
  log.clear();
  auto logger = [](const char *name) {
    return [name](const rcgc::weak_ref<void> &r) {
      log.push_back(std::string(name) + (r.expired() ? " dead" : " alive"));
    };
  };
  rcgc::weak_ref<void> wa(o, logger("a"));
  rcgc::weak_ref<void> wb(o, logger("b"));
  CHECK(wa.get() != wb.get());
  CHECK_EQ(rcgc::weakref_count(o), 2);
  o.reset();
  CHECK_EQ(log.size(), 2);
  CHECK_STR(log[0], "b dead");
  CHECK_STR(log[1], "a dead");
  CHECK(wa.expired() && wb.expired());
}

/* The weak reference goes first: no callback.
 *   o = N(); w = weakref.ref(o, cb); del w; del o; log -> []     (CPython 3.11)
 * In C++ the callback belongs to the weak_ref and its copies, so it does not run once
 * they are gone even while the weak reference object lives on (here held by the
 * vector gc.get_objects() returned). */
void weak_ref_dies_first() {
  rcgc::heap h = fresh_heap();
  rcgc::slots o = h.new_slots(2);
  log.clear();
  std::optional<rcgc::weak_ref<void>> w;
  w.emplace(o, [] { log.push_back("cb"); });  // a callback may take no argument
  w.reset();
  o.reset();
  CHECK_EQ(log.size(), 0);

  o = h.new_slots(2);
  w.emplace(o, [] { log.push_back("cb"); });
  std::vector<rcgc::ref<void>> everything = h.get_objects();  // o and the weak reference
  CHECK_EQ(everything.size(), 2);
  w.reset();
  CHECK_EQ(rcgc::weakref_count(o), 1);  // the object lives on, ...
  everything.clear();
  o.reset();  // ... but nothing calls a destroyed callback
  CHECK_EQ(log.size(), 0);

  // The callable is destroyed with the last weak_ref, not with the weak reference
  // object (which rcgc frees later, and which then lets go of the rest).
  auto captured = std::make_shared<int>(0);
  o = h.new_slots(2);
  w.emplace(o, [captured] { log.push_back("cb"); });
  CHECK_EQ(captured.use_count(), 2);
  everything = h.get_objects();
  w.reset();
  CHECK_EQ(captured.use_count(), 1);
  everything.clear();
  o.reset();
  CHECK_EQ(log.size(), 0);
}

/* A reachable weak reference to garbage calls back; a garbage one never does:
 *   x = N(); x.a = x; w = weakref.ref(x, cb); del x
 *   gc.collect() -> 1; log -> ['cb']; w() is None
 *   x = N(); x.a = x; x.b = weakref.ref(x, cb); del x
 *   gc.collect() -> 2 (x and its weak reference); log unchanged   (CPython 3.11) */
void in_collections() {
  rcgc::heap h = fresh_heap();
  log.clear();
  rcgc::weak_ref<void> w;
  {
    rcgc::slots x = h.new_slots(2);
    x.set(0, x);
    w = rcgc::weak_ref<void>(x, [](const rcgc::weak_ref<void> &r) {
      log.push_back(r.expired() ? "cb dead" : "cb alive");
    });
  }
  CHECK(!w.expired());  // a cycle: refcounting alone does not free it
  CHECK_EQ(h.collect(), 1);
  CHECK_EQ(log.size(), 1);
  CHECK_STR(log[0], "cb dead");
  CHECK(w.expired());
  CHECK_EQ(h.collect(), 0);
  CHECK_EQ(log.size(), 1);  // once
  w.reset();

  {
    rcgc::slots x = h.new_slots(2);
    x.set(0, x);
    rcgc::weak_ref<void> inner(x, [] { log.push_back("inner"); });
    x.set(1, rcgc::ref<void>(rcgc::borrow, inner.get()));  // x.b = the weak reference
  }
  CHECK_EQ(h.collect(), 2);
  CHECK_EQ(log.size(), 1);
  CHECK_LIVE(h, 0);
}

/* A callback that raises: the other callbacks run, the exception goes to the hook
 *   wa = weakref.ref(o, lambda r: 1 / 0); wb = weakref.ref(o, cb); del o
 *   log -> ['cb']; stderr: "Exception ignored in: <function <lambda> ...>",
 *   "ZeroDivisionError: division by zero"                        (CPython 3.11) */
void throwing_callback() {
  rcgc::heap h = fresh_heap();
  log.clear();
  unraisables.clear();
  rcgc::set_unraisable_hook(&record_unraisable);
  rcgc::slots o = h.new_slots(2);
  rcgc::weak_ref<void> wa(o, [] { throw std::domain_error("division by zero"); });
  rcgc::weak_ref<void> wb(o, [] { log.push_back("cb"); });
  o.reset();
  CHECK_EQ(log.size(), 1);
  CHECK_EQ(unraisables.size(), 1);
  CHECK_STR(unraisables[0].where, "weak_ref callback");
  CHECK_STR(unraisables[0].what, "division by zero");
  rcgc::set_unraisable_hook(nullptr);
  unraisables.clear();
}

/* A callback that destroys the last weak_ref sharing it: the callable (and the
 * std::string it owns) lives until the call returns (valgrind checks). */
void callback_drops_its_weak_ref() {
  rcgc::heap h = fresh_heap();
  log.clear();
  rcgc::type<Node> node_t = h.register_type<Node>("Node");
  rcgc::ref<Node> n = node_t.make("n");
  std::optional<rcgc::weak_ref<Node>> holder;
  std::string owned = "owned by the callback, long enough to be on the heap";
  holder.emplace(n, [&holder, owned](const rcgc::weak_ref<Node> &self) {
    CHECK(self.get() == holder->get());
    holder.reset();
    log.push_back(owned);
  });
  n.reset();
  CHECK_EQ(log.size(), 1);
  CHECK_STR(log[0], owned);
  CHECK(!holder);
  CHECK_LIVE(h, 0);
}

}  // namespace

int main() {
  basic();
  copies();
  callbacks_newest_first();
  weak_ref_dies_first();
  in_collections();
  throwing_callback();
  callback_drops_its_weak_ref();
  DONE("test_weakref");
}
