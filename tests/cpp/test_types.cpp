// rcgc::type<T>: C++ structs whose traverse is a member, collected exactly as
// the C API collects them; ~T runs once per object (valgrind sees any leak of the
// std::string members), finalize() resurrects, a throwing constructor leaks nothing.
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

int nodes_alive = 0;
int nodes_destroyed = 0;

// Only traverse: the wrapper's generated clear empties `next` through the visitor.
struct Node {
  rcgc::ref<Node> next;
  std::string label;  // heap memory of its own: leaks unless ~Node runs

  explicit Node(std::string l) : label(std::move(l)) { nodes_alive++; }
  ~Node() {
    nodes_alive--;
    nodes_destroyed++;
  }
  void traverse(rcgc::visitor &v) { v(next); }
};

int pair_clears = 0;

// Raw fields managed with rcgc_set_ref, an explicit clear(), and a trivially
// destructible payload (so no destroy callback at all).
struct Pair {
  void *first;
  void *second;
  void traverse(rcgc::visitor &v) {
    v(first);
    v(second);
  }
  void clear() {
    pair_clears++;
    rcgc_clear_ref(&first);
    rcgc_clear_ref(&second);
  }
};
static_assert(std::is_trivially_destructible_v<Pair>);

rcgc::ref<void> graveyard;  // where finalizers resurrect objects
int finalized = 0;

struct Phoenix {
  rcgc::ref<Phoenix> self;
  bool resurrect = true;
  void traverse(rcgc::visitor &v) { v(self); }
  void finalize() {
    finalized++;
    if (resurrect) graveyard = rcgc::ref<Phoenix>(rcgc::borrow, this);
  }
};

int throwers_destroyed = 0;
rcgc::type<Node> *node_type = nullptr;

// Allocates a Node, then throws: the Node must be freed, the Thrower's memory
// released without ~Thrower.
struct Thrower {
  rcgc::ref<Node> held;
  explicit Thrower(bool fail) : held(node_type->make("made inside a constructor that throws")) {
    if (fail) throw std::runtime_error("constructor failed");
  }
  ~Thrower() { throwers_destroyed++; }
  void traverse(rcgc::visitor &v) { v(held); }
};

// Allocates while being constructed, with gen0 threshold 1: each allocation
// collects, and the half-built object (its fields set, traverse not yet allowed
// to look) must neither be freed nor confuse the collector.
struct Builder {
  rcgc::ref<Node> a, b;
  Builder() : a(node_type->make("builder a")), b(node_type->make("builder b")) {
    a->next = b;
  }
  void traverse(rcgc::visitor &v) {
    v(a);
    v(b);
  }
};

}  // namespace

