/*
 * rcgc: CPython's memory manager as a C library.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Generated from src/ by cbindgen -- do not edit; edit the Rust doc comments instead.
 */

#ifndef RCGC_H
#define RCGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RCGC_VERSION_MAJOR 0
#define RCGC_VERSION_MINOR 1
#define RCGC_VERSION_PATCH 0
/** The version as one number: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define RCGC_VERSION_NUMBER (0 * 10000 + 1 * 100 + 0)

#if defined(__cplusplus) && __cplusplus >= 201703L
#define RCGC_MUST_USE [[nodiscard]]
#elif defined(__GNUC__) || defined(__clang__)
#define RCGC_MUST_USE __attribute__((warn_unused_result))
#else
#define RCGC_MUST_USE
#endif


/**
 * The result of every rcgc function that can fail.
 *
 * Values are stable once released; new codes are only ever appended. Callers
 * must test the code, not the message of rcgc_last_error().
 */
typedef enum rcgc_result {
  /**
   * Success.
   */
  RCGC_OK = 0,
  /**
   * A required pointer was NULL.
   */
  RCGC_ERR_NULL_ARGUMENT = 1,
  /**
   * An argument is out of its range: a generation outside 0..=2, a slot index
   * past the end, an invalid type spec or config.
   */
  RCGC_ERR_INVALID_ARGUMENT = 2,
  /**
   * The system allocator returned nothing.
   */
  RCGC_ERR_NO_MEMORY = 3,
  /**
   * The heap's configured memory limit would be exceeded, even after a full collection.
   */
  RCGC_ERR_MEMORY_LIMIT = 4,
  /**
   * An object or type belongs to another heap.
   */
  RCGC_ERR_WRONG_HEAP = 5,
  /**
   * Not a live object of this heap, or one whose refcount contradicts what
   * the traverse callbacks report.
   */
  RCGC_ERR_INVALID_OBJECT = 6,
  /**
   * The call is not allowed in the heap's current phase, e.g. rcgc_collect
   * from inside a callback of a running collection.
   */
  RCGC_ERR_REENTRANT = 7,
  /**
   * An internal bug was caught at the C boundary; the heap is still consistent.
   */
  RCGC_ERR_PANIC = 8,
  /**
   * What was asked for does not exist: rcgc_why_alive found no chain of
   * references from an object held outside the heap to the object (it is
   * garbage waiting for a collection).
   */
  RCGC_ERR_NOT_FOUND = 9,
  /**
   * A user callback asked the call to stop: an rcgc_write_fn returned non-zero.
   */
  RCGC_ERR_ABORTED = 10,
} rcgc_result;

/**
 * Which end of a collection a gc callback is told about.
 */
typedef enum rcgc_gc_phase {
  /**
   * Before the collection (gc.callbacks' "start").
   */
  RCGC_GC_START = 0,
  /**
   * After it (gc.callbacks' "stop").
   */
  RCGC_GC_STOP = 1,
} rcgc_gc_phase;

/**
 * The debug flags of rcgc_set_debug (gc.DEBUG_*), with CPython's values;
 * combine them with `|`.
 */
typedef enum rcgc_debug_flag {
  /**
   * Statistics at the start and end of every collection (gc.DEBUG_STATS).
   */
  RCGC_DEBUG_STATS = 1,
  /**
   * Each unreachable object a collection finds (gc.DEBUG_COLLECTABLE).
   */
  RCGC_DEBUG_COLLECTABLE = 2,
  /**
   * Accepted and silent: rcgc never has uncollectable objects
   * (gc.DEBUG_UNCOLLECTABLE).
   */
  RCGC_DEBUG_UNCOLLECTABLE = 4,
  /**
   * Keep unreachable objects alive and uncleared in the garbage list
   * instead of clearing them (gc.DEBUG_SAVEALL).
   */
  RCGC_DEBUG_SAVEALL = 32,
  /**
   * COLLECTABLE | UNCOLLECTABLE | SAVEALL (gc.DEBUG_LEAK); with all three
   * set, rcgc_heap_free also reports the objects still alive, by type.
   */
  RCGC_DEBUG_LEAK = 38,
} rcgc_debug_flag;

/**
 * The formats of rcgc_export_graph (passed as an int).
 */
typedef enum rcgc_graph_format {
  /**
   * Graphviz DOT: `dot -Tpng heap.dot -o heap.png` draws it.
   */
  RCGC_GRAPH_DOT = 0,
  /**
   * JSON: {"version": 1, "roots": [...] or null, "nodes": [...], "edges": [...]}
   * (README, "A picture of the heap", gives the schema).
   */
  RCGC_GRAPH_JSON = 1,
} rcgc_graph_format;

/**
 * An opaque private heap of refcounted objects (rcgc_heap_new, rcgc_heap_free).
 * Owned by one thread at a time; every type and object belongs to one heap
 * and must not outlive it.
 */
typedef struct rcgc_heap rcgc_heap;

/**
 * An opaque registered object type (rcgc_type_register). Belongs to one heap
 * and lives until that heap is freed.
 */
typedef struct rcgc_type rcgc_type;

/**
 * Options for rcgc_heap_new_with. Always start from rcgc_config_init, which
 * fills in struct_size and the defaults; fields may be added at the end in
 * later versions.
 */
typedef struct rcgc_config {
  /**
   * Set by rcgc_config_init to sizeof(rcgc_config); lets a newer library
   * accept an older caller's struct.
   */
  size_t struct_size;
  /**
   * Bytes the heap may hold, object headers included; 0 means no limit. An
   * allocation that would pass it runs a full collection first, then fails
   * with RCGC_ERR_MEMORY_LIMIT if it still does not fit.
   */
  size_t memory_limit;
  /**
   * Checked mode, for debugging: every object and type pointer passed to
   * rcgc is validated before use. A freed object (use after free, a decref
   * too many), a pointer that is not an object, an object of another heap and
   * two threads inside one heap at once are reported, naming the function,
   * the address and the type: as RCGC_ERR_INVALID_OBJECT (or
   * RCGC_ERR_WRONG_HEAP) by functions that return rcgc_result, to the misuse
   * handler by the others. Freed objects' memory is kept (quarantined) until
   * the heap is freed, so stale pointers stay recognisable. Costs a global
   * lookup per call (see README, Reliability); other heaps are unaffected.
   */
  bool checked;
} rcgc_config;

/**
 * Counters of a heap, filled by rcgc_heap_get_stats.
 */
