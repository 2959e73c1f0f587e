-- wrk script: GET one random credential per request under a path prefix, with the bearer token.
--   wrk ... -s bench/wrk_prefix_get.lua http://127.0.0.1:8103 -- <rows> <token> <seed> <prefix>
-- Rows are laid out as in bench/load_registry.py (credential_path): see wrk_random_get.lua.

local rows, headers, prefix

function init(args)
  rows = tonumber(args[1]) or 1000000
  headers = { ["Authorization"] = "Bearer " .. (args[2] or "none") }
  math.randomseed(tonumber(args[3]) or os.time())
  prefix = args[4] or "/v1/credentials"
end

function request()
  local i = math.random(1, rows)
  local m = i % 20
  local kind = (m < 8) and "title" or ((m < 15) and "skill" or "card")
  local region = (i % 2 == 0) and "SC" or "CQ"
  return wrk.format("GET", string.format("%s/%s/%s/B%09d", prefix, kind, region, i), headers)
end
