import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import make_transform, transform_points
from depth_completion_ros.sim import labels
from depth_completion_ros.sim.lidar import ELEVATION_TABLES, LidarModel, scan_lidar
from depth_completion_ros.sim.meshes import box
from depth_completion_ros.sim.world import Material, generate_world


def _closed_room(make_world, half=30.0):
    """A 60 m box room around the origin: every beam hits a wall, floor or ceiling."""
    t = 1.0
    walls = [box((-half - t, -half - t, -half - t), (half + t, half + t, -half)),
             box((-half - t, -half - t, half), (half + t, half + t, half + t)),
             box((-half - t, -half - t, -half), (-half, half + t, half)),
             box((half, -half - t, -half), (half + t, half + t, half)),
             box((-half, -half - t, -half), (half, -half, half)),
             box((-half, half, -half), (half, half + t, half))]
    return make_world([(walls, labels.BUILDING)])


@pytest.mark.parametrize("name", sorted(ELEVATION_TABLES))
def test_ring_elevations_match_the_table(make_world, name):
    world = _closed_room(make_world)
    model = LidarModel.builtin(name, range_noise_std=0.05)
    T_world_lidar = make_transform(np.eye(3), [1.0, -2.0, 0.5])
    scan = scan_lidar(world.snapshot(0.0), model, T_world_lidar, np.random.default_rng(0))
    points = scan.points
    assert points.dtype == np.float32 and points.shape[1] == 5
    ring = points[:, 4].astype(int)
    np.testing.assert_array_equal(points[:, 4], ring)
    assert set(np.unique(ring)) == set(range(model.num_rings))  # every ring returns
    elevation = np.degrees(np.arctan2(points[:, 2], np.hypot(points[:, 0], points[:, 1])))
    np.testing.assert_allclose(elevation, ELEVATION_TABLES[name][ring], atol=2e-3)


def test_builtin_tables_have_the_published_extremes():
    hdl64 = ELEVATION_TABLES["HDL-64E"]
    assert hdl64.size == 64 and hdl64[0] == pytest.approx(-24.33) and hdl64[-1] == pytest.approx(2.0)
    assert ELEVATION_TABLES["VLP-16"].tolist() == list(range(-15, 16, 2))
    assert ELEVATION_TABLES["VLP-32C"][[0, -1]].tolist() == [-25.0, 15.0]
    assert ELEVATION_TABLES["OS1-128"].size == 128


def _distance_to_nearest_surface(points: np.ndarray, parts) -> np.ndarray:
    """(N,) distance of points to the nearest part boundary, from the parts' face planes.

    For a convex part, ``|max_i (n_i . p - d_i)|`` is the distance of p to its boundary
    (exact inside and next to a face; within a factor sqrt(3) near edges), in float64.
    """
    best = np.full(points.shape[0], np.inf)
    for _, part in parts:
        normals, offsets = part.planes
        best = np.minimum(best, np.abs((points @ normals.T - offsets).max(axis=1)))
    return best


def test_points_lie_on_mesh_surfaces_within_the_noise():
    world = generate_world("street", seed=4, duration=2.0)
    snapshot = world.snapshot(0.7)
    T_world_lidar = world.trajectory.T_world_base(0.7) @ make_transform(np.eye(3), [0, 0, 1.73])
    sigma = 0.03
    model = LidarModel.builtin("HDL-64E", range_noise_std=sigma)
    sample = np.random.default_rng(0)
    for rng, noise in ((None, 0.0), (np.random.default_rng(3), 5 * sigma)):
        scan = scan_lidar(snapshot, model, T_world_lidar, rng)
        assert scan.points.shape[0] > 30_000
        points = scan.points[sample.choice(scan.points.shape[0], 4000, replace=False)]
        world_points = transform_points(T_world_lidar, points[:, :3].astype(np.float64))
        distance = _distance_to_nearest_surface(world_points, snapshot.parts)
        float32_error = 1e-4 + 2e-5 * np.linalg.norm(points[:, :3], axis=1)  # open3d casts in float32
        assert np.all(distance <= noise + float32_error)
    assert distance.std() > 0.3 * sigma  # the noise is really there


def test_dark_and_grazing_surfaces_drop_more_returns(make_world):
    wall = box((10, -40, -10), (11, 40, 10))
    T = make_transform(np.eye(3), [0, 0, 0])
    model = LidarModel.builtin("VLP-16", azimuth_range_deg=(-5.0, 5.0))

    def returns(reflectivity, wall_part):
        material = Material((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), reflectivity=reflectivity)
        world = make_world([(wall_part, labels.BUILDING)], materials=[material])
        no_dropout = scan_lidar(world.snapshot(0.0), model, T, None).points.shape[0]
        return scan_lidar(world.snapshot(0.0), model, T, np.random.default_rng(0)).points.shape[0] / no_dropout

    bright, dark = returns(0.9, wall), returns(0.05, wall)
    assert dark < bright - 0.08
    grazing_wall = box((-30, -0.5, -10), (50, 0.5, 10), yaw=np.radians(10))  # hit at 5-15 degrees
    assert returns(0.9, grazing_wall) < bright - 0.03


def test_custom_table_must_be_ascending():
    with pytest.raises(BadInputError, match="ascending"):
        LidarModel(name="bad", elevations_deg=[1.0, 0.0], azimuth_step_deg=0.2)
