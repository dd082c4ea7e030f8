-- net.connections() and the ports lesson against `ss -tan` / `ss -uan`
-- (iproute2), on sockets this spec opens on loopback: LISTEN, ESTABLISHED,
-- TIME_WAIT and UDP, IPv4 and IPv6.
local T = require "nbtest"
local net = require "netbasics"

local ss_state = { ESTAB = "ESTABLISHED", ["TIME-WAIT"] = "TIME_WAIT",
  ["CLOSE-WAIT"] = "CLOSE_WAIT", ["FIN-WAIT-1"] = "FIN_WAIT1",
  ["FIN-WAIT-2"] = "FIN_WAIT2", ["SYN-SENT"] = "SYN_SENT",
  ["SYN-RECV"] = "SYN_RECV", ["LAST-ACK"] = "LAST_ACK" }

-- "127.0.0.1:80", "[::1]:80", "0.0.0.0:*" -> host, port (0 for *)
local function ss_endpoint(s)
  local host, port = s:match("^%[(.*)%]:(%S+)$")
  if not host then host, port = s:match("^(.*):(%S+)$") end
  return host, port == "*" and 0 or tonumber(port)
end

-- every socket ss lists with `port` at either end, as comparable strings
local function from_ss(proto, port)
  local set = {}
  local p = io.popen(string.format("ss -Hn%sa", proto == "udp" and "u" or "t"))
  for line in p:lines() do
    local state, l, r = line:match("^(%S+)%s+%d+%s+%d+%s+(%S+)%s+(%S+)")
    if state then
      local lh, lp = ss_endpoint(l)
      local rh, rp = ss_endpoint(r)
      if lp == port or rp == port then
        set[#set + 1] = string.format("%s %s %d %s %d %s", proto, lh, lp, rh,
          rp, ss_state[state] or state)
      end
    end
  end
  p:close()
  table.sort(set)
  return set
end

local function from_net(proto, port)
  local set = {}
  for _, c in ipairs(assert(net.connections())) do
    if c.proto == proto and (c.local_port == port or c.remote_port == port)
    then
      set[#set + 1] = string.format("%s %s %d %s %d %s", c.proto,
        c.local_host, c.local_port, c.remote_host, c.remote_port, c.state)
    end
  end
  table.sort(set)
  return set
end

