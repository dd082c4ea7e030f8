-- scripts/bench/octet.lua: endpoint validation calls per second from Lua
-- (net.isipandport, on good and on mixed input) and net.ip_to_int, beside
--   C          the same plain-C parsers with no Lua in between
--              (build/bench/validate-ref, from validate-ref.c)
--   pure Lua   a straightforward Lua version, just as strict (target: at
--              least 5x its speed)
--   Python 3   ipaddress.IPv4Address and int(port), as a Python user
--              writes it
-- Each implementation runs in its own process on one CPU (taskset), in
-- interleaved rounds. Rows: see lib.lua.
-- Called as `peer IMPL SET FILE ROUNDS` it is one timed Lua process.
-- bench-estimate: 40 6
local B = dofile "scripts/bench/lib.lua"
local net = require "netbasics"

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


-- one timed process: nanoseconds per call
if arg[1] == "peer" then
  local impl, set, file, rounds = arg[2], arg[3], arg[4], tonumber(arg[5])
  local inputs = {}
  for l in io.lines(file) do inputs[#inputs + 1] = l end
  local f
  if set == "ip_to_int" then
    f = impl == "netbasics" and net.ip_to_int or lua_ip_to_int
  else
    f = impl == "netbasics" and net.isipandport or lua_isipandport
  end
  for i = 1, #inputs do f(inputs[i]) end  -- warm
  local t0 = os.clock()
  for _ = 1, rounds do
    for i = 1, #inputs do f(inputs[i]) end
  end
  print(("%.3f"):format((os.clock() - t0) / (rounds * #inputs) * 1e9))
  return
end

local PY = [[
import ipaddress, sys, time
mode, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
inputs = [l.rstrip("\n") for l in open(path)]
def endpoint(s):
    ip, sep, port = s.rpartition(":")
    if not sep:
        return False
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    if not port.isdigit() or not port.isascii():
        return False
    return 0 < int(port) <= 65535
def ip_to_int(s):
    try:
        return int(ipaddress.IPv4Address(s))
    except ValueError:
        return None
f = ip_to_int if mode == "ip_to_int" else endpoint
t = time.process_time()
for _ in range(rounds):
    for s in inputs:
        f(s)
print((time.process_time() - t) / (rounds * len(inputs)) * 1e9)
]]

B.main(function()
  local ref = B.cc("validate-ref", "csrc/validate.c csrc/common.c -Icsrc "
    .. B.sh("pkg-config --cflags --libs lua5.4"):gsub("\n", " "))
  local dir = B.T.tmpdir()
  B.finally(function() B.T.rmtree(dir) end)
  B.T.writefile(dir .. "/py.py", PY)
  local sets = { good = good, mixed = mixed, ip_to_int = ips }
  for name, set in pairs(sets) do
    B.T.writefile(dir .. "/" .. name, table.concat(set, "\n") .. "\n")
  end
  local pin = B.pin("solo")
  -- passes over the 1000 inputs per run: about 0.2 s each for netbasics
  local passes = { C = B.n(2000, 300), netbasics = B.n(300, 50),
                   ["pure Lua"] = B.n(60, 10), ["Python 3 ipaddress"] = B.n(8, 2) }
  local function one(set)
    return function(impl)
      local file = dir .. "/" .. set
      local cmd
      if impl == "C" then
        cmd = ("%s%s %s %s %d"):format(pin, ref,
          set == "ip_to_int" and "ip_to_int" or "endpoint", file, passes.C)
      elseif impl == "Python 3 ipaddress" then
        cmd = ("%s%s %s/py.py %s %s %d"):format(pin, B.python, dir, set, file,
          passes[impl])
      else
        cmd = ("%slua5.4 scripts/bench/octet.lua peer %s %s %s %d"):format(
          pin, impl == "netbasics" and "netbasics" or "lua", set, file,
          passes[impl])
      end
      return 1e9 / tonumber(B.sh(cmd))
    end
  end
  local impls = { "C", "netbasics", "pure Lua", "Python 3 ipaddress" }
  local titles = {
    mixed = "isipandport calls/s (mixed input)",
    good = "isipandport calls/s (good input)",
    ip_to_int = "ip_to_int calls/s",
  }
  for _, set in ipairs { "mixed", "good", "ip_to_int" } do
    local id = "validate-" .. set
    B.workload { id = id, title = titles[set], unit = "calls/s",
      better = "higher", ref = "C", placement = B.where("solo"),
      note = "target: netbasics at least 5x pure Lua" }
    local got = B.rounds(id, B.n(5, 3), impls, one(set))
    local n, l = B.median(got.netbasics or { 0 }), B.median(got["pure Lua"] or { 1 })
    B.note(id, ("netbasics / pure Lua: %.1fx (target 5x: %s)"):format(n / l,
      n / l >= 5 and "met" or "NOT met"))
  end
end)
