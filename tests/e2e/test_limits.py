"""The limits of docs/limits.md that protect the agent from one client, against the real
binary: requests per second on one connection (429 + Retry-After, the connection stays),
connections per client address and in all (429 and close; close), parked blocking queries
(429), and registered instances (429). Each answer carries a message naming the limit and
its flag.
"""

import socket
import threading
import time
import unittest

from harness import Agent, wait_until


def leader_answers(agent):
    """True once a new request is answered; until the agent has seen a freed connection, a new
    one is still refused (reset), which is a retry here, not a failure."""
    try:
        return agent.get("/v1/status/leader", timeout=5).status == 200
    except ConnectionError:
        return False


def read_all(sock):
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


class RequestRateTest(unittest.TestCase):

    def test_a_fast_connection_gets_429_and_keeps_its_connection(self):
        with Agent("-http-request-rate", "5", "-http-request-burst", "5") as agent:
            conn = agent.connection()
            self.addCleanup(conn.close)
            statuses = [agent.get("/v1/status/leader", conn=conn) for _ in range(20)]
            refused = [r for r in statuses if r.status == 429]
            self.assertGreaterEqual(len(refused), 10, [r.status for r in statuses])
            self.assertIn("-http-request-rate", refused[0].text)
            self.assertGreaterEqual(int(refused[0].header("Retry-After")), 1)
            # The same connection is served again once tokens come back.
            time.sleep(1.2)
            self.assertEqual(agent.get("/v1/status/leader", conn=conn).status, 200)
            # Other connections have buckets of their own.
            self.assertEqual(agent.get("/v1/status/leader").status, 200)


class ConnectionLimitsTest(unittest.TestCase):

    def test_connections_per_client_address(self):
        with Agent("-http-max-conns-per-client", "3") as agent:
            held = [agent.raw_socket() for _ in range(3)]
            self.addCleanup(lambda: [s.close() for s in held])
            for s in held:  # each is served
                s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"200 OK", s.recv(4096))
            extra = agent.raw_socket()
            answer = read_all(extra)
            extra.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 429 "), answer)
            self.assertIn(b"-http-max-conns-per-client", answer)
            held.pop().close()
            wait_until(lambda: leader_answers(agent), 10, what="a connection slot to free up")

    def test_connections_in_all(self):
        with Agent("-http-max-connections", "4") as agent:
            held = [agent.raw_socket() for _ in range(4)]
            self.addCleanup(lambda: [s.close() for s in held])
            for s in held:
                s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"200 OK", s.recv(4096))
            extra = agent.raw_socket()
            self.assertEqual(read_all(extra), b"")  # closed at once, unanswered
            extra.close()
            wait_until(lambda: "connections open (the limit)" in agent.stderr, 5,
                       what="the refusal to be logged")
            held.pop().close()
            wait_until(lambda: leader_answers(agent), 10, what="a connection slot to free up")


class BlockingQueryLimitTest(unittest.TestCase):

    def test_parked_queries_beyond_the_limit_get_429(self):
        with Agent("-max-blocking-queries", "2") as agent:
            _, index = agent.get_json("/v1/health/service/parked")
            results = []

            def park():
                results.append(agent.get("/v1/health/service/parked?index=%d&wait=3s" % index,
                                         timeout=30).status)

            threads = [threading.Thread(target=park) for _ in range(2)]
            for t in threads:
                t.start()
            wait_until(lambda: agent.get_json("/v1/agent/self")[0]["Stats"]["registry"]
                       ["blocking_queries"] == "2", 10, what="two parked queries")
            r = agent.get("/v1/health/service/parked?index=%d&wait=3s" % index)
            self.assertEqual(r.status, 429, r)
            self.assertIn("-max-blocking-queries", r.text)
            self.assertEqual(r.header("Retry-After"), "1")
            # Non-blocking reads are not limited.
            self.assertEqual(agent.get("/v1/health/service/parked").status, 200)
            for t in threads:
                t.join(30)
            self.assertEqual(results, [200, 200])
            self.assertEqual(agent.get("/v1/health/service/parked?index=%d&wait=10ms" %
                                       index).status, 200)


class InstanceLimitTest(unittest.TestCase):

    def test_registering_beyond_the_limit_gets_429(self):
        with Agent("-max-instances", "3") as agent:
            for i in range(3):
                agent.register({"Name": "capped", "ID": "capped-%d" % i, "Port": 1})
            r = agent.put("/v1/agent/service/register",
                          {"Name": "capped", "ID": "capped-3", "Port": 1})
            self.assertEqual(r.status, 429, r)
            self.assertIn("-max-instances", r.text)
            # Updating one that exists is still allowed.
            agent.register({"Name": "capped", "ID": "capped-0", "Port": 2})
            agent.put_ok("/v1/agent/service/deregister/capped-1")
            agent.register({"Name": "capped", "ID": "capped-3", "Port": 1})


if __name__ == "__main__":
    unittest.main()
