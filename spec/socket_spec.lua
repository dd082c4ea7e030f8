-- The socket family against real peers: socat, nc and python3 on loopback
-- (127.0.0.1 and ::1). Every peer is started here on a free port and
-- stopped by PID in finally(), also when a test fails.
local T = require "nbtest"
local net = require "netbasics"

local function sh(cmd) return T.run(cmd) end

-- a listening socket of ours on a free loopback port
local function ourlistener(host)
  local l = assert(net.listen(host or "127.0.0.1", 0))
  local _, port = l:getsockname()
  return l, port
end

-- a connected pair over loopback: our client c and the socket a our
-- listener accepted, all three closed at the end of the test
local function ourpair()
  local l, port = ourlistener()
  local c = assert(net.connect("127.0.0.1", port))
  local a = assert(l:accept())
  finally(function() c:close() a:close() l:close() end)
  return c, a, port
end

-- a socat sending `data` to us and exiting
local function socat_sender(port, data, host)
  local d = T.tmpdir()
  T.writefile(d .. "/data", data)
  local p = T.spawn(string.format("socat -u OPEN:%s/data TCP:%s:%d",
    d, host or "127.0.0.1", port))
  p.datadir = d
  return p
end

-- a socat server answering "You said <line>" to each line (sed behind it)
local function socat_sayer(port, listen)
  local d = T.tmpdir()
  T.writefile(d .. "/say", "#!/bin/sh\nexec sed -u 's/^/You said /'\n")
  os.execute("chmod +x " .. d .. "/say")
  local p = T.spawn(string.format("socat " .. listen .. ",reuseaddr EXEC:%s/say",
    port, d))
  p.datadir = d
  return p
end

-- the sockets this process holds (T.fdcount also sees the pipe of its own
-- popen, whose other end may or may not be closed yet when ls runs)
local function socketcount()
  local p = io.popen("ls -l /proc/" .. T.pid() .. "/fd")
  local n = 0
  for line in p:lines() do
    if line:find("socket:[", 1, true) then n = n + 1 end
  end
  p:close()
  return n
end

local function stopall(...)
  for _, p in ipairs({ ... }) do
    if p then
      p:stop()
      if p.datadir then T.rmtree(p.datadir) end
    end
  end
end

describe("constants", function()
  it("have the values of the system (as Python's socket module)", function()
    local out = T.python("import socket as s; print(s.AF_INET, s.AF_INET6, "
      .. "s.SOCK_STREAM, s.SOCK_DGRAM, s.SHUT_RD, s.SHUT_WR, s.SHUT_RDWR)")
    assert.equal(out, string.format("%d %d %d %d %d %d %d\n", net.AF_INET,
      net.AF_INET6, net.SOCK_STREAM, net.SOCK_DGRAM, net.SHUT_RD, net.SHUT_WR,
      net.SHUT_RDWR))
  end)
end)

