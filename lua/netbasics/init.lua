-- netbasics: the Lua half. `local net = require "netbasics"` gives one
-- table: the C primitives of netbasics.core plus the policy written in Lua
-- (trying each address, the lesson helpers). C is mechanism, Lua is policy.
local core = require "netbasics.core"

local M = {}
for k, v in pairs(core) do M[k] = v end
M._VERSION = core._VERSION

-- each family's Lua part adds its functions to M
require("netbasics.socket")(M, core)
require("netbasics.resolve")(M, core)
require("netbasics.fetch")(M, core)
require("netbasics.sched")(M, core)
require("netbasics.secure")(M, core)

return M
