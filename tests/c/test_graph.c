/* A picture of the heap: rcgc_export_graph (Graphviz DOT and JSON, the whole
 * heap or what roots reach) and "why is this object alive?" (rcgc_why_alive,
 * rcgc_why_alive_text).
 *
 * Each rule names the CPython 3.11 snippet that gives the same result. The
 * snippets use these helpers, where objs is a list of the heap's objects (the
 * program's own list, whose references the helpers leave out) and indices
 * stand for objects:
 *
 *   import gc, sys
 *   gc.disable()
 *   class Pair: __slots__ = ('a', 'b')
 *   def referents(o):        # what o's traverse reports (CPython adds o's class;
 *       return [r for r in gc.get_referents(o) if not isinstance(r, type)]  # rcgc types are not objects)
 *   def index_of(r, objs):
 *       return next(k for k, o in enumerate(objs) if o is r)
 *   def external(i, objs):   # the refcount less the references from objects of objs
 *       return (sys.getrefcount(objs[i]) - 2   # less objs' reference and getrefcount's
 *               - sum(r is objs[i] for p in objs for r in referents(p)))
 *   def reach(roots, objs):  # what roots reach through referents
 *       seen = list(dict.fromkeys(roots))
 *       for j in seen:
 *           for k in (index_of(r, objs) for r in referents(objs[j])):
 *               if k not in seen:
 *                   seen.append(k)
 *       return sorted(seen)
 *   def why_alive(i, objs):  # a shortest chain from an object held from outside (external > 0)
 *       parent = {j: None for j in range(len(objs)) if external(j, objs) > 0}
 *       queue = list(parent)
 *       for j in queue:
 *           for k in (index_of(r, objs) for r in referents(objs[j])):
 *               if k not in parent:
 *                   parent[k] = j
 *                   queue.append(k)
 *       chain = [i] if i in parent else []
 *       while chain and parent[chain[0]] is not None:
 *           chain.insert(0, parent[chain[0]])
 *       return chain
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>

#include "check.h"

/* ---------------------------------------------------------------------------
 * Output captured through rcgc_write_fn, and expected output
 * ------------------------------------------------------------------------- */

typedef struct {
  char *data;
  size_t len, cap;
  int calls;
  int fail_at;   /* the call that returns fail_code (0: none) */
  int fail_code;
} text;

static void put(text *t, const char *data, size_t len) {
  if (t->len + len + 1 > t->cap) {
    t->cap = (t->len + len + 1) * 2;
    t->data = realloc(t->data, t->cap);
    CHECK(t->data != NULL);
  }
  memcpy(t->data + t->len, data, len);
  t->len += len;
  t->data[t->len] = '\0';
}

static int to_text(const char *data, size_t len, void *ctx) {
  text *t = ctx;
  t->calls++;
  CHECK(len > 0);
  if (t->fail_at != 0 && t->calls >= t->fail_at) return t->fail_code;
  put(t, data, len);
  return 0;
}

static void appendf(text *t, const char *fmt, ...) {
  char line[512];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  CHECK(n >= 0 && (size_t)n < sizeof line);
  put(t, line, (size_t)n);
}

static const char *str(const text *t) { return t->data ? t->data : ""; }

static void text_free(text *t) {
  free(t->data);
  memset(t, 0, sizeof *t);
}

/* The export of `heap` in `format` (roots as rcgc_export_graph takes them). */
static text export_graph(rcgc_heap *heap, int format, void *const *roots, size_t nroots) {
  text t = {0};
  CHECK_RC(rcgc_export_graph(heap, format, roots, nroots, to_text, &t), RCGC_OK);
  return t;
}

typedef struct {
  const void *obj;
  const char *type;
  size_t refcount;
  long external;
  int reachable;
  const char *state;
  int finalized;
  size_t size;
} node_spec;

typedef struct {
  const void *source, *target;
  size_t index;
} edge_spec;

/* Nodes come in address order, edges by source address then traverse order. */
static void sort_nodes(node_spec *nodes, size_t n) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && (uintptr_t)nodes[j - 1].obj > (uintptr_t)nodes[j].obj; j--) {
      node_spec tmp = nodes[j];
      nodes[j] = nodes[j - 1];
      nodes[j - 1] = tmp;
    }
}

static void sort_edges(edge_spec *edges, size_t n) { /* stable: keeps traverse order */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && (uintptr_t)edges[j - 1].source > (uintptr_t)edges[j].source; j--) {
      edge_spec tmp = edges[j];
      edges[j] = edges[j - 1];
      edges[j - 1] = tmp;
    }
}

#define ADDR(p) ((uintptr_t)(p))

/* The JSON rcgc_export_graph writes: roots NULL gives "roots":null. */
static text expected_json(void *const *roots, size_t nroots, node_spec *nodes, size_t n,
                          edge_spec *edges, size_t m) {
  text t = {0};
  sort_nodes(nodes, n);
  sort_edges(edges, m);
  appendf(&t, "{\"version\":1,\"roots\":");
  if (roots == NULL) {
    appendf(&t, "null");
  } else {
    appendf(&t, "[");
    for (size_t i = 0; i < nroots; i++) appendf(&t, "%s\"0x%" PRIxPTR "\"", i ? "," : "", ADDR(roots[i]));
    appendf(&t, "]");
  }
  appendf(&t, ",\n\"nodes\":[\n");
  for (size_t i = 0; i < n; i++)
    appendf(&t,
            "{\"id\":\"0x%" PRIxPTR "\",\"type\":\"%s\",\"refcount\":%zu,\"external\":%ld,"
            "\"reachable\":%s,\"state\":\"%s\",\"finalized\":%s,\"size\":%zu}%s\n",
            ADDR(nodes[i].obj), nodes[i].type, nodes[i].refcount, nodes[i].external,
            nodes[i].reachable ? "true" : "false", nodes[i].state,
            nodes[i].finalized ? "true" : "false", nodes[i].size, i + 1 < n ? "," : "");
  appendf(&t, "],\n\"edges\":[\n");
  for (size_t i = 0; i < m; i++)
    appendf(&t, "{\"source\":\"0x%" PRIxPTR "\",\"target\":\"0x%" PRIxPTR "\",\"index\":%zu}%s\n",
            ADDR(edges[i].source), ADDR(edges[i].target), edges[i].index, i + 1 < m ? "," : "");
  appendf(&t, "]}\n");
  return t;
}

