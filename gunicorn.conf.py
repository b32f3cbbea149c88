"""gunicorn settings read from this folder (gunicorn loads ./gunicorn.conf.py by itself; -c names it).

Only what the metrics need: with PROMETHEUS_MULTIPROC_DIR set (docs/OPERATIONS.md), each worker
writes its metric values to files there, and a worker that exits has its live gauges (connected
sockets, pool use) dropped, so that a restarted worker is not counted twice. Empty that folder
before the server starts (the systemd unit does: ExecStartPre).
"""

import os


def child_exit(_server, worker):
    """A worker ended: drop its live gauges from the shared metric files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
