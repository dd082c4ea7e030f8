-- oomwalk: runs the host once per allocation with NETBASICS_FAILALLOC=N
-- (csrc/host.c: allocation N and every later one fail until the script
-- stops) and says what went wrong. A clean result for each N is: exit
-- 1 with "not enough memory" in the message, or (allocation N came
-- after the script's last one) the normal exit; no crash, no message
-- from a sanitizer or valgrind, no descriptor left open (the host checks
-- that itself after closing the state). Under make check-asan the host
-- is the ASan build, and LeakSanitizer is turned on for it here, so a
-- leak on any path fails too.
local T = require "nbtest"
local W = {}

-- how many allocation requests a normal run makes
function W.count(args, input)
  local r = T.run("NETBASICS_FAILALLOC=0 " .. T.hostcmd() .. " " .. args,
    input)
  local n = tonumber((r.err or ""):match("(%d+) allocations"))
  return assert(n, "no allocation count: " .. tostring(r.err)), r
end

-- how many allocations the host makes before a script's own: starting
-- and `require "netbasics"`
local base
function W.base()
  base = base or W.count("-e " .. T.shquote('require "netbasics"'))
  return base
end

-- walk N over 1..total: every N of the script's own part, every 20th of
-- the start-up every script shares (all of it with opts.full; none of
-- what comes before N = opts.from, a count from W.count). Returns
-- a list of problems, the number of runs, how many ended in the memory
-- error, and the total.
function W.walk(args, input, opts)
  opts = opts or {}
  local total, normal = W.count(args, input)
  local stride = opts.stride or 1
  local shared = opts.full and 0 or W.base()
  local sharedstride = 20
  -- every N with the plain build (make test); a sample of about 100
  -- with the ASan build (each start costs it ~70 ms) and of 5 under
  -- valgrind (each costs a second)
  if T.hostwrap and T.hostwrap ~= "" then
    stride = math.max(stride, total // 5)
    shared, sharedstride = 0, stride
  elseif os.getenv("NB_BUILD") then
    stride = math.max(stride, total // 100)
    shared, sharedstride = 0, stride
  end
  local from = opts.from or 1
  if opts.from then  -- the samples spread over what is walked
    stride = math.max(opts.stride or 1, stride * (total - from + 1) // total)
    shared = 0
  end
  local d = T.tmpdir()
  local inp = T.infile(d, input)
  -- opts.leaks == false: LeakSanitizer off, for walks through a library
  -- that keeps what it allocated when a later allocation fails
  local env = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks="
    .. (opts.leaks == false and 0 or 1)
  local script = string.format([[
    n=%d
    while [ $n -le %d ]; do
      %s NETBASICS_FAILALLOC=$n %s %s <%s >/dev/null 2>%s/err.$n
      echo "$n $?"
      if [ $n -lt %d ]; then n=$((n + %d)); else n=$((n + %d)); fi
    done]], from, total + 1, env, T.hostcmd(), args, T.shquote(inp), d,
    shared, sharedstride, stride)
  local r = T.run(script)
  local problems, runs, oom = {}, 0, 0
  for n, code in r.out:gmatch("(%d+) (%d+)") do
    n, code = tonumber(n), tonumber(code)
    runs = runs + 1
    local err = T.slurp(d .. "/err." .. n) or ""
    local clean
    if code == 1 and err:find("not enough memory", 1, true) then
      clean = true
      oom = oom + 1
    elseif code == normal.code and err == (normal.err:gsub(
        "netbasics: %d+ allocations\n", "")) then
      clean = true
    end
    if err:find("Sanitizer") or err:find("runtime error")
       or err:find("left open") or err:find("PANIC") then
      clean = false
    end
    if not clean and #problems < 10 then
      problems[#problems + 1] = string.format("N=%d: exit %d: %s", n, code,
        err:sub(1, 400))
    end
  end
  T.rmtree(d)
  return problems, runs, oom, total
end

-- the lines of a run's output, table addresses taken out
local function outlines(out)
  local t = {}
  for l in (out:gsub("0x%x+", "0x")):gmatch("[^\n]*") do t[#t + 1] = l end
  return t
end

-- are the lines `got` the lines `want`, but for some where a call
-- returned a failure (a line "nil<TAB>message...", as print(net.f(...))
-- shows one)? `exact`: with no such line either
local function same_lines(want, got, exact)
  if #want ~= #got then return false end
  for i = 1, #want do
    if want[i] ~= got[i] and (exact or not got[i]:find("^nil\t.")) then
      return false
    end
  end
  return true
end

-- The C side (csrc/common.c): NETBASICS_FAILMALLOC=N fails the Nth C
-- allocation request once (ours, libcurl's, c-ares'), and the script
-- goes on. A clean result for each N: the normal exit with the normal
-- output (the failure was absorbed, or came after the last request;
-- table addresses aside), or with a failure where a call printed one
-- (a line "nil<TAB>message": a call returned nil, msg, code), or exit 1
-- with a Lua error and its traceback; no crash, no message from a
-- sanitizer or valgrind, no descriptor left open (NETBASICS_FAILALLOC=0
-- turns on the host's check without failing Lua's allocations). Every N
-- up to 300 runs, a sample past that; fewer under ASan and valgrind.
-- opts.after: a shell command run after each, which may add a line
-- "left behind: ..." to "$ERR" (a problem). opts.from: the first N
-- (W.ccount gives the count of a script that stops where the walk
-- should start).
-- Returns the problems, the number of runs, how many ended in an error,
-- and the count of requests.
-- how many C allocation requests a normal run makes
function W.ccount(args, input)
  local r = T.run("NETBASICS_FAILALLOC=0 NETBASICS_FAILMALLOC=0 "
    .. T.hostcmd() .. " " .. args, input)
  local total = 0
  for n in (r.err or ""):gmatch("(%d+) C allocations") do
    total = math.max(total, tonumber(n))
  end
  return assert(total > 0 and total, "no C allocation count: "
    .. tostring(r.err)), r
end

function W.cwalk(args, input, opts)
  opts = opts or {}
  local d = T.tmpdir()
  local inp = T.infile(d, input)
  local function strip(err)
    return (err:gsub("netbasics: %d+ C? ?allocations\n", "")
      :gsub("netbasics: C allocation %d+ failed on purpose\n", ""))
  end
  local normal = T.run("NETBASICS_FAILALLOC=0 NETBASICS_FAILMALLOC=0 "
    .. T.hostcmd() .. " " .. args .. " <" .. T.shquote(inp))
  local total = 0
  for n in (normal.err or ""):gmatch("(%d+) C allocations") do
    total = math.max(total, tonumber(n))
  end
  assert(total > 0, "no C allocation count: " .. tostring(normal.err))
  local want, normalerr = outlines(normal.out), strip(normal.err)
  local from = opts.from or 1
  local span = total - from + 1
  local stride = math.max(1, span // 300)
  if T.hostwrap and T.hostwrap ~= "" then
    stride = math.max(stride, span // 5)
  elseif os.getenv("NB_BUILD") then
    stride = math.max(stride, span // 60)
  end
  -- opts.leaks == false: LeakSanitizer off, for walks through a library
  -- that keeps what it allocated when a later allocation fails
  local env = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks="
    .. (opts.leaks == false and 0 or 1)
  local script = string.format([[
    n=%d
    while [ $n -le %d ]; do
      %s NETBASICS_FAILALLOC=0 NETBASICS_FAILMALLOC=$n %s %s <%s \
        >%s/out.$n 2>%s/err.$n
      echo "$n $?"
      ERR=%s/err.$n; %s
      n=$((n + %d))
    done]], from, total + 1, env, T.hostcmd(), args, T.shquote(inp), d, d,
    d, opts.after or ":", stride)
  local r = T.run(script)
  local problems, runs, failed = {}, 0, 0
  for n, code in r.out:gmatch("(%d+) (%d+)") do
    n, code = tonumber(n), tonumber(code)
    runs = runs + 1
    local out = T.slurp(d .. "/out." .. n) or ""
    local err = strip(T.slurp(d .. "/err." .. n) or "")
    local clean
    local lines = outlines(out)
    if code == normal.code and same_lines(want, lines, true)
       and err == normalerr then
      clean = true
    elseif code == 1 and err:find("^netbasics: ")
       and err:find("stack traceback:", 1, true) then
      clean = true  -- a Lua error
      failed = failed + 1
    elseif code == normal.code and same_lines(want, lines) then
      clean = true  -- a failure returned and printed by the script
      failed = failed + 1
    end
    if err:find("Sanitizer") or err:find("runtime error")
       or err:find("left open") or err:find("PANIC")
       or err:find("Invalid") or err:find("uninitialised")
       or err:find("left behind: ") then
      clean = false
    end
    if not clean and #problems < 10 then
      problems[#problems + 1] = string.format("N=%d: exit %d: %s%s", n,
        code, out:sub(1, 200), err:sub(1, 400))
    end
  end
  T.rmtree(d)
  return problems, runs, failed, total
end

return W
