-- wrk script: Eureka renewals (PUT /eureka/apps/<APP>/<id>) for random instances web-1 ..
-- web-N of app WEB-<i mod 100>, on keep-alive connections (bench/eureka_load.sh registers
-- them). N comes from CONCIERGE_INSTANCES (default 10000). bench/heartbeat.lua heartbeats the
-- same instances' lease checks (service:web-<i>) through Consul's API.
local instances = tonumber(os.getenv("CONCIERGE_INSTANCES") or "10000")

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  local i = math.random(1, instances)
  return wrk.format("PUT", "/eureka/apps/WEB-" .. (i % 100) .. "/web-" .. i)
end
