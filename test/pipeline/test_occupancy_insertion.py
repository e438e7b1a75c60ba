import numpy as np
import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid
from depth_completion_ros.pipeline.occupancy import (
    OccupancyMap,
    _clip_to_box,
    _trace_crossings,
    height_band_projection,
    insert_depth,
    insert_points,
    occupied_voxels,
    trace_free,
)

GRID = VoxelGrid(origin=(0.0, -2.0, -1.0), resolution=0.5, shape=(16, 8, 4))


def _sampled_free(grid: VoxelGrid, origin: np.ndarray, end: np.ndarray, samples: int = 20000) -> set:
    """Voxels a segment visits, by dense sampling (the slow reference)."""
    t = np.linspace(0.0, 1.0, samples)[:, None]
    index, inside = grid.voxel_index(origin + t * (end - origin))
    return {tuple(i) for i in index[inside]}


def test_a_single_ray_frees_the_voxels_before_its_hit():
    origin = np.array([0.1, 0.1, 0.1])
    grid = insert_points(GRID, np.array([[3.1, 0.1, 0.1]]), origin)
    row = grid.state[:, 4, 2]
    assert row[6] == OCCUPIED
    assert np.all(row[:6] == FREE) and np.all(row[7:] == UNKNOWN)
    assert np.count_nonzero(grid.state == FREE) == 6
    assert grid.probability[6, 4, 2] == 1.0 and grid.probability[0, 4, 2] == 0.0 and grid.probability[9, 4, 2] == 0.5


