"""The benchmark's baseline loop and its table (not timings: those are benchmarks)."""

import sys

import pytest

from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
reference_loop = pytest.importorskip("reference_loop")
train_speed = pytest.importorskip("train_speed")


def test_reference_loop_trains_the_2d_mlp_like_the_assignment():
    result = train_speed._reference("simple2d.mlp", workers=0, epochs=3, mnist=None)
    assert result.loop == "reference, 0 workers"
    assert len(result.seconds) == 3 and result.samples == 2500
    assert result.accuracy > 0.9  # the MLP separates disc and ring


def test_product_path_is_the_projects_fit():
    result = train_speed._product("simple2d.mlp", epochs=3, mnist=None)
    assert result.loop == "product" and result.accuracy > 0.9


def test_table_gives_speed_ups_against_the_4_worker_and_the_best_reference():
    results = [
        train_speed.Result(
            "digits.cnn", "reference, 4 workers", [48.0], 60_000, 500, 0.97
        ),
        train_speed.Result(
            "digits.cnn", "reference, 0 workers", [19.0], 60_000, 400, 0.97
        ),
        train_speed.Result("digits.cnn", "product", [6.0], 60_000, 700, 0.97),
        train_speed.Result(
            "digits.cnn", "product, 5 seeds together", [9.0], 60_000, 900, 0.97
        ),
    ]
    lines = train_speed._table(results)
    assert lines[2].endswith("| 1.0x | 0.4x | 8.00x |")
    assert "reference, 0 workers (best)" in lines[3]
    assert lines[3].endswith("| 2.5x | 1.0x | 3.17x |")
    assert lines[4] == (
        "| digits.cnn | product | 6.00 | 10,000 | 700 | 0.9700 | 8.0x | 3.2x | 1.00x |"
    )
    assert lines[5].endswith("| 5.3x | 2.1x | 1.50x |")  # 5 seeds: 1.5x one's time
