"""A long-running process's memory: glibc's malloc arenas, limited and trimmed.

Measured in the soak (issue 21, docs/BENCHMARKS.md): the server's RSS rose in steps of 20–30 MB
and was 332 MB after 25 minutes, of which Python used 59 MB. The rest was freed memory held by
glibc's per-thread arenas (16 of them on 2 cores, about 40 MB each): every request thread and job
thread that builds a data frame leaves its arena's pages behind. Two arenas, and a trim (checked
each minute) whenever much freed memory is held, keep RSS close to what is in use. A fixed mmap
threshold keeps short-lived large blocks (a query's data frame, an export's rows) out of the heap:
glibc otherwise raises the threshold after each such block is freed, up to 32 MB, and the next ones
land in the heap and stay there until a trim. Other C libraries (musl, macOS) have no such arenas:
then these do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # blocks this large or larger get their own mapping, returned on free


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (unless MALLOC_ARENA_MAX is set); True when applied."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Serve blocks of size bytes or more by mmap, always (unless MALLOC_MMAP_THRESHOLD_ is set); True when applied."""
    libc = _glibc()
    if libc is None or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, size))


class _MallInfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (malloc.h, glibc 2.33 and later): byte counts over every arena."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


IDLE_FLOOR = 64 * 1024 * 1024  # trim when at least this much freed memory is held, and ...
IDLE_SHARE = 0.25  # ... it is at least this share of what is in use


def idle_bytes() -> tuple[int, int] | None:
    """(freed bytes the arenas hold, bytes in use), or None where glibc cannot tell (before 2.33)."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.fordblks, info.uordblks


def trim(force: bool = False) -> bool:
    """Give freed heap pages of every arena back to the system when many are idle; True when some were.

    Held memory above IDLE_FLOOR and IDLE_SHARE of what is in use is given back; a trim holds the
    arena locks (60-130 ms on a fragmented 400 MB heap). A street-scale server still passes this gate
    every minute and reuses what it gave back within seconds (docs/BENCHMARKS.md, the soak of issue 21).
    """
    libc = _glibc()
    if libc is None:
        return False
    idle = None if force else idle_bytes()
    if idle is not None and (idle[0] < IDLE_FLOOR or idle[0] < IDLE_SHARE * idle[1]):
        return False
    return bool(libc.malloc_trim(0))
