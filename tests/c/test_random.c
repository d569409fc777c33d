/* test_random.c: random object graphs checked against an oracle.
 *
 * For each seed (a xorshift PRNG) the test builds a graph of 1..300 objects,
 * mixing slots objects (1..4 slots) and a user type "unode" (3 reference
 * fields), with random edges (self-loops and repeated edges included), random
 * external references, some objects untracked with rcgc_untrack, and then
 * interleaves edge changes, external increfs/decrefs, new allocations,
 * untrack/track, threshold changes, enable/disable and collections of
 * generation 0, 1 or 2.
 *
 * The oracle is a model of the whole heap kept by the test: each object's
 * references and external holds (hence its refcount), whether it is tracked and
 * in which generation, and CPython 3.11's counts, thresholds and
 * long_lived_pending/total, so it also predicts every automatic collection.
 * For each collection it computes what CPython's algorithm does:
 *   candidates = live tracked objects of generations 0..=g
 *   gc_refs = refcount - references from candidates; > 0: reachable from outside
 *   reachable = closure of those over references between candidates
 *   returned count = candidates - reachable; reachable move to min(g+1, 2)
 *   then the unreachable ones are cleared and refcounting frees what it frees.
 * After every operation the set of live objects in rcgc (registry: destroy
 * callbacks of unodes; for slots objects, the destroy callback of a private
 * untracked "tag" object held in their last slot) must equal the model's, every
 * live object's refcount and tracked state must equal the model's, and the
 * counts must equal the model's.  After every collection everything reachable
 * from externally held objects must be alive; after every full collection with
 * no untracked object alive, the live set must be exactly the set reachable
 * from externally held objects and the returned count exactly the number of
 * model-unreachable objects that were alive before it.
 *
 * There is no CPython snippet for the random graphs; the rules are those of
 * Modules/gcmodule.c (see test_counts.c and test_collect.c for snippets).
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#define MAXOBJ 400
#define NREF 4

/* --------------------------------------------------------------------------- */
typedef struct unode {
  long id;
  void *refs[3];
} unode;

typedef struct tag {
  long owner;
} tag;

static bool dead[MAXOBJ];
static unsigned destroy_count[MAXOBJ];

static void unode_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  unode *u = (unode *)obj;
  for (int i = 0; i < 3; i++)
    if (u->refs[i]) visit(u->refs[i], ctx);
}
static void unode_clear(void *obj) {
  unode *u = (unode *)obj;
  for (int i = 0; i < 3; i++) rcgc_clear_ref(&u->refs[i]);
}
static void unode_destroy(void *obj) {
  long id = ((unode *)obj)->id;
  CHECK(id >= 0 && id < MAXOBJ);
  dead[id] = true;
  destroy_count[id]++;
}
static void tag_destroy(void *obj) {
  long id = ((tag *)obj)->owner;
  CHECK(id >= 0 && id < MAXOBJ);
  dead[id] = true;
  destroy_count[id]++;
}

/* --------------------------------------------------------------------------- */
typedef struct mobj {
  void *p;
  bool is_slots;
  int nref;         /* user references: slots 1..4 (+1 tag slot), unode 3 */
  int refs[NREF];   /* model targets, -1 = none */
  long ext;         /* external holds */
  long rc;          /* model refcount = ext + references from live objects */
  bool alive, tracked;
  int gen;
} mobj;

typedef struct model {
  int n;
  mobj o[MAXOBJ];
  size_t th[3], count[3], pending, total;
  bool enabled;
} model;

static model M;
/* Set from RCGC_STRESS_GC, which the harness sets when the library is built with
 * the stress-gc feature: every tracked allocation then collects, at least
 * generation 0 (collector.rs). The model follows that rule too, so every check
 * stays exact. */
static bool stress = false;
static rcgc_heap *H;
static rcgc_type *unode_t, *tag_t;

static uint64_t rng;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* statistics */
static unsigned long st_graphs, st_ops, st_collections[3], st_auto_collections, st_objects,
    st_freed_by_gc, st_full_exact, st_untracked_cases;

/* --------------------------------------------------------------------------- */
static int stack_[MAXOBJ * (NREF + 2)];

/* An object's refcount reached zero: it dies, dropping its references;
 * cascade.  `in_collection`: frees inside a collection (count0 is 0 there). */
