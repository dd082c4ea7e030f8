-- Talking securely: the talk server and client over TLS
--
-- netbasics secure-talk server [HOST [PORT]]    (defaults 0.0.0.0 and 9443)
-- netbasics secure-talk client HOST PORT [FINGERPRINT [MESSAGE...]]
-- (netbasics secure-talk --help says more)
--
-- The talk server and client of the talk lesson, with every byte between
-- them encrypted, and a way to know who is at the other end. Nobody can
-- read what TLS carries, but encryption alone proves nothing: a stranger
-- in the middle could encrypt too. So the server shows a certificate,
-- which says who it is ("I am myhost, 127.0.0.1"), and someone must vouch
-- for it: a certificate authority your computer trusts has signed it, or
-- you checked its fingerprint yourself.
--
-- The server makes a throwaway certificate when it starts (a new key,
-- valid one day, signed by itself: nobody vouches for it) and prints its
-- SHA-256 fingerprint and the pin of its key. Give either to the client:
--
--   $ netbasics secure-talk server 127.0.0.1 9443
--   Starting server.
--   ...
--   To talk to me: netbasics secure-talk client 127.0.0.1 9443 sha256//...
--
--   $ netbasics secure-talk client 127.0.0.1 9443 sha256//... Hello there
--
-- Without a fingerprint the client asks this computer's certificate
-- authorities, as a browser does; none of them signed the throwaway
-- certificate, so the connection is refused, and the client says why.
-- The server answers as the talk server does ("You said ...") and stops
-- when someone says bye; the client prints what comes back as the talk
-- client does.
local net = require "netbasics"
local lesson = require "netbasics.lesson"
local args = lesson.args {
  name = "secure-talk",
  { "MODE", "text", required = true,
    about = "server: make a throwaway certificate, print its fingerprint "
      .. "and listen, answering \"You said ...\" to each line until bye; "
      .. "client: connect over TLS, say who the certificate names and who "
      .. "vouches for it, and talk" },
  { "HOST", "text", about = "server: the address to listen on (default "
      .. "0.0.0.0, every interface); client: the server's address or name "
      .. "(required)" },
  { "PORT", "text", about = "server: the port to listen on (default 9443; "
      .. "0: the system chooses); client: the server's port (required)" },
  { "FINGERPRINT", "text", about = "client: what the server printed, the "
      .. "pin of its key (sha256//BASE64) or its SHA-256 fingerprint "
      .. "(AB:CD:...); without it the certificate must be signed by an "
      .. "authority this computer trusts" },
  rest = { "MESSAGE", "text", about = "client: what to say, joined by "
      .. "spaces (none: standard input)" },
  example = { "netbasics secure-talk server 127.0.0.1 9443",
    "netbasics secure-talk client 127.0.0.1 9443 sha256//... Hello there" },
}

io.stdout:setvbuf("line")

local function fail(msg)
  io.stderr:write("secure-talk: ", msg, "\n")
  os.exit(1)
end

-- Python's repr() of a byte string, as the talk client prints it
local function repr(s)
  local escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                    ["\\"] = "\\\\", ["'"] = "\\'" }
  return "'" .. s:gsub("[%c\\'\128-\255]", function(c)
    return escapes[c] or string.format("\\x%02x", c:byte())
  end) .. "'"
end

-- what a certificate says (the module escaped its odd bytes already),
-- safe to print on one line: controls, DEL and bytes past ASCII as \xHH
local function shown(s)
  return (tostring(s):gsub("[%c\127-\255]", function(c)
    return string.format("\\x%02x", c:byte())
  end))
end

-- ---------------------------------------------------------------------
-- the server

-- a file only we can read (os.tmpname makes it with mode 0600), removed
-- when the returned value is closed: at the end, on an error or Ctrl-C
local function tempfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  assert(f:write(content))
  assert(f:close())
  return setmetatable({ path = path }, {
    __close = function(t) os.remove(t.path) end })
end

