-- TLS sockets against real peers on loopback: openssl s_server and
-- s_client, socat OPENSSL-LISTEN and OPENSSL:, python3's ssl, nginx and
-- curl, with a test CA made by spec/support/tlsca.lua. Every peer is
-- started here on a free port and stopped by PID in finally().
local T = require "nbtest"
local CA = require "tlsca"
local W = require "webserver"
local net = require "netbasics"

local pki = CA.get()
local q = T.shquote

-- a peer started by a shell command that listens on `port`
local function peer(cmd, port)
  local p = T.spawn(cmd)
  finally(function() p:stop() end)
  assert(T.wait_port(port), "the peer does not listen: " .. p:err())
  return p
end

-- openssl s_server on a free port: -rev answers each line reversed
local function s_server(c, extra)
  local port = T.free_port()
  local p = peer(string.format("exec openssl s_server -accept 127.0.0.1:%d "
    .. "-cert %s -key %s -rev -naccept 1 %s", port, q(c.cert), q(c.key),
    extra or ""), port)
  return port, p
end

-- a python3 ssl server (code: the body of handle(conn)) on a free port
local PY_SERVER = [[
import socket, ssl, sys, os
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
%s
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(5)
raw, _ = ls.accept()
%s
]]

local function pyserver(c, setup, handle)
  local d = T.tmpdir()
  finally(function() T.rmtree(d) end)
  T.writefile(d .. "/server.py", string.format(PY_SERVER, setup or "",
    handle))
  local port = T.free_port()
  return port, peer(string.format("exec python3 %s/server.py %d %s %s", d,
    port, q(c.cert), q(c.key)), port)
end

-- our TLS listener on a free port, closed at the end
local function ourserver(tls)
  local l = assert(net.listen("127.0.0.1", 0, { tls = tls or {
    cert = pki.good.cert, key = pki.good.key } }))
  finally(function() l:close() end)
  local _, port = l:getsockname()
  return l, port
end

local function connect(port, tls, host)
  local s, err, code = net.connect(host or "127.0.0.1", port,
    { timeout = 10, tls = tls or { cafile = pki.ca } })
  if s then finally(function() s:close() end) end
  return s, err, code
end

