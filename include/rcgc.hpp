/*
 * rcgc.hpp: a header-only C++17 wrapper over rcgc.h.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 *   rcgc::heap       owns an rcgc_heap (move-only); the gc-module calls as members
 *   rcgc::ref<T>     one strong reference: copy increfs, destruction decrefs, move is free
 *   rcgc::type<T>    a registered C++ struct whose members `void traverse(rcgc::visitor&)`
 *                    (and optionally `void clear()`, `void finalize()`) become the callbacks
 *   rcgc::slots      the built-in slots object, with set/get/size
 *   rcgc::weak_ref<T> a weak reference (weakref.ref) like std::weak_ptr: lock(), expired(),
 *                    an optional callback owned by the weak_ref and its copies
 *   rcgc::error      what every failing call throws: rcgc's code and message
 *   rcgc::set_unraisable_hook  where exceptions thrown by gc callbacks, the debug sink
 *                    and weak_ref callbacks go (sys.unraisablehook): stderr by default
 *
 * Errors are exceptions (rcgc::error, derived from std::runtime_error): a failing rcgc
 * call is rare (out of memory, a memory limit, misuse), constructors and allocation
 * cannot return a code, and the message rcgc_last_error() gives is per thread and
 * overwritten by the next failure, so it is copied into the exception at once.
 *
 * Rules the wrapper cannot check for you:
 *   - every ref of a heap must be gone before the heap is (declare the heap first);
 *   - type callbacks (traverse, clear, finalize, ~T) run inside rcgc and must not throw:
 *     the trampolines are noexcept, so an exception there calls std::terminate;
 *   - gc callbacks, the debug sink and weak_ref callbacks may throw: the exception is
 *     caught before it reaches rcgc's C frames and handed to the unraisable hook, and
 *     rcgc goes on (CPython's PyErr_WriteUnraisable for gc.callbacks and weakref callbacks);
 *   - traverse must only call the visitor (no allocation, no ref copies).
 */
#ifndef RCGC_HPP
#define RCGC_HPP

#include "rcgc.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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
// Exceptions from callbacks: the unraisable hook
// ---------------------------------------------------------------------------

/**
 * An exception that a gc callback (heap::add_callback), the debug sink
 * (heap::set_debug_output) or a weak_ref callback threw. rcgc calls these from its
 * C frames, which an exception must not cross, so the wrapper catches it there and
 * rcgc carries on (the collection completes, the other callbacks run), as CPython
 * does with PyErr_WriteUnraisable ("Exception ignored in: ..."); the exception goes
 * to the unraisable hook instead.
 */
struct unraisable {
  /** "gc callback", "debug output" or "weak_ref callback". */
  const char *where;
  /** what() of a std::exception, else "unknown exception". */
  std::string what;
  /** The exception itself, for std::rethrow_exception. */
  std::exception_ptr exception;
};

/** Receives unraisable exceptions; must not throw (an exception from it is dropped). */
using unraisable_hook = void (*)(const unraisable &);

namespace detail {
inline std::atomic<unraisable_hook> &unraisable_hook_slot() noexcept {
  static std::atomic<unraisable_hook> slot{nullptr};
  return slot;
}

/** The default hook: one line on stderr. */
inline void print_unraisable(const unraisable &u) {
  std::fprintf(stderr, "rcgc: exception ignored in %s: %s\n", u.where, u.what.c_str());
}

/** Call from a catch block: hands the current exception to the hook; never throws. */
inline void report_unraisable(const char *where) noexcept {
  try {
    unraisable u{where, "unknown exception", std::current_exception()};
    try {
      throw;
    } catch (const std::exception &e) {
      u.what = e.what();
    } catch (...) {
    }
    unraisable_hook hook = unraisable_hook_slot().load();
    (hook != nullptr ? hook : &print_unraisable)(u);
  } catch (...) {
    // The hook threw, or a std::string could not be made: dropped.
  }
}
}  // namespace detail

