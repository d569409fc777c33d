-- The seed demo in LuaJIT: "How is memory managed in Python?" replayed with rcgc
-- through LuaJIT's FFI (bindings/lua/rcgc.lua), step by step, as examples/seed.c
-- does in C. Every figure is checked; the program exits 1 if any is wrong.
--
--   cargo build && luajit examples/lua/seed.lua
--
-- As a module (bindings/lua/test_rcgc.lua): require it with package.path set,
-- then seed.run(want, out, err) returns the number of wrong figures, `want`
-- overriding expected values by figure name, `out` and `err` replacing print and
-- io.stderr:write.
local function here()
  local source = debug.getinfo(1, "S").source
  return source:sub(1, 1) == "@" and source:sub(2):match("^(.*)/[^/]*$") or "."
end
package.path = here() .. "/../../bindings/lua/?.lua;" .. package.path

local ffi = require("ffi")
local rcgc = require("rcgc")
local C = rcgc.C

-- The walkthrough's class:   class Test(object): pass
-- One reference field, obj, so that x.obj = x can be done; `serial` lets destroy
-- note which Test died. Its traverse, clear and destroy are Lua functions.
ffi.cdef([[
typedef struct Test { void *obj; int serial; } Test;
]])

local M = {}

function M.run(want_overrides, out, err)
  want_overrides = want_overrides or {}
  out = out or print
  err = err or function(s)
    io.stderr:write(s)
  end
  local wrong = 0

  local function section(title)
    out("\n== " .. title .. " ==")
  end
  local function step(python, lua)
    out("\n  python> " .. python)
    out("  lua:    " .. lua)
  end
  local function expect(figure, got, want)
    if want_overrides[figure] ~= nil then
      want = want_overrides[figure]
    end
    if got == want then
      out(string.format("          %-44s = %d   [ok]", figure, got))
    else
      out(string.format("          %-44s = %d   [WRONG: should be %d]", figure, got, want))
      err(string.format("seed: wrong figure: %s is %d, should be %d\n", figure, got, want))
      wrong = wrong + 1
    end
  end
  local function yesno(b)
    return b and "yes" or "no"
  end
  local function expect_yes(question, got, want)
    if want_overrides[question] ~= nil then
      want = want_overrides[question]
    end
    if got == want then
      out(string.format("          %-44s = %s   [ok]", question, yesno(got)))
    else
      out(string.format("          %-44s = %s   [WRONG: should be %s]", question, yesno(got), yesno(want)))
      err(string.format("seed: wrong answer: %s %s, should be %s\n", question, yesno(got), yesno(want)))
      wrong = wrong + 1
    end
  end
  local function expect_triple(what, g0, g1, g2, w0, w1, w2)
    local o = want_overrides[what]
    if o then
      w0, w1, w2 = o[1], o[2], o[3]
    end
    if g0 == w0 and g1 == w1 and g2 == w2 then
      out(string.format("          prints (%d, %d, %d)   [ok]", g0, g1, g2))
    else
      out(string.format("          prints (%d, %d, %d)   [WRONG: should be (%d, %d, %d)]", g0, g1, g2, w0, w1, w2))
      err(string.format("seed: wrong figure: %s is (%d, %d, %d), should be (%d, %d, %d)\n",
        what, g0, g1, g2, w0, w1, w2))
      wrong = wrong + 1
    end
  end
  local function live(heap)
    return rcgc.stats(heap).live_objects
  end

  out(string.format('rcgc %s: "How is memory managed in Python?", replayed in LuaJIT', rcgc.version()))
  out("Each step shows the Python line it mirrors, the rcgc call, and what rcgc\n"
    .. "returned. Every figure is checked: [ok] means it is what it should be.")

  section("1. Objects live on a private heap")
  out("  Python keeps every object on a private heap. rcgc gives a Lua program one\n"
    .. "  of its own: objects are allocated on it and freed when nobody needs them.")

  step("x = [0] * 5", "heap = rcgc.heap_new();  x = rcgc.slots_new(heap, 5)")
  local heap = rcgc.heap_new()
  local x = rcgc.slots_new(heap, 5)
  out(string.format('          x is a "%s" object with %d slots (a list-like container)',
    ffi.string(C.rcgc_type_name(C.rcgc_type_of(x))), tonumber(C.rcgc_slots_len(x))))
  expect("refcount of x (one name: x)", rcgc.refcount(x), 1)
  expect("live objects on the heap", live(heap), 1)

  section("2. The refcount rises")
  out("  ...when an object is given a new name, or placed in a container.")

  step("y = x                  # a new name", "local y = x;  rcgc.incref(y)")
  local y = x
  rcgc.incref(y)
  expect("refcount of x", rcgc.refcount(x), 2)

  step("box = [x]              # placed in a container", "box = rcgc.slots_new(heap, 1);  rcgc.slots_set(box, 0, x)")
  local box = rcgc.slots_new(heap, 1)
  rcgc.slots_set(box, 0, x)
  expect("refcount of x", rcgc.refcount(x), 3)

  section("3. The refcount falls")
  out("  ...when a name is reassigned, goes out of scope, or the object is removed.")

  step("y = None               # the name y is reassigned", "rcgc.decref(y);  y = nil")
  rcgc.decref(y)
  y = nil
  expect("refcount of x", rcgc.refcount(x), 2)

  local function f(obj)
    local z = obj
    rcgc.incref(z) -- z = x: a new name
    expect("refcount of x while f() runs", rcgc.refcount(obj), 3)
    rcgc.decref(z) -- f returns: z goes out of scope
  end
  step("f()                    # def f(): z = x", "f(x)    -- incref on entry, decref on return")
  f(x)
  expect("refcount of x after f() returned", rcgc.refcount(x), 2)

  step("box.remove(x)          # removed from the container", "rcgc.slots_set(box, 0, nil)")
  rcgc.slots_set(box, 0, nil)
  expect("refcount of x", rcgc.refcount(x), 1)

  step("del x                  # the last name goes", "rcgc.decref(x);  x = nil")
  rcgc.decref(x)
  x = nil
  out("          the count reached 0, so x was freed at once (no collector needed)")
  expect("live objects on the heap (only box)", live(heap), 1)

  step("del box", "rcgc.decref(box);  box = nil")
  rcgc.decref(box)
  box = nil
  expect("live objects on the heap", live(heap), 0)

  section("4. An object that refers to itself")
  out("  Refcounting alone cannot free a cycle: the object keeps its own count up.")

  local destroyed = {} -- serial -> true
  local destroyed_count = 0
  step("class Test(object): pass", 'Test_type = rcgc.register_type(heap, { name = "Test", ctype = "Test", ... })')
  local Test_type = rcgc.register_type(heap, {
    name = "Test",
    ctype = "Test",
    traverse = function(t, visit)
      visit(t.obj)
    end,
    clear = function(t)
      rcgc.clear_ref(t) -- obj is the first field: &t->obj == t
    end,
    destroy = function(t)
      destroyed[t.serial] = true
      destroyed_count = destroyed_count + 1
    end,
  })
  out(string.format('          registered type "%s": one reference field, obj', ffi.string(C.rcgc_type_name(Test_type))))

  local function new_test(serial)
    local t = ffi.cast("Test *", rcgc.alloc(Test_type))
    t.serial = serial
    return t
  end

  step("x = Test()", "local t = ffi.cast(\"Test *\", rcgc.alloc(Test_type))")
  local t = new_test(1)
  expect("refcount of x", rcgc.refcount(t), 1)

  step("x.obj = x              # x is now an attribute of itself", "rcgc.set_ref(t, t)   -- &t->obj == t")
  rcgc.set_ref(t, t)
  expect("refcount of x (the name x, and x.obj)", rcgc.refcount(t), 2)

  step("del x", "rcgc.decref(t)   -- we drop our reference; t is only peeked at below")
  rcgc.decref(t)
  out("          nobody can reach the object any more, but x.obj still counts:")
  expect("refcount of the old x", rcgc.refcount(t), 1)
  expect_yes("is it still alive (not destroyed)?", not destroyed[1], true)
  expect("live objects on the heap", live(heap), 1)

  step("gc.collect()           # the cycle collector finds it", "found = rcgc.collect(heap, 2)")
  local found = rcgc.collect(heap, 2)
  out("          (CPython 3.11+ also returns 1 here: the instance has no separate\n"
    .. "          __dict__ object; older Pythons counted the dict too and returned 2)")
  expect("objects found unreachable", found, 1)
  expect_yes("has the old x been destroyed?", destroyed[1] == true, true)
  expect("live objects on the heap", live(heap), 0)
  t = nil -- freed: never touch it again

  section("5. The gc module")

  step("print(gc.get_threshold())", "rcgc.get_threshold(heap)")
  local t0, t1, t2 = rcgc.get_threshold(heap)
  expect_triple("get_threshold()", t0, t1, t2, 700, 10, 10)
  out("          generation 0 is collected when allocations minus deallocations of\n"
    .. "          tracked objects pass 700; generations 1 and 2 after 10 collections\n"
    .. "          of the generation below")

  out("\n  Before counting, make some garbage: two cycles of Test objects.")
  step("a, b = Test(), Test(); a.obj = b; b.obj = a; del a, b",
    "2 x rcgc.alloc, 2 x rcgc.set_ref, 2 x rcgc.decref   -- a 2-object cycle")
  local ring = {}
  for i = 1, 5 do
    ring[i] = new_test(i + 1)
  end
  rcgc.set_ref(ring[1], ring[2])
  rcgc.set_ref(ring[2], ring[1])
  step("c, d, e = Test(), Test(), Test(); c.obj = d; d.obj = e; e.obj = c; del c, d, e",
    "3 x rcgc.alloc, 3 x rcgc.set_ref, 3 x rcgc.decref   -- a 3-object ring")
  rcgc.set_ref(ring[3], ring[4])
  rcgc.set_ref(ring[4], ring[5])
  rcgc.set_ref(ring[5], ring[3])
  for i = 1, 5 do
    rcgc.decref(ring[i])
  end
  ring = nil
  expect("live objects on the heap (all garbage)", live(heap), 5)

  step("print(gc.get_count())", "rcgc.get_count(heap)")
  local c0, c1, c2 = rcgc.get_count(heap)
  expect_triple("get_count()", c0, c1, c2, 5, 0, 0)
  out("          5 tracked objects allocated since the last collection; no collections\n"
    .. "          of generations 0 or 1 since then (Python itself would show other\n"
    .. "          numbers: the interpreter allocates objects of its own)")

  step("print(gc.collect())", "rcgc.collect(heap, 2)")
  local destroyed_before = destroyed_count
  found = rcgc.collect(heap, 2)
  out(string.format("          prints %d   (the 2-object cycle + the 3-object ring)", found))
  expect("objects found unreachable", found, 5)
  expect("Test objects destroyed by this collection", destroyed_count - destroyed_before, 5)
  expect("live objects on the heap", live(heap), 0)

  step("print(gc.get_count())  # a full collection resets every count", "rcgc.get_count(heap)")
  c0, c1, c2 = rcgc.get_count(heap)
  expect_triple("get_count() after collect()", c0, c1, c2, 0, 0, 0)

  step("gc.set_threshold(7777, 11, 11); print(gc.get_threshold())",
    "rcgc.set_threshold(heap, 7777, 11, 11);  rcgc.get_threshold(heap)")
  rcgc.set_threshold(heap, 7777, 11, 11)
  t0, t1, t2 = rcgc.get_threshold(heap)
  expect_triple("get_threshold() after set_threshold", t0, t1, t2, 7777, 11, 11)

  section("Done")
  step("(the interpreter exits)", "rcgc.heap_free(heap)")
  rcgc.heap_free(heap)
  out("          the heap and everything on it is gone\n")

  if wrong ~= 0 then
    out(string.format("%d figure(s) were WRONG (see above)", wrong))
  else
    out("Every figure matched the walkthrough.")
  end
  return wrong
end

-- Run as a program (luajit examples/lua/seed.lua), not when required as a module.
if not pcall(debug.getlocal, 4, 1) then
  os.exit(M.run() == 0 and 0 or 1)
end
return M
