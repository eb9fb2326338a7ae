// One eureka-js-client (a Netflix-compatible Eureka client) driven by test_eureka.py: its
// configuration is argv[2] (JSON); it prints one JSON object per line for each client event
// and answers commands read from stdin, one per line:
//   app NAME  -> {"reply": "app", "ids": [instanceId...]}   (getInstancesByAppId)
//   vip VIP   -> {"reply": "vip", "ids": [instanceId...]}   (getInstancesByVipAddress)
//   stop      -> deregisters, then {"event": "stopped"}
'use strict';

const readline = require('readline');
const { Eureka } = require('eureka-js-client');

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const text = (args) => args.map((a) => (a instanceof Error ? a.message : String(a)));
const logger = {
  debug() {},
  info() {},
  warn(...args) { out({ event: 'warn', args: text(args) }); },
  error(...args) { out({ event: 'error', args: text(args) }); },
};

const client = new Eureka({ ...JSON.parse(process.argv[2]), logger, cwd: __dirname });
['registered', 'deregistered', 'heartbeat', 'registryUpdated'].forEach((name) => {
  client.on(name, () => out({ event: name }));
});
// Deltas succeed silently in the client: say so, so the test knows they were used.
const fetchDelta = client.fetchDelta.bind(client);
client.fetchDelta = (callback) => fetchDelta((err) => {
  out({ event: 'delta', error: err ? String(err) : null });
  if (callback) callback(err);
});

const ids = (instances) => instances.map((i) => i.instanceId).sort();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === 'app') out({ reply: 'app', ids: ids(client.getInstancesByAppId(arg)) });
  if (command === 'vip') out({ reply: 'vip', ids: ids(client.getInstancesByVipAddress(arg)) });
  if (command === 'stop') client.stop((err) => out({ event: 'stopped', error: err ? String(err) : null }));
});

client.start((err) => out({ event: 'started', error: err ? String(err) : null }));
