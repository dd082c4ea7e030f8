-- tmux: a real terminal emulator for the specs, typed into key by key.
--
--   local tm = require("tmux").open(cmd)   -- cmd runs in bash in a pane
--   tm:wait_for(text)   -- bounded wait until the screen shows text
--   tm:type("255")      -- one key at a time, then Enter
--   tm:keys("C-c")      -- tmux key names (C-d, C-c, Enter)
--   tm:status()         -- the exit status once cmd ended
--   tm:close()          -- in finally()
local T = require "nbtest"

-- a private tmux server (its own socket), one window per test
local Tmux = {}
Tmux.__index = Tmux

function Tmux.open(cmd)
  local self = setmetatable({ sock = "nbtest-" .. T.pid() .. "-"
    .. math.random(1e9), dir = T.tmpdir() }, Tmux)
  -- the options are set before the program starts: keep the pane after
  -- it exits (to read its status), a fixed size, no status line
  local conf = self.dir .. "/tmux.conf"
  T.writefile(conf, "set -g remain-on-exit on\nset -g default-size 150x50\n"
    .. "set -g status off\n")
  -- the exit status goes to a file (tmux's pane_dead_status is not
  -- always filled in); bash, unlike dash, lives on after a Ctrl-C that
  -- its child handled, to write it
  local script = ("cd %s && %s; echo $? > %s/status"):format(
    T.shquote(T.root), cmd, self.dir)
  local r = T.run(("tmux -L %s -f %s new-session -d -x 150 -y 50 %s"):format(
    self.sock, conf, T.shquote("bash -c " .. T.shquote(script))))
  assert(r.code == 0, "tmux: " .. (r.err or ""))
  return self
end

function Tmux:screen()
  -- (with the history: a dead pane scrolls its screen by a line)
  local r = T.run(("tmux -L %s capture-pane -p -J -S -"):format(self.sock))
  return r.out or ""
end

-- waits (bounded) until the screen shows `text`; returns the screen
function Tmux:wait_for(text)
  local s = T.until_true(function()
    local sc = self:screen()
    return sc:find(text, 1, true) and sc
  end, 10)
  assert(s, ("never saw %q; screen:\n%s"):format(text, self:screen()))
  return s
end

function Tmux:keys(...)
  local q = {}
  for i, k in ipairs { ... } do q[i] = T.shquote(k) end
  local r = T.run(("tmux -L %s send-keys %s"):format(self.sock,
    table.concat(q, " ")))
  assert(r.code == 0, r.err)
end

function Tmux:type(text)  -- literally, one key at a time, then Enter
  for c in text:gmatch(".") do self:keys("-l", c) end
  self:keys("Enter")
end

-- the exit status once the program ended (bounded wait)
function Tmux:status()
  return tonumber(T.until_true(function()
    return (T.slurp(self.dir .. "/status") or ""):match("^(%d+)\n")
  end, 10))
end

function Tmux:close()
  T.run(("tmux -L %s kill-server"):format(self.sock))
  T.rmtree(self.dir)
end

return Tmux
