-- The nslookup lesson against the real nslookup (bind9-dnsutils), both
-- asking the lesson's DNS world of docs/testing.md (dnsmasq on loopback, see
-- spec/support/dnsworld.lua): the same question must print the same bytes.
local T = require "nbtest"
local W = require "dnsworld"

-- dnsmasq rotates the records of a name with several addresses: sort each
-- run of Name:/Address: pairs (IPv4 before IPv6) so that outputs compare
local function normalize(out)
  local lines = {}
  for line in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local res, i = {}, 1
  while i <= #lines do
    if lines[i]:match("^Name:\t") and (lines[i + 1] or ""):match("^Address: ")
    then
      local run = {}
      while lines[i] and lines[i]:match("^Name:\t")
        and (lines[i + 1] or ""):match("^Address: ") do
        local addr = lines[i + 1]
        run[#run + 1] = (addr:find(":", 10, true) and "6" or "4")
          .. lines[i] .. "\n" .. addr
        i = i + 2
      end
      table.sort(run)
      for _, p in ipairs(run) do res[#res + 1] = p:sub(2) end
    else
      res[#res + 1] = lines[i]
      i = i + 1
    end
  end
  return table.concat(res, "\n") .. "\n"
end

local function lesson(...)
  return T.nb({ "names", ... })
end

-- nslookup NAME HOST with -port=PORT, for a server "HOST:PORT"
local function reference(name, server)
  local host, port = server:match("^(.*):(%d+)$")
  return T.run(string.format("nslookup -port=%s %s %s", port,
    T.shquote(name), T.shquote(host)))
end

describe("the names lesson", function()
  local world

  setup(function() world = W.start() end)
  teardown(function() if world then world:stop() end end)

  -- same output (addresses as sets) and, unless told, same exit code
  local function same(name, server, codes)
    if server == world.forwarder then
      -- the first question fills the forwarder's cache (with the AA flag
      -- of the authoritative answer); the two compared come from it
      reference(name, server)
    end
    local ref = reference(name, server)
    local got = lesson(name, server)
    assert.equal("", got.err)
    assert.equal(normalize(ref.out), normalize(got.out))
    assert.equal(codes and codes[1] or ref.code, got.code)
    if codes then assert.equal(codes[2], ref.code) end
    return got.out
  end

  it("prints the seed's answer from the forwarder's cache", function()
    -- the first question fills the forwarder's cache (its answer carries
    -- the authoritative server's AA flag); later ones come from the cache
    assert.equal(0, reference("gnomon.securitystandard.org",
      world.forwarder).code)
    local out = same("gnomon.securitystandard.org", world.forwarder)
    assert.equal("Server:\t\t127.0.0.1\n"
      .. "Address:\t127.0.0.1#" .. world.port .. "\n\n"
      .. "Non-authoritative answer:\n"
      .. "gnomon.securitystandard.org\tcanonical name = "
      .. "hermes.securitystandard.org.\n"
      .. "Name:\thermes.securitystandard.org\n"
      .. "Address: 185.172.165.184\n\n", out)
  end)

  it("prints the authoritative answer without the non-authoritative line",
    function()
    local out = same("gnomon.securitystandard.org", world.auth)
    assert.is_nil(out:find("Non-authoritative", 1, true))
    assert.matches("Address: 185.172.165.184\n", out, 1, true)
  end)

  it("prints several A and AAAA addresses", function()
    local out = same("multi.securitystandard.org", world.auth)
    for _, a in ipairs(W.ADDRESSES.multi) do
      assert.matches("Address: " .. a .. "\n", out, 1, true)
    end
    same("multi.securitystandard.org", world.forwarder)
    same("multi.securitystandard.org", world.forwarder)
  end)

  it("prints a CNAME chain two deep, one line each", function()
    local out = same("a1.securitystandard.org", world.auth)
    assert.matches("a1.securitystandard.org\tcanonical name = "
      .. "a2.securitystandard.org.\na2.securitystandard.org\tcanonical "
      .. "name = hermes.securitystandard.org.\nName:\thermes", out, 1, true)
    same("a1.securitystandard.org", world.forwarder)
  end)

  it("prints a name with only an AAAA address", function()
    same("six.securitystandard.org", world.auth)
  end)

  it("prints NXDOMAIN and exits 1", function()
    local out = same("nope.securitystandard.org", world.auth, { 1, 1 })
    assert.matches("** server can't find nope.securitystandard.org: "
      .. "NXDOMAIN\n\n", out, 1, true)
    same("nope.securitystandard.org", world.forwarder, { 1, 1 })
  end)

  it("prints REFUSED and exits 1", function()
    same("example.org", world.auth, { 1, 1 })
  end)

  it("prints a CNAME to a name that does not exist", function()
    local out = same("dangling.securitystandard.org", world.auth, { 1, 1 })
    assert.matches("** server can't find void.securitystandard.org: "
      .. "NXDOMAIN\n", out, 1, true)
  end)

  it("prints No answer for a name without addresses, and exits 1", function()
    -- nslookup exits 0 though it found nothing; the lesson says 1
    local out = same("txtonly.securitystandard.org", world.auth, { 1, 0 })
    assert.matches("*** Can't find txtonly.securitystandard.org: No answer\n",
      out, 1, true)
  end)

  it("asks the way back for an address", function()
    same("185.172.165.184", world.auth)
    same("192.168.1.1", world.forwarder)
    same("192.168.1.1", world.forwarder)
    same("2001:db8::6", world.auth)
    same("1.2.3.4", world.auth, { 1, 1 })
  end)

  it("says in one line that nothing answers, and exits 1", function()
    local port = T.free_port("udp", "127.0.0.1")
    local r = lesson("gnomon.securitystandard.org", "127.0.0.1:" .. port)
    assert.equal(";; lookup gnomon.securitystandard.org at 127.0.0.1#" .. port
      .. ": connection refused\n\n", r.out)
    assert.equal("", r.err)
    assert.equal(1, r.code)
    local fake = W.fake()
    finally(function() fake:stop() end)
    r = lesson("-timeout=0.5", "-retry=1", "silent.test", fake.server)
    assert.equal(";; lookup silent.test at 127.0.0.1#" .. fake.port
      .. ": no answer in 0.5 s (1 tries)\n\n", r.out)
    assert.equal(1, r.code)
    r = lesson("-timeout=0.5", "-retry=1", "cnameloop.test", fake.server)
    assert.matches("^;; lookup cnameloop.test at [^\n]*: malformed answer",
      r.out)
    assert.equal(1, r.code)
  end)

  it("says what is wrong with a name or a server, and its usage line, "
    .. "exit 2", function()
    local USAGE = "usage: netbasics names [-timeout=SECONDS] [-retry=TRIES] "
      .. "[NAME [SERVER[:PORT]]]\n"
    local cases = {
      { { "a..b", world.auth }, "NAME 'a..b': has an empty label" },
      { { "bücher.de", world.auth }, "NAME 'bücher.de': has non-ASCII "
        .. "letters: write it in its punycode form (xn--...)" },
      { { "a b", world.auth }, "NAME 'a b': contains a space" },
      { { "-5", world.auth }, "NAME '-5': has a label that starts or ends "
        .. "with '-'" },
      { { "12345", world.auth }, "NAME '12345': ends in a number: not a "
        .. "name, nor an IPv4 address (four numbers 0 to 255 with dots)" },
      { { "999.1.1.1", world.auth }, "NAME '999.1.1.1': ends in a number: "
        .. "not a name, nor an IPv4 address (four numbers 0 to 255 with "
        .. "dots)" },
      { { ("a"):rep(64) .. ".b", world.auth }, "NAME '" .. ("a"):rep(64)
        .. ".b': has a label longer than 63 characters" },
      { { "gnomon.securitystandard.org", "127.0.0.1:99999" },
        "SERVER[:PORT] '127.0.0.1:99999': ports go from 1 to 65535" },
      { { "gnomon.securitystandard.org", "127.0.0.1:0" },
        "SERVER[:PORT] '127.0.0.1:0': ports go from 1 to 65535" },
      { { "gnomon.securitystandard.org", "ns.example" },
        "SERVER[:PORT] 'ns.example': not an address with an optional port "
        .. "(127.0.0.1, 127.0.0.1:5353, [::1]:53)" },
      { { "", world.auth }, "NAME is empty" },
      { { "x", "" }, "SERVER[:PORT] is empty" },
      { { "-timeout=abc" }, "-timeout 'abc': a number of seconds above 0 "
        .. "and at most 3600" },
      { { "-timeout=-1" }, "-timeout '-1': a number of seconds above 0 "
        .. "and at most 3600" },
      { { "-retry=0" }, "-retry '0': a whole number from 1 to 10" },
      { { "-retry" }, "'-retry' needs a value: -retry=TRIES" },
      { { "-x" }, "unknown option '-x'" },
      { { "a", world.auth, "c" }, "too many arguments: 'c' is one more than "
        .. "it takes" },
    }
    for _, c in ipairs(cases) do
      local r = lesson(table.unpack(c[1]))
      assert.equal("", r.out)
      assert.equal("names: " .. c[2] .. "\n" .. USAGE, r.err)
      assert.equal(2, r.code)
    end
  end)

  it("asks the system's server by default, gnomon by default", function()
    T.need_root()
    local ns = W.netns()
    finally(function() ns:stop() end)
    for _, args in ipairs { {}, { "a1.securitystandard.org" },
      { "nope.securitystandard.org" } } do
      local name = args[1] or "gnomon.securitystandard.org"
      local got = ns:exec(T.shquote(T.host) .. " names " .. table.concat(
        args, " "))
      local ref = ns:exec("nslookup " .. name)
      assert.equal("", got.err)
      assert.equal(ref.out, got.out)
      assert.equal(ref.code, got.code)
      assert.matches("^Server:\t\t127.0.0.1\nAddress:\t127.0.0.1#53\n\n",
        got.out)
    end
  end)
  it("with no network at all says \"network unreachable\", as nslookup",
     function()
    T.need_root()
    local name = "nbnonet" .. T.pid()
    local etc = "/etc/netns/" .. name
    finally(function()
      os.execute("ip netns del " .. name .. " 2>/dev/null")
      os.execute("rm -rf " .. T.shquote(etc))
    end)
    assert.equal(0, T.run("ip netns add " .. name).code)
    assert.equal(0, T.run("mkdir -p " .. etc).code)
    -- a server no route leads to (no interface is up)
    T.writefile(etc .. "/resolv.conf", "nameserver 192.0.2.53\n")
    local function exec(cmd)
      return T.run("ip netns exec " .. name .. " sh -c " .. T.shquote(cmd))
    end
    local ref = exec("nslookup gnomon.securitystandard.org")
    assert.matches("network unreachable", ref.out)
    local got = exec(T.shquote(T.host) .. " names")
    assert.equal(ref.code, got.code)
    assert.equal(";; lookup gnomon.securitystandard.org at 192.0.2.53#53: "
      .. "network unreachable\n\n", got.out)
    got = exec(T.shquote(T.host) .. " -e " .. T.shquote(
      "local net = require 'netbasics' "
      .. "print((select(3, net.lookup('gnomon.securitystandard.org'))))"))
    assert.equal("unreachable\n", got.out)
  end)
end)

describe("scripts/dnsworld, the lesson's DNS world by hand", function()
  it("serves names the seed's answer on loopback, and Ctrl-C stops both "
    .. "servers", function()
    local port = T.free_port("udp")
    -- at a terminal, as a learner starts it
    local tm = require("tmux").open("scripts/dnsworld " .. port)
    finally(function() tm:close() end)
    tm:wait_for("Ctrl-C stops it")
    assert.truthy(T.until_true(function()
      local r = T.run("ss -Hnul 'sport = :" .. port .. "'")
      return r.out:find("127.0.0.1:" .. port, 1, true)
        and r.out:find("127.0.0.2:" .. port, 1, true)
    end, 10), tm:screen())
    local server = "127.0.0.1:" .. port
    -- the first answer fills the forwarder's cache; the second is the seed's
    local r = T.nb({ "names", "gnomon.securitystandard.org", server })
    assert.equal(0, r.code, r.err)
    r = T.nb({ "names", "gnomon.securitystandard.org", server })
    assert.equal("Server:\t\t127.0.0.1\nAddress:\t127.0.0.1#" .. port .. "\n\n"
      .. "Non-authoritative answer:\n"
      .. "gnomon.securitystandard.org\tcanonical name = "
      .. "hermes.securitystandard.org.\n"
      .. "Name:\thermes.securitystandard.org\nAddress: 185.172.165.184\n\n",
      r.out)
    tm:wait_for("names gnomon.securitystandard.org 127.0.0.1:" .. port)
    tm:keys("C-c")
    assert.equal(0, tm:status())
    assert.truthy(T.until_true(function() return not T.listening(port, "udp") end,
      10))
  end)

  it("refuses a bad port with its usage line, exit 2", function()
    for _, a in ipairs { "abc", "0", "70000", "-1", "", "53 54" } do
      local r = T.run("scripts/dnsworld " .. (a == "53 54" and a
        or T.shquote(a)))
      assert.equal(2, r.code, a)
      assert.matches("^usage: scripts/dnsworld %[PORT%]", r.err)
    end
    local r = T.run("scripts/dnsworld --help")
    assert.same({ 0, "" }, { r.code, r.err })
    assert.matches("^usage: scripts/dnsworld %[PORT%]", r.out)
  end)
end)
