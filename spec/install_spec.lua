-- install: `luarocks make` into a temporary tree and `make install
-- DESTDIR=` into a temporary folder, each from a fresh copy of the sources;
-- then each install's host lists and runs a lesson, stock lua5.4 requires
-- the module from outside the source tree, and removing it leaves nothing.
local T = require "nbtest"
local q = T.shquote

local ROCKSPEC = "rockspec/netbasics-scm-1.rockspec"
local LR = "luarocks --lua-version=5.4"

-- a lesson added to each copy: where it, the module and netbasics.curl
-- were found, and its arguments
local PROBE = [[
-- install probe: where this lesson and its modules live
local net = require "netbasics"
local curl = require "netbasics.curl"
print("version " .. net._VERSION)
print("lesson " .. arg[0])
print("curlpath " .. package.searchpath("netbasics.curl", package.cpath))
print("curltype " .. type(curl))
print("args " .. table.concat(arg, " "))
]]

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function makevar(name)
  local r = T.run("make -s print-" .. name)
  assert(r.code == 0, r.err)
  return words(r.out)
end

local function run_ok(cmd)
  local r = T.run(cmd)
  assert(r.code == 0, cmd .. "\nexited " .. tostring(r.code) .. ":\n"
    .. (r.out or "") .. (r.err or ""))
  return r
end

-- the working tree's files (tracked and new, not ignored) copied to `dest`,
-- plus the probe lesson
local function copy_sources(dest)
  run_ok(string.format("mkdir -p %s && git ls-files -z -co --exclude-standard"
    .. " | xargs -0 sh -c 'for f; do [ ! -f \"$f\" ] || printf \"%%s\\0\" \"$f\";"
    .. " done' sh | tar --null -cf - -T - | tar -xf - -C %s", q(dest), q(dest)))
  run_ok("mkdir -p " .. q(dest .. "/scripts/lessons"))
  T.writefile(dest .. "/scripts/lessons/zz-probe.lua", PROBE)
end

