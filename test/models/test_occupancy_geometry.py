"""The geometry-first occupancy network (``learned``): zero-init = sgbm, features, checkpoints, registry."""

import numpy as np
import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid
from depth_completion_ros.models.checkpoint import save_checkpoint
from depth_completion_ros.models.occupancy_geometry import (
    FEATURES,
    KIND,
    GeometryNetConfig,
    GeometryOccNet,
    assemble_features,
    hit_counts,
    load_geometry_net,
    predict_logits,
)
from depth_completion_ros.pipeline.occupancy import insert_depth
from depth_completion_ros.pipeline.occupancy_methods import (
    OCCUPANCY_METHODS,
    LearnedOccupancy,
    SgbmOccupancy,
    StereoFrame,
    create_occupancy_method,
)
from depth_completion_ros.pipeline.occupancy_geometry import GeometryOccupancy

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
WIDTH, HEIGHT, FOCAL, BASELINE = 160, 96, 100.0, 0.54
# grid (x forward, y left, z up) <- optical (x right, y down, z forward)
T_GRID_CAMERA = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]], float)
GRID = VoxelGrid(origin=(0.0, -3.2, -1.6), resolution=0.2, shape=(64, 32, 16))


def cameras(width: int = WIDTH, height: int = HEIGHT) -> tuple[CameraModel, CameraModel]:
    K = np.array([[FOCAL, 0, width / 2 - 0.5], [0, FOCAL, height / 2 - 0.5], [0, 0, 1]])
    left = CameraModel(width, height, K, P=np.hstack([K, [[0], [0], [0]]]))
    right = CameraModel(width, height, K, P=np.hstack([K, [[-FOCAL * BASELINE], [0], [0]]]))
    return left, right


def wall_pair(disparity: int = 8, seed: int = 0) -> StereoFrame:
    """A textured fronto-parallel wall at depth f B / disparity (6.75 m for 8 px)."""
    texture = np.random.default_rng(seed).integers(0, 255, (HEIGHT, WIDTH + disparity, 3), dtype=np.uint8)
    left, right = texture[:, disparity:], texture[:, :WIDTH]
    left_camera, right_camera = cameras()
    return StereoFrame(np.ascontiguousarray(left), np.ascontiguousarray(right), left_camera, right_camera,
                       T_GRID_CAMERA)


@pytest.mark.parametrize("device", DEVICES)
def test_untrained_network_reproduces_sgbm_exactly(device):
    frame = wall_pair()
    learned = GeometryOccupancy(untrained=True, device=device)
    sgbm = SgbmOccupancy(device=device)
    expected = sgbm(frame, GRID)
    result = learned(frame, GRID)
    assert (expected.state == OCCUPIED).sum() > 20  # the wall was matched
    np.testing.assert_array_equal(result.state, expected.state)
    assert next(learned.model.parameters()).device.type == device


def test_zero_initialized_residual_outputs_the_baseline_logit_on_random_features():
    model = GeometryOccNet().eval()
    features = torch.rand(1, len(FEATURES), 16, 24, 8)
    features[:, 0] = (features[:, 0] > 0.7).float()
    with torch.no_grad():
        logits = model(features)
    torch.testing.assert_close(logits, model.config.margin * (2 * features[:, :1] - 1))


def test_features_of_a_wall_hits_at_the_wall_free_before_unknown_behind():
    left, _ = cameras()
    depth = np.full((HEIGHT, WIDTH), 5.1, np.float32)  # the wall fills the image: x = 5.1 m in the grid
    state = insert_depth(GRID, depth, left, T_GRID_CAMERA).state
    hits = hit_counts(depth, left, T_GRID_CAMERA, GRID)
    features = assemble_features(state, hits, left, T_GRID_CAMERA, GRID, focal_baseline=FOCAL * BASELINE)
    assert features.shape == (len(FEATURES), *GRID.shape)
    occupied, free, unknown, log_hits, in_view = (features[FEATURES.index(n)] for n in
                                                  ("occupied", "free", "unknown", "log_hits", "in_view"))
    j, k = 16, 8  # the voxel column on the optical axis (y = 0, z = 0)
    wall = 25  # 5.1 m / 0.2 m
    assert occupied[wall, j, k] == 1 and log_hits[wall, j, k] > np.log(2)
    assert np.all(occupied[:, j, k][np.arange(64) != wall] == 0)
    assert np.all(log_hits[:wall, j, k] == 0) and np.all(log_hits[wall + 1:, j, k] == 0)
    assert np.all(free[2:wall, j, k] == 1)  # free between the camera and the wall
    assert np.all(unknown[wall + 1:, j, k] == 1) and np.all(in_view[wall + 1:, j, k] == 1)  # seen, behind the wall
    height = features[FEATURES.index("height")]
    np.testing.assert_allclose(height[0, 0, :], GRID.axis_centres(2) / 2.0, rtol=1e-6)
    distance = features[FEATURES.index("distance")][:, j, k] * 25.0
    np.testing.assert_allclose(distance[wall], np.hypot(np.hypot(5.1, 0.1), 0.1), atol=1e-5)


