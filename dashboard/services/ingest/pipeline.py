"""A large file is read and validated in a second process while this one writes.

On two cores, decoding, validating and preparing rows (prepare.py) take about as long as
looking up, inserting and counting them (service.py); running them side by side nearly halves
the time of a large import. Small deliveries stay in one process: starting the reader costs
about a second.

The reader writes prepared batches to a pipe of their own (not its stdout, where a library may
print), whose small buffer keeps it one batch ahead. Each batch travels as a frame: a header
(magic, sequence number, length, CRC-32 of the body, CRC-32 of the header), then the pickled
batch. Both ends loop until every byte has passed: a write to a pipe may take only part of the
data when the process is stopped and continued (SIGSTOP/SIGCONT, a debugger or profiler
attaching, a container freeze), and an unbuffered stdout (PYTHONUNBUFFERED, python -u) used to
drop the rest silently. A frame cut short or damaged all the same stops that reader; a new one
carries on from the first batch not yet written (a few times at most, then the import fails
with the reason and the file's name; importing it again completes it: service.py's idempotency).

The reader stops by itself when the writer's process dies (even by SIGKILL): its next write
fails. So a crashed import leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import os
import pickle
import struct
import subprocess
import sys
import traceback
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dashboard.config import ROOT
from dashboard.services.ingest.prepare import BATCH_SIZE, Context, PreparedBatch, collector_paused, prepare_batches
from dashboard.services.ingest.readers import FileError, read_records

log = logging.getLogger(__name__)

# Files at least this large are read in a second process (≈ 75,000 appeals in CSV).
PIPELINE_MIN_BYTES = 16 * 2**20
# A frame's header: magic, sequence number, body length, CRC-32 of the body; then the CRC-32 of these 20 bytes.
MAGIC = b"CCb1"
_HEADER = struct.Struct("<4sIQI")
_HEADER_CHECK = struct.Struct("<I")
HEADER_SIZE = _HEADER.size + _HEADER_CHECK.size
# How many times a reader that stopped or sent a damaged frame is replaced before the import fails.
READER_RESTARTS = 2
# The reader's garbage-collection thresholds (the defaults are 700, 10, 10).
READER_GC_THRESHOLDS = (50_000, 20, 100)


class FrameError(Exception):
    """A frame read from a pipe was cut short or damaged."""


class ReaderLost(Exception):
    """The reader process stopped, or its frames were damaged, before the whole file was read."""


def worth_pipelining(path: Path) -> bool:
    """True when a file is large enough for a reader process to pay for its start-up."""
    return (os.cpu_count() or 1) > 1 and path.stat().st_size >= PIPELINE_MIN_BYTES


def prepared_batches(path: Path, context: Context, batch_size: int = BATCH_SIZE) -> Iterator[PreparedBatch]:
    """The file's prepared batches, in order, read and validated by a reader process.

    A file that cannot be read raises FileError here, as reading it in this process would.
    A reader that dies or whose frames arrive damaged is replaced by one that starts at the
    first batch not yet delivered, so every batch is delivered exactly once; after
    READER_RESTARTS replacements a RuntimeError names the file and the reason.
    """
    delivered = 0
    lost: list[str] = []
    while True:
        try:
            with contextlib.closing(_from_reader(path, context, batch_size, skip=delivered)) as batches:
                for batch in batches:
                    delivered += 1
                    yield batch
            return
        except ReaderLost as exc:
            lost.append(str(exc))
            if len(lost) > READER_RESTARTS:
                raise RuntimeError(
                    f"reading {path.name} in a second process failed, {len(lost)} attempts: {'; '.join(lost)}; "
                    f"its first {delivered} batches were delivered, and importing the file again completes it"
                ) from exc
            log.warning("reading %s: %s; a new reader starts at batch %d", path.name, exc, delivered + 1)


def _from_reader(path: Path, context: Context, batch_size: int, skip: int) -> Iterator[PreparedBatch]:
    """The batches of one reader process, from batch skip + 1 on; ReaderLost when it fails midway.

    The reader is a fresh interpreter (python -m dashboard.services.ingest.pipeline), not a fork: this
    process may run threads (the scheduler, Socket.IO), and a fork copies their locks.
    """
    frames_out, frames_in = os.pipe()  # not inherited by any other child (PEP 446); pass_fds hands it over
    try:
        reader = subprocess.Popen(
            [sys.executable, "-m", "dashboard.services.ingest.pipeline", str(frames_in)],
            stdin=subprocess.PIPE,
            stdout=_stray_output(),
            pass_fds=(frames_in,),
            cwd=ROOT,  # the project root, where `dashboard` is importable
        )
    except BaseException:
        os.close(frames_out)
        raise
    finally:
        os.close(frames_in)  # only the reader's copy is left: its end is the end of the stream
    frames = open(frames_out, "rb")  # noqa: SIM115 (closed in the finally below, after the reader is stopped)
    try:
        try:
            write_frame(reader.stdin.fileno(), 0, (str(path), context, batch_size, skip))
            reader.stdin.close()
        except BrokenPipeError:
            message = f"the reader process stopped before it was given the file (exit code {reader.wait()})"
            raise ReaderLost(message) from None
        for seq in itertools.count():
            try:
                frame = read_frame(frames, seq)
            except FrameError as exc:
                raise ReaderLost(f"the reader's output was damaged: {exc}") from exc
            if frame is None:
                raise ReaderLost(f"the reader process stopped (exit code {reader.wait()})")
            tag, payload = frame
            if tag == "batch":
                yield payload
            elif tag == "file_error":
                raise FileError(payload)
            elif tag == "error":
                raise RuntimeError(f"reading {path.name} failed in the reader process:\n{payload}")
            else:
                return
    finally:
        if reader.poll() is None:
            reader.kill()  # also ends a stopped (SIGSTOP) reader
        with contextlib.suppress(OSError):  # after a BrokenPipeError
            reader.stdin.close()
        frames.close()
        reader.wait()


def _stray_output() -> int:
    """Where the reader's stdout goes: this process's stderr (the CLI prints reports on stdout)."""
    try:
        os.fstat(2)
    except OSError:
        return subprocess.DEVNULL
    return 2


def encode_header(seq: int, body: bytes | memoryview) -> bytes:
    """The header of frame seq carrying body."""
    head = _HEADER.pack(MAGIC, seq & 0xFFFFFFFF, len(body), zlib.crc32(body))
    return head + _HEADER_CHECK.pack(zlib.crc32(head))


def write_frame(fd: int, seq: int, item: Any) -> None:
    """Pickle item and write it to the file descriptor fd as frame seq, every byte of it."""
    body = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    write_all(fd, encode_header(seq, body))
    write_all(fd, body)


def write_all(fd: int, data: bytes) -> None:
    """Write all of data to fd: a write to a pipe returns early, having taken part, when a signal stops the process."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]  # EINTR before any byte is retried by os.write (PEP 475)


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """size bytes from stream, fewer only when it ends first (a read may return part of them)."""
    parts = []
    missing = size
    while missing:
        part = stream.read(missing)
        if not part:  # b"" at the end of the stream
            break
        parts.append(part)
        missing -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_frame(stream: BinaryIO, seq: int) -> Any:
    """The item of frame seq, read from stream; None when the stream ends before it.

    A frame cut short, damaged (checksum), out of order or preceded by other output raises FrameError.
    """
    header = read_exactly(stream, HEADER_SIZE)
    if not header:
        return None
    if len(header) < HEADER_SIZE:
        raise FrameError(
            f"frame {seq} cut short: the stream ended after {len(header)} of its {HEADER_SIZE} header bytes"
        )
    head = header[: _HEADER.size]
    magic, number, size, crc = _HEADER.unpack(head)
    if magic != MAGIC:
        raise FrameError(f"frame {seq} does not start with a frame header (it starts {header[:16]!r})")
    (check,) = _HEADER_CHECK.unpack_from(header, _HEADER.size)
    if zlib.crc32(head) != check:
        raise FrameError(f"frame {seq}: the header's checksum does not match")
    if number != seq & 0xFFFFFFFF:
        raise FrameError(f"frame {seq} expected, frame {number} received: frames were lost or repeated")
    body = read_exactly(stream, size)
    if len(body) < size:
        raise FrameError(f"frame {seq} cut short: the stream ended after {len(body)} of its {size} bytes")
    if zlib.crc32(body) != crc:
        raise FrameError(f"frame {seq}: the checksum of its {size} bytes does not match (CRC-32)")
    with collector_paused():  # while a batch is unpickled, every new object lives on
        try:
            return pickle.loads(body)
        except Exception as exc:  # checked bytes that do not unpickle: a bug, reported as the frame's
            raise FrameError(f"frame {seq} cannot be unpickled ({exc.__class__.__name__}: {exc})") from exc


