-- Fault suite: the host. However a script ends (an error inside a
-- <close> scope, os.exit with things open, Ctrl-C, SIGTERM, while it
-- computes or while it waits), what it held is closed, files it wrote
-- are whole, and the exit status says how it ended: 1 for an error, the
-- code given to os.exit, 130 for SIGINT, 143 for SIGTERM.
local T = require "nbtest"

-- a script preamble: mark(name) returns a to-be-closed value, and
-- collected(name) a value whose __gc leaves a file named `name` in DIR
local function preamble(dir)
  return string.format([[
local DIR = %q
local function touch(name)
  local f = assert(io.open(DIR .. "/" .. name, "w")); f:write(name); f:close()
end
local function mark(name)
  return setmetatable({}, { __close = function() touch(name) end })
end
local function collected(name)
  return setmetatable({}, { __gc = function() touch(name) end })
end
local function ready() io.stdout:write("ready\n"); io.stdout:flush() end
]], dir)
end

local function script(dir, body)
  local path = dir .. "/script.lua"
  T.writefile(path, preamble(dir) .. body)
  return path
end

local function exists(path) return T.slurp(path) ~= nil end

describe("faults: the host", function()
  local dir
  before_each(function() dir = T.tmpdir() end)
  after_each(function() T.rmtree(dir) end)

  it("an error inside a <close> scope closes it, reports, exits 1",
     function()
    local path = script(dir, [[
      local held <close> = mark("closed")
      local kept = collected("collected")
      error("boom")
    ]])
    local r = T.run(T.hostcmd() .. " " .. T.shquote(path))
    assert.equal(1, r.code)
    assert.matches("^netbasics: [^\n]*boom\nstack traceback:", r.err)
    assert.is_true(exists(dir .. "/closed"))
    assert.is_true(exists(dir .. "/collected"))
  end)

  it("os.exit(code) with things open closes them all and keeps the code",
     function()
    local path = script(dir, [[
      local held <close> = mark("closed")
      local kept = collected("collected")
      local f = assert(io.open(DIR .. "/buffered", "w"))
      f:write(string.rep("x", 100000))  -- never closed by the script
      os.exit(3)
    ]])
    local r = T.run(T.hostcmd() .. " " .. T.shquote(path))
    assert.equal(3, r.code)
    assert.equal("", r.err)
    assert.is_true(exists(dir .. "/closed"))
    assert.is_true(exists(dir .. "/collected"))
    assert.equal(100000, #T.slurp(dir .. "/buffered"))
  end)

  it("os.exit(true) and os.exit(false) are 0 and 1", function()
    assert.equal(0, T.nb({ "-e", "os.exit(true)" }).code)
    assert.equal(1, T.nb({ "-e", "os.exit(false)" }).code)
    assert.equal(0, T.nb({ "-e", "os.exit()" }).code)
  end)

  for _, case in ipairs {
    { "INT", 130, "netbasics: interrupted!\n" },
    { "TERM", 143, "netbasics: terminated!\n" },
  } do
    local sig, code, err = case[1], case[2], case[3]

    it("SIG" .. sig .. " while computing closes what the script held, exits "
       .. code, function()
      local path = script(dir, [[
        local held <close> = mark("closed")
        local kept = collected("collected")
        ready()
        while true do end
      ]])
      local p = T.spawn("exec " .. T.hostcmd() .. " " .. T.shquote(path))
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out() == "ready\n" end,
        30))
      p:kill(sig)
      assert.equal(code, p:wait(30))
      assert.equal(err, p:err())
      assert.is_true(exists(dir .. "/closed"))
      assert.is_true(exists(dir .. "/collected"))
    end)

    it("SIG" .. sig .. " while waiting for input closes what the script "
       .. "held, exits " .. code, function()
      local path = script(dir, [[
        local held <close> = mark("closed")
        ready()
        local line = io.read("l")   -- nothing comes
        while true do end           -- (or the hook stops us here)
      ]])
      -- the reader's stdin is a FIFO it holds open for writing too, so
      -- no end of input ever comes
      assert.is_true(os.execute("mkfifo " .. T.shquote(dir .. "/fifo")))
      local p = T.spawn("exec 3<>" .. T.shquote(dir .. "/fifo") .. "; exec "
        .. T.hostcmd() .. " " .. T.shquote(path) .. " <&3")
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out() == "ready\n" end,
        30))
      p:kill(sig)
      assert.equal(code, p:wait(30))
      assert.equal(err, p:err())
      assert.is_true(exists(dir .. "/closed"))
    end)
  end

  -- a python3 peer that accepts one connection, says "hi", then reads
  -- until the other end closes and prints what it saw
  local function peer()
    local port = T.free_port()
    local p = T.spawn("exec python3 -c " .. T.shquote(([[
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", %d)); l.listen(1)
c, _ = l.accept()
c.sendall(b"hi\n")
n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print("closed after", n, flush=True)
]]):format(port)))
    assert(T.wait_port(port), "the peer did not start")
    return p, port
end

  it("os.exit with a socket open closes it: the peer sees the end",
     function()
    local srv, port = peer()
    finally(function() srv:stop() end)
    local path = script(dir, ([[
      local net = require "netbasics"
      local s = assert(net.connect("127.0.0.1", %d))
      assert(s:recvline() == "hi")
      assert(s:sendall("12345"))
      os.exit(4)
    ]]):format(port))
    local r = T.run(T.hostcmd() .. " " .. T.shquote(path))
    assert.equal(4, r.code)
    assert.equal(0, srv:wait(10))
    assert.equal("closed after 5\n", srv:out())
  end)

  for _, case in ipairs {
    { "INT", 130, "netbasics: interrupted!\n" },
    { "TERM", 143, "netbasics: terminated!\n" },
  } do
    it("SIG" .. case[1] .. " during a transfer closes the socket, exits "
       .. case[2], function()
      local srv, port = peer()
      finally(function() srv:stop() end)
      local path = script(dir, ([[
        local net = require "netbasics"
        local s <close> = assert(net.connect("127.0.0.1", %d))
        local held <close> = mark("closed")
        assert(s:recvline() == "hi")
        ready()
        s:recv(100)    -- the peer sends nothing more
      ]]):format(port))
      local p = T.spawn("exec " .. T.hostcmd() .. " " .. T.shquote(path))
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out() == "ready\n" end,
        30))
      p:kill(case[1])
      assert.equal(case[2], p:wait(30))
      assert.equal(case[3], p:err())
      assert.is_true(exists(dir .. "/closed"))
      assert.equal(0, srv:wait(10))
      assert.equal("closed after 0\n", srv:out())
    end)
  end
end)
