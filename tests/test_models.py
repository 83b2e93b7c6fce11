import keras
import numpy as np
import pytest

from trainers.runtime import keyset
from trainers.tasks import registry
from trainers.tasks.classify.keys import MODEL_TYPES
from trainers.tasks.classify.models import build_model
from trainers.tasks.classify.text import Vectorizer, build_vocabulary

TINY = {
    "embeddingDim": "8",
    "numFilters": "4",
    "capsuleFilters": "4",
    "capsuleDim": "4",
    "primaryCapsules": "2",
    "convCapsules": "2",
    "maxLength": "16",
}


def tiny_config(model_type, **extra):
    return keyset.parse_values([("test", {**TINY, "modelType": model_type, **extra})], registry())


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("multi_label", ["false", "true"])
def test_models_map_ids_to_scores_in_unit_interval(model_type, multi_label):
    model = build_model(tiny_config(model_type, multiLabel=multi_label), vocabulary_size=50, num_classes=3)
    scores = keras.ops.convert_to_numpy(model(np.random.default_rng(0).integers(0, 50, (4, 16))))
    assert scores.shape == (4, 3)
    assert np.all((scores >= 0) & (scores <= 1))
    if model_type in ("cnn", "kimcnn") and multi_label == "false":
        np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)


def test_kimcnn_has_three_widths_of_100_filters():
    cfg = keyset.parse_values([("t", {"modelType": "kimcnn", "maxLength": "16", "embeddingDim": "8"})], registry())
    model = build_model(cfg, 50, 2)
    ngram = model.get_layer("ngram_conv")
    assert ngram.ngram_sizes == (3, 4, 5) and ngram.filters == 100
    assert model.get_layer("dropout").rate == 0.5


def test_shared_transform_switches_the_capsule_kernels():
    unshared = build_model(tiny_config("capsule-a"), 50, 3).get_layer("class_capsules3")
    shared = build_model(tiny_config("capsule-a", sharedTransform="true"), 50, 3).get_layer("class_capsules3")
    assert not unshared.shared and tuple(unshared.kernel.shape) == (2, 4, 3, 4)  # per conv capsule type
    assert shared.shared and tuple(shared.kernel.shape) == (4, 3, 4)


def test_capsule_b_averages_three_branches_and_capsule_a_has_one():
    b = build_model(tiny_config("capsule-b"), 50, 3)
    assert {layer.name for layer in b.layers if layer.name.startswith("class_capsules")} == {
        "class_capsules3",
        "class_capsules4",
        "class_capsules5",
    }
    a = build_model(tiny_config("capsule-a"), 50, 3)
    assert [layer.name for layer in a.layers if layer.name.startswith("class_capsules")] == ["class_capsules3"]


@pytest.mark.parametrize(
    "model_type, extra",
    [(m, {}) for m in MODEL_TYPES] + [("capsule-b", {"sharedTransform": "true"})],
)
def test_model_round_trips_through_keras_file(model_type, extra, tmp_path):
    model = build_model(tiny_config(model_type, **extra), 50, 3)
    ids = np.random.default_rng(1).integers(0, 50, (2, 16))
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(ids)), keras.ops.convert_to_numpy(model(ids)), rtol=1e-5
    )


def test_loaded_embeddings_are_used_and_can_be_frozen():
    weights = np.arange(50 * 8, dtype="float32").reshape(50, 8) / 400
    model = build_model(tiny_config("cnn", embeddingsTrainable="false"), 50, 2, weights)
    embedding = model.get_layer("embedding")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(embedding.embeddings), weights)
    assert not embedding.trainable


def test_vectorizer_tokenizes_pads_and_maps_unknown_words():
    vocabulary = build_vocabulary(["the film was good .", "the film was bad"], max_size=100)
    assert vocabulary[:4] == ["<pad>", "<oov>", "film", "the"]
    ids = Vectorizer(vocabulary, max_length=6)(np.array(["The FILM, unseenword", "good"])).numpy()
    assert ids.shape == (2, 6)
    # "," and "unseenword" never occur in training: both are out-of-vocabulary (1); then padding.
    assert ids[0].tolist() == [vocabulary.index("the"), vocabulary.index("film"), 1, 1, 0, 0]
    assert ids[1].tolist() == [vocabulary.index("good"), 0, 0, 0, 0, 0]


@pytest.mark.parametrize("shared", [True, False])
def test_masked_capsules_cast_no_votes(shared):
    """Zeroed (padding) capsules leave the class capsules exactly as they were, which is why
    masking padding positions makes capsule scores independent of how much padding follows."""
    from trainers.tasks.classify.layers import ClassCapsules

    layer = ClassCapsules(num_classes=3, capsule_dim=4, iterations=3, shared=shared)
    words = np.random.default_rng(4).normal(size=(2, 6, 2, 4)).astype("float32")  # [B, T, P, D]
    padded = np.concatenate([words, np.zeros((2, 30, 2, 4), dtype="float32")], axis=1)
    if shared:  # the shared layer takes the capsules flattened
        words, padded = words.reshape(2, -1, 4), padded.reshape(2, -1, 4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(padded)), keras.ops.convert_to_numpy(layer(words)), rtol=1e-5, atol=1e-6
    )


def test_capsule_model_masks_padding_positions():
    cfg = tiny_config("capsule-a", maxLength="24", dropout="0")
    model = build_model(cfg, vocabulary_size=50, num_classes=3)
    ids = np.zeros((1, 24), dtype="int64")
    ids[0, :5] = [5, 6, 7, 8, 9]
    # A randomly initialised ReLU convolution can output all zeros for the padding window (it
    # happened in CI), which would leave the mask nothing to remove: a zero kernel and a bias of one
    # make every window, padding included, feed the capsules the same non-zero features.
    conv = model.get_layer("conv3")
    kernel, bias = conv.get_weights()
    conv.set_weights([np.zeros_like(kernel), np.ones_like(bias)])
    probe = keras.Model(model.input, [model.get_layer("primary3").output, model.get_layer("mask_primary3").output])
    unmasked, masked = (keras.ops.convert_to_numpy(t)[0] for t in probe(ids))
    # Windows of 3 with stride 2 start at 0, 2, 4, ...: those three see words and pass unchanged;
    # the rest see only padding and are zeroed.
    np.testing.assert_array_equal(masked[:3], unmasked[:3])
    assert np.abs(unmasked[3:]).max() > 0, "padding windows must carry something for the mask to remove"
    assert np.all(masked[3:] == 0)


def test_position_mask_matches_valid_convolution_geometry():
    from trainers.tasks.classify.layers import PositionMask

    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0]])
    mask = keras.ops.convert_to_numpy(PositionMask(3, 2)(ids))
    assert mask.tolist() == [[1.0, 1.0, 0.0, 0.0]]  # windows [0:3], [2:5] see words; [4:7], [6:9] do not
