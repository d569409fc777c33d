/*
 * rcgc.hpp: a header-only C++17 wrapper over rcgc.h.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 *   rcgc::heap       owns an rcgc_heap (move-only); the gc-module calls as members
 *   rcgc::ref<T>     one strong reference: copy increfs, destruction decrefs, move is free
 *   rcgc::type<T>    a registered C++ struct whose members `void traverse(rcgc::visitor&)`
 *                    (and optionally `void clear()`, `void finalize()`) become the callbacks
 *   rcgc::slots      the built-in slots object, with set/get/size
 *   rcgc::error      what every failing call throws: rcgc's code and message
 *
 * Errors are exceptions (rcgc::error, derived from std::runtime_error): a failing rcgc
 * call is rare (out of memory, a memory limit, misuse), constructors and allocation
 * cannot return a code, and the message rcgc_last_error() gives is per thread and
 * overwritten by the next failure, so it is copied into the exception at once.
 *
 * Rules the wrapper cannot check for you:
 *   - every ref of a heap must be gone before the heap is (declare the heap first);
 *   - callbacks (traverse, clear, finalize, ~T) run inside rcgc and must not throw:
 *     the trampolines are noexcept, so an exception there calls std::terminate;
 *   - traverse must only call the visitor (no allocation, no ref copies).
 */
#ifndef RCGC_HPP
#define RCGC_HPP