typedef struct rcgc_heap_stats {
  /**
   * Set by the caller to sizeof(rcgc_heap_stats) before the call.
   */
  size_t struct_size;
  /**
   * Objects allocated and not yet freed.
   */
  size_t live_objects;
  /**
   * Objects tracked by the collector.
   */
  size_t tracked_objects;
  /**
   * Bytes occupied by live objects, 16-byte headers included, each object
   * rounded up to its allocation block.
   */
  size_t bytes_in_use;
  /**
   * The highest bytes_in_use so far.
   */
  size_t peak_bytes;
  /**
   * Objects ever allocated in this heap.
   */
  size_t allocated_total;
  /**
   * Objects ever freed in this heap.
   */
  size_t freed_total;
} rcgc_heap_stats;

/**
 * Receives misuse that a void function cannot return (a decref of an object
 * whose refcount is already zero, ...): `message` names the function, the
 * object's address and its type; it is valid only during the call. If the
 * handler returns, the offending call does nothing.
 */
typedef void (*rcgc_misuse_fn)(const char *message, void *ctx);

/**
 * Called by a traverse callback once for each object reference the payload
 * holds. NULL referents are ignored.
 */
typedef void (*rcgc_visit_fn)(void *referent, void *ctx);

/**
 * Reports every object reference `obj`'s payload holds by calling
 * `visit(referent, ctx)` once per reference (like CPython's tp_traverse). It must
 * only call visit: no allocation, no incref or decref, no other rcgc call.
 */
typedef void (*rcgc_traverse_fn)(void *obj, rcgc_visit_fn visit, void *ctx);

/**
 * Drops every reference `obj`'s payload holds: set the field to NULL, then
 * decref the old value (rcgc_clear_ref does both), like CPython's tp_clear.
 * It may run more than once for one object (a collection clears it, then it
 * is cleared again when its count reaches zero), so a cleared field must be
 * NULL afterwards.
 */
typedef void (*rcgc_clear_fn)(void *obj);

/**
 * Runs at most once per object, before it is freed; may resurrect it by
 * storing a new reference to it somewhere (PEP 442).
 */
typedef void (*rcgc_finalize_fn)(void *obj);

/**
 * Releases resources rcgc does not manage (malloc'd buffers, file handles)
 * just before the object's memory goes. Like the other callbacks it may
 * incref, decref and allocate, except during rcgc_heap_free's final sweep of
 * objects still referenced, where allocation fails with RCGC_ERR_REENTRANT and
 * a count reaching zero frees nothing (the sweep destroys every object).
 */
typedef void (*rcgc_destroy_fn)(void *obj);

/**
 * What rcgc_type_register needs to know about a type.
 *
 * name: copied; shown in errors and debug output. size: payload bytes (at least
 * 1); the payload is zeroed on allocation and 16-byte aligned. traverse: reports
 * each object reference the payload holds; NULL means the type holds no
 * references and its objects are never tracked. clear: required when traverse
 * is set. finalize and destroy: optional.
 */
typedef struct rcgc_type_spec {
  /**
   * NUL-terminated type name, copied at registration. Must not be NULL.
   */
  const char *name;
  /**
   * Payload bytes: at least 1.
   */
  size_t size;
  /**
   * See rcgc_traverse_fn; NULL for types that hold no object references.
   */
  rcgc_traverse_fn traverse;
  /**
   * See rcgc_clear_fn; required when traverse is set.
   */
  rcgc_clear_fn clear;
  /**
   * See rcgc_finalize_fn; optional.
   */
  rcgc_finalize_fn finalize;
  /**
   * See rcgc_destroy_fn; optional.
   */
  rcgc_destroy_fn destroy;
} rcgc_type_spec;

/**
 * The collection thresholds of the three generations (gc.get_threshold()).
 */
typedef struct rcgc_thresholds {
  /**
   * Allocations minus deallocations of tracked-type objects that trigger a
   * collection of generation 0; 0 disables automatic collection.
   */
  size_t gen0;
  /**
   * Collections of generation 0 that trigger a collection of generation 1.
   */
  size_t gen1;
  /**
   * Collections of generation 1 that may trigger a full collection.
   */
  size_t gen2;
} rcgc_thresholds;

/**
 * The counts of the three generations (gc.get_count()).
 */
typedef struct rcgc_counts {
  /**
   * Allocations minus deallocations of objects of types with traverse since
   * the last collection (never below 0).
   */
  size_t gen0;
  /**
   * Collections of generation 0 since the last collection of generation 1.
   */
  size_t gen1;
  /**
   * Collections of generation 1 since the last collection of generation 2.
   */
  size_t gen2;
} rcgc_counts;

/**
 * Statistics of one generation (gc.get_stats()), cumulative since the heap
 * was created; filled by rcgc_get_stats.
 */
typedef struct rcgc_gen_stats {
  /**
   * Set by the caller to sizeof(rcgc_gen_stats) before the call.
   */
  size_t struct_size;
  /**
   * Collections of this generation (and the younger ones with it).
   */
  size_t collections;
  /**
   * Unreachable objects found by them (what rcgc_collect returns).
   */
  size_t collected;
  /**
   * Objects that could not be collected (always 0: rcgc has no legacy
   * finalizers; objects RCGC_DEBUG_SAVEALL keeps in the garbage list count
   * as collected, as in CPython).
   */
  size_t uncollectable;
  /**
   * Objects examined by them (CPython 3.15's "candidates").
   */
  size_t candidates;
  /**
   * Time spent in them, in nanoseconds (CPython 3.15's "duration").
   */
  uint64_t duration_ns;
} rcgc_gen_stats;

/**
 * What a gc callback is told about a collection (gc.callbacks' info dict).
 */
typedef struct rcgc_gc_info {
  /**
   * The oldest generation collected.
   */
  int generation;
  /**
   * At RCGC_GC_STOP: the unreachable objects found; 0 at RCGC_GC_START.
   */
  size_t collected;
  /**
   * At RCGC_GC_STOP: the objects that could not be collected (0).
   */
  size_t uncollectable;
  /**
   * At RCGC_GC_STOP: how long the collection took, in nanoseconds.
   */
  uint64_t duration_ns;
} rcgc_gc_info;

/**
 * A gc callback (gc.callbacks): called before and after every collection,
 * automatic or explicit, with `info` valid only during the call. It may
 * allocate, incref and decref, and add or remove callbacks; rcgc_collect
 * from it fails with RCGC_ERR_REENTRANT.
 */
typedef void (*rcgc_gc_callback_fn)(enum rcgc_gc_phase phase,
                                    const struct rcgc_gc_info *info,
                                    void *ctx);

/**
 * Receives one object (a borrowed reference, valid during the call) of
 * rcgc_get_objects, rcgc_get_referrers or rcgc_get_referents.
 */
typedef void (*rcgc_object_fn)(void *obj, void *ctx);

