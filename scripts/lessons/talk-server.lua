-- The talk server: "You said ..." to each line, until bye
--
-- netbasics talk-server [HOST [PORT]]   (defaults 0.0.0.0 and 9087; port 0
-- lets the system choose one, and the server says which on stderr)
--
-- The seed's talk server, with its bugs fixed:
--  * TCP is a stream, not a series of messages: one recv() may hold half a
--    line or three lines. The seed called recv(1024) and treated each chunk
--    as one thing said; we read whole lines with recvline().
--  * At the end of the stream recv() returns "" forever; the seed's loop
--    (`while "bye" not in data`) spun on it. A client that leaves without
--    "bye" is closed here and the server waits for the next one.
--  * The seed mixed text and bytes ('You said ' + data fails on bytes in
--    Python 3); Lua strings are bytes, and we send them back as they came.
--  * The seed kept `data` across clients, so "bye" from one client would
--    have ended the next one at once; each client starts afresh here.
--  * The seed called shutdown() on the listening socket, which is not
--    connected (Python raises OSError); closing it is what stops it.
local net = require "netbasics"
local lesson = require "netbasics.lesson"
local args = lesson.args {
  name = "talk-server",
  { "HOST", "listen-host", default = "0.0.0.0",
    about = "the address to listen on: 0.0.0.0 is every interface, "
      .. "127.0.0.1 this computer only" },
  { "PORT", "listen-port", default = 9087,
    about = "the port to listen on; 0 lets the system choose one" },
  example = "netbasics talk-server 127.0.0.1 9087",
}

local host, port = args.HOST, args.PORT

-- someone may read this log through a pipe: write each line at once
io.stdout:setvbuf("line")

-- Own the IP and port, and start listening. net.listen sets SO_REUSEADDR,
-- so the server can be started again at once after it stops.
local server, err, code = net.listen(host, port, 50)
if not server then
  -- a learner's usual case: the server is still running in another window
  local hint = code == "inuse" and " (another program listens there: stop "
    .. "it, or give another PORT)" or ""
  io.stderr:write("talk-server: ", err, hint, "\n")
  os.exit(1)
end
print("Starting server.")
-- port 0: the system chose one; say which (on stderr, so the seed's
-- words stay as they were)
if port == 0 then
  local _, chosen = server:getsockname()
  io.stderr:write("talk-server: listening on port ", tostring(chosen), "\n")
  port = chosen
end
-- 0.0.0.0 (or ::) is every interface: say so, on stderr so the seed's
-- words stay as they were
if host == "0.0.0.0" or host == "::" or host == "*" then
  io.stderr:write(("talk-server: listening on every interface (%s port %s):"
    .. " anyone who can reach this computer can talk to it; give 127.0.0.1"
    .. " to keep it to this computer\n"):format(host, tostring(port)))
end

local stop = false
while not stop do
  local conn, ip, cport = server:accept()  -- see who is talking to us
  if conn then
    print("Connected with " .. ip .. ":" .. cport)
    while true do
      local line, why, code = conn:recvline()
      if not line then
        -- "closed": the client left without saying bye; anything else
        -- ("toolong", a reset) ends this client too, with a word in the log
        if code ~= "closed" then print("Dropped client: " .. why) end
        break
      end
      conn:sendall("You said " .. line .. "\n")
      -- the client's bytes go back as they came; the log shows odd
      -- ones escaped, so a client cannot drive this terminal
      print("I got " .. lesson.printable(line))
      if line:find("bye", 1, true) then
        stop = true
        break
      end
    end
    conn:close()
  end
end
print("Stopping server.")
server:close()
