-- wrk script: every request registers a new instance (unique ID per thread and request),
-- with a TTL check, so the agent's durable write path is what is measured.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
end

function request()
  counter = counter + 1
  local id = string.format("inst-%d-%d", thread_id, counter)
  local body = string.format(
    '{"ID":"%s","Name":"svc-%d","Tags":["v1","blue"],"Address":"10.1.%d.%d","Port":%d,' ..
    '"Meta":{"zone":"a"},"Check":{"TTL":"600s","Status":"passing"}}',
    id, counter % 1000, math.floor(counter / 250) % 250, counter % 250, 8000 + counter % 1000)
  return wrk.format("PUT", "/v1/agent/service/register", nil, body)
end
