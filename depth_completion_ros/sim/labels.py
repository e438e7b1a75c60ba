"""Semantic class ids of the simulator's meshes.

Street scenes use the raw SemanticKITTI label ids (``semantic-kitti.yaml``), including
its "moving" ids for objects with a velocity; :data:`SEMANTIC_KITTI_LEARNING_MAP`
maps them to the 19 training classes (0 = ignored), as SemanticKITTI's
``learning_map`` does. Pixels and voxels of no object (sky, empty space) are 0
(``unlabeled``).

Indoor scenes use the small set :data:`INDOOR_CLASSES` (ids 0-12), loosely after
NYUv2-13; 0 is again "unlabeled".
"""

from __future__ import annotations

# Raw SemanticKITTI ids used by the street generator.
UNLABELED = 0
CAR = 10
PERSON = 30
ROAD = 40
SIDEWALK = 48
BUILDING = 50
FENCE = 51
LANE_MARKING = 60
VEGETATION = 70
TRUNK = 71
TERRAIN = 72
POLE = 80
TRAFFIC_SIGN = 81
MOVING_CAR = 252
MOVING_PERSON = 254

SEMANTIC_KITTI_NAMES: dict[int, str] = {
    UNLABELED: "unlabeled",
    CAR: "car",
    PERSON: "person",
    ROAD: "road",
    SIDEWALK: "sidewalk",
    BUILDING: "building",
    FENCE: "fence",
    LANE_MARKING: "lane-marking",
    VEGETATION: "vegetation",
    TRUNK: "trunk",
    TERRAIN: "terrain",
    POLE: "pole",
    TRAFFIC_SIGN: "traffic-sign",
    MOVING_CAR: "moving-car",
    MOVING_PERSON: "moving-person",
}

# Raw id -> SemanticKITTI learning id (0 = ignore, 1 car ... 19 traffic-sign).
SEMANTIC_KITTI_LEARNING_MAP: dict[int, int] = {
    UNLABELED: 0,
    CAR: 1,
    PERSON: 6,
    ROAD: 9,
    SIDEWALK: 11,
    BUILDING: 13,
    FENCE: 14,
    LANE_MARKING: 9,
    VEGETATION: 15,
    TRUNK: 16,
    TERRAIN: 17,
    POLE: 18,
    TRAFFIC_SIGN: 19,
    MOVING_CAR: 1,
    MOVING_PERSON: 6,
}

# Indoor ids (documented set; not a public standard).
INDOOR_CLASSES: dict[int, str] = {
    0: "unlabeled",
    1: "wall",
    2: "floor",
    3: "ceiling",
    4: "table",
    5: "chair",
    6: "shelf",
    7: "sofa",
    8: "bed",
    9: "cabinet",
    10: "clutter",
    11: "person",
    12: "door",
}
INDOOR_IDS = {name: class_id for class_id, name in INDOOR_CLASSES.items()}

# Classes a radar's ground-clutter filter removes (flat surfaces under the sensor).
GROUND_CLASSES = frozenset({ROAD, SIDEWALK, LANE_MARKING, TERRAIN})
INDOOR_GROUND_CLASSES = frozenset({INDOOR_IDS["floor"], INDOOR_IDS["ceiling"]})
