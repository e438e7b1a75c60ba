"""RADIATE sequences (ZED stereo + Velodyne HDL-32E) as a real stereo-occupancy validation set.

ROS-free loader for a RADIATE sequence folder as the ``marcelsheeny/radiate_sdk`` snapshot
holds it (``data/radiate/tiny_foggy``; research use only, the data licence is not stated)::

    ROOT/config/default-calib.yaml                 left/right K and D, stereo R/T, sensor poses
    ROOT/data/radiate/SEQ/zed_left/NNNNNN.png      raw (unrectified) 672x376 ZED images, 15 Hz
    ROOT/data/radiate/SEQ/zed_right/NNNNNN.png
    ROOT/data/radiate/SEQ/zed_left.txt             "Frame: NNNNNN Time: <s>.<ns>" per line
    ROOT/data/radiate/SEQ/velo_lidar/NNNNNN.csv    x, y, z, intensity, ring per line, 10 Hz
    ROOT/data/radiate/SEQ/velo_lidar.txt

Usage::

    seq = RadiateSequence(find_radiate())              # or the sequence folder
    left, right = seq.rectified_images(i)               # seq.rectification.left / .right: their models
    points, origin = seq.sweep_in_grid(seq.pairs[i].sweep, i)   # nearest sweep in base_link, deskewed
    for i in seq.held_out: ...                          # the last 15 pairs: never train on them

:mod:`depth_completion_ros.eval.radiate` builds the ``StereoFrame`` s and the accumulated-LiDAR
occupancy targets from it (the voxelization is the pipeline's), ``dcr convert radiate`` a bag.

Calibration (:func:`read_calibration`) follows the SDK (``radiate.py``, ``utils/calibration.py``):

* stereo: ``cv2.stereoRectify`` with the left and right K, D, the stereo ``R`` and
  ``T = (TX, TY, TZ)`` (millimetres in the file; metres here), ``CALIB_ZERO_DISPARITY``,
  ``alpha = 0``. The SDK remaps the right image with the LEFT distortion (a typo); the right
  camera's own D is used here. The file's R leaves the pair 0.25 deg of yaw and 0.15 deg of
  pitch off: with it, SGBM disparities sit a median 1.5 px below the disparities of the LiDAR
  points (within 1 px of them for 12 % of the points on the trainable pairs, 8 % on the
  held-out ones) and tracked features (LK, forward-backward checked) 1.05 px apart in rows.
  :data:`STEREO_CORRECTION_DEG`, fitted on the trainable pairs (yaw by the LiDAR agreement,
  pitch by the rows), gives 43 % / 33 % within 1 px, a median offset of +0.02 / +0.16 px
  and rows -0.15 / +0.37 px apart (trainable / held-out). Transposing R instead gives rows
  3.3 px apart; the file's ZED angles RX/CV/RZ 6.9 px.
* LiDAR -> camera: the SDK's rotation ``Rflip Rx Ry Rz`` of the angle differences
  (``lidar R - camera R``, degrees) with its transpose applied to the points; the offset
  ``lidar T - camera T`` is given in the rig frame (x right, y forward, z up: the left-right
  camera offset lies along x), so it is rotated into the optical frame here, where the SDK
  adds it to the optical coordinates unrotated (a ~9 cm difference). Checked by projecting
  sweeps onto the rectified images: lane markings, kerbs and hedges line up.

Time and motion: the car drives at ~10 m/s, so 1 m separates two LiDAR sweeps and up to
0.5 m a camera frame from its nearest sweep. Poses come from LiDAR odometry
(:func:`lidar_odometry`: point-to-plane ICP between consecutive deskewed sweeps; it agrees
with the GPS twist speed, 9.5-12 m/s). The GPS/IMU files cannot be used: their stamps
(1574859835.7-841.9 s) lie ~63 s after the camera and LiDAR stamps (1574859771.7-775.9 s),
an offset that is not documented. A sweep's stamp is the end of the sweep; each point's
time follows from its azimuth (the HDL-32E turns clockwise seen from above, 10 Hz). Every
occupancy is expressed in ``base_link`` at the CAMERA's stamp: LiDAR origin, x forward,
y left, z up (REP 103), so ``T_grid_camera`` is static and the scans are motion compensated.

Occupancy target (:func:`depth_completion_ros.eval.radiate.occupancy_target`): the sweeps
within :data:`ACCUMULATION_WINDOW_S` of the camera stamp, deskewed into ``base_link`` at that
stamp, inserted with free space (``pipeline.occupancy.insert_points``); a voxel is occupied
when any sweep's point falls in it, observed when any sweep's ray reaches it, and scored
only when observed AND its centre lies in the rectified left camera's view (the camera
frustum). 0.5 s back and 1 s ahead (15 sweeps) cover the grid's 25.6 m at ~10 m/s: the
later sweeps see the road ahead from closer, more densely. The last held-out pairs have
fewer (the last stamped sweep is 30 ms after the last image): 15 down to 6. Moving objects
are not removed (no labels), so they smear along their path. In this fog the wet road
returns little: where no ray reached the road surface it is unobserved and not scored.

Grid (:data:`ZED_GRID`): 128 x 128 x 32 voxels of 0.2 m in ``base_link``, x in [0, 25.6),
y in [-12.8, 12.8), z in [-2, 4.4) (ground at z ~ -1.9). The ZED's f B is 40 px m
(f = 334 px after rectification, B = 0.1208 m): a quarter-pixel disparity error is 0.6 m
of depth at 10 m and 4 m at 25.6 m (disparity 1.6 px), so stereo carries no 0.2 m
geometry beyond ~25 m. The box is the near quarter of the SemanticKITTI grid (same
resolution, z range and x origin, aligned to its 0.4 m voxels), so networks trained on that
grid can be run and cropped to it; its y extent covers the 87 deg view from 13.5 m on.

Split: the last :data:`HELD_OUT_PAIRS` stereo pairs (by time) are the held-out validation
frames (:attr:`RadiateSequence.held_out`); training and tuning must never use them.
:attr:`RadiateSequence.trainable` are the pairs whose accumulation window ends before the
first held-out stamp, so no LiDAR sweep of a held-out target supervises a training frame
(``tiny_foggy``: 50 pairs; 21 trainable, frames 1-21; 15 held out, frames 36-50).
(The held-out road is still seen far ahead by the earlier frames: one sequence has no
fully independent split.)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.spatial.transform import Rotation, Slerp

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import compose, invert_transform, make_transform, transform_points
from depth_completion_ros.geometry.voxels import VoxelGrid, voxels_in_view
from depth_completion_ros.stereo.matching import rectify

RADIATE_ENV = "DCR_RADIATE"
DEFAULT_ROOT = Path("/work/data/radiate")
DEFAULT_SEQUENCE = "tiny_foggy"

BASE_FRAME = "base_link"
LIDAR_FRAME = "velodyne"
LEFT_FRAME = "zed_left_optical_frame"    # rectified left camera (R = I in its CameraInfo)
RIGHT_FRAME = "zed_right_optical_frame"  # rectified right camera

ZED_GRID = VoxelGrid(origin=(0.0, -12.8, -2.0), resolution=0.2, shape=(128, 128, 32), frame_id=BASE_FRAME)
HELD_OUT_PAIRS = 15
ACCUMULATION_WINDOW_S = (0.5, 1.0)  # sweeps from 0.5 s before to 1.0 s after the camera stamp
LIDAR_PERIOD_S = 0.1
MIN_RANGE_M = 2.5     # returns from the car's own roof and body lie within ~1 m
MAX_RANGE_M = 80.0
# Correction of the file's stereo rotation, degrees about the left optical x (pitch), y (yaw)
# and z axes, fitted on the trainable pairs (see the module docstring).
STEREO_CORRECTION_DEG = (0.15, 0.25, 0.0)

# base_link (x forward, y left, z up) <- velodyne (x right, y forward, z up), same origin
T_BASE_VELODYNE = np.array([[0.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
# optical (x right, y down, z forward) <- rig / velodyne axes (x right, y forward, z up)
_OPTICAL_FROM_RIG = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def find_radiate(sequence: str = DEFAULT_SEQUENCE, root: str | Path | None = None) -> Path | None:
    """The sequence folder of an extracted RADIATE snapshot, or None when absent.

    Looks in ``root`` when given, else in ``$DCR_RADIATE``, then in ``/work/data/radiate``;
    each may be a snapshot root (``ROOT/data/radiate/<sequence>``) or the sequence folder itself.
    """
    if root is not None:
        roots = [Path(root)]
    else:
        roots = [Path(os.environ[RADIATE_ENV])] if os.environ.get(RADIATE_ENV) else []
        roots.append(DEFAULT_ROOT)
    for root in roots:
        for candidate in (root, root / "data" / "radiate" / sequence):
            if (candidate / "zed_left").is_dir() and (candidate / "velo_lidar").is_dir():
                return candidate.resolve()
    return None


def find_calibration(sequence_dir: Path) -> Path:
    """``default-calib.yaml`` beside the sequence or in a ``config/`` folder above it."""
    sequence_dir = Path(sequence_dir)
    for folder in (sequence_dir, *sequence_dir.parents):
        for path in (folder / "default-calib.yaml", folder / "config" / "default-calib.yaml"):
            if path.is_file():
                return path
    raise BadInputError(str(sequence_dir), "no default-calib.yaml beside it or in a config/ folder above it; "
                        "extract config/default-calib.yaml of the radiate_sdk snapshot too, or pass --calib")


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class RadiateCalibration:
    """The rig's calibration.

    Attributes:
        size: (width, height) of the raw images in pixels.
        K_left, K_right: (3, 3) raw intrinsics; ``D_left``, ``D_right``: (5,) plumb_bob
            k1, k2, p1, p2, k3.
        R_stereo, T_stereo: (3, 3) and (3,) metres, OpenCV's stereo convention
            ``X_right = R X_left + T`` (T ~ (-0.121, 0, 0): the right camera 12 cm to the right).
        T_left_lidar: (4, 4) raw left optical frame <- velodyne.
    """

    size: tuple[int, int]
    K_left: np.ndarray
    D_left: np.ndarray
    K_right: np.ndarray
    D_right: np.ndarray
    R_stereo: np.ndarray
    T_stereo: np.ndarray
    T_left_lidar: np.ndarray


def _axis_rotation(axis: int, degrees: float) -> np.ndarray:
    """(3, 3) rotation by ``degrees`` about axis 0 (x), 1 (y) or 2 (z)."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = [a for a in range(3) if a != axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    if axis == 1:  # keep the right-handed sign convention of Ry
        R[i, j], R[j, i] = s, -s
    return R


