"""One variant alone: its pipeline, results combined with the other variants'
latest, the report naming each variant's run, and ``--namespaces`` refused."""

from __future__ import annotations

import json

import pytest
from kedro.io import Version
from kedro.pipeline import Pipeline

from pytorch_intro.datasets import ResultsDataset
from pytorch_intro.hooks import RunGuardHook, run_guard
from pytorch_intro.pipeline_registry import problems, register_pipelines
from pytorch_intro.preflight import PreflightError
from pytorch_intro.reporting.document import to_markdown
from pytorch_intro.reporting.report import build_report
from pytorch_intro.reporting.results import combine_runs
from pytorch_intro.reporting.sections import simple2d as simple2d_section
from pytorch_intro.train_eval.nodes import collect_results
from tests.conftest import make_project
from tests.test_report import (
    EARLIER_RUN,
    FIGURES_2D,
    MLP,
    THIS_RUN,
    digits,
    png,
    simple2d,
    variant,
)
from tests.test_robustness import _flat, _kedro_run, _runs

VARIANT_PIPELINES = [
    f"{problem}.{name}"
    for problem, module in problems().items()
    for name in module.VARIANTS
]
EARLIER = "an earlier run (2026-11-01 08:00:00 UTC, MLflow run `parent-run`)"


def _line(markdown: str, start: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(start))


# --- the pipelines ----------------------------------------------------------------


def test_every_variant_has_a_pipeline_of_its_data_steps_results_and_report():
    pipelines = register_pipelines()
    assert VARIANT_PIPELINES == [
        "simple2d.linear",
        "simple2d.mlp",
        "simple2d.polar_linear",
        "digits.linear",
        "digits.mlp",
        "digits.cnn",
    ]
    existing = {"__default__", "simple2d", "simple2d_assignment", "digits"}
    assert existing | set(VARIANT_PIPELINES) <= set(pipelines)
    default = {n.name for n in pipelines["__default__"].nodes}
    assert default == {
        n.name for name in ("simple2d", "digits") for n in pipelines[name].nodes
    }
    for name in VARIANT_PIPELINES:
        problem = name.split(".")[0]
        names = {n.name for n in pipelines[name].nodes}
        # the problem's pipeline less its other variants
        expected = {
            n.name
            for n in pipelines[problem].nodes
            if n.namespace in (problem, name, "reporting")
        }
        assert names == expected, name
        assert {
            f"{name}.train_model",
            f"{name}.collect_variant_results",
            f"{problem}.collect_results",
            "reporting.write_report",
        } <= names
    assert {
        n.name for n in pipelines["digits.cnn"].nodes if n.namespace == "digits"
    } == {
        "digits.load_digits",
        "digits.label_digits",
        "digits.describe_digits",
        "digits.collect_results",
    }
    simple2d_data = {
        n.name for n in pipelines["simple2d.mlp"].nodes if n.namespace == "simple2d"
    }
    assert "simple2d.generate_point_sets" in simple2d_data  # the generated source
    assert "simple2d_results_latest" in pipelines["simple2d.mlp"].inputs()


# --- combining results ------------------------------------------------------------


def _mlp_alone(earlier, identity=THIS_RUN, seed: int = 0):
    """The 2D results of a run of the MLP alone, combined with ``earlier``."""
    data = simple2d().data.model_dump() | {"seed": seed}
    mlp = variant(
        "MLP on (x, y)", [0.97, 0.998], 337, MLP, 500, figures=FIGURES_2D, features="xy"
    )
    return collect_results(
        identity,
        data,
        earlier,
        problem="simple2d",
        known=("linear", "mlp", "polar_linear"),
        figures=("point_sets",),
        point_sets=png(),
        mlp=mlp,
    )


