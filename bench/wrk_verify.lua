-- wrk script: POST /v1/verify with bodies read from a file (one JSON body per line), picked at random.
--   wrk ... -s bench/wrk_verify.lua http://127.0.0.1:8111 -- <bodies file> <token> <seed>
-- The same seed gives the same sequence of bodies, so the baseline and the app of one pair do the same work.

local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_index", threads_started)
end

local bodies, headers

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  headers = { ["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json" }
  math.randomseed((tonumber(args[3]) or os.time()) * 1000 + (thread_index or 1))
end

function request()
  return wrk.format("POST", "/v1/verify", headers, bodies[math.random(1, #bodies)])
end