def sensor_to_camera(sensor_R_deg: np.ndarray, sensor_T: np.ndarray, camera_R_deg: np.ndarray,
                     camera_T: np.ndarray) -> np.ndarray:
    """(4, 4) raw camera optical frame <- sensor, from the calibration file's poses.

    Args:
        sensor_R_deg, camera_R_deg: (3,) the file's ``R`` angles in degrees.
        sensor_T, camera_T: (3,) the file's ``T`` in metres, rig axes (x right, y forward, z up).

    The rotation is the SDK's (``Calibration.transform``): ``M = Rflip Rx Ry Rz`` of the angle
    differences and ``X_cam = M^T X_sensor``; the offset is rotated into optical axes.
    """
    d = np.asarray(sensor_R_deg, np.float64) - np.asarray(camera_R_deg, np.float64)
    flip = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    M = flip @ _axis_rotation(0, d[0]) @ _axis_rotation(1, d[1]) @ _axis_rotation(2, d[2])
    offset = _OPTICAL_FROM_RIG @ (np.asarray(sensor_T, np.float64) - np.asarray(camera_T, np.float64))
    return make_transform(M.T, offset)


def _numbers(cfg: dict, section: str, key: str, count: int, source: str) -> np.ndarray:
    try:
        values = np.asarray(cfg[section][key], dtype=np.float64).reshape(-1)
    except (KeyError, TypeError, ValueError) as error:
        raise BadInputError(f"{source}: {section}.{key}", f"missing or not numbers ({error})") from None
    if values.size != count or not np.all(np.isfinite(values)):
        raise BadInputError(f"{source}: {section}.{key}", f"expected {count} finite numbers, got {values.tolist()}")
    return values


