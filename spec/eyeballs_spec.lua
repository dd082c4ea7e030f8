-- Happy Eyeballs (RFC 8305) in net.connect: two network namespaces joined
-- by a veth pair, a server in A at 10.78.0.1 and fd00:78::1, the client
-- in B where the name dual.he has both addresses (B's own /etc/hosts, as
-- ip netns exec mounts /etc/netns/B/hosts). A silent path is a permanent
-- neighbour entry in B to a MAC nobody has: the SYNs go out and nothing
-- ever answers. Needs root; the namespaces go even when a test fails.
-- Orders of completion are asserted, never times.
local T = require "nbtest"

local root = T.run("id -u").out == "0\n"
local tag = tostring(T.pid())
local A, B = "nbheA" .. tag, "nbheB" .. tag
local VA, VB = "nbhea" .. tag, "nbheb" .. tag
local V4, V6 = "10.78.0.1", "fd00:78::1"

local function sh(cmd)
  local r = T.run(cmd)
  assert(r.code == 0, cmd .. ": " .. (r.err or ""))
  return r.out
end

local function teardown()
  os.execute("ip netns del " .. A .. " 2>/dev/null")
  os.execute("ip netns del " .. B .. " 2>/dev/null")
  os.execute("rm -rf /etc/netns/" .. B .. "; rmdir /etc/netns 2>/dev/null")
end

local function setup()
  sh("ip netns add " .. A)
  sh("ip netns add " .. B)
  sh(string.format("ip link add %s type veth peer name %s", VA, VB))
  sh(string.format("ip link set %s netns %s", VA, A))
  sh(string.format("ip link set %s netns %s", VB, B))
  sh(string.format("ip -n %s addr add %s/24 dev %s", A, V4, VA))
  sh(string.format("ip -n %s addr add 10.78.0.2/24 dev %s", B, VB))
  sh(string.format("ip -n %s addr add %s/64 dev %s nodad", A, V6, VA))
  sh(string.format("ip -n %s addr add fd00:78::2/64 dev %s nodad", B, VB))
  for _, x in ipairs({ { A, VA }, { B, VB } }) do
    sh(string.format("ip -n %s link set lo up", x[1]))
    sh(string.format("ip -n %s link set %s up", x[1], x[2]))
  end
  sh("mkdir -p /etc/netns/" .. B)
  T.writefile("/etc/netns/" .. B .. "/hosts", "127.0.0.1\tlocalhost\n"
    .. V6 .. "\tdual.he\n" .. V4 .. "\tdual.he\n")
end

-- the path from B to `addr` goes silent: its packets go to a MAC nobody
-- has (v6: IPv6, else IPv4)
local function silence(addr, v6)
  sh(string.format("ip -n %s %s neigh replace %s lladdr 02:00:00:00:00:99 "
    .. "dev %s nud permanent", B, v6 and "-6" or "-4", addr, VB))
end

-- socat echo servers in A on `port`, at the addresses given
local function serve(port, addrs)
  local procs = {}
  for _, a in ipairs(addrs) do
    local six = a:find(":", 1, true)
    procs[#procs + 1] = T.spawn("exec ip netns exec " .. A .. " socat "
      .. (six and "TCP6-LISTEN:" or "TCP4-LISTEN:") .. port .. ",bind="
      .. (six and "[" .. a .. "]" or a) .. ",reuseaddr,fork EXEC:cat")
  end
  assert.truthy(T.until_true(function()
    local out = T.run("ip netns exec " .. A .. " ss -Hntl").out
    for _, a in ipairs(addrs) do
      local six = a:find(":", 1, true)
      if not out:find((six and "[" .. a .. "]" or a) .. ":" .. port, 1, true)
      then return false end
    end
    return true
  end, 10))
  return procs
end

-- runs Lua in the host in B; its standard output
local function in_b(code)
  local r = T.run("ip netns exec " .. B .. " " .. T.hostcmd() .. " -e "
    .. T.shquote("local net = require 'netbasics' " .. code))
  assert(r.code == 0, r.err)
  return r.out
end

