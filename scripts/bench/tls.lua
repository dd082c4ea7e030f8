-- scripts/bench/tls.lua (make bench): TLS sockets beside plain C with
-- OpenSSL (build/bench/tls-ref, compiled here from tls-ref.c), LuaSec in
-- Lua 5.4 (Debian lua-sec) and Python 3's ssl module, in interleaved
-- rounds, servers on one CPU and clients on the other (taskset; see
-- lib.lua). TLS 1.3 with AES-256-GCM (TLS_AES_256_GCM_SHA384) and an
-- ECDSA P-256 certificate made here with `openssl req`, which every
-- client checks (cafile and the address 127.0.0.1):
--   tlsbulk: 1 GiB through one TLS connection, 64 KiB writes, both ends
--            in the same language (target netbasics >= 0.9x C, ahead of
--            LuaSec and Python)
--   tlshs:   full handshakes per second, one after the other, both ends
--            in the same language (target >= 0.9x C, ahead of LuaSec)
--   tlspp50: the talk protocol over TLS, 50 clients in ping-pong (the C
--            load) against the netbasics task server (a task per client)
--            and a C epoll+OpenSSL server (target >= 0.8x C)
-- Called with `peer MODE PORT ...` it is one end of a Lua measurement.
-- A bulk receiver says "k" when it has every byte and the sender reads
-- it before it closes: a client that closes with bytes unread (TLS
-- 1.3's session tickets) makes its kernel reset the connection, and the
-- receiver would lose the end of the stream.
-- bench-estimate: 150 20
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath

local QUICK = os.getenv("NB_BENCH_QUICK") == "1"
local BULK = QUICK and 64 << 20 or 1 << 30
local CHUNK = 65536
local HANDSHAKES = QUICK and 200 or 2000
local RUNS = QUICK and 2 or 5
local REF = "build/bench/tls-ref"
local SUITE = "TLS_AES_256_GCM_SHA384"

-- ---------------------------------------------------------------------
-- the Lua ends
if arg[1] == "peer" then
  local mode, port = arg[2], tonumber(arg[3])
  local function luasec(m, a, b)
    return { mode = m, protocol = "tlsv1_3", ciphersuites = SUITE,
      certificate = m == "server" and a or nil,
      key = m == "server" and b or nil,
      cafile = m == "client" and a or nil,
      verify = m == "client" and "peer" or "none", options = "all" }
  end
  if mode:match("^ls%-") then
    local socket, ssl = require "socket", require "ssl"
    if mode == "ls-bulk-recv" then
      local l = assert(socket.bind("127.0.0.1", port))
      local c = assert(l:accept())
      l:close()
      local t0 = socket.gettime()
      c = assert(ssl.wrap(c, luasec("server", arg[4], arg[5])))
      assert(c:dohandshake())
      local total, n = 0, tonumber(arg[6])
      while total < n do
        local data, err, partial = c:receive(math.min(CHUNK, n - total))
        data = data or partial
        total = total + #data
        if err then break end
      end
      print(string.format("%.6f %d %s", socket.gettime() - t0, total,
        c:info("cipher")))
      assert(c:send("k"))
      c:receive(1)
      c:close()
    elseif mode == "ls-bulk-send" then
      local c = assert(socket.connect("127.0.0.1", port))
      c = assert(ssl.wrap(c, luasec("client", arg[5])))
      assert(c:dohandshake())
      local chunk = ("z"):rep(CHUNK)
      for _ = 1, tonumber(arg[4]) // CHUNK do assert(c:send(chunk)) end
      assert(c:receive(1) == "k")
      c:close()
    elseif mode == "ls-hs-server" then
      local l = assert(socket.bind("127.0.0.1", port, 128))
      local params = assert(ssl.newcontext(luasec("server", arg[4],
        arg[5])))
      while true do
        local c = l:accept()
        if c then
          c = ssl.wrap(c, params)
          if c and c:dohandshake() then
            c:settimeout(5)
            c:receive(1)   -- until the client's close_notify
          end
          if c then c:close() end
        end
      end
    elseif mode == "ls-hs-client" then
      local params = assert(ssl.newcontext(luasec("client", arg[5])))
      local t0 = socket.gettime()
      for _ = 1, tonumber(arg[4]) do
        local c = assert(socket.connect("127.0.0.1", port))
        c = assert(ssl.wrap(c, params))
        assert(c:dohandshake())
        c:close()
      end
      print(string.format("%.6f", socket.gettime() - t0))
    end
    return
  end
  local net = require "netbasics"
  local gettime = require("socket").gettime  -- only for its clock
  local function server_tls(cert, key)
    return { backlog = 128, tls = { cert = cert, key = key,
      min_version = "1.3" } }
  end
  local function client_tls(cafile)
    return { tls = { cafile = cafile, min_version = "1.3" } }
  end
  if mode == "nb-bulk-recv" then
    local l = assert(net.listen("127.0.0.1", port,
      server_tls(arg[4], arg[5])))
    local c = assert(l:accept())
    l:close()
    local total, n, t0 = 0, tonumber(arg[6]), gettime()
    while total < n do
      local data = assert(c:recv(CHUNK))
      if data == "" then break end
      total = total + #data
    end
    print(string.format("%.6f %d %s", gettime() - t0, total,
      c:tlsinfo().cipher))
    assert(c:sendall("k"))
    c:recv(1)
    c:close()
  elseif mode == "nb-bulk-send" then
    local c = assert(net.connect("127.0.0.1", port, client_tls(arg[5])))
    local chunk = ("z"):rep(CHUNK)
    for _ = 1, tonumber(arg[4]) // CHUNK do assert(c:sendall(chunk)) end
    assert(c:recv(1) == "k")
    c:close()
  elseif mode == "nb-hs-server" then
    local l = assert(net.listen("127.0.0.1", port,
      server_tls(arg[4], arg[5])))
    while true do
      local c = l:accept()
      if c then
        c:settimeout(5)
        c:recv(1)   -- the handshake, then until the client's close_notify
        c:close()
      end
    end
  elseif mode == "nb-hs-client" then
    local opts = client_tls(arg[5])
    local t0 = gettime()
    for _ = 1, tonumber(arg[4]) do
      assert(net.connect("127.0.0.1", port, opts)):close()
    end
    print(string.format("%.6f", gettime() - t0))
  elseif mode == "nb-sched" then
    -- the talk bench's task server, over TLS: a task per client, line by
    -- line; the handshake is the task's first read
    local l = assert(net.listen("127.0.0.1", port,
      server_tls(arg[4], arg[5])))
    print("pid " .. (io.open("/proc/self/stat"):read("n")))
    io.stdout:flush()
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

-- ---------------------------------------------------------------------
-- the orchestra
local B = dofile "scripts/bench/lib.lua"
local T = B.T
local LUA = "lua5.4 scripts/bench/tls.lua peer"

local PY = [[
import socket, ssl, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
CHUNK = 65536
SUITE = "TLS_AES_256_GCM_SHA384"
if mode == "bulk-recv":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(5)
    c, _ = l.accept(); l.close()
    t = time.monotonic()
    c = ctx.wrap_socket(c, server_side=True)
    buf = bytearray(CHUNK); total = 0; want = int(sys.argv[5])
    while total < want:
        n = c.recv_into(buf)
        if n == 0:
            break
        total += n
    print("%.6f %d %s" % (time.monotonic() - t, total, c.cipher()[0]))
    c.sendall(b"k")
    c.recv(1)
    c.close()
elif mode == "bulk-send":
    ctx = ssl.create_default_context(cafile=sys.argv[4])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                        server_hostname="127.0.0.1")
    chunk = b"z" * CHUNK
    for _ in range(int(sys.argv[3]) // CHUNK):
        c.sendall(chunk)
    assert c.recv(1) == b"k"
    c.close()
]]

local srv, cli = B.pin("server"), B.pin("client")

-- the server's certificate: ECDSA P-256, for 127.0.0.1, made with openssl
local function makecert(dir)
  B.sh(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
    .. "-nodes -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,"
    .. "DNS:localhost -days 2 -keyout %s/key.pem -out %s/cert.pem "
    .. "2>/dev/null"):format(dir, dir))
  return dir .. "/cert.pem", dir .. "/key.pem"
