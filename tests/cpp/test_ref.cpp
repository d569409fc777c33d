// rcgc::ref<T> and rcgc::slots: every copy, move, reset and destruction changes
// the refcount by exactly what the wrapper promises.
#include <type_traits>
#include <utility>
#include <vector>

#include "check.hpp"

// What the wrapper's types promise at compile time.
static_assert(!std::is_copy_constructible_v<rcgc::heap>, "a heap is not copyable");
static_assert(!std::is_copy_assignable_v<rcgc::heap>, "a heap is not copyable");
static_assert(std::is_nothrow_move_constructible_v<rcgc::heap>, "a heap moves");
static_assert(std::is_nothrow_move_assignable_v<rcgc::heap>, "a heap moves");
static_assert(std::is_nothrow_move_constructible_v<rcgc::ref<int>>, "moving a ref is free");
static_assert(std::is_nothrow_copy_constructible_v<rcgc::ref<int>>, "copying a ref is an incref");
static_assert(sizeof(rcgc::ref<int>) == sizeof(void *), "a ref is one pointer");
static_assert(std::is_convertible_v<rcgc::ref<int>, rcgc::ref<void>>, "ref<T> -> ref<void>");
static_assert(!std::is_convertible_v<rcgc::ref<void>, rcgc::ref<int>>, "no implicit downcast");
static_assert(!std::is_convertible_v<int *, rcgc::ref<int>>,
              "a raw pointer needs rcgc::adopt or rcgc::borrow");
static_assert(!std::is_constructible_v<rcgc::ref<int>, int *>,
              "a raw pointer needs rcgc::adopt or rcgc::borrow");
static_assert(!std::is_convertible_v<rcgc::adopt_t, rcgc::borrow_t>, "distinct tags");

struct Leaf {  // no traverse: an untracked type
  int value;
};

