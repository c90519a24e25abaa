-- bench/lua/search.lua — compartment search GET
-- /fhir/Observation?patient=<pid>&_count=10 for a uniformly random patient.
-- Args (after --): PATIENTS_FILE TOKEN.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local paths, headers
setup = c.setup

function init(args)
  c.seed()
  paths = c.lines(args[1])
  for i = 1, #paths do
    paths[i] = "/fhir/Observation?patient=" .. paths[i] .. "&_count=10"
  end
  headers = { ["Authorization"] = "Bearer " .. args[2] }
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