/**
 * Sets the process-wide unraisable hook (sys.unraisablehook) and returns the
 * previous one; nullptr restores the default, which prints
 * "rcgc: exception ignored in <where>: <what>" to stderr. Thread-safe.
 */
inline unraisable_hook set_unraisable_hook(unraisable_hook hook) noexcept {
  return detail::unraisable_hook_slot().exchange(hook);
}

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
// weak_ref<T>
// ---------------------------------------------------------------------------

template <class T>
class weak_ref;

namespace detail {
/** A weak_ref callback. rcgc owns it as the weak reference object's ctx
 * (rcgc_weakref_new_with_release) and deletes it through weak_release once it has
 * run or the object is freed; the user's callable inside goes earlier, when the
 * last weak_ref sharing it is gone (weak_token), since a weak reference object may
 * outlive its weak_refs (held by a get_objects() vector, a slots object, ...). */
struct weak_callback_base {
  virtual ~weak_callback_base() = default;
  virtual void call(void *weakref) = 0;
  /** Destroys the user's callable: no weak_ref is left to call it for. */
  virtual void forget() noexcept = 0;
};

/** Shared by a weak_ref and its copies: the last one makes the callback forget its
 * callable. The callback is rcgc's until released, so it is reached weakly. */
struct weak_token {
  std::weak_ptr<weak_callback_base> callback;
  ~weak_token() {
    if (std::shared_ptr<weak_callback_base> cb = callback.lock()) cb->forget();
  }
};

/** The rcgc_weakref_fn of every weak_ref callback; ctx is rcgc's
 * std::shared_ptr<weak_callback_base>. */
inline void weak_trampoline(void *weakref, void *ctx) noexcept {
  try {
    // A copy: the call may drop every weak_ref, and so forget the callable.
    std::shared_ptr<weak_callback_base> cb = *static_cast<std::shared_ptr<weak_callback_base> *>(ctx);
    cb->call(weakref);
  } catch (...) {
    report_unraisable("weak_ref callback");
  }
}

/** The rcgc_weakref_release_fn of every weak_ref callback: rcgc lets go of it. */
inline void weak_release(void *ctx) noexcept { delete static_cast<std::shared_ptr<weak_callback_base> *>(ctx); }

template <class T, class F>
struct weak_callback final : weak_callback_base {
  template <class G>
  explicit weak_callback(G &&g) : fn(std::forward<G>(g)) {}
  void call(void *weakref) override;
  void forget() noexcept override { fn.reset(); }
  std::optional<F> fn;
  std::weak_ptr<weak_token> token;
};
}  // namespace detail

/**
 * A weak reference (weakref.ref) to an object whose payload is a T: it does not
 * keep the object alive. Like std::weak_ptr, lock() gives a ref<T>, empty once the
 * object has died. A weak_ref holds one strong reference to a weak reference
 * object (type "rcgc.weakref", rcgc_weakref_new); copying increfs it, so copies
 * share it, and its callback.
 *
 *   rcgc::weak_ref<Node> w(node);                      // weakref.ref(node)
 *   rcgc::weak_ref<Node> c(node, [](const rcgc::weak_ref<Node> &self) { ... });
 *   if (rcgc::ref<Node> n = w.lock()) use(*n);         // w() is not None
 *
 * The callback (a callable taking `const weak_ref<T>&`, already expired, or
 * nothing) runs once, when the object dies while the weak_ref lives, with
 * CPython's rules (README, "Weak references"). It belongs to the weak_ref and its
 * copies: when the last of them is gone it is destroyed and never called, even if
 * the weak reference object lives on elsewhere. An exception from it goes to the
 * unraisable hook. Like every ref, a weak_ref must be gone before its heap.
 */
template <class T>
class weak_ref {
 public:
  using element_type = T;

