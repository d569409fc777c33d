/*
 * The seed demo: "How is memory managed in Python?" replayed with rcgc.
 *
 * That walkthrough (shared/seed/000_438e78ad284dbb4f.txt) explains, in Python,
 * how objects live on a private heap, how reference counts rise and fall, how a
 * self-referencing object survives refcounting until the cycle collector finds
 * it, and what the gc module's get_threshold / get_count / collect /
 * set_threshold calls do. This program performs the same steps with rcgc, prints
 * the Python line each step mirrors, the C call, and what rcgc returned.
 *
 * Every figure is checked: the program exits 1, naming the wrong figure, if any
 * value is not what it should be.
 *
 *   make demo
 *   # or: cargo build && cc -std=c11 -I include examples/seed.c \
 *   #        target/debug/librcgc.a -lpthread -ldl -lm -o seed && ./seed
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "rcgc.h"

/* ---------------------------------------------------------------------------
 * Printing and checking
 * ------------------------------------------------------------------------- */

static int wrong_figures = 0;

static void section(const char *title) { printf("\n== %s ==\n", title); }

/* The Python line this step mirrors, and the rcgc call that does it in C. */
static void step(const char *python, const char *c_code) {
    printf("\n  python> %s\n", python);
    printf("  C:      %s\n", c_code);
}

/* Print a figure rcgc gave us, and check it against what it should be. */
static void expect(const char *figure, size_t got, size_t want) {
    if (got == want) {
        printf("          %-44s = %zu   [ok]\n", figure, got);
    } else {
        printf("          %-44s = %zu   [WRONG: should be %zu]\n", figure, got, want);
        fprintf(stderr, "seed: wrong figure: %s is %zu, should be %zu\n", figure, got, want);
        wrong_figures++;
    }
}

static void expect_yes(const char *question, bool got, bool want) {
    if (got == want) {
        printf("          %-44s = %s   [ok]\n", question, got ? "yes" : "no");
    } else {
        printf("          %-44s = %s   [WRONG: should be %s]\n", question, got ? "yes" : "no",
               want ? "yes" : "no");
        fprintf(stderr, "seed: wrong answer: %s %s, should be %s\n", question,
                got ? "yes" : "no", want ? "yes" : "no");
        wrong_figures++;
    }
}

/* Print a (gen0, gen1, gen2) triple as Python prints the tuple, and check it. */
static void expect_triple(const char *what, size_t g0, size_t g1, size_t g2, size_t w0,
                          size_t w1, size_t w2) {
    printf("          prints (%zu, %zu, %zu)", g0, g1, g2);
    if (g0 == w0 && g1 == w1 && g2 == w2) {
        printf("   [ok]\n");
    } else {
        printf("   [WRONG: should be (%zu, %zu, %zu)]\n", w0, w1, w2);
        fprintf(stderr, "seed: wrong figure: %s is (%zu, %zu, %zu), should be (%zu, %zu, %zu)\n",
                what, g0, g1, g2, w0, w1, w2);
        wrong_figures++;
    }
}

/* A call that returns rcgc_result must succeed; if it does not, stop here. */
static void must(rcgc_result r, const char *call) {
    if (r != RCGC_OK) {
        fprintf(stderr, "seed: %s failed: %s (%s)\n", call, rcgc_result_name((int)r),
                rcgc_last_error());
        exit(2);
    }
}

static void *must_alloc(void *obj, const char *call) {
    if (obj == NULL) {
        fprintf(stderr, "seed: %s returned NULL: %s\n", call, rcgc_last_error());
        exit(2);
    }
    return obj;
}

static size_t live_objects(const rcgc_heap *heap) {
    rcgc_heap_stats stats = {.struct_size = sizeof stats};
    must(rcgc_heap_get_stats(heap, &stats), "rcgc_heap_get_stats");
    return stats.live_objects;
}

/* ---------------------------------------------------------------------------
 * The walkthrough's class:   class Test(object): pass
 *
 * A Python instance can grow any attribute; a C type declares its fields up
 * front. Test has one reference field, `obj`, so that `x.obj = x` can be done.
 * The collector needs two callbacks for it, the same ones CPython's types have:
 * traverse (tp_traverse) reports the references a Test holds; clear (tp_clear)
 * drops them. The destroy callback runs just before a Test's memory is
 * released; here it only notes that it ran, so we can see when a Test dies.
 * ------------------------------------------------------------------------- */

typedef struct Test {
    void *obj;       /* the attribute x.obj: a reference to another object, or NULL */
    bool *destroyed; /* demo bookkeeping: set to true when this object is freed */
} Test;

static size_t tests_destroyed = 0;

static void test_traverse(void *self, rcgc_visit_fn visit, void *ctx) {
    visit(((Test *)self)->obj, ctx);
}

static void test_clear(void *self) { rcgc_clear_ref(&((Test *)self)->obj); }

