-- The chat server: many clients at once, each line to everyone else
--
-- netbasics chat-server [HOST [PORT [IDLE]]]
--   (defaults 0.0.0.0, 9087, and 300 seconds to finish a line)
--
-- The talk server serves one client and stops. This one serves many at
-- once with the scheduler: each client is a task (a coroutine) written as
-- straight-line code for one client; a call that would wait (accept,
-- recvline, sendall) lets the other tasks run. Try it with several
-- `nc HOST PORT` (or `netbasics talk-client`): each line a client sends
-- reaches every other client as `IP:PORT says: ...` (an empty line is not
-- passed on); joins and leaves are announced; a line `bye` gets a goodbye
-- and leaves. A client that leaves (bye, or the end of its stream) still
-- gets every line queued for it before its connection is closed: the
-- welcome of a client that sends one line and closes at once too.
--
-- A client that never reads must not stall the others: each client has
-- its own bounded queue of lines to send, drained by its own task. When a
-- client's queue is full, the sender waits for it to catch up (so a fast
-- sender is slowed down to what its readers take, and nothing is lost);
-- when it has not caught up after a few seconds, it does not read: it is
-- dropped, with a line in this server's log, and the sender goes on. So
-- is a client that takes more than IDLE seconds to finish a line (a slow
-- client sending a byte now and then would otherwise hold its descriptor
-- for ever).
local net = require "netbasics"
local args = require("netbasics.lesson").args {
  name = "chat-server",
  { "HOST", "listen-host", default = "0.0.0.0",
    about = "the address to listen on: 0.0.0.0 is every interface, "
      .. "127.0.0.1 this computer only" },
  { "PORT", "listen-port", default = 9087,
    about = "the port to listen on; 0 lets the system choose one" },
  { "IDLE", "seconds", default = 300, max = 86400,
    about = "seconds a client may take to finish a line" },
  example = "netbasics chat-server 127.0.0.1 9096 600",
}

local host, port = args.HOST, args.PORT
local IDLE = args.IDLE        -- seconds to finish a line, at most
local QUEUE_MAX = 64 * 1024   -- bytes waiting for one client, at most
local SNDBUF = 64 * 1024      -- the kernel's send buffer for each client
local STALL = 3               -- seconds a full queue may take to drain

io.stdout:setvbuf("line")

local server, err, code = net.listen(host, port, 128)
if not server then
  -- a learner's usual case: the server is still running in another window
  local hint = code == "inuse" and " (another program listens there: stop "
    .. "it, or give another PORT)" or ""
  io.stderr:write("chat-server: ", err, hint, "\n")
  os.exit(1)
end
print("Starting chat server.")
if port == 0 then
  local _, chosen = server:getsockname()
  io.stderr:write("chat-server: listening on port ", tostring(chosen), "\n")
end

local clients = {}   -- name -> client {sock, name, queue, queued, writer}

local function drop(c, why)
  if clients[c.name] ~= c then return end
  clients[c.name] = nil
  c.gone = true
  c.sock:close()      -- wakes its reader and writer tasks
  print(why)
end

-- the writer task of a client: sends its queue in order, then ends
local function writer(c)
  while #c.queue > 0 and not c.gone do
    local line = table.remove(c.queue, 1)
    c.queued = c.queued - #line
    if not c.sock:sendall(line) then
      drop(c, c.name .. " left")
      break
    end
  end
  c.writer = nil
end

-- a client leaves in order (bye, or the end of its stream): no more lines
-- for it, but what was queued (its welcome, lines from the others, the
-- goodbye) goes out before the close, within STALL seconds
local function leave(c, goodbye)
  if clients[c.name] ~= c then return end
  clients[c.name] = nil
  if goodbye then
    c.queue[#c.queue + 1] = goodbye
    c.queued = c.queued + #goodbye
    if not c.writer then c.writer = net.spawn(writer, c) end
  end
  if c.writer then net.deadline(STALL, c.writer.join, c.writer) end
  c.gone = true
  c.sock:close()
  print(c.name .. " left")
end

local function send(c, line)
  if clients[c.name] ~= c then return end   -- gone meanwhile
  if c.queued + #line > QUEUE_MAX then
    -- full: wait until its writer has sent it all, for STALL seconds
    local _, _, code = net.deadline(STALL, c.writer.join, c.writer)
    if clients[c.name] ~= c then return end
    if code == "timeout" then
      drop(c, "Dropped " .. c.name .. ": it does not read (queue full)")
      return
    end
  end
  c.queue[#c.queue + 1] = line
  c.queued = c.queued + #line
  if not c.writer then c.writer = net.spawn(writer, c) end
end

-- (to the clients here now: send may wait, and others come and go)
local function broadcast(from, text)
  local line, to = text .. "\n", {}
  for _, c in pairs(clients) do
    if c ~= from then to[#to + 1] = c end
  end
  for _, c in ipairs(to) do send(c, line) end
end

-- one task per client: read its lines until bye or end of stream
local function serve(sock, ip, cport)
  local c = { sock = sock, name = ip .. ":" .. cport, queue = {}, queued = 0 }
  sock:setoption("sndbuf", SNDBUF)
  clients[c.name] = c
  print("Connected with " .. c.name)
  local n = -1
  for _ in pairs(clients) do n = n + 1 end
  send(c, "Welcome, " .. c.name .. ". Others here: " .. n
    .. ". Type bye to leave.\n")
  broadcast(c, "*** " .. c.name .. " joined")
  while clients[c.name] == c do
    local line, _, code = net.deadline(IDLE, sock.recvline, sock)
    if code == "timeout" and clients[c.name] == c then
      drop(c, "Dropped " .. c.name .. ": no line in " .. IDLE .. " s")
      broadcast(c, "*** " .. c.name .. " left")
      return
    end
    if not line then break end
    if line == "bye" then
      leave(c, "Goodbye, " .. c.name .. ".\n")
      break
    end
    -- an empty line says nothing: it is not passed on
    if line:find("%S") then broadcast(c, c.name .. " says: " .. line) end
  end
  -- the end of its stream, bye, or dropped by a sender: gone now
  leave(c)
  broadcast(c, "*** " .. c.name .. " left")
end

net.spawn(function()
  local failing = false
  while true do
    local sock, ip, cport = server:accept()
    if sock then
      failing = false
      net.spawn(serve, sock, ip, cport)
    else
      -- out of descriptors (EMFILE): the client still waits in the queue,
      -- so accept would fail again at once; say it once and wait a little
      -- for someone to leave, instead of spinning
      if not failing then io.stderr:write("chat-server: ", ip, "\n") end
      failing = true
      net.sleep(0.1)
    end
  end
end)
net.run()
