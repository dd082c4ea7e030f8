-- net.download, the download lesson and the download-and-open exercise,
-- against nginx on loopback (curl as the reference), a python3 server for
-- cut answers, a small tmpfs for a full disk, and headless chromium for
-- "open the copy in a web browser".
local T = require "nbtest"
local W = require "webserver"
local net = require "netbasics"

local sha256, randomdata, ls = T.sha256, T.randomdata, T.ls

local function mode(path)
  return T.run("stat -c %a " .. T.shquote(path)).out:match("%d+")
end

local PAGE = "<!doctype html>\n<html><head><title>Welcome to the copy"
  .. "</title></head>\n<body><h1>Hello from loopback</h1></body></html>\n"

describe("net.download", function()
  local web, dir
  local files = {
    ["empty.bin"] = "",
    ["one.bin"] = "x",
    ["page.html"] = PAGE,
    ["text.txt"] = string.rep("the quick brown fox\n", 50000),
  }
  setup(function()
    files["big.bin"] = randomdata(32 * 1024 * 1024 + 3)
    web = W.nginx{ files = files }
  end)
  teardown(function()
    if web then web:stop() end
  end)
  before_each(function() dir = T.tmpdir() end)
  after_each(function() T.rmtree(dir) end)

  describe("saves", function()
    for _, name in ipairs{ "empty.bin", "one.bin", "page.html", "big.bin" } do
      it("the same bytes as curl -o: " .. name, function()
        local path = dir .. "/" .. name
        local r = assert(net.download(web:url("/" .. name), path))
        assert.same({ 200, path, #files[name], web:url("/" .. name) },
          { r.status, r.path, r.bytes, r.url })
        assert.is_number(r.seconds)
        local c = T.run(("curl -sS --noproxy '*' -o %s %s"):format(
          T.shquote(dir .. "/curl.out"), T.shquote(web:url("/" .. name))))
        assert.equal(0, c.code)
        assert.equal(sha256(dir .. "/curl.out"), sha256(path))
        local want = { "curl.out", name }
        table.sort(want)
        assert.same(want, ls(dir))
      end)
    end

    it("over HTTPS with cafile, same bytes as curl", function()
      local path = dir .. "/big.bin"
      assert(net.download(web:url("/big.bin", true), path, { cafile = web.cafile }))
      local c = T.run(("curl -sS --noproxy '*' --cacert %s -o %s %s"):format(
        web.cafile, T.shquote(dir .. "/curl.out"), T.shquote(web:url("/big.bin", true))))
      assert.equal(0, c.code)
      assert.equal(sha256(dir .. "/curl.out"), sha256(path))
    end)

    it("after redirects, with the final URL and decoded gzip", function()
      local r = assert(net.download(web:url("/r1"), dir .. "/copy.html"))
      assert.same({ 200, web:url("/page.html") }, { r.status, r.url })
      assert.equal(PAGE, T.slurp(dir .. "/copy.html"))
      r = assert(net.download(web:url("/gz/text.txt"), dir .. "/text.txt"))
      assert.equal("gzip", r.headers["content-encoding"])
      assert.is_true(T.slurp(dir .. "/text.txt") == files["text.txt"])
    end)

    it("replaces an earlier copy, keeping its permissions", function()
      local path = dir .. "/copy.html"
      T.writefile(path, "old")
      os.execute("chmod 640 " .. T.shquote(path))
      assert(net.download(web:url("/page.html"), path))
      assert.equal(PAGE, T.slurp(path))
      assert.equal("640", mode(path))
      assert.same({ "copy.html" }, ls(dir))
    end)

    it("a new file gets 0666 less the umask", function()
      local r = T.nb({ "-e", ("local net = require 'netbasics' "
        .. "assert(net.download(%q, %q))"):format(web:url("/page.html"),
        dir .. "/new.html") })
      assert.equal(0, r.code)
      local u = T.run("umask").out:match("%d+")
      assert.equal(("%o"):format(tonumber("666", 8) & ~tonumber(u, 8)), mode(dir .. "/new.html"))
    end)

    it("a relative path lands in the current folder", function()
      local r = T.run(("cd %s && %s -e %s"):format(T.shquote(dir), T.shquote(T.host),
        T.shquote(("local net = require 'netbasics' "
        .. "print(assert(net.download(%q, 'mycopy.html')).path)"):format(web:url("/page.html")))))
      assert.same({ "mycopy.html\n", 0 }, { r.out, r.code })
      assert.equal(PAGE, T.slurp(dir .. "/mycopy.html"))
      assert.same({ "mycopy.html" }, ls(dir))
    end)
  end)

  describe("never follows a planted symlink", function()
    it("a symlink at the path is replaced, its target untouched", function()
      T.writefile(dir .. "/target", "precious")
      os.execute(("ln -s %s/target %s/copy.html"):format(dir, dir))
      assert(net.download(web:url("/page.html"), dir .. "/copy.html"))
      assert.equal("precious", T.slurp(dir .. "/target"))
      assert.equal(PAGE, T.slurp(dir .. "/copy.html"))
      assert.equal("", T.run("find " .. dir .. " -type l").out)
    end)

    it("a dangling symlink does not create its target", function()
      os.execute(("ln -s %s/elsewhere %s/copy.html"):format(dir, dir))
      assert(net.download(web:url("/page.html"), dir .. "/copy.html"))
      assert.same({ "copy.html" }, ls(dir))
      assert.equal(PAGE, T.slurp(dir .. "/copy.html"))
    end)
  end)

  describe("on failure keeps an earlier copy and leaves nothing behind", function()
    local raw
    after_each(function()
      if raw then raw:stop() end
      raw = nil
    end)

    local cases = {
      { "HTTP 404", function() return web:url("/missing.html") end, {}, "http",
        function(u) return "download " .. u .. ": HTTP 404 Not Found" end },
      { "a timeout", function() return web:url("/slow/text.txt") end,
        { timeout = 0.5 }, "timeout" },
      { "a stalled server (low-speed limit)", function()
          raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nabc", "stall")
          return raw:url()
        end, { low_speed_time = 1 }, "timeout" },
      { "a connection cut mid-body", function()
          raw = W.raw("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
            .. string.rep("x", 70000))
          return raw:url()
        end, {}, "closed",
        function(u) return "download " .. u
          .. ": transfer closed with 30000 bytes remaining to read" end },
      { "max_bytes, length known", function() return web:url("/big.bin") end,
        { max_bytes = 100 }, "toobig",
        function(u) return "download " .. u .. ": larger than max_bytes (100 bytes)" end },
      { "max_bytes, length unknown", function() return web:url("/gz/text.txt") end,
        { max_bytes = 100000 }, "toobig" },
      { "a redirect loop", function() return web:url("/loop") end, {}, "redirects" },
      { "a redirect to file:///etc/passwd", function() return web:url("/tofile") end,
        {}, "protocol" },
      { "file:///etc/passwd itself", function() return "file:///etc/passwd" end,
        {}, "protocol" },
      { "an untrusted certificate", function() return web:url("/page.html", true) end,
        {}, "tls" },
      { "a refused connection", function()
          return ("http://127.0.0.1:%d/"):format(T.free_port())
        end, {}, "refused" },
      { "a malformed URL", function() return "http://x/a b" end, {}, "malformed" },
      { "a malformed header", function() return web:url("/page.html") end,
        { headers = { ["X-A"] = "a\r\nX-B: b" } }, "malformed" },
      { "the progress function saying stop", function() return web:url("/slow/text.txt") end,
        { progress = function() return false end }, "stopped" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local path = dir .. "/copy.html"
        T.writefile(path, "earlier copy")
        local url = case[2]()
        local r, msg, code = net.download(url, path, case[3])
        assert.is_nil(r)
        assert.equal(case[4], code)
        assert.is_string(msg)
        assert.is_nil(msg:find("\n"))
        if case[5] then assert.equal(case[5](url), msg) end
        assert.equal("earlier copy", T.slurp(path))
        assert.same({ "copy.html" }, ls(dir))
      end)
    end

    it("HTTP 404 also gives the status as a fourth value", function()
      local r, _, code, status = net.download(web:url("/missing.html"), dir .. "/x")
      assert.same({ nil, "http", 404 }, { r, code, status })
      assert.same({}, ls(dir))
    end)

    it("a full disk (a 1 MiB tmpfs)", function()
      assert.equal("0", T.run("id -u").out:match("%d+"),
        "this test mounts a tmpfs: run it as root")
      local mnt = dir .. "/small"
      os.execute("mkdir " .. mnt)
      local m = T.run("mount -t tmpfs -o size=1m tmpfs " .. mnt)
      assert.equal(0, m.code, m.err)
      finally(function() os.execute("umount " .. mnt) end)
      local path = mnt .. "/copy.bin"
      T.writefile(path, "earlier copy")
      local r, msg, code = net.download(web:url("/big.bin"), path)
      assert.is_nil(r)
      assert.equal("io", code)
      assert.equal("download " .. web:url("/big.bin") .. ": writing " .. path
        .. ": No space left on device", msg)
      assert.equal("earlier copy", T.slurp(path))
      assert.same({ "copy.bin" }, ls(mnt))
    end)

    it("a folder that does not exist, and a path that is a folder", function()
      local r, msg, code = net.download(web:url("/page.html"), dir .. "/no/such/copy.html")
      assert.same({ nil, "io" }, { r, code })
      assert.equal("download " .. web:url("/page.html") .. " to " .. dir
        .. "/no/such/copy.html: cannot create a file beside it: No such file or directory", msg)
      r, msg, code = net.download(web:url("/page.html"), dir)
      assert.same({ nil, "io" }, { r, code })
      assert.matches(": is a directory$", msg)
      r, msg, code = net.download(web:url("/page.html"), "")
      assert.same({ nil, "io" }, { r, code })
      assert.same({}, ls(dir))
    end)

    it("an error in the progress function is raised, nothing left behind", function()
      local path = dir .. "/copy.html"
      T.writefile(path, "earlier copy")
      assert.has_error(function()
        net.download(web:url("/slow/text.txt"), path, { progress = function() error("mine") end })
      end, "mine")
      assert.equal("earlier copy", T.slurp(path))
      assert.same({ "copy.html" }, ls(dir))
    end)

    it("Ctrl-C in the host: exits 130, no temporary file", function()
      local path = dir .. "/copy.html"
      T.writefile(path, "earlier copy")
      local p = T.spawn(("exec %s -e %s"):format(T.shquote(T.host), T.shquote(
        ("local net = require 'netbasics' io.stdout:write('started\\n') "
        .. "io.stdout:flush() print(net.download(%q, %q))"):format(
          web:url("/slow/text.txt"), path))))
      finally(function() p:stop() end)
      assert.truthy(T.until_true(function() return #ls(dir) == 2 end, 10))
      p:kill("INT")
      assert.equal(130, p:wait(10))
      assert.equal("earlier copy", T.slurp(path))
      assert.same({ "copy.html" }, ls(dir))
    end)

    it("misuse raises before anything is created", function()
      assert.has_error(function() net.download(web:url("/page.html")) end)
      assert.has_error(function() net.download(web:url("/page.html"), dir .. "/x",
        { bogus = true }) end, "unknown option 'bogus'")
      assert.same({}, ls(dir))
    end)
  end)

  describe("the download lesson", function()
    it("saves the page and says how many bytes and where", function()
      local path = dir .. "/mycopy.html"
      local r = T.nb({ "download", web:url("/page.html"), path })
      assert.equal(0, r.code)
      assert.equal(("Saved %d bytes from %s to %s\n"
        .. "Open your copy in a web browser: file://%s\n"):format(#PAGE,
        web:url("/page.html"), path, path), r.out)
      assert.equal("", r.err)  -- no bar: stderr is not a terminal
      assert.equal(PAGE, T.slurp(path))
    end)

    it("defaults to ./mycopy.html", function()
      local r = T.run(("cd %s && %s download %s"):format(T.shquote(dir),
        T.shquote(T.host), T.shquote(web:url("/page.html"))))
      assert.equal(0, r.code)
      assert.matches("to %./mycopy%.html\n", r.out)
      assert.equal(PAGE, T.slurp(dir .. "/mycopy.html"))
      assert.same({ "mycopy.html" }, ls(dir))
    end)

    it("offline: says clearly that the site could not be reached", function()
      -- a closed loopback port: nothing leaves this machine
      local url = ("http://127.0.0.1:%d/"):format(T.free_port())
      local r = T.run(("cd %s && %s download %s"):format(T.shquote(dir),
        T.shquote(T.host), T.shquote(url)))
      assert.equal(1, r.code)
      assert.equal("", r.out)
      assert.matches("^The site could not be reached: " .. url:gsub("%p", "%%%0")
        .. "\n%(download .-%)\nCheck that this computer is connected to the internet", r.err)
      assert.same({}, ls(dir))
    end)

    it("an HTTP error is not 'offline'", function()
      local r = T.nb({ "download", web:url("/missing.html"), dir .. "/x.html" })
      assert.equal(1, r.code)
      -- the URL once
      assert.equal("Could not download " .. web:url("/missing.html")
        .. ": HTTP 404 Not Found\n", r.err)
    end)

    it("draws a progress bar on a terminal", function()
      local cmd = ("%s download %s %s"):format(T.shquote(T.host),
        T.shquote(web:url("/big.bin")), T.shquote(dir .. "/big.bin"))
      local r = T.run("script -qec " .. T.shquote(cmd) .. " /dev/null")
      assert.equal(0, r.code)
      assert.matches("100%.0%% %[#+%] 32%.0 MiB of 32%.0 MiB .- total", r.out)
      assert.matches("Saved 33554435 bytes", r.out)
    end)
  end)

  describe("the download-and-open exercise", function()
    local function chromium_args(profile)
      return "chromium --headless --no-sandbox --disable-gpu --disable-quic "
        .. "--no-first-run --disable-background-networking "
        .. "--disable-component-update --disable-sync --user-data-dir="
        .. profile
    end

    it("headless chromium renders the saved copy: the title is in the DOM", function()
      local path = dir .. "/mycopy.html"
      assert(net.download(web:url("/page.html"), path))
      local profile = T.tmpdir()
      finally(function() T.rmtree(profile) end)
      local r = T.run(chromium_args(profile) .. " --dump-dom "
        .. T.shquote(net.file_url(path)))
      assert.equal(0, r.code)
      assert.matches("<title>Welcome to the copy</title>", r.out, 1, true)
      assert.matches("<h1>Hello from loopback</h1>", r.out, 1, true)
    end)

    it("opens the copy with $BROWSER, as a person would", function()
      local profile = T.tmpdir()
      finally(function() T.rmtree(profile) end)
      -- a $BROWSER that is headless chromium, keeping what it rendered
      local browser = dir .. "/browser"
      T.writefile(browser, "#!/bin/sh\nexec " .. chromium_args(profile)
        .. " --dump-dom \"$1\" >" .. dir .. "/dom.html 2>/dev/null\n")
      os.execute("chmod +x " .. browser)
      local path = dir .. "/mycopy.html"
      local r = T.run(("BROWSER=%s %s download-and-open %s %s"):format(
        T.shquote(browser), T.shquote(T.host), T.shquote(web:url("/r1")), T.shquote(path)))
      assert.equal(0, r.code, r.err)
      assert.equal(("Saved %d bytes from %s to %s\nOpened file://%s in your web browser.\n")
        :format(#PAGE, web:url("/page.html"), path, path), r.out)
      assert.matches("<title>Welcome to the copy</title>", T.slurp(dir .. "/dom.html"), 1, true)
    end)

    it("$BROWSER with %s, and several to try in turn", function()
      local path = dir .. "/mycopy.html"
      local r = T.run(("BROWSER='false %%s:echo seen %%s' %s download-and-open %s %s")
        :format(T.shquote(T.host), T.shquote(web:url("/page.html")), T.shquote(path)))
      assert.equal(0, r.code)
      assert.matches("\nseen file://" .. path:gsub("%p", "%%%0") .. "\nOpened ", r.out)
    end)

    it("with no browser, prints the file:// URL to open", function()
      local path = dir .. "/mycopy.html"
      local r = T.run(("env -u BROWSER -u DISPLAY -u WAYLAND_DISPLAY %s download-and-open %s %s")
        :format(T.shquote(T.host), T.shquote(web:url("/page.html")), T.shquote(path)))
      assert.equal(0, r.code)
      assert.equal(("Saved %d bytes from %s to %s\nNo web browser found here. "
        .. "Open this address in yours:\n  file://%s\n"):format(#PAGE,
        web:url("/page.html"), path, path), r.out)
    end)

    it("offline: says the site could not be reached, opens nothing", function()
      local url = ("http://127.0.0.1:%d/"):format(T.free_port())
      local r = T.run(("BROWSER='echo opened' %s download-and-open %s %s"):format(
        T.shquote(T.host), T.shquote(url), T.shquote(dir .. "/x.html")))
      assert.equal(1, r.code)
      assert.equal("", r.out)
      assert.matches("^The site could not be reached: ", r.err)
    end)
  end)
end)
