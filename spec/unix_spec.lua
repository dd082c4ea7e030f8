-- Unix domain sockets (docs/api/socket.md): paths and abstract names,
-- against socat (UNIX-LISTEN, UNIX-CONNECT, ABSTRACT-*) and nc -U, in
-- tasks and with net.select, net.connections() beside netstat -x, and the
-- talk server and client over a Unix socket.
local T = require "nbtest"
local net = require "netbasics"
local serve_talk = require "talktasks"

-- a fresh folder for socket files, removed at the end of the test
local function sockdir()
  local d = T.tmpdir()
  finally(function() T.rmtree(d) end)
  return d
end

-- does a file exist at path?
local function exists(path)
  return T.run("test -e " .. T.shquote(path)).code == 0
end

-- a process listens on the Unix socket `path` (per ss)
local function unix_listening(path)
  return T.until_true(function()
    return T.run("ss -Hxl").out:find(path, 1, true) ~= nil
  end, 10)
end

-- a connected pair over a Unix socket in dir: client c, accepted a
local function pair(dir)
  local l = assert(net.listen_unix(dir .. "/pair.sock"))
  finally(function() l:close() end)
  local c = assert(net.connect_unix(dir .. "/pair.sock"))
  local a = assert(l:accept())
  finally(function() c:close() a:close() end)
  return c, a
end

