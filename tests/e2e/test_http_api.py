"""Contract tests for the Consul-compatible HTTP API, written from Consul's API docs
(api-docs/agent/service, agent/check, health, catalog, features/blocking) and
/work/shared/CONSUL-COMPAT.md, against the real agent.

Each test uses service names of its own, so tests share one agent per class.
"""

import json
import threading
import time
import unittest
import uuid

from harness import AgentTestCase, go_duration_seconds, read_http_reply, wait_until

NODE = "e2e-node"
DC = "e2e-dc"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class ApiTestCase(AgentTestCase):
    agent_args = ("-node", NODE, "-datacenter", DC)

    def assert_consul_headers(self, r, what=""):
        index = r.header("X-Consul-Index")
        self.assertIsNotNone(index, "no X-Consul-Index on %s: %r" % (what, r))
        self.assertRegex(index, r"^[1-9][0-9]*$", what)
        self.assertIn(r.header("X-Consul-KnownLeader"), ("true", "false"), what)
        self.assertRegex(r.header("X-Consul-LastContact") or "", r"^[0-9]+$", what)

    def assert_error(self, r, status, what=""):
        self.assertEqual(r.status, status, "%s: %r" % (what, r))
        self.assertTrue(r.text.strip(), "%s: error %d has no message" % (what, status))

    def checks_of(self, service_id):
        checks, _ = self.agent.get_json("/v1/agent/checks")
        return {k: v for k, v in checks.items() if v["ServiceID"] == service_id}


