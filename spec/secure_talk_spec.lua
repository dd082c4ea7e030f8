-- The secure-talk lesson, the certificate exercise and the throwaway
-- certificates of netbasics.tls (csrc/tlscert.c), against real peers on
-- loopback: openssl x509 reads what selfsigned made, openssl s_client
-- talks to the lesson's server, openssl s_server with the test CA's
-- chain (spec/support/tlsca.lua) serves the exercise. Every server runs
-- on a free port and is stopped by PID in finally().
local T = require "nbtest"
local CA = require "tlsca"
local net = require "netbasics"
local tls = require "netbasics.tls"

local pki = CA.get()
local q = T.shquote

local function sh(cmd, input)
  local r = T.run(cmd, input)
  assert(r.code == 0, cmd .. " failed: " .. (r.err or ""))
  return r.out
end

-- a file in a folder removed at the end of the test
local function tempfile(content)
  local d = T.tmpdir()
  finally(function() T.rmtree(d) end)
  T.writefile(d .. "/f.pem", content)
  return d .. "/f.pem"
end

-- what openssl says of a PEM certificate file
local function fingerprint(path)
  return sh("openssl x509 -noout -fingerprint -sha256 -in " .. q(path))
    :match("Fingerprint=(%S+)")
end

describe("tls.selfsigned", function()
  it("makes an EC P-256 certificate for the names asked, signed by "
    .. "itself, as openssl reads it", function()
    local c = assert(tls.selfsigned { name = "myhost",
      dns = { "myhost", "localhost" }, ip = { "127.0.0.1", "::1" },
      seconds = 3600 })
    local cert, key = tempfile(c.cert), tempfile(c.key)
    local text = sh("openssl x509 -noout -text -in " .. q(cert))
    assert.matches("Subject: CN = myhost\n", text, 1, true)
    assert.matches("Issuer: CN = myhost\n", text, 1, true)
    assert.matches("NIST CURVE: P-256", text, 1, true)
    assert.matches("Signature Algorithm: ecdsa-with-SHA256", text, 1, true)
    assert.matches("DNS:myhost, DNS:localhost, IP Address:127.0.0.1, "
      .. "IP Address:0:0:0:0:0:0:0:1", text, 1, true)
    assert.matches("CA:FALSE", text, 1, true)
    assert.matches("TLS Web Server Authentication", text, 1, true)
    -- it signed itself, and its key is the key given
    sh(("openssl verify -no-CAfile -no-CApath -partial_chain -trusted %s %s")
      :format(q(cert), q(cert)))
    assert.equal(sh("openssl x509 -noout -pubkey -in " .. q(cert)),
      sh("openssl pkey -pubout -in " .. q(key)))
    assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", c.key)
    -- fingerprint and pin as openssl and curl compute them
    assert.equal(fingerprint(cert), c.sha256)
    assert.equal(CA.pin(cert), c.pin)
    -- valid from a minute ago for an hour, in tlsinfo's form
    local dates = sh("openssl x509 -noout -dates -in " .. q(cert))
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", c.not_after)
    local function epoch(s)
      return tonumber(sh("date -u -d " .. q(s) .. " +%s"))
    end
    local before = epoch(dates:match("notBefore=([^\n]+)"))
    local after = epoch(dates:match("notAfter=([^\n]+)"))
    assert.equal(3660, after - before)
    assert.equal(after, epoch(c.not_after:gsub("T", " "):gsub("Z", " UTC")))
  end)

  it("makes a new key and serial each time", function()
    local a = assert(tls.selfsigned {})
    local b = assert(tls.selfsigned {})
    assert.not_equal(a.pin, b.pin)
    assert.not_equal(a.sha256, b.sha256)
    local function serial(c)
      return sh("openssl x509 -noout -serial -in " .. q(tempfile(c.cert)))
    end
    assert.not_equal(serial(a), serial(b))
    -- the default name is localhost, and no names but it
    local text = sh("openssl x509 -noout -subject -in "
      .. q(tempfile(a.cert)))
    assert.equal("subject=CN = localhost\n", text)
  end)

  it("is a certificate openssl s_server serves and our client pins",
    function()
    local c = assert(tls.selfsigned { name = "localhost",
      dns = { "localhost" }, ip = { "127.0.0.1" } })
    local port = T.free_port()
    local p = T.spawn(("exec openssl s_server -accept 127.0.0.1:%d -cert "
      .. "%s -key %s -rev -naccept 1 -quiet"):format(port,
      q(tempfile(c.cert)), q(tempfile(c.key))))
    finally(function() p:stop() end)
    assert(T.wait_port(port), p:err())
    local s = assert(net.connect("127.0.0.1", port,
      { timeout = 10, tls = { pin = c.pin } }))
    finally(function() s:close() end)
    local info = s:tlsinfo()
    assert.is_true(info.verified)
    assert.is_true(info.pinned)
    assert.equal(c.sha256, info.chain[1].sha256)
    assert.equal(c.pin, info.chain[1].pin)
    assert.is_true(info.chain[1].self_signed)
    assert(s:sendall("olleh\n"))
    assert.equal("hello", s:recvline())
  end)

  it("raises on a bad name, address, lifetime, list or option", function()
    for _, opts in ipairs {
      { name = "a b" }, { name = "" }, { name = ("a"):rep(254) },
      { ip = { "1.2.3" } }, { ip = { 127 } }, { dns = { "x\n" } },
      { dns = "localhost" }, { seconds = 0 }, { seconds = 398 * 86400 + 1 },
      { nmae = "localhost" }, { "localhost" },
    } do
      assert.has_error(function() tls.selfsigned(opts) end)
    end
    assert.has_error(function() tls.selfsigned() end)
  end)
end)