def tensor_traversal(grid: VoxelGrid, origin: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The GPU's tensor traversal, run on the CPU in float64: (nx, ny, nz) bool."""
    o = torch.as_tensor((origin - grid.origin) / grid.resolution)
    start, _, delta, first, last = _clip_to_box(o, torch.as_tensor((ends - grid.origin) / grid.resolution),
                                                torch.tensor(grid.shape))
    return _trace_crossings(start, delta, first, last, grid.shape).numpy()


@pytest.mark.parametrize("traverse", [trace_free, tensor_traversal],
                         ids=["cpu_walk", "gpu_tensor_code"])
def test_traversal_matches_dense_sampling_for_random_rays(traverse):
    rng = np.random.default_rng(3)
    origins = rng.uniform([-2, -4, -2], [10, 4, 2], size=(40, 3))
    ends = rng.uniform([-2, -4, -2], [10, 4, 2], size=(40, 3))
    for origin, end in zip(origins, ends):
        traced = {tuple(i) for i in np.argwhere(traverse(GRID, origin, end[None]))}
        sampled = _sampled_free(GRID, origin, end)
        # sampling can only miss voxels the segment grazes at a corner
        assert sampled <= traced
        assert len(traced - sampled) <= 1


def test_cpu_walk_and_gpu_tensor_code_visit_the_same_voxels():
    grid = VoxelGrid(origin=(-8.0, -8.0, -2.0), resolution=0.25, shape=(64, 64, 16))
    rng = np.random.default_rng(11)
    origin = np.array([0.05, -0.1, 0.3])
    ends = rng.normal(0.0, 6.0, size=(20000, 3))
    walked = trace_free(grid, origin, ends)
    assert walked.sum() > 10000
    np.testing.assert_array_equal(walked, tensor_traversal(grid, origin, ends))


def test_trace_free_skips_non_finite_endpoints():
    origin = np.array([0.1, 0.1, 0.1])
    good = np.array([[3.1, 0.1, 0.1]])
    bad = np.array([[np.nan, 0.1, 0.1], [np.inf, 1.0, 1.0], [0.1, -np.inf, 0.1]])
    np.testing.assert_array_equal(trace_free(GRID, origin, np.vstack([bad, good])), trace_free(GRID, origin, good))


def test_rays_clip_to_the_grid_and_bad_points_are_dropped():
    origin = np.array([-3.0, 0.1, 0.1])  # outside the grid
    points = np.array([[20.0, 0.1, 0.1], [np.nan, 0, 0], [np.inf, 1, 1]])
    grid = insert_points(GRID, points, origin)
    assert np.all(grid.state[:, 4, 2] == FREE)
    assert np.count_nonzero(grid.state == OCCUPIED) == 0
    empty = insert_points(GRID, np.zeros((0, 3)), origin)
    assert np.all(empty.state == UNKNOWN)
    with pytest.raises(BadInputError, match="points"):
        insert_points(GRID, np.zeros((4, 2)), origin)


def test_max_range_clears_space_without_a_hit():
    origin = np.array([0.1, 0.1, 0.1])
    grid = insert_points(GRID, np.array([[6.1, 0.1, 0.1]]), origin, max_range=2.0)
    row = grid.state[:, 4, 2]
    assert np.count_nonzero(row == OCCUPIED) == 0
    assert np.all(row[:4] == FREE) and np.all(row[5:] == UNKNOWN)


def test_point_labels_take_the_majority_per_voxel():
    points = np.array([[3.1, 0.1, 0.1], [3.2, 0.2, 0.1], [3.3, 0.1, 0.2], [5.1, 0.1, 0.1]])
    grid = insert_points(GRID, points, np.array([0.1, 0.1, 0.1]), labels=np.array([7, 9, 9, 4]))
    assert grid.labels[6, 4, 2] == 9 and grid.labels[10, 4, 2] == 4
    assert np.count_nonzero(grid.labels) == 2


def test_depth_image_of_a_wall_occupies_its_distance_and_frees_the_space_before_it():
    camera = CameraModel.from_intrinsics(20.0, 20.0, 9.5, 7.5, 20, 16)
    depth = np.full((16, 20), 5.0, np.float32)
    depth[0, 0] = np.nan
    # optical frame (z forward, x right, y down) -> grid frame (x forward, y left, z up)
    T_grid_camera = np.array([[0, 0, 1, 0.25], [-1, 0, 0, 0.1], [0, -1, 0, 0.1], [0, 0, 0, 1]], float)
    grid = insert_depth(GRID, depth, camera, T_grid_camera)
    centres, labels, probability = occupied_voxels(grid)
    assert len(centres) > 0 and labels is None
    assert np.all(np.abs(centres[:, 0] - 5.25) <= 0.5)
    assert np.all(probability == 1.0)
    assert grid.state[5, 4, 2] == FREE and grid.state[13, 4, 2] == UNKNOWN
    with pytest.raises(BadInputError, match="camera is"):
        insert_depth(GRID, depth[:8], camera, T_grid_camera)


def test_height_band_projection_of_occupied_free_and_unknown_columns():
    state = np.full(GRID.shape, UNKNOWN, np.uint8)
    state[0] = FREE                      # column x=0: free through the band
    state[1, :, 1] = OCCUPIED            # x=1: an obstacle inside the band
    state[2, :, 3] = OCCUPIED            # x=2: only above the band -> not free (z=1 unknown... )
    state[2, :, :3] = FREE
    grid = GRID.with_values(state=state)
    cells = height_band_projection(grid, z_min=-0.6, z_max=0.3)  # centres -0.25 and 0.25 -> layers 1 and 2
    assert cells.dtype == np.int8 and cells.shape == (16, 8)
    assert np.all(cells[0] == 0) and np.all(cells[1] == 100) and np.all(cells[2] == 0) and np.all(cells[3] == -1)
    probability = np.where(state == OCCUPIED, 0.8, 0.2).astype(np.float32)
    assert np.all(height_band_projection(GRID.with_values(state=state, probability=probability), -0.6, 0.3)[1] == 80)
    with pytest.raises(BadInputError, match="no voxel centre"):
        height_band_projection(grid, 5.0, 6.0)


def test_log_odds_map_accumulates_scans_with_a_pose():
    local_map = OccupancyMap(GRID)
    T_map_sensor = np.eye(4)
    T_map_sensor[:3, 3] = [0.1, 0.1, 0.1]
    hit = np.array([[3.0, 0.0, 0.0]])  # sensor frame: the voxel (6, 4, 2) in the map
    for _ in range(2):
        local_map.integrate(hit, T_map_sensor)
    grid = local_map.to_grid()
    assert grid.state[6, 4, 2] == OCCUPIED and grid.state[3, 4, 2] == FREE
    p_after_hits = grid.probability[6, 4, 2]
    moved = T_map_sensor.copy()
    moved[0, 3] = 0.1  # the same sensor now sees through that voxel to x = 6
    for _ in range(6):  # 2 hits (+0.85 each) need 5 misses (-0.41 each) to turn free
        local_map.integrate(np.array([[6.0, 0.0, 0.0]]), moved)
    grid = local_map.to_grid()
    assert grid.probability[6, 4, 2] < p_after_hits
    assert grid.state[6, 4, 2] == FREE and grid.state[12, 4, 2] == OCCUPIED
    assert grid.state[0, 0, 0] == UNKNOWN and grid.probability[0, 0, 0] == 0.5


def test_trace_free_marks_a_given_grid_in_place_with_a_value():
    origin = np.array([0.1, 0.1, 0.1])
    ends = np.random.default_rng(2).uniform([-2, -4, -2], [10, 4, 2], size=(50, 3))
    out = np.full(int(np.prod(GRID.shape)), 7, np.uint8)
    marked = trace_free(GRID, origin, ends, out=out, value=1)
    assert np.shares_memory(marked, out) and marked.shape == GRID.shape
    np.testing.assert_array_equal(marked == 1, trace_free(GRID, origin, ends))
    assert set(np.unique(out)) == {1, 7}


def test_ray_stride_traces_fewer_rays_but_keeps_every_hit():
    rng = np.random.default_rng(3)
    camera = CameraModel.from_intrinsics(40.0, 40.0, 31.5, 15.5, 64, 32)
    depth = rng.uniform(1.0, 6.0, (32, 64)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.2] = 0.0
    T = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]], float)
    every = insert_depth(GRID, depth, camera, T)
    fewer = insert_depth(GRID, depth, camera, T, ray_stride=2)
    np.testing.assert_array_equal(fewer.state == OCCUPIED, every.state == OCCUPIED)
    assert np.all(every.state[fewer.state == FREE] == FREE)
    assert np.count_nonzero(fewer.state == FREE) < np.count_nonzero(every.state == FREE)
    with pytest.raises(BadInputError, match="ray_mask"):
        insert_points(GRID, np.ones((3, 3)), np.zeros(3), ray_mask=np.ones(2, bool))


