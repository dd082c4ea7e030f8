-- octet family: octets, binary forms, integers, canonical text, cidr,
-- classify. Differential checks against python3's ipaddress are in
-- spec/ipaddress_diff_spec.lua.
local net = require "netbasics"

-- every malformed address form the issue names
local BAD_IPS = {
  "", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1",
  "01.2.3.4", "0x7f.0.0.1", "127.1", "1..2.3", "1.2.3.-4",
  "\u{FF11}.2.3.4",               -- full-width digit one
  "\u{FF11}\u{FF12}\u{FF17}.0.0.1",
  "1.2.3.4\0", "1.2\0.3.4", "\0",
  string.rep("1", 1024 * 1024),
  string.rep("1.", 512 * 1024) .. "1",
  "1:2:3:4:5:6:7:8:9", "::g", "1::2::3",
  "1.2.3.4/24", "fe80::1%lo", "fe80::1%", "[::1]", ":::", "1:", ":1",
  "::1:", "12345::", "::ffff:01.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
  "+1.2.3.4", "1.2.3.4.", ".1.2.3.4", "1,2,3,4",
}

-- the calls that take an address and fail with nil, msg, "malformed"
local BY_ADDRESS = {
  "octets", "ip_to_binary", "ip_to_int", "normalize_ip", "classify",
}

