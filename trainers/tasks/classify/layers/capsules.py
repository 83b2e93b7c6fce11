"""Capsule layers for text, after Zhao et al. 2018, "Investigating Capsule Networks with
Dynamic Routing for Text Classification" (and the authors' TensorFlow code).

Shapes use B batch, T positions, P/C capsule types, N input capsules, K classes, D pose size.
Routing runs in float32 even under mixed precision: the iterative softmax and squash lose too
much in float16, and these layers are small next to the embedding and convolutions.
"""

from __future__ import annotations

import keras
from keras import layers, ops

EPSILON = 1e-7


def squash(vectors, axis=-1):
    """Shrink each vector to length ||s||^2 / (1 + ||s||^2) < 1, keeping its direction."""
    squared_norm = ops.sum(ops.square(vectors), axis=axis, keepdims=True)
    scale = squared_norm / (1.0 + squared_norm) / ops.sqrt(squared_norm + EPSILON)
    return vectors * scale


def leaky_softmax(logits, axis=-1):
    """Softmax with an extra all-zero 'orphan' logit, which is then dropped.

    Words that fit no class (stop words, noise) can send their vote to the orphan category, so
    the coefficients over real classes sum to less than 1. Written in closed form,
    exp(l - m) / (exp(-m) + sum exp(l - m)) with m = max(0, max l), rather than by concatenating
    an orphan column: routing runs this on every vote each iteration, and the concatenate and
    slice cost about 15% of a convolutional-capsule layer's step under XLA on CPU.
    """
    shift = ops.maximum(ops.max(logits, axis=axis, keepdims=True), 0.0)
    exps = ops.exp(logits - shift)
    return exps / (ops.exp(-shift) + ops.sum(exps, axis=axis, keepdims=True))


def dynamic_routing(votes, iterations, leaky=True, bias=None, return_coupling=False):
    """Routing by agreement.

    votes: [..., N_in, N_out, D], each input capsule's prediction for each output capsule.
    Returns the output capsules [..., N_out, D] (and the final coupling coefficients
    [..., N_in, N_out] when asked).
    """
    logits = ops.zeros(ops.shape(votes)[:-1], dtype=votes.dtype)
    route = leaky_softmax if leaky else ops.softmax
    outputs = coupling = None
    for i in range(iterations):
        coupling = route(logits, axis=-1)
        weighted = ops.einsum("...nk,...nkd->...kd", coupling, votes)
        if bias is not None:
            weighted = weighted + bias
        outputs = squash(weighted)
        if i < iterations - 1:
            agreement = ops.einsum("...nkd,...kd->...nk", votes, outputs)
            logits = logits + agreement
    return (outputs, coupling) if return_coupling else outputs


@keras.saving.register_keras_serializable("textjobs")
class PrimaryCapsules(layers.Layer):
    """A 1x1 convolution to P capsule types of D dims at every position: [B,T,F] -> [B,T,P,D]."""

    def __init__(self, capsule_types=16, capsule_dim=16, **kwargs):
        super().__init__(**kwargs)
        self.capsule_types = int(capsule_types)
        self.capsule_dim = int(capsule_dim)
        self.project = layers.Dense(
            self.capsule_types * self.capsule_dim, kernel_initializer="he_normal", name="project"
        )

    def build(self, input_shape):
        self.project.build(input_shape)
        self.built = True

    def call(self, inputs):
        poses = self.project(inputs)
        shape = ops.shape(poses)
        poses = ops.reshape(poses, (shape[0], shape[1], self.capsule_types, self.capsule_dim))
        return squash(ops.cast(poses, "float32"))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.capsule_types, self.capsule_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "capsule_types": self.capsule_types,
            "capsule_dim": self.capsule_dim,
        }


def _transformation_initializer(in_dim: int):
    """Votes keep the scale of their input capsule: stddev 1/sqrt(in_dim) per matrix entry.

    Glorot on these kernels would count every output capsule into the fan-out and start the
    network with votes so small that repeated squashing (quadratic near zero) kills the signal.
    """
    return keras.initializers.RandomNormal(stddev=in_dim**-0.5)


