-- netbasics.resolve: the Lua part of the resolve family (policy over
-- netbasics.core). net.lookup and net.reverse also take the server string
-- itself as their options: net.lookup(name, "127.0.0.1:5353").
return function(M, core)
  local function options(opts)
    if type(opts) == "string" then return { server = opts } end
    return opts
  end

  function M.lookup(name, opts)
    return core.lookup(name, options(opts))
  end

  function M.reverse(ip, opts)
    return core.reverse(ip, options(opts))
  end
end
