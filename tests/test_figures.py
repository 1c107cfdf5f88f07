import numpy as np
import pytest
from matplotlib.figure import Figure

from pytorch_intro.reporting import (
    plot_accuracy_overview,
    plot_confusion_matrix,
    plot_misclassified,
    plot_point_sets,
)


def cell_texts(fig: Figure) -> list[str]:
    """The annotations of the heatmap axes, in row-major order."""
    return [text.get_text() for text in fig.axes[0].texts]


def test_confusion_matrix_figure_has_labels_and_one_count_per_cell():
    matrix = np.array([[970, 3, 7], [0, 1130, 5], [12, 0, 1010]])

    fig = plot_confusion_matrix(matrix, "mnist.cnn")

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "true" in ax.get_ylabel()
    assert "predicted" in ax.get_xlabel()
    assert ax.get_title() == "mnist.cnn"
    assert cell_texts(fig) == [str(n) for n in matrix.ravel()]
    positions = [text.get_position() for text in ax.texts]
    assert positions[5] == (2, 1)  # row 1 (true), column 2 (predicted)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert len(fig.axes) == 2  # heatmap and colorbar


def test_confusion_matrix_text_contrasts_with_its_cell():
    fig = plot_confusion_matrix(np.array([[1000, 1], [2, 900]]), "contrast")

    colours = [text.get_color() for text in fig.axes[0].texts]

    assert colours == ["white", "black", "black", "white"]


def test_confusion_matrix_with_zeros_and_class_names_saves_png(tmp_path):
    matrix = np.array([[5, 0], [0, 0]])

    fig = plot_confusion_matrix(matrix, "zeros", class_names=["inside", "outside"])
    fig.savefig(tmp_path / "confusion.png")

    assert cell_texts(fig) == ["5", "0", "0", "0"]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["inside", "outside"]
    assert (tmp_path / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_of_all_zeros_renders(tmp_path):
    fig = plot_confusion_matrix(np.zeros((10, 10), dtype=np.int64), "empty")
    fig.savefig(tmp_path / "empty.png")

    assert cell_texts(fig) == ["0"] * 100


def test_confusion_matrix_rejects_wrong_class_names():
    with pytest.raises(ValueError, match="3 class_names for a 2x2 matrix"):
        plot_confusion_matrix(np.eye(2), "bad", class_names=["a", "b", "c"])


def test_misclassified_grid_titles_each_image(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 1, 28, 28), dtype=np.uint8)

    fig = plot_misclassified(
        images,
        labels=np.array([4, 7, 3, 9, 1]),
        predictions=np.array([9, 1, 5, 4, 7]),
        confidences=np.array([0.97, 0.5, 0.884, 0.6, 0.999]),
        title="errors",
        columns=3,
    )
    fig.savefig(tmp_path / "grid.png")

    [ax] = fig.axes  # one mosaic: 2 rows of 3, the last cell left blank
    titles = [(text.get_text(), text.get_position()) for text in ax.texts]
    assert [text for text, _ in titles] == [
        "true 4 → 9 (97%)",
        "true 7 → 1 (50%)",
        "true 3 → 5 (88%)",
        "true 9 → 4 (60%)",
        "true 1 → 7 (100%)",
    ]
    [image] = ax.images
    mosaic = image.get_array()
    assert image.get_cmap().name.startswith("gray")
    cell_h, cell_w = mosaic.shape[0] // 2, (mosaic.shape[1] + 2) // 3
    for index, (_, (x, y)) in enumerate(titles):  # each title above its image
        row, column = divmod(index, 3)
        top, left = row * cell_h + (cell_h - 28), column * cell_w
        assert np.array_equal(
            mosaic[top : top + 28, left : left + 28], images[index, 0]
        )
        assert (x, y) == (left + 14, top - 1)
    assert mosaic[cell_h:, 2 * cell_w :].mask.all()  # the blank cell
    assert not ax.axison
    assert fig.get_suptitle() == "errors"


def test_misclassified_accepts_float_images_without_channel():
    images = np.random.default_rng(1).random((2, 28, 28)).astype(np.float32)

    fig = plot_misclassified(images, [0, 1], [1, 0], [0.7, 0.8], "float")

    [ax] = fig.axes
    [image] = ax.images
    assert image.get_array().shape[1] == 2 * 28 + 2  # two images and a gap
    # one grey scale for both: brightness compares across images
    assert image.get_clim() == (float(images.min()), float(images.max()))


def test_misclassified_with_no_images_says_so(tmp_path):
    fig = plot_misclassified(
        np.zeros((0, 28, 28), dtype=np.uint8), [], [], [], "no errors"
    )
    fig.savefig(tmp_path / "none.png")

    assert fig.axes == []
    texts = {text.get_text(): text.get_position() for text in fig.texts}
    assert texts["no misclassified samples"] == (0.5, 0.5)
    assert fig.get_suptitle() == "no errors"


def test_misclassified_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        plot_misclassified(np.zeros((2, 28, 28)), [0, 1, 2], [1, 0], [0.5, 0.5], "x")


def test_accuracy_overview_has_one_panel_per_problem_and_a_line_per_variant():
    fig = plot_accuracy_overview(
        {
            "2D classifier": {"linear": [0.5, 0.49], "mlp": [0.95, 0.99]},
            "Digit classifier": {"cnn": [0.97, 0.98, 0.985]},
        }
    )
    two_d, digits = fig.axes
    assert [line.get_label() for line in two_d.lines] == ["linear", "mlp"]
    assert list(digits.lines[0].get_xdata()) == [1, 2, 3]
    assert list(digits.lines[0].get_ydata()) == pytest.approx([97.0, 98.0, 98.5])


def test_accuracy_overview_of_a_problem_without_results_says_so():
    fig = plot_accuracy_overview({"2D classifier": {}})
    assert [t.get_text() for t in fig.axes[0].texts] == ["no results"]


def test_point_sets_figure_draws_the_threshold_in_both_planes(tmp_path):
    xy = np.array([[1.0, 0.0], [0.0, 8.0]])
    polar = np.array([[1.0, 0.0], [8.0, np.pi / 2]])
    fig = plot_point_sets(xy, polar, np.array([0, 1]), radius_threshold=4.5)
    xy_ax, polar_ax = fig.axes
    circle = xy_ax.lines[0]
    assert np.hypot(circle.get_xdata(), circle.get_ydata()) == pytest.approx(4.5)
    assert list(polar_ax.lines[0].get_ydata()) == [4.5, 4.5]
    fig.savefig(tmp_path / "points.png")