def _intrinsics(cfg: dict, section: str, source: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    fx, fy, cx, cy = (float(_numbers(cfg, section, k, 1, source)[0]) for k in ("fx", "fy", "cx", "cy"))
    D = np.array([float(_numbers(cfg, section, k, 1, source)[0]) for k in ("k1", "k2", "p1", "p2", "k3")])
    width, height = (int(v) for v in _numbers(cfg, section, "res", 2, source))
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), D, (width, height)


def read_calibration(path: str | Path) -> RadiateCalibration:
    """Parse ``default-calib.yaml`` (see the module docstring for the conventions).

    Raises:
        BadInputError: a missing file or key, or a stereo rotation that is not one.
    """
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BadInputError(str(path), "not found; it is config/default-calib.yaml of the radiate_sdk") from None
    except (OSError, yaml.YAMLError) as error:
        raise BadInputError(str(path), f"cannot read the calibration ({error})") from None
    source = str(path)
    if not isinstance(cfg, dict):
        raise BadInputError(source, "is not a YAML mapping")
    K_left, D_left, size = _intrinsics(cfg, "left_cam_calib", source)
    K_right, D_right, size_right = _intrinsics(cfg, "right_cam_calib", source)
    if size != size_right:
        raise BadInputError(f"{source}: right_cam_calib.res", f"{size_right} differs from the left camera's {size}")
    R = _numbers(cfg, "stereo_calib", "R", 9, source).reshape(3, 3)
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4):
        raise BadInputError(f"{source}: stereo_calib.R", "is not a rotation matrix")
    T = np.array([float(_numbers(cfg, "stereo_calib", k, 1, source)[0]) for k in ("TX", "TY", "TZ")]) / 1000.0
    T_left_lidar = sensor_to_camera(_numbers(cfg, "lidar_calib", "R", 3, source),
                                    _numbers(cfg, "lidar_calib", "T", 3, source),
                                    _numbers(cfg, "left_cam_calib", "R", 3, source),
                                    _numbers(cfg, "left_cam_calib", "T", 3, source))
    return RadiateCalibration(size, K_left, D_left, K_right, D_right, R, T, T_left_lidar)


