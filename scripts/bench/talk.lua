-- scripts/bench/talk.lua: the talk protocol with many clients, and memory
-- per idle connection. The load is always build/bench/talk-ref (C, epoll,
-- from talk-ref.c) on the client CPU; the servers, on the server CPU:
--   C                  talk-ref server: epoll, one thread (the limit)
--   netbasics (sched)  tasks under net.spawn/net.run, one per client,
--                      line by line (`for line in c:lines()`, c:write)
--   netbasics (select) one loop over net.select, sockets with
--                      settimeout(0): the socket family alone
--   LuaSocket          the same loop over socket.select
--   Python 3 asyncio   the protocol API (asyncio.Protocol)
--   luv                libuv (Debian lua-luv): uv.new_tcp, read_start;
--                      the answers to one read joined in one write
--   cqueues            Debian lua-cqueues: a coroutine per client,
--                      `for line in c:lines("*l") do c:write(...) end`,
--                      output fully buffered and flushed before each read
-- The select-loop and Python servers answer whole chunks of lines (one
-- gsub or join, one send), as the C one does; the tasks go line by line
-- and their answers to one read still leave in one send.
-- Workloads: ping-pong with 50 clients (one line in flight each), the
-- same over a Unix domain socket (C and the tasks, beside their TCP rows),
-- pipelined with 50 clients (16 lines in flight each), and the resident
-- memory one more idle connection costs a server (VmRSS after CONNS
-- clients made one round trip each and wait, minus before, over CONNS;
-- socket buffers are the kernel's and not in it).
-- Called as `peer MODE PORT` it is one Lua server (`luv-once` and
-- `cqueues-once` serve one client and end: socket.lua's one-client row).
-- bench-estimate: 200 20
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath

local function mypid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

local function answers(buf)
  local last = buf:match(".*()\n")
  if not last then return nil, buf end
  return (buf:sub(1, last):gsub("([^\n]*\n)", "You said %1")),
    buf:sub(last + 1)
end

if arg[1] == "peer" then
  -- MODE-once (luv, cqueues): serve one client, then end
  local mode, port = arg[2], tonumber(arg[3])
  local once = mode:match("%-once$") ~= nil
  mode = mode:gsub("%-once$", "")
  if mode == "luv" then
    -- libuv: a callback per read; the answers to one read leave in one
    -- write
    local uv = require "luv"
    local l = uv.new_tcp()
    assert(l:bind("127.0.0.1", port))
    assert(l:listen(1024, function(err)
      assert(not err, err)
      local c = uv.new_tcp()
      l:accept(c)
      c:nodelay(true)
      local buf = ""
      c:read_start(function(rerr, data)
        if rerr or not data then
          c:close()
          if once then l:close() end
          return
        end
        local out
        out, buf = answers(buf .. data)
        if out then c:write(out) end
      end)
    end))
    print("pid " .. mypid())
    io.stdout:flush()
    uv.run()
    return
  elseif mode == "cqueues" then
    -- cqueues: a coroutine per client, line by line; output fully
    -- buffered ("f") and flushed before each read ("a")
    local cqueues = require "cqueues"
    local socket = require "cqueues.socket"
    local cq = cqueues.new()
    local l = assert(socket.listen { host = "127.0.0.1", port = port,
      backlog = 1024, reuseaddr = true, nodelay = true })
    assert(l:listen())
    local function serve(c)
      c:setmode("b", "bfa")
      -- a reset ends the client's coroutine, not the server (pcall)
      pcall(function()
        for line in c:lines("*l") do c:write("You said ", line, "\n") end
      end)
      c:close()
    end
    cq:wrap(function()
      for c in l:clients() do
        if once then
          serve(c)
          l:close()
          return
        end
        cq:wrap(serve, c)
      end
    end)
    print("pid " .. mypid())
    io.stdout:flush()
    assert(cq:loop())
    return
  elseif mode == "ls-select" then
    local socket = require "socket"
    local l = assert(socket.bind("127.0.0.1", port, 1024))
    l:settimeout(0)
    print("pid " .. mypid())
    io.stdout:flush()
    local socks, bufs = { l }, {}
    while true do
      local ready = socket.select(socks, nil)
      for _, s in ipairs(ready) do
        if s == l then
          local c = l:accept()
          while c do
            c:settimeout(0)
            c:setoption("tcp-nodelay", true)
            socks[#socks + 1], bufs[c] = c, ""
            c = l:accept()
          end
        else
          local data, err, partial = s:receive(65536)
          data = data or partial
          if data and data ~= "" then
            local out
            out, bufs[s] = answers(bufs[s] .. data)
            if out then assert(s:send(out) == #out) end
          end
          if err == "closed" then
            s:close()
            bufs[s] = nil
            for i = #socks, 1, -1 do
              if socks[i] == s then table.remove(socks, i) end
            end
          end
        end
      end
    end
  end
  local net = require "netbasics"
  local path = arg[3]:match("^/.*")  -- a Unix socket's path
  local l = path and assert(net.listen_unix(path, { backlog = 1024 }))
    or assert(net.listen("127.0.0.1", port, 1024))
  print("pid " .. mypid())
  io.stdout:flush()
  if mode == "nb-select" then
    l:settimeout(0)
    local socks, bufs = { l }, {}
    while true do
      local ready = net.select(socks, {})
      for _, s in ipairs(ready) do
        if s == l then
          local c = l:accept()
          while c do
            c:settimeout(0)
            c:setoption("nodelay", true)
            socks[#socks + 1], bufs[c] = c, ""
            c = l:accept()
          end
        else
          local data = s:recv(65536)
          if data == "" then
            s:close()
            bufs[s] = nil
            for i = #socks, 1, -1 do
              if socks[i] == s then table.remove(socks, i) end
            end
          elseif data then
            local out
            out, bufs[s] = answers(bufs[s] .. data)
            if out then assert(s:sendall(out)) end
          end
        end
      end
    end
  elseif mode == "nb-sched" then
    -- one task per client, written line by line as for one client (the
    -- socket is passed to net.spawn, so the new task holds it); the
    -- answers to lines read together go out in one send (held back)
    local function serve(c)
      for line in c:lines() do
        if not c:write("You said ", line, "\n") then break end
      end
      c:close()
    end
    net.spawn(function()
      while true do
        local c = assert(l:accept())
        c:setoption("nodelay", true)
        net.spawn(serve, c)
      end
    end)
    net.run()
  end
  return
end

local B = dofile "scripts/bench/lib.lua"
local T = B.T
local net = require "netbasics"

local PY = [[
import asyncio, os, socket, sys
class Talk(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf = t, b""
    def data_received(self, data):
        b = self.buf + data
        i = b.rfind(b"\n")
        if i < 0:
            self.buf = b
            return
        self.buf = b[i + 1:]
        self.t.write(b"".join([b"You said " + l + b"\n"
                               for l in b[:i].split(b"\n")]))
async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Talk, "127.0.0.1", int(sys.argv[1]),
                                   backlog=1024, reuse_address=True)
    print("pid", os.getpid(), flush=True)
    await srv.serve_forever()
asyncio.run(main())
]]

local REF = "build/bench/talk-ref"
local LUA = "lua5.4 scripts/bench/talk.lua peer"

B.main(function()
  B.cc("talk-ref")
  local dir = T.tmpdir()
  B.finally(function() T.rmtree(dir) end)
  T.writefile(dir .. "/talk.py", PY)
  local servers = {
    C = REF .. " server",
    ["netbasics (sched)"] = LUA .. " nb-sched",
    ["netbasics (select)"] = LUA .. " nb-select",
    LuaSocket = LUA .. " ls-select",
    ["Python 3 asyncio"] = B.python .. " " .. dir .. "/talk.py",
    luv = LUA .. " luv",
    cqueues = LUA .. " cqueues",
  }
  local impls = { "C", "netbasics (select)", "LuaSocket", "Python 3 asyncio",
    "luv", "cqueues" }
  local sched = net.spawn ~= nil
  if sched then
    table.insert(impls, 2, "netbasics (sched)")
  end
  local srvpin, clipin = B.pin("server"), B.pin("client")

  -- a server on a free port (or at the Unix socket `path`); returns
  -- proc, port or path, pid
  local live = {}
  local function start(impl, path)
    local port = path or B.free_port()
    local p = B.server("ulimit -n 4096; exec " .. srvpin .. servers[impl]
      .. " " .. port, not path and port or nil)
    if path then
      assert(T.until_true(function()
        return T.run("ss -Hxl").out:find(path, 1, true) ~= nil
      end, 10), impl .. " did not listen on " .. path)
    end
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
  B.finally(function() for p in pairs(live) do p:stop() end end)

  local secs = B.n(3, 0.25)
  local rounds = B.n(5, 2)
  for _, w in ipairs {
    { id = "pp50", depth = 1, title = "talk ping-pong, 50 clients" },
    { id = "pipe50", depth = 16,
      title = "talk pipelined, 50 clients x 16 in flight" },
  } do
    B.workload { id = w.id, title = w.title, unit = "round trips/s",
      better = "higher", ref = "C",
      note = ("the C epoll load, %g s after 0.3 s of warm-up; targets "
        .. "netbasics (sched) >= %s C, ahead of luv, cqueues, LuaSocket "
        .. "and asyncio"):format(secs, w.depth == 1 and "0.9x" or "0.8x") }
    if not sched then
      B.note(w.id, "the scheduler (issue 7) is not in this build: "
        .. "netbasics is measured with a net.select loop only")
    end
    B.rounds(w.id, rounds, impls, function(impl)
      local p, port = start(impl)
      local ok, out = pcall(B.sh, ("%s%s load %d 50 %d %g"):format(clipin,
        REF, port, w.depth, secs))
      stop(p)
      assert(ok, out)
      return tonumber(out)
    end)
  end

  -- ping-pong over a Unix domain socket: the servers that take a path
  -- (C, the tasks); their TCP rows are pp50's
  local uimpls = sched and { "C", "netbasics (sched)" } or { "C" }
  B.workload { id = "ppunix", title = "talk ping-pong over a Unix socket, "
    .. "50 clients", unit = "round trips/s", better = "higher", ref = "C",
    note = ("as pp50 (the same load and servers), over a Unix domain "
      .. "socket in a temporary folder instead of TCP on 127.0.0.1; %g s "
      .. "after 0.3 s of warm-up"):format(secs) }
  B.rounds("ppunix", rounds, uimpls, function(impl)
    local path = dir .. "/talk.sock"
    local p = start(impl, path)
    local ok, out = pcall(B.sh, ("%s%s load %s 50 1 %g"):format(clipin,
      REF, path, secs))
    stop(p)
    os.remove(path)
    assert(ok, out)
    return tonumber(out)
  end)

  local conns = B.n(1000, 200)
  local function rss(pid)
    local s = T.slurp("/proc/" .. pid .. "/status") or ""
    return tonumber(s:match("VmRSS:%s*(%d+)"))
  end
  B.workload { id = "idle", title = "memory per idle connection",
    unit = "KiB", better = "lower", ref = "-",
    note = ("server VmRSS after %d clients connected and made one round "
      .. "trip, minus before, over %d (kernel socket buffers not "
      .. "included; the C server gives each client a 64 KiB line buffer, "
      .. "of which the first page is touched)"):format(conns, conns) }
  B.rounds("idle", B.n(3, 1), impls, function(impl)
    local p, port, pid = start(impl)
    local before = rss(pid)
    local cl = T.spawn(("ulimit -n 4096; exec %s%s idle %d %d 30"):format(
      clipin, REF, port, conns))
    local ready = T.until_true(function()
      return cl:out():match("ready") or not cl:alive()
    end, 60)
    local after = rss(pid)
    local out, err = cl:out(), cl:err()
    cl:stop()
    stop(p)
    assert(ready and out:match("ready"), "idle: " .. err)
    return (after - before) / conns
  end)
end)
