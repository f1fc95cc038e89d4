-- wrk script: POST /charges with a unique id per request (1 credit each).
-- wrk -t2 -c32 -d20s -s scripts/load/charges.lua http://127.0.0.1:3000
-- with TOKEN and WS in the environment.
local token = os.getenv("TOKEN")
local ws = os.getenv("WS") or "load"
local n = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  n = n + 1
  local body = string.format('{"id":"w%d-%d-%d","action":"ai_completion","credits":1,"user_id":"u1"}', tid or 0, os.time(), n)
  return wrk.format("POST", "/api/v1/workspaces/" .. ws .. "/charges",
    { ["authorization"] = "Bearer " .. token, ["content-type"] = "application/json" }, body)
end
