-- Read a server's certificates: who it says it is, who vouches for it
--
-- netbasics certificate [-cafile=FILE] HOST:PORT
-- netbasics certificate [-cafile=FILE] HOST PORT
--
-- Connects over TLS and prints the chain of certificates the server
-- sends, as `openssl s_client -showcerts` does, but in sentences: for
-- each certificate who it says it belongs to (its subject), who vouches
-- for it (its issuer, who signed it), from when until when it is valid,
-- the names it covers and its SHA-256 fingerprint; then whether the chain
-- checks out for HOST, and if not why not.
--
--   $ netbasics certificate example.org:443
--   $ netbasics certificate -cafile=ca.pem 127.0.0.1 4433
--
-- The check is the one net.connect makes by default (an authority this
-- computer trusts, or one in FILE, signed the chain; it is valid now; it
-- names HOST). When it fails, a second connection looks without trusting,
-- so that you can read a broken certificate; nothing is sent over
-- either. Everything in a certificate was chosen by the server: bytes
-- that could move your terminal are shown escaped. Exit status: 0 when the chain checks out,
-- 1 when it does not or no TLS connection could be made, 2 for bad
-- arguments.
local net = require "netbasics"
local lesson = require "netbasics.lesson"
local args = lesson.args {
  name = "certificate",
  options = {
    { "cafile", "file", meta = "FILE", about = "trust the authorities in "
      .. "FILE (PEM) instead of this computer's" },
  },
  { "HOST[:PORT]", "text", required = true, about = "the server: "
      .. "127.0.0.1:4433, [::1]:4433, example.org:443; or its address or "
      .. "name alone, with PORT after it" },
  { "PORT", "port", about = "the server's port, when HOST[:PORT] has none" },
  example = { "netbasics certificate example.org:443",
    "netbasics certificate -cafile=ca.pem 127.0.0.1 4433" },
}

io.stdout:setvbuf("line")

-- what a certificate says (the module escaped its odd bytes already),
-- safe to print: controls, DEL and bytes past ASCII as \xHH
local function shown(s)
  if s == nil then return "(none)" end
  return (tostring(s):gsub("[%c\127-\255]", function(c)
    return string.format("\\x%02x", c:byte())
  end))
end

-- HOST:PORT, or HOST and PORT
local host, port
local cafile = args.cafile
if args.PORT then
  host = args["HOST[:PORT]"]
  local v, why = lesson.KINDS.host(host)
  if not v then
    lesson.usage_error("HOST " .. lesson.shown(host) .. ": " .. why)
  end
  port = args.PORT
else
  local ep = net.parse_endpoint(args["HOST[:PORT]"])
  if not ep then
    lesson.usage_error("HOST[:PORT] " .. lesson.shown(args["HOST[:PORT]"])
      .. ": not an address or name and a port (like 127.0.0.1:4433 or "
      .. "example.org:443)")
  end
  if ep.port == 0 then
    lesson.usage_error("HOST[:PORT] " .. lesson.shown(args["HOST[:PORT]"])
      .. ": " .. lesson.PORT_RULE)
  end
  host, port = ep.host, ep.port
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
