-- The scheduler (docs/api/sched.md): tasks on the loop, real sockets on
-- loopback, a black hole in a network namespace for deadlines.
local T = require "nbtest"
local net = require "netbasics"

-- a scheduler-based talk server on a free port: "You said <line>" to each
-- line of each client, every client a task. Returns the listener, port
-- and the accepting task.
local function talk_server()
  local l = assert(net.listen("127.0.0.1", 0, 512))
  local _, port = l:getsockname()
  local acceptor = net.spawn(function()
    while true do
      local c = l:accept()
      if not c then return end
      net.spawn(function(s)
        while true do
          local line = s:recvline()
          if not line then break end
          if not s:sendall("You said " .. line .. "\n") then break end
        end
        s:close()
      end, c)
    end
  end)
  return l, port, acceptor
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

  it("run 100 tasks sleeping 0.5 s at once: well under 1.5 s in all",
    function()
    local t0 = net.now()
    local tasks = {}
    for i = 1, 100 do
      tasks[i] = net.spawn(function() net.sleep(0.5) return i end)
    end
    net.run()
    local took = net.now() - t0
    for i = 1, 100 do assert.same({ true, i }, { tasks[i]:join() }) end
    -- concurrency, not speed: 100 sleeps in turn would take 50 s
    assert.is_true(took >= 0.5 and took < 1.5, "took " .. took)
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

  it("work the same outside a task: blocking calls with their timeouts",
    function()
    local l = assert(net.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    finally(function() l:close() end)
    local c = assert(net.connect("127.0.0.1", port))
    local a = assert(l:accept())
    c:settimeout(0.1)
    local ok, msg, code = c:recvline()
    assert.same({ nil, "timeout" }, { ok, code })
    assert(a:sendall("hi\n"))
    assert.equal("hi", c:recvline())
    a:close()
    c:close()
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
