"""KITTI calibration files: raw, object and odometry layouts.

All three are modelled the same way: cameras are *rectified* (projection through
``R_rect`` then ``P_rect_i``) and ``T_cam0_velo`` maps Velodyne points into the frame the
camera models expect (camera 0 before rectification). For the odometry layout camera 0 is
already rectified, so ``R_rect`` is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import make_transform, validate_transform


@dataclass(frozen=True)
class KittiCalibration:
    """Calibration of one KITTI recording.

    Attributes:
        P_rect: camera index -> (3, 4) rectified projection matrix.
        R_rect: (3, 3) rectifying rotation of camera 0.
        T_cam0_velo: (4, 4) camera-0 (unrectified) <- Velodyne transform.
        image_sizes: camera index -> (width, height) of the rectified images, when the
            file records it (raw layout only).
        K, D: camera index -> raw intrinsics / distortion (raw layout only).
        source: the file(s) read, for error messages.
    """

    P_rect: dict[int, np.ndarray]
    R_rect: np.ndarray
    T_cam0_velo: np.ndarray
    image_sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    K: dict[int, np.ndarray] = field(default_factory=dict)
    D: dict[int, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def camera(self, index: int, width: int | None = None, height: int | None = None) -> CameraModel:
        """Rectified :class:`CameraModel` of camera ``index`` (0-3).

        Args:
            width, height: image size; required unless the file recorded it (raw layout).
        """
        if index not in self.P_rect:
            raise BadInputError(f"{self.source}: P{index}", "camera not present in the calibration")
        if width is None or height is None:
            if index not in self.image_sizes:
                raise BadInputError(
                    f"{self.source}: S_rect_0{index}",
                    "image size not recorded; pass width and height (read them from the image)",
                )
            width, height = self.image_sizes[index]
        P = self.P_rect[index]
        return CameraModel(width=width, height=height, K=P[:, :3], R=self.R_rect, P=P, rectified=True)


def read_calib_file(path: str | Path) -> dict[str, np.ndarray]:
    """Parse a KITTI ``KEY: numbers`` file; keys whose values are not numbers are skipped.

    Returns:
        key -> 1-D float64 array of the numbers on that line.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(str(path), f"cannot read calibration file ({error})") from None
    values: dict[str, np.ndarray] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue  # e.g. "calib_time: 09-Jan-2012 13:57:47"
    return values


def _entry(values: dict[str, np.ndarray], key: str, shape: tuple[int, ...], source: str) -> np.ndarray:
    if key not in values:
        raise BadInputError(f"{source}: {key}", "missing from the calibration file")
    if values[key].size != int(np.prod(shape)):
        raise BadInputError(f"{source}: {key}", f"expected {int(np.prod(shape))} numbers, got {values[key].size}")
    return values[key].reshape(shape)


def _rigid_3x4(values: dict[str, np.ndarray], key: str, source: str) -> np.ndarray:
    T = np.vstack([_entry(values, key, (3, 4), source), [0, 0, 0, 1]])
    return validate_transform(T, f"{source}: {key}")


def load_object_calib(path: str | Path) -> KittiCalibration:
    """KITTI object / tracking ``calib/*.txt``: P0-P3, R0_rect, Tr_velo_to_cam."""
    source = str(path)
    values = read_calib_file(path)
    return KittiCalibration(
        P_rect={i: _entry(values, f"P{i}", (3, 4), source) for i in range(4)},
        R_rect=_entry(values, "R0_rect", (3, 3), source),
        T_cam0_velo=_rigid_3x4(values, "Tr_velo_to_cam", source),
        source=source,
    )


def load_odometry_calib(path: str | Path) -> KittiCalibration:
    """KITTI odometry ``calib.txt``: P0-P3 and Tr (rectified camera 0 <- Velodyne)."""
    source = str(path)
    values = read_calib_file(path)
    return KittiCalibration(
        P_rect={i: _entry(values, f"P{i}", (3, 4), source) for i in range(4)},
        R_rect=np.eye(3),
        T_cam0_velo=_rigid_3x4(values, "Tr", source),
        source=source,
    )


