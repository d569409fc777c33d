-- Tests of the LuaJIT binding: errors, Lua callbacks, counting, callbacks entered
-- while JIT-compiled loops run, and the seed walkthrough (which must also fail on a
-- wrong figure). Exits 1 on the first failure.
--
--   luajit bindings/lua/test_rcgc.lua      (RCGC_SEED_DEMO=target/debug/seed to
--                                           compare with the C demo's figures)
local function here()
  local source = debug.getinfo(1, "S").source
  return source:sub(1, 1) == "@" and source:sub(2):match("^(.*)/[^/]*$") or "."
end
local dir = here()
package.path = dir .. "/?.lua;" .. dir .. "/../../examples/lua/?.lua;" .. package.path

local ffi = require("ffi")
local rcgc = require("rcgc")
local C = rcgc.C

local passed, failed = 0, 0

local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    print("ok    " .. name)
  else
    failed = failed + 1
    print("FAIL  " .. name .. ": " .. tostring(err))
  end
end

local function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: got %s, want %s", what or "value", tostring(got), tostring(want)), 2)
  end
end

ffi.cdef([[
typedef struct Pair { void *first; void *second; int tag; } Pair;
]])

-- A type with Lua callbacks; counts what the collector did.
local function pair_type(heap, counters)
  return rcgc.register_type(heap, {
    name = "Pair",
    ctype = "Pair",
    traverse = function(p, visit)
      visit(p.first)
      visit(p.second)
    end,
    clear = function(p)
      counters.clears = counters.clears + 1
      rcgc.clear_ref(p) -- &p->first
      rcgc.clear_ref(ffi.cast("void **", p) + 1) -- &p->second
    end,
    destroy = function(p)
      counters.destroyed = counters.destroyed + 1
    end,
  })
end

test("the declarations come from rcgc.h", function()
  eq(rcgc.version(), string.format("%d.%d.%d", 0, 1, 0), "version")
  eq(tonumber(C.RCGC_ERR_INVALID_ARGUMENT), 2, "RCGC_ERR_INVALID_ARGUMENT")
  local decls = rcgc.declarations("#define X 1\n/** doc */\nRCGC_MUST_USE int f(void); // c\n")
  eq(decls:match("^%s*(.-)%s*$"), "int f(void);", "stripped declarations")
  decls = rcgc.declarations("int f(void);\n#ifndef RCGC_INLINE_H\nstatic inline void g(void) {\n}\n#endif\n")
  eq(decls:match("^%s*(.-)%s*$"), "int f(void);", "the inline section dropped")
end)

test("errors carry the library's code, name and message", function()
  local heap = rcgc.heap_new()
  local ok, e = pcall(rcgc.collect, heap, 3)
  eq(ok, false, "pcall")
  eq(e.code, 2, "code")
  eq(e.name, "RCGC_ERR_INVALID_ARGUMENT", "name")
  eq(e.message, "rcgc_collect: generation 3 is outside 0..=2", "message")
  eq(tostring(e), "RCGC_ERR_INVALID_ARGUMENT: rcgc_collect: generation 3 is outside 0..=2", "tostring")
  local box = rcgc.slots_new(heap, 3)
  ok, e = pcall(rcgc.slots_set, box, 3, box)
  eq(ok, false, "slots_set out of range")
  eq(e.message, "rcgc_slots_set: index 3 is out of range for a slots object of length 3", "message")
  eq(rcgc.refcount(box), 1, "nothing changed")
  rcgc.decref(box)
  rcgc.heap_free(heap)
end)

test("the gc module", function()
  local heap = rcgc.heap_new()
  local t0, t1, t2 = rcgc.get_threshold(heap)
  eq(t0 .. "," .. t1 .. "," .. t2, "700,10,10", "thresholds")
  rcgc.set_threshold(heap, 7777, 11, 12)
  t0, t1, t2 = rcgc.get_threshold(heap)
  eq(t0 .. "," .. t1 .. "," .. t2, "7777,11,12", "thresholds")
  rcgc.check(C.rcgc_disable(heap))
  eq(C.rcgc_is_enabled(heap), false, "disabled")
  rcgc.check(C.rcgc_enable(heap))
  eq(C.rcgc_is_enabled(heap), true, "enabled")
  eq(rcgc.collect(heap, 0), 0, "collect(0)")
  local c0, c1, c2 = rcgc.get_count(heap)
  eq(c0 .. "," .. c1 .. "," .. c2, "0,1,0", "counts")
  rcgc.heap_free(heap)
end)

test("cycles of a type with Lua callbacks are collected", function()
  local heap = rcgc.heap_new()
  local counters = { clears = 0, destroyed = 0 }
  local pair_t = pair_type(heap, counters)
  local a = ffi.cast("Pair *", rcgc.alloc(pair_t))
  local b = ffi.cast("Pair *", rcgc.alloc(pair_t))
  eq(C.rcgc_is_tracked(a), true, "tracked")
  rcgc.set_ref(a, b)
  rcgc.set_ref(b, a)
  eq(rcgc.refcount(a), 2, "refcount of a")
  rcgc.decref(a)
  rcgc.decref(b)
  eq(rcgc.stats(heap).live_objects, 2, "live before")
  eq(rcgc.collect(heap, 2), 2, "found")
  eq(counters.destroyed, 2, "destroyed")
  eq(counters.clears, 3, "clears (one by the collection, two at refcount zero)")
  eq(rcgc.stats(heap).live_objects, 0, "live after")
  rcgc.heap_free(heap)
end)

test("701 allocations leave the counts at (0, 1, 0)", function()
  local heap = rcgc.heap_new()
  local counters = { clears = 0, destroyed = 0 }
  local pair_t = pair_type(heap, counters)
  local keep = {}
  for i = 1, 701 do
    keep[i] = rcgc.alloc(pair_t)
  end
  local c0, c1, c2 = rcgc.get_count(heap)
  eq(c0 .. "," .. c1 .. "," .. c2, "0,1,0", "counts")
  for i = 1, 701 do
    rcgc.decref(keep[i])
  end
  eq(counters.destroyed, 701, "destroyed")
  rcgc.heap_free(heap)
end)

test("Lua traverse callbacks during automatic collections in a JIT-compiled loop", function()
  local heap = rcgc.heap_new()
  local counters = { clears = 0, destroyed = 0 }
  local pair_t = pair_type(heap, counters)
  rcgc.set_threshold(heap, 10, 10, 10)
  for i = 1, 5000 do -- hot: LuaJIT compiles this loop
    local p = ffi.cast("Pair *", rcgc.alloc(pair_t))
    rcgc.set_ref(p, p) -- garbage self-cycles, found by automatic collections
    rcgc.decref(p)
  end
  local before = counters.destroyed
  eq(before > 0, true, "automatic collections ran")
  eq(before + rcgc.collect(heap, 2), 5000, "every self-cycle found")
  eq(counters.destroyed, 5000, "destroyed")
  eq(rcgc.stats(heap).live_objects, 0, "live")
  rcgc.heap_free(heap)
end)

test("heap_free frees what is left and runs destroy", function()
  local heap = rcgc.heap_new()
  local counters = { clears = 0, destroyed = 0 }
  local pair_t = pair_type(heap, counters)
  local p = rcgc.alloc(pair_t)
  rcgc.set_ref(p, p)
  local q = rcgc.alloc(pair_t) -- still referenced by us: freed with the heap
  eq(q ~= nil, true, "allocated")
  rcgc.heap_free(heap)
  eq(counters.destroyed, 2, "destroyed")
end)

test("the seed walkthrough", function()
  local seed = require("seed")
  local lines = {}
  local wrong = seed.run(nil, function(s)
    lines[#lines + 1] = s
  end)
  eq(wrong, 0, "wrong figures")
  eq(lines[#lines], "Every figure matched the walkthrough.", "last line")
end)

test("the seed walkthrough fails on a wrong figure", function()
  local seed = require("seed")
  local lines = {}
  local complaints = {}
  local wrong = seed.run({ ["get_threshold()"] = { 700, 10, 11 } }, function(s)
    lines[#lines + 1] = s
  end, function(s)
    complaints[#complaints + 1] = s
  end)
  eq(table.concat(complaints), "seed: wrong figure: get_threshold() is (700, 10, 10), should be (700, 10, 11)\n",
    "stderr")
  eq(wrong, 1, "wrong figures")
  eq(lines[#lines], "1 figure(s) were WRONG (see above)", "last line")
  local text = table.concat(lines, "\n")
  eq(text:find("prints (700, 10, 10)   [WRONG: should be (700, 10, 11)]", 1, true) ~= nil, true, "WRONG line")
end)

local function figure_lines(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("^== ") or line:find("^  python> ") or line:find("^          prints ")
      or line:find("[ok]", 1, true) or line:find("[WRONG", 1, true) then
      out[#out + 1] = line
    end
  end
  return out
end

local demo = os.getenv("RCGC_SEED_DEMO")
if demo and demo ~= "" then
  test("the seed prints what the C demo prints", function()
    local p = assert(io.popen(demo))
    local c = figure_lines(p:read("*a"))
    p:close()
    local lines = {}
    require("seed").run(nil, function(s)
      lines[#lines + 1] = s
    end)
    local ours = figure_lines(table.concat(lines, "\n"))
    eq(#c, 55, "figure lines of the C demo")
    eq(#ours, #c, "figure lines")
    for i = 1, #c do
      eq(ours[i], c[i], "line " .. i)
    end
  end)
end

print(string.format("test_rcgc.lua: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