/* ---------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------- */

/* Pair: two references, reported in order (NULL ones too), like __slots__ ('a', 'b'). */
typedef struct { void *a, *b; } pair;

static void pair_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  visit(((pair *)obj)->a, ctx);
  visit(((pair *)obj)->b, ctx);
}

static void pair_clear(void *obj) {
  rcgc_clear_ref(&((pair *)obj)->a);
  rcgc_clear_ref(&((pair *)obj)->b);
}

static rcgc_type *register_type(rcgc_heap *heap, const char *name, size_t size, rcgc_traverse_fn traverse,
                                rcgc_clear_fn clear, rcgc_finalize_fn finalize) {
  rcgc_type_spec spec = {name, size, traverse, clear, finalize, NULL};
  rcgc_type *type = NULL;
  CHECK_RC(rcgc_type_register(heap, &spec, &type), RCGC_OK);
  return type;
}

static rcgc_heap *fresh_heap(rcgc_type **pair_type, rcgc_type **blob_type) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  CHECK_RC(rcgc_disable(heap), RCGC_OK); /* no automatic collection, even under stress */
  *pair_type = register_type(heap, "Pair", sizeof(pair), pair_traverse, pair_clear, NULL);
  /* Blob: 8 bytes and no traverse, never tracked (like bytearray(4)). */
  *blob_type = register_type(heap, "blob", 8, NULL, NULL, NULL);
  return heap;
}

static void *new_obj(rcgc_type *type) {
  void *obj = rcgc_alloc(type);
  CHECK(obj != NULL);
  return obj;
}

static void *new_slots(rcgc_heap *heap, size_t n) {
  void *obj = rcgc_slots_new(heap, n);
  CHECK(obj != NULL);
  return obj;
}

static size_t bytes_in_use(const rcgc_heap *heap) {
  rcgc_heap_stats stats = {.struct_size = sizeof stats};
  CHECK_RC(rcgc_heap_get_stats(heap, &stats), RCGC_OK);
  return stats.bytes_in_use;
}

static size_t live_objects(const rcgc_heap *heap) {
  rcgc_heap_stats stats = {.struct_size = sizeof stats};
  CHECK_RC(rcgc_heap_get_stats(heap, &stats), RCGC_OK);
  return stats.live_objects;
}

/* The small heap of rules 1 and 2:
 *   x = Pair(); x.a = Pair(); x.a.b = bytearray(4)
 *   g = [None]; g[0] = g                          # a self-cycle, dropped below
 *   objs = [x, x.a, x.a.b, g]; del g */
typedef struct { void *x, *y, *blob, *g; } small_heap;

static small_heap build_small(rcgc_type *pair_type, rcgc_type *blob_type, rcgc_heap *heap) {
  small_heap s;
  s.x = new_obj(pair_type);
  s.y = new_obj(pair_type);
  s.blob = new_obj(blob_type);
  rcgc_set_ref(&((pair *)s.x)->a, s.y);
  rcgc_set_ref(&((pair *)s.y)->b, s.blob);
  rcgc_decref(s.y);
  rcgc_decref(s.blob);
  s.g = new_slots(heap, 1);
  CHECK_RC(rcgc_slots_set(s.g, 0, s.g), RCGC_OK);
  rcgc_decref(s.g);
  return s;
}

/* ---------------------------------------------------------------------------
 * Rule 1: the whole heap, as JSON and DOT: every live object, tracked or not,
 * garbage included, with its references, refcount, external count, and
 * whether a chain of references from outside reaches it.
 *   [sys.getrefcount(objs[i]) - 2 for i in range(4)] == [1, 1, 1, 1]
 *   [external(i, objs) for i in range(4)] == [1, 0, 0, 0]
 *   [[index_of(r, objs) for r in referents(o)] for o in objs] == [[1], [2], [], [3]]
 *   [why_alive(i, objs) != [] for i in range(4)] == [True, True, True, False]
 *   [gc.is_tracked(o) for o in objs] == [True, True, False, True]
 * (an edge's index is the reference's place in traverse order: x.a is slot 0
 * of ('a', 'b'), x.a.b slot 1). The sizes add up to bytes_in_use.
 * ------------------------------------------------------------------------- */
