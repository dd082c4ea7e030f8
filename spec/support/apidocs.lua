-- apidocs: reads the reference headings of docs/api/*.md and compares them
-- with what a module really has. Plain functions on plain tables, so
-- spec/docs_spec.lua can try them on made-up modules as well as the real one.
--
-- A reference heading is a level-3 heading naming a receiver, then `.` or
-- `:`, then a name, then `(args)` for a function or nothing for a value:
--   ### net.connect(host, port [, timeout])    a module function
--   ### net.MAX_OCTET                          a module value (constant)
--   ### s:recv(max)                            a method of the `s` object
--   ### c.network                              a field of the `c` object
-- Other level-3 headings ("### Errors") are prose and ignored, as is
-- anything inside ``` fences.
local A = {}

-- A.headings(text, file) -> list of {file=, line=, text=, recv=, sep=,
-- name=, call=, bad=}: every reference heading of one Markdown text; `bad`
-- is set (a message) when the heading starts like one but is malformed
function A.headings(text, file)
  local out, fenced, n = {}, false, 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    n = n + 1
    if line:match("^%s*```") or line:match("^%s*~~~") then
      fenced = not fenced
    elseif not fenced then
      local h = line:match("^###%s+(.-)%s*$")
      local recv, sep, name, rest
      if h and not line:match("^####") then
        recv, sep, name, rest = h:match("^([%a_][%w_]*)([.:])([%a_][%w_]*)(.*)$")
      end
      if recv then
        local e = { file = file, line = n, text = line, recv = recv,
                    sep = sep, name = name, call = rest ~= "" }
        if rest ~= "" and not rest:match("^%(.*%)$") then
          e.bad = "malformed reference heading (want `### " .. recv .. sep
            .. name .. "(args)` or `### " .. recv .. sep .. name .. "`)"
        elseif sep == ":" and not e.call then
          e.bad = "a method heading needs its arguments: `### " .. recv
            .. ":" .. name .. "(args)`"
        end
        out[#out + 1] = e
      end
    end
  end
  return out
end

-- A.read(dir) -> headings of every dir/*.md, in file name order
function A.read(dir)
  local p = io.popen("ls " .. dir .. "/*.md 2>/dev/null")
  local files = {}
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  table.sort(files)
  local all = {}
  for _, f in ipairs(files) do
    local h = assert(io.open(f, "rb"))
    local text = h:read("a")
    h:close()
    for _, e in ipairs(A.headings(text, f)) do all[#all + 1] = e end
  end
  return all, files
end

-- names a reference must cover: every key but those starting with "_"
-- (_VERSION excepted: users read it)
local function public(k)
  return type(k) == "string" and (k:sub(1, 1) ~= "_" or k == "_VERSION")
end

-- the methods of an object: function values of its own fields (a table
-- object) and of its metatable's __index table; when __index is a function,
-- those of the tables it closes over (a C closure keeping its methods in an
-- upvalue, as luaL_newlib + lua_pushcclosure) and of the metatable itself.
-- nil, reason when none can be listed
function A.methods(obj)
  local found, any = {}, false
  if type(obj) == "table" then
    for k, v in pairs(obj) do
      if type(v) == "function" and public(k) then found[k] = true end
      any = true
    end
  end
  local mt = getmetatable(obj)
  local index = type(mt) == "table" and rawget(mt, "__index")
  if type(index) == "table" then
    for k, v in pairs(index) do
      if type(v) == "function" and public(k) then found[k] = true end
    end
    any = true
  elseif type(index) == "function" and type(mt) == "table" then
    local sources, i = { mt }, 1
    while true do
      local name, up = debug.getupvalue(index, i)
      if name == nil then break end
      if type(up) == "table" and up ~= _ENV and up ~= _G then
        sources[#sources + 1] = up
      end
      i = i + 1
    end
    for _, t in ipairs(sources) do
      for k, v in pairs(t) do
        if type(v) == "function" and public(k) and k:sub(1, 2) ~= "__" then
          found[k] = true
          any = true
        end
      end
    end
  end
  if not any then
    return nil, "cannot list its methods (no __index table)"
  end
  return found
end

local function where(e)
  return string.format("%s:%d: %s", e.file or "?", e.line or 0, e.text)
end

-- A.check(headings, module, objects) -> sorted list of problems (strings);
-- empty when the reference and the module agree.
--   module:  the table `require "netbasics"` gives
--   objects: receiver -> {value = an object} or {missing = "why there is
--            none"}; `net` is the module itself
function A.check(headings, module, objects)
  local problems, seen, documented = {}, {}, {}
  local function say(fmt, ...) problems[#problems + 1] = fmt:format(...) end
  objects = objects or {}
  for _, e in ipairs(headings) do
    local key = e.recv .. e.sep .. e.name
    if e.bad then
      say("%s: %s", where(e), e.bad)
    elseif seen[key] then
      say("%s: %s is documented twice (also %s:%d)", where(e), key,
        seen[key].file, seen[key].line)
    else
      seen[key] = e
      documented[key] = e
      if e.recv == "net" then
        local v = module[e.name]
        if e.sep ~= "." then
          say("%s: module functions are written `net.%s(...)`", where(e),
            e.name)
        elseif v == nil then
          say("%s: net.%s does not exist", where(e), e.name)
        elseif e.call and type(v) ~= "function" then
          say("%s: net.%s is a %s, not a function: write `### net.%s`",
            where(e), e.name, type(v), e.name)
        elseif not e.call and type(v) == "function" then
          say("%s: net.%s is a function: write `### net.%s(args)`",
            where(e), e.name, e.name)
        end
      else
        local o = objects[e.recv]
        if o == nil then
          local known = {}
          for r in pairs(objects) do known[#known + 1] = r end
          table.sort(known)
          say("%s: unknown receiver '%s' (known: net, %s)", where(e),
            e.recv, table.concat(known, ", "))
        elseif o.missing then
          say("%s: cannot check %s: %s", where(e), key, o.missing)
        else
          local ok, v = pcall(function() return o.value[e.name] end)
          if not ok then
            say("%s: reading %s raised: %s", where(e), key, tostring(v))
          elseif v == nil then
            say("%s: %s does not exist", where(e), key)
          elseif e.sep == ":" and type(v) ~= "function" then
            say("%s: %s is a %s, not a method", where(e), key, type(v))
          elseif e.sep == "." and type(v) == "function" then
            say("%s: %s is a method: write `### %s:%s(args)`", where(e),
              key, e.recv, e.name)
          end
        end
      end
    end
  end
  -- everything the module and its objects have is documented
  for k, v in pairs(module) do
    if public(k) then
      if not documented["net." .. k] then
        if type(v) == "function" then
          say("net.%s has no `### net.%s(...)` heading in docs/api/*.md", k, k)
        else
          say("net.%s (a %s) has no `### net.%s` heading in docs/api/*.md",
            k, type(v), k)
        end
      end
    end
  end
  for recv, o in pairs(objects) do
    if o.value ~= nil then
      local methods, why = A.methods(o.value)
      if not methods then
        say("%s (%s): %s", recv, tostring(o.value), why)
      else
        for m in pairs(methods) do
          if not documented[recv .. ":" .. m] then
            say("%s:%s has no `### %s:%s(...)` heading in docs/api/*.md",
              recv, m, recv, m)
          end
        end
      end
    end
  end
  table.sort(problems)
  return problems
end

return A
