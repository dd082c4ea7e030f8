-- scripts/bench/sched.lua (make bench): the scheduler's talk server (one
-- task per client, straight-line recvline / sendall) against a C epoll
-- server (build/bench/sched-ref, compiled here from sched-ref.c), both
-- loaded by the same C client in another process; medians of several
-- interleaved runs:
--   ping-pong: 50 clients, one line in flight each (target >= 0.9x C)
--   pipelined: 50 clients, 16 lines in flight each (target >= 0.8x C)
-- and, in one process, 200 client tasks x ping-pong against server tasks
-- (the whole loop: both ends are tasks; no reference, round trips/s).
-- Called with `server PORT` it is the netbasics server; with `inproc N K`
-- the one-process run.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath

local net = require "netbasics"
local REF = "build/bench/sched-ref"
local RUNS, SECS, CLIENTS = 5, 2, 50

local function talk(s)
  while true do
    local line = s:recvline()
    if not line then break end
    if not s:sendall("You said " .. line .. "\n") then break end
  end
  s:close()
end

if arg[1] == "server" then
  local l = assert(net.listen("127.0.0.1", tonumber(arg[2]), 1024))
  net.spawn(function()
    while true do
      local c = l:accept()
      if not c then break end
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
-- the orchestra
assert(os.execute("mkdir -p build/bench && cc -O2 -o " .. REF
  .. " scripts/bench/sched-ref.c"), "cannot compile sched-ref.c")

local function free_port()
  local l = assert(net.listen("127.0.0.1", 0))
  local _, port = l:getsockname()
  l:close()
  return port
end

local function wait_listen(port)
  for _ = 1, 5000 do
    for _, c in ipairs(assert(net.connections())) do
      if c.local_port == port and c.state == "LISTEN" then return end
    end
    os.execute("sleep 0.005")
  end
  error("nothing listens on " .. port)
end

local function run(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  assert(p:close(), cmd .. " failed")
  return out
end

-- round trips per second of server command `server` (taking PORT)
local function load(server, depth)
  local port = free_port()
  local pidf = os.tmpname()
  os.execute(server .. " " .. port .. " >/dev/null 2>&1 & echo $! >" .. pidf)
  local pid = io.open(pidf):read("l")
  os.remove(pidf)
  wait_listen(port)
  local rate = tonumber(run(string.format("%s client %d %d %d %s", REF, port,
    CLIENTS, depth, SECS)))
  os.execute("kill " .. pid)
  return assert(rate, "no rate")
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local C, NB = REF .. " server", "exec lua5.4 scripts/bench/sched.lua server"
for _, depth in ipairs({ 1, 16 }) do
  local c, n = {}, {}
  for i = 1, RUNS do
    c[i] = load(C, depth)
    n[i] = load(NB, depth)
  end
  local mc, mn = median(c), median(n)
  print(string.format("talk, %d clients, %d line%s in flight (median of %d):",
    CLIENTS, depth, depth > 1 and "s" or "", RUNS))
  print(string.format("  C epoll server    %9.0f /s", mc))
  print(string.format("  netbasics tasks   %9.0f /s   %.2fx C (target >= %.2f)",
    mn, mn / mc, depth == 1 and 0.9 or 0.8))
end
local r = {}
for i = 1, RUNS do
  r[i] = tonumber(run("lua5.4 scripts/bench/sched.lua inproc 200 100"))
end
print(string.format("one process, 200 client tasks x 100 ping-pong lines "
  .. "against server tasks: %.0f round trips/s (median of %d)", median(r),
  RUNS))
