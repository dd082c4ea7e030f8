-- A name is not the real address: ask a DNS server, as nslookup does
--
-- netbasics names [-timeout=SECONDS] [-retry=TRIES] [NAME [SERVER[:PORT]]]
--
-- When you use your web browser, you usually type some address, like the
-- one in your URL bar. That URL isn't the real address. It is a name that
-- corresponds to the real address, and a DNS server knows which. This
-- lesson asks one, and prints exactly what `nslookup NAME SERVER` prints
-- (`nslookup -port=PORT NAME SERVER` when you give a port):
--
--   $ netbasics names gnomon.securitystandard.org
--   Server:         10.168.123.11
--   Address:        10.168.123.11#53
--
--   Non-authoritative answer:
--   gnomon.securitystandard.org     canonical name = hermes.securitystandard.org.
--   Name:   hermes.securitystandard.org
--   Address: 185.172.165.184
--
-- The real address of gnomon is 185.172.165.184 !
--
-- Without SERVER it asks the first server of this computer's resolver
-- configuration (/etc/resolv.conf), as nslookup does. Given an address
-- instead of a name it asks the way back: which name has this address?
-- It exits 0 when it found something, 1 when not (nslookup says 0 when the
-- name exists but has no address; we say 1: nothing was found), and a
-- server that does not answer is one line, not a traceback.
local net = require "netbasics"
-- nslookup's options for waiting: -timeout=5 seconds per try, -retry=2 tries
local lesson = require "netbasics.lesson"
local args = lesson.args {
  name = "names",
  options = {
    { "timeout", "seconds", meta = "SECONDS", max = 3600,
      about = "seconds to wait for each answer", default = 5 },
    { "retry", "count", meta = "TRIES", min = 1, max = 10,
      about = "how many times to ask", default = 2 },
  },
  { "NAME", "name-or-address", default = "gnomon.securitystandard.org",
    about = "the name to look up, or an address to look up the way back" },
  { "SERVER[:PORT]", "server",
    about = "the DNS server to ask, and its port if not 53 (default: the "
      .. "first of /etc/resolv.conf)" },
  -- `names NAME 127.0.0.1 5353`: the port goes with the server
  too_many = function(s)
    return s:match("^%d+$") and (" (a server's port goes after a colon: "
      .. "127.0.0.1:" .. s .. ")") or ""
  end,
  example = { "netbasics names gnomon.securitystandard.org",
    "netbasics names gnomon.securitystandard.org 127.0.0.1:5353" },
}

local opts = { timeout = args.timeout, tries = args.retry,
  server = args["SERVER[:PORT]"] }
local name = args.NAME

-- a name or a server string the lookup refuses before asking anyone
-- (net.lookup says what is wrong with it best): a bad argument
local function refused(err, code)
  if code == "malformed" and not err:find("malformed answer", 1, true) then
    lesson.usage_error(err)
  end
end

-- what went wrong before any answer came (a bad name, a bad server
-- string, nobody answering): one line, as nslookup's ";;" lines
local function fail(message)
  print(";; " .. message)
  print("")
  os.exit(1)
end

-- every record of the answer, in the order the server gave them
local function print_records(records)
  for _, rec in ipairs(records) do
    if rec.type == "CNAME" then
      -- an alias: this name is another name for that one
      print(rec.name .. "\tcanonical name = " .. rec.data .. ".")
    elseif rec.type == "PTR" then
      -- a reverse answer: the name that owns an address
      print(rec.name .. "\tname = " .. rec.data .. ".")
    else
      -- an A (IPv4) or AAAA (IPv6) record: the real address at last
      print("Name:\t" .. rec.name)
      print("Address: " .. rec.data)
    end
  end
end

-- An address instead of a name: nslookup asks for its PTR record, under
-- in-addr.arpa (IPv4) or ip6.arpa (IPv6), and shows no "Server:" lines.
local function is_address(s)
  return s:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or s:find(":", 1, true) ~= nil
end

if is_address(name) then
  local names, err, code, info = net.reverse(name, opts)
  if names then info = err end
  refused(err, code)
  if not (info and info.rcode) then fail(err) end
  if info.rcode ~= "NOERROR" then
    print("** server can't find " .. info.name .. ": " .. info.rcode)
    print("")
    os.exit(1)
  end
  print_records(info.records)
  if not info.authoritative then
    -- a cached answer: nslookup then names the zone's own servers, which
    -- come in the answer's authority section (we show the heading only)
    print("")
    print("Authoritative answers can be found from:")
  end
  print("")
  os.exit(names and 0 or 1)
end

-- A name: ask for its A (IPv4) records, then for the AAAA (IPv6) records
-- of the name the answer ends at, like nslookup.
local result, err, code, info = net.lookup(name, opts)
info = result or info
refused(err, code)
if not (info and info.answers) then
  -- no answer to show: a bad name or server string, a server that
  -- refuses connections or never answers, an answer that makes no sense
  fail(err)
end

-- which server answered, and its address#port
print("Server:\t\t" .. info.server)
print("Address:\t" .. info.server .. "#" .. info.server_port)
print("")

local a, aaaa = info.answers[1], info.answers[2]
if a.rcode ~= "NOERROR" then
  -- NXDOMAIN: no such name; SERVFAIL, REFUSED: the server would not say
  print("** server can't find " .. a.name .. ": " .. a.rcode)
  print("")
  os.exit(1)
end

-- A server that keeps the name's zone answers with the AA (authoritative
-- answer) flag; one that only repeats what it heard earlier (a cache,
-- like your home router) does not.
if not a.authoritative then
  print("Non-authoritative answer:")
end
print_records(a.records)
if aaaa and aaaa.rcode ~= "NOERROR" then
  print("** server can't find " .. aaaa.name .. ": " .. aaaa.rcode)
elseif aaaa and #aaaa.records > 0 then
  print_records(aaaa.records)
elseif #a.records == 0 then
  -- the name exists, but has no address of either kind
  print("*** Can't find " .. (aaaa or a).name .. ": No answer")
end
print("")
os.exit(result and 0 or 1)