describe("net.socket('unix')", function()
  it("makes stream and datagram sockets, shown as such", function()
    local s <close> = assert(net.socket("unix", "stream"))
    local d <close> = assert(net.socket(net.AF_UNIX, net.SOCK_DGRAM))
    assert.matches("^netbasics%.socket %(unix stream, fd %d+%)$",
      tostring(s))
    assert.matches("^netbasics%.socket %(unix dgram, fd %d+%)$",
      tostring(d))
    assert.is_true(s:close())
    assert.is_true(s:close())
    assert.equal("netbasics.socket (closed)", tostring(s))
    assert.has_error(function() s:bind("/tmp/x") end,
      "attempt to use a closed socket")
  end)

  it("binds a path, says it in getsockname and removes its file at close",
    function()
      local dir = sockdir()
      local p = dir .. "/a.sock"
      local s = assert(net.socket("unix"))
      assert.is_true(s:bind(p))
      assert.same({ p }, { s:getsockname() })
      assert.is_true(exists(p))
      assert.is_true(s:close())
      assert.is_false(exists(p))
    end)

  it("leaves a file that is no longer its own (a new server's)", function()
    local dir = sockdir()
    local p = dir .. "/a.sock"
    local old = assert(net.socket("unix"))
    assert(old:bind(p))
    os.remove(p)
    local new <close> = assert(net.listen_unix(p))
    old:close()
    assert.is_true(exists(p))
    local c <close> = assert(net.connect_unix(p))
  end)

  it("refuses a path longer than sun_path, naming the limit", function()
    local s <close> = assert(net.socket("unix"))
    local long = "/tmp/" .. ("x"):rep(103)  -- 108 bytes
    local ok, err, code = s:bind(long)
    assert.is_nil(ok)
    assert.equal("malformed", code)
    assert.matches("too long %(108 bytes; at most 107%)", err)
    ok, err, code = net.connect_unix("@" .. ("y"):rep(108))
    assert.is_nil(ok)
    assert.equal("malformed", code)
    assert.matches("at most 107", err)
    -- 107 bytes is fine
    local d = sockdir()
    local fits = d .. "/" .. ("z"):rep(106 - #d)
    assert.equal(107, #fits)
    assert.is_true(s:bind(fits))
    assert.same({ fits }, { s:getsockname() })
  end)

  it("refuses an empty path and one with a zero byte", function()
    local s <close> = assert(net.socket("unix"))
    assert.same({ nil, "bind to: empty Unix socket path", "malformed" },
      { s:bind("") })
    local _, err, code = s:connect("/tmp/a\0b")
    assert.equal("malformed", code)
    assert.matches("zero byte", err)
  end)

  it("says which path is missing, and refused when nothing listens",
    function()
      local dir = sockdir()
      assert.same({ nil, "connect to " .. dir .. "/none: no such file or "
        .. "directory", "notfound" }, { net.connect_unix(dir .. "/none") })
      -- a socket file nobody listens on: its server died
      local s = assert(net.socket("unix"))
      assert(s:bind(dir .. "/dead.sock"))
      local ok, err, code = net.connect_unix(dir .. "/dead.sock")
      assert.is_nil(ok)
      assert.equal("refused", code)
      assert.equal("connect to " .. dir .. "/dead.sock: connection refused",
        err)
      s:close()
    end)

  it("shows the unprintable bytes of a path as \\xHH in messages",
    function()
      local _, err = net.connect_unix("/nonexistent/\27[31mred")
      assert.equal("connect to /nonexistent/\\x1B[31mred: no such file or "
        .. "directory", err)
    end)

  it("raises on a wrong argument type or an unknown option", function()
    assert.has_error(function() net.connect_unix(5) end)
    assert.has_error(function() net.listen_unix("/tmp/x", { nope = 1 }) end)
    assert.has_error(function() net.socket("unics") end)
  end)

  it("is collected when dropped, its file removed", function()
    local dir = sockdir()
    do local l = assert(net.listen_unix(dir .. "/gc.sock")) end
    collectgarbage()
    collectgarbage()
    assert.is_false(exists(dir .. "/gc.sock"))
  end)
end)

describe("net.listen_unix", function()
  it("serves socat's UNIX-CONNECT and nc -U, bytes exact both ways",
    function()
      local dir = sockdir()
      local p = dir .. "/srv.sock"
      local l <close> = assert(net.listen_unix(p))
      l:settimeout(10)
      local r = T.spawn("printf 'hello from socat\\n' | socat -t 5 - "
        .. "UNIX-CONNECT:" .. T.shquote(p))
      finally(function() r:stop() end)
      local c <close>, peer, port = assert(l:accept())
      assert.equal("", peer)  -- socat's end has no name
      assert.is_nil(port)
      c:settimeout(10)
      assert.equal("hello from socat", c:recvline())
      assert(c:sendall("You said hello\n"))
      c:close()
      assert.equal(0, r:wait(10))
      assert.equal("You said hello\n", r:out())

      local n = T.spawn("printf 'from nc\\n' | nc -N -U " .. T.shquote(p))
      finally(function() n:stop() end)
      local c2 <close> = assert(l:accept())
      c2:settimeout(10)
      assert.equal("from nc", c2:recvline())
      assert(c2:sendall("bytes \0\255 back\n"))
      c2:close()
      assert.equal(0, n:wait(10))
      assert.equal("bytes \0\255 back\n", n:out())
    end)

  it("gives the peer's credentials: our own process, and socat's",
    function()
      local dir = sockdir()
      local c, a = pair(dir)
      local cred = assert(a:peercred())
      assert.equal(T.pid(), cred.pid)
      assert.equal(tonumber(T.run("id -u").out), cred.uid)
      assert.equal(tonumber(T.run("id -g").out), cred.gid)
      assert.same(cred, assert(c:peercred()))
      local l <close> = assert(net.listen_unix(dir .. "/cred.sock"))
      local r = T.spawn("exec socat -t 5 UNIX-CONNECT:" .. T.shquote(dir
        .. "/cred.sock") .. " EXEC:'sleep 5'")
      finally(function() r:stop() end)
      l:settimeout(10)
      local s <close> = assert(l:accept())
      local pc = assert(s:peercred())
      assert.equal("socat\n", T.slurp("/proc/" .. pc.pid .. "/comm"))
      -- a TCP socket has none
      local t <close> = assert(net.socket("inet"))
      assert.same({ nil, "peercred: not a Unix socket", "family" },
        { t:peercred() })
    end)

  it("replaces a stale socket file, never a live one nor a plain file",
    function()
      local dir = sockdir()
      local p = dir .. "/stale.sock"
      -- a server that dies without removing its file
      local srv = T.spawn("exec socat UNIX-LISTEN:" .. T.shquote(p)
        .. ",fork EXEC:cat")
      finally(function() srv:stop() end)
      assert.truthy(unix_listening(p))
      -- while it lives, its file is kept
      local ok, err, code = net.listen_unix(p)
      assert.is_nil(ok)
      assert.equal("inuse", code)
      assert.matches("address already in use", err)
      assert.is_false(net.remove_stale(p))
      srv:kill("KILL")
      srv:wait(10)
      assert.is_true(exists(p))
      local l <close> = assert(net.listen_unix(p))
      local c <close> = assert(net.connect_unix(p))
      -- a plain file is never taken for a socket
      T.writefile(dir .. "/plain", "data")
      ok, err, code = net.listen_unix(dir .. "/plain")
      assert.is_nil(ok)
      assert.equal("inuse", code)
      assert.equal("data", T.slurp(dir .. "/plain"))
      assert.is_false(net.remove_stale(dir .. "/plain"))
      assert.is_false(net.remove_stale(dir .. "/none"))
    end)

  it("listens on an abstract name: socat ABSTRACT-CONNECT reaches it",
    function()
      local name = "nbtest-" .. T.pid()
      local l <close> = assert(net.listen_unix("@" .. name))
      assert.same({ "@" .. name }, { l:getsockname() })
      l:settimeout(10)
      local r = T.spawn("printf 'abstract\\n' | socat -t 5 - ABSTRACT-CONNECT:"
        .. name)
      finally(function() r:stop() end)
      local c <close> = assert(l:accept())
      c:settimeout(10)
      assert.equal("abstract", c:recvline())
      c:sendall("ok\n")
      c:close()
      assert.equal(0, r:wait(10))
      assert.equal("ok\n", r:out())
    end)
end)

describe("net.connect_unix", function()
  it("talks to socat's UNIX-LISTEN and nc -lU", function()
    local dir = sockdir()
    local p = dir .. "/peer.sock"
    local srv = T.spawn("exec socat UNIX-LISTEN:" .. T.shquote(p)
      .. " EXEC:cat")
    finally(function() srv:stop() end)
    assert.truthy(unix_listening(p))
    local c <close> = assert(net.connect_unix(p, { timeout = 10 }))
    assert.equal(10, c:gettimeout())
    assert.same({ p }, { c:getpeername() })
    assert(c:sendall("echo me\n"))
    assert.equal("echo me", c:recvline())
    c:close()

    local p2 = dir .. "/nc.sock"
    local nc = T.spawn("printf 'hi from nc\\n' | exec nc -lU " .. T.shquote(p2))
    finally(function() nc:stop() end)
    assert.truthy(unix_listening(p2))
    local c2 <close> = assert(net.connect_unix(p2, 10))
    assert.equal("hi from nc", c2:recvline())
    assert(c2:sendall("and back\n"))
    c2:shutdown("write")
    assert.equal(0, nc:wait(10))
    assert.equal("and back\n", nc:out())
  end)
end)

describe("Unix datagram sockets", function()
  it("send to a path and say who sent, against socat", function()
    local dir = sockdir()
    local a <close> = assert(net.socket("unix", "dgram"))
    local b <close> = assert(net.socket("unix", "dgram"))
    assert(a:bind(dir .. "/a"))
    assert(b:bind(dir .. "/b"))
    assert.equal(5, a:sendto("hello", dir .. "/b"))
    assert.same({ "hello", dir .. "/a" }, { b:recvfrom(100) })
    -- an unbound sender has no name
    local c <close> = assert(net.socket("unix", "dgram"))
    c:sendto("anon", dir .. "/b")
    local data, from, port = b:recvfrom(100)
    assert.same({ "anon", "" }, { data, from })
    assert.is_nil(port)
    -- socat sends one datagram from a file of its own
    local r = T.run("printf 'from socat' | socat - UNIX-SENDTO:"
      .. T.shquote(dir .. "/b") .. ",bind=" .. T.shquote(dir .. "/s"))
    assert.equal(0, r.code, r.err)
    b:settimeout(10)
    assert.same({ "from socat", dir .. "/s" }, { b:recvfrom(100) })
  end)
end)

describe("Unix sockets in tasks", function()
  it("serve 20 clients at once, each in a task, with lines and write",
    function()
      local dir = sockdir()
      local l = assert(net.listen_unix(dir .. "/talk.sock"))
      local acceptor = serve_talk(l)  -- as sched_spec's, on a path
      local got = {}
      local clients = {}
      for i = 1, 20 do
        clients[i] = net.spawn(function()
          local c <close> = assert(net.connect_unix(dir .. "/talk.sock", 10))
          for k = 1, 50 do
            assert(c:sendall(("line %d of %d\n"):format(k, i)))
            assert.equal(("You said line %d of %d"):format(k, i),
              c:recvline())
          end
          got[#got + 1] = i
        end)
      end
      net.spawn(function()
        for i = 1, 20 do clients[i]:join() end
        l:close()
      end)
      net.run()
      assert.equal(20, #got)
      assert.equal("done", acceptor:status())
    end)

  it("are seen ready by net.select, in a task and outside", function()
    local dir = sockdir()
    local c, a = pair(dir)
    local r, w = net.select({ a }, { c }, 0)
    assert.same({}, r)
    assert.equal(c, w[1])
    c:sendall("x")
    r = net.select({ a }, nil, 5)
    assert.equal(a, r[1])
    assert.equal("x", a:recv(1))
    local seen
    net.spawn(function()
      local rr = net.select({ a }, nil, 5)
      seen = rr[1]
    end)
    net.spawn(function() net.sleep(0.05) c:sendall("y") end)
    net.run()
    assert.equal(a, seen)
  end)
end)

describe("net.connections and the ports lesson", function()
  -- netstat -xan's rows for paths under dir, as comparable strings
  local function from_netstat(dir)
    local set = {}
    local p = io.popen("netstat -xan")
    for line in p:lines() do
      local flags, typ, rest = line:match("^unix%s+%d+%s+%[ ?(%u*) ?%]%s+"
        .. "(%u+)%s+(.*)$")
      if flags then
        local state, inode, path = rest:match("^(%u*)%s+(%d+)%s+(%S*)$")
        if not state then inode, path = rest:match("^(%d+)%s+(%S*)$") end
        if path and path:find(dir, 1, true) == 1 then
          set[#set + 1] = table.concat({ flags, typ:lower(),
            state ~= nil and state ~= "" and state or "UNCONN", inode, path },
            " ")
        end
      end
    end
    p:close()
    table.sort(set)
    return set
  end

  local function from_net(dir)
    local set = {}
    for _, c in ipairs(assert(net.connections("unix"))) do
      if c.path:find(dir, 1, true) == 1 then
        set[#set + 1] = table.concat({ c.flags, c.type, c.state,
          tostring(c.inode), c.path }, " ")
      end
    end
    table.sort(set)
    return set
  end

  it("lists listening, connected and datagram sockets as netstat -x",
    function()
      local dir = sockdir()
      local c, a = pair(dir)
      local d <close> = assert(net.socket("unix", "dgram"))
      assert(d:bind(dir .. "/dgram"))
      local want = from_netstat(dir)
      assert.equal(3, #want)  -- the listener, the accepted end, the dgram
      assert.same(want, from_net(dir))
      local kinds = {}
      for _, row in ipairs(from_net(dir)) do kinds[#kinds + 1] = row end
      assert.matches("^ACC stream LISTENING %d+ " .. dir .. "/pair.sock$",
        table.concat(kinds, "\n"):match("ACC[^\n]*"))
      -- with every internet socket first
      local all = assert(net.connections())
      local seen_unix = false
      for _, e in ipairs(all) do
        if e.family == "unix" then seen_unix = true
        else assert.is_false(seen_unix) end
      end
      assert.is_true(seen_unix)
      for _, e in ipairs(assert(net.connections("inet"))) do
        assert.is_true(e.family ~= "unix")
      end
      c:close()
      a:close()
    end)

  it("the ports lesson shows a Unix listener as netstat -x does", function()
    local dir = sockdir()
    local l <close> = assert(net.listen_unix(dir .. "/lesson.sock"))
    local r = T.nb({ "ports" })
    assert.equal(0, r.code, r.err)
    local row
    for line in r.out:gmatch("[^\n]+") do
      if line:find(dir .. "/lesson.sock", 1, true) then row = line end
    end
    assert.truthy(r.out:find("Active UNIX domain sockets (servers and "
      .. "established)\nProto RefCnt Flags       Type       State         "
      .. "I-Node   Path\n", 1, true))
    local ns
    for line in io.popen("netstat -xan"):lines() do
      if line:find(dir .. "/lesson.sock", 1, true) then ns = line end
    end
    assert.equal(ns, row)
  end)
end)

describe("the talk lessons over a Unix socket", function()
  it("serve and talk, the server naming the client's process", function()
    local dir = sockdir()
    local p = dir .. "/talk.sock"
    local srv = T.spawn(T.hostcmd() .. " talk-server unix:" .. T.shquote(p))
    finally(function() srv:stop() end)
    assert.truthy(unix_listening(p))
    local r = T.nb({ "talk-client", "unix:" .. p, "hello", "there" })
    assert.equal(0, r.code, r.err)
    assert.equal("Received: 'You said hello there\\n'\nConnection closed.\n",
      r.out)
    r = T.nb({ "talk-client", "unix:" .. p }, "bye\n")
    assert.equal(0, r.code, r.err)
    assert.equal(0, srv:wait(10))
    assert.matches("^Starting server%.\nConnected with process %d+\nI got "
      .. "hello there\nConnected with process %d+\nI got bye\nStopping "
      .. "server%.\n$", srv:out())
    assert.is_false(exists(p))  -- the server removed its file
  end)
end)
