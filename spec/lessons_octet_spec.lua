-- The lessons "octets" and "isipandport" and the exercise "ask-ip-port",
-- run through the host as a person would: with piped input, through a
-- pseudo-terminal made by `script`, and typed into a real terminal
-- emulator (tmux) key by key.
local T = require "nbtest"

local function lines(s)
  local t = {}
  for l in (s or ""):gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

local tmux_open = require("tmux").open

local NB = T.hostcmd()

describe("lesson octets", function()
  it("shows the seed's table and does the math", function()
    local r = T.nb({ "octets" }, "255\n")
    assert.equal(0, r.code)
    assert.equal("", r.err)
    local out = r.out
    assert.truthy(out:find("The real address of gnomon is 185.172.165.184 !",
      1, true))
    assert.truthy(out:find("Each of these numbers separated by dots is "
      .. "called an “octet.”", 1, true))
    assert.truthy(out:find("Let’s do the math and prove it.", 1, true))
    assert.truthy(out:find(
      "\n       185        172        165        184\n"
      .. "  10111001   10101100   10100101   10111000\n", 1, true))
    for _, l in ipairs {
      "  10111001 = 128 + 32 + 16 + 8 + 1 = 185 ✓",
      "  10101100 = 128 + 32 + 8 + 4 = 172 ✓",
      "  10100101 = 128 + 32 + 4 + 1 = 165 ✓",
      "  10111000 = 128 + 32 + 16 + 8 = 184 ✓",
      "  185  =    1   0   1   1   1   0   0   1",
      "All together: 10111001.10101100.10100101.10111000",
    } do
      assert.truthy(out:find("\n" .. l .. "\n", 1, true), l)
    end
  end)

  it("checks the quiz's answer and explains 255 = 11111111", function()
    local r = T.nb({ "octets" }, "255\n")
    local l = lines(r.out)
    assert.same({
      "Quiz yourself: What is the biggest number that fits in an octet? 255",
      "Right! 255 it is.",
      "An octet has 8 bits; the biggest has all of them on:",
      "  255 = 128 + 64 + 32 + 16 + 8 + 4 + 2 + 1",
      "  255 = 11111111 in binary.",
    }, { table.unpack(l, #l - 4) })
    for input, verdict in pairs {
      ["256\n"] = "Not quite: 256 is one too many (it needs a ninth bit, "
        .. "100000000).",
      ["8\n"] = "Not quite: 8 is not the biggest.",
      ["lots\n"] = 'Not quite: "lots" is not a number.',
      ["  255  \n"] = "Right! 255 it is.",
      ["255"] = "Right! 255 it is.",   -- no newline before the end
    } do
      r = T.nb({ "octets" }, input)
      assert.equal(0, r.code)
      assert.truthy(r.out:find("\n" .. verdict .. "\n", 1, true), verdict)
      assert.truthy(r.out:find("255 = 11111111 in binary.\n$"))
    end
  end)

  it("ends cleanly at the end of input, with the answer", function()
    local r = T.nb({ "octets" })      -- stdin is /dev/null
    assert.equal(0, r.code)
    assert.equal("", r.err)
    assert.truthy(r.out:find("an octet? \n(no answer)\nAn octet has 8 bits",
      1, true))
    assert.truthy(r.out:find("255 = 11111111 in binary.\n$"))
  end)

  it("takes another address", function()
    local r = T.nb({ "octets", "10.0.0.1" }, "255\n")
    assert.equal(0, r.code)
    assert.truthy(r.out:find("The address is 10.0.0.1 !", 1, true))
    assert.truthy(r.out:find("  00001010 = 8 + 2 = 10 ✓", 1, true))
    assert.truthy(r.out:find("  00000000 = 0 = 0 ✓", 1, true))
    assert.truthy(r.out:find(
      "All together: 00001010.00000000.00000000.00000001", 1, true))
  end)

  it("refuses a malformed address with its usage line, exit 2", function()
    for _, a in ipairs { "127.1", "::1", "256.0.0.1", "-1", "1.2.3.4 " } do
      local r = T.nb({ "octets", a })
      assert.equal(2, r.code)
      assert.equal("", r.out)
      assert.equal("octets: ADDRESS '" .. a .. "': not an IPv4 address (four "
        .. "numbers 0 to 255 with dots, like 185.172.165.184)\n"
        .. "usage: netbasics octets [ADDRESS]\n", r.err)
    end
    local r = T.nb({ "octets", "" })
    assert.same({ 2, "", "octets: ADDRESS is empty\nusage: netbasics octets "
      .. "[ADDRESS]\n" }, { r.code, r.out, r.err })
    r = T.nb({ "octets", "10.0.0.1", "10.0.0.2" })
    assert.same({ 2, "", "octets: too many arguments: '10.0.0.2' is one more "
      .. "than it takes\nusage: netbasics octets [ADDRESS]\n" },
      { r.code, r.out, r.err })
  end)

  it("says the seed's words once", function()
    local r = T.nb({ "octets" }, "255\n")
    local _, n = r.out:gsub("do the math and prove it", "")
    assert.equal(1, n)
  end)

  it("works at a terminal (script)", function()
    local r = T.run("script -qec " .. T.shquote(NB .. " octets") .. " /dev/null",
      "255\n")
    assert.equal(0, r.code)
    assert.truthy(r.out:find("Right! 255 it is.\r\n", 1, true))
    -- a terminal echoes the answer itself: the lesson does not repeat it
    local _, n = r.out:gsub("255\r\n", "")
    assert.equal(1, n)
  end)

  it("works typed into a terminal (tmux)", function()
    local tm = tmux_open(NB .. " octets")
    finally(function() tm:close() end)
    tm:wait_for("fits in an octet? ")
    tm:type("255")
    local s = tm:wait_for("255 = 11111111 in binary.")
    assert.truthy(s:find("an octet? 255\nRight! 255 it is.", 1, true))
    assert.equal(0, tm:status())
  end)
end)

describe("lesson isipandport", function()
  it("shows the table of examples and agrees with net.isipandport", function()
    local r = T.nb({ "isipandport" })
    assert.equal(0, r.code)
    assert.equal("", r.err)
    local l = lines(r.out)
    local want = {
      '"185.172.165.184:9087"           true',
      '""                               false',
      '"127.1:80"                       false   malformed socket in 127.1:80',
      '"010.0.0.1:80"                   false   malformed socket in 010.0.0.1:80',
      '"0x7f.0.0.1:80"                  false   malformed socket in 0x7f.0.0.1:80',
      '"1.2.3.4:80:80"                  false   malformed socket in 1.2.3.4:80:80',
      '"[::1]:80"                       false   malformed socket in [::1]:80',
      '"10.0.0.1:5"                     true    warning: port out of range in 10.0.0.1:5',
      '"10.0.0.1:0"                     false   port out of range in 10.0.0.1:0',
      '"10.0.0.1:65536"                 false   port out of range in 10.0.0.1:65536',
    }
    local have = {}
    for _, x in ipairs(l) do have[x] = true end
    for _, w in ipairs(want) do assert.is_true(have[w] == true, w) end
    assert.equal("net.isipandport gives the same answers.", l[#l])
  end)

  it("checks the strings it is given", function()
    local r = T.nb({ "isipandport", "1.2.3.4:80", "1.2.3.4:3", "x" })
    assert.equal(0, r.code)
    local l = lines(r.out)
    assert.same({
      '"1.2.3.4:80"                     true',
      '"1.2.3.4:3"                      true    warning: port out of range in 1.2.3.4:3',
      '"x"                              false   malformed socket in x',
      "",
      "net.isipandport gives the same answers.",
    }, { table.unpack(l, 6) })
  end)
end)

describe("exercise ask-ip-port", function()
  local PROMPT = "Give me an IP and port (like 185.172.165.184:9087): "

  it("says Thanks! for an IP and port (pipe)", function()
    for _, a in ipairs { "185.172.165.184:9087", "[::1]:80", " 10.0.0.1:80 ",
      "[2001:db8::1]:65535" } do
      local r = T.nb({ "ask-ip-port" }, a .. "\n")
      assert.equal(0, r.code)
      assert.equal("", r.err)
      assert.equal(PROMPT .. a .. "\nThanks!\n", r.out)
    end
    local r = T.nb({ "ask-ip-port" }, "10.0.0.1:5\n")
    -- the lesson's whine about a low port reads as a warning, not a no
    assert.equal(PROMPT .. "10.0.0.1:5\nThanks! (a warning: ports below 7 "
      .. "are unusual, but 10.0.0.1:5 is an IP and a port)\n", r.out)
  end)

  it("says Wrong! with the reason, and asks again (pipe)", function()
    local r = T.nb({ "ask-ip-port" },
      "1.2.3\n\n1.2.3.4:70000\n[::1]\n[::1]:0\n127.1:80\n1.2.3.4:80\n")
    assert.equal(0, r.code)
    assert.equal("", r.err)
    assert.equal(table.concat({
      PROMPT .. "1.2.3",
      "Wrong! malformed socket in 1.2.3 (an IP and a port look like "
        .. "185.172.165.184:9087)",
      PROMPT,
      "Wrong! You gave me nothing.",
      PROMPT .. "1.2.3.4:70000",
      "Wrong! port out of range in 1.2.3.4:70000 (ports go from 1 to 65535)",
      PROMPT .. "[::1]",
      "Wrong! malformed socket in [::1] (an IPv6 address and a port look "
        .. "like [::1]:9087)",
      PROMPT .. "[::1]:0",
      "Wrong! port out of range in [::1]:0 (ports go from 1 to 65535)",
      PROMPT .. "127.1:80",
      "Wrong! malformed socket in 127.1:80 (an IP and a port look like "
        .. "185.172.165.184:9087)",
      PROMPT .. "1.2.3.4:80",
      "Thanks!", "" }, "\n"), r.out)
  end)

  it("ends cleanly at the end of input (pipe)", function()
    local r = T.nb({ "ask-ip-port" })
    assert.equal(1, r.code)
    assert.equal("", r.err)
    assert.equal(PROMPT .. "\n", r.out)
    r = T.nb({ "ask-ip-port" }, "nope\n")
    assert.equal(1, r.code)
    assert.equal("", r.err)
    assert.equal(PROMPT .. "nope\nWrong! malformed socket in nope (an IP and "
      .. "a port look like 185.172.165.184:9087)\n" .. PROMPT .. "\n", r.out)
    r = T.nb({ "ask-ip-port" }, "1.2.3.4:80")   -- no final newline
    assert.equal(0, r.code)
    assert.equal(PROMPT .. "1.2.3.4:80\nThanks!\n", r.out)
  end)

  it("survives binary and huge input", function()
    local r = T.nb({ "ask-ip-port" }, "1.2.3.4\0:80\n" .. ("9"):rep(1e6)
      .. "\n")
    assert.equal(1, r.code)
    assert.equal("", r.err)
    assert.truthy(r.out:find("Wrong! malformed socket in 1.2.3.4\\000:80 ", 1,
      true))
    assert.truthy(r.out:find("Wrong! malformed socket in " .. ("9"):rep(64)
      .. "... ", 1, true))
  end)

  it("checks answers given as arguments", function()
    local r = T.nb({ "ask-ip-port", "1.2.3.4:80" })
    assert.equal(0, r.code)
    assert.equal("Thanks!\n", r.out)
    r = T.nb({ "ask-ip-port", "1.2.3.4:80", "1.2.3.4" })
    assert.equal(1, r.code)
    assert.equal("Thanks!\nWrong! malformed socket in 1.2.3.4 (an IP and a "
      .. "port look like 185.172.165.184:9087)\n", r.out)
  end)

  it("works at a terminal (script)", function()
    local r = T.run("script -qec " .. T.shquote(NB .. " ask-ip-port")
      .. " /dev/null", "1.2.3\n1.2.3.4:80\n")
    assert.equal(0, r.code)
    assert.truthy(r.out:find("Wrong! malformed socket in 1.2.3 ", 1, true))
    assert.truthy(r.out:find(PROMPT .. "Thanks!\r\n", 1, true))
    -- Ctrl-D with nothing typed: the end of input, no error
    r = T.run("script -qec " .. T.shquote(NB .. " ask-ip-port") .. " /dev/null",
      "")
    assert.equal(1, r.code)
    assert.falsy(r.out:find("netbasics:", 1, true))
  end)

  it("works typed into a terminal (tmux)", function()
    local tm = tmux_open(NB .. " ask-ip-port")
    finally(function() tm:close() end)
    tm:wait_for(PROMPT)
    tm:type("1.2.3")
    tm:wait_for("Wrong! malformed socket in 1.2.3 ")
    tm:type("185.172.165.184:9087")
    local s = tm:wait_for("Thanks!")
    assert.truthy(s:find(PROMPT .. "1.2.3\nWrong! malformed socket in 1.2.3 "
      .. "(an IP and a port look like 185.172.165.184:9087)\n" .. PROMPT
      .. "185.172.165.184:9087\nThanks!\n", 1, true), ("%q"):format(s))
    assert.equal(0, tm:status())
  end)

  it("ends cleanly on Ctrl-D and stops on Ctrl-C (tmux)", function()
    local tm = tmux_open(NB .. " ask-ip-port")
    finally(function() tm:close() end)
    tm:wait_for(PROMPT)
    tm:keys("C-d")
    assert.equal(1, tm:status())
    assert.falsy(tm:screen():find("netbasics:", 1, true))
    tm:close()
    tm = tmux_open(NB .. " ask-ip-port")
    tm:wait_for(PROMPT)
    tm:keys("C-c")
    assert.equal(130, tm:status())
  end)
end)

describe("piped answers with odd bytes", function()
  it("are shown escaped, never sent to the terminal as they are",
    function()
      local r = T.nb({ "ask-ip-port" }, "[\27[2J\n\27]0;x\7\n")
      assert.equal(1, r.code)
      assert.is_nil(r.out:find("[\1-\9\11-\31\127]"))
      assert.truthy(r.out:find("Wrong! malformed socket in [\\x1B[2J (an "
        .. "IPv6 address", 1, true), r.out)
      r = T.nb({ "octets" }, "a\27[2J\n")
      assert.equal(0, r.code)
      assert.is_nil(r.out:find("[\1-\9\11-\31\127]"))
      assert.truthy(r.out:find('Not quite: "a\\x1B[2J" is not a number.', 1,
        true))
    end)
end)
