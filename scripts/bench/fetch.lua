-- fetch: net.download and net.fetch against curl and Python's urllib, all
-- from nginx on loopback in the same run (make bench). Prints the median
-- of several runs, the rates and the ratios, and net.download's peak RSS.
--   net.download of 1 GiB to a file   vs  curl -o FILE, Python urllib
--                                          reading 64 KiB blocks to a file
--   net.fetch of 100 MiB to memory    vs  curl -o /dev/null
-- The files go to /dev/shm when there is one, so that the disk under
-- them (and net.download's fsync, which the others do not do) does not
-- decide; a last line shows net.download to /tmp with its fsync.
package.path = "lua/?.lua;lua/?/init.lua;spec/support/?.lua;" .. package.path
local T = require "nbtest"
local W = require "webserver"

local BIG = tonumber(os.getenv("NB_BENCH_MB") or "1024") * 1024 * 1024
local MID = 100 * 1024 * 1024
local RUNS = tonumber(os.getenv("NB_BENCH_RUNS") or "3")

local function sh(cmd)
  local r = T.run(cmd)
  if r.code ~= 0 then error(cmd .. ": " .. (r.err or "")) end
  return r.out
end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- the median of RUNS runs of fn, which returns seconds (and peak RSS KiB)
local function measure(fn)
  local times, rss = {}, 0
  fn()  -- a first run to warm the caches
  for i = 1, RUNS do
    local s, kb = fn()
    times[i] = s
    if kb and kb > rss then rss = kb end
  end
  return median(times), rss
end

local PY = [[
import sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
with urllib.request.urlopen(url) as r, open(out, "wb") as f:
    while True:
        b = r.read(65536)
        if not b:
            break
        f.write(b)
print(time.perf_counter() - t)
]]

-- the netbasics side: wall clock around the call, in the host
local NB = [[
local net = require "netbasics"
local function now()
  local p = io.popen("date +%%s.%%N") local s = p:read("l") p:close()
  return tonumber(s)
end
local t = now()
local r = assert(net.%s(%q%s))
local d = now() - t
assert(r.bytes == %d, "short: " .. r.bytes)
print(d)
]]

local web, shm
local ok, err = pcall(function()
  web = W.nginx{ files = { ["x"] = "x" } }
  sh(("head -c %d /dev/urandom > %s"):format(BIG, web:file("big.bin")))
  sh(("head -c %d %s > %s"):format(MID, web:file("big.bin"), web:file("mid.bin")))
  local base = (io.open("/dev/shm") and "/dev/shm") or "/tmp"
  shm = sh("mktemp -d " .. base .. "/nbbench.XXXXXX"):match("%S+")
  T.writefile(shm .. "/py.py", PY)
  local big, mid = web:url("/big.bin"), web:url("/mid.bin")
  local out = shm .. "/out.bin"

  local function curl(url, dest)
    local s = sh(("curl -s --noproxy '*' -o %s -w '%%{time_total}' %s")
      :format(dest, url))
    os.remove(out)
    return tonumber(s)
  end
  local function python(url)
    local s = sh(("python3 %s/py.py %s %s"):format(shm, url, out))
    os.remove(out)
    return tonumber(s)
  end
  local function nb(fn, url, dest, size)
    local script = shm .. "/nb.lua"
    T.writefile(script, NB:format(fn, url, dest and (", %q"):format(dest) or "",
      size))
    local r = T.run(("/usr/bin/time -f 'rss %%M' %s %s"):format(T.host, script))
    assert(r.code == 0, r.err)
    if dest then os.remove(dest) end
    return tonumber(r.out), tonumber(r.err:match("rss (%d+)"))
  end

  local MiB = 1024 * 1024
  local function rate(bytes, s) return bytes / MiB / s end
  local function row(name, bytes, s, ref)
    print(("  %-34s %7.3f s %8.0f MiB/s %s"):format(name, s, rate(bytes, s),
      ref and ("%5.2fx"):format(ref / s) or ""))
  end

  print(("%d MiB to a file in %s, median of %d runs (ratio: time of the "
    .. "faster reference / ours)"):format(BIG // MiB, base, RUNS))
  local tc = measure(function() return curl(big, out) end)
  local tp = measure(function() return python(big) end)
  local tn, rss = measure(function() return nb("download", big, out, BIG) end)
  local best = math.min(tc, tp)
  row("curl -o FILE", BIG, tc)
  row("python3 urllib, 64 KiB blocks", BIG, tp)
  row("net.download", BIG, tn, best)
  print(("  net.download peak RSS: %.1f MiB"):format(rss / 1024))

  print(("%d MiB to memory (ratio: time of curl -o /dev/null / ours)")
    :format(MID // MiB))
  local tcn = measure(function() return curl(mid, "/dev/null") end)
  local tf, frss = measure(function() return nb("fetch", mid, nil, MID) end)
  row("curl -o /dev/null", MID, tcn)
  row("net.fetch", MID, tf, tcn)
  print(("  net.fetch peak RSS: %.1f MiB (the body is %d MiB)"):format(
    frss / 1024, MID // MiB))

  print(("%d MiB to a file in /tmp (a disk; net.download fsyncs)"):format(
    BIG // MiB))
  local disk = sh("mktemp -d /tmp/nbbench.XXXXXX"):match("%S+")
  local dc = measure(function() return curl(big, disk .. "/c.bin") end)
  local dn = measure(function() return nb("download", big, disk .. "/n.bin", BIG) end)
  sh("rm -rf " .. disk)
  row("curl -o FILE", BIG, dc)
  row("net.download (with fsync)", BIG, dn, dc)
end)
if web then web:stop() end
if shm then os.execute("rm -rf " .. shm) end
if not ok then
  io.stderr:write("bench fetch: ", tostring(err), "\n")
  os.exit(1)
end
