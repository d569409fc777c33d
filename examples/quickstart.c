/* The README's quick start, compiled and run by `make test`. */
#include "rcgc.h"

typedef struct node { void *next; int value; } node;

/* Report every object reference the payload holds (like tp_traverse). */
static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx) {
    visit(((node *)obj)->next, ctx);          /* NULL referents are ignored */
}
/* Drop every reference (like tp_clear); must leave the fields NULL. */
static void node_clear(void *obj) {
    rcgc_clear_ref(&((node *)obj)->next);
}

int main(void) {
    rcgc_heap *heap = rcgc_heap_new();
    rcgc_type_spec spec = { .name = "node", .size = sizeof(node),
                            .traverse = node_traverse, .clear = node_clear };
    rcgc_type *node_type;
    if (rcgc_type_register(heap, &spec, &node_type) != RCGC_OK) return 1;

    node *a = rcgc_alloc(node_type);          /* new reference: refcount 1, zeroed */
    node *b = rcgc_alloc(node_type);
    rcgc_set_ref(&a->next, b);                /* a -> b  (b's count: 2) */
    rcgc_set_ref(&b->next, a);                /* b -> a  (a's count: 2) */
    rcgc_decref(a);                           /* a cycle nobody else holds */
    rcgc_decref(b);

    size_t found;
    if (rcgc_collect(heap, 2, &found) != RCGC_OK) return 1;   /* found == 2 */
    if (found != 2) return 1;
    rcgc_heap_free(heap);
    return 0;
}
