-- scripts/bench/startup.lua: host start-up with hyperfine, beside
--   C                  an empty C program (build/bench/empty): exec's floor
--   lua5.4 -e ''       stock Lua (target: netbasics -e '' within 1.3x)
--   LuaSocket          lua5.4 -e 'require "socket"'
--   Python 3           python3 -c '' (and python3 -S -c '', no site)
-- and what loading the module costs in stock Lua. Each round runs every
-- command through one hyperfine call (-N, no shell; the order rotated
-- each round), its median is the round's sample. One CPU (taskset).
-- bench-estimate: 40 8
local B = dofile "scripts/bench/lib.lua"
local T = B.T

local cmds = {
  { "C", "build/bench/empty" },
  { "netbasics -e ''", "build/bin/netbasics -e ''" },
  { "lua5.4 -e ''", "lua5.4 -e ''" },
  { "lua5.4 + require netbasics",
    "lua5.4 -e 'package.path=\"lua/?.lua;lua/?/init.lua;\"..package.path "
    .. "package.cpath=\"build/lib/?.so;\"..package.cpath require \"netbasics\"'" },
  { "LuaSocket (lua5.4 + require socket)", "lua5.4 -e 'require \"socket\"'" },
  { "Python 3 (python3 -c '')", B.python .. " -c ''" },
  { "Python 3 -S (no site)", B.python .. " -S -c ''" },
}

B.main(function()
  B.cc("empty")
  local dir = T.tmpdir()
  B.finally(function() T.rmtree(dir) end)
  local runs = B.n(40, 10)
  B.workload { id = "startup", title = "host start-up", unit = "ms",
    better = "lower", ref = "C", placement = B.where("solo"),
    note = ("hyperfine -N, %d runs per command per round; target "
      .. "netbasics -e '' within 1.3x lua5.4 -e ''"):format(runs) }
  local byname = {}
  for _, c in ipairs(cmds) do byname[c[1]] = c[2] end
  local names = {}
  for i, c in ipairs(cmds) do names[i] = c[1] end
  local rounds = B.n(5, 3)
  local got = {}
  for r = 1, rounds do
    -- one hyperfine call per round, every command in it, rotated
    local order, args = {}, {}
    for k = 0, #names - 1 do
      local name = names[(r - 1 + k) % #names + 1]
      order[#order + 1] = name
      args[#args + 1] = T.shquote(byname[name])
    end
    local json = dir .. "/r.json"
    local t0 = B.now()
    B.sh(("%shyperfine -N --style none --warmup 3 --runs %d "
      .. "--export-json %s %s"):format(B.pin("solo"), runs, json,
      table.concat(args, " ")))
    local t1 = B.now()
    local text = T.slurp(json)
    local i, line = 0, {}
    -- the medians, in the order of the commands (hyperfine keeps it)
    for med in text:gmatch('"median":%s*([%d.eE+-]+)') do
      i = i + 1
      local name = order[i]
      local ms = tonumber(med) * 1000
      -- one hyperfine call holds the round: its samples share its span,
      -- spread over it in run order so they stay side by side
      local span = (t1 - t0) / #order
      B.sample("startup", name, r, t0 + (i - 1) * span, t0 + i * span, ms)
      got[name] = got[name] or {}
      table.insert(got[name], ms)
      line[#line + 1] = ("%s %.2f ms"):format(name, ms)
    end
    assert(i == #order, "hyperfine gave " .. i .. " medians")
    B.say("startup round %d/%d: %s", r, rounds, table.concat(line, ", "))
  end
  local n, l = B.median(got["netbasics -e ''"]), B.median(got["lua5.4 -e ''"])
  B.note("startup", ("netbasics -e '' / lua5.4 -e '': %.2fx (target 1.3x: %s)")
    :format(n / l, n / l <= 1.3 and "met" or "NOT met"))
end)
