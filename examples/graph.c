/*
 * A picture of the heap: builds a small heap you can recognise, writes it as
 * Graphviz DOT, and asks rcgc why one object is alive.
 *
 * The heap: a tree of "Tree" nodes held from C by one variable, whose leaves
 * carry "str" objects (a type without traverse: never tracked); a slots object
 * held from C that shares one leaf and one string; and a doubly linked ring of
 * three "Ring" nodes that nothing holds any more: garbage waiting for a
 * collection.
 *
 *   make graph      # writes target/heap.dot and renders docs/heap.png with dot
 *   # or: cargo build && cc -std=c11 -I include examples/graph.c \
 *   #        target/debug/librcgc.a -lpthread -ldl -lm -o graph && ./graph heap.dot
 *
 * The DOT goes to the file named by the first argument (target/heap.dot by
 * default). The program exits 1 if rcgc's answers are not the expected ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcgc.h"

typedef struct tree { void *left, *right, *label; } tree;
typedef struct ring { void *prev, *next; } ring;
typedef struct str { char text[16]; } str;

static void tree_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  tree *t = obj;
  visit(t->left, ctx);
  visit(t->right, ctx);
  visit(t->label, ctx);
}
static void tree_clear(void *obj) {
  tree *t = obj;
  rcgc_clear_ref(&t->left);
  rcgc_clear_ref(&t->right);
  rcgc_clear_ref(&t->label);
}
static void ring_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
  ring *r = obj;
  visit(r->prev, ctx);
  visit(r->next, ctx);
}
static void ring_clear(void *obj) {
  ring *r = obj;
  rcgc_clear_ref(&r->prev);
  rcgc_clear_ref(&r->next);
}

static void must(rcgc_result r, const char *call) {
  if (r != RCGC_OK) {
    fprintf(stderr, "graph: %s failed: %s (%s)\n", call, rcgc_result_name((int)r), rcgc_last_error());
    exit(2);
  }
}

static void *made(void *obj) {
  if (obj == NULL) {
    fprintf(stderr, "graph: allocation failed: %s\n", rcgc_last_error());
    exit(2);
  }
  return obj;
}

/* rcgc_write_fn: append to a FILE; non-zero stops rcgc on a write error. */
static int to_file(const char *data, size_t len, void *ctx) {
  return fwrite(data, 1, len, ctx) == len ? 0 : 1;
}

/* rcgc_write_fn: count the lines, to check the export's size. */
static int count_lines(const char *data, size_t len, void *ctx) {
  size_t *lines = ctx;
  for (size_t i = 0; i < len; i++) *lines += data[i] == '\n';
  return 0;
}

/* rcgc_object_fn: print the object's type name. */
static void print_type(void *obj, void *ctx) {
  (void)ctx;
  printf(" %s", rcgc_type_name(rcgc_type_of(obj)));
}

static size_t dot_lines(rcgc_heap *heap) {
  size_t lines = 0;
  must(rcgc_export_graph(heap, RCGC_GRAPH_DOT, NULL, 0, count_lines, &lines), "rcgc_export_graph");
  return lines;
}

static rcgc_type *type(rcgc_heap *heap, const char *name, size_t size, rcgc_traverse_fn traverse,
                       rcgc_clear_fn clear) {
  rcgc_type_spec spec = {.name = name, .size = size, .traverse = traverse, .clear = clear};
  rcgc_type *t;
  must(rcgc_type_register(heap, &spec, &t), "rcgc_type_register");
  return t;
}

