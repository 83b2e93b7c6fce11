"""Checkpoints that survive preemption, mirrored to the bucket when modelDir is gs://.

Crash safety: TensorFlow writes a checkpoint's data and index files first and then atomically
rewrites the `checkpoint` state file that names the newest one, so a SIGKILL mid-save leaves the
previous checkpoint as the newest valid one (and a `ckpt-N_temp` directory that the next start
cleans). The bucket copy keeps the same order: data and index objects first, the state file last,
so a reader never follows it to a half-uploaded checkpoint; objects of checkpoints the state file
does not name are removed on the next start.

Only the chief keeps checkpoints. MultiWorkerMirroredStrategy wants every worker to take part in
saving, so the others save to a scratch directory that is deleted straight away.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import tensorflow as tf

from trainers.runtime import faults, storage

STATE_FILE = "checkpoint"
_NUMBERED = re.compile(r"^(ckpt-\d+)\.")


class CheckpointStore:
    def __init__(
        self,
        checkpoint: tf.train.Checkpoint,
        step: tf.Variable,
        local_dir: Path,
        remote_dir: str | None,
        is_chief: bool,
        scratch_dir: Path,
        max_to_keep: int = 3,
    ):
        self.checkpoint = checkpoint
        self.local_dir = local_dir
        self.remote_dir = remote_dir
        self.is_chief = is_chief
        self.write_dir = local_dir if is_chief else scratch_dir / "worker-checkpoints"
        self.manager = tf.train.CheckpointManager(
            checkpoint, str(self.write_dir), max_to_keep=max_to_keep, step_counter=step
        )

    def _remote_state(self):
        """The bucket's checkpoint state (downloaded to a staging dir), or None."""
        remote_state = storage.join(self.remote_dir, STATE_FILE)
        if not storage.exists(remote_state):
            return None, None
        staging = self.local_dir / ".tmp-remote-state"
        storage.download_file(remote_state, staging / STATE_FILE)
        return tf.train.get_checkpoint_state(str(staging)), staging

    def _pull_remote_latest(self) -> None:
        """Copy the bucket's newest checkpoint into local_dir when it is newer than ours, and drop
        bucket objects of checkpoints that its state file does not name (interrupted uploads)."""
        state, staging = self._remote_state()
        if state is None:
            return
        named = {Path(p).name for p in state.all_model_checkpoint_paths} | {Path(state.model_checkpoint_path).name}
        remote_names = storage.list_names(self.remote_dir)
        for name in remote_names if self.is_chief else ():
            match = _NUMBERED.match(name)
            if match and match.group(1) not in named:
                storage.delete(storage.join(self.remote_dir, name))
        remote_name = Path(state.model_checkpoint_path).name
        local_latest = tf.train.latest_checkpoint(str(self.local_dir))
        if not (local_latest and _number(Path(local_latest).name) >= _number(remote_name)):
            for name in remote_names:
                if name.startswith(remote_name + "."):
                    storage.download_file(storage.join(self.remote_dir, name), self.local_dir / name)
            # Point the local state file at the downloaded files only once they are all here.
            tf.compat.v1.train.update_checkpoint_state(str(self.local_dir), remote_name)
        shutil.rmtree(staging)

    def restore(self) -> str | None:
        """Restore the newest checkpoint (local or bucket); None when starting fresh."""
        self.local_dir.mkdir(parents=True, exist_ok=True)
        if self.remote_dir:
            self._pull_remote_latest()
        latest = tf.train.latest_checkpoint(str(self.local_dir))
        if latest is None:
            return None
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return latest

    def save(self, step: int) -> str | None:
        faults.point("checkpoint.before")
        with storage.guarded_write(f"the checkpoint of step {step} to {self.write_dir}"):  # a full disk: exit 200
            path = self.manager.save(checkpoint_number=step)
        if not self.is_chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)
            return None
        faults.point("checkpoint.saved")
        if self.remote_dir:
            self._push(path)
        return path

    def _push(self, path: str) -> None:
        name = Path(path).name
        for file in sorted(self.local_dir.glob(name + ".*")):
            storage.upload_file(file, storage.join(self.remote_dir, file.name))
            faults.point("checkpoint.uploading")
        storage.upload_file(self.local_dir / STATE_FILE, storage.join(self.remote_dir, STATE_FILE))
        kept = {Path(p).name for p in self.manager.checkpoints}
        for remote in storage.list_names(self.remote_dir):
            match = _NUMBERED.match(remote)
            if match and match.group(1) not in kept:
                storage.delete(storage.join(self.remote_dir, remote))


def _number(name: str) -> int:
    return int(name.rsplit("-", 1)[-1])
