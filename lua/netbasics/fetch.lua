-- netbasics.fetch (Lua part): net.fetch, net.download and net.file_url.
-- The C module "netbasics.curl" links libcurl, which costs ~8 ms to load,
-- so it is required on first use only and `require "netbasics"` stays
-- fast. The host finds it beside its binary (build/lib, PREFIX/lib).
return function(M)
  local curl  -- netbasics.curl, once loaded

  local function lib()
    if not curl then curl = require "netbasics.curl" end
    return curl
  end

  -- A misuse error raised in C (unknown option, wrong type) names no
  -- place: give it the caller's line, as a Lua library would. An error
  -- that names one already (from a progress function) passes unchanged.
  local function raise(e)
    if type(e) == "string" and not e:find("^[^\n]-:%d+: ") then
      error(e, 3)
    end
    error(e, 0)
  end

  -- net.fetch(url [, opts]) -> {status=, body=, headers=, url=, bytes=,
  -- seconds=} or nil, msg, code
  function M.fetch(url, opts)
    local ok, a, b, c, d = pcall(lib().fetch, url, opts)
    if not ok then raise(a) end
    return a, b, c, d
  end

  -- net.download(url, path [, opts]) -> {status=, path=, bytes=, url=,
  -- seconds=, headers=} or nil, msg, code [, status]
  function M.download(url, path, opts)
    local ok, a, b, c, d = pcall(lib().download, url, path, opts)
    if not ok then raise(a) end
    return a, b, c, d
  end

  -- net.file_url(path) -> "file:///absolute/path" (percent-encoded), the
  -- URL a web browser opens a saved copy with
  function M.file_url(path)
    if type(path) ~= "string" then
      error("bad argument #1 to 'file_url' (string expected, got "
        .. type(path) .. ")", 2)
    end
    if path == "" then return nil, "file_url: the path is empty", "malformed" end
    if path:sub(1, 1) ~= "/" then
      local cwd = os.getenv("PWD")
      if not cwd or cwd:sub(1, 1) ~= "/" then
        local p = io.popen("pwd")
        cwd = p and p:read("l")
        if p then p:close() end
      end
      if not cwd then return nil, "file_url: no current directory", "io" end
      path = cwd:gsub("/$", "") .. "/" .. path
    end
    -- drop "." and resolve ".." segments
    local parts = {}
    for seg in path:gmatch("[^/]+") do
      if seg == ".." then
        parts[#parts] = nil
      elseif seg ~= "." then
        parts[#parts + 1] = seg
      end
    end
    local enc = table.concat(parts, "/"):gsub("[^%w%-%._~/]", function(c)
      return string.format("%%%02X", c:byte())
    end)
    return "file:///" .. enc
  end
end