@dataclass(frozen=True)
class StereoRectification:
    """A rectified ZED pair.

    Attributes:
        left_raw, right_raw: models of the RAW images (K, D, R = R1/R2, P = P1/P2,
            ``rectified=False``): :func:`~depth_completion_ros.stereo.matching.rectify`
            remaps raw images with them.
        left, right: models of the RECTIFIED images in their own rectified optical frames
            (R = I, P = P1 and P2 with ``P2[0, 3] = -f B``), as published with ``image_rect``.
        R_left: (3, 3) rectified left frame <- raw left optical frame (R1).
    """

    left_raw: CameraModel
    right_raw: CameraModel
    left: CameraModel
    right: CameraModel
    R_left: np.ndarray

    @property
    def baseline_m(self) -> float:
        return self.right.stereo_baseline_term / self.right.fx

    def rectify(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw (H, W, 3) images -> rectified images of the same size (bilinear)."""
        return rectify(left, self.left_raw), rectify(right, self.right_raw)


def corrected_stereo_rotation(R_stereo: np.ndarray, correction_deg: tuple[float, float, float]) -> np.ndarray:
    """(3, 3) ``Rx(a) Ry(b) Rz(c) R_stereo`` for ``correction_deg = (a, b, c)`` in degrees
    (rotations of the right camera about the axes of the left optical frame)."""
    a, b, c = correction_deg
    return _axis_rotation(0, a) @ _axis_rotation(1, b) @ _axis_rotation(2, c) @ np.asarray(R_stereo, np.float64)


def stereo_rectification(calibration: RadiateCalibration,
                         correction_deg: tuple[float, float, float] = STEREO_CORRECTION_DEG) -> StereoRectification:
    """``cv2.stereoRectify`` of the pair (zero disparity at infinity, ``alpha = 0``: every
    rectified pixel has a source pixel, so the matcher sees no black border).

    Args:
        correction_deg: small rotation applied to the file's stereo R first
            (:data:`STEREO_CORRECTION_DEG`; ``(0, 0, 0)`` rectifies with the file as it is).
    """
    c = calibration
    R = corrected_stereo_rotation(c.R_stereo, correction_deg)
    R1, R2, P1, P2, *_ = cv2.stereoRectify(c.K_left, c.D_left, c.K_right, c.D_right, c.size, R,
                                          c.T_stereo.reshape(3, 1), flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    width, height = c.size
    left_raw = CameraModel(width, height, K=c.K_left, D=c.D_left, R=R1, P=P1, rectified=False)
    right_raw = CameraModel(width, height, K=c.K_right, D=c.D_right, R=R2, P=P2, rectified=False)
    left = CameraModel(width, height, K=P1[:, :3], P=P1)
    right = CameraModel(width, height, K=P2[:, :3], P=P2)
    return StereoRectification(left_raw, right_raw, left, right, np.asarray(R1, np.float64))


# --------------------------------------------------------------------------- files


_STAMP_LINE = re.compile(r"Frame:\s*(\d+)\s+Time:\s*(\d+)(?:\.(\d+))?")


def read_timestamps(path: str | Path) -> dict[int, int]:
    """``{frame number: stamp ns}`` of a ``*.txt`` stamp file.

    The fraction is an integer count of nanoseconds written without leading zeros (the
    SDK's ``__timestamp_format`` pads it on the left to 9 digits), so it is read as such.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(str(path), "not found; every RADIATE sensor folder has a stamp file beside it")
    stamps = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        match = _STAMP_LINE.match(line.strip())
        if match is None:
            raise BadInputError(f"{path}:{number}", f"'{line.strip()}' is not 'Frame: NNNNNN Time: <s>.<ns>'")
        seconds, fraction = int(match.group(2)), match.group(3) or "0"
        if len(fraction) > 9:
            raise BadInputError(f"{path}:{number}", "has more than 9 fraction digits")
        stamps[int(match.group(1))] = seconds * 10**9 + int(fraction)
    return stamps


def read_lidar_csv(path: str | Path) -> np.ndarray:
    """(N, 5) float32 ``x, y, z, intensity, ring`` of a ``velo_lidar/*.csv`` sweep, in the
    ``velodyne`` frame (metres; x right, y forward, z up), in firing order."""
    try:
        points = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
    except (OSError, ValueError) as error:
        raise BadInputError(str(path), f"cannot read a LiDAR CSV (x,y,z,intensity,ring per line): {error}") from None
    if points.shape[1] != 5:
        raise BadInputError(str(path), f"has {points.shape[1]} columns, expected 5 (x,y,z,intensity,ring)")
    return points


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a PNG."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInputError(str(path), "cannot read the image (missing or truncated)")
    return np.ascontiguousarray(image[:, :, ::-1])


def sweep_fraction(points: np.ndarray) -> np.ndarray:
    """(N,) float64 in [0, 1): how far into its sweep each point was measured, from its
    azimuth (the HDL-32E turns clockwise seen from above; the first point starts the sweep)."""
    azimuth = np.degrees(np.arctan2(points[:, 1].astype(np.float64), points[:, 0].astype(np.float64)))
    return np.mod(azimuth[0] - azimuth, 360.0) / 360.0


def keep_returns(points: np.ndarray, min_range: float = MIN_RANGE_M, max_range: float = MAX_RANGE_M) -> np.ndarray:
    """(N,) bool: finite points between ``min_range`` and ``max_range`` metres of the sensor."""
    distance = np.linalg.norm(points[:, :3].astype(np.float64), axis=1)
    return np.isfinite(distance) & (distance >= min_range) & (distance <= max_range)


# --------------------------------------------------------------------------- poses


@dataclass(frozen=True)
class Trajectory:
    """Poses of the LiDAR over time, interpolated (slerp + linear), extrapolated at constant
    velocity beyond the ends.

    Attributes:
        stamps_ns: (K,) increasing int64.
        T_world_lidar: (K, 4, 4) velodyne frame at each stamp -> world (the first sweep's frame).
    """

    stamps_ns: np.ndarray
    T_world_lidar: np.ndarray

    def at(self, stamps_ns: np.ndarray | int) -> np.ndarray:
        """(M, 4, 4) poses at the given stamps (or (4, 4) for one stamp)."""
        single = np.ndim(stamps_ns) == 0
        t = np.atleast_1d(np.asarray(stamps_ns, dtype=np.int64))
        times = (self.stamps_ns - self.stamps_ns[0]) * 1e-9
        query = (t - self.stamps_ns[0]) * 1e-9
        if len(times) == 1:
            out = np.repeat(self.T_world_lidar[:1], len(t), axis=0)
            return out[0] if single else out
        index = np.clip(np.searchsorted(times, query) - 1, 0, len(times) - 2)
        t0, t1 = times[index], times[index + 1]
        s = (query - t0) / (t1 - t0)  # outside [0, 1] beyond the ends: constant velocity
        A, B = self.T_world_lidar[index], self.T_world_lidar[index + 1]
        delta = Rotation.from_matrix(np.einsum("nji,njk->nik", A[:, :3, :3], B[:, :3, :3])).as_rotvec()
        out = np.repeat(np.eye(4)[None], len(t), axis=0)
        out[:, :3, :3] = np.einsum("nij,njk->nik", A[:, :3, :3], Rotation.from_rotvec(delta * s[:, None]).as_matrix())
        out[:, :3, 3] = A[:, :3, 3] + s[:, None] * (B[:, :3, 3] - A[:, :3, 3])
        return out[0] if single else out


def deskew(points: np.ndarray, point_stamps_ns: np.ndarray, trajectory: Trajectory,
           T_target_world: np.ndarray) -> np.ndarray:
    """(N, 3) float64 points moved from the LiDAR pose at each point's time into a target frame.

    Args:
        points: (N, 3+) in the velodyne frame at their own times.
        point_stamps_ns: (N,) int64 measurement time of each point.
        trajectory: the LiDAR poses.
        T_target_world: (4, 4) target frame <- world.
    """
    poses = trajectory.at(point_stamps_ns)
    world = np.einsum("nij,nj->ni", poses[:, :3, :3], points[:, :3].astype(np.float64)) + poses[:, :3, 3]
    return transform_points(np.asarray(T_target_world, np.float64), world)


def point_stamps(points: np.ndarray, sweep_stamp_ns: int, period_s: float = LIDAR_PERIOD_S) -> np.ndarray:
    """(N,) int64 measurement time of each point of a sweep stamped at its end."""
    return sweep_stamp_ns - np.round((1.0 - sweep_fraction(points)) * period_s * 1e9).astype(np.int64)


def _icp(source: np.ndarray, target: np.ndarray, init: np.ndarray) -> tuple[np.ndarray, float]:
    """(4, 4) target <- source of two point sets (point-to-plane ICP, 0.2 m voxels) and the fitness."""
    import open3d as o3d  # only for odometry

    def cloud(xyz: np.ndarray):
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(xyz, np.float64))).voxel_down_sample(0.2)
        pc.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=1.0, max_nn=30))
        return pc

    result = o3d.pipelines.registration.registration_icp(
        cloud(source), cloud(target), 1.0, init, o3d.pipelines.registration.TransformationEstimationPointToPlane(),
        o3d.pipelines.registration.ICPConvergenceCriteria(max_iteration=50))
    return np.asarray(result.transformation), float(result.fitness)