-- every lesson and exercise name in a source copy
local function lesson_names(src)
  local names = {}
  local p = io.popen("cd " .. q(src) .. " && ls scripts/lessons/*.lua "
    .. "scripts/exercises/*.lua 2>/dev/null")
  for f in p:lines() do names[#names + 1] = f:match("([^/]+)%.lua$") end
  p:close()
  table.sort(names)
  return names
end

-- the names `netbasics --list` shows
local function listed(host)
  local r = run_ok("cd / && env -u NETBASICS_SCRIPTS " .. q(host) .. " --list")
  local names = {}
  for line in r.out:gmatch("[^\n]+") do
    names[#names + 1] = line:match("^  (%S+)")
  end
  table.sort(names)
  return names, r.out
end

-- the files (not folders) under `dir`, sorted, relative to it
local function files_under(dir)
  local r = run_ok("cd " .. q(dir) .. " && find . ! -type d | sort")
  return words(r.out)
end

local function probe(host, cwd)
  local r = run_ok("cd " .. q(cwd) .. " && env -u NETBASICS_SCRIPTS "
    .. q(host) .. " zz-probe a b")
  local o = {}
  for k, v in r.out:gmatch("(%S+) ([^\n]*)\n") do o[k] = v end
  return o
end

local function realpath(p)
  return run_ok("realpath -m " .. q(p)).out:match("[^\n]+")
end

-- TLS from an installed tree, in stock lua5.4 (arg 1: a folder for the
-- files): a throwaway certificate from netbasics.tls, a TLS listener
-- with it, a client that pins it; prints where netbasics.tls was found,
-- what tlsinfo says and the line that came back
local TLS_PROBE = [[
  local net = require "netbasics"
  local tls = require "netbasics.tls"
  local dir = arg[1]
  local c = assert(tls.selfsigned{ name = "localhost", ip = { "127.0.0.1" } })
  local function put(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    assert(f:write(text))
    assert(f:close())
  end
  put("cert.pem", c.cert)
  put("key.pem", c.key)
  local l = assert(net.listen("127.0.0.1", 0, { tls = {
    cert = dir .. "/cert.pem", key = dir .. "/key.pem" } }))
  local _, port = l:getsockname()
  net.spawn(function()
    local s <close> = assert(l:accept())
    s:settimeout(10)
    assert(s:write("over TLS: ", assert(s:recvline()), "\n"))
  end)
  local client = net.spawn(function()
    local s <close> = assert(net.connect("127.0.0.1", port, { timeout = 10,
      tls = { pin = c.pin } }))
    assert(s:write("hello\n"))
    local info = s:tlsinfo()
    return info.version, tostring(info.verified), info.chain[1].pin == c.pin,
      s:recvline()
  end)
  net.run()
  local _, version, verified, pinned, line = client:join()
  print(package.searchpath("netbasics.tls", package.cpath))
  print(version, verified, pinned, line)
]]

local tmp = T.tmpdir()
teardown(function() T.rmtree(tmp) end)

describe("luarocks make", function()
  local src, tree = tmp .. "/rock-src", tmp .. "/tree"
  local rockdir = tree .. "/lib/luarocks/rocks-5.4/netbasics/scm-1"
  local built

  lazy_setup(function()
    copy_sources(src)
    built = T.run("cd " .. q(src) .. " && " .. LR .. " make --tree " .. q(tree)
      .. " " .. ROCKSPEC)
  end)

  it("builds and installs offline into a fresh tree", function()
    assert(built.code == 0, built.out .. built.err)
    assert.truthy(built.out:find("netbasics scm%-1 is now installed in "
      .. tree:gsub("%p", "%%%0")))
  end)

  it("puts the host in bin, the C modules in lib/lua/5.4, the Lua half in "
    .. "share/lua/5.4 and the lessons, readable, in the rock's folder",
    function()
    local have = {}
    for _, f in ipairs(files_under(tree)) do have[f] = true end
    local want = { "./bin/netbasics", "./lib/lua/5.4/netbasics/core.so",
                   "./lib/lua/5.4/netbasics/curl.so",
                   "./lib/lua/5.4/netbasics/tls.so" }
    for _, f in ipairs(makevar("LUA_SRC")) do
      want[#want + 1] = "./share/lua/5.4/" .. f:gsub("^lua/", "")
    end
    local pre = "./lib/luarocks/rocks-5.4/netbasics/scm-1/share/"
    for _, name in ipairs(lesson_names(src)) do
      local rel = T.slurp(src .. "/scripts/lessons/" .. name .. ".lua")
        and "lessons/" or "exercises/"
      want[#want + 1] = pre .. "netbasics/" .. rel .. name .. ".lua"
      assert.equal(T.slurp(src .. "/scripts/" .. rel .. name .. ".lua"),
        T.slurp(tree .. "/" .. pre .. "netbasics/" .. rel .. name .. ".lua"))
    end
    want[#want + 1] = pre .. "man/man1/netbasics.1"
    for _, f in ipairs(want) do
      assert(have[f], f .. " is not in the tree")
    end
  end)

  it("has a host that lists and runs the installed lessons from any folder",
    function()
    local host = tree .. "/bin/netbasics"
    assert.same(lesson_names(src), (listed(host)))
    local o = probe(host, "/")
    assert.equal("scm-1", o.version)
    assert.equal(rockdir .. "/share/netbasics/lessons/zz-probe.lua", o.lesson)
    assert.equal(tree .. "/lib/lua/5.4/netbasics/curl.so", realpath(o.curlpath))
    assert.equal("table", o.curltype)
    assert.equal("a b", o.args)
  end)

  it("gives stock lua5.4 the module after `luarocks path`", function()
    local r = run_ok(string.format("cd / && eval \"$(%s path --tree %s)\" && "
      .. "lua5.4 -e %s", LR, q(tree), q([[
        local net = require "netbasics"
        print(net._VERSION)
        print(package.searchpath("netbasics", package.path))
        print(package.searchpath("netbasics.core", package.cpath))
        print(type(require "netbasics.curl"))]])))
    assert.same({ "scm-1", tree .. "/share/lua/5.4/netbasics/init.lua",
                  tree .. "/lib/lua/5.4/netbasics/core.so", "table" },
      words(r.out))
  end)

  it("is removed whole by luarocks remove", function()
    run_ok(LR .. " remove --tree " .. q(tree) .. " netbasics")
    local left = {}
    for _, f in ipairs(files_under(tree)) do
      if f:find("netbasics") then left[#left + 1] = f end
    end
    assert.same({}, left)
  end)

  it("stops with LuaRocks' message when a library's headers are missing",
    function()
    local empty, tree2 = tmp .. "/empty", tmp .. "/tree2"
    run_ok("mkdir -p " .. q(empty))
    local r = T.run("cd " .. q(src) .. " && " .. LR .. " make --tree "
      .. q(tree2) .. " " .. ROCKSPEC .. " CARES_DIR=" .. q(empty))
    assert.not_equal(0, r.code)
    assert.truthy(r.err:find("Could not find header file for CARES\n"
      .. "  No file ares.h in " .. empty:gsub("%p", "%%%0") .. "/include"))
    assert.is_nil(T.slurp(tree2 .. "/bin/netbasics"))
  end)
end)

describe("make install", function()
  local src, stage = tmp .. "/make-src", tmp .. "/stage"
  local prefix = stage .. "/usr/local"
  local installed

  lazy_setup(function()
    copy_sources(src)
    installed = T.run("cd " .. q(src) .. " && make install DESTDIR="
      .. q(stage) .. " PREFIX=/usr/local")
  end)

  it("installs under DESTDIR in the usual places", function()
    assert(installed.code == 0, installed.out .. installed.err)
    local have = {}
    for _, f in ipairs(files_under(stage)) do have[f] = true end
    local want = { "./usr/local/bin/netbasics",
                   "./usr/local/lib/lua/5.4/netbasics/core.so",
                   "./usr/local/lib/lua/5.4/netbasics/curl.so",
                   "./usr/local/lib/lua/5.4/netbasics/tls.so",
                   "./usr/local/share/man/man1/netbasics.1",
                   "./usr/local/share/doc/netbasics/README.md",
                   "./usr/local/share/doc/netbasics/api/README.md" }
    for _, f in ipairs(makevar("LUA_SRC")) do
      want[#want + 1] = "./usr/local/share/lua/5.4/" .. f:gsub("^lua/", "")
    end
    for _, name in ipairs(lesson_names(src)) do
      local kind = T.slurp(src .. "/scripts/lessons/" .. name .. ".lua")
        and "lessons/" or "exercises/"
      want[#want + 1] = "./usr/local/share/netbasics/" .. kind .. name .. ".lua"
    end
    for _, f in ipairs(want) do
      assert(have[f], f .. " is not installed")
    end
    local r = run_ok("stat -c %a " .. q(prefix .. "/bin/netbasics") .. " "
      .. q(prefix .. "/share/netbasics/lessons/zz-probe.lua"))
    assert.same({ "755", "644" }, words(r.out))
  end)

  it("has a host that lists and runs the installed lessons from any folder",
    function()
    local host = prefix .. "/bin/netbasics"
    assert.same(lesson_names(src), (listed(host)))
    local o = probe(host, "/")
    assert.equal("scm-1", o.version)
    assert.equal(prefix .. "/share/netbasics/lessons/zz-probe.lua",
      realpath(o.lesson))
    assert.equal(prefix .. "/lib/lua/5.4/netbasics/curl.so",
      realpath(o.curlpath))
    assert.equal("table", o.curltype)
    assert.equal("a b", o.args)
  end)

  it("gives stock lua5.4 the module from PREFIX's Lua folders", function()
    local r = run_ok(string.format("cd / && LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s",
      q(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua"),
      q(prefix .. "/lib/lua/5.4/?.so"), q([[
        local net = require "netbasics"
        print(net._VERSION)
        print(package.searchpath("netbasics", package.path))
        print(package.searchpath("netbasics.core", package.cpath))
        print(type(require "netbasics.curl"))]])))
    assert.same({ "scm-1", prefix .. "/share/lua/5.4/netbasics/init.lua",
                  prefix .. "/lib/lua/5.4/netbasics/core.so", "table" },
      words(r.out))
  end)

  it("installs netbasics.tls: stock lua5.4 connects with tls from PREFIX "
    .. "(a throwaway certificate, a pin)", function()
    local d = tmp .. "/tls-probe"
    run_ok("mkdir -p " .. q(d))
    T.writefile(d .. "/probe.lua", TLS_PROBE)
    local r = run_ok(string.format("cd / && LUA_PATH=%s LUA_CPATH=%s lua5.4 "
      .. "%s %s", q(prefix .. "/share/lua/5.4/?.lua;" .. prefix
      .. "/share/lua/5.4/?/init.lua"), q(prefix .. "/lib/lua/5.4/?.so"),
      q(d .. "/probe.lua"), q(d)))
    assert.equal(prefix .. "/lib/lua/5.4/netbasics/tls.so\n"
      .. "TLSv1.3\ttrue\ttrue\tover TLS: hello\n", r.out)
  end)

  it("works with the README's LUA_PATH_5_4 and LUA_CPATH_5_4 lines for "
    .. "PREFIX=DIR", function()
    local readme = assert(T.slurp(src .. "/README.md"))
    local lines = {}
    for l in readme:gmatch("\nexport (LUA_C?PATH_5_4=[^\n]+)") do
      lines[#lines + 1] = (l:gsub("DIR", prefix))
    end
    assert.equal(2, #lines)
    local r = run_ok("cd / && env -u LUA_PATH -u LUA_CPATH " .. lines[1] .. " "
      .. lines[2] .. " lua5.4 -e " .. q([[
        local net = require "netbasics"
        print(package.searchpath("netbasics", package.path))
        print(package.searchpath("netbasics.core", package.cpath))
        print(type(require "netbasics.curl"))]]))
    assert.same({ prefix .. "/share/lua/5.4/netbasics/init.lua",
                  prefix .. "/lib/lua/5.4/netbasics/core.so", "table" },
      words(r.out))
  end)

  it("installs the man page where man finds it", function()
    local r = run_ok("MANWIDTH=80 man -M " .. q(prefix .. "/share/man")
      .. " netbasics")
    assert.truthy(r.out:find("NAME\n       netbasics %- Lua 5%.4"))
  end)

  it("is removed by make uninstall, leaving no file and no folder of its "
    .. "own", function()
    assert.is_not_nil(T.slurp(prefix .. "/lib/lua/5.4/netbasics/tls.so"))
    run_ok("cd " .. q(src) .. " && make uninstall DESTDIR=" .. q(stage)
      .. " PREFIX=/usr/local")
    assert.is_nil(T.slurp(prefix .. "/lib/lua/5.4/netbasics/tls.so"))
    assert.same({}, files_under(stage))
    local r = run_ok("cd " .. q(stage) .. " && find . -name '*netbasics*'")
    assert.equal("", r.out)
    -- every folder install made is gone too (usr/local/... was not there)
    assert.same({}, T.ls(stage))
  end)

  it("make uninstall keeps the folders that were there before install, "
    .. "after two installs too", function()
    local other = tmp .. "/stage-kept"
    run_ok("mkdir -p " .. q(other .. "/opt/nb/share/man") .. " "
      .. q(other .. "/opt/nb/bin"))
    for _ = 1, 2 do
      run_ok("cd " .. q(src) .. " && make install DESTDIR=" .. q(other)
        .. " PREFIX=/opt/nb")
    end
    run_ok("cd " .. q(src) .. " && make uninstall DESTDIR=" .. q(other)
      .. " PREFIX=/opt/nb")
    local r = run_ok("cd " .. q(other) .. " && find . | sort")
    assert.equal(".\n./opt\n./opt/nb\n./opt/nb/bin\n./opt/nb/share\n"
      .. "./opt/nb/share/man\n", r.out)
  end)
end)
