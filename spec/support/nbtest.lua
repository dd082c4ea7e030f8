-- nbtest: what the specs share: running commands and the host, starting
-- and stopping real peers by PID, free ports, temporary folders, counting
-- open descriptors. Load with `local T = require "nbtest"`.
local T = {}

-- busted keeps only the last function given to finally() in a test (the
-- others never ran: their servers and folders were left behind). Here
-- finally() keeps them all and runs them when the test ends, the last
-- given first, each even when another fails (the first failure is then
-- the test's).
do
  local ok, busted = pcall(require, "busted")
  if ok and type(busted) == "table" and busted.subscribe then
    busted.subscribe({ "test", "start" }, function(element)
      local keep = element.env and element.env.finally
      if keep then
        local fns = {}
        keep(function()
          local first
          for i = #fns, 1, -1 do
            local fine, err = pcall(fns[i])
            if not fine and first == nil then first = err end
          end
          if first ~= nil then error(first, 0) end
        end)
        element.env.finally = function(fn) fns[#fns + 1] = fn end
      end
      return nil, true
    end)
  end
end

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
T.shquote = shquote

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
T.slurp = slurp

function T.writefile(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

-- the repository root (specs run from it) and the built host: build/,
-- or $NB_BUILD (make check-asan: build-asan/). $NB_HOST_WRAP, if set, is
-- a command put before every run of the host (make check-valgrind).
T.root = os.getenv("PWD")
T.build = T.root .. "/" .. (os.getenv("NB_BUILD") or "build")
T.host = T.build .. "/bin/netbasics"
T.hostwrap = os.getenv("NB_HOST_WRAP")
-- the Lua 5.4 interpreter as run-specs runs it ($NB_LUA: make check-asan
-- preloads the sanitizer runtime there), for a child that loads T.build
T.lua = os.getenv("NB_LUA") or "lua5.4"

-- a fresh temporary folder, removed by T.rmtree
function T.tmpdir()
  local p = io.popen('mktemp -d "${TMPDIR:-/tmp}/nbtest.XXXXXX"')
  local d = p:read("l")
  p:close()
  return d
end

function T.rmtree(d)
  assert(d:match("^/tmp/nbtest%.") or d:match("^/tmp/"), "refusing " .. d)
  os.execute("rm -rf " .. shquote(d))
end

-- the file to give a command as standard input: `input` written to
-- dir/in, or /dev/null when there is none
function T.infile(dir, input)
  if not input then return "/dev/null" end
  T.writefile(dir .. "/in", input)
  return dir .. "/in"
end

-- T.run(cmd [, input]) -> {out=, err=, code=}: a shell command with
-- `input` on its standard input (none: /dev/null)
function T.run(cmd, input)
  local d = T.tmpdir()
  local inp = T.infile(d, input)
  local full = string.format("(%s) <%s >%s/out 2>%s/err", cmd, shquote(inp),
    d, d)
  local _, _, code = os.execute(full)
  local r = { out = slurp(d .. "/out"), err = slurp(d .. "/err"), code = code }
  T.rmtree(d)
  return r
end

-- T.nb(args [, input]): runs the host with a shell-quoted argument list
function T.nb(args, input)
  local q = {}
  for i, a in ipairs(args) do q[i] = shquote(a) end
  return T.run(T.hostcmd() .. " " .. table.concat(q, " "), input)
end

-- the host as a shell command (with $NB_HOST_WRAP before it, if set)
function T.hostcmd()
  if T.hostwrap and T.hostwrap ~= "" then
    return T.hostwrap .. " " .. shquote(T.host)
  end
  return shquote(T.host)
end

-- a port nobody uses now on 127.0.0.1 or ::1, for TCP (or "udp"): free
-- for both TCP and UDP on every address of the family (a DNS server
-- listens on both, on 127.0.0.1 and 127.0.0.2), and below the kernel's
-- ephemeral range (32768 and up), so no outgoing connection of another
-- program takes it before the test's server binds it
function T.free_port(_, host)
  local p = io.popen(string.format([[python3 -c '
import random, socket
fam = socket.AF_INET6 if %q == "::1" else socket.AF_INET
for _ in range(1000):
    port = random.randint(20000, 32767)
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            socks.append(s)
            s.bind(("", port))
        print(port)
        break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
']], host or "127.0.0.1"))
  local port = tonumber(p:read("l"))
  p:close()
  return assert(port, "no free port")
end

-- sleep a little (for polling loops only, never to wait for a server)
function T.nap(seconds)
  os.execute("sleep " .. (seconds or 0.02))
end

-- T.until_true(fn, timeout): polls fn until it returns a true value
function T.until_true(fn, timeout)
  local deadline = os.time() + (timeout or 10)
  repeat
    local v = fn()
    if v then return v end
    T.nap()
  until os.time() > deadline
  return nil
end

-- is something listening on TCP `port` (per ss)?
function T.listening(port, proto)
  local p = io.popen(string.format("ss -Hn%sl 'sport = :%d'",
    proto == "udp" and "u" or "t", port))
  local s = p:read("a")
  p:close()
  return s:match("%S") ~= nil
end

function T.wait_port(port, timeout, proto)
  return T.until_true(function() return T.listening(port, proto) end,
    timeout or 10)
end

-- T.spawn(cmd [, input]) -> proc: a background shell command in its own
-- process group (proc.pid is the group's leader); proc.pid,
-- proc:alive(), proc:kill([sig]), proc:wait([timeout]) -> exit code,
-- proc:out(), proc:err(). Always kill or wait (use finally()).
local Proc = {}
Proc.__index = Proc

function T.spawn(cmd, input)
  local d = T.tmpdir()
  local inp = T.infile(d, input)
  -- its own session and process group, so that :kill reaches the
  -- command and everything it started
  local p = io.popen(string.format(
    "(setsid sh -c %s <%s >%s/out 2>%s/err & echo $! > %s/pid; "
    .. "wait $!; echo $? > %s/rc.tmp; mv %s/rc.tmp %s/rc) >/dev/null 2>&1 &",
    shquote(cmd), shquote(inp), d, d, d, d, d, d))
  p:close()
  local pid = T.until_true(function()
    return tonumber(slurp(d .. "/pid") or "")
  end, 5)
  return setmetatable({ pid = assert(pid, "spawn failed"), dir = d }, Proc)
end

function Proc:alive()
  return slurp(self.dir .. "/rc") == nil
end

function Proc:kill(sig)
  if self:alive() then
    os.execute(string.format("kill -s %s -- -%d 2>/dev/null", sig or "TERM",
      self.pid))
  end
end

-- the exit code, or nil if it still runs after `timeout` seconds
function Proc:wait(timeout)
  local rc = T.until_true(function()
    return tonumber(slurp(self.dir .. "/rc") or "")
  end, timeout or 10)
  return rc
end

function Proc:out() return slurp(self.dir .. "/out") or "" end
function Proc:err() return slurp(self.dir .. "/err") or "" end

-- stop it (TERM, then KILL) and remove its files
function Proc:stop()
  if self:alive() then
    self:kill("TERM")
    if not self:wait(3) then
      self:kill("KILL")
      self:wait(3)
    end
  end
  T.rmtree(self.dir)
end

-- the sha256 of a file, in hex
function T.sha256(path)
  local r = T.run("sha256sum " .. shquote(path))
  assert(r.code == 0, r.err)
  return r.out:match("^(%x+)")
end

-- n random bytes
function T.randomdata(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local s = f:read(n)
  f:close()
  return s
end

-- the names in a folder, hidden ones too, sorted
function T.ls(dir)
  local names = {}
  local p = io.popen("ls -A " .. shquote(dir))
  for n in p:lines() do names[#names + 1] = n end
  p:close()
  table.sort(names)
  return names
end

-- this process's open descriptors
function T.fdcount()
  local n = 0
  local p = io.popen("ls /proc/" .. T.pid() .. "/fd")
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n - 1  -- the pipe of popen itself
end

function T.pid()
  local s = slurp("/proc/self/stat")
  return tonumber(s:match("^(%d+)"))
end

-- network namespaces need root; CI runs as root, so a test that needs
-- them fails (never skips) elsewhere, saying why
function T.need_root(what)
  if T.run("id -u").out ~= "0\n" then
    error((what or "this test") .. " needs root for network namespaces "
      .. "(CI runs as root; run make test as root)", 2)
  end
end

-- python3 -c CODE with `input` on stdin: its standard output
function T.python(code, input)
  local r = T.run("python3 -c " .. shquote(code), input)
  assert(r.code == 0, "python3 failed: " .. (r.err or ""))
  return r.out
end

return T
