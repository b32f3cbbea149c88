"""Open311 GeoReport v2: services, definitions, requests in JSON and XML, errors, notes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

SERVICE = "/open311/v2"


def test_services_in_json_and_xml(demo_app, client):
    services = client.get(f"{SERVICE}/services.json").get_json()
    assert {s["service_code"] for s in services} >= {"noise", "sanitation", "safety_hazard"}
    noise = next(s for s in services if s["service_code"] == "noise")
    assert noise["service_name"] == "噪音扰民" and noise["type"] == "realtime" and noise["metadata"] is True
    english = client.get(f"{SERVICE}/services.json?lang=en").get_json()
    assert next(s for s in english if s["service_code"] == "noise")["service_name"] == "Noise"
    root = ET.fromstring(client.get(f"{SERVICE}/services.xml").data)
    assert root.tag == "services" and root.find("service/service_code") is not None


def test_service_definition(demo_app, client):
    definition = client.get(f"{SERVICE}/services/noise.json").get_json()
    priority = next(a for a in definition["attributes"] if a["code"] == "priority")
    assert [v["key"] for v in priority["values"]] == ["ordinary", "urgent", "extra_urgent"]
    root = ET.fromstring(client.get(f"{SERVICE}/services/noise.xml").data)
    assert root.tag == "service_definition"
    missing = client.get(f"{SERVICE}/services/nothing.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404


def test_post_then_get_a_request_with_notes(demo_app, client, api_key):
    form = {
        "api_key": api_key,
        "service_code": "sanitation",
        "lat": "30.62",
        "long": "104.03",
        "description": "垃圾桶满溢，联系13812341234",
        "first_name": "三",
        "last_name": "张",
        "phone": "13812341234",
        "attribute[region_code]": "510107001001001",
    }
    created = client.post(f"{SERVICE}/requests.json", data=form)
    assert created.status_code == 201, created.get_json()
    request_id = created.get_json()[0]["service_request_id"]
    one = client.get(f"{SERVICE}/requests/{request_id}.json").get_json()
    assert len(one) == 1
    item = one[0]
    assert item["status"] == "open" and item["service_code"] == "sanitation"
    assert item["notes"][0]["summary"] == "上报" and item["notes"][0]["status"] == "open"
    text = str(one)
    assert "13812341234" not in text and "张" not in text  # no personal data in open data
    assert item["lat"] == 30.62 and "138****1234" in item["description"]
    xml = ET.fromstring(client.get(f"{SERVICE}/requests/{request_id}.xml").data)
    assert xml.find("request/service_request_id").text == request_id
    assert xml.find("request/notes/note/description") is not None


def test_post_finds_the_compound_from_coordinates(demo_app, client, api_key):
    from sqlalchemy import select

    from dashboard.store.database import db
    from dashboard.store.models import Appeal, Region

    with db.session() as session:
        compound = session.scalar(select(Region).where(Region.code == "510107001002001"))
        lon, lat = compound.center_lon, compound.center_lat
    form = {"api_key": api_key, "service_code": "noise", "lat": str(lat), "long": str(lon), "description": "噪音"}
    created = client.post(f"{SERVICE}/requests.json", data=form)
    assert created.status_code == 201, created.get_json()
    with db.session() as session:
        appeal = session.get(Appeal, int(created.get_json()[0]["service_request_id"]))
        assert appeal.region_code == "510107001002001" and appeal.source.value == "open311"
    outside = client.post(f"{SERVICE}/requests.json", data={**form, "lat": "39.9", "long": "116.4"})
    assert outside.status_code == 400 and "outside" in outside.get_json()[0]["description"]


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"service_code": "noise", "lat": "30.6", "long": "104.0", "description": "x"}, 403, "api_key"),
        ({"service_code": "nothing", "lat": "30.6", "long": "104.0", "description": "x"}, 404, "not found"),
        ({"service_code": "noise", "description": "x"}, 400, "location"),
        ({"service_code": "noise", "lat": "30.6", "long": "104.0"}, 400, "description"),
        ({"lat": "30.6", "long": "104.0", "description": "x"}, 400, "service_code"),
    ],
)
def test_post_errors(demo_app, client, api_key, form, status, words):
    if status != 403:
        form = {**form, "api_key": api_key}
    response = client.post(f"{SERVICE}/requests.json", data=form)
    assert response.status_code == status
    assert words in response.get_json()[0]["description"]
    xml = client.post(f"{SERVICE}/requests.xml", data=form)
    assert xml.status_code == status and ET.fromstring(xml.data).tag == "errors"


def test_list_requests_with_filters(demo_app, client):
    everything = client.get(f"{SERVICE}/requests.json?start_date=2026-10-01T00:00:00Z&end_date=2026-11-21T00:00:00Z")
    items = everything.get_json()
    assert 0 < len(items) <= 1000
    assert all(i["status"] in ("open", "closed") for i in items)
    open_only = client.get(f"{SERVICE}/requests.json?status=open&start_date=2026-10-01T00:00:00Z").get_json()
    assert open_only and all(i["status"] == "open" for i in open_only)
    noise = client.get(f"{SERVICE}/requests.json?service_code=noise&start_date=2026-10-01T00:00:00Z").get_json()
    assert noise and {i["service_code"] for i in noise} == {"noise"}
    ids = ",".join(i["service_request_id"] for i in items[:3])
    by_id = client.get(f"{SERVICE}/requests.json?service_request_id={ids}").get_json()
    assert sorted(i["service_request_id"] for i in by_id) == sorted(ids.split(","))
    with_notes = client.get(f"{SERVICE}/requests.json?service_request_id={ids}&extensions=true").get_json()
    assert all(i["notes"] for i in with_notes)
    assert all("reporter" not in key for i in items for key in i)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("start_date=notadate", 400),
        ("status=maybe", 400),
        ("service_code=unknown", 400),
        ("start_date=2026-11-20T00:00:00Z&end_date=2026-11-01T00:00:00Z", 400),
        ("service_request_id=a,b", 400),
    ],
)
def test_list_errors(demo_app, client, query, status):
    response = client.get(f"{SERVICE}/requests.json?{query}")
    assert response.status_code == status and response.get_json()[0]["code"] == status


def test_unknown_request_and_format(demo_app, client):
    assert client.get(f"{SERVICE}/requests/999999999.json").status_code == 404
    assert client.get(f"{SERVICE}/requests/abc.xml").status_code == 404
    assert client.get(f"{SERVICE}/services.csv").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/requests/99999999999999999999.json", 404),
        ("/requests/².json", 404),
        ("/requests.json?service_request_id=99999999999999999999", 400),
        ("/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-11-01T00:00:00Z", 400),
    ],
)
def test_hostile_ids_and_ranges_are_errors_not_crashes(demo_app, client, path, status):
    response = client.get(f"{SERVICE}{path}")
    assert response.status_code == status and response.get_json()[0]["code"] == status


def test_a_json_array_body_is_a_400(demo_app, client, api_key):
    response = client.post(f"{SERVICE}/requests.json", json=[{"api_key": api_key}])
    assert response.status_code == 403  # no api_key found in a body that is not an object


def test_keywords_are_a_comma_separated_string(demo_app, client):
    assert all(isinstance(s["keywords"], str) for s in client.get(f"{SERVICE}/services.json").get_json())