/**
 * A weak reference's callback: called once, when its referent dies while the
 * weak reference is alive, with the weak reference (a borrowed reference,
 * whose rcgc_weakref_get already returns NULL) and the `ctx` given to
 * rcgc_weakref_new. It may allocate, incref, decref and create weak
 * references; rcgc_collect from it fails with RCGC_ERR_REENTRANT when it runs
 * inside a collection.
 */
typedef void (*rcgc_weakref_fn)(void *weakref, void *ctx);

/**
 * Lets go of a weak reference's `ctx` (rcgc_weakref_new_with_release):
 * called once, right after the callback returned, or, when the callback never
 * runs, as the weak reference object is freed (by its count, by a
 * collection, or by rcgc_heap_free). It may incref and decref objects, as a
 * destroy callback may (see rcgc_destroy_fn for rcgc_heap_free's final sweep).
 */
typedef void (*rcgc_weakref_release_fn)(void *ctx);

/**
 * Receives gc debug output (rcgc_set_debug_output): called once per line
 * with the line NUL-terminated and without a trailing newline; `line` is
 * valid only during the call.
 */
typedef void (*rcgc_debug_fn)(const char *line, void *ctx);

/**
 * Receives `len` bytes of output at `data` (not NUL-terminated, valid only
 * during the call); returns 0 to go on, anything else to stop the call,
 * which then fails with RCGC_ERR_ABORTED. Text is UTF-8.
 */
typedef int (*rcgc_write_fn)(const char *data, size_t len, void *ctx);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The message of the last failing rcgc call on the calling thread, naming the
 * function and the offending value, e.g. "rcgc_collect: generation 3 is outside
 * 0..=2"; "no error" if no call has failed. Never NULL. The string is owned by
 * rcgc and valid until the next failing call on the same thread. Successful
 * calls leave it unchanged: test the return code, not the message.
 */
const char *rcgc_last_error(void);

/**
 * The code of the last failing rcgc call on the calling thread, RCGC_OK if
 * none has failed.
 */
enum rcgc_result rcgc_last_error_code(void);

/**
 * The name of a result code as a static string, e.g. "RCGC_ERR_NO_MEMORY";
 * "unknown rcgc_result" for a value that is not a code. Never NULL.
 */
const char *rcgc_result_name(int code);

/**
 * The library's version as a static string "MAJOR.MINOR.PATCH", equal to the
 * RCGC_VERSION_MAJOR/MINOR/PATCH macros of the header it was built with.
 */
const char *rcgc_version(void);

/**
 * Fills `config` with the defaults: struct_size = sizeof(rcgc_config), no
 * memory limit, checked mode off. NULL is a no-op.
 *
 * # Safety
 * `config` must be NULL or point to writable memory for an rcgc_config.
 */
void rcgc_config_init(struct rcgc_config *config);

/**
 * A new, empty heap with CPython's defaults: thresholds (700, 10, 10),
 * automatic collection enabled, no memory limit. The caller owns the heap and
 * frees it with rcgc_heap_free. Returns NULL only when memory is exhausted
 * (RCGC_ERR_NO_MEMORY).
 */
struct rcgc_heap *rcgc_heap_new(void);

/**
 * A new heap with the options of `config` (start from rcgc_config_init). The
 * config is only read during the call. Returns NULL, with the reason in
 * rcgc_last_error(), when config is NULL (RCGC_ERR_NULL_ARGUMENT), when its
 * struct_size is smaller than the first version of rcgc_config, or when it
 * is larger and the bytes this library does not know are not all zero
 * (RCGC_ERR_INVALID_ARGUMENT), or when memory is exhausted (RCGC_ERR_NO_MEMORY).
 *
 * # Safety
 * `config` must be NULL or point to at least config->struct_size readable bytes.
 */
struct rcgc_heap *rcgc_heap_new_with(const struct rcgc_config *config);

/**
 * Frees the heap: runs a full collection, then finalize (once) for every
 * object not yet finalized, clears every container so refcounting frees what
 * it can, and finally runs destroy for every object left and releases all
 * memory, like interpreter shutdown. Every object and type of the heap is
 * invalid afterwards. NULL is a no-op. Calling it from a callback of the same
 * heap is misuse: it is reported to the misuse handler and nothing is freed.
 *
 * # Safety
 * `heap` must be NULL or a live heap; it must not be used after this call.
 */
void rcgc_heap_free(struct rcgc_heap *heap);

/**
 * Writes the heap's counters to `out` (see rcgc_heap_stats). The caller sets
 * out->struct_size to sizeof(rcgc_heap_stats) first; bytes past the fields
 * this library knows, up to struct_size, are zeroed. Errors:
 * RCGC_ERR_NULL_ARGUMENT (heap or out NULL), RCGC_ERR_INVALID_ARGUMENT
 * (struct_size too small). `out` is written only on RCGC_OK.
 *
 * # Safety
 * `heap` must be NULL or live; `out` NULL or writable for out->struct_size bytes.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_heap_get_stats(const struct rcgc_heap *heap,
                                     struct rcgc_heap_stats *out);

/**
 * Sets the function that receives misuse a void function cannot return: a
 * decref of an object whose refcount is already zero (a double decref, a
 * decref of a freed object), an object reaching refcount zero inside a
 * traverse callback, a refcount smaller than the references traverse reports.
 * The message names the function, the object's address and its type, and is
 * valid only during the call. If the handler returns, the offending call does
 * nothing (the object is leaked rather than freed twice). `handler` NULL restores
 * the default, which prints the message to stderr and aborts. A NULL heap is
 * a no-op (RCGC_ERR_NULL_ARGUMENT in rcgc_last_error).
 *
 * # Safety
 * `heap` must be NULL or live; `handler` is called on the heap's thread with `ctx`.
 */
void rcgc_set_misuse_handler(struct rcgc_heap *heap, rcgc_misuse_fn handler, void *ctx);

