"""Training of the geometry-first occupancy network on a tiny synthetic cache (no simulator run)."""

import numpy as np
import pytest
import torch

from depth_completion_ros.geometry.voxels import OCCUPIED
from depth_completion_ros.models.checkpoint import read_checkpoint
from depth_completion_ros.models.occupancy_geometry import KIND, GeometryOccNet, load_geometry_net
from depth_completion_ros.training.occupancy_geometry import (
    CropDataset,
    GeometryTrainConfig,
    load_samples,
    score_samples,
    train_geometry,
)
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.occupancy import insert_depth

WIDTH, HEIGHT, FOCAL, BASELINE = 160, 96, 100.0, 0.54
T_GRID_CAMERA = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]], float)  # grid <- optical
GRID = VoxelGrid(origin=(0.0, -3.2, -1.6), resolution=0.2, shape=(64, 32, 16))


def cameras() -> tuple[CameraModel, None]:
    K = np.array([[FOCAL, 0, WIDTH / 2 - 0.5], [0, FOCAL, HEIGHT / 2 - 0.5], [0, 0, 1]])
    return CameraModel(WIDTH, HEIGHT, K, P=np.hstack([K, [[0], [0], [0]]])), None


def write_sample(path, wall_m: float) -> None:
    """A wall at ``wall_m``: sgbm state and hits from its depth; target the wall plus a solid slab behind it."""
    from depth_completion_ros.models.occupancy_geometry import hit_counts

    left, _ = cameras()
    depth = np.full((HEIGHT, WIDTH), wall_m, np.float32)
    state = insert_depth(GRID, depth, left, T_GRID_CAMERA).state
    hits = hit_counts(depth, left, T_GRID_CAMERA, GRID)
    target = state == OCCUPIED
    wall = int(wall_m / GRID.resolution)
    target[wall:wall + 3] |= target[wall:wall + 1].any(axis=0, keepdims=True)  # the solid behind the surface
    np.savez_compressed(path, state=state, hits=hits.astype(np.uint16), target=target, truth=target,
                        mask=np.ones(GRID.shape, bool), invalid=np.zeros(GRID.shape, bool), K=left.K, P=left.P,
                        size=np.array([WIDTH, HEIGHT]), T_grid_camera=T_GRID_CAMERA,
                        grid_origin=np.asarray(GRID.origin, float), grid_resolution=np.float64(GRID.resolution),
                        grid_shape=np.asarray(GRID.shape), focal_baseline=np.float64(FOCAL * BASELINE))


@pytest.fixture()
def caches(tmp_path):
    for folder, walls in (("train", (4.1, 5.3, 6.5)), ("val", (5.9,))):
        (tmp_path / folder).mkdir()
        for i, wall in enumerate(walls):
            write_sample(tmp_path / folder / f"{i:06d}.npz", wall)
    return tmp_path


def test_crops_are_multiples_of_8_inside_the_grid(caches):
    dataset = CropDataset(sorted((caches / "train").glob("*.npz")), (32, 32, 16))
    item = dataset[0]
    assert item["features"].shape == (8, 32, 32, 16) and item["target"].shape == (1, 32, 32, 16)
    assert item["mask"].dtype == torch.bool


def test_sgbm_and_an_untrained_network_score_the_same(caches):
    samples = load_samples(sorted((caches / "val").glob("*.npz")))
    assert score_samples(None, samples, "cpu") == score_samples(GeometryOccNet().eval(), samples, "cpu")


def test_training_writes_a_loadable_checkpoint_and_resumes(caches):
    config = GeometryTrainConfig(out=str(caches / "run"), cache=str(caches / "train"), val_cache=str(caches / "val"),
                                 frames=3, val_frames=1, epochs=1, batch_size=1, crop=(32, 32, 16), threads=1,
                                 model={"widths": [4, 8, 8], "head_width": 4})
    lines = []
    path = train_geometry(config, log=lines.append)
    payload = read_checkpoint(path)
    assert payload["kind"] == KIND and payload["progress"]["epoch"] == 1
    assert {"val_iou", "sgbm_iou", "train_loss"} <= set(payload["metrics"]) and "raw_state_dict" in payload
    model, _ = load_geometry_net(path)
    assert model.config.widths == (4, 8, 8)
    resumed = GeometryTrainConfig(**{**config.__dict__, "epochs": 2})
    train_geometry(resumed, resume=True, log=lines.append)
    assert read_checkpoint(path)["progress"]["epoch"] == 2
    assert any("resumed after epoch 1" in line for line in lines)


def test_an_epoch_mixes_the_asked_share_of_real_samples():
    from depth_completion_ros.training.occupancy_geometry import epoch_order

    order = epoch_order(simulated=10, real=3, samples=20, real_samples=6, rng=np.random.default_rng(0))
    assert len(order) == 20 and np.sum(order >= 10) == 6 and order.max() < 13 and order.dtype == np.int64
    assert np.sum(epoch_order(10, 3, 8, 0, np.random.default_rng(0)) >= 10) == 0


def test_real_training_needs_the_radiate_folder_it_names(tmp_path):
    from depth_completion_ros.errors import BadInputError
    from depth_completion_ros.training.occupancy_geometry import real_training_files

    simulator_only = GeometryTrainConfig(out=str(tmp_path), cache=str(tmp_path / "c"), val_cache=str(tmp_path / "v"))
    assert real_training_files(simulator_only) == ([], [])
    missing = GeometryTrainConfig(out=str(tmp_path), cache=str(tmp_path / "c"), val_cache=str(tmp_path / "v"),
                                  radiate=str(tmp_path / "nowhere"), real_fraction=0.3)
    with pytest.raises(BadInputError, match="no RADIATE sequence"):
        real_training_files(missing)
