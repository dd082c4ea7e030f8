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
    local U = "talk-server [HOST [PORT] | unix:PATH]"
    local RULE = "ports go from 1 to 65535, or 0 to let the system choose one"
    for _, p in ipairs { "abc", "-1", "65536", "99999999999", "1.5", " 80",
      "+80", "0x50" } do
      refused({ "talk-server", "127.0.0.1", p }, "PORT '" .. p .. "': "
        .. RULE, U)
    end
    for _, h in ipairs { "127.1", "256.1.1.1", "a..b", "-" } do
      refused({ "talk-server", h }, "HOST '" .. h .. "': not an IP address "
        .. "or a host name (0.0.0.0 is every interface, 127.0.0.1 this "
        .. "computer only)", U)
    end
  end)

  it("talk-server and talk-client: unix:PATH in place of HOST and PORT",
    function()
      local S = "talk-server [HOST [PORT] | unix:PATH]"
      local C = "talk-client {HOST PORT | unix:PATH} [MESSAGE...]"
      local WHY = "a Unix socket needs its path after unix: (like "
        .. "unix:/tmp/talk.sock, or unix:@talk for an abstract name)"
      for _, h in ipairs { "unix:", "unix:@" } do
        refused({ "talk-server", h }, "HOST '" .. h .. "': " .. WHY, S)
        refused({ "talk-client", h, "hi" }, "HOST '" .. h .. "': " .. WHY, C)
      end
      -- a Unix socket has no port: after unix:PATH it is one too many
      refused({ "talk-server", "unix:/tmp/nbtest-never.sock", "9087" },
        "too many arguments: '9087' is one more than it takes (a Unix "
        .. "socket has no port)", S)
      refused({ "talk-server", "unix:@nbtest-never", "x" }, "too many "
        .. "arguments: 'x' is one more than it takes", S)
      refused({ "talk-client", "unix:/tmp/nbtest-never.sock", "" },
        "MESSAGE is empty", C)
      -- only the lessons that say so take unix:PATH
      refused({ "chat-server", "unix:/tmp/nbtest-never.sock" }, "HOST "
        .. "'unix:/tmp/nbtest-never.sock': not an IP address or a host "
        .. "name (0.0.0.0 is every interface, 127.0.0.1 this computer "
        .. "only)", "chat-server [HOST [PORT [IDLE]]]")
    end)

  it("guesses what a learner meant: a port where the host goes, host and "
    .. "port together, a server's port apart", function()
    refused({ "talk-server", "9087" }, "HOST '9087': not an IP address or a "
      .. "host name (a port? the host comes first: 127.0.0.1 9087)",
      "talk-server [HOST [PORT] | unix:PATH]")
    refused({ "talk-client", "127.0.0.1:9087", "hi" }, "HOST "
      .. "'127.0.0.1:9087': not an IP address or a host name (the host and "
      .. "the port go apart: 127.0.0.1 9087)",
      "talk-client {HOST PORT | unix:PATH} [MESSAGE...]")
    refused({ "talk-client", "[::1]:9087" }, "HOST '[::1]:9087': not an IP "
      .. "address or a host name (the host and the port go apart: ::1 9087)",
      "talk-client {HOST PORT | unix:PATH} [MESSAGE...]")
    refused({ "names", "x.test", "127.0.0.1", "5353" }, "too many arguments: "
      .. "'5353' is one more than it takes (a server's port goes after a "
      .. "colon: 127.0.0.1:5353)",
      "names [-timeout=SECONDS] [-retry=TRIES] [NAME [SERVER[:PORT]]]")
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
      refused({ name, "http://" }, "URL 'http://': has no host (like "
        .. "http://127.0.0.1/)", U)
      for _, p in ipairs { "0", "99999", "-1", "abc" } do
        local url = "http://127.0.0.1:" .. p .. "/"
        refused({ name, url }, "URL '" .. url .. "': has a bad port: ports "
          .. "go from 1 to 65535", U)
      end
      refused({ name, "http://a..b/" }, "URL 'http://a..b/': has a host "
        .. "that is not an IP address or a host name", U)
      refused({ name, "http://127.0.0.1:1/", "" }, "PATH is empty", U)
      -- a folder for PATH: a learner means a file in it
      refused({ name, "http://127.0.0.1:1/", "/tmp" }, "PATH '/tmp': is a "
        .. "folder: give a file's name, like /tmp/mycopy.html", U)
      refused({ name, "http://127.0.0.1:1/", "/tmp/new/" }, "PATH "
        .. "'/tmp/new/': is a folder: give a file's name, like "
        .. "/tmp/new/mycopy.html", U)
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

describe("netbasics.lesson", function()
  local L = require "netbasics.lesson"

  it("writes the usage line from a declaration", function()
    assert.equal("netbasics x [-timeout=SECONDS] HOST PORT [A [B [REST...]]]",
      L.usage { name = "x",
        options = { { "timeout", "seconds", meta = "SECONDS" } },
        { "HOST", "host", required = true },
        { "PORT", "port", required = true },
        { "A", "text" }, { "B", "text" }, rest = { "REST", "text" } })
    assert.equal("netbasics y", L.usage { name = "y" })
    -- unix:PATH in place of a host and its port
    assert.equal("netbasics z {HOST PORT | unix:PATH} [REST...]", L.usage {
      name = "z", { "HOST", "host", required = true, unix = "a socket" },
      { "PORT", "port", required = true }, rest = { "REST", "text" } })
    assert.equal("netbasics w [A [HOST [PORT] | unix:PATH]]", L.usage {
      name = "w", { "A", "text" }, { "HOST", "listen-host", unix = "s" },
      { "PORT", "listen-port" } })
  end)

  it("checks each kind", function()
    local K = L.KINDS
    assert.equal(80, K.port("80"))
    assert.is_nil(K.port("0"))
    assert.equal(0, K["listen-port"]("0"))
    assert.equal("::1", K.host("::1"))
    assert.equal("example.org", K.host("example.org"))
    assert.is_nil(K.host("127.1"))
    assert.equal("*", K["listen-host"]("*"))
    -- unix:PATH only where the declaration says `unix`
    assert.is_nil(K.host("unix:/tmp/x"))
    assert.is_nil(K.host("unix:/tmp/x", {}))
    assert.equal("unix:/tmp/x", K.host("unix:/tmp/x", { unix = "s" }))
    assert.equal("unix:@x", K["listen-host"]("unix:@x", { unix = "s" }))
    assert.is_nil(K["listen-host"]("unix:", { unix = "s" }))
    assert.equal("127.0.0.1:53", K.server("127.0.0.1:53"))
    assert.equal("[::1]:53", K.server("[::1]:53"))
    assert.is_nil(K.server("ns.example"))
    assert.equal("/etc/hostname", K.file("/etc/hostname"))
    assert.same({ nil, "no such file or directory" },
      { K.file("/nonexistent-nbtest") })
    assert.same({ nil, "is a folder, not a file" }, { K.file("/tmp") })
    assert.equal(2.5, K.seconds("2.5", {}))
    assert.is_nil(K.seconds("0", {}))
    assert.equal(3, K.count("3", { min = 1, max = 10 }))
    assert.is_nil(K.count("11", { min = 1, max = 10 }))
    assert.equal("https://x/", K.url("https://x/"))
  end)

  it("shows a peer's bytes safely: controls, DEL, backslash and bytes "
    .. "that are not UTF-8 escaped, other text as it is", function()
    assert.equal("a\\x01b\\x1B[2J\\x5C é \\xC2\\x9B \\x7F",
      L.printable("a\1b\27[2J\\ é \194\155 \127"))
    assert.equal("\\xFF\\xC3\\xA9", L.printable("\255é"))
    assert.equal("plain words", L.printable("plain words"))
  end)
end)
