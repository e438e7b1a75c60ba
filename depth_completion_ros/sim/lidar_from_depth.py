"""LiDAR simulation from any dense depth map (DMD3C stage 1).

Turns any RGB-D frame (simulated, or real such as Redwood / NYU / TUM) into
depth-completion training data:

1. :func:`depth_to_mesh` meshes the depth map as a pixel grid (two triangles per 2x2
   pixel quad) and cuts triangles across depth discontinuities (relative depth spread
   above ``max_relative_jump``) and at invalid pixels;
2. a virtual LiDAR is placed at ``T_camera_lidar`` (default: 0.27 m behind and
   0.08 m above the camera, as on KITTI);
3. its beam pattern (:func:`beam_pattern_for_camera`, or any
   :class:`~depth_completion_ros.sim.lidar.LidarModel`) is ray-cast against the mesh
   with open3d, with the LiDAR's range noise and dropout when an ``rng`` is given;
4. the returns are projected into the camera (nearest per pixel), giving sparse depth.

Because the LiDAR sits elsewhere than the camera, points it sees through the mesh's
cuts land behind foreground pixels: the parallax "bleeding" of real rigs (remove it
with ``projection.occlusion_filter`` if a clean target is wanted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel, unproject
from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.geometry.transforms import make_transform, transform_points
from depth_completion_ros.sim.lidar import LidarModel, cast_sweep
from depth_completion_ros.sim.raycast import build_scene

# Optical frame (x right, y down, z forward) <- LiDAR frame (x forward, y left, z up).
R_OPTICAL_LIDAR = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
DEFAULT_LIDAR_OFFSET = (0.0, -0.08, -0.27)  # metres in the camera frame: above and behind
DEFAULT_REFLECTIVITY = 0.5  # a depth map carries no material; dark-surface dropout uses this


@dataclass(frozen=True)
class SimulatedLidar:
    """A LiDAR scan simulated from a depth map.

    Attributes:
        sparse_depth: (H, W) float32 metres in the camera image, 0 = no return.
        points: (N, 5) float32 x, y, z, intensity, ring in the virtual LiDAR frame.
        T_camera_lidar: (4, 4) camera optical frame <- virtual LiDAR frame.
    """

    sparse_depth: np.ndarray
    points: np.ndarray
    T_camera_lidar: np.ndarray


def default_lidar_pose(offset: tuple[float, float, float] = DEFAULT_LIDAR_OFFSET) -> np.ndarray:
    """(4, 4) ``T_camera_lidar`` of a level LiDAR at ``offset`` metres in the camera frame."""
    return make_transform(R_OPTICAL_LIDAR, offset)


def depth_to_mesh(depth: np.ndarray, camera: CameraModel, max_relative_jump: float = 0.05
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Mesh a depth map as a pixel grid, cut at discontinuities and invalid pixels.

    Args:
        depth: (H, W) metres; 0, NaN and Inf are invalid.
        camera: the depth map's camera.
        max_relative_jump: a triangle is cut when ``(max z - min z) / min z`` of its
            corners exceeds this.

    Returns:
        ``(vertices (H*W, 3) float32 camera frame, triangles (T, 3) int32)``; invalid
        pixels keep a vertex at the origin that no triangle uses.
    """
    cam = camera.image_model()
    if depth.shape != (cam.height, cam.width):
        raise BadInputError("depth", f"is {depth.shape[1]}x{depth.shape[0]}, camera is {cam.width}x{cam.height}")
    z = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float64)
    rows, cols = np.mgrid[0 : cam.height, 0 : cam.width]
    uv = np.column_stack([cols.ravel(), rows.ravel()]).astype(np.float64)
    vertices = unproject(cam, uv, z.ravel()).astype(np.float32)

    index = np.arange(cam.height * cam.width).reshape(cam.height, cam.width)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    triangles = np.concatenate([np.column_stack([a, c, b]), np.column_stack([b, c, d])])
    corner_z = z.ravel()[triangles]
    near, far = corner_z.min(axis=1), corner_z.max(axis=1)
    keep = (near > 0) & (far - near <= max_relative_jump * near)
    return vertices, triangles[keep].astype(np.int32)


def beam_pattern_for_camera(camera: CameraModel, rings: int = 64, azimuth_step_deg: float = 0.2,
                            margin_deg: float = 2.0, **options) -> LidarModel:
    """A LiDAR with ``rings`` evenly spaced beams spanning the camera's field of view.

    The elevations and the swept azimuths cover the camera's vertical and horizontal
    fields of view (from its centre) plus ``margin_deg``; ``options`` go to
    :class:`LidarModel` (range noise, dropout, ranges).
    """
    cam = camera.image_model()
    top = np.degrees(np.arctan(cam.cy / cam.fy)) + margin_deg
    bottom = np.degrees(np.arctan((cam.height - 1 - cam.cy) / cam.fy)) + margin_deg
    left = np.degrees(np.arctan(cam.cx / cam.fx)) + margin_deg
    right = np.degrees(np.arctan((cam.width - 1 - cam.cx) / cam.fx)) + margin_deg
    options.setdefault("min_range", 0.1)
    return LidarModel(name=f"uniform-{rings}", elevations_deg=np.linspace(-bottom, top, rings),
                      azimuth_step_deg=azimuth_step_deg, azimuth_range_deg=(-right, left), **options)


def lidar_from_depth(depth: np.ndarray, camera: CameraModel, lidar: LidarModel | None = None,
                     T_camera_lidar: np.ndarray | None = None, max_relative_jump: float = 0.05,
                     rng: np.random.Generator | None = None) -> SimulatedLidar:
    """Simulate a LiDAR scan of the surface a dense depth map shows.

    Args:
        depth: (H, W) dense depth in metres (0/NaN/Inf = invalid).
        camera: its camera model.
        lidar: the beam model; default :func:`beam_pattern_for_camera` (64 rings).
        T_camera_lidar: (4, 4) virtual LiDAR pose in the camera frame; default
            :func:`default_lidar_pose`.
        max_relative_jump: discontinuity threshold of :func:`depth_to_mesh`.
        rng: noise and dropout source; None for an ideal sensor.
    """
    lidar = lidar or beam_pattern_for_camera(camera)
    T_camera_lidar = default_lidar_pose() if T_camera_lidar is None else np.asarray(T_camera_lidar, dtype=np.float64)
    vertices, triangles = depth_to_mesh(depth, camera, max_relative_jump)
    if triangles.shape[0] == 0:
        empty = np.zeros((0, 5), dtype=np.float32)
        return SimulatedLidar(np.zeros(depth.shape, dtype=np.float32), empty, T_camera_lidar)
    scene = build_scene([(vertices, triangles)])
    points, _ = cast_sweep(scene, lidar, T_camera_lidar, np.array([DEFAULT_REFLECTIVITY], dtype=np.float32), rng)
    sparse = points_to_sparse_depth(transform_points(T_camera_lidar, points[:, :3]), camera)
    return SimulatedLidar(sparse_depth=sparse, points=points, T_camera_lidar=T_camera_lidar)