/**
 * Registers a type described by `spec` (read only during the call; the name
 * is copied) and writes it to `*out`. The type belongs to `heap` and lives
 * until the heap is freed. Errors: RCGC_ERR_NULL_ARGUMENT (heap, spec or out
 * NULL); RCGC_ERR_INVALID_ARGUMENT (name NULL, size 0 or larger than the
 * largest object, traverse set without clear); RCGC_ERR_NO_MEMORY. `*out` is
 * written only on RCGC_OK.
 *
 * # Safety
 * Each pointer must be NULL or valid; spec->name NULL or NUL-terminated.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_type_register(struct rcgc_heap *heap,
                                    const struct rcgc_type_spec *spec,
                                    struct rcgc_type **out);

/**
 * Registers a container type whose object references are the pointer fields
 * at the byte offsets `offsets[0..count]` of its payload (any order; use
 * `offsetof`), and writes it to `*out`: rcgc traverses and clears those
 * fields itself, inline, so the type needs no traverse or clear callback and
 * the collector scans it without calling out (as the built-in slots object).
 * Each field holds NULL or a strong reference; store them with rcgc_set_ref
 * and rcgc_clear_ref (or hand a new reference over into an empty field), and
 * keep no other object references in the payload: rcgc does not see them.
 * Objects are tracked, like those of a type with traverse; finalize and
 * destroy work as for rcgc_type_register, and a type without destroy lets a
 * collection free a garbage set made only of such objects (and slots objects)
 * in one sweep, without clearing them one by one. `spec` and `offsets` are
 * read only during the call. Errors: RCGC_ERR_NULL_ARGUMENT (heap, spec, out,
 * or offsets with count > 0); RCGC_ERR_INVALID_ARGUMENT (what
 * rcgc_type_register refuses, traverse or clear set, count 0, an offset not
 * a multiple of sizeof(void *), a field that does not fit in spec->size or
 * lies beyond the payload's first 64 pointer-sized words, an offset given
 * twice); RCGC_ERR_NO_MEMORY. `*out` is written only on RCGC_OK.
 *
 * # Safety
 * Each pointer must be NULL or valid; spec->name NULL or NUL-terminated;
 * `offsets` readable for `count` elements when not NULL.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_type_register_with_refs(struct rcgc_heap *heap,
                                              const struct rcgc_type_spec *spec,
                                              const size_t *offsets,
                                              size_t count,
                                              struct rcgc_type **out);

/**
 * A new object of `type` with refcount 1 and a zeroed, 16-byte aligned payload
 * of the type's size; returns the payload pointer, a new reference owned by
 * the caller. If the type has traverse, the object is tracked in generation 0
 * and counts toward count.gen0, and the allocation may run an automatic
 * collection first. NULL on failure, with rcgc_last_error_code():
 * RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_NO_MEMORY, RCGC_ERR_MEMORY_LIMIT,
 * RCGC_ERR_REENTRANT (called from a traverse callback), or
 * RCGC_ERR_INVALID_ARGUMENT for a built-in type (the type of a slots object
 * or of a weak reference: their objects are made by rcgc_slots_new and
 * rcgc_weakref_new).
 *
 * # Safety
 * `type` must be NULL or a type of a live heap.
 */
void *rcgc_alloc(struct rcgc_type *type);

/**
 * Like rcgc_alloc with a payload of `size` bytes, for objects whose size
 * varies; `size` must be at least the type's size (else NULL with
 * RCGC_ERR_INVALID_ARGUMENT, as for sizes beyond the largest object).
 *
 * # Safety
 * `type` must be NULL or a type of a live heap.
 */
void *rcgc_alloc_var(struct rcgc_type *type, size_t size);

/**
 * Adds a reference to `obj` (Py_XINCREF). NULL is a no-op. A refcount that
 * reaches 4294967295 stays there: the object becomes immortal.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
void rcgc_incref(void *obj);

/**
 * Drops a reference to `obj` (Py_XDECREF). NULL is a no-op. At zero the
 * object is finalized (once ever; the finalizer may resurrect it), cleared,
 * destroyed and freed, and so is everything only it held, iteratively. A
 * decref of an object whose count is already zero is reported to the misuse
 * handler and otherwise ignored.
 *
 * # Safety
 * `obj` must be NULL or an object of a live heap.
 */
void rcgc_decref(void *obj);

/**
 * The reference count of `obj`; 0 for NULL (RCGC_ERR_NULL_ARGUMENT in
 * rcgc_last_error).
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
size_t rcgc_refcount(const void *obj);

/**
 * Stores `value` in `*slot` with a new reference, then drops the reference
 * the slot held (Py_XSETREF with an incref); safe when both are the same
 * object. `value` may be NULL. A NULL slot is a no-op (RCGC_ERR_NULL_ARGUMENT
 * in rcgc_last_error).
 *
 * # Safety
 * `slot` must be NULL or valid for reads and writes; `value` and `*slot` NULL
 * or live objects.
 */
void rcgc_set_ref(void **slot, void *value);

/**
 * Sets `*slot` to NULL, then drops the reference it held (Py_CLEAR). A NULL
 * slot is a no-op (RCGC_ERR_NULL_ARGUMENT in rcgc_last_error).
 *
 * # Safety
 * `slot` must be NULL or valid for reads and writes; `*slot` NULL or live.
 */
void rcgc_clear_ref(void **slot);

/**
 * The type of `obj` (borrowed; lives as long as the heap); NULL for NULL.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
struct rcgc_type *rcgc_type_of(const void *obj);

/**
 * The name of `type` as given at registration (owned by the type, valid until
 * the heap is freed); NULL for NULL.
 *
 * # Safety
 * `type` must be NULL or a type of a live heap.
 */
const char *rcgc_type_name(const struct rcgc_type *type);

/**
 * A new slots object holding `nslots` references, all NULL: a tracked object
 * of the built-in type "rcgc.slots" with refcount 1 (a new reference owned by
 * the caller). It needs no callbacks: rcgc traverses and clears it. NULL on
 * failure, as rcgc_alloc, or with RCGC_ERR_INVALID_ARGUMENT when nslots is too
 * large for any object.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
void *rcgc_slots_new(struct rcgc_heap *heap, size_t nslots);

/**
 * Stores `value` in slot `index` of the slots object `obj` with a new
 * reference and drops the reference the slot held; `value` NULL empties the
 * slot. Errors: RCGC_ERR_NULL_ARGUMENT (obj NULL), RCGC_ERR_INVALID_ARGUMENT
 * (obj is not a slots object, or index >= its length), RCGC_ERR_WRONG_HEAP
 * (value belongs to another heap). Nothing changes on failure.
 *
 * # Safety
 * `obj` must be NULL or a live object; `value` NULL or a live object.
 */
RCGC_MUST_USE enum rcgc_result rcgc_slots_set(void *obj, size_t index, void *value);