  weak_ref() noexcept = default;
  /** weakref.ref(obj): the object's shared weak reference without callback.
   * Throws rcgc::error (RCGC_ERR_NULL_ARGUMENT for an empty ref, RCGC_ERR_NO_MEMORY,
   * RCGC_ERR_MEMORY_LIMIT, ...). A weak reference object is an allocation: explicit. */
  explicit weak_ref(const ref<T> &obj)
      : w_(adopt, detail::not_null(rcgc_weakref_new(void_of(obj.get()), nullptr, nullptr))) {}
  /** weakref.ref(obj, callback): a weak reference object of its own. */
  template <class F>
  weak_ref(const ref<T> &obj, F &&callback) {
    using cb_type = detail::weak_callback<T, std::decay_t<F>>;
    static_assert(std::is_invocable_v<std::decay_t<F> &, const weak_ref &> ||
                      std::is_invocable_v<std::decay_t<F> &>,
                  "a weak_ref callback takes (const rcgc::weak_ref<T>&) or nothing");
    auto cb = std::make_shared<cb_type>(std::forward<F>(callback));
    auto token = std::make_shared<detail::weak_token>();
    cb->token = token;
    token->callback = cb;
    auto owned = std::make_unique<std::shared_ptr<detail::weak_callback_base>>(std::move(cb));
    void *w = rcgc_weakref_new_with_release(void_of(obj.get()), &detail::weak_trampoline, owned.get(),
                                            &detail::weak_release);
    if (w == nullptr) throw error::last();  // rcgc took nothing: `owned` deletes the callback
    owned.release();                        // rcgc's now, until weak_release
    w_ = ref<void>(adopt, w);
    token_ = std::move(token);
  }

  weak_ref(const weak_ref &) noexcept = default;
  weak_ref(weak_ref &&) noexcept = default;
  weak_ref &operator=(const weak_ref &) noexcept = default;
  weak_ref &operator=(weak_ref &&) noexcept = default;
  /** weak_ref<Derived> to weak_ref<Base>, weak_ref<T> to weak_ref<void>. */
  template <class U, class = std::enable_if_t<std::is_convertible_v<U *, T *>>>
  weak_ref(const weak_ref<U> &other) noexcept : w_(other.w_), token_(other.token_) {}
  template <class U, class = std::enable_if_t<std::is_convertible_v<U *, T *>>>
  weak_ref(weak_ref<U> &&other) noexcept : w_(std::move(other.w_)), token_(std::move(other.token_)) {}
  /** Drops the weak reference object's reference first, then (if it was the last
   * weak_ref sharing them) the callback. */
  ~weak_ref() { w_.reset(); }

  /** The object with a new reference (rcgc_weakref_get_ref), or an empty ref once it
   * died or for an empty weak_ref. */
  ref<T> lock() const {
    if (!w_) return ref<T>();
    void *obj = nullptr;
    detail::check(rcgc_weakref_get_ref(w_.get(), &obj));
    return ref<T>(adopt, static_cast<T *>(obj));
  }
  /** Whether the object has died (true for an empty weak_ref). */
  bool expired() const noexcept {
    if (!w_) return true;
    void *obj = nullptr;
    if (rcgc_weakref_get_ref(w_.get(), &obj) != RCGC_OK || obj == nullptr) return true;
    rcgc_decref_inline(obj);
    return false;
  }
  /** Makes this weak_ref empty. */
  void reset() noexcept {
    w_.reset();
    token_.reset();
  }
  void swap(weak_ref &other) noexcept {
    w_.swap(other.w_);
    token_.swap(other.token_);
  }
  /** The weak reference object (borrowed; NULL for an empty weak_ref). */
  void *get() const noexcept { return w_.get(); }
  /** Whether this weak_ref has a weak reference object (it may be expired). */
  explicit operator bool() const noexcept { return static_cast<bool>(w_); }

 private:
  template <class U>
  friend class weak_ref;
  template <class U, class F>
  friend struct detail::weak_callback;

  weak_ref(ref<void> w, std::shared_ptr<detail::weak_token> token) noexcept
      : w_(std::move(w)), token_(std::move(token)) {}
  static void *void_of(const T *p) noexcept { return const_cast<void *>(static_cast<const void *>(p)); }

  ref<void> w_;
  std::shared_ptr<detail::weak_token> token_;
};