class StatusCodeTest(ApiTestCase):

    def test_register_and_deregister_answer_200_with_empty_body(self):
        a = self.agent
        name = unique("w")
        r = a.put("/v1/agent/service/register", {"Name": name})
        self.assertEqual((r.status, r.body), (200, b""))
        r = a.put("/v1/agent/service/deregister/" + name)
        self.assertEqual((r.status, r.body), (200, b""))

    def test_register_without_content_type_but_not_with_post(self):
        a = self.agent
        name = unique("ct")
        r = a.request("PUT", "/v1/agent/service/register", json.dumps({"Name": name}),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r)
        # Consul 1.x takes PUT only; a POST changes nothing.
        r = a.request("POST", "/v1/agent/service/register", json.dumps({"Name": name + "p"}))
        self.assert_error(r, 405, "POST register")
        self.assertEqual(r.header("Allow"), "PUT")
        self.assertEqual(a.get("/v1/agent/service/" + name + "p").status, 404)

    def test_unknown_check_and_service_are_404_with_a_message(self):
        a = self.agent
        for verb in ("pass", "warn", "fail"):
            self.assert_error(a.put("/v1/agent/check/%s/no-such-check" % verb), 404, verb)
        self.assert_error(a.put("/v1/agent/check/update/no-such-check", {"Status": "passing"}),
                          404, "update")
        self.assert_error(a.put("/v1/agent/service/deregister/no-such-service"), 404,
                          "deregister")
        r = a.get("/v1/agent/service/no-such-service")
        self.assert_error(r, 404, "agent/service")
        self.assert_consul_headers(r, "404 of /v1/agent/service/:id")

    def test_bad_bodies_are_400_with_a_message(self):
        a = self.agent
        long_name = "x" * 257
        cases = {
            "malformed JSON": '{"Name": "x"',
            "not an object": '["x"]',
            "empty body": "",
            "missing Name": {"ID": "x"},
            "empty Name": {"Name": ""},
            "Name is a number": {"Name": 42},
            "Port is not a number": {"Name": "x", "Port": "eighty"},
            "Port out of range": {"Name": "x", "Port": 70000},
            "Tags is a string": {"Name": "x", "Tags": "a,b"},
            "Tags has a number": {"Name": "x", "Tags": ["a", 1]},
            "Meta is a list": {"Name": "x", "Meta": ["a"]},
            "Meta value is a number": {"Name": "x", "Meta": {"a": 1}},
            "Check is a string": {"Name": "x", "Check": "10s"},
            "Checks is an object": {"Name": "x", "Checks": {"TTL": "10s"}},
            "bad TTL duration": {"Name": "x", "Check": {"TTL": "ten"}},
            "TTL missing": {"Name": "x", "Check": {"Status": "passing"}},
            "bad deregister duration": {"Name": "x", "Check": {
                "TTL": "10s", "DeregisterCriticalServiceAfter": "soon"}},
            "bad Status": {"Name": "x", "Check": {"TTL": "10s", "Status": "green"}},
            "Name over 256 bytes": {"Name": long_name},
            "ID over 256 bytes": {"Name": "x", "ID": long_name},
            "EnableTagOverride is a string": {"Name": "x", "EnableTagOverride": "yes"},
            "Docker checks are not supported": {"Name": "x", "Check": {
                "DockerContainerID": "f972c95ebf0e", "Interval": "10s"}},
            "HTTPS checks are not supported": {"Name": "x", "Check": {
                "HTTP": "https://127.0.0.1/", "Interval": "10s"}},
        }
        for what, body in cases.items():
            with self.subTest(what):
                self.assert_error(a.put("/v1/agent/service/register", body), 400, what)
        self.assertEqual(a.get("/v1/agent/service/x").status, 404,
                         "a rejected registration left a service behind")

    def test_name_of_256_bytes_is_accepted(self):
        name = "n" * 256
        self.agent.register({"Name": name})
        self.assertEqual(self.agent.get("/v1/agent/service/" + name).status, 200)

    def test_check_update_bad_bodies_are_400(self):
        a = self.agent
        sid = unique("upd")
        a.register({"Name": sid, "Check": {"TTL": "30s"}})
        for what, body in {"malformed": "{", "missing Status": {"Output": "x"},
                           "bad Status": {"Status": "ok"}, "Status a number": {"Status": 1}
                           }.items():
            with self.subTest(what):
                self.assert_error(a.put("/v1/agent/check/update/service:" + sid, body), 400, what)

    def test_wrong_method_is_405_with_allow(self):
        a = self.agent
        cases = [
            ("GET", "/v1/agent/service/register", "PUT"),
            ("DELETE", "/v1/agent/service/deregister/x", "PUT"),
            ("DELETE", "/v1/agent/check/pass/x", "PUT"),
            ("GET", "/v1/agent/check/update/x", "PUT"),
            ("PUT", "/v1/agent/services", "GET"),
            ("DELETE", "/v1/health/service/x", "GET"),
            ("PUT", "/v1/catalog/services", "GET"),
            ("POST", "/v1/status/leader", "GET"),
        ]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                r = a.request(method, path, body=b"{}" if method in ("PUT", "POST") else None)
                self.assert_error(r, 405, "%s %s" % (method, path))
                self.assertIn(allow, (r.header("Allow") or "").replace(" ", "").split(","))

    def test_body_over_one_mebibyte_is_413(self):
        # Only the header goes out: the server answers from Content-Length alone, and a
        # client that is still sending when the server closes could see a reset instead.
        with self.agent.raw_socket() as s:
            s.sendall(b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: %d\r\n\r\n" % ((1 << 20) + 1))
            reply = read_http_reply(s)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])

    def test_body_just_under_one_mebibyte_is_parsed(self):
        pad = "p" * ((1 << 20) - 100)
        r = self.agent.put("/v1/agent/service/register", '{"Name": 1, "Notes": "%s"}' % pad)
        self.assertEqual(r.status, 400, "expected the JSON error, not a size error: %r" % r)

    def test_unsupported_consul_endpoints_are_501(self):
        a = self.agent
        for method, path in [("GET", "/v1/event/list"), ("PUT", "/v1/event/fire/x"),
                             ("GET", "/v1/query"), ("PUT", "/v1/agent/token/default"),
                             ("GET", "/v1/connect/ca/roots"),
                             ("PUT", "/v1/agent/check/register"),
                             ("PUT", "/v1/catalog/register")]:
            with self.subTest(method=method, path=path):
                self.assert_error(a.request(method, path), 501, path)

    def test_unknown_paths_are_404(self):
        a = self.agent
        for path in ("/v2/agent/services", "/v1/nope", "/v1/agent/nope", "/v1/health/nope"):
            with self.subTest(path):
                self.assert_error(a.get(path), 404, path)

    def test_root_redirects_to_the_web_ui(self):
        r = self.agent.get("/")
        self.assertEqual(r.status, 302, r)

    def test_malformed_percent_encoding_is_400(self):
        self.assert_error(self.agent.get("/v1/health/service/%zz"), 400)


