-- bench/lua/write.lua — POST /fhir/Observation (~1 KiB) for a uniformly
-- random patient. Args (after --): PATIENTS_FILE TOKEN TEMPLATE_FILE; the
-- template is one Observation whose subject reference is
-- "Patient/PATIENT_ID" (bench/gen_data.py --write-template).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local pids, headers, head, tail
setup = c.setup

function init(args)
  c.seed()
  pids = c.lines(args[1])
  local f = assert(io.open(args[3], "rb"))
  local t = f:read("*a")
  f:close()
  local s, e = t:find("PATIENT_ID", 1, true)
  assert(s, "no PATIENT_ID in the template")
  head, tail = t:sub(1, s - 1), t:sub(e + 1)
  headers = { ["Authorization"] = "Bearer " .. args[2],
              ["Content-Type"] = "application/fhir+json" }
end

function request()
  local body = head .. pids[math.random(#pids)] .. tail
  return wrk.format("POST", "/fhir/Observation", headers, body)
end
