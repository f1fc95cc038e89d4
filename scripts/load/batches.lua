-- wrk script: POST /usage-events, 1,000 events a request, unique ids.
local token = os.getenv("TOKEN")
local ws = os.getenv("WS") or "load"
local n = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  n = n + 1
  local parts = {}
  for i = 1, 1000 do
    parts[i] = string.format('{"id":"e%d-%d-%d-%d","type":"credits","occurred_at":"2026-11-20T10:00:00Z","action":"enrich_email","credits":1,"user_id":"u1"}', tid or 0, os.time(), n, i)
  end
  return wrk.format("POST", "/api/v1/workspaces/" .. ws .. "/usage-events",
    { ["authorization"] = "Bearer " .. token, ["content-type"] = "application/json" },
    '{"events":[' .. table.concat(parts, ",") .. ']}')
end
