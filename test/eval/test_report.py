"""The report says why the live node did not answer: its drops by reason beside not_received."""

import json

import numpy as np
from builtin_interfaces.msg import Time

from depth_completion_ros.eval.report import summary_table, write_report
from depth_completion_ros.eval.results import EvaluationResult
from depth_completion_ros.ros.diagnostics import diagnostic_array, diagnostic_values, drop_counts


def _node_diagnostics() -> dict[str, str]:
    """Diagnostic values as the node publishes them (flattened by the node's own code)."""
    values = {"outputs": 14, "output_rate_hz": 1.5,
              "drops": {"too_old": 0, "no_partner": 2, "queue_overflow": 0, "time_jump": 0, "unused": 18,
                        "skipped_busy": 3},
              "bad_input": {"no_projection": 1}}
    return diagnostic_values(diagnostic_array("/depth_completion", "cpu", values, Time(sec=5), []))


def test_drop_counts_are_the_nonzero_drops_and_bad_input_of_the_node():
    assert drop_counts(_node_diagnostics()) == {"no_partner": 2, "unused": 18, "skipped_busy": 3,
                                                "bad_input.no_projection": 1}


def _live_result() -> EvaluationResult:
    result = EvaluationResult("live", bags=["street"], sweeps=20)
    result.score("street", 1, "classical", np.ones((4, 4), np.float32), None, latency_ms=40.0)
    result.count_drop("not_received_classical", 6)
    result.node_drops["classical"] = drop_counts(_node_diagnostics())
    return result


def test_summary_lists_the_node_drops_by_reason_beside_not_received_with_unused_apart():
    lines = summary_table(_live_result()).splitlines()
    assert lines[-2] == "Sweeps: 20; drops: not_received_classical 6"
    assert lines[-1] == ("node drops (classical, from its diagnostics): bad_input.no_projection 1, no_partner 2, "
                         "skipped_busy 3; expected: unused 18")


def test_summary_says_none_when_the_node_dropped_nothing():
    result = EvaluationResult("live", sweeps=5)
    result.node_drops["classical"] = {}
    assert summary_table(result).splitlines()[-1] == "node drops (classical, from its diagnostics): none"


def test_report_files_carry_the_node_drops(tmp_path):
    write_report(_live_result(), tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["node_drops"] == {"classical": {"no_partner": 2, "unused": 18, "skipped_busy": 3,
                                                   "bad_input.no_projection": 1}}
    for name in ("report.md", "report.html"):
        assert "node drops (classical, from its diagnostics): bad_input.no_projection 1" in (tmp_path / name).read_text()


def test_merging_bags_adds_the_node_drops_per_method_and_reason():
    merged = _live_result()
    merged.merge(_live_result())
    assert merged.node_drops["classical"]["skipped_busy"] == 6 and merged.node_drops["classical"]["unused"] == 36
