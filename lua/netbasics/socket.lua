-- netbasics.socket: the Lua part of the socket family (policy over
-- netbasics.core): net.listen, net.connect (every address of a name in
-- turn) and the lesson's net.netcat. Failures pass through untouched as
-- nil, message, code, so `assert(net.connect(h, p))` reads naturally.
return function(M, core)
  local socket = core.socket
  -- looked up at each call (M.getaddrinfo), so a test can stand in for it

  local function checkhost(host, port, fname)
    if type(host) ~= "string" then
      error(string.format("bad argument #1 to '%s' (string expected, got %s)",
        fname, type(host)), 3)
    end
    local tp = type(port)
    if tp ~= "number" and tp ~= "string" then
      error(string.format("bad argument #2 to '%s' (number expected, got %s)",
        fname, tp), 3)
    end
  end

  -- net.listen(host, port [, backlog]): a bound, listening stream socket
  -- with SO_REUSEADDR, so a lesson can be restarted at once. A name is
  -- tried address by address until one binds.
  function M.listen(host, port, backlog)
    checkhost(host, port, "listen")
    if backlog ~= nil and math.type(backlog) ~= "integer" then
      error("bad argument #3 to 'listen' (integer expected)", 2)
    end
    local addrs, err, code = M.getaddrinfo(host, port, "stream", true)
    if not addrs then return nil, err, code end
    for _, a in ipairs(addrs) do
      local s
      s, err, code = socket(a.family, "stream")
      if not s then return nil, err, code end
      local ok = s:setoption("reuseaddr", true)
      ok, err, code = s:bind(a.host, a.port)
      if ok then ok, err, code = s:listen(backlog) end
      if ok then return s end
      s:close()
    end
    return nil, err, code
  end

  -- the addresses of a name in the order RFC 8305 tries them: the
  -- families interleaved, IPv6 first, each family in getaddrinfo's order
  local function interleave(addrs)
    local six, four = {}, {}
    for _, a in ipairs(addrs) do
      if a.family == "inet6" then six[#six + 1] = a else four[#four + 1] = a end
    end
    local out = {}
    for i = 1, math.max(#six, #four) do
      out[#out + 1] = six[i]
      out[#out + 1] = four[i]
    end
    return out
  end

  -- the deadline net.deadline set on the running task (net.now() seconds),
  -- or nil
  local function task_limit()
    if not core.current() then return nil end
    local prev = core._setlimit(1e9)
    core._setlimit(nil, prev)
    return prev >= 0 and prev or nil
  end

  local function endpoint(a)
    return (a.family == "inet6" and "[" .. a.host .. "]" or a.host) .. ":"
      .. a.port
  end

  -- ** Happy Eyeballs (RFC 8305): connect to one of several addresses.
  -- An attempt starts, then the next one `delay` seconds later if none
  -- has connected yet, or at once when one fails; earlier attempts keep
  -- going. The first to connect wins and the others are closed. Every
  -- wait is one net.select on the attempts still going: in a task it
  -- waits on the loop, outside on poll(). `deadline` (net.now() seconds,
  -- or nil) bounds it all. When every attempt fails the message names
  -- each address and why.
  local function race(host, port, addrs, deadline, delay)
    local list = interleave(addrs)
    local going, why = {}, {}   -- attempts going: {s =, a =}; failures
    local code                  -- the last failure's code
    local nexti, nextat = 1, M.now()
    local function fail(a, err, c)
      why[#why + 1] = endpoint(a) .. " "
        .. (err:match("^connect to %S+: (.*)$") or err)
      code = c
      nextat = M.now()  -- a failure starts the next attempt at once
    end
    local function closeall(keep)
      for _, g in ipairs(going) do
        if g.s ~= keep then g.s:close() end
      end
    end
    while true do
      local now = M.now()
      if nexti <= #list and (now >= nextat or #going == 0) then
        local a = list[nexti]
        nexti = nexti + 1
        local s, err, c = socket(a.family, "stream")
        if not s then
          closeall()
          return nil, err, c
        end
        s:settimeout(0)
        local ok
        ok, err, c = s:connect(a.host, a.port)
        if ok then
          closeall()
          return s
        elseif c == "timeout" then
          going[#going + 1] = { s = s, a = a }
          nextat = M.now() + delay
        else
          s:close()
          fail(a, err, c)
        end
      elseif #going == 0 then
        -- nothing left to try: every address failed
        return nil, string.format("connect to %s port %s: %s", host, port,
          table.concat(why, "; ")), code
      elseif deadline and now >= deadline then
        closeall()
        for _, g in ipairs(going) do why[#why + 1] = endpoint(g.a)
          .. " timed out" end
        for i = nexti, #list do why[#why + 1] = endpoint(list[i])
          .. " not tried" end
        return nil, string.format("connect to %s port %s: %s", host, port,
          table.concat(why, "; ")), "timeout"
      else
        local wait = deadline and deadline - now
        if nexti <= #list then
          local d = nextat - now
          if not wait or d < wait then wait = d end
        end
        if wait and wait < 0 then wait = 0 end
        local ws = {}
        for i, g in ipairs(going) do ws[i] = g.s end
        local _, ready = M.select(nil, ws, wait)
        for i = #going, 1, -1 do
          local g = going[i]
          if ready[g.s] then
            local ok, err, c = g.s:connect(g.a.host, g.a.port)
            if ok then
              closeall(g.s)
              return g.s
            elseif c ~= "timeout" then
              table.remove(going, i)
              g.s:close()
              fail(g.a, err, c)
            end
          end
        end
      end
    end
  end

  -- net.connect(host, port [, timeout or opts]): a connected stream
  -- socket. opts: timeout (seconds; nil: block), attempt_delay (seconds,
  -- default 0.25). A name with one address is tried as is; several race
  -- (race above). The timeout bounds the whole connect, the name's lookup
  -- too, and stays set on the socket returned.
  local CONNECT_OPTS = { timeout = "number", attempt_delay = "number" }
  function M.connect(host, port, opts)
    checkhost(host, port, "connect")
    local timeout, delay = nil, 0.25
    if type(opts) == "number" then
      timeout = opts
    elseif type(opts) == "table" then
      for k, v in pairs(opts) do
        if not CONNECT_OPTS[k] then
          error("bad argument #3 to 'connect' (unknown option '"
            .. tostring(k) .. "')", 2)
        end
        if type(v) ~= CONNECT_OPTS[k] then
          error("bad argument #3 to 'connect' (option '" .. k .. "': "
            .. CONNECT_OPTS[k] .. " expected, got " .. type(v) .. ")", 2)
        end
      end
      timeout, delay = opts.timeout, opts.attempt_delay or delay
      -- math.huge: each attempt waits for the one before it to fail
      if delay ~= delay or delay < 0 then
        error("bad argument #3 to 'connect' (option 'attempt_delay': "
          .. "seconds, 0 or more, expected, got " .. (delay ~= delay and "nan" or tostring(delay)) .. ")", 2)
      end
    elseif opts ~= nil then
      error("bad argument #3 to 'connect' (number expected, got "
        .. type(opts) .. ")", 2)
    end
    if timeout ~= timeout then
      error("bad argument #3 to 'connect' (timeout: a number of seconds "
        .. "expected, got nan)", 2)
    end
    if timeout and timeout < 0 then timeout = nil end  -- blocks, as settimeout
    local deadline = timeout and M.now() + timeout
    local addrs, err, code = M.getaddrinfo(host, port, "stream", false,
      timeout)
    if not addrs then return nil, err, code end
    local s
    if #addrs == 1 then
      local a = addrs[1]
      s, err, code = socket(a.family, "stream")
      if not s then return nil, err, code end
      if deadline then s:settimeout(math.max(deadline - M.now(), 0)) end
      local ok
      ok, err, code = s:connect(a.host, a.port)
      if not ok then
        s:close()
        return nil, err, code
      end
    else
      local limit = task_limit()
      if limit and (not deadline or limit < deadline) then deadline = limit end
      s, err, code = race(host, port, addrs, deadline, delay)
      if not s then return nil, err, code end
    end
    s:settimeout(timeout)
    return s
  end

  -- the options of a Unix socket function: a table of known names (an
  -- unknown one is a programmer's error), or a number for connect_unix's
  -- timeout
  local function unixopts(opts, fname, known)
    if type(opts) == "number" and known.timeout then
      return { timeout = opts }
    end
    if opts == nil then return {} end
    if type(opts) ~= "table" then
      error(string.format("bad argument #2 to '%s' (table expected, got %s)",
        fname, type(opts)), 3)
    end
    for k, v in pairs(opts) do
      local want = known[k]
      if not want then
        error(string.format("bad argument #2 to '%s' (unknown option '%s')",
          fname, tostring(k)), 3)
      end
      if type(v) ~= want then
        error(string.format("bad argument #2 to '%s' (option '%s': %s "
          .. "expected, got %s)", fname, k, want, type(v)), 3)
      end
    end
    return opts
  end

  local function checkpath(path, fname)
    if type(path) ~= "string" then
      error(string.format("bad argument #1 to '%s' (string expected, got %s)",
        fname, type(path)), 3)
    end
  end

  -- net.connect_unix(path [, opts]): a stream socket connected to the Unix
  -- socket at `path` ("@name": the abstract namespace). opts.timeout (or
  -- a number) bounds connecting and stays set on the socket, as
  -- net.connect's.
  function M.connect_unix(path, opts)
    checkpath(path, "connect_unix")
    opts = unixopts(opts, "connect_unix", { timeout = "number" })
    local s, err, code = socket("unix", "stream")
    if not s then return nil, err, code end
    if opts.timeout then s:settimeout(opts.timeout) end
    local ok
    ok, err, code = s:connect(path)
    if ok then return s end
    s:close()
    return nil, err, code
  end

  -- net.listen_unix(path [, opts]): a stream socket listening at `path`.
  -- A socket file left by a server that died (nothing accepts on it) is
  -- replaced; one a server still listens on is "inuse". The socket
  -- removes its file when it closes. opts.backlog as s:listen's.
  function M.listen_unix(path, opts)
    checkpath(path, "listen_unix")
    opts = unixopts(opts, "listen_unix", { backlog = "number" })
    local s, err, code = socket("unix", "stream")
    if not s then return nil, err, code end
    local ok
    ok, err, code = s:bind(path)
    if not ok and code == "inuse" and M.remove_stale(path) then
      ok, err, code = s:bind(path)
    end
    if ok then ok, err, code = s:listen(opts.backlog) end
    if ok then return s end
    s:close()
    return nil, err, code
  end

  -- net.netcat(host, port, content [, timeout]): the lesson's client:
  -- connect, send everything, shut down writing, and gather every chunk
  -- the server sends until it closes. Returns the list of chunks.
  function M.netcat(host, port, content, timeout)
    if type(content) ~= "string" then
      error("bad argument #3 to 'netcat' (string expected, got "
        .. type(content) .. ")", 2)
    end
    local s <close>, err, code = M.connect(host, port, timeout)
    if not s then return nil, err, code end
    local ok, sent
    ok, err, code, sent = s:sendall(content)
    if not ok then return nil, err, code, sent end
    ok, err, code = s:shutdown("write")
    if not ok then return nil, err, code end
    local chunks = {}
    while true do
      local data
      data, err, code = s:recv(1024)
      if not data then return nil, err, code, chunks end
      if data == "" then break end
      chunks[#chunks + 1] = data
    end
    return chunks
  end
end