def test_checkpoint_round_trip_and_architecture_check(tmp_path):
    model = GeometryOccNet(GeometryNetConfig(widths=(8, 16, 16), head_width=8))
    for parameter in model.parameters():  # not the zero init: the round trip must carry real weights
        torch.nn.init.normal_(parameter, std=0.1)
    path = save_checkpoint(tmp_path / "geometry.pt", KIND, model, {"seed": 0}, {"val_iou": 0.5})
    loaded, payload = load_geometry_net(path)
    assert payload["metrics"]["val_iou"] == 0.5 and loaded.config == model.config
    features = np.random.default_rng(1).random((len(FEATURES), 16, 16, 8)).astype(np.float32)
    np.testing.assert_allclose(predict_logits(loaded, features), predict_logits(model.eval(), features), atol=1e-5)
    with pytest.raises(BadInputError, match="expected shape"):
        load_geometry_net(path, expected_config=GeometryNetConfig())
    other = save_checkpoint(tmp_path / "other.pt", "completion", model)
    with pytest.raises(BadInputError, match="expected 'occupancy_geometry'"):
        load_geometry_net(other)


def test_predict_pads_grids_that_are_not_multiples_of_8():
    model = GeometryOccNet().eval()
    features = np.zeros((len(FEATURES), 13, 10, 6), np.float32)
    features[0, 3, 4, 5] = 1
    logits = predict_logits(model, features)
    assert logits.shape == (13, 10, 6) and logits[3, 4, 5] > 0 and (logits > 0).sum() == 1


def test_registry_learned_is_the_geometry_network_and_occdepth_the_old_one():
    assert OCCUPANCY_METHODS["occdepth"] is LearnedOccupancy
    assert OCCUPANCY_METHODS["learned"] is GeometryOccupancy
    assert isinstance(create_occupancy_method("learned", untrained=True, device="cpu"), GeometryOccupancy)
    with pytest.raises(BadInputError, match="does not exist"):
        create_occupancy_method("learned", weights="/nonexistent/weights.pt", device="cpu")


def test_degraded_stereo_keeps_shapes_and_jitters_the_calibration_within_bounds():
    from depth_completion_ros.training.occupancy_geometry import degrade_stereo

    frame = wall_pair()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        left, right, right_camera = degrade_stereo(frame.left, frame.right, frame.right_camera, rng,
                                                   np.full((HEIGHT, WIDTH), 6.75, np.float32))
        assert left.shape == frame.left.shape and left.dtype == np.uint8 and right.shape == frame.right.shape
        ratio = right_camera.P[0, 3] / frame.right_camera.P[0, 3]
        assert 0.98 <= ratio <= 1.02
        assert abs(right_camera.P[0, 2] - frame.right_camera.P[0, 2]) <= 0.3
    assert np.any(left != frame.left)


def test_unknown_free_state_outside_the_view_is_kept():
    from depth_completion_ros.models.occupancy_geometry import occupancy_state

    sgbm = np.array([UNKNOWN, FREE, OCCUPIED, OCCUPIED, UNKNOWN], np.uint8)
    logits = np.array([3.0, -1.0, -3.0, -3.0, 3.0])
    in_view = np.array([True, True, True, False, False])
    np.testing.assert_array_equal(occupancy_state(logits, sgbm, 0.0, in_view),
                                  [OCCUPIED, FREE, FREE, OCCUPIED, UNKNOWN])


@pytest.mark.parametrize(("name", "layout"), [("occupancy_geometry.pt", "bev"), ("occupancy_geometry_voxel.pt", "voxel")])
def test_shipped_weights_load_match_their_card_and_fit_the_size_budget(name, layout):
    import json

    from depth_completion_ros.pipeline.occupancy_geometry import GEOMETRY_WEIGHTS

    weights = GEOMETRY_WEIGHTS.with_name(name)
    assert weights.stat().st_size <= 20 * 2**20
    model, payload = load_geometry_net(weights)
    card = json.loads(weights.with_suffix(".json").read_text())
    assert GeometryNetConfig.from_dict(card["config"]) == model.config and model.config.layout == layout
    assert "optimizer" not in payload and "raw_state_dict" not in payload
    assert "dcr train occupancy-geometry" in card["reproduce"][0]
    method = create_occupancy_method("learned", weights=weights, device="cpu")
    result = method(wall_pair(), GRID)
    assert result.state.shape == GRID.shape and (result.state == OCCUPIED).any()


