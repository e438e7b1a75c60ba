"""``dcr convert``: tiny KITTI raw / odometry (+SemanticKITTI) / nuScenes folders written in
their exact layouts, converted, and read back with the package's bag and message readers."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.cli.main import main
from depth_completion_ros.datasets import messages as readers
from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.datasets.kitti_protocol import ring_ids
from depth_completion_ros.datasets.semantic_kitti import write_bits, write_labels
from depth_completion_ros.geometry.camera import project
from depth_completion_ros.geometry.kitti_calib import load_object_calib
from depth_completion_ros.geometry.transforms import compose, invert_transform, xyz_quat_from_transform
from depth_completion_ros.geometry.voxels import OCCUPIED, UNKNOWN, VoxelGrid


REPO = Path(__file__).resolve().parents[2]
FRAMES = 3
RAW_CAMERA_START = "2011-09-26 13:02:25.964389445"
RAW_VELODYNE_START = "2011-09-26 13:02:25.961031699"


def raw_stamps(first: str, frames: int) -> list[str]:
    """``frames`` raw timestamps 0.104 s apart from ``first`` (same format, nanoseconds kept)."""
    whole, fraction = first.split(".")
    start = datetime.strptime(whole, "%Y-%m-%d %H:%M:%S")
    stamps = []
    for i in range(frames):
        ns = int(fraction) + i * 104_139_000
        stamps.append(f"{start + timedelta(seconds=ns // 10**9):%Y-%m-%d %H:%M:%S}.{ns % 10**9:09d}")
    return stamps


def shared_data(name: str) -> Path:
    for root in (REPO.parent / "shared" / "data", Path(os.environ.get("DCR_SHARED_DATA", "/nonexistent")),
                 Path("/work/shared/data")):
        if (root / name).is_dir():
            return root / name
    pytest.skip(f"shared sample data '{name}' not found (../shared/data, $DCR_SHARED_DATA or /work/shared/data)")


def _line(key: str, values) -> str:
    return f"{key}: " + " ".join(f"{v:.12e}" for v in np.asarray(values, dtype=np.float64).reshape(-1))


def _object_frames() -> tuple[Path, list[np.ndarray], list[Path]]:
    """The KITTI object sample: calib of frame 0, its image resized to one size, the 3 scans."""
    root = shared_data("kitti_object")
    first = cv2.imread(str(root / "image_2" / "000000.png"))
    height, width = first.shape[:2]
    images = [cv2.resize(cv2.imread(str(p)), (width, height)) for p in sorted((root / "image_2").glob("*.png"))]
    return root / "calib" / "000000.txt", images, sorted((root / "velodyne").glob("*.bin"))


def write_kitti_raw(tmp_path: Path, frames: int = FRAMES) -> Path:
    """A raw drive ``2011_09_26/2011_09_26_drive_0001_sync`` from the object sample (its 3
    frames repeated to make ``frames``)."""
    calib_path, images, scans = _object_frames()
    images = [images[i % len(images)] for i in range(frames)]
    scans = [scans[i % len(scans)] for i in range(frames)]
    calib = load_object_calib(calib_path)
    values = {k: v for k, v in (line.split(":", 1) for line in calib_path.read_text().splitlines() if ":" in line)}
    height, width = images[0].shape[:2]
    date = tmp_path / "2011_09_26"
    drive = date / "2011_09_26_drive_0001_sync"
    lines = ["calib_time: 09-Jan-2012 13:57:47", "corner_dist: 9.950000e-02"]
    for i in range(4):
        lines += [_line(f"S_0{i}", [1392, 512]), _line(f"K_0{i}", calib.P_rect[i][:, :3]),
                  _line(f"D_0{i}", [-0.37, 0.2, 0.0, 0.0, -0.07]), _line(f"R_0{i}", np.eye(3)),
                  _line(f"T_0{i}", [0.0, 0.0, 0.0]), _line(f"S_rect_0{i}", [width, height]),
                  _line(f"R_rect_0{i}", calib.R_rect), _line(f"P_rect_0{i}", calib.P_rect[i])]
    date.mkdir()
    (date / "calib_cam_to_cam.txt").write_text("\n".join(lines) + "\n")
    (date / "calib_velo_to_cam.txt").write_text("\n".join(
        ["calib_time: 15-Mar-2012 11:37:16", _line("R", calib.T_cam0_velo[:3, :3]), _line("T", calib.T_cam0_velo[:3, 3]),
         "delta_f: 0.000000e+00 0.000000e+00", "delta_c: 0.000000e+00 0.000000e+00"]) + "\n")
    imu = np.array([float(v) for v in values["Tr_imu_to_velo"].split()]).reshape(3, 4)
    (date / "calib_imu_to_velo.txt").write_text("\n".join(
        ["calib_time: 25-May-2012 16:47:16", _line("R", imu[:, :3]), _line("T", imu[:, 3])]) + "\n")
    for index in range(4):
        folder = drive / f"image_{index:02d}"
        (folder / "data").mkdir(parents=True)
        for frame, image in enumerate(images):
            pixels = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if index < 2 else image
            cv2.imwrite(str(folder / "data" / f"{frame:010d}.png"), pixels)
        (folder / "timestamps.txt").write_text("\n".join(raw_stamps(RAW_CAMERA_START, frames)) + "\n")
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    for frame, scan in enumerate(scans):
        (drive / "velodyne_points" / "data" / f"{frame:010d}.bin").write_bytes(scan.read_bytes())
    (drive / "velodyne_points" / "timestamps.txt").write_text("\n".join(raw_stamps(RAW_VELODYNE_START, frames)) + "\n")
    (drive / "oxts" / "data").mkdir(parents=True)  # present in every drive, not used
    return drive


def write_kitti_odometry(tmp_path: Path, with_voxels: bool = True) -> tuple[Path, dict]:
    """A 3-frame ``sequences/00`` (image_2, image_3, velodyne, calib.txt, times.txt, voxels/)."""
    calib_path, images, scans = _object_frames()
    calib = load_object_calib(calib_path)
    sequence = tmp_path / "sequences" / "00"
    for index in (2, 3):
        (sequence / f"image_{index}").mkdir(parents=True)
        for frame, image in enumerate(images):
            cv2.imwrite(str(sequence / f"image_{index}" / f"{frame:06d}.png"), image)
    (sequence / "velodyne").mkdir()
    for frame, scan in enumerate(scans):
        (sequence / "velodyne" / f"{frame:06d}.bin").write_bytes(scan.read_bytes())
    # odometry P_i take rectified camera-0 points and Tr maps velodyne into that frame
    T_rect_velo = compose(np.block([[calib.R_rect, np.zeros((3, 1))], [np.zeros((1, 3)), 1]]), calib.T_cam0_velo)
    (sequence / "calib.txt").write_text("\n".join(
        [_line(f"P{i}", calib.P_rect[i]) for i in range(4)] + [_line("Tr", T_rect_velo[:3])]) + "\n")
    (sequence / "times.txt").write_text("0.000000e+00\n1.036840e-01\n2.073681e-01\n")
    truth = {}
    if with_voxels:
        (sequence / "voxels").mkdir()
        labels = np.zeros((256, 256, 32), np.uint16)
        labels[100:110, 120:130, 5:9] = 10  # a car-sized block: 400 voxels, its surface is listed
        labels[0, 0, 0] = 40  # a lone road voxel
        invalid = np.zeros(labels.shape, bool)
        invalid[100:105] = True
        write_labels(sequence / "voxels" / "000000.label", labels)
        write_bits(sequence / "voxels" / "000000.invalid", invalid)
        write_bits(sequence / "voxels" / "000000.bin", labels > 0)
        truth = {"labels": labels, "invalid": invalid}
    return sequence, truth


def convert(*args: str) -> int:
    return main(["convert", *args])


def read_bag(path: Path) -> tuple[dict[str, list], object]:
    with Bag(path) as bag:
        messages: dict[str, list] = {}
        for message in bag.messages():
            messages.setdefault(message.topic, []).append(message)
        return messages, bag.static_transforms()


@pytest.fixture(scope="module")
def raw_bag(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("raw")
    drive = write_kitti_raw(root)
    assert convert("kitti-raw", str(drive), "--out", str(root / "bag")) == 0
    return drive, root / "bag"


def test_kitti_raw_topics_counts_stamps_and_messages(raw_bag):
    drive, bag = raw_bag
    messages, tree = read_bag(bag)
    cameras = ["/camera/gray/left", "/camera/gray/right", "/camera/left", "/camera/right"]
    expected = {"/tf_static": 1, "/lidar/points": FRAMES}
    expected.update({f"{c}/{kind}": FRAMES for c in cameras for kind in ("image_rect", "camera_info")})
    assert {topic: len(msgs) for topic, msgs in messages.items()} == expected
    camera_ns = sorted({m.stamp_ns for m in messages["/camera/left/image_rect"]})
    lidar_ns = [m.stamp_ns for m in messages["/lidar/points"]]
    assert camera_ns[0] % 10**9 == 964389445 and np.all(np.diff(camera_ns) == 104_139_000)
    assert lidar_ns[0] == camera_ns[0] - (964389445 - 961031699)
    assert [m.stamp_ns for m in messages["/camera/left/camera_info"]] == camera_ns

    left = messages["/camera/left/image_rect"][0].msg
    gray = messages["/camera/gray/left/image_rect"][0].msg
    stored = cv2.imread(str(drive / "image_02" / "data" / "0000000000.png"))
    assert (left.encoding, gray.encoding) == ("rgb8", "mono8")
    np.testing.assert_array_equal(readers.image_to_rgb(left), stored[:, :, ::-1])
    assert readers.image_to_numpy(gray).shape == stored.shape[:2]

    cloud = readers.pointcloud2_to_array(messages["/lidar/points"][0].msg)
    scan = read_velodyne_bin(drive / "velodyne_points" / "data" / "0000000000.bin").astype(np.float64)
    assert cloud.dtype.names == ("x", "y", "z", "intensity", "ring")
    np.testing.assert_array_equal(cloud["x"], scan[:, 0])
    np.testing.assert_array_equal(cloud["ring"], ring_ids(scan))
    assert cloud["ring"].max() == 63
    assert {"base_link", "velodyne", "camera_left_optical_frame", "camera_gray_right_optical_frame"} <= tree.frames


def test_kitti_raw_projection_through_bag_matches_the_calibration(raw_bag):
    drive, bag = raw_bag
    messages, tree = read_bag(bag)
    from depth_completion_ros.geometry.kitti_calib import load_raw_calib

    calib = load_raw_calib(drive.parent / "calib_cam_to_cam.txt", drive.parent / "calib_velo_to_cam.txt")
    scan = read_velodyne_bin(drive / "velodyne_points" / "data" / "0000000000.bin").astype(np.float64)
    lidar_frame = messages["/lidar/points"][0].frame_id
    for index, namespace, left in ((2, "/camera/left", None), (0, "/camera/gray/left", None),
                                   (3, "/camera/right", "/camera/left")):
        info = messages[f"{namespace}/camera_info"][0].msg
        frame = messages[f"{left or namespace}/image_rect"][0].frame_id  # a right P takes its left camera's points
        uv_bag, depth_bag = project(readers.camera_info_to_model(info), scan[:, :3], tree.lookup(frame, lidar_frame))
        uv, depth = project(calib.camera(index), scan[:, :3], calib.T_cam0_velo)
        inside = (depth > 1.0) & np.all((uv >= 0) & (uv < [info.width, info.height]), axis=1)
        if left is None:
            np.testing.assert_allclose(uv_bag[inside], uv[inside], atol=1e-3)
            np.testing.assert_allclose(depth_bag[inside], depth[inside], atol=1e-4)
        else:  # a CameraInfo holds no stereo offset along the optical axis (dz, a few mm in KITTI)
            dz = abs(calib.P_rect[index][2, 3] - calib.P_rect[2][2, 3])
            centre = calib.P_rect[index][:2, 2]
            bound = (np.abs(uv[inside] - centre) + 1) * dz / (depth[inside, None] - dz) + 1e-3
            assert np.all(np.abs(uv_bag[inside] - uv[inside]) <= bound)
            np.testing.assert_allclose(depth_bag[inside], depth[inside], atol=dz + 1e-4)
        assert inside.sum() > 10_000
    right = messages["/camera/right/camera_info"][0].msg
    baseline = -right.p[3] / right.p[0]
    centres = [np.linalg.svd(calib.P_rect[i])[2][-1] for i in (2, 3)]  # P C = 0: the camera centres
    x2, x3 = (c[0] / c[3] for c in centres)
    assert baseline == pytest.approx(x3 - x2, rel=1e-9)
    T_imu_velo = tree.lookup("base_link", "velodyne")
    assert np.linalg.norm(T_imu_velo[:3, 3]) == pytest.approx(np.linalg.norm([-8.086759e-01, 3.195559e-01, -7.997231e-01]),
                                                              rel=1e-4)


def test_kitti_raw_bag_evaluates_with_held_out_rings(raw_bag, tmp_path, capsys):
    _, bag = raw_bag
    out = tmp_path / "report"
    code = main(["eval", str(bag), "--out", str(out), "--gt-depth-topic", "none", "--holdout-every", "4",
                 "--image-topic", "/camera/left/image_rect", "--camera-info-topic", "/camera/left/camera_info",
                 "--lidar-topic", "/lidar/points"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "metrics.json").read_text())["summary"][0]
    assert summary["frames"] == FRAMES
    assert summary["delta1"] > 0.8  # sanity: a grossly wrong calibration scores far lower on held-out rings


def test_kitti_odometry_with_semantic_kitti_occupancy(tmp_path):
    sequence, truth = write_kitti_odometry(tmp_path)
    assert convert("kitti-odometry", str(sequence), "--out", str(tmp_path / "bag")) == 0
    messages, tree = read_bag(tmp_path / "bag")
    assert {t: len(m) for t, m in messages.items()} == {
        "/tf_static": 1, "/lidar/points": FRAMES, "/occupancy/ground_truth": 1,
        "/camera/left/image_rect": FRAMES, "/camera/left/camera_info": FRAMES,
        "/camera/right/image_rect": FRAMES, "/camera/right/camera_info": FRAMES}
    stamps = [m.stamp_ns for m in messages["/lidar/points"]]
    assert stamps[0] % 10**9 == 0 and stamps[1] - stamps[0] == 103_684_000
    occupancy = messages["/occupancy/ground_truth"][0]
    assert occupancy.stamp_ns == stamps[0] and occupancy.frame_id == "velodyne"
    cloud = readers.pointcloud2_to_array(occupancy.msg)
    assert cloud.dtype.names == ("x", "y", "z", "label", "state")
    grid = VoxelGrid()
    index = np.floor((np.stack([cloud["x"], cloud["y"], cloud["z"]], 1) - grid.origin) / grid.resolution).astype(int)
    labels, invalid = truth["labels"], truth["invalid"]
    np.testing.assert_array_equal(cloud["label"], labels[tuple(index.T)])
    np.testing.assert_array_equal(cloud["state"], np.where(invalid[tuple(index.T)], UNKNOWN, OCCUPIED))
    block_surface = 10 * 10 * 4 - 8 * 8 * 2
    assert cloud.size == block_surface + 1  # surfaces only: the block's 128 interior voxels are left out

    from depth_completion_ros.geometry.kitti_calib import load_odometry_calib

    calib = load_odometry_calib(sequence / "calib.txt")
    scan = read_velodyne_bin(sequence / "velodyne" / "000000.bin").astype(np.float64)
    info = messages["/camera/left/camera_info"][0].msg
    T = tree.lookup(messages["/camera/left/image_rect"][0].frame_id, "velodyne")
    uv_bag, depth_bag = project(readers.camera_info_to_model(info), scan[:, :3], T)
    uv, depth = project(calib.camera(2, info.width, info.height), scan[:, :3], calib.T_cam0_velo)
    inside = (depth > 1.0) & np.all((uv >= 0) & (uv < [info.width, info.height]), axis=1)
    np.testing.assert_allclose(uv_bag[inside], uv[inside], atol=1e-3)
    np.testing.assert_allclose(depth_bag[inside], depth[inside], atol=1e-4)


def _error(capsys) -> str:
    """The one error line (the progress bar also writes to stderr, with carriage returns)."""
    err = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.startswith("dcr convert:")]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("breakage, expected", [
    (lambda d: (d.parent / "calib_velo_to_cam.txt").unlink(), "calib_velo_to_cam.txt: not found"),
    (lambda d: (d.parent / "calib_imu_to_velo.txt").unlink(), "calib_imu_to_velo.txt: not found"),
    (lambda d: (d / "velodyne_points" / "data" / "0000000002.bin").unlink(), "has 3 times but"),
    (lambda d: (d / "image_02" / "timestamps.txt").write_text("\n".join(raw_stamps(RAW_CAMERA_START, 2))),
     "has 2 times but"),
    (lambda d: (d / "image_01" / "timestamps.txt").write_text("yesterday\n" * 3), "image_01/timestamps.txt:1"),
    (lambda d: [p.unlink() for p in (d / "velodyne_points" / "data").iterdir()], "no *.bin files"),
    (lambda d: (d / "image_03" / "data" / "0000000001.png").write_bytes(b"\x89PNG broken"), "0000000001.png: cannot be read as an 8-bit image"),
    (lambda d: (d / "velodyne_points" / "data" / "0000000001.bin").write_bytes(b"\0" * 10), "whole number"),
])
def test_kitti_raw_bad_input_is_one_line_naming_the_file(tmp_path, capsys, breakage, expected):
    drive = write_kitti_raw(tmp_path)
    breakage(drive)
    out = tmp_path / "bag"
    assert convert("kitti-raw", str(drive), "--out", str(out)) == 2
    assert expected in _error(capsys)
    assert not out.exists()  # a failed conversion leaves no partial bag


@pytest.mark.parametrize("breakage, expected", [
    (lambda s: (s / "voxels" / "000000.invalid").unlink(), "000000.invalid: not found"),
    (lambda s: (s / "voxels" / "000000.label").write_bytes(b"\0" * 64), "000000.label: has 32 labels"),
    (lambda s: (s / "calib.txt").write_text("P0: 1 2 3\n"), "calib.txt: P0: expected 12 numbers"),
    (lambda s: (s / "times.txt").unlink(), "times.txt: not found"),
    (lambda s: (s / "times.txt").write_text("0.0\n0.1\n"), "has 2 times but"),
])
def test_kitti_odometry_bad_input_is_one_line_naming_the_file(tmp_path, capsys, breakage, expected):
    sequence, _ = write_kitti_odometry(tmp_path)
    breakage(sequence)
    assert convert("kitti-odometry", str(sequence), "--out", str(tmp_path / "bag")) == 2
    assert expected in _error(capsys)
    assert not (tmp_path / "bag").exists()


def test_existing_output_is_refused(tmp_path, capsys):
    (tmp_path / "bag").mkdir()
    assert convert("kitti-raw", str(tmp_path), "--out", str(tmp_path / "bag")) == 2
    assert "already exists" in _error(capsys)


def test_help_lists_every_converter(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = capsys.readouterr().out
    assert all(kind in text for kind in ("kitti-raw", "kitti-odometry", "nuscenes"))


NUSCENES_RADAR_HEADER = """# .PCD v0.7 - Point Cloud Data file format
VERSION 0.7
FIELDS x y z dyn_prop id rcs vx vy vx_comp vy_comp is_quality_valid ambig_state x_rms y_rms invalid_state pdh0 vx_rms vy_rms
SIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1
TYPE F F F I I F F F F F I I I I I I I I
COUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
WIDTH {n}
HEIGHT 1
VIEWPOINT 0 0 0 1 0 0 0
POINTS {n}
DATA binary
"""
RADAR_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("dyn_prop", "i1"), ("id", "<i2"), ("rcs", "<f4"),
                        ("vx", "<f4"), ("vy", "<f4"), ("vx_comp", "<f4"), ("vy_comp", "<f4")]
                       + [(name, "i1") for name in ("is_quality_valid", "ambig_state", "x_rms", "y_rms",
                                                    "invalid_state", "pdh0", "vx_rms", "vy_rms")])


def write_nuscenes_radar(path: Path, n: int, seed: int) -> np.ndarray:
    """A radar sweep in nuScenes' exact .pcd v0.7 binary layout (43 bytes a point)."""
    rng = np.random.default_rng(seed)
    cloud = np.zeros(n, RADAR_DTYPE)
    for name in ("x", "y", "rcs", "vx", "vy", "vx_comp", "vy_comp"):
        cloud[name] = rng.normal(0, 10, n)
    cloud["id"] = np.arange(n)
    cloud["dyn_prop"] = rng.integers(0, 7, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(NUSCENES_RADAR_HEADER.format(n=n).encode("ascii") + cloud.tobytes())
    return cloud


def _record(T: np.ndarray) -> dict:
    xyz, (x, y, z, w) = xyz_quat_from_transform(np.asarray(T, dtype=np.float64))
    return {"translation": xyz.tolist(), "rotation": [w, x, y, z]}


def write_nuscenes(tmp_path: Path) -> tuple[Path, dict]:
    """scene-0061 (2 key frames + 1 LiDAR sweep of CAM_FRONT, LIDAR_TOP, RADAR_FRONT) and an
    empty scene-0103, from the shared key frame; the radar sweeps are written here."""
    sample = shared_data("nuscenes_sample")
    calib = json.loads((sample / "calib_from_pkl.json").read_text())
    root = tmp_path / "nuscenes"
    camera_file, lidar_file = calib["cameras"]["CAM_FRONT"]["file"], calib["lidar"]["file"]
    links = {"samples/CAM_FRONT/" + camera_file: sample / camera_file, "samples/LIDAR_TOP/" + lidar_file: sample / lidar_file,
             "sweeps/LIDAR_TOP/" + lidar_file: sample / lidar_file}
    for name, target in links.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)
    radar = [write_nuscenes_radar(root / f"samples/RADAR_FRONT/radar{i}.pcd", 30 + i, i) for i in range(2)]
    sensors = [{"token": f"s-{ch}", "channel": ch, "modality": m}
               for ch, m in (("CAM_FRONT", "camera"), ("LIDAR_TOP", "lidar"), ("RADAR_FRONT", "radar"))]
    T_base_radar = np.eye(4)
    T_base_radar[:3, 3] = [3.412, 0.0, 0.5]
    calibrated = [dict(_record(calib["cameras"]["CAM_FRONT"]["cam2ego"]), token="c-CAM_FRONT", sensor_token="s-CAM_FRONT",
                       camera_intrinsic=calib["cameras"]["CAM_FRONT"]["cam2img"]),
                  dict(_record(calib["lidar"]["lidar2ego"]), token="c-LIDAR_TOP", sensor_token="s-LIDAR_TOP",
                       camera_intrinsic=[]),
                  dict(_record(T_base_radar), token="c-RADAR_FRONT", sensor_token="s-RADAR_FRONT", camera_intrinsic=[])]
    t0 = int(round(calib["timestamp"] * 1e6))
    scenes = [{"token": "scene-a", "name": "scene-0061", "first_sample_token": "k0", "last_sample_token": "k1",
               "nbr_samples": 2}, {"token": "scene-b", "name": "scene-0103", "nbr_samples": 0}]
    samples = [{"token": f"k{i}", "scene_token": "scene-a", "timestamp": t0 + i * 500_000} for i in range(2)]
    data, poses = [], []

    def add(token, channel, filename, stamp, key, sample_token, size=(0, 0)):
        poses.append(dict(_record(calib["ego2global"]), token=f"p-{token}", timestamp=stamp))
        data.append({"token": token, "sample_token": sample_token, "ego_pose_token": f"p-{token}",
                     "calibrated_sensor_token": f"c-{channel}", "timestamp": stamp, "fileformat": filename.split(".")[-1],
                     "is_key_frame": key, "height": size[1], "width": size[0], "filename": filename})

    for i in range(2):
        add(f"cam{i}", "CAM_FRONT", "samples/CAM_FRONT/" + camera_file, t0 + i * 500_000 - 35_000, True, f"k{i}",
            (1600, 900))
        add(f"lidar{i}", "LIDAR_TOP", "samples/LIDAR_TOP/" + lidar_file, t0 + i * 500_000, True, f"k{i}")
        add(f"radar{i}", "RADAR_FRONT", f"samples/RADAR_FRONT/radar{i}.pcd", t0 + i * 500_000 + 10_000, True, f"k{i}")
    add("sweep0", "LIDAR_TOP", "sweeps/LIDAR_TOP/" + lidar_file, t0 + 50_000, False, "k0")
    tables = {"scene": scenes, "sample": samples, "sample_data": data, "calibrated_sensor": calibrated,
              "ego_pose": poses, "sensor": sensors}
    (root / "v1.0-mini").mkdir()
    for name, table in tables.items():
        (root / "v1.0-mini" / f"{name}.json").write_text(json.dumps(table))
    return root, {"calib": calib, "radar": radar, "t0_ns": t0 * 1000}


