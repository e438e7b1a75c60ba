import numpy as np

from depth_completion_ros.geometry.camera import CameraModel, unproject
from depth_completion_ros.geometry.transforms import compose, make_transform, rotation_from_rpy
from depth_completion_ros.sim import labels
from depth_completion_ros.sim.camera import camera_rays, disparity_from_depth, render_camera
from depth_completion_ros.sim.meshes import box
from depth_completion_ros.sim.rig import CameraAppearance
from depth_completion_ros.sim.world import CHECKER, Material

# Optical frame (x right, y down, z forward) in a REP 103 body frame (x forward, y left, z up).
R_BODY_OPTICAL = rotation_from_rpy(-np.pi / 2, 0.0, -np.pi / 2)
NO_NOISE = CameraAppearance(noise_std=0.0, blur_sigma=0.0, exposure_jitter=0.0)


def _camera(width=64, height=48, f=50.0):
    return CameraModel.from_intrinsics(f, f, (width - 1) / 2, (height - 1) / 2, width, height)


def test_plane_at_known_distance_renders_exact_depth(make_world):
    distance = 7.25
    world = make_world([(box((distance, -50, -50), (distance + 1, 50, 50)), labels.BUILDING)])
    camera = _camera()
    T_world_camera = make_transform(R_BODY_OPTICAL, [0.0, 0.0, 0.0])
    image = render_camera(world.snapshot(0.0), world, camera, T_world_camera, NO_NOISE)
    np.testing.assert_allclose(image.depth, distance, rtol=1e-6)
    assert np.all(image.semantic == labels.BUILDING)
    assert np.all(image.instance == 1)


def test_rendered_depth_unprojects_onto_a_tilted_ground_plane(make_world):
    """Depth agrees with geometry.camera.unproject: every ground pixel lands on z = 0."""
    world = make_world([(box((-100, -100, -1), (100, 100, 0.0)), labels.ROAD)])
    camera = _camera()
    T_world_camera = make_transform(rotation_from_rpy(0.0, 0.3, 0.0) @ R_BODY_OPTICAL, [0.0, 0.0, 1.5])
    image = render_camera(world.snapshot(0.0), world, camera, T_world_camera, NO_NOISE)
    rows, cols = np.nonzero(image.depth > 0)
    assert rows.size > 0.4 * image.depth.size  # the lower part of the image sees the ground
    points = unproject(camera, np.column_stack([cols, rows]).astype(float), image.depth[rows, cols])
    world_points = points @ T_world_camera[:3, :3].T + T_world_camera[:3, 3]
    np.testing.assert_allclose(world_points[:, 2], 0.0, atol=2e-5 * image.depth.max())
    assert np.all(image.semantic[image.depth == 0] == labels.UNLABELED)  # the sky


def test_stereo_disparity_is_f_baseline_over_depth_and_matches_the_right_image(make_world):
    f, baseline, distance = 50.0, 0.5, 5.0  # disparity f B / z = 5 px exactly
    camera = _camera(f=f)
    P_right = camera.P.copy()
    P_right[0, 3] = -f * baseline
    right = CameraModel(width=camera.width, height=camera.height, K=camera.K, P=P_right)
    checker = Material((0.9, 0.9, 0.9), (0.1, 0.2, 0.3), texture=CHECKER, texture_scale=2.3)
    world = make_world([(box((distance, -50, -50), (distance + 1, 50, 50)), labels.BUILDING)], materials=[checker])
    T_world_camera = make_transform(R_BODY_OPTICAL, [0.0, 0.0, 1.0])
    snapshot = world.snapshot(0.0)
    left_image = render_camera(snapshot, world, camera, T_world_camera, NO_NOISE)
    right_image = render_camera(snapshot, world, right, T_world_camera, NO_NOISE)
    disparity = disparity_from_depth(left_image.depth, right)
    np.testing.assert_allclose(disparity, f * baseline / left_image.depth, rtol=1e-6)
    np.testing.assert_allclose(disparity, 5.0, rtol=1e-5)
    # Left pixel u sees what right pixel u - d sees: same depth, same texture.
    np.testing.assert_allclose(right_image.depth, distance, rtol=1e-6)
    same = left_image.rgb[:, 5:] == right_image.rgb[:, :-5]
    assert same.all(axis=-1).mean() > 0.98
    assert not np.array_equal(left_image.rgb, right_image.rgb)  # the views do differ


def test_rays_of_a_rectified_right_camera_start_at_its_centre():
    camera = _camera()
    P_right = camera.P.copy()
    P_right[0, 3] = -camera.fx * 0.54
    origins, directions = camera_rays(CameraModel(width=64, height=48, K=camera.K, P=P_right))
    np.testing.assert_allclose(origins, [[0.54, 0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(directions[:, 2], 1.0)


def test_noise_and_exposure_change_the_image_but_not_the_ground_truth(make_world):
    world = make_world([(box((5, -50, -50), (6, 50, 50)), labels.BUILDING)])
    camera = _camera()
    T = compose(make_transform(np.eye(3), [0, 0, 1]), make_transform(R_BODY_OPTICAL, [0, 0, 0]))
    snapshot = world.snapshot(0.0)
    clean = render_camera(snapshot, world, camera, T, NO_NOISE)
    noisy = render_camera(snapshot, world, camera, T, CameraAppearance(noise_std=3.0, blur_sigma=1.0),
                          np.random.default_rng(1))
    assert np.abs(noisy.rgb.astype(int) - clean.rgb).mean() > 0.5
    np.testing.assert_array_equal(noisy.depth, clean.depth)
