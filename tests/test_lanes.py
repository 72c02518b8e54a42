"""The report lane (surveys/lanes.py): heavy report pages one at a time, tablets never wait."""

from __future__ import annotations

import threading

from werkzeug.test import Client

from surveys.lanes import ReportLane


def test_a_report_waits_for_the_lane_and_a_tablet_does_not(app, make_round, tmp_path):
    r = make_round()
    lane = ReportLane(app.wsgi_app, str(tmp_path / "report-lane.lock"))
    client = Client(lane)
    finished = threading.Event()

    def report() -> None:
        client.get("/rapport/2020")  # any answer: what matters is when it comes
        finished.set()

    with lane.lock:  # another report is being computed
        waiting = threading.Thread(target=report)
        waiting.start()
        tablet = client.get(f"/s/{r.code}")  # not a report: goes straight through
        assert tablet.status_code == 200
        assert 'name="csrf_token"' in tablet.get_data(as_text=True)
        assert not finished.wait(0.5)  # the report waits for the lane
    waiting.join(timeout=30)
    assert finished.is_set()


def test_the_lane_is_shared_by_two_workers(app, tmp_path):
    """Two lanes on the same file (two gunicorn workers, each its own descriptor) exclude
    each other."""
    path = str(tmp_path / "report-lane.lock")
    first, second = ReportLane(app.wsgi_app, path), ReportLane(app.wsgi_app, path)
    taken = threading.Event()

    def take() -> None:
        with second.lock:
            taken.set()

    with first.lock:
        other = threading.Thread(target=take)
        other.start()
        assert not taken.wait(0.5)
    other.join(timeout=30)
    assert taken.is_set()
