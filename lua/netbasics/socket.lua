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

  -- net.connect(host, port [, timeout]): a connected stream socket. A name
  -- is resolved and every address is tried in turn (as Python's
  -- create_connection); `timeout` bounds each attempt and stays set on the
  -- socket returned (nil: block).
  function M.connect(host, port, timeout)
    checkhost(host, port, "connect")
    if timeout ~= nil and type(timeout) ~= "number" then
      error("bad argument #3 to 'connect' (number expected, got "
        .. type(timeout) .. ")", 2)
    end
    local addrs, err, code = M.getaddrinfo(host, port, "stream")
    if not addrs then return nil, err, code end
    for _, a in ipairs(addrs) do
      local s
      s, err, code = socket(a.family, "stream")
      if not s then return nil, err, code end
      if timeout then s:settimeout(timeout) end
      local ok
      ok, err, code = s:connect(a.host, a.port)
      if ok then return s end
      s:close()
    end
    return nil, err, code
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
