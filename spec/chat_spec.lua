-- The chat-server exercise with real nc clients: 20 chat at once, every
-- line reaches every other client, joins and leaves are announced, bye
-- leaves, and a client that stops reading is dropped while the others go
-- on (nothing they sent is lost, even under a flood).
local T = require "nbtest"
local net = require "netbasics"

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

describe("netbasics chat-server", function()
  it("relays every line of 20 nc clients to the 19 others; joins, leaves "
    .. "and bye; a client that stops reading is dropped and the others go "
    .. "on", function()
    local port = T.free_port("tcp", "127.0.0.1")
    local server = T.spawn(T.shquote(T.host) .. " chat-server 127.0.0.1 "
      .. port)
    local ncs, dir = {}, T.tmpdir()
    finally(function()
      for _, p in ipairs(ncs) do
        if p.fifo then p.fifo:close() end
        p:stop()
      end
      server:stop()
      T.rmtree(dir)
    end)
    assert.is_true(T.wait_port(port, 10))
    local function out(i) return T.slurp(dir .. "/out" .. i) or "" end
    local function say(i, line) ncs[i].fifo:write(line, "\n") end
    -- 20 real nc clients, one after the other, kept open by their fifos
    local name = {}
    for i = 1, 20 do
      local fifo = dir .. "/in" .. i
      assert.equal(0, T.run("mkfifo " .. fifo).code)
      ncs[i] = T.spawn("nc 127.0.0.1 " .. port .. " <" .. fifo .. " >"
        .. dir .. "/out" .. i)
      ncs[i].fifo = assert(io.open(fifo, "w"))
      ncs[i].fifo:setvbuf("no")
      assert.truthy(T.until_true(function()
        name[i] = out(i):match("^Welcome, (127%.0%.0%.1:%d+)%. Others here: "
          .. (i - 1) .. "%. Type bye to leave%.\n")
        return name[i]
      end, 10), out(i))
      assert.truthy(server:out():find("Connected with " .. name[i] .. "\n",
        1, true))
    end
    -- each saw the joins of those who came after it
    for i = 1, 19 do
      assert.truthy(T.until_true(function()
        return out(i):find("*** " .. name[20] .. " joined\n", 1, true)
      end, 10))
      local o = out(i)
      for j = i + 1, 20 do
        assert.truthy(o:find("*** " .. name[j] .. " joined\n", 1, true))
      end
      for j = 1, i - 1 do
        assert.falsy(o:find("*** " .. name[j] .. " joined", 1, true))
      end
    end

    -- every line reaches every other client as IP:PORT says: ...
    for i = 1, 20 do say(i, "hello from " .. i) end
    for i = 1, 20 do
      assert.truthy(T.until_true(function()
        return count(out(i), " says: hello from %d+\n") == 19
      end, 10), out(i))
      local o = out(i)
      for j = 1, 20 do
        assert.equal(j ~= i, o:find(name[j] .. " says: hello from " .. j
          .. "\n", 1, true) ~= nil)
      end
    end

    -- a client that stops reading (a small receive window), then a flood
    -- from client 1: the silent one is dropped, with a line in the log
    local mute = assert(net.connect("127.0.0.1", port))
    finally(function() mute:close() end)
    mute:setoption("rcvbuf", 4096)
    local _, mport = mute:getsockname()
    local mname = "127.0.0.1:" .. mport
    assert.truthy(T.until_true(function()
      return out(2):find("*** " .. mname .. " joined\n", 1, true)
    end, 10))
    local big = string.rep("x", 1000)
    for k = 1, 2000 do say(1, k .. " " .. big) end
    say(1, "done")
    assert.truthy(T.until_true(function()
      return server:out():find("Dropped " .. mname
        .. ": it does not read (queue full)\n", 1, true)
    end, 20), server:out())
    -- the others got every line of the flood, in order, and go on
    say(2, "still here")
    for i = 2, 20 do
      assert.truthy(T.until_true(function()
        return out(i):find(name[1] .. " says: done\n", 1, true)
      end, 30), "client " .. i)
      local last = 0
      for k in out(i):gmatch(" says: (%d+) x") do
        last = last + 1
        assert.equal(last, tonumber(k))
      end
      assert.equal(2000, last)
    end
    for i = 1, 20 do
      if i ~= 2 then
        assert.truthy(T.until_true(function()
          return out(i):find(name[2] .. " says: still here\n", 1, true)
        end, 10), "client " .. i)
      end
    end
    assert.equal(1, count(server:out(), "Dropped "))
    assert.equal("", server:err())

    -- bye leaves: the server logs it, the others see it
    say(20, "bye")
    assert.truthy(T.until_true(function()
      return server:out():find(name[20] .. " left\n", 1, true)
    end, 10))
    for i = 1, 19 do
      assert.truthy(T.until_true(function()
        return out(i):find("*** " .. name[20] .. " left\n", 1, true)
      end, 10), "client " .. i)
    end
    -- ... and so does the end of a stream (nc 19 ends)
    ncs[19]:kill("TERM")
    assert.truthy(ncs[19]:wait(10))
    for i = 1, 18 do
      assert.truthy(T.until_true(function()
        return out(i):find("*** " .. name[19] .. " left\n", 1, true)
      end, 10), "client " .. i)
    end
    -- the server goes on: a line after all that reaches the rest
    say(3, "last")
    for i = 1, 18 do
      if i ~= 3 then
        assert.truthy(T.until_true(function()
          return out(i):find(name[3] .. " says: last\n", 1, true)
        end, 10), "client " .. i)
      end
    end
    assert.falsy(out(20):find("says: last", 1, true))
    assert.is_true(server:alive())
    assert.equal("", server:err())
  end)

  describe("a client that leaves at once", function()
    local port, server
    before_each(function()
      port = T.free_port("tcp", "127.0.0.1")
      server = T.spawn(T.shquote(T.host) .. " chat-server 127.0.0.1 " .. port)
      assert.is_true(T.wait_port(port, 10))
    end)
    after_each(function() server:stop() end)

    local WELCOME = "^Welcome, 127%.0%.0%.1:%d+%. Others here: 0%. Type bye "
      .. "to leave%.\n$"

    it("gets its welcome: nc -N that sends a line and closes, 30 times",
      function()
        for i = 1, 30 do
          local r = T.run("nc -N 127.0.0.1 " .. port, "hi " .. i .. "\n")
          assert.equal(0, r.code)
          assert.matches(WELCOME, r.out, nil, "run " .. i)
        end
      end)

    it("gets its welcome: python, one line then shutdown(SHUT_WR), 30 "
      .. "times, while a listener hears every line", function()
      local listener = assert(require("netbasics").connect("127.0.0.1", port,
        5))
      finally(function() listener:close() end)
      listener:settimeout(10)
      assert.matches("^Welcome, ", listener:recvline())
      local out = T.python(([[
import socket
for i in range(30):
    s = socket.create_connection(("127.0.0.1", %d))
    s.sendall(b"line %%d\n" %% i)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.close()
    print(data.decode().replace("\n", "|"))
]]):format(port))
      local n = 0
      for line in out:gmatch("([^\n]*)\n") do
        n = n + 1
        assert.matches("^Welcome, 127%.0%.0%.1:%d+%. Others here: 1%. Type "
          .. "bye to leave%.|$", line)
      end
      assert.equal(30, n)
      -- the listener heard each join, line and leave, in order
      for i = 0, 29 do
        assert.matches(" joined$", listener:recvline())
        assert.matches(" says: line " .. i .. "$", listener:recvline())
        assert.matches(" left$", listener:recvline())
      end
    end)

    it("hears a goodbye after bye, then the close; an empty line is not "
      .. "passed on", function()
      local net = require "netbasics"
      local listener = assert(net.connect("127.0.0.1", port, 5))
      finally(function() listener:close() end)
      listener:settimeout(10)
      assert.matches("^Welcome, ", listener:recvline())
      local r = T.run("nc -N 127.0.0.1 " .. port, "\n   \nhello\nbye\n"
        .. "never read\n")
      local name = r.out:match("^Welcome, (127%.0%.0%.1:%d+)%.")
      assert.truthy(name, r.out)
      assert.equal("Welcome, " .. name .. ". Others here: 1. Type bye to "
        .. "leave.\nGoodbye, " .. name .. ".\n", r.out)
      assert.equal("*** " .. name .. " joined", listener:recvline())
      assert.equal(name .. " says: hello", listener:recvline())
      assert.equal("*** " .. name .. " left", listener:recvline())
      assert.truthy(T.until_true(function()
        return server:out():find(name .. " left\n", 1, true)
      end, 10))
      assert.equal("", server:err())
    end)
  end)

  it("passes a client's odd bytes on exact, and keeps them out of its "
    .. "own log", function()
    local net = require "netbasics"
    local port = T.free_port("tcp", "127.0.0.1")
    local server = T.spawn(T.shquote(T.host) .. " chat-server 127.0.0.1 "
      .. port)
    finally(function() server:stop() end)
    assert.is_true(T.wait_port(port, 10))
    local a = assert(net.connect("127.0.0.1", port, 5))
    finally(function() a:close() end)
    a:settimeout(10)
    assert.matches("^Welcome, ", a:recvline())
    local b = assert(net.connect("127.0.0.1", port, 5))
    finally(function() b:close() end)
    b:settimeout(10)
    local bname = b:recvline():match("^Welcome, ([%d.:]+)%.")
    assert.equal("*** " .. bname .. " joined", a:recvline())
    local line = "red \27[31mtext\27[0m \1\7\255\254 é"
    assert(b:sendall(line .. "\n"))
    assert.equal(bname .. " says: " .. line, a:recvline())
    assert(b:sendall("bye\n"))
    assert.equal("Goodbye, " .. bname .. ".", b:recvline())
    assert.truthy(T.until_true(function()
      return server:out():find(bname .. " left\n", 1, true)
    end, 10))
    assert.is_nil(server:out():find("[%z\1-\9\11-\31\127-\255]"))
  end)

  it("says so in one line, with a hint, when the port is taken", function()
    local port = T.free_port("tcp")
    local nc = T.spawn("nc -l 127.0.0.1 " .. port)
    finally(function() nc:stop() end)
    assert.truthy(T.wait_port(port))
    local r = T.nb({ "chat-server", "127.0.0.1", tostring(port) })
    assert.same({ 1, "", "chat-server: bind to 127.0.0.1:" .. port
      .. ": address already in use (another program listens there: stop "
      .. "it, or give another PORT)\n" }, { r.code, r.out, r.err })
  end)

  it("says the port the system chose for port 0, on stderr", function()
    local server = T.spawn(T.shquote(T.host) .. " chat-server 127.0.0.1 0")
    finally(function() server:stop() end)
    local port = T.until_true(function()
      return tonumber(server:err():match("^chat%-server: listening on port "
        .. "(%d+)\n$"))
    end, 10)
    assert.truthy(port, server:err())
    assert.is_true(T.wait_port(port, 10))
    local r = T.run("nc -N 127.0.0.1 " .. port, "bye\n")
    assert.matches("^Welcome, .*\nGoodbye, ", r.out)
    assert.equal("Starting chat server.\n", server:out():match("^[^\n]*\n"))
  end)
end)
