-- Names in tasks (csrc/gai.c): net.getaddrinfo, net.connect and
-- net.resolve in a task ask c-ares on the loop, so one slow lookup never
-- holds the other tasks. Each test runs the host in a mount and network
-- namespace of its own (unshare -m -n, as root) with a private /etc/hosts
-- and /etc/resolv.conf bind-mounted over the system's, pointing at a
-- dnsmasq on 127.0.0.1:53 that forwards bad.test to fakedns.py (silent
-- and SERVFAIL answers), or at searchdns.py, whose answer for each name
-- of the search list is spelled in the name. Orders of completion are
-- asserted, never times.
local T = require "nbtest"
local W = require "dnsworld"

local root = T.run("id -u").out == "0\n"

local HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
  .. "127.0.0.5\thostsonly.test\n127.0.0.6\tdual.test\n"

local RECORDS = {
  "--local=/test/",
  "--host-record=peer.test,127.0.0.1",
  "--host-record=short.corp.test,127.0.0.7",
  "--host-record=dual.test,10.1.1.1",
  "--host-record=both.test,127.0.0.8,::1",
  "--txt-record=txtonly.test,hello",
  "--server=/bad.test/127.0.0.1#5353",
}

-- the DNS servers of a world: dnsmasq with RECORDS on 127.0.0.1:53 and
-- fakedns.py on 5353; or (world.dns "search") searchdns.py alone on 53
local function servers(world, log)
  if world.dns == "search" then
    return { "python3 " .. T.shquote(T.root .. "/spec/support/searchdns.py")
      .. " 53 >" .. log .. " 2>&1 &", "P1=$!", "P2=",
      "trap 'kill $P1 2>/dev/null' EXIT",
      "i=0; until ss -Hnul | grep -q '127.0.0.1:53 '; do" }
  end
  return { W.dnsmasq_cmd("127.0.0.1", 53, RECORDS) .. " >" .. log
      .. " 2>&1 &", "P1=$!",
    "python3 " .. T.shquote(T.root .. "/spec/support/fakedns.py")
      .. " 5353 >/dev/null 2>&1 &",
    "P2=$!",
    "trap 'kill $P1 $P2 2>/dev/null' EXIT",
    "i=0; until ss -Hnul | grep -q '127.0.0.1:53 '"
      .. " && ss -Hnul | grep -q '127.0.0.1:5353 '; do" }
end

-- runs the Lua chunk `code` in the host inside a fresh mount and network
-- namespace whose resolv.conf has `options` (timeout, attempts); returns
-- its standard output (the run must succeed). `world` may change the
-- hosts file (hosts), the search list and ndots (search, ndots), the
-- servers (dns: see servers), add shell lines run first (setup:
-- addresses on lo), and run the host `jobs` times at once, the k-th with
-- the argument k (the outputs in that order)
local function in_world(options, code, world)
  world = world or {}
  local d = T.tmpdir()
  finally(function() T.rmtree(d) end)
  T.writefile(d .. "/hosts", world.hosts or HOSTS)
  T.writefile(d .. "/resolv.conf", "nameserver 127.0.0.1\nsearch "
    .. (world.search or "corp.test") .. "\noptions ndots:"
    .. (world.ndots or 1) .. " " .. options .. "\n")
  T.writefile(d .. "/code.lua", code)
  local script = table.concat({
    "ip link set lo up || exit 90",
    world.setup or ":",
    "mount --bind " .. d .. "/hosts /etc/hosts || exit 91",
    "mount --bind " .. d .. "/resolv.conf /etc/resolv.conf || exit 92",
    table.concat(servers(world, d .. "/dns.log"), "\n"),
    "  i=$((i+1)); [ $i -lt 400 ] || exit 93; sleep 0.05; done",
    world.jobs and table.concat((function()
      local run, wait = {}, {}
      for k = 1, world.jobs do
        run[k] = T.hostcmd() .. " " .. d .. "/code.lua " .. k .. " >" .. d
          .. "/out" .. k .. " & J" .. k .. "=$!"
        wait[k] = "wait $J" .. k .. " || exit 95; cat " .. d .. "/out" .. k
      end
      return { table.concat(run, "\n"), table.concat(wait, "\n") }
    end)(), "\n")
      or T.hostcmd() .. " " .. d .. "/code.lua",
  }, "\n")
  local r = T.run("unshare -m -n sh -c " .. T.shquote(script))
  assert(r.code == 0, "exit " .. tostring(r.code) .. ": " .. (r.err or "")
    .. (T.slurp(d .. "/dns.log") or ""))
  assert(r.err == "", r.err)  -- no task failed
  return r.out
