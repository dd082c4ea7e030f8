-- scripts/bench/socket.lua (make bench): the socket family against plain
-- C (build/bench/socket-ref, compiled here from socket-ref.c) and
-- LuaSocket, measured in the same run on the same CPUs, medians of
-- several interleaved runs:
--   bulk: 1 GiB through one loopback TCP connection, 64 KiB chunks
--         (sendall / recv), against a C write/read loop (target >= 0.9x)
--   talk: ping-pong of the talk protocol, one client, against a C server
--         (target >= 0.95x) and LuaSocket's (target: not below it)
-- Called with `peer MODE PORT [N]` it is one end of a Lua measurement.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath

local BULK = 1 << 30
local CHUNK = 65536
local ROUNDS = 40000
local RUNS = 5
local REF = "build/bench/socket-ref"

-- ---------------------------------------------------------------------
-- the Lua ends
if arg[1] == "peer" then
  local mode, port, n = arg[2], tonumber(arg[3]), tonumber(arg[4])
  if mode == "ls-pp-server" then
    local socket = require "socket"
    local l = assert(socket.bind("127.0.0.1", port))
    local c = assert(l:accept())
    l:close()
    while true do
      local line = c:receive("*l")
      if not line then break end
      assert(c:send("You said " .. line .. "\n"))
    end
    c:close()
    return
  elseif mode == "ls-bulk-recv" then
    local socket = require "socket"
    local l = assert(socket.bind("127.0.0.1", port))
    local c = assert(l:accept())
    l:close()
    local total, t0 = 0, socket.gettime()
    while true do
      local data, err, partial = c:receive(CHUNK)
      data = data or partial
      total = total + #data
      if err then break end
    end
    print(string.format("%.6f %d", socket.gettime() - t0, total))
    return
  elseif mode == "ls-bulk-send" then
    local socket = require "socket"
    local c = assert(socket.connect("127.0.0.1", port))
    local chunk = ("z"):rep(CHUNK)
    for _ = 1, n // CHUNK do assert(c:send(chunk)) end
    c:close()
    return
  end
  local net = require "netbasics"
  if mode == "nb-pp-server" then
    local l = assert(net.listen("127.0.0.1", port))
    local c = assert(l:accept())
    l:close()
    while true do
      local line = c:recvline()
      if not line then break end
      assert(c:sendall("You said " .. line .. "\n"))
    end
    c:close()
  elseif mode == "nb-bulk-recv" then
    local gettime = require("socket").gettime  -- only for its clock
    local l = assert(net.listen("127.0.0.1", port))
    local c = assert(l:accept())
    l:close()
    local total, t0 = 0, gettime()
    while true do
      local data = assert(c:recv(CHUNK))
      if data == "" then break end
      total = total + #data
    end
    print(string.format("%.6f %d", gettime() - t0, total))
  elseif mode == "nb-bulk-send" then
    local c = assert(net.connect("127.0.0.1", port))
    local chunk = ("z"):rep(CHUNK)
    for _ = 1, n // CHUNK do assert(c:sendall(chunk)) end
    c:close()
  end
  return
end

-- ---------------------------------------------------------------------
-- the orchestra
local net = require "netbasics"
local LUA = "lua5.4 scripts/bench/socket.lua peer"

assert(os.execute("mkdir -p build/bench && cc -O2 -o " .. REF
  .. " scripts/bench/socket-ref.c"), "cannot compile socket-ref.c")

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

-- seconds for 1 GiB: receiver `recv`, sender `send` (commands taking PORT)
local function bulk(recv, send)
  local port = free_port()
  local r = io.popen(recv .. " " .. port)
  wait_listen(port)
  run(send .. " " .. port .. " " .. BULK)
  local out = r:read("a")
  r:close()
  local secs, bytes = out:match("^(%S+) (%d+)")
  assert(tonumber(bytes) == BULK, "bulk: got " .. tostring(out))
  return tonumber(secs)
end

-- round trips per second against server command `server` (taking PORT)
local function pingpong(server)
  local port = free_port()
  local s = io.popen(server .. " " .. port)
  wait_listen(port)
  local secs = tonumber(run(REF .. " pp-client " .. port .. " " .. ROUNDS))
  s:read("a")
  s:close()
  return ROUNDS / secs
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local bc, bn, bl = {}, {}, {}
local pc, pn, pl = {}, {}, {}
for i = 1, RUNS do
  bc[i] = bulk(REF .. " bulk-recv", REF .. " bulk-send")
  bn[i] = bulk(LUA .. " nb-bulk-recv", LUA .. " nb-bulk-send")
  if i <= 3 then
    bl[i] = bulk(LUA .. " ls-bulk-recv", LUA .. " ls-bulk-send")
  end
  pc[i] = pingpong(REF .. " pp-server")
  pn[i] = pingpong(LUA .. " nb-pp-server")
  pl[i] = pingpong(LUA .. " ls-pp-server")
end

local gib = BULK / 2 ^ 30
local c, n, l = median(bc), median(bn), median(bl)
print(string.format("bulk 1 GiB loopback, 64 KiB chunks (median of %d):",
  RUNS))
print(string.format("  C write/read      %6.2f GiB/s", gib / c))
print(string.format("  netbasics         %6.2f GiB/s   %.2fx C (target >= 0.90)",
  gib / n, c / n))
print(string.format("  LuaSocket         %6.2f GiB/s   %.2fx C", gib / l, c / l))
c, n, l = median(pc), median(pn), median(pl)
print(string.format("talk ping-pong, one client, %d round trips (median of %d):",
  ROUNDS, RUNS))
print(string.format("  C server          %8.0f /s", c))
print(string.format("  netbasics         %8.0f /s   %.2fx C (target >= 0.95), "
  .. "%.2fx LuaSocket (target >= 1)", n, n / c, n / l))
print(string.format("  LuaSocket         %8.0f /s   %.2fx C", l, l / c))
