-- scripts/bench/scale.lua (make bench): the talk servers of talk.lua with
-- 10,000 clients at once (2,000 in a quick run), one line in flight each,
-- from the C epoll load (build/bench/talk-ref load) on the client CPU:
-- round trips per second, and the server's resident memory per
-- connection (peak VmHWM during the run minus VmRSS at its start, over
-- the connections; kernel socket buffers are not in it). Servers: C
-- (talk-ref server, epoll), netbasics tasks (one per client) and its
-- net.select loop (poll), luv, cqueues. LuaSocket's select loop is run
-- once to show that it cannot hold them (select() and FD_SETSIZE).
-- Descriptors: the servers and the load raise their soft limit (ulimit
-- -n) to the hard limit, which must be above the connections.
-- Targets (issue 19): netbasics tasks >= 0.9x C, under 4 KiB a connection.
-- bench-estimate: 70 9
local B = dofile "scripts/bench/lib.lua"
local T = B.T

local REF = "build/bench/talk-ref"
local LUA = "lua5.4 scripts/bench/talk.lua peer"
local CONNS = B.n(10000, 2000)

B.main(function()
  B.cc("talk-ref")
  local hard = B.sh("ulimit -Hn"):match("%S+")
  local limit = hard == "unlimited" and 65536 or tonumber(hard)
  assert(limit and limit > CONNS + 64, ("the hard descriptor limit (%s) "
    .. "must be above %d: raise it (ulimit -Hn, limits.conf)"):format(hard,
    CONNS + 64))
  local ulimit = ("ulimit -n %d; "):format(limit)
  B.say("scale: the servers and the load raise their descriptor limit "
    .. "to %d (ulimit -n)", limit)
  local servers = {
    C = REF .. " server",
    ["netbasics (sched)"] = LUA .. " nb-sched",
    ["netbasics (select)"] = LUA .. " nb-select",
    luv = LUA .. " luv",
    cqueues = LUA .. " cqueues",
    LuaSocket = LUA .. " ls-select",
  }
  local impls = { "C", "netbasics (sched)", "netbasics (select)", "luv",
    "cqueues" }
  local srvpin, clipin = B.pin("server"), B.pin("client")
  local live = {}
  B.finally(function() for p in pairs(live) do p:stop() end end)
  local function status(pid, field)
    local s = T.slurp("/proc/" .. pid .. "/status") or ""
    return tonumber(s:match(field .. ":%s*(%d+)"))
  end
  local function start(impl)
    local port = B.free_port()
    local p = B.server(ulimit .. "exec " .. srvpin .. servers[impl] .. " "
      .. port, port)
    live[p] = true
    local pid = T.until_true(function()
      return tonumber(p:out():match("pid (%d+)"))
    end, 10)
    return p, port, assert(pid, impl .. " printed no pid")
  end
  local function stop(p)
    p:stop()
    live[p] = nil
  end

  local secs = B.n(3, 0.25)
  local title = ("%s clients at once"):format(CONNS >= 10000 and "10,000"
    or tostring(CONNS))
  B.workload { id = "c10k", title = "talk ping-pong, " .. title,
    unit = "round trips/s", better = "higher", ref = "C",
    note = ("one line in flight on each of %d connections from the C "
      .. "epoll load, %g s after 0.3 s of warm-up; the bench raises the "
      .. "descriptor limit of the servers and the load to %d (ulimit -n); "
      .. "target netbasics (sched) >= 0.9x C"):format(CONNS, secs, limit) }
  B.workload { id = "c10k-mem", title = "memory per connection, " .. title,
    unit = "KiB", better = "lower", ref = "-",
    note = ("server peak VmHWM during the %d-client run minus VmRSS at "
      .. "its start, over %d (kernel socket buffers not included; the C "
      .. "server gives each client a 64 KiB line buffer, of which the "
      .. "first page is touched); target netbasics (sched) under 4 KiB")
      :format(CONNS, CONNS) }
  B.rounds("c10k", B.n(3, 2), impls, function(impl, round)
    local t0 = B.now()
    local p, port, pid = start(impl)
    local before = status(pid, "VmRSS")
    local ok, out = pcall(B.sh, ("%sexec %s%s load %d %d 1 %g"):format(
      ulimit, clipin, REF, port, CONNS, secs))
    local peak = status(pid, "VmHWM")
    local err = p:err()
    stop(p)
    assert(ok, tostring(out) .. err)
    B.sample("c10k-mem", impl, round, t0, B.now(), (peak - before) / CONNS)
    return tonumber(out)
  end)

  -- LuaSocket: socket.select is select(2), whose sets hold descriptors
  -- below FD_SETSIZE (1024) only; the note says how it ended
  local p, port = start("LuaSocket")
  local r = T.run(("%sexec %s%s load %d %d 1 %g"):format(ulimit, clipin, REF,
    port, CONNS, secs))
  T.until_true(function() return not p:alive() end, 5)
  local why = (p:err():match("[^\n]*select[^\n]*")
    or p:err():match("[^\n]+") or "no message")
    :gsub("^%S*lua5.4: ", ""):gsub("^%S+:%d+: ", "")
  local alive = p:alive()
  stop(p)
  if r.code ~= 0 then
    B.note("c10k", ("LuaSocket's select loop cannot hold %d clients: the "
      .. "load failed (%s) after the server %s: %s"):format(CONNS,
      (r.err or ""):match("[^\n]+") or "exit " .. tostring(r.code),
      alive and "stopped answering" or "died", why))
  else
    B.note("c10k", ("LuaSocket's select loop: %s round trips/s with %d "
      .. "clients"):format(r.out:match("%S+") or "?", CONNS))
  end
end)
