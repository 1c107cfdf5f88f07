"""The report pipeline on an in-memory catalog, fed by the 2D pipeline."""

import base64
import json
import re

import pytest

from pytorch_intro.pipelines import reporting, simple2d
from pytorch_intro.reporting.sections.simple2d import Results
from tests.conftest import RUN_IDENTITY, load_parameters, parameter_feed, run_in_memory


@pytest.fixture(scope="module")
def simple2d_outputs():
    return run_in_memory(simple2d.create_pipeline(), parameter_feed(load_parameters()))


def test_2d_results_hold_each_variants_numbers_and_figures(simple2d_outputs):
    results = simple2d_outputs["simple2d_results"]
    assert isinstance(results, Results)
    text = results.model_dump_json()  # JSON for the catalog, read back exactly
    assert Results.model_validate_json(text) == results
    stored = json.loads(text)
    assert results.identity.model_dump() == RUN_IDENTITY
    assert results.data.features == dict(simple2d.VARIANTS)
    assert results.data.origin == "generated"
    assert results.data.seed == 0
    assert sum(results.data.class_counts) == results.data.n_valid
    assert set(results.variants) == set(simple2d.VARIANTS)
    for name, variant in results.variants.items():
        summary = simple2d_outputs[f"simple2d.{name}.summary"]
        assert variant.summary.model_dump() == summary
        assert variant.n_params_model == variant.summary.n_params
        assert len(variant.history) == variant.summary.epochs
        assert set(variant.figures) == {
            "learning_curves",
            "confusion_heatmap",
            "decision_boundary",
        }
        for png in variant.figures.values():
            assert png.startswith(b"\x89PNG")  # bytes in Python
        for encoded in stored["variants"][name]["figures"].values():
            assert base64.b64decode(encoded).startswith(b"\x89PNG")  # base64 in JSON
    assert results.figures["point_sets"].startswith(b"\x89PNG")
    point_sets = stored["figures"]["point_sets"]
    assert base64.b64decode(point_sets).startswith(b"\x89PNG")


def test_report_of_the_2d_run_with_digits_missing(simple2d_outputs):
    outputs = run_in_memory(
        reporting.create_pipeline(),
        {
            "simple2d_results": simple2d_outputs["simple2d_results"],
            "digits_results": None,
        },
    )
    markdown = outputs["reporting.report_markdown"]
    html = outputs["reporting.report_html"]
    assert "## 2D classifier: disc against ring" in markdown
    assert "results from this run" in markdown
    assert "**Digit classifier:** not run yet" in markdown
    assert "Run `kedro run --pipelines=digits`" in markdown
    assert "## Digit classifier" not in markdown
    # overview + point sets + 3 learning curves + 3 decision boundaries
    assert len(re.findall(r"^\[figure-\d+\]: data:image/png", markdown, re.M)) == 8
    assert html.count('<img src="data:image/png;base64,') == 8
    for title in ("Linear classifier on (x, y)", "MLP 2-16-16-1 on (x, y)"):
        assert "<h3 id=" in html and title in html