/**
 * The object in slot `index` of the slots object `obj`, as a borrowed
 * reference (incref it to keep it), or NULL for an empty slot. Also NULL, with
 * the reason in rcgc_last_error(), when obj is NULL, not a slots object, or
 * index is past the end.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
void *rcgc_slots_get(const void *obj, size_t index);

/**
 * The number of slots of the slots object `obj`; 0 when obj is NULL or not a
 * slots object (the reason in rcgc_last_error).
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
size_t rcgc_slots_len(const void *obj);

/**
 * Collects generations 0..=generation (gc.collect(generation)) and writes to
 * `*unreachable_out` (which may be NULL) the number of unreachable objects
 * found, counted as CPython does: objects still unreachable after their
 * finalizers ran (a self-referencing object: 1, a two-object cycle: 2, an
 * object its finalizer resurrected: 0). Survivors move to the next older
 * generation. Runs even when automatic collection is disabled. Errors:
 * RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_INVALID_ARGUMENT (generation outside
 * 0..=2), RCGC_ERR_REENTRANT (called from a callback while the heap is
 * collecting or freeing), RCGC_ERR_NO_MEMORY (nothing was collected),
 * RCGC_ERR_INVALID_OBJECT (a refcount is smaller than the references the
 * traverse callbacks report; also reported to the misuse handler; nothing was
 * freed).
 *
 * # Safety
 * `heap` must be NULL or live; `unreachable_out` NULL or writable.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_collect(struct rcgc_heap *heap,
                              int generation,
                              size_t *unreachable_out);

/**
 * The thresholds (gc.get_threshold()); all zero for a NULL heap.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
struct rcgc_thresholds rcgc_get_threshold(const struct rcgc_heap *heap);

/**
 * Sets the thresholds (gc.set_threshold(gen0, gen1, gen2)); gen0 = 0 turns
 * automatic collection off, as in CPython. Errors: RCGC_ERR_NULL_ARGUMENT.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_set_threshold(struct rcgc_heap *heap,
                                    size_t gen0,
                                    size_t gen1,
                                    size_t gen2);

/**
 * The counts (gc.get_count()): gen0 = allocations minus deallocations of
 * objects of types with traverse since the last collection; gen1 and gen2 =
 * collections of the next younger generation since the last collection of
 * that one. All zero for a NULL heap.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
struct rcgc_counts rcgc_get_count(const struct rcgc_heap *heap);

/**
 * Turns automatic collection on (gc.enable()). Errors: RCGC_ERR_NULL_ARGUMENT.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE enum rcgc_result rcgc_enable(struct rcgc_heap *heap);

/**
 * Turns automatic collection off (gc.disable()); rcgc_collect still works.
 * Errors: RCGC_ERR_NULL_ARGUMENT.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE enum rcgc_result rcgc_disable(struct rcgc_heap *heap);

/**
 * Whether automatic collection is on (gc.isenabled()); false for NULL.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
bool rcgc_is_enabled(const struct rcgc_heap *heap);

/**
 * Whether the collector tracks `obj` (gc.is_tracked(obj)); false for NULL.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
bool rcgc_is_tracked(const void *obj);

/**
 * Starts tracking `obj` in generation 0 (PyObject_GC_Track), for objects a
 * type untracked while it filled in their references. Objects of types with
 * traverse are tracked at allocation, so most programs never call this.
 * Tracking an already tracked object does nothing. Counts do not change.
 * Errors: RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_INVALID_ARGUMENT (the type has no
 * traverse), RCGC_ERR_INVALID_OBJECT (a freed object), RCGC_ERR_REENTRANT
 * (from a traverse callback), RCGC_ERR_NO_MEMORY.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
RCGC_MUST_USE enum rcgc_result rcgc_track(void *obj);

/**
 * Stops tracking `obj` (PyObject_GC_UnTrack): the collector no longer looks at
 * it, so it acts as a root and is never collected as part of a cycle.
 * Untracking an untracked object does nothing. Errors: RCGC_ERR_NULL_ARGUMENT,
 * RCGC_ERR_INVALID_OBJECT (a freed object), RCGC_ERR_REENTRANT (from a
 * traverse callback).
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
RCGC_MUST_USE enum rcgc_result rcgc_untrack(void *obj);

/**
 * Writes the statistics of `generation` (gc.get_stats()[generation]) to
 * `out`: collections, unreachable objects collected, uncollectable objects,
 * candidates examined and time spent, cumulative since the heap was created.
 * The caller sets out->struct_size to sizeof(rcgc_gen_stats) first. Errors:
 * RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_INVALID_ARGUMENT (generation outside
 * 0..=2, struct_size too small). `out` is written only on RCGC_OK.
 *
 * # Safety
 * `heap` must be NULL or live; `out` NULL or writable for out->struct_size bytes.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_get_stats(const struct rcgc_heap *heap,
                                int generation,
                                struct rcgc_gen_stats *out);

/**
 * Registers `callback` with `ctx` (appends to gc.callbacks): it is called
 * with RCGC_GC_START before and RCGC_GC_STOP after every collection of this
 * heap, automatic or explicit. Errors: RCGC_ERR_NULL_ARGUMENT (heap or
 * callback NULL), RCGC_ERR_NO_MEMORY.
 *
 * # Safety
 * `heap` must be NULL or live; `callback` is called on the heap's thread.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_add_callback(struct rcgc_heap *heap,
                                   rcgc_gc_callback_fn callback,
                                   void *ctx);

/**
 * Removes the first registration of `callback` with the same `ctx`
 * (gc.callbacks.remove). Errors: RCGC_ERR_NULL_ARGUMENT,
 * RCGC_ERR_INVALID_ARGUMENT (not registered).
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_remove_callback(struct rcgc_heap *heap,
                                      rcgc_gc_callback_fn callback,
                                      void *ctx);

/**
 * Moves every tracked object to the permanent generation, which collections
 * ignore, and zeroes the counts (gc.freeze()). No collection writes to a
 * frozen object's header, so after fork() a child's collections leave the
 * frozen pages shared. Errors: RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_REENTRANT
 * (from a callback), RCGC_ERR_NO_MEMORY (nothing moved).
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE enum rcgc_result rcgc_freeze(struct rcgc_heap *heap);

/**
 * Moves the permanent generation back into generation 2 (gc.unfreeze()).
 * Errors: as rcgc_freeze.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE enum rcgc_result rcgc_unfreeze(struct rcgc_heap *heap);

/**
 * The number of objects in the permanent generation
 * (gc.get_freeze_count()); 0 for a NULL heap.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
size_t rcgc_get_freeze_count(const struct rcgc_heap *heap);

/**
 * Calls `fn(obj, ctx)` for every object tracked in `generation`, or in all
 * three when generation is -1 (gc.get_objects(generation); the permanent
 * generation is not included, as in CPython). Each object is a borrowed
 * reference held alive during the call; `fn` may call rcgc freely. Errors:
 * RCGC_ERR_NULL_ARGUMENT (heap or fn NULL), RCGC_ERR_INVALID_ARGUMENT
 * (generation outside -1..=2), RCGC_ERR_REENTRANT (during a collection),
 * RCGC_ERR_NO_MEMORY.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_get_objects(struct rcgc_heap *heap,
                                  int generation,
                                  rcgc_object_fn fn,
                                  void *ctx);

/**
 * Calls `fn(referrer, ctx)` for every tracked object whose traverse reports a
 * reference to `obj` (gc.get_referrers(obj)), each held alive during the
 * call. Errors: as rcgc_get_objects.
 *
 * # Safety
 * `heap` must be NULL or live; `obj` NULL or a live object.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_get_referrers(struct rcgc_heap *heap,
                                    const void *obj,
                                    rcgc_object_fn fn,
                                    void *ctx);

/**
 * Calls `fn(referent, ctx)` for every object `obj` references, as its
 * traverse reports them (gc.get_referents(obj); none for a type without
 * traverse), each held alive during the call. Errors: as rcgc_get_objects.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
RCGC_MUST_USE enum rcgc_result rcgc_get_referents(const void *obj, rcgc_object_fn fn, void *ctx);

/**
 * Whether `obj`'s finalizer has run (gc.is_finalized(obj)); false for NULL.
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
bool rcgc_is_finalized(const void *obj);

/**
 * A weak reference to `obj` (weakref.ref(obj, callback)): an object of the
 * built-in tracked type "rcgc.weakref", returned as a new reference that the
 * caller releases with rcgc_decref like any object (it may also be stored in
 * slots or in the caller's own objects). It does not keep `obj` alive:
 * rcgc_weakref_get returns `obj` while it lives and NULL afterwards.
 *
 * When `obj` dies while the weak reference is alive, `callback` (if not
 * NULL) is called once with the weak reference and `ctx`, after the weak
 * reference was cleared. In a collection, CPython's rules apply: weak
 * references to unreachable objects are cleared before any finalizer runs,
 * and the callback of a weak reference that is itself unreachable never runs.
 *
 * Without a callback, the weak reference `obj` already has without one is
 * returned (a new reference to it), as weakref.ref(obj) does; `ctx` is
 * then ignored. Any object may be weakly referenced; objects that never are
 * pay nothing for the feature. NULL on failure: RCGC_ERR_NULL_ARGUMENT,
 * RCGC_ERR_INVALID_OBJECT (obj is being freed), RCGC_ERR_NO_MEMORY,
 * RCGC_ERR_MEMORY_LIMIT, RCGC_ERR_REENTRANT (inside a traverse callback).
 *
 * A program cannot tell when a weak reference object is freed (a collection
 * may free it), so it cannot tell when `ctx` is no longer needed; when `ctx`
 * owns something, use rcgc_weakref_new_with_release.
 *
 * # Safety
 * `obj` must be NULL or a live object; `callback`, if not NULL, must be safe
 * to call with `ctx` until it has run or the weak reference is freed.
 */
