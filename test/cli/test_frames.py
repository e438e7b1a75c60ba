"""The batch commands' frame loop: bad frames counted, Ctrl-C finishes the frame in hand."""

import os
import signal

from depth_completion_ros.cli.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from depth_completion_ros.cli.frames import finish, run_frames
from depth_completion_ros.errors import BadInputError


def test_ctrl_c_lets_the_frame_in_hand_finish_then_stops(tmp_path, capsys):
    written = []

    def process(frame: int) -> tuple[float, float]:
        if frame == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while frame 1 is being processed
        written.append(frame)
        return 1.0, 0.0

    run = run_frames(range(5), process, "dcr test")
    assert written == [0, 1] and run.interrupted and run.written == 2
    assert finish(run, 5, 0, "method", tmp_path, "dcr test") == EXIT_INTERRUPTED
    assert "interrupted after 2 of 5 frame(s)" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_bad_frames_are_counted_and_the_outcome_is_an_exit_code(tmp_path):
    def process(frame: int) -> tuple[float, float]:
        if frame % 2:
            raise BadInputError(f"frame {frame}", "broken")
        return 1.0, 0.0

    run = run_frames(range(4), process, "dcr test")
    assert (run.written, run.failures, run.interrupted) == (2, 2, False)
    assert finish(run, 4, 0, "method", tmp_path, "dcr test") == EXIT_PARTIAL
    assert finish(run_frames(range(2), process, "dcr test"), 2, 0, "m", tmp_path, "dcr test") == EXIT_PARTIAL
    assert finish(run_frames([1], process, "dcr test"), 1, 0, "m", tmp_path, "dcr test") == EXIT_USAGE
    assert finish(run_frames([0, 2], process, "dcr test"), 2, 0, "m", tmp_path, "dcr test") == EXIT_OK