local function check_malformed(f, s)
  local v, msg, code = f(s)
  assert.is_nil(v, ("%q"):format(s:sub(1, 40)))
  assert.equal("malformed", code)
  assert.is_string(msg)
  assert.is_nil(msg:find("\n"), "one line")
  assert.is_true(#msg < 200, "short message")
end

describe("octet", function()
  describe("net.MAX_OCTET", function()
    it("is 255", function()
      assert.equal(255, net.MAX_OCTET)
      assert.equal(math.type(net.MAX_OCTET), "integer")
    end)
  end)

  describe("net.octets", function()
    it("splits an IPv4 address", function()
      assert.same({ 185, 172, 165, 184 }, net.octets("185.172.165.184"))
      assert.same({ 0, 0, 0, 0 }, net.octets("0.0.0.0"))
      assert.same({ 255, 255, 255, 255 }, net.octets("255.255.255.255"))
      for _, v in ipairs(net.octets("10.0.0.1")) do
        assert.equal("integer", math.type(v))
      end
    end)
    it("gives the 16 bytes of an IPv6 address", function()
      assert.same({ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
        net.octets("2001:db8::1"))
      assert.same({ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4 },
        net.octets("::ffff:1.2.3.4"))
    end)
    it("returns nil, msg, 'malformed' for bad text", function()
      for _, s in ipairs(BAD_IPS) do check_malformed(net.octets, s) end
      local _, msg = net.octets("127.1")
      assert.equal('"127.1" is not an IP address', msg)
    end)
    it("shows long or binary input cut short and escaped", function()
      local _, msg = net.octets(string.rep("9", 1024 * 1024))
      assert.equal('"' .. string.rep("9", 64) .. '..." is not an IP address',
        msg)
      _, msg = net.octets("1.2.3.4\0")
      assert.equal('"1.2.3.4\\000" is not an IP address', msg)
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.octets() end)
      assert.has_error(function() net.octets({}) end)
      assert.has_error(function() net.octets(true) end)
    end)
  end)

  describe("net.tobinary", function()
    it("pads to 8 bits by default", function()
      assert.equal("10111001", net.tobinary(185))
      assert.equal("10101100", net.tobinary(172))
      assert.equal("10100101", net.tobinary(165))
      assert.equal("10111000", net.tobinary(184))
      assert.equal("00000000", net.tobinary(0))
      assert.equal("11111111", net.tobinary(255))
      assert.equal("00000101", net.tobinary(5))
    end)
    it("takes a width", function()
      assert.equal("101", net.tobinary(5, 3))
      assert.equal("0000000000000001", net.tobinary(1, 16))
      assert.equal(string.rep("1", 32), net.tobinary(0xffffffff, 32))
      assert.equal("0" .. string.rep("1", 63), net.tobinary(math.maxinteger, 64))
      assert.equal("1", net.tobinary(1, 1))
    end)
    it("returns nil, msg, 'range' for what does not fit", function()
      local v, msg, code = net.tobinary(256)
      assert.is_nil(v)
      assert.equal("range", code)
      assert.equal("256 does not fit in 8 bits", msg)
      assert.equal("range", select(3, net.tobinary(-1)))
      assert.equal("range", select(3, net.tobinary(8, 3)))
      assert.equal("range", select(3, net.tobinary(math.mininteger, 64)))
    end)
    it("raises on wrong arguments", function()
      assert.has_error(function() net.tobinary() end)
      assert.has_error(function() net.tobinary("x") end)
      assert.has_error(function() net.tobinary(1.5) end)
      assert.has_error(function() net.tobinary(1, 0) end)
      assert.has_error(function() net.tobinary(1, 65) end)
      assert.has_error(function() net.tobinary(1, "x") end)
    end)
  end)

  describe("net.frombinary", function()
    it("reads binary digits", function()
      assert.equal(185, net.frombinary("10111001"))
      assert.equal(0, net.frombinary("0"))
      assert.equal(255, net.frombinary("11111111"))
      assert.equal(5, net.frombinary("00000101"))
      assert.equal(math.maxinteger, net.frombinary(string.rep("1", 63)))
      assert.equal(1, net.frombinary(string.rep("0", 100000) .. "1"))
      assert.equal("integer", math.type(net.frombinary("1")))
    end)
    it("round-trips with tobinary", function()
      for v = 0, 255 do assert.equal(v, net.frombinary(net.tobinary(v))) end
    end)
    it("returns nil, msg, 'malformed' for other text", function()
      for _, s in ipairs { "", "102", " 101", "101 ", "0b101", "1.0",
        "1\0", "\u{FF11}", string.rep("1", 1024 * 1024) .. "2" } do
        check_malformed(net.frombinary, s)
      end
    end)
    it("returns nil, msg, 'range' past the biggest integer", function()
      assert.equal("range", select(3, net.frombinary(string.rep("1", 64))))
      assert.equal("range", select(3, net.frombinary("1" .. string.rep("0", 63))))
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.frombinary() end)
      assert.has_error(function() net.frombinary({}) end)
    end)
  end)

  describe("net.ip_to_binary", function()
    it("gives 8 bits per octet", function()
      assert.equal("10111001.10101100.10100101.10111000",
        net.ip_to_binary("185.172.165.184"))
      assert.equal("00000000.00000000.00000000.00000000",
        net.ip_to_binary("0.0.0.0"))
    end)
    it("gives 8 groups of 16 bits for IPv6", function()
      local b = net.ip_to_binary("2001:db8::1")
      assert.equal("0010000000000001:0000110110111000:"
        .. string.rep("0000000000000000:", 5) .. "0000000000000001", b)
    end)
    it("returns nil, msg, 'malformed' for bad text", function()
      for _, s in ipairs(BAD_IPS) do check_malformed(net.ip_to_binary, s) end
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.ip_to_binary() end)
    end)
  end)

  describe("net.ip_to_int and net.int_to_ip", function()
    it("convert both ways", function()
      assert.equal(3115099576, net.ip_to_int("185.172.165.184"))
      assert.equal(0, net.ip_to_int("0.0.0.0"))
      assert.equal(4294967295, net.ip_to_int("255.255.255.255"))
      assert.equal(2130706433, net.ip_to_int("127.0.0.1"))
      assert.equal("185.172.165.184", net.int_to_ip(3115099576))
      assert.equal("0.0.0.0", net.int_to_ip(0))
      assert.equal("255.255.255.255", net.int_to_ip(2 ^ 32 - 1))
      assert.equal("10.0.0.1", net.int_to_ip(167772161))
      assert.equal("integer", math.type(net.ip_to_int("1.2.3.4")))
    end)
    it("round-trip", function()
      for _, v in ipairs { 1, 255, 256, 65535, 65536, 16777216, 3232235777 } do
        assert.equal(v, net.ip_to_int(net.int_to_ip(v)))
      end
    end)
    it("ip_to_int takes IPv4 only", function()
      local v, msg, code = net.ip_to_int("::1")
      assert.is_nil(v)
      assert.equal("malformed", code)
      assert.equal('"::1" is not an IPv4 address', msg)
      for _, s in ipairs(BAD_IPS) do check_malformed(net.ip_to_int, s) end
    end)
    it("int_to_ip returns nil, msg, 'range' outside 0..2^32-1", function()
      local v, msg, code = net.int_to_ip(2 ^ 32)
      assert.is_nil(v)
      assert.equal("range", code)
      assert.equal("4294967296 is not an IPv4 address (0..4294967295)", msg)
      assert.equal("range", select(3, net.int_to_ip(-1)))
      assert.equal("range", select(3, net.int_to_ip(math.maxinteger)))
    end)
    it("raise on wrong argument types", function()
      assert.has_error(function() net.int_to_ip() end)
      assert.has_error(function() net.int_to_ip("x") end)
      assert.has_error(function() net.int_to_ip(1.5) end)
      assert.has_error(function() net.ip_to_int() end)
      assert.has_error(function() net.ip_to_int({}) end)
    end)
  end)

  describe("net.explain_octet", function()
    it("does the lesson's math", function()
      assert.equal("185 = 128 + 32 + 16 + 8 + 1", net.explain_octet(185))
      assert.equal("172 = 128 + 32 + 8 + 4", net.explain_octet(172))
      assert.equal("165 = 128 + 32 + 4 + 1", net.explain_octet(165))
      assert.equal("184 = 128 + 32 + 16 + 8", net.explain_octet(184))
      assert.equal("255 = 128 + 64 + 32 + 16 + 8 + 4 + 2 + 1",
        net.explain_octet(255))
      assert.equal("1 = 1", net.explain_octet(1))
      assert.equal("0 = 0", net.explain_octet(0))
    end)
    it("returns nil, msg, 'range' outside 0..255", function()
      local v, msg, code = net.explain_octet(256)
      assert.is_nil(v)
      assert.equal("range", code)
      assert.equal("256 is not an octet (0..255)", msg)
      assert.equal("range", select(3, net.explain_octet(-1)))
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.explain_octet() end)
      assert.has_error(function() net.explain_octet("x") end)
      assert.has_error(function() net.explain_octet(2.5) end)
    end)
  end)

  describe("net.normalize_ip", function()
    it("writes IPv6 per RFC 5952", function()
      local cases = {
        ["2001:DB8::1"] = "2001:db8::1",
        ["2001:0db8:0000:0000:0000:0000:0000:0001"] = "2001:db8::1",
        ["2001:db8:0:0:1:0:0:1"] = "2001:db8::1:0:0:1",     -- first run on a tie
        ["2001:db8:0:1:1:1:1:1"] = "2001:db8:0:1:1:1:1:1",  -- one zero: no ::
        ["2001:0:0:1:0:0:0:1"] = "2001:0:0:1::1",           -- the longest run
        ["0:0:0:0:0:0:0:0"] = "::",
        ["::1"] = "::1",
        ["1::"] = "1::",
        ["1:2:3:4:5:6:7::"] = "1:2:3:4:5:6:7:0",
        ["::2:3:4:5:6:7:8"] = "0:2:3:4:5:6:7:8",
        ["FE80::ABCD:0:0:1"] = "fe80::abcd:0:0:1",
        ["::ffff:1.2.3.4"] = "::ffff:1.2.3.4",              -- RFC 5952 section 5
        ["::FFFF:0102:0304"] = "::ffff:1.2.3.4",
        ["::1.2.3.4"] = "::102:304",
        ["64:ff9b::192.0.2.33"] = "64:ff9b::c000:221",
      }
      for input, want in pairs(cases) do
        assert.equal(want, net.normalize_ip(input), input)
      end
    end)
    it("keeps IPv4 as it is", function()
      assert.equal("185.172.165.184", net.normalize_ip("185.172.165.184"))
      assert.equal("0.0.0.0", net.normalize_ip("0.0.0.0"))
    end)
    it("returns nil, msg, 'malformed' for bad text", function()
      for _, s in ipairs(BAD_IPS) do check_malformed(net.normalize_ip, s) end
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.normalize_ip() end)
    end)
  end)

  describe("net.classify", function()
    it("names the class of IPv4 addresses", function()
      local cases = {
        ["0.0.0.0"] = "unspecified", ["127.0.0.1"] = "loopback",
        ["127.255.255.254"] = "loopback", ["169.254.1.1"] = "link-local",
        ["224.0.0.1"] = "multicast", ["239.255.255.250"] = "multicast",
        ["10.1.2.3"] = "private", ["172.16.0.1"] = "private",
        ["172.31.255.255"] = "private", ["172.32.0.1"] = "global",
        ["192.168.1.1"] = "private", ["100.64.0.1"] = "private",
        ["0.1.2.3"] = "reserved", ["192.0.2.1"] = "reserved",
        ["198.51.100.7"] = "reserved", ["203.0.113.9"] = "reserved",
        ["198.18.0.1"] = "reserved", ["240.0.0.1"] = "reserved",
        ["255.255.255.255"] = "reserved",
        ["185.172.165.184"] = "global", ["8.8.8.8"] = "global",
        ["1.1.1.1"] = "global",
      }
      for ip, want in pairs(cases) do assert.equal(want, net.classify(ip), ip) end
    end)
    it("names the class of IPv6 addresses", function()
      local cases = {
        ["::"] = "unspecified", ["::1"] = "loopback",
        ["fe80::1"] = "link-local", ["febf::1"] = "link-local",
        ["ff02::1"] = "multicast", ["fd00::1"] = "private",
        ["fc00::1"] = "private", ["2001:db8::1"] = "reserved",
        ["2001::1"] = "reserved", ["fec0::1"] = "reserved",
        ["100::1"] = "reserved", ["::2"] = "reserved",
        ["2a00:1450::1"] = "global", ["2606:4700::1111"] = "global",
        ["64:ff9b::808:808"] = "global",
        ["::ffff:10.0.0.1"] = "private", ["::ffff:127.0.0.1"] = "loopback",
        ["::ffff:8.8.8.8"] = "global",
      }
      for ip, want in pairs(cases) do assert.equal(want, net.classify(ip), ip) end
    end)
    it("returns nil, msg, 'malformed' for bad text", function()
      for _, s in ipairs(BAD_IPS) do check_malformed(net.classify, s) end
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.classify() end)
    end)
  end)

  describe("net.cidr", function()
    it("describes an IPv4 block", function()
      local c = assert(net.cidr("192.168.1.0/24"))
      assert.equal("192.168.1.0", c.network)
      assert.equal("192.168.1.255", c.broadcast)
      assert.equal("255.255.255.0", c.netmask)
      assert.equal("0.0.0.255", c.hostmask)
      assert.equal(24, c.prefix)
      assert.equal(256, c.size)
      assert.equal("192.168.1.1", c.first)
      assert.equal("192.168.1.254", c.last)
      assert.equal("inet", c.family)
      assert.equal("192.168.1.0/24", tostring(c))
      assert.is_nil(c.nonsense)
    end)
    it("follows Python's hosts() at /31 and /32", function()
      local c = net.cidr("10.0.0.4/31")
      assert.equal("10.0.0.4", c.first)
      assert.equal("10.0.0.5", c.last)
      assert.equal(2, c.size)
      c = net.cidr("10.0.0.4/32")
      assert.equal("10.0.0.4", c.first)
      assert.equal("10.0.0.4", c.last)
      assert.equal("10.0.0.4", c.broadcast)
      assert.equal(1, c.size)
      c = net.cidr("10.0.0.4")            -- a bare address is a /32
      assert.equal(32, c.prefix)
      c = net.cidr("0.0.0.0/0")
      assert.equal(4294967296, c.size)
      assert.equal("0.0.0.1", c.first)
      assert.equal("255.255.255.254", c.last)
      assert.equal("0.0.0.0", c.netmask)
      c = net.cidr("10.0.0.0/30")
      assert.equal("10.0.0.1", c.first)
      assert.equal("10.0.0.2", c.last)
    end)
    it("reads a netmask or a hostmask after the slash, as Python", function()
      assert.equal("10.0.0.0/8", tostring(net.cidr("10.0.0.0/255.0.0.0")))
      assert.equal("10.0.0.0/8", tostring(net.cidr("10.0.0.0/0.255.255.255")))
      assert.equal("1.2.3.4/32", tostring(net.cidr("1.2.3.4/255.255.255.255")))
      assert.equal("0.0.0.0/0", tostring(net.cidr("0.0.0.0/0.0.0.0")))
      -- a prefix with a leading zero is malformed (Python takes it)
      assert.equal("malformed", select(3, net.cidr("10.0.0.0/024")))
      assert.equal("malformed", select(3, net.cidr("10.0.0.0/08")))
      assert.equal("0.0.0.0/0", tostring(net.cidr("0.0.0.0/0")))
      assert.equal("malformed", select(3, net.cidr("10.0.0.0/255.0.255.0")))
      assert.equal("malformed", select(3, net.cidr("::/ffff::")))
    end)
    it("describes an IPv6 block", function()
      local c = assert(net.cidr("2001:DB8::/32"))
      assert.equal("2001:db8::", c.network)
      assert.equal("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", c.broadcast)
      assert.equal("ffff:ffff::", c.netmask)
      assert.equal("::ffff:ffff:ffff:ffff:ffff:ffff", c.hostmask)
      assert.equal(32, c.prefix)
      assert.equal(2 ^ 96, c.size)
      assert.equal("2001:db8::1", c.first)   -- no subnet-router anycast
      assert.equal("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", c.last)
      assert.equal("inet6", c.family)
      assert.equal("2001:db8::/32", tostring(c))
      c = net.cidr("fe80::/64")
      assert.equal(2 ^ 64, c.size)
      assert.equal("float", math.type(c.size))
      c = net.cidr("fe80::/66")
      assert.equal(1 << 62, c.size)
      assert.equal("integer", math.type(c.size))
      c = net.cidr("::1/128")
      assert.equal("::1", c.first)
      assert.equal("::1", c.last)
      c = net.cidr("2001:db8::/127")
      assert.equal("2001:db8::", c.first)
      assert.equal("2001:db8::1", c.last)
      assert.equal(2 ^ 128, net.cidr("::/0").size)
    end)
    it(":contains(ip) an address or a block", function()
      local c = net.cidr("192.168.1.0/24")
      assert.is_true(c:contains("192.168.1.0"))
      assert.is_true(c:contains("192.168.1.77"))
      assert.is_true(c:contains("192.168.1.255"))
      assert.is_false(c:contains("192.168.2.0"))
      assert.is_false(c:contains("10.0.0.1"))
      assert.is_false(c:contains("::ffff:192.168.1.1"))   -- another family
      assert.is_true(c:contains(net.cidr("192.168.1.128/25")))
      assert.is_true(c:contains(c))
      assert.is_false(c:contains(net.cidr("192.168.0.0/16")))
      assert.is_false(c:contains(net.cidr("::/0")))
      assert.is_true(net.cidr("0.0.0.0/0"):contains("255.255.255.255"))
      local v6 = net.cidr("2001:db8::/33")
      assert.is_true(v6:contains("2001:db8:7fff::1"))
      assert.is_false(v6:contains("2001:db8:8000::"))
      assert.is_false(v6:contains("1.2.3.4"))
      local v, msg, code = c:contains("192.168.1")
      assert.is_nil(v)
      assert.equal("malformed", code)
      assert.equal('"192.168.1" is not an IP address', msg)
    end)
    it("refuses host bits unless strict is false (as Python)", function()
      local v, msg, code = net.cidr("192.168.1.5/24")
      assert.is_nil(v)
      assert.equal("malformed", code)
      assert.equal('"192.168.1.5/24" has host bits set (the network is '
        .. '192.168.1.0/24)', msg)
      assert.equal("192.168.1.0/24", tostring(net.cidr("192.168.1.5/24", false)))
      assert.equal("2001:db8::/32", tostring(net.cidr("2001:db8::1/32", false)))
      assert.equal("192.168.1.0/24", tostring(net.cidr("192.168.1.0/24", true)))
    end)
    it("compares equal by value", function()
      assert.equal(net.cidr("10.0.0.0/8"), net.cidr("10.0.0.0/255.0.0.0"))
      assert.are_not.equal(net.cidr("10.0.0.0/8"), net.cidr("10.0.0.0/9"))
      assert.are_not.equal(net.cidr("::/0"), net.cidr("0.0.0.0/0"))
    end)
    it("returns nil, msg, 'malformed' for bad text", function()
      local bad = {
        "192.168.1.0/33", "192.168.1.0/-1", "192.168.1.0/", "/24",
        "192.168.1.0/24/24", "192.168.1.0/ 24", "192.168.1.0/24 ",
        "192.168.1.0/+24", "192.168.1.0/0x18", "::/129", "::/",
        "192.168.1.0/99999999999999999999", "1.2.3.0/\u{FF12}\u{FF14}",
        "1.2.3.0/24\0", "fe80::%lo/64", "1.2.3.0/255.255.255.01",
      }
      for _, s in ipairs(BAD_IPS) do
        if s ~= "1.2.3.4/24" then bad[#bad + 1] = s end
      end
      for _, s in ipairs(bad) do check_malformed(net.cidr, s) end
      local _, msg = net.cidr("192.168.1.0/33")
      assert.equal('"192.168.1.0/33" is not a CIDR block (address/prefix)', msg)
    end)
    it("raises on wrong argument types", function()
      assert.has_error(function() net.cidr() end)
      assert.has_error(function() net.cidr({}) end)
      assert.has_error(function() net.cidr("10.0.0.0/8", "yes") end)
      local c = net.cidr("10.0.0.0/8")
      assert.has_error(function() c:contains() end)
      assert.has_error(function() c:contains({}) end)
      assert.has_error(function() c.contains("10.0.0.1") end)
      assert.is_nil(c[1])   -- unknown keys read as nil, as in a table
    end)
    it("is collected like any value", function()
      local c = net.cidr("10.0.0.0/8")
      assert.matches("^netbasics%.cidr", getmetatable(c).__name)
      c = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
    end)
  end)
end)
