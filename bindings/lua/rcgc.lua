-- rcgc from LuaJIT, through its FFI.
--
--   local rcgc = require("rcgc")     -- package.path must reach bindings/lua/?.lua
--   local C = rcgc.C                 -- every function of rcgc.h, as declared there
--   local heap = rcgc.heap_new()
--   local found = rcgc.collect(heap, 2)
--
-- The declarations are read from rcgc.h itself (no copy to go stale): $RCGC_HEADER,
-- else the checkout's include/rcgc.h next to this file, else the installed one
-- (/usr/local/include, /usr/include). The library: $RCGC_LIB, else the checkout's
-- target/debug or target/release, else the system's (ffi.load("rcgc"), e.g. after
-- `make install` and ldconfig, or with LD_LIBRARY_PATH).
--
-- Functions that can fail raise a Lua error whose value is a table
-- { code = 2, name = "RCGC_ERR_INVALID_ARGUMENT", message = "rcgc_collect: ..." }
-- (tostring gives "NAME: message"); catch it with pcall.
--
-- Callbacks written in Lua (rcgc.register_type) are ffi.cast callbacks. LuaJIT
-- cannot enter a callback from a C call made by JIT-compiled code, so the wrappers
-- here that may run callbacks (alloc, decref, set_ref, clear_ref, slots_set,
-- collect, heap_free) are excluded from compilation; call those through this
-- module, not through rcgc.C, in loops.
local ffi = require("ffi")

local M = { ffi = ffi }

local function script_dir()
  local source = debug.getinfo(1, "S").source
  local dir = source:sub(1, 1) == "@" and source:sub(2):match("^(.*)/[^/]*$") or nil
  return dir or "."
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- jit.off(f) returns nothing: this returns f, excluded from JIT compilation.
local function nojit(f)
  jit.off(f)
  return f
end

local here = script_dir()
local repo = here .. "/../.."