class HeaderTest(ApiTestCase):

    def test_every_json_read_has_consul_headers(self):
        a = self.agent
        name = unique("hdr")
        a.register({"Name": name, "Check": {"TTL": "30s"}})
        for path in ["/v1/agent/services", "/v1/agent/service/" + name, "/v1/agent/checks",
                     "/v1/agent/self", "/v1/health/service/" + name,
                     "/v1/health/service/not-registered", "/v1/health/checks/" + name,
                     "/v1/health/state/any", "/v1/health/state/critical",
                     "/v1/catalog/services", "/v1/catalog/service/" + name,
                     "/v1/catalog/service/not-registered", "/v1/catalog/nodes",
                     "/v1/catalog/datacenters", "/v1/status/leader", "/v1/status/peers"]:
            with self.subTest(path):
                r = a.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertIn("json", r.header("Content-Type"))
                r.json()
                self.assert_consul_headers(r, path)


class ShapeTest(ApiTestCase):

    def setUp(self):
        self.name = unique("shape")
        self.sid = self.name + "-1"
        self.agent.register({
            "Name": self.name, "ID": self.sid, "Address": "10.1.2.3", "Port": 8080,
            "Tags": ["primary", "v1"], "Meta": {"Version": "1.2", "build_ID": "abc"},
            "Weights": {"Passing": 3, "Warning": 1},
            "Check": {"TTL": "30s", "Status": "passing", "Notes": "heartbeat",
                      "DeregisterCriticalServiceAfter": "90s"}})

    def assert_agent_service(self, s):
        self.assertEqual(s["ID"], self.sid)
        self.assertEqual(s["Service"], self.name)
        self.assertEqual(s["Tags"], ["primary", "v1"])
        self.assertEqual(s["Meta"], {"Version": "1.2", "build_ID": "abc"})
        self.assertEqual(s["Address"], "10.1.2.3")
        self.assertEqual(s["Port"], 8080)
        self.assertEqual(s["Weights"], {"Passing": 3, "Warning": 1})
        self.assertIs(s["EnableTagOverride"], False)
        self.assertEqual(s["Datacenter"], DC)

    def assert_check(self, c):
        self.assertEqual(c["CheckID"], "service:" + self.sid)
        self.assertEqual(c["Node"], NODE)
        self.assertEqual(c["Status"], "passing")
        self.assertEqual(c["Notes"], "heartbeat")
        self.assertIsInstance(c["Output"], str)
        self.assertIsInstance(c["Name"], str)
        self.assertEqual(c["ServiceID"], self.sid)
        self.assertEqual(c["ServiceName"], self.name)
        self.assertEqual(c["ServiceTags"], ["primary", "v1"])
        self.assertEqual(c["Type"], "ttl")
        self.assertEqual(go_duration_seconds(c["Definition"]["TTL"]), 30)
        self.assertEqual(go_duration_seconds(c["Definition"]["DeregisterCriticalServiceAfter"]), 90)
        for k in ("CreateIndex", "ModifyIndex"):
            self.assertIsInstance(c[k], int)

    def test_health_service(self):
        entries, index = self.agent.get_json("/v1/health/service/" + self.name)
        self.assertEqual(len(entries), 1)
        e = entries[0]
        self.assertEqual(set(e), {"Node", "Service", "Checks"})
        self.assertEqual(e["Node"]["Node"], NODE)
        self.assertEqual(e["Node"]["Datacenter"], DC)
        self.assertIsInstance(e["Node"]["Address"], str)
        self.assert_agent_service(e["Service"])
        self.assertGreaterEqual(index, e["Service"]["ModifyIndex"])
        self.assertEqual(len(e["Checks"]), 1)
        self.assert_check(e["Checks"][0])

    def test_catalog_service_is_flat(self):
        entries, _ = self.agent.get_json("/v1/catalog/service/" + self.name)
        self.assertEqual(len(entries), 1)
        e = entries[0]
        self.assertEqual(e["ServiceID"], self.sid)
        self.assertEqual(e["ServiceName"], self.name)
        self.assertEqual(e["ServiceAddress"], "10.1.2.3")
        self.assertEqual(e["ServicePort"], 8080)
        self.assertEqual(e["ServiceTags"], ["primary", "v1"])
        self.assertEqual(e["ServiceMeta"], {"Version": "1.2", "build_ID": "abc"})
        self.assertEqual(e["Node"], NODE)
        self.assertIsInstance(e["Address"], str)
        self.assertEqual(e["Datacenter"], DC)

    def test_catalog_services_maps_names_to_tags(self):
        services, _ = self.agent.get_json("/v1/catalog/services")
        self.assertIsInstance(services, dict)
        self.assertEqual(sorted(services[self.name]), ["primary", "v1"])
        self.assertTrue(all(isinstance(v, list) for v in services.values()))

    def test_agent_services_and_service(self):
        services, _ = self.agent.get_json("/v1/agent/services")
        self.assertIsInstance(services, dict)
        self.assert_agent_service(services[self.sid])
        one, _ = self.agent.get_json("/v1/agent/service/" + self.sid)
        self.assert_agent_service(one)

    def test_agent_checks(self):
        checks = self.checks_of(self.sid)
        self.assertEqual(list(checks), ["service:" + self.sid])
        self.assert_check(checks["service:" + self.sid])

    def test_health_checks(self):
        checks, _ = self.agent.get_json("/v1/health/checks/" + self.name)
        self.assertEqual(len(checks), 1)
        self.assert_check(checks[0])
        empty, _ = self.agent.get_json("/v1/health/checks/" + unique("nobody"))
        self.assertEqual(empty, [])

    def test_health_state(self):
        a = self.agent
        mine = lambda cs: [c for c in cs if c["ServiceID"] == self.sid]  # noqa: E731
        self.assertEqual(len(mine(a.get_json("/v1/health/state/passing")[0])), 1)
        self.assertEqual(len(mine(a.get_json("/v1/health/state/any")[0])), 1)
        self.assertEqual(mine(a.get_json("/v1/health/state/critical")[0]), [])
        a.put_ok("/v1/agent/check/fail/service:" + self.sid)
        crit = mine(a.get_json("/v1/health/state/critical")[0])
        self.assertEqual([c["Status"] for c in crit], ["critical"])
        self.assert_error(a.get("/v1/health/state/bogus"), 400)

    def test_agent_self(self):
        s, _ = self.agent.get_json("/v1/agent/self")
        self.assertEqual(s["Config"]["Datacenter"], DC)
        self.assertEqual(s["Config"]["NodeName"], NODE)

    def test_status_leader_is_a_quoted_host_port(self):
        r = self.agent.get("/v1/status/leader")
        self.assertRegex(r.text, r'^"[^"]+:[0-9]+"$')
        self.assertEqual(r.json(), self.agent.address)
        peers, _ = self.agent.get_json("/v1/status/peers")
        self.assertEqual(peers, [self.agent.address])

    def test_catalog_datacenters_and_nodes(self):
        self.assertEqual(self.agent.get_json("/v1/catalog/datacenters")[0], [DC])
        nodes, _ = self.agent.get_json("/v1/catalog/nodes")
        self.assertEqual([n["Node"] for n in nodes], [NODE])


