-- Fault suite: addresses and endpoints. Every loose, partial or hostile
-- form is refused with nil, a one-line message, "malformed" (or false
-- from the predicates), never read as some other address (libc reads
-- "127.1", "0x7f.1", "2130706433" as 127.0.0.1 and "010.0.0.1" as
-- 8.0.0.1). Scope ids ("fe80::1%lo") are malformed: these are addresses,
-- not interface-scoped socket addresses (csrc/validate.c, SECURITY.md).
local net = require "netbasics"

local BIG = string.rep("1.", 5 * 1024 * 1024)  -- 10 MB

local ADDRESSES = {
  "127.1", "0x7f.1", "2130706433", "010.0.0.1", "1.2.3.4\n", "1.2.3.",
  "1::2::3", "::ffff:1.2.3", "fe80::1%lo", "fe80::1%1", "0x7f000001",
  "127.0.0.1 ", "\t127.0.0.1", "127.0.0.1\0", "::1\n", BIG,
}
local CIDRS = {
  "10.0.0.0/33", "::/129", "10.0.0.0/-1", "::/-1", "10.0.0.0/08",
  "2001:db8::/032", "10.0.0.0/", "10.0.0.0/8/8", "127.1/8", "fe80::%lo/64",
  "10.0.0.0/8\n", "10.0.0.0/" .. string.rep("9", 1000), BIG .. "/8",
}
local ENDPOINTS = {
  "[::1]80", "1.2.3.4:80:80", "[::1]", "::1:80", "[::1]:", "[1.2.3.4]:80",
  "127.1:80", "0x7f.1:80", "2130706433:80", "010.0.0.1:80",
  "1.2.3.4:80\n", "[fe80::1%lo]:80", "1.2.3.4:65536", "1.2.3.4:+80",
  "1.2.3.4: 80", BIG .. ":80",
}

-- a failure as the API promises: nil, one line naming the input (shown
-- with escapes and cut short), "malformed"
local function refused(what, s, v, msg, code)
  assert.is_nil(v, what .. " accepted " .. ("%q"):format(s:sub(1, 40)))
  assert.equal("malformed", code)
  assert.is_string(msg)
  assert.is_nil(msg:find("\n"), "message has a newline: " .. msg)
  assert.is_true(#msg < 200, "message too long: " .. #msg)
end

describe("faults: addresses", function()
  for _, s in ipairs(ADDRESSES) do
    local shown = ("%q"):format(s:sub(1, 30))
    it("refuses " .. shown .. " everywhere an address is read", function()
      assert.is_false(net.isip(s))
      assert.is_false(net.isip(s, "inet"))
      assert.is_false(net.isip(s, "inet6"))
      refused("normalize_ip", s, net.normalize_ip(s))
      refused("octets", s, net.octets(s))
      refused("classify", s, net.classify(s))
      refused("ip_to_binary", s, net.ip_to_binary(s))
      refused("ip_to_int", s, net.ip_to_int(s))
      refused("cidr", s, net.cidr(s))
      local c = assert(net.cidr("0.0.0.0/0"))
      refused("contains", s, c:contains(s))
      assert.is_false((net.isipandport(s .. ":80")))
    end)
  end

  it("never reads a loose form as the address libc would", function()
    for _, s in ipairs { "127.1", "0x7f.1", "2130706433", "010.0.0.1" } do
      local v, msg, code = net.resolve(s)
      assert.is_nil(v, s)
      assert.equal("malformed", code)
      assert.truthy(msg:find(s, 1, true))
    end
  end)

  it("shows a 10 MB string cut short, in every message", function()
    local _, msg = net.normalize_ip(BIG)
    assert.truthy(msg:find("...", 1, true))
    assert.is_true(#msg < 200)
    _, msg = net.parse_endpoint(BIG .. ":80")
    assert.is_true(#msg < 200)
  end)

  it("escapes control bytes and NUL in messages", function()
    local _, msg = net.normalize_ip("1.2.3.4\n")
    assert.truthy(msg:find("1.2.3.4\\010", 1, true), msg)
    _, msg = net.normalize_ip("1.2\0.3.4")
    assert.truthy(msg:find("1.2\\000.3.4", 1, true), msg)
  end)
end)

describe("faults: CIDR blocks", function()
  for _, s in ipairs(CIDRS) do
    it("refuses " .. ("%q"):format(s:sub(1, 30)), function()
      refused("cidr", s, net.cidr(s))
      refused("cidr", s, net.cidr(s, false))
    end)
  end

  it("still takes the edges: /0, /32, /128", function()
    assert.equal("0.0.0.0/0", tostring(net.cidr("0.0.0.0/0")))
    assert.equal("1.2.3.4/32", tostring(net.cidr("1.2.3.4/32")))
    assert.equal("::1/128", tostring(net.cidr("::1/128")))
  end)
end)

describe("faults: endpoints", function()
  for _, s in ipairs(ENDPOINTS) do
    it("refuses " .. ("%q"):format(s:sub(1, 30)), function()
      refused("parse_endpoint", s, net.parse_endpoint(s))
      assert.is_false((net.isipandport(s)))
    end)
  end

  it("still takes 1.2.3.4:80, [::1]:80 and name:80", function()
    assert.same({ host = "1.2.3.4", port = 80, family = "inet" },
      net.parse_endpoint("1.2.3.4:80"))
    assert.same({ host = "::1", port = 80, family = "inet6" },
      net.parse_endpoint("[::1]:80"))
    assert.same({ host = "example.org", port = 80, family = "name" },
      net.parse_endpoint("example.org:80"))
  end)
end)
