-- net.fetch against real web servers on loopback: nginx (HTTP and HTTPS
-- with a self-signed certificate made by openssl) with curl as the
-- reference, and a small python3 server for cut and stalled answers.
local T = require "nbtest"
local W = require "webserver"
local net = require "netbasics"

local sha256, randomdata = T.sha256, T.randomdata

-- the sockets this process holds (what a transfer could leak)
local function sockets()
  local p = io.popen("ls -l /proc/" .. T.pid() .. "/fd")
  local n = 0
  for l in p:lines() do
    if l:find("socket:", 1, true) then n = n + 1 end
  end
  p:close()
  return n
end

local PAGE = "<!doctype html>\n<html><head><title>Welcome to the copy"
  .. "</title></head>\n<body><h1>Hello</h1></body></html>\n"

describe("net.fetch", function()
  local web, dir
  local files = {
    ["empty.bin"] = "",
    ["one.bin"] = "x",
    ["page.html"] = PAGE,
    ["text.txt"] = string.rep("the quick brown fox\n", 50000),
  }
  setup(function()
    files["big.bin"] = randomdata(24 * 1024 * 1024 + 7)
    web = W.nginx{ files = files }
    dir = T.tmpdir()
  end)
  teardown(function()
    if web then web:stop() end
    if dir then T.rmtree(dir) end
  end)

  -- curl's bytes for a URL, saved to a file
  local function curl(url, extra)
    local out = dir .. "/curl.out"
    local r = T.run(("curl -sS --noproxy '*' %s -o %s %s"):format(extra or "",
      T.shquote(out), T.shquote(url)))
    assert(r.code == 0, r.err)
    return out
  end

  describe("gets", function()
    for _, name in ipairs{ "empty.bin", "one.bin", "page.html", "big.bin" } do
      it("the same bytes as curl: " .. name, function()
        local r = assert(net.fetch(web:url("/" .. name)))
        assert.equal(200, r.status)
        assert.equal(#files[name], r.bytes)
        assert.equal(#files[name], #r.body)
        T.writefile(dir .. "/ours", r.body)
        assert.equal(sha256(curl(web:url("/" .. name))), sha256(dir .. "/ours"))
        assert.is_true(r.body == files[name])
      end)
    end

    it("status, lower-case headers, final url, bytes and seconds", function()
      local r = assert(net.fetch(web:url("/page.html")))
      assert.equal(200, r.status)
      assert.equal(PAGE, r.body)
      assert.equal("text/html", r.headers["content-type"])
      assert.equal(tostring(#PAGE), r.headers["content-length"])
      assert.matches("^nginx", r.headers["server"])
      assert.is_nil(r.headers["Content-Type"])
      assert.equal(web:url("/page.html"), r.url)
      assert.equal(#PAGE, r.bytes)
      assert.is_number(r.seconds)
      assert.is_true(r.seconds >= 0)
    end)

    it("any HTTP status is a result: 404", function()
      local r = assert(net.fetch(web:url("/missing.html")))
      assert.equal(404, r.status)
      assert.matches("404 Not Found", r.body)
      assert.equal(web:url("/missing.html"), r.url)
    end)

    it("gzip: asks for it and gives the decoded bytes, as curl --compressed",
      function()
      local r = assert(net.fetch(web:url("/gz/text.txt")))
      assert.equal("gzip", r.headers["content-encoding"])
      assert.is_true(r.body == files["text.txt"])
      T.writefile(dir .. "/ours", r.body)
      assert.equal(sha256(curl(web:url("/gz/text.txt"), "--compressed")),
        sha256(dir .. "/ours"))
    end)

    it("compressed = false asks for the bytes as they are", function()
      local r = assert(net.fetch(web:url("/gz/text.txt"), { compressed = false }))
      assert.is_nil(r.headers["content-encoding"])
      assert.is_true(r.body == files["text.txt"])
    end)

    it("sends method, body, headers and user agent netbasics/VERSION", function()
      local r = assert(net.fetch(web:url("/echo"), { headers = { ["X-Test"] = "yes" } }))
      assert.equal("GET yes netbasics/" .. net._VERSION, r.body)
      r = assert(net.fetch(web:url("/echo"), { method = "POST", body = "a=1",
        user_agent = "lesson/1", headers = { ["X-Test"] = 42 } }))
      assert.equal("POST 42 lesson/1", r.body)
      r = assert(net.fetch(web:url("/page.html"), { method = "HEAD" }))
      assert.same({ 200, "", tostring(#PAGE) },
        { r.status, r.body, r.headers["content-length"] })
    end)
  end)

  describe("redirects", function()
    it("follows a 301, 302, 307 chain to the final URL", function()
      local r = assert(net.fetch(web:url("/r1")))
      assert.same({ 200, PAGE, web:url("/page.html") }, { r.status, r.body, r.url })
    end)

    it("max_redirects = 0 gives the redirect itself", function()
      local r = assert(net.fetch(web:url("/r1"), { max_redirects = 0 }))
      assert.equal(301, r.status)
      assert.equal(web:url("/r2"), r.headers.location)
    end)

    it("a loop stops after 10 redirects", function()
      local r, msg, code = net.fetch(web:url("/loop"))
      assert.is_nil(r)
      assert.equal("redirects", code)
      assert.equal("fetch " .. web:url("/loop")
        .. ": Maximum (10) redirects followed", msg)
      r, msg, code = net.fetch(web:url("/r1"), { max_redirects = 2 })
      assert.same({ "redirects", "fetch " .. web:url("/r1")
        .. ": Maximum (2) redirects followed" }, { code, msg })
    end)

    it("refuses a redirect to file:///etc/passwd, and to ftp:", function()
      local r, msg, code = net.fetch(web:url("/tofile"))
      assert.is_nil(r)
      assert.equal("protocol", code)
      assert.matches('Protocol "file" not supported', msg, 1, true)
      r, msg, code = net.fetch(web:url("/toftp"))
      assert.same({ "protocol" }, { code })
      assert.matches('Protocol "ftp" not supported', msg, 1, true)
    end)

    it("refuses file: in a redirect even when file: is allowed", function()
      local r, _, code = net.fetch(web:url("/tofile"), { protocols = "http,file" })
      assert.same({ nil, "protocol" }, { r, code })
    end)
  end)

  describe("schemes", function()
    for _, url in ipairs{ "file:///etc/passwd", "ftp://127.0.0.1/",
      "gopher://127.0.0.1/", "dict://127.0.0.1/", "FILE:///etc/passwd",
      "scp://127.0.0.1/x", "ldap://127.0.0.1/" } do
      it("refuses " .. url, function()
        local r, msg, code = net.fetch(url)
        assert.is_nil(r)
        assert.equal("protocol", code)
        assert.equal(("fetch %s: protocol '%s' not allowed (allowed: "
          .. "http,https)"):format(url, url:match("^(%a+)"):lower()), msg)
      end)
    end

    it("allows file: when named in protocols", function()
      T.writefile(dir .. "/local.txt", "local bytes")
      local r = assert(net.fetch("file://" .. dir .. "/local.txt",
        { protocols = "file" }))
      assert.equal("local bytes", r.body)
      local _, _, code = net.fetch(web:url("/page.html"), { protocols = "file" })
      assert.equal("protocol", code)
    end)
  end)

  describe("HTTPS with a self-signed certificate", function()
    it("fails with a certificate message without cafile", function()
      local r, msg, code = net.fetch(web:url("/page.html", true))
      assert.is_nil(r)
      assert.equal("tls", code)
      assert.equal("fetch " .. web:url("/page.html", true)
        .. ": SSL certificate problem: self-signed certificate", msg)
    end)

    it("works with the certificate as cafile, same bytes as curl", function()
      local r = assert(net.fetch(web:url("/big.bin", true), { cafile = web.cafile }))
      assert.equal(200, r.status)
      T.writefile(dir .. "/ours", r.body)
      assert.equal(sha256(curl(web:url("/big.bin", true), "--cacert "
        .. web.cafile)), sha256(dir .. "/ours"))
    end)

    it("works with insecure = true, and only then", function()
      local r = assert(net.fetch(web:url("/page.html", true), { insecure = true }))
      assert.equal(PAGE, r.body)
      local _, _, code = net.fetch(web:url("/page.html", true), { insecure = false })
      assert.equal("tls", code)
    end)

    it("a cafile that does not exist is a tls failure", function()
      local _, msg, code = net.fetch(web:url("/page.html", true),
        { cafile = dir .. "/none.pem" })
      assert.equal("tls", code)
      assert.matches("^fetch https://127%.0%.0%.1:%d+/page%.html: ", msg)
    end)
  end)

  describe("failures", function()
    it("a closed port is refused, named in the message", function()
      local port = T.free_port()
      local url = ("http://127.0.0.1:%d/"):format(port)
      local r, msg, code = net.fetch(url)
      assert.is_nil(r)
      assert.equal("refused", code)
      assert.matches("^fetch " .. url:gsub("%p", "%%%0") .. ": Failed to connect", msg)
    end)

    it("timeout bounds the whole transfer (a slow location)", function()
      local r, msg, code = net.fetch(web:url("/slow/text.txt"), { timeout = 0.5 })
      assert.is_nil(r)
      assert.equal("timeout", code)
      assert.matches("timed out", msg)
    end)

    it("the low-speed limit ends a stalled answer", function()
      local raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc", "stall")
      finally(function() raw:stop() end)
      local r, msg, code = net.fetch(raw:url(), { low_speed_time = 1 })
      assert.is_nil(r)
      assert.equal("timeout", code)
      assert.matches("Operation too slow", msg)
    end)

    it("a connection cut mid-body is 'closed'", function()
      local raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
        .. string.rep("x", 1000))
      finally(function() raw:stop() end)
      local r, msg, code = net.fetch(raw:url())
      assert.is_nil(r)
      assert.equal("closed", code)
      assert.equal("fetch " .. raw:url()
        .. ": transfer closed with 99000 bytes remaining to read", msg)
    end)

    -- a body with a Content-Length is read straight into its string,
    -- libcurl's buffer (4 MiB) at a time, the first ones through a stage
    -- and, once lua_load has made the string, the rest written in place:
    -- failures past the first buffers
    it("a long body cut after several buffers is 'closed', no string kept", function()
      local raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 12582912\r\n\r\n"
        .. string.rep("x", 9437184))
      finally(function() raw:stop() end)
      local r, msg, code = net.fetch(raw:url())
      assert.same({ nil, "closed" }, { r, code })
      assert.equal("fetch " .. raw:url()
        .. ": transfer closed with 3145728 bytes remaining to read", msg)
    end)

    it("a long body that stalls after several buffers times out", function()
      local raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 12582912\r\n\r\n"
        .. string.rep("x", 9437184), "stall")
      finally(function() raw:stop() end)
      local r, _, code = net.fetch(raw:url(), { timeout = 1 })
      assert.same({ nil, "timeout" }, { r, code })
    end)

    it("a body longer than its Content-Length is cut to it", function()
      for _, n in ipairs { 1000000, 10000000 } do
        local raw = W.raw(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n")
          :format(n) .. string.rep("a", n) .. string.rep("b", 1000))
        finally(function() raw:stop() end)
        local r = assert(net.fetch(raw:url()))
        assert.equal(n, r.bytes)
        assert.is_true(r.body == string.rep("a", n))
      end
    end)

    it("a long body read in place is a string like any other", function()
      -- written after Lua made it: its hash (as a key) is of its bytes
      local a = assert(net.fetch(web:url("/big.bin"))).body
      local b = assert(net.fetch(web:url("/big.bin"))).body
      local t = { [a] = 1 }
      assert.equal(1, t[b])
      assert.equal(1, t[files["big.bin"]])
      assert.is_true(a == b and a == files["big.bin"])
      assert.equal(files["big.bin"]:sub(-100), a:sub(-100))
    end)

    it("max_bytes below a long body's length refuses it before the body", function()
      local raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\n\r\n"
        .. string.rep("x", 3145728))
      finally(function() raw:stop() end)
      local r, _, code = net.fetch(raw:url(), { max_bytes = 3145727 })
      assert.same({ nil, "toobig" }, { r, code })
    end)

    it("a chunked body cut mid-way is 'closed'", function()
      local raw = W.raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "400\r\n" .. string.rep("y", 1024) .. "\r\n400\r\nyy")
      finally(function() raw:stop() end)
      local r, _, code = net.fetch(raw:url())
      assert.same({ nil, "closed" }, { r, code })
    end)

    it("a server that answers nothing", function()
      local raw = W.raw("")
      finally(function() raw:stop() end)
      local r, msg, code = net.fetch(raw:url())
      assert.same({ nil, "closed" }, { r, code })
      assert.matches("Empty reply from server", msg)
    end)

    it("max_bytes: a known length above it", function()
      local r, msg, code = net.fetch(web:url("/big.bin"), { max_bytes = 1000 })
      assert.is_nil(r)
      assert.equal("toobig", code)
      assert.equal("fetch " .. web:url("/big.bin")
        .. ": larger than max_bytes (1000 bytes)", msg)
    end)

    it("max_bytes: counted as it arrives when the length is unknown", function()
      -- gzip makes nginx send it chunked, with no Content-Length
      local r, msg, code = net.fetch(web:url("/gz/text.txt"), { max_bytes = 5000 })
      assert.is_nil(r)
      assert.equal("toobig", code)
      assert.matches("larger than max_bytes %(5000 bytes%)$", msg)
      local raw = W.raw("HTTP/1.0 200 OK\r\n\r\n" .. string.rep("z", 70000))
      finally(function() raw:stop() end)
      r, msg, code = net.fetch(raw:url(), { max_bytes = 65536 })
      assert.same({ nil, "toobig" }, { r, code })
    end)

    it("max_bytes equal to the size is fine", function()
      local r = assert(net.fetch(web:url("/text.txt"), { max_bytes = #files["text.txt"] }))
      assert.equal(#files["text.txt"], r.bytes)
      r = assert(net.fetch(web:url("/gz/text.txt"), { max_bytes = #files["text.txt"] }))
      assert.equal(#files["text.txt"], r.bytes)
    end)
  end)

  describe("refuses malformed input before libcurl sees it", function()
    local bad = {
      [""] = "is empty",
      ["example.org"] = "has no scheme (like http://)",
      ["www.python.org/index.html"] = "has no scheme (like http://)",
      ["://x/"] = "has no scheme (like http://)",
      ["1http://x/"] = "has no scheme (like http://)",
      ["http:x"] = "has no // after the scheme",
      ["http:/x"] = "has no // after the scheme",
      ["http://"] = "has no host",
      ["http:///etc/passwd"] = "has no host",
      ["http://user@/x"] = "has no host",
      ["http://:80/"] = "has no host",
      ["http://a b/"] = "contains a space or a control character",
      ["http://x/\r\nHost: evil"] = "contains a space or a control character",
      ["http://x/\n"] = "contains a space or a control character",
      ["http://x/\0y"] = "contains a space or a control character",
      ["http://x/\t"] = "contains a space or a control character",
      ["http://x/\127"] = "contains a space or a control character",
      ["http://x\\y/"] = "contains a backslash",
      ["http://x/" .. string.rep("a", 9000)] = "is too long",
    }
    for url, why in pairs(bad) do
      it(("%q"):format(#url > 40 and url:sub(1, 40) .. "..." or url), function()
        local r, msg, code = net.fetch(url)
        assert.is_nil(r)
        assert.equal("malformed", code)
        assert.matches(": the URL " .. why:gsub("%p", "%%%0") .. "$", msg)
        assert.is_nil(msg:find("[\r\n]"))
      end)
    end

    local badheaders = {
      { { ["X-A"] = "a\r\nX-B: b" }, "header 'X-A' has CR or LF in its value" },
      { { ["X-A"] = "a\nb" }, "header 'X-A' has CR or LF in its value" },
      { { ["X-A"] = "a\rb" }, "header 'X-A' has CR or LF in its value" },
      { { ["X-A\r\nX-B"] = "b" }, "has CR or LF in its name" },
      { { ["X A"] = "b" }, "header 'X%20A' has a name that is not a token" },
      { { ["X:A"] = "b" }, "header 'X:A' has a name that is not a token" },
      { { [""] = "b" }, "header '' has an empty name" },
      { { ["X-A"] = "a\0b" }, "header 'X-A' has a control character in its value" },
    }
    for _, case in ipairs(badheaders) do
      it("header " .. ("%q"):format(next(case[1])), function()
        local r, msg, code = net.fetch(web:url("/echo"), { headers = case[1] })
        assert.is_nil(r)
        assert.equal("malformed", code)
        assert.matches(case[2], msg, 1, true)
      end)
    end

    it("random bytes: always malformed or protocol, one-line messages", function()
      -- protocols = "q" (no q in the alphabet): whatever passes the
      -- checks is refused before any connection or name lookup is tried
      math.randomseed(5)
      local alphabet = "htps:/?#@[]%.-_~\\\r\n\t \0\127\200\255abcxyz019"
      for i = 1, 3000 do
        local n = math.random(0, 40)
        local t = {}
        for j = 1, n do
          local k = math.random(1, #alphabet)
          t[j] = alphabet:sub(k, k)
        end
        local url = (i % 2 == 0 and "http://" or "") .. table.concat(t)
        local r, msg, code = net.fetch(url, { protocols = "q" })
        assert.is_nil(r)
        assert.is_truthy(code == "malformed" or code == "protocol", code)
        assert.is_nil(msg:find("[\r\n%z]"), msg)
      end
    end)

    it("an empty header value is sent empty", function()
      local r = assert(net.fetch(web:url("/echo"), { headers = { ["X-Test"] = "" } }))
      assert.equal("GET  netbasics/" .. net._VERSION, r.body)
    end)
  end)

  describe("misuse raises", function()
    local u
    before_each(function() u = web:url("/page.html") end)
    it("wrong argument types", function()
      assert.has_error(function() net.fetch() end)
      assert.has_error(function() net.fetch({}) end)
      assert.has_error(function() net.fetch(u, "opts") end)
    end)
    it("names the caller's line, before and after libcurl is loaded", function()
      for _ = 1, 2 do
        local _, e = pcall(function() net.fetch(u, { tiemout = 1 }) end)
        assert.matches("fetch_spec%.lua:%d+: unknown option 'tiemout'$", e)
        _, e = pcall(function() net.download(u, "x", { max_bytes = "a lot" }) end)
        assert.matches("fetch_spec%.lua:%d+: option 'max_bytes': number expected, got string$", e)
      end
    end)
    it("unknown options and wrong option types", function()
      assert.has_error(function() net.fetch(u, { tiemout = 1 }) end,
        "unknown option 'tiemout'")
      assert.has_error(function() net.fetch(u, { [1] = true }) end)
      assert.has_error(function() net.fetch(u, { timeout = "soon" }) end)
      assert.has_error(function() net.fetch(u, { timeout = -1 }) end)
      assert.has_error(function() net.fetch(u, { timeout = 0 }) end)
      assert.has_error(function() net.fetch(u, { max_bytes = 1.5 }) end)
      assert.has_error(function() net.fetch(u, { max_redirects = -1 }) end)
      assert.has_error(function() net.fetch(u, { insecure = 1 }) end)
      assert.has_error(function() net.fetch(u, { headers = "X-A: b" }) end)
      assert.has_error(function() net.fetch(u, { headers = { "X-A: b" } }) end)
      assert.has_error(function() net.fetch(u, { progress = 1 }) end)
      assert.has_error(function() net.fetch(u, { protocols = "HTTP" }) end)
      assert.has_error(function() net.fetch(u, { protocols = "http,,https" }) end)
      assert.has_error(function() net.fetch(u, { method = "GET /x HTTP/1.1\r\n" }) end)
      assert.has_error(function() net.fetch(u, { user_agent = "a\r\nb" }) end)
    end)
  end)

  describe("progress", function()
    it("a function gets now, total; the last call has all bytes", function()
      local calls = {}
      local r = assert(net.fetch(web:url("/big.bin"), { progress = function(now, total)
        calls[#calls + 1] = { now, total }
      end }))
      assert.is_true(#calls >= 1)
      assert.same({ #files["big.bin"], #files["big.bin"] }, calls[#calls])
      for i = 2, #calls do assert.is_true(calls[i][1] > calls[i - 1][1]) end
      assert.equal(#files["big.bin"], r.bytes)
    end)

    it("total is nil when the length is unknown", function()
      local last
      assert(net.fetch(web:url("/gz/text.txt"), { progress = function(now, total)
        last = { now, total }
      end }))
      assert.is_nil(last[2])
      assert.is_true(last[1] > 0)
    end)

    it("returning false stops the transfer", function()
      local r, msg, code = net.fetch(web:url("/slow/text.txt"), {
        progress = function() return false end })
      assert.same({ nil, "stopped" }, { r, code })
      assert.equal("fetch " .. web:url("/slow/text.txt")
        .. ": stopped by the progress function", msg)
    end)

    it("an error in it is raised after the transfer is cleaned up", function()
      collectgarbage()
      local before = sockets()
      assert.has_error(function()
        net.fetch(web:url("/slow/text.txt"), { progress = function() error("mine") end })
      end)
      collectgarbage()
      assert.equal(before, sockets())
    end)

    it("progress = true draws nothing when stderr is not a terminal", function()
      local r = T.nb({ "-e", ("local net = require 'netbasics' "
        .. "assert(net.fetch(%q, {progress = true})) print('ok')")
        :format(web:url("/text.txt")) })
      assert.same({ "ok\n", "", 0 }, { r.out, r.err, r.code })
    end)

    it("progress = true draws a bar on a terminal", function()
      local cmd = ("%s -e %s"):format(T.shquote(T.host), T.shquote(
        ("local net = require 'netbasics' "
        .. "assert(net.fetch(%q, {progress = true})) print('done')")
        :format(web:url("/text.txt"))))
      local r = T.run("script -qec " .. T.shquote(cmd) .. " /dev/null")
      assert.equal(0, r.code)
      local size = ("%.1f KiB"):format(#files["text.txt"] / 1024)
      assert.matches("100.0%% %[#+%] " .. size:gsub("%p", "%%%0") .. " of "
        .. size:gsub("%p", "%%%0") .. " .- total", r.out)
      assert.matches("done", r.out)
    end)
  end)

  describe("resources", function()
    it("leaves no socket open after successes and failures", function()
      assert(net.fetch(web:url("/page.html")))
      collectgarbage()
      local before = sockets()
      for _ = 1, 5 do
        assert(net.fetch(web:url("/page.html")))
        assert(net.fetch(web:url("/page.html", true), { cafile = web.cafile }))
        net.fetch(web:url("/loop"))
        net.fetch(web:url("/big.bin"), { max_bytes = 10 })
        net.fetch(web:url("/page.html", true))
        net.fetch("file:///etc/passwd")
      end
      assert.equal(before, sockets())
    end)

    it("require 'netbasics' does not load libcurl; the first fetch does", function()
      local code = ("local net = require 'netbasics' "
        .. "local function curl() for l in io.lines('/proc/self/maps') do "
        .. "if l:find('libcurl') then return true end end return false end "
        .. "print(curl(), package.loaded['netbasics.curl'] ~= nil) "
        .. "assert(net.fetch(%q)) print(curl(), package.loaded['netbasics.curl'] ~= nil)")
        :format(web:url("/page.html"))
      local r = T.nb({ "-e", code })
      assert.same({ "false\tfalse\ntrue\ttrue\n", 0 }, { r.out, r.code })
      r = T.run("lua5.4 -e " .. T.shquote("package.path='lua/?.lua;lua/?/init.lua' "
        .. "package.cpath='build/lib/?.so' " .. code))
      assert.same({ "false\tfalse\ntrue\ttrue\n", 0 }, { r.out, r.code })
    end)

    it("Ctrl-C in the host stops a transfer and exits 130", function()
      local p = T.spawn(("exec %s -e %s"):format(T.shquote(T.host), T.shquote(
        ("local net = require 'netbasics' io.stdout:write('started\\n') "
        .. "io.stdout:flush() print(net.fetch(%q))"):format(web:url("/slow/text.txt")))))
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out():find("started") end, 10))
      T.until_true(function() return T.run("ss -tn state established '( dport = :"
        .. web.port .. " )'").out:find("127.0.0.1") end, 10)
      p:kill("INT")
      assert.equal(130, p:wait(10))
      assert.matches("interrupted!", p:err())
    end)
  end)
end)

describe("net.file_url", function()
  it("makes an absolute, percent-encoded file:// URL", function()
    assert.equal("file:///tmp/a%20b/copy%23.html", net.file_url("/tmp/a b/copy#.html"))
    assert.equal("file:///tmp/x.html", net.file_url("/tmp/./y/../x.html"))
    local cwd = os.getenv("PWD")
    assert.equal("file://" .. cwd .. "/mycopy.html", net.file_url("./mycopy.html"))
    assert.equal("file://" .. cwd .. "/mycopy.html", net.file_url("mycopy.html"))
  end)
  it("an empty path is malformed; a non-string raises", function()
    assert.same({ nil, "file_url: the path is empty", "malformed" },
      { net.file_url("") })
    assert.has_error(function() net.file_url(nil) end)
  end)
end)