def main() -> None:
    """The reader process: prepare every batch of the file and write it to the descriptor in argv[1].

    Writing blocks while the writer is busy (the pipe's buffer is small), so the reader runs
    one batch ahead; when the writer dies, the write fails and the reader ends with it.
    """
    frames = int(sys.argv[1])
    sys.stdout = sys.stderr  # print() goes where this process's stdout goes: the writer's stderr
    path, context, batch_size, skip = read_frame(sys.stdin.buffer, 0)
    # Every object of a batch lives until the batch is sent, so the collector's passes would
    # find nothing to free; they cost a third of the reader's time with the default thresholds,
    # which also make every full pass walk all the imported modules' objects (frozen here).
    gc.freeze()
    gc.set_threshold(*READER_GC_THRESHOLDS)
    seq = 0
    try:
        # A reader that replaces a lost one skips the records of the batches already delivered.
        records = itertools.islice(read_records(Path(path), context.kind), skip * batch_size, None)
        for batch in prepare_batches(records, context, batch_size):
            write_frame(frames, seq, ("batch", batch))
            seq += 1
        write_frame(frames, seq, ("done", None))
    except BrokenPipeError:
        raise SystemExit(1) from None
    except FileError as exc:
        write_frame(frames, seq, ("file_error", str(exc)))
    except Exception:  # the writer reports it with the file; a bug must not hang the import
        write_frame(frames, seq, ("error", traceback.format_exc()))


if __name__ == "__main__":
    main()