void *rcgc_weakref_new(void *obj, rcgc_weakref_fn callback, void *ctx);

/**
 * rcgc_weakref_new, and the weak reference owns `ctx`: `release` (if not
 * NULL) is called once with `ctx` when the weak reference lets go of it,
 * right after `callback` returned, or, if the callback never runs, when the
 * weak reference object is freed (its count reached zero, a collection found
 * it to be garbage, or rcgc_heap_free). As CPython's weak reference owns its
 * callback object and drops it at those two moments; a binding whose ctx
 * holds a closure releases it there. `release` may incref and decref
 * objects, as a destroy callback may (it runs where the weak reference's
 * destroy runs; see rcgc_destroy_fn for rcgc_heap_free's final sweep).
 *
 * When the call fails (NULL), `release` is not called: `ctx` stays the
 * caller's. Without a callback, `ctx` and `release` are ignored, as in
 * rcgc_weakref_new (the shared weak reference without callback may be
 * returned). Errors are rcgc_weakref_new's.
 *
 * # Safety
 * As rcgc_weakref_new; `release`, if not NULL, must be safe to call with
 * `ctx` until it has been called.
 */
void *rcgc_weakref_new_with_release(void *obj,
                                    rcgc_weakref_fn callback,
                                    void *ctx,
                                    rcgc_weakref_release_fn release);

/**
 * The referent of the weak reference `weakref`, as a new reference the
 * caller must release, or NULL once the referent has died (not an error:
 * the last error is left as it was). NULL with RCGC_ERR_NULL_ARGUMENT or
 * RCGC_ERR_INVALID_ARGUMENT (weakref is not a weak reference) on bad input;
 * rcgc_weakref_get_ref tells the two cases apart by its result code.
 *
 * # Safety
 * `weakref` must be NULL or a live object.
 */
void *rcgc_weakref_get(const void *weakref);

/**
 * rcgc_weakref_get with the outcome in the result code (CPython 3.13's
 * PyWeakref_GetRef): RCGC_OK with `*obj_out` set to the referent as a new
 * reference the caller must release, or to NULL once the referent has died.
 * On an error `*obj_out` (if `obj_out` is not NULL) is set to NULL: RCGC_ERR_NULL_ARGUMENT
 * (`weakref` or `obj_out` is NULL), RCGC_ERR_INVALID_ARGUMENT (`weakref` is
 * not a weak reference). Unlike rcgc_weakref_get, a dead referent and bad
 * input cannot be confused.
 *
 * # Safety
 * `weakref` must be NULL or a live object; `obj_out` NULL or writable.
 */
RCGC_MUST_USE enum rcgc_result rcgc_weakref_get_ref(const void *weakref, void **obj_out);

/**
 * The number of weak references to `obj` (weakref.getweakrefcount); 0 for
 * NULL (with RCGC_ERR_NULL_ARGUMENT).
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
size_t rcgc_weakref_count(const void *obj);

/**
 * Whether `obj` is a weak reference object; false for NULL (with
 * RCGC_ERR_NULL_ARGUMENT).
 *
 * # Safety
 * `obj` must be NULL or a live object.
 */
bool rcgc_is_weakref(const void *obj);

