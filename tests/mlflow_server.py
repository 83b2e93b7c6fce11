"""A real MLflow tracking server on 127.0.0.1 for the tracking tests, and a client to read it.

The server's environment is created on first use (scripts/tracking/server_env.py: once per
machine, about 100 s with an empty pip cache), so a fresh clone's `make test` needs no manual
step. Each test session starts its own server in a temporary directory, on a free port; it dies
with the test process whatever ends that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.tracking import server


@dataclass
class Tracking:
    state: Path
    server: server.Server

    @property
    def url(self) -> str:
        return self.server.url

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.url)

    def kill(self) -> None:
        """SIGKILL, as a crashed server would go."""
        server.kill(self.state)
        assert not self.server.healthy(), "the server still answers after SIGKILL"

    def restart(self) -> None:
        """The same server (port and data) back."""
        self.server = server.start(self.state, self.server.port, printer=print, die_with_parent=True)

    def run(self, experiment: str, run_name: str):
        """The one MLflow run called `run_name` in `experiment` (asserting there is exactly one)."""
        client = self.client()
        found = client.get_experiment_by_name(experiment)
        assert found is not None, f"no experiment {experiment!r} on the server"
        runs = client.search_runs([found.experiment_id], filter_string=f"attributes.run_name = '{run_name}'")
        assert len(runs) == 1, f"{len(runs)} runs called {run_name!r} in {experiment!r}"
        return runs[0]

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return [(m.step, m.value) for m in sorted(self.client().get_metric_history(run_id, key), key=lambda m: m.step)]


def start_tracking(state: Path, port: int | None = None) -> Tracking:
    return Tracking(state, server.start(state, port, printer=print, die_with_parent=True))


def wait_until(condition, what: str, timeout_s: float = 240.0, every_s: float = 0.2):
    """Poll `condition` until it returns something true; a generous bound, not a speed check."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


@pytest.fixture(scope="session")
def tracking(tmp_path_factory) -> Tracking:
    state = tmp_path_factory.mktemp("mlflow")
    started = start_tracking(state)
    try:
        yield started
    finally:
        server.stop(state)


@pytest.fixture
def own_tracking(tmp_path) -> Tracking:
    """A server of the test's own, for tests that kill it."""
    started = start_tracking(tmp_path / "mlflow")
    try:
        yield started
    finally:
        server.stop(started.state)
