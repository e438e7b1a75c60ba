import subprocess
import sys

import pytest

from depth_completion_ros.cli.main import SUBCOMMANDS, build_parser, main


def test_every_subcommand_has_complete_help(capsys):
    parser = build_parser()
    assert set(SUBCOMMANDS) <= set(parser.format_help().split())
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: dcr {name}" in capsys.readouterr().out


def test_unknown_subcommand_fails_with_usage():
    result = subprocess.run(
        [sys.executable, "-m", "depth_completion_ros.cli.main", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_info_reports_the_device(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "device" in out and "torch" in out


def test_info_cleans_zombie_dds_shared_memory_on_request(capsys):
    assert main(["info", "--clean-shm"]) == 0
    assert "Fast DDS shared-memory files of dead processes" in capsys.readouterr().out
