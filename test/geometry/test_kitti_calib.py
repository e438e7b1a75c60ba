import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.kitti_calib import (
    load_object_calib,
    load_odometry_calib,
    load_raw_calib,
    read_calib_file,
)
from depth_completion_ros.geometry.camera import project
from depth_completion_ros.geometry.transforms import transform_points

P2 = [721.5377, 0, 609.5593, 44.85728, 0, 721.5377, 172.854, 0.2163791, 0, 0, 1, 0.002745884]
R0 = [0.9999239, 0.00983776, -0.007445048, -0.009869795, 0.9999421, -0.004278459, 0.007402527, 0.004351614, 0.9999631]
TR = [0.007533745, -0.9999714, -0.000616602, -0.004069766, 0.01480249, 0.0007280733, -0.9998902, -0.07631618,
      0.9998621, 0.007523790, 0.01480755, -0.2717806]


def fmt(values) -> str:
    return " ".join(f"{v:.12e}" for v in values)


def test_object_calib_on_real_kitti_files(kitti_object):
    calib = load_object_calib(kitti_object / "calib" / "000000.txt")
    assert set(calib.P_rect) == {0, 1, 2, 3}
    assert calib.P_rect[2][0, 0] == pytest.approx(707.0493)
    np.testing.assert_allclose(calib.R_rect @ calib.R_rect.T, np.eye(3), atol=1e-5)
    cam = calib.camera(2, 1224, 370)
    assert (cam.width, cam.height) == (1224, 370) and cam.rectified
    with pytest.raises(BadInputError, match="image size"):
        calib.camera(2)


def test_odometry_calib(tmp_path):
    path = tmp_path / "calib.txt"
    p0 = [718.856, 0, 607.1928, 0, 0, 718.856, 185.2157, 0, 0, 0, 1, 0]
    path.write_text("".join(f"P{i}: {fmt(p0)}\n" for i in range(4)) + f"Tr: {fmt(TR)}\n")
    calib = load_odometry_calib(path)
    np.testing.assert_array_equal(calib.R_rect, np.eye(3))
    np.testing.assert_allclose(calib.T_cam0_velo[:3].ravel(), TR)


def test_raw_calib_pair(tmp_path):
    cam_to_cam = tmp_path / "calib_cam_to_cam.txt"
    velo_to_cam = tmp_path / "calib_velo_to_cam.txt"
    lines = ["calib_time: 09-Jan-2012 13:57:47", "corner_dist: 9.950000e-02"]
    for i in range(4):
        lines += [
            f"S_0{i}: 1.392000e+03 5.120000e+02",
            f"K_0{i}: {fmt([984.2, 0, 690, 0, 980.8, 233.2, 0, 0, 1])}",
            f"D_0{i}: {fmt([-0.37, 0.2, 0.001, -0.0008, -0.07])}",
            f"S_rect_0{i}: 1.242000e+03 3.750000e+02",
            f"R_rect_0{i}: {fmt(R0)}",
            f"P_rect_0{i}: {fmt(P2)}",
        ]
    cam_to_cam.write_text("\n".join(lines) + "\n")
    tr = np.array(TR).reshape(3, 4)
    velo_to_cam.write_text(
        f"calib_time: 15-Mar-2012 11:37:16\nR: {fmt(tr[:, :3].ravel())}\nT: {fmt(tr[:, 3])}\n"
        "delta_f: 0.000000e+00 0.000000e+00\ndelta_c: 0.000000e+00 0.000000e+00\n"
    )
    calib = load_raw_calib(cam_to_cam, velo_to_cam)
    assert calib.image_sizes[2] == (1242, 375)
    assert calib.D[0].size == 5 and calib.K[3][0, 0] == pytest.approx(984.2)
    cam = calib.camera(2)
    assert (cam.width, cam.height) == (1242, 375)
    # the camera model reproduces the devkit's P2 @ R0_rect @ Tr_velo_to_cam chain
    point_velo = np.array([10.0, 1.0, -0.5, 1.0])
    R0_4 = np.eye(4)
    R0_4[:3, :3] = np.array(R0).reshape(3, 3)
    devkit = np.array(P2).reshape(3, 4) @ R0_4 @ np.vstack([tr, [0, 0, 0, 1]]) @ point_velo
    uv, depth = project(cam, transform_points(calib.T_cam0_velo, point_velo[None, :3]))
    np.testing.assert_allclose(uv[0], devkit[:2] / devkit[2], rtol=1e-10)
    assert depth[0] == pytest.approx(devkit[2])


def test_missing_key_and_bad_count_name_the_file(tmp_path):
    path = tmp_path / "000001.txt"
    path.write_text(f"P0: {fmt(P2)}\nP1: {fmt(P2)}\nP2: {fmt(P2)}\n")
    with pytest.raises(BadInputError) as error:
        load_object_calib(path)
    assert "000001.txt: P3" in error.value.field
    path.write_text("".join(f"P{i}: {fmt(P2)}\n" for i in range(4)) + f"R0_rect: {fmt(R0[:8])}\nTr_velo_to_cam: {fmt(TR)}\n")
    with pytest.raises(BadInputError, match="expected 9 numbers"):
        load_object_calib(path)


def test_unreadable_file_raises_typed_error(tmp_path):
    with pytest.raises(BadInputError):
        read_calib_file(tmp_path / "missing.txt")
