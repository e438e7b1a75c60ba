"""Pinhole camera model with the ``sensor_msgs/CameraInfo`` semantics, without ROS.

Frames follow REP 103: the camera frame is an optical frame (x right, y down, z forward).
Pixel centres sit at integer coordinates, as in OpenCV and ROS ``image_geometry``.

Two projection paths, chosen by ``CameraModel.rectified``:

* rectified image (``image_rect``): ``X_rect = R @ X``, ``[u w, v w, w] = P @ [X_rect; 1]``;
  the depth of a point is ``w`` (which includes a stereo camera's ``Tz``);
* raw image (``image_raw``): ``x = X / Z`` is distorted with ``D`` and mapped through ``K``.

A ``CameraModel`` mirrors a CameraInfo exactly (full-resolution calibration plus binning
and ROI). ``image_model()`` returns the model of the image as delivered, after ROI and
binning; crops and resizes go through the one function :func:`adjust_intrinsics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import apply_affine

# Number of coefficients each supported distortion model reads from D (missing ones are 0).
DISTORTION_COEFFICIENTS = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}
_UNDISTORT_ITERATIONS = 20


@dataclass(frozen=True)
class RegionOfInterest:
    """``sensor_msgs/RegionOfInterest`` in full-resolution pixels; all zero = full image."""

    x_offset: int = 0
    y_offset: int = 0
    height: int = 0
    width: int = 0
    do_rectify: bool = False

    @property
    def is_full_image(self) -> bool:
        return self.width == 0 or self.height == 0


def _as_matrix(value, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Validate one calibration matrix: right size, finite numbers. Returns a read-only copy."""
    try:
        matrix = np.array(value, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError) as error:
        raise BadInputError(name, f"expected {int(np.prod(shape))} numbers ({error})") from None
    if not np.all(np.isfinite(matrix)):
        raise BadInputError(name, "contains NaN or Inf; check the camera calibration")
    matrix.setflags(write=False)
    return matrix


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A calibrated camera: the fields of ``sensor_msgs/CameraInfo`` plus ``rectified``.

    Attributes:
        width, height: calibrated image size in pixels (full resolution).
        K: (3, 3) intrinsics of the raw camera.
        D: (n,) distortion coefficients for ``distortion_model``.
        distortion_model: ``plumb_bob``, ``rational_polynomial`` or ``equidistant``.
        R: (3, 3) rotation from the camera frame to the rectified frame.
        P: (3, 4) projection of the rectified frame; an all-zero P means ``[K | 0]``.
        binning_x, binning_y: CameraInfo binning (0 and 1 both mean none).
        roi: CameraInfo region of interest.
        rectified: True when images arrive rectified (project with R, P), False for raw
            images (project with K, D).
    """

    width: int
    height: int
    K: np.ndarray
    D: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distortion_model: str = "plumb_bob"
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    P: np.ndarray | None = None
    binning_x: int = 0
    binning_y: int = 0
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)
    rectified: bool = True

    def __post_init__(self) -> None:
        K = _as_matrix(self.K, (3, 3), "CameraModel.K")
        if not np.any(K):
            raise BadInputError("CameraModel.K", "is all zero: the camera is not calibrated")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1 or np.any(K[2, :2]):
            raise BadInputError("CameraModel.K", f"is not a pinhole intrinsic matrix: {K.tolist()}")
        R = _as_matrix(self.R, (3, 3), "CameraModel.R")
        if not np.any(R):  # many monocular drivers publish R = 0 for "identity"
            R = _as_matrix(np.eye(3), (3, 3), "CameraModel.R")
        P = np.zeros((3, 4)) if self.P is None else self.P
        P = _as_matrix(P, (3, 4), "CameraModel.P")
        if not np.any(P):
            P = _as_matrix(np.hstack([K, np.zeros((3, 1))]), (3, 4), "CameraModel.P")
        elif P[0, 0] <= 0 or P[1, 1] <= 0 or P[2, 2] != 1:
            raise BadInputError("CameraModel.P", f"is not a rectified projection matrix: {P.tolist()}")
        D = np.array(self.D, dtype=np.float64).ravel()
        if not np.all(np.isfinite(D)):
            raise BadInputError("CameraModel.D", "contains NaN or Inf")
        model = self.distortion_model or "plumb_bob"
        if model not in DISTORTION_COEFFICIENTS:
            raise BadInputError(
                "CameraModel.distortion_model",
                f"unknown model '{model}'; supported: {', '.join(DISTORTION_COEFFICIENTS)}",
            )
        if D.size > DISTORTION_COEFFICIENTS[model]:
            raise BadInputError(
                "CameraModel.D",
                f"{model} takes at most {DISTORTION_COEFFICIENTS[model]} coefficients, got {D.size}",
            )
        D.setflags(write=False)
        if self.width <= 0 or self.height <= 0:
            raise BadInputError("CameraModel.width/height", f"must be positive, got {self.width}x{self.height}")
        for name, value in (("K", K), ("R", R), ("P", P), ("D", D), ("distortion_model", model)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_intrinsics(
        cls, fx: float, fy: float, cx: float, cy: float, width: int, height: int
    ) -> CameraModel:
        """A distortion-free rectified pinhole camera (focal lengths and centre in pixels)."""
        return cls(width=width, height=height, K=[[fx, 0, cx], [0, fy, cy], [0, 0, 1]])

    @property
    def is_distorted(self) -> bool:
        return bool(np.any(self.D))

    @property
    def fx(self) -> float:
        return float(self.projection_intrinsics[0, 0])

    @property
    def fy(self) -> float:
        return float(self.projection_intrinsics[1, 1])

    @property
    def cx(self) -> float:
        return float(self.projection_intrinsics[0, 2])

    @property
    def cy(self) -> float:
        return float(self.projection_intrinsics[1, 2])

    @property
    def projection_intrinsics(self) -> np.ndarray:
        """(3, 3) intrinsics used for projection: ``P[:, :3]`` when rectified, else ``K``."""
        return self.P[:, :3] if self.rectified else self.K

    @property
    def stereo_baseline_term(self) -> float:
        """``-Tx = -P[0, 3]`` (``f·B`` in pixel·metres for a right stereo camera, 0 for left)."""
        return -float(self.P[0, 3])

    @cached_property
    def _image_model(self) -> CameraModel:
        roi = self.roi
        crop = None if roi.is_full_image else (roi.x_offset, roi.y_offset, roi.width, roi.height)
        bin_x, bin_y = max(self.binning_x, 1), max(self.binning_y, 1)
        if crop is None and bin_x == 1 and bin_y == 1:
            return self
        crop_w, crop_h = (self.width, self.height) if crop is None else crop[2:]
        return adjust_intrinsics(self, crop=crop, size=(crop_w // bin_x, crop_h // bin_y))

    def image_model(self) -> CameraModel:
        """The model of the image as delivered: ROI crop then binning applied, none left."""
        return self._image_model

    def cropped(self, x: int, y: int, width: int, height: int) -> CameraModel:
        """Model of the sub-image ``[y:y+height, x:x+width]`` of this camera's image."""
        return adjust_intrinsics(self.image_model(), crop=(x, y, width, height))

    def resized(self, width: int, height: int) -> CameraModel:
        """Model of this camera's image resized (as by ``cv2.resize``) to ``width x height``."""
        return adjust_intrinsics(self.image_model(), size=(width, height))


