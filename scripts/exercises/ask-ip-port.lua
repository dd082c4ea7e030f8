-- Ask for an IP and port: Thanks! or Wrong!
--
-- The lesson's exercise: "Ask the user for an IP and port number. If the
-- user gives you one, say 'Thanks!' If not, say 'Wrong!'"
--
--   netbasics ask-ip-port               asks until it gets a good answer
--   netbasics ask-ip-port 1.2.3.4:80    checks that one, without asking
--   echo 1.2.3.4:80 | netbasics ask-ip-port
--
-- An answer is an IPv4 address and a port ("185.172.165.184:9087"), or
-- an IPv6 address in brackets and a port ("[::1]:9087"), checked the
-- lesson's way (net.isipandport, net.parse_endpoint). A wrong answer says
-- why and asks again; the end of input (Ctrl-D, or the end of a pipe)
-- ends the exercise quietly. Exit status: 0 after "Thanks!", 1 if no
-- good answer came.
local net = require "netbasics"
local lesson = require "netbasics.lesson"
local args = lesson.args {
  name = "ask-ip-port",
  rest = { "ANSWER", "any",
    about = "answers to check, like 185.172.165.184:9087; none: it asks" },
  example = "netbasics ask-ip-port 185.172.165.184:9087",
}

local EXAMPLE = "185.172.165.184:9087"
-- the lesson's whine about ports below 7, after a Thanks!: a warning,
-- not a refusal
local UNUSUAL = "(a warning: ports below 7 are unusual, but %s is an IP "
  .. "and a port)"

-- "Thanks!" or "Wrong!" and the reason, for one answer
local function check(answer)
  answer = answer:match("^%s*(.-)%s*$")   -- spaces around are forgiven
  -- what the messages show of it: odd bytes escaped, as isipandport does
  local said = lesson.printable(answer)
  if answer == "" then
    return false, "You gave me nothing."
  end
  if answer:sub(1, 1) == "[" then
    -- IPv6, which the lesson's function does not know: [address]:port
    local ep = net.parse_endpoint(answer)
    if not ep or ep.family ~= "inet6" then
      return false, ("malformed socket in %s (an IPv6 address and a port "
        .. "look like [::1]:9087)"):format(said)
    end
    if ep.port == 0 then
      return false, ("port out of range in %s (%s)")
        :format(said, lesson.PORT_RULE)
    end
    return true, ep.port < 7 and UNUSUAL:format(said) or nil
  end
  local ok, why = net.isipandport(answer)
  if ok then
    return true, why and UNUSUAL:format(said)
  end
  if why:match("^port") then
    return false, why .. " (" .. lesson.PORT_RULE .. ")"
  end
  return false, why .. " (an IP and a port look like " .. EXAMPLE .. ")"
end

local function answer_to(s)
  local ok, why = check(s)
  if ok then
    io.write("Thanks!", why and (" " .. why) or "", "\n")
  else
    io.write("Wrong! ", why, "\n")
  end
  return ok
end

-- answers given as arguments: no questions
if #args.ANSWER > 0 then
  local all = true
  for _, a in ipairs(args.ANSWER) do all = answer_to(a) and all end
  os.exit(all and 0 or 1)
end

local echo = not os.execute("test -t 0")  -- a pipe: show what was read
while true do
  io.write("Give me an IP and port (like ", EXAMPLE, "): ")
  io.stdout:flush()
  local line = io.read("l")
  if line == nil then
    io.write("\n")                    -- end of input: stop, no fuss
    os.exit(1)
  end
  if echo then io.write(lesson.printable(line), "\n") end
  if answer_to(line) then os.exit(0) end
end
