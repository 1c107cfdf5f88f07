"""benchmarks/peers.py: the JAX peer trains and reports sane figures (no timings)."""

import importlib.util
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
peers = pytest.importorskip("peers")


def test_missing_peers_are_omitted_and_the_cli_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert peers.available() == []
    assert peers.main(["--variants", "simple2d.linear"]) == 0
    out = capsys.readouterr().out
    assert "jax: not installed: pip install -e '.[bench]'" in out
    assert "keras: not installed" in out


def test_jax_peer_trains_simple2d_linear_for_a_few_steps():
    if (
        importlib.util.find_spec("jax") is None
        or importlib.util.find_spec("optax") is None
    ):
        pytest.skip("JAX is not installed (pip install -e '.[bench]')")
    # In a fresh process, as the benchmark runs it: JAX's threads must not be
    # in the test process, which forks later; cpu=None: no pinning.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(
            peers.run, "simple2d.linear", "jax", epochs=1, cpu=None, steps=20
        ).result()
    assert (result.variant, result.peer, result.steps) == ("simple2d.linear", "jax", 20)
    assert 0.0 <= result.accuracy <= 1.0
    assert result.ms_per_step > 0 and result.compile_seconds > 0
    assert "not pinned" in result.note
