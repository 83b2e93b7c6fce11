"""Choose the distribution strategy from TF_CONFIG, the way the Training Operator sets it.

No TF_CONFIG (a single-pod TFJob, or a local run): MirroredStrategy over the local GPUs, or the
CPU. TF_CONFIG with chief and workers: MultiWorkerMirroredStrategy. The strategy must exist
before any other TensorFlow op runs in the process, so `parse_tf_config` is pure Python and
`create_strategy` is the first TF call the trainer makes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

SUPPORTED_TYPES = ("chief", "worker")


class ClusterError(ValueError):
    pass


@dataclass(frozen=True)
class Role:
    task_type: str  # "local" when there is no cluster
    task_index: int
    num_workers: int  # processes that train: chief plus workers

    @property
    def is_chief(self) -> bool:
        """The chief, or worker 0 when a cluster has no chief; it alone writes outputs."""
        return self.task_type in ("local", "chief") or (
            self.task_type == "worker" and self.task_index == 0 and not self.has_chief
        )

    has_chief: bool = False

    @property
    def name(self) -> str:
        return "local" if self.task_type == "local" else f"{self.task_type}-{self.task_index}"


def parse_tf_config(text: str | None) -> Role:
    if not text:
        return Role("local", 0, 1)
    try:
        tf_config = json.loads(text)
        cluster, task = tf_config["cluster"], tf_config["task"]
        task_type, task_index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"TF_CONFIG is not valid JSON with cluster and task: {exc}") from None
    unsupported = sorted(set(cluster) - set(SUPPORTED_TYPES))
    if unsupported:
        raise ClusterError(
            f"TF_CONFIG has {', '.join(unsupported)} replicas; MultiWorkerMirroredStrategy jobs "
            "use Chief and Worker replicas only (remove PS and Evaluator from the TFJob)"
        )
    if len(cluster.get("chief", [])) > 1:
        raise ClusterError("TF_CONFIG has more than one chief")
    if task_type not in cluster or task_index >= len(cluster[task_type]):
        raise ClusterError(f"TF_CONFIG task {task_type}:{task_index} is not in its cluster")
    num_workers = sum(len(cluster.get(t, [])) for t in SUPPORTED_TYPES)
    if num_workers == 1:
        return Role("local", 0, 1)
    return Role(task_type, task_index, num_workers, has_chief=bool(cluster.get("chief")))


def create_strategy(role: Role, cpu_replicas: int = 0):
    """Create the strategy. cpu_replicas > 1 splits the CPU into that many logical devices
    (TEXTJOBS_CPU_REPLICAS), which lets a laptop or CI exercise MirroredStrategy for real."""
    import tensorflow as tf

    if cpu_replicas > 1 and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_replicas)]
        )
    if role.task_type == "local":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def cpu_replicas_from_env() -> int:
    text = os.environ.get("TEXTJOBS_CPU_REPLICAS", "0")
    try:
        return int(text)
    except ValueError:
        raise ClusterError(f"TEXTJOBS_CPU_REPLICAS={text!r} is not an integer") from None
