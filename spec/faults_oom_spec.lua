-- Out of memory, every allocation in turn: the host runs a lesson with
-- NETBASICS_FAILALLOC=N for each N (spec/support/oomwalk.lua says what
-- a clean result is: a Lua memory error, no crash, no leak under
-- check-asan, no descriptor left open), one lesson-sized script per
-- family.
local T = require "nbtest"
local W = require "oomwalk"

local function expect_clean(args, input, opts)
  local problems, runs, oom, total = W.walk(args, input, opts)
  assert.same({}, problems)
  assert.is_true(runs >= 5, "only " .. runs .. " runs")
  -- most allocations are the script's: most runs end in the memory error
  assert.is_true(oom >= runs // 2, oom .. " of " .. runs .. " (total "
    .. total .. ")")
end

-- the same for C's allocations (ours, libcurl's, c-ares')
local function expect_clean_c(args, input, opts)
  local problems, runs, failed, total = W.cwalk(args, input, opts)
  assert.same({}, problems)
  -- every request, and one past the last (or a sample of them)
  assert.is_true(runs >= math.min(total + 1, 5), "only " .. runs .. " runs")
  assert.is_true(failed >= 1, "no run of " .. runs .. " ended in an "
    .. "error (total " .. total .. ")")
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

  it("validate family: the isipandport lesson (and every allocation of "
     .. "the start-up all scripts share)", function()
    expect_clean("isipandport", nil, { full = true })
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

  it("socket family: a talk over loopback, server and client in one script",
     function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    T.writefile(d .. "/talk.lua", [[
      local net = require "netbasics"
      local server <close> = assert(net.listen("127.0.0.1", 0))
      local _, port = server:getsockname()
      local client <close> = assert(net.connect("127.0.0.1", port, 5))
      local conn <close> = assert(server:accept())
      assert(client:sendall("hello\nbye\n"))
      for _ = 1, 2 do
        local line = assert(conn:recvline())
        assert(conn:sendall("You said " .. line .. "\n"))
      end
      conn:shutdown("write")
      print(client:recvline(), client:recv(100))
      local u = assert(net.socket(net.AF_INET, net.SOCK_DGRAM))
      assert(u:bind("127.0.0.1", 0))
      local _, uport = u:getsockname()
      assert(u:sendto("ping", "127.0.0.1", uport))
      local data, from = u:recvfrom(10)
      print(data, from)  -- (not the port: it differs from run to run)
      -- (not net.connections(): what it allocates depends on every
      -- socket of the machine, so the walk would have no fixed length)
      print(net.select({ conn }, {}, 0))
      u:close()
    ]])
    expect_clean(T.shquote(d .. "/talk.lua"))
    expect_clean_c(T.shquote(d .. "/talk.lua"))
  end)

  it("the loop: tasks talking over loopback, a sleep and a join",
     function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    T.writefile(d .. "/tasks.lua", [[
      local net = require "netbasics"
      local l = assert(net.listen("127.0.0.1", 0))
      local _, port = l:getsockname()
      -- (<close>: a task that fails closes its socket, so that the
      -- client hears of it at once)
      local server = net.spawn(function()
        local ls <close> = l
        for _ = 1, 3 do
          net.spawn(function(c)
            local cs <close> = c
            for line in function() return cs:recvline() end do
              assert(cs:sendall("You said " .. line .. "\n"))
            end
          end, assert(ls:accept()))
        end
        return "served 3"
      end)
      local clients = {}
      for i = 1, 3 do
        -- (bounded: a server task that failed answers nobody)
        clients[i] = net.spawn(net.deadline, 3, function()
          net.sleep(0.01 * i)
          local c <close> = assert(net.connect("127.0.0.1", port))
          assert(c:sendall("hello\nbye\n"))
          return c:recvline() .. " / " .. c:recvline()
        end)
      end
      net.spawn(function()
        for i = 1, 3 do  -- (a failure: its first line)
          local ok, r = clients[i]:join()
          print(ok, (tostring(r):gsub("\n.*", "")))
        end
        l:close()
      end)
      net.run()
      local ok, r = server:join()
      print(ok, (tostring(r):gsub("\n.*", "")))
    ]])
    expect_clean(T.shquote(d .. "/tasks.lua"))
    expect_clean_c(T.shquote(d .. "/tasks.lua"))
  end)

  it("resolve family: the system resolver, a lookup that is refused, "
     .. "reverse names", function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    local port = T.free_port("udp")
    T.writefile(d .. "/names.lua", ([[
      local net = require "netbasics"
      print(net.hostname(), #assert(net.resolve("localhost")))
      print(net.lookup("gnomon.securitystandard.org",
        { server = "127.0.0.1:%d", timeout = 0.2, tries = 1 }))
      print(net.reverse("127.0.0.1",
        { server = "127.0.0.1:%d", timeout = 0.2, tries = 1 }))
      print(net.lookup("a..b"), net.resolve("127.1"))
    ]]):format(port, port))
    expect_clean(T.shquote(d .. "/names.lua"))
    expect_clean_c(T.shquote(d .. "/names.lua"))
  end)

  it("fetch family: a fetch and a download from a local server, no "
     .. "temporary file left", function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    os.execute("mkdir " .. d .. "/www " .. d .. "/out")
    T.writefile(d .. "/www/page.html", string.rep("<p>netbasics</p>\n", 500))
    local port = T.free_port()
    local web = T.spawn(("exec python3 -m http.server --bind 127.0.0.1 "
      .. "--directory %s %d"):format(T.shquote(d .. "/www"), port))
    finally(function() web:stop() end)
    assert(T.wait_port(port), "http.server did not start")
    T.writefile(d .. "/get.lua", ([[
      local net = require "netbasics"
      local url = "http://127.0.0.1:%d/page.html"
      local r = assert(net.fetch(url))
      print(r.status, #r.body)
      print(assert(net.download(url, %q)).bytes)
      print(net.download("http://127.0.0.1:%d/missing", %q))
    ]]):format(port, d .. "/out/copy.html", port, d .. "/out/missing"))
    expect_clean(T.shquote(d .. "/get.lua"))
    -- whatever allocation failed, no temporary file stayed behind
    local left = T.run("ls -A " .. T.shquote(d .. "/out")).out
    assert.is_true(left == "" or left == "copy.html\n", left)
    -- and C's, one at a time: after each run, nothing but the copy
    expect_clean_c(T.shquote(d .. "/get.lua"), nil, { after = string.format(
      "ls -A %s | grep -vx copy.html | sed 's/^/left behind: /' >>\"$ERR\"",
      T.shquote(d .. "/out")) })
  end)
end)
