-- validate family: isip, parse_endpoint, isipandport.
local net = require "netbasics"

local MB = 1024 * 1024

-- every malformed address form the issue names (and a few more)
local BAD_V4 = {
  "", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1",
  "01.2.3.4", "0x7f.0.0.1", "127.1", "1..2.3", "1.2.3.-4",
  "\u{FF11}.2.3.4", "1.2.3.4\0", "\0" .. "1.2.3.4", string.rep("1", MB),
  "1.2.3.04", "1.2.3.256", "1.2.3.1000", "1.2.3.4.", "1.2.3.4\n",
  "0.0.0.0/0", "a.b.c.d", "1.2.3.+4", "1.2.3.4e0", "4294967295", "0x7f000001",
  "017700000001", "1.2.3.0x4",
}
local BAD_V6 = {
  "", "1:2:3:4:5:6:7:8:9", "::g", "1::2::3", ":::", "1:", ":1", "::1:",
  "1:2:3:4:5:6:7", "12345::", "::ffff:01.2.3.4", "::ffff:1.2.3",
  "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4::", "fe80::1%lo", "fe80::1%",
  "[::1]", " ::1", "::1 ", "::1\0", ":", "1::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "\u{FF11}::", string.rep(":", MB),
  "::" .. string.rep("1", MB), "0x1::", "-1::", "::ffff:1.2.3.4:5",
}

local BAD_PORTS = {
  "80abc", "+80", " 80", "80 ", "0x50", "-1", "", "8\0", "\u{FF18}\u{FF10}",
  "1e3", "80.0", string.rep("8", MB) .. "x",
}
local RANGE_PORTS = { "65536", "99999999999999999999", "100000" }

local BAD_ENDPOINTS = {
  "[::1]", "::1:80", "[::1]:", "[1.2.3.4]:80", "1.2.3.4:80:80",
  "", ":80", "1.2.3.4", "1.2.3.4:", "[]:80", "[::1]80", "[::1]x80",
  "[::1", "::1]:80", "[[::1]]:80", "[fe80::1%lo]:80", "127.1:80",
  "0x7f000001:80", "0x7f.0.0.1:80", "256.1.1.1:80", "01.2.3.4:80",
  "exa mple.org:80", "-bad.org:80", "bad-.org:80", "a..b:80", ".a:80",
  "x" .. string.rep("a", 64) .. ".org:80",              -- label > 63
  string.rep("a.", 127) .. "a:80",                     -- name > 253
  "\u{FF11}.2.3.4:80", "1.2.3.4:80\0", "host\0name:80",
  string.rep("a", MB) .. ":80",
}

