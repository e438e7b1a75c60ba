import json

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.trainer import TrainerConfig, fit, load_checkpoint


class Line(Dataset):
    """y = 3 x - 1 with 16 samples."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        x = torch.tensor([index / 16.0])
        return {"x": x, "y": 3 * x - 1}


class LineTask:
    architecture = "line-test"

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = nn.Linear(1, 1)

    def config_dict(self) -> dict:
        return {"features": 1}

    def loss(self, model, batch):
        loss = nn.functional.mse_loss(model(batch["x"]), batch["y"])
        return loss, {"mse": loss.item()}

    def validate(self, model, data, device):
        samples = [data[i] for i in range(len(data))]
        mse = sum(nn.functional.mse_loss(model(s["x"][None]), s["y"][None]).item() for s in samples) / len(samples)
        return {"mse": mse, "score": -mse}


def test_fit_trains_validates_checkpoints_and_resumes(tmp_path):
    config = TrainerConfig(out_dir=str(tmp_path), epochs=2, batch_size=4, learning_rate=0.05, progress=False)
    history = fit(LineTask(), Line(), Line(), config, log=lambda line: None)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert history["epochs"][-1]["val_mse"] < history["epochs"][0]["val_mse"]
    checkpoint = load_checkpoint(tmp_path / "last.pt", "line-test")
    assert checkpoint["epoch"] == 1 and checkpoint["config"] == {"features": 1}
    assert (tmp_path / "best.pt").exists()

    messages = []
    longer = TrainerConfig(out_dir=str(tmp_path), epochs=4, batch_size=4, learning_rate=0.05, progress=False)
    history = fit(LineTask(), Line(), Line(), longer, resume=True, log=messages.append)
    assert any("resumed" in m and "epoch 2" in m for m in messages)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3, 4]
    assert json.loads((tmp_path / "history.json").read_text())["epochs"][-1]["epoch"] == 4
    assert load_checkpoint(tmp_path / "last.pt", "line-test")["epoch"] == 3


def test_time_budget_stops_after_saving(tmp_path):
    config = TrainerConfig(out_dir=str(tmp_path), epochs=50, batch_size=4, max_minutes=0.0, progress=False)
    history = fit(LineTask(), Line(), None, config, log=lambda line: None)
    assert len(history["epochs"]) == 1 and history["epochs"][0]["steps"] == 1
    assert (tmp_path / "last.pt").exists()


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    torch.save({"architecture": "other", "model": {}}, tmp_path / "x.pt")
    with pytest.raises(BadInputError, match="'other', expected 'line-test'"):
        load_checkpoint(tmp_path / "x.pt", "line-test")


_DDP_SCRIPT = """
import sys
import torch
from torch import nn
from depth_completion_ros.models.trainer import TrainerConfig, fit

class Line(torch.utils.data.Dataset):
    def __len__(self):
        return 16
    def __getitem__(self, index):
        x = torch.tensor([index / 16.0])
        return {"x": x, "y": 3 * x - 1}

class LineTask:
    architecture = "line-test"
    def __init__(self):
        torch.manual_seed(0)
        self.model = nn.Linear(1, 1)
    def config_dict(self):
        return {}
    def loss(self, model, batch):
        loss = nn.functional.mse_loss(model(batch["x"]), batch["y"])
        return loss, {}
    def validate(self, model, data, device):
        return {"score": 0.0}

fit(LineTask(), Line(), Line(), TrainerConfig(out_dir=sys.argv[1], epochs=2, batch_size=4, progress=False),
    log=lambda line: None)
torch.distributed.destroy_process_group()
"""


@pytest.mark.slow
def test_fit_under_two_process_ddp_shards_the_data_and_rank_zero_saves(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "ddp_line.py"
    script.write_text(_DDP_SCRIPT)
    repo = str(Path(__file__).resolve().parents[2])
    workers = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")],
                                env={**os.environ, "PYTHONPATH": repo, "WORLD_SIZE": "2", "RANK": str(rank),
                                     "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"})
               for rank in range(2)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert history["epochs"][0]["steps"] == 2  # 16 samples / 2 ranks / batch 4
    assert load_checkpoint(tmp_path / "out" / "last.pt", "line-test")["epoch"] == 1
