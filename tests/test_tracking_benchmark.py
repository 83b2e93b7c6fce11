"""The tracking benchmark (scripts/tracking/benchmark.py): its slow proxy forwards real traffic,
its summary pairs each variant with the same round's baseline, and one short sitting against the
real MLflow server of tests/mlflow_server.py reports every run (no timing is asserted)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts.tracking import benchmark
from scripts.tracking.benchmark import Result, summarize
from scripts.tracking.slow_proxy import SlowProxy


class Echo(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 5))
        self.end_headers()
        self.wfile.write(b"echo:" + body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def echo_port():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_the_slow_proxy_forwards_requests_and_answers_whole(echo_port):
    payload = bytes(range(256)) * 1024  # several chunks each way
    with SlowProxy(echo_port, 0.01) as proxy:
        for _ in range(2):
            request = urllib.request.Request(proxy.url + "/x", data=payload, method="POST")
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.read() == b"echo:" + payload


def test_the_slow_proxy_of_a_dead_server_is_a_dead_server():
    # Nothing listens behind it: the proxy closes each connection it cannot forward.
    with SlowProxy(benchmark._free_port(), 0.01) as proxy, pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(proxy.url + "/health", timeout=30)


def result(variant: str, round_: int, wall: float, epochs: list[float], code: int | None = 0) -> Result:
    return Result(variant, round_, f"{variant}-{round_}", code, wall, wall / 10, epochs, 1.0)


def test_overheads_are_medians_of_differences_to_the_same_rounds_baseline():
    results = [
        result("off", 0, 100.0, [1.0, 1.0]),
        result("up", 0, 101.0, [1.01, 1.01]),
        result("off", 1, 200.0, [2.0, 2.0]),  # a slow spell: both variants of the round are slower
        result("up", 1, 202.0, [2.02, 2.02]),
        result("down", 0, 0.0, [], code=1),
        result("down", 1, 600.0, [], code=None),
    ]
    rows = {row["variant"]: row for row in summarize(results)}
    assert rows["up"]["run_overhead"] == pytest.approx(0.01)  # 1% in each round, whatever the spell
    assert rows["up"]["run_overhead_s"] == pytest.approx(1.5)
    assert rows["up"]["epoch_overhead"] == pytest.approx(0.01)
    assert rows["up"]["cpu_overhead"] == pytest.approx(0.01)
    assert (rows["down"]["failed"], rows["down"]["stalled"], rows["down"]["run_s"]) == (1, 1, None)
    assert rows["off"]["run_overhead"] is None
    table = benchmark.table(list(rows.values()))
    assert "| up | 2 | 0 | 0 | 151.500 | +1.500 s (+1.0%) |" in table


@pytest.mark.slow
def test_one_sitting_reports_every_run_and_what_the_server_holds(tracking, tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--rounds", "1", "--epochs", "2", "--variants", "off,slow,down", "--delay-ms", "20"]
    assert benchmark.main([*argv, "--server-url", tracking.url, "--json", str(out)]) == 0
    found = json.loads(out.read_text())
    rows = {row["variant"]: row for row in found["rows"]}
    assert set(rows) == {"off", "slow", "down"}
    assert all(row["failed"] == 0 and row["stalled"] == 0 for row in rows.values()), rows
    assert rows["slow"]["complete"] == "1/1"  # every epoch's loss reached the server through the proxy
    assert rows["down"]["warned"] == 1 and rows["off"]["warned"] == 0
    for run in found["runs"]:
        assert len(run["epoch_s"]) == 1 and run["end_s"] is not None and run["cpu_s"] > 0
