-- Out of memory, every allocation in turn: the host runs a lesson with
-- NETBASICS_FAILALLOC=N for each N (spec/support/oomwalk.lua says what
-- a clean result is: a Lua memory error, no crash, no leak under
-- check-asan, no descriptor left open), one lesson-sized script per
-- family.
local T = require "nbtest"
local W = require "oomwalk"

local function expect_clean(args, input)
  local problems, runs, oom, total = W.walk(args, input)
  assert.same({}, problems)
  assert.is_true(runs >= 10, "only " .. runs .. " runs")
  -- most allocations are the script's: most runs end in the memory error
  assert.is_true(oom >= runs // 2, oom .. " of " .. runs .. " (total "
    .. total .. ")")
end

describe("out of memory", function()
  it("the count of a normal run is printed, and the run is unchanged",
     function()
    local n, r = W.count("isipandport")
    assert.is_true(n > 100)
    assert.equal(0, r.code)
    assert.equal(T.nb({ "isipandport" }).out, r.out)
  end)

  it("octet family: the octets lesson, each allocation failing in turn",
     function()
    expect_clean("octets", "255\n")
  end)

  it("validate family: the isipandport lesson", function()
    expect_clean("isipandport")
  end)

  it("validate family: the ask-ip-port exercise, which ends in os.exit",
     function()
    expect_clean("ask-ip-port", "1.2.3.4:80\n")
  end)

  it("octet family: cidr blocks, binary forms and classes from a script",
     function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    T.writefile(d .. "/cidr.lua", [[
      local net = require "netbasics"
      local c = assert(net.cidr("192.168.0.0/16"))
      print(c, c.size, c.first, c.last, c.broadcast, c:contains("192.168.1.1"))
      local v6 = assert(net.cidr("2001:db8::/32"))
      print(v6, v6.netmask, v6.size, v6:contains(net.cidr("2001:db8:1::/48")))
      for _, ip in ipairs { "185.172.165.184", "::ffff:10.0.0.1", "fe80::1" } do
        print(ip, net.normalize_ip(ip), net.classify(ip), net.ip_to_binary(ip))
      end
      print(net.frombinary("10111001"), net.tobinary(185), net.int_to_ip(3115103672))
      print(net.cidr("10.0.0.0/33"), net.parse_endpoint("[::1]:80").host)
    ]])
    expect_clean(T.shquote(d .. "/cidr.lua"))
  end)
end)
