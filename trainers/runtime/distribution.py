"""Choose the distribution strategy from TF_CONFIG, the way the Training Operator sets it.

No TF_CONFIG (a single-pod TFJob, or a local run): MirroredStrategy over the local GPUs, or the
CPU. TF_CONFIG with chief and workers: MultiWorkerMirroredStrategy. The strategy must exist
before any other TensorFlow op runs in the process, so `parse_tf_config` is pure Python and
`create_strategy` is the first TF call the trainer makes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from trainers.runtime.errors import ConfigError

SUPPORTED_TYPES = ("chief", "worker")


class ClusterError(ConfigError):
    """TF_CONFIG that cannot describe a MultiWorkerMirroredStrategy job (permanent)."""


@dataclass(frozen=True)
class Role:
    task_type: str  # "local" when there is no cluster
    task_index: int
    num_workers: int  # processes that train: chief plus workers
    has_chief: bool = False
    # This process's host:port and the other processes' (name, host:port), for the rendezvous.
    address: str = ""
    peers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def is_chief(self) -> bool:
        """The chief, or worker 0 when a cluster has no chief; it alone writes outputs."""
        return self.task_type in ("local", "chief") or (
            self.task_type == "worker" and self.task_index == 0 and not self.has_chief
        )

    @property
    def name(self) -> str:
        return "local" if self.task_type == "local" else f"{self.task_type}-{self.task_index}"


def _cluster_and_task(text: str) -> tuple[dict, str, int]:
    try:
        tf_config = json.loads(text)
        cluster, task = tf_config["cluster"], tf_config["task"]
        task_type, raw_index = task["type"], task["index"]
        task_index = int(raw_index)
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"TF_CONFIG is not valid JSON with cluster and task: {exc}") from None
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise ClusterError("TF_CONFIG cluster must map replica types to lists of host:port addresses")
    if isinstance(raw_index, bool) or task_index < 0 or str(raw_index).strip() != str(task_index):
        raise ClusterError(f"TF_CONFIG task index {raw_index!r} must be a non-negative integer")
    return cluster, task_type, task_index


def parse_tf_config(text: str | None) -> Role:
    if not text:
        return Role("local", 0, 1)
    cluster, task_type, task_index = _cluster_and_task(text)
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
    _refuse_shared_addresses(cluster)
    num_workers = sum(len(cluster.get(t, [])) for t in SUPPORTED_TYPES)
    if num_workers == 1:
        return Role("local", 0, 1)
    peers = tuple(
        (f"{kind}-{i}", address)
        for kind in SUPPORTED_TYPES
        for i, address in enumerate(cluster.get(kind, []))
        if (kind, i) != (task_type, task_index)
    )
    address = str(cluster[task_type][task_index])
    return Role(task_type, task_index, num_workers, bool(cluster.get("chief")), address, peers)


def _refuse_shared_addresses(cluster: dict) -> None:
    """Two members at one host:port never meet: the strategy would wait forever, silently."""
    seen: dict[str, str] = {}
    for kind in SUPPORTED_TYPES:
        for i, address in enumerate(cluster.get(kind, [])):
            member = f"{kind}-{i}"
            key = str(address).strip().lower()
            if key in seen:
                raise ClusterError(
                    f"TF_CONFIG gives {seen[key]} and {member} the same address {address}; each member needs its own"
                )
            seen[key] = member


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
        value = int(text)
    except ValueError:
        raise ClusterError(f"TEXTJOBS_CPU_REPLICAS={text!r} is not an integer") from None
    if not 0 <= value <= 64:
        raise ClusterError(f"TEXTJOBS_CPU_REPLICAS={text!r} must be between 0 and 64")
    return value
