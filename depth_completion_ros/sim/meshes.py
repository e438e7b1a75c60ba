"""Convex triangle-mesh primitives of the simulated world.

Every object of the world is a union of convex parts (boxes, prisms, ellipsoids), so
the same part is both what the ray caster sees and an exact half-space solid for the
occupancy ground truth: a point is inside a part when ``normals @ p <= offsets`` for all
its face planes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import open3d as o3d

from depth_completion_ros.geometry.transforms import rotation_from_rpy, transform_points

_PLANE_DECIMALS = 9  # faces of one plane (two triangles of a box side) are merged at this precision
INSIDE_TOLERANCE = 1e-9  # metres; a point on a face counts as inside


@dataclass(frozen=True, eq=False)
class ConvexPart:
    """One closed convex triangle mesh.

    Attributes:
        vertices: (V, 3) float64 metres.
        triangles: (T, 3) int32 vertex indices (winding free: planes are oriented outwards
            from the centroid).
    """

    vertices: np.ndarray
    triangles: np.ndarray

    @cached_property
    def planes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(normals (P, 3), offsets (P,))`` of the distinct face planes, outward."""
        v = self.vertices[self.triangles]
        normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        offsets = np.einsum("ij,ij->i", normals, v[:, 0])
        centroid = self.vertices.mean(axis=0)
        flip = normals @ centroid > offsets  # centroid must be on the inner side
        normals[flip] *= -1
        offsets[flip] *= -1
        planes = np.unique(np.round(np.column_stack([normals, offsets]), _PLANE_DECIMALS), axis=0)
        return planes[:, :3], planes[:, 3]

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: which of the (N, 3) points lie inside or on the part."""
        normals, offsets = self.planes
        return np.all(points @ normals.T <= offsets + INSIDE_TOLERANCE, axis=1)

    def transformed(self, T: np.ndarray) -> ConvexPart:
        """The part moved by a (4, 4) rigid transform."""
        return ConvexPart(transform_points(T, self.vertices), self.triangles)

    def translated(self, offset: np.ndarray) -> ConvexPart:
        return ConvexPart(self.vertices + np.asarray(offset, dtype=np.float64), self.triangles)


def _pose(centre, yaw: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = rotation_from_rpy(0.0, 0.0, yaw)
    T[:3, 3] = centre
    return T


_BOX_TRIANGLES = np.array(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
     [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]],
    dtype=np.int32,
)  # fmt: skip


def box(lower, upper, yaw: float = 0.0) -> ConvexPart:
    """A box with corners ``lower``/``upper`` (metres), turned by ``yaw`` about its centre's z."""
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    x = np.array([lo[0], hi[0], hi[0], lo[0]])
    y = np.array([lo[1], lo[1], hi[1], hi[1]])
    corners = np.column_stack([np.tile(x, 2), np.tile(y, 2), np.repeat([lo[2], hi[2]], 4)])
    part = ConvexPart(corners, _BOX_TRIANGLES)
    if yaw == 0.0:
        return part
    centre = (lo + hi) / 2
    return ConvexPart(transform_points(_pose(centre, yaw), corners - centre), _BOX_TRIANGLES)


def _unit_mesh(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "prism":  # 8-sided cylinder of radius 1, z in [0, 1]
        mesh = o3d.geometry.TriangleMesh.create_cylinder(radius=1.0, height=1.0, resolution=8, split=1)
        mesh.translate((0.0, 0.0, 0.5))
    else:  # icosphere of radius 1
        mesh = o3d.geometry.TriangleMesh.create_icosahedron(1.0).subdivide_midpoint(1)
        vertices = np.asarray(mesh.vertices)
        mesh.vertices = o3d.utility.Vector3dVector(vertices / np.linalg.norm(vertices, axis=1, keepdims=True))
    return np.asarray(mesh.vertices).copy(), np.asarray(mesh.triangles).astype(np.int32)


_UNIT_MESHES = {kind: _unit_mesh(kind) for kind in ("prism", "sphere")}


def cylinder(base_centre, radius: float, height: float) -> ConvexPart:
    """An upright 8-sided prism standing on ``base_centre`` (metres)."""
    vertices, triangles = _UNIT_MESHES["prism"]
    return ConvexPart(vertices * [radius, radius, height] + np.asarray(base_centre, dtype=np.float64), triangles)


def ellipsoid(centre, radii, yaw: float = 0.0) -> ConvexPart:
    """A 42-vertex icosphere scaled to ``radii`` (3,) metres, turned by ``yaw``."""
    vertices, triangles = _UNIT_MESHES["sphere"]
    return ConvexPart(transform_points(_pose(centre, yaw), vertices * np.asarray(radii, dtype=np.float64)), triangles)
