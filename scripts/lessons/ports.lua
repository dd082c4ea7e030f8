-- Ports in use, as netstat -an shows them
--
-- netbasics ports
--
-- The seed says: "A socket is an IP address and a port number. To see which
-- ports are in use on your computer, try this command: netstat -an". This is
-- that view, from net.connections(): TCP and UDP, IPv4 and IPv6. A foreign
-- port of 0 is printed `*` (no peer), as netstat does; UDP sockets with no
-- peer are UNCONN. Then the Unix domain sockets, as netstat -x lists them
-- (a path's unprintable bytes shown as \xHH; UNCONN for a socket with no
-- peer, where netstat leaves the state blank).
local net = require "netbasics"
require("netbasics.lesson").args {
  name = "ports",
  example = "netbasics ports",
}

local conns, err = net.connections()
if not conns then
  io.stderr:write("ports: ", err, "\n")
  os.exit(1)
end

local function endpoint(host, port)
  return host .. ":" .. (port == 0 and "*" or tostring(port))
end

-- netstat's columns: 23 wide, wider when an IPv6 address needs it
local width = 23
local inet, unix = {}, {}
for _, c in ipairs(conns) do
  if c.family == "unix" then unix[#unix + 1] = c else inet[#inet + 1] = c end
end

for _, c in ipairs(inet) do
  width = math.max(width, #endpoint(c.local_host, c.local_port),
    #endpoint(c.remote_host, c.remote_port))
end
local fmt = "%-5s %-" .. width .. "s %-" .. width .. "s %s"
print("Active Internet connections (servers and established)")
print((fmt:format("Proto", "Local Address", "Foreign Address", "State")))
for _, c in ipairs(inet) do
  local proto = c.proto .. (c.family == "inet6" and "6" or "")
  print((fmt:format(proto, endpoint(c.local_host, c.local_port),
    endpoint(c.remote_host, c.remote_port), c.state)))
end

-- netstat -x's columns; a path is any bytes a process chose
local function shown(path)
  return (path:gsub("[^\32-\126]", function(ch)
    return string.format("\\x%02X", ch:byte())
  end))
end
print("Active UNIX domain sockets (servers and established)")
local ufmt = "%-5s %-6s %-11s %-10s %-13s %-8s %s"
print((ufmt:format("Proto", "RefCnt", "Flags", "Type", "State", "I-Node",
  "Path")))
for _, c in ipairs(unix) do
  print((ufmt:format("unix", c.refcnt, c.flags == "" and "[ ]"
    or "[ " .. c.flags .. " ]", c.type:upper(), c.state, c.inode,
    shown(c.path))))
end
