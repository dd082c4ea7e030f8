-- Fault suite: downloads. Servers of the spec's own (python3 on a free
-- loopback port) that never stop, trickle, or die mid-body; a full
-- disk; symlinks planted where the temporary file goes; a folder that
-- does not exist. Each: nil, a one-line message saying what happened, a
-- code; an earlier file intact; no temporary file left. (More cases --
-- 404, redirect loops, file://, TLS, a stalled server -- are in
-- spec/download_spec.lua.)
local T = require "nbtest"
local net = require "netbasics"
local W = require "webserver"

-- a python3 HTTP/1.1 server (webserver.lua's W.python); `body` is
-- Python code sending the response on socket c after the request head
local function server(body)
  local srv = W.python(body)
  return { url = srv:url("/file"), stop = function() srv:stop() end }
end

local ls = T.ls

describe("faults: downloads", function()
  local dir, srv
  before_each(function() dir = T.tmpdir() end)
  after_each(function()
    if srv then srv.stop() end
    srv = nil
    T.rmtree(dir)
  end)

  local function failed(r, msg, code, want)
    assert.is_nil(r)
    assert.equal(want, code, msg)
    assert.is_string(msg)
    assert.is_nil(msg:find("\n"))
  end

  it("an endless chunked body is stopped by max_bytes, memory bounded",
     function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b"%x\r\n" % 65536 + b"e" * 65536 + b"\r\n"
while True:
    c.sendall(chunk)]])
    local path = dir .. "/copy.bin"
    T.writefile(path, "earlier copy")
    local r, msg, code = net.download(srv.url, path,
      { max_bytes = 8 * 1024 * 1024 })
    failed(r, msg, code, "toobig")
    assert.equal("download " .. srv.url
      .. ": larger than max_bytes (8388608 bytes)", msg)
    assert.equal("earlier copy", T.slurp(path))
    assert.same({ "copy.bin" }, ls(dir))
    -- to memory too
    r, msg, code = net.fetch(srv.url, { max_bytes = 8 * 1024 * 1024 })
    failed(r, msg, code, "toobig")
    -- and the process did not hold the body: well under 8 MiB extra
    collectgarbage()
    assert.is_true(collectgarbage("count") < 8 * 1024)
  end)

  it("one byte a second is stopped by the low-speed limit", function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
for _ in range(1000):
    c.sendall(b"t")
    time.sleep(1)]])
    local path = dir .. "/copy.html"
    T.writefile(path, "earlier copy")
    -- the default limit (10 bytes a second), over 2 s instead of 30
    local r, msg, code = net.download(srv.url, path, { low_speed_time = 2 })
    failed(r, msg, code, "timeout")
    assert.truthy(msg:find("download " .. srv.url, 1, true), msg)
    assert.equal("earlier copy", T.slurp(path))
    assert.same({ "copy.html" }, ls(dir))
  end)

  it("a server that dies mid-body", function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
c.sendall(b"d" * 300000)
c.shutdown(socket.SHUT_RDWR)
c.close()
os._exit(0)]])
    local path = dir .. "/copy.html"
    T.writefile(path, "earlier copy")
    local r, msg, code = net.download(srv.url, path)
    failed(r, msg, code, "closed")
    assert.truthy(msg:find("remaining", 1, true), msg)
    assert.equal("earlier copy", T.slurp(path))
    assert.same({ "copy.html" }, ls(dir))
  end)

  it("a full disk (a 64 KiB tmpfs)", function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
c.sendall(b"f" * 1048576)]])
    assert.equal("0", T.run("id -u").out:match("%d+"),
      "this test mounts a tmpfs: run it as root (CI does)")
    local mnt = dir .. "/small"
    os.execute("mkdir " .. mnt)
    local m = T.run("mount -t tmpfs -o size=64k tmpfs " .. mnt)
    assert.equal(0, m.code, m.err)
    finally(function() os.execute("umount " .. mnt) end)
    local path = mnt .. "/copy.bin"
    T.writefile(path, "earlier copy")
    local r, msg, code = net.download(srv.url, path)
    failed(r, msg, code, "io")
    assert.truthy(msg:find("No space left on device", 1, true), msg)
    assert.equal("earlier copy", T.slurp(path))
    assert.same({ "copy.bin" }, ls(mnt))
  end)

  it("a device, a FIFO or a socket at the path is refused, not replaced",
     function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")]])
    -- /dev/full itself (as root the rename would replace the device),
    -- and a FIFO of our own
    assert.is_true(os.execute("mkfifo " .. T.shquote(dir .. "/fifo")))
    for _, path in ipairs { "/dev/full", "/dev/null", dir .. "/fifo" } do
      local r, msg, code = net.download(srv.url, path)
      failed(r, msg, code, "io")
      assert.equal("download " .. srv.url .. " to " .. path
        .. ": not a regular file (a device, a pipe or a socket): not "
        .. "replaced", msg)
    end
    assert.equal("c", T.run("stat -c %F /dev/full").out:sub(1, 1))
    assert.same({ "fifo" }, ls(dir))
    assert.same({}, (function()
      local t = {}
      for n in io.popen("ls -A /dev | grep '^\\.full\\.'"):lines() do
        t[#t + 1] = n
      end
      return t
    end)())
  end)

  it("symlinks planted where temporary files could go are never followed",
     function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")]])
    local victim = dir .. "/victim"
    T.writefile(victim, "victim")
    local sub = dir .. "/d"
    os.execute("mkdir " .. sub)
    -- names a careless program would use, and 500 in the mkstemp form
    local planted = { ".copy.html.tmp", "copy.html.tmp", "copy.html.part",
      ".copy.html.XXXXXX", "copy.html~" }
    local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for _ = 1, 500 do
      local t = {}
      for i = 1, 6 do
        local k = math.random(#chars)
        t[i] = chars:sub(k, k)
      end
      planted[#planted + 1] = ".copy.html." .. table.concat(t)
    end
    for _, name in ipairs(planted) do
      assert(os.execute("ln -sf " .. T.shquote(victim) .. " "
        .. T.shquote(sub .. "/" .. name)))
    end
    local path = sub .. "/copy.html"
    T.writefile(path, "earlier copy")
    assert.is_true(net.download(srv.url, path) ~= nil)
    assert.equal("fresh", T.slurp(path))
    assert.equal("victim", T.slurp(victim))
    local names = ls(sub)
    assert.equal(#planted + 1, #names)  -- the links and the copy, no more
    local r = T.run("find " .. T.shquote(sub) .. " -type f")
    assert.equal(path .. "\n", r.out)
  end)

  it("a destination in a folder that does not exist", function()
    srv = server([[
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")]])
    local r, msg, code = net.download(srv.url, dir .. "/no/such/copy.html")
    failed(r, msg, code, "io")
    assert.truthy(msg:find("No such file or directory", 1, true), msg)
    assert.same({}, ls(dir))
  end)
end)
