-- Download a web page and keep a copy of it
--
-- The lesson's "set of commands to copy the web page for the Python
-- programming language":
--
--   import urllib.request
--   f = urllib.request.urlopen('http://www.python.org/')
--   v1 = f.read()
--   FH = open('c:/temp/mycopy.html', 'w')
--   FH.write(v1)
--   FH.close()
--
--   netbasics download                     http://www.python.org/ to ./mycopy.html
--   netbasics download URL [PATH]
--
-- Fixed here: the lesson opens the copy in text mode ('w') and writes the
-- page's bytes into it, which Python 3 refuses (TypeError) and which on
-- Windows would change the line ends. net.download writes the bytes as
-- they came, into a temporary file beside the copy, and puts it in place
-- only when the whole page arrived: a broken download never leaves half a
-- page behind nor spoils an earlier copy. It also says where the copy is
-- as a file:// URL, which is how a web browser opens it (the exercise
-- download-and-open does that for you).
local net = require "netbasics"
local args = require("netbasics.lesson").args {
  name = "download",
  { "URL", "url", default = "http://www.python.org/",
    about = "the page to copy, http:// or https://" },
  { "PATH", "path", default = "./mycopy.html",
    about = "where to keep the copy" },
  example = "netbasics download http://127.0.0.1:8080/ ./mycopy.html",
}

local url, path = args.URL, args.PATH

-- the failures that mean "the site is not there from here"
local UNREACHABLE = { resolve = true, refused = true, unreachable = true,
  timeout = true, connect = true }

local page, err, code = net.download(url, path, { progress = true })
if not page then
  if UNREACHABLE[code] then
    io.stderr:write("The site could not be reached: ", url, "\n",
      "(", err, ")\n",
      "Check that this computer is connected to the internet, or try a ",
      "web server nearby:\n  netbasics download URL [PATH]\n")
  else
    -- err names the URL already: "download URL: why"
    io.stderr:write("Could not ", err, "\n")
  end
  os.exit(1)
end

print(("Saved %d bytes from %s to %s"):format(page.bytes, page.url, path))
print("Open your copy in a web browser: " .. net.file_url(path))
