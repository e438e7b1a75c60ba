import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import project
from depth_completion_ros.geometry.transforms import invert_transform, transform_points
from depth_completion_ros.sim.rig import load_rig


def test_builtin_rigs_load_with_their_sensors():
    kitti, nuscenes = load_rig("kitti"), load_rig("nuscenes")
    assert (kitti.camera.width, kitti.camera.height) == (1242, 375)
    assert kitti.lidar.name == "HDL-64E" and kitti.lidar.num_rings == 64
    assert nuscenes.lidar.name == "HDL-32E" and (nuscenes.camera.width, nuscenes.camera.height) == (1600, 900)
    assert kitti.occupancy_grid.shape == (256, 256, 32) and kitti.occupancy_grid.frame_id == "velodyne"
    assert kitti.timing["lidar"].rate_hz == 10 and kitti.timing["radar"].rate_hz == 13
    assert 10 <= kitti.timing["camera"].rate_hz <= 30 and 10 <= nuscenes.timing["camera"].rate_hz <= 30


def test_camera_extrinsic_is_an_optical_frame_looking_forward():
    rig = load_rig("kitti")
    ahead_in_base = np.array([[10.0, 0.0, 1.65]])  # 10 m straight ahead at camera height
    in_camera = transform_points(invert_transform(rig.T_base_camera), ahead_in_base)
    uv, depth = project(rig.camera, in_camera)
    assert depth[0] == pytest.approx(10.0 - 0.27)
    np.testing.assert_allclose(uv[0], [rig.camera.cx, rig.camera.cy], atol=1e-6)
    # the right camera sits baseline metres to the right (-y in base_link)
    offset = rig.T_base_right_camera[:3, 3] - rig.T_base_camera[:3, 3]
    np.testing.assert_allclose(offset, [0.0, -rig.baseline, 0.0], atol=1e-12)
    assert rig.right_camera.stereo_baseline_term == pytest.approx(rig.camera.fx * rig.baseline)


def test_custom_elevation_table_and_overrides(small_rig_config):
    small_rig_config["lidar"].update(model="my-lidar", elevations_deg=[-10.0, -5.0, 0.0, 5.0], azimuth_step_deg=1.0,
                                     range_noise_std=0.1)
    rig = load_rig(small_rig_config)
    assert rig.lidar.name == "my-lidar" and rig.lidar.num_rings == 4 and rig.lidar.range_noise_std == 0.1
    assert rig.lidar.azimuths_deg.size == 360


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("lidar", "model", "HDL-999", "unknown LiDAR"),
    ("lidar", "colour", "red", "unknown key"),
    ("radar", "T_base_radar", None, "T_base_radar"),
    ("stereo", "baseline", -1.0, "baseline"),
    ("camera", "fx", 0.0, "K"),
])
def test_bad_rig_entries_name_the_field(small_rig_config, section, key, value, message):
    if value is None:
        del small_rig_config[section][key]
    else:
        small_rig_config[section][key] = value
    with pytest.raises(BadInputError, match=message):
        load_rig(small_rig_config)
