-- webserver: real web servers for the fetch specs, the demo and the bench,
-- all on loopback, started and stopped by PID.
--
--   local W = require "webserver"
--   local web = W.nginx{ files = { ["page.html"] = "<html>..." } }
--   web:url("/page.html")          -- http://127.0.0.1:PORT/page.html
--   web:url("/page.html", true)    -- https://127.0.0.1:TLSPORT/page.html
--   web.cafile                     -- the self-signed certificate (PEM)
--   web:stop()                     -- in finally()
--
--   local raw = W.raw(bytes, "close" or "stall")  -- answers every request
--   raw:url("/")  raw:stop()                     -- with bytes, then acts
--
-- nginx gets its own prefix, config, pid file, logs and temp folders in a
-- fresh temporary folder, a free port for HTTP and one for HTTPS with a
-- certificate made by openssl for 127.0.0.1 and localhost. Locations:
--   /<file>        the files given (served from html/)
--   /r1 -> /r2 -> /r3 -> /page.html   a chain of 301, 302 and 307
--   /loop          a redirect to itself
--   /tofile        a redirect to file:///etc/passwd
--   /toftp         a redirect to ftp://127.0.0.1/
--   /slow/<file>   the same files at `rate` (default 2k) bytes a second
--   /echo          "METHOD x-test-header user-agent" (what we sent)
--   /gz/<file>     the files gzip-compressed, for any type
local T = require "nbtest"

local W = {}

local Nginx = {}
Nginx.__index = Nginx

local CONF = [[
daemon on;
master_process on;
worker_processes 1;
user root;
pid %s/nginx.pid;
error_log %s/logs/error.log;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fastcgi;
  uwsgi_temp_path %s/tmp/uwsgi;
  scgi_temp_path %s/tmp/scgi;
  types { text/html html; text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:%d;
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;
    root %s/html;
    location = /r1 { return 301 /r2; }
    location = /r2 { return 302 /r3; }
    location = /r3 { return 307 /page.html; }
    location = /loop { return 302 /loop; }
    location = /tofile { return 302 file:///etc/passwd; }
    location = /toftp { return 302 ftp://127.0.0.1/; }
    location = /echo {
      default_type text/plain;
      return 200 "$request_method $http_x_test $http_user_agent";
    }
    location /slow/ {
      limit_rate %s;
      rewrite ^/slow/(.*)$ /$1 break;
    }
    location /gz/ {
      gzip on;
      gzip_types *;
      gzip_min_length 1;
      rewrite ^/gz/(.*)$ /$1 break;
    }
  }
}
]]

local function sh(cmd)
  local r = T.run(cmd)
  assert(r.code == 0, cmd .. " failed: " .. (r.err or ""))
  return r.out
end

-- W.nginx{files = {name = data}, rate = "2k"}
function W.nginx(opts)
  opts = opts or {}
  local self = setmetatable({}, Nginx)
  local d = T.tmpdir()
  self.dir = d
  sh(string.format("mkdir -p %s/html %s/logs %s/tmp", d, d, d))
  for name, data in pairs(opts.files or {}) do
    T.writefile(d .. "/html/" .. name, data)
  end
  sh(string.format("openssl req -x509 -newkey ec -pkeyopt "
    .. "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost "
    .. "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
    .. "-keyout %s/key.pem -out %s/cert.pem", d, d))
  self.cafile = d .. "/cert.pem"
  self.port = T.free_port()
  repeat self.tls_port = T.free_port() until self.tls_port ~= self.port
  T.writefile(d .. "/nginx.conf", string.format(CONF, d, d, d, d, d, d, d,
    self.port, self.tls_port, d, d, d, opts.rate or "2k"))
  local r = T.run(string.format("nginx -p %s -c %s/nginx.conf -e %s/logs/error.log",
    d, d, d))
  if r.code ~= 0 then
    local log = T.slurp(d .. "/logs/error.log") or ""
    T.rmtree(d)
    error("nginx did not start: " .. (r.err or "") .. log)
  end
  self.pid = T.until_true(function()
    return tonumber(T.slurp(d .. "/nginx.pid") or "")
  end, 10)
  assert(self.pid, "nginx wrote no pid file")
  assert(T.wait_port(self.port) and T.wait_port(self.tls_port),
    "nginx does not listen")
  return self
end

function Nginx:url(path, tls)
  if tls then
    return string.format("https://127.0.0.1:%d%s", self.tls_port, path)
  end
  return string.format("http://127.0.0.1:%d%s", self.port, path)
end

-- the path of a served file
function Nginx:file(name)
  return self.dir .. "/html/" .. name
end

local function alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

-- stop by PID: TERM (fast shutdown), bounded wait, then KILL
function Nginx:stop()
  if self.pid and alive(self.pid) then
    os.execute("kill -TERM " .. self.pid)
    if not T.until_true(function() return not alive(self.pid) end, 5) then
      os.execute("kill -KILL " .. self.pid)
    end
  end
  self.pid = nil
  if self.dir then T.rmtree(self.dir) end
  self.dir = nil
end

-- W.python(body [, input]): a python3 HTTP/1.1 server on a free loopback
-- port. For each connection, once the request's head is read, `body`
-- (Python code) runs with the socket as `c` and `input` (bytes) as `data`;
-- a peer that goes away meanwhile is no error. srv:url(path), srv:stop().
local SCAFFOLD = [[
import socket, sys, threading, time, os
data = sys.stdin.buffer.read()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(4096)
        if not chunk:
            return
        head += chunk
    try:
%s
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
]]

local Py = {}
Py.__index = Py

function W.python(body, input)
  local d = T.tmpdir()
  T.writefile(d .. "/srv.py",
    SCAFFOLD:format((body:gsub("[^\n]+", "        %0"))))
  local proc = T.spawn("exec python3 " .. d .. "/srv.py", input or "")
  local self = setmetatable({ proc = proc, dir = d }, Py)
  self.port = T.until_true(function()
    return tonumber(proc:out():match("^(%d+)\n"))
  end, 10)
  if not self.port then
    local err = proc:err()
    self:stop()
    error("the python server did not start: " .. err)
  end
  return self
end

function Py:url(path)
  return string.format("http://127.0.0.1:%d%s", self.port, path or "/")
end

function Py:stop()
  self.proc:stop()
  T.rmtree(self.dir)
end

-- W.raw(bytes, action): a W.python server that sends `bytes` to each
-- request, then closes ("close") or keeps the connection open without
-- sending more ("stall")
function W.raw(bytes, action)
  return W.python("c.sendall(data)"
    .. (action == "stall" and "\ntime.sleep(120)" or ""), bytes)
end

return W
