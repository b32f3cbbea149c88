"""The latest health report of each wall screen: in Redis when CC_REDIS_URL is set, else in this process.

Why not a table: a report arrives every minute from every screen and only the latest one
matters; a table would cost a migration and a write a minute per screen for nothing kept.
Redis is what several web processes already share (push, rate limits, sessions); a single
process (the default) keeps them in memory. A restart forgets the reports: each wall sends a
new one within a minute, and until then /admin shows the wall as not yet reported.
"""

from __future__ import annotations

import contextlib
import json
import threading

REDIS_KEY = "cc:wall-health"
KEEP_SECONDS = 7 * 24 * 3600  # a wall silent for a week is dropped from the list
MAX_WALLS = 2000  # screens kept at most: a token holder inventing screen ids cannot grow this without bound


class WallReports:
    """wall id → its latest report (a dict of plain values with 'received_at', epoch seconds)."""

    def __init__(self, redis_url: str = "") -> None:
        self._lock = threading.Lock()
        self._memory: dict[str, dict] = {}
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)

    def save(self, wall_id: str, report: dict) -> None:
        """Keep report as wall_id's latest."""
        if self._redis is not None:
            try:
                if self._redis.hlen(REDIS_KEY) >= MAX_WALLS and not self._redis.hexists(REDIS_KEY, wall_id):
                    return
                self._redis.hset(REDIS_KEY, wall_id, json.dumps(report))
                self._redis.expire(REDIS_KEY, KEEP_SECONDS)
                return
            except Exception:  # Redis down: keep it here rather than lose it
                pass
        with self._lock:
            if wall_id not in self._memory and len(self._memory) >= MAX_WALLS:
                oldest = min(self._memory, key=lambda key: self._memory[key].get("received_at", 0))
                del self._memory[oldest]
            self._memory[wall_id] = report

    def all(self, now: float) -> dict[str, dict]:
        """Every wall's latest report received in the last KEEP_SECONDS."""
        reports: dict[str, dict] = {}
        if self._redis is not None:
            try:
                for key, value in self._redis.hgetall(REDIS_KEY).items():
                    reports[key.decode() if isinstance(key, bytes) else key] = json.loads(value)
            except Exception:
                pass
        with self._lock:
            for key, value in self._memory.items():
                if key not in reports or reports[key].get("received_at", 0) < value.get("received_at", 0):
                    reports[key] = value
        return {k: v for k, v in reports.items() if now - float(v.get("received_at", 0)) <= KEEP_SECONDS}

    def forget(self, wall_id: str) -> None:
        """Drop a wall's report (its screen was retired)."""
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.hdel(REDIS_KEY, wall_id)
        with self._lock:
            self._memory.pop(wall_id, None)
