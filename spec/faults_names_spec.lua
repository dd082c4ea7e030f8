-- Fault suite: names. A DNS server of our own (the Python below, on a
-- free port of 127.0.0.1) answers each question with something broken,
-- picked by the question's first label; every lookup must come back as
-- nil, a one-line message, a code, within its timeout: no crash, no
-- hang, nothing from the answer (control bytes, a name over 255 bytes)
-- reaching a message or a result raw.
local T = require "nbtest"
local net = require "netbasics"

local SERVER = [=[
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
def qend(q):
    i = 12
    while q[i] != 0:
        i += 1 + q[i]
    return i + 5
def name(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"
def rr(owner, rtype, rdata):
    return owner + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 13:
        continue
    first = q[13:13 + q[12]].decode("ascii", "replace").lower()
    qd = q[12:qend(q)]
    def hdr(flags=0x8180, qd_=1, an=0):
        return q[:2] + struct.pack(">HHHHH", flags, qd_, an, 0, 0)
    if first == "silent":
        continue
    if first == "zero":
        out = b""
    elif first == "trunchdr":
        out = hdr()[:7]
    elif first == "hdronly":
        out = hdr(qd_=0)
    elif first == "ptrloop":
        out = hdr(qd_=0, an=1) + rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    elif first == "counts":
        out = hdr(an=65535) + qd
    elif first == "qdcounts":
        out = hdr(qd_=65535) + qd
    elif first == "ctrl":
        evil = name([b"ev\nil", b"a\x01b", b"test"])
        out = hdr(an=2) + qd + rr(b"\xc0\x0c", 5, evil) \
            + rr(evil, 1, b"\xc0\x00\x02\x01")
    elif first == "long":
        # a CNAME target of 5 labels of 63 bytes: over 255 bytes; the
        # A record's owner points at it, so the reply stays under 512
        target = name([b"a" * 63] * 5)
        cname = rr(b"\xc0\x0c", 5, target)
        at = 12 + len(qd) + len(cname) - len(target)
        out = hdr(an=2) + qd + cname \
            + rr(struct.pack(">H", 0xc000 | at), 1, b"\xc0\x00\x02\x01")
    elif first == "ptrctrl":
        out = hdr(an=1) + qd + rr(b"\xc0\x0c", 12, name([b"ho\rst", b"te\x00st"]))
    else:
        out = hdr(an=1) + qd + rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x01")
    s.sendto(out, peer)
]=]

describe("faults: names", function()
  local server, port, where

  setup(function()
    port = T.free_port("udp")
    server = T.spawn("exec python3 -c " .. T.shquote(SERVER) .. " " .. port)
    assert(T.wait_port(port, 10, "udp"), "the DNS server did not start")
    where = "127.0.0.1:" .. port
  end)

  teardown(function()
    if server then server:stop() end
  end)

  local function lookup(name, opts)
    opts = opts or {}
    opts.server = where
    opts.timeout = opts.timeout or 1
    opts.tries = opts.tries or 1
    return net.lookup(name, opts)
  end

  local function oneline(msg)
    assert.is_string(msg)
    assert.is_nil(msg:find("[%c]"), "control byte in " .. ("%q"):format(msg))
    assert.is_true(#msg < 400, "message of " .. #msg .. " bytes")
  end

  it("answers normally when nothing is broken (the server works)", function()
    local r = assert(lookup("fine.test", { type = "A" }))
    assert.same({ "192.0.2.1" }, r.addresses)
  end)

  for _, case in ipairs {
    { "zero", "a zero-byte reply" },
    { "trunchdr", "a truncated header" },
    { "hdronly", "a header and no question" },
    { "ptrloop", "a compression-pointer loop" },
    { "counts", "an answer count larger than the message" },
    { "qdcounts", "a question count larger than the message" },
  } do
    it("returns nil, msg, code for " .. case[2] .. ", within the timeout",
      function()
      local r, msg, code = lookup(case[1] .. ".test", { type = "A" })
      assert.is_nil(r)
      assert.is_true(code == "malformed" or code == "timeout",
        case[1] .. ": " .. tostring(code) .. " " .. tostring(msg))
      oneline(msg)
      assert.truthy(msg:find(case[1] .. ".test", 1, true), msg)
    end)
  end

  it("returns timeout for a server that says nothing at all", function()
    local r, msg, code = lookup("silent.test", { timeout = 0.3, tries = 2 })
    assert.is_nil(r)
    assert.equal("timeout", code)
    oneline(msg)
  end)

  it("refuses an answer naming a host with control characters",
    function()
    local r, msg, code = lookup("ctrl.test", { type = "A" })
    assert.is_nil(r)
    assert.equal("malformed", code)
    oneline(msg)
  end)

  it("refuses an answer with a name over 255 bytes", function()
    local r, msg, code = lookup("long.test", { type = "A" })
    assert.is_nil(r)
    assert.equal("malformed", code)
    oneline(msg)
  end)

  it("a PTR answer with CR and NUL in its name reaches no result raw",
    function()
    local r, msg, code = net.reverse("192.0.2.7",
      { server = where, timeout = 1, tries = 1 })
    -- the question is 7.2.0.192.in-addr.arpa: our server answers it
    -- with the default A record, not a PTR: nothing found
    assert.is_nil(r)
    oneline(msg)
    assert.is_string(code)
  end)

  it("asks a question over 253 bytes never, and says so", function()
    local r, msg, code = lookup(string.rep("a", 63) .. "." .. string.rep(
      "b", 63) .. "." .. string.rep("c", 63) .. "." .. string.rep("d", 63)
      .. ".test")
    assert.is_nil(r)
    assert.equal("malformed", code)
    oneline(msg)
  end)

  it("a name with a control character is refused before asking",
    function()
    for _, name in ipairs { "ev\nil.test", "a\0b.test", "a\rb.test",
      "tab\t.test" } do
      local r, msg, code = lookup(name)
      assert.is_nil(r)
      assert.equal("malformed", code)
      oneline(msg)
    end
  end)
end)
