// The C quick start with the C++ wrapper (README, "Using rcgc from C++").
//   c++ -std=c++17 quickstart.cpp $(pkg-config --cflags --libs rcgc)
#include <cstdio>
#include <string>

#include <rcgc.hpp>

struct Node {
  rcgc::ref<Node> next;  // a reference field: copying increfs, reset decrefs
  std::string name;      // any C++ member: ~Node runs when rcgc frees the object

  explicit Node(std::string n) : name(std::move(n)) {}
  void traverse(rcgc::visitor &visit) { visit(next); }  // like tp_traverse; clear is generated
};

int main() try {
  rcgc::heap heap;  // first: every ref must be gone before the heap is
  rcgc::type<Node> node_t = heap.register_type<Node>("Node");

  {
    rcgc::ref<Node> a = node_t.make("a");  // refcount 1
    rcgc::ref<Node> b = node_t.make("b");
    a->next = b;  // a -> b  (b's count: 2)
    b->next = a;  // b -> a  (a's count: 2)
  }  // a and b go out of scope: a cycle nobody else holds

  std::size_t found = heap.collect();  // gc.collect()
  std::printf("collect() found %zu unreachable objects\n", found);
  heap.collect(3);  // throws rcgc::error: "rcgc_collect: generation 3 is outside 0..=2"
  return 1;
} catch (const rcgc::error &e) {
  std::printf("rcgc::error %s: %s\n", e.name(), e.what());
  return 0;
}