static void whole_heap(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  small_heap s = build_small(pair_type, blob_type, heap);

  node_spec nodes[] = {
      {s.x, "Pair", 1, 1, 1, "gen0", 0, 32},
      {s.y, "Pair", 1, 0, 1, "gen0", 0, 32},
      {s.blob, "blob", 1, 0, 1, "untracked", 0, 32},
      {s.g, "rcgc.slots", 1, 0, 0, "gen0", 0, 32},
  };
  edge_spec edges[] = {{s.x, s.y, 0}, {s.y, s.blob, 1}, {s.g, s.g, 0}};
  CHECK_EQ(bytes_in_use(heap), 4 * 32);
  text want = expected_json(NULL, 0, nodes, 4, edges, 3);
  text got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);

  /* DOT: objects held from outside in gold, garbage grey and dashed; edges
   * labelled with their index when the source has more than one place. */
  appendf(&want,
          "digraph rcgc {\n"
          "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=10, labeljust=l, label=\"4 objects, 3 "
          "references\\lgold: held from outside the heap (external > 0)\\lgrey, dashed: garbage (no "
          "chain of references from outside reaches it)\\l\"];\n"
          "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", "
          "fontsize=10];\n"
          "  edge [fontname=\"Helvetica\", fontsize=9];\n");
  for (size_t i = 0; i < 4; i++) { /* nodes[] is in address order now */
    appendf(&want, "  \"0x%" PRIxPTR "\" [label=\"%s\\n0x%" PRIxPTR "\\nrefcount 1, external %ld\\n%s, 32 bytes\"",
            ADDR(nodes[i].obj), nodes[i].type, ADDR(nodes[i].obj), nodes[i].external, nodes[i].state);
    if (nodes[i].obj == s.x) appendf(&want, ", fillcolor=\"#ffd966\", penwidth=2");
    if (nodes[i].obj == s.g)
      appendf(&want, ", style=\"rounded,filled,dashed\", fillcolor=\"#eeeeee\", fontcolor=\"#555555\"");
    appendf(&want, "];\n");
  }
  for (size_t i = 0; i < 3; i++) { /* edges[] is sorted too */
    appendf(&want, "  \"0x%" PRIxPTR "\" -> \"0x%" PRIxPTR "\"", ADDR(edges[i].source), ADDR(edges[i].target));
    if (edges[i].source != s.g) appendf(&want, " [label=\"[%zu]\"]", edges[i].index);
    appendf(&want, ";\n");
  }
  appendf(&want, "}\n");
  got = export_graph(heap, RCGC_GRAPH_DOT, NULL, 0);
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);

  /* Looking changes nothing: same refcounts, the garbage still there. */
  CHECK_EQ(rcgc_refcount(s.x), 1);
  CHECK_EQ(rcgc_refcount(s.g), 1);
  CHECK_EQ(live_objects(heap), 4);
  rcgc_decref(s.x);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  CHECK_STREQ(str(&got), "{\"version\":1,\"roots\":null,\n\"nodes\":[\n],\n\"edges\":[\n]}\n");
  text_free(&got);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 2: from roots: the roots and what they reach, each once; "roots" lists
 * them as given. External counts still take the whole heap's references.
 *   reach([1], objs) == [1, 2]; external(1, objs) == 0
 *   reach([1, 1, 3], objs) == [1, 2, 3]
 *   reach([0], objs) == [0, 1, 2]
 *   reach([], objs) == []
 * ------------------------------------------------------------------------- */
