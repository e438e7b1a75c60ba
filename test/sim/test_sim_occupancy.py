import numpy as np

from depth_completion_ros.geometry.transforms import make_transform
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid
from depth_completion_ros.sim import labels
from depth_completion_ros.sim.lidar import LidarModel
from depth_completion_ros.sim.meshes import box, cylinder
from depth_completion_ros.sim.occupancy import occupancy_ground_truth, voxelize_parts

GRID = VoxelGrid()  # SemanticKITTI: 256 x 256 x 32 at 0.2 m


def test_box_occupies_exactly_the_voxels_whose_centres_it_contains():
    lo, hi = np.array([10.05, -3.33, -1.71]), np.array([14.43, 1.07, 0.29])
    class_of = np.array([labels.CAR], dtype=np.uint16)
    grid_labels = voxelize_parts([(0, box(lo, hi))], class_of, GRID, np.eye(4))
    centres = GRID.centres()
    expected = np.all((centres >= lo) & (centres <= hi), axis=-1)
    assert expected.sum() == 22 * 22 * 10  # centres 10.1..14.3, -3.3..0.9, -1.7..0.1
    np.testing.assert_array_equal(grid_labels > 0, expected)
    assert np.all(grid_labels[expected] == labels.CAR)


def test_yawed_box_and_grid_pose_are_exact():
    yaw = np.radians(30)
    lo, hi = np.array([18.0, -2.0, -1.0]), np.array([22.0, 1.0, 0.5])
    T_world_grid = make_transform(np.eye(3), [5.0, 1.0, 1.7])  # the grid (LiDAR) frame in the world
    part = box(lo, hi, yaw=yaw)
    grid_labels = voxelize_parts([(0, part)], np.array([7], np.uint16), GRID, np.linalg.inv(T_world_grid))
    # independent check: rotate each world-frame centre into the box frame and compare bounds
    world = GRID.centres().astype(np.float64) + T_world_grid[:3, 3]
    centre = (lo + hi) / 2
    c, s = np.cos(yaw), np.sin(yaw)
    local = world - centre
    local_xy = np.stack([c * local[..., 0] + s * local[..., 1], -s * local[..., 0] + c * local[..., 1]], axis=-1)
    half = (hi - lo) / 2
    expected = np.all(np.abs(local_xy) <= half[:2], axis=-1) & (np.abs(local[..., 2]) <= half[2])
    assert expected.sum() > 100
    np.testing.assert_array_equal(grid_labels == 7, expected)


def test_later_objects_win_where_parts_overlap():
    road = box((-10, -30, -3), (60, 30, -1.73))
    pole = cylinder((20.0, 0.0, -2.5), 0.3, 5.0)
    grid_labels = voxelize_parts([(0, road), (1, pole)], np.array([labels.ROAD, labels.POLE], np.uint16), GRID,
                                 np.eye(4))
    i, j = np.searchsorted(GRID.axis_centres(0), 20.0) - 1, np.searchsorted(GRID.axis_centres(1), 0.0)
    assert grid_labels[i, j, 0] == labels.POLE  # inside both: the pole, listed later
    assert grid_labels[i + 10, j, 0] == labels.ROAD
    assert grid_labels[i, j, -1] == 0


def test_visibility_marks_the_shadow_behind_a_wall_invalid(make_world):
    ground = box((-10, -40, -3), (70, 40, -1.73))  # LiDAR 1.73 m above the ground
    wall = box((15.0, -2.0, -1.73), (16.0, 2.0, 4.0))
    world = make_world([(ground, labels.ROAD), (wall, labels.BUILDING)])
    lidar = LidarModel.builtin("HDL-64E")
    gt = occupancy_ground_truth(world.snapshot(0.0), GRID, np.eye(4), lidar, np.eye(4))
    x, y, z = (GRID.axis_centres(a) for a in range(3))
    ix = lambda v: int(np.argmin(np.abs(x - v)))  # noqa: E731
    iy, iz_air, iz_road = int(np.argmin(np.abs(y - 0.1))), int(np.argmin(np.abs(z - (-1.3)))), 0
    state = gt.state
    assert state[ix(8.0), iy, iz_air] == FREE  # in front of the wall
    assert state[ix(15.1), iy, iz_air] == OCCUPIED  # the wall's front layer
    assert gt.labels[ix(15.5), iy, iz_air] == labels.BUILDING and gt.invalid[ix(15.5), iy, iz_air]  # inside
    assert state[ix(30.0), iy, iz_air] == UNKNOWN  # in its shadow
    assert state[ix(30.0), iy, iz_road] == UNKNOWN  # the road in the shadow
    assert state[ix(8.0), iy, iz_road] == OCCUPIED  # the visible road layer under its surface
    assert state[ix(8.0), int(np.argmin(np.abs(y - 15.0))), iz_air] == FREE  # beside the wall
    assert gt.invalid.sum() > 1000 and (~gt.invalid).sum() > 100_000


def test_axis_aligned_fast_path_equals_the_general_plane_test():
    """Boxes in an aligned grid take a separable path; it must match ConvexPart.contains."""
    rng = np.random.default_rng(0)
    grid = VoxelGrid(origin=(-2.0, -3.0, -1.0), resolution=0.25, shape=(24, 20, 12))
    centres = grid.centres().reshape(-1, 3).astype(np.float64)
    for _ in range(20):
        lo = rng.uniform([-3, -4, -2], [3, 2, 1])
        part = box(lo, lo + rng.uniform(0.1, 4.0, 3))
        fast = voxelize_parts([(0, part)], np.array([1], np.uint16), grid, np.eye(4)) > 0
        general = part.contains(np.stack(np.meshgrid(*(grid.axis_centres(a) for a in range(3)), indexing="ij"),
                                         axis=-1).reshape(-1, 3))
        np.testing.assert_array_equal(fast.reshape(-1), general)
        np.testing.assert_array_equal(general, np.all((centres >= part.vertices.min(0))
                                                      & (centres <= part.vertices.max(0)), axis=1))


def test_the_camera_observes_voxels_above_the_lidar_field_of_view(make_world):
    from depth_completion_ros.geometry.camera import CameraModel
    from depth_completion_ros.geometry.transforms import rotation_from_rpy

    world = make_world([(box((-10, -40, -3), (70, 40, -1.73)), labels.ROAD)])
    lidar = LidarModel.builtin("HDL-64E")  # top ring at +2 degrees
    camera = CameraModel.from_intrinsics(721.5, 721.5, 609.5, 172.8, 1242, 375)  # +-13.5 degrees vertically
    T_world_camera = make_transform(rotation_from_rpy(-np.pi / 2, 0.0, -np.pi / 2), [0.27, 0.0, -0.08])
    x, y, z = (GRID.axis_centres(a) for a in range(3))
    voxel = (int(np.argmin(np.abs(x - 20.0))), int(np.argmin(np.abs(y - 0.1))), int(np.argmin(np.abs(z - 2.0))))
    lidar_only = occupancy_ground_truth(world.snapshot(0.0), GRID, np.eye(4), lidar, np.eye(4))
    with_camera = occupancy_ground_truth(world.snapshot(0.0), GRID, np.eye(4), lidar, np.eye(4), camera,
                                         T_world_camera)
    assert lidar_only.state[voxel] == UNKNOWN  # 5.7 degrees up: between the LiDAR's rings and the sky
    assert with_camera.state[voxel] == FREE
    assert (~with_camera.invalid).sum() > (~lidar_only.invalid).sum()
