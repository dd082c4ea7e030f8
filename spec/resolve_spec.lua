-- The resolve family against real DNS servers: dnsmasq on loopback (the
-- lesson's world of docs/testing.md, spec/support/dnsworld.lua), a server that
-- answers badly on purpose (spec/support/fakedns.py), a network namespace
-- for the system's default server, getent for net.resolve.
local T = require "nbtest"
local W = require "dnsworld"
local net = require "netbasics"

local function sorted(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  return t
end

describe("resolve", function()
  local world, fake

  setup(function()
    world = W.start()
    fake = W.fake()
  end)

  teardown(function()
    if world then world:stop() end
    if fake then fake:stop() end
  end)

  describe("net.lookup", function()
    it("follows gnomon to hermes on the authoritative server", function()
      local r = assert(net.lookup("gnomon.securitystandard.org",
        { server = world.auth }))
      assert.same({
        server = "127.0.0.2", server_port = world.port,
        authoritative = true, rcode = "NOERROR",
        name = "gnomon.securitystandard.org",
        canonical = "hermes.securitystandard.org",
        cnames = { { name = "gnomon.securitystandard.org",
                     target = "hermes.securitystandard.org" } },
        addresses = { "185.172.165.184" },
        records = {
          { name = "gnomon.securitystandard.org", type = "CNAME",
            data = "hermes.securitystandard.org" },
          { name = "hermes.securitystandard.org", type = "A",
            data = "185.172.165.184" },
        },
        -- as nslookup: A first, then AAAA of the canonical name (dnsmasq
        -- does not set AA on an empty answer)
        answers = {
          { name = "gnomon.securitystandard.org", type = "A",
            rcode = "NOERROR", authoritative = true, records = {
              { name = "gnomon.securitystandard.org", type = "CNAME",
                data = "hermes.securitystandard.org" },
              { name = "hermes.securitystandard.org", type = "A",
                data = "185.172.165.184" } } },
          { name = "hermes.securitystandard.org", type = "AAAA",
            rcode = "NOERROR", authoritative = false, records = {} },
        },
      }, r)
    end)

    it("says non-authoritative when the forwarder answers from its cache",
      function()
      local first = assert(net.lookup("gnomon.securitystandard.org",
        world.forwarder))
      local second = assert(net.lookup("gnomon.securitystandard.org",
        world.forwarder))
      -- the first answer was fetched (dnsmasq copies the AA flag), the
      -- second comes from the cache: that is the seed's output
      assert.is_true(first.authoritative)
      assert.is_false(second.authoritative)
      assert.same({ "185.172.165.184" }, second.addresses)
      assert.equal("hermes.securitystandard.org", second.canonical)
      assert.equal("127.0.0.1", second.server)
    end)

    it("keeps the end of a CNAME chain two deep", function()
      local r = assert(net.lookup("a1.securitystandard.org", world.auth))
      assert.same({
        { name = "a1.securitystandard.org", target = "a2.securitystandard.org" },
        { name = "a2.securitystandard.org",
          target = "hermes.securitystandard.org" },
      }, r.cnames)
      assert.equal("hermes.securitystandard.org", r.canonical)
      assert.same({ "185.172.165.184" }, r.addresses)
    end)

    it("returns every A and AAAA address", function()
      local r = assert(net.lookup("multi.securitystandard.org", world.auth))
      assert.same(W.ADDRESSES.multi, sorted(r.addresses))
      assert.same({}, r.cnames)
      assert.equal("multi.securitystandard.org", r.canonical)
    end)

    it("asks only the type given", function()
      local a = assert(net.lookup("multi.securitystandard.org",
        { server = world.auth, type = "A" }))
      assert.same({ "10.0.0.1", "10.0.0.2", "10.0.0.3" }, sorted(a.addresses))
      local aaaa = assert(net.lookup("multi.securitystandard.org",
        { server = world.auth, type = "aaaa" }))
      assert.same({ "2001:db8::1", "2001:db8::2" }, sorted(aaaa.addresses))
    end)

    it("finds a name with only an AAAA record", function()
      local r = assert(net.lookup("six.securitystandard.org", world.auth))
      assert.same({ "2001:db8::6" }, r.addresses)
    end)

    it("accepts a final dot and any letter case", function()
      local r = assert(net.lookup("GNOMON.SecurityStandard.org.", world.auth))
      assert.equal("GNOMON.SecurityStandard.org", r.name)
      assert.same({ "185.172.165.184" }, r.addresses)
    end)

    it("returns nxdomain for a name that does not exist", function()
      local r, msg, code, info = net.lookup("nope.securitystandard.org",
        world.auth)
      assert.is_nil(r)
      assert.equal("nxdomain", code)
      assert.equal("lookup nope.securitystandard.org at 127.0.0.2#"
        .. world.port .. ": no such name (NXDOMAIN)", msg)
      assert.equal("NXDOMAIN", info.rcode)
      assert.equal("127.0.0.2", info.server)
    end)

    it("returns nodata for a name without the type asked", function()
      local r, msg, code = net.lookup("hermes.securitystandard.org",
        { server = world.auth, type = "AAAA" })
      assert.is_nil(r)
      assert.equal("nodata", code)
      assert.equal("lookup hermes.securitystandard.org at 127.0.0.2#"
        .. world.port .. ": no AAAA record", msg)
    end)

    it("returns nodata with the chain for a CNAME to nothing", function()
      local r, msg, code, info = net.lookup("dangling.securitystandard.org",
        world.auth)
      assert.is_nil(r)
      assert.equal("nodata", code)
      assert.matches("no A or AAAA record", msg, 1, true)
      assert.equal("void.securitystandard.org", info.canonical)
      assert.same({}, info.addresses)
    end)

    it("returns refused when the server refuses", function()
      local r, msg, code = net.lookup("example.org", world.auth)
      assert.is_nil(r)
      assert.equal("refused", code)
      assert.equal("lookup example.org at 127.0.0.2#" .. world.port
        .. ": query refused (REFUSED)", msg)
    end)

    it("returns servfail for SERVFAIL and NOTIMP", function()
      local r, msg, code = net.lookup("servfail.test", fake.server)
      assert.is_nil(r)
      assert.equal("servfail", code)
      assert.matches("server failure (SERVFAIL)", msg, 1, true)
      r, msg, code = net.lookup("notimp.test", fake.server)
      assert.is_nil(r)
      assert.equal("servfail", code)
      assert.matches("NOTIMP", msg, 1, true)
    end)

    it("returns refused for a port where nothing listens", function()
      local port = T.free_port("udp", "127.0.0.1")
      local r, msg, code = net.lookup("gnomon.securitystandard.org",
        { server = "127.0.0.1:" .. port, timeout = 2 })
      assert.is_nil(r)
      assert.equal("refused", code)
      assert.equal("lookup gnomon.securitystandard.org at 127.0.0.1#" .. port
        .. ": connection refused", msg)
    end)

    it("times out on a server that never answers, within timeout x tries",
      function()
      local r, msg, code, info = net.lookup("silent.test",
        { server = fake.server, timeout = 0.3, tries = 2 })
      assert.is_nil(r)
      assert.equal("timeout", code)
      assert.equal("lookup silent.test at 127.0.0.1#" .. fake.port
        .. ": no answer in 0.6 s (2 tries)", msg)
      assert.equal(fake.port, info.server_port)
      -- an answer with a wrong id is not an answer
      r, msg, code = net.lookup("wrongid.test",
        { server = fake.server, timeout = 0.2, tries = 1 })
      assert.is_nil(r)
      assert.equal("timeout", code)
      -- the bound, in a child process: it must have ended long before 10 s
      local proc = T.spawn("exec lua5.4 -e " .. T.shquote(
        "package.cpath='" .. T.root .. "/build/lib/?.so;'..package.cpath "
        .. "local c=require'netbasics.core' "
        .. "print((select(3, c.lookup('silent.test', {server='"
        .. fake.server .. "', timeout=1, tries=3}))))"))
      finally(function() proc:stop() end)
      assert.equal(0, proc:wait(10))
      assert.equal("timeout\n", proc:out())
    end)

    it("reads bad answers as malformed, without crashing", function()
      for _, name in ipairs { "badlen", "short", "overrun", "ptrloop",
        "cnameloop", "garbage" } do
        local r, msg, code = net.lookup(name .. ".test",
          { server = fake.server, type = "A", timeout = 1 })
        assert.is_nil(r, name)
        assert.equal("malformed", code, name .. ": " .. tostring(msg))
        assert.matches("malformed answer", msg, 1, true)
      end
      local ok = assert(net.lookup("fine.test",
        { server = fake.server, type = "A" }))
      assert.same({ "192.0.2.1" }, ok.addresses)
    end)

    it("says a chain of 68 CNAMEs is too long, not a loop", function()
      local r, msg, code = net.lookup("cnamechain.test",
        { server = fake.server, type = "A", timeout = 2 })
      assert.is_nil(r)
      assert.equal("malformed", code, msg)
      assert.matches("malformed answer (a chain of more than 64 CNAMEs: "
        .. "too long)", msg, 1, true)
      r, msg = net.lookup("cnameloop.test",
        { server = fake.server, type = "A", timeout = 2 })
      assert.matches("(a CNAME loop)", msg, 1, true)
    end)

    it("refuses every malformed name before asking", function()
      local long_label = string.rep("a", 64) .. ".org"
      local long_name = string.rep("abcdefghi.", 25) .. "abcd"  -- 254 bytes
      local cases = {
        [""] = "is empty",
        ["."] = "is empty",
        [long_name] = "is longer than 253 bytes",
        [long_label] = "has a label longer than 63 bytes",
        ["a..b"] = "has an empty label",
        [".a.org"] = "has an empty label",
        ["a.org.."] = "has an empty label",
        ["a b.org"] = "contains a space",
        ["a\tb.org"] = "contains a control character",
        ["a\0b.org"] = "contains a control character",
        ["a\nb.org"] = "contains a control character",
        ["a/b.org"] = "contains a character other than letters",
        ["bücher.de"] = "has non-ASCII letters: write it in its punycode "
          .. "form (xn--...)",
        ["例え.jp"] = "punycode form (xn--...)",
      }
      assert.equal(254, #long_name)
      -- a port where nothing listens: a query would say "refused"
      local port = T.free_port("udp", "127.0.0.1")
      for name, why in pairs(cases) do
        local r, msg, code = net.lookup(name, "127.0.0.1:" .. port)
        assert.is_nil(r, name)
        assert.equal("malformed", code, name)
        assert.matches(why, msg, 1, true)
        assert.is_nil(msg:find("[%z\1-\31]"), "one printable line")
      end
      -- 253 bytes and 63-byte labels are fine
      assert.equal("malformed", select(3, net.lookup("1.2.3.4", world.auth)))
      local r, _, code = net.lookup(string.rep("a", 63) .. ".org", world.auth)
      assert.is_nil(r)
      assert.equal("refused", code)
      r, _, code = net.lookup(long_name:sub(2), world.auth)
      assert.is_nil(r)
      assert.equal("refused", code)
    end)

    it("refuses malformed server strings", function()
      for _, s in ipairs { "", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:99999", "127.1", "256.1.1.1", "1.2.3", "127.0.0.1:53:53",
        "[::1]", "[::1]:", "::1:53x", "[::1]:x", "127.0.0.1 :53",
        " 127.0.0.1", "localhost", "dns.example:53", "127.0.0.1:5a",
        "[127.0.0.1]:53", "1.2.3.4\0" } do
        local r, msg, code = net.lookup("gnomon.securitystandard.org",
          { server = s })
        if s == "[::1]" then
          -- an IPv6 address in brackets without a port is port 53
          assert.is_not_equal("malformed", code)
        else
          assert.is_nil(r, s)
          assert.equal("malformed", code, s)
          assert.matches("^server ", msg)
        end
      end
    end)

    it("takes IPv6 servers", function()
      local r, msg, code = net.lookup("gnomon.securitystandard.org",
        { server = "[::1]:" .. T.free_port("udp", "::1"), timeout = 1 })
      assert.is_nil(r)
      assert.equal("refused", code)
      assert.matches("at ::1#%d+: connection refused", msg)
    end)

    it("raises on misuse", function()
      assert.has_error(function() net.lookup() end)
      assert.has_error(function() net.lookup({}) end)
      assert.has_error(function() net.lookup("a.org", { servr = "x" }) end,
        "unknown option 'servr'")
      assert.has_error(function() net.lookup("a.org", { type = "MX" }) end)
      assert.has_error(function() net.lookup("a.org", { timeout = 0 }) end)
      assert.has_error(function() net.lookup("a.org", { timeout = "1" }) end)
      assert.has_error(function() net.lookup("a.org", { tries = 0 }) end)
      assert.has_error(function() net.lookup("a.org", { server = 53 }) end)
      assert.has_error(function() net.lookup("a.org", 5) end)
      assert.has_error(function() net.reverse("1.2.3.4", { type = "A" }) end)
    end)

    it("asks the system's first server by default", function()
      T.need_root()
      local ns = W.netns()
      finally(function() ns:stop() end)
      local r = ns:exec("cd " .. T.shquote(T.root) .. " && lua5.4 -e "
        .. T.shquote("package.path='lua/?.lua;lua/?/init.lua;'..package.path "
        .. "package.cpath='build/lib/?.so;'..package.cpath "
        .. "local net=require'netbasics' "
        .. "local r=assert(net.lookup('a1.securitystandard.org')) "
        .. "print(r.server, r.server_port, r.canonical, r.addresses[1]) "
        .. "print((select(3, net.lookup('nope.securitystandard.org')))) "
        .. "print(table.concat(net.resolve('gnomon.securitystandard.org'), ' ')) "
        .. "print(select(3, net.resolve('nope.securitystandard.org')))"))
      assert.equal("", r.err)
      assert.equal("127.0.0.1\t53\thermes.securitystandard.org\t"
        .. "185.172.165.184\nnxdomain\n185.172.165.184\nnxdomain\n", r.out)
    end)

    it("leaks nothing (valgrind): a lookup, a failed one, a timed-out one",
      function()
      local script = "package.path='lua/?.lua;lua/?/init.lua;'..package.path "
        .. "package.cpath='build/lib/?.so;'..package.cpath "
        .. "local net=require'netbasics' "
        .. "assert(net.lookup('a1.securitystandard.org','" .. world.auth .. "')) "
        .. "assert(not net.lookup('nope.securitystandard.org','"
        .. world.auth .. "')) "
        .. "assert(not net.lookup('cnameloop.test','" .. fake.server .. "')) "
        .. "assert(not net.lookup('overrun.test','" .. fake.server .. "')) "
        .. "assert(select(3, net.lookup('silent.test',{server='"
        .. fake.server .. "',timeout=0.2})) == 'timeout') "
        .. "assert(net.reverse('185.172.165.184','" .. world.auth .. "')) "
        .. "assert(net.resolve('localhost')) "
        .. "assert(not net.lookup('a..b')) print('ok')"
      local r = T.run("cd " .. T.shquote(T.root) .. " && valgrind -q "
        .. "--leak-check=full --show-leak-kinds=definite,indirect,possible "
        .. "--errors-for-leak-kinds=definite,indirect,possible "
        .. "--error-exitcode=99 lua5.4 -e " .. T.shquote(script))
      assert.equal("ok\n", r.out)
      assert.equal("", r.err)
      assert.equal(0, r.code)
    end)
  end)

  describe("net.reverse", function()
    it("finds the name of an IPv4 address", function()
      local names, info = assert(net.reverse("185.172.165.184", world.auth))
      assert.same({ "hermes.securitystandard.org" }, names)
      assert.equal("184.165.172.185.in-addr.arpa", info.name)
      assert.is_true(info.authoritative)
      names = assert(net.reverse("192.168.1.1", world.auth))
      assert.same({ "router.securitystandard.org" }, names)
    end)

    it("finds the name of an IPv6 address", function()
      local names, info = assert(net.reverse("2001:db8::6", world.auth))
      assert.same({ "six.securitystandard.org" }, names)
      assert.equal("6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
        .. "1.0.0.2.ip6.arpa", info.name)
    end)

    it("returns failures as nil, message, code", function()
      local r, msg, code = net.reverse("1.2.3.4", world.auth)
      assert.is_nil(r)
      assert.equal("refused", code)
      assert.equal("reverse lookup of 1.2.3.4 (4.3.2.1.in-addr.arpa) at "
        .. "127.0.0.2#" .. world.port .. ": query refused (REFUSED)", msg)
      for _, bad in ipairs { "", "1.2.3", "127.1", "01.2.3.4", "host.org",
        "::1::", "1.2.3.4 " } do
        r, msg, code = net.reverse(bad, world.auth)
        assert.is_nil(r)
        assert.equal("malformed", code, bad)
        assert.matches("is not an IP address", msg, 1, true)
      end
    end)
  end)

  describe("net.resolve", function()
    it("agrees with getent ahosts localhost, each address once", function()
      local r = T.run("getent ahosts localhost")
      local want, seen = {}, {}
      for addr in r.out:gmatch("(%S+)%s+STREAM") do
        if not seen[addr] then
          seen[addr] = true
          want[#want + 1] = addr
        end
      end
      assert.is_true(#want > 0)
      assert.same(want, net.resolve("localhost"))
    end)

    it("returns an address as it is, strictly parsed", function()
      assert.same({ "127.0.0.1" }, net.resolve("127.0.0.1"))
      assert.same({ "::1" }, net.resolve("0:0::1"))
      local r, msg, code = net.resolve("127.1")
      assert.is_nil(r)
      assert.equal("malformed", code)
      assert.matches("loose form", msg, 1, true)
      assert.equal("malformed", select(3, net.resolve("0x7f.0.0.1")))
    end)

    it("refuses malformed names", function()
      for _, bad in ipairs { "", "a..b", "a b", "bücher.de",
        string.rep("a", 64) } do
        local r, _, code = net.resolve(bad)
        assert.is_nil(r)
        assert.equal("malformed", code, bad)
      end
      assert.has_error(function() net.resolve() end)
    end)
  end)

  describe("net.hostname", function()
    it("is this computer's name", function()
      assert.equal(T.run("hostname").out, net.hostname() .. "\n")
    end)
  end)
end)