static void from_roots(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  small_heap s = build_small(pair_type, blob_type, heap);

  void *roots[3] = {s.y, s.y, s.g};
  {
    node_spec nodes[] = {{s.y, "Pair", 1, 0, 1, "gen0", 0, 32}, {s.blob, "blob", 1, 0, 1, "untracked", 0, 32}};
    edge_spec edges[] = {{s.y, s.blob, 1}};
    text want = expected_json(roots, 1, nodes, 2, edges, 1);
    text got = export_graph(heap, RCGC_GRAPH_JSON, roots, 1);
    CHECK_STREQ(str(&got), str(&want));
    text_free(&got);
    text_free(&want);
  }
  {
    node_spec nodes[] = {{s.y, "Pair", 1, 0, 1, "gen0", 0, 32},
                         {s.blob, "blob", 1, 0, 1, "untracked", 0, 32},
                         {s.g, "rcgc.slots", 1, 0, 0, "gen0", 0, 32}};
    edge_spec edges[] = {{s.y, s.blob, 1}, {s.g, s.g, 0}};
    text want = expected_json(roots, 3, nodes, 3, edges, 2);
    text got = export_graph(heap, RCGC_GRAPH_JSON, roots, 3);
    CHECK_STREQ(str(&got), str(&want));
    text_free(&got);
    text_free(&want);
  }
  {
    text got = export_graph(heap, RCGC_GRAPH_JSON, roots, 0);
    CHECK_STREQ(str(&got), "{\"version\":1,\"roots\":[],\n\"nodes\":[\n],\n\"edges\":[\n]}\n");
    text_free(&got);
  }
  {
    /* DOT from x: the root drawn with a double border, the legend counts. */
    text got = export_graph(heap, RCGC_GRAPH_DOT, &s.x, 1);
    char line[128];
    CHECK_CONTAINS(str(&got), "label=\"reachable from 1 root: 3 objects, 2 references\\l");
    snprintf(line, sizeof line, "external 1\\ngen0, 32 bytes\", fillcolor=\"#ffd966\", penwidth=2, peripheries=2];");
    CHECK_CONTAINS(str(&got), line);
    snprintf(line, sizeof line, "\"0x%" PRIxPTR "\"", ADDR(s.g));
    CHECK(strstr(str(&got), line) == NULL); /* not reached from x */
    text_free(&got);
  }
  rcgc_decref(s.x);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 3: external = refcount less the references traverse reports from
 * objects of the heap.
 *   t = Pair(); h = Pair(); h.a = t; t2 = t      # two names, one heap reference
 *   objs = [t, h]; sys.getrefcount(objs[0]) - 2 == 3; external(0, objs) == 2
 * A reference no traverse reports counts as external: CPython has the same
 * blind spot (a reference from a C struct whose tp_traverse omits it raises
 * sys.getrefcount but is not among gc.get_referrers). A traverse that reports
 * a reference it does not own gives a negative count, drawn with a red border
 * (a bug CPython has no snippet for: its collector would crash).
 * ------------------------------------------------------------------------- */
typedef struct { void *hidden; } opaque; /* holds a reference; no traverse */
typedef struct { void *borrowed; } liar; /* reports a reference it does not own */

static void liar_traverse(void *obj, rcgc_visit_fn visit, void *ctx) { visit(((liar *)obj)->borrowed, ctx); }
static void liar_clear(void *obj) { ((liar *)obj)->borrowed = NULL; }

static void external_counts(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  rcgc_type *opaque_type = register_type(heap, "opaque", sizeof(opaque), NULL, NULL, NULL);
  rcgc_type *liar_type = register_type(heap, "liar", sizeof(liar), liar_traverse, liar_clear, NULL);

  void *t = new_obj(pair_type), *h = new_obj(pair_type);
  rcgc_set_ref(&((pair *)h)->a, t);
  rcgc_incref(t); /* t2 = t */
  void *u = new_obj(pair_type);
  opaque *o = new_obj(opaque_type);
  o->hidden = u; /* the opaque object takes over the reference to u */
  void *v = new_obj(pair_type);
  liar *l = new_obj(liar_type);
  l->borrowed = v; /* no incref: v's count stays 1, two references are reported */
  void *w = new_obj(pair_type);
  rcgc_set_ref(&((pair *)w)->a, v);
  rcgc_decref(v); /* now only w holds v (refcount 1), and the liar claims it too */

  node_spec nodes[] = {
      {t, "Pair", 3, 2, 1, "gen0", 0, 32},    {h, "Pair", 1, 1, 1, "gen0", 0, 32},
      {u, "Pair", 1, 1, 1, "gen0", 0, 32},    {o, "opaque", 1, 1, 1, "untracked", 0, 32},
      {v, "Pair", 1, -1, 1, "gen0", 0, 32},   {l, "liar", 1, 1, 1, "gen0", 0, 32},
      {w, "Pair", 1, 1, 1, "gen0", 0, 32},
  };
  edge_spec edges[] = {{h, t, 0}, {l, v, 0}, {w, v, 0}};
  text want = expected_json(NULL, 0, nodes, 7, edges, 3);
  text got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);
  got = export_graph(heap, RCGC_GRAPH_DOT, NULL, 0);
  char line[160];
  snprintf(line, sizeof line, "\\nrefcount 1, external -1\\ngen0, 32 bytes\", color=\"#cc0000\"];");
  CHECK_CONTAINS(str(&got), line);
  text_free(&got);

  l->borrowed = NULL; /* the lie would make a collection give up */
  rcgc_decref(l);
  rcgc_decref(w);
  o->hidden = NULL; /* the opaque object lets go of u */
  rcgc_decref(u);
  rcgc_decref(o);
  rcgc_decref(t);
  rcgc_decref(t);
  rcgc_decref(h);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 4: the collector's state and the finalized mark.
 *   def gens(x): return [any(o is x for o in gc.get_objects(g)) for g in range(3)]
 *   f = Pair(); gc.freeze()                # permanent: gc.is_tracked(f) and gens(f) == [False] * 3
 *   a = Pair(); gc.collect(1); b = Pair(); gc.collect(0); c = Pair()
 *   gens(a) == [False, False, True]; gens(b) == [False, True, False]; gens(c) == [True, False, False]
 *   gc.is_tracked(bytearray(4)) == False   # and d, after rcgc_untrack(d)
 *   saved = []
 *   class Phoenix: __del__ = lambda self: saved.append(self)
 *   p = Phoenix(); del p; gc.is_finalized(saved[0]) == True
 * ------------------------------------------------------------------------- */
static void *saved;
static void phoenix_finalize(void *obj) {
  rcgc_incref(obj);
  saved = obj;
}

static void states(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  rcgc_type *phoenix_type = register_type(heap, "Phoenix", 16, NULL, NULL, phoenix_finalize);
  size_t found;
  void *f = new_obj(pair_type);
  CHECK_RC(rcgc_freeze(heap), RCGC_OK);
  void *a = new_obj(pair_type);
  CHECK_RC(rcgc_collect(heap, 1, &found), RCGC_OK);
  void *b = new_obj(pair_type);
  CHECK_RC(rcgc_collect(heap, 0, &found), RCGC_OK);
  void *c = new_obj(pair_type);
  void *d = new_obj(pair_type);
  CHECK_RC(rcgc_untrack(d), RCGC_OK);
  rcgc_decref(new_obj(phoenix_type)); /* finalized, and resurrected into `saved` */
  CHECK(saved != NULL);

  node_spec nodes[] = {
      {f, "Pair", 1, 1, 1, "permanent", 0, 32}, {a, "Pair", 1, 1, 1, "gen2", 0, 32},
      {b, "Pair", 1, 1, 1, "gen1", 0, 32},      {c, "Pair", 1, 1, 1, "gen0", 0, 32},
      {d, "Pair", 1, 1, 1, "untracked", 0, 32}, {saved, "Phoenix", 1, 1, 1, "untracked", 1, 32},
  };
  text want = expected_json(NULL, 0, nodes, 6, NULL, 0);
  text got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);
  got = export_graph(heap, RCGC_GRAPH_DOT, NULL, 0);
  CHECK_CONTAINS(str(&got), "\\nrefcount 1, external 1\\nuntracked, finalized, 32 bytes\"");
  CHECK_CONTAINS(str(&got), "\\nrefcount 1, external 1\\npermanent, 32 bytes\"");
  text_free(&got);

  void *all[] = {f, a, b, c, d, saved};
  for (size_t i = 0; i < 6; i++) rcgc_decref(all[i]);
  saved = NULL;
  CHECK_RC(rcgc_unfreeze(heap), RCGC_OK);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 5: why is it alive? A shortest chain of references from an object held
 * from outside (external > 0) to it, that object first.
 *   root = Pair(); root.a = Pair(); root.b = Pair(); root.a.a = Pair()
 *   t = Pair(); root.a.a.a = t; root.b.a = t                  # a long way and a short way
 *   objs = [root, root.a, root.b, root.a.a, t]; del t
 *   why_alive(4, objs) == [0, 2, 4]       # root -[1]-> root.b -[0]-> t
 *   why_alive(0, objs) == [0]             # held from outside: a chain of one
 *   r2 = Pair(); r2.b = objs[4]; objs.append(r2)
 *   why_alive(4, objs) == [5, 4]          # the shortest of all: r2 -[1]-> t
 * A cycle nobody holds has no chain; a collection frees it:
 *   c1 = Pair(); c1.a = c2 = Pair(); c2.a = c1; objs += [c1, c2]; del c1, c2
 *   why_alive(6, objs) == []; del objs[6:]; gc.collect() == 2   # (no other garbage about)
 * ------------------------------------------------------------------------- */
typedef struct { void *objs[8]; size_t refcounts[8]; int n; } chain_log;

static void log_chain(void *obj, void *ctx) {
  chain_log *log = ctx;
  CHECK(log->n < 8);
  log->objs[log->n] = obj;
  log->refcounts[log->n] = rcgc_refcount(obj);
  log->n++;
}

static void *pair_of(rcgc_type *type, void *a, void *b) {
  pair *p = new_obj(type);
  rcgc_set_ref(&p->a, a);
  rcgc_set_ref(&p->b, b);
  return p;
}

static void why_alive(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  void *t = new_obj(pair_type);
  void *c = pair_of(pair_type, t, NULL);
  void *a = pair_of(pair_type, c, NULL);
  void *b = pair_of(pair_type, t, NULL);
  void *root = pair_of(pair_type, a, b);
  rcgc_decref(t);
  rcgc_decref(c);
  rcgc_decref(a);
  rcgc_decref(b);

  chain_log log = {.n = 0};
  size_t length = 99;
  CHECK_RC(rcgc_why_alive(heap, t, log_chain, &log, &length), RCGC_OK);
  CHECK_EQ(length, 3);
  CHECK_EQ(log.n, 3);
  CHECK(log.objs[0] == root && log.objs[1] == b && log.objs[2] == t);
  CHECK_EQ(log.refcounts[0], 2); /* each held by rcgc during the calls */
  CHECK_EQ(log.refcounts[1], 2);
  CHECK_EQ(log.refcounts[2], 3);
  CHECK_EQ(rcgc_refcount(root), 1);
  CHECK_EQ(rcgc_refcount(t), 2);

  text got = {0}, want = {0};
  CHECK_RC(rcgc_why_alive_text(heap, t, to_text, &got), RCGC_OK);
  appendf(&want,
          "0x%" PRIxPTR " 'Pair': refcount 1, external 1: held from outside the heap\n"
          "  [1] -> 0x%" PRIxPTR " 'Pair': refcount 1, external 0\n"
          "  [0] -> 0x%" PRIxPTR " 'Pair': refcount 2, external 0\n",
          ADDR(root), ADDR(b), ADDR(t));
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);

  log.n = 0;
  CHECK_RC(rcgc_why_alive(heap, root, log_chain, &log, &length), RCGC_OK);
  CHECK_EQ(length, 1);
  CHECK(log.n == 1 && log.objs[0] == root);
  CHECK_RC(rcgc_why_alive(heap, root, log_chain, &log, NULL), RCGC_OK); /* length_out may be NULL */

  void *r2 = pair_of(pair_type, NULL, t);
  log.n = 0;
  CHECK_RC(rcgc_why_alive(heap, t, log_chain, &log, &length), RCGC_OK);
  CHECK_EQ(length, 2);
  CHECK(log.objs[0] == r2 && log.objs[1] == t);
  CHECK_RC(rcgc_why_alive_text(heap, t, to_text, &got), RCGC_OK);
  appendf(&want,
          "0x%" PRIxPTR " 'Pair': refcount 1, external 1: held from outside the heap\n"
          "  [1] -> 0x%" PRIxPTR " 'Pair': refcount 3, external 0\n",
          ADDR(r2), ADDR(t));
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);

  /* A garbage cycle: no chain, RCGC_ERR_NOT_FOUND, length 0, fn not called. */
  void *c1 = new_obj(pair_type), *c2 = pair_of(pair_type, c1, NULL);
  rcgc_set_ref(&((pair *)c1)->a, c2);
  rcgc_decref(c1);
  rcgc_decref(c2);
  log.n = 0;
  length = 99;
  CHECK_RC(rcgc_why_alive(heap, c1, log_chain, &log, &length), RCGC_ERR_NOT_FOUND);
  CHECK_EQ(length, 0);
  CHECK_EQ(log.n, 0);
  CHECK_EQ(rcgc_last_error_code(), RCGC_ERR_NOT_FOUND);
  char message[200];
  snprintf(message, sizeof message,
           "rcgc_why_alive: object 0x%" PRIxPTR " (type 'Pair') is not reachable from any object held outside "
           "the heap: it is garbage waiting for a collection",
           ADDR(c1));
  CHECK_STREQ(rcgc_last_error(), message);
  CHECK_RC(rcgc_why_alive_text(heap, c2, to_text, &got), RCGC_ERR_NOT_FOUND);
  appendf(&want,
          "0x%" PRIxPTR " 'Pair': refcount 1, external 0: no chain of references from outside the heap "
          "reaches it; it is garbage waiting for a collection\n",
          ADDR(c2));
  CHECK_STREQ(str(&got), str(&want));
  text_free(&got);
  text_free(&want);

  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 2);
  got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  snprintf(message, sizeof message, "\"0x%" PRIxPTR "\"", ADDR(c1));
  CHECK(strstr(str(&got), message) == NULL);
  snprintf(message, sizeof message, "\"0x%" PRIxPTR "\"", ADDR(c2));
  CHECK(strstr(str(&got), message) == NULL);
  CHECK_CONTAINS(str(&got), "\"reachable\":true");
  CHECK(strstr(str(&got), "\"reachable\":false") == NULL);
  text_free(&got);

  rcgc_decref(r2);
  rcgc_decref(root);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 6: a write callback that returns non-zero stops the output: the call
 * returns RCGC_ERR_ABORTED and the callback is not called again. (In CPython,
 * an exception raised by the file's write() propagates the same way.)
 * ------------------------------------------------------------------------- */
static void write_fails(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  void *list = NULL;
  for (int i = 0; i < 200; i++) { /* about 30 KB of JSON: several chunks */
    void *next = pair_of(pair_type, list, NULL);
    rcgc_decref(list);
    list = next;
  }
  text t = {.fail_at = 1, .fail_code = 7};
  CHECK_RC(rcgc_export_graph(heap, RCGC_GRAPH_JSON, NULL, 0, to_text, &t), RCGC_ERR_ABORTED);
  CHECK_EQ(t.calls, 1);
  CHECK_STREQ(rcgc_last_error(), "rcgc_export_graph: the write callback returned 7; the output is incomplete");
  text_free(&t);

  t = (text){.fail_at = 3, .fail_code = -1};
  CHECK_RC(rcgc_export_graph(heap, RCGC_GRAPH_DOT, NULL, 0, to_text, &t), RCGC_ERR_ABORTED);
  CHECK_EQ(t.calls, 3);
  CHECK_EQ(t.len, 2 * 4096); /* two full chunks went out */
  text_free(&t);

  text all = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  CHECK(all.calls > 3);
  CHECK(all.len > 3 * 4096);
  text_free(&all);

  t = (text){.fail_at = 1, .fail_code = 1};
  CHECK_RC(rcgc_why_alive_text(heap, list, to_text, &t), RCGC_ERR_ABORTED);
  CHECK_CONTAINS(rcgc_last_error(), "rcgc_why_alive_text: the write callback returned 1");
  text_free(&t);
  CHECK_EQ(rcgc_refcount(list), 1);
  rcgc_decref(list);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 7: callbacks may change the heap. The output describes the heap as it
 * was when the call began; a chain's objects stay alive until the last call.
 * From a callback of a collection, both calls are refused (RCGC_ERR_REENTRANT),
 * and a traverse cannot allocate or collect while the heap is looked at.
 * (CPython: gc.get_referrers from a __del__ run by a collection works; rcgc
 * refuses, as rcgc_get_objects does.)
 * ------------------------------------------------------------------------- */
typedef struct {
  rcgc_heap *heap;
  void *drop;   /* decref'd (and a full collection run) at the first call */
  text out;
  int nested_rc;
} meddler;

static int meddling_write(const char *data, size_t len, void *ctx) {
  meddler *m = ctx;
  if (m->drop != NULL) {
    rcgc_decref(m->drop);
    m->drop = NULL;
    size_t found = 0;
    CHECK_RC(rcgc_collect(m->heap, 2, &found), RCGC_OK);
    CHECK_EQ(found, 2); /* the pair of cycles held only by `drop` */
    void *tmp = new_slots(m->heap, 1); /* allocation works; under stress it collects */
    text inner = {0};
    m->nested_rc = rcgc_export_graph(m->heap, RCGC_GRAPH_JSON, NULL, 0, to_text, &inner);
    text_free(&inner);
    rcgc_decref(tmp);
  }
  put(&m->out, data, len);
  return 0;
}

static void meddling_object_fn(void *obj, void *ctx) {
  meddler *m = ctx;
  if (m->drop != NULL) { /* the chain's root: the last reference from outside */
    CHECK(obj == m->drop);
    rcgc_decref(m->drop);
    m->drop = NULL;
    size_t found = 0;
    CHECK_RC(rcgc_collect(m->heap, 2, &found), RCGC_OK);
    CHECK_EQ(found, 0); /* the chain is held by rcgc until the calls are over */
  }
  CHECK(((pair *)obj)->b == NULL); /* still a live, intact object */
  put(&m->out, "o", 1);
}

static rcgc_heap *reentrant_heap;
static rcgc_result reentrant_rc[2];
static void probing_finalize(void *obj) {
  text t = {0};
  size_t length;
  reentrant_rc[0] = rcgc_export_graph(reentrant_heap, RCGC_GRAPH_DOT, NULL, 0, to_text, &t);
  reentrant_rc[1] = rcgc_why_alive(reentrant_heap, obj, log_chain, NULL, &length);
  text_free(&t);
}

static rcgc_result nosy_rc[2];
static void nosy_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  (void)obj;
  (void)visit;
  (void)ctx;
  void *made = rcgc_slots_new(reentrant_heap, 1);
  nosy_rc[0] = made == NULL ? rcgc_last_error_code() : RCGC_OK;
  nosy_rc[1] = rcgc_collect(reentrant_heap, 0, NULL);
}
static void nosy_clear(void *obj) { (void)obj; }

static void callbacks_change_the_heap(void) {
  rcgc_heap *heap = rcgc_heap_new(); /* collection stays enabled: under stress, allocations collect */
  CHECK(heap != NULL);
  rcgc_type *pair_type = register_type(heap, "Pair", sizeof(pair), pair_traverse, pair_clear, NULL);
  void *keep = pair_of(pair_type, NULL, NULL);
  void *drop = new_slots(heap, 2);
  for (int i = 0; i < 2; i++) { /* drop holds two 1-cycles... of one object each */
    void *cyc = new_obj(pair_type);
    rcgc_set_ref(&((pair *)cyc)->a, cyc);
    CHECK_RC(rcgc_slots_set(drop, (size_t)i, cyc), RCGC_OK);
    rcgc_decref(cyc);
  }
  text before = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  meddler m = {.heap = heap, .drop = drop};
  CHECK_RC(rcgc_export_graph(heap, RCGC_GRAPH_JSON, NULL, 0, meddling_write, &m), RCGC_OK);
  CHECK_STREQ(str(&m.out), str(&before)); /* the heap as it was, freed objects included */
  CHECK_EQ(m.nested_rc, RCGC_OK);
  CHECK_EQ(live_objects(heap), 1);
  text_free(&m.out);
  text_free(&before);

  /* rcgc_why_alive: the callback drops the root's last outside reference and
   * collects; the chain stays alive until the last call, then is freed. */
  void *leaf = new_obj(pair_type);
  void *mid = pair_of(pair_type, leaf, NULL);
  void *top = pair_of(pair_type, mid, NULL);
  rcgc_decref(leaf);
  rcgc_decref(mid);
  m = (meddler){.heap = heap, .drop = top};
  size_t length = 0;
  CHECK_RC(rcgc_why_alive(heap, leaf, meddling_object_fn, &m, &length), RCGC_OK);
  CHECK_EQ(length, 3);
  CHECK_STREQ(str(&m.out), "ooo");
  text_free(&m.out);
  CHECK_EQ(live_objects(heap), 1); /* top, mid and leaf went with the last call */

  /* From a finalizer run by a collection: refused. */
  reentrant_heap = heap;
  rcgc_type *probe_type = register_type(heap, "Probe", sizeof(pair), pair_traverse, pair_clear, probing_finalize);
  void *p = new_obj(probe_type);
  rcgc_set_ref(&((pair *)p)->a, p);
  rcgc_decref(p);
  size_t found = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  CHECK_EQ(reentrant_rc[0], RCGC_ERR_REENTRANT);
  CHECK_EQ(reentrant_rc[1], RCGC_ERR_REENTRANT);

  /* A traverse that tries to allocate or collect while the heap is looked at. */
  rcgc_type *nosy_type = register_type(heap, "Nosy", 16, nosy_traverse, nosy_clear, NULL);
  void *nosy = new_obj(nosy_type);
  CHECK_RC(rcgc_untrack(nosy), RCGC_OK); /* no collection calls its traverse */
  text t = export_graph(heap, RCGC_GRAPH_DOT, NULL, 0);
  CHECK_EQ(nosy_rc[0], RCGC_ERR_REENTRANT);
  CHECK_EQ(nosy_rc[1], RCGC_ERR_REENTRANT);
  text_free(&t);
  CHECK_EQ(live_objects(heap), 2);
  rcgc_decref(nosy);
  rcgc_decref(keep);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 8: type names are user strings: JSON escapes them (RFC 8259, as
 * json.dumps does), DOT and the text form escape what would break them, and
 * bytes that are not UTF-8 become U+FFFD (as bytes.decode(errors='replace')).
 *   json.dumps('a"b\\c\nd\x01\ufffd\u00e9', ensure_ascii=False) == '"a\\"b\\\\c\\nd\\u0001\ufffd\u00e9"'
 * ------------------------------------------------------------------------- */
static void escaping(void) {
  rcgc_heap *heap = rcgc_heap_new();
  CHECK(heap != NULL);
  rcgc_type *odd = register_type(heap, "a\"b\\c\nd\x01\xff\xc3\xa9", 8, NULL, NULL, NULL);
  void *obj = new_obj(odd);
  text got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  CHECK_CONTAINS(str(&got), "\"type\":\"a\\\"b\\\\c\\nd\\u0001\xef\xbf\xbd\xc3\xa9\"");
  text_free(&got);
  got = export_graph(heap, RCGC_GRAPH_DOT, NULL, 0);
  CHECK_CONTAINS(str(&got), "[label=\"a\\\"b\\\\c\\\\nd\\\\u{1}\xef\xbf\xbd\xc3\xa9\\n0x");
  text_free(&got);
  CHECK_RC(rcgc_why_alive_text(heap, obj, to_text, &got), RCGC_OK);
  CHECK_CONTAINS(str(&got), " 'a\"b\\c\\nd\\u{1}\xef\xbf\xbd\xc3\xa9': refcount 1, external 1: held from outside the heap\n");
  text_free(&got);
  rcgc_decref(obj);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 9: bad arguments are clear errors naming the function; the new result
 * codes have names.
 * ------------------------------------------------------------------------- */
static void expect_error(rcgc_result got, rcgc_result want, const char *message) {
  CHECK_EQ(got, want);
  CHECK_EQ(rcgc_last_error_code(), want);
  CHECK_STREQ(rcgc_last_error(), message);
}

static void bad_arguments(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  rcgc_type *other_pair, *other_blob;
  rcgc_heap *other = fresh_heap(&other_pair, &other_blob);
  void *x = new_obj(pair_type), *stranger = new_obj(other_pair);
  text t = {0};
  size_t length = 77;
  char message[200];

  expect_error(rcgc_export_graph(NULL, RCGC_GRAPH_DOT, NULL, 0, to_text, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_export_graph: argument `heap` is NULL");
  expect_error(rcgc_export_graph(heap, RCGC_GRAPH_DOT, NULL, 0, NULL, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_export_graph: argument `write` is NULL");
  expect_error(rcgc_export_graph(heap, 2, NULL, 0, to_text, &t), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_export_graph: format 2 is neither RCGC_GRAPH_DOT (0) nor RCGC_GRAPH_JSON (1)");
  expect_error(rcgc_export_graph(heap, -1, NULL, 0, to_text, &t), RCGC_ERR_INVALID_ARGUMENT,
               "rcgc_export_graph: format -1 is neither RCGC_GRAPH_DOT (0) nor RCGC_GRAPH_JSON (1)");
  expect_error(rcgc_export_graph(heap, RCGC_GRAPH_JSON, NULL, 2, to_text, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_export_graph: argument `roots` is NULL");
  void *roots[3] = {x, NULL, x};
  expect_error(rcgc_export_graph(heap, RCGC_GRAPH_JSON, roots, 3, to_text, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_export_graph: roots[1] is NULL");
  roots[1] = stranger;
  snprintf(message, sizeof message, "rcgc_export_graph: object 0x%" PRIxPTR " of type 'Pair' belongs to another heap",
           ADDR(stranger));
  expect_error(rcgc_export_graph(heap, RCGC_GRAPH_JSON, roots, 3, to_text, &t), RCGC_ERR_WRONG_HEAP, message);
  CHECK_EQ(t.calls, 0); /* nothing was written by any failed call */

  expect_error(rcgc_why_alive(NULL, x, log_chain, NULL, &length), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_why_alive: argument `heap` is NULL");
  expect_error(rcgc_why_alive(heap, NULL, log_chain, NULL, &length), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_why_alive: argument `obj` is NULL");
  expect_error(rcgc_why_alive(heap, x, NULL, NULL, &length), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_why_alive: argument `fn` is NULL");
  snprintf(message, sizeof message, "rcgc_why_alive: object 0x%" PRIxPTR " of type 'Pair' belongs to another heap",
           ADDR(stranger));
  expect_error(rcgc_why_alive(heap, stranger, log_chain, NULL, &length), RCGC_ERR_WRONG_HEAP, message);
  CHECK_EQ(length, 77); /* written only on RCGC_OK and RCGC_ERR_NOT_FOUND */

  expect_error(rcgc_why_alive_text(NULL, x, to_text, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_why_alive_text: argument `heap` is NULL");
  expect_error(rcgc_why_alive_text(heap, NULL, to_text, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_why_alive_text: argument `obj` is NULL");
  expect_error(rcgc_why_alive_text(heap, x, NULL, &t), RCGC_ERR_NULL_ARGUMENT,
               "rcgc_why_alive_text: argument `write` is NULL");
  CHECK_EQ(t.calls, 0);

  CHECK_EQ(RCGC_ERR_NOT_FOUND, 9);
  CHECK_EQ(RCGC_ERR_ABORTED, 10);
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_NOT_FOUND), "RCGC_ERR_NOT_FOUND");
  CHECK_STREQ(rcgc_result_name(RCGC_ERR_ABORTED), "RCGC_ERR_ABORTED");
  CHECK_EQ(RCGC_GRAPH_DOT, 0);
  CHECK_EQ(RCGC_GRAPH_JSON, 1);

  rcgc_decref(x);
  rcgc_decref(stranger);
  rcgc_heap_free(heap);
  rcgc_heap_free(other);

  /* Checked mode: a pointer that is no object is refused, never read. */
  rcgc_config config;
  rcgc_config_init(&config);
  config.checked = true;
  heap = rcgc_heap_new_with(&config);
  CHECK(heap != NULL);
  void *obj = new_slots(heap, 1);
  char not_an_object[64] = {0};
  void *bogus = not_an_object + 16;
  CHECK_RC(rcgc_export_graph(heap, RCGC_GRAPH_JSON, &bogus, 1, to_text, &t), RCGC_ERR_INVALID_OBJECT);
  CHECK_CONTAINS(rcgc_last_error(), "rcgc_export_graph: pointer 0x");
  CHECK_RC(rcgc_why_alive(heap, bogus, log_chain, NULL, &length), RCGC_ERR_INVALID_OBJECT);
  CHECK_RC(rcgc_why_alive_text(heap, bogus, to_text, &t), RCGC_ERR_INVALID_OBJECT);
  t = export_graph(heap, RCGC_GRAPH_JSON, &obj, 1);
  CHECK_CONTAINS(str(&t), "\"type\":\"rcgc.slots\"");
  text_free(&t);
  rcgc_decref(obj);
  rcgc_heap_free(heap);
}

/* ---------------------------------------------------------------------------
 * Rule 10: a weak reference keeps nothing alive: it reports no reference to
 * its referent. Objects the garbage list keeps (RCGC_DEBUG_SAVEALL) are held
 * from outside the heap, by the list, until it is cleared.
 *   class P: __slots__ = ('a', 'b', '__weakref__')
 *   x = P(); w = weakref.ref(x); objs = [x, w]
 *   referents(w) == []; external(0, objs) == 1; external(1, objs) == 1; gc.is_tracked(w)
 *   gc.set_debug(gc.DEBUG_SAVEALL); c = P(); c.a = c; del c; gc.collect() == 1
 *   objs = [gc.garbage[0]]; external(0, objs) == 1; why_alive(0, objs) == [0]
 *   gc.garbage.clear(); external(0, objs) == 0; why_alive(0, objs) == []
 * ------------------------------------------------------------------------- */
static void weak_and_saved(void) {
  rcgc_type *pair_type, *blob_type;
  rcgc_heap *heap = fresh_heap(&pair_type, &blob_type);
  void *x = new_obj(pair_type);
  void *w = rcgc_weakref_new(x, NULL, NULL);
  CHECK(w != NULL);
  text got = export_graph(heap, RCGC_GRAPH_JSON, NULL, 0);
  char line[200];
  snprintf(line, sizeof line, "{\"id\":\"0x%" PRIxPTR "\",\"type\":\"Pair\",\"refcount\":1,\"external\":1,", ADDR(x));
  CHECK_CONTAINS(str(&got), line);
  snprintf(line, sizeof line,
           "{\"id\":\"0x%" PRIxPTR "\",\"type\":\"rcgc.weakref\",\"refcount\":1,\"external\":1,"
           "\"reachable\":true,\"state\":\"gen0\",",
           ADDR(w));
  CHECK_CONTAINS(str(&got), line);
  CHECK_CONTAINS(str(&got), "\"edges\":[\n]}\n"); /* no reference at all */
  text_free(&got);
  rcgc_decref(w);

  CHECK_RC(rcgc_set_debug(heap, RCGC_DEBUG_SAVEALL), RCGC_OK);
  void *c = new_obj(pair_type);
  rcgc_set_ref(&((pair *)c)->a, c);
  rcgc_decref(c);
  size_t found = 0, length = 0;
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  chain_log log = {.n = 0};
  CHECK_RC(rcgc_why_alive(heap, c, log_chain, &log, &length), RCGC_OK);
  CHECK_EQ(length, 1); /* held by the garbage list */
  CHECK(log.objs[0] == c);
  CHECK_RC(rcgc_clear_garbage(heap), RCGC_OK);
  CHECK_RC(rcgc_why_alive(heap, c, log_chain, &log, &length), RCGC_ERR_NOT_FOUND);
  CHECK_EQ(length, 0);
  CHECK_RC(rcgc_set_debug(heap, 0), RCGC_OK);
  CHECK_RC(rcgc_collect(heap, 2, &found), RCGC_OK);
  CHECK_EQ(found, 1);
  rcgc_decref(x);
  CHECK_EQ(live_objects(heap), 0);
  rcgc_heap_free(heap);
}

int main(void) {
  whole_heap();
  from_roots();
  external_counts();
  states();
  why_alive();
  write_fails();
  callbacks_change_the_heap();
  escaping();
  bad_arguments();
  weak_and_saved();
  CHECK_DONE("test_graph");
}
