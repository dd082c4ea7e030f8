-- The talk client: send a message, print what comes back
--
-- netbasics talk-client HOST PORT [MESSAGE...]
-- netbasics talk-client unix:PATH [MESSAGE...]   (a Unix domain socket)
--
-- The message is the arguments joined by spaces (and a newline), else
-- everything on standard input. This is the seed's netcat() function: send
-- everything, shut down our writing side so the server sees the end, then
-- print each chunk received until the server closes. Fixed from the seed:
-- Python 3 needs bytes for sendall() and recv() returns b'' (never "") at
-- the end, so the seed's loop never ended; a refused or timed-out
-- connection is one clear line here, not a traceback.
local net = require "netbasics"

io.stdout:setvbuf("line")

-- Python's repr() of a byte string, as the seed prints it
local function repr(s)
  local escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                    ["\\"] = "\\\\", ["'"] = "\\'" }
  return "'" .. s:gsub("[%c\\'\128-\255]", function(c)
    return escapes[c] or string.format("\\x%02x", c:byte())
  end) .. "'"
end

local function netcat(hostname, port, content)
  local s, err
  local path = hostname:match("^unix:(.+)$")
  if path then s, err = net.connect_unix(path, 10)
  else s, err = net.connect(hostname, port, 10) end
  if not s then return nil, err end
  s:settimeout(60)  -- no answer for a minute: give up rather than hang
  local ok
  ok, err = s:sendall(content)
  if not ok then s:close() return nil, err end
  s:shutdown(net.SHUT_WR)
  while true do
    local data
    data, err = s:recv(1024)
    if not data then s:close() return nil, err end
    if data == "" then break end
    print("Received: " .. repr(data))
  end
  print("Connection closed.")
  s:close()
  return true
end

local host, port = arg[1], arg[2]
local first = 3  -- where the message starts
if host and host:match("^unix:.") then port, first = nil, 2 end
if not host or (not port and first == 3) then
  io.stderr:write("usage: netbasics talk-client HOST PORT [MESSAGE...]\n"
    .. "       netbasics talk-client unix:PATH [MESSAGE...]\n")
  os.exit(2)
end
local content
if arg[first] then
  content = table.concat(arg, " ", first) .. "\n"
else
  content = io.read("a")
end
local ok, err = netcat(host, port, content)
if not ok then
  io.stderr:write("talk-client: ", err, "\n")
  os.exit(1)
end
