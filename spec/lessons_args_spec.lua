-- Every lesson and exercise as a new learner finds it: --help and -h,
-- the usage line of --list, and the mistakes learners make (a wrong
-- number of arguments, an empty one, an unknown option), each answered
-- with what is wrong and the usage line, exit 2, before anything acts.
-- The arguments come from each lesson's declaration (netbasics.lesson).
local T = require "nbtest"

-- the usage of every lesson, from --list: name -> "name ARGS"
local function listed()
  local r = T.nb({ "--list" })
  assert.equal(0, r.code, r.err)
  local usages, order = {}, {}
  local pending
  for line in r.out:gmatch("([^\n]*)\n") do
    local u = line:match("^  (%S.-)  +%S") or line:match("^  (%S.*%S)$")
    if line:match("^  %S") and u then
      local name = u:match("^(%S+)")
      usages[name], order[#order + 1] = u, name
      pending = nil
    end
  end
  assert.is_nil(pending)
  return usages, order
end

-- a full, well-formed argument list for each lesson (no network needed:
-- each is only checked, then refused for the one extra argument); a new
-- lesson must be added here, with its data arguments in DATA if it has
-- them
local FULL = {
  download = { "http://127.0.0.1:1/", "/tmp/nbtest-never" },
  ["download-and-open"] = { "http://127.0.0.1:1/", "/tmp/nbtest-never" },
  names = { "x.test", "127.0.0.1:1" },
  octets = { "10.0.0.1" },
  ports = {},
  ["talk-server"] = { "127.0.0.1", "1" },
  ["chat-server"] = { "127.0.0.1", "1", "5" },
  ["talk-client"] = false,   -- [MESSAGE...]: no argument is one too many
  isipandport = false,       -- [SOCKETSTRING...]
  ["ask-ip-port"] = false,   -- [ANSWER...]
  ["secure-talk"] = false,   -- MODE [HOST [PORT [FINGERPRINT [MESSAGE...]]]]
  certificate = { "127.0.0.1", "1" },
}
-- lessons whose arguments are the data under test: an empty string is
-- an answer to judge ("You gave me nothing"), not a mistake
local DATA = { isipandport = true, ["ask-ip-port"] = true }

describe("every lesson and exercise", function()
  local usages, order = listed()

  it("is known here (FULL lists them all)", function()
    assert.is_true(#order >= 10)
    for _, name in ipairs(order) do
      assert.is_not_nil(FULL[name], name .. " is missing from FULL")
    end
  end)

  it("answers --help and -h on standard output, exit 0, with the usage "
    .. "line of --list, its title and an example", function()
    for _, name in ipairs(order) do
      for _, flag in ipairs { "--help", "-h" } do
        local r = T.nb({ name, flag })
        assert.equal(0, r.code, name .. " " .. flag .. ": " .. r.err)
        assert.equal("", r.err, name)
        local first = r.out:match("^([^\n]*)\n")
        assert.equal("usage: netbasics " .. usages[name], first)
        assert.matches("\nExamples?:\n  netbasics " .. name:gsub("%-", "%%-"),
          r.out)
        -- the same as the flag after other arguments
        local args = { name }
        for _, a in ipairs(FULL[name] or {}) do args[#args + 1] = a end
        args[#args + 1] = flag
        assert.equal(r.out, T.nb(args).out, name)
      end
    end
  end)

  local function refused(name, args, why)
    local r = T.nb(args)
    assert.equal(2, r.code, name .. ": " .. table.concat(args, " ") .. "\n"
      .. r.out .. r.err)
    assert.equal("", r.out, name)
    assert.equal(name .. ": " .. why .. "\nusage: netbasics " .. usages[name]
      .. "\n", r.err)
  end

  it("refuses an unknown option, naming it", function()
    for _, name in ipairs(order) do
      refused(name, { name, "-x" }, "unknown option '-x'")
      refused(name, { name, "--verbose" }, "unknown option '--verbose'")
    end
  end)

  it("refuses one argument too many", function()
    for _, name in ipairs(order) do
      if FULL[name] then
        local args = { name, table.unpack(FULL[name]) }
        args[#args + 1] = "extra"
        refused(name, args, "too many arguments: 'extra' is one more than "
          .. "it takes")
      end
    end
  end)

  it("refuses an empty argument, naming it", function()
    for _, name in ipairs(order) do
      if not DATA[name] then
        local r = T.nb({ name, "" })
        assert.equal(2, r.code, name)
        assert.equal("", r.out, name)
        if usages[name] == name then  -- it takes none: one too many
          assert.matches(": too many arguments: '' is one more than it "
            .. "takes\n", r.err)
        else
          assert.matches("^" .. name:gsub("%-", "%%-") .. ": %S+ is empty\n"
            .. "usage: netbasics ", r.err)
        end
      end
    end
  end)
end)

describe("the argument checks", function()
  local function refused(args, why, usage)
    local r = T.nb(args)
    assert.same({ 2, "", args[1] .. ": " .. why .. "\nusage: netbasics "
      .. usage .. "\n" }, { r.code, r.out, r.err })
  end

  it("talk-server: HOST and PORT; port 0 lets the system choose", function()
    local U = "talk-server [HOST [PORT]]"
    local RULE = "ports go from 1 to 65535, or 0 to let the system choose one"
    for _, p in ipairs { "abc", "-1", "65536", "99999999999", "1.5", " 80",
      "+80", "0x50" } do
      refused({ "talk-server", "127.0.0.1", p }, "PORT '" .. p .. "': "
        .. RULE, U)
    end
    for _, h in ipairs { "127.1", "256.1.1.1", "a..b", "-", "1.2.3.4:80" } do
      refused({ "talk-server", h }, "HOST '" .. h .. "': not an IP address "
        .. "or a host name (0.0.0.0 is every interface, 127.0.0.1 this "
        .. "computer only)", U)
    end
  end)

  it("chat-server: IDLE is a number of seconds", function()
    local U = "chat-server [HOST [PORT [IDLE]]]"
    for _, idle in ipairs { "abc", "0", "-5", "86401", "1e3", "" } do
      local why = idle == "" and "IDLE is empty"
        or ("IDLE '" .. idle .. "': a number of seconds above 0 and at most "
          .. "86400")
      refused({ "chat-server", "127.0.0.1", "9096", idle }, why, U)
    end
    refused({ "chat-server", "127.0.0.1", "70000" }, "PORT '70000': ports go "
      .. "from 1 to 65535, or 0 to let the system choose one", U)
  end)

  it("download and download-and-open: a URL, shown as given", function()
    for _, name in ipairs { "download", "download-and-open" } do
      local U = name .. " [URL [PATH]]"
      refused({ name, "http://a b/" }, "URL 'http://a b/': has a space or a "
        .. "control character (a space is written %20 in a URL)", U)
      refused({ name, "www.python.org" }, "URL 'www.python.org': not a URL "
        .. "(like http://www.python.org/)", U)
      refused({ name, "ftp://x/" }, "URL 'ftp://x/': not http:// or "
        .. "https://", U)
      refused({ name, "http://127.0.0.1:1/", "" }, "PATH is empty", U)
    end
  end)

  it("a bad byte in an argument is shown escaped", function()
    refused({ "octets", "1\27[2J" }, "ADDRESS '1\\x1B[2J': not an IPv4 "
      .. "address (four numbers 0 to 255 with dots, like 185.172.165.184)",
      "octets [ADDRESS]")
  end)
end)

describe("download's message when the download fails", function()
  it("names the URL once", function()
    local port = T.free_port("tcp")
    local d = T.tmpdir()
    finally(function() T.rmtree(d) end)
    -- a server that answers 404 to everything
    local p = T.spawn("exec python3 -m http.server --bind 127.0.0.1 "
      .. port .. " --directory " .. T.shquote(d))
    finally(function() p:stop() end)
    assert.truthy(T.wait_port(port))
    local url = "http://127.0.0.1:" .. port .. "/missing.html"
    local r = T.nb({ "download", url, d .. "/copy.html" })
    assert.equal(1, r.code)
    assert.equal("Could not download " .. url .. ": HTTP 404 File not "
      .. "found\n", r.err)
  end)
end)
