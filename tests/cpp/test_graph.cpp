// rcgc::heap's picture of the heap: export_graph (DOT and JSON, to a std::string or a
// std::ostream, whole heap or from roots), why_alive (std::nullopt for garbage) and
// why_alive_text, with the exact text rcgc writes (README, "A picture of the heap").
// In CPython terms (objgraph walks the same data): an object's "external" count is
//   sys.getrefcount(o) - 1 - sum(r is o for x in gc.get_objects() for r in gc.get_referents(x))
// so a = Pair(); a.b = Pair(); in a function gives a external 1, a.b external 0.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

struct Pair {
  rcgc::ref<void> a, b;
  void traverse(rcgc::visitor &v) {
    v(a);
    v(b);
  }
};

std::string addr(const void *p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, reinterpret_cast<std::uintptr_t>(p));
  return buf;
}

std::string json_node(const void *p, const char *type, int refcount, int external, bool reachable,
                      const char *state, std::size_t size) {
  return "{\"id\":\"" + addr(p) + "\",\"type\":\"" + type + "\",\"refcount\":" +
         std::to_string(refcount) + ",\"external\":" + std::to_string(external) +
         ",\"reachable\":" + (reachable ? "true" : "false") + ",\"state\":\"" + state +
         "\",\"finalized\":false,\"size\":" + std::to_string(size) + "}";
}

std::string json_edge(const void *s, const void *t, int index) {
  return "{\"source\":\"" + addr(s) + "\",\"target\":\"" + addr(t) + "\",\"index\":" +
         std::to_string(index) + "}";
}

// A streambuf whose writes throw, as a full disk might in a stream with exceptions on.
struct throwing_buf : std::streambuf {
  int_type overflow(int_type) override { throw std::runtime_error("disk full"); }
  std::streamsize xsputn(const char *, std::streamsize) override {
    throw std::runtime_error("disk full");
  }
};

}  // namespace

