-- The talk lessons against real peers: nc (netcat-openbsd) as the client
-- of our talk server, socat as the server for our talk client, python3 for
-- the faults. Servers run on free loopback ports and are stopped by PID.
local T = require "nbtest"
local net = require "netbasics"

local function server(host, port)
  local p = T.spawn(string.format("%s talk-server %s %d", T.shquote(T.host),
    host, port))
  assert.truthy(T.wait_port(port), "talk-server did not start: " .. p:err())
  return p
end

-- nc sends `input`, shuts down writing at its end (-N) and prints all
-- it gets until the server closes
local function nc(host, port, input, six)
  return T.run(string.format("nc -N %s %s %d", six and "-6" or "", host,
    port), input)
end

-- a socat server answering "You said <line>" to each line
local function socat_sayer(port)
  local d = T.tmpdir()
  T.writefile(d .. "/say", "#!/bin/sh\nexec sed -u 's/^/You said /'\n")
  os.execute("chmod +x " .. d .. "/say")
  local p = T.spawn(string.format(
    "socat TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork EXEC:%s/say", port, d))
  p.datadir = d
  assert.truthy(T.wait_port(port))
  return p
end

local function stop(p)
  if p then
    p:stop()
    if p.datadir then T.rmtree(p.datadir) end
  end
end

-- Python's repr() undone, for the client's "Received: '...'" lines
local function unrepr(s)
  return (s:gsub("\\(x%x%x)", function(h)
    return string.char(tonumber(h:sub(2), 16))
  end):gsub("\\(.)", { n = "\n", r = "\r", t = "\t", ["\\"] = "\\",
    ["'"] = "'" }))
end

