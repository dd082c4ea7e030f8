-- The host binary, build/bin/netbasics: the conventions of `lua` (lua.c),
-- the built-in module, lessons by name, errors and Ctrl-C.
local T = require "nbtest"

describe("netbasics host", function()
  local dir
  setup(function()
    dir = T.tmpdir()
    T.writefile(dir .. "/args.lua",
      "print(#arg, arg[0], arg[1], arg[2], arg[-1])\n")
    T.writefile(dir .. "/fail.lua", "local function f() error('boom') end\nf()\n")
    T.writefile(dir .. "/exit3.lua", "os.exit(3)\n")
    -- a fake lesson folder, as the host finds one beside its binary
    os.execute("mkdir -p " .. dir .. "/scripts/lessons "
      .. dir .. "/scripts/exercises")
    T.writefile(dir .. "/scripts/lessons/hello.lua",
      "#!/usr/bin/env netbasics\n-- Hello: says hello\nprint('hello', ...)\n")
    T.writefile(dir .. "/scripts/lessons/second.lua",
      "-- Second lesson\nprint(arg[0])\n")
    T.writefile(dir .. "/scripts/exercises/ex.lua", "-- An exercise\n")
    -- a lesson that declares its arguments, and one whose declaration
    -- would be followed by something the --list must never run
    T.writefile(dir .. "/scripts/lessons/declared.lua", table.concat({
      "-- Declared: takes a port",
      "local args = require(\"netbasics.lesson\").args {",
      "  name = \"declared\",",
      "  { \"PORT\", \"port\", required = true, about = \"a port\" },",
      "  example = \"netbasics declared 80\",",
      "}",
      "io.open(arg[0] .. \".ran\", \"w\"):close()",
      "print(\"port\", args.PORT)",
    }, "\n") .. "\n")
    T.writefile(dir .. "/scripts/exercises/notes.txt", "not a script\n")
  end)
  teardown(function() T.rmtree(dir) end)

  local function nbin(env, args, input)
    local q = {}
    for i, a in ipairs(args) do q[i] = T.shquote(a) end
    return T.run(env .. " " .. T.shquote(T.host) .. " " .. table.concat(q, " "),
      input)
  end

  describe("options as lua", function()
    it("-e runs a chunk", function()
      local r = T.nb({ "-e", "print(1 + 1)" })
      assert.same({ "2\n", "", 0 }, { r.out, r.err, r.code })
    end)

    it("runs -e chunks and -l libraries in order", function()
      local r = T.nb({ "-e", "x = 1", "-l", "string", "-e", "print(x, string == require 'string')" })
      assert.same({ "1\ttrue\n", 0 }, { r.out, r.code })
    end)

    it("-eCHUNK without a space, as lua", function()
      local r = T.nb({ "-eprint'joined'" })
      assert.same({ "joined\n", 0 }, { r.out, r.code })
    end)

    it("gives a script its arguments in arg", function()
      local r = T.nb({ dir .. "/args.lua", "a", "b" })
      assert.equal(string.format("2\t%s/args.lua\ta\tb\t%s\n", dir, T.host),
        r.out)
      assert.equal(0, r.code)
    end)

    it("-- ends the options", function()
      local r = T.nb({ "--", dir .. "/args.lua", "-e" })
      assert.equal(string.format("1\t%s/args.lua\t-e\tnil\t--\n", dir), r.out)
    end)

    it("'-' runs standard input with its arguments", function()
      local r = T.nb({ "-", "x" }, "print(arg[1], ...)\n")
      assert.same({ "x\tx\n", 0 }, { r.out, r.code })
    end)

    it("runs piped standard input when it is not a terminal", function()
      local r = T.nb({}, "print('from stdin')\n")
      assert.same({ "from stdin\n", 0 }, { r.out, r.code })
    end)

    it("gives piped standard input the prompt's net; a script file and "
      .. "'-' get none, as in lua", function()
      local r = T.nb({}, "print(net._VERSION, net == require 'netbasics')\n")
      assert.same({ "scm-1\ttrue\n", "", 0 }, { r.out, r.err, r.code })
      r = T.nb({ "-" }, "print(net)\n")
      assert.same({ "nil\n", 0 }, { r.out, r.code })
      T.writefile(dir .. "/net.lua", "print(net)\n")
      r = T.nb({ dir .. "/net.lua" })
      assert.same({ "nil\n", 0 }, { r.out, r.code })
    end)

    it("-v and --version print the version", function()
      for _, flag in ipairs { "-v", "--version" } do
        local r = T.nb({ flag })
        assert.matches("^netbasics scm%-1 %(Lua 5%.4%.%d+%)\n$", r.out)
        assert.equal(0, r.code)
      end
    end)

    it("-h and --help print usage on stdout and exit 0", function()
      for _, flag in ipairs { "-h", "--help" } do
        local r = T.nb({ flag })
        assert.equal(0, r.code)
        assert.matches("^usage: netbasics %[options%]", r.out)
        assert.matches("%-%-list", r.out)
        assert.equal("", r.err)
      end
    end)

    it("an unknown option is a usage error, exit 2", function()
      local r = T.nb({ "-x" })
      assert.equal(2, r.code)
      assert.matches("^netbasics: unrecognized option '%-x'\nusage:", r.err)
    end)

    it("-e without its chunk is a usage error", function()
      local r = T.nb({ "-e" })
      assert.equal(2, r.code)
      assert.matches("^netbasics: '%-e' needs argument", r.err)
    end)

    it("-E ignores LUA_INIT; without it LUA_INIT runs first", function()
      local r = nbin("LUA_INIT='print(\"init\")'", { "-e", "print('main')" })
      assert.equal("init\nmain\n", r.out)
      r = nbin("LUA_INIT='print(\"init\")'", { "-E", "-e", "print('main')" })
      assert.equal("main\n", r.out)
    end)
  end)

  describe("errors", function()
    it("print netbasics: message and a traceback, exit 1", function()
      local r = T.nb({ dir .. "/fail.lua" })
      assert.equal(1, r.code)
      assert.equal("", r.out)
      assert.matches("^netbasics: " .. dir:gsub("%p", "%%%0")
        .. "/fail%.lua:1: boom\nstack traceback:\n", r.err)
      assert.matches("in local 'f'", r.err)
    end)

    it("a syntax error exits 1 with the message", function()
      local r = T.nb({ "-e", "x = = 1" })
      assert.equal(1, r.code)
      assert.matches("^netbasics: %(command line%):1: unexpected symbol", r.err)
    end)

    it("a missing script file exits 1", function()
      local r = T.nb({ dir .. "/missing.lua" })
      assert.equal(1, r.code)
      assert.matches("^netbasics: cannot open .*missing%.lua", r.err)
    end)

    it("os.exit sets the exit status", function()
      assert.equal(3, T.nb({ dir .. "/exit3.lua" }).code)
    end)

    it("a non-string error object is named", function()
      local r = T.nb({ "-e", "error({})" })
      assert.equal(1, r.code)
      assert.matches("^netbasics: %(error object is a table value%)", r.err)
    end)
  end)

  describe("the built-in module", function()
    it("requires netbasics from any directory, without LUA_PATH", function()
      local r = T.run("cd / && env -u LUA_PATH -u LUA_CPATH "
        .. T.shquote(T.host)
        .. " -e 'local n = require \"netbasics\"; print(n._VERSION, "
        .. "package.loaded[\"netbasics.core\"] ~= nil)'")
      assert.same({ "scm-1\ttrue\n", 0 }, { r.out, r.code })
    end)

    it("the interactive prompt has net as a global", function()
      -- a pseudo-terminal, as a person uses it
      local r = T.run("script -qec " .. T.shquote(T.shquote(T.host) .. " -i")
        .. " /dev/null", "print(net._VERSION, type(net.listen or net.octets))\n")
      assert.equal(0, r.code)
      assert.matches("netbasics scm%-1", r.out)
      assert.matches("scm%-1\t%a+", r.out)
    end)
  end)

  describe("lessons by name", function()
    local env
    setup(function() env = "NETBASICS_SCRIPTS=" .. T.shquote(dir .. "/scripts") end)

    it("--list prints every lesson and exercise with its title", function()
      local r = nbin(env, { "--list" })
      assert.equal(0, r.code)
      -- NETBASICS_SCRIPTS adds to the bundled ones; names sorted
      local lessons, exercises = r.out:match("^Lessons:\n(.-)\n\nExercises:\n(.*)$")
      assert.matches("\n  hello +Hello: says hello\n", "\n" .. lessons)
      assert.matches("\n  second +Second lesson\n", "\n" .. lessons .. "\n")
      assert.matches("\n  ex +An exercise\n", "\n" .. exercises)
      -- a declared lesson shows its arguments on its line; listing it
      -- ran nothing of it past its declaration
      assert.matches("\n  declared PORT +Declared: takes a port\n",
        "\n" .. lessons)
      assert.is_nil(T.slurp(dir .. "/scripts/lessons/declared.lua.ran"))
      local names = {}
      for name in ("\n" .. lessons):gmatch("\n  (%S+)") do names[#names + 1] = name end
      local sorted = { table.unpack(names) }
      table.sort(sorted)
      assert.same(sorted, names)
      assert.is_nil(r.out:find("notes", 1, true))
    end)

    it("runs a lesson by name with its arguments", function()
      local r = nbin(env, { "hello", "a", "b" })
      assert.same({ "hello\ta\tb\n", 0 }, { r.out, r.code })
      r = nbin(env, { "second" })
      assert.equal(dir .. "/scripts/lessons/second.lua\n", r.out)
    end)

    it("--list takes no arguments", function()
      local r = nbin(env, { "--list", "names" })
      assert.same({ 2, "", "netbasics: --list takes no arguments (got "
        .. "'names'); netbasics names --help shows a lesson's\n" },
        { r.code, r.out, r.err })
    end)

    it("every lesson knows --help and -h, declared or not", function()
      for _, flag in ipairs { "--help", "-h" } do
        local r = nbin(env, { "declared", flag })
        assert.same({ 0, "" }, { r.code, r.err })
        assert.equal("usage: netbasics declared PORT\nDeclared: takes a port"
          .. "\n\n  PORT  a port (required)\n\nExample:\n  netbasics "
          .. "declared 80\n", r.out)
        r = nbin(env, { "second", flag })
        assert.same({ "usage: netbasics second [args]\nSecond lesson\n", 0 },
          { r.out, r.code })
      end
      local r = nbin(env, { "declared", "x" })
      assert.same({ 2, "", "declared: PORT 'x': ports go from 1 to 65535\n"
        .. "usage: netbasics declared PORT\n" }, { r.code, r.out, r.err })
      r = nbin(env, { "declared", "80" })
      assert.same({ 0, "port\t80\n" }, { r.code, r.out })
      os.remove(dir .. "/scripts/lessons/declared.lua.ran")
    end)

    it("an unknown name is one line and exit 2", function()
      local r = nbin(env, { "no-such-lesson" })
      assert.equal(2, r.code)
      assert.equal("netbasics: no lesson or script named 'no-such-lesson'"
        .. " (netbasics --list shows them)\n", r.err)
    end)

    it("finds the bundled lessons beside the build tree", function()
      local r = T.run("cd / && " .. T.shquote(T.host) .. " --list")
      assert.equal(0, r.code)
      assert.matches("^Lessons:\n", r.out)
    end)
  end)

  describe("Ctrl-C", function()
    it("stops a running script and exits 130", function()
      local p = T.spawn(T.shquote(T.host)
        .. " -e 'io.stdout:write(\"ready\\n\"); io.stdout:flush(); while true do end'")
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return p:out() == "ready\n" end, 10))
      p:kill("INT")
      assert.equal(130, p:wait(10))
      assert.equal("netbasics: interrupted!\n", p:err())
    end)
  end)
end)