static void model_release(int i) {
  int sp = 0;
  stack_[sp++] = i;
  while (sp > 0) {
    int x = stack_[--sp];
    mobj *o = &M.o[x];
    if (!o->alive || o->rc != 0) continue;
    o->alive = false;
    o->tracked = false;
    if (M.count[0] > 0) M.count[0]--; /* every user type has traverse */
    for (int f = 0; f < o->nref; f++) {
      int t = o->refs[f];
      o->refs[f] = -1;
      if (t >= 0) {
        M.o[t].rc--;
        CHECK(M.o[t].rc >= 0);
        if (M.o[t].rc == 0) stack_[sp++] = t;
      }
    }
  }
}

static bool reach_[MAXOBJ];
static long gcrefs_[MAXOBJ];
static bool cand_[MAXOBJ];

/* CPython's collection of generations 0..=g in the model; returns the count. */
static size_t model_collect(int g) {
  if (g < 2) M.count[g + 1]++;
  for (int i = 0; i <= g; i++) M.count[i] = 0;
  for (int i = 0; i < M.n; i++) {
    mobj *o = &M.o[i];
    cand_[i] = o->alive && o->tracked && o->gen <= g;
    reach_[i] = false;
    gcrefs_[i] = cand_[i] ? o->rc : 0;
  }
  for (int i = 0; i < M.n; i++) {
    if (!cand_[i]) continue;
    for (int f = 0; f < M.o[i].nref; f++) {
      int t = M.o[i].refs[f];
      if (t >= 0 && cand_[t]) gcrefs_[t]--;
    }
  }
  int sp = 0;
  for (int i = 0; i < M.n; i++) {
    if (cand_[i]) CHECK(gcrefs_[i] >= 0);
    if (cand_[i] && gcrefs_[i] > 0) {
      reach_[i] = true;
      stack_[sp++] = i;
    }
  }
  while (sp > 0) {
    int x = stack_[--sp];
    for (int f = 0; f < M.o[x].nref; f++) {
      int t = M.o[x].refs[f];
      if (t >= 0 && cand_[t] && !reach_[t]) {
        reach_[t] = true;
        stack_[sp++] = t;
      }
    }
  }
  size_t unreachable = 0, survivors = 0;
  for (int i = 0; i < M.n; i++) {
    if (!cand_[i]) continue;
    if (reach_[i]) {
      survivors++;
      M.o[i].gen = g < 2 ? g + 1 : 2;
    } else {
      unreachable++;
    }
  }
  if (g == 2) {
    M.pending = 0;
    M.total = survivors;
  } else if (g == 1) {
    M.pending += survivors;
  }
  /* clear the unreachable ones, then let refcounting free */
  for (int i = 0; i < M.n; i++) {
    if (!cand_[i] || reach_[i]) continue;
    mobj *o = &M.o[i];
    for (int f = 0; f < o->nref; f++) {
      int t = o->refs[f];
      o->refs[f] = -1;
      if (t >= 0) M.o[t].rc--;
    }
  }
  for (int i = 0; i < M.n; i++) {
    if (M.o[i].alive && M.o[i].rc == 0) model_release(i);
  }
  for (int i = 0; i < M.n; i++)
    if (cand_[i] && !reach_[i]) CHECK(!M.o[i].alive);
  return unreachable;
}

/* The allocation of a tracked object: count, maybe collect (before the new
 * object exists). */
static void model_alloc_tracked(void) {
  M.count[0]++;
  bool due = stress || (M.count[0] > M.th[0] && M.th[0] != 0);
  if (due && M.enabled) {
    for (int i = 2; i >= 0; i--) {
      if (M.count[i] > M.th[i] || (stress && i == 0)) {
        if (i == 2 && M.pending < M.total / 4) continue;
        model_collect(i);
        st_auto_collections++;
        break;
      }
    }
  }
}

/* --------------------------------------------------------------------------- */
static void set_real_ref(int src, int f, int t) {
  mobj *o = &M.o[src];
  void *tp = t >= 0 ? M.o[t].p : NULL;
  if (o->is_slots) {
    CHECK_RC(rcgc_slots_set(o->p, (size_t)f, tp), RCGC_OK);
  } else {
    rcgc_set_ref(&((unode *)o->p)->refs[f], tp);
  }
}

static void set_edge(int src, int f, int t) {
  mobj *o = &M.o[src];
  int old = o->refs[f];
  set_real_ref(src, f, t);
  if (t >= 0) M.o[t].rc++;
  o->refs[f] = t;
  if (old >= 0) {
    M.o[old].rc--;
    if (M.o[old].rc == 0) model_release(old);
  }
}

