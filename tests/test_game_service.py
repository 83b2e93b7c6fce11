"""The game service as it runs: `python -m trainers serve-game` in a subprocess on two exports,
real HTTP on 127.0.0.1. Answers, the OpenAPI docs, /metrics, a 4xx with one clear line for every
kind of bad input (never a 500), and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.embeddings_exports import write_export
from tests.helpers import ROOT, trainer_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    write_export(root / "explainer", "skipgram")
    write_export(root / "guesser", "cbow", seed=1)
    words = root / "words.txt"
    words.write_text("oil\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainers",
            "serve-game",
            "--explainer",
            str(root / "explainer"),
            "--guesser",
            str(root / "guesser"),
            "--words",
            str(words),
            "--port",
            "0",
            "--seed",
            "1",
        ],
        cwd=ROOT,
        env=trainer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    address = None
    for line in process.stdout:
        found = re.search(r"serving the word game at (http://127\.0\.0\.1:\d+/)", line)
        if found:
            address = found.group(1)
            break
    assert address, "the server never printed its address"
    yield process, address.rstrip("/")
    if process.poll() is None:
        process.kill()
        process.wait()


def call(base: str, path: str, body=None, raw: bytes | None = None, method: str | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data is not None else "GET"))
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_guess_and_explain(server):
    _, base = server
    status, text = call(base, "/guess", {"hints": ["Crude", "barrel"], "n": 3})
    assert status == 200, text
    answer = json.loads(text)
    names = [g["word"] for g in answer["guesses"]]
    assert names[0] == "oil" and "crude" not in names and "barrel" not in names and answer["ignored"] == []
    status, text = call(base, "/explain", {"word": "Bank", "n": 3})
    assert status == 200, text
    hints = [h["word"] for h in json.loads(text)["hints"]]
    assert len(hints) == 3 and "bank" not in hints and "banker" not in hints  # banker shares bank's stem


def test_a_round_played_through_the_api(server):
    _, base = server
    status, text = call(base, "/rounds", method="POST")
    state = json.loads(text)
    assert status == 200 and len(state["hints"]) == 1 and state["word"] is None and not state["finished"]
    status, text = call(base, f"/rounds/{state['round']}/guess", {"guess": "wheat"})
    state2 = json.loads(text)
    assert len(state2["hints"]) == 2 and state2["correct"] is False
    status, text = call(base, f"/rounds/{state['round']}/guess", {"guess": "OIL"})
    final = json.loads(text)
    assert final == {**final, "finished": True, "correct": True, "points": 4, "word": "oil"}
    assert call(base, f"/rounds/{state['round']}/guess", {"guess": "oil"})[0] == 409


@pytest.mark.parametrize(
    ("path", "payload", "status", "message"),
    [
        ("/guess", b"{not json", 422, "the body is not valid JSON"),
        ("/guess", b'{"hints": "crude"}', 422, "hints: Input should be a valid list"),
        ("/guess", b'{"hints": ["crude"], "n": "five"}', 422, "n: Input should be a valid integer"),
        ("/guess", b'{"hints": ["crude"], "n": 0}', 422, "n: Input should be greater than or equal to 1"),
        ("/guess", b'{"hints": ["crude"], "n": 51}', 422, "n: Input should be less than or equal to 50"),
        ("/guess", b'{"hints": []}', 422, "hints: List should have at least 1 item"),
        ("/guess", b'{"hints": ["!!!"]}', 422, "hints: no word left after cleaning"),
        ("/guess", b'{"hints": ["zzzq"]}', 404, "none of the hints ['zzzq'] is in the guesser's vocabulary"),
        (
            "/guess",
            json.dumps({"hints": ["x" * 65]}).encode(),
            422,
            "hints.0: String should have at most 64 characters",
        ),
        ("/guess", json.dumps({"hints": ["crude"] * 21}).encode(), 422, "hints: List should have at most 20 items"),
        ("/guess", b"[1, 2]", 422, "Input should be a valid dictionary"),
        ("/explain", b'{"word": "long term"}', 422, "word 'long term' is 2 words after cleaning"),
        ("/explain", b'{"word": "zebra"}', 404, "'zebra' is not in the explainer's vocabulary"),
        ("/explain", b'{"word": 7}', 422, "word: Input should be a valid string"),
        ("/explain", json.dumps({"word": "oil", "pad": "x" * 20000}).encode(), 413, "request body over 16384 bytes"),
        ("/rounds/nope/guess", b'{"guess": "oil"}', 404, "no round 'nope'"),
        ("/nothing", b"{}", 404, "Not Found"),
    ],
)
def test_bad_input_is_a_4xx_with_one_clear_line(server, path, payload, status, message):
    _, base = server
    got, text = call(base, path, raw=payload)
    assert got == status, text
    assert message in json.loads(text)["error"]


def test_method_not_allowed_and_wrong_content_are_4xx(server):
    _, base = server
    status, text = call(base, "/guess")
    assert status == 405 and json.loads(text)["error"] == "Method Not Allowed"
    status, text = call(base, "/explain", raw=b"\xff\xfe\x00")
    assert status == 400 and json.loads(text)["error"] == "the body could not be read as JSON (is it UTF-8 text?)"


def test_health_docs_and_metrics(server):
    _, base = server
    assert call(base, "/guess", {"hints": ["crude"]})[0] == 200
    assert call(base, "/rounds/some-id/guess", {"guess": "x"})[0] == 404
    status, text = call(base, "/healthz")
    assert status == 200 and json.loads(text)["status"] == "ok"
    status, text = call(base, "/openapi.json")
    paths = json.loads(text)["paths"]
    assert {"/guess", "/explain", "/healthz", "/metrics", "/rounds"} <= set(paths)
    assert call(base, "/docs")[0] == 200
    status, text = call(base, "/metrics")
    assert status == 200
    assert re.search(r'game_requests_total\{route="/guess",status="200"\} [1-9]', text), text
    assert 'game_requests_total{route="/rounds/{key}/guess",status="404"}' in text  # ids are not labels
    assert 'game_request_seconds_bucket{le="0.005",route="/guess"}' in text
    status, page = call(base, "/")
    assert status == 200 and 'id="new-round"' in page


def test_sigterm_stops_it_gracefully(server):
    process, _ = server
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "stopped" in process.stdout.read()


def test_make_serve_game_prints_a_free_loopback_address(tmp_path):
    import os

    write_export(tmp_path / "explainer", "skipgram")
    write_export(tmp_path / "guesser", "cbow")
    process = subprocess.Popen(
        ["make", "-s", "serve-game", f"ARGS=--explainer {tmp_path / 'explainer'} --guesser {tmp_path / 'guesser'}"],
        cwd=ROOT,
        env=trainer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        address = None
        for line in process.stdout:
            found = re.search(r"serving the word game at (http://127\.0\.0\.1:(\d+))/", line)
            if found:
                address = found.group(1)
                break
        assert address and int(address.rsplit(":", 1)[1]) > 0
        status, text = call(address, "/healthz")
        assert status == 200 and json.loads(text)["words"] >= 1
        # SIGTERM to the server (make's child) alone: it stops gracefully and make exits 0 with it.
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
