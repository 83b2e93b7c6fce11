"""Magnitude pruning during training, for every task (Zhu & Gupta 2017, "To prune, or not to prune").

Keys (runtime/keys.py): `pruneSparsity` (the target fraction of zeros in each pruned kernel; 0 =
off), `pruneBeginStep`, `pruneEndStep` (0 = the run's last step), `pruneEvery` (steps between mask
updates) and `pruneLayers` (which kernels). From `pruneBeginStep` to `pruneEndStep` the sparsity
follows the cubic schedule

    s(t) = s_f * (1 - (1 - (t - t_0) / (t_end - t_0)) ** 3)

updated every `pruneEvery` steps and at the end step; after the end step it stays at s_f. At each
update every pruned kernel's mask zeroes exactly round(s(t) * size) of its weights, those of the
smallest magnitude (ties broken by position, so every worker chooses the same ones).

What is pruned, by layer type (`pruneLayers`, default all four): `dense` (Dense and EinsumDense
kernels, attention projections included), `conv` (every Keras convolution's kernel), `embedding`
(Embedding tables), `recurrent` (the input and recurrent kernels of GRU, LSTM and SimpleRNN
cells). Never biases, normalization scales and offsets, or the weights a task's own layer creates
(capsule transforms): those are few, and pruning them buys nothing but damage. Frozen
(non-trainable) weights are left alone.

How it stays exact: each mask is a non-trainable variable (saved in the checkpoints under the
`actions` key), applied after every optimizer step (Adam moves a zeroed weight off zero again).
`after_step` runs outside `strategy.run`, in cross-replica context, so assigning a mirrored
variable writes the same value to every replica; the masks are computed from the replicas'
identical weights by a deterministic rule, so every worker of a MultiWorkerMirroredStrategy job
computes the same masks without a collective. The export holds the pruned weights.
"""

from __future__ import annotations

from trainers.runtime.config import ConfigError
from trainers.runtime.training.actions import FACTORIES, Action

LAYER_KINDS = ("dense", "conv", "embedding", "recurrent")
# The weight names (Keras 3 `Variable.name`) pruned in each kind of layer.
_KERNELS = {"kernel", "embeddings", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel"}


def sparsity_at(step: int, target: float, begin: int, end: int) -> float:
    """The scheduled sparsity after optimizer step `step` (cubic, Zhu & Gupta 2017)."""
    if step <= begin:
        return 0.0
    if step >= end:
        return target
    progress = (step - begin) / (end - begin)
    return target * (1.0 - (1.0 - progress) ** 3)


def update_due(step: int, begin: int, end: int, every: int) -> bool:
    """Masks are recomputed every `every` steps from `begin` on, and at `end`."""
    return begin < step <= end and ((step - begin) % every == 0 or step == end)


def parse_layers(text: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [k for k in kinds if k not in LAYER_KINDS]
    if unknown or not kinds:
        raise ValueError(f"must list some of {', '.join(LAYER_KINDS)} (comma-separated); unknown: {unknown}")
    return kinds


def _layer_kind(layer) -> str | None:
    from keras import layers

    if isinstance(layer, layers.Dense | layers.EinsumDense):
        return "dense"
    if isinstance(layer, layers.Embedding):
        return "embedding"
    if isinstance(layer, layers.GRUCell | layers.LSTMCell | layers.SimpleRNNCell):
        return "recurrent"
    # Every Keras convolution derives from a Base*Conv* class (BaseConv, BaseDepthwiseConv, ...).
    if any(c.__name__.startswith("Base") and "Conv" in c.__name__ for c in type(layer).__mro__):
        return "conv"
    return None


def prunable_weights(model, kinds: tuple[str, ...]) -> list:
    """The model's trainable kernels of the chosen kinds, in a stable order, each once."""
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if _layer_kind(layer) not in kinds:
            continue
        for weight in layer.trainable_weights:
            if weight.name in _KERNELS and id(weight) not in seen:
                seen.add(id(weight))
                found.append(weight)
    return found


class Pruning(Action):
    name = "pruning"

    def __init__(self, target: float, begin: int, end: int, every: int, kinds: tuple[str, ...]):
        self.target, self.begin, self.end, self.every, self.kinds = target, begin, end, every, kinds
        self.weights: list = []
        self.masks: list = []

    def build(self, model, optimizer, strategy) -> None:
        import tensorflow as tf

        self.weights = prunable_weights(model, self.kinds)
        if not self.weights:
            raise ConfigError(
                f"pruneSparsity={self.target!r}: the model has no {'/'.join(self.kinds)} kernels to prune (pruneLayers)"
            )
        # Inside strategy.scope() (the trainer calls build there): the masks are mirrored.
        self.masks = [
            tf.Variable(tf.ones(w.shape, w.dtype), trainable=False, name=f"prune_mask_{i}")
            for i, w in enumerate(self.weights)
        ]
        self.sizes = [int(tf.size(w.value)) for w in self.weights]
        raw = [w.value for w in self.weights]  # the tf.Variables (mirrored under a strategy)

        @tf.function
        def recompute(zeros):
            for i, (weight, mask) in enumerate(zip(raw, self.masks, strict=True)):
                flat = tf.reshape(tf.abs(weight), [-1])
                # Each weight's rank by magnitude; a stable sort breaks ties by position.
                order = tf.argsort(flat, stable=True)
                rank = tf.scatter_nd(order[:, None], tf.range(tf.size(flat)), tf.shape(flat))
                mask.assign(tf.reshape(tf.cast(rank >= zeros[i], mask.dtype), tf.shape(mask)))

        @tf.function
        def apply():
            for weight, mask in zip(raw, self.masks, strict=True):
                weight.assign(weight * mask)

        self._recompute, self._apply = recompute, apply

    def variables(self) -> list:
        return list(self.masks)

    def zeros_at(self, step: int) -> list[int]:
        """How many weights of each pruned kernel the mask zeroes at `step`."""
        sparsity = sparsity_at(step, self.target, self.begin, self.end)
        return [int(round(sparsity * size)) for size in self.sizes]

    def after_step(self, step: int) -> None:
        import tensorflow as tf

        if update_due(step, self.begin, self.end, self.every):
            self._recompute(tf.constant(self.zeros_at(step), tf.int32))
        if step > self.begin:
            self._apply()

    def sparsity(self) -> float:
        """The fraction of pruned-kernel weights the masks zero now."""
        import numpy as np

        zeros = sum(int(np.sum(m.numpy() == 0)) for m in self.masks)
        return zeros / max(sum(self.sizes), 1)

    def epoch_metrics(self) -> dict[str, float]:
        return {"sparsity": self.sparsity()}


def from_config(cfg, total_steps: int) -> Pruning | None:
    if cfg.prune_sparsity <= 0:
        return None
    end = cfg.prune_end_step or total_steps
    if end > total_steps:
        raise cfg.error(
            "pruneEndStep", f"is after the run's last step ({total_steps}): the target would never be reached"
        )
    if end <= cfg.prune_begin_step:
        raise cfg.error("pruneBeginStep", f"must be before the end of pruning (step {end})")
    return Pruning(cfg.prune_sparsity, cfg.prune_begin_step, end, cfg.prune_every, parse_layers(cfg.prune_layers))


FACTORIES.append(from_config)
