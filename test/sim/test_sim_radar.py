import numpy as np

from depth_completion_ros.geometry.transforms import make_transform
from depth_completion_ros.sim import labels
from depth_completion_ros.sim.meshes import box
from depth_completion_ros.sim.radar import RADAR_FIELDS, RadarModel, scan_radar
from depth_completion_ros.sim.world import generate_world

CAR_LO, CAR_HI = np.array([20.0, -1.0, 0.2]), np.array([24.5, 1.0, 1.6])


def _car_world(make_world, speed):
    ground = box((-50, -50, -1), (150, 50, 0))
    car = box(CAR_LO, CAR_HI)
    return make_world([(ground, labels.ROAD), (car, labels.MOVING_CAR)], velocities=[(0, 0, 0), (speed, 0, 0)])


def test_radar_returns_lie_near_the_object_and_carry_its_radial_velocity(make_world):
    speed = -6.0  # coming towards the radar
    world = _car_world(make_world, speed)
    model = RadarModel()
    T_world_radar = make_transform(np.eye(3), [0.0, 0.0, 0.5])
    ego_velocity = np.zeros(3)
    real_returns = 0
    for seed in range(5):
        scan = scan_radar(world.snapshot(0.0), model, T_world_radar, ego_velocity, world.ground_classes,
                          np.random.default_rng(seed))
        points = scan.points
        assert points.dtype == np.float32 and points.shape[1] == len(RADAR_FIELDS)
        np.testing.assert_array_equal(points[:, 2], 0.0)  # no elevation: the radar plane
        real = points[~scan.is_ghost]
        real_returns += real.shape[0]
        assert np.all(scan.object_index[~scan.is_ghost] == 1)  # never the road (ground filter)
        # horizontal distance to the car's footprint, within range and azimuth noise
        xy = real[:, :2].astype(np.float64) + T_world_radar[:2, 3]
        outside = np.maximum(np.maximum(CAR_LO[:2] - xy, xy - CAR_HI[:2]), 0)
        tolerance = 4 * model.range_noise_std + 4 * np.radians(model.azimuth_noise_std_deg) * 25
        assert np.all(np.linalg.norm(outside, axis=1) <= tolerance)
        # radial velocity along the line of sight: (v . u) u
        unit = real[:, :2] / np.linalg.norm(real[:, :2], axis=1, keepdims=True)
        radial = np.einsum("ij,ij->i", real[:, 6:8], unit)
        np.testing.assert_allclose(radial, speed * unit[:, 0], atol=5 * model.velocity_noise_std + 0.1)
        np.testing.assert_allclose(real[:, 4:6], real[:, 6:8])  # ego at rest: no compensation
    assert real_returns >= 5


def test_ego_motion_shows_in_uncompensated_velocity_only(make_world):
    world = _car_world(make_world, speed=0.0)
    scan = scan_radar(world.snapshot(0.0), RadarModel(ghost_fraction=0.0, clutter_per_scan=0.0),
                      make_transform(np.eye(3), [0, 0, 0.5]), np.array([10.0, 0, 0]), world.ground_classes,
                      np.random.default_rng(0))
    assert scan.points.shape[0] > 0
    assert np.all(scan.points[:, 4] < -8.0)  # static car approached at 10 m/s
    np.testing.assert_allclose(scan.points[:, 6:8], 0.0, atol=0.5)


def test_street_sweeps_are_sparse_and_contain_ghosts():
    world = generate_world("street", seed=2, duration=3.0)
    model = RadarModel()
    counts, ghosts = [], 0
    for i, time in enumerate((0.0, 1.0, 2.0)):
        T = world.trajectory.T_world_base(time) @ make_transform(np.eye(3), [2.0, 0, 0.5])
        scan = scan_radar(world.snapshot(time), model, T, world.trajectory.velocity, world.ground_classes,
                          np.random.default_rng(i))
        counts.append(scan.points.shape[0])
        ghosts += int(scan.is_ghost.sum())
        assert np.all(scan.points[:, 3] > -40) and np.all(scan.points[:, 3] < 60)  # plausible dBsm
    assert all(10 <= c <= model.max_returns for c in counts)
    assert ghosts > 0
