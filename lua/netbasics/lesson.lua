-- netbasics.lesson: how a lesson or exercise declares its arguments, once.
--
-- A lesson's first statement after `local net = require "netbasics"` is
-- its declaration, and nothing before it acts (listens, reads, prints):
--
--   local args = require("netbasics.lesson").args {
--     name = "talk-server",
--     { "HOST", "listen-host", default = "0.0.0.0",
--       about = "the address to listen on" },
--     { "PORT", "listen-port", default = 9087,
--       about = "the port to listen on" },
--     example = "netbasics talk-server 127.0.0.1 9087",
--   }
--   print(args.HOST, args.PORT)   -- checked, the defaults filled in
--
-- args() checks every argument and returns the values by name:
-- - `--help` or `-h` prints the usage line, the lesson's title (its first
--   comment line), each argument with its default, and the example, on
--   standard output, and exits 0;
-- - a bad argument (the wrong kind, out of range, empty, one too many, an
--   unknown option) prints `NAME: what is wrong` and the usage line on
--   standard error, and exits 2. So does lesson.usage_error(message), for
--   a check only the lesson can make.
--
-- Positional arguments come in order. Those with `required = true` come
-- first; the others are optional, each after the one before it
-- (`[HOST [PORT]]`). `rest = { "MESSAGE", "text", about = }` takes any
-- number more (`[MESSAGE...]`), as a list in args.MESSAGE. `options = {
-- { "timeout", "seconds", meta = "SECONDS", about = } }` are written
-- `-timeout=5` (nslookup's style), args.timeout; `--` ends the options.
-- A negative number is not an option: `-1` is a (bad) port.
-- `too_many = function(s) return " (hint)" end` adds a hint to the message
-- for one argument too many.
--
-- Kinds (KINDS below): host, listen-host, port, listen-port, ipv4, server
-- (a DNS server), name-or-address, url, path (a file to write), file (a
-- file to read), text, any, seconds and count (with `min` and `max`).
-- Every kind but `any` refuses an empty string. Ports follow one rule, said the same way everywhere
-- (PORT_RULE): 1 to 65535, and 0 only to listen, where the system
-- chooses one. printable(s) shows a peer's bytes safely in a log.
--
-- `netbasics --list` runs each lesson that requires this module in a
-- state of its own where args() stops at once with the usage line, so
-- --list, --help, the man page's LESSONS section and the README's table
-- of lessons say the same (spec/docs_spec.lua checks them).
local net = require "netbasics"

local L = {}

L.PORT_RULE = "ports go from 1 to 65535"
L.LISTEN_PORT_RULE = "ports go from 1 to 65535, or 0 to let the system "
  .. "choose one"

-- bytes a peer sent, for a log on a terminal: controls, DEL and a
-- backslash as \xHH, bytes that are not UTF-8 too (and the C1 controls
-- written in UTF-8); other text as it is. What goes back to the peer
-- stays exact: this is for showing only.
function L.printable(s)
  local utf = utf8.len(s) ~= nil
  s = s:gsub(utf and "[%c\\]" or "[%c\\\128-\255]", function(c)
    return ("\\x%02X"):format(c:byte())
  end)
  if utf then
    s = s:gsub("\194([\128-\159])", function(c)
      return ("\\xC2\\x%02X"):format(c:byte())
    end)
  end
  return s
end

-- an argument as messages show it: quoted, odd bytes as \xHH (as
-- printable does; a quote too)
local function shown(s)
  return "'" .. L.printable(s):gsub("'", "\\x27") .. "'"
end
L.shown = shown

local function ishost(s)
  if net.isip(s) then return true end
  local ep = net.parse_endpoint(s .. ":1")
  return ep ~= nil and ep.family == "name"
end

local function port_in(s, low)
  local n = s:match("^%d+$") and #s <= 5 and math.tointeger(tonumber(s))
  return n and n >= low and n <= 65535 and n or nil
end

-- what a learner likely meant by a host that is not one: a port alone,
-- or a host and a port written together
local function host_hint(s)
  if s:match("^%d+$") then
    return " (a port? the host comes first: 127.0.0.1 " .. s .. ")"
  end
  local ep = net.parse_endpoint(s)
  if ep then
    return (" (the host and the port go apart: %s %d)"):format(ep.host,
      ep.port)
  end
  return ""
end

-- why `s` is not a host name a learner can look up, or nil when it is:
-- labels of letters, digits, '-' (not first or last) and '_', 1 to 63
-- bytes each, 253 in all, a final dot allowed, the last label not a
-- number (those rules are net.lookup's, and the endpoint parser's)
local function name_problem(s)
  if s:find("[\128-\255]") then
    return "has non-ASCII letters: write it in its punycode form (xn--...)"
  end
  if s:find(" ", 1, true) then return "contains a space" end
  if s:find("[^%w%-_.]") then
    return "has a character a name cannot have (letters, digits, '-', '_' "
      .. "and dots only)"
  end
  local body = s:gsub("%.$", "")
  if #body > 253 then return "is longer than 253 characters" end
  if body == "" or body:find("..", 1, true) or body:sub(1, 1) == "." then
    return "has an empty label"
  end
  local last
  for label in body:gmatch("[^.]+") do
    if #label > 63 then return "has a label longer than 63 characters" end
    if label:sub(1, 1) == "-" or label:sub(-1) == "-" then
      return "has a label that starts or ends with '-'"
    end
    last = label
  end
  if last:match("^%d+$") or last:lower():match("^0x%x*$") then
    return "ends in a number: not a name, nor an IPv4 address (four numbers "
      .. "0 to 255 with dots)"
  end
  return nil
end

-- each kind: the value, or nil and why not (the text is never empty here)
local KINDS = {
  -- a name to look up, or an address to look up the way back
  ["name-or-address"] = function(s)
    if net.isip(s) then return s end
    local why = name_problem(s)
    if why then return nil, why end
    return s
  end,
  host = function(s)
    if ishost(s) then return s end
    return nil, "not an IP address or a host name" .. host_hint(s)
  end,
  ["listen-host"] = function(s)
    if s == "*" or ishost(s) then return s end
    local hint = host_hint(s)
    return nil, "not an IP address or a host name" .. (hint ~= "" and hint
      or " (0.0.0.0 is every interface, 127.0.0.1 this computer only)")
  end,
  port = function(s)
    local n = port_in(s, 1)
    if n then return n end
    return nil, L.PORT_RULE
  end,
  ["listen-port"] = function(s)
    local n = port_in(s, 0)
    if n then return n end
    return nil, L.LISTEN_PORT_RULE
  end,
  ipv4 = function(s)
    if net.isip(s, "inet") then return s end
    return nil, "not an IPv4 address (four numbers 0 to 255 with dots, "
      .. "like 185.172.165.184)"
  end,
  -- a DNS server: an address, with a port if not 53
  server = function(s)
    if net.isip(s) then return s end
    local ep = net.parse_endpoint(s)
    if ep and ep.family ~= "name" then
      if ep.port >= 1 then return s end
      return nil, L.PORT_RULE
    end
    local port = s:match("^[^:]*:(%d+)$") or s:match("^%[.*%]:(%d+)$")
    if port and net.isip((s:gsub(":%d+$", ""):gsub("^%[(.*)%]$", "%1")))
    then
      return nil, L.PORT_RULE
    end
    return nil, "not an address with an optional port (127.0.0.1, "
      .. "127.0.0.1:5353, [::1]:53)"
  end,
  url = function(s)
    if s:find("[%c ]") then
      return nil, "has a space or a control character (a space is "
        .. "written %20 in a URL)"
    end
    local scheme = s:match("^(%a[%w+.-]*)://")
    if not scheme then
      return nil, "not a URL (like http://www.python.org/)"
    end
    scheme = scheme:lower()
    if scheme ~= "http" and scheme ~= "https" then
      return nil, "not http:// or https://"
    end
    -- the host and port between // and the path
    local authority = s:match("^[^:]*://([^/?#]*)"):gsub("^.*@", "")
    local host, rest = authority:match("^(%[.-%])(.*)$")
    if host then
      host = host:sub(2, -2)
    else
      host, rest = authority:match("^([^:]*)(.*)$")
    end
    if host == "" then return nil, "has no host (like http://127.0.0.1/)" end
    if not ishost(host) then
      return nil, "has a host that is not an IP address or a host name"
    end
    if rest ~= "" then
      local port = rest:match("^:(.*)$")
      if not port or (port ~= "" and not port_in(port, 1)) then
        return nil, "has a bad port: " .. L.PORT_RULE
      end
    end
    return s
  end,
  -- a file to write: not a folder (a learner gives /tmp for /tmp/x.html)
  path = function(s)
    local f = io.open(s, "r")
    local folder = s:sub(-1) == "/"
    if f then
      local _, _, errno = f:read(0)
      f:close()
      folder = folder or errno == 21  -- EISDIR
    end
    if folder then
      return nil, "is a folder: give a file's name, like "
        .. (s:gsub("/*$", "")) .. "/mycopy.html"
    end
    return s
  end,
  -- a file to read (a certificate, a key): there and readable
  file = function(s)
    local f, err = io.open(s, "r")
    if not f then
      return nil, (err:gsub("^.-: ", ""):lower())
    end
    local _, _, errno = f:read(0)
    f:close()
    if errno == 21 then return nil, "is a folder, not a file" end
    return s
  end,
  text = function(s) return s end,
  any = function(s) return s end,
  seconds = function(s, a)
    local n = s:match("^%d+%.?%d*$") and tonumber(s)
    local max = a.max or 86400
    if n and n > 0 and n <= max then return n end
    return nil, ("a number of seconds above 0 and at most %s"):format(max)
  end,
  count = function(s, a)
    local n = s:match("^%d+$") and #s <= 9 and math.tointeger(tonumber(s))
    local min, max = a.min or 1, a.max or 1000000
    if n and n >= min and n <= max then return n end
    return nil, ("a whole number from %d to %d"):format(min, max)
  end,
}
L.KINDS = KINDS

-- the usage line: options, then positional arguments nested
function L.usage(spec)
  local parts = { "netbasics " .. spec.name }
  for _, o in ipairs(spec.options or {}) do
    parts[#parts + 1] = "[-" .. o[1] .. "=" .. (o.meta or o[1]:upper()) .. "]"
  end
  local tail, opened = {}, 0
  for _, a in ipairs(spec) do
    if a.required then
      parts[#parts + 1] = a[1]
    else
      tail[#tail + 1] = (opened > 0 and " " or "") .. "[" .. a[1]
      opened = opened + 1
    end
  end
  if spec.rest then
    tail[#tail + 1] = (opened > 0 and " " or "") .. "[" .. spec.rest[1]
      .. "...]"
  end
  local opt = table.concat(tail) .. ("]"):rep(opened)
  if opt ~= "" then parts[#parts + 1] = opt end
  return table.concat(parts, " ")
end

-- the lesson's title: its first comment line after a #! line, as the
-- host's --list shows it
local function title()
  local f = arg and arg[0] and io.open(arg[0], "r")
  if not f then return nil end
  for line in f:lines() do
    if line:sub(1, 1) ~= "#" then
      f:close()
      return line:match("^%-%-[%s%-]*(.-)%s*$")
    end
  end
  f:close()
end

local current  -- the declaration of this run, for usage_error

function L.usage_error(message, spec)
  spec = spec or current
  io.stderr:write(spec.name, ": ", message, "\n", "usage: ", L.usage(spec),
    "\n")
  os.exit(2)
end

local function help(spec)
  local out = { "usage: " .. L.usage(spec) }
  local t = title()
  if t and t ~= "" then out[#out + 1] = t end
  local rows = {}
  for _, o in ipairs(spec.options or {}) do
    rows[#rows + 1] = { "-" .. o[1] .. "=" .. (o.meta or o[1]:upper()), o }
  end
  for _, a in ipairs(spec) do rows[#rows + 1] = { a[1], a } end
  if spec.rest then rows[#rows + 1] = { spec.rest[1] .. "...", spec.rest } end
  if #rows > 0 then
    local width = 0
    for _, r in ipairs(rows) do width = math.max(width, #r[1]) end
    out[#out + 1] = ""
    for _, r in ipairs(rows) do
      local a = r[2]
      local text = a.about or ""
      if a.default ~= nil then
        text = text .. " (default " .. tostring(a.default) .. ")"
      elseif a.required then
        text = text .. " (required)"
      end
      -- words wrapped at 78 columns, under the first one
      local lines, cur = {}, ""
      for word in text:gmatch("%S+") do
        if cur ~= "" and width + 4 + #cur + 1 + #word > 78 then
          lines[#lines + 1] = cur
          cur = word
        else
          cur = cur == "" and word or cur .. " " .. word
        end
      end
      lines[#lines + 1] = cur
      out[#out + 1] = ("  %-" .. width .. "s  %s"):format(r[1], lines[1])
      for i = 2, #lines do
        out[#out + 1] = (" "):rep(width + 4) .. lines[i]
      end
    end
  end
  local examples = spec.example
  if type(examples) == "string" then examples = { examples } end
  if examples and #examples > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "Example" .. (#examples > 1 and "s" or "") .. ":"
    for _, e in ipairs(examples) do out[#out + 1] = "  " .. e end
  end
  io.stdout:write(table.concat(out, "\n"), "\n")
  os.exit(0)
end

-- one value checked against its declaration
local function check(spec, a, s)
  if s == "" and a[2] ~= "any" then
    L.usage_error(a[1] .. " is empty", spec)
  end
  local kind = assert(KINDS[a[2]], "unknown kind " .. tostring(a[2]))
  local v, why = kind(s, a)
  if v == nil then
    L.usage_error(a[1] .. " " .. shown(s) .. ": " .. why, spec)
  end
  return v
end

-- the host's --list asks for the usage line only: it runs the lesson in
-- a state of its own with this registry field set, and reads the line
-- from the error
local DESCRIBE = "netbasics.describe"

function L.args(spec)
  assert(type(spec.name) == "string", "a lesson's declaration needs a name")
  current = spec
  local reg = debug and debug.getregistry and debug.getregistry()
  if reg and reg[DESCRIBE] then
    error(setmetatable({ [DESCRIBE] = L.usage(spec) }, {
      __tostring = function() return "usage: " .. L.usage(spec) end }), 0)
  end
  local argv = arg or {}
  local out, positional, options, ended = {}, {}, {}, false
  for _, o in ipairs(spec.options or {}) do options[o[1]] = o end
  for i = 1, #argv do
    local s = argv[i]
    if ended or not s:match("^%-[%a%-]") then
      positional[#positional + 1] = s
    elseif s == "--" then
      ended = true
    elseif s == "--help" or s == "-h" then
      help(spec)
    else
      -- -timeout=5 as nslookup writes it; --timeout=5 is forgiven
      local key, value = s:match("^%-%-?(%a[%w-]*)=(.*)$")
      local o = options[key or s:match("^%-%-?(%a[%w-]*)$")]
      if not o then
        L.usage_error("unknown option " .. shown(s), spec)
      elseif not value then
        L.usage_error(shown(s) .. " needs a value: -" .. o[1] .. "="
          .. (o.meta or o[1]:upper()), spec)
      end
      out[o[1]] = check(spec, { "-" .. o[1], o[2], min = o.min,
        max = o.max }, value)
    end
  end
  local n = 0
  for i, a in ipairs(spec) do
    local s = positional[i]
    if s == nil then
      if a.required then
        L.usage_error("needs " .. a[1], spec)
      end
      out[a[1]] = a.default
    else
      out[a[1]] = check(spec, a, s)
      n = i
    end
  end
  if spec.rest then
    local list = {}
    for i = #spec + 1, #positional do
      list[#list + 1] = check(spec, spec.rest, positional[i])
    end
    out[spec.rest[1]] = list
  elseif #positional > n then
    local hint = spec.too_many and spec.too_many(positional[n + 1]) or ""
    L.usage_error("too many arguments: " .. shown(positional[n + 1])
      .. " is one more than it takes" .. hint, spec)
  end
  for _, o in ipairs(spec.options or {}) do
    if out[o[1]] == nil then out[o[1]] = o.default end
  end
  return out
end

return L