def adjust_intrinsics(
    camera: CameraModel,
    crop: tuple[int, int, int, int] | None = None,
    size: tuple[int, int] | None = None,
) -> CameraModel:
    """The single function that updates intrinsics for a crop, a resize or binning.

    Args:
        camera: the model of the image before the operation.
        crop: ``(x, y, width, height)`` in pixels of that image, applied first.
        size: ``(width, height)`` the (cropped) image is then resized to; binning by
            ``b`` is a resize to ``width // b``.

    Returns:
        A model with K and P mapped through ``A = [[sx, 0, ox], [0, sy, oy], [0, 0, 1]]``,
        where ``sx = new_w / crop_w`` and ``ox = sx (0.5 - x) - 0.5`` keeps pixel centres
        where ``cv2.resize`` puts them. D and R are unchanged; binning and ROI are consumed.
    """
    x, y, crop_w, crop_h = crop if crop is not None else (0, 0, camera.width, camera.height)
    if crop_w <= 0 or crop_h <= 0 or x < 0 or y < 0:
        raise BadInputError("crop", f"invalid crop {crop} of a {camera.width}x{camera.height} image")
    new_w, new_h = size if size is not None else (crop_w, crop_h)
    if new_w <= 0 or new_h <= 0:
        raise BadInputError("size", f"invalid output size {size}")
    sx, sy = new_w / crop_w, new_h / crop_h
    A = np.array([[sx, 0.0, sx * (0.5 - x) - 0.5], [0.0, sy, sy * (0.5 - y) - 0.5], [0.0, 0.0, 1.0]])
    return replace(
        camera,
        width=int(new_w),
        height=int(new_h),
        K=A @ camera.K,
        P=A @ camera.P,
        binning_x=0,
        binning_y=0,
        roi=RegionOfInterest(),
    )


