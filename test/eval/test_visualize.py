"""The report's depth picture: the sparse input on the RGB panel, clean labels."""

import cv2
import numpy as np

from depth_completion_ros.eval.visualize import (
    LABEL_FONT,
    LABEL_ORIGIN,
    LABEL_SCALE,
    colorize,
    depth_panel,
    overlay_sparse,
)

H, W = 120, 320
LABEL_ROWS = 32  # the labels sit in the top rows of each panel
DOTS = {(60, 40): 5.0, (80, 160): 30.0, (100, 280): 75.0}  # (row, col) -> depth in metres


def _sparse() -> np.ndarray:
    sparse = np.zeros((H, W), np.float32)
    for (row, col), depth in DOTS.items():
        sparse[row, col] = depth
    return sparse


def test_overlay_draws_each_point_in_its_depth_colour():
    rgb = np.full((H, W, 3), 128, np.uint8)
    out = overlay_sparse(rgb, _sparse(), vmax=80.0)
    colours = []
    for (row, col), depth in DOTS.items():
        expected = colorize(np.array([[depth]], np.float32), 80.0)[0, 0]
        np.testing.assert_array_equal(out[row, col], expected)
        colours.append(tuple(expected))
    assert len(set(colours)) == len(DOTS)  # near and far points differ in colour
    changed = np.any(out != rgb, axis=2)
    rows, cols = np.nonzero(changed)
    assert all(min(abs(r - dr) + abs(c - dc) for dr, dc in DOTS) <= 2 for r, c in zip(rows, cols))


def test_rgb_panel_shows_the_sparse_input_below_its_label():
    rgb = np.full((H, W, 3), 128, np.uint8)
    depth = np.full((H, W), 20.0, np.float32)
    with_points = depth_panel(rgb, _sparse(), depth, None)[:H]
    without = depth_panel(rgb, np.zeros((H, W), np.float32), depth, None)[:H]
    differs = np.any(with_points != without, axis=2)
    assert not differs[:LABEL_ROWS].any()
    for row, col in DOTS:
        assert differs[row, col]


def test_each_label_is_its_text_drawn_once_in_white_on_a_dark_box():
    """OpenCV 5 lays thick text out wider than thin text: a thick dark outline pass under a
    thin white fill pass showed two offset copies of 'dense depth (0-80 m)'."""
    rgb = np.full((H, W, 3), (60, 200, 60), np.uint8)
    depth = np.full((H, W), 20.0, np.float32)
    panel = depth_panel(rgb, np.zeros((H, W), np.float32), depth, np.full((H, W), 22.0, np.float32))
    for index, text in enumerate(["RGB + sparse input", "dense depth (0-80 m)", "|error| (0-5 m)"]):
        label = panel[index * H:index * H + LABEL_ROWS]
        changed = np.any(label != panel[index * H + H - 1, W - 1], axis=2)  # against the panel's own colour
        rows, cols = np.nonzero(changed)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        assert changed[box].all(), text  # one solid box, nothing drawn around it
        once = np.zeros(changed.shape, np.uint8)
        cv2.putText(once, text, LABEL_ORIGIN, LABEL_FONT, LABEL_SCALE, 255, 1, cv2.LINE_AA)
        assert once[box].sum() == once.sum() > 0, text
        for channel in range(3):
            np.testing.assert_array_equal(label[box][..., channel], once[box], err_msg=text)


def test_the_plots_are_written_as_pngs(tmp_path):
    import cv2

    from depth_completion_ros.eval.visualize import error_vs_range_plot, occupancy_height_histogram

    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 80, 500)
    error_vs_range_plot(tmp_path / "range.png", {"classical": (gt, np.abs(rng.normal(0, 1, 500)))})
    labels = np.zeros((4, 4, 3), np.uint8)
    labels[1, 1, 0] = 1
    occupancy_height_histogram(tmp_path / "height.png", {"target": labels}, np.array([0.1, 0.3, 0.5]), title="heights")
    for name in ("range.png", "height.png"):
        assert cv2.imread(str(tmp_path / name)) is not None