def test_nuscenes_scene_topics_stamps_and_geometry(tmp_path):
    root, truth = write_nuscenes(tmp_path)
    assert convert("nuscenes", str(root), "--scene", "scene-0061", "--out", str(tmp_path / "bag")) == 0
    messages, tree = read_bag(tmp_path / "bag")
    assert {t: len(m) for t, m in messages.items()} == {
        "/tf_static": 1, "/tf": 7, "/CAM_FRONT/image_rect": 2, "/CAM_FRONT/camera_info": 2, "/LIDAR_TOP": 3,
        "/RADAR_FRONT": 2}
    t0 = truth["t0_ns"]
    assert [m.stamp_ns for m in messages["/LIDAR_TOP"]] == [t0, t0 + 50_000_000, t0 + 500_000_000]
    assert [m.stamp_ns for m in messages["/CAM_FRONT/camera_info"]] == [t0 - 35_000_000, t0 + 465_000_000]
    assert messages["/LIDAR_TOP"][0].frame_id == "lidar_top"

    lidar = readers.pointcloud2_to_array(messages["/LIDAR_TOP"][0].msg)
    sample = shared_data("nuscenes_sample")
    points = np.fromfile(sample / truth["calib"]["lidar"]["file"], "<f4").reshape(-1, 5)
    np.testing.assert_array_equal(lidar["z"], points[:, 2])
    np.testing.assert_array_equal(lidar["ring"], points[:, 4].astype(np.uint16))
    radar = readers.pointcloud2_to_array(messages["/RADAR_FRONT"][1].msg)
    assert radar.dtype.names == RADAR_DTYPE.names
    for name in ("x", "rcs", "vx_comp", "id", "dyn_prop"):
        np.testing.assert_array_equal(radar[name], truth["radar"][1][name])

    # the bag's CameraInfo + /tf_static reproduce the calibration: camera <- ego <- LiDAR (the
    # sample's own lidar2cam also holds the ego motion between the two stamps, which /tf carries)
    camera = truth["calib"]["cameras"]["CAM_FRONT"]
    frame = messages["/CAM_FRONT/image_rect"][0].frame_id
    T_bag = tree.lookup(frame, "lidar_top")
    T_camera_lidar = invert_transform(np.array(camera["cam2ego"])) @ np.array(truth["calib"]["lidar"]["lidar2ego"])
    np.testing.assert_allclose(T_bag, T_camera_lidar, atol=1e-6)
    np.testing.assert_allclose(T_bag[:3, :3], np.array(camera["lidar2cam"])[:3, :3], atol=2e-3)
    model = readers.camera_info_to_model(messages["/CAM_FRONT/camera_info"][0].msg)
    xyz = points[:, :3].astype(np.float64)
    uv_bag, depth_bag = project(model, xyz, T_bag)
    uv, depth = project(model.__class__(width=1600, height=900, K=camera["cam2img"]), xyz, T_camera_lidar)
    inside = (depth > 1.0) & np.all((uv >= 0) & (uv < [1600, 900]), axis=1)
    assert inside.sum() > 1000
    np.testing.assert_allclose(uv_bag[inside], uv[inside], atol=1e-3)
    np.testing.assert_allclose(depth_bag[inside], depth[inside], atol=1e-4)
    rgb = readers.image_to_rgb(messages["/CAM_FRONT/image_rect"][0].msg)
    np.testing.assert_array_equal(rgb, cv2.imread(str(sample / camera["file"]))[:, :, ::-1])


