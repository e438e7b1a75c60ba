"""The OccDepth training loop (the completion trainer's pieces) on a tiny synthetic set."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from depth_completion_ros.models.checkpoint import read_checkpoint
from depth_completion_ros.models.occupancy import KIND, OccDepthConfig, load_occdepth
from depth_completion_ros.training.occupancy import OccDepthTrainConfig, fit_occdepth

TINY = OccDepthConfig(grid_origin=(0.0, -3.2, -1.6), grid_resolution=0.4, grid_shape=(16, 16, 8), image_size=(64, 32),
                      encoder_channels=(4, 6, 8), sfa_channels=4, max_disparity=4, voxel_channels=(4, 4, 4))


class TinyScenes(Dataset):
    """4 random stereo samples in the cache's format: a wall of class 1 at x = 3.2 m."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        width, height = TINY.image_size
        K = torch.tensor([[40.0, 0, width / 2], [0, 40.0, height / 2], [0, 0, 1]])
        P_right = torch.cat([K, torch.tensor([[-20.0], [0.0], [0.0]])], 1)
        labels = torch.zeros(TINY.grid_shape, dtype=torch.int64)
        labels[8] = 1
        return {"left": torch.rand(3, height, width, generator=generator),
                "right": torch.rand(3, height, width, generator=generator),
                "P_left": torch.cat([K, torch.zeros(3, 1)], 1), "P_right": P_right,
                "T_camera_lidar": torch.tensor([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]),
                "labels": labels, "invalid": torch.zeros(TINY.grid_shape, dtype=torch.bool),
                "depth": torch.full((height, width), 3.2)}


def settings(out: Path, epochs: int, **overrides) -> OccDepthTrainConfig:
    return OccDepthTrainConfig(out_dir=str(out), epochs=epochs, batch_size=2, learning_rate=0.01, ema_decay=0.9,
                               progress=False, **overrides)


def test_trains_validates_writes_checkpoints_of_the_common_format_and_resumes(tmp_path):
    weights = torch.ones(TINY.num_classes)
    history = fit_occdepth(TINY, TinyScenes(), TinyScenes(), settings(tmp_path, 2), weights, log=lambda line: None)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2] and "val_iou" in history["epochs"][0]
    assert history["epochs"][1]["train_loss"] < history["epochs"][0]["train_loss"]
    last = read_checkpoint(tmp_path / "occdepth_last.pt")
    assert last["kind"] == KIND and last["progress"]["epoch"] == 2 and "optimizer" in last and "raw_state_dict" in last
    shipped = read_checkpoint(tmp_path / "occdepth.pt")
    assert "optimizer" not in shipped and load_occdepth(str(tmp_path / "occdepth.pt")).config == TINY

    messages = []
    history = fit_occdepth(TINY, TinyScenes(), TinyScenes(), settings(tmp_path, 3), weights, resume=True,
                           log=messages.append)
    assert any("resumed" in m and "after epoch 2" in m for m in messages)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert read_checkpoint(tmp_path / "occdepth_last.pt")["progress"]["epoch"] == 3


def test_the_time_budget_stops_after_the_epoch_in_hand(tmp_path):
    history = fit_occdepth(TINY, TinyScenes(), None, settings(tmp_path, 50, max_minutes=0.0), torch.ones(20),
                           log=lambda line: None)
    assert len(history["epochs"]) == 1 and (tmp_path / "occdepth_last.pt").exists()


_DDP_SCRIPT = """
import sys
import torch
sys.path.insert(0, sys.argv[2])
from test_occupancy import TINY, TinyScenes, settings
from depth_completion_ros.training.occupancy import fit_occdepth
from pathlib import Path

history = fit_occdepth(TINY, TinyScenes(), None, settings(Path(sys.argv[1]), 1), torch.ones(20), log=print)
"""


@pytest.mark.slow
def test_two_process_ddp_shards_the_data_and_rank_zero_saves(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "ddp_occdepth.py"
    script.write_text(_DDP_SCRIPT)
    repo = str(Path(__file__).resolve().parents[2])
    workers = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "out"), str(Path(__file__).parent)],
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": repo, "WORLD_SIZE": "2", "RANK": str(rank),
                                     "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                                     "OMP_NUM_THREADS": "1"})
               for rank in range(2)]
    outputs = [worker.communicate(timeout=180)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    records = [json.loads(line) for line in outputs[0].splitlines() if line.startswith("{")]
    assert [r["epoch"] for r in records] == [1] and not outputs[1].strip()  # rank 0 alone logs and saves
    assert read_checkpoint(tmp_path / "out" / "occdepth_last.pt")["progress"]["epoch"] == 1