template <class T>
void swap(weak_ref<T> &a, weak_ref<T> &b) noexcept {
  a.swap(b);
}

template <class T, class F>
void detail::weak_callback<T, F>::call(void *weakref) {
  std::shared_ptr<weak_token> alive = token.lock();
  if (!alive) return;  // no weak_ref is left: forget() destroyed the callable
  if constexpr (std::is_invocable_v<F &, const weak_ref<T> &>) {
    const weak_ref<T> self(ref<void>(borrow, weakref), std::move(alive));
    (*fn)(self);
  } else {
    (*fn)();
  }
}

/** weakref.getweakrefcount(obj): the number of weak reference objects to `obj`
 * (weak_refs sharing one count once); 0 for an empty ref. */
template <class T>
std::size_t weakref_count(const ref<T> &obj) noexcept {
  return obj ? rcgc_weakref_count(obj.get()) : 0;
}

namespace detail {
/** rcgc_object_fn that appends a new reference to a std::vector<ref<void>>; an
 * exception (bad_alloc) is kept for the caller to rethrow, the rest skipped. */
struct object_list {
  std::vector<ref<void>> objects;
  std::exception_ptr failed;

  static void append(void *obj, void *ctx) noexcept {
    object_list *list = static_cast<object_list *>(ctx);
    if (list->failed) return;
    try {
      list->objects.emplace_back(borrow, obj);
    } catch (...) {
      list->failed = std::current_exception();
    }
  }
  /** The objects, or the exception the call or append met. */
  std::vector<ref<void>> finish(rcgc_result r) {
    if (failed) std::rethrow_exception(failed);
    check(r);
    return std::move(objects);
  }
};

/** rcgc_write_fn into a std::string or a std::ostream; an exception stops the
 * output (the call returns RCGC_ERR_ABORTED) and is rethrown by finish(). */
struct text_sink {
  std::string *text = nullptr;
  std::ostream *stream = nullptr;
  std::exception_ptr failed;

  static int write(const char *data, std::size_t len, void *ctx) noexcept {
    text_sink *sink = static_cast<text_sink *>(ctx);
    try {
      if (sink->text != nullptr) {
        sink->text->append(data, len);
      } else {
        sink->stream->write(data, static_cast<std::streamsize>(len));
        if (!*sink->stream) return 1;  // RCGC_ERR_ABORTED
      }
      return 0;
    } catch (...) {
      sink->failed = std::current_exception();
      return 1;
    }
  }
  void finish(rcgc_result r) const {
    if (failed) std::rethrow_exception(failed);
    check(r);
  }
};

/** A gc callback or the debug sink, owned by the heap (heap_state). */
struct heap_state;
struct heap_callback {
  virtual ~heap_callback() = default;
  heap_state *state = nullptr;
  std::uint64_t id = 0;
  rcgc_gc_callback_fn gc_fn = nullptr;  // for rcgc_remove_callback
};

/** Never registered: rcgc_remove_callback with it words "not registered". */
inline void no_callback(rcgc_gc_phase, const rcgc_gc_info *, void *) noexcept {}

/** What a heap object owns besides its rcgc_heap: the callables rcgc may call. A
 * callable removed while a callable runs waits in `retired` until none runs (it may
 * be the running one). Behind a unique_ptr, so its address survives heap moves. */
struct heap_state {
  std::vector<std::unique_ptr<heap_callback>> callbacks;
  std::unique_ptr<heap_callback> sink;
  std::vector<std::unique_ptr<heap_callback>> retired;
  std::uint64_t last_id = 0;
  int running = 0;

