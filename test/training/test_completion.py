"""Training: all stages on a tiny config, checkpoints, resume, determinism, DDP on gloo."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.checkpoint import load_model, read_checkpoint
from depth_completion_ros.training.completion import TrainConfig, train
from depth_completion_ros.pipeline.classical import classical_fill

REPO_ROOT = Path(__file__).resolve().parents[2]
PRIOR = functools.partial(classical_fill, rgb=None)


def tiny_config(cache: Path, out: Path, epochs: int = 1) -> dict:
    return {
        "out": str(out), "cache": str(cache), "val_cache": str(cache), "val_frames": 2,
        "model": "tiny", "teacher": "tiny", "seed": 3, "threads": 1, "crop": [64, 64],
        "batch_size": 2, "num_workers": 0,
        "stages": [
            {"name": "teacher", "kind": "teacher", "epochs": 1, "samples_per_epoch": 4},
            {"name": "stage1", "kind": "completion", "supervision": "dense", "epochs": epochs, "samples_per_epoch": 4,
             "ema_decay": 0.5},
            {"name": "stage2", "kind": "completion", "supervision": "sparse", "epochs": 1, "samples_per_epoch": 4,
             "ssi_weight": 0.5, "gradient_weight": 0.0},
        ],
    }


def test_all_stages_write_checkpoints_with_configs_and_metrics(frame_cache, tmp_path):
    config = TrainConfig.from_dict(tiny_config(frame_cache, tmp_path / "run"))
    written = train(config, PRIOR, log=lambda _: None)
    assert set(written) == {"teacher", "stage1", "stage2"}
    payload = read_checkpoint(written["stage2"])  # torch.load(weights_only=True)
    assert payload["train_config"]["model"] == "tiny"
    assert payload["model_config"]["widths"] == [8, 8]
    assert payload["progress"] == {"stage": "stage2", "epoch": 1}
    for key in ("train_loss", "rmse_m", "prior_rmse_m"):
        assert torch.isfinite(torch.tensor(payload["metrics"][key]))
    model, _ = load_model(written["stage2"], "completion")
    stage1, _ = load_model(written["stage1"], "completion")
    changed = [not torch.equal(a, b) for a, b in zip(model.state_dict().values(), stage1.state_dict().values())]
    assert any(changed)  # stage 2 continued training from stage 1
    assert "ssi" in read_checkpoint(written["teacher"])["metrics"]
    ema = read_checkpoint(written["stage1"])
    assert set(ema["raw_state_dict"]) == set(ema["state_dict"])  # averaged weights shipped, raw kept to resume
    assert any(not torch.equal(ema["raw_state_dict"][k], ema["state_dict"][k]) for k in ema["state_dict"])


def test_resume_continues_after_the_last_finished_epoch(frame_cache, tmp_path):
    out = tmp_path / "run"
    train(TrainConfig.from_dict(tiny_config(frame_cache, out, epochs=1)), PRIOR, log=lambda _: None)
    before = read_checkpoint(out / "stage1.pt")
    messages: list[str] = []
    train(TrainConfig.from_dict(tiny_config(frame_cache, out, epochs=2)), PRIOR, resume=True, log=messages.append)
    after = read_checkpoint(out / "stage1.pt")
    assert before["progress"]["epoch"] == 1 and after["progress"]["epoch"] == 2
    assert any("[teacher] resumed after epoch 1" in m for m in messages)
    assert not any(m.startswith("[teacher] epoch") for m in messages)  # the finished stage is not retrained
    assert any(m.startswith("[stage1] epoch 2/2") for m in messages)


def test_same_seed_gives_identical_weights(frame_cache, tmp_path):
    weights = []
    for run in ("a", "b"):
        config = tiny_config(frame_cache, tmp_path / run)
        config["stages"] = config["stages"][1:2]
        written = train(TrainConfig.from_dict(config), PRIOR, log=lambda _: None)
        weights.append(read_checkpoint(written["stage1"])["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.slow
def test_ddp_two_cpu_processes_on_gloo(frame_cache, tmp_path):
    config = tiny_config(frame_cache, tmp_path / "ddp")
    config["stages"] = config["stages"][:2]
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "depth_completion_ros.cli.main", "train", "completion", "--config", str(config_path)],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es)" in result.stdout
    payload = read_checkpoint(tmp_path / "ddp" / "stage1.pt")
    assert payload["progress"]["epoch"] == 1
    assert torch.isfinite(torch.tensor(payload["metrics"]["rmse_m"]))


def radar_config(cache: Path, out: Path) -> dict:
    return {
        "out": str(out), "cache": str(cache), "val_cache": str(cache), "val_frames": 2, "model": "radar_tiny",
        "seed": 3, "threads": 1, "crop": [64, 64], "batch_size": 2, "num_workers": 0,
        "stages": [{"name": "radar", "kind": "completion", "supervision": "lidar", "epochs": 1,
                    "samples_per_epoch": 4, "mask_weight": 0.5}],
    }


def test_radar_stage_trains_on_lidar_supervision_and_validates_on_radar_frames(radar_frame_cache, tmp_path):
    written = train(TrainConfig.from_dict(radar_config(radar_frame_cache, tmp_path / "run")), PRIOR,
                    log=lambda _: None)
    payload = read_checkpoint(written["radar"])
    assert payload["model_config"]["radar_points"] == 16 and payload["model_config"]["mask_classes"] == 6
    for key in ("train_loss", "rmse_m", "mae_m", "prior_rmse_m"):
        assert torch.isfinite(torch.tensor(payload["metrics"][key]))
    model, _ = load_model(written["radar"], "completion")
    assert model.radar_injection is not None


def test_supervision_must_match_the_network(radar_frame_cache, frame_cache, tmp_path):
    lidar_model = radar_config(radar_frame_cache, tmp_path / "a") | {"model": "tiny"}
    with pytest.raises(BadInputError, match="needs a radar model"):
        train(TrainConfig.from_dict(lidar_model), PRIOR, log=lambda _: None)
    radar_model = tiny_config(frame_cache, tmp_path / "b") | {"model": "radar_tiny"}
    with pytest.raises(BadInputError, match="supervision: lidar"):
        train(TrainConfig.from_dict(radar_model), PRIOR, log=lambda _: None)


def test_model_may_be_a_mapping_of_network_fields(frame_cache, tmp_path):
    config = tiny_config(frame_cache, tmp_path / "run") | {
        "model": {"widths": [8, 12], "blocks": 0, "decoder_width": 8}}
    config["stages"] = config["stages"][1:2]
    written = train(TrainConfig.from_dict(config), PRIOR, log=lambda _: None)
    assert read_checkpoint(written["stage1"])["model_config"]["widths"] == [8, 12]
    with pytest.raises(BadInputError, match="preset name or widths"):
        train(TrainConfig.from_dict(config | {"model": {"widths": [8]}}), PRIOR, log=lambda _: None)


def test_init_starts_the_completion_network_from_a_checkpoint(frame_cache, tmp_path):
    first = train(TrainConfig.from_dict(tiny_config(frame_cache, tmp_path / "first")), PRIOR, log=lambda _: None)
    values = tiny_config(frame_cache, tmp_path / "tuned")
    values["init"] = str(first["stage2"])
    values["stages"] = [{"name": "tune", "kind": "completion", "supervision": "sparse", "epochs": 1,
                         "samples_per_epoch": 2, "lr": 1e-9, "gradient_weight": 0.0}]
    tuned = train(TrainConfig.from_dict(values), PRIOR, log=lambda _: None)
    start, _ = load_model(first["stage2"], "completion")
    after, _ = load_model(tuned["tune"], "completion")
    for name, value in start.state_dict().items():  # a learning rate of 1e-9 leaves the weights where they started
        if value.is_floating_point() and "running" not in name:
            torch.testing.assert_close(after.state_dict()[name], value, atol=1e-5, rtol=1e-4)
    values["model"] = "small"
    with pytest.raises(BadInputError, match="expected shape"):
        train(TrainConfig.from_dict(values), PRIOR, log=lambda _: None)


@pytest.mark.slow
def test_ctrl_c_saves_the_epoch_in_hand_and_exits_130(frame_cache, tmp_path):
    config = tiny_config(frame_cache, tmp_path / "run")
    config["stages"][0]["samples_per_epoch"] = 200_000  # an epoch far longer than the test
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    log = tmp_path / "stdout.txt"
    with open(log, "w") as stdout:
        process = subprocess.Popen([sys.executable, "-m", "depth_completion_ros.cli.main", "train", "completion",
                                    "--config", str(tmp_path / "train.yaml"), "--device", "cpu"],
                                   stdout=stdout, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 120
        while "training on" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3.0)  # inside the teacher's first epoch
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    saved = tmp_path / "run" / "teacher.interrupted.pt"
    assert process.returncode == 130, err
    assert "interrupted in epoch 1 after " in err and str(saved) in err and "Traceback" not in err
    progress = read_checkpoint(saved)["progress"]
    assert progress["interrupted"] and 0 < progress["steps_done"] < progress["steps_per_epoch"] == 100_000
    load_model(saved, "teacher")  # a usable checkpoint
    assert not (tmp_path / "run" / "teacher.pt").exists()  # no epoch finished: nothing to resume from


def test_a_stage_may_train_on_its_own_cache(frame_cache, tmp_path):
    import shutil

    other = tmp_path / "other_cache"
    other.mkdir()
    for path in sorted(frame_cache.glob("*.npz"))[:2]:
        shutil.copy(path, other / path.name)
    config = tiny_config(frame_cache, tmp_path / "run")
    config["stages"] = [{**config["stages"][1], "cache": str(other)}]
    assert set(train(TrainConfig.from_dict(config), PRIOR, log=lambda _: None)) == {"stage1"}
    config["stages"] = [{**config["stages"][0], "cache": str(tmp_path / "missing")}]
    with pytest.raises(FileNotFoundError, match="missing"):
        train(TrainConfig.from_dict({**config, "out": str(tmp_path / "run2")}), PRIOR, log=lambda _: None)


def test_ssi_without_any_teacher_is_refused_when_the_config_is_read(frame_cache, tmp_path):
    config = tiny_config(frame_cache, tmp_path / "run")
    config["stages"] = config["stages"][1:]  # no teacher stage before the SSI stage
    with pytest.raises(BadInputError, match="stage2.*no teacher"):
        TrainConfig.from_dict(config)


def test_teacher_weights_give_the_ssi_teacher_as_a_checkpoint_or_a_torchscript_file(frame_cache, tmp_path,
                                                                                       monkeypatch):
    from depth_completion_ros.models.teacher import TEACHER_PRESETS, TeacherNet
    from depth_completion_ros.training import completion

    first = train(TrainConfig.from_dict(tiny_config(frame_cache, tmp_path / "first")), PRIOR, log=lambda _: None)
    net = TeacherNet(TEACHER_PRESETS["tiny"]).eval()
    torch.jit.trace(net, torch.rand(1, 3, 64, 64)).save(str(tmp_path / "scripted.pt"))
    calls = []
    real_ssi = completion.ssi_loss
    monkeypatch.setattr(completion, "ssi_loss", lambda *a: calls.append(1) or real_ssi(*a))
    for name, teacher in (("ckpt", first["teacher"]), ("scripted", tmp_path / "scripted.pt")):
        config = tiny_config(frame_cache, tmp_path / name)
        config["stages"] = config["stages"][2:]  # the SSI stage alone
        config["teacher_weights"] = str(teacher)
        calls.clear()
        assert set(train(TrainConfig.from_dict(config), PRIOR, log=lambda _: None)) == {"stage2"}
        assert calls  # the SSI term was computed against the given teacher
    config["teacher_weights"] = str(tmp_path / "absent.pt")
    with pytest.raises(BadInputError, match="not found"):
        train(TrainConfig.from_dict({**config, "out": str(tmp_path / "absent_run")}), PRIOR, log=lambda _: None)
