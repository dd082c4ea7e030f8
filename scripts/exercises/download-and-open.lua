-- Download the Python page and open your copy in a web browser
--
-- The lesson's exercise: "Download the Python web page and display your
-- local copy in a web browser by opening the URL
-- file:///c:/temp/mycopy.html."
--
--   netbasics download-and-open            http://www.python.org/ to ./mycopy.html
--   netbasics download-and-open URL [PATH]
--
-- The copy is saved as the download lesson does (the bytes as they came,
-- put in place only when complete). Then it opens in the first browser
-- found: the commands in $BROWSER (a list separated by ':'; "%s" in one
-- stands for the URL, else the URL is added at the end), xdg-open on a
-- desktop, open on macOS. With none, it prints the file:// URL for you to
-- paste into your browser.
local net = require "netbasics"
local args = require("netbasics.lesson").args {
  name = "download-and-open",
  { "URL", "url", default = "http://www.python.org/",
    about = "the page to copy, http:// or https://" },
  { "PATH", "path", default = "./mycopy.html",
    about = "where to keep the copy" },
  example = "netbasics download-and-open http://127.0.0.1:8080/ ./mycopy.html",
}

local url, path = args.URL, args.PATH

local UNREACHABLE = { resolve = true, refused = true, unreachable = true,
  timeout = true, connect = true }

local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

-- the commands that could show `fileurl`, in the order to try them
local function browsers(fileurl)
  local list = {}
  for cmd in (os.getenv("BROWSER") or ""):gmatch("[^:]+") do
    if cmd:find("%s", 1, true) then
      list[#list + 1] = cmd:gsub("%%s", (shquote(fileurl):gsub("%%", "%%%%")))
    else
      list[#list + 1] = cmd .. " " .. shquote(fileurl)
    end
  end
  local desktop = os.getenv("DISPLAY") or os.getenv("WAYLAND_DISPLAY")
  if desktop and have("xdg-open") then
    list[#list + 1] = "xdg-open " .. shquote(fileurl)
  end
  local p = io.popen("uname -s 2>/dev/null")
  local system = p and p:read("l")
  if p then p:close() end
  if system == "Darwin" and have("open") then
    list[#list + 1] = "open " .. shquote(fileurl)
  end
  return list
end

local page, err, code = net.download(url, path, { progress = true })
if not page then
  if UNREACHABLE[code] then
    io.stderr:write("The site could not be reached: ", url, "\n",
      "(", err, ")\n",
      "Check that this computer is connected to the internet, or try a ",
      "web server nearby:\n  netbasics download-and-open URL [PATH]\n")
  else
    -- err names the URL already: "download URL: why"
    io.stderr:write("Could not ", err, "\n")
  end
  os.exit(1)
end

local fileurl = assert(net.file_url(path))
print(("Saved %d bytes from %s to %s"):format(page.bytes, page.url, path))
for _, cmd in ipairs(browsers(fileurl)) do
  if os.execute(cmd) == true then
    print("Opened " .. fileurl .. " in your web browser.")
    os.exit(0)
  end
end
print("No web browser found here. Open this address in yours:")
print("  " .. fileurl)
