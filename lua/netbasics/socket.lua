-- netbasics.socket: the Lua part of the socket family (policy over netbasics.core).
return function(M, core)
end
