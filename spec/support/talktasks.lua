-- talktasks: the talk server of the scheduler specs, on a listener of any
-- kind (TCP or a Unix socket): an accepting task, then each client a task
-- answering "You said <line>" to each line, until the client goes or the
-- listener closes.
--
--   local serve = require "talktasks"
--   local acceptor = serve(l)   -- net.run() runs it; l:close() ends it
local net = require "netbasics"

return function(l)
  return net.spawn(function()
    while true do
      local c = l:accept()
      if not c then return end
      net.spawn(function(s)
        for line in s:lines() do
          if not s:write("You said ", line, "\n") then break end
        end
        s:close()
      end, c)
    end
  end)
end
