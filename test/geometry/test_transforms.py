import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import (
    compose,
    invert_transform,
    make_transform,
    matrix_to_quaternion,
    parse_extrinsic,
    quaternion_to_matrix,
    rotation_from_rpy,
    transform_from_xyz_quat,
    transform_points,
    validate_transform,
    xyz_quat_from_transform,
)

finite = st.floats(-1.0, 1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(q=st.tuples(finite, finite, finite, finite).filter(lambda q: np.linalg.norm(q) > 0.1))
def test_quaternion_matrix_round_trip(q):
    q = np.array(q) / np.linalg.norm(q)
    R = quaternion_to_matrix(q)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    back = matrix_to_quaternion(R)
    assert back[3] >= 0
    assert abs(np.dot(back, q)) == pytest.approx(1.0)  # q and -q are the same rotation
    np.testing.assert_allclose(quaternion_to_matrix(back), R, atol=1e-9)


def test_known_rotation_about_z():
    R = quaternion_to_matrix([0, 0, np.sin(np.pi / 4), np.cos(np.pi / 4)])  # +90 deg yaw
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(rotation_from_rpy(0, 0, np.pi / 2), R, atol=1e-12)


def test_compose_invert_and_apply():
    rng = np.random.default_rng(0)
    T_a_b = transform_from_xyz_quat(rng.normal(size=3), rng.normal(size=4))
    T_b_c = transform_from_xyz_quat(rng.normal(size=3), rng.normal(size=4))
    points_c = rng.normal(size=(10, 3))
    direct = transform_points(compose(T_a_b, T_b_c), points_c)
    chained = transform_points(T_a_b, transform_points(T_b_c, points_c))
    np.testing.assert_allclose(direct, chained, atol=1e-12)
    np.testing.assert_allclose(compose(T_a_b, invert_transform(T_a_b)), np.eye(4), atol=1e-12)
    xyz, q = xyz_quat_from_transform(T_a_b)
    np.testing.assert_allclose(transform_from_xyz_quat(xyz, q), T_a_b, atol=1e-12)


def test_transform_points_keeps_float32():
    points = np.ones((4, 3), np.float32)
    assert transform_points(make_transform(np.eye(3), [1, 2, 3]), points).dtype == np.float32


def test_parse_extrinsic_forms_agree():
    T = transform_from_xyz_quat([0.1, -0.2, 1.5], [0.0, 0.0, 0.3826834, 0.9238795])
    as_matrix = parse_extrinsic({"matrix": T.ravel().tolist()}, "lidar")
    as_list = parse_extrinsic(T.ravel().tolist(), "lidar")
    as_quat = parse_extrinsic({"xyz": [0.1, -0.2, 1.5], "quaternion": [0.0, 0.0, 0.3826834, 0.9238795]}, "lidar")
    as_rpy = parse_extrinsic({"xyz": [0.1, -0.2, 1.5], "rpy": [0, 0, np.pi / 4]}, "lidar")
    for other in (as_list, as_quat, as_rpy):
        np.testing.assert_allclose(other, as_matrix, atol=1e-6)


@pytest.mark.parametrize(
    "spec",
    [
        {"xyz": [0, 0, 0]},
        {"xyz": [0, 0], "quaternion": [0, 0, 0, 1]},
        {"xyz": [0, 0, 0], "quaternion": [0, 0, 0, 0]},
        [1.0] * 15,
        np.diag([2.0, 1, 1, 1]).ravel().tolist(),
        np.vstack([np.eye(4)[:3], [0, 0, 1, 1]]).ravel().tolist(),
        np.full(16, np.nan).tolist(),
    ],
)
def test_bad_extrinsics_raise_the_typed_error(spec):
    with pytest.raises(BadInputError) as error:
        parse_extrinsic(spec, "extrinsics.lidar")
    assert error.value.field.startswith("extrinsics.lidar") or error.value.field == "quaternion"


def test_validate_rejects_reflection():
    with pytest.raises(BadInputError):
        validate_transform(np.diag([1.0, 1.0, -1.0, 1.0]), "T")


def test_transform_tree_lookup_through_a_common_parent():
    from depth_completion_ros.geometry.transforms import TransformTree

    rng = np.random.default_rng(3)
    T_base_cam = transform_from_xyz_quat(rng.normal(size=3), rng.normal(size=4))
    T_base_lidar = transform_from_xyz_quat(rng.normal(size=3), rng.normal(size=4))
    T_odom_base = transform_from_xyz_quat(rng.normal(size=3), rng.normal(size=4))
    tree = TransformTree()
    tree.add("base", "cam", T_base_cam)
    tree.add("base", "lidar", T_base_lidar)
    tree.add("odom", "base", T_odom_base)
    np.testing.assert_allclose(tree.lookup("cam", "lidar"), invert_transform(T_base_cam) @ T_base_lidar, atol=1e-12)
    np.testing.assert_allclose(tree.lookup("odom", "cam"), T_odom_base @ T_base_cam, atol=1e-12)
    np.testing.assert_allclose(tree.lookup("lidar", "lidar"), np.eye(4))
    with pytest.raises(BadInputError, match="known frames"):
        tree.lookup("cam", "radar")
