"""Live evaluation's handling of a node that runs but is never discovered over DDS."""

from __future__ import annotations

import pytest

from depth_completion_ros.eval.bag_evaluation import EvalOptions
from depth_completion_ros.ros import live_evaluation

pytestmark = pytest.mark.slow


def node_runs_that_fail_discovery(failures: int, calls: list[str]):
    """A stand-in for ``_run_node`` whose first ``failures`` runs are not discovered and whose
    other runs answer no sweep."""
    def run_node(bag, options, method, out_dir, rate, received, published_at, diagnostics) -> None:
        calls.append(method)
        if len(calls) <= failures:
            raise live_evaluation.NodeNotDiscovered("the node did not come up: not discovered over DDS")
    return run_node


def test_a_node_not_discovered_is_started_once_more(sim_bag, tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(live_evaluation, "_run_node", node_runs_that_fail_discovery(1, calls))
    result = live_evaluation.evaluate_live(sim_bag, EvalOptions(), tmp_path)
    assert calls == ["classical", "classical"]
    assert result.problems == [] and "starting the node again" in capsys.readouterr().err
    assert result.sweeps == 6 and result.drops == {"not_received_classical": 6}


def test_a_node_never_discovered_is_one_problem_not_a_retry_loop(sim_bag, tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(live_evaluation, "_run_node", node_runs_that_fail_discovery(99, calls))
    result = live_evaluation.evaluate_live(sim_bag, EvalOptions(), tmp_path)
    assert len(calls) == live_evaluation.DISCOVERY_ATTEMPTS
    assert any("not discovered over DDS" in problem for problem in result.problems)
