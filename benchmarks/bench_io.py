"""Message I/O and projection speed: PointCloud2 -> numpy, Image <-> numpy, z-buffer.

Prints the device, medians after warm-up, and ratios against references measured in the
same run. Run: .venv/bin/python benchmarks/bench_io.py
"""

from __future__ import annotations

import struct

import numpy as np
from common import median_ms, print_header, shared_data

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.datasets.messages import image_to_numpy, pointcloud2_to_xyz
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.kitti_calib import load_object_calib
from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2


def load_scan_and_camera() -> tuple[np.ndarray, CameraModel, np.ndarray | None, str]:
    """A real KITTI scan + calibration when ../shared/data exists, else a synthetic one."""
    data = shared_data()
    if data is not None:
        root = data / "kitti_object"
        calib = load_object_calib(root / "calib" / "000001.txt")
        return read_velodyne_bin(root / "velodyne" / "000001.bin"), calib.camera(2, 1242, 375), calib.T_cam0_velo, "KITTI 000001"
    rng = np.random.default_rng(0)
    scan = np.column_stack([rng.uniform(-40, 40, (120_000, 3)), rng.random(120_000)]).astype(np.float32)
    scan[:, 2] = rng.uniform(1, 80, 120_000)
    return scan, CameraModel.from_intrinsics(721.5, 721.5, 609.6, 172.9, 1242, 375), None, "synthetic"


def struct_unpack_reader(msg) -> np.ndarray:
    """Reference: the per-point struct.unpack loop many ROS scripts use."""
    offsets = {f.name: f.offset for f in msg.fields}
    data, step, out = bytes(msg.data), msg.point_step, []
    for i in range(msg.width * msg.height):
        base = i * step
        out.append(struct.unpack_from("<fff", data, base + offsets["x"]))
    return np.asarray(out, dtype=np.float32)


def zbuffer_sorted(scan: np.ndarray, camera: CameraModel, T) -> np.ndarray:
    """Reference z-buffer: sort hits by (pixel, depth) and keep the first of each pixel."""
    from depth_completion_ros.geometry.projection import project_to_pixels

    hits = project_to_pixels(scan, camera, T)
    linear = hits.rows * camera.width + hits.cols
    order = np.lexsort((hits.depth, linear))
    first = np.ones(order.size, dtype=bool)
    first[1:] = linear[order][1:] != linear[order][:-1]
    depth = np.zeros(camera.height * camera.width, np.float32)
    depth[linear[order[first]]] = hits.depth[order[first]]
    return depth.reshape(camera.height, camera.width)


def main() -> None:
    print_header("bench_io: message conversion and projection")
    scan, camera, T, source = load_scan_and_camera()
    msg = xyz_to_pointcloud2(scan[:, :3], intensity=scan[:, 3])
    xyz = pointcloud2_to_xyz(msg)
    assert np.array_equal(xyz, struct_unpack_reader(msg)), "reader disagrees with the reference"
    ours = median_ms(lambda: pointcloud2_to_xyz(msg))
    reference = median_ms(lambda: struct_unpack_reader(msg), repeats=3, warmup=1)
    print(f"PointCloud2 {scan.shape[0]} pts ({source}) -> Nx3 float32: {ours:.3f} ms "
          f"(struct.unpack loop {reference:.1f} ms, {reference / ours:.0f}x faster; aim <= 2 ms)")

    depth = np.random.default_rng(0).uniform(0, 80, (352, 1216)).astype(np.float32)
    to_msg = median_ms(lambda: numpy_to_image(depth, "32FC1"))
    image = numpy_to_image(depth, "32FC1")
    from_msg = median_ms(lambda: image_to_numpy(image).copy())
    slow_setter = median_ms(lambda: setattr(image, "data", depth.view(np.uint8).ravel().tolist()), repeats=3, warmup=1)
    print(f"Image 1216x352 32FC1 -> msg: {to_msg:.3f} ms; msg -> numpy (with a copy): {from_msg:.3f} ms "
          f"(per-element list setter {slow_setter:.1f} ms, {slow_setter / to_msg:.0f}x slower; aim <= 3 ms each)")

    ours_z = median_ms(lambda: points_to_sparse_depth(scan, camera, T))
    ref_z = median_ms(lambda: zbuffer_sorted(scan, camera, T))
    same = np.array_equal(points_to_sparse_depth(scan, camera, T), zbuffer_sorted(scan, camera, T))
    print(f"{scan.shape[0]} pts -> {camera.width}x{camera.height} sparse depth (z-buffer): {ours_z:.3f} ms "
          f"(sort-based z-buffer {ref_z:.3f} ms, ratio {ref_z / ours_z:.2f}; identical output: {same}; aim <= 5 ms)")


if __name__ == "__main__":
    main()
