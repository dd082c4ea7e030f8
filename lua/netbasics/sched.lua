-- netbasics.sched: the Lua part of the scheduler (policy over the loop in
-- csrc/loop.c). net.spawn, net.run, net.stop, net.sleep, net.now and the
-- task methods are C; here: net.deadline.
return function(M, core)
  local setlimit = core._setlimit
  M._setlimit = nil
  local pack, unpack = table.pack, table.unpack

  -- net.deadline(seconds, fn, ...): run fn(...) with every wait inside it
  -- (name lookup, connect, I/O, sleep) bounded by one deadline; the call
  -- that is waiting when it passes gets nil, msg, "timeout". Outside a
  -- task, fn runs as a task and the loop runs until it is done.
  function M.deadline(seconds, fn, ...)
    if type(seconds) ~= "number" or seconds ~= seconds then
      error("bad argument #1 to 'deadline' (number expected, got "
        .. type(seconds) .. ")", 2)
    end
    if type(fn) ~= "function" then
      error("bad argument #2 to 'deadline' (function expected, got "
        .. type(fn) .. ")", 2)
    end
    if not core.current() then
      local args = pack(...)
      local t = core.spawn(function()
        return M.deadline(seconds, fn, unpack(args, 1, args.n))
      end)
      local r = pack(t:join())
      if r[1] then return unpack(r, 2, r.n) end
      error(r[2], 0)
    end
    local prev = setlimit(seconds)
    local r = pack(pcall(fn, ...))
    setlimit(nil, prev)
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end
