-- scripts/bench/resolve.lua: net.lookup beside dig (C, BIND's client: the
-- reference), both asking a dnsmasq on loopback for the seed's name (A
-- records only) N times. dig runs its N questions in one process
-- (dig -f), so the rate is per question, start-up included for both.
-- LuaSocket and Python's standard library have no client that asks a
-- given server (they go through the system resolver), so they are not
-- in this row. Rows: see lib.lua.
-- bench-estimate: 20 5
local B = dofile "scripts/bench/lib.lua"
local T = B.T
local net = require "netbasics"

local N = B.n(300, 100)

B.main(function()
  local dir = T.tmpdir()
  B.finally(function() T.rmtree(dir) end)
  -- dnsmasq binds TCP and UDP on its port: a free UDP port may be taken
  -- for TCP, so a new port is tried when it does not answer
  local port, server, dns, err
  for _ = 1, 3 do
    port = T.free_port("udp")
    server = "127.0.0.1:" .. port
    dns = B.server(B.pin("server") .. ("dnsmasq --keep-in-foreground "
      .. "--conf-file=/dev/null --pid-file= --log-facility=- "
      .. "--bind-interfaces --listen-address=127.0.0.1 --port=%d --no-resolv "
      .. "--no-hosts --local=/securitystandard.org/ "
      .. "--cname=gnomon.securitystandard.org,hermes.securitystandard.org "
      .. "--host-record=hermes.securitystandard.org,185.172.165.184"):format(port))
    local ok = T.until_true(function()
      return net.lookup("gnomon.securitystandard.org",
        { server = server, type = "A", timeout = 1 })
        or not dns:alive()
    end, 10)
    if ok and dns:alive() then break end
    err = dns:err()
    dns:stop()
    dns = nil
  end
  assert(dns, "dnsmasq did not answer: " .. tostring(err))
  B.finally(function() dns:stop() end)
  local qfile = dir .. "/q"
  T.writefile(qfile, ("gnomon.securitystandard.org A\n"):rep(N))
  local script = dir .. "/nb.lua"
  T.writefile(script, ([[
local net = require "netbasics"
for _ = 1, %d do
  assert(net.lookup("gnomon.securitystandard.org",
    { server = %q, type = "A" }))
end]]):format(N, server))
  B.workload { id = "lookup", title = "name lookups/s (dnsmasq on loopback)",
    unit = "lookups/s", better = "higher", ref = "dig (C)",
    note = ("%d A lookups in one process each (dig -f, the netbasics "
      .. "host), start-up included"):format(N) }
  local cli = B.pin("client")
  B.rounds("lookup", B.n(5, 3), { "dig (C)", "netbasics" }, function(impl)
    local t0 = B.now()
    if impl == "netbasics" then
      B.sh(cli .. T.host .. " " .. script)
    else
      B.sh(("%sdig -p %d @127.0.0.1 +short -f %s >/dev/null"):format(cli,
        port, qfile))
    end
    return N / (B.now() - t0)
  end)
end)