static int new_object(void) {
  CHECK(M.n < MAXOBJ);
  int id = M.n;
  bool is_slots = below(2) == 0;
  model_alloc_tracked(); /* may run an automatic collection first */
  M.n++;
  mobj *o = &M.o[id];
  memset(o, 0, sizeof *o);
  for (int f = 0; f < NREF; f++) o->refs[f] = -1;
  o->is_slots = is_slots;
  o->alive = true;
  o->tracked = true;
  o->gen = 0;
  o->ext = 1;
  o->rc = 1;
  dead[id] = false;
  destroy_count[id] = 0;
  if (is_slots) {
    o->nref = 1 + (int)below(4);
    o->p = rcgc_slots_new(H, (size_t)o->nref + 1);
    CHECK(o->p != NULL);
    tag *tg = (tag *)rcgc_alloc(tag_t);
    CHECK(tg != NULL);
    tg->owner = id;
    CHECK_RC(rcgc_slots_set(o->p, (size_t)o->nref, tg), RCGC_OK);
    rcgc_decref(tg);
  } else {
    o->nref = 3;
    unode *u = (unode *)rcgc_alloc(unode_t);
    CHECK(u != NULL);
    u->id = id;
    o->p = u;
  }
  st_objects++;
  return id;
}

static int random_live(void) {
  int live = 0;
  for (int i = 0; i < M.n; i++) live += M.o[i].alive;
  if (live == 0) return -1;
  size_t k = below((size_t)live);
  for (int i = 0; i < M.n; i++) {
    if (!M.o[i].alive) continue;
    if (k-- == 0) return i;
  }
  return -1;
}

static void ext_decref(int i) {
  mobj *o = &M.o[i];
  CHECK(o->ext > 0);
  o->ext--;
  o->rc--;
  rcgc_decref(o->p);
  if (o->rc == 0) model_release(i);
}

/* --------------------------------------------------------------------------- */
static void verify(void) {
  rcgc_counts c = rcgc_get_count(H);
  if (c.gen0 != M.count[0] || c.gen1 != M.count[1] || c.gen2 != M.count[2]) {
    fprintf(stderr, "seed state: model pending %zu total %zu\n", M.pending, M.total);
  }
  CHECK_COUNTS(H, M.count[0], M.count[1], M.count[2]);
  size_t live = 0, tracked = 0;
  for (int i = 0; i < M.n; i++) {
    mobj *o = &M.o[i];
    if (dead[i] == o->alive) {
      fprintf(stderr, "object %d (%s): model says %s, rcgc says %s\n", i,
              o->is_slots ? "slots" : "unode", o->alive ? "alive" : "dead",
              dead[i] ? "dead" : "alive");
    }
    CHECK_EQ(dead[i], !o->alive);
    CHECK_EQ(destroy_count[i], o->alive ? 0 : 1);
    if (!o->alive) continue;
    live++;
    tracked += o->tracked;
    CHECK_EQ(rcgc_refcount(o->p), (size_t)o->rc);
    CHECK_EQ(rcgc_is_tracked(o->p), o->tracked);
  }
  rcgc_heap_stats st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  CHECK_RC(rcgc_heap_get_stats(H, &st), RCGC_OK);
  /* slots objects own a tag each */
  size_t tags = 0;
  for (int i = 0; i < M.n; i++) tags += M.o[i].alive && M.o[i].is_slots;
  CHECK_EQ(st.live_objects, live + tags);
  CHECK_EQ(st.tracked_objects, tracked);
}

static bool xreach_[MAXOBJ];
/* Objects reachable from externally held ones (through any object). */
static void reachable_from_external(void) {
  int sp = 0;
  for (int i = 0; i < M.n; i++) {
    xreach_[i] = M.o[i].alive && M.o[i].ext > 0;
    if (xreach_[i]) stack_[sp++] = i;
  }
  while (sp > 0) {
    int x = stack_[--sp];
    for (int f = 0; f < M.o[x].nref; f++) {
      int t = M.o[x].refs[f];
      if (t >= 0 && !xreach_[t]) {
        xreach_[t] = true;
        stack_[sp++] = t;
      }
    }
  }
}

