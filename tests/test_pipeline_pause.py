"""The reader → writer pipe of a pipelined import (services/ingest/pipeline.py): frames survive pauses.

A reader stopped and continued (SIGSTOP/SIGCONT, a debugger or profiler attaching, a container
freeze) while it writes a batch used to lose the rest of it, and the import died of a decoding error.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import pickle
import signal
import time
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.feedfiles import write_appeals_csv
from dashboard.services.ingest import dropfolder, pipeline
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.services.ingest.pipeline import FrameError, ReaderLost, read_frame, write_frame
from dashboard.store.database import db
from dashboard.store.models import Appeal, QuarantinedRecord, Transition

COMPOUNDS = ["510107001001001", "510107001001002", "510107001002001", "510107001003001"]
ROWS = 6_000
BATCH = 500  # twelve frames of about 250 kB each, many times the pipe's 64 kB
BAD_EVERY = 997  # every 997th record names a region that does not exist: quarantined, exactly once
PAUSES = 5
READER = "dashboard.services.ingest.pipeline"


# --- Framing ---------------------------------------------------------------------------------------


def _frames(tmp_path: Path, *items) -> bytes:
    path = tmp_path / "frames.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for seq, item in enumerate(items):
            write_frame(fd, seq, item)
    finally:
        os.close(fd)
    return path.read_bytes()


def _read_all(stream) -> list:
    items = []
    for seq in range(1000):
        item = read_frame(stream, seq)
        if item is None:
            return items
        items.append(item)
    raise AssertionError("no end")


class Trickle(io.RawIOBase):
    """A stream that hands out at most a few bytes per read, as a pipe may."""

    def __init__(self, data: bytes, sizes=(1, 7, 3, 64, 2, 4096, 5)):
        self.data, self.position, self.sizes, self.reads = data, 0, sizes, 0

    def read(self, size=-1):
        step = self.sizes[self.reads % len(self.sizes)]
        self.reads += 1
        part = self.data[self.position : self.position + min(size, step)]
        self.position += len(part)
        return part


def test_frames_round_trip_and_end_cleanly(tmp_path):
    items = [("batch", list(range(50_000))), ("batch", "大" * 1000), ("done", None)]
    data = _frames(tmp_path, *items)
    assert _read_all(io.BytesIO(data)) == items
    assert read_frame(io.BytesIO(b""), 0) is None  # the end of the stream between frames


def test_a_stream_that_returns_a_few_bytes_at_a_time_yields_the_same_frames(tmp_path):
    items = [("batch", {"rows": list(range(20_000))}), ("done", None)]
    stream = Trickle(_frames(tmp_path, *items))
    assert _read_all(stream) == items
    assert stream.reads > 100


def test_a_truncated_frame_is_reported_as_cut_short(tmp_path):
    data = _frames(tmp_path, ("batch", list(range(1000))), ("done", None))
    first = pipeline.HEADER_SIZE + len(pickle.dumps(("batch", list(range(1000))), protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(FrameError, match=r"frame 0 cut short: the stream ended after \d+ of its \d+ bytes"):
        read_frame(io.BytesIO(data[: first - 10]), 0)
    with pytest.raises(FrameError, match=r"frame 1 cut short: .* 10 of its 24 header bytes"):
        _read_all(io.BytesIO(data[: first + 10]))


def test_a_corrupted_byte_is_a_checksum_mismatch(tmp_path):
    data = bytearray(_frames(tmp_path, ("batch", "x" * 10_000)))
    data[pipeline.HEADER_SIZE + 5000] ^= 0x01  # one bit of the body
    with pytest.raises(FrameError, match=r"frame 0: the checksum of its \d+ bytes does not match"):
        read_frame(io.BytesIO(bytes(data)), 0)
    data = bytearray(_frames(tmp_path, ("batch", "x" * 10_000)))
    data[9] ^= 0x40  # the body's length
    with pytest.raises(FrameError, match="the header's checksum does not match"):
        read_frame(io.BytesIO(bytes(data)), 0)


def test_other_output_and_lost_frames_are_recognised(tmp_path):
    data = _frames(tmp_path, ("batch", 1), ("batch", 2), ("done", None))
    with pytest.raises(FrameError, match="does not start with a frame header"):
        read_frame(io.BytesIO(b"Loading model...\n" + data), 0)
    first = len(_frames(tmp_path, ("batch", 1)))
    with pytest.raises(FrameError, match="frame 0 expected, frame 1 received"):
        read_frame(io.BytesIO(data[first:]), 0)
    with pytest.raises(FrameError, match="cannot be unpickled"):
        body = b"\x80\x05not a pickle"
        read_frame(io.BytesIO(pipeline.encode_header(0, body) + body), 0)


def test_a_write_that_takes_part_of_the_data_is_continued(tmp_path, monkeypatch):
    # A write to a pipe returns early, having taken part of the data, when the process is stopped.
    real_write = os.write
    calls = []

    def partial_write(fd, data):
        calls.append(len(data))
        return real_write(fd, bytes(memoryview(data)[: max(1, len(data) // 3)]))

    monkeypatch.setattr(os, "write", partial_write)
    data = _frames(tmp_path, ("batch", "y" * 100_000), ("done", None))
    monkeypatch.undo()
    assert len(calls) > 10
    assert _read_all(io.BytesIO(data)) == [("batch", "y" * 100_000), ("done", None)]


def test_a_lost_reader_is_replaced_and_every_batch_is_delivered_once(monkeypatch, tmp_path):
    started = []
    failures = {0: 3, 3: 7}  # the reader starting at batch 0 dies after 3 batches, the next after 7

    def reader(path, context, batch_size, skip):
        started.append(skip)
        for number in range(skip, 10):
            if failures.get(skip) == number:
                raise ReaderLost(f"frame {number - skip}: the checksum does not match")
            yield number

    monkeypatch.setattr(pipeline, "_from_reader", reader)
    assert list(pipeline.prepared_batches(tmp_path / "appeals_x.csv", None, 5)) == list(range(10))
    assert started == [0, 3, 7]

    failures = {skip: skip + 1 for skip in range(10)}
    with pytest.raises(RuntimeError, match=r"reading appeals_x\.csv in a second process failed, 3 attempts") as info:
        list(pipeline.prepared_batches(tmp_path / "appeals_x.csv", None, 5))
    assert "checksum" in str(info.value) and "importing the file again completes it" in str(info.value)


# --- The reader process, paused mid-import ------------------------------------------------------------


def _children() -> list[int]:
    """This process's children (all its threads'), from /proc."""
    me = os.getpid()
    found: list[str] = []
    for task in os.listdir(f"/proc/{me}/task"):
        with contextlib.suppress(OSError):
            found += Path(f"/proc/{me}/task/{task}/children").read_text().split()
    if not found and not Path(f"/proc/{me}/task/{me}/children").exists():  # a kernel without the children file
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if _stat(int(entry))[1] == str(me):
                        found.append(entry)
    return [int(pid) for pid in found]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, ppid, …"""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _state(pid: int) -> str:
    try:
        return _stat(pid)[0]
    except (OSError, ValueError):
        return "gone"


