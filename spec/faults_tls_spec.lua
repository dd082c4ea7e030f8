-- TLS faults: peers that do not speak TLS, stall or cut a handshake, ask
-- to renegotiate, send a 2 MB chain; many clients at once; descriptors and
-- memory after 2,000 handshakes. Peers on loopback, stopped by PID.
local T = require "nbtest"
local CA = require "tlsca"
local net = require "netbasics"

local pki = CA.get()
local q = T.shquote

local function peer(cmd, port)
  local p = T.spawn(cmd)
  finally(function() p:stop() end)
  assert(T.wait_port(port), "the peer does not listen: " .. p:err())
  return p
end

-- a python3 program given the port as argv[1] (and more args)
local function python(code, port, ...)
  local d = T.tmpdir()
  finally(function() T.rmtree(d) end)
  T.writefile(d .. "/peer.py", code)
  local args = { ... }
  for i, a in ipairs(args) do args[i] = q(a) end
  return peer(string.format("exec python3 %s/peer.py %d %s", d, port,
    table.concat(args, " ")), port)
end

-- a plain TCP server that runs `handle` (python, on `c`) for one client
local function rawserver(handle)
  local port = T.free_port()
  python(string.format([[
import socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(5)
c, _ = ls.accept()
%s
]], handle), port)
  return port
end

local function tlsconnect(port, timeout, tls)
  return net.connect("127.0.0.1", port, { timeout = timeout or 10,
    tls = tls or { cafile = pki.ca } })
end

describe("a TLS handshake with a broken peer", function()
  it("says a peer that answers garbage does not speak TLS", function()
    local port = rawserver([[
c.recv(4096)
c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS\n" * 20)
time.sleep(5)
]])
    local s, err, code = tlsconnect(port)
    assert.is_nil(s)
    assert.equal("tls", code)
    assert.matches("^tls handshake with 127%.0%.0%.1:%d+: the peer does "
      .. "not speak TLS %(.+%)$", err)
  end)

  it("times out on a peer that stops mid-handshake, outside and inside "
    .. "a task (net.deadline), and never hangs", function()
    local port = rawserver([[
c.recv(4096)
c2, _ = ls.accept()
c2.recv(4096)
time.sleep(30)
]])
    local s, err, code = tlsconnect(port, 0.5)
    assert.is_nil(s)
    assert.equal("timeout", code)
    assert.matches("^tls handshake with 127%.0%.0%.1:%d+: timed out", err)
    local t = net.spawn(function()
      return net.deadline(0.5, function()
        return tlsconnect(port, 30)
      end)
    end)
    net.run()
    local ok, r1, r2, r3 = t:join()
    assert.is_true(ok)
    assert.is_nil(r1)
    assert.equal("timeout", r3)
    assert.matches("timed out", r2)
  end)

  it("says the peer closed during the handshake", function()
    local port = rawserver([[
c.recv(4096)
c.close()
]])
    local s, err, code = tlsconnect(port)
    assert.is_nil(s)
    assert.equal("closed", code)
    assert.matches("the peer closed the connection during the TLS "
      .. "handshake", err)
  end)

  it("refuses a 2 MB certificate chain without holding it", function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    local leaf = assert(T.slurp(pki.good.cert))
    local ca = assert(T.slurp(pki.ca))
    local parts = { leaf }
    while #parts * #ca < 2 * 1024 * 1024 do parts[#parts + 1] = ca end
    T.writefile(d .. "/big.pem", table.concat(parts))
    local port = T.free_port()
    python([[
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(5)
raw, _ = ls.accept()
try:
    ctx.wrap_socket(raw, server_side=True)
except Exception:
    pass
]], port, d .. "/big.pem", pki.good.key)
    local s, err, code = tlsconnect(port)
    assert.is_nil(s)
    assert.equal("tls", code)
    assert.matches("excessive message size", err)
  end)
end)