static void do_collect(int g) {
  /* before: what is reachable from outside, and whether untracked objects live */
  reachable_from_external();
  bool any_untracked = false;
  size_t unreachable_alive = 0;
  static bool before_reach[MAXOBJ];
  for (int i = 0; i < M.n; i++) {
    before_reach[i] = xreach_[i];
    if (M.o[i].alive && !M.o[i].tracked) any_untracked = true;
    if (M.o[i].alive && !xreach_[i]) unreachable_alive++;
  }
  size_t expect = model_collect(g);
  size_t n = (size_t)-1;
  CHECK_RC(rcgc_collect(H, g, &n), RCGC_OK);
  CHECK_EQ(n, expect);
  st_collections[g]++;
  st_freed_by_gc += n;
  /* nothing reachable from outside was freed */
  for (int i = 0; i < M.n; i++)
    if (before_reach[i]) CHECK(!dead[i]);
  if (g == 2 && !any_untracked) {
    /* exact: returned count = model-unreachable objects alive before;
     * live set = reachable set */
    CHECK_EQ(n, unreachable_alive);
    for (int i = 0; i < M.n; i++) CHECK_EQ(!dead[i], before_reach[i]);
    st_full_exact++;
  }
  if (any_untracked) st_untracked_cases++;
  verify();
}