def test_nuscenes_keyframes_only_and_bad_input(tmp_path, capsys):
    root, _ = write_nuscenes(tmp_path)
    assert convert("nuscenes", str(root), "--scene", "scene-0061", "--keyframes-only", "--out",
                   str(tmp_path / "key")) == 0
    messages, _ = read_bag(tmp_path / "key")
    assert len(messages["/LIDAR_TOP"]) == 2
    for args, expected in (
            (["--scene", "scene-9999"], "has no scene 'scene-9999'; it has: scene-0061, scene-0103"),
            (["--scene", "scene-0103"], "has no sample_data for scene 'scene-0103'"),
            (["--scene", "scene-0061", "--version", "v1.0-trainval"], "v1.0-trainval: not found")):
        assert convert("nuscenes", str(root), *args, "--out", str(tmp_path / "bag")) == 2
        assert expected in _error(capsys)
    (root / "sweeps" / "LIDAR_TOP").rename(root / "elsewhere")
    assert convert("nuscenes", str(root), "--scene", "scene-0061", "--out", str(tmp_path / "bag")) == 2
    assert "--keyframes-only" in _error(capsys)
    (root / "samples" / "RADAR_FRONT" / "radar1.pcd").write_bytes(NUSCENES_RADAR_HEADER.format(n=5).encode() + b"\0" * 9)
    assert convert("nuscenes", str(root), "--scene", "scene-0061", "--keyframes-only", "--out", str(tmp_path / "bag")) == 2
    assert "radar1.pcd: has 9 data bytes" in _error(capsys)
    (root / "v1.0-mini" / "ego_pose.json").unlink()
    assert convert("nuscenes", str(root), "--scene", "scene-0061", "--out", str(tmp_path / "bag")) == 2
    assert "ego_pose.json: not found" in _error(capsys)
    assert not (tmp_path / "bag").exists()
