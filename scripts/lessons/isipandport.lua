-- The lesson's isipandport on good and bad examples
--
-- The lesson's function "that checks if we fed Python an IP and a port to
-- make a socket", written again step by step, then tried on a table of
-- examples: good ones, malformed ones, ports out of range.
--
--   netbasics isipandport                    the table of examples
--   netbasics isipandport 10.0.0.1:80 ...    your own strings
--
-- Fixed from the seed:
-- - socket.inet_aton accepted "127.1", "0x7f.0.0.1" and "010.0.0.1" (read
--   as 8.0.0.1): the address is now four decimal octets, strictly;
-- - int() accepted " 80", "+80" and "-1": the port is now digits only;
-- - a port of 0 or above 65535 was whined about but accepted, though no
--   socket can use it: now it is refused (ports 1..6 still get the whine
--   and are accepted, as the lesson wanted);
-- - the bare `except:` also hid real errors; here only bad input fails.
-- The function is net.isipandport; this one shows its steps and must
-- give the same answers (the table says so in its last column).
local net = require "netbasics"
local args = require("netbasics.lesson").args {
  name = "isipandport",
  rest = { "SOCKETSTRING", "any",
    about = "strings to check, like 10.0.0.1:80; none: a table of examples" },
  example = "netbasics isipandport 10.0.0.1:80 127.1:80 10.0.0.1:5",
}

-- the function prints its complaints, as the seed does; here `print`
-- puts them in the "prints" column of the table
local complaint
local function print(s) complaint = s end

local function isipandport(socketstring)
  -- Tests for an ipv4 address and a realistic port number
  -- If socketstring is empty, it is false, so we return false and quit.
  if socketstring == nil or socketstring == "" then
    return false
  end
  -- Let us make sure it contains a string or we transform it into one.
  socketstring = tostring(socketstring)
  -- We will try to use it as an address: exactly one ':' between the
  -- IP and the port.
  local ip, port = socketstring:match("^([^:]*):([^:]*)$")
  -- If we fail, we will complain.
  if not ip or not net.isip(ip, "inet") or not port:match("^%d+$") then
    print("malformed socket in " .. socketstring)
    return false
  end
  port = tonumber(port)
  -- A port no socket can use (0, or greater than the maximum, 65535):
  -- we complain and refuse it.
  if port == 0 or port > 65535 then
    print("port out of range in " .. socketstring)
    return false
  end
  -- If the port number is less than 7, we will whine about it, but
  -- accept it.
  if port < 7 then
    print("port out of range in " .. socketstring)
  end
  return true
end

local examples = {
  -- good
  "185.172.165.184:9087", "127.0.0.1:80", "0.0.0.0:65535",
  -- malformed
  "", "185.172.165.184", "185.172.165.184:", "127.1:80", "010.0.0.1:80",
  "0x7f.0.0.1:80", "256.1.1.1:80", "1.2.3.4:80:80", "1.2.3.4: 80",
  "1.2.3.4:+80", "1.2.3.4:http", "gnomon.securitystandard.org:80",
  "[::1]:80",
  -- port out of range
  "10.0.0.1:5", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:99999999999",
}
if #args.SOCKETSTRING > 0 then examples = args.SOCKETSTRING end

local W = 32
io.write("isipandport(socketstring): tests for an IPv4 address and a realistic\n",
  "port number.\n\n")
io.write(("%-" .. W .. "s %-7s %s\n"):format("socketstring", "returns", "prints"))
io.write(("%-" .. W .. "s %-7s %s\n"):format(("-"):rep(W), ("-"):rep(7),
  ("-"):rep(W)))
local disagree = {}
for _, s in ipairs(examples) do
  complaint = nil
  local ok = isipandport(s)
  -- a complaint about a port it accepts is the seed's whine: a warning
  local prints = complaint and ok and ("warning: " .. complaint) or complaint
  local line = ("%-" .. W .. "s %-7s %s"):format(("%q"):format(s),
    tostring(ok), prints or "")
  io.write((line:gsub("%s+$", "")), "\n")
  -- net.isipandport is the same function, written in C
  local nok, why = net.isipandport(s)
  -- (it shows odd bytes escaped, so compare what it says, not the echo)
  local says = function(m) return m and m:match("^(.-) in ") or nil end
  if nok ~= ok or says(why) ~= says(complaint) then
    disagree[#disagree + 1] = s
  end
end
io.write("\n")
if #disagree > 0 then
  io.write("net.isipandport disagrees on: ", table.concat(disagree, ", "), "\n")
  os.exit(1)
end
io.write("net.isipandport gives the same answers.\n")
