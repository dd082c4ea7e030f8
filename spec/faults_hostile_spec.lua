-- Fault suite: what hostile peers tried (issue 14). Loose host spellings
-- in URLs and in redirects, compressed bodies cut short, Content-Length
-- values that differ, control bytes in what a server says, messages that
-- named the wrong failure, huge timeouts, signals during a download, an
-- error object with __tostring in a task. Every server is python3 on a
-- free loopback port (webserver.lua's W.python).
local T = require "nbtest"
local net = require "netbasics"
local W = require "webserver"

-- no byte a peer chose reaches a message raw: printable ASCII only
local function clean(msg)
  assert.is_string(msg)
  assert.is_nil(msg:find("[%z\1-\31\127-\255]"), msg)
end

-- loose IPv4 spellings libc reads as 127.0.0.1 (or another address),
-- zone ids and bracket oddities: all malformed
local LOOSE = {
  "127.1", "127.0.1", "0x7f.1", "0x7f.0.0.1", "0X7F000001", "0x7f000001",
  "0177.0.0.1", "0177.1", "2130706433", "017700000001", "127.000.0.1",
  "127.0.0.01", "010.0.0.1", "127.0.0.1.", "127.1.", "2130706433.",
  "0x7f.1.", "127.0.0.1..", "[::1%lo]", "[::1%25lo]", "[fe80::1%eth0]",
  "[fe80::1%25eth0]", "[::ffff:127.1]", "[::1", "[::1]x", "[127.0.0.1]",
  "[]", "127%2E0%2E0%2E1", "127.0.0.1%00", "%31%32%37.0.0.1",
}

describe("faults: URL hosts", function()
  local dir
  before_each(function() dir = T.tmpdir() end)
  after_each(function() T.rmtree(dir) end)

  it("a loose host is malformed, before any connection", function()
    -- a server that would answer, were it reached
    local srv = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nreached")
    finally(function() srv:stop() end)
    assert.equal("reached", assert(net.fetch(srv:url("/"))).body)
    local path = dir .. "/copy"
    T.writefile(path, "earlier")
    for _, h in ipairs(LOOSE) do
      local url = "http://" .. h .. ":" .. srv.port .. "/"
      local r, msg, code = net.fetch(url)
      assert.is_nil(r, url)
      assert.equal("malformed", code, msg)
      clean(msg)
      r, msg, code = net.download(url, path)
      assert.is_nil(r, url)
      assert.equal("malformed", code, msg)
      assert.equal("earlier", T.slurp(path))
      assert.same({ "copy" }, T.ls(dir))
    end
  end)

  it("a zone id says so, and loose IPv4 forms are named", function()
    local _, msg = net.fetch("http://[fe80::1%25eth0]:80/")
    assert.equal("fetch http://[fe80::1%25eth0]:80/: the URL has an IPv6 "
      .. "zone id (like %eth0): refused everywhere", msg)
    _, msg = net.fetch("http://127.1/")
    assert.equal("fetch http://127.1/: the URL has a malformed host: "
      .. "neither a strict IPv4 address (loose forms like 127.1 or 0x7f.1 "
      .. "are refused) nor a host name", msg)
  end)

  it("strict hosts still work: a dotted quad, [::1], localhost, a port",
     function()
    local srv = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    finally(function() srv:stop() end)
    for _, h in ipairs { "127.0.0.1", "localhost", "LOCALHOST" } do
      local r, msg = net.fetch("http://" .. h .. ":" .. srv.port .. "/")
      assert.is_table(r, msg)
      assert.equal("ok", r.body)
    end
  end)

  -- a server whose first answer is a redirect to `target` (with PORT
  -- replaced by the server's own port); the next request gets "reached"
  local function redirector(target, status)
    return W.python(([[
n = data.decode()
if head.startswith(b"GET /final"):
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nreached")
else:
    port = str(srv.getsockname()[1])
    c.sendall(("HTTP/1.1 %s Moved\r\nLocation: " + n.replace("PORT", port)
               + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").encode("latin-1"))]])
      :format(status or 302), target)
  end

  it("a redirect to a loose host is malformed, and not followed",
     function()
    local path = dir .. "/copy"
    T.writefile(path, "earlier")
    for _, status in ipairs { 301, 302, 303, 307, 308 } do
      for _, h in ipairs(LOOSE) do
        local srv = redirector("http://" .. h .. ":PORT/final", status)
        local r, msg, code = net.fetch(srv:url("/start"))
        assert.is_nil(r, h)
        assert.equal("malformed", code, msg)
        clean(msg)
        assert.truthy(msg:find(": redirect to http://", 1, true), msg)
        r, msg, code = net.download(srv:url("/start"), path)
        srv:stop()
        assert.is_nil(r, h)
        assert.equal("malformed", code, msg)
        assert.equal("earlier", T.slurp(path))
        assert.same({ "copy" }, T.ls(dir))
        if status ~= 302 then break end  -- every host once, with 302
      end
    end
  end)

  it("a network-path redirect (//host/) to a loose host is malformed too",
     function()
    for _, h in ipairs { "127.1", "0x7f.1", "2130706433", "[::1%25lo]" } do
      local srv = redirector("//" .. h .. ":PORT/final")
      local r, msg, code = net.fetch(srv:url("/start"))
      srv:stop()
      assert.is_nil(r, h)
      assert.equal("malformed", code, msg)
    end
  end)

  it("a redirect's target with a control byte is malformed, and escaped",
     function()
    local srv = redirector("http://127.0.0.1:PORT/\27[2J\7final")
    finally(function() srv:stop() end)
    local r, msg, code = net.fetch(srv:url("/start"))
    assert.is_nil(r)
    assert.equal("malformed", code)
    clean(msg)
    assert.equal(srv:url("/start") .. ": redirect to http://127.0.0.1:"
      .. srv.port .. "/%1B[2J%07final: the URL contains a control "
      .. "character", msg:match("^fetch (.*)$"))
  end)

  it("strict redirects are followed: absolute, relative, //host",
     function()
    for _, target in ipairs { "http://127.0.0.1:PORT/final", "/final",
                              "final", "//127.0.0.1:PORT/final",
                              "http://localhost:PORT/final" } do
      local srv = redirector(target)
      local r, msg = net.fetch(srv:url("/start"))
      srv:stop()
      assert.is_table(r, msg)
      assert.equal("reached", r.body)
    end
  end)
end)

-- python code that sends `body` (bytes, compressed by `how`) cut to
-- `keep` bytes, with a Content-Length of what is sent
local function compressed(how, keep)
  return W.python(([[
import zlib, gzip
plain = b"".join(b"line %%d of the page\n" %% i for i in range(4000))
how = "%s"
if how == "gzip":
    body = gzip.compress(plain)
elif how == "zlib":
    body = zlib.compress(plain)
elif how == "raw":
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = co.compress(plain) + co.flush()
else:
    body = b"\x8b\x05\x80hello\x03"
enc = {"gzip": "gzip", "zlib": "deflate", "raw": "deflate"}.get(how, how)
keep = %d
if keep < 0:
    keep = len(body) + keep
body = body[:keep]
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: " + enc.encode()
          + b"\r\nContent-Length: %%d\r\nConnection: close\r\n\r\n" %% len(body) + body)]])
    :format(how, keep))
end

local PLAIN = {}
for i = 0, 3999 do PLAIN[#PLAIN + 1] = ("line %d of the page\n"):format(i) end
PLAIN = table.concat(PLAIN)

describe("faults: compressed bodies", function()
  local dir
  before_each(function() dir = T.tmpdir() end)
  after_each(function() T.rmtree(dir) end)

  for _, how in ipairs { "gzip", "zlib", "raw" } do
    it(how .. ": whole, it is decoded; cut anywhere, nil, msg, \"closed\" "
       .. "and the earlier file stays", function()
      local path = dir .. "/copy"
      local srv = compressed(how, 1 << 30)
      local r, msg = net.fetch(srv:url("/"))
      assert.is_table(r, msg)
      assert.equal(PLAIN, r.body)
      assert.equal(#PLAIN, r.bytes)
      r, msg = net.download(srv:url("/"), path)
      srv:stop()
      assert.is_table(r, msg)
      assert.equal(PLAIN, T.slurp(path))
      T.writefile(path, "earlier")
      for _, keep in ipairs { 1, 2, 10, 100, 1000, -100, -8, -4, -1 } do
        srv = compressed(how, keep)
        local code
        r, msg, code = net.fetch(srv:url("/"))
        assert.is_nil(r, how .. " " .. keep)
        assert.equal("closed", code, msg)
        assert.equal("fetch " .. srv:url("/") .. ": the compressed body "
          .. "ended before its end of stream (cut short)", msg)
        r, msg, code = net.download(srv:url("/"), path)
        srv:stop()
        assert.is_nil(r, how .. " " .. keep)
        assert.equal("closed", code, msg)
        assert.equal("earlier", T.slurp(path))
        assert.same({ "copy" }, T.ls(dir))
      end
    end)
  end

  it("in a task too", function()
    local srv = compressed("gzip", -4)
    finally(function() srv:stop() end)
    local t = net.spawn(function() return net.fetch(srv:url("/")) end)
    local ok, r, msg, code = t:join()
    assert.is_true(ok)
    assert.is_nil(r)
    assert.equal("closed", code, msg)
  end)

  it("a coding not asked for (br, zstd, a list) is refused, the earlier "
     .. "file stays", function()
    local path = dir .. "/copy"
    T.writefile(path, "earlier")
    for _, enc in ipairs { "br", "zstd", "compress", "gzip, gzip" } do
      local srv = compressed(enc, 1 << 30)
      local r, msg, code = net.download(srv:url("/"), path)
      srv:stop()
      assert.is_nil(r, enc)
      assert.equal("protocol", code, msg)
      clean(msg)
      assert.equal("earlier", T.slurp(path))
      assert.same({ "copy" }, T.ls(dir))
    end
  end)

  it("compressed = false takes the bytes as sent", function()
    local srv = compressed("gzip", -4)
    finally(function() srv:stop() end)
    local r, msg = net.fetch(srv:url("/"), { compressed = false })
    assert.is_table(r, msg)
    assert.equal("\31\139", r.body:sub(1, 2))
  end)
end)

describe("faults: response heads", function()
  local function raw(bytes)
    return W.raw(bytes)
  end

  it("Content-Length values that differ are \"protocol\", equal ones fine",
     function()
    for _, case in ipairs {
      { "Content-Length: 5\r\nContent-Length: 6\r\n", "protocol" },
      { "Content-Length: 6\r\nContent-Length: 5\r\n", "protocol" },
      { "Content-Length: 5, 6\r\n", "protocol" },
      { "Content-Length: 5,6\r\n", "protocol" },
      { "Content-Length: 5, \r\n", "protocol" },
      { "Content-Length: 5x\r\n", "protocol" },
      { "Content-Length: 5\r\nContent-Length: 5, 6\r\n", "protocol" },
      { "Content-Length: 5\r\nContent-Length: 5\r\n", nil },
      { "Content-Length: 5, 5\r\n", nil },
      { "Content-Length: 05\r\n", nil },
    } do
      local srv = raw("HTTP/1.1 200 OK\r\n" .. case[1]
        .. "Connection: close\r\n\r\nhello")
      local r, msg, code = net.fetch(srv:url("/"))
      local path = T.tmpdir()
      T.writefile(path .. "/copy", "earlier")
      local r2, _, code2 = net.download(srv:url("/"), path .. "/copy")
      srv:stop()
      if case[2] then
        assert.is_nil(r, case[1])
        assert.equal(case[2], code, msg)
        assert.equal("fetch " .. srv:url("/") .. ": the response has "
          .. "Content-Length values that differ or are not numbers "
          .. "(RFC 9112, section 6.3)", msg)
        assert.is_nil(r2)
        assert.equal(case[2], code2)
        assert.equal("earlier", T.slurp(path .. "/copy"))
      else
        assert.is_table(r, msg)
        assert.equal("hello", r.body)
        assert.is_table(r2)
      end
      T.rmtree(path)
    end
  end)

  it("control bytes in a reason phrase are escaped", function()
    for _, reason in ipairs { "Not\27[2J", "Bell\7", "Car\rriage",
                              "Nul\0byte", "Del\127", "Hi\200\255",
                              "\27]0;title\7" } do
      local srv = raw("HTTP/1.1 404 " .. reason
        .. "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      local dir = T.tmpdir()
      local r, msg, code = net.download(srv:url("/"), dir .. "/copy")
      srv:stop()
      T.rmtree(dir)
      assert.is_nil(r)
      clean(msg)
      -- libcurl refuses some status lines itself ("protocol")
      if code == "http" then
        assert.truthy(msg:find(": HTTP 404 ", 1, true), msg)
      else
        assert.equal("protocol", code, msg)
      end
    end
    local srv = raw("HTTP/1.1 404 Not\27[2J\r\nContent-Length: 0\r\n"
      .. "Connection: close\r\n\r\n")
    finally(function() srv:stop() end)
    local dir = T.tmpdir()
    local _, msg = net.download(srv:url("/"), dir .. "/copy")
    T.rmtree(dir)
    assert.equal("download " .. srv:url("/") .. ": HTTP 404 Not\\027[2J",
      msg)
  end)

  it("a redirect with odd bytes in its scheme is refused or escaped",
     function()
    for _, loc in ipairs { "x\27y\200://a/", "gopher\200://a/",
                           "\200\201://127.1/", "ftp://127.1/",
                           "HTTP://127.1/", "http:/127.1/", "http:127.1/" } do
      local srv = raw("HTTP/1.1 302 Found\r\nLocation: " .. loc .. "\r\n"
        .. "Content-Length: 0\r\nConnection: close\r\n\r\n")
      local r, msg, code = net.fetch(srv:url("/"),
        { protocols = "http,https,ftp" })
      srv:stop()
      assert.is_nil(r)
      clean(msg)
      -- never 127.0.0.1 reached by a loose form: refused, a relative
      -- path on the same server (a loop), or libcurl's own refusal
      assert.truthy(code == "malformed" or code == "redirects", loc .. ": "
        .. msg)
    end
  end)

  it("header lines past 1 MiB say so: \"toobig\", no max_bytes named",
     function()
    -- trailers of a chunked body: libcurl's own cap is on the head
    local srv = W.python([[
c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
for i in range(12000):
    c.sendall(b"X-T%d: " % i + b"t" * 100 + b"\r\n")
c.sendall(b"\r\n")]])
    finally(function() srv:stop() end)
    local r, msg, code = net.fetch(srv:url("/"))
    assert.is_nil(r)
    assert.equal("toobig", code, msg)
    assert.equal("fetch " .. srv:url("/") .. ": the response's header and "
      .. "trailer lines are larger than 1 MiB", msg)
  end)

  it("one very long header line is \"toobig\", not out of memory",
     function()
    local srv = W.python([[
c.sendall(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (2 * 1024 * 1024)
          + b"\r\nContent-Length: 2\r\n\r\nok")]])
    finally(function() srv:stop() end)
    local r, msg, code = net.fetch(srv:url("/"))
    assert.is_nil(r)
    assert.equal("toobig", code, msg)
    assert.equal("fetch " .. srv:url("/") .. ": the response has a header "
      .. "line longer than libcurl takes (100 KiB)", msg)
  end)

  it("many header lines are \"toobig\" too", function()
    local srv = W.python([[
c.sendall(b"HTTP/1.1 200 OK\r\n" + (b"X-B: " + b"c" * 1000 + b"\r\n") * 1100
          + b"Content-Length: 2\r\n\r\nok")]])
    finally(function() srv:stop() end)
    local r, msg, code = net.fetch(srv:url("/"))
    assert.is_nil(r)
    assert.equal("toobig", code, msg)
  end)

  it("a redirect loop over connections that reset says so", function()
    -- each connection: a redirect to itself, kept alive, then reset when
    -- libcurl reuses it (libcurl recovers on a new connection)
    local srv = W.python([[
import struct
c.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
c.recv(4096)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))]])
    finally(function() srv:stop() end)
    local r, msg, code = net.fetch(srv:url("/loop"), { max_redirects = 5 })
    assert.is_nil(r)
    assert.equal("redirects", code, msg)
    assert.equal("fetch " .. srv:url("/loop")
      .. ": Maximum (5) redirects followed", msg)
  end)
end)

describe("faults: huge timeouts", function()
  local HUGE = { 3e6, 1e7, 1e308, math.huge }

  -- a listening socket and a connected pair through it
  local function pair()
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    local c = assert(net.connect("127.0.0.1", port))
    local s = assert(l:accept())
    l:close()
    return c, s, port
  end

  it("settimeout, select, connect: a huge timeout is no limit", function()
    for _, v in ipairs(HUGE) do
      local c, s = pair()
      c:settimeout(v)
      assert.equal(v, c:gettimeout())
      assert(s:send("hello\n"))
      assert.equal("hello", c:recvline())
      assert(s:send("x"))
      local r = net.select({ c }, nil, v)
      assert.equal(c, r[1])
      assert.equal("x", c:recv(1))
      c:close()
      s:close()
      local l = assert(net.listen("127.0.0.1", 0))
      local _, port = l:getsockname()
      local k = assert(net.connect("127.0.0.1", port, v))
      k:close()
      l:close()
    end
  end)

  it("in tasks: recv, sleep and deadline with a huge timeout", function()
    for _, v in ipairs(HUGE) do
      local c, s = pair()
      c:settimeout(v)
      local t = net.spawn(function() return c:recvline() end)
      local w = net.spawn(function()
        net.sleep(0.01)
        return s:send("late\n")
      end)
      assert.same({ true, "late" }, { t:join() })
      assert.is_true((w:join()))
      local d = net.spawn(function()
        return net.deadline(v, function() net.sleep(0.01) return "done" end)
      end)
      assert.same({ true, "done" }, { d:join() })
      local sl = net.spawn(function()
        return net.deadline(0.05, net.sleep, v)
      end)
      local ok, r, msg, code = sl:join()
      assert.is_true(ok)
      assert.is_nil(r)
      assert.equal("timeout", code, msg)
      c:close()
      s:close()
    end
  end)

  it("fetch and download take a huge timeout as no limit", function()
    local srv = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    finally(function() srv:stop() end)
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    for _, v in ipairs(HUGE) do
      local r, msg = net.fetch(srv:url("/"), { timeout = v,
        connect_timeout = v, low_speed_time = v })
      assert.is_table(r, msg)
      assert.equal("ok", r.body)
      r, msg = net.download(srv:url("/"), dir .. "/f", { timeout = v })
      assert.is_table(r, msg)
    end
  end)

  it("the host's net.sleep(1e308) sleeps until Ctrl-C", function()
    for _, v in ipairs { "1e308", "math.huge", "3e6" } do
      local p = T.spawn("exec " .. T.hostcmd() .. " -e "
        .. T.shquote("local net = require 'netbasics' io.write('ready\\n') "
          .. "io.flush() net.sleep(" .. v
          .. ")"))
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out() == "ready\n" end,
        30))
      assert.is_nil(p:wait(0.2))  -- still asleep
      p:kill("INT")
      assert.equal(130, p:wait(30))
      assert.equal("netbasics: interrupted!\n", p:err())
    end
  end)
end)

describe("faults: signals during a download", function()
  local dir, srv
  before_each(function()
    dir = T.tmpdir()
    -- a body that trickles forever
    srv = W.python([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
while True:
    c.sendall(b"x" * 1000)
    time.sleep(0.02)]])
  end)
  after_each(function()
    srv:stop()
    T.rmtree(dir)
  end)

  local function script(body)
    local path = dir .. "/script.lua"
    T.writefile(path, body)
    return path
  end

  for _, case in ipairs {
    { "INT", 130, "interrupted!" }, { "TERM", 143 }, { "HUP", 129 },
    { "QUIT", 131 }, { "USR1", 138 }, { "USR2", 140 }, { "ALRM", 142 },
    { "XCPU", 152 }, { "XFSZ", 153 }, { "VTALRM", 154 }, { "PROF", 155 },
  } do
    it("SIG" .. case[1] .. " leaves no temporary file, exits " .. case[2],
       function()
      local path = script(([[
        local net = require "netbasics"
        local said = false
        net.download(%q, %q, { progress = function(n)
          if n > 0 and not said then
            said = true
            io.write("ready\n")
            io.flush()
          end
        end })
      ]]):format(srv:url("/"), dir .. "/copy"))
      T.writefile(dir .. "/copy", "earlier")
      local p = T.spawn("exec " .. T.hostcmd() .. " " .. T.shquote(path))
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out() == "ready\n" end,
        30))
      p:kill(case[1])
      assert.equal(case[2], p:wait(30))
      assert.equal("netbasics: " .. (case[3] or "terminated!") .. "\n",
        p:err())
      assert.equal("earlier", T.slurp(dir .. "/copy"))
      assert.same({ "copy", "script.lua" }, T.ls(dir))
    end)
  end

  it("a closed stdout (script | head -1) is an error, not a death",
     function()
    local path = script(([[
      local net = require "netbasics"
      net.download(%q, %q, { progress = function(n)
        print("got " .. n)
      end })
    ]]):format(srv:url("/"), dir .. "/copy"))
    T.writefile(dir .. "/copy", "earlier")
    local p = T.spawn("{ " .. T.hostcmd() .. " " .. T.shquote(path)
      .. " 2>" .. T.shquote(dir .. "/err") .. "; echo $? >"
      .. T.shquote(dir .. "/rc") .. "; } | head -1")
    finally(function() p:stop() end)
    assert.equal(0, p:wait(30))
    assert.matches("^got %d+\n$", p:out())
    assert.truthy(T.until_true(function() return T.slurp(dir .. "/rc") end,
      10))
    assert.equal("1\n", T.slurp(dir .. "/rc"))
    assert.matches("broken pipe", T.slurp(dir .. "/err"))
    assert.equal("earlier", T.slurp(dir .. "/copy"))
    os.remove(dir .. "/err")
    os.remove(dir .. "/rc")
    assert.same({ "copy", "script.lua" }, T.ls(dir))
  end)
end)

describe("faults: error objects in tasks", function()
  it("a task's error object with __tostring is shown with it", function()
    local r = T.nb({ "-e", [[
      local net = require "netbasics"
      local e = setmetatable({}, { __tostring = function() return "custom" end })
      local t = net.spawn(function() error(e) end)
      local ok, msg, code = t:join()
      print(ok, msg:match("^[^\n]*"), code)
    ]] })
    assert.equal(0, r.code, r.err)
    assert.equal("nil\tcustom\terror\n", r.out)
    assert.matches("^netbasics: task failed: custom\n", r.err)
    -- a table without __tostring is named by its type, as before
    r = T.nb({ "-e", "local net = require 'netbasics' "
      .. "net.spawn(function() error({}) end) net.run()" })
    assert.matches("task failed: %(error object is a table value%)", r.err)
  end)
end)