def lidar_odometry(sweeps: list[np.ndarray], stamps_ns: np.ndarray, passes: int = 2) -> Trajectory:
    """Poses of consecutive sweeps by scan-to-scan point-to-plane ICP.

    The first pass registers the raw sweeps; each further pass deskews every sweep with the
    previous pass's trajectory (to its end-of-sweep stamp) and registers again.

    Args:
        sweeps: K (N_k, 3+) point sets in the velodyne frame (near returns already removed).
        stamps_ns: (K,) end-of-sweep stamps, increasing.

    Raises:
        BadInputError: a registration that matches less than half of a sweep.
    """
    stamps_ns = np.asarray(stamps_ns, np.int64)
    trajectory = Trajectory(stamps_ns, np.repeat(np.eye(4)[None], len(sweeps), axis=0))
    for _ in range(passes):
        clouds = []
        for k, points in enumerate(sweeps):
            pose = trajectory.T_world_lidar[k]
            clouds.append(deskew(points, point_stamps(points, stamps_ns[k]), trajectory, invert_transform(pose)))
        poses = [np.eye(4)]
        step = np.eye(4)
        for k in range(1, len(sweeps)):
            step, fitness = _icp(clouds[k], clouds[k - 1], step)  # previous <- current, constant-velocity guess
            if fitness < 0.5:
                raise BadInputError(f"LiDAR sweep {k}", f"registers to the previous one with fitness {fitness:.2f}")
            poses.append(compose(poses[-1], step))
        trajectory = Trajectory(stamps_ns, np.stack(poses))
    return trajectory