describe("a TLS client (net.connect with tls)", function()
  it("talks TLS 1.3 to openssl s_server, verified against the CA, and "
    .. "tlsinfo tells the version, cipher and chain", function()
    local port = s_server(pki.good, "-tls1_3")
    local s = assert(connect(port))
    assert(s:write("hello\n"))
    assert.equal("olleh", s:recvline())
    local info = s:tlsinfo()
    assert.equal("TLSv1.3", info.version)
    assert.equal("TLS_AES_256_GCM_SHA384", info.cipher)
    assert.is_true(info.verified)
    assert.is_nil(info.why)
    assert.is_nil(info.alpn)
    local leaf = info.chain[1]
    assert.equal("O=netbasics test, CN=localhost", leaf.subject)
    assert.equal("CN=netbasics test CA", leaf.issuer)
    assert.same({ "localhost", "127.0.0.1", "::1" }, leaf.names)
    assert.equal(pki.good.pin, leaf.pin)
    local fp = T.run("openssl x509 -noout -fingerprint -sha256 -in "
      .. q(pki.good.cert)).out:match("=(%S+)")
    assert.equal(fp, leaf.sha256)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", leaf.not_after)
    assert.is_false(leaf.self_signed)
  end)

  it("talks TLS 1.2 to s_server -tls1_2, an ECDSA P-256 certificate, "
    .. "by name (localhost: SNI sent and the name checked)", function()
    local port = s_server(pki.ecdsa, "-tls1_2")
    local s = assert(connect(port, nil, "localhost"))
    assert(s:write("abc\n"))
    assert.equal("cba", s:recvline())
    local info = s:tlsinfo()
    assert.equal("TLSv1.2", info.version)
    assert.equal("localhost", info.servername)
    assert.matches("ECDSA", info.cipher)
  end)

  it("agrees on ALPN with s_server -alpn", function()
    local port = s_server(pki.good, "-alpn http/1.1")
    local s = assert(connect(port, { cafile = pki.ca,
      alpn = { "h2", "http/1.1" } }))
    assert.equal("http/1.1", s:tlsinfo().alpn)
  end)

  it("gives a client certificate to s_server -Verify, and without one "
    .. "says the server wants one", function()
    local port = s_server(pki.good, "-Verify 1 -verify_return_error "
      .. "-tls1_2 -CAfile " .. q(pki.ca))
    local s = assert(connect(port, { cafile = pki.ca,
      cert = pki.client.cert, key = pki.client.key }))
    assert(s:write("mine\n"))
    assert.equal("enim", s:recvline())
    s:close()
    port = s_server(pki.good, "-Verify 1 -verify_return_error -tls1_2 "
      .. "-CAfile " .. q(pki.ca))
    local s2, err, code = connect(port)
    assert.is_nil(s2)
    assert.equal("tls", code)
    assert.matches("tls handshake with 127%.0%.0%.1:%d+: ", err)
  end)

  it("takes a client key under a password", function()
    local port = s_server(pki.good, "-Verify 1 -verify_return_error "
      .. "-CAfile " .. q(pki.ca))
    local s = assert(connect(port, { cafile = pki.ca,
      cert = pki.locked.cert, key = pki.locked.key,
      password = pki.password }))
    assert(s:write("pw\n"))
    assert.equal("wp", s:recvline())
    local _, err, code = net.connect("127.0.0.1", port, { timeout = 5,
      tls = { cafile = pki.ca, cert = pki.locked.cert,
              key = pki.locked.key, password = "wrong" } })
    assert.equal("tls", code)
    assert.matches("cannot use key", err)
  end)

  it("refuses min_version 1.3 against a TLS 1.2 server, in words",
    function()
    local port = s_server(pki.good, "-tls1_2")
    local s, err, code = connect(port, { cafile = pki.ca,
      min_version = "1.3" })
    assert.is_nil(s)
    assert.equal("tls", code)
    assert.matches("no TLS version in common %(the oldest we speak is "
      .. "1%.3%)", err)
  end)

  it("refuses a TLS 1.0-only and a TLS 1.1-only server", function()
    for _, v in ipairs({ "-tls1", "-tls1_1" }) do
      local port = s_server(pki.good, v .. " -cipher DEFAULT@SECLEVEL=0")
      local s, err, code = connect(port)
      assert.is_nil(s)
      assert.equal("tls", code)
      assert.matches("no TLS version in common %(the oldest we speak is "
        .. "1%.2%)", err)
    end
  end)

  local BAD = {
    { "expired", "certificate has expired %(valid until 2025%-01%-31%)" },
    { "notyet", "certificate is not valid yet %(valid from 2030%-01%-01%)" },
    { "wrongname", "certificate is for example%.org, www%.example%.org, "
      .. "not 127%.0%.0%.1" },
    { "selfsigned", "self%-signed certificate: pass cafile or pin" },
    { "untrusted", "certificate signed by an unknown authority %(CN="
      .. "netbasics other CA%): pass cafile or pin" },
  }
  for _, b in ipairs(BAD) do
    it("refuses the " .. b[1] .. " certificate with its words", function()
      local port = s_server(pki[b[1]])
      local s, err, code = connect(port)
      assert.is_nil(s)
      assert.equal("tls", code)
      assert.matches("^tls handshake with 127%.0%.0%.1:" .. port .. ": "
        .. b[2] .. "$", err)
    end)
  end

  it("checks an IP address against the certificate's IP names: an IP "
    .. "SAN is good for 127.0.0.1 and not for localhost", function()
    local port = s_server(pki.ipsan, "-naccept 2")
    local s = assert(connect(port))
    assert.is_nil(s:tlsinfo().servername)  -- no SNI for an address
    s:close()
    local s2, err, code = connect(port, nil, "localhost")
    assert.is_nil(s2)
    assert.equal("tls", code)
    assert.matches("certificate is for 127%.0%.0%.1, not localhost", err)
  end)

  it("refuses the system's authorities for a test certificate (no "
    .. "cafile: the default store)", function()
    local port = s_server(pki.good)
    local s, err, code = connect(port, true)
    assert.is_nil(s)
    assert.equal("tls", code)
    assert.matches("unknown authority %(CN=netbasics test CA%)", err)
  end)

  it("trusts a pinned key alone, and refuses a wrong pin even when the CA "
    .. "vouches", function()
    local port = s_server(pki.selfsigned)
    local s = assert(connect(port, { pin = pki.selfsigned.pin }))
    local info = s:tlsinfo()
    assert.is_true(info.verified)
    assert.is_true(info.pinned)
    assert.is_true(info.chain[1].self_signed)
    s:close()
    port = s_server(pki.good)
    local s2, err, code = connect(port, { cafile = pki.ca,
      pin = "sha256/" .. pki.selfsigned.pin:sub(9) })
    assert.is_nil(s2)
    assert.equal("tls", code)
    assert.matches("the server's public key does not match the pin %(it "
      .. "is " .. pki.good.pin:gsub("%p", "%%%0") .. "%)", err)
  end)

  it("with insecure = true connects to a self-signed server, and "
    .. "tlsinfo says why it is not verified", function()
    local port = s_server(pki.selfsigned)
    local s = assert(connect(port, { insecure = true }))
    local info = s:tlsinfo()
    assert.is_false(info.verified)
    assert.equal("self-signed certificate: pass cafile or pin", info.why)
  end)

  it("with insecure = true still runs every check: tlsinfo says the "
    .. "peer would have been verified, or why not", function()
    local CASES = {
      { "good", true, nil },
      { "expired", false, "certificate has expired (valid until "
        .. "2025-01-31)" },
      { "notyet", false, "certificate is not valid yet (valid from "
        .. "2030-01-01)" },
      { "wrongname", false, "certificate is for example.org, "
        .. "www.example.org, not 127.0.0.1" },
      { "untrusted", false, "certificate signed by an unknown authority "
        .. "(CN=netbasics other CA): pass cafile or pin" },
    }
    for _, case in ipairs(CASES) do
      local port = s_server(pki[case[1]])
      local s = assert(connect(port, { insecure = true, cafile = pki.ca }))
      assert(s:write("abc\n"))
      assert.equal("cba", s:recvline())
      local info = s:tlsinfo()
      assert.same({ case[1], case[2], case[3] },
        { case[1], info.verified, info.why })
      s:close()
    end
  end)

  it("shows a subject's odd bytes once escaped: UTF-8 and control bytes "
    .. "as \\ddd, RFC 2253's own escapes kept", function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    -- CN "caf\195\169" (UTF-8) with an ESC in it; O "a, b+c\d"
    local r = T.run(("openssl req -x509 -utf8 -newkey ec -pkeyopt "
      .. "ec_paramgen_curve:P-256 -nodes -days 1 -subj %s -addext %s "
      .. "-keyout %s/k.pem -out %s/c.pem"):format(
      q("/O=a, b\\+c\\\\d/CN=caf\xc3\xa9\27x"),
      q("subjectAltName=DNS:caf\xc3\xa9.test,IP:127.0.0.1"), d, d))
    assert.equal(0, r.code, r.err)
    local port = s_server({ cert = d .. "/c.pem", key = d .. "/k.pem" })
    local s = assert(connect(port, { insecure = true }))
    local leaf = s:tlsinfo().chain[1]
    local want = "CN=caf\\195\\169\\027x, O=a\\, b\\+c\\\\d"
    assert.equal(want, leaf.subject)
    assert.equal(want, leaf.issuer)
    assert.same({ "caf\\195\\169.test", "127.0.0.1" }, leaf.names)
  end)

  it("raises on an unknown option or a wrong type", function()
    assert.has_error(function()
      net.connect("127.0.0.1", 1, { tls = { verfiy = true } })
    end, "bad argument #3 to 'connect' (unknown tls option 'verfiy')")
    assert.has_error(function()
      net.connect("127.0.0.1", 1, { tls = { alpn = "h2" } })
    end, "bad argument #3 to 'connect' (tls option 'alpn': table expected, "
      .. "got string)")
    assert.has_error(function()
      net.connect("127.0.0.1", 1, { tls = { min_version = "1.1" } })
    end)
  end)

  it("fails with a pin that is not sha256//BASE64 and a cafile that "
    .. "does not exist, as tls", function()
    local _, err, code = net.connect("127.0.0.1", 1, { tls = { pin = "x" } })
    assert.equal("tls", code)
    assert.matches("pin", err)
    _, err, code = net.connect("127.0.0.1", 1,
      { tls = { cafile = "/nonexistent.pem" } })
    assert.equal("tls", code)
    assert.matches("cannot use cafile /nonexistent%.pem", err)
  end)

  it("talks to socat OPENSSL-LISTEN and to a python3 ssl server",
    function()
    local port = T.free_port()
    peer(string.format("exec socat OPENSSL-LISTEN:%d,bind=127.0.0.1,"
      .. "reuseaddr,cert=%s,key=%s,verify=0 EXEC:cat", port,
      pki.good.cert, pki.good.key), port)
    local s = assert(connect(port))
    assert(s:write("echo\n"))
    assert.equal("echo", s:recvline())
    s:close()
    local pport = pyserver(pki.ecdsa, nil, [[
conn = ctx.wrap_socket(raw, server_side=True)
f = conn.makefile("rwb")
for line in f:
    f.write(b"py " + line); f.flush()
conn.unwrap(); raw.close()
]])
    local p = assert(connect(pport, nil, "localhost"))
    assert(p:write("one\ntwo\n"))
    assert.equal("py one", p:recvline())
    assert.equal("py two", p:recvline())
    assert(p:shutdown("write"))  -- our close_notify: python's loop ends
    assert.equal("", p:recv())   -- and its close_notify is a clean end
  end)

  it("fetches a page from nginx over HTTPS", function()
    local web = W.nginx({ files = { ["page.html"] = "<p>tls</p>\n" } })
    finally(function() web:stop() end)
    local s = assert(connect(web.tls_port, { cafile = web.cafile }))
    assert(s:write("GET /page.html HTTP/1.0\r\nHost: localhost\r\n\r\n"))
    local all = {}
    while true do
      local d = assert(s:recv())
      if d == "" then break end
      all[#all + 1] = d
    end
    local text = table.concat(all)
    assert.matches("^HTTP/1%.1 200 OK", text)
    assert.matches("<p>tls</p>\n$", text)
  end)
end)

describe("a TLS server (net.listen with tls)", function()
  -- serve one client: each line back with "ok " in front
  local function serve_one(l)
    local c = assert(l:accept())
    for line in c:lines() do assert(c:write("ok ", line, "\n")) end
    c:close()
  end

  it("serves openssl s_client, verified against the CA", function()
    local l, port = ourserver()
    local p = T.spawn(string.format("printf 'ping\\n' | openssl s_client "
      .. "-connect 127.0.0.1:%d -CAfile %s -verify_return_error -quiet "
      .. "-servername localhost", port, q(pki.ca)))
    finally(function() p:stop() end)
    local c = assert(l:accept())
    assert.equal("ping", c:recvline())
    assert(c:write("pong\n"))
    c:close()
    assert.equal(0, p:wait(10))
    assert.equal("pong\n", p:out())
  end)

  it("serves curl --cacert over HTTPS", function()
    local l, port = ourserver()
    local p = T.spawn(string.format("curl -sS --cacert %s "
      .. "https://localhost:%d/x", q(pki.ca), port))
    finally(function() p:stop() end)
    local c = assert(l:accept())
    local req = assert(c:recvline())
    assert.equal("GET /x HTTP/1.1", req)
    repeat local h = assert(c:recvline()) until h == ""
    assert(c:write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
      .. "Connection: close\r\n\r\nhello\n"))
    c:close()
    assert.equal(0, p:wait(10), p:err())
    assert.equal("hello\n", p:out())
  end)

  it("serves socat OPENSSL: and a python3 ssl client", function()
    local l, port = ourserver()
    local p = T.spawn(string.format("printf 'via socat\\n' | socat - "
      .. "OPENSSL:127.0.0.1:%d,cafile=%s,commonname=localhost", port,
      q(pki.ca)))
    finally(function() p:stop() end)
    serve_one(l)
    assert.equal(0, p:wait(10), p:err())
    assert.equal("ok via socat\n", p:out())
    local py = T.spawn(string.format("python3 -c %s %d %s", q([[
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(b"from python\n")
f = s.makefile("rb")
sys.stdout.write(f.readline().decode())
s.unwrap()
]]), port, q(pki.ca)))
    finally(function() py:stop() end)
    local c = assert(l:accept())
    assert.equal("from python", c:recvline())
    assert(c:write("ok\n"))
    local line, _, code = c:recvline()  -- python's close_notify (unwrap)
    assert.is_nil(line)
    assert.equal("closed", code)
    c:close()  -- ours, which unwrap waits for
    assert.equal(0, py:wait(10), py:err())
    assert.equal("ok\n", py:out())
  end)

  it("asks for a client certificate with verify_client and refuses a "
    .. "client without one", function()
    local l, port = ourserver({ cert = pki.good.cert, key = pki.good.key,
      verify_client = true, cafile = pki.ca })
    local p = T.spawn(string.format("printf 'me\\n' | openssl s_client "
      .. "-connect 127.0.0.1:%d -CAfile %s -cert %s -key %s -quiet", port,
      q(pki.ca), q(pki.client.cert), q(pki.client.key)))
    finally(function() p:stop() end)
    local c = assert(l:accept())
    assert.equal("me", c:recvline())
    local info = c:tlsinfo()
    assert.is_true(info.verified)
    assert.equal("O=netbasics test, CN=netbasics client",
      info.chain[1].subject)
    c:close()
    p:wait(10)
    local p2 = T.spawn(string.format("printf 'anon\\n' | openssl s_client "
      .. "-connect 127.0.0.1:%d -CAfile %s -quiet", port, q(pki.ca)))
    finally(function() p2:stop() end)
    local c2 = assert(l:accept())
    c2:settimeout(10)
    local line, err, code = c2:recvline()
    assert.is_nil(line)
    assert.equal("tls", code)
    assert.matches("the client sent no certificate", err)
    c2:close()
  end)

  it("with verify_client = \"request\" lets a client without a "
    .. "certificate in, and with a pin wants that client's key", function()
    local l, port = ourserver({ cert = pki.good.cert, key = pki.good.key,
      verify_client = "request", cafile = pki.ca })
    local p = T.spawn(string.format("printf 'anon\\n' | openssl s_client "
      .. "-connect 127.0.0.1:%d -CAfile %s -quiet", port, q(pki.ca)))
    finally(function() p:stop() end)
    local c = assert(l:accept())
    assert.equal("anon", c:recvline())
    local info = c:tlsinfo()
    assert.is_false(info.verified)
    assert.equal("the client sent no certificate", info.why)
    c:close()
    local pl, pport = ourserver({ cert = pki.good.cert, key = pki.good.key,
      pin = pki.client.pin })
    local p1 = T.spawn(string.format("printf 'pinned\\n' | openssl "
      .. "s_client -connect 127.0.0.1:%d -CAfile %s -cert %s -key %s -quiet",
      pport, q(pki.ca), q(pki.client.cert), q(pki.client.key)))
    finally(function() p1:stop() end)
    local c1 = assert(pl:accept())
    assert.equal("pinned", c1:recvline())
    assert.is_true(c1:tlsinfo().pinned)
    c1:close()
    local p2 = T.spawn(string.format("printf 'other\\n' | openssl "
      .. "s_client -connect 127.0.0.1:%d -CAfile %s -cert %s -key %s -quiet",
      pport, q(pki.ca), q(pki.ecdsa.cert), q(pki.ecdsa.key)))
    finally(function() p2:stop() end)
    local c2 = assert(pl:accept())
    c2:settimeout(10)
    local line, err, code = c2:recvline()
    assert.is_nil(line)
    assert.equal("tls", code)
    assert.matches("the client's public key does not match the pin", err)
    c2:close()
  end)

  it("fails at listen for a key that does not match or a missing file",
    function()
    local l, err, code = net.listen("127.0.0.1", 0, { tls = {
      cert = pki.good.cert, key = pki.ecdsa.key } })
    assert.is_nil(l)
    assert.equal("tls", code)
    assert.matches("cannot use key", err)
    l, err, code = net.listen("127.0.0.1", 0, { tls = { cert = "/no.pem",
      key = "/no.pem" } })
    assert.is_nil(l)
    assert.equal("tls", code)
    assert.matches("cannot use cert /no%.pem", err)
    assert.has_error(function()
      net.listen("127.0.0.1", 0, { tls = { servername = "x" } })
    end)
  end)

  it("serves our own client in a task, with ALPN chosen by the server's "
    .. "order", function()
    local l, port = ourserver({ cert = pki.ecdsa.cert, key = pki.ecdsa.key,
      alpn = { "b", "a" } })
    local info
    local server = net.spawn(function()
      local c <close> = assert(l:accept())
      assert.equal("x", c:recvline())
      info = c:tlsinfo()
      assert(c:write("y\n"))
    end)
    local client = net.spawn(function()
      local s <close> = assert(net.connect("127.0.0.1", port, { timeout = 10,
        tls = { cafile = pki.ca, alpn = { "a", "b" } } }))
      assert(s:write("x\n"))
      assert.equal("y", s:recvline())
      return s:tlsinfo().alpn
    end)
    net.run()
    assert.same({ true }, { server:join() })
    assert.same({ true, "b" }, { client:join() })
    assert.equal("b", info.alpn)
    assert.same({}, info.chain)  -- no client certificate
    assert.equal("the client sent no certificate", info.why)
  end)
end)