def test_bev_network_starts_at_the_baseline_and_keeps_each_column_in_its_cell():
    from depth_completion_ros.models.occupancy_geometry import BevGeometryOccNet, build_geometry_net

    config = GeometryNetConfig(layout="bev", widths=(8, 8, 8), head_width=8, height=16)
    model = build_geometry_net(config).eval()
    assert isinstance(model, BevGeometryOccNet)
    features = (torch.rand(1, len(FEATURES), 12, 8, 16) > 0.7).float()
    with torch.no_grad():
        torch.testing.assert_close(model(features), config.margin * (2 * features[:, :1] - 1))
        torch.nn.init.normal_(model.head[-1].weight, std=0.1)
        # a residual that depends on height only at one cell: the flattening is undone exactly
        model.head[-1].bias.copy_(torch.arange(16, dtype=torch.float32))
        model.head[-1].weight.zero_()
        logits = model(features) - config.margin * (2 * features[:, :1] - 1)
    torch.testing.assert_close(logits[0, 0, 3, 5], torch.arange(16, dtype=torch.float32))
    padded = predict_logits(model, np.zeros((len(FEATURES), 10, 6, 16), np.float32))
    assert padded.shape == (10, 6, 16)  # X and Y padded and cut back, the height never padded
    with pytest.raises(BadInputError, match="16 height layers"):
        model(torch.zeros(1, len(FEATURES), 8, 8, 8))
    with pytest.raises(BadInputError, match="unknown network layout"):
        build_geometry_net(GeometryNetConfig(layout="octree"))


def test_rig_features_are_computed_once_per_rig_and_never_written():
    from depth_completion_ros.models.occupancy_geometry import rig_features

    left, _ = cameras()
    first = rig_features(left, T_GRID_CAMERA, GRID, FOCAL * BASELINE)
    assert rig_features(left, T_GRID_CAMERA, GRID, FOCAL * BASELINE) is first and not first.flags.writeable
    moved = T_GRID_CAMERA.copy()
    moved[2, 3] = 0.4
    other = rig_features(left, moved, GRID, FOCAL * BASELINE)
    assert other is not first and not np.array_equal(other[2], first[2])  # the distances moved with the camera


def test_column_stem_is_the_1x1_convolution_of_the_permuted_columns():
    from depth_completion_ros.models.occupancy_geometry import ColumnStem

    stem = ColumnStem(channels=3, height=4, out=8)
    features = torch.rand(2, 3, 5, 6, 4)
    columns = features.permute(0, 1, 4, 2, 3).reshape(2, 12, 5, 6)  # channel c * Z + z
    weight = stem.weight.permute(2, 0, 1).reshape(8, 12, 1, 1)
    expected = torch.relu(stem.norm(torch.nn.functional.conv2d(columns, weight)))
    torch.testing.assert_close(stem(features), expected, rtol=1e-5, atol=1e-5)


def test_bev_network_runs_coarser_grids_at_its_own_layer_count_and_refuses_others():
    from depth_completion_ros.models.occupancy_geometry import build_geometry_net
    from depth_completion_ros.pipeline.occupancy_geometry import coarsened

    learned = GeometryOccupancy(untrained=True, device="cpu")
    learned.model = build_geometry_net(GeometryNetConfig(layout="bev", widths=(8, 8, 8), head_width=8,
                                                         height=GRID.shape[2])).eval()
    coarse = GRID.downsampled(2)
    result = learned(wall_pair(), coarse)
    fine = learned(wall_pair(), GRID)  # untrained: sgbm's grid
    assert result.shape == coarse.shape and (result.state == OCCUPIED).sum() > 5
    np.testing.assert_array_equal(result.state, coarsened(fine, 2, coarse).state)
    block = fine.state[:2, :2, :2]
    assert coarsened(fine, 2, coarse).state[0, 0, 0] == (OCCUPIED if (block == OCCUPIED).any() else
                                                         FREE if (block == FREE).any() else UNKNOWN)
    with pytest.raises(BadInputError, match="height layers"):
        learned(wall_pair(), VoxelGrid(GRID.origin, 0.2, (64, 32, 12)))
