"""The README's main job, end to end with a shortened sequence on a small rig."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, ros_domain_id, small_rig_file):
    rig = small_rig_file
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "depth_completion_ros.cli.main", "demo", "--frames", "5", "--rig", str(rig),
         "--out", str(out), "--rate", "0.5"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in range(1, 6):
        assert f"[{step}/5]" in result.stdout
    assert f"report: {out / 'report.html'}" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mode"] == "live" and metrics["sweeps"] == 5
    assert metrics["summary"][0]["frames"] >= 1 and metrics["summary"][0]["rmse_mm"] > 0
    assert "classical" in metrics["node_drops"]  # why sweeps went unanswered, by reason
    assert "node drops (classical, from its diagnostics):" in result.stdout
    assert (out / "live" / "outputs_classical").is_dir()  # the recorded node outputs
    assert (out / "pictures" / "depth_classical.png").is_file()
