-- The talk client: send a message, print what comes back
--
-- netbasics talk-client HOST PORT [MESSAGE...]
--
-- The message is the arguments joined by spaces (and a newline), else
-- everything on standard input. This is the seed's netcat() function: send
-- everything, shut down our writing side so the server sees the end, then
-- print each chunk received until the server closes. Fixed from the seed:
-- Python 3 needs bytes for sendall() and recv() returns b'' (never "") at
-- the end, so the seed's loop never ended; a refused or timed-out
-- connection is one clear line here, not a traceback.
local net = require "netbasics"
local args = require("netbasics.lesson").args {
  name = "talk-client",
  { "HOST", "host", required = true,
    about = "the server's address or name, like 127.0.0.1" },
  { "PORT", "port", required = true, about = "the server's port, like 9087" },
  rest = { "MESSAGE", "text",
    about = "what to say, joined by spaces; none: standard input, up to "
      .. "Ctrl-D" },
  example = "netbasics talk-client 127.0.0.1 9087 What I wanted to say.",
}

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
  local s, err = net.connect(hostname, port, 10)
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

local content
if #args.MESSAGE > 0 then
  content = table.concat(args.MESSAGE, " ") .. "\n"
else
  -- at a terminal, a person is typing: say what we wait for
  if os.execute("test -t 0") then
    io.stderr:write("talk-client: type your message, end it with Ctrl-D\n")
  end
  content = io.read("a")
end
local ok, err = netcat(args.HOST, args.PORT, content)
if not ok then
  io.stderr:write("talk-client: ", err, "\n")
  os.exit(1)
end
