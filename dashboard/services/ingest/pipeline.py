"""A large file is read and validated in a second process while this one writes.

On two cores, decoding, validating and preparing rows (prepare.py) take about as long as
looking up, inserting and counting them (service.py); running them side by side nearly halves
the time of a large import. Small deliveries stay in one process: starting the reader costs
about a second.

The reader writes prepared batches to a pipe, whose small buffer keeps it one batch ahead. It
stops by itself when the writer's process dies (even by SIGKILL): its next write fails. So a
crashed import leaves no orphan behind, and restarting it completes it (service.py's idempotency).
"""

from __future__ import annotations

import gc
import os
import pickle
import struct
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from dashboard.config import ROOT
from dashboard.services.ingest.prepare import BATCH_SIZE, Context, PreparedBatch, collector_paused, prepare_batches
from dashboard.services.ingest.readers import FileError, read_records

# Files at least this large are read in a second process (≈ 75,000 appeals in CSV).
PIPELINE_MIN_BYTES = 16 * 2**20
_FRAME = struct.Struct("<Q")
# The reader's garbage-collection thresholds (the defaults are 700, 10, 10).
READER_GC_THRESHOLDS = (50_000, 20, 100)


def worth_pipelining(path: Path) -> bool:
    """True when a file is large enough for a reader process to pay for its start-up."""
    return (os.cpu_count() or 1) > 1 and path.stat().st_size >= PIPELINE_MIN_BYTES


def prepared_batches(path: Path, context: Context, batch_size: int = BATCH_SIZE) -> Iterator[PreparedBatch]:
    """The file's prepared batches, in order, read and validated by a reader process.

    A file that cannot be read raises FileError here, as reading it in this process would.
    The reader is a fresh interpreter (python -m dashboard.services.ingest.pipeline), not a fork: this
    process may run threads (the scheduler, Socket.IO), and a fork copies their locks.
    """
    reader = subprocess.Popen(
        [sys.executable, "-m", "dashboard.services.ingest.pipeline"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,  # the project root, where `dashboard` is importable
    )
    try:
        pickle.dump((str(path), context, batch_size), reader.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        reader.stdin.close()
        while True:
            frame = _receive(reader.stdout)
            if frame is None:
                raise RuntimeError(f"the reader of {path.name} stopped (exit code {reader.wait()})")
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
            reader.kill()
        reader.stdout.close()
        reader.wait()


def _receive(stream):
    header = stream.read(_FRAME.size)
    if len(header) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    with collector_paused():  # while a batch is unpickled, every new object lives on
        return pickle.loads(body)


def _send(stream, item) -> None:
    body = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(body)))
    stream.write(body)
    stream.flush()


def main() -> None:
    """The reader process: prepare every batch of the file and write it to stdout.

    Writing blocks while the writer is busy (the pipe's buffer is small), so the reader runs
    one batch ahead; when the writer dies, the write fails and the reader ends with it.
    """
    path, context, batch_size = pickle.load(sys.stdin.buffer)
    # Every object of a batch lives until the batch is sent, so the collector's passes would
    # find nothing to free; they cost a third of the reader's time with the default thresholds,
    # which also make every full pass walk all the imported modules' objects (frozen here).
    gc.freeze()
    gc.set_threshold(*READER_GC_THRESHOLDS)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed must not corrupt the frames
    try:
        for batch in prepare_batches(read_records(Path(path), context.kind), context, batch_size):
            _send(out, ("batch", batch))
        _send(out, ("done", None))
    except BrokenPipeError:
        raise SystemExit(1) from None
    except FileError as exc:
        _send(out, ("file_error", str(exc)))
    except Exception:  # the writer reports it with the file; a bug must not hang the import
        _send(out, ("error", traceback.format_exc()))


if __name__ == "__main__":
    main()