local function server(host, port)
  host = host == "*" and "0.0.0.0" or host
  -- the names this certificate covers: this computer's name, localhost,
  -- the loopback addresses, and the address we listen on if it is one
  local me = net.hostname()
  local dns, ip = { "localhost" }, { "127.0.0.1", "::1" }
  if me and me ~= "localhost" and net.parse_endpoint(me .. ":1") then
    table.insert(dns, 1, me)
  end
  if net.isip(host) and host ~= "0.0.0.0" and host ~= "::"
      and host ~= "127.0.0.1" and host ~= "::1" then
    ip[#ip + 1] = host
  end
  -- netbasics.tls is OpenSSL: loaded here, when it is needed
  local cert, err = require("netbasics.tls").selfsigned {
    name = dns[1], dns = dns, ip = ip, seconds = 86400 }
  if not cert then fail(err) end
  -- net.listen reads the certificate and key from files: ours live in
  -- /tmp only while the server runs
  local certfile <close> = tempfile(cert.cert)
  local keyfile <close> = tempfile(cert.key)

  local srv
  srv, err = net.listen(host, port, { backlog = 50,
    tls = { cert = certfile.path, key = keyfile.path } })
  if not srv then fail(err) end
  print("Starting server.")
  local _, myport = srv:getsockname()
  if host == "0.0.0.0" or host == "::" then
    io.stderr:write(("secure-talk: listening on every interface (%s port "
      .. "%s): anyone who can reach this computer can talk to it; give "
      .. "127.0.0.1 to keep it to this computer\n"):format(host, myport))
  elseif tonumber(port) == 0 then
    io.stderr:write(("secure-talk: listening on port %s\n"):format(myport))
  end
  print("My certificate says I am " .. table.concat(dns, ", ") .. ", "
    .. table.concat(ip, ", ") .. ".")
  print("Nobody vouches for it: I made it myself just now, it is valid "
    .. "until " .. cert.not_after .. ".")
  print("Its SHA-256 fingerprint: " .. cert.sha256)
  print("The pin of its key:      " .. cert.pin)
  local there = (host == "0.0.0.0" or host == "::") and "127.0.0.1" or host
  print(("To talk to me: netbasics secure-talk client %s %s %s"):format(
    there, myport, cert.pin))

  local stop = false
  while not stop do
    local conn, cip, cport = srv:accept()
    if conn then
      print("Connected with " .. cip .. ":" .. cport)
      while true do
        -- the handshake happens on this first read: a client that does
        -- not trust us, or that speaks no TLS, fails here
        local line, why, code = conn:recvline()
        if not line then
          if code ~= "closed" then
            print("Dropped client: " .. lesson.printable(why))
          end
          break
        end
        conn:sendall("You said " .. line .. "\n")
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
  srv:close()
end

-- ---------------------------------------------------------------------
-- the client

-- "CN=myhost" or a longer name, in plain words
local function who(name)
  if not name or name == "" then return "(nobody named)" end
  return shown(name)
end

-- what tlsinfo says, in plain words
local function explain(info, fingerprint)
  print(("Connected over %s, cipher %s."):format(shown(info.version),
    shown(info.cipher)))
  local c = info.chain and info.chain[1]
  if not c then
    print("The server showed no certificate.")
    return
  end
  local names = {}
  for i, n in ipairs(c.names or {}) do names[i] = shown(n) end
  print("The certificate says the server is " .. who(c.subject)
    .. (#names > 0 and (" (names: " .. table.concat(names, ", ") .. ")")
        or "") .. ".")
  if c.self_signed then
    print("It vouches for itself: it is self-signed, nobody else signed it.")
  else
    print("It is vouched for (signed) by " .. who(c.issuer) .. ".")
  end
  for i = 2, #info.chain do
    local up = info.chain[i]
    print("  and " .. who(up.subject) .. " is vouched for by "
      .. who(up.issuer) .. ".")
  end
  print("It is valid from " .. shown(c.not_before) .. " until "
    .. shown(c.not_after) .. ".")
  print("Its SHA-256 fingerprint: " .. shown(c.sha256))
  if info.pinned then
    print("Its key matches the pin you gave: you vouch for it, so we "
      .. "trust it.")
  elseif fingerprint then
    print("It is the fingerprint you gave: you vouch for it, so we trust "
      .. "it.")
  elseif info.verified then
    print("An authority this computer trusts vouches for it.")
  end
end

-- connect first, then read the message: a refused certificate is said at
-- once, before anyone types
local function client(host, port, fingerprint, message)
  local opts = { verify = true }
  if fingerprint and fingerprint:match("^sha256/") then
    opts.pin = fingerprint
  elseif fingerprint then
    -- a certificate's fingerprint is checked here, after the handshake
    -- and before a byte of the message is sent: it names the whole
    -- certificate, so nothing else needs to vouch for it
    opts = { insecure = true }
  end
  local s, err, code = net.connect(host, port, { timeout = 10, tls = opts })
  if not s then
    if code == "tls" and not fingerprint then
      fail(err .. "\nNobody this computer trusts vouches for this "
        .. "certificate: anyone could have made it,\na stranger in the "
        .. "middle too. If you know its fingerprint (the server prints "
        .. "it),\ngive it after the port.")
    elseif code == "tls" then
      fail(err .. "\nThe certificate is not the one you named: this may "
        .. "not be the server you think.")
    end
    fail(err)
  end
  local info = s:tlsinfo()
  if fingerprint and not opts.pin then
    local got = info.chain and info.chain[1] and info.chain[1].sha256 or ""
    if got:upper() ~= fingerprint:upper() then
      s:close()
      fail(("the server's certificate has fingerprint %s, not %s: this "
        .. "may not be the server you think"):format(shown(got),
        fingerprint))
    end
  end
  explain(info, fingerprint)
  s:settimeout(60)  -- no answer for a minute: give up rather than hang
  local content = message
  if not content then
    -- at a terminal, a person is typing: say what we wait for
    if os.execute("test -t 0") then
      io.stderr:write("secure-talk: type your message, end it with "
        .. "Ctrl-D\n")
    end
    content = io.read("a")
  end
  local ok
  ok, err = s:sendall(content)
  if not ok then s:close() fail(err) end
  s:shutdown(net.SHUT_WR)
  while true do
    local data
    data, err = s:recv(1024)
    if not data then s:close() fail(err) end
    if data == "" then break end
    print("Received: " .. repr(data))
  end
  print("Connection closed.")
  s:close()
end

-- ---------------------------------------------------------------------
-- the arguments: which mode, then what that mode takes

-- value `s` of argument `name` checked as lesson kind `kind`
local function checked(name, kind, s)
  local v, why = lesson.KINDS[kind](s)
  if v == nil then
    lesson.usage_error(name .. " " .. lesson.shown(s) .. ": " .. why)
  end
  return v
end

local mode = args.MODE
if mode == "server" then
  local extra = args.FINGERPRINT or args.MESSAGE[1]
  if extra then
    lesson.usage_error("too many arguments: " .. lesson.shown(extra)
      .. " is one more than a server takes")
  end
  server(checked("HOST", "listen-host", args.HOST or "0.0.0.0"),
    checked("PORT", "listen-port", args.PORT or "9443"))
elseif mode == "client" then
  if not args.HOST then lesson.usage_error("a client needs HOST") end
  if not args.PORT then lesson.usage_error("a client needs PORT") end
  local host = checked("HOST", "host", args.HOST)
  local port = checked("PORT", "port", args.PORT)
  local fingerprint = args.FINGERPRINT
  if fingerprint and not (fingerprint:match("^sha256//?[%w+/]+=*$")
      or fingerprint:match("^%x%x" .. (":%x%x"):rep(31) .. "$")) then
    lesson.usage_error("FINGERPRINT " .. lesson.shown(fingerprint)
      .. ": not a pin (sha256//BASE64) or a SHA-256 fingerprint "
      .. "(AB:CD:..., 32 pairs)")
  end
  client(host, port, fingerprint,
    #args.MESSAGE > 0 and table.concat(args.MESSAGE, " ") .. "\n" or nil)
else
  lesson.usage_error("MODE " .. lesson.shown(mode) .. ": server or client")
end
