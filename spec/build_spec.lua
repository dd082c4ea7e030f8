-- build: the Makefile and the rockspec build the same sources, every source
-- file is in a list, and every place that names the version agrees.
local T = require "nbtest"

local ROCKSPEC = "rockspec/netbasics-scm-1.rockspec"
local LISTS = { "CORE_SRC", "FETCH_SRC", "TLS_SRC", "HOST_SRC", "LUA_SRC",
  "HEADERS" }

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

-- a Makefile variable as make sees it (`make -s print-VAR`)
local function makevar(name)
  local r = T.run("make -s print-" .. name)
  assert(r.code == 0, "make print-" .. name .. ": " .. (r.err or ""))
  return words(r.out)
end

-- the rockspec as LuaRocks reads it: assignments in an empty environment
local function rockspec()
  local env = {}
  local chunk = assert(loadfile(ROCKSPEC, "t", env))
  chunk()
  return env
end

local function ls(pattern)
  local p = io.popen("ls " .. pattern .. " 2>/dev/null")
  local t = {}
  for f in p:lines() do t[#t + 1] = f end
  p:close()
  return t
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

describe("the rockspec", function()
  local spec = rockspec()

  it("is netbasics scm-1, named as LuaRocks wants", function()
    assert.equal("netbasics", spec.package)
    assert.equal("scm-1", spec.version)
    assert.equal(ROCKSPEC, "rockspec/" .. spec.package .. "-" .. spec.version
      .. ".rockspec")
    assert.same({ "lua >= 5.4, < 5.5" }, spec.dependencies)
  end)

  it("builds with the Makefile and checks for libcurl and c-ares first",
    function()
    assert.equal("make", spec.build.type)
    assert.same({ library = "curl" }, spec.external_dependencies.CURL)
    assert.same({ header = "ares.h", library = "cares" },
      spec.external_dependencies.CARES)
    for _, v in ipairs({ "PREFIX", "BINDIR", "LIBDIR", "LUADIR", "LUA",
                         "CFLAGS" }) do
      assert.equal("$(" .. v .. ")", spec.build.variables[v], v)
    end
  end)

  for _, name in ipairs(LISTS) do
    it("lists the Makefile's " .. name, function()
      local r = spec.build.variables[name]
      assert(r, ROCKSPEC .. " has no build.variables." .. name)
      assert.same(makevar(name), words(r))
    end)
  end
end)

describe("the source lists", function()
  it("name files that exist", function()
    for _, name in ipairs(LISTS) do
      for _, f in ipairs(makevar(name)) do
        assert(T.slurp(f), name .. " names " .. f .. ", which does not exist")
      end
    end
  end)

  it("hold every C file, header and Lua module of the tree", function()
    local c = set(makevar("CORE_SRC"))
    for _, f in ipairs(makevar("FETCH_SRC")) do c[f] = true end
    for _, f in ipairs(makevar("TLS_SRC")) do c[f] = true end
    for _, f in ipairs(makevar("HOST_SRC")) do c[f] = true end
    local missing = {}
    for _, f in ipairs(ls("csrc/*.c")) do
      if not c[f] then missing[#missing + 1] = f .. " (CORE_SRC, FETCH_SRC, "
        .. "TLS_SRC or HOST_SRC)" end
    end
    local h = set(makevar("HEADERS"))
    for _, f in ipairs(ls("csrc/*.h")) do
      if not h[f] then missing[#missing + 1] = f .. " (HEADERS)" end
    end
    local lua = set(makevar("LUA_SRC"))
    local p = io.popen("find lua -name '*.lua' | sort")
    for f in p:lines() do
      if not lua[f] then missing[#missing + 1] = f .. " (LUA_SRC)" end
    end
    p:close()
    assert(#missing == 0, "not in the Makefile and " .. ROCKSPEC .. ": "
      .. table.concat(missing, ", "))
  end)
end)

describe("the version", function()
  local version = rockspec().version

  it("is NB_VERSION in csrc/netbasics.h", function()
    local h = assert(T.slurp("csrc/netbasics.h"))
    assert.equal(version, h:match('#define NB_VERSION "([^"]*)"'))
  end)

  it("is net._VERSION and netbasics.core._VERSION", function()
    assert.equal(version, require("netbasics")._VERSION)
    assert.equal(version, require("netbasics.core")._VERSION)
  end)

  it("is what netbasics -v prints", function()
    local r = T.nb({ "-v" })
    assert.equal(0, r.code)
    assert.truthy(r.out:find("^netbasics " .. version:gsub("%-", "%%-")
      .. " %(Lua 5%.4"))
  end)
end)

describe("the host's lesson folder", function()
  it("is compiled in from DATADIR and rebuilt only when DATADIR changes",
    function()
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    -- in a build folder of its own (B=), so the tree's build is untouched
    local function paths(datadir)
      local h = d .. "/build/gen/nb_paths.h"
      local r = T.run(string.format("make -s B=%s/build %s DATADIR=%s && "
        .. "stat -c %%i %s && cat %s", d, h, datadir, h, h))
      assert(r.code == 0, r.err)
      return r.out
    end
    local a = paths(d .. "/one")
    assert.truthy(a:find('#define NB_DATADIR "' .. d .. '/one"', 1, true))
    assert.equal(a, paths(d .. "/one"))  -- the same file: not rewritten
    local b = paths(d .. "/two")
    assert.truthy(b:find('#define NB_DATADIR "' .. d .. '/two"', 1, true))
    assert.not_equal(a:match("^%d+"), b:match("^%d+"))
  end)
end)

describe("scripts/deps", function()
  local function set(name)
    local r = T.run("scripts/deps --print " .. name)
    assert.equal(0, r.code, r.err)
    local s, list = {}, {}
    for p in r.out:gmatch("[^\n]+") do s[p], list[#list + 1] = true, p end
    return s, list
  end

  it("installs for make demo only what building and the tour need", function()
    local tour = set("tour")
    for _, p in ipairs { "make", "gcc", "lua5.4", "liblua5.4-dev",
      "libcurl4-openssl-dev", "libc-ares-dev", "dnsmasq-base", "python3",
      "netcat-openbsd", "iproute2" } do
      assert.is_true(tour[p], p)
    end
    for _, p in ipairs { "chromium", "clang-14", "valgrind", "nginx-light",
      "hyperfine", "gnuplot-nox", "lua-socket", "lua-busted" } do
      assert.is_nil(tour[p], p)
    end
  end)

  it("adds the tests' and the benchmarks' packages to the tour's", function()
    local tour, test, bench = set("tour"), set("test"), set("bench")
    for p in pairs(tour) do
      assert.is_true(test[p], p)
      assert.is_true(bench[p], p)
    end
    for _, p in ipairs { "lua-busted", "chromium", "clang-14", "valgrind",
      "nginx-light", "tmux", "socat" } do
      assert.is_true(test[p], p)
    end
    for _, p in ipairs { "hyperfine", "gnuplot-nox", "lua-socket" } do
      assert.is_true(bench[p], p)
    end
  end)

  it("the Makefile asks for the tour's set for demo, the test set for "
    .. "test and the bench set for bench", function()
    local mk = assert(T.slurp("Makefile"))
    assert.truthy(mk:find("\ndemo:\n\t@scripts/deps tour\n", 1, true))
    assert.truthy(mk:find("\ntest:\n\t@scripts/deps test\n", 1, true))
    assert.truthy(mk:find("\nbench:\n\t@scripts/deps bench\n", 1, true))
  end)
end)

describe("scripts/deps on a machine that has nothing", function()
  it("says what each set will install before it does", function()
    -- a dpkg-query that knows no package and an id that is not root
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    T.writefile(d .. "/dpkg-query", "#!/bin/sh\nexit 0\n")
    T.writefile(d .. "/id", "#!/bin/sh\necho 1000\n")
    os.execute("chmod +x " .. d .. "/dpkg-query " .. d .. "/id")
    local env = "PATH=" .. T.shquote(d) .. ":$PATH "
    local r = T.run(env .. "scripts/deps tour")
    assert.equal(1, r.code)
    local want = {}
    local p = T.run("scripts/deps --print tour")
    for pkg in p.out:gmatch("[^\n]+") do want[#want + 1] = pkg end
    assert.equal("scripts/deps: building and the tour (make demo) needs "
      .. "these packages, missing here: " .. table.concat(want, " ") .. "\n"
      .. "scripts/deps: run as root:\n  apt-get update && apt-get install -y "
      .. "--no-install-recommends " .. table.concat(want, " ") .. "\n", r.err)
    r = T.run(env .. "scripts/deps test")
    assert.equal(1, r.code)
    assert.matches("^scripts/deps: building, the tour and the tests %(make "
      .. "test%) needs these packages, missing here: make gcc ", r.err)
    assert.truthy(r.err:find(" chromium ", 1, true))
  end)
end)
