"""A rules file for `audit --rules` says what it got wrong instead of being silently ignored."""

from __future__ import annotations

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from planner.audit import AuditRules, audit
from planner.cli import app
from planner.errors import InputError


def _rules(tmp_path, text: str):
    path = tmp_path / "r.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path) -> str:
    with pytest.raises(InputError) as caught:
        AuditRules.from_toml(path)
    return str(caught.value)


def test_an_unknown_key_inside_a_rule_is_named_with_the_close_match(tmp_path):
    path = _rules(tmp_path, "[staff]\nminimum = 50\n")
    message = _error(path)
    assert message.startswith(f"{path}: unknown key 'minimum' in rule [staff]")
    assert "did you mean 'min'?" in message
    assert "the keys of [staff] are section, min" in message


def test_a_tier_written_beside_min_points_to_the_min_table(tmp_path):
    message = _error(_rules(tmp_path, '[staff]\ncentre = "five"\n'))
    assert "unknown key 'centre' in rule [staff]" in message
    assert "[staff.min] centre" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[rooms]\nmin = "three"\n',
            '[rooms] min must be a number like the default min = 3, got "three"',
        ),
        ("[staff]\nmin = 2\n", "[staff] min must be a table like the default min = { centre = 5"),
        ('[staff.min]\ncentre = "five"\n', '[staff] min.centre must be a number, got "five"'),
        ("[rooms]\ntiers = [1]\n", "[rooms] tiers[0] must be a text, got 1"),
        ("[desk]\nsection = 7\n", "[desk] section must be a text"),
    ],
)
def test_a_value_of_the_wrong_kind_stops_before_the_audit(tmp_path, text, words):
    assert words in _error(_rules(tmp_path, text))


def test_changing_one_tier_keeps_the_others(tmp_path):
    rules = AuditRules.from_toml(_rules(tmp_path, "[staff.min]\ncentre = 6\n"))
    assert rules["staff"]["min"] == {"centre": 6, "institute": 2, "station": 1}
    sites = gpd.GeoDataFrame(
        {
            "id": ["C", "S"],
            "name": ["中心", "站"],
            "tier": ["centre", "station"],
            "staff": [5, 1],
        },
        geometry=gpd.points_from_xy([500_000, 501_000], [3_000_000, 3_000_000]),
        crs="EPSG:32650",
    )
    f = audit(sites, rules=rules).findings
    staff = f[f["rule"] == "staff"].set_index("where_id")["status"]
    assert staff.to_dict() == {"C": "fail", "S": "pass"}  # 5 < 6; the station still needs 1


def test_the_cli_shows_one_error_line(tmp_path):
    path = _rules(tmp_path, "[staff]\nminimum = 50\n")
    result = CliRunner().invoke(app, ["audit", "--rules", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"error: {path}: unknown key 'minimum' in rule [staff]" in result.output