int main() {
  rcgc::heap h;
  h.disable();
  rcgc::type<Pair> pair_t = h.register_type<Pair>("Pair");
  CHECK_STR(h.export_graph(RCGC_GRAPH_JSON),
            "{\"version\":1,\"roots\":null,\n\"nodes\":[\n],\n\"edges\":[\n]}\n");

  // x -> y (y.b) ; one Pair's size, measured
  rcgc::ref<Pair> x = pair_t.make();
  const std::size_t pair_size = h.stats().bytes_in_use;
  x->a = pair_t.make();
  rcgc::ref<void> y = x->a;  // held from outside too: external 1
  void *xp = x.get(), *yp = y.get();
  y.reset();
  rcgc::ref<void> z = pair_t.make();  // z.a = z: a self-cycle, then dropped: garbage
  rcgc::static_ref_cast<Pair>(z)->a = z;
  void *zp = z.get();
  z.reset();

  // --- JSON of the whole heap, nodes in address order ------------------------
  {
    std::vector<const void *> order{xp, yp, zp};
    std::sort(order.begin(), order.end(), [](const void *l, const void *r) {
      return reinterpret_cast<std::uintptr_t>(l) < reinterpret_cast<std::uintptr_t>(r);
    });
    std::string want = "{\"version\":1,\"roots\":null,\n\"nodes\":[\n";
    for (std::size_t i = 0; i < 3; i++) {
      const void *p = order[i];
      if (p == xp) want += json_node(xp, "Pair", 1, 1, true, "gen0", pair_size);
      if (p == yp) want += json_node(yp, "Pair", 1, 0, true, "gen0", pair_size);
      if (p == zp) want += json_node(zp, "Pair", 1, 0, false, "gen0", pair_size);
      want += i < 2 ? ",\n" : "\n";
    }
    want += "],\n\"edges\":[\n";
    bool x_first = reinterpret_cast<std::uintptr_t>(xp) < reinterpret_cast<std::uintptr_t>(zp);
    want += x_first ? json_edge(xp, yp, 0) + ",\n" + json_edge(zp, zp, 0) + "\n"
                    : json_edge(zp, zp, 0) + ",\n" + json_edge(xp, yp, 0) + "\n";
    want += "]}\n";
    CHECK_STR(h.export_graph(RCGC_GRAPH_JSON), want);
    CHECK_EQ(3 * pair_size, h.stats().bytes_in_use);  // the sizes add up
  }

  // --- from roots: x and what it reaches; no roots: an empty picture -------------
  {
    auto want = [&](int refcount) {
      std::string w = "{\"version\":1,\"roots\":[\"" + addr(xp) + "\"],\n\"nodes\":[\n";
      bool x_first = reinterpret_cast<std::uintptr_t>(xp) < reinterpret_cast<std::uintptr_t>(yp);
      std::string nx = json_node(xp, "Pair", refcount, refcount, true, "gen0", pair_size);
      std::string ny = json_node(yp, "Pair", 1, 0, true, "gen0", pair_size);
      w += x_first ? nx + ",\n" + ny + "\n" : ny + ",\n" + nx + "\n";
      return w + "],\n\"edges\":[\n" + json_edge(xp, yp, 0) + "\n]}\n";
    };
    // Roots the caller holds anyway: a container of refs, moved in, changes nothing.
    std::vector<rcgc::ref<Pair>> roots;
    roots.push_back(std::move(x));
    CHECK_STR(h.export_graph(RCGC_GRAPH_JSON, roots), want(1));
    x = std::move(roots.back());
    // Braced roots are copies (an initializer_list, then a vector): +2 while asked.
    CHECK_STR(h.export_graph(RCGC_GRAPH_JSON, {x}), want(3));
    CHECK_STR(h.export_graph(RCGC_GRAPH_JSON, std::vector<rcgc::ref<void>>{}),
              "{\"version\":1,\"roots\":[],\n\"nodes\":[\n],\n\"edges\":[\n]}\n");
    CHECK_EQ(x.refcount(), 1);  // the copies are gone
  }

  // --- DOT: the same picture; to a stream, the same text -------------------------
  std::string dot = h.export_graph(RCGC_GRAPH_DOT);
  CHECK_STR(dot.substr(0, 94),
            "digraph rcgc {\n  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=10, "
            "labeljust=l, label=\"3 o");
  CHECK(dot.find("label=\"3 objects, 2 references\\l") != std::string::npos);
  CHECK(dot.find("  \"" + addr(xp) + "\" [label=\"Pair\\n" + addr(xp) +
                 "\\nrefcount 1, external 1\\ngen0, " + std::to_string(pair_size) +
                 " bytes\", fillcolor=\"#ffd966\", penwidth=2];\n") != std::string::npos);
  CHECK(dot.find("  \"" + addr(zp) + "\" [label=\"Pair\\n" + addr(zp) +
                 "\\nrefcount 1, external 0\\ngen0, " + std::to_string(pair_size) +
                 " bytes\", style=\"rounded,filled,dashed\", fillcolor=\"#eeeeee\", "
                 "fontcolor=\"#555555\"];\n") != std::string::npos);
  CHECK(dot.find("  \"" + addr(xp) + "\" -> \"" + addr(yp) + "\" [label=\"[0]\"];\n") !=
        std::string::npos);
  CHECK_STR(dot.substr(dot.size() - 2), "}\n");
  {
    std::ostringstream out;
    h.export_graph(out, RCGC_GRAPH_DOT);
    CHECK_STR(out.str(), dot);
    std::ostringstream roots_out;
    h.export_graph(roots_out, RCGC_GRAPH_JSON, {x});
    CHECK_STR(roots_out.str(), h.export_graph(RCGC_GRAPH_JSON, {x}));

    // A failed stream stops the output: RCGC_ERR_ABORTED.
    std::ostringstream failed;
    failed.setstate(std::ios::badbit);
    CHECK_THROWS(h.export_graph(failed, RCGC_GRAPH_DOT), RCGC_ERR_ABORTED,
                 "rcgc_export_graph: the write callback returned 1; the output is incomplete");
    // A stream that throws: its exception, not an rcgc::error, reaches the caller.
    throwing_buf buf;
    std::ostream throwing(&buf);
    throwing.exceptions(std::ios::badbit);
    std::string caught;
    try {
      h.export_graph(throwing, RCGC_GRAPH_JSON);
    } catch (const rcgc::error &) {
      caught = "rcgc::error";
    } catch (const std::runtime_error &e) {
      caught = e.what();
    }
    CHECK_STR(caught, "disk full");
  }
  CHECK_THROWS(h.export_graph(7), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_export_graph: format 7 is neither RCGC_GRAPH_DOT (0) nor RCGC_GRAPH_JSON (1)");

  // --- why_alive: y through x; x itself; the garbage z: std::nullopt -------------
  {
    rcgc::ref<void> yr(rcgc::borrow, yp);
    x->a.reset();
    x->b = yr;  // now x.b -> y, so the chain goes through reference [1]
    yr.reset();
    std::optional<std::vector<rcgc::ref<void>>> chain = h.why_alive(x->b);
    CHECK(chain.has_value());
    CHECK_EQ(chain->size(), 2);
    CHECK((*chain)[0] == x);
    CHECK((*chain)[1].get() == yp);
    chain = h.why_alive(x);
    CHECK_EQ(chain->size(), 1);
    chain.reset();
    // x->b is the field itself, passed by reference: no reference of its own.
    CHECK_STR(h.why_alive_text(x->b),
              addr(xp) + " 'Pair': refcount 1, external 1: held from outside the heap\n"
                         "  [1] -> " + addr(yp) + " 'Pair': refcount 1, external 0\n");
  }
  // A ref holds its object from outside the heap: asked through one, the garbage z
  // is "held" (a chain of one). Through a weak_ref it is what it is: garbage.
  {
    rcgc::ref<void> zr(rcgc::borrow, zp);
    CHECK_EQ(h.why_alive(zr)->size(), 1);
    CHECK(h.why_alive(zr)->front() == zr);
  }
  // An object of another heap cannot be asked about.
  {
    rcgc::heap other;
    rcgc::slots s = other.new_slots(1);
    CHECK_THROWS(h.why_alive(s), RCGC_ERR_WRONG_HEAP,
                 "rcgc_why_alive: object " + addr(s.get()) + " of type 'rcgc.slots' belongs to another heap");
  }
  // Garbage: c1 <-> c2, asked about through a weak_ref (nothing holds c2 from outside).
  {
    rcgc::ref<Pair> c1 = pair_t.make(), c2 = pair_t.make();
    c1->a = c2;
    c2->a = c1;
    rcgc::weak_ref<Pair> w(c2);
    void *c2p = c2.get();
    c2.reset();
    std::optional<std::vector<rcgc::ref<void>>> chain = h.why_alive(w);
    CHECK_EQ(chain->size(), 2);  // c1 (held by the variable), then c2
    CHECK(chain->front() == c1);
    chain.reset();
    c1.reset();
    CHECK(!h.why_alive(w).has_value());  // RCGC_ERR_NOT_FOUND
    CHECK_EQ(rcgc_refcount(c2p), 1);     // asking took nothing
    CHECK_STR(h.why_alive_text(w),
              addr(c2p) + " 'Pair': refcount 1, external 0: no chain of references from outside "
                          "the heap reaches it; it is garbage waiting for a collection\n");
    CHECK_EQ(h.collect(), 3);  // z, and the c1 <-> c2 cycle
    CHECK(w.expired());
    CHECK_THROWS(h.why_alive(w), RCGC_ERR_NULL_ARGUMENT, "rcgc_why_alive: argument `obj` is NULL");
  }

  // From a gc callback (inside a collection), looking at the heap is refused.
  {
    std::vector<std::string> refused;
    rcgc::callback_id id = h.add_callback([&](rcgc_gc_phase, const rcgc_gc_info &) {
      try {
        (void)h.export_graph(RCGC_GRAPH_JSON);
      } catch (const rcgc::error &e) {
        refused.push_back(e.name());
      }
    });
    CHECK_EQ(h.collect(), 0);
    CHECK_EQ(refused.size(), 2);
    CHECK_STR(refused[0], "RCGC_ERR_REENTRANT");
    h.remove_callback(id);
  }
  x.reset();
  CHECK_LIVE(h, 0);
  DONE("test_graph");
}
