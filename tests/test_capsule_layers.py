import keras
import numpy as np
import pytest
from keras import ops

from trainers.tasks.classify.layers import (
    CapsuleLength,
    ClassCapsules,
    ConvCapsules,
    PrimaryCapsules,
    dynamic_routing,
    leaky_softmax,
    squash,
)

rng = np.random.default_rng(0)


def test_squash_keeps_direction_and_maps_norm_below_one():
    vectors = rng.normal(size=(64, 8)).astype("float32") * rng.uniform(0.01, 50, size=(64, 1)).astype("float32")
    out = ops.convert_to_numpy(squash(vectors))
    norms_in = np.linalg.norm(vectors, axis=-1)
    norms_out = np.linalg.norm(out, axis=-1)
    assert np.all(norms_out < 1.0)
    np.testing.assert_allclose(norms_out, norms_in**2 / (1 + norms_in**2), rtol=1e-4)
    cosine = np.sum(out * vectors, -1) / (norms_in * norms_out)
    np.testing.assert_allclose(cosine, 1.0, rtol=1e-5)


def test_leaky_softmax_leaves_room_for_the_orphan():
    logits = rng.normal(size=(5, 7, 3)).astype("float32")
    coupling = ops.convert_to_numpy(leaky_softmax(logits))
    total = coupling.sum(-1)
    assert np.all(total < 1.0)
    orphan = 1.0 / (1.0 + np.exp(logits).sum(-1))  # softmax weight of the zero logit
    np.testing.assert_allclose(total + orphan, 1.0, rtol=1e-5)


def test_leaky_softmax_is_stable_for_large_logits():
    logits = np.array([[100.0, 90.0, -5.0], [-100.0, -120.0, -90.0]], dtype="float32")
    coupling = ops.convert_to_numpy(leaky_softmax(logits))
    assert np.all(np.isfinite(coupling))
    np.testing.assert_allclose(coupling[0], [1 / (1 + np.exp(-10.0)), 1 / (1 + np.exp(10.0)), 0.0], atol=1e-6)
    np.testing.assert_allclose(coupling[1], 0.0, atol=1e-30)  # everything goes to the orphan


@pytest.mark.parametrize("leaky", [False, True])
def test_routing_coupling_coefficients_sum_to_one(leaky):
    votes = rng.normal(size=(2, 6, 4, 5)).astype("float32")  # [B, N_in, N_out, D]
    outputs, coupling = dynamic_routing(votes, iterations=3, leaky=leaky, return_coupling=True)
    coupling = ops.convert_to_numpy(coupling)
    assert ops.shape(outputs) == (2, 4, 5)
    assert np.all(coupling >= 0)
    if leaky:
        assert np.all(coupling.sum(-1) < 1.0)
    else:
        np.testing.assert_allclose(coupling.sum(-1), 1.0, rtol=1e-5)


def test_routing_prefers_the_output_that_inputs_agree_on():
    # Every input votes the same vector for output 0 and noise for output 1.
    agreed = np.tile([[1.0, 0.0, 0.0]], (8, 1))
    noise = rng.normal(size=(8, 3))
    votes = np.stack([agreed, noise], axis=1)[None].astype("float32")
    _, coupling = dynamic_routing(votes, iterations=3, leaky=False, return_coupling=True)
    coupling = ops.convert_to_numpy(coupling)[0]
    assert coupling[:, 0].mean() > coupling[:, 1].mean()


def test_capsule_layer_shapes():
    features = rng.normal(size=(2, 10, 12)).astype("float32")
    primary = PrimaryCapsules(capsule_types=4, capsule_dim=6)(features)
    assert ops.shape(primary) == (2, 10, 4, 6)
    conv = ConvCapsules(capsule_types=3, capsule_dim=5, window=3, iterations=2)(primary)
    assert ops.shape(conv) == (2, 8, 3, 5)
    flat = ops.reshape(conv, (2, -1, 5))
    classes = ClassCapsules(num_classes=4, capsule_dim=7)(flat)
    assert ops.shape(classes) == (2, 4, 7)
    lengths = ops.convert_to_numpy(CapsuleLength()(classes))
    assert lengths.shape == (2, 4)
    assert np.all((lengths > 0) & (lengths < 1))


def test_unshared_transforms_keep_one_matrix_per_capsule_type():
    primary = ops.convert_to_numpy(squash(rng.normal(size=(2, 10, 4, 6)).astype("float32")))  # [B, T, P, D]
    conv = ConvCapsules(capsule_types=3, capsule_dim=5, window=3, shared=False)
    out = conv(primary)
    assert ops.shape(out) == (2, 8, 3, 5)
    assert tuple(conv.kernel.shape) == (3, 4, 6, 3, 5)  # window offset, input type, D_in, C, D
    classes = ClassCapsules(num_classes=4, capsule_dim=7, shared=False)
    assert ops.shape(classes(out)) == (2, 4, 7)
    assert tuple(classes.kernel.shape) == (3, 5, 4, 7)  # input type, D_in, K, D: position-free

    # Position-shared: the same capsules one step later give the same outputs one step later.
    shifted = np.concatenate([np.zeros_like(primary[:, :1]), primary[:, :-1]], axis=1)
    np.testing.assert_allclose(
        ops.convert_to_numpy(conv(shifted))[:, 2:], ops.convert_to_numpy(out)[:, 1:-1], rtol=1e-5, atol=1e-6
    )
    # Type-specific: swapping two input capsule types changes the result.
    swapped = primary[:, :, [1, 0, 2, 3]]
    assert not np.allclose(ops.convert_to_numpy(conv(swapped)), ops.convert_to_numpy(out), atol=1e-4)


def test_unshared_conv_capsules_apply_each_offsets_and_types_own_matrix():
    # One routing iteration leaves the coupling uniform, 1/(C+1) with the orphan, so the output is
    # squash(sum over window offsets i and input types p of kernel[i, p]^T x[t+i, p] / (C+1) + bias).
    primary = rng.normal(size=(2, 6, 3, 4)).astype("float32")  # [B, T, P, D]
    conv = ConvCapsules(capsule_types=2, capsule_dim=5, window=3, iterations=1, shared=False)
    conv.build(primary.shape)
    kernel = rng.normal(size=(3, 3, 4, 2, 5)).astype("float32")
    bias = rng.normal(size=(2, 5)).astype("float32")
    conv.set_weights([kernel, bias])
    expected = np.zeros((2, 4, 2, 5), dtype="float32")
    for t in range(4):
        for i in range(3):
            expected[:, t] += np.einsum("bpd,pdce->bce", primary[:, t + i], kernel[i]) / 3.0
    expected = ops.convert_to_numpy(squash(expected + bias))
    np.testing.assert_allclose(ops.convert_to_numpy(conv(primary)), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        PrimaryCapsules(capsule_types=4, capsule_dim=6),
        ConvCapsules(capsule_types=3, capsule_dim=5, window=2, iterations=4, leaky=False),
        ConvCapsules(capsule_types=3, capsule_dim=5, shared=False),
        ClassCapsules(num_classes=4, capsule_dim=7, iterations=2),
        ClassCapsules(num_classes=4, capsule_dim=7, shared=False),
        CapsuleLength(),
    ],
)
def test_layers_round_trip_through_get_config(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
