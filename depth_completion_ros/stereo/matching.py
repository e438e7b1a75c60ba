"""Stereo matching with OpenCV: rectification from CameraInfo models, SGBM (and block
matching as the reference it must beat), disparity -> depth.

Entry point for the ROS node and the tools::

    disparity = compute_disparity(left, right, left_camera, right_camera, StereoParams())
    depth = disparity.to_depth()          # (H, W) float32 metres, 0 = invalid

Camera models follow ``sensor_msgs/CameraInfo``: the right camera's ``P[0, 3] = -fx B``
(plus the left's own ``P[0, 3]`` when both are expressed in a third camera's frame, as in
KITTI's P2/P3), so the baseline is ``(P_left[0, 3] - P_right[0, 3]) / fx``. Images whose
model has ``rectified=False`` are first rectified with the model's K, D, R, P
(``cv2.initUndistortRectifyMap``); the disparity then lives in the rectified image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.stereo.disparity import Disparity

SGBM_MODES = {"sgbm": cv2.STEREO_SGBM_MODE_SGBM, "hh": cv2.STEREO_SGBM_MODE_HH,
              "sgbm_3way": cv2.STEREO_SGBM_MODE_SGBM_3WAY, "hh4": cv2.STEREO_SGBM_MODE_HH4}
ALGORITHMS = ("sgbm", "bm")
_FIXED_POINT = 16.0  # OpenCV matchers return disparity x 16


@dataclass(frozen=True)
class StereoParams:
    """Matcher settings (names follow OpenCV).

    Defaults were measured on real ZED stereo (RADIATE, fog) and on simulated KITTI-rig
    frames (``benchmarks/bench_occupancy_real.py``, README "Stereo depth and voxel occupancy").

    Attributes:
        algorithm: ``sgbm`` (semi-global matching) or ``bm`` (block matching, the baseline).
        min_disparity: smallest disparity searched, pixels.
        num_disparities: size of the searched range, pixels, a multiple of 16; 0 (the
            default) derives it from the pair: ``f·B / min_depth`` rounded to the nearest
            multiple of 16 (at least 16): 128 for KITTI (f·B = 390 px·m), 16 for a ZED
            (f·B = 40 px·m). The matcher leaves the left ``num_disparities`` columns
            unmatched, so a range made for another rig costs a band of the image.
        min_depth: nearest depth the automatic range reaches, metres.
        block_size: odd matching window edge, pixels (BM needs >= 5).
        p1, p2: SGBM smoothness penalties for disparity changes of 1 and of more than 1
            pixel; 0 means OpenCV's recommended ``8 cn block²`` and ``32 cn block²``.
        uniqueness_ratio: percent margin by which the best cost must win.
        speckle_window_size: largest speckle (pixels) removed as noise; 0 disables.
        speckle_range: disparity variation within a connected component, pixels.
        disp12_max_diff: left-right consistency tolerance, pixels; -1 disables.
        pre_filter_cap: clip of the prefiltered image (x-derivative) values.
        mode: SGBM variant, one of :data:`SGBM_MODES` (``sgbm`` = 5 directions).
        grayscale: match on luminance (BM always does); False gives SGBM all 3 channels.
    """

    algorithm: str = "sgbm"
    min_disparity: int = 0
    num_disparities: int = 0
    min_depth: float = 3.0
    block_size: int = 5
    p1: int = 0
    p2: int = 0
    uniqueness_ratio: int = 10
    speckle_window_size: int = 100
    speckle_range: int = 2
    disp12_max_diff: int = 1
    pre_filter_cap: int = 63
    mode: str = "sgbm"
    grayscale: bool = True

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise BadInputError("StereoParams.algorithm", f"must be one of {ALGORITHMS}, got '{self.algorithm}'")
        if self.num_disparities < 0 or self.num_disparities % 16:
            raise BadInputError("StereoParams.num_disparities", f"must be a positive multiple of 16 "
                                f"(or 0: from the pair's f·B), got {self.num_disparities}")
        if not self.min_depth > 0:
            raise BadInputError("StereoParams.min_depth", f"must be a positive number of metres, got {self.min_depth}")
        if self.block_size < 1 or self.block_size % 2 == 0 or (self.algorithm == "bm" and self.block_size < 5):
            raise BadInputError("StereoParams.block_size", f"must be odd (>= 5 for bm), got {self.block_size}")
        if self.mode not in SGBM_MODES:
            raise BadInputError("StereoParams.mode", f"must be one of {sorted(SGBM_MODES)}, got '{self.mode}'")


def disparity_range(params: StereoParams, focal_px: float, baseline_m: float) -> int:
    """The searched range in pixels: ``params.num_disparities``, or when 0 the multiple of
    16 nearest to ``f·B / min_depth`` (at least 16)."""
    if params.num_disparities:
        return params.num_disparities
    return max(16, int(round(focal_px * baseline_m / params.min_depth / 16.0)) * 16)


def create_matcher(params: StereoParams, channels: int) -> cv2.StereoMatcher:
    """The OpenCV matcher for ``params`` (with a resolved ``num_disparities``, see
    :func:`disparity_range`) on images of ``channels`` channels."""
    if params.num_disparities <= 0:
        raise BadInputError("StereoParams.num_disparities", "resolve it first with disparity_range()")
    if params.algorithm == "bm":
        matcher = cv2.StereoBM_create(numDisparities=params.num_disparities, blockSize=params.block_size)
        matcher.setMinDisparity(params.min_disparity)
        matcher.setUniquenessRatio(params.uniqueness_ratio)
        matcher.setSpeckleWindowSize(params.speckle_window_size)
        matcher.setSpeckleRange(params.speckle_range)
        matcher.setDisp12MaxDiff(params.disp12_max_diff)
        matcher.setPreFilterCap(params.pre_filter_cap)
        return matcher
    area = channels * params.block_size**2
    return cv2.StereoSGBM_create(
        minDisparity=params.min_disparity,
        numDisparities=params.num_disparities,
        blockSize=params.block_size,
        P1=params.p1 or 8 * area,
        P2=params.p2 or 32 * area,
        disp12MaxDiff=params.disp12_max_diff,
        preFilterCap=params.pre_filter_cap,
        uniquenessRatio=params.uniqueness_ratio,
        speckleWindowSize=params.speckle_window_size,
        speckleRange=params.speckle_range,
        mode=SGBM_MODES[params.mode],
    )


def rectify(image: np.ndarray, camera: CameraModel, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """A raw image remapped into the rectified frame of its model (K, D, R -> P[:, :3]).

    Args:
        image: (H, W) or (H, W, C) image of the camera's (ROI / binning applied) size.
        camera: its model; a model already ``rectified`` returns the image unchanged.
    """
    if camera.rectified:
        return image
    model = camera.image_model()
    size = (model.width, model.height)
    new_K = model.P[:, :3]
    if model.distortion_model == "equidistant":
        D = np.zeros(4) if model.D.size == 0 else model.D[:4]
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(model.K, D, model.R, new_K, size, cv2.CV_32FC1)
    else:
        map_x, map_y = cv2.initUndistortRectifyMap(model.K, model.D, model.R, new_K, size, cv2.CV_32FC1)
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_CONSTANT)


def stereo_geometry(left_camera: CameraModel, right_camera: CameraModel) -> tuple[float, float]:
    """(focal length px, baseline m) of a rectified pair from the two projection matrices."""
    P_left, P_right = left_camera.image_model().P, right_camera.image_model().P
    focal = float(P_right[0, 0])
    baseline = float(P_left[0, 3] - P_right[0, 3]) / focal
    if not np.isclose(P_left[0, 0], focal, rtol=1e-4) or not np.isclose(P_left[1, 2], P_right[1, 2], atol=0.5):
        raise BadInputError("right CameraInfo.P", "does not form a rectified pair with the left one "
                            f"(fx {P_left[0, 0]:.3f} vs {focal:.3f}, cy {P_left[1, 2]:.2f} vs {P_right[1, 2]:.2f})")
    if not baseline > 0:
        raise BadInputError("right CameraInfo.P", f"gives a baseline of {baseline:.4f} m; P[0, 3] must be -fx * B "
                            "with the right camera to the right of the left one")
    return focal, baseline


def _matcher_input(image: np.ndarray, grayscale: bool) -> np.ndarray:
    if image.dtype != np.uint8:
        raise BadInputError("stereo image", f"must be uint8 (mono8 / rgb8), got {image.dtype}")
    if image.ndim == 3 and (grayscale or image.shape[2] != 3):
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.shape[2] == 3 else image[..., 0]
    return image


def compute_disparity(left: np.ndarray, right: np.ndarray, left_camera: CameraModel, right_camera: CameraModel,
                      params: StereoParams = StereoParams()) -> Disparity:
    """Disparity of the left image.

    Args:
        left, right: (H, W) or (H, W, 3) uint8 images (RGB order), of the size of their
            camera models (after ROI and binning); raw when the models are not ``rectified``.
        left_camera, right_camera: the pair's models (CameraInfo K, D, R, P).
        params: matcher settings.

    Returns:
        A :class:`Disparity` in pixels of the (rectified) left image, valid where the
        matcher found a match (>= ``min_disparity``); ``to_depth()`` gives metres.
    """
    if left.shape != right.shape:
        raise BadInputError("right image", f"has shape {right.shape}, the left one {left.shape}")
    for name, image, camera in (("left", left, left_camera), ("right", right, right_camera)):
        model = camera.image_model()
        if image.shape[:2] != (model.height, model.width):
            raise BadInputError(f"{name} image", f"is {image.shape[1]}x{image.shape[0]}, its CameraInfo says "
                                f"{model.width}x{model.height}")
    focal, baseline = stereo_geometry(left_camera, right_camera)
    params = replace(params, num_disparities=disparity_range(params, focal, baseline))
    grayscale = params.grayscale or params.algorithm == "bm"  # StereoBM takes one channel only
    left = _matcher_input(rectify(left, left_camera), grayscale)
    right = _matcher_input(rectify(right, right_camera), grayscale)
    matcher = create_matcher(params, 1 if left.ndim == 2 else left.shape[2])
    disparity = matcher.compute(left, right).astype(np.float32) / _FIXED_POINT
    valid = disparity >= params.min_disparity
    return Disparity(
        disparity=np.where(valid, disparity, np.float32(params.min_disparity - 1)).astype(np.float32),
        valid=valid,
        focal_px=focal,
        baseline_m=baseline,
        min_disparity=float(params.min_disparity),
        max_disparity=float(params.min_disparity + params.num_disparities - 1),
        delta_d=1.0 / _FIXED_POINT,
    )
