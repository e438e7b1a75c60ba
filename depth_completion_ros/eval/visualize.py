"""Pictures a person looks at: colourized depth, error heat maps, error-vs-range plots.

All functions take float32 metres (0 = none) and return RGB uint8 images or write PNGs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

INVALID_RGB = (40, 40, 40)
LABEL_FONT = cv2.FONT_HERSHEY_SIMPLEX
LABEL_SCALE = 0.6
LABEL_ORIGIN = (8, 22)  # pixels (x, y) of the text's baseline start
LABEL_PAD = 4  # pixels of box around the text
LABEL_BOX_RGB = (0, 0, 0)


def colorize(values: np.ndarray, vmax: float, colormap: int = cv2.COLORMAP_TURBO, vmin: float = 0.0,
             valid: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) RGB uint8 of ``values`` mapped linearly from [vmin, vmax]; pixels outside
    ``valid`` (default: 0, NaN, Inf) are grey."""
    if values.size == 0:  # cv2.applyColorMap crashes (SIGFPE) on an empty image
        return np.zeros((*values.shape, 3), np.uint8)
    if valid is None:
        valid = np.isfinite(values) & (values > 0)
    scaled = np.clip((np.nan_to_num(values) - vmin) / max(vmax - vmin, 1e-9), 0, 1)
    rgb = cv2.cvtColor(cv2.applyColorMap((scaled * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)
    rgb[~valid] = INVALID_RGB
    return rgb


def overlay_sparse(rgb: np.ndarray, sparse: np.ndarray, vmax: float, radius: int = 1) -> np.ndarray:
    """The RGB image with the sparse input drawn on it as coloured dots."""
    out = rgb.copy()
    rows, cols = np.nonzero(sparse > 0)
    colours = colorize(sparse[rows, cols][None, :], vmax)[0]
    if radius <= 0:
        out[rows, cols] = colours
        return out
    for (r, c), colour in zip(zip(rows, cols), colours):
        cv2.circle(out, (int(c), int(r)), radius, tuple(int(v) for v in colour), -1)
    return out


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` in white on a dark box at its top-left corner.

    The text is drawn once, at one thickness: OpenCV 5 lays thicker text out wider, so a
    thick dark outline pass under a thin fill pass gave two offset copies.
    """
    out = image.copy()
    (width, height), baseline = cv2.getTextSize(text, LABEL_FONT, LABEL_SCALE, 1)
    x, y = LABEL_ORIGIN
    cv2.rectangle(out, (x - LABEL_PAD, y - height - LABEL_PAD), (x + width + LABEL_PAD, y + baseline + LABEL_PAD),
                  LABEL_BOX_RGB, -1)
    cv2.putText(out, text, LABEL_ORIGIN, LABEL_FONT, LABEL_SCALE, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def depth_panel(rgb: np.ndarray, sparse: np.ndarray, depth: np.ndarray, gt: np.ndarray | None,
                vmax: float = 80.0, max_error_m: float = 5.0) -> np.ndarray:
    """A stacked RGB picture: image + sparse input, dense depth, and (with ground truth)
    the absolute-error heat map (0 .. ``max_error_m``; grey where there is no GT)."""
    rows = [_label(overlay_sparse(rgb, sparse, vmax), "RGB + sparse input"),
            _label(colorize(depth, vmax), f"dense depth (0-{vmax:g} m)")]
    if gt is not None:
        scored = (gt > 0) & (depth > 0)
        error = np.where(scored, np.abs(depth - gt), 0).astype(np.float32)
        heat = colorize(error, max_error_m, cv2.COLORMAP_INFERNO, valid=scored)
        rows.append(_label(heat, f"|error| (0-{max_error_m:g} m)"))
    return np.vstack(rows)


def save_rgb(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def error_vs_range_plot(path: str | Path, series: dict[str, tuple[np.ndarray, np.ndarray]],
                        bin_m: float = 5.0, max_m: float = 80.0) -> Path:
    """Plot mean absolute error per ground-truth range bin, one line per method.

    Args:
        series: method -> (gt depths (N,), absolute errors (N,)) in metres.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.arange(0, max_m + bin_m, bin_m)
    centres = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for name, (gt, err) in series.items():
        index = np.digitize(gt, edges) - 1
        means = [float(np.mean(err[index == i])) if np.any(index == i) else np.nan for i in range(len(centres))]
        ax.plot(centres, means, marker="o", label=name)
    return _save_plot(fig, ax, ("ground-truth depth (m)", "mean absolute error (m)"), "Error vs range", path)


def occupancy_bev(predicted: np.ndarray, target: np.ndarray, invalid: np.ndarray | None = None,
                  scale: int = 3) -> np.ndarray:
    """Bird's-eye view of predicted vs ground-truth occupancy (any occupied voxel in a column).

    Args:
        predicted, target: (nx, ny, nz) class ids, 0 = empty; x forward, y left.
        invalid: (nx, ny, nz) voxels to leave out.

    Returns:
        (nx * scale, ny * scale, 3) RGB: green both, red predicted only, blue missed, grey
        ignored; forward (+x) is up and left (+y) is left.
    """
    keep = np.ones(predicted.shape, bool) if invalid is None else ~invalid
    pred = ((predicted > 0) & keep).any(axis=2)
    true = ((target > 0) & keep).any(axis=2)
    image = np.full((*pred.shape, 3), 24, np.uint8)
    image[~keep.any(axis=2)] = 60
    image[pred & true] = (60, 200, 60)
    image[pred & ~true] = (220, 60, 60)
    image[~pred & true] = (70, 110, 240)
    image = image[::-1, ::-1]  # rows: +x up; columns: +y to the left
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` in white on a dark box at its top-left corner."""
    return _label(image, text)


def occupancy_height_histogram(path: str | Path, series: dict[str, np.ndarray], z_centres: np.ndarray,
                               invalid: np.ndarray | None = None, title: str = "Occupied voxels per height") -> Path:
    """Plot how many occupied voxels each horizontal layer holds, one line per grid.

    A method that floods a layer (a floor under the whole view, a ceiling of phantom
    voxels) shows at once against the target's profile.

    Args:
        series: name -> (nx, ny, nz) class ids, 0 = empty (e.g. the target and each method).
        z_centres: (nz,) layer heights in metres (``grid.axis_centres(2)``).
        invalid: optional (nx, ny, nz) voxels left out of every count.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keep = None if invalid is None else ~invalid
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for name, labels in series.items():
        occupied = labels > 0 if keep is None else (labels > 0) & keep
        ax.plot(occupied.sum(axis=(0, 1)), z_centres, marker=".", label=name)
    return _save_plot(fig, ax, ("occupied voxels in the layer", "height of the layer (m)"), title, path)


def _save_plot(fig, ax, labels: tuple[str, str], title: str, path: str | Path) -> Path:
    """Label, grid and legend ``ax``, write ``fig`` to ``path`` (PNG) and close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
