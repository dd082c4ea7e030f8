-- Ports in use, as netstat -an shows them
--
-- netbasics ports
--
-- The seed says: "A socket is an IP address and a port number. To see which
-- ports are in use on your computer, try this command: netstat -an". This is
-- that view, from net.connections(): TCP and UDP, IPv4 and IPv6. A foreign
-- port of 0 is printed `*` (no peer), as netstat does; UDP sockets with no
-- peer are UNCONN.
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
for _, c in ipairs(conns) do
  width = math.max(width, #endpoint(c.local_host, c.local_port),
    #endpoint(c.remote_host, c.remote_port))
end
local fmt = "%-5s %-" .. width .. "s %-" .. width .. "s %s"
print("Active Internet connections (servers and established)")
print((fmt:format("Proto", "Local Address", "Foreign Address", "State")))
for _, c in ipairs(conns) do
  local proto = c.proto .. (c.family == "inet6" and "6" or "")
  print((fmt:format(proto, endpoint(c.local_host, c.local_port),
    endpoint(c.remote_host, c.remote_port), c.state)))
end
