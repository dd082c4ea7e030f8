-- Octets: an IP address in binary, the math, a quiz
--
-- The lesson "Python Networking Basics", section "IP Addresses": the four
-- octets of 185.172.165.184 and their binary forms, "Let's do the math
-- and prove it", and the quiz "What is the biggest number that fits in
-- an octet?".
--
--   netbasics octets              the lesson's address
--   netbasics octets 10.0.0.1     another IPv4 address
--
-- Fixed from the seed: the seed shows the table and asks the quiz but
-- never does the promised math nor gives the answer; here each octet is
-- added up from its place values, the binary is read back to prove it,
-- and the quiz checks the answer and explains 255 = 11111111. The quiz
-- works at a terminal and with piped input, and an end of input (Ctrl-D
-- or an empty pipe) ends the lesson cleanly with the answer.
local net = require "netbasics"
local lesson = require "netbasics.lesson"
local args = lesson.args {
  name = "octets",
  { "ADDRESS", "ipv4", default = "185.172.165.184",
    about = "the IPv4 address to take apart" },
  example = "netbasics octets 10.0.0.1",
}

local PLACES = { 128, 64, 32, 16, 8, 4, 2, 1 }

local address = args.ADDRESS
local octets = assert(net.octets(address))

local function say(...) io.write(...) io.write("\n") end

-- columns as wide as a binary octet, centred like the seed's table
local function row(cells)
  local out = {}
  for i, c in ipairs(cells) do out[i] = ("%10s"):format(c) end
  return table.concat(out, " ")
end

if address == "185.172.165.184" then
  say("The real address of gnomon is 185.172.165.184 !")
else
  say("The address is ", address, " !")
end
say("So, what are those numbers? We're back to binary fun!")
say()
say("IP Addresses")
say()
say("  • Each of these numbers separated by dots is called an “octet.”")
say("  • Here is how they look in binary. Let’s do the math and prove it.")
say()
local binary = {}
for i, o in ipairs(octets) do binary[i] = net.tobinary(o) end
say(row(octets))
say(row(binary))
say()

-- the math: each bit is worth its place; add up the places that are 1
say("The math: each bit is worth its place.")
say()
local places = {}
for i, p in ipairs(PLACES) do places[i] = ("%4d"):format(p) end
say("          ", table.concat(places))
for i, o in ipairs(octets) do
  local bits = {}
  for j = 1, 8 do bits[j] = ("%4s"):format(binary[i]:sub(j, j)) end
  say(("  %3d  = "):format(o), table.concat(bits))
end
say()
for i, o in ipairs(octets) do
  -- the places that are 1, added up; and the binary read back by
  -- net.frombinary gives the same number: proved
  local sum = net.explain_octet(o):match("= (.*)$")
  local back = net.frombinary(binary[i])
  say(("  %s = %s = %d %s"):format(binary[i], sum, back,
    back == o and "✓" or "✗"))
end
say()
say("All together: ", net.ip_to_binary(address))
say()

-- the quiz
io.write("Quiz yourself: What is the biggest number that fits in an octet? ")
io.stdout:flush()
local answer = io.read("l")
-- piped input is not echoed by a terminal: show it, so the transcript
-- reads as a conversation
if answer and not os.execute("test -t 0") then
  say(lesson.printable(answer))
end
if answer == nil then
  say()
  say("(no answer)")
else
  answer = answer:match("^%s*(.-)%s*$")
  local n = math.tointeger(tonumber(answer))
  if n == net.MAX_OCTET then
    say("Right! ", net.MAX_OCTET, " it is.")
  elseif n == 256 then
    say("Not quite: 256 is one too many (it needs a ninth bit, ",
      net.tobinary(256, 9), ").")
  elseif n then
    say("Not quite: ", n, " is not the biggest.")
  else
    say("Not quite: \"", lesson.printable(answer), "\" is not a number.")
  end
end
say("An octet has 8 bits; the biggest has all of them on:")
say("  ", net.explain_octet(net.MAX_OCTET))
say("  ", net.MAX_OCTET, " = ", net.tobinary(net.MAX_OCTET), " in binary.")
