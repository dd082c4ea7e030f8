-- The fuzz seed corpus (csrc/fuzz/corpus/<harness>/) replayed through
-- each libFuzzer harness with -runs=0, so that every input that once
-- broke a parser, and every malformed form the issues name, keeps
-- passing the harness's checks (round trips, agreement with inet_pton).
-- `make fuzzers` builds the harnesses (make test does).
local T = require "nbtest"

local function harnesses()
  local list = {}
  local p = io.popen("make -s print-FUZZERS")
  for name in p:read("a"):gmatch("%S+") do list[#list + 1] = name end
  p:close()
  return list
end

describe("fuzz corpus", function()
  local list = harnesses()

  it("has a harness and a seed folder for every parser", function()
    assert.is_true(#list >= 7)
    for _, h in ipairs(list) do
      assert.is_truthy(T.slurp("csrc/fuzz/fuzz_" .. h .. ".c"), h)
      local r = T.run("ls csrc/fuzz/corpus/" .. h .. " | wc -l")
      assert.is_true(tonumber(r.out) >= 5, h .. " has too few seeds")
    end
  end)

  for _, h in ipairs(list) do
    it("replays csrc/fuzz/corpus/" .. h .. " through fuzz-" .. h
       .. " without a finding", function()
      local bin = "build-fuzz/fuzz-" .. h
      assert.is_truthy(T.slurp(bin), bin .. " is not built (make fuzzers)")
      -- no sanitizer runtime preloaded from make check-asan: the harness
      -- has its own
      local r = T.run("env -u LD_PRELOAD " .. bin
        .. " -runs=0 csrc/fuzz/corpus/" .. h)
      assert.equal(0, r.code, r.err)
      assert.truthy(r.err:find("Done %d+ runs"), r.err)
    end)
  end
end)