describe("bytes through TLS", function()
  -- 1 GiB: 1024 copies of one random MiB, so the sender needs no file of
  -- that size; the receiver's side is hashed by sha256sum as it arrives
  local MIB, COUNT = 1 << 20, 1024

  -- one block for both tests, in its own folder, with the sha256 of
  -- COUNT copies of it
  local block, blockdir, want
  local function expected(d)
    if not want then
      block, blockdir = T.randomdata(MIB), T.tmpdir()
      T.writefile(blockdir .. "/block", block)
      local r = T.run(string.format("for i in $(seq %d); do cat %s/block; "
        .. "done | sha256sum", COUNT, blockdir))
      want = r.out:match("^(%x+)")
    end
    os.execute(string.format("cp %s/block %s/block", blockdir, d))
    return want, block
  end
  teardown(function() if blockdir then T.rmtree(blockdir) end end)

  it("are exact, 1 GiB from us to socat (sha256 compared)", function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    local sum, data = expected(d)
    local port = T.free_port()
    local p = peer(string.format("exec socat -u OPENSSL-LISTEN:%d,bind="
      .. "127.0.0.1,reuseaddr,cert=%s,key=%s,verify=0 SYSTEM:'sha256sum >"
      .. " %s/got'", port, pki.good.cert, pki.good.key, d), port)
    local s = assert(connect(port))
    for _ = 1, COUNT do assert(s:sendall(data)) end
    s:close()
    assert.equal(0, p:wait(120))
    assert.equal(sum, T.slurp(d .. "/got"):match("^(%x+)"))
  end)

  it("are exact, 1 GiB from socat to us, and end with close_notify",
    function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    local want = expected(d)
    local port = T.free_port()
    peer(string.format("exec socat -u SYSTEM:'for i in $(seq %d); do cat "
      .. "%s/block; done' OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,"
      .. "cert=%s,key=%s,verify=0", COUNT, d, port, pki.good.cert,
      pki.good.key), port)
    local s = assert(connect(port))
    local sum = assert(io.popen("sha256sum > " .. d .. "/got", "w"))
    local n = 0
    while true do
      local data = assert(s:recv(1 << 20))
      if data == "" then break end  -- socat's close_notify
      n = n + #data
      sum:write(data)
    end
    sum:close()
    assert.equal(COUNT * MIB, n)
    assert.equal(want, T.slurp(d .. "/got"):match("^(%x+)"))
  end)
end)