def _writing(pid: int) -> bool:
    """Whether the process is blocked writing to a pipe (/proc/<pid>/wchan names where it waits; 0: running)."""
    with contextlib.suppress(OSError):
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    return False


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


def _readers() -> list[int]:
    found = []
    for pid in _children():
        with contextlib.suppress(OSError):
            if READER in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(pid)
    return found


class Interferer:
    """Stops and continues (or kills) the import's reader process between batches, while it writes the next one.

    The writer takes no batch meanwhile, and a batch is several times the pipe's buffer, so a reader
    with its next batch ready is blocked writing it: each stop lands in the middle of a write.
    """

    def __init__(self, pauses: int = PAUSES, kill_at: int | None = None):
        self.pauses, self.kill_at = pauses, kill_at
        self.paused = self.paused_while_writing = 0
        self.killed = self.blind = False
        self.readers: set[int] = set()
        self.alarms: list[int] = []

    def install(self, monkeypatch) -> None:
        """Interfere after each of the first self.pauses batches the import takes."""
        real = pipeline.prepared_batches

        def interfered(path, context, batch_size):
            for number, batch in enumerate(real(path, context, batch_size)):
                yield batch
                if number < self.pauses:
                    self._interfere(number)

        monkeypatch.setattr(pipeline, "prepared_batches", interfered)

    def _interfere(self, number: int) -> None:
        assert _wait_for(lambda: len(_readers()) == 1, 30), f"not one reader process: {_readers()}"
        (pid,) = _readers()
        self.readers.add(pid)
        # A kernel that hides where processes wait (/proc/<pid>/wchan) gets its stops at some point instead.
        writing = _wait_for(lambda: _writing(pid) or _state(pid) in ("gone", "Z"), 0 if self.blind else 10)
        writing = writing and _writing(pid)
        self.blind = not writing
        if number == self.kill_at:
            os.kill(pid, signal.SIGKILL)
            self.killed = True
            return
        os.kill(pid, signal.SIGSTOP)
        try:
            assert _wait_for(lambda: _state(pid) in ("T", "t"), 10), "the reader did not stop"
        finally:
            os.kill(pid, signal.SIGCONT)
        assert _wait_for(lambda: _state(pid) not in ("T", "t"), 10), "the reader did not continue"
        self.paused += 1
        self.paused_while_writing += writing