@pytest.mark.slow
def test_this_runs_variant_replaces_its_earlier_results_the_others_are_kept():
    earlier = simple2d(EARLIER_RUN)
    results = _mlp_alone(earlier)
    assert list(results.variants) == ["linear", "mlp", "polar_linear"]
    assert results.identity.token == "now"  # the problem's run: this one
    assert results.variants["mlp"].accuracy == 0.998
    assert results.variants["mlp"].run.token == "now"
    for kept in ("linear", "polar_linear"):
        assert results.variants[kept] == earlier.variants[kept]  # as they were
        assert results.variants[kept].run.token == "before"
    assert {name: v.features for name, v in results.variants.items()} == {
        "linear": "xy",
        "mlp": "xy",  # this run's
        "polar_linear": "polar",  # kept with the earlier variant
    }
    assert results.figures["point_sets"] == png()
    # the data each variant trained on: this run's for the MLP
    assert results.variants["mlp"].data == results.data_line()
    # stored and read back with the runs
    text = results.model_dump_json()
    assert json.loads(text)["variants"]["linear"]["run"]["token"] == "before"
    assert simple2d_section.Results.model_validate_json(text) == results

    again = _mlp_alone(results, identity=THIS_RUN | {"token": "later"})
    assert {name: v.run.token for name, v in again.variants.items()} == {
        "linear": "before",
        "mlp": "later",
        "polar_linear": "before",
    }


def test_without_earlier_results_only_this_runs_variants_and_gone_ones_are_dropped():
    assert list(_mlp_alone(None).variants) == ["mlp"]
    earlier = simple2d(EARLIER_RUN)
    earlier.variants["renamed_away"] = earlier.variants["linear"]
    assert "renamed_away" not in _mlp_alone(earlier).variants
    with pytest.raises(ValueError, match="earlier results of 'digits'"):
        combine_runs(simple2d(), digits(), ())


def test_the_report_names_the_run_each_variant_comes_from():
    markdown = to_markdown(
        build_report(THIS_RUN, {"simple2d": _mlp_alone(simple2d(EARLIER_RUN))})
    )
    line = _line(markdown, "- **2D classifier:**")
    assert line.endswith(
        f"results from {EARLIER} for Linear on (x, y) and Linear on (r, phi); "
        "this run for MLP on (x, y)"
    )
    assert "different data" not in markdown  # the same generator seed
    sections = markdown.split("\n### ")
    mlp = next(s for s in sections if s.startswith("MLP on (x, y)"))
    linear = next(s for s in sections if s.startswith("Linear on (x, y)"))
    assert "on 500 samples. Results from this run." in mlp
    assert f"on 500 samples. Results from {EARLIER}." in linear
    assert markdown.count("\n| 2D classifier | ") == 3  # the overview: all three


def test_the_report_says_when_the_variants_data_differ():
    trained = simple2d(EARLIER_RUN)  # each variant records its data: seed 0
    earlier = combine_runs(trained, None, ())
    markdown = to_markdown(
        build_report(THIS_RUN, {"simple2d": _mlp_alone(earlier, seed=1)})
    )
    assert _line(markdown, "- **2D classifier:**").endswith(
        "this run for MLP on (x, y); **variants on different data**"
    )
    points = "generated point sets (2,500 train / 500 validation, generator seed {})"
    assert (
        "> **Note:** The 2D classifier's variants come from runs on different data, "
        "so their numbers do not compare directly: Linear on (x, y) and Linear on "
        f"(r, phi) on {points.format(0)}; MLP on (x, y) on {points.format(1)}. Run "
        "`kedro run --pipelines=simple2d` to train them all on the same data."
    ) in markdown
    linear = markdown.split("\n### Linear on (x, y)")[1]
    assert f"Results from {EARLIER}, on {points.format(0)}." in linear


def test_earlier_results_that_do_not_validate_are_left_out(tmp_path):
    path = tmp_path / "simple2d_results.json"
    version = path / "2026-01-01T00.00.00.000Z" / "simple2d_results.json"
    version.parent.mkdir(parents=True)
    for content in ('{"problem": "simple2d", "format": 0}', "{not json"):
        version.write_text(content)
        latest = ResultsDataset(
            filepath=str(path), version=Version(None, None), skip_invalid=True
        )
        assert latest.load() is None
    with pytest.raises(Exception, match="simple2d_results.json"):
        ResultsDataset(filepath=str(path), version=Version(None, None)).load()


