-- scripts/bench/octet.lua: net.isipandport and net.ip_to_int against
-- straightforward pure-Lua versions of the same checks, timed in the
-- same run (median of several runs). Target: at least 5x.
--   lua5.4 scripts/bench/octet.lua [rounds]
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local net = require "netbasics"

local ROUNDS = tonumber(arg and arg[1]) or 200
local RUNS = 7

-- the references: what one would write in plain Lua, just as strict
local function octet_ok(o)
  return #o <= 3 and (#o == 1 or o:byte(1) ~= 48) and tonumber(o) <= 255
end

local function lua_isipandport(s)
  if s == nil or s == "" then return false, "empty" end
  s = tostring(s)
  local ip, port = s:match("^([^:]*):([^:]*)$")
  local a, b, c, d
  if ip then a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") end
  if not a or not (octet_ok(a) and octet_ok(b) and octet_ok(c)
      and octet_ok(d)) or not port:match("^%d+$") then
    return false, "malformed socket in " .. s
  end
  local p = tonumber(port)
  if p == 0 or p > 65535 then return false, "port out of range in " .. s end
  if p < 7 then return true, "port out of range in " .. s end
  return true
end

local function lua_ip_to_int(ip)
  local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a or not (octet_ok(a) and octet_ok(b) and octet_ok(c)
      and octet_ok(d)) then
    return nil, ('"%s" is not an IPv4 address'):format(ip), "malformed"
  end
  return tonumber(a) << 24 | tonumber(b) << 16 | tonumber(c) << 8
      | tonumber(d)
end

-- inputs made before timing: mostly good, some malformed, as users type
math.randomseed(1)
local good, mixed, ips = {}, {}, {}
for i = 1, 1000 do
  local ip = ("%d.%d.%d.%d"):format(math.random(0, 255), math.random(0, 255),
    math.random(0, 255), math.random(0, 255))
  ips[i] = ip
  good[i] = ip .. ":" .. math.random(7, 65535)
  local r = i % 10
  mixed[i] = r == 0 and ip or r == 1 and ip .. ":99999" or r == 2
      and "01" .. ip .. ":80" or good[i]
end

-- the references must give the same answers
for _, set in ipairs { good, mixed } do
  for _, s in ipairs(set) do
    local a1, b1 = net.isipandport(s)
    local a2, b2 = lua_isipandport(s)
    assert(a1 == a2 and b1 == b2, s)
  end
end
for _, ip in ipairs(ips) do assert(net.ip_to_int(ip) == lua_ip_to_int(ip)) end

local function time(f, inputs)
  local best = {}
  for r = 1, RUNS do
    local t0 = os.clock()
    for _ = 1, ROUNDS do
      for i = 1, #inputs do f(inputs[i]) end
    end
    best[r] = os.clock() - t0
  end
  table.sort(best)
  return best[(RUNS + 1) // 2]
end

local function compare(name, cfun, lfun, inputs)
  local calls = ROUNDS * #inputs
  local tc, tl = time(cfun, inputs), time(lfun, inputs)
  print(("%-28s netbasics %6.1f ns/call   pure Lua %6.1f ns/call   %5.1fx")
    :format(name, tc / calls * 1e9, tl / calls * 1e9, tl / tc))
  return tl / tc
end

local r1 = compare("isipandport (good)", net.isipandport, lua_isipandport, good)
local r2 = compare("isipandport (mixed)", net.isipandport, lua_isipandport, mixed)
local r3 = compare("ip_to_int", net.ip_to_int, lua_ip_to_int, ips)
local worst = math.min(r1, r2, r3)
print(("target 5x: %s (worst %.1fx)"):format(worst >= 5 and "met" or "NOT met",
  worst))
