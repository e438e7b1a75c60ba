import numpy as np
import pytest

from depth_completion_ros.sim import labels
from depth_completion_ros.sim.simulator import Simulator
from depth_completion_ros.sim.world import generate_world


def _arrays(frame):
    return {
        "rgb": frame.rgb, "depth": frame.depth, "semantic": frame.semantic, "right_rgb": frame.right_rgb,
        "disparity": frame.disparity, "lidar": frame.lidar.points, "radar": frame.radar.points,
        "occupancy": frame.occupancy.labels, "invalid": frame.occupancy.invalid,
    }


@pytest.mark.parametrize("scene", ["street", "indoor"])
def test_same_seed_gives_bit_identical_frames_and_other_seeds_differ(small_rig, scene):
    frames = [Simulator.create(scene, small_rig, seed=seed, duration=2.0).frame(0.8) for seed in (5, 5, 6)]
    first, again, other = (_arrays(f) for f in frames)
    for name in first:
        assert first[name].dtype == again[name].dtype and first[name].shape == again[name].shape
        assert first[name].tobytes() == again[name].tobytes(), name
    assert not np.array_equal(first["depth"], other["depth"])
    assert not np.array_equal(first["rgb"], other["rgb"])


def test_frame_contents_and_shapes(small_rig):
    sim = Simulator.create("street", small_rig, seed=1, duration=2.0)
    frame = sim.frame(1.0)
    h, w = small_rig.camera.height, small_rig.camera.width
    assert frame.rgb.shape == (h, w, 3) and frame.rgb.dtype == np.uint8
    assert frame.depth.shape == (h, w) and frame.depth.dtype == np.float32
    assert frame.right_rgb.shape == (h, w, 3)
    assert frame.lidar_points.shape[1] == 5 and frame.radar_points.shape[1] == 8
    assert frame.occupancy.labels.shape == small_rig.occupancy_grid.shape
    assert (frame.depth == 0).any() and (frame.depth > 0).mean() > 0.5  # sky and surfaces
    assert set(np.unique(frame.semantic)) <= set(labels.SEMANTIC_KITTI_NAMES)
    np.testing.assert_allclose(frame.T_world_base[:3, 3], sim.world.trajectory.T_world_base(1.0)[:3, 3])
    assert frame.T_world_base[0, 3] > 1.0  # the ego moved


def test_frame_outputs_can_be_skipped(small_rig):
    frame = Simulator.create("indoor", small_rig, seed=1).frame(0.0, outputs=("lidar",))
    assert frame.lidar is not None and frame.right_rgb is None and frame.radar is None and frame.occupancy is None
    with pytest.raises(ValueError, match="unknown outputs"):
        Simulator.create("indoor", small_rig, seed=1).frame(0.0, outputs=("sonar",))


def test_worlds_have_their_documented_classes_and_moving_objects():
    street = generate_world("street", seed=3)
    street_classes = {o.class_id for o in street.objects}
    assert {labels.ROAD, labels.SIDEWALK, labels.BUILDING, labels.CAR, labels.MOVING_CAR, labels.POLE,
            labels.VEGETATION, labels.TRUNK} <= street_classes
    assert street_classes <= set(labels.SEMANTIC_KITTI_NAMES)
    moving = [o for o in street.objects if np.any(o.velocity)]
    assert moving and all(o.class_id in (labels.MOVING_CAR, labels.MOVING_PERSON) for o in moving)
    indoor = generate_world("indoor", seed=3)
    assert {o.class_id for o in indoor.objects} <= set(labels.INDOOR_CLASSES)
    assert not indoor.has_sky and street.has_sky
    with pytest.raises(ValueError, match="unknown scene"):
        generate_world("forest", seed=0)


def test_sensor_stamps_follow_the_rates_with_bounded_jitter(small_rig):
    stamps = Simulator.create("street", small_rig, seed=0).sensor_stamps(2.0)
    for sensor, times in stamps.items():
        rate = small_rig.timing[sensor].rate_hz
        assert times.size == int(np.ceil(2.0 * rate))
        nominal = np.arange(times.size) / rate
        assert np.all(np.abs(times - nominal) <= 0.25 / rate)
        assert np.any(times != nominal)  # there is jitter


@pytest.mark.parametrize("scene", ["street", "indoor"])
def test_the_ego_path_is_clear_of_objects(scene, small_rig):
    """Sensors and the ego's flanks never sit inside an object along the whole sequence."""
    for seed in range(6):
        world = generate_world(scene, seed=seed, duration=5.0)
        for time in np.linspace(0.0, 5.0, 6):
            T = world.trajectory.T_world_base(time)
            probes = [T[:3, :3] @ p + T[:3, 3] for p in
                      ([0, 0.9, 0.5], [0, -0.9, 0.5], [2.0, 0.9, 1.0], [2.0, -0.9, 1.0])]
            probes += [(T @ small_rig.extrinsics()[s])[:3, 3] for s in ("camera", "lidar")]
            for obj in world.objects:
                if obj.class_id in world.ground_classes:
                    continue
                for part in obj.parts_at(time):
                    assert not part.contains(np.array(probes)).any(), (scene, seed, time, obj.class_id)