describe("validate", function()
  describe("net.isip", function()
    it("accepts IPv4 and IPv6 text", function()
      for _, s in ipairs { "0.0.0.0", "1.2.3.4", "255.255.255.255",
        "185.172.165.184", "10.0.0.1", "::", "::1", "1::", "2001:db8::1",
        "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4",
        "1:2:3:4:5:6:1.2.3.4", "fe80::", "0000:0000:0000:0000:0000:0000:0000:0000",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" } do
        assert.is_true(net.isip(s), s)
      end
    end)
    it("is false for malformed text, never nil, never a crash", function()
      for _, s in ipairs(BAD_V4) do assert.is_false(net.isip(s), s:sub(1, 40)) end
      for _, s in ipairs(BAD_V6) do assert.is_false(net.isip(s), s:sub(1, 40)) end
    end)
    it("checks one family when asked", function()
      assert.is_true(net.isip("1.2.3.4", "inet"))
      assert.is_false(net.isip("1.2.3.4", "inet6"))
      assert.is_true(net.isip("::1", "inet6"))
      assert.is_false(net.isip("::1", "inet"))
      assert.is_true(net.isip("::ffff:1.2.3.4", "inet6"))
      for _, s in ipairs(BAD_V4) do assert.is_false(net.isip(s, "inet")) end
      for _, s in ipairs(BAD_V6) do assert.is_false(net.isip(s, "inet6")) end
    end)
    it("agrees with inet_pton on fixed cases (python3 socket)", function()
      local cases = {}
      for _, s in ipairs { "1.2.3.4", "127.1", "01.2.3.4", "::1", "1::2::3",
        "::ffff:1.2.3.4", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "256.0.0.1",
        "1.2.3.4.5", ":::", "1:2:3:4:5:6:1.2.3.4" } do
        cases[#cases + 1] = s
      end
      local T = require "nbtest"
      local out = T.python([[
import socket, sys
for l in sys.stdin.read().split("\n"):
    if not l: continue
    ok = False
    for f in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(f, l); ok = True
        except OSError:
            pass
    print(l, ok)
]], table.concat(cases, "\n") .. "\n")
      for line in out:gmatch("[^\n]+") do
        local s, ok = line:match("^(%S+) (%a+)$")
        assert.equal(ok == "True", net.isip(s), s)
      end
    end)
    it("raises on wrong arguments", function()
      assert.has_error(function() net.isip() end)
      assert.has_error(function() net.isip({}) end)
      assert.has_error(function() net.isip("1.2.3.4", "inet5") end)
      assert.has_error(function() net.isip("1.2.3.4", 4) end)
    end)
  end)

  describe("net.parse_endpoint", function()
    it("reads host:port, [v6]:port and name:port", function()
      assert.same({ host = "1.2.3.4", port = 80, family = "inet" },
        net.parse_endpoint("1.2.3.4:80"))
      assert.same({ host = "::1", port = 80, family = "inet6" },
        net.parse_endpoint("[::1]:80"))
      assert.same({ host = "example.org", port = 80, family = "name" },
        net.parse_endpoint("example.org:80"))
      assert.same({ host = "2001:DB8::1", port = 443, family = "inet6" },
        net.parse_endpoint("[2001:DB8::1]:443"))
      assert.same({ host = "localhost", port = 0, family = "name" },
        net.parse_endpoint("localhost:0"))
      assert.same({ host = "a_b.example.", port = 65535, family = "name" },
        net.parse_endpoint("a_b.example.:65535"))
      assert.same({ host = "185.172.165.184", port = 9087, family = "inet" },
        net.parse_endpoint("185.172.165.184:9087"))
      assert.same({ host = "0.0.0.0", port = 1, family = "inet" },
        net.parse_endpoint("0.0.0.0:01"))
      assert.same({ host = "1e100.net", port = 80, family = "name" },
        net.parse_endpoint("1e100.net:80"))
      assert.equal("integer", math.type(net.parse_endpoint("a:1").port))
    end)
    it("returns nil, msg, 'malformed' for each bad form", function()
      for _, s in ipairs(BAD_ENDPOINTS) do
        local v, msg, code = net.parse_endpoint(s)
        assert.is_nil(v, s:sub(1, 40))
        assert.equal("malformed", code)
        assert.is_nil(msg:find("\n"))
        assert.is_true(#msg < 200)
      end
      local _, msg = net.parse_endpoint("[::1]")
      assert.equal('malformed endpoint "[::1]" (expected host:port or '
        .. '[IPv6]:port)', msg)
    end)
    it("refuses every bad port form", function()
      for _, p in ipairs(BAD_PORTS) do
        for _, h in ipairs { "1.2.3.4:", "[::1]:", "example.org:" } do
          local v, msg, code = net.parse_endpoint(h .. p)
          assert.is_nil(v, h .. p:sub(1, 20))
          assert.equal("malformed", code)
          assert.matches("^malformed endpoint", msg)
        end
      end
    end)
    it("refuses ports above 65535 as malformed, saying why", function()
      for _, p in ipairs(RANGE_PORTS) do
        local v, msg, code = net.parse_endpoint("1.2.3.4:" .. p)
        assert.is_nil(v)
        assert.equal("malformed", code)
        assert.equal('port out of range (0..65535) in endpoint "1.2.3.4:'
          .. p .. '"', msg)
      end
      local v, msg, code = net.parse_endpoint("1.2.3.4:" .. string.rep("8", MB))
      assert.is_nil(v)
      assert.equal("malformed", code)
      assert.equal('port out of range (0..65535) in endpoint "1.2.3.4:'
        .. string.rep("8", 56) .. '..."', msg)
    end)
    it("raises on a wrong argument type", function()
      assert.has_error(function() net.parse_endpoint() end)
      assert.has_error(function() net.parse_endpoint({}) end)
    end)
  end)

  describe("net.isipandport", function()
    it("is true for an IPv4 address and a usable port", function()
      assert.is_true(net.isipandport("185.172.165.184:9087"))
      assert.equal(1, select("#", net.isipandport("185.172.165.184:9087")))
      assert.is_true(net.isipandport("0.0.0.0:7"))
      assert.is_true(net.isipandport("127.0.0.1:65535"))
    end)
    it("is false, 'empty' for nil or ''", function()
      assert.same({ false, "empty" }, { net.isipandport(nil) })
      assert.same({ false, "empty" }, { net.isipandport() })
      assert.same({ false, "empty" }, { net.isipandport("") })
    end)
    it("whines about ports 1..6 but accepts them, as the lesson", function()
      for p = 1, 6 do
        local s = "10.0.0.1:" .. p
        assert.same({ true, "port out of range in " .. s },
          { net.isipandport(s) })
      end
    end)
    it("refuses ports no socket can use", function()
      for _, s in ipairs { "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:100000",
        "1.2.3.4:99999999999999999999", "1.2.3.4:00" } do
        assert.same({ false, "port out of range in " .. s },
          { net.isipandport(s) })
      end
    end)
    it("is false, 'malformed socket in S' for malformed text", function()
      local bad = { "1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:80:80",
        "[::1]:80", "::1:80", "example.org:80", "1.2.3.4: 80",
        "1.2.3.4:+80", "1.2.3.4:0x50", "1.2.3.4:-1", "1.2.3.4:80abc",
        "hello", "1.2.3.4:80 ", " 1.2.3.4:80" }
      for _, s in ipairs(BAD_V4) do
        if s ~= "" then bad[#bad + 1] = s .. ":80" end
      end
      for _, p in ipairs(BAD_PORTS) do bad[#bad + 1] = "1.2.3.4:" .. p end
      for _, s in ipairs(bad) do
        local ok, msg = net.isipandport(s)
        assert.is_false(ok, s:sub(1, 40))
        assert.matches("^malformed socket in ", msg)
        assert.is_true(#msg < 100)
      end
      assert.same({ false, "malformed socket in 127.1:80" },
        { net.isipandport("127.1:80") })
      assert.same({ false, "malformed socket in 1.2.3.4:80\\000" },
        { net.isipandport("1.2.3.4:80\0") })
    end)
    it("turns a number into text, as the lesson's str()", function()
      assert.same({ false, "malformed socket in 12" }, { net.isipandport(12) })
    end)
    it("raises on other argument types", function()
      assert.has_error(function() net.isipandport({}) end)
      assert.has_error(function() net.isipandport(true) end)
      assert.has_error(function() net.isipandport(false) end)
    end)
  end)
end)