def test_the_lidar_method_on_a_real_kitti_scan_marks_every_return_and_frees_the_rays(kitti_object):
    """The LiDAR path (``--method lidar``) on a real HDL-64 scan in the SemanticKITTI grid:
    every return in the grid is OCCUPIED, the space the beams crossed is FREE, and what lies
    behind the first wall stays UNKNOWN."""
    from depth_completion_ros.datasets.kitti import read_velodyne_bin
    from depth_completion_ros.pipeline.occupancy_methods import StereoFrame, create_occupancy_method

    scan = read_velodyne_bin(kitti_object / "velodyne" / "000000.bin")[:, :3]
    image = np.zeros((4, 4, 3), np.uint8)
    camera = CameraModel.from_intrinsics(1.0, 1.0, 2.0, 2.0, 4, 4)
    frame = StereoFrame(image, image, camera, camera, np.eye(4), lidar_points=scan)
    grid = create_occupancy_method("lidar", device="cpu")(frame, VoxelGrid())
    index, inside = grid.voxel_index(scan)
    hits = index[inside]
    assert hits.shape[0] > 10_000  # a real scan fills the 51.2 m grid ahead
    assert np.all(grid.state[hits[:, 0], hits[:, 1], hits[:, 2]] == OCCUPIED)
    occupied, free = np.count_nonzero(grid.state == OCCUPIED), np.count_nonzero(grid.state == FREE)
    assert free > 5 * occupied > 0 and np.count_nonzero(grid.state == UNKNOWN) > free
    # half-way to each return (inside the grid, not itself a return's voxel) the beam passed: FREE
    halfway, half_inside = grid.voxel_index(scan[inside] / 2.0)
    halfway = halfway[half_inside]
    not_a_hit = grid.state[halfway[:, 0], halfway[:, 1], halfway[:, 2]] != OCCUPIED
    assert np.mean(grid.state[halfway[not_a_hit, 0], halfway[not_a_hit, 1], halfway[not_a_hit, 2]] == FREE) > 0.99
