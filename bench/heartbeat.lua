-- wrk script: TTL heartbeats (Consul's PUT /v1/agent/check/pass/<id>) for random instances
-- web-1 .. web-N on keep-alive connections. N comes from CONCIERGE_INSTANCES (default 10000).
-- Used for the agent and, unchanged, for the trivial server, so both runs pay the same
-- client-side cost per request.
local instances = tonumber(os.getenv("CONCIERGE_INSTANCES") or "10000")
-- With ACLs on (heartbeat_load.sh bootstraps one), every heartbeat carries the token.
local token = os.getenv("CONCIERGE_TOKEN")
local headers = token and { ["X-Consul-Token"] = token } or nil

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("PUT", "/v1/agent/check/pass/service:web-" .. math.random(1, instances),
                    headers)
end