/**
 * Sets the debug flags (gc.set_debug(flags)): a combination of the
 * rcgc_debug_flag values, 0 for none. RCGC_DEBUG_STATS writes statistics at
 * the start and end of every collection, automatic or explicit, in
 * CPython's words ("gc: collecting generation 2...", "gc: objects in each
 * generation: 3 0 1", "gc: objects in permanent generation: 0", "gc: done,
 * 2 unreachable, 0 uncollectable, 0.0001s elapsed").
 * RCGC_DEBUG_COLLECTABLE writes "gc: collectable <TYPE 0xADDR>" for each
 * unreachable object, ADDR being the object's pointer as printf's %p shows
 * it, before its finalizer runs. RCGC_DEBUG_UNCOLLECTABLE is accepted and
 * writes nothing: rcgc has no legacy finalizers, so no object is ever
 * uncollectable. RCGC_DEBUG_SAVEALL keeps each object a collection would
 * clear alive and uncleared in the garbage list (rcgc_get_garbage) instead;
 * finalizers still run first, and the objects count as collected. With all
 * the bits of RCGC_DEBUG_LEAK set, rcgc_heap_free reports, after its
 * collection and before freeing anything, the objects still alive by type.
 * Output goes to stderr unless rcgc_set_debug_output set a sink. The flags
 * are read when a collection starts: a change during a collection applies
 * from the next one. Errors: RCGC_ERR_NULL_ARGUMENT,
 * RCGC_ERR_INVALID_ARGUMENT (a bit that is not a debug flag; the flags do
 * not change).
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE enum rcgc_result rcgc_set_debug(struct rcgc_heap *heap, int flags);

/**
 * The debug flags (gc.get_debug()); 0 for a NULL heap.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
int rcgc_get_debug(const struct rcgc_heap *heap);

/**
 * Sends the heap's debug output to `fn(line, ctx)` instead of stderr; NULL
 * `fn` restores stderr (the default). `fn` is called once per line, with
 * the line NUL-terminated and without a trailing newline (stderr gets the
 * newline), valid only during the call; lines longer than 511 bytes are
 * truncated. The sink runs on the heap's thread, sometimes in the middle of
 * a collection: it may allocate, incref and decref, but rcgc_collect and
 * rcgc_clear_garbage from it fail with RCGC_ERR_REENTRANT, and it must not
 * use the addresses it is shown as objects. Errors: RCGC_ERR_NULL_ARGUMENT
 * (heap NULL).
 *
 * # Safety
 * `heap` must be NULL or live; `fn` is called on the heap's thread with `ctx`.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_set_debug_output(struct rcgc_heap *heap,
                                       rcgc_debug_fn fn,
                                       void *ctx);

/**
 * Calls `fn(obj, ctx)` for every object in the heap's garbage list
 * (gc.garbage), in the order they were saved: the objects
 * RCGC_DEBUG_SAVEALL kept instead of clearing them. The list is copied
 * first and each object is held alive during the call, so `fn` may call
 * rcgc freely. Errors: RCGC_ERR_NULL_ARGUMENT (heap or fn NULL),
 * RCGC_ERR_NO_MEMORY.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_get_garbage(struct rcgc_heap *heap,
                                  rcgc_object_fn fn,
                                  void *ctx);

/**
 * The number of objects in the garbage list (len(gc.garbage)); 0 for a
 * NULL heap.
 *
 * # Safety
 * `heap` must be NULL or live.
 */
size_t rcgc_get_garbage_count(const struct rcgc_heap *heap);

/**
 * Empties the garbage list and drops the reference it held to each object
 * (del gc.garbage[:]). Objects nothing else references are then ordinary
 * cyclic garbage, which the next collection frees (or, if
 * RCGC_DEBUG_SAVEALL is still set, saves again); dropping the references
 * may run finalizers. rcgc_heap_free empties the list itself. Allowed from
 * gc callbacks (rcgc_add_callback) and from callbacks run by refcounting.
 * Errors: RCGC_ERR_NULL_ARGUMENT, RCGC_ERR_REENTRANT (from a callback a
 * collection runs between its start and its end: finalize, clear, destroy;
 * from the debug sink; from rcgc_heap_free's final destroy callbacks).
 *
 * # Safety
 * `heap` must be NULL or live.
 */
RCGC_MUST_USE enum rcgc_result rcgc_clear_garbage(struct rcgc_heap *heap);

/**
 * Writes a picture of the heap through `write(data, len, ctx)`: objects and
 * the references their traverse callbacks report, as Graphviz DOT
 * (RCGC_GRAPH_DOT) or JSON (RCGC_GRAPH_JSON; README, "A picture of the
 * heap", gives the schema). With `roots` NULL (and `nroots` 0), every live
 * object of the heap: tracked or not, of every type, garbage included. Else
 * the `nroots` objects of `roots` (borrowed) and everything they reach
 * through references; `nroots` 0 then gives an empty graph.
 *
 * Each object comes with its address, type name, refcount, state (gen0,
 * gen1, gen2, permanent or untracked), finalized mark, the bytes it occupies,
 * and two findings: `external`, its refcount minus the references to it
 * that traverse reports from objects of the heap (above 0: something
 * outside the heap, such as a C variable, holds it; below 0: some traverse
 * reports a reference it does not own), and whether a chain of references
 * from an object with external > 0 reaches it (if not, it is garbage waiting
 * for a collection). Each reference comes with its position in its
 * source's traverse order (NULL visits count), its slot index for slots
 * objects, or its field's rank among the declared fields (in payload order,
 * empty ones counted) for types with declared references. DOT draws objects
 * held from outside in gold and garbage grey and dashed.
 *
 * The heap is looked at once, before `write` is first called: only traverse
 * callbacks run then (they must only call visit). `write` receives chunks
 * of UTF-8 text, not NUL-terminated, valid only during the call; it may
 * call any rcgc function, collections included (the output still describes
 * the heap as it was), but must not free the heap. A non-zero return stops
 * the output: the call then returns RCGC_ERR_ABORTED. Time and scratch
 * memory are proportional to the objects and references of the whole heap,
 * even with roots.
 *
 * Errors: RCGC_ERR_NULL_ARGUMENT (heap or write NULL, roots NULL with nroots
 * above 0, an element of roots NULL); RCGC_ERR_INVALID_ARGUMENT (format is
 * not an rcgc_graph_format); RCGC_ERR_WRONG_HEAP (a root of another heap);
 * RCGC_ERR_INVALID_OBJECT (a root that is not a live object, detected in
 * checked mode); RCGC_ERR_REENTRANT (called from a callback of a collection
 * or of a refcount-freeing cascade); RCGC_ERR_NO_MEMORY; RCGC_ERR_ABORTED.
 *
 * # Safety
 * `heap` must be NULL or live; `roots` NULL or `nroots` readable pointers,
 * each NULL or a live object.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_export_graph(struct rcgc_heap *heap,
                                   int format,
                                   void *const *roots,
                                   size_t nroots,
                                   rcgc_write_fn write,
                                   void *ctx);

/**
 * Answers "why is obj alive?": calls `fn(o, ctx)` for each object of a
 * shortest chain of references from an object held from outside the heap
 * (refcount above the references to it that traverse reports: a C variable
 * holds it) to `obj`, the held object first and `obj` last, and writes the
 * chain's length to `*length_out` (which may be NULL). An `obj` held from
 * outside is a chain of one. Each object is a borrowed reference held alive
 * during the calls; `fn` may call rcgc freely but must not free the heap.
 * References that traverse does not report (from a payload whose traverse
 * omits them) count as held from outside.
 *
 * When no such chain exists, `obj` is garbage waiting for a collection (say,
 * a cycle nothing else holds): the result is RCGC_ERR_NOT_FOUND, `fn` is not
 * called and `*length_out` is set to 0. Only traverse callbacks run while
 * the heap is looked at; time and scratch memory are proportional to the
 * objects and references of the whole heap.
 *
 * Errors: RCGC_ERR_NULL_ARGUMENT (heap, obj or fn NULL); RCGC_ERR_WRONG_HEAP
 * (obj of another heap); RCGC_ERR_INVALID_OBJECT (obj not a live object,
 * detected in checked mode); RCGC_ERR_REENTRANT (from a callback of a
 * collection or of a refcount-freeing cascade); RCGC_ERR_NO_MEMORY;
 * RCGC_ERR_NOT_FOUND. `*length_out` is written on RCGC_OK and RCGC_ERR_NOT_FOUND.
 *
 * # Safety
 * `heap` must be NULL or live; `obj` NULL or a live object; `length_out`
 * NULL or writable.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_why_alive(struct rcgc_heap *heap,
                                const void *obj,
                                rcgc_object_fn fn,
                                void *ctx,
                                size_t *length_out);

/**
 * rcgc_why_alive as text for people, written through `write(data, len,
 * ctx)` (see rcgc_export_graph for `write`): one line per object of the
 * chain, the object held from outside first, each later one with the
 * position of the reference that leads to it, for example (three lines):
 * `0x5555d0a0 'tree': refcount 1, external 1: held from outside the heap`,
 * `  [0] -> 0x5555d0c0 'tree': refcount 1, external 0`,
 * `  [1] -> 0x5555d0e0 'leaf': refcount 1, external 0`.
 * When no chain exists, one line saying so about `obj`, and the result is
 * RCGC_ERR_NOT_FOUND. Errors: as rcgc_why_alive (write NULL is
 * RCGC_ERR_NULL_ARGUMENT), and RCGC_ERR_ABORTED when write returns non-zero.
 *
 * # Safety
 * `heap` must be NULL or live; `obj` NULL or a live object.
 */
