"""Issue 18 point 4: every route parameter is checked by type and range before use.

A year of 20 digits used to reach the database driver and end in ``OverflowError``
(a 500) on the report, CSV, print, chart, preview, publishing and comments routes,
for every role. Now the URL simply does not match: the Swedish 404 page.
"""

from __future__ import annotations

import re

import pytest

from surveys.converters import BoundedIntConverter, BoundedTextConverter, YearConverter
from tests.conftest import login

HUGE = "99999999999999999999"  # > 2**63
PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def _url(rule: str, **values: str) -> str:
    """The rule with each parameter filled in: ``values`` by name, else something valid."""

    def fill(match: re.Match) -> str:
        converter, args, name = match.groups()
        if name in values:
            return values[name]
        if converter == "any":
            return args.split(",")[0].strip()
        if converter in ("int", "year"):
            return "2024" if converter == "year" else "1"
        return {"kind": "ar", "fmt": "svg"}.get(name, "x")

    return PARAM.sub(fill, rule)


def _year_rules(app):
    return [r for r in app.url_map.iter_rules() if "year" in r.arguments]


def test_every_year_parameter_uses_the_year_converter(app):
    rules = _year_rules(app)
    endpoints = {r.endpoint for r in rules}
    # report, preview, print, downloads, charts, publishing, comments
    assert {
        "reports.report",
        "reports.preview",
        "reports.printable",
        "reports.download",
        "reports.chart_image",
        "publish.year_page",
        "comments.edit",
    } <= endpoints, endpoints
    for rule in rules:
        assert isinstance(rule._converters["year"], YearConverter), rule.rule  # noqa: SLF001
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():  # noqa: SLF001
            assert isinstance(
                converter, YearConverter | BoundedIntConverter | BoundedTextConverter
            ) or type(converter).__name__ in ("AnyConverter", "PathConverter"), (rule, name)


@pytest.mark.parametrize("role", ["administratör", "läsare", "personal"])
@pytest.mark.parametrize("year", [HUGE, "1999", "2101", "-1", "02024", "２０２４"])
def test_out_of_range_year_is_a_swedish_404_on_every_route(app, client, make_user, role, year):
    insatser = ["Steget"] if role == "personal" else []  # staff have an insats (users service)
    assert login(client, make_user(role, insatser=insatser)).status_code == 302
    rules = _year_rules(app)
    assert len(rules) >= 7
    for rule in rules:
        url = _url(rule.rule, year=year)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"csrf_token": "x"})
            assert response.status_code == 404, (method, url, response.status_code)
            assert "Sidan finns inte" in response.text, url


def test_other_parameters_are_bounded_too(app, admin_client):
    # a chart's indicator number and any id or token: long input never reaches a query
    for url in (
        f"/rapport/2024/diagram/{HUGE}-ar.svg",
        "/personal/omgang/" + "a" * 300,
        "/admin/anvandare/" + "b" * 300,
        "/s/" + "c" * 300,
    ):
        response = admin_client.get(url)
        assert response.status_code == 404, url
        assert "Sidan finns inte" in response.text


def test_a_valid_year_still_reaches_the_view(app, admin_client):
    response = admin_client.get("/rapport/2024")
    # not the URL's 404: the report page's own message that the year is not published
    assert "Sidan finns inte" not in response.text
    assert "2024" in response.text


@pytest.mark.parametrize(
    "args",
    [
        ["publish", "--year", HUGE],
        ["report", "--year", "1999", "--format", "csv"],
        ["purge", "--before", HUGE],
    ],
)
def test_cli_year_out_of_range_is_refused_in_swedish(runner, args):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert "ska vara ett årtal mellan 2000 och 2100" in result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