# --- a real run of one variant ------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
def test_one_variant_after_a_full_run_keeps_the_others_in_the_report(tmp_path):
    project = make_project(tmp_path / "project")
    full = _kedro_run(project, "--pipelines", "simple2d")
    assert full.returncode == 0, full.stderr[-3000:]
    [parent] = [r for r in _runs(project) if "mlflow.parentRunId" not in r.data.tags]
    [version] = (project / "data/08_reporting/simple2d_results.json").iterdir()
    first = json.loads((version / "simple2d_results.json").read_text())["identity"]
    assert first["mlflow_run_id"] == parent.info.run_id
    alone = _kedro_run(project, "--pipelines", "simple2d.mlp")
    assert alone.returncode == 0, alone.stderr[-3000:]

    reports = sorted((project / "data/08_reporting/report.md").iterdir())
    markdown = (reports[-1] / "report.md").read_text(encoding="utf-8")
    earlier = f"an earlier run ({first['date']}, MLflow run `{parent.info.run_id}`)"
    assert _line(markdown, "- **2D classifier:**").endswith(
        f"results from {earlier} for Linear classifier on (x, y) and Linear "
        "classifier on polar features (r, phi); this run for MLP 2-16-16-1 on (x, y)"
    )
    assert "different data" not in markdown  # the same generator seed
    sections = markdown.split("\n### ")
    points = "generated point sets (400 train / 100 validation, generator seed 0)"
    for title, run in (
        ("Linear classifier on (x, y)", f"{earlier}, on {points}"),
        ("MLP 2-16-16-1 on (x, y)", "this run"),
        ("Linear classifier on polar features (r, phi)", f"{earlier}, on {points}"),
    ):
        [section] = [s for s in sections if s.startswith(f"{title}\n")]
        assert f"samples. Results from {run}.\n" in section, title
    # the second run trained the MLP alone: one more child run
    children = [r for r in _runs(project) if "mlflow.parentRunId" in r.data.tags]
    assert sorted(r.info.run_name for r in children) == [
        "simple2d.linear",
        "simple2d.mlp",
        "simple2d.mlp",
        "simple2d.polar_linear",
    ]


# --- --namespaces with a variant -------------------------------------------------


@pytest.mark.slow
def test_namespaces_naming_a_variant_stop_at_once_with_the_pipelines_form(tmp_path):
    project = make_project(tmp_path / "project")
    for namespaces in ("digits.cnn", "digits,digits.cnn"):
        result = _kedro_run(project, f"--namespaces={namespaces}")
        assert result.returncode != 0
        assert (
            f"kedro run --namespaces={namespaces} runs the variant digits.cnn "
            "without its data steps; run `kedro run --pipelines=digits.cnn` "
            "instead (the variant with its data steps and the report)."
        ) in _flat(result.stdout + result.stderr)
    assert _runs(project) == []  # nothing recorded
    assert not (project / "data/06_models").exists()


def test_a_session_run_with_a_variant_namespace_is_refused_first(monkeypatch):
    monkeypatch.setattr(run_guard, "registered_pipelines", register_pipelines())
    with pytest.raises(PreflightError) as error:
        # no catalog: refused before anything is read
        RunGuardHook().before_pipeline_run(
            {"namespaces": ["simple2d.mlp"]}, Pipeline([]), catalog=None
        )
    assert str(error.value) == (
        "kedro run --namespaces=simple2d.mlp runs the variant simple2d.mlp without "
        "its data steps; run `kedro run --pipelines=simple2d.mlp` instead (the "
        "variant with its data steps and the report)."
    )
    run_guard.check_namespaces(["simple2d", "digits"], register_pipelines())
    run_guard.check_namespaces(None, register_pipelines())