# --------------------------------------------------------------------------- the sequence


@dataclass(frozen=True)
class StereoPair:
    """One stereo frame: pair index (time order), file frame number, stamp, nearest sweep."""

    index: int
    frame: int
    stamp_ns: int
    left_path: Path
    right_path: Path
    sweep: int  # index into RadiateSequence.sweeps


@dataclass(frozen=True)
class Sweep:
    """One LiDAR sweep with a stamp (end of sweep)."""

    frame: int
    stamp_ns: int
    path: Path


@dataclass
class RadiateSequence:
    """A RADIATE sequence folder (see the module docstring).

    Args:
        folder: the sequence folder (``.../data/radiate/tiny_foggy``).
        calibration: ``default-calib.yaml`` (default: :func:`find_calibration`).

    Attributes:
        pairs: the stereo pairs whose two images and stamp exist, in time order.
        sweeps: the LiDAR sweeps that have a stamp (``velo_lidar.txt`` of ``tiny_foggy``
            lists 42 of its 60 CSV files), in time order.
    """

    folder: Path
    calibration_path: Path | None = None
    pairs: list[StereoPair] = field(init=False)
    sweeps: list[Sweep] = field(init=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if not (self.folder / "zed_left").is_dir():
            raise BadInputError(str(self.folder), "has no zed_left/ folder; give a RADIATE sequence folder "
                                "(data/radiate/<sequence> of the radiate_sdk snapshot)")
        self.calibration_path = Path(self.calibration_path or find_calibration(self.folder))
        sweep_stamps = read_timestamps(self.folder / "velo_lidar.txt")
        self.sweeps = [Sweep(n, s, self.folder / "velo_lidar" / f"{n:06d}.csv")
                       for n, s in sorted(sweep_stamps.items(), key=lambda item: item[1])
                       if (self.folder / "velo_lidar" / f"{n:06d}.csv").is_file()]
        if not self.sweeps:
            raise BadInputError(str(self.folder / "velo_lidar"), "no CSV sweep listed in velo_lidar.txt")
        left_stamps = read_timestamps(self.folder / "zed_left.txt")
        right_stamps = read_timestamps(self.folder / "zed_right.txt")
        sweep_ns = np.array([s.stamp_ns for s in self.sweeps], np.int64)
        pairs = []
        for frame, stamp in sorted(left_stamps.items(), key=lambda item: item[1]):
            left = self.folder / "zed_left" / f"{frame:06d}.png"
            right = self.folder / "zed_right" / f"{frame:06d}.png"
            if not (left.is_file() and right.is_file()):
                continue
            if right_stamps.get(frame, stamp) != stamp:
                raise BadInputError(str(self.folder / "zed_right.txt"), f"frame {frame} has another stamp than "
                                    "zed_left.txt; the ZED pair is captured together")
            pairs.append(StereoPair(len(pairs), frame, stamp, left, right, int(np.argmin(np.abs(sweep_ns - stamp)))))
        if not pairs:
            raise BadInputError(str(self.folder), "no stereo pair: zed_left/ and zed_right/ share no stamped PNG")
        self.pairs = pairs

    # -- calibration ---------------------------------------------------------------

    @cached_property
    def calibration(self) -> RadiateCalibration:
        return read_calibration(self.calibration_path)

    @cached_property
    def rectification(self) -> StereoRectification:
        return stereo_rectification(self.calibration)

    @cached_property
    def T_base_left(self) -> np.ndarray:
        """(4, 4) base_link <- rectified left optical frame (static)."""
        T_left_raw_lidar = self.calibration.T_left_lidar
        T_rect_raw = make_transform(self.rectification.R_left, np.zeros(3))
        return compose(T_BASE_VELODYNE, invert_transform(compose(T_rect_raw, T_left_raw_lidar)))

    @property
    def T_base_right(self) -> np.ndarray:
        """(4, 4) base_link <- rectified right optical frame (the left one shifted by B along x)."""
        return compose(self.T_base_left, make_transform(np.eye(3), [self.rectification.baseline_m, 0.0, 0.0]))

    # -- splits -------------------------------------------------------------------------

    @property
    def held_out(self) -> list[int]:
        """Pair indices of the held-out validation frames: the last :data:`HELD_OUT_PAIRS`."""
        return [p.index for p in self.pairs[-HELD_OUT_PAIRS:]]

    @property
    def trainable(self) -> list[int]:
        """Pair indices a trainer may use: their LiDAR accumulation window ends before the
        first held-out stamp (so no held-out target sweep supervises them)."""
        first = self.pairs[self.held_out[0]].stamp_ns
        after_ns = int(ACCUMULATION_WINDOW_S[1] * 1e9)
        return [p.index for p in self.pairs if p.stamp_ns + after_ns < first]

    # -- data ---------------------------------------------------------------------------

    def raw_images(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB raw left and right images of pair ``index``."""
        pair = self.pairs[index]
        return read_image(pair.left_path), read_image(pair.right_path)

    def rectified_images(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB rectified left and right images of pair ``index``."""
        return self.rectification.rectify(*self.raw_images(index))

    def sweep_points(self, k: int) -> np.ndarray:
        """(N, 5) float32 returns of sweep ``k`` between :data:`MIN_RANGE_M` and :data:`MAX_RANGE_M`."""
        points = read_lidar_csv(self.sweeps[k].path)
        return points[keep_returns(points)]

    @cached_property
    def trajectory(self) -> Trajectory:
        """LiDAR odometry over every stamped sweep (:func:`lidar_odometry`, ~2 s)."""
        return lidar_odometry([self.sweep_points(k) for k in range(len(self.sweeps))],
                              np.array([s.stamp_ns for s in self.sweeps], np.int64))

    def T_grid_world(self, index: int) -> np.ndarray:
        """(4, 4) base_link at pair ``index``'s camera stamp <- world."""
        return compose(T_BASE_VELODYNE, invert_transform(self.trajectory.at(self.pairs[index].stamp_ns)))

    def sweep_in_grid(self, k: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sweep ``k`` deskewed into base_link at pair ``index``'s stamp.

        Returns:
            (N, 4) float64 x, y, z, intensity, and the (3,) ray origin for free space: the
            sensor position when it swept the forward half (x > 0; the car moves ~1 m
            during a sweep, so one origin per sweep is exact to ~0.25 m there).
        """
        points = self.sweep_points(k)
        T_grid_world = self.T_grid_world(index)
        stamps = point_stamps(points, self.sweeps[k].stamp_ns)
        xyz = deskew(points, stamps, self.trajectory, T_grid_world)
        ahead = xyz[:, 0] > 0
        when = int(np.median(stamps[ahead] if ahead.any() else stamps))
        origin = compose(T_grid_world, self.trajectory.at(when))[:3, 3]
        return np.column_stack([xyz, points[:, 3]]), origin

    def window(self, index: int) -> list[int]:
        """Sweep indices within :data:`ACCUMULATION_WINDOW_S` of pair ``index``'s stamp."""
        stamp = self.pairs[index].stamp_ns
        before, after = (int(s * 1e9) for s in ACCUMULATION_WINDOW_S)
        return [k for k, s in enumerate(self.sweeps) if stamp - before <= s.stamp_ns <= stamp + after]

    def frustum(self, grid: VoxelGrid = ZED_GRID) -> np.ndarray:
        """(nx, ny, nz) bool: voxel centres in the rectified left camera's view."""
        return voxels_in_view(grid, self.rectification.left, invert_transform(self.T_base_left))
