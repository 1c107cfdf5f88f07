import numpy as np
import pytest
from pydantic import ValidationError

from pytorch_intro.data.points import (
    PointSetError,
    PointSetGeneratorConfig,
    best_threshold,
    generate_point_sets,
    make_grid,
    validate_point_set,
)
from pytorch_intro.models.preprocessing import preprocess


def test_generator_reproduces_the_assignment_statistics():
    train, valid = generate_point_sets(PointSetGeneratorConfig(seed=0))
    assert train["samples"].shape == (2500, 2) and valid["samples"].shape == (500, 2)
    assert np.bincount(train["annotations"]).tolist() == [1250, 1250]
    assert np.bincount(valid["annotations"]).tolist() == [250, 250]
    radius = np.hypot(*train["samples"].T)
    inner, outer = radius[train["annotations"] == 0], radius[train["annotations"] == 1]
    assert inner.mean() == pytest.approx(5.0, abs=0.1)
    assert outer.mean() == pytest.approx(10.0, abs=0.1)
    assert inner.std() == pytest.approx(0.75, abs=0.06)
    assert outer.std() == pytest.approx(0.75, abs=0.06)
    # uniform angle: every quadrant holds about a quarter of each class
    angle = np.arctan2(train["samples"][:, 1], train["samples"][:, 0])
    quadrant_counts = np.histogram(angle, bins=4, range=(-np.pi, np.pi))[0]
    assert quadrant_counts.min() > 0.2 * 2500
    # classes are interleaved, not sorted
    assert 0 < train["annotations"][:100].mean() < 1


def test_generator_is_seeded():
    a, _ = generate_point_sets(PointSetGeneratorConfig(seed=3))
    b, _ = generate_point_sets(PointSetGeneratorConfig(seed=3))
    c, _ = generate_point_sets(PointSetGeneratorConfig(seed=4))
    assert np.array_equal(a["samples"], b["samples"])
    assert not np.array_equal(a["samples"], c["samples"])


def test_generator_config_names_the_bad_key():
    with pytest.raises(
        ValidationError, match=r"n_train\n  Input should be greater than or equal to 2"
    ):
        PointSetGeneratorConfig(n_train=0)
    with pytest.raises(
        ValidationError, match=r"inner_radius_std\n  Input should be greater than 0"
    ):
        PointSetGeneratorConfig(inner_radius_std=-1.0)


def test_grid_covers_the_points():
    samples = np.array([[-1.0, -2.0], [3.0, 4.0]])
    grid = make_grid(samples, resolution=5, margin=0.0)
    assert grid["samples"].shape == (25, 2)
    assert grid["shape"].tolist() == [5, 5]
    assert grid["samples"].min(axis=0).tolist() == [-1.0, -2.0]
    assert grid["samples"].max(axis=0).tolist() == [3.0, 4.0]


GOOD = {"samples": np.zeros((4, 2)), "annotations": np.array([0, 1, 0, 1])}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"samples": np.zeros((4, 2))}, "missing key.*annotations"),
        ({"annotations": np.zeros(4)}, "missing key.*samples"),
        (
            GOOD | {"samples": np.zeros((4, 3))},
            r"'samples' must have shape \(N, 2\), got \(4, 3\)",
        ),
        (GOOD | {"samples": np.zeros(8)}, r"'samples' must have shape \(N, 2\)"),
        (
            GOOD | {"annotations": np.zeros((4, 1))},
            r"'annotations' must have shape \(N,\)",
        ),
        ({"samples": np.zeros((0, 2)), "annotations": np.zeros(0)}, "empty"),
        (GOOD | {"annotations": np.array([0, 1, 0])}, "4 samples but 3 annotations"),
        (
            GOOD | {"samples": np.array([[0, 0], [np.nan, 1], [0, 0], [0, 0]])},
            "NaN or infinite.*row 1",
        ),
        (
            GOOD | {"samples": np.array([[0, 0], [0, 0], [np.inf, 1], [0, 0]])},
            "NaN or infinite.*row 2",
        ),
        (GOOD | {"annotations": np.array([0, 1, 2, 1])}, "must be 0 or 1.*2.*row 2"),
        (GOOD | {"annotations": np.array([0, 1, 0.5, 1])}, "must be 0 or 1"),
        (GOOD | {"annotations": np.array(["a", "b", "a", "b"])}, "numeric"),
    ],
)
def test_validation_names_the_source_and_the_problem(data, message):
    with pytest.raises(PointSetError, match=f"^train.npz: .*{message}"):
        validate_point_set(data, source="train.npz")


def test_validation_accepts_the_assignment_layout():
    points = validate_point_set(
        GOOD | {"annotations": np.array([0, 1, 0, 1], dtype=np.int32)}, "x"
    )
    assert (
        points["samples"].dtype == np.float64
        and points["annotations"].dtype == np.int32
    )


@pytest.mark.parametrize(
    ("values", "labels", "threshold", "accuracy"),
    [
        ([1.0, 2.0, 3.0, 4.0], [0, 0, 1, 1], 2.5, 1.0),
        ([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0], 2.5, 1.0),  # either direction
        ([4.0, 1.0, 3.0, 2.0], [1, 0, 1, 0], 2.5, 1.0),  # order does not matter
        ([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1], 1.5, 0.75),  # overlap
        ([5.0, 6.0], [1, 1], 4.5, 1.0),  # one class: cut below everything
    ],
)
def test_best_threshold(values, labels, threshold, accuracy):
    assert best_threshold(np.array(values), np.array(labels)) == (threshold, accuracy)


def test_best_threshold_separates_the_generated_disc_and_ring():
    _, valid = generate_point_sets(PointSetGeneratorConfig(seed=0))
    radius = preprocess("polar", valid["samples"])[:, 0]
    threshold, accuracy = best_threshold(radius, valid["annotations"])
    assert accuracy >= 0.99
    assert 5.0 < threshold < 10.0  # between the disc and the ring