describe("net.socket", function()
  it("makes TCP and UDP sockets, IPv4 and IPv6", function()
    for _, args in ipairs({ {}, { net.AF_INET, net.SOCK_STREAM },
      { net.AF_INET6, net.SOCK_STREAM }, { net.AF_INET, net.SOCK_DGRAM },
      { "inet6", "dgram" } }) do
      local s = assert(net.socket(table.unpack(args)))
      assert.is_true(s:fileno() >= 0)
      assert.matches("^netbasics%.socket %(", tostring(s))
      assert.is_true(s:close())
    end
  end)

  it("raises on a bad family or type", function()
    assert.has_error(function() net.socket(12345) end)
    assert.has_error(function() net.socket(net.AF_INET, 99) end)
    assert.has_error(function() net.socket("ipx") end)
  end)

  it("closes twice, shows its state, raises when used closed", function()
    local s = assert(net.socket())
    assert.is_true(s:close())
    assert.is_true(s:close())
    assert.equal("netbasics.socket (closed)", tostring(s))
    for _, m in ipairs({ "recv", "recvline", "fileno", "getsockname",
      "listen", "accept", "settimeout" }) do
      assert.has_error(function() s[m](s) end,
        "attempt to use a closed socket")
    end
    assert.has_error(function() s:sendall("x") end,
      "attempt to use a closed socket")
    assert.has_error(function() s:connect("127.0.0.1", 1) end,
      "attempt to use a closed socket")
  end)

  it("is closed at the end of a <close> scope", function()
    local keep
    do
      local s <close> = assert(net.socket())
      keep = s
      assert.matches("fd %d+", tostring(s))
    end
    assert.equal("netbasics.socket (closed)", tostring(keep))
  end)

  it("sets close-on-exec on every descriptor", function()
    local l, port = ourlistener()
    local c = assert(net.connect("127.0.0.1", port))
    local a = assert(l:accept())
    for _, s in ipairs({ l, c, a, assert(net.socket(net.AF_INET6,
      net.SOCK_DGRAM)) }) do
      local info = T.slurp(string.format("/proc/%d/fdinfo/%d", T.pid(),
        s:fileno()))
      local flags = tonumber(info:match("flags:%s*(%d+)"), 8)
      assert.equal(0x80000, flags & 0x80000)  -- O_CLOEXEC
      s:close()
    end
  end)

  it("collects 500 sockets dropped without close", function()
    -- in a function of its own, so no stale register keeps one alive
    local function drop500()
      local l = assert(net.listen("127.0.0.1", 0))
      local _, port = l:getsockname()
      for _ = 1, 250 do
        assert(net.connect("127.0.0.1", port))
        assert(l:accept())
      end
    end
    collectgarbage()
    collectgarbage()
    local before = socketcount()
    drop500()
    assert.is_true(socketcount() >= before + 500)
    collectgarbage()
    collectgarbage()
    assert.equal(before, socketcount())
  end)
end)

