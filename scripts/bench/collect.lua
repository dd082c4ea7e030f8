-- scripts/bench/collect.lua RAW MD SVG: reads the rows the bench scripts
-- wrote (see lib.lua) and the MACHINE lines scripts/bench/run wrote, and
-- writes the table (MD) and the chart (SVG, with gnuplot).
--
-- For each workload and implementation: the median of its runs and their
-- spread (min..max), and its ratio to the reference: the ratio is taken
-- round by round (each run against the reference run of the same round),
-- then the median of those ratios and their spread. 1.00 is the C
-- reference; below 1 is slower (for times: ref/ours, so below 1 is
-- still slower). A ratio is printed only when the runs were side by side:
-- sorted by start time, the rounds never go back, and the implementation
-- and its reference ran in every round.
local raw, mdpath, svgpath = arg[1], arg[2], arg[3]
assert(raw and mdpath and svgpath, "usage: collect.lua RAW MD SVG")

local machine, morder = {}, {}
local works, worder = {}, {}
local notes = {}

local function split(line)
  local t = {}
  for f in (line .. "|"):gmatch("([^|]*)|") do t[#t + 1] = f end
  return t
end

for line in io.lines(raw) do
  local f = split(line)
  if f[1] == "MACHINE" then
    if not machine[f[2]] then morder[#morder + 1] = f[2] end
    machine[f[2]] = table.concat(f, "|", 3)
  elseif f[1] == "WORKLOAD" then
    local w = works[f[2]]
    if not w then
      w = { id = f[2], samples = {}, impls = {} }
      works[f[2]] = w
      worder[#worder + 1] = f[2]
    end
    w.title, w.unit, w.better, w.ref, w.placement, w.note =
      f[3], f[4], f[5], f[6], f[7], f[8]
  elseif f[1] == "SAMPLE" then
    local w = works[f[2]]
    if w then
      local s = { impl = f[3], round = tonumber(f[4]), t0 = tonumber(f[5]),
                  t1 = tonumber(f[6]), v = tonumber(f[7]) }
      w.samples[#w.samples + 1] = s
      if not w.impls[s.impl] then
        w.impls[s.impl] = true
        w.impls[#w.impls + 1] = s.impl
      end
    end
  elseif f[1] == "NOTE" then
    notes[f[2]] = notes[f[2]] or {}
    table.insert(notes[f[2]], f[3])
  end
end

-- the order of the issue (talk, bulk, TLS, HTTP, validation, start-up,
-- memory), then any other workload in the order it ran
local ORDER = { "pp1", "pp50", "ppunix", "pipe50", "c10k", "bulk", "tlsbulk",
  "tlshs", "tlspp50", "dl-file", "dl-mem", "dl-disk", "validate-mixed",
  "validate-good", "validate-ip_to_int", "startup", "idle", "c10k-mem",
  "lookup" }
do
  local rank = {}
  for i, id in ipairs(ORDER) do rank[id] = i end
  local pos = {}
  for i, id in ipairs(worder) do pos[id] = i end
  table.sort(worder, function(a, b)
    local ra, rb = rank[a] or #ORDER + pos[a], rank[b] or #ORDER + pos[b]
    return ra < rb
  end)
end

local function median(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  if #c == 0 then return nil end
  if #c % 2 == 1 then return c[(#c + 1) // 2] end
  return (c[#c // 2] + c[#c // 2 + 1]) / 2
end

local function minmax(t)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(t) do
    if v < lo then lo = v end
    if v > hi then hi = v end
  end
  return lo, hi
end

-- were the runs of `impl` and of the reference side by side?
local function side_by_side(w, impl)
  local list = {}
  for _, s in ipairs(w.samples) do
    if s.impl == impl or s.impl == w.ref then list[#list + 1] = s end
  end
  table.sort(list, function(a, b) return a.t0 < b.t0 end)
  local last, seen = 0, {}
  for _, s in ipairs(list) do
    if s.round < last then return false, "runs not interleaved" end
    last = s.round
    seen[s.round] = seen[s.round] or {}
    seen[s.round][s.impl] = true
  end
  local rounds = 0
  for _, r in pairs(seen) do
    if not (r[impl] and r[w.ref]) then
      return false, "a round lacks one of the two"
    end
    rounds = rounds + 1
  end
  if rounds < 2 then return false, "fewer than 2 paired rounds" end
  return true
end

local function fmt(v)
  if v == nil then return "-" end
  local a = math.abs(v)
  if a >= 1e6 then return ("%.2fM"):format(v / 1e6) end
  if a >= 1e4 then return ("%.1fk"):format(v / 1e3) end
  if a >= 100 then return ("%.0f"):format(v) end
  if a >= 10 then return ("%.1f"):format(v) end
  return ("%.2f"):format(v)
end

local rows = {}   -- for the chart
local md = {}
local function w_(s) md[#md + 1] = s end

w_("# netbasics benchmark results")
w_("")
for _, k in ipairs(morder) do w_(("- **%s**: %s"):format(k, machine[k])) end
w_("")
w_("Ratio: the implementation against the C reference of the same round "
  .. "(1.00 = the C reference; below 1 = slower, above 1 = faster; for "
  .. "times and memory it is reference/ours so below 1 is still worse). "
  .. "Value and ratio: median of the rounds, spread min..max. A ratio is "
  .. "printed only when the two ran side by side (interleaved rounds).")
w_("")
w_("| workload | implementation | median | spread | ratio to C | ratio spread | runs |")
w_("|---|---|---:|---:|---:|---:|---:|")
for _, id in ipairs(worder) do
  local w = works[id]
  -- values and rounds per impl
  local by, refround = {}, {}
  for _, s in ipairs(w.samples) do
    by[s.impl] = by[s.impl] or {}
    table.insert(by[s.impl], s)
    if s.impl == w.ref then refround[s.round] = s.v end
  end
  local first = true
  for _, impl in ipairs(w.impls) do
    local vals, ratios = {}, {}
    for _, s in ipairs(by[impl]) do
      vals[#vals + 1] = s.v
      local r = refround[s.round]
      if r and s.v > 0 then
        ratios[#ratios + 1] = (w.better == "lower") and r / s.v or s.v / r
      end
    end
    local m = median(vals)
    local lo, hi = minmax(vals)
    local ratio, rspread = "-", "-"
    local rm, rlo, rhi
    if w.ref == "-" then
      -- no ratio: the difference to the first impl (memory)
      local base = median((by[w.impls[1]] and (function()
        local t = {}
        for _, s in ipairs(by[w.impls[1]]) do t[#t + 1] = s.v end
        return t
      end)()) or {})
      if impl ~= w.impls[1] and base then
        ratio = ("%+.2f %s vs %s"):format(m - base, w.unit, w.impls[1])
      end
    elseif impl == w.ref then
      ratio, rm, rlo, rhi = "1.00 (ref)", 1, 1, 1
    else
      local ok, why = side_by_side(w, impl)
      if ok then
        rm = median(ratios)
        rlo, rhi = minmax(ratios)
        ratio = ("%.2f"):format(rm)
        rspread = ("%.2f..%.2f"):format(rlo, rhi)
      else
        ratio = "refused: " .. why
      end
    end
    w_(("| %s | %s | %s %s | %s..%s | %s | %s | %d |"):format(
      first and ("**" .. w.title .. "**<br>" .. w.placement) or "",
      impl, fmt(m), w.unit, fmt(lo), fmt(hi), ratio, rspread, #vals))
    first = false
    if rm then
      rows[#rows + 1] = { label = w.title .. ": " .. impl, r = rm,
                          lo = rlo, hi = rhi, impl = impl,
                          isref = impl == w.ref }
    end
  end
end
w_("")
local any = false
for _, id in ipairs(worder) do
  local w = works[id]
  local list = notes[id] or {}
  if w.note ~= "-" and w.note ~= "" then table.insert(list, 1, w.note) end
  if #list > 0 then
    if not any then w_("Notes:"); w_(""); any = true end
    for _, n in ipairs(list) do w_(("- %s: %s"):format(w.title, n)) end
  end
end
local f = assert(io.open(mdpath, "w"))
f:write(table.concat(md, "\n"), "\n")
f:close()

-- the chart: one horizontal bar per (workload, impl), the ratio to C on
-- a log scale, the spread as an error bar
local function colour(impl, isref)
  if isref then return 2 end
  if impl:match("^netbasics") then return 1 end
  if impl:match("LuaSocket") then return 3 end
  if impl:match("[Pp]ython") then return 4 end
  if impl:match("curl") then return 5 end
  return 6
end
local dat = svgpath .. ".dat"
f = assert(io.open(dat, "w"))
local n = #rows
for i, r in ipairs(rows) do
  local y = n - i
  f:write(('%d %g %g %g %d "%s"\n'):format(y, r.r, r.lo, r.hi, colour(r.impl, r.isref),
    r.label:gsub('"', "'")))
end
f:close()
local gp = svgpath .. ".gp"
f = assert(io.open(gp, "w"))
f:write(([[
set terminal svg size 1000,%d dynamic noenhanced font "sans,11" background "white"
set output "%s"
set title "netbasics beside its references, same run (ratio to the C reference, log scale; 1 = C)"
set logscale x 10
set xrange [0.005:20]
set yrange [-1:%d]
set xtics (0.01, 0.03, 0.1, 0.3, 0.5, 1, 2, 5, 10)
set grid xtics
set key off
set border 3
set ytics nomirror font "sans,10"
set xtics nomirror
set arrow from 1,-1 to 1,%d nohead lw 2 lc rgb "#555555"
set style fill solid 0.7 border -1
set palette maxcolors 6
set palette defined (1 "#1f77b4", 2 "#7f7f7f", 3 "#2ca02c", 4 "#ff7f0e", 5 "#9467bd", 6 "#8c564b")
set cbrange [1:6]
unset colorbox
set lmargin 44
plot "%s" using (sqrt(0.005*$2)):1:(0.005):2:($1-0.35):($1+0.35):5:ytic(6) with boxxyerror lc palette, \
     "%s" using 2:1:3:4 with xerrorbars lc rgb "black" lw 1.5 pt 7 ps 0.4, \
     "%s" using ($4*1.1):1:(sprintf("%%.2f", $2)) with labels left font "sans,9"
]]):format(80 + 22 * n, svgpath, n, n, dat, dat, dat))
f:close()
local ok = os.execute("gnuplot " .. gp)
os.remove(gp)
os.remove(dat)
if not ok then
  io.stderr:write("collect: gnuplot failed; the table is in ", mdpath, "\n")
  os.exit(1)
end