describe("renegotiation", function()
  it("is refused when a client asks our server (s_client's R)", function()
    local l = assert(net.listen("127.0.0.1", 0, { tls = {
      cert = pki.good.cert, key = pki.good.key } }))
    finally(function() l:close() end)
    local _, port = l:getsockname()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    os.execute("mkfifo " .. d .. "/go")
    -- s_client takes "R" at the start of what it reads as a command
    local p = T.spawn(string.format("(echo one; read x < %s/go; echo R; "
      .. "sleep 10) | exec openssl s_client -connect 127.0.0.1:%d -tls1_2 "
      .. "-CAfile %s", d, port, q(pki.ca)))
    finally(function() p:stop() end)
    local c = assert(l:accept())
    finally(function() c:close() end)
    c:settimeout(10)
    assert.equal("one", c:recvline())
    local f = assert(io.open(d .. "/go", "w"))
    f:write("go\n")
    f:close()
    local line, err, code = c:recvline()
    assert.is_nil(line)
    assert.equal("tls", code)
    assert.is_not_nil(p:wait(10))
    assert.matches("no renegotiation", p:err())
  end)

  it("is refused when a server asks our client (s_server's r)",
    function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    os.execute("mkfifo " .. d .. "/go")
    local port = T.free_port()
    -- s_server reads its commands from stdin: "r" once we are connected
    peer(string.format("(read x < %s/go; echo r; sleep 10) | exec openssl "
      .. "s_server -accept 127.0.0.1:%d -cert %s -key %s -tls1_2 "
      .. "-naccept 1", d, port, q(pki.good.cert), q(pki.good.key)), port)
    local s = assert(tlsconnect(port))
    finally(function() s:close() end)
    assert(s:write("hello\n"))
    local f = assert(io.open(d .. "/go", "w"))
    f:write("go\n")
    f:close()
    local data, err, code = s:recv()
    while data and data ~= "" do data, err, code = s:recv() end
    assert.is_nil(data)
    assert.is_true(code == "tls" or code == "closed", err)
  end)
end)