RCGC_MUST_USE
enum rcgc_result rcgc_why_alive_text(struct rcgc_heap *heap,
                                     const void *obj,
                                     rcgc_write_fn write,
                                     void *ctx);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* RCGC_H */

#ifndef RCGC_INLINE_H
#define RCGC_INLINE_H

/**
 * The first 16 bytes of every object, just before its payload: the one part
 * of an object's memory that is ABI. rcgc_incref_inline and rcgc_decref_inline
 * read it; nothing else should. Do not write to it.
 *
 * tag: the address of the object's type with flag bits in its 8 low bits;
 * only RCGC_HEAD_SLOW is public. refcnt: the reference count, a 32-bit
 * unsigned integer at offset 8 on 64-bit targets (offsetof(rcgc_object_head,
 * refcnt) on any target); RCGC_REFCNT_IMMORTAL (UINT32_MAX) is sticky: such an
 * object is never freed. gc: private to the collector. The object's payload
 * starts RCGC_OBJECT_HEAD_SIZE bytes after the start of this struct.
 */
typedef struct rcgc_object_head {
  uintptr_t tag;
  uint32_t refcnt;
  uint32_t gc;
} rcgc_object_head;

/** Bytes between the start of an object's rcgc_object_head and its payload. */
#define RCGC_OBJECT_HEAD_SIZE 16

/** The sticky refcount of an immortal object. */
#define RCGC_REFCNT_IMMORTAL UINT32_MAX

/**
 * Set in tag on every object whose refcount operations need the library: all
 * objects of a checked heap (rcgc_config.checked), live or freed. The inline
 * functions then call rcgc_incref/rcgc_decref.
 */
#define RCGC_HEAD_SLOW 0x80u

/**
 * The rcgc_object_head of `obj`, which must be a live rcgc object (the
 * payload pointer rcgc_alloc returned); nothing is checked.
 */
static inline rcgc_object_head *rcgc_object_head_of(void *obj) {
#ifdef __cplusplus
  return static_cast<rcgc_object_head *>(static_cast<void *>(static_cast<char *>(obj) - RCGC_OBJECT_HEAD_SIZE));
#else
  char *payload = obj;
  void *head = payload - RCGC_OBJECT_HEAD_SIZE;
  return head;
#endif
}

/**
 * rcgc_incref as an inline function (Py_INCREF's speed): adds 1 to the count
 * in place. It calls rcgc_incref instead when `obj` is NULL, when the object
 * belongs to a checked heap (RCGC_HEAD_SLOW) or when it is immortal, so the
 * result is always exactly that of rcgc_incref.
 *
 * It checks nothing: `obj` must be NULL or a live rcgc object (the payload
 * pointer rcgc_alloc returned), used by the thread that owns its heap. Any other
 * pointer is undefined behaviour, as with Py_INCREF; only objects of a checked
 * heap are validated, by the call.
 */
static inline void rcgc_incref_inline(void *obj) {
  if (obj != NULL) {
    rcgc_object_head *head = rcgc_object_head_of(obj);
    if ((head->tag & RCGC_HEAD_SLOW) == 0 && head->refcnt != RCGC_REFCNT_IMMORTAL) {
      head->refcnt++;
      return;
    }
  }
  rcgc_incref(obj);
}

/**
 * rcgc_decref as an inline function (Py_DECREF's speed): subtracts 1 from the
 * count in place when the count is above 1. It calls rcgc_decref instead when
 * `obj` is NULL, when the object belongs to a checked heap (RCGC_HEAD_SLOW),
 * when it is immortal, and when the count is 1 (the object is freed, with
 * finalize, clear and destroy, iteratively) or 0 (a decref too many, reported
 * to the misuse handler), so the result is always exactly that of rcgc_decref.
 *
 * It checks nothing: `obj` must be NULL or an object of a live heap, used by
 * the thread that owns the heap. Any other pointer is undefined behaviour, as
 * with Py_DECREF; only objects of a checked heap are validated, by the call.
 */
static inline void rcgc_decref_inline(void *obj) {
  if (obj != NULL) {
    rcgc_object_head *head = rcgc_object_head_of(obj);
    uint32_t refcnt = head->refcnt;
    if ((head->tag & RCGC_HEAD_SLOW) == 0 && refcnt > 1 && refcnt != RCGC_REFCNT_IMMORTAL) {
      head->refcnt = refcnt - 1;
      return;
    }
  }
  rcgc_decref(obj);
}

#endif  /* RCGC_INLINE_H */
