-- scripts/bench/lib.lua: what every scripts/bench/<family>.lua shares.
--
-- The row format. A bench script measures each workload in interleaved
-- rounds (every implementation once per round, in a rotated order) and
-- writes one line per measurement to $NB_BENCH_OUT (or stdout):
--
--   WORKLOAD|id|title|unit|better|reference|placement|note
--   SAMPLE|id|impl|round|t_start|t_end|value
--
-- `better` is "higher" (rates) or "lower" (times, memory); `reference`
-- names the impl the ratios are taken against (the C reference), or is
-- "-" when a ratio means nothing (memory: shown as a difference).
-- t_start and t_end are wall-clock seconds: scripts/bench/collect.lua
-- checks from them that the compared runs really were side by side
-- before it prints a ratio, and writes results/<name>.md and .svg.
--
--   local B = dofile "scripts/bench/lib.lua"  (from the top folder)
--   B.workload{ id = "bulk", title = "...", unit = "GiB/s",
--               better = "higher", ref = "C", placement = B.split }
--   B.rounds("bulk", B.n(5, 3), { "C", "netbasics", ... }, function(impl)
--     return value   -- nil: this impl could not run (noted, no sample)
--   end)
--   local srv = B.server("cmd")   -- started in its own process group
--   srv:stop()                    -- TERM then KILL, by PID
package.path = "lua/?.lua;lua/?/init.lua;spec/support/?.lua;"
  .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local T = require "nbtest"
local gettime = require("socket").gettime  -- LuaSocket: only its clock

local B = { T = T }
B.now = gettime
B.quick = os.getenv("NB_BENCH_QUICK") == "1"
B.root = T.root

-- CPU placement: "split" puts servers on CPU 0 and clients on CPU 1;
-- "one" puts both on CPU 0 (they then share it, as on a one-core box)
B.placement = os.getenv("NB_BENCH_PLACEMENT") or "split"
local CPUS = { split = { server = 0, client = 1, solo = 1 },
               one = { server = 0, client = 0, solo = 0 } }
local cpus = assert(CPUS[B.placement], "placement: split or one")

-- the taskset prefix for a role: "server", "client" or "solo" (a single
-- process measuring itself)
function B.pin(role)
  return ("taskset -c %d "):format(cpus[role])
end

-- how the placement reads in the results
function B.where(kind)
  if kind == "solo" then
    return ("one process on CPU %d"):format(cpus.solo)
  end
  if B.placement == "split" then
    return ("split: server CPU %d, client CPU %d"):format(cpus.server,
      cpus.client)
  end
  return ("one core: server and client on CPU %d"):format(cpus.server)
end

-- a full-run value or a quick-run value
function B.n(full, quick)
  if B.quick then return quick end
  return full
end

local out = io.stdout
do
  local path = os.getenv("NB_BENCH_OUT")
  if path then out = assert(io.open(path, "a")) end
end

local function clean(s)
  return (tostring(s or "-"):gsub("[|\n]", " "))
end

local meta = {}
function B.workload(w)
  meta[w.id] = w
  out:write(("WORKLOAD|%s|%s|%s|%s|%s|%s|%s\n"):format(w.id, clean(w.title),
    clean(w.unit), w.better or "higher", clean(w.ref),
    clean(w.placement or B.where()), clean(w.note)))
  out:flush()
end

function B.sample(id, impl, round, t0, t1, value)
  out:write(("SAMPLE|%s|%s|%d|%.6f|%.6f|%.9g\n"):format(id, clean(impl),
    round, t0, t1, value))
  out:flush()
end

-- a note shown under the table (an impl that could not run, a target)
function B.note(id, text)
  out:write(("NOTE|%s|%s\n"):format(id, clean(text)))
  out:flush()
end

-- progress for the person waiting (stderr: never mixed with the rows)
function B.say(fmt, ...)
  io.stderr:write("  ", fmt:format(...), "\n")
end

-- `rounds` rounds; in each, every impl once, the order rotated so that
-- none always runs first or last. fn(impl, round) returns the value.
function B.rounds(id, rounds, impls, fn)
  local got = {}
  for r = 1, rounds do
    local line = {}
    for k = 0, #impls - 1 do
      local impl = impls[(r - 1 + k) % #impls + 1]
      local t0 = gettime()
      local ok, v = pcall(fn, impl, r)
      local t1 = gettime()
      if ok and v then
        B.sample(id, impl, r, t0, t1, v)
        got[impl] = got[impl] or {}
        table.insert(got[impl], v)
        line[#line + 1] = ("%s %.4g"):format(impl, v)
      elseif not ok then
        B.note(id, impl .. " failed: " .. tostring(v))
        B.say("%s: %s failed: %s", id, impl, tostring(v))
      end
    end
    B.say("%s round %d/%d: %s", id, r, rounds, table.concat(line, ", "))
  end
  return got
end

function B.median(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c[(#c + 1) // 2]
end

-- the output of a command (error if it fails)
function B.sh(cmd)
  local r = T.run(cmd)
  if r.code ~= 0 then
    error(cmd .. " failed (" .. tostring(r.code) .. "): " .. (r.err or ""), 2)
  end
  return r.out
end

-- compile a C reference from scripts/bench/NAME.c into build/bench/NAME
-- (extra: more sources and flags)
function B.cc(name, extra)
  local bin = "build/bench/" .. name
  B.sh(("mkdir -p build/bench && cc -O2 -o %s scripts/bench/%s.c %s"):format(
    bin, name, extra or ""))
  return bin
end

-- a server in its own process group; :stop() ends it by PID. `wait`:
-- a port to wait for (bounded) before returning.
function B.server(cmd, port)
  -- bounded even if this script is killed before it can stop it
  local p = T.spawn(("timeout --foreground -k 2 %d %s"):format(
    tonumber(os.getenv("NB_BENCH_LIMIT")) or 600, cmd))
  if port and not T.wait_port(port, 10) then
    local err = p:err()
    p:stop()
    error("server did not listen on " .. port .. ": " .. cmd .. "\n" .. err)
  end
  return p
end

-- a free TCP port on 127.0.0.1 (LuaSocket binds port 0 and lets it go:
-- no Python start, which costs 300 ms behind a version manager's shim)
function B.free_port()
  local socket = require "socket"
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return assert(tonumber(port), "no free port")
end

-- Debian's Python 3: the python3 first in PATH may be a version
-- manager's shell script (pyenv's shim costs ~300 ms a start)
B.python = io.open("/usr/bin/python3") and "/usr/bin/python3" or "python3"

-- run fn(); whatever happens, call every cleanup registered with
-- B.finally (servers to stop, folders to remove), then re-raise
local cleanups = {}
function B.finally(f) cleanups[#cleanups + 1] = f end
function B.main(fn)
  local ok, err = xpcall(fn, debug.traceback)
  for i = #cleanups, 1, -1 do pcall(cleanups[i]) end
  if out ~= io.stdout then out:close() end
  if not ok then
    io.stderr:write("bench: ", tostring(err), "\n")
    os.exit(1)
  end
end

return B
