-- scripts/bench/socket.lua (make bench): the socket family in blocking
-- mode beside plain C (build/bench/socket-ref, compiled here from
-- socket-ref.c), LuaSocket in Lua 5.4 and Python 3's socket module, in
-- interleaved rounds, servers on one CPU and clients on the other
-- (taskset; see lib.lua for the placement and the rows):
--   bulk: 1 GiB through one loopback TCP connection, 64 KiB chunks
--         (sendall / recv), both ends in the same language, against a C
--         write/read loop (target >= 0.9x)
--   talk: ping-pong of the talk protocol, one client (the C client for
--         every server), against a C server (target >= 0.95x), and beside
--         LuaSocket's, Python's, and the luv and cqueues servers of
--         talk.lua (target: ahead of them)
-- Called with `peer MODE PORT [N]` it is one end of a Lua measurement.
-- bench-estimate: 130 10
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath

local QUICK = os.getenv("NB_BENCH_QUICK") == "1"
local BULK = QUICK and 64 << 20 or 1 << 30
local CHUNK = 65536
local ROUNDS = QUICK and 2000 or 40000
local RUNS = QUICK and 2 or 5
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
local B = dofile "scripts/bench/lib.lua"
local T = B.T
local LUA = "lua5.4 scripts/bench/socket.lua peer"

local PY = [[
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
CHUNK = 65536
if mode == "pp-server":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(5)
    c, _ = l.accept(); l.close()
    f = c.makefile("rb")
    for line in f:
        c.sendall(b"You said " + line)
    c.close()
elif mode == "bulk-recv":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(5)
    c, _ = l.accept(); l.close()
    buf = bytearray(CHUNK); total = 0; t = time.monotonic()
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        total += n
    print("%.6f %d" % (time.monotonic() - t, total))
elif mode == "bulk-send":
    c = socket.create_connection(("127.0.0.1", port))
    chunk = b"z" * CHUNK
    for _ in range(int(sys.argv[3]) // CHUNK):
        c.sendall(chunk)
    c.close()
]]

local srv, cli = B.pin("server"), B.pin("client")

-- seconds for BULK bytes: receiver `recv` (a server), sender `send`
local function bulk(recv, send)
  local port = B.free_port()
  local r = B.server(srv .. recv .. " " .. port, port)
  B.sh(cli .. send .. " " .. port .. " " .. BULK)
  local rc = r:wait(60)
  local out = r:out()
  r:stop()
  local secs, bytes = out:match("^(%S+) (%d+)")
  assert(rc == 0 and tonumber(bytes) == BULK, "bulk: got " .. tostring(out))
  return tonumber(secs)
end

-- round trips per second against server command `server` (taking PORT)
local function pingpong(server)
  local port = B.free_port()
  local s = B.server(srv .. server .. " " .. port, port)
  local ok, out = pcall(B.sh, cli .. REF .. " pp-client " .. port .. " "
    .. ROUNDS)
  s:wait(10)
  s:stop()
  assert(ok, out)
  return ROUNDS / tonumber(out)
end

B.main(function()
  B.cc("socket-ref")
  local dir = T.tmpdir()
  B.finally(function() T.rmtree(dir) end)
  T.writefile(dir .. "/peer.py", PY)
  local PYR = B.python .. " " .. dir .. "/peer.py"
  local bends = {
    C = { REF .. " bulk-recv", REF .. " bulk-send" },
    netbasics = { LUA .. " nb-bulk-recv", LUA .. " nb-bulk-send" },
    ["LuaSocket"] = { LUA .. " ls-bulk-recv", LUA .. " ls-bulk-send" },
    ["Python 3 socket"] = { PYR .. " bulk-recv", PYR .. " bulk-send" },
  }
  local impls = { "C", "netbasics", "LuaSocket", "Python 3 socket" }
  local gib = BULK / 2 ^ 30
  B.workload { id = "bulk", title = ("bulk %s, one TCP connection"):format(
      BULK >= 1 << 30 and "1 GiB" or (BULK >> 20) .. " MiB"),
    unit = "GiB/s", better = "higher", ref = "C",
    note = "64 KiB chunks, sendall/recv, both ends in the same language; "
      .. "target netbasics >= 0.9x C" }
  B.rounds("bulk", RUNS, impls, function(impl)
    return gib / bulk(bends[impl][1], bends[impl][2])
  end)
  -- luv and cqueues: the talk servers of talk.lua, ending after one client
  local TALK = "lua5.4 scripts/bench/talk.lua peer"
  local servers = { C = REF .. " pp-server", netbasics = LUA .. " nb-pp-server",
    LuaSocket = LUA .. " ls-pp-server",
    ["Python 3 socket"] = PYR .. " pp-server",
    luv = TALK .. " luv-once", cqueues = TALK .. " cqueues-once" }
  impls = { "C", "netbasics", "LuaSocket", "Python 3 socket", "luv",
    "cqueues" }
  B.workload { id = "pp1", title = "talk ping-pong, 1 client",
    unit = "round trips/s", better = "higher", ref = "C",
    note = ("%d round trips of one line, the C client against each "
      .. "server (blocking; luv and cqueues: their event loops); targets "
      .. "netbasics >= 0.95x C and ahead of LuaSocket, luv and cqueues")
      :format(ROUNDS) }
  local got = B.rounds("pp1", RUNS, impls, function(impl)
    return pingpong(servers[impl])
  end)
  for _, peer in ipairs { "LuaSocket", "luv", "cqueues" } do
    if got.netbasics and got[peer] then
      B.note("pp1", ("netbasics / %s: %.2fx"):format(peer,
        B.median(got.netbasics) / B.median(got[peer])))
    end
  end
end)