#include "rcgc.h"

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace rcgc {

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** A failed rcgc call: the library's code (RCGC_ERR_...) and its message. */
class error : public std::runtime_error {
 public:
  error(rcgc_result code, const std::string &message)
      : std::runtime_error(message), code_(code) {}

  /** The rcgc_result the call returned (or rcgc_last_error_code() for NULL results). */
  rcgc_result code() const noexcept { return code_; }
  /** The code's name, e.g. "RCGC_ERR_INVALID_ARGUMENT". */
  const char *name() const noexcept { return rcgc_result_name(static_cast<int>(code_)); }

  /** The calling thread's last rcgc failure, as an exception. */
  static error last() { return error(rcgc_last_error_code(), rcgc_last_error()); }

 private:
  rcgc_result code_;
};

namespace detail {
inline void check(rcgc_result r) {
  if (r != RCGC_OK) throw error(r, rcgc_last_error());
}
template <class P>
P *not_null(P *p) {
  if (p == nullptr) throw error::last();
  return p;
}
}  // namespace detail

// ---------------------------------------------------------------------------
// ref<T>
// ---------------------------------------------------------------------------

/** Tag: the ref takes over a reference the caller owns (a new reference). */
struct adopt_t {
  explicit adopt_t() = default;
};
/** Tag: the ref adds a reference of its own (for borrowed pointers). */
struct borrow_t {
  explicit borrow_t() = default;
};
inline constexpr adopt_t adopt{};
inline constexpr borrow_t borrow{};

/**
 * One strong reference to an rcgc object whose payload is a T (void: any object).
 * Copying increfs, destruction and reset decref, moving costs nothing.
 *
 *   rcgc::ref<Node> a(rcgc::adopt, static_cast<Node *>(rcgc_alloc(t)));  // takes the +1
 *   rcgc::ref<void> b(rcgc::borrow, rcgc_slots_get(obj, 0));             // adds a +1
 */
template <class T>
class ref {
 public:
  using element_type = T;

  constexpr ref() noexcept = default;
  constexpr ref(std::nullptr_t) noexcept {}
  /** Takes ownership of one reference the caller holds; no incref. */
  ref(adopt_t, T *p) noexcept : p_(p) {}
  /** Adds a reference to a borrowed pointer (rcgc_incref_inline); NULL is fine. */
  ref(borrow_t, T *p) noexcept : p_(p) { rcgc_incref_inline(const_void(p_)); }

  ref(const ref &other) noexcept : p_(other.p_) { rcgc_incref_inline(const_void(p_)); }
  ref(ref &&other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  /** ref<Derived> to ref<Base>, ref<T> to ref<void>: like pointers. */
  template <class U, class = std::enable_if_t<std::is_convertible_v<U *, T *>>>
  ref(const ref<U> &other) noexcept : p_(other.get()) {
    rcgc_incref_inline(const_void(p_));
  }
  template <class U, class = std::enable_if_t<std::is_convertible_v<U *, T *>>>
  ref(ref<U> &&other) noexcept : p_(other.release()) {}

  ~ref() { rcgc_decref_inline(const_void(p_)); }

  /** Increfs the new object before dropping the old one: self-assignment is safe. */
  ref &operator=(const ref &other) noexcept {
    rcgc_incref_inline(const_void(other.p_));
    T *old = p_;
    p_ = other.p_;
    rcgc_decref_inline(const_void(old));
    return *this;
  }
  ref &operator=(ref &&other) noexcept {
    if (this != &other) {
      T *old = p_;
      p_ = other.p_;
      other.p_ = nullptr;
      rcgc_decref_inline(const_void(old));
    }
    return *this;
  }
  ref &operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }

  /** Sets the pointer to NULL, then decrefs the old object (Py_CLEAR's order). */
  void reset() noexcept {
    T *old = p_;
    p_ = nullptr;
    rcgc_decref_inline(const_void(old));
  }
  /** Gives up the reference without a decref; the caller now owns it. */
  [[nodiscard]] T *release() noexcept {
    T *p = p_;
    p_ = nullptr;
    return p;
  }
  void swap(ref &other) noexcept { std::swap(p_, other.p_); }

  T *get() const noexcept { return p_; }
  T *operator->() const noexcept { return p_; }
  template <class U = T>
  std::enable_if_t<!std::is_void_v<U>, U &> operator*() const noexcept {
    return *p_;
  }
  explicit operator bool() const noexcept { return p_ != nullptr; }

  /** rcgc_refcount: 0 for an empty ref. */
  std::size_t refcount() const noexcept { return p_ ? rcgc_refcount(const_void(p_)) : 0; }
  /** The object's registered type (NULL for an empty ref). */
  rcgc_type *type_of() const noexcept { return p_ ? rcgc_type_of(const_void(p_)) : nullptr; }
  bool is_tracked() const noexcept { return p_ && rcgc_is_tracked(const_void(p_)); }

 private:
  static void *const_void(const T *p) noexcept {
    return const_cast<void *>(static_cast<const void *>(p));
  }
  T *p_ = nullptr;
};

template <class T, class U>
bool operator==(const ref<T> &a, const ref<U> &b) noexcept {
  return static_cast<const void *>(a.get()) == static_cast<const void *>(b.get());
}
template <class T, class U>
bool operator!=(const ref<T> &a, const ref<U> &b) noexcept {
  return !(a == b);
}
template <class T>
bool operator==(const ref<T> &a, std::nullptr_t) noexcept {
  return !a;
}
template <class T>
bool operator!=(const ref<T> &a, std::nullptr_t) noexcept {
  return static_cast<bool>(a);
}
template <class T>
void swap(ref<T> &a, ref<T> &b) noexcept {
  a.swap(b);
}

/** An unchecked cast, like static_cast on the pointer (see type<T>::cast for a checked one). */
template <class T, class U>
ref<T> static_ref_cast(const ref<U> &r) noexcept {
  return ref<T>(borrow, static_cast<T *>(r.get()));
}

// ---------------------------------------------------------------------------
// visitor: what traverse members receive
// ---------------------------------------------------------------------------

/**
 * Passed to `void traverse(rcgc::visitor &v)`: call v(field) for every reference
 * field. The same traverse drives the generated clear (when the struct has no
 * clear() member): in that mode v(field) empties the field, then decrefs.
 */
class visitor {
 public:
  template <class U>
  void operator()(ref<U> &field) noexcept {
    if (visit_ != nullptr) {
      visit_(const_cast<void *>(static_cast<const void *>(field.get())), ctx_);
    } else {
      field.reset();
    }
  }
  /** A raw field holding a reference (managed with rcgc_set_ref / rcgc_clear_ref). */
  template <class U>
  void operator()(U *&field) noexcept {
    if (visit_ != nullptr) {
      visit_(const_cast<void *>(static_cast<const void *>(field)), ctx_);
    } else {
      U *old = field;
      field = nullptr;
      rcgc_decref_inline(const_cast<void *>(static_cast<const void *>(old)));
    }
  }
  /** True when the visitor clears fields rather than reporting them. */
  bool clearing() const noexcept { return visit_ == nullptr; }

 private:
  template <class T>
  friend class type;
  visitor(rcgc_visit_fn visit, void *ctx) noexcept : visit_(visit), ctx_(ctx) {}
  rcgc_visit_fn visit_;
  void *ctx_;
};

// ---------------------------------------------------------------------------
// type<T>
// ---------------------------------------------------------------------------

namespace detail {
template <class T, class = void>
struct has_traverse : std::false_type {};
template <class T>
struct has_traverse<T, std::void_t<decltype(std::declval<T &>().traverse(std::declval<visitor &>()))>>
    : std::true_type {};
template <class T, class = void>
struct has_clear : std::false_type {};
template <class T>
struct has_clear<T, std::void_t<decltype(std::declval<T &>().clear())>> : std::true_type {};
template <class T, class = void>
struct has_finalize : std::false_type {};
template <class T>
struct has_finalize<T, std::void_t<decltype(std::declval<T &>().finalize())>> : std::true_type {};

/**
 * The payload of a C++ type: the T (at offset 0, so the payload pointer is the T
 * pointer), then a flag set once T's constructor has returned. rcgc zeroes the
 * payload, so until then callbacks see `live == false` and leave the object alone
 * (an allocation inside T's constructor may run a collection).
 */
template <class T>
struct box {
  alignas(T) unsigned char storage[sizeof(T)];
  bool live;
  T *value() noexcept { return std::launder(reinterpret_cast<T *>(storage)); }
};
}  // namespace detail

/**
 * A C++ struct registered as an rcgc type (heap::register_type<T>(name)); a cheap,
 * copyable handle valid as long as its heap.
 *
 * T is constructed in the payload by make() and destroyed (~T) when rcgc frees the
 * object. Members the wrapper looks for:
 *   void traverse(rcgc::visitor &v)  report every reference (v(field)); the objects
 *                                    are then tracked. Without it, T holds no references.
 *   void clear()                     optional: drop every reference, leaving fields
 *                                    empty; by default traverse does it, field by field.
 *   void finalize()                  optional: runs at most once (PEP 442); may resurrect
 *                                    by storing ref<T>(rcgc::borrow, this) somewhere.
 */
template <class T>
class type {
  static_assert(alignof(T) <= 16, "rcgc payloads are 16-byte aligned");
  static_assert(!detail::has_clear<T>::value || detail::has_traverse<T>::value,
                "a clear() member needs a traverse(rcgc::visitor&) member");

 public:
  using box = detail::box<T>;

  type() noexcept = default;
  explicit type(rcgc_type *t) noexcept : t_(t) {}

  rcgc_type *get() const noexcept { return t_; }
  const char *name() const noexcept { return rcgc_type_name(t_); }

  /** A new object: rcgc_alloc, then T(args...) in place. Throws rcgc::error if the
   * allocation fails; if T's constructor throws, the memory is released unharmed. */
  template <class... Args>
  ref<T> make(Args &&...args) const {
    box *b = static_cast<box *>(detail::not_null(rcgc_alloc(t_)));
    try {
      ::new (static_cast<void *>(b->storage)) T(std::forward<Args>(args)...);
    } catch (...) {
      rcgc_decref(b);  // live is false: no callback touches the unconstructed T
      throw;
    }
    b->live = true;
    return ref<T>(adopt, b->value());
  }

  /** Whether `obj` is an object of this type. */
  bool is_instance(const void *obj) const noexcept {
    return obj != nullptr && rcgc_type_of(obj) == t_;
  }
  /** A checked downcast: throws rcgc::error (RCGC_ERR_INVALID_ARGUMENT) when `r`
   * holds an object of another type. An empty ref gives an empty ref. */
  template <class U>
  ref<T> cast(const ref<U> &r) const {
    if (!r) return ref<T>();
    if (!is_instance(r.get())) {
      const char *actual = rcgc_type_name(rcgc_type_of(r.get()));
      throw error(RCGC_ERR_INVALID_ARGUMENT, std::string("rcgc::type::cast: the object is a ") +
                                                 (actual ? actual : "?") + ", not a " +
                                                 (name() ? name() : "?"));
    }
    return ref<T>(borrow, static_cast<T *>(const_cast<void *>(static_cast<const void *>(r.get()))));
  }

  /** The rcgc_type_spec that register_type passes to rcgc_type_register. */
  static rcgc_type_spec spec(const char *name) noexcept {
    rcgc_type_spec s{};
    s.name = name;
    s.size = sizeof(box);
    if constexpr (detail::has_traverse<T>::value) {
      s.traverse = &traverse_cb;
      s.clear = &clear_cb;
    }
    if constexpr (detail::has_finalize<T>::value) s.finalize = &finalize_cb;
    if constexpr (!std::is_trivially_destructible_v<T>) s.destroy = &destroy_cb;
    return s;
  }

 private:
  static box *unbox(void *obj) noexcept { return static_cast<box *>(obj); }

  static void traverse_cb(void *obj, rcgc_visit_fn visit, void *ctx) noexcept {
    box *b = unbox(obj);
    if (!b->live) return;
    visitor v(visit, ctx);
    b->value()->traverse(v);
  }
  static void clear_cb(void *obj) noexcept {
    box *b = unbox(obj);
    if (!b->live) return;
    if constexpr (detail::has_clear<T>::value) {
      b->value()->clear();
    } else if constexpr (detail::has_traverse<T>::value) {
      visitor v(nullptr, nullptr);
      b->value()->traverse(v);
    }
  }
  static void finalize_cb(void *obj) noexcept {
    box *b = unbox(obj);
    if constexpr (detail::has_finalize<T>::value) {
      if (b->live) b->value()->finalize();
    }
  }
  static void destroy_cb(void *obj) noexcept {
    box *b = unbox(obj);
    if (!b->live) return;
    b->live = false;
    b->value()->~T();
  }

  rcgc_type *t_ = nullptr;
};

// ---------------------------------------------------------------------------
// slots
// ---------------------------------------------------------------------------

/** A reference to a built-in slots object (heap::new_slots): a fixed-size array of
 * references that needs no callbacks. Indexes past the end throw rcgc::error. */
class slots : public ref<void> {
 public:
  slots() noexcept = default;
  slots(adopt_t, void *p) noexcept : ref<void>(adopt, p) {}
  slots(borrow_t, void *p) noexcept : ref<void>(borrow, p) {}

  /** rcgc_slots_set: increfs `value`, decrefs what the slot held. */
  template <class U>
  void set(std::size_t index, const ref<U> &value) {
    detail::check(rcgc_slots_set(get(), index, const_cast<void *>(static_cast<const void *>(value.get()))));
  }
  void set(std::size_t index, std::nullptr_t) { detail::check(rcgc_slots_set(get(), index, nullptr)); }

  /** The object in slot `index`, with a reference of its own; empty for an empty slot. */
  ref<void> at(std::size_t index) const {
    if (index >= size()) {
      (void)rcgc_slots_get(get(), index);  // lets rcgc word the error
      throw error::last();
    }
    return ref<void>(borrow, rcgc_slots_get(get(), index));
  }
  ref<void> operator[](std::size_t index) const { return at(index); }

  std::size_t size() const noexcept { return get() ? rcgc_slots_len(get()) : 0; }
};

// ---------------------------------------------------------------------------
// heap
// ---------------------------------------------------------------------------

/** An rcgc_config with the defaults (rcgc_config_init). */
inline rcgc_config default_config() noexcept {
  rcgc_config c;
  rcgc_config_init(&c);
  return c;
}

/**
 * Owns one rcgc_heap: non-copyable, movable; the destructor frees the heap and
 * every object still on it (rcgc_heap_free). All refs and types of the heap must
 * be gone or unused by then.
 */
class heap {
 public:
  /** rcgc_heap_new: thresholds (700, 10, 10), automatic collection on. */
  heap() : h_(detail::not_null(rcgc_heap_new())) {}
  /** rcgc_heap_new_with (start from rcgc::default_config()). */
  explicit heap(const rcgc_config &config) : h_(detail::not_null(rcgc_heap_new_with(&config))) {}
  /** Takes ownership of an existing heap (NULL gives an empty heap object). */
  explicit heap(adopt_t, rcgc_heap *h) noexcept : h_(h) {}

  heap(const heap &) = delete;
  heap &operator=(const heap &) = delete;
  heap(heap &&other) noexcept : h_(other.h_) { other.h_ = nullptr; }
  heap &operator=(heap &&other) noexcept {
    if (this != &other) {
      rcgc_heap_free(h_);
      h_ = other.h_;
      other.h_ = nullptr;
    }
    return *this;
  }
  ~heap() { rcgc_heap_free(h_); }

  rcgc_heap *get() const noexcept { return h_; }
  /** Gives up ownership; the caller frees the heap. */
  [[nodiscard]] rcgc_heap *release() noexcept {
    rcgc_heap *h = h_;
    h_ = nullptr;
    return h;
  }

  /** Registers T (see type<T>) under `name` (copied). */
  template <class T>
  type<T> register_type(const char *name) {
    rcgc_type_spec s = type<T>::spec(name);
    rcgc_type *t = nullptr;
    detail::check(rcgc_type_register(h_, &s, &t));
    return type<T>(t);
  }

  /** A new slots object with `n` empty slots. */
  slots new_slots(std::size_t n) { return slots(adopt, detail::not_null(rcgc_slots_new(h_, n))); }

  /** gc.collect(generation): the number of unreachable objects found. */
  std::size_t collect(int generation = 2) {
    std::size_t found = 0;
    detail::check(rcgc_collect(h_, generation, &found));
    return found;
  }
  rcgc_thresholds get_threshold() const noexcept { return rcgc_get_threshold(h_); }
  void set_threshold(std::size_t gen0, std::size_t gen1, std::size_t gen2) {
    detail::check(rcgc_set_threshold(h_, gen0, gen1, gen2));
  }
  rcgc_counts get_count() const noexcept { return rcgc_get_count(h_); }
  void enable() { detail::check(rcgc_enable(h_)); }
  void disable() { detail::check(rcgc_disable(h_)); }
  bool is_enabled() const noexcept { return rcgc_is_enabled(h_); }
  rcgc_heap_stats stats() const {
    rcgc_heap_stats s{};
    s.struct_size = sizeof s;
    detail::check(rcgc_heap_get_stats(h_, &s));
    return s;
  }
  void set_misuse_handler(rcgc_misuse_fn handler, void *ctx) noexcept {
    rcgc_set_misuse_handler(h_, handler, ctx);
  }

 private:
  rcgc_heap *h_;
};

}  // namespace rcgc

#endif  // RCGC_HPP
