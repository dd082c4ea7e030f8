-- Differential checks against python3's ipaddress: many generated
-- strings (valid, near-valid, garbage), one python3 run, every answer
-- compared: isip (either family, "inet", "inet6"), normalize_ip, and
-- cidr (strict and not) with network, broadcast, netmask, prefix,
-- size, first, last and contains.
--
-- Known, intended differences, mapped here before comparing:
-- - a zone id ("fe80::1%eth0"): python3 accepts it since 3.9; for
--   netbasics it is malformed (see docs/api/validate.md);
-- - IPv4-mapped IPv6 text: netbasics writes "::ffff:1.2.3.4" (RFC 5952
--   section 5, as python 3.13 does); python 3.11 writes "::ffff:102:304".
local T = require "nbtest"
local net = require "netbasics"

local N_ADDR = 12000   -- strings for isip and normalize_ip
local N_CIDR = 6000    -- strings for cidr (each with three contains probes)

-- a fixed seed: the same strings on every run, so a failure repeats
local rnd = math.random
math.randomseed(20240601)

local function pick(t) return t[rnd(#t)] end

local function octet()
  local r = rnd(10)
  if r == 1 then return 0 elseif r == 2 then return 255 end
  if r <= 4 then return rnd(0, 9) end
  return rnd(0, 255)
end

local function v4()
  return ("%d.%d.%d.%d"):format(octet(), octet(), octet(), octet())
end

local function group()
  local r = rnd(6)
  if r <= 2 then return 0 elseif r == 3 then return 0xffff end
  if r == 4 then return rnd(0, 15) end
  return rnd(0, 0xffff)
end

-- an IPv6 address in one of its many valid spellings
local function v6()
  local g = {}
  for i = 1, 8 do g[i] = group() end
  if rnd(8) == 1 then                       -- IPv4-mapped
    for i = 1, 5 do g[i] = 0 end
    g[6] = 0xffff
  end
  local mixed = rnd(6) == 1
  local n = mixed and 6 or 8
  local parts = {}
  local upper, pad = rnd(4) == 1, rnd(4) == 1
  local f = pad and "%04x" or "%x"
  if upper then f = f:upper() end
  for i = 1, n do parts[i] = f:format(g[i]) end
  -- "::" over a random run of zero groups, sometimes
  if rnd(3) > 1 then
    local runs = {}
    local i = 1
    while i <= n do
      if g[i] == 0 then
        local j = i
        while j + 1 <= n and g[j + 1] == 0 do j = j + 1 end
        runs[#runs + 1] = { i, j }
        i = j + 1
      else
        i = i + 1
      end
    end
    if #runs > 0 then
      local r = pick(runs)
      local a, b = r[1], rnd(r[1], r[2])
      local head = table.concat(parts, ":", 1, a - 1)
      local tail = table.concat(parts, ":", b + 1, n)
      if mixed then
        local quad = v4()
        tail = tail == "" and quad or tail .. ":" .. quad
      end
      return head .. "::" .. tail
    end
  end
  local s = table.concat(parts, ":")
  if mixed then s = s .. ":" .. v4() end
  return s
end

local ALPHABET = {
  "0", "1", "2", "9", "a", "f", "F", "g", "x", ".", ":", "::", "%", "/", " ",
  "-", "+", "[", "]", "\0", "\t", "\u{FF11}", "0", "1", ".", ":",
}

local function garbage()
  local t = {}
  for i = 1, rnd(0, 20) do t[i] = pick(ALPHABET) end
  return table.concat(t)
end

-- a near-valid string: one small change to a valid one
local function mutate(s)
  local op = rnd(12)
  local p = rnd(1, #s + 1)
  if op == 1 then return s:sub(1, p - 1) .. pick(ALPHABET) .. s:sub(p) end
  if op == 2 then return s:sub(1, p - 1) .. s:sub(p + 1) end
  if op == 3 then return s:sub(1, p - 1) .. pick(ALPHABET) .. s:sub(p + 1) end
  if op == 4 then return (s:gsub("(%f[%w]%d)", "0%1", 1)) end -- leading zero
  if op == 5 then                                               -- too big
    return (s:gsub("%d+", function(d) return tostring(tonumber(d) + 256) end,
      1))
  end
  if op == 6 then return s .. pick { ".", ":", ".1", ":1", "%eth0", "%1" } end
  if op == 7 then return pick { " ", ":", ".", "0" } .. s end
  if op == 8 then return s:sub(1, rnd(0, #s)) end
  if op == 9 then return s .. pick { "::", ":0:0", ".0.0" } end
  if op == 10 then return (s:gsub("::", ":", 1)) end
  if op == 11 then return (s:gsub("%.", ":", 1)) end
  return s:upper()
end

local function address_string()
  local r = rnd(10)
  if r <= 3 then return v4() end
  if r <= 6 then return v6() end
  if r <= 9 then return mutate(rnd(2) == 1 and v4() or v6()) end
  return garbage()
end

local function v4mask(prefix, host)
  local m = prefix == 0 and 0 or (0xffffffff << (32 - prefix)) & 0xffffffff
  if host then m = ~m & 0xffffffff end
  return net.int_to_ip(m)
end

local function cidr_string()
  local six = rnd(3) == 1
  local addr = six and v6() or v4()
  local max = six and 128 or 32
  local prefix = rnd(4) == 1 and rnd(0, max) or rnd(max - 12, max)
  if rnd(2) == 1 then                   -- clear the host bits, mostly
    local c = net.cidr(addr .. "/" .. prefix, false)
    if c then addr = c.network end
  end
  local r = rnd(20)
  local s
  if r == 1 then s = addr
  elseif r == 2 and not six then s = addr .. "/" .. v4mask(prefix)
  elseif r == 3 and not six then s = addr .. "/" .. v4mask(prefix, true)
  elseif r == 4 then s = addr .. "/0" .. prefix
  elseif r == 5 then s = addr .. "/" .. (max + rnd(1, 100))
  elseif r == 6 and not six then s = addr .. "/" .. v4()
  elseif r <= 8 then s = mutate(addr .. "/" .. prefix)
  else s = addr .. "/" .. prefix end
  return s
end

-- probes for contains: near the block's edges and anywhere
local function probe(s)
  local c = net.cidr(s, false)
  local r = rnd(6)
  if c and r <= 2 then return c.network end
  if c and r == 3 then return c.broadcast end
  if c and r == 4 and c.family == "inet" then
    local n = net.ip_to_int(c.broadcast) + 1
    if n < 2 ^ 32 then return net.int_to_ip(n) end
  end
  if r == 5 then return mutate(v4()) end
  return rnd(2) == 1 and v4() or v6()
end

local function hex(s)
  -- "x" first: an empty string is still a field
  return "x" .. s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
end

local PYTHON = [=[
import ipaddress, re, sys
scoped = 0
def fmt(a):
    if a.version == 6 and a.ipv4_mapped is not None:
        return "::ffff:" + str(a.ipv4_mapped)
    return str(a)
def text(h):
    return bytes.fromhex(h[1:]).decode("utf-8", "surrogateescape")
def valid(f, s):
    global scoped
    try:
        a = f(s)
    except ValueError:
        return None
    if "%" in s:
        scoped += 1
        return None
    return a
def hosts_ends(n):
    it = iter(n.hosts())
    first = next(it)
    if n.num_addresses <= 4096:
        last = list(n.hosts())[-1]
    elif n.version == 4:
        last = n.broadcast_address - 1
    else:
        last = n.broadcast_address
    return first, last
def network(s, strict, probes):
    global scoped
    # netbasics refuses a prefix with a leading zero ("/08"), as it
    # refuses "010.0.0.1"; Python reads it as decimal
    if re.search(r"/0[0-9]", s):
        return "-"
    try:
        n = ipaddress.ip_network(s, strict=strict)
    except ValueError as e:
        # a zone id is malformed to netbasics, host bits set or not
        return "H" if "host bits set" in str(e) and "%" not in s else "-"
    if "%" in s:
        scoped += 1
        return "-"
    first, last = hosts_ends(n)
    out = [fmt(n.network_address), fmt(n.broadcast_address), fmt(n.netmask),
           str(n.prefixlen), str(n.num_addresses), fmt(first), fmt(last)]
    for p in probes:
        a = valid(ipaddress.ip_address, p)
        out.append("E" if a is None else ("1" if a in n else "0"))
    return "|".join(out)
for line in sys.stdin:
    f = line.split()
    s = text(f[1])
    if f[0] == "A":
        a = valid(ipaddress.ip_address, s)
        print("\t".join([
            "0" if a is None else "1",
            "1" if valid(ipaddress.IPv4Address, s) else "0",
            "1" if valid(ipaddress.IPv6Address, s) else "0",
            "-" if a is None else fmt(a)]))
    else:
        probes = [text(h) for h in f[2:]]
        print("\t".join([network(s, True, probes), network(s, False, probes)]))
print("scoped", scoped)
]=]

-- the same fields from netbasics
local function b(v) return v and "1" or "0" end

local function net_network(s, strict, probes)
  local c, msg = net.cidr(s, strict)
  if not c then return msg:find("host bits set", 1, true) and "H" or "-" end
  local size = c.size
  size = math.type(size) == "float" and ("%.0f"):format(size) or tostring(size)
  local out = { c.network, c.broadcast, c.netmask, tostring(c.prefix), size,
    c.first, c.last }
  for _, p in ipairs(probes) do
    local v, _, code = c:contains(p)
    out[#out + 1] = v == nil and (code == "malformed" and "E" or "?") or b(v)
  end
  return table.concat(out, "|")
end

local function net_answer(kind, s, probes)
  if kind == "A" then
    return table.concat({ b(net.isip(s)), b(net.isip(s, "inet")),
      b(net.isip(s, "inet6")), net.normalize_ip(s) or "-" }, "\t")
  end
  return net_network(s, true, probes) .. "\t" .. net_network(s, false, probes)
end

describe("differential against python3 ipaddress", function()
  local cases, input = {}, {}
  local seen = {}
  local function add(kind, s, probes)
    local key = kind .. s
    if seen[key] then return end
    seen[key] = true
    cases[#cases + 1] = { kind, s, probes }
    local line = { kind, hex(s) }
    for _, p in ipairs(probes or {}) do line[#line + 1] = hex(p) end
    input[#input + 1] = table.concat(line, " ")
  end
  while #cases < N_ADDR do add("A", address_string()) end
  local n = #cases
  while #cases < n + N_CIDR do
    local s = cidr_string()
    add("C", s, { probe(s), probe(s), probe(s) })
  end

  local out = T.python(PYTHON, table.concat(input, "\n") .. "\n")
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end

  it("checked enough strings of each kind", function()
    assert.equal(#cases + 1, #lines)
    assert.is_true(#cases >= 10000 + N_CIDR)
    local valid, invalid, cvalid, hostbits = 0, 0, 0, 0
    for i, c in ipairs(cases) do
      if c[1] == "A" then
        if lines[i]:sub(1, 1) == "1" then valid = valid + 1
        else invalid = invalid + 1 end
      else
        if lines[i]:match("^[^\t]*|") then cvalid = cvalid + 1 end
        if lines[i]:match("^H\t") then hostbits = hostbits + 1 end
      end
    end
    -- a fair mix of valid and malformed, and the zone-id policy exercised
    assert.is_true(valid > 3000, "valid " .. valid)
    assert.is_true(invalid > 3000, "invalid " .. invalid)
    assert.is_true(cvalid > 1500, "valid cidr " .. cvalid)
    assert.is_true(hostbits > 500, "host bits " .. hostbits)
    assert.is_true(tonumber(lines[#lines]:match("^scoped (%d+)$")) > 10)
  end)

  it("agrees on isip and normalize_ip", function()
    local bad = {}
    for i, c in ipairs(cases) do
      if c[1] == "A" then
        local got = net_answer("A", c[2])
        if got ~= lines[i] and #bad < 10 then
          bad[#bad + 1] = ("%q: netbasics %s, python %s"):format(c[2], got,
            lines[i])
        end
      end
    end
    assert.equal("", table.concat(bad, "\n"))
  end)

  it("agrees on cidr and contains", function()
    local bad = {}
    for i, c in ipairs(cases) do
      if c[1] == "C" then
        local got = net_answer("C", c[2], c[3])
        if got ~= lines[i] and #bad < 10 then
          bad[#bad + 1] = ("%q %s: netbasics %s, python %s"):format(c[2],
            table.concat(c[3], ","), got, lines[i])
        end
      end
    end
    assert.equal("", table.concat(bad, "\n"))
  end)
end)