int main() {
  rcgc::heap heap;  // declared first: destroyed after every ref below
  rcgc::type<Leaf> leaf_t = heap.register_type<Leaf>("Leaf");
  CHECK_STR(leaf_t.name(), "Leaf");

  {  // adopt takes the new reference over; destruction decrefs
    void *raw = rcgc_slots_new(heap.get(), 1);
    CHECK(raw != nullptr);
    CHECK_EQ(rcgc_refcount(raw), 1);
    {
      rcgc::ref<void> a(rcgc::adopt, raw);
      CHECK_EQ(a.refcount(), 1);
      CHECK(a.get() == raw);
      CHECK(a.is_tracked());
    }
    CHECK_LIVE(heap, 0);  // the adopted reference was the only one
  }

  {  // borrow adds a reference; copies incref, moves do not
    rcgc::ref<Leaf> a = leaf_t.make(Leaf{7});
    CHECK_EQ(a.refcount(), 1);
    CHECK_EQ(a->value, 7);
    CHECK_EQ((*a).value, 7);
    CHECK(!a.is_tracked());
    CHECK(a.type_of() == leaf_t.get());

    rcgc::ref<Leaf> b(rcgc::borrow, a.get());
    CHECK_EQ(a.refcount(), 2);
    rcgc::ref<Leaf> c = b;  // copy
    CHECK_EQ(a.refcount(), 3);
    rcgc::ref<Leaf> d = std::move(c);  // move: no change
    CHECK_EQ(a.refcount(), 3);
    CHECK(!c);
    CHECK(c == nullptr);
    CHECK(d == a);
    CHECK_EQ(c.refcount(), 0);

    c = d;  // copy-assign into an empty ref
    CHECK_EQ(a.refcount(), 4);
    c = c;  // self-assignment: no change
    CHECK_EQ(a.refcount(), 4);
    c = std::move(c);  // self-move: no change
    CHECK_EQ(a.refcount(), 4);
    CHECK(c == a);
    c = nullptr;
    CHECK_EQ(a.refcount(), 3);
    d.reset();
    CHECK_EQ(a.refcount(), 2);
    CHECK(!d);

    rcgc::ref<void> any = a;  // ref<T> -> ref<void> increfs
    CHECK_EQ(a.refcount(), 3);
    rcgc::ref<void> any2 = std::move(b);  // moving across types does not
    CHECK_EQ(a.refcount(), 3);
    CHECK(!b);
    CHECK(any == any2);

    void *owned = any2.release();  // release: the caller owns the reference
    CHECK(!any2);
    CHECK_EQ(a.refcount(), 3);
    rcgc_decref(owned);
    CHECK_EQ(a.refcount(), 2);

    // a checked downcast, and one of the wrong type
    rcgc::ref<Leaf> back = leaf_t.cast(any);
    CHECK_EQ(a.refcount(), 3);
    CHECK(back == a);
    CHECK(leaf_t.cast(rcgc::ref<void>()) == nullptr);
    rcgc::slots s = heap.new_slots(1);
    CHECK(!leaf_t.is_instance(s.get()));
    CHECK_THROWS((void)leaf_t.cast(s), RCGC_ERR_INVALID_ARGUMENT,
                 "rcgc::type::cast: the object is a rcgc.slots, not a Leaf");
    rcgc::ref<Leaf> unchecked = rcgc::static_ref_cast<Leaf>(any);
    CHECK_EQ(a.refcount(), 4);

    // swap exchanges without touching counts
    rcgc::ref<void> other = s;
    CHECK_EQ(s.refcount(), 2);
    swap(any, other);
    CHECK(any == s && other == a);
    CHECK_EQ(a.refcount(), 4);
    CHECK_EQ(s.refcount(), 2);
  }
  CHECK_LIVE(heap, 0);  // every ref of the block is gone, and so are the objects

  {  // refs in a std::vector: growth moves them, so counts stay exact
    rcgc::ref<Leaf> a = leaf_t.make(Leaf{1});
    std::vector<rcgc::ref<Leaf>> v;
    for (int i = 0; i < 100; i++) v.push_back(a);
    CHECK_EQ(a.refcount(), 101);
    v.erase(v.begin(), v.begin() + 40);
    CHECK_EQ(a.refcount(), 61);
    v.clear();
    CHECK_EQ(a.refcount(), 1);
  }
  CHECK_LIVE(heap, 0);

  {  // slots: set increfs, overwrite decrefs, at() returns a new reference
    rcgc::slots box = heap.new_slots(3);
    CHECK_EQ(box.size(), 3);
    CHECK(box.at(0) == nullptr);
    rcgc::ref<Leaf> x = leaf_t.make(Leaf{5});
    box.set(0, x);
    box.set(1, x);
    CHECK_EQ(x.refcount(), 3);
    {
      rcgc::ref<void> got = box[1];
      CHECK(got == x);
      CHECK_EQ(x.refcount(), 4);
    }
    CHECK_EQ(x.refcount(), 3);
    box.set(1, nullptr);
    CHECK_EQ(x.refcount(), 2);
    box.set(2, box);  // the box holds itself: a cycle
    CHECK_EQ(box.refcount(), 2);

    CHECK_THROWS(box.set(3, x), RCGC_ERR_INVALID_ARGUMENT,
                 "rcgc_slots_set: index 3 is out of range for a slots object of length 3");
    CHECK_THROWS((void)box.at(3), RCGC_ERR_INVALID_ARGUMENT,
                 "rcgc_slots_get: index 3 is out of range for a slots object of length 3");
    CHECK_EQ(x.refcount(), 2);  // nothing changed on failure

    rcgc::heap other;
    rcgc::slots foreign = other.new_slots(1);
    char expected[128];
    std::snprintf(expected, sizeof expected,
                  "rcgc_slots_set: object %p of type 'Leaf' belongs to another heap",
                  static_cast<void *>(x.get()));
    CHECK_THROWS(foreign.set(0, x), RCGC_ERR_WRONG_HEAP, std::string(expected));
  }
  // the box is garbage (a self-cycle), x died with its ref... except the box's slot 0
  CHECK_LIVE(heap, 2);
  CHECK_EQ(heap.collect(), 1);  // CPython counts the box only: x is freed by refcounting
  CHECK_LIVE(heap, 0);

  DONE("test_ref");
}