class WriteTest(ApiTestCase):

    def status(self, check_id):
        return self.checks_of(check_id.split(":")[1])[check_id]

    def test_get_and_put_both_accepted_on_deregister(self):
        a = self.agent
        for method in ("GET", "PUT"):
            name = unique("dereg")
            a.register({"Name": name})
            r = a.request(method, "/v1/agent/service/deregister/" + name)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(a.get("/v1/agent/service/" + name).status, 404)

    def test_get_and_put_both_accepted_on_pass_warn_fail_and_note_sets_output(self):
        a = self.agent
        sid = unique("pwf")
        cid = "service:" + sid
        a.register({"Name": sid, "Check": {"TTL": "30s"}})
        for method in ("GET", "PUT"):
            for verb, state in (("warn", "warning"), ("fail", "critical"), ("pass", "passing")):
                with self.subTest(method=method, verb=verb):
                    note = "%s via %s" % (verb, method)
                    r = a.request(method, "/v1/agent/check/%s/%s?note=%s" %
                                  (verb, cid, note.replace(" ", "+")))
                    self.assertEqual((r.status, r.body), (200, b""), r)
                    c = self.status(cid)
                    self.assertEqual((c["Status"], c["Output"]), (state, note))

    def test_check_update(self):
        a = self.agent
        sid = unique("upd")
        cid = "service:" + sid
        a.register({"Name": sid, "Check": {"TTL": "30s"}})
        r = a.put("/v1/agent/check/update/" + cid, {"Status": "warning", "Output": "disk 91%"})
        self.assertEqual((r.status, r.body), (200, b""), r)
        c = self.status(cid)
        self.assertEqual((c["Status"], c["Output"]), ("warning", "disk 91%"))
        a.put_ok("/v1/agent/check/update/" + cid, {"status": "passing", "output": "ok"})
        c = self.status(cid)
        self.assertEqual((c["Status"], c["Output"]), ("passing", "ok"))

    def test_id_defaults_to_name(self):
        name = unique("noid")
        self.agent.register({"Name": name, "Check": {"TTL": "30s"}})
        s, _ = self.agent.get_json("/v1/agent/service/" + name)
        self.assertEqual((s["ID"], s["Service"]), (name, name))
        self.assertEqual(list(self.checks_of(name)), ["service:" + name])

    def test_check_ids_for_check_and_checks(self):
        a = self.agent
        sid = unique("ids")
        a.register({"Name": "ids", "ID": sid,
                    "Checks": [{"TTL": "30s"}, {"TTL": "30s"}, {"TTL": "30s", "CheckID": "own-" + sid}]})
        self.assertEqual(sorted(self.checks_of(sid)),
                         sorted(["service:%s:1" % sid, "service:%s:2" % sid, "own-" + sid]))
        sid2 = unique("ids")
        a.register({"Name": "ids", "ID": sid2, "Check": {"TTL": "30s"}})
        self.assertEqual(list(self.checks_of(sid2)), ["service:" + sid2])

    def test_new_ttl_check_starts_critical_unless_status_given(self):
        a = self.agent
        sid = unique("start")
        a.register({"Name": sid, "Checks": [{"TTL": "30s"}, {"TTL": "30s", "Status": "passing"},
                                            {"TTL": "30s", "Status": "warning"}]})
        checks = self.checks_of(sid)
        self.assertEqual([checks["service:%s:%d" % (sid, i)]["Status"] for i in (1, 2, 3)],
                         ["critical", "passing", "warning"])

    def test_reregistering_keeps_status_of_unchanged_checks(self):
        a = self.agent
        sid = unique("rereg")
        body = {"Name": sid, "Port": 1, "Check": {"TTL": "30s"}}
        a.register(body)
        a.put_ok("/v1/agent/check/pass/service:" + sid)
        body.update(Port=2, Tags=["new"])
        a.register(body)
        s, _ = a.get_json("/v1/agent/service/" + sid)
        self.assertEqual((s["Port"], s["Tags"]), (2, ["new"]))
        self.assertEqual(self.checks_of(sid)["service:" + sid]["Status"], "passing")

    def test_keys_are_case_insensitive_and_snake_case_is_accepted(self):
        a = self.agent
        sid = unique("keys")
        a.register({"name": "keys", "id": sid, "port": 7, "tags": ["t"],
                    "meta": {"MixedCase": "A", "lower": "b", "snake_Key": "C"},
                    "enable_tag_override": True,
                    "check": {"ttl": "30s", "status": "passing",
                              "deregister_critical_service_after": "1m30s"}})
        s, _ = a.get_json("/v1/agent/service/" + sid)
        self.assertEqual((s["Service"], s["Port"], s["Tags"]), ("keys", 7, ["t"]))
        self.assertEqual(s["Meta"], {"MixedCase": "A", "lower": "b", "snake_Key": "C"})
        self.assertIs(s["EnableTagOverride"], True)
        c = self.checks_of(sid)["service:" + sid]
        self.assertEqual(c["Status"], "passing")
        self.assertEqual(go_duration_seconds(c["Definition"]["DeregisterCriticalServiceAfter"]), 90)
        sid2 = unique("keys")
        a.register({"Name": "keys", "ID": sid2,
                    "Check": {"TTL": "30s", "deregisterCriticalServiceAfter": "2m"}})
        c = self.checks_of(sid2)["service:" + sid2]
        self.assertEqual(go_duration_seconds(c["Definition"]["DeregisterCriticalServiceAfter"]), 120)

    def test_address_defaults_to_the_clients_address(self):
        sid = unique("addr")
        self.agent.register({"Name": sid})
        s, _ = self.agent.get_json("/v1/agent/service/" + sid)
        self.assertEqual(s["Address"], "127.0.0.1")

    def test_port_as_string_and_durations_as_nanoseconds(self):
        sid = unique("loose")
        self.agent.register({"Name": sid, "Port": "8081", "Check": {"TTL": 30 * 10**9}})
        s, _ = self.agent.get_json("/v1/agent/service/" + sid)
        self.assertEqual(s["Port"], 8081)
        c = self.checks_of(sid)["service:" + sid]
        self.assertEqual(go_duration_seconds(c["Definition"]["TTL"]), 30)


class FilterTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a = cls.agent
        cls.name = unique("filter")
        for sid, tags, status in (("p-ab", ["a", "b"], "passing"), ("p-a", ["a"], "passing"),
                                  ("w-b", ["b"], "warning"), ("c-a", ["a"], "critical")):
            a.register({"Name": cls.name, "ID": "%s-%s" % (cls.name, sid), "Tags": tags,
                        "Check": {"TTL": "60s", "Status": status}})

    def ids(self, query):
        entries, _ = self.agent.get_json("/v1/health/service/%s%s" % (self.name, query))
        return sorted(e["Service"]["ID"][len(self.name) + 1:] for e in entries)

    def test_passing_filter(self):
        everyone = ["c-a", "p-a", "p-ab", "w-b"]
        self.assertEqual(self.ids(""), everyone)
        for q in ("?passing", "?passing=true", "?passing=1", "?passing="):
            with self.subTest(q):
                self.assertEqual(self.ids(q), ["p-a", "p-ab"])
        for q in ("?passing=false", "?passing=0"):
            with self.subTest(q):
                self.assertEqual(self.ids(q), everyone)

    def test_tag_filter_is_repeatable_and_all_must_match(self):
        self.assertEqual(self.ids("?tag=a"), ["c-a", "p-a", "p-ab"])
        self.assertEqual(self.ids("?tag=b"), ["p-ab", "w-b"])
        self.assertEqual(self.ids("?tag=a&tag=b"), ["p-ab"])
        self.assertEqual(self.ids("?tag=zzz"), [])
        self.assertEqual(self.ids("?tag=a&passing"), ["p-a", "p-ab"])
        flat, _ = self.agent.get_json("/v1/catalog/service/%s?tag=a&tag=b" % self.name)
        self.assertEqual([e["ServiceID"] for e in flat], [self.name + "-p-ab"])