-- Lua for B: connect in a task while another task sleeps `nap` seconds;
-- prints the order they end in and what connect gave
local function race_code(port, opts, nap)
  return string.format([[
local order = {}
net.spawn(function()
  local c, err, code = net.connect("dual.he", %d, %s)
  if c then
    local h = c:getpeername()
    assert(c:sendall("ping\n"))
    assert(c:recvline() == "ping")
    order[#order + 1] = "connect " .. h
    c:close()
  else
    order[#order + 1] = "connect failed " .. code .. " " .. err
  end
end)
net.spawn(function() net.sleep(%s) order[#order + 1] = "sleeper" end)
net.run()
print(table.concat(order, "\n"))
]], port, opts, nap)
end

describe("net.connect races the addresses of a name (Happy Eyeballs)",
  function()
    if not root then
      it("needs root to make network namespaces", function()
        T.need_root("eyeballs_spec")
      end)
      return
    end

    local ok, err = pcall(setup)
    teardown()
    assert(ok, err)

    local procs
    before_each(function() setup() procs = {} end)
    after_each(function()
      for _, p in ipairs(procs) do p:stop() end
      teardown()
    end)

    it("both work: IPv6 wins, in a task and outside", function()
      local port = 9201
      procs = serve(port, { V4, V6 })
      -- (an attempt delay of 2 s: IPv4 would start only if IPv6 had not
      -- connected by then, even on a machine under load)
      assert.equal("connect " .. V6 .. "\nsleeper\n",
        in_b(race_code(port, "{ timeout = 10, attempt_delay = 2 }", 3)))
      assert.equal(V6 .. "\n", in_b(string.format("print((assert(net.connect("
        .. "'dual.he', %d, { timeout = 10, attempt_delay = 2 })):"
        .. "getpeername()))", port)))
    end)

    it("IPv6 silently dropped: IPv4 wins after the attempt delay, long "
      .. "before the timeout", function()
      local port = 9202
      procs = serve(port, { V4, V6 })
      silence(V6, true)
      -- a 30 s timeout, a 0.25 s attempt delay: connected over IPv4 before
      -- a task sleeping 3 s wakes (tried in turn, it would wait 30 s)
      assert.equal("connect " .. V4 .. "\nsleeper\n",
        in_b(race_code(port, "{ timeout = 30 }", 3)))
      -- outside a task, on poll(): the same
      assert.equal(V4 .. "\n", in_b(string.format(
        "print((assert(net.connect('dual.he', %d, 30)):getpeername()))",
        port)))
      -- with an 8 s attempt delay, a sleeper of 3 s ends first: the delay
      -- is what IPv4 waited for
      assert.equal("sleeper\nconnect " .. V4 .. "\n",
        in_b(race_code(port, "{ timeout = 30, attempt_delay = 8 }", 3)))
    end)

    it("IPv6 refused (a reset): IPv4 at once, not after the delay",
      function()
        local port = 9203
        procs = serve(port, { V4 })  -- nothing on IPv6: a reset
        assert.equal("connect " .. V4 .. "\nsleeper\n",
          in_b(race_code(port, "{ timeout = 30, attempt_delay = 8 }", 3)))
        -- outside a task, on poll(): a 4 s timeout would end the connect
        -- before an 8 s delay let IPv4 start
        assert.equal(V4 .. "\n", in_b(string.format("print((assert("
          .. "net.connect('dual.he', %d, { timeout = 4, attempt_delay = 8 }"
          .. ")):getpeername()))", port)))
      end)

    it("all fail: the message names every address and why", function()
      local port = 9204
      assert.equal(string.format("connect failed refused connect to dual.he "
        .. "port %d: [%s]:%d connection refused; %s:%d connection refused\n"
        .. "sleeper\n", port, V6, port, V4, port),
        in_b(race_code(port, "10", 3)))
      -- outside a task: the same message
      assert.equal(string.format("nil\tconnect to dual.he port %d: [%s]:%d "
        .. "connection refused; %s:%d connection refused\trefused\n", port,
        V6, port, V4, port), in_b(string.format(
        "print(net.connect('dual.he', %d, 10))", port)))
      -- both silent: one timeout bounds the whole connect
      silence(V6, true)
      silence(V4, false)
      assert.equal(string.format("connect failed timeout connect to dual.he "
        .. "port %d: [%s]:%d timed out; %s:%d timed out\nsleeper\n", port, V6,
        port, V4, port), in_b(race_code(port,
        "{ timeout = 1, attempt_delay = 0.25 }", 3)))
      -- outside a task, on poll(): the same
      assert.equal(string.format("nil\tconnect to dual.he port %d: [%s]:%d "
        .. "timed out; %s:%d timed out\ttimeout\n", port, V6, port, V4,
        port), in_b(string.format("print(net.connect('dual.he', %d, "
        .. "{ timeout = 1, attempt_delay = 0.25 }))", port)))
      -- and net.deadline as well, outside a task
      assert.equal("nil\ttimeout\n", in_b(string.format([[
local c, err, code = net.deadline(1, net.connect, 'dual.he', %d)
print(c, code)]], port)))
    end)
  end)
