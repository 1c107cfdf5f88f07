"""The one preprocessing that training, evaluation and serving share."""

from __future__ import annotations

import numpy as np
import torch

from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.serving import export_servable
from pytorch_intro.training import predict_logits, to_tensors
from pytorch_intro.training.objectives import class_probabilities


def test_normalisation_maps_0_127_5_255_to_minus_1_0_1():
    pixels = np.array([0.0, 127.5, 255.0]).reshape(1, 1, 3)
    np.testing.assert_allclose(preprocess("pixels", pixels).ravel(), [-1.0, 0.0, 1.0])


def test_normalisation_of_uint8_images_adds_a_channel_and_matches_the_formula():
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = preprocess("pixels", images)
    assert out.shape == (1, 1, 16, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out.ravel(), np.arange(256) / 127.5 - 1, atol=1e-6)
    assert out.min() == -1.0 and out.max() == 1.0
    # float pixels give the same numbers as uint8 ones (a user's float32 images)
    assert np.array_equal(preprocess("pixels", images.astype(np.float32)), out)


def test_polar_transform_in_all_four_quadrants_and_at_the_origin():
    points = np.array(
        [[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [0.0, 0.0], [-2.0, 0.0]]
    )
    polar = preprocess("polar", points)
    assert polar.dtype == np.float64
    r, phi = polar.T
    np.testing.assert_allclose(r, [np.sqrt(2)] * 4 + [0.0, 2.0])
    np.testing.assert_allclose(
        phi, [np.pi / 4, 3 * np.pi / 4, -3 * np.pi / 4, -np.pi / 4, 0.0, np.pi]
    )
    assert np.isfinite(polar).all()
    # the inverse recovers the points
    np.testing.assert_allclose(
        np.stack([r * np.cos(phi), r * np.sin(phi)], 1), points, atol=1e-12
    )


def test_the_exported_servable_applies_the_training_preprocessing():
    """Raw inputs through the servable == the pipeline's preprocessing, then the
    network, then the probabilities (digits and polar points)."""
    rng = np.random.default_rng(0)
    cases = {
        "pixels": (
            ModelConfig(
                name="cnn",
                in_channels=1,
                channels=[4, 8],
                kernel_size=3,
                out_features=10,
            ),
            rng.integers(0, 256, (5, 28, 28)).astype(np.uint8),
        ),
        "polar": (
            ModelConfig(name="linear", in_features=2, out_features=1),
            rng.normal(0, 8, (7, 2)),
        ),
    }
    for features, (config, raw) in cases.items():
        torch.manual_seed(0)
        model = build_model(config).eval()
        servable = export_servable(model, features, raw, "any")
        samples, _ = to_tensors(preprocess(features, raw), np.zeros(len(raw)))
        expected = class_probabilities(predict_logits(model, samples)).numpy()
        got = servable.predict(raw.astype(np.float32))
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        assert got.shape == (len(raw), 10 if features == "pixels" else 2)
