-- docs: the reference in docs/api/*.md names every function, value and
-- method of `require "netbasics"` and nothing else; the man page and
-- `netbasics --help` list the same options; the man page's LESSONS, the
-- README's table of lessons and `netbasics --list` the same lessons with
-- the same arguments.
local T = require "nbtest"
local A = require "apidocs"

-- the objects whose methods the reference documents, by the receiver its
-- headings use (`### s:recv(max)`). Add one here when a family adds a type.
local RECEIVERS = {
  { recv = "s", via = "net.socket()", make = function(net)
      return net.socket() end },
  { recv = "c", via = 'net.cidr("192.168.1.0/24")', make = function(net)
      return net.cidr("192.168.1.0/24") end },
  { recv = "t", via = "net.spawn(function() end)", make = function(net)
      local t = net.spawn(function() end)
      t:join()  -- runs it: a task that is done
      return t end },
}

-- receiver -> {value=} or {missing=}, and the objects to close afterwards
local function make_objects(net)
  local objects, made = {}, {}
  for _, r in ipairs(RECEIVERS) do
    local ctor = r.via:match("^net%.([%w_]+)")
    if type(net[ctor]) ~= "function" then
      objects[r.recv] = { missing = "net." .. ctor .. " does not exist" }
    else
      local ok, v, err = pcall(r.make, net)
      if ok and v ~= nil then
        objects[r.recv] = { value = v }
        made[#made + 1] = v
      else
        objects[r.recv] = { missing = r.via .. " failed: "
          .. tostring(ok and err or v) }
      end
    end
  end
  return objects, made
end

local function report(problems)
  return #problems .. " problem(s):\n  " .. table.concat(problems, "\n  ")
end

describe("the reference (docs/api/*.md)", function()
  it("has a heading for every name of require 'netbasics', and every "
    .. "heading names something that exists", function()
    local net = require "netbasics"
    local headings = A.read("docs/api")
    local objects, made = make_objects(net)
    finally(function()
      for _, o in ipairs(made) do
        if type(o) == "userdata" or type(o) == "table" then
          pcall(function() o:close() end)
        end
      end
    end)
    local problems = A.check(headings, net, objects)
    assert(#problems == 0, report(problems))
  end)

  it("covers net.fetch and net.download, Lua functions that load "
    .. "netbasics.curl only when first called", function()
    local net = require "netbasics"
    assert.equal("function", type(net.fetch))
    assert.equal("function", type(net.download))
    assert.equal("Lua", debug.getinfo(net.fetch, "S").what)
    assert.equal("Lua", debug.getinfo(net.download, "S").what)
    assert.is_nil(package.loaded["netbasics.curl"])
  end)

  it("has an index, docs/api/README.md, that links every page and only "
    .. "pages that exist", function()
    local _, files = A.read("docs/api")
    local index = assert(T.slurp("docs/api/README.md"), "no docs/api/README.md")
    local problems = {}
    for _, f in ipairs(files) do
      local base = f:match("([^/]+)$")
      if base ~= "README.md" and not index:find("(" .. base .. ")", 1, true)
      then
        problems[#problems + 1] = "it does not link " .. base
      end
    end
    for link in index:gmatch("%]%(([^)#]+)[^)]*%)") do
      if not link:match("^%a+:") and not T.slurp("docs/api/" .. link) then
        problems[#problems + 1] = "it links " .. link .. ", which does not exist"
      end
    end
    assert(#problems == 0, report(problems))
  end)
end)

-- the checker itself, on made-up modules: it must fail for the right reasons
describe("the reference check", function()
  local function check(md, module, objects)
    return A.check(A.headings(md, "fake.md"), module, objects)
  end
  local function has(problems, pattern)
    for _, p in ipairs(problems) do
      if p:find(pattern) then return true end
    end
    return false, report(problems)
  end
  local fake = { add = function() end, MAX = 3, _VERSION = "x",
                 _private = function() end }
  local good = "# fake\n### net.add(a, b)\nAdds.\n### net.MAX\n"
    .. "### net._VERSION\n"

  it("passes when headings and module agree", function()
    assert.same({}, check(good, fake))
  end)

  it("fails when a function is undocumented", function()
    local p = check("### net.MAX\n### net._VERSION\n", fake)
    assert(has(p, "net%.add has no `### net%.add%(%.%.%.%)` heading"))
    assert.equal(1, #p)
  end)

  it("fails when a value is undocumented", function()
    local p = check("### net.add(a, b)\n### net._VERSION\n", fake)
    assert(has(p, "net%.MAX %(a number%) has no `### net%.MAX` heading"))
    assert.equal(1, #p)
  end)

  it("fails when a heading names a missing function", function()
    local p = check(good .. "### net.subtract(a, b)\n", fake)
    assert(has(p, "fake%.md:6: ### net%.subtract%(a, b%): net%.subtract "
      .. "does not exist"))
    assert.equal(1, #p)
  end)

  it("fails when a heading calls a value, or a function lacks its "
    .. "arguments", function()
    local p = check("### net.add\n### net.MAX()\n### net._VERSION\n", fake)
    assert(has(p, "net%.add is a function: write `### net%.add%(args%)`"))
    assert(has(p, "net%.MAX is a number, not a function"))
    assert.equal(2, #p)
  end)

  it("fails on a heading documented twice or malformed", function()
    local p = check(good .. "### net.add(x)\n### net.MAX (the cap)\n", fake)
    assert(has(p, "net%.add is documented twice %(also fake%.md:2%)"))
    assert(has(p, "malformed reference heading"))
    assert.equal(2, #p)
  end)

  it("ignores prose headings and fenced code", function()
    local md = good .. "### Errors\n#### net.nothing\n```\n### net.nope()\n```\n"
    assert.same({}, check(md, fake))
  end)

  describe("methods", function()
    local mt = { __index = { recv = function() end, close = function() end,
                             __secret = function() end } }
    local obj = setmetatable({}, mt)
    local objs = { s = { value = obj } }
    local md = good .. "### s:recv(max)\n### s:close()\n"

    it("pass when every method is documented", function()
      assert.same({}, check(md, fake, objs))
    end)

    it("fail when a method is undocumented", function()
      local p = check(good .. "### s:recv(max)\n", fake, objs)
      assert(has(p, "s:close has no `### s:close%(%.%.%.%)` heading"))
      assert.equal(1, #p)
    end)

    it("fail when a heading names a missing method", function()
      local p = check(md .. "### s:send(data)\n", fake, objs)
      assert(has(p, "s:send does not exist"))
      assert.equal(1, #p)
    end)

    it("fail for an unknown receiver or an object that cannot be made",
      function()
      local p = check(md .. "### x:foo()\n", fake, objs)
      assert(has(p, "unknown receiver 'x' %(known: net, s%)"))
      p = check(md, fake, { s = { missing = "net.socket does not exist" } })
      assert(has(p, "cannot check s:recv: net%.socket does not exist"))
      assert.equal(2, #p)
    end)

    it("read fields of table objects and methods behind an __index "
      .. "function", function()
      local cmt = { contains = function() end }
      cmt.__index = function(_, k) return cmt[k] end
      local c = setmetatable({ network = "10.0.0.0" }, cmt)
      local p = check(good .. "### c.network\n### c:contains(ip)\n", fake,
        { c = { value = c } })
      assert.same({}, p)
      p = check(good .. "### c.network\n### c.broadcast\n", fake,
        { c = { value = c } })
      assert(has(p, "c%.broadcast does not exist"))
      assert(has(p, "c:contains has no"))
      assert.equal(2, #p)
    end)

    it("read methods kept in a table the __index function closes over",
      function()
      local methods = { contains = function() end }
      local c = setmetatable({}, { __index = function(_, k)
        if k == "size" then return 256 end
        return methods[k]
      end })
      assert.same({}, check(good .. "### c:contains(ip)\n### c.size\n", fake,
        { c = { value = c } }))
      local p = check(good .. "### c.size\n", fake, { c = { value = c } })
      assert(has(p, "c:contains has no `### c:contains%(%.%.%.%)` heading"))
      assert.equal(1, #p)
    end)
  end)
end)

-- the options of the man page and of --help, as sets of flags
local function help_options(text)
  local set = {}
  for line in text:gmatch("[^\n]+") do
    local spec = line:match("^  (%-%S*.-)%s%s+%S")
    if spec then
      for flag in (spec .. ","):gmatch("%s*(%-%-?[%w]*)[^,]*,") do
        set[flag] = true
      end
    end
  end
  return set
end

local function man_options(text)
  local set, section, after_tp = {}, nil, false
  for line in text:gmatch("[^\n]+") do
    local sh = line:match("^%.SH%s+(.-)%s*$")
    if sh then
      section = sh
    elseif section == "OPTIONS" then
      if line:match("^%.TP") then
        after_tp = true
      elseif after_tp then
        after_tp = false
        local s = line:gsub("\\%-", "-"):gsub("^%.%a+%s*", "")
        for flag in (" " .. s):gmatch("[%s\"](%-%-?[%w]*)") do
          set[flag] = true
        end
      end
    end
  end
  return set
end

local function keys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return t
end

describe("the man page (docs/netbasics.1)", function()
  it("lists the same options as netbasics --help", function()
    local r = T.nb({ "--help" })
    assert.equal(0, r.code)
    local man = assert(T.slurp("docs/netbasics.1"))
    local h, m = keys(help_options(r.out)), keys(man_options(man))
    assert.same({ "-", "--", "--help", "--list", "--version", "-E", "-W",
                  "-e", "-h", "-i", "-l", "-v" }, h)
    assert.same(h, m)
  end)

  it("renders without a warning", function()
    local r = T.run("groff -man -Tutf8 -ww -z docs/netbasics.1")
    assert.equal(0, r.code)
    assert.equal("", r.err)
  end)

  it("names the version the module reports", function()
    local man = assert(T.slurp("docs/netbasics.1"))
    local v = require("netbasics")._VERSION
    assert(man:find('"netbasics ' .. v .. '"', 1, true),
      ".TH does not name netbasics " .. v)
  end)

  it("is what `man` shows", function()
    local r = T.run("MANWIDTH=80 man -l docs/netbasics.1")
    assert.equal(0, r.code)
    assert.truthy(r.out:find("NAME\n       netbasics %- Lua 5%.4 with a networking"))
    assert.truthy(r.out:find("\n       %-h, %-%-help\n"))
  end)
end)

-- the lessons of `netbasics --list`: {usage, title} in order, the usage
-- being the name and its arguments (netbasics.lesson's declaration)
local function listed_lessons()
  local r = T.nb({ "--list" })
  assert.equal(0, r.code, r.err)
  local list, pending = {}, nil
  for line in r.out:gmatch("([^\n]*)\n") do
    local usage, title = line:match("^  (%S.-)  +(%S.*)$")
    if usage then
      list[#list + 1] = { usage, title }
    elseif line:match("^  %S") then
      pending = line:match("^  (.-)%s*$")   -- a long usage: title below
    elseif pending and line:match("^%s+%S") then
      list[#list + 1] = { pending, line:match("^%s+(.-)%s*$") }
      pending = nil
    end
  end
  return list
end

describe("the lessons in --list, the man page and the README", function()
  it("are the same lessons with the same arguments", function()
    local list = listed_lessons()
    assert.is_true(#list >= 10)
    -- the man page: .TP, .B "netbasics USAGE", then the title
    local man = assert(T.slurp("docs/netbasics.1"))
    local section = man:match("\n%.SH LESSONS\n(.-)\n%.SH ")
    local inman = {}
    for usage, title in section:gmatch('\n%.TP\n%.B "netbasics ([^"]+)"\n'
      .. '([^\n]+)') do
      inman[#inman + 1] = { (usage:gsub("\\%-", "-")),
        (title:gsub("\\%-", "-")) }
    end
    assert.same(list, inman)
    -- the README: a table row `USAGE` | what it shows, for each
    local readme = assert(T.slurp("README.md"))
    local tbl = assert(readme:match("\n(| lesson and its arguments |.-)\n\n"),
      "README.md has no table of lessons")
    local rows = {}
    for usage in ("\n" .. tbl):gmatch("\n| `([^`]+)` | [^\n]+ |") do
      rows[usage] = true
    end
    local want, have = {}, {}
    for _, l in ipairs(list) do want[#want + 1] = l[1] end
    for u in pairs(rows) do have[#have + 1] = u end
    table.sort(want)
    table.sort(have)
    assert.same(want, have)
  end)

  it("every lesson's --help starts with its usage in --list", function()
    for _, l in ipairs(listed_lessons()) do
      local r = T.nb({ l[1]:match("^(%S+)"), "--help" })
      assert.equal(0, r.code)
      assert.equal("usage: netbasics " .. l[1] .. "\n" .. l[2] .. "\n",
        r.out:match("^[^\n]*\n[^\n]*\n"))
    end
  end)
end)