/* --------------------------------------------------------------------------- */
static void run_graph(uint64_t seed) {
  rng = seed * 0x9E3779B97F4A7C15ull ^ 0xD1B54A32D192ED03ull;
  if (rng == 0) rng = 1;
  for (int i = 0; i < 8; i++) rnd();
  memset(&M, 0, sizeof M);
  memset(dead, 0, sizeof dead);
  memset(destroy_count, 0, sizeof destroy_count);
  H = rcgc_heap_new();
  CHECK(H != NULL);
  rcgc_type_spec us = {"unode", sizeof(unode), unode_traverse, unode_clear, NULL, unode_destroy};
  rcgc_type_spec ts = {"tag", sizeof(tag), NULL, NULL, NULL, tag_destroy};
  CHECK_RC(rcgc_type_register(H, &us, &unode_t), RCGC_OK);
  CHECK_RC(rcgc_type_register(H, &ts, &tag_t), RCGC_OK);
  M.th[0] = 700;
  M.th[1] = 10;
  M.th[2] = 10;
  M.enabled = true;
  /* a third of the graphs with small thresholds: frequent automatic collections */
  if (below(3) == 0) {
    M.th[0] = 1 + below(30);
    M.th[1] = below(5);
    M.th[2] = below(5);
    CHECK_RC(rcgc_set_threshold(H, M.th[0], M.th[1], M.th[2]), RCGC_OK);
  }

  /* half of the graphs use rcgc_untrack (then about one object in ten) */
  bool use_untrack = below(2) == 0;
  int n0 = 1 + (int)below(300);
  for (int i = 0; i < n0; i++) {
    int id = new_object();
    if (use_untrack && below(10) == 0) {
      CHECK_RC(rcgc_untrack(M.o[id].p), RCGC_OK);
      M.o[id].tracked = false;
    }
  }
  int edges = (int)below((size_t)(3 * n0 + 1));
  for (int e = 0; e < edges; e++) {
    int s = (int)below((size_t)n0), t = (int)below((size_t)n0);
    if (!M.o[s].alive || !M.o[t].alive) continue;
    set_edge(s, (int)below((size_t)M.o[s].nref), t);
  }
  verify();
  /* drop most external references */
  for (int i = 0; i < n0; i++)
    if (M.o[i].alive && below(4) != 0) ext_decref(i);
  verify();
  st_ops += (unsigned long)(n0 + edges + n0);

  int nops = 20 + (int)below(60);
  for (int op = 0; op < nops; op++) {
    size_t r = below(100);
    if (r < 25) { /* edge change */
      int s = random_live();
      if (s >= 0) {
        size_t kind = below(10);
        int t = kind < 2 ? -1 : kind == 2 ? s /* self-loop */ : random_live();
        set_edge(s, (int)below((size_t)M.o[s].nref), t);
      }
    } else if (r < 40) { /* external decref */
      int cands = 0;
      for (int i = 0; i < M.n; i++) cands += M.o[i].alive && M.o[i].ext > 0;
      if (cands > 0) {
        size_t k = below((size_t)cands);
        for (int i = 0; i < M.n; i++) {
          if (!(M.o[i].alive && M.o[i].ext > 0)) continue;
          if (k-- == 0) {
            ext_decref(i);
            break;
          }
        }
      }
    } else if (r < 48) { /* external incref */
      int i = random_live();
      if (i >= 0) {
        rcgc_incref(M.o[i].p);
        M.o[i].ext++;
        M.o[i].rc++;
      }
    } else if (r < 58) { /* allocate, maybe linking it in */
      if (M.n < MAXOBJ) {
        int id = new_object();
        int t = random_live();
        if (t >= 0 && below(2) == 0) set_edge(id, (int)below((size_t)M.o[id].nref), t);
        if (t >= 0 && t != id && below(2) == 0) set_edge(t, (int)below((size_t)M.o[t].nref), id);
        if (below(2) == 0) ext_decref(id);
      }
    } else if (r < 63) { /* untrack / track */
      int i = random_live();
      if (i >= 0 && use_untrack) {
        if (M.o[i].tracked) {
          CHECK_RC(rcgc_untrack(M.o[i].p), RCGC_OK);
          M.o[i].tracked = false;
        } else {
          CHECK_RC(rcgc_track(M.o[i].p), RCGC_OK);
          M.o[i].tracked = true;
          M.o[i].gen = 0;
        }
      }
    } else if (r < 90) { /* collection */
      do_collect((int)below(3));
    } else if (r < 95) { /* thresholds */
      size_t a = below(6) == 0 ? 0 : 1 + below(30), b = below(5), c = below(5);
      CHECK_RC(rcgc_set_threshold(H, a, b, c), RCGC_OK);
      M.th[0] = a;
      M.th[1] = b;
      M.th[2] = c;
    } else { /* enable / disable */
      if (M.enabled) {
        CHECK_RC(rcgc_disable(H), RCGC_OK);
      } else {
        CHECK_RC(rcgc_enable(H), RCGC_OK);
      }
      M.enabled = !M.enabled;
    }
    st_ops++;
    verify();
  }

  /* final full collection, then drop every external reference and collect:
   * only cycles kept by untracked objects may remain */
  do_collect(2);
  for (int i = 0; i < M.n; i++)
    while (M.o[i].alive && M.o[i].ext > 0) ext_decref(i);
  verify();
  /* Repeat full collections until one frees nothing: a collection may leave
   * garbage that an untracked object (itself freed in that collection) kept
   * reachable for it, exactly as CPython does. */
  for (int round = 0;; round++) {
    int live_before = 0, live_after = 0;
    for (int i = 0; i < M.n; i++) live_before += M.o[i].alive;
    do_collect(2);
    for (int i = 0; i < M.n; i++) live_after += M.o[i].alive;
    if (live_after == live_before) break;
    CHECK(round < MAXOBJ);
  }
  /* what survives is kept by untracked objects: each survivor is reachable
   * from a live untracked object (with no external references left, the
   * model's exact check in verify() already covers the set itself) */
  {
    int sp = 0, survivors = 0;
    for (int i = 0; i < M.n; i++) {
      xreach_[i] = M.o[i].alive && !M.o[i].tracked;
      if (xreach_[i]) stack_[sp++] = i;
      survivors += M.o[i].alive;
    }
    while (sp > 0) {
      int x = stack_[--sp];
      for (int f = 0; f < M.o[x].nref; f++) {
        int t = M.o[x].refs[f];
        if (t >= 0 && !xreach_[t]) {
          xreach_[t] = true;
          stack_[sp++] = t;
        }
      }
    }
    for (int i = 0; i < M.n; i++)
      if (M.o[i].alive) CHECK(xreach_[i]);
    if (!use_untrack) CHECK_EQ(survivors, 0);
  }
  rcgc_heap_free(H);
  H = NULL;
  for (int i = 0; i < M.n; i++) CHECK_EQ(destroy_count[i], 1);
  st_graphs++;
}

int main(void) {
  stress = getenv("RCGC_STRESS_GC") != NULL;
  bool valgrind = getenv("RCGC_UNDER_VALGRIND") != NULL;
  uint64_t seeds = valgrind ? 300 : 1500;
  for (uint64_t seed = 1; seed <= seeds; seed++) run_graph(seed);
  printf("random graphs: %lu graphs, %lu objects, %lu operations; collections checked: "
         "%lu of gen 0, %lu of gen 1, %lu of gen 2 (+%lu automatic, predicted); %lu "
         "unreachable objects found; %lu full collections checked against plain "
         "reachability, %lu collections with untracked objects alive\n",
         st_graphs, st_objects, st_ops, st_collections[0], st_collections[1], st_collections[2],
         st_auto_collections, st_freed_by_gc, st_full_exact, st_untracked_cases);
  CHECK_DONE("test_random");
}
