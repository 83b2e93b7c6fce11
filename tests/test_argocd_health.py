"""The TFJob health check, run by a real Lua 5.1 interpreter (lupa) as Argo CD runs it."""

import pytest

from scripts.manifests import ROOT

lupa = pytest.importorskip("lupa.lua51")
SCRIPT = (ROOT / "argocd" / "health" / "tfjob.lua").read_text()


def health(obj):
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value):
        if isinstance(value, dict):
            return runtime.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return runtime.table_from([to_lua(v) for v in value])
        return value

    run = runtime.eval(
        "function(obj, script) local f = assert(loadstring(script)); setfenv(f, {obj = obj, ipairs = ipairs}); return f() end"
    )
    result = run(to_lua(obj), SCRIPT)
    return result["status"], result["message"]


def job(*conditions):
    return {"status": {"conditions": [{"type": t, "status": s, "message": f"{t} msg"} for t, s in conditions]}}


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        ({}, "Progressing"),
        ({"status": {}}, "Progressing"),
        (job(("Created", "True")), "Progressing"),
        (job(("Created", "True"), ("Running", "True")), "Progressing"),
        (job(("Created", "True"), ("Running", "False"), ("Restarting", "True")), "Progressing"),
        (job(("Created", "True"), ("Running", "False"), ("Succeeded", "True")), "Healthy"),
        (job(("Created", "True"), ("Running", "False"), ("Failed", "True")), "Degraded"),
        (job(("Created", "True"), ("Suspended", "True")), "Suspended"),
        (job(("Created", "True"), ("Suspended", "False"), ("Running", "True")), "Progressing"),
        (job(("Failed", "True"), ("Running", "True")), "Degraded"),
    ],
)
def test_every_condition_maps_to_argo_health(obj, status):
    assert health(obj)[0] == status


def test_message_comes_from_the_deciding_condition():
    assert health(job(("Created", "True"), ("Failed", "True")))[1] == "Failed msg"
