-- spec/support/nbtest.lua itself: what every other spec leans on
local T = require "nbtest"

describe("finally() in specs", function()
  local ran = {}
  it("takes several functions in one test", function()
    finally(function() ran[#ran + 1] = "first" end)
    finally(function() ran[#ran + 1] = "second" end)
    finally(function() ran[#ran + 1] = "third" end)
  end)

  it("ran them all when that test ended, the last given first", function()
    assert.same({ "third", "second", "first" }, ran)
  end)

  local stopped
  it("stops a spawned process given to an earlier finally()",
    function()
      local p = T.spawn("exec sleep 60")
      stopped = p
      finally(function() p:stop() end)
      finally(function() ran.marker = true end)
    end)

  it("left no process behind", function()
    assert.is_true(ran.marker)
    assert.equal("1\n", T.run("kill -0 " .. stopped.pid
      .. " 2>/dev/null; echo $?").out)  -- no such process
  end)
end)
