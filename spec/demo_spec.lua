-- The tour (`make demo` runs scripts/demo): it runs offline, every step
-- works, and the lessons it stops on purpose end quietly.
local T = require "nbtest"

describe("scripts/demo", function()
  it("runs the tour through, and the chat server's log ends quietly",
    function()
      local r = T.run("scripts/demo")
      assert.equal(0, r.code, r.out .. r.err)
      -- each lesson of --list is shown, with its arguments
      assert.truthy(r.out:find("\n  talk-server [HOST [PORT] | unix:PATH] ",
        1, true))
      -- the seed's words, from the lesson's own DNS world
      assert.truthy(r.out:find("Non-authoritative answer:\n"
        .. "gnomon.securitystandard.org\tcanonical name = "
        .. "hermes.securitystandard.org.\n", 1, true))
      -- each chat client heard its goodbye; the log has no "terminated!"
      local _, goodbyes = r.out:gsub("\nGoodbye, 127%.0%.0%.1:%d+%.\n", "")
      assert.equal(3, goodbyes)
      local log = r.out:match("==> what the chat server printed\n(.-)\n\n==>")
      assert.truthy(log, r.out)
      assert.matches("^Starting chat server%.\n", log)
      assert.is_nil((log .. r.err):find("terminated", 1, true))
      assert.truthy(r.out:find("\nSaved %d+ bytes from http://127%.0%.0%.1:"))
      -- the talk over TLS: refused without the fingerprint, then pinned;
      -- the secure server stops on bye
      assert.truthy(r.out:find("\nNobody this computer trusts vouches for "
        .. "this certificate", 1, true))
      assert.truthy(r.out:find("\nIts key matches the pin you gave: you "
        .. "vouch for it, so we trust it.\nReceived: 'You said Hello "
        .. "there\\n'\nConnection closed.\n", 1, true))
      assert.truthy(r.out:find("\nIt does not check out: self-signed "
        .. "certificate: pass cafile or pin.\n", 1, true))
      local slog = r.out:match("==> what the secure server printed after "
        .. "its start\n(.-)\n\n==>")
      assert.truthy(slog, r.out)
      assert.matches("\nI got Hello there\n.*\nI got bye\nStopping "
        .. "server%.$", slog)
    end)
end)
