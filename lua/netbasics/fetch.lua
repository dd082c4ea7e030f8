-- netbasics.fetch (Lua part): net.fetch and net.download. The C module
-- "netbasics.curl" links libcurl, which costs ~8 ms to load, so it is
-- required on first use only and `require "netbasics"` stays fast.
return function(M)
end
