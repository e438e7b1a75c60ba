"""Every dcr subcommand ends in one line and a meaningful exit code (cli.exits.EXIT_CODES),
driven through the real entry point as subprocesses from one table of cases."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.cli.exits import EXIT_BUG, EXIT_INTERRUPTED, EXIT_PARTIAL, EXIT_USAGE
from depth_completion_ros.cli.main import ERROR_LOG, run_command
from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.bag_writer import partial_reason
from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame, write_frame
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.inference import ONNX_INPUTS, ONNX_OUTPUTS, network_inputs

DCR = [sys.executable, "-m", "depth_completion_ros.cli.main"]


class Inputs:
    """What the cases are built from, made on demand in one temporary folder: files of any
    content, a small KITTI depth-completion layout, ONNX graphs and the simulated bag."""

    def __init__(self, tmp: Path, sim_bag: Path) -> None:
        self.tmp, self.sim_bag = tmp, sim_bag

    def file(self, name: str, content: str | bytes = "") -> str:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    def out(self, name: str = "out") -> str:
        return str(self.tmp / name)

    def layout(self) -> Path:
        """3 frames a, b, c of 40x24 in the KITTI layout (with ground truth)."""
        root = self.tmp / "input"
        if not root.is_dir():
            camera = CameraModel.from_intrinsics(50, 50, 20, 12, 40, 24)
            for seed, name in enumerate("abc"):
                rng = np.random.default_rng(seed)
                sparse = np.where(rng.random((24, 40)) < 0.2, rng.uniform(2, 60, (24, 40)), 0).astype(np.float32)
                frame = CompletionFrame(f"{name}.png", rng.integers(0, 256, (24, 40, 3), np.uint8), sparse, camera)
                write_frame(root, frame, ground_truth=sparse)
        return root

    def complete(self, *extra: str) -> list[str]:
        return ["complete", "--input", str(self.layout()), "--output", self.out(), "--device", "cpu", *extra]

    def onnx(self, name: str, fixed_size: bool = False, half_output: bool = False) -> str:
        """A graph with the completion network's inputs that passes the sparse depth through:
        exported for one fixed size, or answering at half the input size."""
        import torch

        class PassThrough(torch.nn.Module):
            def forward(self, rgb, sparse, prior, scale):
                depth = sparse + 0 * prior + 0 * rgb.mean() + 0 * scale.mean()
                return (depth[:, :, ::2, ::2],) * 2 if half_output else (depth, depth)

        example = network_inputs(np.zeros((48, 64, 3), np.uint8), np.ones((48, 64), np.float32),
                                 np.ones((48, 64), np.float32))
        axes = {} if fixed_size else {n: {2: "h", 3: "w"} for n in ONNX_INPUTS if example[n].ndim == 4} | \
            {n: {2: "oh", 3: "ow"} for n in ONNX_OUTPUTS}
        path = self.tmp / name
        torch.onnx.export(PassThrough(), tuple(torch.from_numpy(example[n]) for n in ONNX_INPUTS), str(path),
                          input_names=list(ONNX_INPUTS), output_names=list(ONNX_OUTPUTS), dynamic_axes=axes,
                          dynamo=False)
        return str(path)

    def code_checkpoint(self) -> str:
        """A checkpoint whose pickle runs a command when unpickled without weights_only."""
        import torch

        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {self.tmp / 'pwned'}",))

        Payload.tmp = self.tmp
        path = self.tmp / "evil.pt"
        torch.save({"kind": "completion", "model_config": {}, "state_dict": {}, "x": Payload()}, path)
        return str(path)

    def cut_bag(self, fraction: float) -> str:
        mcap = next(self.sim_bag.glob("*.mcap"))
        data = mcap.read_bytes()
        return self.file(f"cut{fraction}.mcap", data[: int(len(data) * fraction)])

    def unknown_type_bag(self) -> str:
        """A bag with one topic of a message type no installed package defines."""
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore, get_types_from_msg

        store = get_typestore(Stores.ROS2_JAZZY)
        store.register(get_types_from_msg("int32 value\n", "my_msgs/msg/Thing"))
        path = self.tmp / "unknown"
        with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            connection = writer.add_connection("/thing", "my_msgs/msg/Thing", typestore=store)
            for k in range(3):
                writer.write(connection, 1000 + k, store.serialize_cdr(store.types["my_msgs/msg/Thing"](value=k),
                                                                       "my_msgs/msg/Thing"))
        return str(path)

    def nuscenes(self, table: str) -> str:
        """A nuScenes root whose v1.0-mini tables all hold ``table``."""
        for name in ("scene", "sample", "sample_data", "calibrated_sensor", "ego_pose", "sensor", "log"):
            self.file(f"nuscenes/v1.0-mini/{name}.json", table)
        return str(self.tmp / "nuscenes")

    def broken_layout(self, relative: str, content: bytes | None = None, image: np.ndarray | None = None) -> list[str]:
        """``dcr complete`` of the layout with one of its files replaced (bytes or an image)."""
        path = self.layout() / relative
        if image is not None:
            cv2.imwrite(str(path), image)
        else:
            path.write_bytes(content or b"")
        return self.complete()

    def truncated_scans(self) -> list[str]:
        """``dcr complete`` of the layout with every scan PNG cut after 60 bytes."""
        for scan in (self.layout() / "velodyne_raw").glob("*.png"):
            scan.write_bytes(scan.read_bytes()[:60])
        return self.complete()


LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:0123abcd\nsize 123456\n"
PROC = "/proc/dcr-cannot-create"  # a folder nobody, not even root, can create


@dataclass(frozen=True)
class Case:
    kind: str  # the class of the case, for the per-class counts of the closing note
    name: str
    build: Callable[[Inputs], list[str]]
    code: int
    says: str  # a fragment of the one line that says what happened (stderr, or stdout on success)


CASES = [
    # output paths: checked before the first frame
    Case("output path", "complete into an existing file", lambda i: ["complete", "--input", str(i.layout()),
         "--output", i.file("taken")], EXIT_USAGE, "is an existing file"),
    Case("output path", "complete below a file", lambda i: ["complete", "--input", str(i.layout()),
         "--output", i.file("plain") + "/depth"], EXIT_USAGE, "is a file, not a folder"),
    Case("output path", "complete where nothing can be created", lambda i: ["complete", "--input", str(i.layout()),
         "--output", PROC + "/depth"], EXIT_USAGE, "cannot use"),
    Case("output path", "occupancy into an existing file", lambda i: ["occupancy", "--left", "l", "--right", "r",
         "--calib", "c", "--out", i.file("taken")], EXIT_USAGE, "is an existing file"),
    Case("output path", "eval report folder is a file", lambda i: ["eval", str(i.sim_bag), "--out", i.file("report")],
         EXIT_USAGE, "is an existing file"),
    Case("output path", "eval report where nothing can be created", lambda i: ["eval", str(i.sim_bag), "--out",
         PROC + "/report"], EXIT_USAGE, "cannot use"),
    Case("output path", "sim bag over an existing file", lambda i: ["sim", "--frames", "2", "--out", i.file("taken")],
         EXIT_USAGE, "already exists"),
    Case("output path", "sim KITTI folders over a file", lambda i: ["sim", "--frames", "1", "--format", "kitti",
         "--out", i.file("taken")], EXIT_USAGE, "Not a directory"),
    Case("output path", "evaluate --json is a folder", lambda i: ["evaluate", "--pred", str(i.tmp), "--gt",
         str(i.tmp), "--json", str(i.tmp)], EXIT_USAGE, "is a folder"),
    Case("output path", "export into a folder", lambda i: ["export", "--output", str(i.tmp)], EXIT_USAGE, "is a folder"),
    Case("output path", "export where nothing can be created", lambda i: ["export", "--output", PROC + "/m.onnx"],
         EXIT_USAGE, "cannot use"),
    Case("output path", "replay --record over an existing file", lambda i: ["replay", str(i.sim_bag), "--record",
         i.file("taken")], EXIT_USAGE, "already exists"),
    # configuration files: one loader names the file, the key and the problem
    Case("configuration", "eval --config malformed YAML", lambda i: ["eval", str(i.sim_bag), "--out", i.out(),
         "--config", i.file("bad.yaml", "depth_completion: [1, 2\n")], EXIT_USAGE, "malformed YAML at line 2"),
    Case("configuration", "eval --config a list", lambda i: ["eval", str(i.sim_bag), "--out", i.out(), "--config",
         i.file("list.yaml", "- 1\n")], EXIT_USAGE, "must hold a mapping of keys, not a list"),
    Case("configuration", "eval --config without a node section", lambda i: ["eval", str(i.sim_bag), "--out",
         i.out(), "--config", i.file("shape.yaml", "camera: 3\n")], EXIT_USAGE, "has no depth_completion or"),
    Case("configuration", "eval --config node without ros__parameters", lambda i: ["eval", str(i.sim_bag), "--out",
         i.out(), "--config", i.file("flat.yaml", "depth_completion: 3\n")], EXIT_USAGE, "'ros__parameters' mapping"),
    Case("configuration", "sim --rig malformed YAML", lambda i: ["sim", "--frames", "1", "--out", i.out(), "--rig",
         i.file("bad.yaml", "camera: [1\n")], EXIT_USAGE, "malformed YAML"),
    Case("configuration", "sim --rig a list", lambda i: ["sim", "--frames", "1", "--out", i.out(), "--rig",
         i.file("list.yaml", "- 1\n")], EXIT_USAGE, "not a list"),
    Case("configuration", "sim --rig of the wrong shape", lambda i: ["sim", "--frames", "1", "--out", i.out(),
         "--rig", i.file("shape.yaml", "camera: 3\n")], EXIT_USAGE, "rig.camera: missing or not a mapping"),
    Case("configuration", "train --config malformed YAML", lambda i: ["train", "completion", "--config",
         i.file("bad.yaml", "stages: [1\n")], EXIT_USAGE, "malformed YAML"),
    Case("configuration", "train --config a list", lambda i: ["train", "completion", "--config",
         i.file("list.yaml", "- 1\n")], EXIT_USAGE, "not a list"),
    Case("configuration", "train --config without stages", lambda i: ["train", "completion", "--config",
         i.file("shape.yaml", "camera: 3\n")], EXIT_USAGE, "stages: missing"),
    Case("configuration", "train --config with a misspelt key", lambda i: ["train", "completion", "--config",
         i.file("typo.yaml", "stages: []\nbatch_sise: 4\n")], EXIT_USAGE, "did you mean 'batch_size'"),
    Case("configuration", "a configuration that is a Git LFS pointer", lambda i: ["sim", "--frames", "1", "--out",
         i.out(), "--rig", i.file("lfs.yaml", LFS_POINTER)], EXIT_USAGE, "Git LFS pointer"),
    # arguments: ranges checked by argparse, nothing done
    Case("argument", "eval --holdout-every 0", lambda i: ["eval", str(i.sim_bag), "--out", i.out(),
         "--gt-depth-topic", "none", "--holdout-every", "0"], EXIT_USAGE, "must be at least 2"),
    Case("argument", "eval --max-frames -1", lambda i: ["eval", str(i.sim_bag), "--out", i.out(), "--max-frames",
         "-1"], EXIT_USAGE, "must be at least 1"),
    Case("argument", "eval of a rig without LiDAR or radar", lambda i: ["eval", str(i.sim_bag), "--out", i.out(),
         "--lidar-topic", "none"], EXIT_USAGE, "needs --radar-topic"),
    Case("argument", "sim --frames 0", lambda i: ["sim", "--frames", "0", "--out", i.out()], EXIT_USAGE,
         "--frames must be positive"),
    Case("argument", "complete with an unknown method", lambda i: i.complete("--method", "magic"), EXIT_USAGE,
         "magic"),
    Case("argument", "an unknown subcommand", lambda i: ["frobnicate"], EXIT_USAGE, "invalid choice"),
    # weights: checked at load, or refused in one line naming expected and found
    Case("weights", "ONNX graph of a fixed other size", lambda i: i.complete("--method", "learned", "--weights",
         i.onnx("fixed.onnx", fixed_size=True)), EXIT_USAGE, "fixed input size"),
    Case("weights", "ONNX graph answering at half size", lambda i: i.complete("--method", "learned", "--weights",
         i.onnx("half.onnx", half_output=True)), EXIT_USAGE, "not a completion network of this package"),
    Case("weights", "ONNX graph with other inputs", lambda i: i.complete("--method", "learned", "--weights",
         i.file("other.onnx", b"\x08\x07")), EXIT_USAGE, "not a loadable ONNX completion model"),
    Case("weights", "a checkpoint whose pickle runs code", lambda i: i.complete("--method", "learned", "--weights",
         i.code_checkpoint()), EXIT_USAGE, "not a readable checkpoint"),
    Case("weights", "a checkpoint that is a Git LFS pointer", lambda i: i.complete("--method", "learned",
         "--weights", i.file("lfs.pt", LFS_POINTER)), EXIT_USAGE, "Git LFS pointer"),
    Case("weights", "a weights file that is missing", lambda i: i.complete("--method", "learned", "--weights",
         str(i.tmp / "none.pt")), EXIT_USAGE, "none.pt"),
    # bags: damaged or empty recordings are named; nothing scored or replayed is never 0
    Case("bag", "eval of a bag cut in half", lambda i: ["eval", i.cut_bag(0.5), "--out", i.out()], EXIT_PARTIAL,
         "cut off after"),
    Case("bag", "eval of a bag cut before its first message", lambda i: ["eval", i.cut_bag(0.0001), "--out",
         i.out()], EXIT_USAGE, "cut off before its first complete message"),
    Case("bag", "eval of a file that is not a bag", lambda i: ["eval", i.file("junk.mcap", "garbage"), "--out",
         i.out()], EXIT_USAGE, "not an MCAP file"),
    Case("bag", "eval of an empty folder", lambda i: ["eval", str(i.tmp), "--out", i.out()], EXIT_USAGE,
         "nothing was scored"),
    Case("bag", "eval with a topic the bag lacks", lambda i: ["eval", str(i.sim_bag), "--out", i.out(),
         "--image-topic", "/no/such/image"], EXIT_USAGE, "has no topic '/no/such/image'"),
    Case("bag", "eval of a bag of an unknown message type", lambda i: ["eval", i.unknown_type_bag(), "--out",
         i.out()], EXIT_USAGE, "nothing was scored"),
    Case("bag", "replay of a bag cut in half", lambda i: ["replay", i.cut_bag(0.5), "--topics", "/lidar/points"],
         EXIT_PARTIAL, "cut off after"),
    Case("bag", "replay of a bag of an unknown message type", lambda i: ["replay", i.unknown_type_bag()],
         EXIT_USAGE, "every selected topic"),
    Case("bag", "replay of a topic the bag lacks", lambda i: ["replay", str(i.sim_bag), "--topics", "/no/such"],
         EXIT_USAGE, "has no topic '/no/such'"),
    # data files: the file and what it is are named
    Case("data file", "nuScenes tables that are Git LFS pointers", lambda i: ["convert", "nuscenes",
         i.nuscenes(LFS_POINTER), "--scene", "scene-0061", "--out", i.out()], EXIT_USAGE, "is a Git LFS pointer"),
    Case("data file", "nuScenes tables that are not JSON", lambda i: ["convert", "nuscenes", i.nuscenes("garbage{"),
         "--scene", "scene-0061", "--out", i.out()], EXIT_USAGE, "cannot be read as a JSON table"),
    Case("data file", "KITTI raw drive without its calibration", lambda i: ["convert", "kitti-raw",
         str(i.layout()), "--out", i.out()], EXIT_USAGE, "calib_cam_to_cam.txt: not found"),
    Case("data file", "complete of a missing folder", lambda i: ["complete", "--input", str(i.tmp / "nowhere"),
         "--output", i.out()], EXIT_USAGE, "folder not found"),
    Case("data file", "complete with one image not a PNG", lambda i: i.broken_layout("image/b.png", b"not a png") +
         ["--method", "learned"], EXIT_PARTIAL, "b.png"),
    Case("data file", "complete with one 8-bit scan", lambda i: i.broken_layout(
         "velodyne_raw/b.png", image=np.zeros((24, 40), np.uint8)), EXIT_PARTIAL, "uint16"),
    Case("data file", "complete with garbled intrinsics", lambda i: i.broken_layout("intrinsics/b.txt",
         b"fx fy cx cy\n"), EXIT_PARTIAL, "9 numbers"),
    Case("data file", "complete with every scan truncated", lambda i: i.truncated_scans(), EXIT_USAGE,
         "no frame was written"),
    Case("data file", "evaluate of a missing prediction folder", lambda i: ["evaluate", "--pred", str(i.tmp / "p"),
         "--gt", str(i.layout() / "groundtruth_depth")], EXIT_USAGE, "folder not found"),
    # correct successes next to the failures: what works must keep working
    Case("success", "complete of the layout", lambda i: i.complete(), 0, "3 frame(s)"),
    Case("success", "eval of the simulated bag", lambda i: ["eval", str(i.sim_bag), "--out", i.out()], 0,
         "classical"),
    Case("success", "eval of a radar-camera rig without LiDAR", lambda i: ["eval", str(i.sim_bag), "--out", i.out(),
         "--lidar-topic", "none", "--radar-topic", "/radar/points", "--methods", "radar_geometric"], 0,
         "radar_geometric             6"),
]


MESSAGE_STARTS = ("dcr", "problem: ", "usage: ", " ")  # " ": argparse wraps its usage line


def _message_lines(stderr: str) -> list[str]:
    """stderr without progress bars (tqdm redraws with carriage returns) and empty lines."""
    return [line for line in stderr.replace("\r", "\n").splitlines()
            if line.strip() and not ("|" in line and ("it/s" in line or "/s]" in line or "?" in line))]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}: {c.name}" for c in CASES])
def test_every_case_ends_in_one_line_and_its_exit_code(case, sim_bag, tmp_path, ros_domain_id):
    arguments = case.build(Inputs(tmp_path, sim_bag))
    result = subprocess.run(DCR + arguments, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    said = result.stderr if case.code else result.stdout + result.stderr
    assert result.returncode == case.code, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert case.says in said, said[-2000:]
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    strays = [line for line in _message_lines(result.stderr) if not line.startswith(MESSAGE_STARTS)]
    assert not strays, f"lines that are not one-line messages: {strays}"
    assert not (tmp_path / "pwned").exists()  # a checkpoint's pickle never runs


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
    from depth_completion_ros.eval import bag_evaluation as evaluation

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
    assert "checkpoints of the finished epochs are kept: continue with --resume" in capsys.readouterr().err


def _interrupt(arguments: list[str], ready: Callable[[], bool], cwd: Path, settle_s: float = 0.5
               ) -> subprocess.CompletedProcess:
    """Run ``dcr arguments``, send Ctrl-C (SIGINT) ``settle_s`` after ``ready()`` holds."""
    process = subprocess.Popen(DCR + arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    deadline = time.monotonic() + 120
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(settle_s)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(arguments, process.returncode, out, err)


@pytest.fixture(scope="module")
def long_sim_bag(tmp_path_factory, small_rig_file) -> Path:
    """A 100-sweep street bag (the shared one is over before a signal lands)."""
    bag = tmp_path_factory.mktemp("long") / "street"
    subprocess.run(DCR + ["sim", "--frames", "100", "--seed", "4", "--rig", str(small_rig_file), "--out", str(bag)],
                   check=True, capture_output=True, timeout=600)
    return bag


@pytest.mark.slow
def test_ctrl_c_inside_a_bag_reports_the_frames_scored_before_it(long_sim_bag, tmp_path):
    out = tmp_path / "report"
    result = _interrupt(["eval", str(long_sim_bag), "--out", str(out)], (out / "pictures").is_dir, tmp_path)
    assert result.returncode == EXIT_INTERRUPTED, result.stderr
    assert "interrupted after 0 of 1 bag(s) and street after " in result.stderr and "Traceback" not in result.stderr
    report = (out / "report.md").read_text()
    assert "interrupted after 0 of 1 bag(s) and street after " in report
    scored = len((out / "frames.csv").read_text().splitlines()) - 1
    assert 0 < scored < 100, "the interruption must land inside the bag, after its first frames"


@pytest.mark.slow
def test_ctrl_c_while_completing_keeps_every_written_frame(tmp_path):
    camera = CameraModel.from_intrinsics(700, 700, 608, 176, 1216, 352)
    rng = np.random.default_rng(0)
    for k in range(60):
        sparse = np.where(rng.random((352, 1216)) < 0.05, rng.uniform(2, 60, (352, 1216)), 0).astype(np.float32)
        write_frame(tmp_path / "input", CompletionFrame(f"{k:03d}.png", np.zeros((352, 1216, 3), np.uint8), sparse,
                                                        camera))
    out = tmp_path / "depth"
    result = _interrupt(["complete", "--input", str(tmp_path / "input"), "--output", str(out), "--device", "cpu"],
                        lambda: out.is_dir() and any(out.iterdir()), tmp_path, settle_s=0.2)
    assert result.returncode == EXIT_INTERRUPTED, result.stderr
    written = sorted(out.iterdir())
    assert f"interrupted after {len(written)} of 60 frame(s)" in result.stderr and "Traceback" not in result.stderr
    assert 0 < len(written) < 60
    for path in written:  # every file left is a whole depth PNG
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (352, 1216)