  void retire(std::unique_ptr<heap_callback> cb) noexcept {
    if (!cb) return;
    if (running == 0) return;  // `cb` is destroyed on return
    try {
      retired.push_back(std::move(cb));
    } catch (...) {
      // No room to defer: leaking one callable beats destroying a running one.
      (void)cb.release();
    }
  }
  struct running_scope {
    heap_state *st;
    explicit running_scope(heap_state *s) noexcept : st(s) { ++st->running; }
    ~running_scope() {
      if (--st->running == 0 && !st->retired.empty()) {
        std::vector<std::unique_ptr<heap_callback>> dead;
        dead.swap(st->retired);
      }
    }
    running_scope(const running_scope &) = delete;
    running_scope &operator=(const running_scope &) = delete;
  };
};

template <class F>
struct gc_callback final : heap_callback {
  template <class G>
  explicit gc_callback(G &&g) : fn(std::forward<G>(g)) {}
  F fn;
  static void trampoline(rcgc_gc_phase phase, const rcgc_gc_info *info, void *ctx) noexcept {
    gc_callback *self = static_cast<gc_callback *>(ctx);
    heap_state::running_scope scope(self->state);
    try {
      self->fn(phase, *info);
    } catch (...) {
      report_unraisable("gc callback");
    }
  }
};

template <class F>
struct debug_sink final : heap_callback {
  template <class G>
  explicit debug_sink(G &&g) : fn(std::forward<G>(g)) {}
  F fn;
  static void trampoline(const char *line, void *ctx) noexcept {
    debug_sink *self = static_cast<debug_sink *>(ctx);
    heap_state::running_scope scope(self->state);
    try {
      self->fn(line);
    } catch (...) {
      report_unraisable("debug output");
    }
  }
};
}  // namespace detail