static void test_destroy(void *self) {
    Test *t = self;
    tests_destroyed++;
    if (t->destroyed != NULL) *t->destroyed = true;
}

/* Python:   def f():
 *               z = x      # z is a local name for the object x names
 *               ...        # when f returns, z goes out of scope           */
static void f(void *x) {
    void *z = x;
    rcgc_incref(z); /* z = x: a new name */
    expect("refcount of x while f() runs", rcgc_refcount(x), 3);
    rcgc_decref(z); /* f returns: z goes out of scope */
}

int main(void) {
    printf("rcgc %s: \"How is memory managed in Python?\", replayed in C\n", rcgc_version());
    printf("Each step shows the Python line it mirrors, the rcgc call, and what rcgc\n"
           "returned. Every figure is checked: [ok] means it is what it should be.\n");

    /* ----------------------------------------------------------------------- */
    section("1. Objects live on a private heap");
    printf("  Python keeps every object on a private heap. rcgc gives a C program one\n"
           "  of its own: objects are allocated on it and freed when nobody needs them.\n");

    step("x = [0] * 5", "heap = rcgc_heap_new();  x = rcgc_slots_new(heap, 5);");
    rcgc_heap *heap = must_alloc(rcgc_heap_new(), "rcgc_heap_new");
    void *x = must_alloc(rcgc_slots_new(heap, 5), "rcgc_slots_new");
    printf("          x is a \"%s\" object with %zu slots (a list-like container)\n",
           rcgc_type_name(rcgc_type_of(x)), rcgc_slots_len(x));
    expect("refcount of x (one name: x)", rcgc_refcount(x), 1);
    expect("live objects on the heap", live_objects(heap), 1);

    /* ----------------------------------------------------------------------- */
    section("2. The refcount rises");
    printf("  ...when an object is given a new name, or placed in a container.\n");

    step("y = x                  # a new name", "y = x;  rcgc_incref(y);");
    void *y = x;
    rcgc_incref(y);
    expect("refcount of x", rcgc_refcount(x), 2);

    step("box = [x]              # placed in a container",
         "box = rcgc_slots_new(heap, 1);  rcgc_slots_set(box, 0, x);");
    void *box = must_alloc(rcgc_slots_new(heap, 1), "rcgc_slots_new");
    must(rcgc_slots_set(box, 0, x), "rcgc_slots_set");
    expect("refcount of x", rcgc_refcount(x), 3);

    /* ----------------------------------------------------------------------- */
    section("3. The refcount falls");
    printf("  ...when a name is reassigned, goes out of scope, or the object is removed.\n");

    step("y = None               # the name y is reassigned", "rcgc_decref(y);  y = NULL;");
    rcgc_decref(y);
    y = NULL;
    expect("refcount of x", rcgc_refcount(x), 2);

    step("f()                    # def f(): z = x", "f(x);   /* incref on entry, decref on return */");
    f(x);
    expect("refcount of x after f() returned", rcgc_refcount(x), 2);

    step("box.remove(x)          # removed from the container", "rcgc_slots_set(box, 0, NULL);");
    must(rcgc_slots_set(box, 0, NULL), "rcgc_slots_set");
    expect("refcount of x", rcgc_refcount(x), 1);

    step("del x                  # the last name goes", "rcgc_decref(x);  x = NULL;");
    rcgc_decref(x);
    x = NULL;
    printf("          the count reached 0, so x was freed at once (no collector needed)\n");
    expect("live objects on the heap (only box)", live_objects(heap), 1);

    step("del box", "rcgc_decref(box);  box = NULL;");
    rcgc_decref(box);
    box = NULL;
    expect("live objects on the heap", live_objects(heap), 0);

    /* ----------------------------------------------------------------------- */
    section("4. An object that refers to itself");
    printf("  Refcounting alone cannot free a cycle: the object keeps its own count up.\n");

    step("class Test(object): pass",
         "rcgc_type_register(heap, &(rcgc_type_spec){ .name = \"Test\", ... }, &Test_type);");
    rcgc_type_spec test_spec = {.name = "Test",
                                .size = sizeof(Test),
                                .traverse = test_traverse,
                                .clear = test_clear,
                                .destroy = test_destroy};
    rcgc_type *Test_type;
    must(rcgc_type_register(heap, &test_spec, &Test_type), "rcgc_type_register");
    printf("          registered type \"%s\": one reference field, obj\n",
           rcgc_type_name(Test_type));

    step("x = Test()", "Test *t = rcgc_alloc(Test_type);");
    Test *t = must_alloc(rcgc_alloc(Test_type), "rcgc_alloc");
    bool t_destroyed = false;
    t->destroyed = &t_destroyed;
    expect("refcount of x", rcgc_refcount(t), 1);

    step("x.obj = x              # x is now an attribute of itself", "rcgc_set_ref(&t->obj, t);");
    rcgc_set_ref(&t->obj, t);
    expect("refcount of x (the name x, and x.obj)", rcgc_refcount(t), 2);

    step("del x", "rcgc_decref(t);   /* we drop our reference; t is only peeked at below */");
    rcgc_decref(t);
    printf("          nobody can reach the object any more, but x.obj still counts:\n");
    expect("refcount of the old x", rcgc_refcount(t), 1);
    expect_yes("is it still alive (not destroyed)?", !t_destroyed, true);
    expect("live objects on the heap", live_objects(heap), 1);

    step("gc.collect()           # the cycle collector finds it",
         "rcgc_collect(heap, 2, &found);");
    size_t found = 0;
    must(rcgc_collect(heap, 2, &found), "rcgc_collect");
    printf("          (CPython 3.11+ also returns 1 here: the instance has no separate\n"
           "          __dict__ object; older Pythons counted the dict too and returned 2)\n");
    expect("objects found unreachable", found, 1);
    expect_yes("has the old x been destroyed?", t_destroyed, true);
    expect("live objects on the heap", live_objects(heap), 0);
    t = NULL; /* freed: never touch it again */

    /* ----------------------------------------------------------------------- */
    section("5. The gc module");

    step("print(gc.get_threshold())", "rcgc_get_threshold(heap)");
    rcgc_thresholds th = rcgc_get_threshold(heap);
    expect_triple("get_threshold()", th.gen0, th.gen1, th.gen2, 700, 10, 10);
    printf("          generation 0 is collected when allocations minus deallocations of\n"
           "          tracked objects pass 700; generations 1 and 2 after 10 collections\n"
           "          of the generation below\n");

    printf("\n  Before counting, make some garbage: two cycles of Test objects.\n");
    step("a, b = Test(), Test(); a.obj = b; b.obj = a; del a, b",
         "2 x rcgc_alloc, 2 x rcgc_set_ref, 2 x rcgc_decref   /* a 2-object cycle */");
    void *ring[5];
    for (int i = 0; i < 5; i++) ring[i] = must_alloc(rcgc_alloc(Test_type), "rcgc_alloc");
    rcgc_set_ref(&((Test *)ring[0])->obj, ring[1]);
    rcgc_set_ref(&((Test *)ring[1])->obj, ring[0]);
    step("c, d, e = Test(), Test(), Test(); c.obj = d; d.obj = e; e.obj = c; del c, d, e",
         "3 x rcgc_alloc, 3 x rcgc_set_ref, 3 x rcgc_decref   /* a 3-object ring */");
    rcgc_set_ref(&((Test *)ring[2])->obj, ring[3]);
    rcgc_set_ref(&((Test *)ring[3])->obj, ring[4]);
    rcgc_set_ref(&((Test *)ring[4])->obj, ring[2]);
    for (int i = 0; i < 5; i++) rcgc_decref(ring[i]);
    expect("live objects on the heap (all garbage)", live_objects(heap), 5);

    step("print(gc.get_count())", "rcgc_get_count(heap)");
    rcgc_counts count = rcgc_get_count(heap);
    expect_triple("get_count()", count.gen0, count.gen1, count.gen2, 5, 0, 0);
    printf("          5 tracked objects allocated since the last collection; no collections\n"
           "          of generations 0 or 1 since then (Python itself would show other\n"
           "          numbers: the interpreter allocates objects of its own)\n");

    step("print(gc.collect())", "rcgc_collect(heap, 2, &found);");
    size_t destroyed_before = tests_destroyed;
    must(rcgc_collect(heap, 2, &found), "rcgc_collect");
    printf("          prints %zu   (the 2-object cycle + the 3-object ring)\n", found);
    expect("objects found unreachable", found, 5);
    expect("Test objects destroyed by this collection", tests_destroyed - destroyed_before, 5);
    expect("live objects on the heap", live_objects(heap), 0);

    step("print(gc.get_count())  # a full collection resets every count",
         "rcgc_get_count(heap)");
    count = rcgc_get_count(heap);
    expect_triple("get_count() after collect()", count.gen0, count.gen1, count.gen2, 0, 0, 0);

    step("gc.set_threshold(7777, 11, 11); print(gc.get_threshold())",
         "rcgc_set_threshold(heap, 7777, 11, 11);  rcgc_get_threshold(heap)");
    must(rcgc_set_threshold(heap, 7777, 11, 11), "rcgc_set_threshold");
    th = rcgc_get_threshold(heap);
    expect_triple("get_threshold() after set_threshold", th.gen0, th.gen1, th.gen2, 7777, 11,
                  11);

    /* ----------------------------------------------------------------------- */
    section("Done");
    step("(the interpreter exits)", "rcgc_heap_free(heap);");
    rcgc_heap_free(heap);
    printf("          the heap and everything on it is gone\n\n");

    if (wrong_figures != 0) {
        printf("%d figure(s) were WRONG (see above)\n", wrong_figures);
        return 1;
    }
    printf("Every figure matched the walkthrough.\n");
    return 0;
}
