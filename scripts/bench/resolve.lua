-- resolve: net.lookup against dig, both asking a dnsmasq on loopback for
-- the seed's name (A records only) N times. dig runs its N questions in
-- one process (dig -f), so the ratio is per question. Median of 5 runs.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local net = require "netbasics"

local N, RUNS = 300, 5

local function now()
  local p = io.popen("date +%s%N")
  local t = tonumber(p:read("l")) / 1e9
  p:close()
  return t
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local port
do
  local p = io.popen([[python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
  port = tonumber(p:read("l"))
  p:close()
end
local pidfile = os.tmpname()
os.execute(string.format("dnsmasq --conf-file=/dev/null --pid-file=%s "
  .. "--log-facility=/dev/null --bind-interfaces --listen-address=127.0.0.1 "
  .. "--port=%d --no-resolv --no-hosts --local=/securitystandard.org/ "
  .. "--cname=gnomon.securitystandard.org,hermes.securitystandard.org "
  .. "--host-record=hermes.securitystandard.org,185.172.165.184", pidfile, port))
local server = "127.0.0.1:" .. port
local ok
for _ = 1, 100 do
  ok = net.lookup("gnomon.securitystandard.org", { server = server, type = "A" })
  if ok then break end
  os.execute("sleep 0.05")
end
local function stop()
  local f = io.open(pidfile)
  local pid = f and tonumber(f:read("l"))
  if f then f:close() end
  if pid then os.execute("kill " .. pid) end
  os.remove(pidfile)
end
if not ok then stop(); error("dnsmasq did not answer") end

local qfile = os.tmpname()
local f = assert(io.open(qfile, "w"))
for _ = 1, N do f:write("gnomon.securitystandard.org A\n") end
f:close()

local ours, theirs = {}, {}
for _ = 1, RUNS do
  local t0 = now()
  for _ = 1, N do
    assert(net.lookup("gnomon.securitystandard.org",
      { server = server, type = "A" }))
  end
  ours[#ours + 1] = now() - t0
  t0 = now()
  os.execute(string.format("dig -p %d @127.0.0.1 +short -f %s >/dev/null",
    port, qfile))
  theirs[#theirs + 1] = now() - t0
end
stop()
os.remove(qfile)
local a, b = median(ours), median(theirs)
print(string.format("net.lookup x%d: %.1f ms, dig -f x%d: %.1f ms, "
  .. "ratio %.2f (below 1: faster than dig)", N, a * 1000, N, b * 1000, a / b))
