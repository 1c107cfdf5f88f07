import numpy as np
import pytest

from pytorch_intro.training.metrics import (
    Confusion,
    confusion_matrix,
    most_confident_errors,
    top_confusions,
)


def test_confusion_matrix_hand_made_example():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 1, 2, 0, 2])

    matrix = confusion_matrix(labels, predictions, num_classes=3)

    # rows are true classes, columns predicted classes
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    assert matrix.dtype == np.int64
    assert matrix.sum() == len(labels)
    assert np.trace(matrix) == np.sum(labels == predictions) == 5


def test_confusion_matrix_keeps_absent_classes():
    matrix = confusion_matrix(np.array([1, 1]), np.array([1, 1]), num_classes=4)

    assert matrix.shape == (4, 4)
    assert matrix[1, 1] == 2
    assert matrix.sum() == 2


def test_confusion_matrix_of_no_samples_is_zero():
    empty = np.array([], dtype=np.int64)

    np.testing.assert_array_equal(confusion_matrix(empty, empty, 2), np.zeros((2, 2)))


def test_confusion_matrix_agrees_with_a_double_loop():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=2000)
    predictions = np.where(rng.random(2000) < 0.8, labels, rng.integers(0, 10, 2000))
    naive = np.zeros((10, 10), dtype=np.int64)
    for true, predicted in zip(labels, predictions, strict=True):
        naive[true, predicted] += 1

    np.testing.assert_array_equal(confusion_matrix(labels, predictions, 10), naive)


@pytest.mark.parametrize(
    ("labels", "predictions", "num_classes", "message"),
    [
        ([0, 1], [0, 12], 10, "predictions contain 12, outside 0..9"),
        ([0, -1], [0, 1], 10, "labels contain -1, outside 0..9"),
        ([0, 1, 2], [0, 1], 3, "differ in length: 3 vs 2"),
        ([[0, 1]], [[0, 1]], 2, "labels must be 1-D"),
        ([0.0, 1.0], [0, 1], 2, "labels must be integers"),
        ([0, 1], [0, 1], 0, "num_classes must be an integer >= 1"),
    ],
)
def test_confusion_matrix_rejects_bad_input(labels, predictions, num_classes, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(np.array(labels), np.array(predictions), num_classes)


def test_top_confusions_largest_first_ties_by_true_then_predicted():
    matrix = np.array(
        [
            [900, 5, 0, 7],
            [7, 800, 0, 0],
            [0, 2, 700, 5],
            [0, 0, 0, 600],
        ]
    )

    found = top_confusions(matrix, k=4)

    assert found == [
        Confusion(true=0, predicted=3, count=7),
        Confusion(true=1, predicted=0, count=7),
        Confusion(true=0, predicted=1, count=5),
        Confusion(true=2, predicted=3, count=5),
    ]


def test_top_confusions_never_lists_zero_cells_or_the_diagonal():
    matrix = np.array([[50, 0, 0], [3, 60, 0], [0, 0, 70]])

    assert top_confusions(matrix, k=5) == [Confusion(true=1, predicted=0, count=3)]
    assert top_confusions(np.diag([5, 6]), k=5) == []
    assert top_confusions(matrix, k=0) == []


def test_top_confusions_rejects_a_non_square_matrix():
    with pytest.raises(ValueError, match="square"):
        top_confusions(np.zeros((2, 3)))


def test_confusion_reads_as_a_sentence():
    assert str(Confusion(true=4, predicted=9, count=47)) == "4 predicted as 9: 47"


def test_most_confident_errors_only_wrong_samples_by_confidence():
    labels = np.array([0, 1, 2, 3, 4, 5])
    predictions = np.array([0, 2, 2, 0, 1, 5])
    confidences = np.array([0.99, 0.60, 0.95, 0.90, 0.75, 0.98])

    np.testing.assert_array_equal(
        most_confident_errors(labels, predictions, confidences, n=10), [3, 4, 1]
    )
    np.testing.assert_array_equal(
        most_confident_errors(labels, predictions, confidences, n=2), [3, 4]
    )
    assert most_confident_errors(labels, predictions, confidences, n=0).size == 0


def test_most_confident_errors_with_no_errors_is_empty():
    labels = np.array([1, 2, 3])

    assert most_confident_errors(labels, labels, np.ones(3), n=5).size == 0


def test_most_confident_errors_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one length"):
        most_confident_errors(np.zeros(3), np.zeros(3), np.zeros(2), n=1)
