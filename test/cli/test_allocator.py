"""The batch commands keep freed frame arrays in the process where the C library allows it."""

import platform

import pytest

from depth_completion_ros.cli.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_are_set_on_glibc():
    assert keep_freed_memory() is True