def _feed(tmp_path: Path) -> tuple[Path, list[dict]]:
    path = write_appeals_csv(tmp_path / "appeals_pause.csv", ROWS, COMPOUNDS, dt.datetime(2026, 11, 20), prefix="Q")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for index in range(BAD_EVERY, len(lines), BAD_EVERY):
        lines[index] = lines[index].replace("510107001", "510107009", 1)
    path.write_text("".join(lines), encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as handle:
        valid = [row for row in csv.DictReader(handle) if row["region_code"].startswith("510107001")]
    return path, valid


def _stored_appeals() -> list[tuple]:
    with db.session() as session:
        rows = session.execute(
            select(Appeal.external_id, Appeal.source, Appeal.category, Appeal.priority, Appeal.region_code)
            .where(Appeal.external_id.like("Q%"))
            .order_by(Appeal.external_id)
        ).all()
    return [
        (external_id, str(source), str(category), str(priority), region)
        for external_id, source, category, priority, region in rows
    ]


def _counts() -> tuple[int, int, int]:
    with db.session() as session:
        steps = session.scalar(
            select(func.count()).select_from(Transition).join(Appeal).where(Appeal.external_id.like("Q%"))
        )
        quarantined = session.scalar(select(func.count()).select_from(QuarantinedRecord))
        appeals = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.external_id.like("Q%")))
    return appeals, steps, quarantined


@contextlib.contextmanager
def _signalled(alarms: list[int]):
    """This process (the writer) receives SIGALRM every 5 ms, handled: its reads are interrupted and go on."""
    previous = signal.signal(signal.SIGALRM, lambda _signum, _frame: alarms.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.005, 0.005)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _import_with(demo_app, tmp_path, monkeypatch, interferer: Interferer) -> tuple[dict, list[dict]]:
    # An unbuffered stdout (as under PYTHONUNBUFFERED or python -u) is where the frames used to be cut.
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setattr(dropfolder, "BATCH_SIZE", BATCH)
    feed, valid = _feed(tmp_path)
    quarantined_before = _counts()[2]
    interferer.install(monkeypatch)
    with _signalled(interferer.alarms):
        report = ingest_file(demo_app.extensions["ingestor"], feed, pipelined=True, initial_load=False)
    assert "file_error" not in report, report["file_error"]
    bad = ROWS - len(valid)
    assert report["created"] == len(valid) and report["quarantined"] == bad and report["unchanged"] == 0
    # Exactly the file's valid rows, each once, with their values; each bad one quarantined once.
    expected = [
        (row["external_id"], row["source"], row["category"], row["priority"], row["region_code"]) for row in valid
    ]
    assert _stored_appeals() == sorted(expected)
    assert _counts() == (len(valid), len(valid), quarantined_before + bad)
    # Read again in one process, the file finds everything stored: nothing new, nothing lost.
    again = ingest_file(demo_app.extensions["ingestor"], feed, pipelined=False, initial_load=False)
    assert again["created"] == 0 and again["unchanged"] == len(valid) and again["errors"] == report["errors"]
    assert _counts() == (len(valid), len(valid), quarantined_before + bad)
    return report, valid


def test_a_reader_paused_and_resumed_mid_import_lands_every_row_once(demo_app, tmp_path, monkeypatch):
    interferer = Interferer(pauses=PAUSES)
    _import_with(demo_app, tmp_path, monkeypatch, interferer)
    assert interferer.paused == PAUSES and len(interferer.readers) == 1 and len(interferer.alarms) > 100
    # Where the kernel tells what a process waits for (/proc/<pid>/wchan), every pause cut a write short.
    assert interferer.paused_while_writing in (0, PAUSES)  # 0: the kernel does not say where a process waits


def test_a_reader_killed_mid_import_is_replaced_and_the_import_completes(demo_app, tmp_path, monkeypatch, caplog):
    interferer = Interferer(pauses=4, kill_at=2)
    _import_with(demo_app, tmp_path, monkeypatch, interferer)
    assert interferer.killed and interferer.paused == 3 and len(interferer.readers) == 2
    assert any("appeals_pause.csv" in message and "new reader" in message for message in caplog.messages)


def test_zlib_crc32_is_what_the_frames_carry():
    # The header format is documented in pipeline.py: magic, sequence, length, CRC-32 (zlib), header CRC-32.
    body = b"abc"
    header = pipeline.encode_header(7, body)
    assert header[:4] == pipeline.MAGIC and len(header) == pipeline.HEADER_SIZE
    assert int.from_bytes(header[16:20], "little") == zlib.crc32(body)