end

-- Lua for the host: show(list) prints a getaddrinfo or resolve result
local SHOW = [[
local net = require "netbasics"
local function show(t, err, code)
  if not t then return "nil|" .. err .. "|" .. code end
  local o = {}
  for _, a in ipairs(t) do
    o[#o + 1] = type(a) == "table" and (a.family .. " " .. a.host .. " "
      .. a.port) or a
  end
  return table.concat(o, ",")
end
]]

-- Lua for the host: each of `names` asked outside a task, then in one;
-- prints "name|system's||task's" for net.getaddrinfo, then net.resolve
local function both_ways(names)
  return SHOW .. [[
for _, name in ipairs({ ]] .. "'" .. table.concat(names, "', '") .. "'"
    .. [[ }) do
  local sys_a = show(net.getaddrinfo(name, 80))
  local sys_r = show(net.resolve(name))
  local task_a, task_r
  net.spawn(function()
    assert(net.current())
    task_a = show(net.getaddrinfo(name, 80))
    task_r = show(net.resolve(name))
  end)
  net.run()
  print(name .. "|" .. sys_a .. "||" .. task_a)
  print(name .. "|" .. sys_r .. "||" .. task_r)
end
]]
end

describe("names in tasks", function()
  if not root then
    it("needs root to make mount and network namespaces", function()
      T.need_root("gai_spec")
    end)
    return
  end

  it("give what the system gives: hosts file first, then DNS with the "
    .. "search list; the same codes for NXDOMAIN, no data, SERVFAIL and a "
    .. "timeout", function()
      local names = { "localhost", "hostsonly.test", "dual.test", "short",
        "peer.test", "both.test", "nosuch.test", "txtonly.test",
        "servfail.bad.test", "silent.bad.test" }
      local out = in_world("timeout:1 attempts:1", both_ways(names))
      local seen = {}
      for line in out:gmatch("[^\n]+") do
        local name, sys, task = line:match("^([^|]*)|(.*)||(.*)$")
        assert.equal(sys, task, line)  -- a task sees what the system sees
        seen[#seen + 1] = name .. "|" .. sys
      end
      assert.same({
        "localhost|inet6 ::1 80,inet 127.0.0.1 80",
        "localhost|::1,127.0.0.1",
        "hostsonly.test|inet 127.0.0.5 80",
        "hostsonly.test|127.0.0.5",
        "dual.test|inet 127.0.0.6 80",  -- the hosts file wins
        "dual.test|127.0.0.6",
        "short|inet 127.0.0.7 80",      -- short.corp.test, by the search list
        "short|127.0.0.7",
        "peer.test|inet 127.0.0.1 80",
        "peer.test|127.0.0.1",
        "both.test|inet6 ::1 80,inet 127.0.0.8 80",
        "both.test|::1,127.0.0.8",
        "nosuch.test|nil|nosuch.test: name not found|nxdomain",
        "nosuch.test|nil|resolve nosuch.test: Name or service not known|"
          .. "nxdomain",
        "txtonly.test|nil|txtonly.test: name not found|nxdomain",
        "txtonly.test|nil|resolve txtonly.test: No address associated with "
          .. "hostname|nodata",
        "servfail.bad.test|nil|servfail.bad.test: temporary failure in name "
          .. "resolution|timeout",
        "servfail.bad.test|nil|resolve servfail.bad.test: Temporary failure "
          .. "in name resolution|timeout",
        "silent.bad.test|nil|silent.bad.test: temporary failure in name "
          .. "resolution|timeout",
        "silent.bad.test|nil|resolve silent.bad.test: Temporary failure in "
          .. "name resolution|timeout",
      }, seen)
    end)

  -- searchdns.py answers each name of the search list "s1.test s2.test"
  -- as the name spells it: h-AB-C is A for h-AB-C.s1.test, B for
  -- h-AB-C.s2.test, C for the name as given (o an address 192.0.2.1, .2
  -- or .9, d NODATA, x NXDOMAIN, s SERVFAIL, r REFUSED, q silence). Each
  -- case: the name, then what net.getaddrinfo and net.resolve give, the
  -- same in a task and outside one: an address or a failure's code.
  local SEARCH_NDOTS1 = {
    -- every pair of answers for the two suffixes, the name as given NXDOMAIN
    { "h-oo-x", "192.0.2.1", "192.0.2.1" },
    { "h-od-x", "192.0.2.1", "192.0.2.1" },
    { "h-ox-x", "192.0.2.1", "192.0.2.1" },
    { "h-os-x", "192.0.2.1", "192.0.2.1" },
    { "h-or-x", "192.0.2.1", "192.0.2.1" },
    { "h-oq-x", "192.0.2.1", "192.0.2.1" },
    { "h-do-x", "192.0.2.2", "192.0.2.2" },
    { "h-dd-x", "nxdomain", "nodata" },
    { "h-dx-x", "nxdomain", "nodata" },
    { "h-ds-x", "nxdomain", "nodata" },
    { "h-dr-x", "nxdomain", "nodata" },  -- c-ares' own walk: timeout
    { "h-dq-x", "nxdomain", "nodata" },
    { "h-xo-x", "192.0.2.2", "192.0.2.2" },
    { "h-xd-x", "nxdomain", "nodata" },
    { "h-xx-x", "nxdomain", "nxdomain" },
    { "h-xs-x", "timeout", "timeout" },
    { "h-xr-x", "nxdomain", "nxdomain" },
    { "h-xq-x", "nxdomain", "nxdomain" },
    { "h-so-x", "192.0.2.2", "192.0.2.2" },
    { "h-sd-x", "nxdomain", "nodata" },
    { "h-sx-x", "timeout", "timeout" },
    { "h-ss-x", "timeout", "timeout" },
    { "h-sr-x", "timeout", "timeout" },
    { "h-sq-x", "timeout", "timeout" },
    -- REFUSED or silence stops the suffixes; the name as given is asked
    { "h-ro-x", "nxdomain", "nxdomain" },
    { "h-rd-x", "nxdomain", "nxdomain" },
    { "h-rx-x", "nxdomain", "nxdomain" },
    { "h-rs-x", "nxdomain", "nxdomain" },
    { "h-rr-x", "nxdomain", "nxdomain" },
    { "h-rq-x", "nxdomain", "nxdomain" },
    { "h-qo-x", "nxdomain", "nxdomain" },
    { "h-qd-x", "nxdomain", "nxdomain" },
    { "h-qx-x", "nxdomain", "nxdomain" },
    { "h-qs-x", "nxdomain", "nxdomain" },
    { "h-qr-x", "nxdomain", "nxdomain" },
    { "h-qq-x", "nxdomain", "nxdomain" },
    -- the name as given, asked last, answers each way
    { "h-dr-o", "192.0.2.9", "192.0.2.9" },
    { "h-dr-d", "nxdomain", "nodata" },
    { "h-dr-s", "nxdomain", "nodata" },
    { "h-dr-r", "nxdomain", "nodata" },
    { "h-dr-q", "nxdomain", "nodata" },
    { "h-xx-o", "192.0.2.9", "192.0.2.9" },
    { "h-xx-d", "nxdomain", "nodata" },
    { "h-xx-s", "timeout", "timeout" },
    { "h-xx-r", "timeout", "timeout" },
    { "h-xx-q", "timeout", "timeout" },
    { "h-sx-o", "192.0.2.9", "192.0.2.9" },
    { "h-sx-d", "timeout", "timeout" },  -- SERVFAIL beats a last NODATA
    { "h-sx-r", "timeout", "timeout" },
    { "h-sx-q", "timeout", "timeout" },
    { "h-rx-o", "192.0.2.9", "192.0.2.9" },
    { "h-rx-d", "nxdomain", "nodata" },
    { "h-rx-s", "timeout", "timeout" },
    { "h-rx-q", "timeout", "timeout" },
    { "h-qx-o", "192.0.2.9", "192.0.2.9" },
    { "h-qx-d", "nxdomain", "nodata" },
    -- a name with a dot (ndots 1): as given first, its answer wins
    { "h-oo-x.w", "192.0.2.1", "192.0.2.1" },
    { "h-oo-d.w", "192.0.2.1", "192.0.2.1" },
    { "h-oo-o.w", "192.0.2.9", "192.0.2.9" },
    { "h-do-s.w", "192.0.2.2", "192.0.2.2" },
    { "h-dx-x.w", "nxdomain", "nxdomain" },
    { "h-xd-x.w", "nxdomain", "nxdomain" },
    { "h-xx-d.w", "nxdomain", "nodata" },
    { "h-dd-s.w", "timeout", "timeout" },
    { "h-dr-r.w", "timeout", "timeout" },
    { "h-dq-q.w", "timeout", "timeout" },
    { "h-sd-x.w", "nxdomain", "nxdomain" },
    { "h-rd-d.w", "nxdomain", "nodata" },
    -- a final dot: only the name as given
    { "h-oo-x.", "nxdomain", "nxdomain" },
    { "h-oo-o.", "192.0.2.9", "192.0.2.9" },
    { "h-oo-d.", "nxdomain", "nodata" },
    { "h-oo-r.", "timeout", "timeout" },
  }
  local SEARCH_NDOTS2 = {
    -- one dot, ndots 2: the suffixes first, the name as given last
    { "h-oo-o.w", "192.0.2.1", "192.0.2.1" },
    { "h-do-o.w", "192.0.2.2", "192.0.2.2" },
    { "h-dr-o.w", "192.0.2.9", "192.0.2.9" },
    { "h-dr-x.w", "nxdomain", "nodata" },
    { "h-rd-x.w", "nxdomain", "nxdomain" },
    { "h-sx-x.w", "timeout", "timeout" },
    { "h-xx-d.w", "nxdomain", "nodata" },
  }

  -- the cases in a world with the search list and `ndots`, four hosts at
  -- once; each case is asked outside a task, then in one
  local function search_cases(cases, ndots)
    local names = {}
    for i, c in ipairs(cases) do names[i] = c[1] end
    local out = in_world("timeout:1 attempts:1", SHOW .. [[
local k, names = tonumber(arg[1]), { ]] .. "'" .. table.concat(names, "', '")
      .. "'" .. [[ }
local function short(t, err, code)
  if not t then return code end
  return type(t[1]) == "table" and t[1].host or t[1]
end
local mine = {}
for i = k, #names, 4 do mine[#mine + 1] = names[i] end
local sys, task = {}, {}
for i, name in ipairs(mine) do
  local a = { net.getaddrinfo(name, 80) }
  local r = { net.resolve(name) }
  sys[i] = show(table.unpack(a, 1, 3)) .. "|" .. show(table.unpack(r, 1, 3))
    .. "|" .. short(table.unpack(a, 1, 3)) .. "|"
    .. short(table.unpack(r, 1, 3))
end
for i, name in ipairs(mine) do  -- all at once, in tasks
  net.spawn(function()
    assert(net.current())
    local a = { net.getaddrinfo(name, 80) }
    local r = { net.resolve(name) }
    task[i] = show(table.unpack(a, 1, 3)) .. "|"
      .. show(table.unpack(r, 1, 3)) .. "|" .. short(table.unpack(a, 1, 3))
      .. "|" .. short(table.unpack(r, 1, 3))
  end)
end
net.run()
for i, name in ipairs(mine) do print(name .. "||" .. sys[i] .. "||" .. task[i]) end
]], { dns = "search", search = "s1.test s2.test", ndots = ndots,
      jobs = 4 })
    local got = {}
    for line in out:gmatch("[^\n]+") do
      local name, sys, task = line:match("^(.-)||(.*)||(.*)$")
      assert.equal(sys, task, line)  -- a task sees what the system sees
      local a, r = sys:match("|([^|]*)|([^|]*)$")
      got[name] = name .. " " .. a .. " " .. r
    end
    local want, seen = {}, {}
    for i, c in ipairs(cases) do
      want[i] = table.concat(c, " ")
      seen[i] = got[c[1]] or (c[1] .. " not asked")
    end
    assert.same(want, seen)
  end

  it("walk the search list as the system does, with ndots 1: every "
    .. "answer of each suffix, then of the name as given", function()
      search_cases(SEARCH_NDOTS1, 1)
    end)

  it("walk the search list as the system does, with ndots 2", function()
    search_cases(SEARCH_NDOTS2, 2)
  end)

  it("order a name's addresses as the system does (IPv6 above IPv4 when "
    .. "neither can be reached; a reachable source first)", function()
      local hosts = HOSTS .. table.concat({
        "10.9.9.8 both.example", "fd00::8 both.example",
        "10.9.9.8 v4first.example", "2001:db8::8 v4first.example",
        "127.0.0.9 loop.example", "::1 loop.example",
        "fd00::9 loop.example", "10.2.2.2 loop.example",
        "10.8.8.8 near.example", "fc00:1::5 near.example",
        "2001:db8:1::5 near.example", "10.7.0.1 near.example",
        "127.0.0.2 near.example", "::1 near.example",
        "2001:db8:9::1 far.example", "2001:db8:1::9 far.example",
        "10.7.200.9 far.example", "10.99.0.9 far.example",
        "10.7.0.9 far.example", "2001:db8:99::1 far.example",
        "2001:db8:1:0:8000::1 far.example", "", }, "\n")
      local names = { "both.example", "v4first.example", "loop.example",
        "near.example", "far.example" }
      local code = both_ways(names)
      -- first with only loopback, then with sources for some of them
      local outs = { in_world("timeout:1 attempts:1", code, { hosts = hosts }),
        in_world("timeout:1 attempts:1", code, { hosts = hosts, setup =
          "ip addr add 10.7.0.2/16 dev lo && ip addr add fc00:1::1/64 dev lo"
          .. " && ip addr add 2001:db8:1::1/64 dev lo"
          .. " && ip route add 10.99.0.0/16 dev lo src 10.7.0.2"
          .. " && ip -6 route add 2001:db8:99::/48 dev lo || exit 94" }) }
      local seen = {}
      for _, out in ipairs(outs) do
        for line in out:gmatch("[^\n]+") do
          local name, sys, task = line:match("^([^|]*)|(.*)||(.*)$")
          assert.equal(sys, task, line)
          if not sys:find(" ") then seen[#seen + 1] = name .. "|" .. sys end
        end
      end
      assert.same({
        -- only loopback can be reached: precedence, then the file's order
        "both.example|fd00::8,10.9.9.8",
        "v4first.example|2001:db8::8,10.9.9.8",
        "loop.example|::1,127.0.0.9,fd00::9,10.2.2.2",
        "near.example|::1,127.0.0.2,fc00:1::5,2001:db8:1::5,10.8.8.8,"
          .. "10.7.0.1",
        "far.example|2001:db8:9::1,2001:db8:1::9,2001:db8:99::1,"
          .. "2001:db8:1:0:8000::1,10.7.200.9,10.99.0.9,10.7.0.9",
        -- with sources: reachable first, then the longest matching prefix
        "both.example|fd00::8,10.9.9.8",
        "v4first.example|2001:db8::8,10.9.9.8",
        "loop.example|::1,127.0.0.9,fd00::9,10.2.2.2",
        "near.example|::1,fc00:1::5,2001:db8:1::5,127.0.0.2,10.7.0.1,"
          .. "10.8.8.8",
        "far.example|2001:db8:1::9,2001:db8:1:0:8000::1,2001:db8:99::1,"
          .. "10.7.0.9,10.7.200.9,10.99.0.9,2001:db8:9::1",
      }, seen)
    end)

  it("never hold the other tasks: 50 connect by name while one lookup "
    .. "waits 5 s for a silent server", function()
      local out = in_world("timeout:5 attempts:1", [[
local net = require "netbasics"
io.stdout:setvbuf("line")
local l = assert(net.listen("127.0.0.1", 0))
local _, port = l:getsockname()
local order = {}
net.spawn(function()
  while true do
    local c = l:accept()
    if not c then return end
    net.spawn(function(s)
      for line in s:lines() do s:write(line, "\n") end
      s:close()
    end, c)
  end
end)
-- the slow one first: it is waiting on the loop before the others start
local slow = net.spawn(function()
  local a, err, code = net.getaddrinfo("silent.bad.test", 80)
  order[#order + 1] = "slow " .. tostring(code)
end)
local clients = {}
for i = 1, 50 do
  clients[i] = net.spawn(function()
    local c <close> = assert(net.connect("peer.test", port, 10))
    assert(c:sendall("hello " .. i .. "\n"))
    assert(c:recvline() == "hello " .. i)
    order[#order + 1] = "fast"
  end)
end
net.spawn(function()
  slow:join()
  for i = 1, 50 do clients[i]:join() end
  l:close()
end)
net.run()
print(table.concat(order, ","))
]])
      local want = {}
      for i = 1, 50 do want[i] = "fast" end
      want[51] = "slow timeout"
      assert.equal(table.concat(want, ",") .. "\n", out)
    end)

  it("end at net.deadline, the call's timeout or a cancel, with the other "
    .. "tasks going on", function()
      local out = in_world("timeout:5 attempts:1", SHOW .. [[
io.stdout:setvbuf("line")
local order = {}
net.spawn(function()
  local r = { net.deadline(0.2, net.resolve, "silent.bad.test") }
  order[#order + 1] = "deadline " .. show(table.unpack(r, 1, 3))
end)
net.spawn(function()
  local r = { net.getaddrinfo("silent.bad.test", 80, "stream", false, 0.3) }
  order[#order + 1] = "timeout " .. show(table.unpack(r, 1, 3))
end)
net.spawn(function()
  order[#order + 1] = "quick " .. show(net.resolve("peer.test"))
end)
-- a task cancelled while its lookup waits: the lookup goes with it
local doomed = net.spawn(function()
  net.resolve("silent.bad.test")
  order[#order + 1] = "never"
end)
net.spawn(function()
  net.sleep(0.05)
  doomed:cancel()
  collectgarbage()
  collectgarbage()
  -- net.listen by name, in a task
  local l <close> = assert(net.listen("hostsonly.test", 0))
  order[#order + 1] = "listen " .. l:getsockname()
end)
net.run()
print(table.concat(order, "\n"))
]])
      assert.equal("quick 127.0.0.1\n"
        .. "listen 127.0.0.5\n"
        .. "deadline nil|resolve silent.bad.test: timed out|timeout\n"
        .. "timeout nil|silent.bad.test: timed out|timeout\n", out)
    end)

  it("outside a task, ask the system within the call's timeout", function()
    -- the system's resolver would wait 30 s: "timed out" is our bound,
    -- glibc's own words would be "temporary failure in name resolution"
    local out = in_world("timeout:30 attempts:1", SHOW .. [[
assert(not net.current())
print(show(net.getaddrinfo("silent.bad.test", 80, "stream", false, 0.5)))
print(show(net.connect("silent.bad.test", 80, 0.5)))
print(show(net.getaddrinfo("peer.test", 80, "stream", false, 5)))
]])
    assert.equal("nil|silent.bad.test: timed out|timeout\n"
      .. "nil|silent.bad.test: timed out|timeout\n"
      .. "inet 127.0.0.1 80\n", out)
  end)
end)