def distort_normalized(xy: np.ndarray, D: np.ndarray, model: str) -> np.ndarray:
    """Apply lens distortion to normalized image coordinates.

    Args:
        xy: (N, 2) undistorted normalized coordinates ``(X/Z, Y/Z)``.
        D: distortion coefficients (missing trailing ones are 0).
        model: ``plumb_bob``, ``rational_polynomial`` or ``equidistant``.

    Returns:
        (N, 2) distorted normalized coordinates.
    """
    k = np.zeros(DISTORTION_COEFFICIENTS[model])
    k[: D.size] = D
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    if model == "equidistant":
        r = np.sqrt(r2)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))
        scale = np.where(r > 1e-12, theta_d / np.maximum(r, 1e-12), 1.0)
        return xy * scale[:, None]
    radial = 1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]))
    if model == "rational_polynomial":
        radial = radial / (1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7])))
    p1, p2 = k[2], k[3]
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=1)


def undistort_normalized(xy_distorted: np.ndarray, D: np.ndarray, model: str) -> np.ndarray:
    """Invert :func:`distort_normalized` (fixed-point iteration, as OpenCV does).

    Args:
        xy_distorted: (N, 2) distorted normalized coordinates.

    Returns:
        (N, 2) undistorted normalized coordinates.
    """
    if model == "equidistant":
        k = np.zeros(4)
        k[: D.size] = D
        theta_d = np.linalg.norm(xy_distorted, axis=1)
        theta = theta_d.copy()
        for _ in range(_UNDISTORT_ITERATIONS):  # Newton on theta (1 + k1 t^2 + ...) = theta_d
            t2 = theta * theta
            f = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3])))) - theta_d
            df = 1 + t2 * (3 * k[0] + t2 * (5 * k[1] + t2 * (7 * k[2] + t2 * 9 * k[3])))
            theta = theta - f / df
        scale = np.where(theta_d > 1e-12, np.tan(theta) / np.maximum(theta_d, 1e-12), 1.0)
        return xy_distorted * scale[:, None]
    xy = xy_distorted.copy()
    for _ in range(_UNDISTORT_ITERATIONS):
        # x = x_d - (distort(x) - x): converges for the usual, moderate lens distortions.
        xy = xy_distorted - (distort_normalized(xy, D, model) - xy)
    return xy


def project(
    camera: CameraModel, points: np.ndarray, T_camera_points: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Project points into the delivered image.

    Args:
        camera: the camera; its ROI and binning are applied.
        points: (N, 3) points in metres, in the camera optical frame, or in another frame
            when ``T_camera_points`` is given.
        T_camera_points: optional (4, 4) camera <- points transform, folded into the
            projection matrix so the points are touched once.

    Returns:
        ``(uv, depth)``: (N, 2) pixel coordinates and (N,) depth in metres along the
        optical axis, float32 for float32 points and float64 otherwise. Points with
        depth <= 0 (or non-finite) get NaN pixel coordinates.
    """
    cam = camera.image_model()
    points = np.asarray(points)
    dtype = np.float32 if points.dtype == np.float32 else np.float64
    points = points.reshape(-1, 3).astype(dtype, copy=False)
    T = np.eye(4) if T_camera_points is None else np.asarray(T_camera_points, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if cam.rectified:
            M = cam.P @ np.vstack([np.hstack([cam.R, np.zeros((3, 1))]), [0, 0, 0, 1]]) @ T
            h = apply_affine(points, M.astype(dtype))
            depth = h[:, 2]
            uv = h[:, :2] / depth[:, None]
        else:
            camera_points = apply_affine(points, T[:3].astype(dtype))
            depth = camera_points[:, 2]
            xy = camera_points[:, :2] / depth[:, None]
            if cam.is_distorted:
                xy = distort_normalized(xy, cam.D, cam.distortion_model)
            K = cam.K
            uv = np.column_stack(
                [K[0, 0] * xy[:, 0] + K[0, 1] * xy[:, 1] + K[0, 2], K[1, 1] * xy[:, 1] + K[1, 2]]
            ).astype(dtype, copy=False)
        uv[~(depth > 0)] = np.nan
    return uv, depth


def unproject(camera: CameraModel, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Inverse of :func:`project`: pixels and depths back to camera-frame points.

    Args:
        uv: (N, 2) pixel coordinates in the delivered image.
        depth: (N,) depth in metres (as returned by :func:`project`).

    Returns:
        (N, 3) float64 points in the camera optical frame.
    """
    cam = camera.image_model()
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    depth = np.asarray(depth, dtype=np.float64).reshape(-1)
    homogeneous = np.column_stack([uv * depth[:, None], depth])
    if cam.rectified:
        # P = Kp [I | t]  =>  X_rect = Kp^-1 [u w, v w, w] - t ;  X = R^T X_rect
        Kp_inv = np.linalg.inv(cam.P[:, :3])
        rect = homogeneous @ Kp_inv.T - Kp_inv @ cam.P[:, 3]
        return rect @ cam.R
    K = cam.K
    y = (uv[:, 1] - K[1, 2]) / K[1, 1]
    x = (uv[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    xy = np.column_stack([x, y])
    if cam.is_distorted:
        xy = undistort_normalized(xy, cam.D, cam.distortion_model)
    return np.column_stack([xy * depth[:, None], depth])

