"""Every dcr subcommand ends in one line and a meaningful exit code (cli.exits.EXIT_CODES),
driven through the real entry point as subprocesses from one table of cases."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from depth_completion_ros.cli.exits import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE
from depth_completion_ros.cli.main import ERROR_LOG, run_command
from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.bag_writer import partial_reason

DCR = [sys.executable, "-m", "depth_completion_ros.cli.main"]


def malformed_yaml(tmp: Path) -> list[str]:
    (tmp / "bad.yaml").write_text("depth_completion: [1, 2\n")
    return ["eval", str(tmp), "--config", str(tmp / "bad.yaml"), "--out", str(tmp / "out")]


def sim_into_existing_file(tmp: Path) -> list[str]:
    (tmp / "taken").write_text("")
    return ["sim", "--frames", "2", "--out", str(tmp / "taken")]


def report_folder_is_a_file(tmp: Path) -> list[str]:
    (tmp / "report").write_text("")
    return ["eval", str(tmp), "--out", str(tmp / "report")]


def json_file_is_a_folder(tmp: Path) -> list[str]:
    return ["evaluate", "--pred", str(tmp), "--gt", str(tmp), "--json", str(tmp)]


def output_below_a_file(tmp: Path) -> list[str]:
    (tmp / "plain").write_text("")
    return ["complete", "--input", str(tmp), "--output", str(tmp / "plain" / "depth")]


def complete_an_empty_folder(tmp: Path) -> list[str]:
    for sub in ("image", "velodyne_raw", "intrinsics"):
        (tmp / "empty" / sub).mkdir(parents=True)
    return ["complete", "--input", str(tmp / "empty"), "--output", str(tmp / "depth")]


def export_into_a_folder(tmp: Path) -> list[str]:
    return ["export", "--output", str(tmp)]


# (name, arguments built in a temporary folder, exit code, stderr fragment)
CASES: list[tuple[str, Callable[[Path], list[str]], int, str]] = [
    ("malformed YAML configuration", malformed_yaml, EXIT_USAGE, "malformed YAML"),
    ("output path is an existing file", sim_into_existing_file, EXIT_USAGE, "already exists"),
    ("report folder is an existing file", report_folder_is_a_file, EXIT_USAGE, "is an existing file"),
    ("--json is a folder", json_file_is_a_folder, EXIT_USAGE, "is a folder"),
    ("output folder below a file", output_below_a_file, EXIT_USAGE, "is a file, not a folder"),
    ("export file is a folder", export_into_a_folder, EXIT_USAGE, "is a folder"),
    ("nothing to complete", complete_an_empty_folder, EXIT_USAGE, "no frame to complete"),
]


def no_frame_scored(tmp: Path, bag: Path) -> list[str]:
    return ["eval", str(bag), "--out", str(tmp / "out"), "--image-topic", "/no/such/image"]


def zero_holdout(tmp: Path, bag: Path) -> list[str]:
    return ["eval", str(bag), "--out", str(tmp / "out"), "--gt-depth-topic", "none", "--holdout-every", "0"]


def negative_max_frames(tmp: Path, bag: Path) -> list[str]:
    return ["eval", str(bag), "--out", str(tmp / "out"), "--max-frames", "-1"]


# (name, arguments built in a temporary folder from a simulated bag, exit code, stderr fragment)
BAG_CASES: list[tuple[str, Callable[[Path, Path], list[str]], int, str]] = [
    ("nothing scored", no_frame_scored, EXIT_USAGE, "nothing was scored"),
    ("--holdout-every 0", zero_holdout, EXIT_USAGE, "must be at least 2"),
    ("--max-frames -1", negative_max_frames, EXIT_USAGE, "must be at least 1"),
]


@pytest.mark.parametrize(("name", "build", "code", "says"), BAG_CASES, ids=[c[0] for c in BAG_CASES])
def test_evaluations_that_score_nothing_never_exit_0(sim_bag, tmp_path, name, build, code, says):
    result = subprocess.run(DCR + build(tmp_path, sim_bag), capture_output=True, text=True, timeout=300)
    assert result.returncode == code, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "build", "code", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_usage_ends_in_one_line_and_its_exit_code(tmp_path, name, build, code, says):
    result = subprocess.run(DCR + build(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def test_sigterm_interrupts_a_long_command_with_130_and_no_traceback(tmp_path):
    out = tmp_path / "bag"
    process = subprocess.Popen(DCR + ["sim", "--frames", "200", "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(m.stat().st_size > 2_000_000 for m in out.glob("*.mcap")) and time.monotonic() < deadline \
            and process.poll() is None:
        time.sleep(0.02)  # interrupted in its first frames
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert "dcr sim: interrupted" in err and "marked partial" in err and "Traceback" not in err
    assert partial_reason(out).startswith("stopped by KeyboardInterrupt after ")
    with Bag(out) as bag:  # what was written is a readable bag
        assert sum(count for _, count in bag.topics.values()) > 0


def test_an_unexpected_error_names_the_log_holding_its_traceback(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_command.py").write_text("def run(args):\n    return {}['missing']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = argparse.Namespace(command="broken", _module="broken_command", debug=False)
    assert run_command(args) == EXIT_BUG
    err = capsys.readouterr().err
    assert "unexpected error" in err and str(ERROR_LOG) in err and "Traceback" not in err
    assert "KeyError: 'missing'" in ERROR_LOG.read_text()
    assert run_command(argparse.Namespace(**{**vars(args), "debug": True})) == EXIT_BUG
    assert "Traceback" in capsys.readouterr().err


def test_an_interrupted_evaluation_reports_the_bags_it_finished(sim_bag, tmp_path, monkeypatch):
    from depth_completion_ros.cli import eval_bag
    from depth_completion_ros.cli.main import build_parser
    from depth_completion_ros.ros import evaluation

    finished = evaluation.evaluate_offline

    def second_bag_interrupted(bag, options, pictures):
        if Path(bag).name == "second":
            raise KeyboardInterrupt
        return finished(bag, options, pictures)

    monkeypatch.setattr(evaluation, "evaluate_offline", second_bag_interrupted)
    args = build_parser().parse_args(["eval", str(sim_bag), str(tmp_path / "second"), "--out", str(tmp_path / "r")])
    assert eval_bag.run(args) == EXIT_INTERRUPTED
    report = (tmp_path / "r" / "report.md").read_text()
    assert "interrupted after 1 of 2 bag(s)" in report and "classical" in report


def test_an_interrupted_training_says_what_is_kept_and_exits_130(monkeypatch, capsys):
    from depth_completion_ros.cli import train

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(train.COMMANDS, "completion", interrupted)
    assert train.run(argparse.Namespace(train_command="completion")) == EXIT_INTERRUPTED
    assert "checkpoints of the finished epochs are kept; continue with --resume" in capsys.readouterr().err