end

B.main(function()
  B.cc("tls-ref", "-lssl -lcrypto")
  local dir = T.tmpdir()
  B.finally(function() T.rmtree(dir) end)
  local cert, key = makecert(dir)
  T.writefile(dir .. "/peer.py", PY)
  local PYR = B.python .. " " .. dir .. "/peer.py"
  local ck = cert .. " " .. key

  -- seconds for BULK bytes: receiver `recv` (a server), sender `send`
  local function bulk(recv, send)
    local port = B.free_port()
    local r = B.server(("%s%s %d %s %d"):format(srv, recv, port, ck, BULK),
      port)
    B.sh(("%s%s %d %d %s"):format(cli, send, port, BULK, cert))
    local rc = r:wait(120)
    local out = r:out()
    r:stop()
    local secs, bytes, suite = out:match("^(%S+) (%d+) (%S+)")
    assert(rc == 0 and tonumber(bytes) == BULK, "bulk: got " .. tostring(out)
      .. r:err())
    assert(suite == SUITE, "bulk: the cipher was " .. tostring(suite))
    return tonumber(secs)
  end
  local bends = {
    C = { REF .. " bulk-recv", REF .. " bulk-send" },
    netbasics = { LUA .. " nb-bulk-recv", LUA .. " nb-bulk-send" },
    LuaSec = { LUA .. " ls-bulk-recv", LUA .. " ls-bulk-send" },
    ["Python 3 ssl"] = { PYR .. " bulk-recv", PYR .. " bulk-send" },
  }
  local gib = BULK / 2 ^ 30
  B.workload { id = "tlsbulk", title = ("TLS bulk %s, one connection"):format(
      BULK >= 1 << 30 and "1 GiB" or (BULK >> 20) .. " MiB"),
    unit = "GiB/s", better = "higher", ref = "C",
    note = "TLS 1.3, " .. SUITE .. ", 64 KiB writes, both ends in the "
      .. "same language; targets netbasics >= 0.9x C, ahead of LuaSec and "
      .. "Python" }
  local got = B.rounds("tlsbulk", RUNS,
    { "C", "netbasics", "LuaSec", "Python 3 ssl" }, function(impl)
      return gib / bulk(bends[impl][1], bends[impl][2])
    end)
  for _, other in ipairs { "LuaSec", "Python 3 ssl" } do
    if got.netbasics and got[other] then
      B.note("tlsbulk", ("netbasics / %s: %.2fx"):format(other,
        B.median(got.netbasics) / B.median(got[other])))
    end
  end

  -- handshakes per second: HANDSHAKES in a row against the same
  -- language's server
  local hends = {
    C = { REF .. " hs-server", REF .. " hs-client" },
    netbasics = { LUA .. " nb-hs-server", LUA .. " nb-hs-client" },
    LuaSec = { LUA .. " ls-hs-server", LUA .. " ls-hs-client" },
  }
  B.workload { id = "tlshs", title = "TLS 1.3 full handshakes",
    unit = "handshakes/s", better = "higher", ref = "C",
    note = ("%d in a row, ECDSA P-256, the client checks the certificate, "
      .. "no session resumption, both ends in the same language; targets "
      .. "netbasics >= 0.9x C, ahead of LuaSec"):format(HANDSHAKES) }
  got = B.rounds("tlshs", RUNS, { "C", "netbasics", "LuaSec" },
    function(impl)
      local port = B.free_port()
      local s = B.server(("%s%s %d %s"):format(srv, hends[impl][1], port,
        ck), port)
      local ok, out = pcall(B.sh, ("%s%s %d %d %s"):format(cli,
        hends[impl][2], port, HANDSHAKES, cert))
      s:stop()
      assert(ok, out)
      return HANDSHAKES / tonumber(out)
    end)
  if got.netbasics and got.LuaSec then
    B.note("tlshs", ("netbasics / LuaSec: %.2fx"):format(
      B.median(got.netbasics) / B.median(got.LuaSec)))
  end

  -- the talk protocol over TLS, 50 clients in ping-pong
  local servers = { C = REF .. " server",
    ["netbasics (sched)"] = LUA .. " nb-sched" }
  local secs = B.n(3, 0.5)
  B.workload { id = "tlspp50", title = "TLS talk ping-pong, 50 clients",
    unit = "round trips/s", better = "higher", ref = "C",
    note = ("the C epoll+OpenSSL load, %g s after 0.3 s of warm-up "
      .. "(handshakes before); target netbasics (sched) >= 0.8x C")
      :format(secs) }
  B.rounds("tlspp50", B.n(5, 2), { "C", "netbasics (sched)" },
    function(impl)
      local port = B.free_port()
      local p = B.server(("%s%s %d %s"):format(srv,
        servers[impl], port, ck), port)
      local ok, out = pcall(B.sh, ("%s%s load %d 50 %g %s"):format(cli, REF,
        port, secs, cert))
      p:stop()
      assert(ok, out)
      return tonumber(out)
    end)
end)
