-- bench/lua/common.lua — shared by the wrk scripts (loaded with dofile).
--
-- Each wrk thread has its own Lua state: init() runs once per thread,
-- request() once per request, so per-request work here is a table index,
-- a random number and string concatenation — the same for every server.
local M = {}

-- Reads a file of one item per line into an array (bounded by the file).
function M.lines(path)
  local t = {}
  for line in io.lines(path) do
    if #line > 0 then t[#t + 1] = line end
  end
  assert(#t > 0, "empty list: " .. path)
  return t
end

-- Seeds this thread's generator differently from every other thread.
local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function M.seed()
  -- `tid` is set by setup() in the thread's own state.
  math.randomseed(os.time() * 1000 + (tonumber(tid) or 0) * 7919)
  for _ = 1, 10 do math.random() end
end

return M