describe("a TLS task server", function()
  -- echo each line once, a task per client
  local function echoserver(l, count)
    return net.spawn(function()
      for _ = 1, count do
        local c = assert(l:accept())
        net.spawn(function(conn)
          conn:settimeout(30)
          for line in conn:lines() do assert(conn:write(line, "\n")) end
          conn:close()
        end, c)
      end
    end)
  end

  it("serves 200 TLS clients at once, each message echoed once",
    function()
    local l = assert(net.listen("127.0.0.1", 0, { backlog = 256, tls = {
      cert = pki.ecdsa.cert, key = pki.ecdsa.key } }))
    finally(function() l:close() end)
    local _, port = l:getsockname()
    local N = 200
    echoserver(l, N)
    local got, connected = {}, 0
    local clients = {}
    for i = 1, N do
      clients[i] = net.spawn(function()
        local s <close> = assert(tlsconnect(port, 30))
        connected = connected + 1
        -- everyone connects before anyone talks
        while connected < N do net.sleep(0.01) end
        assert(s:write("message ", i, "\n"))
        got[i] = assert(s:recvline())
        assert(s:shutdown("write"))
        local more, _, code = s:recvline()
        assert.is_nil(more)
        assert.equal("closed", code)
      end)
    end
    net.run()
    for i = 1, N do
      assert.same({ true }, { clients[i]:join() })
      assert.equal("message " .. i, got[i])
    end
  end)

  it("leaves descriptors and memory where they were after 2,000 "
    .. "handshakes", function()
    -- in a host of its own, where ASan keeps no quarantine of freed
    -- blocks (it would look like growth): 200 rounds first (OpenSSL's and
    -- the allocator's first growth), then 2,000 more
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    T.writefile(d .. "/rounds.lua", [[
      local net = require "netbasics"
      local ca, cert, key = ...
      local l = assert(net.listen("127.0.0.1", 0, { tls = { cert = cert,
        key = key } }))
      local _, port = l:getsockname()
      -- every open descriptor (the pipe of popen itself the same each
      -- time), as "fd->what" sorted: sockets, files, pipes alike
      local function fds()
        local p = io.popen("ls -l /proc/self/fd")
        local all = {}
        for line in p:lines() do
          local fd, what = line:match("(%d+) %-> (.*)$")
          if fd then all[#all + 1] = fd .. "->" .. what:gsub("%d+", "N") end
        end
        p:close()
        table.sort(all)
        return #all .. " " .. table.concat(all, ",")
      end
      local function rss()
        local f = assert(io.open("/proc/self/status"))
        local s = f:read("a")
        f:close()
        return tonumber(s:match("VmRSS:%s*(%d+)"))
      end
      local function rounds(n)
        net.spawn(function()
          for _ = 1, n do
            local c = assert(l:accept())
            net.spawn(function(conn)
              conn:settimeout(30)
              for line in conn:lines() do assert(conn:write(line, "\n")) end
              conn:close()
            end, c)
          end
        end)
        net.spawn(function()
          for i = 1, n do
            local s <close> = assert(net.connect("127.0.0.1", port,
              { timeout = 30, tls = { cafile = ca } }))
            assert(s:write("r", i, "\n"))
            assert(s:recvline() == "r" .. i)
          end
        end)
        net.run()
        collectgarbage()
        collectgarbage()
      end
      local first = fds()  -- with the listener, before any connection
      rounds(200)
      local warm, mem = fds(), rss()
      rounds(2000)
      print(first)
      print(warm)
      print(fds())
      print(rss() - mem)
    ]])
    local r = T.run(string.format("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}"
      .. "quarantine_size_mb=0 %s %s %s %s %s", T.hostcmd(),
      q(d .. "/rounds.lua"), q(pki.ca), q(pki.ecdsa.cert), q(pki.ecdsa.key)))
    assert.equal(0, r.code, r.err)
    local first, warm, after, grew = r.out:match("^([^\n]+)\n([^\n]+)\n"
      .. "([^\n]+)\n(%-?%d+)\n$")
    assert(first, r.out)
    -- the same descriptors, counted exactly: none left behind by the
    -- first TLS use, the 200 or the 2,000
    assert.equal(first, warm)
    assert.equal(first, after)
    assert.is_true(tonumber(first:match("^%d+")) >= 4)  -- 0-2, listener
    assert.is_true(tonumber(grew) < 4096, "resident memory grew by "
      .. grew .. " KiB over 2,000 handshakes")
  end)
end)

describe("out of memory on the TLS paths", function()
  local W = require "oomwalk"

  -- a TLS server and client in tasks of one script: listen, accept, the
  -- handshake on first read, connect with a CA, lines both ways, tlsinfo,
  -- starttls refused for bytes read ahead, close_notify. First OpenSSL's
  -- one-time start (its configuration, error texts, providers and the
  -- algorithms and decoders it fetches for a first context), by a
  -- context made and dropped; with a 4th argument the script stops
  -- there, and the walks start after it: they cover our paths, not
  -- thousands of points inside OpenSSL's start
  local SCRIPT = [[
    local net = require "netbasics"
    local ca, cert, key, stop = ...
    assert(net.listen("127.0.0.1", 0, { tls = { cert = cert, key = key } }))
      :close()
    collectgarbage()
    collectgarbage()
    if stop then return end
    local l = assert(net.listen("127.0.0.1", 0, { tls = { cert = cert,
      key = key, alpn = { "x" } } }))
    local _, port = l:getsockname()
    local server = net.spawn(function()
      local c <close> = assert(l:accept())
      c:settimeout(5)
      for line in c:lines() do assert(c:write("You said ", line, "\n")) end
      return "served"
    end)
    local client = net.spawn(net.deadline, 5, function()
      local s <close> = assert(net.connect("127.0.0.1", port, { timeout = 5,
        tls = { cafile = ca, alpn = { "x" } } }))
      assert(s:write("hello\nbye\n"))
      local a, b = s:recvline(), s:recvline()
      local info = s:tlsinfo()
      return a .. " / " .. b .. " / " .. info.version .. " "
        .. tostring(info.alpn) .. " " .. info.chain[1].subject .. " "
        .. #info.chain[1].names
    end)
    net.spawn(function()  -- (a client that failed: the server stops too)
      client:join()
      l:close()
    end)
    net.run()
    for _, t in ipairs({ client, server }) do  -- (a failure: its first line)
      local ok, r = t:join()
      print(ok, (tostring(r):gsub("\n.*", "")))
    end
  ]]

  local function run(walk)
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    T.writefile(d .. "/tls.lua", SCRIPT)
    local args = table.concat({ q(d .. "/tls.lua"), q(pki.ca),
      q(pki.ecdsa.cert), q(pki.ecdsa.key) }, " ")
    return walk(args, args .. " stop")
  end

  it("each Lua allocation failing in turn ends in the memory error, no "
    .. "crash, nothing left open", function()
    local problems, runs, oom, total = run(function(a, prelude)
      return W.walk(a, nil, { from = W.count(prelude) })
    end)
    assert.same({}, problems)
    assert.is_true(runs >= 5, "only " .. runs .. " runs")
    assert.is_true(oom >= runs // 2, oom .. " of " .. runs .. " (total "
      .. total .. ")")
  end)

  it("each C allocation of netbasics failing in turn is a failure or an "
    .. "error, no crash", function()
    -- OpenSSL 3.0 keeps some of what it allocated when a later
    -- allocation of the same call fails (seen under ASan at a few points
    -- of the handshake): this walk checks crashes and errors, not leaks
    local from
    local problems, runs, failed, total = run(function(a, prelude)
      from = W.ccount(prelude)
      return W.cwalk(a, nil, { leaks = false, from = from })
    end)
    assert.same({}, problems)
    -- past OpenSSL's start: most of what is left is ours (the script's
    -- contexts, handshakes, reads and writes)
    assert.is_true(from > 1000 and total - from > 1000, "from " .. from
      .. " of " .. total)
    assert.is_true(runs >= math.min(total - from + 1, 5), "only " .. runs)
    assert.is_true(failed >= 1, "no run of " .. runs .. " ended in an "
      .. "error (total " .. total .. ")")
  end)
end)