class BlockingQueryTest(ApiTestCase):

    def timed_get(self, path, **kw):
        start = time.monotonic()
        r = self.agent.get(path, **kw)
        return r, time.monotonic() - start

    def test_index_below_current_returns_at_once(self):
        name = unique("blk")
        self.agent.register({"Name": name})
        _, index = self.agent.get_json("/v1/health/service/" + name)
        r, elapsed = self.timed_get("/v1/health/service/%s?index=%d&wait=5s" % (name, index - 1))
        self.assertEqual(r.status, 200)
        self.assertLess(elapsed, 2.0)

    def test_index_equal_waits_for_wait(self):
        name = unique("blk")
        self.agent.register({"Name": name})
        _, index = self.agent.get_json("/v1/health/service/" + name)
        r, elapsed = self.timed_get("/v1/health/service/%s?index=%d&wait=1s" % (name, index))
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("X-Consul-Index")), index)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 1 + 1 / 16 + 2.0)

    def test_index_greater_than_current_returns_at_once(self):
        name = unique("blk")
        self.agent.register({"Name": name})
        _, index = self.agent.get_json("/v1/health/service/" + name)
        r, elapsed = self.timed_get("/v1/health/service/%s?index=%d&wait=2s" %
                                    (name, index + 1000))
        self.assertEqual(r.status, 200)
        self.assertLess(elapsed, 1.0, "a client index above the current one parked the query")

    def test_change_wakes_the_waiter_with_a_greater_index(self):
        a = self.agent
        name = unique("blk")
        a.register({"Name": name, "Check": {"TTL": "30s"}})
        _, index = a.get_json("/v1/health/service/" + name)
        timer = threading.Timer(0.3, lambda: a.put_ok("/v1/agent/check/pass/service:" + name))
        timer.start()
        self.addCleanup(timer.cancel)
        r, elapsed = self.timed_get("/v1/health/service/%s?index=%d&wait=30s" % (name, index))
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.header("X-Consul-Index")), index)
        self.assertLess(elapsed, 10)
        self.assertEqual(r.json()[0]["Checks"][0]["Status"], "passing")

    def test_catalog_and_checks_endpoints_block_too(self):
        a = self.agent
        name = unique("blk")
        a.register({"Name": name, "Check": {"TTL": "30s"}})
        for path in ("/v1/catalog/services", "/v1/catalog/service/" + name,
                     "/v1/health/checks/" + name):
            with self.subTest(path):
                _, index = a.get_json(path)
                later = name + "-" + uuid.uuid4().hex[:4]
                timer = threading.Timer(0.3, lambda: a.register(
                    {"Name": name if "services" not in path else later, "ID": later,
                     "Check": {"TTL": "30s"}}))
                timer.start()
                self.addCleanup(timer.cancel)
                r, elapsed = self.timed_get("%s?index=%d&wait=30s" % (path, index))
                self.assertEqual(r.status, 200)
                self.assertGreater(int(r.header("X-Consul-Index")), index)
                self.assertLess(elapsed, 10)
                timer.join()

    def test_waiter_of_unregistered_service_wakes_when_it_appears(self):
        a = self.agent
        name = unique("later")
        entries, index = a.get_json("/v1/health/service/" + name)
        self.assertEqual(entries, [])
        timer = threading.Timer(0.3, lambda: a.register({"Name": name}))
        timer.start()
        self.addCleanup(timer.cancel)
        r, elapsed = self.timed_get("/v1/health/service/%s?index=%d&wait=30s" % (name, index))
        self.assertEqual([e["Service"]["ID"] for e in r.json()], [name])
        self.assertLess(elapsed, 10)

    def test_invalid_index_or_wait_is_400(self):
        # A bare number for wait ("5") is read as seconds by design (core/time.cc), where
        # Consul answers 400; it is not tested either way.
        for q in ("index=abc", "index=-1", "index=1.5", "index=1&wait=ten"):
            with self.subTest(q):
                self.assert_error(self.agent.get("/v1/health/service/x?" + q), 400, q)

    def test_200_parked_queries_all_wake_on_one_change(self):
        a = self.agent
        name = unique("herd")
        a.register({"Name": name, "Check": {"TTL": "60s"}})
        _, index = a.get_json("/v1/health/service/" + name)
        n = 200
        results = [None] * n
        started = threading.Barrier(n + 1)

        def park(i):
            conn = a.connection(timeout=60)
            try:
                started.wait(30)
                r = a.get("/v1/health/service/%s?index=%d&wait=30s" % (name, index), conn=conn)
                results[i] = (r.status, int(r.header("X-Consul-Index")), time.monotonic())
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e
            finally:
                conn.close()

        threads = [threading.Thread(target=park, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        started.wait(30)

        def parked():
            s, _ = a.get_json("/v1/agent/self")
            return int(s["Stats"]["registry"]["blocking_queries"]) >= n

        wait_until(parked, 20, what="%d blocking queries to park" % n)
        changed = time.monotonic()
        a.put_ok("/v1/agent/check/pass/service:" + name)
        for t in threads:
            t.join(20)
        self.assertFalse(any(t.is_alive() for t in threads), "some waiters were not woken")
        errors = [r for r in results if not isinstance(r, tuple)]
        self.assertEqual(errors, [])
        self.assertTrue(all(r[0] == 200 and r[1] > index for r in results))
        self.assertLess(max(r[2] for r in results) - changed, 10)


class RobustnessTest(ApiTestCase):

    def test_slowloris_connection_does_not_block_others(self):
        socks = []
        try:
            for _ in range(20):
                s = self.agent.raw_socket()
                s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                socks.append(s)
            for _ in range(20):
                self.agent.get_json("/v1/agent/services", timeout=5)
            name = unique("slow")
            self.agent.register({"Name": name}, timeout=5)
            self.assertEqual(self.agent.get("/v1/agent/service/" + name, timeout=5).status, 200)
        finally:
            for s in socks:
                s.close()

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = self.agent.connection()
        try:
            name = unique("ka")
            self.agent.register({"Name": name}, conn=conn)
            for _ in range(50):
                r = self.agent.get("/v1/agent/service/" + name, conn=conn)
                self.assertEqual(r.status, 200)
        finally:
            conn.close()

    def test_chunked_request_body(self):
        name = unique("chunked")
        with self.agent.raw_socket() as s:
            body = json.dumps({"Name": name}).encode()
            s.sendall(b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                      b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            self.assertTrue(read_http_reply(s).startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.agent.get("/v1/agent/service/" + name).status, 200)

    # A client that waits for "100 Continue" (curl does for large bodies) must not stall;
    # Go's net/http, which Consul uses, answers it by itself.
    def test_expect_100_continue_is_answered(self):
        with self.agent.raw_socket(timeout=1.0) as s:
            body = json.dumps({"Name": unique("expect")}).encode()
            s.sendall(b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\n"
                      b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
            try:
                interim = s.recv(64)
            except TimeoutError:
                interim = b""
            s.sendall(body)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100"), interim)

    def test_garbage_request_is_400_and_the_server_lives_on(self):
        with self.agent.raw_socket() as s:
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reply = read_http_reply(s)
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:200])
        self.agent.get_json("/v1/agent/self")


if __name__ == "__main__":
    unittest.main()
