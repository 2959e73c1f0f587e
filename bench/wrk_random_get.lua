-- wrk script: GET one random credential per request, with the bearer token.
--   wrk -t1 -c32 -d10s --latency -s bench/wrk_random_get.lua http://127.0.0.1:8101 -- <rows> <token> <seed>
-- Row i lives at /v1/credentials/<kind>/<region>/B<i, 9 digits> (bench/load_registry.py, credential_path):
--   kind = title if i % 20 < 8, skill if i % 20 < 15, else card; region = SC if i is even, else CQ.
-- The same seed gives the same sequence of numbers, so the baseline and the app of one pair read the same rows.

local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_index", threads_started)
end

local rows, headers

function init(args)
  rows = tonumber(args[1]) or 1000000
  headers = { ["Authorization"] = "Bearer " .. (args[2] or "bench-token") }
  local seed = tonumber(args[3]) or os.time()
  math.randomseed(seed * 1000 + (thread_index or 1))
end

function request()
  local i = math.random(1, rows)
  local m = i % 20
  local kind
  if m < 8 then
    kind = "title"
  elseif m < 15 then
    kind = "skill"
  else
    kind = "card"
  end
  local region = (i % 2 == 0) and "SC" or "CQ"
  return wrk.format("GET", string.format("/v1/credentials/%s/%s/B%09d", kind, region, i), headers)
end
