"""A held-out-point completion protocol on DGP (DDAD-style) scenes: another LiDAR, other cameras.

The scenes are the two of ``TRI-ML/dgp`` @ 1e06dc93, ``tests/data/dgp/test_scene``
(``../shared/data/REAL_SOURCES.md`` entry 3; CC BY-NC-SA 4.0, research use): TRI fleet data,
one LiDAR sweep per sample (``point_cloud/LIDAR/*.npz``: ``data`` (N, 4) x, y, z, intensity
in the LiDAR frame, which is the vehicle frame) and 3-6 cameras 1936x1216 (JPEG, pinhole
intrinsics in ``calibration/*.json``). Extract outside the repository::

    git --git-dir=<snapshot> archive 1e06dc9349ab63c3c73c498e1528d9522d3f4f95 tests/data/dgp/test_scene \\
        | tar -x -C /work/data/dgp

and point ``$DCR_DGP`` at ``.../tests/data/dgp/test_scene``.

Every datum carries its sensor's pose in the world at its own stamp, so the sweep is moved
into each camera at the camera's stamp (the cameras fire ~0.2 s after the sweep starts):
``T_camera_lidar = pose_camera^-1 pose_lidar``. The LiDAR has no ring field, so the input is
a subset of points in storage order (:data:`DENSITIES`), the ground truth the other points
after the occlusion filter. Images are halved (968x608) for the CPU. These frames are
validation only: nothing trains or tunes on them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame
from depth_completion_ros.datasets.ring_protocol import ProtocolFrame, split_input_and_ground_truth
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import invert_transform, make_transform, quaternion_to_matrix

DEFAULT_ROOT = Path("/work/data/dgp/tests/data/dgp/test_scene")
DENSITIES = {"half": 2, "quarter": 4}  # every n-th point in storage order is input
IMAGE_SCALE = 0.5


def find_dgp() -> Path | None:
    """``$DCR_DGP``, else :data:`DEFAULT_ROOT`, when it holds scenes; None otherwise."""
    root = Path(os.environ.get("DCR_DGP", DEFAULT_ROOT))
    return root if any(root.glob("scene_*/scene_*.json")) else None


def pose_matrix(pose: dict) -> np.ndarray:
    """(4, 4) world <- sensor of a DGP pose (``rotation`` qw qx qy qz, ``translation`` x y z)."""
    r, t = pose["rotation"], pose["translation"]
    return make_transform(quaternion_to_matrix([r["qx"], r["qy"], r["qz"], r["qw"]]), [t["x"], t["y"], t["z"]])


def _camera(intrinsics: dict, width: int, height: int) -> CameraModel:
    K = np.array([[intrinsics["fx"], intrinsics["skew"], intrinsics["cx"]], [0.0, intrinsics["fy"], intrinsics["cy"]],
                  [0.0, 0.0, 1.0]])
    return CameraModel(width=width, height=height, K=K)


def scene_frames(scene_dir: Path, density: str) -> list[ProtocolFrame]:
    """The protocol frames of every (sweep, camera) pair of one scene."""
    scene_file = next(scene_dir.glob("scene_*.json"), None)
    if scene_file is None:
        raise BadInputError(str(scene_dir), "holds no scene_*.json; point to a DGP scene folder")
    scene = json.loads(scene_file.read_text())
    data = {d["key"]: d for d in scene["data"]}
    frames = []
    for sample in scene["samples"]:
        calibration = json.loads((scene_dir / "calibration" / f"{sample['calibration_key']}.json").read_text())
        intrinsics = dict(zip(calibration["names"], calibration["intrinsics"]))
        datums = [data[key] for key in sample["datum_keys"]]
        lidar = next(d for d in datums if "point_cloud" in d["datum"])["datum"]["point_cloud"]
        with np.load(scene_dir / lidar["filename"]) as cloud:
            points = cloud["data"][:, :3].astype(np.float64)
        for datum in (d for d in datums if "image" in d["datum"]):
            image = datum["datum"]["image"]
            bgr = cv2.imread(str(scene_dir / image["filename"]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise BadInputError(str(scene_dir / image["filename"]), "unreadable image")
            width, height = round(image["width"] * IMAGE_SCALE), round(image["height"] * IMAGE_SCALE)
            rgb = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            camera = _camera(intrinsics[datum["id"]["name"]], image["width"], image["height"]).resized(width, height)
            T_camera_lidar = invert_transform(pose_matrix(image["pose"])) @ pose_matrix(lidar["pose"])
            use = np.arange(len(points)) % DENSITIES[density] == 0
            sparse, truth = split_input_and_ground_truth(points, camera, T_camera_lidar, use)
            name = f"{scene_dir.name}_{datum['id']['name']}_{Path(image['filename']).stem}.png"
            frames.append(ProtocolFrame(CompletionFrame(name, rgb, sparse, camera), truth))
    return frames


def build_dgp_protocol(root: str | Path, density: str = "half") -> list[ProtocolFrame]:
    """The protocol frames of every scene under ``root`` at input ``density`` (:data:`DENSITIES`)."""
    if density not in DENSITIES:
        raise BadInputError("density", f"'{density}' is not one of {sorted(DENSITIES)}")
    scenes = sorted(p for p in Path(root).glob("scene_*") if p.is_dir())
    if not scenes:
        raise BadInputError(str(root), "holds no scene_* folders; see datasets/dgp_protocol.py")
    return [frame for scene in scenes for frame in scene_frames(scene, density)]