describe("s:starttls", function()
  it("turns a plain line exchange into TLS against a python3 server",
    function()
    local port = pyserver(pki.good, nil, [[
f = raw.makefile("rwb", buffering=0)
f.write(b"220 hello\r\n")
assert f.readline() == b"STARTTLS\r\n"
f.write(b"220 go ahead\r\n")
conn = ctx.wrap_socket(raw, server_side=True)
g = conn.makefile("rwb")
line = g.readline()
g.write(b"secret: " + line); g.flush()
conn.unwrap()
]])
    local s = assert(net.connect("localhost", port, 10))
    finally(function() s:close() end)
    assert.equal("220 hello", s:recvline())
    assert(s:write("STARTTLS\r\n"))
    assert.equal("220 go ahead", s:recvline())
    assert.is_nil(s:tlsinfo())
    assert(s:starttls({ cafile = pki.ca }))
    local info = s:tlsinfo()
    assert.equal("localhost", info.servername)  -- the name connected to
    assert.is_true(info.verified)
    assert(s:write("words\n"))
    assert.equal("secret: words", s:recvline())
    assert.equal("", s:recv())
  end)

  it("works between two of our sockets in tasks, both sides", function()
    local l = assert(net.listen("127.0.0.1", 0))
    finally(function() l:close() end)
    local _, port = l:getsockname()
    local server = net.spawn(function()
      local c <close> = assert(l:accept())
      assert(c:write("ready\n"))
      assert.equal("STARTTLS", c:recvline())
      assert(c:write("go\n"))
      assert(c:starttls({ server = true, cert = pki.ecdsa.cert,
        key = pki.ecdsa.key }))
      local line = assert(c:recvline())
      assert(c:write("tls: ", line, "\n"))
      return c:tlsinfo().version
    end)
    local client = net.spawn(function()
      local s <close> = assert(net.connect("127.0.0.1", port, 10))
      assert.equal("ready", s:recvline())
      assert(s:write("STARTTLS\n"))
      assert.equal("go", s:recvline())
      assert(s:starttls({ cafile = pki.ca }))
      assert(s:write("hi\n"))
      return s:recvline()
    end)
    net.run()
    assert.same({ true, "TLSv1.3" }, { server:join() })
    assert.same({ true, "tls: hi" }, { client:join() })
  end)

  it("with settimeout(0) never waits: \"timeout\" until the handshake "
    .. "is done, going on with each call (both sides)", function()
    local l = assert(net.listen("127.0.0.1", 0))
    finally(function() l:close() end)
    local _, port = l:getsockname()
    local s = assert(net.connect("127.0.0.1", port, 10))
    finally(function() s:close() end)
    local c = assert(l:accept())
    finally(function() c:close() end)
    assert(s:settimeout(0))
    assert(c:settimeout(0))
    local sides = {
      { sock = s, opts = { cafile = pki.ca } },
      { sock = c, opts = { server = true, cert = pki.good.cert,
        key = pki.good.key } },
    }
    local first, calls = {}, 0
    for _ = 1, 50 do
      local waiting = {}
      for i, side in ipairs(sides) do
        if not side.done then
          local ok, err, code = side.sock:starttls(side.opts)
          calls = calls + 1
          if ok then
            side.done = true
          else
            first[i] = first[i] or err
            assert.equal("timeout", code, err)
            waiting[#waiting + 1] = side.sock
          end
        end
      end
      if #waiting == 0 then break end
      net.select(waiting, nil, 5)
    end
    assert.is_true(sides[1].done and sides[2].done)
    assert.is_true(calls > 2)
    assert.matches("^tls handshake with 127%.0%.0%.1:%d+: not done yet "
      .. "%(timeout 0: call again when the socket is readable%)$", first[1])
    assert.matches("^tls handshake with 127%.0%.0%.1:%d+: not done yet "
      .. "%(timeout 0: call again when the socket is readable%)$", first[2])
    assert(s:settimeout(10))
    assert(c:settimeout(10))
    assert(s:write("over TLS\n"))
    assert.equal("over TLS", c:recvline())
    assert.is_true(s:tlsinfo().verified)
    assert.has_error(function() s:starttls({ cafile = pki.ca }) end,
      "starttls: the socket speaks TLS already")
  end)

  it("refuses bytes that came before TLS began, and a second starttls",
    function()
    local l = assert(net.listen("127.0.0.1", 0))
    finally(function() l:close() end)
    local _, port = l:getsockname()
    local s = assert(net.connect("127.0.0.1", port, 10))
    finally(function() s:close() end)
    local c = assert(l:accept())
    finally(function() c:close() end)
    assert(s:write("STARTTLS\ninjected\n"))
    assert.equal("STARTTLS", c:recvline())
    local ok, err, code = c:starttls({ server = true, cert = pki.good.cert,
      key = pki.good.key })
    assert.is_nil(ok)
    assert.equal("tls", code)
    assert.equal("starttls: 9 bytes arrived before TLS began", err)
    assert.equal("injected", c:recvline())  -- still plain, still there
  end)
end)

describe("a TLS socket", function()
  it("is ready to net.select while OpenSSL holds decrypted bytes the "
    .. "kernel no longer signals", function()
    local port = pyserver(pki.good, nil, [[
conn = ctx.wrap_socket(raw, server_side=True)
conn.sendall(b"0123456789abcdef")
conn.recv(10)
conn.unwrap()
]])
    local s = assert(connect(port))
    assert.equal("0123", s:recv(4))
    local r = net.select({ s }, nil, 0)
    assert.equal(s, r[1])
    assert.equal("456789abcdef", s:recv(100))
    assert(s:write("x"))
  end)

  it("is ready to net.select for whole records OpenSSL read ahead, and "
    .. "not for a part of one", function()
    -- the server makes its records in memory and sends two whole ones
    -- and the first 10 bytes of a third in one send, then the rest of
    -- the third when we say so; we wait for every byte of the first send
    -- to be in our kernel's queue (ss's Recv-Q: the session tickets too)
    local port, p = pyserver(pki.good, nil, [[
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_side=True)
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        raw.sendall(out.read())
        inc.write(raw.recv(65536))
tickets = out.read()  # TLS 1.3's session tickets, after the handshake
raw.sendall(tickets)
obj.write(b"first")
obj.write(b"second")
burst = out.read()
obj.write(b"third")
third = out.read()
raw.sendall(burst + third[:10])
print(len(tickets) + len(burst) + 10)
sys.stdout.flush()
raw.recv(100)
raw.sendall(third[10:])
raw.recv(100)
]])
    local s = assert(connect(port))
    local _, lport = s:getsockname()
    local n = tonumber(T.until_true(function() return p:out():match("%d+") end))
    assert(n, p:err())
    assert(T.until_true(function()
      local q = io.popen("ss -Htn 'sport = :" .. lport .. "'")
      local line = q:read("a")
      q:close()
      return tonumber(line:match("^%S+%s+(%d+)")) == n
    end), "the bytes did not arrive")
    local function ready(timeout)
      local r, _, why = net.select({ s }, nil, timeout)
      return r[1] == s and #r == 1 or why
    end
    assert.equal("first", s:recv(100))  -- one recv() took them all
    assert.is_true(ready(0))
    assert.equal("second", s:recv(100))
    assert.equal("timeout", ready(0))  -- 10 bytes of a record only
    assert(s:settimeout(0))
    local none, err, code = s:recv(100)
    assert.same({ nil, "timeout" }, { none, code }, err)
    assert(s:settimeout(10))
    assert(s:write("x"))
    assert.is_true(ready(10))
    assert.equal("third", s:recv(100))
  end)

  it("is ready to net.select in a task too, and a recv in a task takes "
    .. "the bytes OpenSSL holds without waiting for the kernel", function()
    local port = pyserver(pki.good, nil, [[
conn = ctx.wrap_socket(raw, server_side=True)
conn.sendall(b"0123456789abcdef")
conn.recv(10)
conn.unwrap()
]])
    local t = net.spawn(function()
      local s <close> = assert(net.connect("127.0.0.1", port, { timeout = 10,
        tls = { cafile = pki.ca } }))
      local a = s:recv(4)
      local r = net.select({ s }, nil, 5)
      local b = s:recv(4)
      local c = s:recv(100)
      assert(s:write("x"))
      return a, r[1] == s, b, c
    end)
    net.run()
    assert.same({ true, "0123", true, "4567", "89abcdef" }, { t:join() })
  end)

  it("reads and writes the same inside a task, and the task server's "
    .. "handshake waits on the loop (a plain client meanwhile is served)",
    function()
    local l, port = ourserver()
    local plain = assert(net.listen("127.0.0.1", 0))
    finally(function() plain:close() end)
    local _, pport = plain:getsockname()
    local order = {}
    -- a TLS client that connects and says nothing for a while: its
    -- handshake must not hold the loop
    local silent = assert(net.connect("127.0.0.1", port, 10))
    finally(function() silent:close() end)
    net.spawn(function()
      local c <close> = assert(l:accept())
      c:settimeout(10)
      local line = c:recvline()  -- waits on the loop for the handshake
      order[#order + 1] = "tls " .. tostring(line)
    end)
    net.spawn(function()
      local c <close> = assert(plain:accept())
      order[#order + 1] = "plain " .. c:recvline()
      -- now the TLS client talks
      assert(silent:starttls({ cafile = pki.ca }))
      assert(silent:write("late\n"))
    end)
    net.spawn(function()
      local s <close> = assert(net.connect("127.0.0.1", pport, 10))
      assert(s:write("first\n"))
    end)
    net.run()
    assert.same({ "plain first", "tls late" }, order)
  end)

  -- 16 lines in one write, then the 16 answers, in order
  local function pipelined(s)
    local lines = {}
    for i = 1, 16 do lines[i] = "line " .. i .. "\n" end
    assert(s:write(table.concat(lines)))
    local got = {}
    for i = 1, 16 do got[i] = assert(s:recvline()) end
    return got
  end
  local ANSWERS = {}
  for i = 1, 16 do ANSWERS[i] = "You said line " .. i end

  it("answers 16 pipelined lines, each once and in order, from a task "
    .. "server (one write from the client)", function()
    local l, port = ourserver()
    net.spawn(function()
      local c <close> = assert(l:accept())
      c:settimeout(10)
      for line in c:lines() do
        assert(c:write("You said ", line, "\n"))
      end
    end)
    local client = net.spawn(function()
      local s <close> = assert(net.connect("127.0.0.1", port,
        { timeout = 10, tls = { cafile = pki.ca } }))
      local got = pipelined(s)
      assert(s:shutdown("write"))
      return got, s:recv()
    end)
    net.run()
    assert.same({ true, ANSWERS, "" }, { client:join() })
  end)

  it("answers 16 pipelined lines from a server outside tasks (another "
    .. "process), to a client outside tasks", function()
    local port = T.free_port()
    local p = peer(T.lua .. " -e " .. q(("package.path = 'lua/?.lua;"
      .. "lua/?/init.lua;' .. package.path; package.cpath = '%s/lib/?.so;' "
      .. ".. package.cpath; local net = require 'netbasics'; "
      .. "local l = assert(net.listen('127.0.0.1', %d, {tls = {cert = %q, "
      .. "key = %q}})); local c = assert(l:accept()); c:settimeout(10); "
      .. "for line in c:lines() do assert(c:write('You said ', line, "
      .. "'\\n')) end; c:close()"):format(T.build, port, pki.good.cert,
      pki.good.key)), port)
    local s = assert(connect(port))
    assert.same(ANSWERS, pipelined(s))
    s:close()
    assert.equal(0, p:wait(10), p:err())
  end)

  it("shutdown(\"write\") sends close_notify and keeps reading; "
    .. "\"both\" stops reading too", function()
    local l, port = ourserver()
    local function run(how)
      local server = net.spawn(function()
        local c <close> = assert(l:accept())
        c:settimeout(10)
        local line = c:recvline()
        local rest = c:recv()  -- the end: the client's close_notify
        -- an answer only to a client that still reads (one that does not
        -- could take it before its read ends)
        local sent = how == "write" and c:write("answer\n")
        return line, rest, sent == c
      end)
      local client = net.spawn(function()
        local s <close> = assert(net.connect("127.0.0.1", port,
          { timeout = 10, tls = { cafile = pki.ca } }))
        assert(s:write("hello\n"))
        assert.is_true(s:shutdown(how))
        local _, serr, scode = s:send("more\n")
        local got, err, code = s:recvline()
        return scode, serr:match("broken pipe") ~= nil, got, code,
          err and err:match("without a TLS close_notify") ~= nil
      end)
      net.run()
      return { server:join() }, { client:join() }
    end
    local srv, cli = run("write")
    assert.same({ true, "hello", "", true }, srv)
    assert.same({ true, "closed", true, "answer" }, cli)
    srv, cli = run("both")
    assert.same({ true, "hello", "", false }, srv)
    assert.same({ true, "closed", true, nil, "closed", true }, cli)
  end)

  it("sends close_notify on close, and reports a cut without one as "
    .. "closed, in words", function()
    local port, p = pyserver(pki.good, nil, [[
conn = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
try:
    data = conn.recv(100)
    rest = conn.recv(100)
    print("clean" if rest == b"" else "more")
except ssl.SSLEOFError:
    print("cut")
sys.stdout.flush()
raw.close()
]])
    local s = assert(connect(port))
    assert(s:write("bye"))
    s:close()
    assert.equal(0, p:wait(10), p:err())
    assert.equal("clean\n", p:out())
    local port2 = pyserver(pki.good, nil, [[
conn = ctx.wrap_socket(raw, server_side=True)
conn.sendall(b"partial answer")
raw.shutdown(socket.SHUT_RDWR); raw.close()
]])
    local c = assert(connect(port2))
    assert.equal("partial answer", c:recv())
    local data, err, code = c:recv()
    assert.is_nil(data)
    assert.equal("closed", code)
    assert.matches("^recv from 127%.0%.0%.1:%d+: the peer cut the "
      .. "connection without a TLS close_notify %(what came may be "
      .. "incomplete%)$", err)
  end)
end)

describe("netbasics.tls", function()
  it("is loaded on the first TLS call only, and core.so does not link "
    .. "OpenSSL", function()
    local r = T.run(T.lua .. " -e " .. q("package.path = 'lua/?.lua;lua/?/"
      .. "init.lua;' .. package.path; package.cpath = '" .. T.build
      .. "/lib/?.so;' .. package.cpath; local net = require 'netbasics'; "
      .. "local s = net.socket(); print(s:tlsinfo(), "
      .. "package.loaded['netbasics.tls'] ~= nil); s:close(); "
      .. "pcall(net.connect, '127.0.0.1', 1, {tls = true}); "
      .. "print(package.loaded['netbasics.tls'] ~= nil)"))
    assert.equal(0, r.code, r.err)
    assert.equal("nil\tfalse\ntrue\n", r.out)
    local ldd = T.run("ldd " .. q(T.build .. "/lib/netbasics/core.so"))
    assert.equal(0, ldd.code)
    assert.is_nil(ldd.out:find("libssl", 1, true))
    assert.is_nil(ldd.out:find("libcrypto", 1, true))
  end)

  it("can be required before netbasics: it loads the core itself",
    function()
    local r = T.run(T.lua .. " -e " .. q("package.path = 'lua/?.lua;lua/?/"
      .. "init.lua;' .. package.path; package.cpath = '" .. T.build
      .. "/lib/?.so;' .. package.cpath; local tls = require "
      .. "'netbasics.tls'; local c = assert(tls.selfsigned{}); "
      .. "print(c.pin:match('^sha256//') ~= nil); "
      .. "local net = require 'netbasics'; "
      .. "print(package.loaded['netbasics.tls'] == tls); "
      .. "print(select(3, net.connect('127.0.0.1', 1, {tls = true})))"))
    assert.equal(0, r.code, r.err)
    assert.equal("true\ntrue\nrefused\n", r.out)
  end)

  it("raises on a closed socket's tlsinfo and starttls, as every method",
    function()
    local s = net.socket()
    s:close()
    assert.has_error(function() s:tlsinfo() end,
      "attempt to use a closed socket")
    assert.has_error(function() s:starttls() end)
  end)
end)
