-- The socket family's core calls in one plain script, for valgrind:
--   valgrind --leak-check=full lua5.4 spec/support/socket_calls.lua
-- (run from the repository root; prints "ok" at the end)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local net = require "netbasics"

for _ = 1, 3 do
  local l = assert(net.listen("127.0.0.1", 0))
  local _, port = l:getsockname()
  local c = assert(net.connect("localhost", port, 5))
  local a = assert(l:accept())
  assert(c:sendall("one\r\ntwo\npartial"))
  assert(a:recvline() == "one")
  assert(a:recv(2) == "tw")
  assert(a:recvline() == "o")
  a:settimeout(0)
  assert(select(3, a:recvline()) == "timeout")
  assert(c:sendall(("x"):rep(200000)))
  a:settimeout(5)
  assert(select(3, a:recvline()) == "toolong")
  local r = net.select({ a, l }, { c }, 0)
  assert(#r >= 0)
  c:close()
  while true do
    local d = a:recv(65536)
    if not d or d == "" then break end
  end
  assert(select(3, a:recvline()) == "closed")
  l:close()
  assert(select(3, net.connect("127.0.0.1", port)) == "refused")
  assert(net.listen("127.0.0.1", port)):close()
  assert(select(3, net.connect("127.1", port)) == "malformed")
  assert(select(3, net.connect("127.0.0.1", 70000)) == "range")
  local u = assert(net.socket("inet6", "udp"))
  assert(u:bind("::1", 0))
  local _, up = u:getsockname()
  assert(u:sendto("dgram", "::1", up) == 5)
  assert(u:recvfrom() == "dgram")
  assert(#assert(net.connections()) > 0)
  assert(#assert(net.getaddrinfo("localhost", 80)) >= 1)
  assert(not pcall(a.close, 42))
  a:close(); a:close()
  assert(not pcall(a.recv, a))
  -- dropped open: __gc
  local _ = net.socket(); _ = net.listen("127.0.0.1", 0)
  local big = ("z"):rep(1 << 20)
  do
    local l2 <close> = assert(net.listen("127.0.0.1", 0))
    local _, p2 = l2:getsockname()
    local c2 <close> = assert(net.connect("127.0.0.1", p2))
    local a2 = assert(l2:accept())
    a2:setoption("linger", 0)
    c2:settimeout(0)
    c2:sendall(big)
    a2:close()
    c2:settimeout(1)
    local ok, _, code = c2:sendall(big)
    assert(not ok and (code == "closed" or code == "timeout"))
  end
  collectgarbage()
end
print("ok")
