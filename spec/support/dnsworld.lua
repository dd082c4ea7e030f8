-- dnsworld: the lesson's DNS world of docs/testing.md on loopback, for the
-- resolve specs. Two dnsmasq processes on one free port P: the
-- authoritative one on 127.0.0.2:P and a caching forwarder on 127.0.0.1:P
-- that asks it. Also a deliberately bad server (fakedns.py) and a network
-- namespace whose /etc/resolv.conf names a dnsmasq inside it.
--
--   local W = require "dnsworld"
--   local world = W.start()   -- world.port, world.auth, world.forwarder
--   ...
--   world:stop()              -- in finally()
local T = require "nbtest"

local W = {}

W.ZONE = "securitystandard.org"

-- the authoritative server's records: the seed's, plus names of our own
W.RECORDS = {
  "--local=/securitystandard.org/",
  "--local-ttl=300",
  -- the seed: gnomon is another name for hermes
  "--cname=gnomon.securitystandard.org,hermes.securitystandard.org",
  "--host-record=hermes.securitystandard.org,185.172.165.184",
  -- a CNAME chain two deep: a1 -> a2 -> hermes
  "--cname=a1.securitystandard.org,a2.securitystandard.org",
  "--cname=a2.securitystandard.org,hermes.securitystandard.org",
  -- several A and AAAA records (dnsmasq rotates them)
  "--host-record=multi.securitystandard.org,10.0.0.1,2001:db8::1",
  "--host-record=multi.securitystandard.org,10.0.0.2,2001:db8::2",
  "--host-record=multi.securitystandard.org,10.0.0.3",
  -- only an AAAA record
  "--host-record=six.securitystandard.org,2001:db8::6",
  -- a PTR record of its own (host-records also make PTRs)
  "--ptr-record=1.1.168.192.in-addr.arpa,router.securitystandard.org",
  -- a CNAME to a name with no address at all
  "--cname=dangling.securitystandard.org,void.securitystandard.org",
  -- a name with no address at all, only a TXT record
  "--txt-record=txtonly.securitystandard.org,hello",
}

W.ADDRESSES = {
  gnomon = { "185.172.165.184" },
  multi = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::1", "2001:db8::2" },
}

local function dnsmasq_cmd(addr, port, args)
  return "dnsmasq --keep-in-foreground --conf-file=/dev/null "
    .. "--log-facility=- --pid-file= --user=root "
    .. "--bind-interfaces --listen-address=" .. addr
    .. " --port=" .. port .. " --no-resolv --no-hosts "
    .. table.concat(args, " ")
end
W.dnsmasq_cmd = dnsmasq_cmd

-- are UDP sockets bound on each of `addrs` at `port`?
local function bound(port, addrs)
  local p = io.popen(string.format("ss -Hnul 'sport = :%d'", port))
  local s = p:read("a")
  p:close()
  for _, a in ipairs(addrs) do
    if not s:find(a .. ":" .. port, 1, true) then return false end
  end
  return true
end

local World = {}
World.__index = World

function World:stop()
  for _, proc in ipairs(self.procs) do proc:stop() end
  self.procs = {}
end

-- starts processes from `cmds` (built for a port), retrying on another
-- free port if one of them could not bind
local function start_on_free_port(make, addrs)
  for _ = 1, 5 do
    local port = T.free_port("udp", "127.0.0.1")
    local w = setmetatable({ port = port, procs = {} }, World)
    for _, cmd in ipairs(make(port)) do
      w.procs[#w.procs + 1] = T.spawn(cmd)
    end
    local up = T.until_true(function()
      for _, proc in ipairs(w.procs) do
        if not proc:alive() then return "died" end
      end
      return bound(port, addrs) and "up"
    end, 10)
    if up == "up" then return w end
    local errs = {}
    for _, proc in ipairs(w.procs) do errs[#errs + 1] = proc:err() end
    w:stop()
    if not table.concat(errs):find("in use", 1, true) then
      error("the DNS world did not start: " .. table.concat(errs, " | "))
    end
  end
  error("no free port for the DNS world")
end

-- the two dnsmasq of the lesson's world
function W.start()
  local w = start_on_free_port(function(port)
    return {
      "exec " .. dnsmasq_cmd("127.0.0.2", port, W.RECORDS),
      "exec " .. dnsmasq_cmd("127.0.0.1", port,
        { "--server=127.0.0.2#" .. port }),
    }
  end, { "127.0.0.2", "127.0.0.1" })
  w.auth = "127.0.0.2:" .. w.port
  w.forwarder = "127.0.0.1:" .. w.port
  return w
end

-- fakedns.py on a free port of 127.0.0.1
function W.fake()
  local w = start_on_free_port(function(port)
    return { "exec python3 " .. T.shquote(T.root .. "/spec/support/fakedns.py")
      .. " " .. port }
  end, { "127.0.0.1" })
  w.server = "127.0.0.1:" .. w.port
  return w
end

-- A network namespace (root only) whose /etc/resolv.conf says
-- "nameserver 127.0.0.1" (ip netns exec mounts /etc/netns/NAME/ over
-- /etc/), with a dnsmasq of the lesson's records listening there on port
-- 53. ns:exec(cmd) runs a shell command inside it; ns:stop() removes it.
local Netns = {}
Netns.__index = Netns

function W.netns()
  local name = "nbresolve" .. T.pid()
  local ns = setmetatable({ name = name, procs = {},
    etc = "/etc/netns/" .. name }, Netns)
  local ok, err = pcall(function()
    assert(T.run("ip netns add " .. name).code == 0, "ip netns add failed")
    ns.added = true
    assert(T.run("ip -n " .. name .. " link set lo up").code == 0)
    assert(T.run("mkdir -p " .. ns.etc).code == 0)
    T.writefile(ns.etc .. "/resolv.conf", "nameserver 127.0.0.1\n")
    T.writefile(ns.etc .. "/hosts", "127.0.0.1\tlocalhost\n")
    ns.procs[1] = T.spawn("exec ip netns exec " .. name .. " "
      .. dnsmasq_cmd("127.0.0.1", 53, W.RECORDS))
    local up = T.until_true(function()
      if not ns.procs[1]:alive() then return "died" end
      local r = T.run("ip netns exec " .. name .. " ss -Hnul 'sport = :53'")
      return r.out:find("127.0.0.1:53", 1, true) and "up"
    end, 10)
    assert(up == "up", "dnsmasq in the namespace: " .. ns.procs[1]:err())
  end)
  if not ok then
    ns:stop()
    error(err)
  end
  return ns
end

function Netns:exec(cmd)
  return T.run("ip netns exec " .. self.name .. " sh -c " .. T.shquote(cmd))
end

function Netns:stop()
  for _, proc in ipairs(self.procs) do proc:stop() end
  self.procs = {}
  if self.added then
    T.run("ip netns del " .. self.name)
    self.added = false
  end
  T.run("rm -rf " .. T.shquote(self.etc) .. "; rmdir /etc/netns 2>/dev/null")
end

return W
