-- POST /v1/verify with bodies drawn from a file (one JSON body a line), sent with the headers given: a bearer
-- token, or a session cookie with its CSRF token. Two runs with the same seed then send the same bodies in
-- the same order and differ only in how the caller proves who it is (bench/session_cost.py).
--   wrk -s bench/wrk_verify_as.lua http://127.0.0.1:8121 -- <bodies file> <seed> "<Name>: <value>" ...

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
  headers = { ["Content-Type"] = "application/json" }
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  math.randomseed((tonumber(args[2]) or os.time()) * 1000 + (thread_index or 1))
end

function request()
  return wrk.format("POST", "/v1/verify", headers, bodies[math.random(1, #bodies)])
end
