"""The process's malloc arenas are limited and trimmed (dashboard/memory.py, issue 21's soak)."""

from __future__ import annotations

import platform

import pytest

from dashboard import memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's arenas only")


@glibc
def test_arenas_are_limited_unless_the_operator_chose(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_arenas() is True
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False  # the operator's setting wins


@glibc
def test_large_blocks_get_their_own_mapping_unless_the_operator_chose(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert memory.fix_mmap_threshold() is True
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert memory.fix_mmap_threshold() is False


@glibc
def test_trim_gives_freed_pages_back():
    blocks = [bytearray(256 * 1024) for _ in range(64)]  # 16 MB, then freed
    del blocks
    assert isinstance(memory.trim(force=True), bool)


@glibc
def test_trim_waits_until_much_freed_memory_is_held(monkeypatch):
    """A saw-tooth of give-back and fault-in is worse than holding what the next minute reuses."""
    trims = []
    monkeypatch.setattr(
        memory, "_glibc", lambda: type("C", (), {"malloc_trim": lambda self, pad: trims.append(pad) or 1})()
    )
    mb = 1024 * 1024
    for idle, used, expected in [
        (63 * mb, 100 * mb, False),  # under the 64 MB floor
        (64 * mb, 256 * mb, True),  # at the floor and at a quarter of what is in use
        (64 * mb, 257 * mb, False),  # under a quarter of what is in use
        (300 * mb, 400 * mb, True),
    ]:
        monkeypatch.setattr(memory, "idle_bytes", lambda idle=idle, used=used: (idle, used))
        assert memory.trim() is expected, (idle, used)
    monkeypatch.setattr(memory, "idle_bytes", lambda: (0, 100 * mb))
    assert memory.trim(force=True) is True
    monkeypatch.setattr(memory, "idle_bytes", lambda: None)  # glibc before 2.33: trim as before
    assert memory.trim() is True
    assert len(trims) == 4


@glibc
def test_idle_bytes_reads_the_arenas():
    idle, used = memory.idle_bytes()
    assert idle >= 0 and used > 0


def test_both_do_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.limit_arenas() is False
    assert memory.fix_mmap_threshold() is False
    assert memory.trim() is False


def test_every_process_with_a_scheduler_trims_each_minute(app):
    jobs = {job.id: job for job in app.extensions["scheduler"].local.get_jobs()}
    assert jobs["trim_memory"].trigger.interval.total_seconds() == 60
