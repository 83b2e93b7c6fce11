"""The local model server (trainers/serving), over real HTTP on 127.0.0.1, on exports made here by
the real trainer: a classifier, the summarizer (two signatures) and a numeric task from outside the
repository. Both protocols answer what `python -m trainers predict` answers; a new version is
served without a restart; bad requests get a 4xx and the server keeps serving; SIGTERM lets the
request in flight finish."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from tests import serving_helpers as serving
from tests.helpers import predict, run_trainer, trainer_env
from tests.test_summarize import SMALL as SMALL_SUMMARIZER
from tests.test_task_interface import PLUGIN, write_numbers

pytestmark = pytest.mark.slow

TEXTS = ["the striker scored a late goal", "the central bank raised interest rates", "a new phone with a bigger screen"]
BRIEFS = [
    "the board will meet again next month . acme said its profits rose 12 pct in the third quarter .",
    "shares were little changed . globex said it will cut 300 jobs at its plant in ohio .",
]


def only_version(export_root):
    [version] = [p for p in export_root.iterdir() if p.name.isdigit()]
    return version


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    run = tmp_path_factory.mktemp("classifier")
    result = run_trainer({"modelType": "cnn", "numEpochs": "2", "modelDir": str(run)})
    assert result.returncode == 0, result.stderr[-2000:]
    return run / "export"


@pytest.fixture(scope="module")
def summarizer(tmp_path_factory):
    run = tmp_path_factory.mktemp("summarizer")
    result = run_trainer({**SMALL_SUMMARIZER, "numEpochs": "2", "modelDir": str(run)}, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return run / "export"


@pytest.fixture(scope="module")
def classifier_server(classifier):
    server = serving.start(classifier, "--name", "topics")
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def summarizer_server(summarizer):
    server = serving.start(summarizer)  # the name comes from the path: <run>/export -> <run>
    yield server
    assert server.stop() == 0, server.log()


def v2_text(texts: list[str], **extra) -> dict:
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}], **extra}


def v2_outputs(answer: dict) -> dict:
    return {o["name"]: o for o in answer["outputs"]}


def test_classifier_answers_on_both_protocols_as_predict_does(classifier, classifier_server):
    expected = predict(classifier, TEXTS)
    with classifier_server.client as http:
        rows = http.post("/v1/models/topics:predict", json={"instances": TEXTS})
        columns = http.post("/v1/models/topics:predict", json={"inputs": {"text": TEXTS}})
        v2 = http.post("/v2/models/topics/infer", json=v2_text(TEXTS, id="r1"))
    assert rows.status_code == columns.status_code == v2.status_code == 200, rows.text + columns.text + v2.text
    predictions, outputs = rows.json()["predictions"], columns.json()["outputs"]
    answer = v2.json()
    assert answer["id"] == "r1" and answer["model_version"] == only_version(classifier).name
    tensors = v2_outputs(answer)
    assert tensors["scores"]["shape"] == [len(TEXTS), len(expected[0]["scores"])]
    for i, want in enumerate(expected):
        # Row format: one object per text; columnar: one list per output; V2: flat, row-major.
        assert [predictions[i]["labels"]] == want["labels"] == [outputs["labels"][i]] == [tensors["labels"]["data"][i]]
        for label, score in want["scores"].items():
            column = predictions[i]["classes"].index(label)
            width = len(predictions[i]["classes"])
            assert predictions[i]["scores"][column] == pytest.approx(score, abs=1e-5)
            assert outputs["scores"][i][column] == pytest.approx(score, abs=1e-5)
            assert tensors["scores"]["data"][i * width + column] == pytest.approx(score, abs=1e-5)


def test_summarizer_answers_on_both_protocols_with_every_signature(summarizer, summarizer_server):
    from trainers.tasks.summarize.serving import summarize

    name = summarizer.parent.name
    expected = predict(summarizer, BRIEFS)
    greedy = summarize(only_version(summarizer), BRIEFS, "greedy")
    with summarizer_server.client as http:
        beam_v1 = http.post(f"/v1/models/{name}:predict", json={"instances": BRIEFS}).json()["predictions"]
        beam_v2 = v2_outputs(http.post(f"/v2/models/{name}/infer", json=v2_text(BRIEFS)).json())
        greedy_v1 = http.post(f"/v1/models/{name}:predict", json={"signature_name": "greedy", "inputs": BRIEFS}).json()[
            "outputs"
        ]
        greedy_v2 = http.post(
            f"/v2/models/{name}/infer", json=v2_text(BRIEFS, parameters={"signature_name": "greedy"})
        ).json()
    assert [p["summary"] for p in beam_v1] == [e["summary"] for e in expected] == beam_v2["summary"]["data"]
    assert [p["score"] for p in beam_v1] == pytest.approx([e["score"] for e in expected], abs=1e-4)
    assert beam_v2["score"]["data"] == pytest.approx([e["score"] for e in expected], abs=1e-4)
    assert greedy_v1["summary"] == [g["summary"] for g in greedy] == v2_outputs(greedy_v2)["summary"]["data"]
    # Asking for one output in V2 returns only that one.
    with summarizer_server.client as http:
        picked = http.post(f"/v2/models/{name}/infer", json=v2_text(BRIEFS, outputs=[{"name": "score"}])).json()
    assert [o["name"] for o in picked["outputs"]] == ["score"]


def test_a_numeric_task_from_outside_the_repository_is_served_unchanged(tmp_path):
    values = {
        "modelType": "linear-regression",
        "trainData": write_numbers(tmp_path / "train.tsv", 256, 1),
        "numEpochs": "2",
        "batchSize": "16",
        "learningRate": "0.1",
        "modelDir": str(tmp_path / "run"),
    }
    result = run_trainer(values, env=PLUGIN, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]]
    probe = subprocess.run(
        [sys.executable, "-m", "trainers", "predict", "--json", "--model", str(tmp_path / "run/export")]
        + [",".join(str(v) for v in row) for row in rows],
        env=trainer_env(PLUGIN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    expected = json.loads(probe.stdout)
    server = serving.start(tmp_path / "run" / "export", "--name", "regress")
    try:
        with server.client as http:
            v1 = http.post("/v1/models/regress:predict", json={"instances": rows}).json()["predictions"]
            v2 = http.post(
                "/v2/models/regress/infer",
                json={"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": sum(rows, [])}]},
            ).json()
            wrong_width = http.post("/v1/models/regress:predict", json={"instances": [[1.0, 2.0]]})
            text_for_numbers = http.post("/v1/models/regress:predict", json={"instances": [["a", "b", "c"]]})
    finally:
        assert server.stop() == 0, server.log()
    assert [row[0] for row in v1] == pytest.approx(expected, abs=1e-5)
    assert v2_outputs(v2)["y"]["data"] == pytest.approx(expected, abs=1e-5) and v2_outputs(v2)["y"]["shape"] == [2, 1]
    assert wrong_width.status_code == 400 and "shape [1, 2] does not fit input 'x' of shape [-1, 3]" in wrong_width.text
    assert text_for_numbers.status_code == 400 and "expected a number for float32 input 'x'" in text_for_numbers.text


def test_status_metadata_health_and_metrics(classifier, classifier_server):
    version = only_version(classifier).name
    with classifier_server.client as http:
        status = http.get("/v1/models/topics").json()
        pinned = http.get(f"/v1/models/topics/versions/{version}")
        stale = http.get("/v1/models/topics/versions/1")
        metadata = http.get("/v1/models/topics/metadata").json()
        v2_meta = http.get("/v2/models/topics").json()
        live, ready = http.get("/v2/health/live"), http.get("/v2/health/ready")
        http.post("/v1/models/topics:predict", json={"instances": TEXTS[:1]})
        metrics = http.get("/metrics").text
    assert status == {
        "model_version_status": [
            {"version": version, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    assert pinned.status_code == 200 and stale.status_code == 404
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["text"]["dtype"] == "DT_STRING" and set(signature["outputs"]) >= {"scores", "labels"}
    assert metadata["model_spec"] == {"name": "topics", "signature_name": "", "version": version}
    assert v2_meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert v2_meta["versions"] == [version] and v2_meta["platform"] == "tensorflow_savedmodel"
    assert live.json() == {"live": True} and ready.json() == {"ready": True}
    assert serving.metric(metrics, "textjobs_model_version", model_name="topics") == int(version)
    assert serving.metric(metrics, "request_predict_seconds_count", model_name="topics") >= 1


BAD_REQUESTS = [
    # (path, body bytes, status, words the error must contain)
    ("/v1/models/{m}:predict", b'{"instances": ["unfinished', 400, "Unrecognized request format"),
    ("/v1/models/{m}:predict", b'["a list"]', 400, 'JSON object with "instances" or "inputs"'),
    ("/v1/models/{m}:predict", b'{"instance": ["x"]}', 400, "unknown key(s) ['instance']"),
    ("/v1/models/{m}:predict", b'{"instances": ["x"], "inputs": ["x"]}', 400, "exactly one of"),
    ("/v1/models/{m}:predict", b'{"instances": []}', 400, "non-empty list"),
    ("/v1/models/{m}:predict", b'{"instances": [1, 2]}', 400, "expected a string"),
    ("/v1/models/{m}:predict", b'{"instances": [["a"], ["b", "c"]]}', 400, "ragged"),
    ("/v1/models/{m}:predict", b'{"instances": [["a"]]}', 400, "shape [1, 1] does not fit input 'text'"),
    (
        "/v1/models/{m}:predict",
        b'{"signature_name": "nearest", "instances": ["x"]}',
        400,
        "signature 'nearest' not found",
    ),
    ("/v1/models/{m}:predict", b'{"inputs": {"txt": ["x"]}}', 400, "missing ['text'], unknown ['txt']"),
    ("/v1/models/{m}:predict", b'{"instances": [{"b64": "%%%"}]}', 400, "not valid base64"),
    ("/v1/models/nobody:predict", b'{"instances": ["x"]}', 404, "nobody"),
    ("/v2/models/{m}/infer", b'{"inputs": [', 422, "JSON decode error"),
    (
        "/v2/models/{m}/infer",
        b'{"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}',
        400,
        "1 values for shape [2]",
    ),
    (
        "/v2/models/{m}/infer",
        b'{"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.5]}]}',
        400,
        "takes BYTES",
    ),
    (
        "/v2/models/{m}/infer",
        b'{"inputs": [{"name": "words", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}',
        400,
        "takes exactly ['text']",
    ),
    (
        "/v2/models/{m}/infer",
        b'{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [7]}]}',
        400,
        "expected a string",
    ),
    (
        "/v2/models/{m}/infer",
        json.dumps(v2_text(["x"], parameters={"signature_name": "nope"})).encode(),
        400,
        "signature 'nope' not found",
    ),
    (
        "/v2/models/{m}/infer",
        b'{"outputs": [{"name": "nope"}], "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}',
        400,
        "outputs ['nope'] requested",
    ),
]


@pytest.mark.parametrize("path, body, status, words", BAD_REQUESTS, ids=[f"{i}" for i in range(len(BAD_REQUESTS))])
def test_a_bad_request_gets_a_4xx_naming_the_problem(summarizer, summarizer_server, path, body, status, words):
    name = summarizer.parent.name
    with summarizer_server.client as http:
        answer = http.post(path.format(m=name), content=body)
        assert answer.status_code == status, answer.text
        said = answer.json().get("error") or answer.text  # 422: FastAPI's own validation detail
        assert words in said, answer.text
        # The server is still there and still answers.
        assert http.post(f"/v1/models/{name}:predict", json={"instances": BRIEFS[:1]}).status_code == 200


def test_an_oversized_body_gets_413_with_or_without_content_length(summarizer, summarizer_server):
    name = summarizer.parent.name
    big = json.dumps({"instances": ["word " * 1000] * 2000}).encode()  # 10 MB, over the 8 MiB default
    with summarizer_server.client as http:
        declared = http.post(f"/v1/models/{name}:predict", content=big)
        streamed = http.post(
            f"/v1/models/{name}:predict", content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)])
        )
        assert http.get("/v2/health/ready").status_code == 200
    assert declared.status_code == streamed.status_code == 413, declared.text + streamed.text
    assert "request body over 8388608 bytes" in declared.json()["error"]


def test_a_new_version_is_served_without_a_restart(tmp_path, classifier, summarizer):
    root = tmp_path / "export"
    shutil.copytree(only_version(classifier), root / "100")
    server = serving.start(root, "--name", "live", "--poll-seconds", "0.2")
    try:
        with server.client as http:
            assert http.get("/v1/models/live").json()["model_version_status"][0]["version"] == "100"
            # An upload still in progress (no saved_model.pb yet) is never picked, whatever its number.
            shutil.copytree(only_version(summarizer) / "variables", root / "300" / "variables")
            # A complete newer version -- here another task's export -- replaces it in place.
            shutil.copytree(only_version(summarizer), root / ".staging-200")
            (root / ".staging-200").rename(root / "200")

            def version():
                return http.get("/v1/models/live").json()["model_version_status"][0]["version"]

            serving.wait_until("version 200 served", lambda: version() == "200")
            answer = http.post("/v1/models/live:predict", json={"instances": BRIEFS[:1]}).json()
            assert set(answer["predictions"][0]) == {"summary", "score"}  # the summarizer answers now
            assert http.post("/v2/models/live/infer", json=v2_text(BRIEFS[:1])).json()["model_version"] == "200"
            # A newer version that cannot load is skipped; the server keeps serving the last good one.
            shutil.copytree(only_version(summarizer), root / ".staging-400")
            (root / ".staging-400" / "saved_model.pb").write_bytes(b"not a SavedModel")
            (root / ".staging-400").rename(root / "400")
            serving.wait_until(
                "the failed load counted",
                lambda: serving.metric(
                    http.get("/metrics").text, "textjobs_model_reloads_total", model_name="live", outcome="failed"
                ),
            )
            assert version() == "200"
            assert http.post("/v1/models/live:predict", json={"instances": BRIEFS[:1]}).status_code == 200
    finally:
        assert server.stop() == 0, server.log()
    assert "version 400 failed to load, still serving 200" in server.log()


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(summarizer):
    server = serving.start(summarizer, "--name", "drain")
    batch = [
        f"acme said its profits rose {i} pct in the third quarter . the board will meet next month ."
        for i in range(4000)
    ]
    answers: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{server.url}/v1/models/drain:predict", json={"instances": batch}, timeout=600)
        )
    )
    try:
        request.start()
        with server.client as http:
            serving.wait_until(
                "the request in flight",
                lambda: (
                    serving.metric(http.get("/metrics").text, "textjobs_requests_in_flight", model_name="drain") == 1
                ),
                every_s=0.05,
            )
        code = server.stop()
        request.join(600)
    finally:
        server.stop()
    assert code == 0, server.log()
    [answer] = answers
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == len(batch)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/v2/health/live", timeout=5)


def test_the_command_fails_clearly_without_a_servable_export_or_a_free_port(tmp_path, classifier):
    empty = tmp_path / "export"
    (empty / "5" / "variables").mkdir(parents=True)  # an interrupted upload only
    result = subprocess.run(
        [sys.executable, "-m", "trainers.serving", "--model", str(empty)],
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 3 and "no complete export version under" in result.stderr, result.stderr[-2000:]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "trainers.serving", "--model", str(classifier), "--port", str(port)],
            env=trainer_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert busy.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr, busy.stderr[-2000:]


def test_make_serve_names_the_model_after_the_experiment_and_says_how_to_get_an_export(tmp_path, monkeypatch):
    from scripts import serve

    monkeypatch.setattr(serve, "RUNS", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"train it first with `make run EXP=capsule-b`"):
        serve.arguments("capsule-b", "", [])
    (tmp_path / "capsule-b" / "export").mkdir(parents=True)
    assert serve.arguments("capsule-b", "", ["--port", "8500"]) == [
        "--model",
        str(tmp_path / "capsule-b" / "export"),
        "--name",
        "capsule-b",
        "--port",
        "8500",
    ]
    assert serve.arguments("capsule-b", "gs://b/runs/x/export", []) == ["--model", "gs://b/runs/x/export"]
    missing = subprocess.run(
        [sys.executable, "-m", "scripts.serve", "no-such-experiment"], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 3 and "make run EXP=no-such-experiment" in missing.stderr


def test_neither_the_runtime_nor_any_task_imports_the_server():
    import ast

    from tests.helpers import ROOT

    for source in [*(ROOT / "trainers" / "runtime").rglob("*.py"), *(ROOT / "trainers" / "tasks").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith(("trainers.serving", "kserve")) for n in names), f"{source} imports {names}"
