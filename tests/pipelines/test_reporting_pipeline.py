"""The report pipeline on an in-memory catalog, fed by the 2D pipeline."""

import json
import re
from pathlib import Path

import pytest

from pytorch_intro.pipelines import reporting, simple2d
from pytorch_intro.reporting.document import to_markdown
from pytorch_intro.reporting.sections.simple2d import Results
from tests.conftest import RUN_IDENTITY, load_parameters, parameter_feed, run_in_memory


@pytest.fixture(scope="module")
def simple2d_outputs():
    return run_in_memory(simple2d.create_pipeline(), parameter_feed(load_parameters()))


def test_2d_results_hold_each_variants_record_and_figure_files(simple2d_outputs):
    results = simple2d_outputs["simple2d_results"]
    assert isinstance(results, Results)
    text = results.model_dump_json()  # JSON for the catalog, read back exactly
    assert Results.model_validate_json(text) == results
    stored = json.loads(text)
    assert results.identity.model_dump() == RUN_IDENTITY
    features = {name: variant.features for name, variant in results.variants.items()}
    assert features == dict(simple2d.VARIANTS)
    assert results.data.origin == "generated"
    assert results.data.seed == 0
    assert sum(results.data.class_counts) == results.data.n_valid
    assert set(results.variants) == set(simple2d.VARIANTS)
    for name, variant in results.variants.items():
        # one record per variant: what MLflow's params and the report read,
        # with its run, data and figures once collected
        record = simple2d_outputs[f"simple2d.{name}.report_entry"]
        assert record.features == simple2d.VARIANTS[name]
        collected = {"run": None, "data": None, "figures": {}}
        assert variant.model_copy(update=collected) == record
        assert (variant.run, variant.data) == (results.identity, results.data_line())
        assert variant.n_params_model == variant.n_params
        assert len(variant.history) == variant.training.epochs
        assert set(variant.figures) == {
            "learning_curves",
            "confusion_heatmap",
            "decision_boundary",
        }
        # figures saved once, as files: the results hold their paths
        assert stored["variants"][name]["figures"] == variant.figures
        for path in variant.figures.values():
            assert Path(path).read_bytes().startswith(b"\x89PNG")
    assert stored["figures"]["point_sets"] == results.figures["point_sets"]
    assert Path(results.figures["point_sets"]).read_bytes().startswith(b"\x89PNG")


def test_report_of_the_2d_run_with_digits_missing(simple2d_outputs):
    outputs = run_in_memory(
        reporting.create_pipeline(),
        {
            "simple2d_results": simple2d_outputs["simple2d_results"],
            "digits_results": None,
        },
    )
    markdown = to_markdown(outputs["reporting.report_markdown"])
    html = outputs["reporting.report_html"]
    assert "## 2D classifier: disc against ring" in markdown
    assert "results from this run" in markdown
    assert "**Digit classifier:** not run yet" in markdown
    assert "Run `kedro run --pipelines=digits`" in markdown
    assert "## Digit classifier" not in markdown
    # overview + point sets + 3 learning curves + 3 decision boundaries
    assert len(re.findall(r"^\[figure-\d+\]: \S+\.png$", markdown, re.M)) == 8
    assert html.count('<img src="data:image/png;base64,') == 8
    for title in ("Linear classifier on (x, y)", "MLP 2-16-16-1 on (x, y)"):
        assert "<h3 id=" in html and title in html
