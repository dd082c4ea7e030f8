-- The scheduler (docs/api/sched.md): tasks on the loop, real sockets on
-- loopback, a black hole in a network namespace for deadlines.
local T = require "nbtest"
local net = require "netbasics"
local serve_talk = require "talktasks"

-- a scheduler-based talk server on a free port: "You said <line>" to each
-- line of each client, every client a task. Returns the listener, port
-- and the accepting task.
local function talk_server()
  local l = assert(net.listen("127.0.0.1", 0, 512))
  local _, port = l:getsockname()
  return l, port, serve_talk(l)
end

-- a connected pair over loopback: client c and accepted a, closed (with
-- the listener) at the end of the test
local function pair()
  local l = assert(net.listen("127.0.0.1", 0))
  local _, port = l:getsockname()
  finally(function() l:close() end)
  local c = assert(net.connect("127.0.0.1", port))
  local a = assert(l:accept())
  finally(function() c:close() a:close() end)
  return c, a
end

describe("net.spawn and net.run", function()
  it("serve 200 concurrent clients, each sending 100 lines and checking "
    .. "every echo in order", function()
    local l, port, acceptor = talk_server()
    finally(function() acceptor:cancel() l:close() end)
    local clients = {}
    for i = 1, 200 do
      clients[i] = net.spawn(function()
        local c <close> = assert(net.connect("127.0.0.1", port))
        for k = 1, 100 do
          -- two lines in flight at times: send ahead, then read
          assert(c:sendall("client " .. i .. " line " .. k .. "\n"))
          local got = assert(c:recvline())
          if got ~= "You said client " .. i .. " line " .. k then
            error("client " .. i .. " got " .. got)
          end
        end
        return k == nil and i
      end)
    end
    local seen = 0
    local checker = net.spawn(function()
      for i = 1, 200 do
        local ok, v = clients[i]:join()
        assert(ok, v)
        assert.equal(i, v)
        seen = seen + 1
      end
      acceptor:cancel()
    end)
    net.run()
    assert.equal("done", checker:status())
    assert.equal(200, seen)
  end)

  it("run 100 tasks sleeping 0.5 s at once: all asleep together",
    function()
    local tasks, started, woke = {}, {}, {}
    for i = 1, 100 do
      tasks[i] = net.spawn(function()
        started[i] = net.now()
        net.sleep(0.5)
        woke[i] = net.now()
        return i
      end)
    end
    net.run()
    for i = 1, 100 do assert.same({ true, i }, { tasks[i]:join() }) end
    -- concurrency, not speed (whatever the machine's load): every task
    -- was asleep before the first one woke; in turn, none would be
    local last_start, first_wake = math.max(table.unpack(started)),
      math.min(table.unpack(woke))
    assert.is_true(last_start < first_wake)
    for i = 1, 100 do assert.is_true(woke[i] - started[i] >= 0.5) end
  end)

  it("report a failing task with its traceback; the others go on",
    function()
    local done = 0
    local bad = net.spawn(function() local x = nil; return x.field end)
    local good = {}
    for i = 1, 5 do
      good[i] = net.spawn(function() net.sleep(0.01 * i) done = done + 1 end)
    end
    net.run()
    assert.equal(5, done)
    local ok, msg, code = bad:join()
    assert.is_nil(ok)
    assert.equal("error", code)
    assert.matches("attempt to index a nil value", msg)
    assert.matches("stack traceback:", msg)
    assert.equal("failed", bad:status())
    -- in a separate process: the report on stderr
    local r = T.nb({ "-e", [[
      local net = require "netbasics"
      net.spawn(function() error("boom") end)
      net.spawn(function() net.sleep(0.05) print("still here") end)
      net.run()]] })
    assert.equal("still here\n", r.out)
    assert.matches("^netbasics: task failed: .-boom\nstack traceback:", r.err)
  end)

  it("cancel a task: the sockets it holds are closed, join says "
    .. "cancelled", function()
    local l, port, acceptor = talk_server()
    finally(function() acceptor:cancel() l:close() end)
    local held
    local t = net.spawn(function()
      held = assert(net.connect("127.0.0.1", port))
      held:recvline()  -- waits forever: nobody says anything
    end)
    local canceller = net.spawn(function()
      net.sleep(0.05)
      assert.equal("waiting", t:status())
      assert.is_true(t:cancel())
      acceptor:cancel()
    end)
    net.run()
    assert.equal("done", canceller:status())
    assert.equal("netbasics.socket (closed)", tostring(held))
    assert.same({ nil, "task cancelled", "cancelled" }, { t:join() })
    assert.is_false(t:cancel())
  end)

  it("wake a task whose socket another task closes: nil, msg, 'closed'",
    function()
    local l, port, acceptor = talk_server()
    finally(function() acceptor:cancel() l:close() end)
    local c = assert(net.connect("127.0.0.1", port))
    local reader = net.spawn(function() return c:recvline() end)
    net.spawn(function() net.sleep(0.05) c:close() acceptor:cancel() end)
    net.run()
    assert.same({ true, nil, "socket closed while waiting", "closed" },
      { reader:join() })
  end)

  it("wake a task whose socket is closed after its data arrived and "
    .. "before it ran: nil, msg, 'closed'", function()
    local c, a = pair()
    local reader = net.spawn(function() return c:recvline() end)
    net.spawn(function()
      net.sleep(0.02)          -- the reader waits in recvline
      assert(a:sendall("hi\n"))
      coroutine.yield()        -- queued before the reader's event
      c:close()
    end)
    net.run()
    assert.same({ true, nil, "socket closed while waiting", "closed" },
      { reader:join() })
  end)

  it("bound task:join by net.deadline", function()
    local slow = net.spawn(function() net.sleep(5) return "late" end)
    local t = net.spawn(function()
      local r = table.pack(net.deadline(0.05, slow.join, slow))
      slow:cancel()
      return table.unpack(r, 1, r.n)
    end)
    net.run()
    assert.same({ true, nil, "join: deadline reached", "timeout" },
      { t:join() })
    assert.same({ nil, "task cancelled", "cancelled" }, { slow:join() })
  end)

  it("answer lines sent ahead (pipelining) in order, also when the task "
    .. "closes, sleeps or waits elsewhere right after", function()
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    finally(function() l:close() end)
    local other = assert(net.listen("127.0.0.1", 0))
    local _, oport = other:getsockname()
    finally(function() other:close() end)
    local server = net.spawn(function()
      local s = assert(l:accept())
      while true do
        local line = assert(s:recvline())
        if line == "bye" then break end
        assert(s:sendall("You said " .. line .. "\n"))
        if line == "nap" then net.sleep(0.05) end
        if line == "elsewhere" then
          local o = assert(other:accept())   -- waits on another socket
          o:close()
        end
      end
      s:close()
    end)
    local got
    net.spawn(function()
      local c <close> = assert(net.connect("127.0.0.1", port))
      local lines = {}
      for k = 1, 500 do lines[k] = "line " .. k end
      lines[#lines + 1] = "nap"
      lines[#lines + 1] = "elsewhere"
      lines[#lines + 1] = "x"
      lines[#lines + 1] = "bye"
      assert(c:sendall(table.concat(lines, "\n") .. "\n"))
      local r = {}
      for k = 1, 502 do
        r[k] = assert(c:recvline())
        -- the answer to "elsewhere" came before anyone connected there
        if k == 502 then net.connect("127.0.0.1", oport):close() end
      end
      r[503] = assert(c:recvline())
      r[504] = select(3, c:recvline())
      got = r
    end)
    net.run()
    assert.equal("done", server:status())
    for k = 1, 500 do assert.equal("You said line " .. k, got[k]) end
    assert.same({ "You said nap", "You said elsewhere", "You said x",
      "closed" }, { got[501], got[502], got[503], got[504] })
  end)

  it("write waits on the loop for a slow reader: joined and piece by "
    .. "piece, every byte in order", function()
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    finally(function() l:close() end)
    -- what the writer sends: big pieces (more than 64 KiB in all: piece
    -- by piece), then many small joined writes, each maybe waiting
    local big = {}
    for i = 1, 3 do big[i] = string.char(96 + i):rep(300000 + i) end
    local want = { table.concat(big) }
    local pad = ("."):rep(90)
    for k = 1, 2000 do want[#want + 1] = "line " .. k .. pad .. "\n" end
    want = table.concat(want)
    -- the reader counts its reads: reads during a write mean the writer
    -- waited on the loop inside it
    local reads, waited = 0, {}
    local writer = net.spawn(function()
      local s = assert(l:accept())
      assert(s:setoption("sndbuf", 4096))
      local r = reads
      assert.equal(s, s:write(big[1], big[2], big[3]))
      waited.big = reads > r
      r = reads
      for k = 1, 2000 do assert(s:write("line ", k, pad, "\n")) end
      waited.small = reads > r
      s:close()
    end)
    local got = {}
    net.spawn(function()
      local c <close> = assert(net.connect("127.0.0.1", port))
      assert(c:setoption("rcvbuf", 4096))
      while true do
        local data = assert(c:recv(8192))
        if data == "" then break end
        got[#got + 1] = data
        reads = reads + 1
        if reads % 8 == 0 then net.sleep(0.001) end  -- a slow reader
      end
    end)
    net.run()
    assert.equal("done", writer:status())
    got = table.concat(got)
    assert.equal(#want, #got)
    assert.is_true(want == got, "the bytes differ")
    assert.same({ big = true, small = true }, waited)
  end)

  it("serve with lines and write: a client's lines, answered in order, "
    .. "until it closes", function()
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    finally(function() l:close() end)
    local count = 0
    local server = net.spawn(function()
      local s <close> = assert(l:accept())
      for line in s:lines() do
        count = count + 1
        assert(s:write("You said ", line, "\n"))
      end
    end)
    local got = {}
    net.spawn(function()
      local c <close> = assert(net.connect("127.0.0.1", port))
      for k = 1, 50 do
        assert(c:sendall("a\nb" .. k .. "\r\n"))
        got[#got + 1] = assert(c:recvline())
        got[#got + 1] = assert(c:recvline())
      end
      c:shutdown("write")
      got[#got + 1] = select(3, c:recvline())
    end)
    net.run()
    assert.equal("done", server:status())
    assert.equal(100, count)
    assert.equal(101, #got)
    for k = 1, 50 do
      assert.equal("You said a", got[2 * k - 1])
      assert.equal("You said b" .. k, got[2 * k])
    end
    assert.equal("closed", got[101])
  end)

  it("end a lines loop quietly when another task closes its socket",
    function()
      local c, a = pair()
      local got = {}
      local reader = net.spawn(function()
        for line in a:lines() do got[#got + 1] = line end
        return "loop ended"
      end)
      net.spawn(function()
        assert(c:sendall("one\n"))
        net.sleep(0.05)  -- the reader has "one" and waits for more
        a:close()
      end)
      net.run()
      assert.same({ true, "loop ended" }, { reader:join() })
      assert.same({ "one" }, got)
    end)

  it("refuse a second task waiting on a socket the same way: 'busy', "
    .. "the first still gets its line", function()
    local c, a = pair()
    local first = net.spawn(function() return a:recvline() end)
    local second, third
    net.spawn(function()
      net.sleep(0.02)  -- the first waits in recvline by now
      second = { a:recv(10) }
      third = { net.select({ a }, nil, 1) }
      assert(c:sendall("for the first\n"))
    end)
    net.run()
    assert.same({ true, "for the first" }, { first:join() })
    assert.same({ nil, "recv from 127.0.0.1:" .. select(2, c:getsockname())
      .. ": another task is waiting on this socket", "busy" }, second)
    assert.same({ nil, "select: another task is waiting on this socket",
      "busy" }, third)
  end)

  it("wait in net.select on the loop: others run, its timeout and "
    .. "net.deadline hold", function()
    local c, a = pair()
    local order = {}
    local sel = net.spawn(function()
      local r, w, err = net.select({ c }, nil, 5)
      order[#order + 1] = "selected"
      local r2, _, err2 = net.select({ c, a }, {}, 0.05)
      local r3, _, err3 = net.deadline(0.05, net.select, { a })
      return #r, r[1] == c, r[c], err, #w, #r2, err2, #r3, err3
    end)
    net.spawn(function()
      order[#order + 1] = "other ran"
      net.sleep(0.02)
      assert(a:sendall("hi\n"))
    end)
    net.run()
    assert.same({ "other ran", "selected" }, order)
    -- c is still readable (nobody read "hi"); a has nothing
    assert.same({ true, 1, true, true, nil, 0, 1, nil, 0, "timeout" },
      { sel:join() })
  end)

  it("work the same outside a task: blocking calls with their timeouts",
    function()
    local c, a = pair()
    c:settimeout(0.1)
    local ok, msg, code = c:recvline()
    assert.same({ nil, "timeout" }, { ok, code })
    assert(a:sendall("hi\n"))
    assert.equal("hi", c:recvline())
  end)
end)

describe("a task that fails or cancels itself", function()
  -- as a plain Lua error closes them on its way out; a coroutine that
  -- failed would keep them open until collected
  it("closes its to-be-closed variables, its socket among them", function()
    local closed = {}
    local function closer(name)
      return setmetatable({}, { __close = function()
        closed[#closed + 1] = name
      end })
    end
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    local c = assert(net.connect("127.0.0.1", port))
    local a = assert(l:accept())
    local failing = net.spawn(function()
      local x <close> = closer("failing")
      local s <close> = a
      net.sleep(0.01)
      error("boom")
    end)
    local quitting = net.spawn(function()
      local y <close> = closer("quitting")
      net.sleep(0.02)
      net.current():cancel()
    end)
    net.run()
    assert.same({ "failing", "quitting" }, closed)
    assert.equal("netbasics.socket (closed)", tostring(a))
    assert.equal("", c:recv(10))  -- the peer sees the end at once
    assert.same({ nil, "task cancelled", "cancelled" }, { quitting:join() })
    assert.matches("boom", select(2, failing:join()))
    c:close() l:close()
  end)
end)

describe("net.deadline", function()
  it("cuts a slow recv: the waiting call gets nil, msg, 'timeout'",
    function()
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    finally(function() l:close() end)
    local t0 = net.now()
    local t = net.spawn(function()
      return net.deadline(0.3, function()
        local c <close> = assert(net.connect("127.0.0.1", port))
        return c:recv()   -- the peer is accepted by nobody, says nothing
      end)
    end)
    local other = net.spawn(function() net.sleep(0.05) return "ran" end)
    net.run()
    local ok, data, msg, code = t:join()
    assert.is_true(ok)
    assert.is_nil(data)
    assert.equal("timeout", code)
    assert.matches("^recv from 127%.0%.0%.1:%d+: timed out$", msg)
    assert.same({ true, "ran" }, { other:join() })
    assert.is_true(net.now() - t0 >= 0.3)
  end)

  it("runs its function as a task when called outside one", function()
    assert.same({ nil, "sleep: deadline reached", "timeout" },
      { net.deadline(0.05, net.sleep, 5) })
    assert.equal(7, net.deadline(1, function() return 7 end))
  end)

  it("cuts a connect to a black-holed address (a namespace with no "
    .. "route out)", function()
    T.need_root("the black-hole deadline test")
    local ns = "nbsched" .. T.pid()
    finally(function() os.execute("ip netns del " .. ns .. " 2>/dev/null") end)
    for _, cmd in ipairs({ "ip netns add " .. ns,
      "ip -n " .. ns .. " link set lo up",
      "ip -n " .. ns .. " link add d0 type veth peer name d1",
      "ip -n " .. ns .. " addr add 10.66.0.1/24 dev d0",
      "ip -n " .. ns .. " link set d0 up" }) do
      assert.equal(0, T.run(cmd).code, cmd)
    end
    -- d0's peer is down: nothing answers for 10.66.0.9, the SYN is lost
    local r = T.run("ip netns exec " .. ns .. " " .. T.host .. " -e "
      .. T.shquote([[
        local net = require "netbasics"
        local t0 = net.now()
        local t = net.spawn(function()
          return net.deadline(0.4, net.connect, "10.66.0.9", 9087)
        end)
        local ticks = 0
        net.spawn(function()
          for i = 1, 5 do net.sleep(0.02) ticks = ticks + 1 end
        end)
        net.run()
        local ok, s, msg, code = t:join()
        print(ok, s, msg, code, ticks, net.now() - t0 < 3)]]))
    assert.equal("true\tnil\tconnect to 10.66.0.9:9087: timed out\ttimeout"
      .. "\t5\ttrue\n", r.out, r.err)
  end)
end)

describe("the loop", function()
  it("holds 1,000 idle connections in one server (memory per connection "
    .. "reported)", function()
    local r = T.run("ulimit -n 4096 && " .. T.host .. " -e " .. T.shquote([[
      local net = require "netbasics"
      local function rss()
        for l in io.lines("/proc/self/status") do
          local kb = l:match("^VmRSS:%s+(%d+)")
          if kb then return tonumber(kb) end
        end
      end
      local l = assert(net.listen("127.0.0.1", 0, 1024))
      local _, port = l:getsockname()
      local N, served, clients = 1000, 0, {}
      collectgarbage() collectgarbage()
      local before = rss()
      net.spawn(function()
        for i = 1, N do
          local c = assert(l:accept())
          served = served + 1
          net.spawn(function(s) s:recvline() s:close() end, c)
        end
      end)
      for i = 1, N do
        clients[i] = assert(net.connect("127.0.0.1", port))
      end
      net.spawn(function()
        while served < N do net.sleep(0.01) end
        net.sleep(0.05)   -- every server task waits in recvline
        net.stop()
      end)
      net.run()
      collectgarbage() collectgarbage()
      local after = rss()
      -- both ends live in this process: a client socket and a server task
      -- with its socket per connection
      print(served, string.format("%.1f", (after - before) / N))
      for i = 1, N do clients[i]:close() end
      net.run()   -- every server task sees the end of its stream]]))
    assert.equal(0, r.code, r.err)
    local served, kib = r.out:match("^(%d+)\t([%d.]+)\n$")
    assert.equal("1000", served, r.out .. r.err)
    io.stderr:write(string.format("\n[sched] memory per idle connection "
      .. "(client socket + server task and socket): %s KiB\n", kib))
  end)
end)

describe("Ctrl-C in the host", function()
  it("stops net.run(), closes every socket the tasks held, exits 130",
    function()
    local dir = T.tmpdir()
    local port = T.free_port("tcp", "127.0.0.1")
    local script = dir .. "/serve.lua"
    T.writefile(script, [[
local net = require "netbasics"
local l = assert(net.listen("127.0.0.1", ]] .. port .. [[))
net.spawn(function()
  while true do
    local c = assert(l:accept())
    net.spawn(function(s)
      io.stdout:write("accepted\n") io.stdout:flush()
      while s:recvline() do end
    end, c)
  end
end)
net.run()
]])
    local proc = T.spawn("exec " .. T.shquote(T.host) .. " " .. script)
    finally(function() proc:stop() T.rmtree(dir) end)
    assert.truthy(T.wait_port(port, 10))
    local c = assert(net.connect("127.0.0.1", port))
    finally(function() c:close() end)
    assert.truthy(T.until_true(function()
      return proc:out() == "accepted\n"
    end, 10))
    proc:kill("INT")
    assert.equal(130, proc:wait(10))
    -- the client's connection was closed, the listener too
    c:settimeout(5)
    assert.same({ nil, "closed" }, { c:recvline(), (select(3, c:recvline())) })
    assert.is_falsy(T.listening(port))
    local again = assert(net.listen("127.0.0.1", port))
    again:close()
  end)
end)

describe("lookups in tasks", function()
  local W = require "dnsworld"
  local world, fake

  -- the sockets this process holds (c-ares' are closed when done)
  local function sockets()
    local p = io.popen("ls -l /proc/" .. T.pid() .. "/fd")
    local n = 0
    for line in p:lines() do
      if line:find("socket:[", 1, true) then n = n + 1 end
    end
    p:close()
    return n
  end

  setup(function()
    world = W.start()
    fake = W.fake()
  end)

  teardown(function()
    if world then world:stop() end
    if fake then fake:stop() end
  end)

  it("run 50 lookups and reverse lookups at once against dnsmasq, each "
    .. "right", function()
    local fds = sockets()
    local tasks = {}
    for i = 1, 50 do
      tasks[i] = net.spawn(function()
        if i % 2 == 0 then
          local r = assert(net.lookup(i % 4 == 0 and "gnomon.securitystandard.org"
            or "multi.securitystandard.org", { server = world.auth }))
          return r.canonical, #r.addresses
        end
        return (assert(net.reverse("192.168.1.1", { server = world.auth })))[1]
      end)
    end
    net.run()
    for i = 1, 50 do
      local ok, a, b = tasks[i]:join()
      assert.is_true(ok, a)
      if i % 4 == 0 then
        assert.same({ "hermes.securitystandard.org", 1 }, { a, b })
      elseif i % 2 == 0 then
        assert.same({ "multi.securitystandard.org", 5 }, { a, b })
      else
        assert.equal("router.securitystandard.org", a)
      end
    end
    assert.equal(fds, sockets())
  end)

  it("wait on the loop: 50 lookups of a silent server are all waiting at "
    .. "once while other tasks run; net.deadline cuts one", function()
    local fds = sockets()
    local inflight, most, ticks = 0, 0, 0
    local tasks = {}
    for i = 1, 50 do
      tasks[i] = net.spawn(function()
        inflight = inflight + 1
        if inflight > most then most = inflight end
        local r, msg, code = net.lookup("silent.test",
          { server = fake.server, timeout = 0.3, tries = 1 })
        inflight = inflight - 1
        return r, msg, code
      end)
    end
    net.spawn(function()
      repeat
        net.sleep(0.01)
        ticks = ticks + 1
      until inflight == 0
    end)
    local cut = net.spawn(function()
      return net.deadline(0.05, net.lookup, "silent.test",
        { server = fake.server, timeout = 5, tries = 1 })
    end)
    net.run()
    assert.equal(50, most)
    assert.is_true(ticks > 1)
    for i = 1, 50 do
      assert.same({ true, nil, "lookup silent.test at 127.0.0.1#" .. fake.port
        .. ": no answer in 0.3 s (1 tries)", "timeout" },
        { tasks[i]:join() })
    end
    local ok, r, msg, code = cut:join()
    assert.same({ true, nil, "timeout" }, { ok, r, code })
    assert.matches("^lookup silent%.test at ", msg)
    assert.equal(fds, sockets())
  end)
end)

describe("downloads in tasks", function()
  local W = require "webserver"
  local web
  local DATA = string.rep("0123456789abcdef", 128)   -- 2 KiB

  setup(function()
    web = W.nginx { files = { ["data.bin"] = DATA }, rate = "2k" }
  end)

  teardown(function()
    if web then web:stop() end
  end)

  it("run 20 fetches of a slow location at once, all waiting together "
    .. "while other tasks run; a download; net.deadline cuts one",
    function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local inflight, most, ticks = 0, 0, 0
    local tasks = {}
    for i = 1, 20 do
      tasks[i] = net.spawn(function()
        inflight = inflight + 1
        if inflight > most then most = inflight end
        local r, msg, code
        if i == 20 then
          r, msg, code = net.download(web:url("/slow/data.bin"),
            dir .. "/data.bin")
        else
          r, msg, code = net.fetch(web:url("/slow/data.bin"))
        end
        inflight = inflight - 1
        assert(r, msg)
        return r.status, r.body or T.slurp(r.path)
      end)
    end
    net.spawn(function()
      repeat
        net.sleep(0.02)
        ticks = ticks + 1
      until inflight == 0
    end)
    local cut = net.spawn(function()
      return net.deadline(0.2, net.fetch, web:url("/slow/data.bin"))
    end)
    net.run()
    assert.equal(20, most)
    assert.is_true(ticks > 1)
    for i = 1, 20 do
      assert.same({ true, 200, DATA }, { tasks[i]:join() })
    end
    local ok, r, msg, code = cut:join()
    assert.same({ true, nil, "timeout" }, { ok, r, code })
    assert.equal("fetch " .. web:url("/slow/data.bin")
      .. ": deadline reached", msg)
  end)
end)

describe("answers held back in a task", function()
  it("go out while a partial line waits for the rest of it", function()
    local c, a = pair()
    local got = {}
    net.spawn(function()
      for line in a:lines() do a:write("You said ", line, "\n") end
    end)
    net.spawn(function()
      c:settimeout(5)
      assert(c:sendall("one\ntwo\nthr"))
      got[1], got[2] = c:recvline(), c:recvline()  -- before "ee\n" is sent
      assert(c:sendall("ee\n"))
      got[3] = c:recvline()
      c:close()
    end)
    net.run()
    assert.same({ "You said one", "You said two", "You said three" }, got)
  end)

  -- a client sends many lines and reads nothing for a while; the task
  -- answers a fixed number of them and ends without closing its socket,
  -- with the kernel's buffers full and answers held back: they must all
  -- arrive once the client reads (nothing is lost at release), and input
  -- the task never read must not turn the end into a reset. The task ends
  -- only once the client's kernel has everything acknowledged (its send
  -- queue empty, a file says so): so the unread tail is there at release
  -- whatever the machine's speed, and nothing arrives after it
  it("reach a slow reader after the task ended without closing", function()
    local N = 60000
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    local d = T.tmpdir()
    local sent = d .. "/sent"
    local client = T.spawn("python3 -c " .. T.shquote([[
import fcntl, socket, struct, sys, termios, threading, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
line = b"x" * 200 + b"\n"
def send():
    # the extra lines and the tail are never read: unread input at release
    s.sendall(line * (int(sys.argv[2]) + 50) + b"y" * 100)
    while struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, b"\0" * 4))[0]:
        time.sleep(0.01)
    open(sys.argv[3], "w").close()
threading.Thread(target=send, daemon=True).start()
time.sleep(1.5)
data = b""
while True:
    b = s.recv(1 << 16)
    if not b: break
    data += b
print(data.count(b"You said "))
]]) .. " " .. port .. " " .. N .. " " .. sent)
    finally(function() client:stop() l:close() T.rmtree(d) end)
    net.spawn(function()
      local c = assert(l:accept())
      for _ = 1, N do
        local line = assert(c:recvline())
        assert(c:sendall("You said " .. line .. "\n"))
      end
      -- every byte the client sent is here (bounded wait)
      local f
      for _ = 1, 3000 do
        f = io.open(sent)
        if f then break end
        net.sleep(0.01)
      end
      assert(f, "the client's tail never arrived"):close()
      -- ends here, c still open: released by the loop or the collector
    end)
    net.run()
    collectgarbage()
    collectgarbage()
    assert.equal(0, client:wait(30), client:err())
    assert.equal(N .. "\n", client:out())
  end)
end)
