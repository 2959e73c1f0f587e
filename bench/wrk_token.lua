-- wrk script: POST /oauth/token with client_secret_basic.
--   wrk ... -s bench/wrk_token.lua http://127.0.0.1:8103 -- <base64 of client_id:secret>
function init(args)
  wrk.method = "POST"
  wrk.path = "/oauth/token"
  wrk.body = "grant_type=client_credentials&scope=registry%3Aread"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. args[1]
end
