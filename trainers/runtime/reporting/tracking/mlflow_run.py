"""The MLflow side of tracking: find or create a run's MLflow run, and say what it already holds.

A training run is found again by its run key (the tag `textjobs.run_key`, kept in the run
directory's tracking.json), never by anything this process remembers: a restarted pod, a resumed
local run and a retry after a lost answer all land on the same MLflow run. What the run already
holds is read back from the server (parameters, and each metric's logged steps), so nothing is
logged twice, even when the answer to an earlier request was lost after the server stored it.

Only the worker thread of sink.py calls this; mlflow is imported here, and so only by runs that
track.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_KEY_TAG = "textjobs.run_key"
RUN_DIR_TAG = "textjobs.run_dir"


def client(uri: str, timeout_seconds: float):
    """An MLflow client whose every request is bounded: one try of at most `timeout_seconds`; the
    sink keeps its own retry budget, so a dead server costs seconds, not MLflow's default minutes."""
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(timeout_seconds)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def is_bad_request(exc: BaseException) -> bool:
    """The server understood and refused this request (invalid data): retrying cannot help.
    Everything else (no answer, a timeout, 5xx, a proxy's page) may heal and is retried."""
    from mlflow.exceptions import RestException

    return isinstance(exc, RestException) and exc.error_code == "INVALID_PARAMETER_VALUE"


class MlflowRun:
    """One training run's MLflow run, and what the server says it already holds."""

    def __init__(self, mlflow_client, experiment: str, run_name: str, run_key: str, tags: dict[str, str]):
        self.client = mlflow_client
        self.experiment = experiment
        self.run_name = run_name
        self.run_key = run_key
        self.tags = tags
        self.run_id: str | None = None
        self.resumed = False
        self.params: dict[str, str] = {}
        self.steps: dict[str, set[int]] = {}

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            return found.experiment_id
        try:
            return self.client.create_experiment(self.experiment)
        except MlflowException as exc:  # parallel Katib trials create the same experiment at once
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return self.client.get_experiment_by_name(self.experiment).experiment_id

    def open(self) -> None:
        """Find the run by its key, or create it; read back what it holds."""
        experiment_id = self._experiment_id()
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{self.run_key}'", max_results=1
        )
        if found:
            run = found[0]
            self.resumed = True
            if run.info.status != "RUNNING":
                self.client.update_run(run.info.run_id, status="RUNNING")
        else:
            run = self.client.create_run(
                experiment_id, run_name=self.run_name, tags={**self.tags, RUN_KEY_TAG: self.run_key}
            )
        self.run_id = run.info.run_id
        self.params = dict(run.data.params)
        # A metric's latest value is listed in the run; its history says which steps it has.
        self.steps = {
            key: {m.step for m in self.client.get_metric_history(self.run_id, key)} for key in run.data.metrics
        }

    def has(self, key: str, step: int) -> bool:
        return step in self.steps.get(key, ())

    def log(self, metrics: list[tuple[str, float, int, int]], params: dict[str, str], tags: dict[str, str]) -> None:
        """One atomic batch: (key, value, timestamp ms, step) metrics, parameters and tags."""
        from mlflow.entities import Metric, Param, RunTag

        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, v, ts, step) for k, v, ts, step in metrics],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for key, _, _, step in metrics:
            self.steps.setdefault(key, set()).add(step)
        self.params.update(params)

    def upload(self, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def finished(self) -> None:
        self.client.set_terminated(self.run_id, "FINISHED")
