-- Read a server's certificates: who it says it is, who vouches for it
--
-- netbasics certificate [--cafile FILE] HOST:PORT
-- netbasics certificate [--cafile FILE] HOST PORT
--
-- Connects over TLS and prints the chain of certificates the server
-- sends, as `openssl s_client -showcerts` does, but in sentences: for
-- each certificate who it says it belongs to (its subject), who vouches
-- for it (its issuer, who signed it), from when until when it is valid,
-- the names it covers and its SHA-256 fingerprint; then whether the chain
-- checks out for HOST, and if not why not.
--
--   $ netbasics certificate example.org:443
--   $ netbasics certificate --cafile ca.pem 127.0.0.1 4433
--
-- The check is the one net.connect makes by default (an authority this
-- computer trusts, or one in FILE, signed the chain; it is valid now; it
-- names HOST). When it fails, a second connection looks without trusting,
-- so that you can read a broken certificate; nothing is sent over either. Everything in a
-- certificate was chosen by the server: bytes that could move your
-- terminal are shown escaped. Exit status: 0 when the chain checks out,
-- 1 when it does not or no TLS connection could be made, 2 for bad
-- arguments.
local net = require "netbasics"

io.stdout:setvbuf("line")

local USAGE = [=[
usage: netbasics certificate [--cafile FILE] HOST:PORT
       netbasics certificate [--cafile FILE] HOST PORT
]=]
local HELP = [[

  HOST:PORT  the server: 127.0.0.1:4433, [::1]:4433, example.org:443
  --cafile FILE  trust the authorities in FILE (PEM) instead of this
             computer's

example: netbasics certificate example.org:443
]]

local function usage_error(why)
  if why then io.stderr:write("certificate: ", why, "\n") end
  io.stderr:write(USAGE)
  os.exit(2)
end

-- bytes the server chose, safe to print: control bytes and bytes past
-- ASCII as \xHH (what the module already escaped stays as it is)
local function shown(s)
  if s == nil then return "(none)" end
  return (tostring(s):gsub("[%c\127-\255]", function(c)
    return string.format("\\x%02x", c:byte())
  end))
end

-- the arguments
local args, cafile = {}, nil
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--help" or a == "-h" then
      io.stdout:write(USAGE, HELP)
      os.exit(0)
    elseif a == "--cafile" then
      cafile = arg[i + 1]
      if not cafile or cafile == "" then
        usage_error("--cafile needs a file")
      end
      i = i + 1
    elseif a:match("^%-%-cafile=") then
      cafile = a:match("^%-%-cafile=(.*)$")
      if cafile == "" then usage_error("--cafile needs a file") end
    elseif a:sub(1, 1) == "-" then
      usage_error("unknown option '" .. shown(a) .. "'")
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
end
local host, port
if #args == 1 then
  local ep = net.parse_endpoint(args[1])
  if not ep then
    usage_error("'" .. shown(args[1]) .. "' is not HOST:PORT (like "
      .. "127.0.0.1:4433 or example.org:443)")
  end
  host, port = ep.host, ep.port
elseif #args == 2 then
  local h = args[1]
  local ep = net.parse_endpoint((h:find(":", 1, true) and "[" .. h .. "]"
    or h) .. ":" .. args[2])
  if not ep then
    usage_error("'" .. shown(h) .. "' '" .. shown(args[2]) .. "' is not "
      .. "HOST PORT (like 127.0.0.1 4433)")
  end
  host, port = ep.host, ep.port
else
  usage_error()
end
if port == 0 then usage_error("port 0 is not a port a server listens on "
  .. "(1..65535)") end
if cafile then
  local f = io.open(cafile, "rb")
  if not f then usage_error("cannot read --cafile " .. shown(cafile)) end
  f:close()
end

-- first the check net.connect makes; if it refuses, look again without
-- trusting, to read what the server sent
local where = (host:find(":", 1, true) and "[" .. host .. "]" or host)
  .. ":" .. port
local s, err, code = net.connect(host, port, { timeout = 10,
  tls = { cafile = cafile } })
local why
if not s and code == "tls" then
  why = err:gsub("^tls handshake with %S+: ", "")
  s, err = net.connect(host, port, { timeout = 10,
    tls = { verify = false } })
end
if not s then
  io.stderr:write("certificate: ", err, "\n")
  os.exit(1)
end
local info, ierr = s:tlsinfo()
s:close()
if not info then
  io.stderr:write("certificate: ", ierr, "\n")
  os.exit(1)
end

print(("Connected to %s over %s, cipher %s."):format(where,
  shown(info.version), shown(info.cipher)))
local chain = info.chain or {}
if #chain == 0 then
  print("The server sent no certificate.")
else
  print(#chain == 1 and "The server sent 1 certificate, its own."
    or ("The server sent %d certificates, its own first."):format(#chain))
end

local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
for i, c in ipairs(chain) do
  print("")
  print(("Certificate %d%s:"):format(i, i == 1 and " (the server's own)"
    or ""))
  print("  It says it belongs to " .. shown(c.subject) .. ".")
  if c.self_signed then
    print("  It vouches for itself: it is self-signed.")
  else
    print("  It is vouched for (signed) by " .. shown(c.issuer) .. ".")
  end
  local when = "valid from " .. shown(c.not_before) .. " until "
    .. shown(c.not_after)
  if c.not_after and c.not_after < now then
    print("  It was " .. when .. ": it has expired.")
  elseif c.not_before and c.not_before > now then
    print("  It will be " .. when .. ": it is not valid yet.")
  else
    print("  It is " .. when .. ".")
  end
  local names = {}
  for k, n in ipairs(c.names or {}) do names[k] = shown(n) end
  if #names > 0 then
    print("  It covers " .. table.concat(names, ", ") .. ".")
  elseif i == 1 then
    print("  It names no host.")
  end
  print("  Its SHA-256 fingerprint is " .. shown(c.sha256) .. ".")
end

print("")
if not why then
  print(("It checks out: %s vouches for this chain, it is valid now, "
    .. "and it is for %s."):format(cafile and "an authority in "
    .. shown(cafile) or "an authority this computer trusts", shown(host)))
  os.exit(0)
end
print("It does not check out: " .. shown(why) .. ".")
print("net.connect(HOST, PORT, {tls = true}) would refuse this server.")
os.exit(1)