describe("net.listen and net.connect", function()
  it("talk over IPv4 loopback", function()
    local l, port = ourlistener()
    local c = assert(net.connect("127.0.0.1", port, 5))
    local a, host, cport = assert(l:accept())
    assert.equal("127.0.0.1", host)
    assert.equal(select(2, c:getsockname()), cport)
    assert.same({ "127.0.0.1", port }, { c:getpeername() })
    assert.is_true(c:sendall("ping\n"))
    assert.equal("ping", a:recvline())
    assert.equal(5, a:send("pong\n"))
    assert.equal("pong\n", c:recv(100))
    c:close() a:close() l:close()
  end)

  it("refuses a NaN timeout and a negative or NaN attempt_delay", function()
    local function err(opts)
      local ok, e = pcall(net.connect, "127.0.0.1", 1, opts)
      assert.is_false(ok)
      return e
    end
    for _, opts in ipairs { 0 / 0, { timeout = 0 / 0 } } do
      assert.matches("bad argument #3 to 'connect' %(timeout: a number of "
        .. "seconds expected, got nan%)$", err(opts))
    end
    for _, d in ipairs { -1, -math.huge, 0 / 0 } do
      assert.matches("bad argument #3 to 'connect' %(option 'attempt_delay': "
        .. "seconds, 0 or more, expected, got " .. (d ~= d and "nan"
        or tostring(d)):gsub("%-", "%%-") .. "%)$",
        err { attempt_delay = d })
    end
    -- math.huge and 0 are delays: each attempt waits for the one before
    -- to fail, or none waits
    for _, d in ipairs { math.huge, 1e300, 0 } do
      local l, port = ourlistener()
      local c = assert(net.connect("127.0.0.1", port,
        { attempt_delay = d, timeout = 5 }))
      c:close() l:close()
    end
  end)

  it("talks to socat over IPv6 (::1)", function()
    local port = T.free_port("tcp", "::1")
    local p = socat_sayer(port, "TCP6-LISTEN:%d,bind=[::1]")
    finally(function() stopall(p) end)
    assert.truthy(T.wait_port(port))
    local s = assert(net.connect("::1", port, 5))
    s:settimeout(10)
    assert.same({ "::1", port }, { s:getpeername() })
    assert.is_true(s:sendall("hello six\n"))
    s:shutdown("write")
    assert.equal("You said hello six", s:recvline())
    s:close()
  end)

  it("serves a socat client over IPv6", function()
    local l, port = ourlistener("::1")
    local p = socat_sender(port, "over six\n", "[::1]")
    finally(function() stopall(p) l:close() end)
    local a, host = assert(l:accept())
    assert.equal("::1", host)
    assert.equal("over six", a:recvline())
    a:close()
  end)

  it("tries every address of a name in turn", function()
    local l, port = ourlistener()
    local dead = T.free_port("tcp")
    local real = net.getaddrinfo
    finally(function() net.getaddrinfo = real l:close() end)
    local asked
    net.getaddrinfo = function(host, p, ...)
      asked = host
      return { { family = "inet", host = "127.0.0.1", port = dead },
               { family = "inet6", host = "::1", port = dead },
               { family = "inet", host = "127.0.0.1", port = port } }
    end
    local c = assert(net.connect("several.example", port, 5))
    assert.equal("several.example", asked)
    assert.same({ "127.0.0.1", port }, { c:getpeername() })
    c:close()
    -- all refused: the last failure comes back
    net.getaddrinfo = function()
      return { { family = "inet", host = "127.0.0.1", port = dead } }
    end
    local s, msg, code = net.connect("several.example", dead)
    assert.is_nil(s)
    assert.equal("refused", code)
    assert.equal("connect to 127.0.0.1:" .. dead .. ": connection refused",
      msg)
  end)

  it("resolves names with getaddrinfo (localhost)", function()
    local l, port = ourlistener()
    local c = assert(net.connect("localhost", port, 5))
    local a = assert(l:accept())
    c:close() a:close() l:close()
    local list = assert(net.getaddrinfo("localhost", 80))
    assert.same({ family = "inet", host = "127.0.0.1", port = 80 }, list[1])
  end)

  it("refuses: nil, msg, 'refused'", function()
    local port = T.free_port("tcp")
    local s, msg, code = net.connect("127.0.0.1", port)
    assert.is_nil(s)
    assert.equal("refused", code)
    assert.equal("connect to 127.0.0.1:" .. port .. ": connection refused",
      msg)
  end)

  it("times out on a full backlog: 'timeout'", function()
    local l = assert(net.socket())
    assert(l:bind("127.0.0.1", 0))
    assert(l:listen(0))  -- never accepted: the queue fills at once
    local _, port = l:getsockname()
    local held, last = {}, {}
    for _ = 1, 20 do
      local c, msg, code = net.connect("127.0.0.1", port, 0.3)
      if not c then
        last = { msg = msg, code = code }
        break
      end
      held[#held + 1] = c
    end
    for _, c in ipairs(held) do c:close() end
    l:close()
    assert.equal("timeout", last.code)
    assert.equal("connect to 127.0.0.1:" .. port .. ": timed out", last.msg)
  end)

  it("reports a port in use: 'inuse'", function()
    local port = T.free_port("tcp")
    local p = T.spawn("nc -l 127.0.0.1 " .. port)
    finally(function() stopall(p) end)
    assert.truthy(T.wait_port(port))
    local s, msg, code = net.listen("127.0.0.1", port)
    assert.is_nil(s)
    assert.equal("inuse", code)
    assert.equal("bind to 127.0.0.1:" .. port .. ": address already in use",
      msg)
  end)

  it("sets SO_REUSEADDR: listens again at once after a connection",
    function()
      local l, port = ourlistener()
      local c = assert(net.connect("127.0.0.1", port))
      local a = assert(l:accept())
      a:close()  -- the server side closes first: TIME_WAIT on its port
      c:close()
      l:close()
      local again = assert(net.listen("127.0.0.1", port))
      again:close()
    end)

  it("rejects malformed hosts before any lookup: 'malformed'", function()
    for _, h in ipairs({ "", "bad host", "a..b", "1.2.3", "127.1",
      "0x7f.0.0.1", "017.0.0.1", "2130706433", "256.1.1.1", "1.2.3.4.5",
      "::1::2", "[::1]", "fe80::1%eth0", "a\0b", ("a"):rep(64) .. ".org",
      ("abc."):rep(70) .. "org", "host:80", "ex ample.org" }) do
      local s, msg, code = net.connect(h, 80)
      assert.is_nil(s, h)
      assert.equal("malformed", code, h)
      assert.matches("^malformed host '", msg)
      assert.is_nil(msg:find("\0", 1, true))
      local l, _, code2 = net.listen(h, 80)
      assert.is_nil(l)
      assert.equal("malformed", code2)
    end
  end)

  it("rejects bad ports: 'range' or 'malformed'", function()
    assert.equal("range", select(3, net.connect("127.0.0.1", 65536)))
    assert.equal("range", select(3, net.connect("127.0.0.1", -1)))
    assert.equal("range", select(3, net.listen("127.0.0.1", 1e10)))
    assert.equal("malformed", select(3, net.connect("127.0.0.1", 1.5)))
    assert.equal("malformed", select(3, net.connect("127.0.0.1", "80x")))
    assert.equal("range", select(3, net.connect("127.0.0.1", "99999")))
    assert.equal("malformed", select(3, net.connect("127.0.0.1", "")))
  end)

  it("raises on wrong argument types", function()
    assert.has_error(function() net.connect(nil, 80) end)
    assert.has_error(function() net.connect("127.0.0.1", {}) end)
    assert.has_error(function() net.connect("127.0.0.1", 80, "soon") end)
    assert.has_error(function() net.listen(80) end)
    assert.has_error(function() net.listen("127.0.0.1", 0, 1.5) end)
  end)

  it("keeps families apart: 'family'", function()
    local s = assert(net.socket(net.AF_INET))
    local ok, _, code = s:connect("::1", 80)
    assert.is_nil(ok)
    assert.equal("family", code)
    s:close()
    s = assert(net.socket(net.AF_INET6))
    assert.equal("family", select(3, s:bind("127.0.0.1", 0)))
    s:close()
  end)
end)

describe("s:recv and s:recvline", function()
  it("share one read buffer: mixing them loses no byte", function()
    local l, port = ourlistener()
    local data = "first line\r\nsecond\nABCDEFGHIJ" .. ("x"):rep(100000)
      .. "\nlast without newline"
    local p = socat_sender(port, data)
    finally(function() stopall(p) l:close() end)
    local a = assert(l:accept())
    a:settimeout(10)
    assert.equal("first line", a:recvline())
    assert.equal("sec", a:recv(3))
    assert.equal("ond", a:recvline())
    local got = {}
    local n = 0
    while n < 10 do
      local chunk = assert(a:recv(10 - n))
      got[#got + 1] = chunk
      n = n + #chunk
    end
    assert.equal("ABCDEFGHIJ", table.concat(got))
    assert.equal(("x"):rep(100000), a:recvline(200000))
    assert.equal("last without newline", a:recvline())
    local line, msg, code = a:recvline()
    assert.is_nil(line)
    assert.equal("closed", code)
    assert.matches("connection closed", msg)
    assert.equal("", a:recv(10))
    a:close()
  end)

  it("gives a 1 MB line without newline 'toolong', bounded", function()
    local l, port = ourlistener()
    local p = socat_sender(port, ("a"):rep(1024 * 1024))
    finally(function() stopall(p) l:close() end)
    local a = assert(l:accept())
    a:settimeout(10)
    local line, msg, code = a:recvline()
    assert.is_nil(line)
    assert.equal("toolong", code)
    assert.equal("recvline: line longer than 65536 bytes", msg)
    -- the rest of the stream can still be read (and thrown away)
    local rest = 0
    repeat
      local chunk = assert(a:recv(65536))
      rest = rest + #chunk
    until chunk == ""
    assert.is_true(rest < 1024 * 1024)
    a:close()
  end)

  it("honours max and keeps the stream in step after a long line",
    function()
      local l, port = ourlistener()
      local p = socat_sender(port, "short\n" .. ("b"):rep(50)
        .. "\nexactly10!\r\nnext\n")
      finally(function() stopall(p) l:close() end)
      local a = assert(l:accept())
      assert.equal("short", a:recvline(10))
      assert.equal("toolong", select(3, a:recvline(10)))
      assert.equal("exactly10!", a:recvline(10))
      assert.equal("next", a:recvline(10))
      assert.has_error(function() a:recvline(0) end)
      assert.has_error(function() a:recv(0) end)
      a:close()
    end)

  it("times out, keeping a partial line for the next call", function()
    local l, port = ourlistener()
    local c = assert(net.connect("127.0.0.1", port))
    local a = assert(l:accept())
    finally(function() c:close() a:close() l:close() end)
    a:settimeout(0.05)
    local v, msg, code = a:recv(10)
    assert.is_nil(v)
    assert.equal("timeout", code)
    assert.equal("recv from 127.0.0.1:" .. select(2, c:getsockname())
      .. ": timed out", msg)
    assert(c:sendall("part"))
    assert.equal("timeout", select(3, a:recvline()))
    a:settimeout(0)  -- never blocks
    assert.equal("timeout", select(3, a:recvline()))
    l:settimeout(0)
    assert.equal("timeout", select(3, l:accept()))
    assert(c:sendall("ial\nmore"))
    a:settimeout(5)
    assert.equal("partial", a:recvline())
    assert.equal("more", a:recv(100))
    a:settimeout(nil)
    assert.is_nil(a:gettimeout())
  end)

  it("gets end of stream as '' from recv, as Python", function()
    local l, port = ourlistener()
    local c = assert(net.connect("127.0.0.1", port))
    local a = assert(l:accept())
    c:shutdown(net.SHUT_WR)
    assert.equal("", a:recv(10))
    assert.equal("", a:recv(10))
    c:close() a:close() l:close()
  end)
end)

describe("s:lines and s:write", function()
  it("lines gives each line until the end of stream, sharing the buffer "
    .. "with recv", function()
    local l, port = ourlistener()
    local p = socat_sender(port, "one\r\ntwo\n\nABCthree\nlast")
    finally(function() stopall(p) l:close() end)
    local a = assert(l:accept())
    a:settimeout(10)
    local got = {}
    for line in a:lines() do
      got[#got + 1] = line
      if line == "" then got[#got + 1] = a:recv(3) end
    end
    assert.same({ "one", "two", "", "ABC", "three", "last" }, got)
    assert.equal("", a:recv(10))
    a:close()
  end)

  it("lines raises on a line longer than max and on a timeout, with "
    .. "recvline's message", function()
    local c, a = ourpair()
    assert(c:sendall("short\n" .. ("b"):rep(20) .. "\nnext\n"))
    a:settimeout(5)
    local it = a:lines(10)
    assert.equal("short", it())
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.equal("recvline: line longer than 10 bytes", err)
    assert.equal("next", it())
    a:settimeout(0.05)
    ok, err = pcall(it)
    assert.is_false(ok)
    assert.equal("recvline from 127.0.0.1:" .. select(2, c:getsockname())
      .. ": timed out", err)
    assert.has_error(function() a:lines(0) end,
      "bad argument #1 to 'lines' (out of range)")
    a:close()
    assert.has_error(function() it() end, "attempt to use a closed socket")
  end)

  it("write sends strings and numbers in order and returns the socket",
    function()
      local c, a = ourpair()
      assert.equal(c, c:write("a", 1, "b", 2.5, "\n"))
      assert.equal(c, c:write())
      assert.equal(c, c:write(""))
      assert(c:write("x"):write("y", "\n"))
      assert.has_error(function() c:write("ok", {}) end,
        "bad argument #2 to 'write' (string expected, got table)")
      assert.equal("a1b2.5", a:recvline())
      assert.equal("xy", a:recvline())
    end)

  it("write joins many pieces, small and large, in order", function()
    local c, a = ourpair()
    local many, big = {}, {}
    for i = 1, 20 do many[i] = tostring(i) end            -- 20 pieces, 31 bytes
    for i = 1, 12 do big[i] = string.char(96 + i):rep(900) end  -- 10,800
    assert(c:write(table.unpack(many)))
    assert(c:write(table.unpack(big)))
    assert(c:write(big[1], big[2], 7, "\n"))               -- 1,802, few pieces
    assert.equal(table.concat(many) .. table.concat(big) .. big[1] .. big[2]
      .. "7", a:recvline(100000))
  end)

  it("write of more than 64 KiB goes piece by piece, all of it, in order",
    function()
      local c, a = ourpair()
      local pieces = {}
      for i = 1, 3 do pieces[i] = string.char(64 + i):rep(40000) end
      assert(c:write(pieces[1], pieces[2], pieces[3], "\n"))
      assert.equal(table.concat(pieces), a:recvline(200000))
    end)

  it("write fails as sendall: nil, msg, 'closed', bytes sent", function()
    local c, a, port = ourpair()
    assert(a:setoption("linger", 0))
    a:close()  -- a reset
    c:settimeout(5)
    assert.equal("closed", select(3, c:recv(1)))
    local ok, msg, code, sent = c:write("after ", "the reset")
    assert.is_nil(ok)
    assert.equal("closed", code)
    assert.matches("^send to 127%.0%.0%.1:" .. port .. ": ", msg)
    assert.equal(0, sent)
  end)
end)

describe("s:sendall", function()
  it("survives a peer that resets during 100 MB: 'closed', bytes sent",
    function()
      local port = T.free_port("tcp")
      -- python3 reads 64 KiB, then closes with SO_LINGER 0: a reset
      local p = T.spawn("python3 -c " .. T.shquote(string.format([[
import socket, struct
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", %d)); l.listen(1)
c, _ = l.accept()
n = 0
while n < 65536:
    n += len(c.recv(65536))
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
]], port)))
      finally(function() stopall(p) end)
      assert.truthy(T.wait_port(port))
      local s = assert(net.connect("127.0.0.1", port, 5))
      s:settimeout(20)
      local big = ("z"):rep(100 * 1024 * 1024)
      local ok, msg, code, sent = s:sendall(big)
      assert.is_nil(ok)
      assert.equal("closed", code)
      assert.matches("^send to 127%.0%.0%.1:" .. port .. ": ", msg)
      assert.is_true(sent >= 65536 and sent < #big)
      -- and again: still no SIGPIPE, still "closed"
      assert.equal("closed", select(3, s:sendall("more")))
      s:close()
    end)

  it("sends part of a string with i, j and counts what went", function()
    local l, port = ourlistener()
    local c = assert(net.connect("127.0.0.1", port))
    local a = assert(l:accept())
    assert.equal(3, c:send("abcdef", 2, 4))
    assert.is_true(c:sendall("abcdef", 5))
    assert.is_true(c:sendall(""))
    c:close()
    assert.equal("bcdef", a:recvline())
    a:close() l:close()
  end)
end)

describe("s:close", function()
  -- the peer sent something never read: close still ends in order (all
  -- that was written, then end of file), not with a reset that throws
  -- away the answer the peer has not read yet
  it("after unread input gives the peer the whole answer, then EOF",
    function()
      local l, port = ourlistener()
      local p = T.spawn("python3 -c " .. T.shquote(string.format([[
import socket, time
s = socket.create_connection(("127.0.0.1", %d))
s.sendall(b"q" * 1000)
time.sleep(0.5)
n = 0
while True:
    b = s.recv(65536)
    if not b: break
    n += len(b)
print(n)
]], port)))
      finally(function() stopall(p) l:close() end)
      local a = assert(l:accept())
      a:settimeout(10)
      assert.equal(a, net.select({ a }, nil, 10)[1])  -- the 1000 bytes
      assert.is_true(a:sendall(("r"):rep(4 * 1024 * 1024)))
      a:close()
      assert.equal(0, p:wait(20), p:err())
      assert.equal(4 * 1024 * 1024 .. "\n", p:out())
    end)
end)

describe("UDP", function()
  it("sends to socat and receives from it", function()
    local port = T.free_port("udp")
    local d = T.tmpdir()
    local p = T.spawn(string.format("socat -u UDP-RECV:%d,bind=127.0.0.1 "
      .. "CREATE:%s/got", port, d))
    finally(function() stopall(p) T.rmtree(d) end)
    assert.truthy(T.wait_port(port, 10, "udp"))
    local s = assert(net.socket(net.AF_INET, net.SOCK_DGRAM))
    assert(s:bind("127.0.0.1", 0))
    assert.equal(13, s:sendto("hello, socat\n", "127.0.0.1", port))
    assert.truthy(T.until_true(function()
      return T.slurp(d .. "/got") == "hello, socat\n"
    end, 10))
    -- and socat sends to us
    local _, ours = s:getsockname()
    local r = T.run(string.format(
      "printf 'from socat' | socat -u - UDP-SENDTO:127.0.0.1:%d", ours))
    assert.equal(0, r.code)
    s:settimeout(5)
    local data, host = s:recvfrom()
    assert.equal("from socat", data)
    assert.equal("127.0.0.1", host)
    s:close()
  end)

  it("works over IPv6 and times out", function()
    local a = assert(net.socket(net.AF_INET6, net.SOCK_DGRAM))
    local b = assert(net.socket("inet6", "udp"))
    assert(a:bind("::1", 0))
    local _, pa = a:getsockname()
    assert.equal(4, b:sendto("six!", "::1", pa))
    a:settimeout(5)
    local data, host, port = a:recvfrom(100)
    assert.equal("six!", data)
    assert.equal("::1", host)
    assert.equal(select(2, b:getsockname()), port)
    a:settimeout(0)
    assert.equal("timeout", select(3, a:recvfrom()))
    a:close() b:close()
  end)
end)

describe("net.select", function()
  it("reports readers and writers, and buffered bytes at once", function()
    local l, port = ourlistener()
    local c = assert(net.connect("127.0.0.1", port))
    local r, w = net.select({ l }, { c }, 5)
    assert.same({ l, [l] = true }, r)
    assert.same({ c, [c] = true }, w)
    local a = assert(l:accept())
    assert(c:sendall("one\ntwo\n"))
    a:settimeout(5)
    assert.equal("one", a:recvline())
    -- "two" waits in a's buffer, the kernel has nothing left
    r = net.select({ a }, nil, 5)
    assert.same({ a, [a] = true }, r)
    assert.equal("two", a:recvline())
    local r2, w2, err = net.select({ a }, {}, 0.05)
    assert.same({}, r2)
    assert.same({}, w2)
    assert.equal("timeout", err)
    assert.has_error(function() net.select({ 42 }) end)
    c:close() a:close() l:close()
    assert.has_error(function() net.select({ a }) end,
      "attempt to use a closed socket")
  end)

  it("has no 1024-descriptor limit", function()
    local r = T.run(string.format("cd %s && ulimit -n 4096 && lua5.4 -e %s",
      T.shquote(T.root), T.shquote([[
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local net = require "netbasics"
local l = assert(net.listen("127.0.0.1", 0))
local _, port = l:getsockname()
local keep = {}
while #keep < 1200 do keep[#keep + 1] = assert(net.socket()) end
local c = assert(net.connect("127.0.0.1", port))
assert(c:fileno() > 1024)
local a = assert(l:accept())
assert(a:sendall("hi\n"))
local r = net.select({ c }, nil, 5)
assert(r[1] == c)
print("ok", c:fileno())
]])))
    assert.equal(0, r.code, r.err)
    assert.matches("^ok%s%d+", r.out)
  end)
end)

describe("net.netcat", function()
  it("sends, shuts down writing, gathers every chunk (socat server)",
    function()
      local port = T.free_port("tcp")
      local p = socat_sayer(port, "TCP-LISTEN:%d,bind=127.0.0.1")
      finally(function() stopall(p) end)
      assert.truthy(T.wait_port(port))
      local chunks = assert(net.netcat("127.0.0.1", port, "hello\nbye\n", 5))
      assert.equal("You said hello\nYou said bye\n", table.concat(chunks))
    end)

  it("fails as connect does", function()
    local port = T.free_port("tcp")
    local r, msg, code = net.netcat("127.0.0.1", port, "x")
    assert.is_nil(r)
    assert.equal("refused", code)
    assert.matches("connection refused", msg)
    assert.has_error(function() net.netcat("127.0.0.1", port, nil) end)
  end)
end)

describe("s:setoption and s:shutdown", function()
  it("sets every documented option", function()
    local s = assert(net.socket(net.AF_INET6))
    for _, o in ipairs({ "reuseaddr", "reuseport", "nodelay", "keepalive",
      "ipv6only" }) do
      assert.is_true(s:setoption(o, true))
      assert.is_true(s:setoption(o, false))
    end
    assert.is_true(s:setoption("rcvbuf", 65536))
    assert.is_true(s:setoption("sndbuf", 65536))
    assert.is_true(s:setoption("linger", 0))
    assert.has_error(function() s:setoption("bogus", true) end)
    assert.has_error(function() s:setoption("nodelay", 1) end)
    s:close()
  end)

  it("takes names or SHUT_* and reports an unconnected socket", function()
    local s = assert(net.socket())
    local ok, _, code = s:shutdown("both")
    assert.is_nil(ok)
    assert.equal("closed", code)
    assert.has_error(function() s:shutdown("sideways") end)
    assert.has_error(function() s:shutdown(7) end)
    s:close()
  end)
end)