--- The C declarations of rcgc.h, for ffi.cdef: comments, preprocessor lines,
--- the RCGC_MUST_USE attribute and the extern "C" braces removed, and the
--- static inline section (RCGC_INLINE_H) too: ffi.cdef takes no function bodies.
function M.declarations(header_text)
  local text = header_text:gsub("\n#ifndef RCGC_INLINE_H\n.*", "\n"):gsub("/%*.-%*/", ""):gsub("//[^\n]*", "")
  local out = {}
  for line in text:gmatch("[^\n]*") do
    if not line:match("^%s*#") and not line:match('^%s*extern "C"') and not line:match("^%s*}%s*$") then
      out[#out + 1] = line
    end
  end
  return (table.concat(out, "\n"):gsub("RCGC_MUST_USE", ""))
end

local function find_header()
  local candidates = {
    os.getenv("RCGC_HEADER"),
    repo .. "/include/rcgc.h",
    "/usr/local/include/rcgc.h",
    "/usr/include/rcgc.h",
  }
  for i = 1, 4 do
    local path = candidates[i]
    if path and file_exists(path) then
      return path
    end
  end
  error("rcgc: cannot find rcgc.h: set RCGC_HEADER, or install rcgc (make install)", 2)
end

local function load_library()
  local env = os.getenv("RCGC_LIB")
  if env and env ~= "" then
    return ffi.load(env), env
  end
  for _, profile in ipairs({ "debug", "release" }) do
    local path = repo .. "/target/" .. profile .. "/librcgc.so"
    if file_exists(path) then
      return ffi.load(path), path
    end
  end
  return ffi.load("rcgc"), "rcgc"
end

M.header_path = find_header()
do
  local f = assert(io.open(M.header_path, "rb"))
  ffi.cdef(M.declarations(f:read("*a")))
  f:close()
end
M.C, M.library_path = load_library()
local C = M.C

-- ---------------------------------------------------------------------------
-- Errors
-- ---------------------------------------------------------------------------

local error_mt = {
  __tostring = function(e)
    return e.name .. ": " .. e.message
  end,
}

--- The calling thread's last rcgc failure as an error value.
function M.last_error()
  local code = tonumber(C.rcgc_last_error_code())
  return setmetatable({
    code = code,
    name = ffi.string(C.rcgc_result_name(code)),
    message = ffi.string(C.rcgc_last_error()),
  }, error_mt)
end

--- Raises the library's error unless `code` is RCGC_OK.
function M.check(code)
  if code ~= C.RCGC_OK then
    error(M.last_error(), 2)
  end
end

--- Raises the library's error if `ptr` is NULL, else returns it.
function M.not_null(ptr)
  if ptr == nil then
    error(M.last_error(), 2)
  end
  return ptr
end

function M.version()
  return ffi.string(C.rcgc_version())
end

-- ---------------------------------------------------------------------------
-- Heaps, objects, the gc module
-- ---------------------------------------------------------------------------

local anchors = {} -- heap address -> the ffi callbacks of its types

local function key(heap)
  return tostring(ffi.cast("uintptr_t", heap))
end

function M.heap_new()
  return M.not_null(C.rcgc_heap_new())
end

--- Frees the heap and everything on it, then the heap's Lua callbacks.
M.heap_free = nojit(function(heap)
  C.rcgc_heap_free(heap)
  local cbs = anchors[key(heap)]
  anchors[key(heap)] = nil
  if cbs then
    for _, cb in ipairs(cbs) do
      cb:free()
    end
  end
end)

--- gc.collect(generation): the number of unreachable objects found.
M.collect = nojit(function(heap, generation)
  local found = ffi.new("size_t[1]")
  M.check(C.rcgc_collect(heap, generation or 2, found))
  return tonumber(found[0])
end)

function M.get_threshold(heap)
  local t = C.rcgc_get_threshold(heap)
  return tonumber(t.gen0), tonumber(t.gen1), tonumber(t.gen2)
end

function M.set_threshold(heap, t0, t1, t2)
  M.check(C.rcgc_set_threshold(heap, t0, t1, t2))
end

function M.get_count(heap)
  local c = C.rcgc_get_count(heap)
  return tonumber(c.gen0), tonumber(c.gen1), tonumber(c.gen2)
end

--- rcgc_heap_get_stats as a Lua table of numbers.
function M.stats(heap)
  local s = ffi.new("rcgc_heap_stats")
  s.struct_size = ffi.sizeof(s)
  M.check(C.rcgc_heap_get_stats(heap, s))
  return {
    live_objects = tonumber(s.live_objects),
    tracked_objects = tonumber(s.tracked_objects),
    bytes_in_use = tonumber(s.bytes_in_use),
    peak_bytes = tonumber(s.peak_bytes),
    allocated_total = tonumber(s.allocated_total),
    freed_total = tonumber(s.freed_total),
  }
end

function M.refcount(obj)
  return tonumber(C.rcgc_refcount(obj))
end

M.alloc = nojit(function(rtype)
  return M.not_null(C.rcgc_alloc(rtype))
end)
M.decref = nojit(function(obj)
  C.rcgc_decref(obj)
end)
M.incref = C.rcgc_incref
M.set_ref = nojit(function(slot, value)
  C.rcgc_set_ref(ffi.cast("void **", slot), value)
end)
M.clear_ref = nojit(function(slot)
  C.rcgc_clear_ref(ffi.cast("void **", slot))
end)

function M.slots_new(heap, n)
  return M.not_null(C.rcgc_slots_new(heap, n))
end
M.slots_set = nojit(function(obj, i, value)
  M.check(C.rcgc_slots_set(obj, i, value))
end)

--- Registers a type whose callbacks are Lua functions.
--- spec = { name = "Test", ctype = "Test" (a struct declared with ffi.cdef),
---          traverse = function(obj, visit) visit(obj.field) ... end,
---          clear = function(obj) ... end, finalize = ..., destroy = ... }
--- The callbacks receive the payload cast to `ctype *`; traverse's visit takes
--- any pointer (NULL is ignored). Returns the rcgc_type *.
function M.register_type(heap, spec)
  local ptr_t = ffi.typeof(spec.ctype .. " *")
  local cbs = anchors[key(heap)] or {}
  anchors[key(heap)] = cbs
  local c = ffi.new("rcgc_type_spec")
  local name = ffi.new("char[?]", #spec.name + 1, spec.name) -- copied by rcgc
  c.name = name
  c.size = ffi.sizeof(spec.ctype)
  local function anchor(cb)
    cbs[#cbs + 1] = cb
    return cb
  end
  if spec.traverse then
    local user = spec.traverse
    c.traverse = anchor(ffi.cast("rcgc_traverse_fn", function(obj, visit, ctx)
      user(ffi.cast(ptr_t, obj), function(ref)
        visit(ref, ctx)
      end)
    end))
  end
  for _, field in ipairs({ "clear", "finalize", "destroy" }) do
    local user = spec[field]
    if user then
      c[field] = anchor(ffi.cast("rcgc_" .. field .. "_fn", function(obj)
        user(ffi.cast(ptr_t, obj))
      end))
    end
  end
  local out = ffi.new("rcgc_type *[1]")
  M.check(C.rcgc_type_register(heap, c, out))
  return out[0]
end

return M
