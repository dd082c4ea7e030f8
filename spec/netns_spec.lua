-- Two computers talking: two network namespaces joined by a veth pair
-- (10.77.0.1/24 and 10.77.0.2/24), the talk server in one and the talk
-- client in the other. Needs root (CI runs as root, so there it never
-- skips); the namespaces are removed even when a test fails.
local T = require "nbtest"

local root = T.run("id -u").out == "0\n"
local tag = tostring(T.pid())
local A, B = "nbA" .. tag, "nbB" .. tag
local VA, VB = "nbva" .. tag, "nbvb" .. tag

local function sh(cmd)
  local r = T.run(cmd)
  assert(r.code == 0, cmd .. ": " .. (r.err or ""))
  return r.out
end

local function in_ns(ns, cmd) return "ip netns exec " .. ns .. " " .. cmd end

local function setup()
  sh("ip netns add " .. A)
  sh("ip netns add " .. B)
  sh(string.format("ip link add %s type veth peer name %s", VA, VB))
  sh(string.format("ip link set %s netns %s", VA, A))
  sh(string.format("ip link set %s netns %s", VB, B))
  sh(string.format("ip -n %s addr add 10.77.0.1/24 dev %s", A, VA))
  sh(string.format("ip -n %s addr add 10.77.0.2/24 dev %s", B, VB))
  for _, x in ipairs({ { A, VA }, { B, VB } }) do
    sh(string.format("ip -n %s link set lo up", x[1]))
    sh(string.format("ip -n %s link set %s up", x[1], x[2]))
  end
  -- in B, 10.88.0.0/24 goes through A, which does not forward (a new
  -- namespace never does) and, not forwarding, answers nothing: a black
  -- hole, where a connect can only time out
  sh(string.format("ip -n %s route add 10.88.0.0/24 via 10.77.0.1", B))
end

local function teardown()
  os.execute("ip netns del " .. A .. " 2>/dev/null")
  os.execute("ip netns del " .. B .. " 2>/dev/null")
end

-- run Lua in namespace B with the host; its standard output
local function lua_in_b(code)
  local r = T.run(in_ns(B, T.shquote(T.host) .. " -e " .. T.shquote(code)))
  assert(r.code == 0, r.err)
  return r.out
end

describe("two computers", function()
  if not root then
    it("needs root to make network namespaces", function()
      T.need_root("netns_spec")
    end)
    return
  end

  -- check once that everything can be made (and is removed in any case)
  local ok, err = pcall(setup)
  teardown()
  assert(ok, err)

  it("talk over a veth pair: server in one namespace, client in the other",
    function()
      local server
      finally(function()
        if server then server:stop() end
        teardown()
      end)
      setup()
      server = T.spawn(in_ns(A, T.shquote(T.host)
        .. " talk-server 10.77.0.1 9087"))
      assert.truthy(T.until_true(function()
        return T.run(in_ns(A, "ss -Hntl 'sport = :9087'")).out:match("%S")
      end, 10), server:err())
      local r = T.run(in_ns(B, T.shquote(T.host)
        .. " talk-client 10.77.0.1 9087"), "Hello from the other computer\n"
        .. "What time is it there?\nbye\n")
      assert.equal(0, r.code, r.err)
      assert.equal("", r.err)
      local got = {}
      for chunk in r.out:gmatch("Received: '(.-)'\n") do
        got[#got + 1] = chunk:gsub("\\n", "\n")
      end
      assert.equal("You said Hello from the other computer\n"
        .. "You said What time is it there?\nYou said bye\n",
        table.concat(got))
      assert.matches("Connection closed.\n$", r.out)
      assert.equal(0, server:wait(10))
      local log = server:out()
      assert.matches("^Starting server.\nConnected with 10%.77%.0%.2:%d+\n"
        .. "I got Hello from the other computer\n"
        .. "I got What time is it there%?\nI got bye\nStopping server.\n$",
        log)
      -- and net.connections() in A saw nothing of B's namespace: A lists
      -- only its own sockets (the server is gone)
      local conns = T.run(in_ns(A, T.shquote(T.host) .. " ports")).out
      assert.is_nil(conns:match("10%.77%.0%.1:9087%s+0%.0%.0%.0:%*%s+LISTEN"))
    end)

  it("faults between computers: refused, unreachable, timeout", function()
    finally(teardown)
    setup()
    local out = lua_in_b([[
      local net = require "netbasics"
      local function try(host, port, t)
        local s, msg, code = net.connect(host, port, t)
        print(code, msg)
      end
      try("10.77.0.1", 9, 5)        -- A answers with a reset
      try("10.99.0.1", 9087, 5)     -- no route at all
      try("10.88.0.5", 9087, 0.5)   -- a black hole
    ]])
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("refused\tconnect to 10.77.0.1:9: connection refused",
      lines[1])
    assert.equal("unreachable\tconnect to 10.99.0.1:9087: network is "
      .. "unreachable", lines[2])
    assert.equal("timeout\tconnect to 10.88.0.5:9087: timed out", lines[3])
  end)
end)
