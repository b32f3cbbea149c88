"""Shared helpers for webhook tests and bench/outbox: a local signed-webhook receiver and a small district."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dashboard.domain.vocab import RegionLevel, TeamKind
from dashboard.domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_valid
from dashboard.services.ingest.readers import RawRecord
from dashboard.store.models import Department, Region, Team

DISTRICT, STREET, COMMUNITY, COMPOUND = "510107", "510107001", "510107001001", "510107001001001"
OTHER_STREET, OTHER_COMMUNITY, OTHER_COMPOUND = "510107002", "510107002001", "510107002001001"
PATROL = f"{COMMUNITY}/patrol"
DEPARTMENT = "wh-cgj"
# Personal data as residents give it (domain/pii test data): a mobile, a valid ID number, a name.
PHONE = "13812341234"
ID_NUMBER = "11010519491231002X"
NAME = "张三丰"
ADDRESS = "成都市武侯区簇桥街道锦湖花园5栋2单元501室"


def add_district(database) -> None:
    """Two streets, one community and compound each, a department and the first community's patrol team."""
    with database.transaction() as tx:
        tx.add(Region(code=DISTRICT, name="武侯区", level=RegionLevel.DISTRICT))
        for street, community, compound, n in (
            (STREET, COMMUNITY, COMPOUND, "簇桥"),
            (OTHER_STREET, OTHER_COMMUNITY, OTHER_COMPOUND, "机投"),
        ):
            tx.add(Region(code=street, name=f"{n}街道", level=RegionLevel.STREET, parent_code=DISTRICT))
            tx.add(Region(code=community, name=f"{n}社区", level=RegionLevel.COMMUNITY, parent_code=street))
            tx.add(Region(code=compound, name=f"{n}小区", level=RegionLevel.COMPOUND, parent_code=community))
        tx.flush()  # regions first: the models declare no relationships to order the inserts by
        tx.add(Department(code=DEPARTMENT, name="区城管局", level=RegionLevel.DISTRICT, region_code=DISTRICT))
        tx.add(Team(region_code=COMMUNITY, kind=TeamKind.PATROL, name="簇桥社区巡逻队"))


def appeal_record(external_id: str, **fields) -> RawRecord:
    """A feed record of an appeal with personal data in every field that can hold it."""
    values = {
        "external_id": external_id,
        "source": "hotline_12345",
        "reported_at": "2026-10-01 23:45:00",
        "category": "noise",
        "priority": "extra_urgent",
        "region_code": COMPOUND,
        "description": f"楼上噪音扰民，联系电话{PHONE}，身份证{ID_NUMBER}",
        "reporter_name": NAME,
        "reporter_phone": PHONE,
        "address": ADDRESS,
        **fields,
    }
    return RawRecord(location=f"test:{external_id}", fields=values, raw_source="")


class Receiver:
    """A local HTTP receiver that checks signatures and de-duplicates by event id.

    `script` says how to answer the next requests in turn: an HTTP status, or "hang" (read the
    request, then hold the answer until `release` is set: the sender is killed meanwhile).
    After the script, it answers 200.
    """

    def __init__(self, secret: str = "", script: list | None = None) -> None:
        self.secret = secret
        self.script = list(script or [])
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    answer = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append(
                        {
                            "headers": dict(self.headers),
                            "body": raw,
                            "answer": answer,
                            "received": time.perf_counter(),
                            "valid": signature_valid(receiver.secret, raw, self.headers.get(SIGNATURE_HEADER)),
                        }
                    )
                    receiver.arrived.notify_all()
                if answer == "hang":
                    receiver.release.wait(30)
                    return
                body = b'{"errcode":0}'
                self.send_response(answer)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` requests have arrived."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout), self.requests

    def events(self) -> dict[str, dict]:
        """The accepted (2xx) events, de-duplicated by event id as a receiver must: {event id: body}."""
        seen = {}
        with self.lock:
            for request in self.requests:
                if isinstance(request["answer"], int) and 200 <= request["answer"] < 300:
                    seen.setdefault(request["headers"][EVENT_ID_HEADER], json.loads(request["body"]))
        return seen

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