describe("out of memory", function()
  it("selfsigned and certificate, each Lua and each C allocation failing "
    .. "in turn, fail cleanly and free OpenSSL's objects", function()
    local W = require "oomwalk"
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    -- netbasics.tls is loaded and OpenSSL has found its algorithms (one
    -- certificate made) before the walk starts: the failures of the
    -- module's start are its own spec's, and OpenSSL 3.0 loses a few
    -- bytes of its own when a first fetch of an algorithm fails
    local warm = [[
      require "netbasics"
      local tls = require "netbasics.tls"
      assert(tls.selfsigned {})
      assert(tls.certificate(assert(tls.selfsigned {}).cert))
    ]]
    T.writefile(d .. "/warm.lua", warm)
    T.writefile(d .. "/cert.lua", warm .. [[
      local c = assert(tls.selfsigned { name = "localhost",
        dns = { "localhost" }, ip = { "127.0.0.1", "::1" } })
      local d = assert(tls.certificate(c.cert))
      print(d.sha256 == c.sha256, d.pin == c.pin, #c.key > 0)
      print(tls.certificate("none"))
    ]])
    local r = T.nb({ d .. "/cert.lua" })
    assert.equal(0, r.code, r.err)
    assert.matches("^true\ttrue\ttrue\nnil\treading the certificate: ",
      r.out)
    local problems, runs, oom = W.walk(q(d .. "/cert.lua"), nil,
      { from = W.count(q(d .. "/warm.lua")) })
    assert.same({}, problems)
    assert.is_true(runs >= 5, "only " .. runs .. " runs")
    assert.is_true(oom >= runs // 2, oom .. " of " .. runs)
    -- and each C allocation (OpenSSL's go through ours here): a failure
    -- returned, or raised by the script's assert, never a crash or a leak
    local total, failed
    problems, runs, failed, total = W.cwalk(q(d .. "/cert.lua"), nil,
      { from = W.ccount(q(d .. "/warm.lua")) })
    assert.same({}, problems)
    assert.is_true(runs >= 5, "only " .. runs .. " runs of " .. total)
    -- most single C failures are absorbed (OpenSSL tries again): the
    -- dense walk of the plain build finds some that are not; the few
    -- samples under ASan or valgrind may miss them all
    if not os.getenv("NB_BUILD") and (T.hostwrap or "") == "" then
      assert.is_true(failed >= 1, "no run of " .. runs .. " failed")
    end
  end)
end)

describe("tls.certificate", function()
  it("reads the fingerprint, pin and dates of a PEM certificate as "
    .. "openssl does", function()
    local pem = assert(T.slurp(pki.good.cert))
    local c = assert(tls.certificate(pem))
    assert.equal(fingerprint(pki.good.cert), c.sha256)
    assert.equal(pki.good.pin, c.pin)
    local c2 = assert(tls.certificate(assert(T.slurp(pki.expired.cert))))
    assert.equal("2025-01-31T12:00:00Z", c2.not_after)
    assert.equal("2024-01-01T00:00:00Z", c2.not_before)
  end)

  it("returns nil, msg, 'tls' for text that holds no certificate",
    function()
    local ok, msg, code = tls.certificate("no certificate here")
    assert.is_nil(ok)
    assert.equal("tls", code)
    assert.matches("^reading the certificate: ", msg)
    assert.has_error(function() tls.certificate() end)
  end)
end)

-- ---------------------------------------------------------------------
-- the lesson

-- the lesson's server on a free port; returns the proc, the port and what
-- it printed once it listens (the pin and fingerprint among it)
local function lesson_server(extra)
  local port = T.free_port()
  local p = T.spawn(("%s secure-talk server 127.0.0.1 %d %s"):format(
    T.hostcmd(), port, extra or ""))
  finally(function() p:stop() end)
  local out = T.until_true(function()
    local o = p:out()
    return o:match("To talk to me: [^\n]*\n") and o
  end, 20)
  assert(out, "secure-talk server did not start: " .. p:err())
  assert(T.wait_port(port), p:err())
  return p, port, {
    pin = out:match("The pin of its key: +(%S+)"),
    sha256 = out:match("Its SHA%-256 fingerprint: (%S+)"),
    out = out }
end

local function client(port, ...)
  local args = { "secure-talk", "client", "127.0.0.1", tostring(port) }
  for _, a in ipairs({ ... }) do args[#args + 1] = a end
  return T.nb(args, "")
end

-- the lesson's temporary files that hold this certificate or its key
local function ourfiles(pin)
  local found = {}
  for _, f in ipairs(T.ls("/tmp")) do
    local path = "/tmp/" .. f
    if f:match("^lua_") then
      local text = T.slurp(path) or ""
      if text:find("BEGIN CERTIFICATE", 1, true) then
        local c = tls.certificate(text)
        if c and c.pin == pin then found[#found + 1] = path end
      elseif text:find("BEGIN PRIVATE KEY", 1, true) then
        local r = T.run("openssl pkey -pubout -in " .. q(path)
          .. " | openssl pkey -pubin -outform der | openssl dgst -sha256 "
          .. "-binary | base64")
        if r.code == 0 and "sha256//" .. r.out:gsub("%s", "") == pin then
          found[#found + 1] = path
        end
      end
    end
  end
  return found
end

describe("secure-talk server", function()
  it("prints its certificate's names, fingerprint and pin, and serves "
    .. "openssl s_client the talk server's words", function()
    local p, port, got = lesson_server()
    local lines = {}
    for l in got.out:gmatch("[^\n]*\n") do lines[#lines + 1] = l end
    assert.equal("Starting server.\n", lines[1])
    assert.matches("^My certificate says I am [^\n]*localhost, 127%.0%.0%.1, "
      .. "::1%.\n$", lines[2])
    assert.matches("^Nobody vouches for it: I made it myself just now, it "
      .. "is valid until %d+%-%d+%-%d+T[%d:]+Z%.\n$", lines[3])
    assert.equal(("To talk to me: netbasics secure-talk client 127.0.0.1 "
      .. "%d %s\n"):format(port, got.pin), lines[6])
    -- what s_client sees is the certificate the server printed
    local r = T.run(("openssl s_client -connect 127.0.0.1:%d -showcerts "
      .. "</dev/null 2>/dev/null | openssl x509 -noout -fingerprint "
      .. "-sha256"):format(port))
    assert.equal("sha256 Fingerprint=" .. got.sha256 .. "\n", r.out)
    local pem = sh(("openssl s_client -connect 127.0.0.1:%d </dev/null "
      .. "2>/dev/null | openssl x509"):format(port))
    assert.equal(got.pin, CA.pin(tempfile(pem)))
    -- s_client trusts that certificate alone, checks that it covers the
    -- address, and talks
    r = T.run(("openssl s_client -connect 127.0.0.1:%d -quiet "
      .. "-verify_ip 127.0.0.1 -verify_return_error -partial_chain "
      .. "-CAfile %s 2>/dev/null"):format(port, q(tempfile(pem))),
      "hello\nbye\n")
    assert.equal(0, r.code)
    assert.equal("You said hello\nYou said bye\n", r.out)
    assert.equal(0, p:wait(10))
    local log = p:out()
    assert.matches("\nConnected with 127%.0%.0%.1:%d+\nI got hello\n", log)
    assert.matches("\nI got bye\nStopping server.\n$", log)
  end)

  it("keeps its certificate and key in files only it can read, removed "
    .. "when it stops, by bye or by a signal", function()
    local p, port, got = lesson_server()
    local files = ourfiles(got.pin)
    assert.equal(2, #files)
    for _, f in ipairs(files) do
      assert.equal("600", sh("stat -c %a " .. q(f)):match("%d+"))
    end
    assert.equal(0, client(port, got.pin, "bye").code)
    assert.equal(0, p:wait(10))
    assert.same({}, ourfiles(got.pin))
    local p2, _, got2 = lesson_server()
    assert.equal(2, #ourfiles(got2.pin))
    p2:kill("TERM")
    assert.is_not_nil(p2:wait(10))
    assert.same({}, ourfiles(got2.pin))
  end)

  it("drops a client that does not speak TLS and serves the next",
    function()
    local p, port, got = lesson_server()
    local r = T.run(("printf 'hello\\n' | nc -N 127.0.0.1 %d"):format(port))
    assert.equal("", r.out)
    assert.equal(0, client(port, got.pin, "bye").code)
    assert.equal(0, p:wait(10))
    assert.matches("\nDropped client: [^\n]+\n", p:out())
  end)
end)

describe("secure-talk client", function()
  it("connects with the pin, says who the certificate names and who "
    .. "vouches, and talks", function()
    local p, port, got = lesson_server()
    local r = client(port, got.pin, "Hello", "there")
    assert.equal(0, r.code, r.err)
    assert.equal("", r.err)
    assert.equal(table.concat({
      "Connected over TLSv1.3, cipher TLS_AES_256_GCM_SHA384.",
      "The certificate says the server is CN="
        .. got.out:match("I am ([^,]+),") .. " (names: "
        .. got.out:match("I am ([^\n]-)%.\n") .. ").",
      "It vouches for itself: it is self-signed, nobody else signed it.",
      "It is valid from " .. r.out:match("valid from (%S+)") .. " until "
        .. got.out:match("valid until (%S+)%.") .. ".",
      "Its SHA-256 fingerprint: " .. got.sha256,
      "Its key matches the pin you gave: you vouch for it, so we trust it.",
      "Received: 'You said Hello there\\n'",
      "Connection closed.", "" }, "\n"), r.out)
    -- the fingerprint does as well as the pin
    r = client(port, got.sha256, "bye")
    assert.equal(0, r.code, r.err)
    assert.matches("\nIt is the fingerprint you gave: you vouch for it, so "
      .. "we trust it.\nReceived: 'You said bye\\n'\nConnection closed.\n$",
      r.out)
    assert.equal(0, p:wait(10))
  end)

  it("refuses a server whose key is not the pin or whose certificate is "
    .. "not the fingerprint, before sending anything", function()
    local p, port, got = lesson_server()
    local r = client(port, pki.good.pin, "secret")
    assert.equal(1, r.code)
    assert.equal("", r.out)
    assert.matches("does not match the pin", r.err, 1, true)
    assert.matches("\nThe certificate is not the one you named: this may "
      .. "not be the server you think.\n$", r.err)
    local wrong = got.sha256:gsub("^%x%x", got.sha256:sub(1, 2) == "00"
      and "01" or "00")
    r = client(port, wrong, "secret")
    assert.equal(1, r.code)
    assert.equal("", r.out)
    assert.equal(("secure-talk: the server's certificate has fingerprint "
      .. "%s, not %s: this may not be the server you think\n"):format(
      got.sha256, wrong), r.err)
    assert.equal(0, client(port, got.pin, "bye").code)
    assert.equal(0, p:wait(10))
    assert.not_matches("I got secret", p:out(), 1, true)
  end)

  it("without a fingerprint fails and says nobody vouches for the "
    .. "certificate", function()
    local p, port, got = lesson_server()
    local r = client(port)
    assert.equal(1, r.code)
    assert.equal("", r.out)
    assert.equal(("secure-talk: tls handshake with 127.0.0.1:%d: "
      .. "self-signed certificate: pass cafile or pin\n"
      .. "Nobody this computer trusts vouches for this certificate: anyone "
      .. "could have made it,\na stranger in the middle too. If you know "
      .. "its fingerprint (the server prints it),\ngive it after the "
      .. "port.\n"):format(port), r.err)
    assert.equal(0, client(port, got.pin, "bye").code)
    assert.equal(0, p:wait(10))
  end)

  it("talks to openssl s_server with a CA's certificate, which the "
    .. "system does not trust, by its pin", function()
    local port = T.free_port()
    local s = T.spawn(("exec openssl s_server -accept 127.0.0.1:%d -cert "
      .. "%s -key %s -cert_chain %s -naccept 1 -rev -quiet"):format(port,
      q(pki.ecdsa.cert), q(pki.ecdsa.key), q(pki.ca)))
    finally(function() s:stop() end)
    assert(T.wait_port(port), s:err())
    local r = client(port, pki.ecdsa.pin, "olleh")
    assert.equal(0, r.code, r.err)
    assert.matches("\nThe certificate says the server is [^\n]*CN=localhost"
      .. "[^\n]* %(names: localhost, 127%.0%.0%.1, ::1%)%.\n"
      .. "It is vouched for %(signed%) by CN=netbasics test CA%.\n"
      .. "  and CN=netbasics test CA is vouched for by CN=netbasics test "
      .. "CA%.\n", r.out)
    assert.matches("\nReceived: 'hello\\n'\nConnection closed.\n$", r.out)
  end)
end)

describe("secure-talk at a terminal", function()
  local Tmux = require "tmux"

  it("the client asks for the message when none is given; Ctrl-C stops "
    .. "the server with 130 and removes its files", function()
    local port = T.free_port()
    local server = Tmux.open(("%s secure-talk server 127.0.0.1 %d"):format(
      q(T.host), port))
    finally(function() server:close() end)
    local pin = server:wait_for("To talk to me"):match(
      "client 127%.0%.0%.1 %d+ (%S+)")
    assert.equal(2, #ourfiles(pin))
    local c = Tmux.open(("%s secure-talk client 127.0.0.1 %d %s"):format(
      q(T.host), port, pin))
    finally(function() c:close() end)
    c:wait_for("secure-talk: type your message, end it with Ctrl-D")
    c:type("hi")
    c:keys("C-d")
    c:wait_for("Connection closed.")
    assert.matches("\nhi\nReceived: 'You said hi\\n'\nConnection closed.\n",
      c:screen())
    assert.equal(0, c:status())
    server:wait_for("I got hi")
    server:keys("C-c")
    assert.equal(130, server:status())
    assert.same({}, ourfiles(pin))
  end)
end)

describe("secure-talk arguments", function()
  local usage = "usage: netbasics secure-talk MODE [HOST [PORT [FINGERPRINT "
    .. "[MESSAGE...]]]]\n"

  it("--help and -h say what each mode takes, with examples", function()
    for _, args in ipairs { { "secure-talk", "--help" },
                            { "secure-talk", "server", "-h" },
                            { "secure-talk", "client", "--help" } } do
      local r = T.nb(args)
      assert.equal(0, r.code)
      assert.equal("", r.err)
      assert.equal(usage .. "Talking securely: the talk server and client "
        .. "over TLS\n", r.out:match("^[^\n]*\n[^\n]*\n"))
      assert.matches("\n  FINGERPRINT  client: what the server printed",
        r.out, 1, true)
      assert.equal("\nExamples:\n  netbasics secure-talk server 127.0.0.1 "
        .. "9443\n  netbasics secure-talk client 127.0.0.1 9443 sha256//... "
        .. "Hello there\n", r.out:match("\nExamples:\n.*$"))
    end
  end)

  it("refuses bad arguments with what is wrong, the usage and exit 2",
    function()
    for _, case in ipairs {
      { {}, "needs MODE" },
      { { "serve" }, "MODE 'serve': server or client" },
      { { "server", "a b" }, "HOST 'a b': not an IP address or a host name "
        .. "(0.0.0.0 is every interface, 127.0.0.1 this computer only)" },
      { { "server", "127.0.0.1", "65536" }, "PORT '65536': ports go from 1 "
        .. "to 65535, or 0 to let the system choose one" },
      { { "server", "127.0.0.1", "x" }, "PORT 'x': ports go from 1 to "
        .. "65535, or 0 to let the system choose one" },
      { { "server", "127.0.0.1", "1", "2" }, "too many arguments: '2' is one "
        .. "more than a server takes" },
      { { "client" }, "a client needs HOST" },
      { { "client", "127.0.0.1" }, "a client needs PORT" },
      { { "client", "127.0.0.1", "0" }, "PORT '0': ports go from 1 to 65535" },
      { { "client", "127.0.0.1", "" }, "PORT is empty" },
      { { "client", "\27[31m", "1" }, "HOST '\\x1B[31m': not an IP address "
        .. "or a host name" },
      { { "client", "127.0.0.1", "1", "AB:CD" }, "FINGERPRINT 'AB:CD': not a "
        .. "pin (sha256//BASE64) or a SHA-256 fingerprint (AB:CD:..., 32 "
        .. "pairs)" },
      { { "client", "127.0.0.1", "1", "sha256//not base64!" }, "FINGERPRINT "
        .. "'sha256//not base64!': not a pin (sha256//BASE64) or a SHA-256 "
        .. "fingerprint (AB:CD:..., 32 pairs)" },
    } do
      local args = { "secure-talk" }
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local r = T.nb(args)
      assert.equal(2, r.code, table.concat(args, " "))
      assert.equal("", r.out)
      assert.equal("secure-talk: " .. case[2] .. "\n" .. usage, r.err)
    end
  end)

  it("joins netbasics --list", function()
    local r = T.nb({ "--list" })
    assert.equal(0, r.code)
    assert.matches("\n  secure%-talk MODE %[HOST %[PORT %[FINGERPRINT "
      .. "%[MESSAGE%.%.%.%]%]%]%]\n +Talking securely: the talk server and "
      .. "client over TLS\n", r.out)
    assert.matches("\n  certificate %[%-cafile=FILE%] HOST%[:PORT%] %[PORT%]"
      .. "\n +Read a server's certificates: who it says it is, who vouches for "
      .. "it\n", r.out)
  end)
end)

-- ---------------------------------------------------------------------
-- the exercise

-- openssl s_server with certificate `c` of the test PKI and its CA
local function s_server(c, chain)
  local port = T.free_port()
  local p = T.spawn(("exec openssl s_server -accept 127.0.0.1:%d -cert %s "
    .. "-key %s %s -quiet"):format(port, q(c.cert), q(c.key),
    chain and ("-cert_chain " .. q(chain)) or ""))
  finally(function() p:stop() end)
  assert(T.wait_port(port), p:err())
  return port
end

describe("certificate (the exercise)", function()
  it("reads the chain of openssl s_server in sentences, and it checks "
    .. "out with the CA", function()
    local port = s_server(pki.good, pki.ca)
    local r = T.nb({ "certificate", "-cafile=" .. pki.ca,
      "127.0.0.1:" .. port })
    assert.equal(0, r.code, r.err)
    assert.equal("", r.err)
    local ca = assert(tls.certificate(assert(T.slurp(pki.ca))))
    local good = assert(tls.certificate(assert(T.slurp(pki.good.cert))))
    assert.equal(table.concat({
      ("Connected to 127.0.0.1:%d over TLSv1.3, cipher "
        .. "TLS_AES_256_GCM_SHA384."):format(port),
      "The server sent 2 certificates, its own first.",
      "",
      "Certificate 1 (the server's own):",
      "  It says it belongs to " .. r.out:match("belongs to ([^\n]*CN="
        .. "localhost[^\n]*)%.\n") .. ".",
      "  It is vouched for (signed) by CN=netbasics test CA.",
      "  It is valid from " .. good.not_before .. " until "
        .. good.not_after .. ".",
      "  It covers localhost, 127.0.0.1, ::1.",
      "  Its SHA-256 fingerprint is " .. fingerprint(pki.good.cert) .. ".",
      "",
      "Certificate 2:",
      "  It says it belongs to CN=netbasics test CA.",
      "  It vouches for itself: it is self-signed.",
      "  It is valid from " .. ca.not_before .. " until " .. ca.not_after
        .. ".",
      "  It covers netbasics test CA.",
      "  Its SHA-256 fingerprint is " .. fingerprint(pki.ca) .. ".",
      "",
      "It checks out: an authority in " .. pki.ca .. " vouches for this "
        .. "chain, it is valid now, and it is for 127.0.0.1.",
      "" }, "\n"), r.out)
    -- HOST PORT as two arguments, the same
    local r2 = T.nb({ "certificate", "-cafile=" .. pki.ca, "127.0.0.1",
      tostring(port) })
    assert.equal(r.out, r2.out)
  end)

  it("checks the name given, sent as SNI, and an IPv6 address",
    function()
    local port = s_server(pki.good, pki.ca)
    local r = T.nb({ "certificate", "-cafile=" .. pki.ca, "localhost",
      tostring(port) })
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("\nIt checks out: an authority in [^\n]+ vouches for this "
      .. "chain, it is valid now, and it is for localhost%.\n$", r.out)
    local port6 = T.free_port(nil, "::1")
    local p = T.spawn(("exec openssl s_server -accept '[::1]:%d' -cert %s "
      .. "-key %s -quiet"):format(port6, q(pki.good.cert), q(pki.good.key)))
    finally(function() p:stop() end)
    assert(T.wait_port(port6), p:err())
    r = T.nb({ "certificate", "-cafile=" .. pki.ca, "[::1]:" .. port6 })
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("^Connected to %[::1%]:" .. port6 .. " over TLSv1%.3", r.out)
    assert.matches("and it is for ::1%.\n$", r.out)
  end)

  it("says why a chain does not check out, and exits 1", function()
    for _, case in ipairs {
      { pki.good, nil, "certificate signed by an unknown authority" },
      { pki.expired, pki.ca, "certificate has expired (valid until "
        .. "2025-01-31", "It was valid from 2024-01-01T00:00:00Z until "
        .. "2025-01-31T12:00:00Z: it has expired." },
      { pki.notyet, pki.ca, "not valid yet", "It will be valid from "
        .. "2030-01-01T00:00:00Z until 2031-01-01T00:00:00Z: it is not "
        .. "valid yet." },
      { pki.wrongname, pki.ca, "certificate is for example.org" },
      { pki.selfsigned, pki.ca, "self-signed certificate",
        "It vouches for itself: it is self-signed." },
      { pki.untrusted, pki.ca, "unknown authority (CN=netbasics other CA)" },
    } do
      local port = s_server(case[1])
      local r = T.nb({ "certificate", "-cafile=" .. (case[2] or pki.ca),
        "127.0.0.1:" .. port })
      if case[2] == nil then
        r = T.nb({ "certificate", "127.0.0.1:" .. port })
      end
      assert.equal(1, r.code, r.out .. r.err)
      assert.equal("", r.err)
      assert.matches("\nIt does not check out: [^\n]*" .. case[3]:gsub("%p",
        "%%%0") .. "[^\n]*\nnet%.connect%(HOST, PORT, {tls = true}%) would "
        .. "refuse this server%.\n$", r.out)
      if case[4] then assert.matches(case[4], r.out, 1, true) end
    end
  end)

  it("escapes the bytes a server chose before they reach the terminal",
    function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    -- a subject and a name with escape sequences and a bell in them
    sh(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
      .. "-nodes -days 1 -subj %s -addext %s -keyout %s/k.pem -out "
      .. "%s/c.pem 2>/dev/null"):format(q("/CN=ev\27[31mil"),
      q("subjectAltName=DNS:x\27]0;title\7y,IP:127.0.0.1"), d, d))
    local port = s_server({ cert = d .. "/c.pem", key = d .. "/k.pem" })
    local r = T.nb({ "certificate", "127.0.0.1:" .. port })
    assert.equal(1, r.code)
    assert.matches("It says it belongs to CN=ev", r.out, 1, true)
    assert.matches("It covers x", r.out, 1, true)
    assert.is_nil(r.out:find("[\0-\9\11-\31\127]"))
  end)

  it("says so when nothing speaks TLS there", function()
    local port = T.free_port()
    local r = T.nb({ "certificate", "127.0.0.1:" .. port })
    assert.equal(1, r.code)
    assert.equal("", r.out)
    assert.equal(("certificate: connect to 127.0.0.1:%d: connection "
      .. "refused\n"):format(port), r.err)
  end)

  it("--help prints the usage; bad arguments give it with exit 2",
    function()
    local r = T.nb({ "certificate", "--help" })
    assert.equal(0, r.code)
    local usage = "usage: netbasics certificate [-cafile=FILE] HOST[:PORT] "
      .. "[PORT]\n"
    assert.equal(usage, r.out:match("^[^\n]*\n"))
    for _, case in ipairs {
      { {}, "needs HOST[:PORT]" },
      { { "127.0.0.1" }, "HOST[:PORT] '127.0.0.1': not an address or name "
        .. "and a port (like 127.0.0.1:4433 or example.org:443)" },
      { { "127.0.0.1:0" }, "HOST[:PORT] '127.0.0.1:0': ports go from 1 to "
        .. "65535" },
      { { "127.0.0.1", "70000" }, "PORT '70000': ports go from 1 to 65535" },
      { { "a b", "1" }, "HOST 'a b': not an IP address or a host name" },
      { { "-cafile", "127.0.0.1:1" }, "'-cafile' needs a value: "
        .. "-cafile=FILE" },
      { { "-cafile=/nonexistent", "127.0.0.1:1" },
        "-cafile '/nonexistent': no such file or directory" },
      { { "-cafile=/tmp", "127.0.0.1:1" },
        "-cafile '/tmp': is a folder, not a file" },
    } do
      local args = { "certificate" }
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      r = T.nb(args)
      assert.equal(2, r.code, table.concat(args, " "))
      assert.equal("", r.out)
      assert.equal("certificate: " .. case[2] .. "\n" .. usage, r.err)
    end
  end)
end)