static str *new_str(rcgc_type *str_type, const char *text) {
  str *s = made(rcgc_alloc(str_type));
  strncpy(s->text, text, sizeof s->text - 1);
  return s;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "target/heap.dot";
  int wrong = 0;
  rcgc_heap *heap = made(rcgc_heap_new());
  rcgc_type *tree_type = type(heap, "Tree", sizeof(tree), tree_traverse, tree_clear);
  rcgc_type *ring_type = type(heap, "Ring", sizeof(ring), ring_traverse, ring_clear);
  rcgc_type *str_type = type(heap, "str", sizeof(str), NULL, NULL);

  /* root -> (a, b); a -> (leaf1, leaf2); b -> (NULL, leaf3); leaves -> label */
  tree *root = made(rcgc_alloc(tree_type));
  tree *nodes[5];
  for (int i = 0; i < 5; i++) nodes[i] = made(rcgc_alloc(tree_type));
  tree *a = nodes[0], *b = nodes[1], *leaf1 = nodes[2], *leaf2 = nodes[3], *leaf3 = nodes[4];
  rcgc_set_ref(&root->left, a);
  rcgc_set_ref(&root->right, b);
  rcgc_set_ref(&a->left, leaf1);
  rcgc_set_ref(&a->right, leaf2);
  rcgc_set_ref(&b->right, leaf3);
  const char *texts[3] = {"one", "two", "three"};
  for (int i = 0; i < 3; i++) {
    str *s = new_str(str_type, texts[i]);
    rcgc_set_ref(&nodes[2 + i]->label, s);
    rcgc_decref(s);
  }

  /* A slots object held from C: [0] the leaf "two", [1] empty, [2] a new string. */
  void *registry = made(rcgc_slots_new(heap, 3));
  must(rcgc_slots_set(registry, 0, leaf2), "rcgc_slots_set");
  str *title = new_str(str_type, "title");
  must(rcgc_slots_set(registry, 2, title), "rcgc_slots_set");
  rcgc_decref(title);

  /* A doubly linked ring of three, then dropped: garbage until a collection. */
  ring *r[3];
  for (int i = 0; i < 3; i++) r[i] = made(rcgc_alloc(ring_type));
  for (int i = 0; i < 3; i++) {
    rcgc_set_ref(&r[i]->next, r[(i + 1) % 3]);
    rcgc_set_ref(&r[i]->prev, r[(i + 2) % 3]);
  }
  ring *garbage = r[0];
  for (int i = 0; i < 3; i++) rcgc_decref(r[i]);
  for (int i = 0; i < 5; i++) rcgc_decref(nodes[i]);

  FILE *out = fopen(path, "w");
  if (out == NULL) {
    perror(path);
    return 2;
  }
  must(rcgc_export_graph(heap, RCGC_GRAPH_DOT, NULL, 0, to_file, out), "rcgc_export_graph");
  if (fclose(out) != 0) {
    perror(path);
    return 2;
  }
  size_t before = dot_lines(heap);
  printf("wrote %s: the whole heap, 14 objects\n\n", path);
  if (before != 4 + 14 + 16 + 1) wrong++; /* 4 lines of settings, objects, references, "}" */

  /* What the slots object reaches, as JSON. */
  printf("rcgc_export_graph(heap, RCGC_GRAPH_JSON, &registry, 1, ...):\n");
  must(rcgc_export_graph(heap, RCGC_GRAPH_JSON, &registry, 1, to_file, stdout), "rcgc_export_graph");
  printf("\n");

  /* Why is leaf3 alive? root (held by a C variable) -> b (reference [1]) -> leaf3 ([1]). */
  printf("why is leaf3 alive?\n");
  must(rcgc_why_alive_text(heap, leaf3, to_file, stdout), "rcgc_why_alive_text");
  /* The same chain as objects (each held alive during the call). */
  size_t length = 0;
  printf("as objects:");
  must(rcgc_why_alive(heap, leaf3, print_type, NULL, &length), "rcgc_why_alive");
  printf(" (length %zu)\n", length);
  if (length != 3) wrong++;

  /* And a node of the ring? Nothing outside the heap reaches it. */
  printf("\nwhy is a Ring node alive?\n");
  rcgc_result r3 = rcgc_why_alive_text(heap, garbage, to_file, stdout);
  printf("  -> %s\n", rcgc_result_name((int)r3));
  if (r3 != RCGC_ERR_NOT_FOUND) wrong++;

  size_t found = 0;
  must(rcgc_collect(heap, 2, &found), "rcgc_collect");
  size_t after = dot_lines(heap);
  printf("\nrcgc_collect(heap, 2) found %zu objects; the export lost %zu lines (3 objects, 6 references)\n",
         found, before - after);
  if (found != 3 || before - after != 9) wrong++;

  rcgc_decref(registry);
  rcgc_decref(root);
  rcgc_heap_free(heap);
  if (wrong) {
    fprintf(stderr, "graph: %d answer(s) were not the expected ones\n", wrong);
    return 1;
  }
  return 0;
}