/** What heap::add_callback returns and heap::remove_callback takes. */
enum class callback_id : std::uint64_t {};

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
 * every object still on it (rcgc_heap_free). All refs, weak_refs and types of the
 * heap must be gone or unused by then.
 *
 * The heap object also owns the callables given to add_callback and
 * set_debug_output (they stay put when the heap object moves). The destructor
 * removes and destroys the gc callbacks before rcgc_heap_free, so its final
 * collection calls none (CPython's shutdown collection calls no gc.callbacks either)
 * and references they captured are dropped while the heap lives; the debug sink
 * stays for rcgc_heap_free (which writes the RCGC_DEBUG_LEAK report to it) and is
 * destroyed after it, so it must hold no ref of the heap.
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
  heap(heap &&other) noexcept : h_(other.h_), state_(std::move(other.state_)) { other.h_ = nullptr; }
  heap &operator=(heap &&other) noexcept {
    if (this != &other) {
      destroy();
      h_ = other.h_;
      state_ = std::move(other.state_);
      other.h_ = nullptr;
    }
    return *this;
  }
  ~heap() { destroy(); }

  rcgc_heap *get() const noexcept { return h_; }
  /** Gives up ownership; the caller frees the heap. The gc callbacks and the debug
   * sink set through this object are removed first (output goes back to stderr). */
  [[nodiscard]] rcgc_heap *release() noexcept {
    unhook();
    state_.reset();
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

  // --- the rest of the gc module ----------------------------------------------

  /** gc.get_stats(): generations 0, 1 and 2 (rcgc_get_stats). */
  std::array<rcgc_gen_stats, 3> get_stats() const {
    std::array<rcgc_gen_stats, 3> all{};
    for (int g = 0; g < 3; g++) {
      all[g].struct_size = sizeof(rcgc_gen_stats);
      detail::check(rcgc_get_stats(h_, g, &all[g]));
    }
    return all;
  }

  /**
   * gc.callbacks.append(fn): `fn(rcgc_gc_phase phase, const rcgc_gc_info &info)` runs
   * before (RCGC_GC_START) and after (RCGC_GC_STOP) every collection, automatic or
   * explicit. The heap object owns a copy of `fn` until remove_callback or its
   * destructor. An exception from `fn` goes to the unraisable hook; the collection
   * and the other callbacks go on. collect() from `fn` throws RCGC_ERR_REENTRANT.
   */
  template <class F>
  callback_id add_callback(F &&fn) {
    using cb_type = detail::gc_callback<std::decay_t<F>>;
    static_assert(std::is_invocable_v<std::decay_t<F> &, rcgc_gc_phase, const rcgc_gc_info &>,
                  "a gc callback takes (rcgc_gc_phase, const rcgc_gc_info&)");
    auto cb = std::make_unique<cb_type>(std::forward<F>(fn));
    detail::heap_state &st = state();
    cb->state = &st;
    cb->gc_fn = &cb_type::trampoline;
    cb->id = ++st.last_id;
    st.callbacks.reserve(st.callbacks.size() + 1);  // push_back below cannot throw
    detail::check(rcgc_add_callback(h_, cb->gc_fn, cb.get()));
    st.callbacks.push_back(std::move(cb));
    return callback_id{st.last_id};
  }
  /** gc.callbacks.remove(fn): unregisters and destroys the callback (after it
   * returns, when called from itself). An id that is not registered (removed
   * already) throws rcgc::error RCGC_ERR_INVALID_ARGUMENT, as rcgc_remove_callback. */
  void remove_callback(callback_id id) {
    if (state_) {
      auto &cbs = state_->callbacks;
      for (auto it = cbs.begin(); it != cbs.end(); ++it) {
        if ((*it)->id != static_cast<std::uint64_t>(id)) continue;
        detail::check(rcgc_remove_callback(h_, (*it)->gc_fn, it->get()));
        std::unique_ptr<detail::heap_callback> cb = std::move(*it);
        cbs.erase(it);
        state_->retire(std::move(cb));
        return;
      }
    }
    // Not ours: let rcgc word the error.
    detail::check(rcgc_remove_callback(h_, &detail::no_callback, nullptr));
    throw error(RCGC_ERR_INVALID_ARGUMENT, "rcgc::heap::remove_callback: not registered");
  }

  /** gc.freeze(), gc.unfreeze(), gc.get_freeze_count(). */
  void freeze() { detail::check(rcgc_freeze(h_)); }
  void unfreeze() { detail::check(rcgc_unfreeze(h_)); }
  std::size_t freeze_count() const noexcept { return rcgc_get_freeze_count(h_); }

  /** gc.get_objects(generation): the tracked objects of `generation`, or of all
   * three for -1 (not the permanent generation), each with a new reference. */
  std::vector<ref<void>> get_objects(int generation = -1) {
    detail::object_list list;
    return list.finish(rcgc_get_objects(h_, generation, &detail::object_list::append, &list));
  }
  /** gc.get_referrers(obj): the tracked objects whose traverse reports `obj`. */
  template <class U>
  std::vector<ref<void>> get_referrers(const ref<U> &obj) {
    detail::object_list list;
    return list.finish(
        rcgc_get_referrers(h_, obj.get(), &detail::object_list::append, &list));
  }
  /** gc.get_referents(obj): what `obj`'s traverse reports, in order (a reference
   * held twice is there twice). An empty ref throws RCGC_ERR_NULL_ARGUMENT. */
  template <class U>
  std::vector<ref<void>> get_referents(const ref<U> &obj) {
    detail::object_list list;
    return list.finish(rcgc_get_referents(obj.get(), &detail::object_list::append, &list));
  }
  /** gc.is_finalized(obj); false for an empty ref. */
  template <class U>
  static bool is_finalized(const ref<U> &obj) noexcept {
    return rcgc_is_finalized(obj.get());
  }
  /** weakref.getweakrefcount(obj) (also rcgc::weakref_count). */
  template <class U>
  static std::size_t weakref_count(const ref<U> &obj) noexcept {
    return rcgc::weakref_count(obj);
  }

  // --- debugging ----------------------------------------------------------------

  /** gc.set_debug(flags): rcgc_debug_flag values combined with |. */
  void set_debug(int flags) { detail::check(rcgc_set_debug(h_, flags)); }
  /** gc.get_debug(). */
  int get_debug() const noexcept { return rcgc_get_debug(h_); }
  /**
   * Sends the debug output to `sink(const char *line)` (no trailing newline; the
   * text is valid during the call) instead of stderr. The heap object owns a copy of
   * `sink` until it is replaced or the heap is freed (it also receives
   * rcgc_heap_free's RCGC_DEBUG_LEAK report). An exception from it goes to the
   * unraisable hook.
   */
  template <class F>
  void set_debug_output(F &&sink) {
    using sink_type = detail::debug_sink<std::decay_t<F>>;
    static_assert(std::is_invocable_v<std::decay_t<F> &, const char *>,
                  "a debug sink takes (const char *line)");
    auto cb = std::make_unique<sink_type>(std::forward<F>(sink));
    detail::heap_state &st = state();
    cb->state = &st;
    detail::check(rcgc_set_debug_output(h_, &sink_type::trampoline, cb.get()));
    std::unique_ptr<detail::heap_callback> old = std::move(st.sink);
    st.sink = std::move(cb);
    st.retire(std::move(old));  // it may be the sink running now
  }
  /** Debug output back to stderr; the sink is destroyed. */
  void set_debug_output(std::nullptr_t) {
    detail::check(rcgc_set_debug_output(h_, nullptr, nullptr));
    if (state_) state_->retire(std::move(state_->sink));
  }
  /** gc.garbage: what RCGC_DEBUG_SAVEALL kept, in the order saved, with new references. */
  std::vector<ref<void>> garbage() {
    detail::object_list list;
    return list.finish(rcgc_get_garbage(h_, &detail::object_list::append, &list));
  }
  /** len(gc.garbage). */
  std::size_t garbage_count() const noexcept { return rcgc_get_garbage_count(h_); }
  /** del gc.garbage[:]. */
  void clear_garbage() { detail::check(rcgc_clear_garbage(h_)); }

  // --- a picture of the heap (README) ------------------------------------------

  /** The whole heap as RCGC_GRAPH_DOT or RCGC_GRAPH_JSON text (rcgc_export_graph). */
  std::string export_graph(int format) {
    std::string text;
    detail::text_sink sink;
    sink.text = &text;
    sink.finish(rcgc_export_graph(h_, format, nullptr, 0, &detail::text_sink::write, &sink));
    return text;
  }
  /**
   * The roots and what they reach (no roots: an empty picture). `roots` is any
   * container of ref<U> (a std::vector<rcgc::ref<Node>>, a std::array, ...); the
   * refs it holds are references from outside the heap, so they count in the
   * refcounts and external counts the picture shows. The braced form,
   * export_graph(format, {a, b}), copies each root once more for the call (+2 each).
   */
  template <class Roots, class = decltype(std::declval<const Roots &>().begin()->get())>
  std::string export_graph(int format, const Roots &roots) {
    std::string text;
    detail::text_sink sink;
    sink.text = &text;
    std::vector<void *> raw = root_pointers(roots);
    sink.finish(rcgc_export_graph(h_, format, raw.data(), raw.size(), &detail::text_sink::write,
                                  &sink));
    return text;
  }
  std::string export_graph(int format, const std::vector<ref<void>> &roots) {
    return export_graph<std::vector<ref<void>>, void *>(format, roots);
  }
  /** The same, written to `out` as it comes; a stream that fails stops it with
   * rcgc::error RCGC_ERR_ABORTED (an exception the stream throws is rethrown). */
  void export_graph(std::ostream &out, int format) {
    detail::text_sink sink;
    sink.stream = &out;
    sink.finish(rcgc_export_graph(h_, format, nullptr, 0, &detail::text_sink::write, &sink));
  }
  template <class Roots, class = decltype(std::declval<const Roots &>().begin()->get())>
  void export_graph(std::ostream &out, int format, const Roots &roots) {
    detail::text_sink sink;
    sink.stream = &out;
    std::vector<void *> raw = root_pointers(roots);
    sink.finish(rcgc_export_graph(h_, format, raw.data(), raw.size(), &detail::text_sink::write,
                                  &sink));
  }
  void export_graph(std::ostream &out, int format, const std::vector<ref<void>> &roots) {
    export_graph<std::vector<ref<void>>, void *>(out, format, roots);
  }

  /**
   * "Why is obj alive?" (rcgc_why_alive): a shortest chain of references from an
   * object held from outside the heap to `obj`, that object first and `obj` last,
   * each with a new reference; std::nullopt when there is none (RCGC_ERR_NOT_FOUND:
   * garbage waiting for a collection). Other failures throw.
   *
   * A ref is a reference from outside the heap, so asked through a ref, `obj` is
   * always held (a chain of one, at least). To ask about an object without holding
   * it, pass a weak_ref: the question is then about its referent as the rest of the
   * program holds it (an expired weak_ref throws rcgc::error RCGC_ERR_NULL_ARGUMENT).
   */
  template <class U>
  std::optional<std::vector<ref<void>>> why_alive(const ref<U> &obj) {
    return why_alive_raw(obj.get());
  }
  template <class U>
  std::optional<std::vector<ref<void>>> why_alive(const weak_ref<U> &obj) {
    return why_alive_raw(peek(obj));
  }
  /** The same chain as text, one line per object; when no chain exists, the one line
   * saying so (not an exception: why_alive tells the cases apart). */
  template <class U>
  std::string why_alive_text(const ref<U> &obj) {
    return why_alive_text_raw(obj.get());
  }
  template <class U>
  std::string why_alive_text(const weak_ref<U> &obj) {
    return why_alive_text_raw(peek(obj));
  }

 private:
  /** Roots as rcgc_export_graph takes them; never a NULL array (NULL means "all"). */
  template <class Roots>
  static std::vector<void *> root_pointers(const Roots &roots) {
    std::vector<void *> raw;
    raw.reserve(1);
    for (const auto &r : roots) raw.push_back(const_cast<void *>(static_cast<const void *>(r.get())));
    return raw;
  }
  std::optional<std::vector<ref<void>>> why_alive_raw(const void *obj) {
    detail::object_list list;
    rcgc_result r = rcgc_why_alive(h_, obj, &detail::object_list::append, &list, nullptr);
    if (r == RCGC_ERR_NOT_FOUND && !list.failed) return std::nullopt;
    return list.finish(r);
  }
  std::string why_alive_text_raw(const void *obj) {
    std::string text;
    detail::text_sink sink;
    sink.text = &text;
    rcgc_result r = rcgc_why_alive_text(h_, obj, &detail::text_sink::write, &sink);
    sink.finish(r == RCGC_ERR_NOT_FOUND ? RCGC_OK : r);
    return text;
  }
  /** A weak_ref's referent as a borrowed pointer (NULL once dead): the reference
   * lock() takes is dropped at once; the object is alive, so the drop frees nothing. */
  template <class U>
  static const void *peek(const weak_ref<U> &w) {
    ref<U> held = w.lock();
    return held.get();
  }

  detail::heap_state &state() {
    if (!state_) state_ = std::make_unique<detail::heap_state>();
    return *state_;
  }
  /** Removes what this object registered with rcgc and destroys the gc callbacks
   * (not the sink). */
  void unhook() noexcept {
    if (!state_) return;
    for (auto &cb : state_->callbacks) (void)rcgc_remove_callback(h_, cb->gc_fn, cb.get());
    std::vector<std::unique_ptr<detail::heap_callback>> dead;
    dead.swap(state_->callbacks);
    for (auto &cb : dead) state_->retire(std::move(cb));
    if (state_->sink) {
      (void)rcgc_set_debug_output(h_, nullptr, nullptr);
      state_->retire(std::move(state_->sink));
    }
  }
  /** The destructor's order: gc callbacks, then the heap, then the sink. */
  void destroy() noexcept {
    if (state_) {
      for (auto &cb : state_->callbacks) (void)rcgc_remove_callback(h_, cb->gc_fn, cb.get());
      state_->callbacks.clear();
    }
    rcgc_heap_free(h_);
    h_ = nullptr;
    state_.reset();
  }

  rcgc_heap *h_;
  std::unique_ptr<detail::heap_state> state_;
};

}  // namespace rcgc

#endif  // RCGC_HPP
