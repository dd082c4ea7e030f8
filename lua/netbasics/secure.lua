-- netbasics.secure: TLS sockets, the Lua part: policy over the C module
-- "netbasics.tls", which links OpenSSL and is required on the first TLS
-- call only, so `require "netbasics"` stays fast. net.connect and
-- net.listen take a table with `tls`; s:starttls and s:tlsinfo are
-- methods of every socket. The options are checked here; OpenSSL does
-- the rest (csrc/tls.c). docs/api/socket.md is the reference.
return function(M, core)
  local methods = core._methods
  M._methods = nil

  local C  -- netbasics.tls, once loaded
  local function tls()
    if not C then C = require "netbasics.tls" end
    return C
  end

  -- the TLS options and the Lua types each takes
  local OPTIONS = {
    verify = "boolean", insecure = "boolean", cafile = "string",
    capath = "string", servername = "string", alpn = "table",
    cert = "string", key = "string", password = "string",
    min_version = "string", pin = "string", verify_client = "any",
    server = "boolean",
  }

  -- the options as the C module takes them (a new table), or raises
  local function checkopts(opts, fname, argn)
    if opts == true or opts == nil then return {} end
    if type(opts) ~= "table" then
      error(string.format("bad argument #%d to '%s' (tls options: a table "
        .. "or true expected, got %s)", argn, fname, type(opts)), 3)
    end
    local o = {}
    for k, v in pairs(opts) do
      local want = OPTIONS[k]
      if not want then
        error(string.format("bad argument #%d to '%s' (unknown tls option "
          .. "'%s')", argn, fname, tostring(k)), 3)
      end
      if want ~= "any" and type(v) ~= want then
        error(string.format("bad argument #%d to '%s' (tls option '%s': %s "
          .. "expected, got %s)", argn, fname, k, want, type(v)), 3)
      end
      o[k] = v
    end
    if o.insecure then o.verify = false end
    o.insecure = nil
    if o.min_version ~= nil and o.min_version ~= "1.2"
        and o.min_version ~= "1.3" then
      error(string.format("bad argument #%d to '%s' (tls option "
        .. "'min_version': \"1.2\" or \"1.3\")", argn, fname), 3)
    end
    local vc = o.verify_client
    if vc == true or vc == "require" then o.verify_client = "require"
    elseif vc == "request" then o.verify_client = "request"
    elseif vc == false or vc == nil then o.verify_client = nil
    else
      error(string.format("bad argument #%d to '%s' (tls option "
        .. "'verify_client': true, \"require\" or \"request\")", argn,
        fname), 3)
    end
    if o.alpn then
      for i, name in ipairs(o.alpn) do
        if type(name) ~= "string" or #name == 0 or #name > 255 then
          error(string.format("bad argument #%d to '%s' (alpn entry %d: a "
            .. "name of 1 to 255 bytes)", argn, fname, i), 3)
        end
      end
    end
    return o
  end

  -- client contexts, one per set of options (loading the system's
  -- authorities costs milliseconds): the key is every option but the
  -- per-connection ones; a few kept, then all dropped
  local contexts, ncontexts = {}, 0
  local function contextkey(o, server)
    local parts = { server and "s" or "c" }
    for _, k in ipairs({ "verify", "cafile", "capath", "cert", "key",
        "password", "min_version", "pin", "verify_client" }) do
      parts[#parts + 1] = tostring(o[k])
    end
    parts[#parts + 1] = o.alpn and table.concat(o.alpn, "\0") or ""
    return table.concat(parts, "\1")
  end

  local function context(o, server)
    local key = contextkey(o, server)
    local ctx = contexts[key]
    if ctx then return ctx end
    local err, code
    ctx, err, code = tls().context(o, server)
    if not ctx then return nil, err, code end
    if ncontexts >= 16 then contexts, ncontexts = {}, 0 end
    contexts[key] = ctx
    ncontexts = ncontexts + 1
    return ctx
  end

  local hostnames = setmetatable({}, { __mode = "k" })  -- s -> name given
  local listeners = setmetatable({}, { __mode = "k" })  -- s -> ctx

  -- the client's side on a connected socket: attach, then the handshake
  local function client(s, ctx, o, name, deadline)
    local ok, err, code = tls().attach(s, ctx, false, o.servername or name)
    if not ok then return nil, err, code end
    return tls().handshake(s, deadline)
  end

  local plainconnect = M.connect
  local KNOWN = { timeout = true, tls = true, attempt_delay = true }

  -- net.connect(host, port [, timeout or {timeout =, tls =}])
  function M.connect(host, port, opts)
    if type(opts) ~= "table" then
      local s, err, code = plainconnect(host, port, opts)
      if s and not M.isip(host) then hostnames[s] = host end
      return s, err, code
    end
    for k in pairs(opts) do
      if not KNOWN[k] then
        error("bad argument #3 to 'connect' (unknown option '"
          .. tostring(k) .. "')", 2)
      end
    end
    local timeout = opts.timeout
    if timeout ~= nil and type(timeout) ~= "number" then
      error("bad argument #3 to 'connect' (timeout: number expected, got "
        .. type(timeout) .. ")", 2)
    end
    local o = opts.tls and checkopts(opts.tls, "connect", 3)
    if o and o.server then
      error("bad argument #3 to 'connect' (tls option 'server' is for "
        .. "starttls)", 2)
    end
    local ctx, err, code
    if o then  -- the files are read before any connection is made
      ctx, err, code = context(o, false)
      if not ctx then return nil, err, code end
    end
    -- the rest of the options are the plain connect's
    local plain = timeout
    if opts.attempt_delay ~= nil then
      plain = { timeout = timeout, attempt_delay = opts.attempt_delay }
    end
    local s
    s, err, code = plainconnect(host, port, plain)
    if not s or not o then return s, err, code end
    if not M.isip(host) then hostnames[s] = host end
    local ok
    ok, err, code = client(s, ctx, o, host, timeout and core.now() + timeout
      or -1)
    if not ok then
      s:close()
      return nil, err, code
    end
    return s
  end

  local plainlisten = M.listen

  -- net.listen(host, port [, backlog or {backlog =, tls =}])
  function M.listen(host, port, opts)
    if type(opts) ~= "table" then return plainlisten(host, port, opts) end
    for k in pairs(opts) do
      if k ~= "backlog" and k ~= "tls" then
        error("bad argument #3 to 'listen' (unknown option '"
          .. tostring(k) .. "')", 2)
      end
    end
    local ctx, err, code
    if opts.tls then
      local o = checkopts(opts.tls, "listen", 3)
      if o.servername or o.server ~= nil then
        error("bad argument #3 to 'listen' (tls options 'servername' and "
          .. "'server' are for clients and starttls)", 2)
      end
      ctx, err, code = tls().context(o, true)
      if not ctx then return nil, err, code end
    end
    local s
    s, err, code = plainlisten(host, port, opts.backlog)
    if s and ctx then listeners[s] = ctx end
    return s, err, code
  end

  -- accept: a client of a TLS listener gets its layer (the handshake
  -- comes with its first read or write)
  local accept = methods.accept
  function methods.accept(s, ...)
    local c, h, p = accept(s, ...)
    local ctx = c and listeners[s]
    if ctx then
      local ok, err, code = tls().attach(c, ctx, true)
      if not ok then
        c:close()
        return nil, err, code
      end
    end
    return c, h, p
  end

  -- s:starttls([opts])
  function methods.starttls(s, opts)
    local o = checkopts(opts, "starttls", 2)
    if type(s) ~= "userdata" then
      error("bad argument #1 to 'starttls' (netbasics.socket expected)", 2)
    end
    local state = C and C.state(s)
    if state then
      error("starttls: the socket speaks TLS already", 2)
    elseif state == false then
      -- a handshake begun and not done (timeout 0, or one that timed
      -- out): go on with it, with the options it began with
      return C.handshake(s)
    end
    local ok, err, code = s:sendall("")  -- output held back goes first
    if not ok then return nil, err, code end
    if o.server then
      if o.servername then
        error("bad argument #2 to 'starttls' (tls option 'servername' is "
          .. "for clients)", 2)
      end
      local ctx
      ctx, err, code = context(o, true)
      if not ctx then return nil, err, code end
      ok, err, code = tls().attach(s, ctx, true)
      if not ok then return nil, err, code end
      return tls().handshake(s)
    end
    local name = hostnames[s]
    if not name then
      name, err, code = s:getpeername()
      if not name then return nil, err, code end
    end
    local ctx
    ctx, err, code = context(o, false)
    if not ctx then return nil, err, code end
    return client(s, ctx, o, name)
  end

  -- s:tlsinfo(): nil for a plain socket; finishes a handshake not done
  function methods.tlsinfo(s)
    if not C then
      s:fileno()  -- a closed socket raises, as every method
      return nil
    end
    local done = C.state(s)
    if done == nil then
      s:fileno()
      return nil
    end
    if not done then
      local ok, err, code = C.handshake(s)
      if not ok then return nil, err, code end
    end
    return C.info(s)
  end
end
