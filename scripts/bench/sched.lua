-- scripts/bench/sched.lua (make bench): the scheduler's talk server (one
-- task per client, straight-line `for line in s:lines()` and `s:write`,
-- as a lesson writes it) against a C epoll server (build/bench/sched-ref,
-- compiled here from sched-ref.c), both loaded by the same C client (sched-ref client) in
-- another process, interleaved rounds (rows: scripts/bench/lib.lua):
--   ping-pong: 50 clients, one line in flight each (target >= 0.9x C)
--   pipelined: 50 clients, 16 lines in flight each (target >= 0.8x C)
-- and, in one process, 200 client tasks x ping-pong against server tasks
-- (the whole loop: both ends are tasks; no reference, round trips/s).
-- bench-estimate: 70 9
-- Called with `server PORT` it is the netbasics server; with `inproc N K`
-- the one-process run.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath

local net = require "netbasics"
local REF = "build/bench/sched-ref"
local RUNS, SECS, CLIENTS = 5, 2, 50

local function talk(s)
  for line in s:lines() do
    if not s:write("You said ", line, "\n") then break end
  end
  s:close()
end

if arg[1] == "server" then
  local l = assert(net.listen("127.0.0.1", tonumber(arg[2]), 1024))
  net.spawn(function()
    while true do
      local c = l:accept()
      if not c then break end
      c:setoption("nodelay", true)  -- as the C server
      net.spawn(talk, c)
    end
  end)
  net.run()
  return
elseif arg[1] == "inproc" then
  local n, k = tonumber(arg[2]), tonumber(arg[3])
  local l = assert(net.listen("127.0.0.1", 0, 1024))
  local _, port = l:getsockname()
  local acceptor = net.spawn(function()
    while true do
      local c = l:accept()
      if not c then return end
      net.spawn(talk, c)
    end
  end)
  local done = 0
  for _ = 1, n do
    net.spawn(function()
      local c <close> = assert(net.connect("127.0.0.1", port))
      for _ = 1, k do
        assert(c:sendall("hello there\n"))
        assert(c:recvline())
      end
      done = done + 1
      if done == n then acceptor:cancel() end
    end)
  end
  local t0 = net.now()
  net.run()
  print(string.format("%.0f", n * k / (net.now() - t0)))
  return
end

-- ---------------------------------------------------------------------
-- the orchestra (rows in scripts/bench/lib.lua's format)
local B = dofile "scripts/bench/lib.lua"

B.main(function()
  local REFBIN = B.cc("sched-ref")
  assert(REFBIN == REF)
  local servers = {
    C = REF .. " server",
    ["netbasics tasks"] = "lua5.4 scripts/bench/sched.lua server",
  }
  local impls = { "C", "netbasics tasks" }
  for _, w in ipairs {
    { id = "sched-pingpong", depth = 1, target = 0.9,
      title = CLIENTS .. " clients, one line in flight (lines/write "
        .. "tasks)" },
    { id = "sched-pipelined", depth = 16, target = 0.8,
      title = CLIENTS .. " clients, 16 lines in flight (lines/write "
        .. "tasks)" },
  } do
    B.workload { id = w.id, title = w.title, unit = "round trips/s",
      better = "higher", ref = "C" }
    B.note(w.id, ("target: netbasics tasks >= %.2f x C"):format(w.target))
    B.rounds(w.id, B.n(RUNS, 2), impls, function(impl)
      local port = B.free_port()
      local srv = B.server(B.pin("server") .. servers[impl]
        .. " " .. port, port)
      local ok, out = pcall(B.sh, ("%s%s client %d %d %d %s %s"):format(
        B.pin("client"), REF, port, CLIENTS, w.depth, B.n(SECS, 0.5),
        B.n(1, 0.3)))
      srv:stop()
      assert(ok, out)
      return tonumber(out)
    end)
  end
  B.workload { id = "sched-inproc", title = "one process: 200 client "
    .. "tasks x 100 ping-pong lines against server tasks",
    unit = "round trips/s", better = "higher", ref = "-",
    placement = B.where("solo") }
  B.rounds("sched-inproc", B.n(RUNS, 2), { "netbasics tasks" }, function()
    return tonumber(B.sh(B.pin("solo")
      .. "lua5.4 scripts/bench/sched.lua inproc 200 100"))
  end)
end)
