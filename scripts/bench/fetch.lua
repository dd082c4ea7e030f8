-- scripts/bench/fetch.lua: net.download and net.fetch beside curl (the C
-- reference), Python's urllib, LuaSocket's socket.http and lua-http (on
-- cqueues), all from nginx on loopback (spec/support/webserver.lua; nginx
-- on the server CPU, the clients on the other), in interleaved rounds.
-- Rows: see lib.lua.
--   1 GiB to a file   curl -o FILE; net.download; Python urllib reading
--                     64 KiB blocks into a file; LuaSocket http.request
--                     with an ltn12 file sink; lua-http
--                     stream:save_body_to_file
--   100 MiB to memory curl -o /dev/null (nothing kept: the limit);
--                     net.fetch; Python r.read(); LuaSocket
--                     http.request(url) (the body as a string); lua-http
--                     stream:get_body_as_string
--   1 GiB to a file on disk (/tmp), where net.download's fsync counts:
--                     curl -o FILE, and `curl -o FILE; sync FILE` timed
--                     together (as durable as net.download's file)
-- The files of the first go to /dev/shm when there is one, so that the
-- disk under them (and net.download's fsync, which the others do not do)
-- does not decide. Each client's time is taken inside it (curl's
-- time_total, perf_counter, the clock around the call; the shell's clock
-- around curl and sync), its peak RSS with /usr/bin/time. Targets (issues
-- 5 and 19): net.download at least as fast as the faster of curl and
-- Python, its peak RSS under 30 MB; net.fetch at least as fast as Python's
-- read(), its peak RSS at most 1.3x the body; to disk, at least as fast
-- as curl then sync.
-- NB_BENCH_ROWS="dl-mem ..." runs only those workloads (ids as below),
-- e.g. `NB_BENCH_ROWS=dl-mem scripts/bench/run --only fetch`.
-- bench-estimate: 190 10
local B = dofile "scripts/bench/lib.lua"
local T = B.T
local W = require "webserver"

local MiB = 1024 * 1024
local BIG = B.n(1024, 32) * MiB
local MID = B.n(100, 32) * MiB  -- to memory: the issue's 100 MB
local ROWS = os.getenv("NB_BENCH_ROWS")
local function wanted(id)
  return ROWS == nil or (" " .. ROWS .. " "):find(" " .. id .. " ", 1, true)
end

local PY = [[
import sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
with urllib.request.urlopen(url) as r:
    if out == "-":
        n = len(r.read())
    else:
        n = 0
        with open(out, "wb") as f:
            while True:
                b = r.read(65536)
                if not b:
                    break
                n += len(b)
                f.write(b)
assert n == int(sys.argv[3]), n
print(time.perf_counter() - t)
]]

local LS = [[
local http, ltn12 = require "socket.http", require "ltn12"
local gettime = require("socket").gettime
local url, out, size = arg[1], arg[2], tonumber(arg[3])
local t = gettime()
if out == "-" then
  local body, code = http.request(url)
  assert(code == 200 and #body == size)
else
  local f = assert(io.open(out, "wb"))
  local _, code = http.request { url = url, sink = ltn12.sink.file(f) }
  assert(code == 200)
end
print(gettime() - t)
]]

-- curl, then sync FILE (its fsync), timed together: as durable as the
-- file net.download leaves
local DURABLE = [[
t0=$(date +%s%N)
curl -s --noproxy '*' -o "$1" "$2" && sync "$1" || exit 1
t1=$(date +%s%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
]]

-- lua-http (Debian lua-http, on cqueues; its modules are in the 5.3 and
-- 5.2 trees, where Debian puts them)
local LH = [[
local request = require "http.request"
local monotime = require("cqueues").monotime
local url, out, size = arg[1], arg[2], tonumber(arg[3])
local t = monotime()
local req = request.new_from_uri(url)
req.proxy = false
local headers, stream = assert(req:go(60))
assert(headers:get(":status") == "200")
if out == "-" then
  local body = assert(stream:get_body_as_string(60))
  assert(#body == size)
else
  local f = assert(io.open(out, "wb"))
  assert(stream:save_body_to_file(f, 60))
  assert(f:close())
end
print(monotime() - t)
]]
local LH_PATH = ";;/usr/share/lua/5.3/?.lua;/usr/share/lua/5.3/?/init.lua;"
  .. "/usr/share/lua/5.2/?.lua;/usr/share/lua/5.2/?/init.lua"

local NB = [[
local net = require "netbasics"
local t = net.now()
local r = assert(net.%s(%q%s))
local d = net.now() - t
assert(r.bytes == %d, "short: " .. r.bytes)
print(d)
]]

B.main(function()
  local web = W.nginx { files = { ["x"] = "x" } }
  B.finally(function() web:stop() end)
  -- nginx and its worker on the server CPU
  local kids = T.slurp(("/proc/%d/task/%d/children"):format(web.pid,
    web.pid)) or ""
  for pid in (web.pid .. " " .. kids):gmatch("%d+") do
    B.sh(("taskset -a -cp %s %s >/dev/null"):format(B.pin("server")
      :match("%-c (%d+)"), pid))
  end
  B.sh(("head -c %d /dev/urandom > %s"):format(
    (wanted("dl-file") or wanted("dl-disk")) and BIG or MID,
    web:file("big.bin")))
  B.sh(("head -c %d %s > %s"):format(MID, web:file("big.bin"),
    web:file("mid.bin")))
  local base = (io.open("/dev/shm") and "/dev/shm") or "/tmp"
  local shm = B.sh("mktemp -d " .. base .. "/nbbench.XXXXXX"):match("%S+")
  B.finally(function() os.execute("rm -rf " .. shm) end)
  local disk = B.sh("mktemp -d /tmp/nbbench.XXXXXX"):match("%S+")
  B.finally(function() os.execute("rm -rf " .. disk) end)
  T.writefile(shm .. "/py.py", PY)
  T.writefile(shm .. "/ls.lua", LS)
  T.writefile(shm .. "/lh.lua", LH)
  T.writefile(shm .. "/durable.sh", DURABLE)
  local cli = B.pin("client")

  -- run `cmd` under /usr/bin/time: seconds it printed, peak RSS KiB
  local rss = {}
  local function timed(impl, cmd, dest)
    local r = T.run(("%s/usr/bin/time -f 'rss %%M' %s"):format(cli, cmd))
    if dest and dest ~= "/dev/null" then os.remove(dest) end
    assert(r.code == 0, cmd .. ": " .. (r.err or ""))
    rss[impl] = rss[impl] or {}
    table.insert(rss[impl], tonumber(r.err:match("rss (%d+)")))
    return tonumber(r.out:match("([%d.]+)%s*$"))
  end
  local function nb(fn, url, dest, bytes)
    local script = shm .. "/nb.lua"
    T.writefile(script, NB:format(fn, url, dest and (", %q"):format(dest)
      or "", bytes))
    return T.host .. " " .. script
  end
  -- to a file (dest) the 1 GiB file, to memory (no dest) the 100 MiB one
  local function run(impl, dest)
    local memory = dest == nil
    local bytes = memory and MID or BIG
    local url = web:url(memory and "/mid.bin" or "/big.bin")
    local s
    if impl:match("; sync") then
      s = timed(impl, ("sh %s/durable.sh %s %s"):format(shm, dest, url), dest)
    elseif impl:match("^curl") then
      s = timed(impl, ("curl -s --noproxy '*' -o %s -w '%%{time_total}' %s")
        :format(dest or "/dev/null", url), dest)
    elseif impl:match("^netbasics") then
      s = timed(impl, nb(memory and "fetch" or "download", url, dest, bytes),
        dest)
    elseif impl:match("^Python") then
      s = timed(impl, ("%s %s/py.py %s %s %d"):format(B.python, shm, url,
        dest or "-", bytes), dest)
    elseif impl:match("^lua%-http") then
      s = timed(impl, ("env LUA_PATH='%s' lua5.4 %s/lh.lua %s %s %d"):format(
        LH_PATH, shm, url, dest or "-", bytes), dest)
    else
      s = timed(impl, ("lua5.4 %s/ls.lua %s %s %d"):format(shm, url,
        dest or "-", bytes), dest)
    end
    return bytes / MiB / s
  end
  local function rssnote(id, impls)
    local parts = {}
    for _, impl in ipairs(impls) do
      if rss[impl] then
        parts[#parts + 1] = ("%s %.1f MiB"):format(impl,
          B.median(rss[impl]) / 1024)
      end
      rss[impl] = nil
    end
    B.note(id, "peak RSS (median): " .. table.concat(parts, ", "))
  end

  local size = BIG >= 1024 * MiB and "1 GiB" or (BIG // MiB) .. " MiB"
  local midsize = (MID // MiB) .. " MiB"
  local rounds = B.n(3, 2)
  local impls = { "curl -o FILE", "netbasics net.download",
    "Python 3 urllib", "LuaSocket socket.http", "lua-http" }
  if wanted("dl-file") then
    B.workload { id = "dl-file",
      title = "HTTP download " .. size .. " to a file",
      unit = "MiB/s", better = "higher", ref = "curl -o FILE",
      note = "nginx on loopback, the file in " .. base
        .. "; target net.download >= the faster of curl and Python" }
    B.rounds("dl-file", rounds, impls, function(impl)
      return run(impl, shm .. "/out.bin")
    end)
    rssnote("dl-file", impls)
  end

  impls = { "curl -o /dev/null", "netbasics net.fetch", "Python 3 urllib",
    "LuaSocket socket.http", "lua-http" }
  if wanted("dl-mem") then
    B.workload { id = "dl-mem",
      title = "HTTP download " .. midsize .. " to memory",
      unit = "MiB/s", better = "higher", ref = "curl -o /dev/null",
      note = "the body kept as one string (bytes), except by curl, which "
        .. "throws it away; targets net.fetch >= Python's read() in the same "
        .. "run, its peak RSS <= 1.3x the body" }
    local got = B.rounds("dl-mem", rounds, impls, function(impl)
      return run(impl, nil)
    end)
    local nbf, py = got["netbasics net.fetch"], got["Python 3 urllib"]
    if nbf and py then
      B.note("dl-mem", ("net.fetch / Python urllib: %.2fx (medians)"):format(
        B.median(nbf) / B.median(py)))
  end
  if rss["netbasics net.fetch"] then
    B.note("dl-mem", ("net.fetch peak RSS / body: %.2fx"):format(
      B.median(rss["netbasics net.fetch"]) * 1024 / MID))
  end
  rssnote("dl-mem", impls)
  end

  impls = { "curl -o FILE", "curl -o FILE; sync FILE",
    "netbasics net.download" }
  if wanted("dl-disk") then
    B.workload { id = "dl-disk", title = "HTTP download " .. size
        .. " to a file on disk (/tmp)",
      unit = "MiB/s", better = "higher", ref = "curl -o FILE",
      note = "net.download fsyncs before its rename; curl does not, so "
        .. "`curl -o FILE; sync FILE` (timed together) is the like-for-like "
        .. "reference; target net.download >= it" }
    local got = B.rounds("dl-disk", rounds, impls, function(impl)
      return run(impl, disk .. "/out.bin")
    end)
    local nbd, synced = got["netbasics net.download"],
      got["curl -o FILE; sync FILE"]
    if nbd and synced then
      B.note("dl-disk", ("net.download / (curl; sync): %.2fx (medians)")
        :format(B.median(nbd) / B.median(synced)))
  end
  rssnote("dl-disk", impls)
  end
end)
