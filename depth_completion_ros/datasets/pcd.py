"""Point Cloud Library ``.pcd`` files (v0.7), as nuScenes stores its radar sweeps.

The header is ASCII, one ``KEY values`` line each: ``FIELDS`` (names), ``SIZE`` (bytes),
``TYPE`` (``F`` float, ``I`` signed, ``U`` unsigned), ``COUNT`` (elements per field),
``WIDTH``, ``HEIGHT``, ``VIEWPOINT``, ``POINTS``, and last ``DATA`` (``ascii`` or
``binary``: the points packed back to back, little-endian, no padding). ``binary_compressed``
is not supported. A field with ``COUNT n > 1`` becomes fields ``name_0 .. name_{n-1}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError

_TYPES = {("F", 4): "<f4", ("F", 8): "<f8", ("I", 1): "i1", ("I", 2): "<i2", ("I", 4): "<i4", ("I", 8): "<i8",
          ("U", 1): "u1", ("U", 2): "<u2", ("U", 4): "<u4", ("U", 8): "<u8"}
_MAX_HEADER_LINES = 20


def _header_dtype(header: dict[str, list[str]], source: str) -> np.dtype:
    """The packed structured dtype of one point from FIELDS / SIZE / TYPE / COUNT."""
    names = header.get("FIELDS", [])
    sizes, types = header.get("SIZE", []), header.get("TYPE", [])
    counts = header.get("COUNT", ["1"] * len(names))
    if not names or not (len(names) == len(sizes) == len(types) == len(counts)):
        raise BadInputError(source, "FIELDS, SIZE, TYPE and COUNT must list the same number of fields")
    fields = []
    for name, size, kind, count in zip(names, sizes, types, counts, strict=True):
        key = (kind, int(size))
        if key not in _TYPES:
            raise BadInputError(source, f"field '{name}' has TYPE {kind} SIZE {size}, which PCD does not define")
        n = int(count)
        fields += [(name, _TYPES[key])] if n == 1 else [(f"{name}_{i}", _TYPES[key]) for i in range(n)]
    return np.dtype(fields)


def read_pcd(path: str | Path) -> np.ndarray:
    """Read a ``.pcd`` file into an (N,) structured array (fields named as in the header).

    Raises:
        BadInputError: missing file, malformed header, unsupported DATA, or a data section
            whose size does not match ``POINTS``.
    """
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadInputError(source, f"cannot read the file ({error})") from None
    header: dict[str, list[str]] = {}
    offset = 0
    for _ in range(_MAX_HEADER_LINES):
        end = raw.find(b"\n", offset)
        if end < 0:
            break
        line = raw[offset:end].decode("ascii", errors="replace").strip()
        offset = end + 1
        if not line or line.startswith("#"):
            continue
        key, *values = line.split()
        header[key.upper()] = values
        if key.upper() == "DATA":
            break
    if "DATA" not in header:
        raise BadInputError(source, "no 'DATA' line in the header: not a PCD file (or a truncated one)")
    try:
        dtype = _header_dtype(header, source)
        points = int(header.get("POINTS", [0])[0]) if "POINTS" in header else \
            int(header["WIDTH"][0]) * int(header.get("HEIGHT", ["1"])[0])
    except (KeyError, ValueError, IndexError) as error:
        raise BadInputError(source, f"malformed header ({error})") from None
    data = (header["DATA"] or [""])[0].lower()
    if data == "binary":
        expected = points * dtype.itemsize
        if len(raw) - offset < expected:
            raise BadInputError(source, f"has {len(raw) - offset} data bytes, POINTS {points} x {dtype.itemsize} B "
                                f"needs {expected}: the file is truncated")
        return np.frombuffer(raw, dtype=dtype, count=points, offset=offset).copy()
    if data == "ascii":
        rows = [line.split() for line in raw[offset:].decode("ascii", errors="replace").splitlines() if line.strip()]
        if len(rows) != points or any(len(row) != len(dtype.names) for row in rows):
            raise BadInputError(source, f"expected {points} lines of {len(dtype.names)} values after 'DATA ascii'")
        table = np.array(rows, dtype=str).reshape(points, len(dtype.names))
        cloud = np.empty(points, dtype=dtype)
        try:
            for i, name in enumerate(dtype.names):
                cloud[name] = table[:, i].astype(np.float64 if dtype[name].kind == "f" else np.int64)
        except ValueError as error:
            raise BadInputError(source, f"a value after 'DATA ascii' is not a number ({error})") from None
        return cloud
    raise BadInputError(source, f"DATA {data} is not supported; save the cloud as binary or ascii "
                        "(e.g. pcl_convert_pcd_ascii_binary IN OUT 1)")