@keras.saving.register_keras_serializable("textjobs")
class ConvCapsules(layers.Layer):
    """Capsule convolution over time: each output position routes the W*P capsules of its
    window to C capsule types. [B,T,P,D] -> [B,T-W+1,C,D].

    shared=True is the authors' code: one transformation matrix [D, C*D] for every input
    capsule, so each capsule is transformed once and the windows are cut from the votes
    afterwards. shared=False gives each window offset and input capsule type its own matrix,
    like the kernel of an ordinary convolution: still the same at every position, but a
    capsule's type and place in the window now shape its vote.
    """

    def __init__(self, capsule_types=16, capsule_dim=16, window=3, iterations=3, leaky=True, shared=True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.capsule_types = int(capsule_types)
        self.capsule_dim = int(capsule_dim)
        self.window = int(window)
        self.iterations = int(iterations)
        self.leaky = bool(leaky)
        self.shared = bool(shared)

    def build(self, input_shape):
        _, _, in_types, in_dim = input_shape
        self.in_types = in_types
        shape = (in_dim, self.capsule_types, self.capsule_dim)
        if not self.shared:
            shape = (self.window, in_types, *shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=_transformation_initializer(in_dim),
        )
        self.bias = self.add_weight(name="bias", shape=(self.capsule_types, self.capsule_dim), initializer="zeros")
        self.built = True

    def call(self, inputs):
        steps = ops.shape(inputs)[1] - self.window + 1
        if self.shared:
            votes = ops.einsum("btpd,dce->btpce", inputs, self.kernel)  # [B,T,P,C,D]
            # [B,T',W*P,C,D]: the window's capsules become this position's routing inputs.
            windows = ops.concatenate([votes[:, i : i + steps] for i in range(self.window)], axis=2)
        else:
            windows = self._unshared_votes(inputs, steps)
        return dynamic_routing(windows, self.iterations, self.leaky, self.bias)

    def _unshared_votes(self, inputs, steps):
        """[B,T,P,D] -> [B,T',W*P,C,D]: offset i's capsule of type p at position t+i is
        transformed by kernel[i, p]. The windows are cut from the (small) inputs, and the W*P
        transforms run as one batched matmul with the window slot leading: about 1.6x faster
        under XLA on CPU, gradients included, than one einsum over [B,T,W,P,C,D] votes.
        """
        batch, _, in_types, in_dim = ops.shape(inputs)
        slots = self.window * in_types
        windows = ops.stack([inputs[:, i : i + steps] for i in range(self.window)], axis=0)  # [W,B,T',P,D]
        windows = ops.reshape(ops.transpose(windows, (0, 3, 1, 2, 4)), (slots, -1, in_dim))  # [W*P,B*T',D]
        kernel = ops.reshape(self.kernel, (slots, in_dim, self.capsule_types * self.capsule_dim))
        votes = ops.matmul(windows, kernel)  # [W*P, B*T', C*D]
        votes = ops.reshape(votes, (slots, batch, steps, self.capsule_types, self.capsule_dim))
        return ops.transpose(votes, (1, 2, 0, 3, 4))

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] - self.window + 1
        return (input_shape[0], steps, self.capsule_types, self.capsule_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "capsule_types": self.capsule_types,
            "capsule_dim": self.capsule_dim,
            "window": self.window,
            "iterations": self.iterations,
            "leaky": self.leaky,
            "shared": self.shared,
        }


@keras.saving.register_keras_serializable("textjobs")
class ClassCapsules(layers.Layer):
    """Fully connected capsules: every input capsule routes to K class capsules.

    shared=True (the authors' code): one transformation matrix for all input capsules,
    [B,N,D] -> [B,K,D]. shared=False: one matrix per input capsule type, shared over positions,
    [B,T,P,D] -> [B,K,D]. Either way the parameter count is independent of sentence length.
    """

    def __init__(self, num_classes, capsule_dim=16, iterations=3, leaky=True, shared=True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.capsule_dim = int(capsule_dim)
        self.iterations = int(iterations)
        self.leaky = bool(leaky)
        self.shared = bool(shared)

    def build(self, input_shape):
        shape = (input_shape[-1], self.num_classes, self.capsule_dim)
        if not self.shared:
            shape = (input_shape[-2], *shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=_transformation_initializer(input_shape[-1]),
        )
        self.bias = self.add_weight(name="bias", shape=(self.num_classes, self.capsule_dim), initializer="zeros")
        self.built = True

    def call(self, inputs, return_coupling=False):
        if self.shared:
            votes = ops.einsum("bnd,dke->bnke", inputs, self.kernel)
        else:
            votes = ops.einsum("btpd,pdke->btpke", inputs, self.kernel)
            shape = ops.shape(votes)
            votes = ops.reshape(votes, (shape[0], -1, self.num_classes, self.capsule_dim))
        return dynamic_routing(votes, self.iterations, self.leaky, self.bias, return_coupling)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes, self.capsule_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "capsule_dim": self.capsule_dim,
            "iterations": self.iterations,
            "leaky": self.leaky,
            "shared": self.shared,
        }


@keras.saving.register_keras_serializable("textjobs")
class CapsuleLength(layers.Layer):
    """A capsule's length is the probability that its entity is present: [B,K,D] -> [B,K]."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        return ops.sqrt(ops.sum(ops.square(inputs), axis=-1) + EPSILON)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]


@keras.saving.register_keras_serializable("textjobs")
class PositionMask(layers.Layer):
    """Which outputs of a window/stride convolution see at least one real token.

    Input: token ids [B, L] (0 is padding) or a previous mask [B, L] of 0/1. Output: [B, T] of 0/1
    for a 'valid' convolution of that window and stride.
    """

    def __init__(self, window, stride=1, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.window = int(window)
        self.stride = int(stride)

    def call(self, inputs):
        present = ops.cast(ops.not_equal(inputs, 0), "float32")
        pooled = ops.max_pool(ops.expand_dims(present, -1), self.window, self.stride, padding="valid")
        return ops.squeeze(pooled, -1)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else (input_shape[1] - self.window) // self.stride + 1
        return (input_shape[0], steps)

    def get_config(self):
        return {**super().get_config(), "window": self.window, "stride": self.stride}


@keras.saving.register_keras_serializable("textjobs")
class MaskPositions(layers.Layer):
    """Zero the capsules [B, T, C, D] at positions the mask [B, T] marks as padding.

    Zero capsules cast zero votes, so padding cannot outvote the words: without this, a 10-word
    question padded to 50 tokens would be mostly padding capsules.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        capsules, mask = inputs
        return capsules * ops.cast(mask, capsules.dtype)[:, :, None, None]

    def compute_output_shape(self, input_shape):
        return input_shape[0]