def load_raw_calib(cam_to_cam_path: str | Path, velo_to_cam_path: str | Path) -> KittiCalibration:
    """KITTI raw ``calib_cam_to_cam.txt`` + ``calib_velo_to_cam.txt``."""
    source = f"{cam_to_cam_path} + {velo_to_cam_path}"
    cam = read_calib_file(cam_to_cam_path)
    velo = read_calib_file(velo_to_cam_path)
    cams = [i for i in range(4) if f"P_rect_0{i}" in cam]
    if not cams:
        raise BadInputError(f"{cam_to_cam_path}: P_rect_00", "no rectified camera found")
    sizes = {}
    for i in cams:
        width, height = _entry(cam, f"S_rect_0{i}", (2,), str(cam_to_cam_path))
        sizes[i] = (int(round(width)), int(round(height)))
    T = make_transform(
        _entry(velo, "R", (3, 3), str(velo_to_cam_path)), _entry(velo, "T", (3,), str(velo_to_cam_path))
    )
    return KittiCalibration(
        P_rect={i: _entry(cam, f"P_rect_0{i}", (3, 4), str(cam_to_cam_path)) for i in cams},
        R_rect=_entry(cam, "R_rect_00", (3, 3), str(cam_to_cam_path)),
        T_cam0_velo=validate_transform(T, f"{velo_to_cam_path}: R/T"),
        image_sizes=sizes,
        K={i: _entry(cam, f"K_0{i}", (3, 3), str(cam_to_cam_path)) for i in cams if f"K_0{i}" in cam},
        D={i: cam[f"D_0{i}"] for i in cams if f"D_0{i}" in cam},
        source=source,
    )


def camera_in_own_frame(
    calib: KittiCalibration, index: int, width: int | None = None, height: int | None = None,
    stereo_left: int | None = None,
) -> tuple[CameraModel, np.ndarray]:
    """Camera ``index`` as a ROS driver publishes a rectified camera: in its own frame.

    KITTI's ``P_rect_i = K_i [I | t_i]`` takes points of the rectified camera-0 frame, so
    camera ``i``'s rectified optical frame is that frame shifted by ``t_i``. In it the
    camera is ``R = I``, ``P = [K_i | 0]``; for the right camera of a stereo pair (give
    ``stereo_left``) ``P[0, 3] = -fx B`` and ``P[1, 3] = -fy B_y``, the CameraInfo stereo
    convention, with ``B`` (``B_y``) the horizontal (vertical) offset from the left camera,
    so that P takes the left camera's points (exact up to the offset along the optical
    axis, which a CameraInfo cannot hold: 0.4 mm for KITTI's colour pair).

    Returns:
        (model, (4, 4) ``T_camera_velo``): projecting Velodyne points with them gives the
        pixels and depths of ``calib.camera(index)`` with ``calib.T_cam0_velo``.
    """
    def offset(i: int) -> np.ndarray:
        P = calib.P_rect[i]
        return np.linalg.solve(P[:, :3], P[:, 3])

    model = calib.camera(index, width, height)
    K = model.P[:, :3]
    P = np.hstack([K, np.zeros((3, 1))])
    if stereo_left is not None:  # Tx = -fx B, Ty = -fy B_y; Tz must be 0 in a CameraInfo
        P[:2, 3] = K[:2, :2] @ (offset(index) - offset(stereo_left))[:2]
    T_rect0_cam0 = make_transform(calib.R_rect, np.zeros(3))
    T_camera_velo = make_transform(np.eye(3), offset(index)) @ T_rect0_cam0 @ calib.T_cam0_velo
    return CameraModel(width=model.width, height=model.height, K=K, P=P), T_camera_velo
