-- bench/lua/read.lua — GET /fhir/{type}/{id} of a uniformly random
-- resource. Args (after --): IDS_FILE TOKEN. IDS_FILE holds "Type/id"
-- lines (ids are random, not secret). nginx is driven by this very script
-- too (it ignores the path and the header), so client work is identical.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local paths, headers
setup = c.setup

function init(args)
  c.seed()
  paths = c.lines(args[1])
  for i = 1, #paths do paths[i] = "/fhir/" .. paths[i] end
  headers = { ["Authorization"] = "Bearer " .. args[2] }
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