describe("net.connections", function()
  it("agrees with ss on LISTEN, ESTABLISHED and TIME_WAIT (IPv4)",
    function()
      local l = assert(net.listen("127.0.0.1", 0))
      local _, port = l:getsockname()
      local c = assert(net.connect("127.0.0.1", port))
      local a = assert(l:accept())
      finally(function() c:close() a:close() l:close() end)
      local mine = from_net("tcp", port)
      assert.equal(3, #mine)
      assert.same(from_ss("tcp", port), mine)
      local _, cport = c:getsockname()
      local want = {
        "tcp 127.0.0.1 " .. cport .. " 127.0.0.1 " .. port .. " ESTABLISHED",
        "tcp 127.0.0.1 " .. port .. " 0.0.0.0 0 LISTEN",
        "tcp 127.0.0.1 " .. port .. " 127.0.0.1 " .. cport .. " ESTABLISHED",
      }
      table.sort(want)  -- as from_net sorts: the order depends on the ports
      assert.same(want, mine)
      -- the client closes first: its end waits in TIME_WAIT
      c:close()
      a:close()
      local tw = "tcp 127.0.0.1 " .. cport .. " 127.0.0.1 " .. port
        .. " TIME_WAIT"
      assert.truthy(T.until_true(function()
        local set = from_net("tcp", port)
        for _, s in ipairs(set) do if s == tw then return true end end
      end, 10))
      assert.same(from_ss("tcp", port), from_net("tcp", port))
    end)

  it("agrees with ss on IPv6 and UDP sockets", function()
    local l = assert(net.listen("::1", 0))
    local _, port = l:getsockname()
    local c = assert(net.connect("::1", port))
    local a = assert(l:accept())
    local u4 = assert(net.socket(net.AF_INET, net.SOCK_DGRAM))
    local u6 = assert(net.socket(net.AF_INET6, net.SOCK_DGRAM))
    finally(function()
      c:close() a:close() l:close() u4:close() u6:close()
    end)
    assert(u4:bind("127.0.0.1", 0))
    assert(u6:bind("::1", 0))
    local _, p4 = u4:getsockname()
    local _, p6 = u6:getsockname()
    local tcp = from_net("tcp", port)
    assert.equal(3, #tcp)
    assert.same(from_ss("tcp", port), tcp)
    assert.same({ "udp 127.0.0.1 " .. p4 .. " 0.0.0.0 0 UNCONN" },
      from_net("udp", p4))
    assert.same(from_ss("udp", p4), from_net("udp", p4))
    assert.same({ "udp ::1 " .. p6 .. " :: 0 UNCONN" }, from_net("udp", p6))
    assert.same(from_ss("udp", p6), from_net("udp", p6))
    -- a connected UDP socket is ESTABLISHED, as netstat says
    assert(u4:connect("127.0.0.1", p4))
    assert.same(from_ss("udp", p4), from_net("udp", p4))
  end)

  it("gives every field with its type", function()
    local l = assert(net.listen("127.0.0.1", 0))
    finally(function() l:close() end)
    local list = assert(net.connections())
    assert.is_true(#list >= 1)
    for _, c in ipairs(list) do
      if c.family == "unix" then  -- after the internet ones (unix_spec)
        assert.equal("unix", c.proto)
        assert.matches("^%l+$", c.type)
        assert.matches("^[A-Z]+$", c.state)
        assert.equal("string", type(c.path))
        assert.equal("integer", math.type(c.inode))
        goto next
      end
      assert.is_true(c.proto == "tcp" or c.proto == "udp")
      assert.is_true(c.family == "inet" or c.family == "inet6")
      assert.is_true(net.getaddrinfo(c.local_host, c.local_port) ~= nil)
      assert.equal("integer", math.type(c.local_port))
      assert.equal("integer", math.type(c.remote_port))
      assert.matches("^[A-Z_0-9]+$", c.state)
      ::next::
    end
  end)
end)

describe("the ports lesson", function()
  it("shows what netstat -an shows, and sees a talk server listen",
    function()
      local port = T.free_port("tcp")
      local p = T.spawn(string.format("%s talk-server 0.0.0.0 %d",
        T.shquote(T.host), port))
      local l6 = assert(net.listen("::1", 0))
      local u = assert(net.socket(net.AF_INET, net.SOCK_DGRAM))
      finally(function() p:stop() l6:close() u:close() end)
      assert.truthy(T.wait_port(port))
      assert(u:bind("127.0.0.1", 0))
      local _, p6 = l6:getsockname()
      local _, pu = u:getsockname()
      local r = T.nb({ "ports" })
      assert.equal(0, r.code, r.err)
      local lines = {}
      for line in r.out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal("Active Internet connections (servers and established)",
        lines[1])
      assert.matches("^Proto%s+Local Address%s+Foreign Address%s+State$",
        lines[2])
      local function has(pattern)
        for _, line in ipairs(lines) do
          if line:match(pattern) then return true end
        end
        return false
      end
      assert.is_true(has("^tcp%s+0%.0%.0%.0:" .. port
        .. "%s+0%.0%.0%.0:%*%s+LISTEN$"), r.out)
      assert.is_true(has("^tcp6%s+::1:" .. p6 .. "%s+:::%*%s+LISTEN$"), r.out)
      assert.is_true(has("^udp%s+127%.0%.0%.1:" .. pu
        .. "%s+0%.0%.0%.0:%*%s+UNCONN$"), r.out)
    end)
end)