local function received(out)
  local got = {}
  for chunk in out:gmatch("Received: '(.-)'\n") do
    got[#got + 1] = unrepr(chunk)
  end
  return table.concat(got)
end

describe("talk-server", function()
  it("serves nc clients line by line until one says bye", function()
    local port = T.free_port("tcp")
    local p = server("127.0.0.1", port)
    finally(function() stop(p) end)
    -- several lines in one packet are several things said
    local r = nc("127.0.0.1", port, "hello\nhow are you\n")
    assert.equal(0, r.code)
    assert.equal("You said hello\nYou said how are you\n", r.out)
    -- that client left without bye: the server waits for the next one
    assert.is_true(p:alive())
    r = nc("127.0.0.1", port, "well, bye now\nnever read\n")
    assert.equal("You said well, bye now\n", r.out)
    assert.equal(0, p:wait(10))
    local log = p:out()
    local lines = {}
    for l in log:gmatch("[^\n]*\n") do lines[#lines + 1] = l end
    assert.equal(7, #lines, log)
    assert.equal("Starting server.\n", lines[1])
    assert.matches("^Connected with 127%.0%.0%.1:%d+\n$", lines[2])
    assert.equal("I got hello\n", lines[3])
    assert.equal("I got how are you\n", lines[4])
    assert.matches("^Connected with 127%.0%.0%.1:%d+\n$", lines[5])
    assert.equal("I got well, bye now\n", lines[6])
    assert.equal("Stopping server.\n", lines[7])
    assert.equal("", p:err())
  end)

  it("reads lines, not chunks: a line cut in pieces is one line", function()
    local port = T.free_port("tcp")
    local p = server("127.0.0.1", port)
    finally(function() stop(p) end)
    local out = T.python(string.format([[
import socket
s = socket.create_connection(("127.0.0.1", %d))
for piece in (b"hel", b"lo wor", b"ld\r\nsecond", b" line\n", b"bye\n"):
    s.sendall(piece)
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = s.recv(100)
    if not d: break
    data += d
print(data.decode(), end="")
]], port))
    assert.equal("You said hello world\nYou said second line\nYou said bye\n",
      out)
    assert.equal(0, p:wait(10))
  end)

  it("works over IPv6 with nc -6", function()
    local port = T.free_port("tcp", "::1")
    local p = server("::1", port)
    finally(function() stop(p) end)
    local r = nc("::1", port, "hi over six\nbye\n", true)
    assert.equal("You said hi over six\nYou said bye\n", r.out)
    assert.equal(0, p:wait(10))
    assert.matches("Connected with ::1:%d+\n", p:out())
  end)

  it("drops a client sending a 1 MB line and serves the next", function()
    local port = T.free_port("tcp")
    local p = server("127.0.0.1", port)
    finally(function() stop(p) end)
    T.python(string.format([[
import socket
s = socket.create_connection(("127.0.0.1", %d))
try:
    s.sendall(b"x" * (1024 * 1024))
except OSError:
    pass
s.close()
]], port))
    local r = nc("127.0.0.1", port, "bye\n")
    assert.equal("You said bye\n", r.out)
    assert.equal(0, p:wait(10))
    assert.matches("Dropped client: recvline: line longer than 65536 bytes\n",
      p:out())
  end)

  it("says the port the system chose for port 0, on stderr", function()
    local p = T.spawn(string.format("%s talk-server 127.0.0.1 0",
      T.shquote(T.host)))
    finally(function() stop(p) end)
    local port = T.until_true(function()
      return tonumber(p:err():match("^talk%-server: listening on port "
        .. "(%d+)\n$"))
    end, 10)
    assert.truthy(port, p:err())
    assert.truthy(T.wait_port(port))
    local r = nc("127.0.0.1", port, "bye\n")
    assert.equal("You said bye\n", r.out)
    assert.equal(0, p:wait(10))
    -- the seed's words on stdout stay as they were
    assert.matches("^Starting server%.\nConnected with ", p:out())
  end)

  it("shows a client's control bytes escaped in its log, and sends them "
    .. "back exact", function()
    local port = T.free_port("tcp")
    local p = server("127.0.0.1", port)
    finally(function() stop(p) end)
    local line = "a\1b\27[2J\27]0;title\7 \\ é\194\155x\127"
    local r = nc("127.0.0.1", port, line .. "\nbye\n")
    assert.equal("You said " .. line .. "\nYou said bye\n", r.out)
    assert.equal(0, p:wait(10))
    local log = p:out()
    assert.truthy(log:find("\nI got a\\x01b\\x1B[2J\\x1B]0;title\\x07 "
      .. "\\x5C é\\xC2\\x9Bx\\x7F\n", 1, true), log)
    assert.is_nil(log:find("[%z\1-\8\11-\31\127]"))
    -- bytes that are not UTF-8 are escaped too
    p = server("127.0.0.1", port)
    r = nc("127.0.0.1", port, "\255\254ok\nbye\n")
    assert.equal("You said \255\254ok\nYou said bye\n", r.out)
    assert.equal(0, p:wait(10))
    assert.truthy(p:out():find("\nI got \\xFF\\xFEok\n", 1, true))
    stop(p)
  end)

  it("says so in one line when the port is taken", function()
    local port = T.free_port("tcp")
    local p = T.spawn("nc -l 127.0.0.1 " .. port)
    finally(function() stop(p) end)
    assert.truthy(T.wait_port(port))
    local r = T.nb({ "talk-server", "127.0.0.1", tostring(port) })
    assert.equal(1, r.code)
    assert.equal("talk-server: bind to 127.0.0.1:" .. port
      .. ": address already in use (another program listens there: stop "
      .. "it, or give another PORT)\n", r.err)
  end)

  it("stops at Ctrl-C during accept: exit 130, the port free again",
    function()
      local port = T.free_port("tcp")
      local p = server("127.0.0.1", port)
      finally(function() stop(p) end)
      p:kill("INT")
      assert.equal(130, p:wait(10))
      assert.equal("Starting server.\n", p:out())
      assert.falsy(T.listening(port))
      local again = assert(net.listen("127.0.0.1", port))
      again:close()
    end)

  it("stops at Ctrl-C during recv: exit 130", function()
    local port = T.free_port("tcp")
    local p = server("127.0.0.1", port)
    finally(function() stop(p) end)
    local c = assert(net.connect("127.0.0.1", port, 5))
    c:settimeout(5)
    assert(c:sendall("still here\n"))
    assert.equal("You said still here", c:recvline())
    p:kill("INT")
    assert.equal(130, p:wait(10))
    assert.equal("", c:recv(10))  -- the server's end was closed
    c:close()
    assert.falsy(T.listening(port))
  end)
end)

describe("talk-client", function()
  it("talks to a socat server: Received: ..., Connection closed.",
    function()
      local port = T.free_port("tcp")
      local p = socat_sayer(port)
      finally(function() stop(p) end)
      local r = T.nb({ "talk-client", "127.0.0.1", tostring(port), "What",
        "I", "wanted", "to", "say." })
      assert.equal(0, r.code, r.err)
      assert.equal("", r.err)
      assert.equal("You said What I wanted to say.\n", received(r.out))
      assert.matches("^Received: '", r.out)
      assert.matches("\nConnection closed.\n$", r.out)
      -- the message from standard input, as it is
      r = T.nb({ "talk-client", "127.0.0.1", tostring(port) },
        "one\ntwo\tthree\n")
      assert.equal(0, r.code, r.err)
      assert.equal("You said one\nYou said two\tthree\n", received(r.out))
      assert.matches("You said two\\tthree\\n'", r.out, 1, true)
    end)

  it("talks to our talk server", function()
    local port = T.free_port("tcp")
    local p = server("127.0.0.1", port)
    finally(function() stop(p) end)
    local r = T.nb({ "talk-client", "127.0.0.1", tostring(port) },
      "hello\nbye\n")
    assert.equal(0, r.code, r.err)
    assert.equal("You said hello\nYou said bye\n", received(r.out))
    assert.equal(0, p:wait(10))
  end)

  it("says 'connection refused' in one line, exit 1", function()
    local port = T.free_port("tcp")
    local r = T.nb({ "talk-client", "127.0.0.1", tostring(port), "hi" })
    assert.equal(1, r.code)
    assert.equal("", r.out)
    assert.equal("talk-client: connect to 127.0.0.1:" .. port
      .. ": connection refused\n", r.err)
  end)

  it("rejects a bad host, port or message with its usage line, exit 2",
    function()
      local USAGE = "usage: netbasics talk-client HOST PORT [MESSAGE...]\n"
      local cases = {
        { { "127.1", "80", "hi" },
          "HOST '127.1': not an IP address or a host name" },
        { { "127.0.0.1", "70000", "hi" },
          "PORT '70000': ports go from 1 to 65535" },
        -- port 0 is for listening only: refused before any connect
        { { "127.0.0.1", "0", "hi" }, "PORT '0': ports go from 1 to 65535" },
        { { "127.0.0.1", "-5" }, "PORT '-5': ports go from 1 to 65535" },
        { { "127.0.0.1", "http" }, "PORT 'http': ports go from 1 to 65535" },
        { { "", "80" }, "HOST is empty" },
        { { "127.0.0.1", "" }, "PORT is empty" },
        { { "127.0.0.1", "80", "" }, "MESSAGE is empty" },
        { { "bad\27[31mhost", "80" },
          "HOST 'bad\\x1B[31mhost': not an IP address or a host name" },
        { {}, "needs HOST" },
        { { "127.0.0.1" }, "needs PORT" },
      }
      for _, c in ipairs(cases) do
        local args = { "talk-client" }
        for _, a in ipairs(c[1]) do args[#args + 1] = a end
        local r = T.nb(args)
        assert.same({ 2, "", "talk-client: " .. c[2] .. "\n" .. USAGE },
          { r.code, r.out, r.err })
      end
    end)

  it("at a terminal with no message, says how to end it (tmux): Ctrl-D "
    .. "sends", function()
    local port = T.free_port("tcp")
    local p = socat_sayer(port)
    finally(function() stop(p) end)
    local tm = require("tmux").open(T.hostcmd() .. " talk-client 127.0.0.1 "
      .. port)
    finally(function() tm:close() end)
    tm:wait_for("talk-client: type your message, end it with Ctrl-D")
    tm:type("hello there")
    tm:keys("C-d")
    local screen = tm:wait_for("Connection closed.")
    assert.truthy(screen:find("Received: 'You said hello there\\n'", 1,
      true), screen)
    assert.equal(0, tm:status())
  end)

  it("at a terminal, Ctrl-C while typing stops it: exit 130", function()
    local port = T.free_port("tcp")
    local p = socat_sayer(port)
    finally(function() stop(p) end)
    local tm = require("tmux").open(T.hostcmd() .. " talk-client 127.0.0.1 "
      .. port)
    finally(function() tm:close() end)
    tm:wait_for("end it with Ctrl-D")
    tm:type("half a")
    tm:keys("C-c")
    assert.equal(130, tm:status())
  end)

  it("says nothing about typing when the message comes from a pipe",
    function()
      local port = T.free_port("tcp")
      local p = socat_sayer(port)
      finally(function() stop(p) end)
      local r = T.nb({ "talk-client", "127.0.0.1", tostring(port) }, "hi\n")
      assert.equal(0, r.code)
      assert.equal("", r.err)
    end)
end)
