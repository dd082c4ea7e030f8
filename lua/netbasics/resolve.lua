-- netbasics.resolve: the Lua part of the resolve family (policy over netbasics.core).
return function(M, core)
end
