-- tlsca: a test certificate authority and the certificates the TLS specs
-- need, made with the `openssl` command once per spec run (per process)
-- in a folder of $TMPDIR, removed when the Lua state closes.
--
--   local CA = require "tlsca"
--   local pki = CA.get()
--   pki.ca            the test CA's certificate (a cafile)
--   pki.good          {cert=, key=, pin=}: for localhost, 127.0.0.1 and ::1
--                     (RSA 2048), signed by the CA
--   pki.ecdsa         the same names, an ECDSA P-256 key
--   pki.ipsan         only IP:127.0.0.1 (no DNS name)
--   pki.expired       valid 2024-01-01 .. 2025-01-31
--   pki.notyet        valid from 2030-01-01
--   pki.wrongname     for example.org and www.example.org only
--   pki.selfsigned    self-signed, for localhost and 127.0.0.1
--   pki.untrusted     signed by another CA ("CN=netbasics other CA"),
--                     which is pki.other (not trusted by pki.ca)
--   pki.client        a client certificate (CN=netbasics client), by the CA
--   pki.locked        pki.client's certificate with its key encrypted
--                     (password pki.password)
--   pki.dir           the folder
-- Each entry also has `.chain`: its certificate followed by its issuer's.
local T = require "nbtest"

local CA = {}

local CNF = [[
[ca]
default_ca = tca
[tca]
dir = %s
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
commonName = supplied
organizationName = optional
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${ENV::NB_SAN}
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
]]

local function sh(cmd)
  local r = T.run(cmd)
  assert(r.code == 0, cmd .. " failed: " .. (r.err or ""))
  return r.out
end

local q = T.shquote

-- "sha256//BASE64" of a certificate's public key, as curl computes it
local function pin(cert)
  local out = sh("openssl x509 -in " .. q(cert) .. " -pubkey -noout | "
    .. "openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | "
    .. "base64")
  return "sha256//" .. out:gsub("%s", "")
end
CA.pin = pin

local function cat(out, ...)
  local parts = {}
  for i, f in ipairs({ ... }) do parts[i] = assert(T.slurp(f)) end
  T.writefile(out, table.concat(parts))
end

-- a CA in folder d (its own database), named `cn`
local function newca(d, cn)
  sh(string.format("mkdir -p %s/newcerts && : > %s/index.txt && "
    .. "echo 1000 > %s/serial", d, d, d))
  T.writefile(d .. "/ca.cnf", string.format(CNF, d))
  sh(string.format("openssl ecparam -name prime256v1 -genkey -noout "
    .. "-out %s/ca.key", d))
  sh(string.format("openssl req -x509 -new -key %s/ca.key -sha256 "
    .. "-days 60 -subj %s -addext basicConstraints=critical,CA:TRUE "
    .. "-addext keyUsage=critical,keyCertSign,cRLSign -out %s/ca.pem",
    d, q("/CN=" .. cn), d))
  return d
end

-- a key: "rsa" (2048) or "ec" (P-256)
local function newkey(path, kind)
  if kind == "rsa" then
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
      .. "-out " .. q(path))
  else
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
      .. "-out " .. q(path))
  end
end

-- sign a certificate for `name` with CA folder `cad`: opts.san, opts.kind,
-- opts.start / opts.stop (YYMMDDHHMMSSZ), opts.ext ("server"/"client")
local function issue(dir, cad, name, cn, opts)
  local key, csr, cert = dir .. "/" .. name .. ".key",
    dir .. "/" .. name .. ".csr", dir .. "/" .. name .. ".pem"
  newkey(key, opts.kind or "ec")
  sh(string.format("openssl req -new -key %s -subj %s -out %s", q(key),
    q("/O=netbasics test/CN=" .. cn), q(csr)))
  local dates = opts.start
    and string.format("-startdate %s -enddate %s", opts.start, opts.stop)
    or "-days 30"
  sh(string.format("NB_SAN=%s openssl ca -batch -notext -config %s/ca.cnf "
    .. "-cert %s/ca.pem -keyfile %s/ca.key -extensions %s %s -in %s "
    .. "-out %s", q(opts.san or "DNS:unused"), cad, cad, cad,
    opts.ext or "server", dates, q(csr), q(cert)))
  local chain = dir .. "/" .. name .. ".chain.pem"
  cat(chain, cert, cad .. "/ca.pem")
  return { cert = cert, key = key, chain = chain, pin = pin(cert) }
end

local made  -- the certificates of this run
local keeper  -- removes the folder when the Lua state closes

function CA.get()
  if made then return made end
  local d = T.tmpdir()
  keeper = setmetatable({}, { __gc = function() T.rmtree(d) end })
  local cad = newca(d .. "/ca", "netbasics test CA")
  local otherd = newca(d .. "/other", "netbasics other CA")
  local here = "DNS:localhost,IP:127.0.0.1,IP:::1"
  local p = { dir = d, ca = cad .. "/ca.pem", other = otherd .. "/ca.pem",
              password = "open sesame" }
  p.good = issue(d, cad, "good", "localhost", { san = here, kind = "rsa" })
  p.ecdsa = issue(d, cad, "ecdsa", "localhost", { san = here })
  p.ipsan = issue(d, cad, "ipsan", "127.0.0.1", { san = "IP:127.0.0.1" })
  p.expired = issue(d, cad, "expired", "localhost",
    { san = here, start = "240101000000Z", stop = "250131120000Z" })
  p.notyet = issue(d, cad, "notyet", "localhost",
    { san = here, start = "300101000000Z", stop = "310101000000Z" })
  p.wrongname = issue(d, cad, "wrongname", "example.org",
    { san = "DNS:example.org,DNS:www.example.org" })
  p.untrusted = issue(d, otherd, "untrusted", "localhost", { san = here })
  p.client = issue(d, cad, "client", "netbasics client",
    { ext = "client" })
  -- self-signed: its own issuer
  local ss = { key = d .. "/selfsigned.key", cert = d .. "/selfsigned.pem" }
  newkey(ss.key, "ec")
  sh(string.format("openssl req -x509 -new -key %s -sha256 -days 30 "
    .. "-subj /CN=localhost -addext subjectAltName=%s -out %s", q(ss.key),
    q(here), q(ss.cert)))
  ss.chain, ss.pin = ss.cert, pin(ss.cert)
  p.selfsigned = ss
  -- the client certificate with its key under a password
  local locked = { cert = p.client.cert, chain = p.client.chain,
                   pin = p.client.pin, key = d .. "/locked.key" }
  sh(string.format("openssl pkey -in %s -aes256 -passout pass:%s -out %s",
    q(p.client.key), q(p.password), q(locked.key)))
  p.locked = locked
  made = p
  return p
end

return CA