int main() {
  rcgc::heap heap;
  rcgc::type<Node> node_t = heap.register_type<Node>("Node");
  node_type = &node_t;
  CHECK_STR(node_t.name(), "Node");

  // --- a 2-cycle with generated clear, collected; ~Node runs for both ---------
  {
    rcgc::ref<Node> a = node_t.make("a: a label longer than the small-string buffer");
    rcgc::ref<Node> b = node_t.make("b: a label longer than the small-string buffer");
    CHECK(a.is_tracked());
    CHECK_COUNTS(heap, 2, 0, 0);
    a->next = b;
    b->next = a;
    CHECK_EQ(a.refcount(), 2);
    CHECK_EQ(b.refcount(), 2);
    CHECK_EQ(nodes_alive, 2);
  }
  CHECK_EQ(nodes_alive, 2);  // refcounting alone cannot free the cycle
  CHECK_LIVE(heap, 2);
  CHECK_EQ(heap.collect(0), 2);
  CHECK_EQ(nodes_alive, 0);
  CHECK_EQ(nodes_destroyed, 2);
  CHECK_LIVE(heap, 0);
  CHECK_COUNTS(heap, 0, 1, 0);

  // --- a chain freed by refcounting: ~Node once each, no collection ----------
  {
    rcgc::ref<Node> head = node_t.make("head");
    rcgc::ref<Node> cur = head;
    for (int i = 0; i < 9; i++) {
      cur->next = node_t.make("chain link " + std::to_string(i));
      cur = cur->next;
    }
    CHECK_EQ(nodes_alive, 10);
  }
  CHECK_EQ(nodes_alive, 0);
  CHECK_EQ(nodes_destroyed, 12);

  // --- a self-cycle that is still referenced survives, then dies -------------
  {
    rcgc::ref<Node> keep = node_t.make("kept");
    keep->next = keep;
    CHECK_EQ(heap.collect(), 0);
    CHECK_EQ(nodes_alive, 1);
    CHECK_EQ(keep.refcount(), 2);
  }
  CHECK_EQ(heap.collect(), 1);
  CHECK_EQ(nodes_alive, 0);

  // --- raw fields and an explicit clear(); no destroy callback ---------------
  rcgc::type<Pair> pair_t = heap.register_type<Pair>("Pair");
  {
    rcgc::ref<Pair> p = pair_t.make();
    rcgc::ref<Pair> q = pair_t.make();
    CHECK(p->first == nullptr && p->second == nullptr);
    rcgc_set_ref(&p->first, q.get());
    rcgc_set_ref(&q->first, p.get());
    rcgc_set_ref(&q->second, q.get());
    rcgc_clear_ref(&q->second);
    CHECK(q->second == nullptr);
    CHECK_EQ(p.refcount(), 2);
    CHECK_EQ(q.refcount(), 2);
  }
  CHECK_EQ(heap.collect(), 2);
  // The collection clears one of the two; that frees the other by refcounting (its
  // clear at zero drops the last reference to the first), which is then cleared
  // again at zero: 3 clears, whichever the collector clears first.
  CHECK_EQ(pair_clears, 3);
  CHECK_LIVE(heap, 0);

  // --- finalize resurrects (PEP 442): found 0, then 1, finalize runs once -----
  rcgc::type<Phoenix> phoenix_t = heap.register_type<Phoenix>("Phoenix");
  {
    rcgc::ref<Phoenix> p = phoenix_t.make();
    p->self = p;
  }
  CHECK_EQ(heap.collect(), 0);  // resurrected by its finalizer: nothing unreachable
  CHECK_EQ(finalized, 1);
  CHECK(graveyard);
  CHECK_EQ(graveyard.refcount(), 2);  // the graveyard and its own self field
  CHECK_LIVE(heap, 1);
  graveyard.reset();
  CHECK_EQ(heap.collect(), 1);  // garbage again; finalize does not run twice
  CHECK_EQ(finalized, 1);
  CHECK_LIVE(heap, 0);
  {
    rcgc::ref<Phoenix> p = phoenix_t.make();
    p->resurrect = false;  // dies by refcount: finalize, then clear, then free
  }
  CHECK_EQ(finalized, 2);
  CHECK_LIVE(heap, 0);

  // --- a throwing constructor leaks nothing and runs no destructor -----------
  rcgc::type<Thrower> thrower_t = heap.register_type<Thrower>("Thrower");
  int destroyed_before = nodes_destroyed;
  try {
    (void)thrower_t.make(true);
    CHECK(!"make should have thrown");
  } catch (const std::runtime_error &e) {
    CHECK_STR(e.what(), "constructor failed");
  }
  CHECK_EQ(throwers_destroyed, 0);
  CHECK_EQ(nodes_destroyed, destroyed_before + 1);  // the Node it made was freed
  CHECK_LIVE(heap, 0);
  {
    rcgc::ref<Thrower> t = thrower_t.make(false);
    CHECK_EQ(t->held.refcount(), 1);
  }
  CHECK_EQ(throwers_destroyed, 1);
  CHECK_LIVE(heap, 0);

  // --- allocation inside a constructor, collecting at every allocation -------
  rcgc::type<Builder> builder_t = heap.register_type<Builder>("Builder");
  heap.set_threshold(1, 10, 10);
  CHECK_EQ(heap.collect(), 0);
  {
    rcgc::ref<Builder> b = builder_t.make();
    CHECK_EQ(b->a.refcount(), 1);
    CHECK_EQ(b->b.refcount(), 2);
    CHECK_EQ(nodes_alive, 2);
    CHECK_EQ(heap.collect(), 0);  // everything is reachable from b
    CHECK_EQ(nodes_alive, 2);
  }
  CHECK_EQ(nodes_alive, 0);
  CHECK_LIVE(heap, 0);
  heap.set_threshold(700, 10, 10);

  // --- CPython's counting with C++ types: 701 live allocations -> (0, 1, 0) ---
  CHECK_EQ(heap.collect(), 0);
  CHECK_COUNTS(heap, 0, 0, 0);
  {
    std::vector<rcgc::ref<Node>> keep;
    for (int i = 0; i < 701; i++) keep.push_back(node_t.make("n"));
    CHECK_COUNTS(heap, 0, 1, 0);
    CHECK_EQ(nodes_alive, 701);
  }
  CHECK_EQ(nodes_alive, 0);

  // --- the heap's destructor frees what is left: ~Node runs for a live cycle --
  {
    rcgc::heap scratch;
    rcgc::type<Node> t = scratch.register_type<Node>("Node");
    rcgc::ref<Node> a = t.make("left for rcgc_heap_free, with a long label");
    a->next = t.make("its partner, also with a label that allocates");
    a->next->next = a;
    a.reset();  // every ref is gone before the heap goes
    CHECK_EQ(nodes_alive, 2);
  }
  CHECK_EQ(nodes_alive, 0);

  DONE("test_types");
}
