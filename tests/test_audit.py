"""The standards audit: every rule at its threshold, no data is never a pass, the sample's
planted failures found exactly, and bad ledgers reported row by row or in one error line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)
from openpyxl import Workbook, load_workbook

from planner.audit import (
    AuditFiles,
    AuditInputs,
    AuditRules,
    audit,
    audit_region,
    city_projects_required,
    compliant_sites,
    match_team,
    spot_check,
)
from planner.audit_report import write_audit
from planner.errors import InputError
from planner.ledgers import read_activities, read_teams, read_unit_stats
from planner.text import AUDIT_SHEETS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
UTM = "EPSG:32650"
NAMED = AuditRules.from_toml()["teams"]["centre_named"]


# --- tiny worlds built by hand --------------------------------------------------------------


def sites_frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """Sites at metric points; every attribute a passing value unless the row says otherwise."""
    full = []
    for k, row in enumerate(rows):
        base = {
            "id": f"S{k + 1}",
            "name": f"站点{k + 1}",
            "tier": "station",
            "town": "甲镇",
            "village_code": f"V{k + 1}",
            "rooms": 3,
            "staff": 1,
            "functions": "理论宣讲、教育服务、文化活动、体育健身、科学普及",
            "desk": "是",
            "open_hours": "9:00-17:00",
            "manager": "王建华",
            "x": 500_000 + 1000 * k,
            "y": 3_000_000,
        }
        base.update(row)
        full.append(base)
    frame = pd.DataFrame(full)
    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs=UTM,
    )


def ledger(counts: dict[tuple[str, str], int], kind: str = "文化活动") -> pd.DataFrame:
    """``counts[(site, team)]`` activities of ``kind`` on distinct days of 2025."""
    rows = []
    for (site, team), n in counts.items():
        for d in range(n):
            rows.append(
                {
                    "date": pd.Timestamp("2025-01-01") + pd.Timedelta(days=d),
                    "site_id": site,
                    "team": team,
                    "type": {"理论宣讲": "theory", "培训": "training"}.get(kind, "culture"),
                }
            )
    return pd.DataFrame(rows, columns=["date", "site_id", "team", "type"])


def teams_of(spec: dict[str, int | list[str]]) -> pd.DataFrame:
    rows = []
    for site, teams in spec.items():
        names = teams if isinstance(teams, list) else [f"队{k}" for k in range(teams)]
        rows += [{"site_id": site, "team": t, "members": 10} for t in names]
    return pd.DataFrame(rows, columns=["site_id", "team", "members"])


def status(result, where_id: str, rule: str) -> str:
    f = result.findings
    hit = f[(f["where_id"] == where_id) & (f["rule"] == rule)]
    assert len(hit) == 1, (where_id, rule, hit)
    return hit["status"].iloc[0]


# --- site rules at their thresholds ---------------------------------------------------------


def test_rooms_staff_desk_functions_at_their_thresholds():
    sites = sites_frame(
        [
            {"rooms": 3, "staff": 1},
            {
                "rooms": 2,
                "staff": 0,
                "desk": "否",
                "functions": "理论宣讲、教育服务、文化活动、体育健身",
            },
            {"rooms": None, "staff": None, "desk": "", "functions": ""},
            {
                "tier": "institute",
                "staff": 2,
                "desk": "yes",
                "functions": "theory;education;culture;sport;science",
            },
            {"tier": "institute", "staff": 1, "desk": "有"},
            {"tier": "centre", "staff": 5, "functions": "宣讲、教育、文化、健身、科普"},
            {"tier": "centre", "staff": 4, "desk": "maybe"},
        ]
    )
    r = audit(sites)
    assert [status(r, f"S{k}", "rooms") for k in (1, 2, 3)] == ["pass", "fail", "no_data"]
    staff = [status(r, f"S{k}", "staff") for k in range(1, 8)]
    assert staff == ["pass", "fail", "no_data", "pass", "fail", "pass", "fail"]
    assert [status(r, f"S{k}", "desk") for k in (1, 2, 3, 4, 5, 7)] == [
        "pass", "fail", "no_data", "pass", "pass", "no_data",
    ]  # fmt: skip
    functions = [status(r, f"S{k}", "functions") for k in (1, 2, 3, 4, 6)]
    assert functions == ["pass", "fail", "no_data", "pass", "pass"]
    found = r.findings.query("where_id == 'S2' and rule == 'functions'")["found"].iloc[0]
    assert found == "缺少：科学普及"


def test_teams_activities_and_trainings_at_their_thresholds():
    sites = sites_frame(
        [
            {"tier": "station"},
            {"tier": "station"},
            {"tier": "institute"},
            {"tier": "institute"},
            {"tier": "centre"},
        ]
    )
    teams = teams_of({"S1": 3, "S2": 2, "S3": 5, "S4": ["甲队", "乙队", "丙队", "丁队"], "S5": 2})
    acts = pd.concat(
        [
            ledger({("S1", "队0"): 12, ("S2", "队0"): 11}),
            ledger({("S3", f"队{k}"): 12 for k in range(5)}),
            ledger({("S4", "甲队"): 12, ("S4", "乙队"): 11}),
            ledger({("S5", "队0"): 12, ("S5", "队1"): 12}),
            ledger({("S5", "队0"): 2}, kind="培训").assign(date=pd.Timestamp("2025-06-01")),
        ],
        ignore_index=True,
    )
    r = audit(sites, AuditInputs(teams=teams, activities=acts, year=2025))
    assert [status(r, s, "teams") for s in ("S1", "S2", "S3", "S4")] == [
        "pass", "fail", "pass", "fail",
    ]  # fmt: skip
    assert status(r, "S1", "activities") == "pass"  # exactly 12
    assert status(r, "S2", "activities") == "fail"  # 11
    assert status(r, "S4/甲队", "team_activity") == "pass"
    assert status(r, "S4/乙队", "team_activity") == "fail"
    assert status(r, "S4/丙队", "team_activity") == "fail"  # no activity at all
    assert status(r, "S5", "training") == "pass"  # exactly 2
    one = acts[~((acts["type"] == "training") & (acts.index == acts.index[-1]))]
    r1 = audit(sites, AuditInputs(teams=teams, activities=one, year=2025))
    assert status(r1, "S5", "training") == "fail"


def test_the_centre_needs_every_named_team_matched_by_alias_or_spelling():
    written = {
        "法律服务": "示范县普法志愿服务队",
        "心理关爱": "心理健康志愿者服务队",
        "医疗健身": "医疗卫生健身服务队",
    }
    names = [written.get(n, f"示范县{n}志愿服务队") for n in NAMED]
    sites = sites_frame([{"tier": "centre"}])
    r = audit(sites, AuditInputs(teams=teams_of({"S1": names})))
    assert status(r, "S1", "teams") == "pass"
    missing = [n for n in names if "应急救援" not in n] + ["示范县巾帼志愿服务队"]
    r = audit(sites, AuditInputs(teams=teams_of({"S1": missing})))
    assert status(r, "S1", "teams") == "fail"
    found = r.findings.query("rule == 'teams'")["found"].iloc[0]
    assert found == "16/17 支指定队伍；缺少：应急救援"


def test_team_names_match_aliases_containment_and_close_spellings():
    assert match_team("示范县理论政策宣讲志愿服务队", NAMED) == "理论政策宣讲"
    assert match_team("普法志愿服务队", NAMED) == "法律服务"
    assert match_team("移风易俗倡导队", NAMED) == "移风易俗"
    assert match_team("关爱未成年人服务分队", NAMED) == "关爱未成年人"
    assert match_team("美德健康生活方式志愿队", NAMED) == "美德健康生活方式"
    assert match_team("巾帼志愿服务队", NAMED) is None
    assert match_team("青年突击队", NAMED) is None


def test_theory_talks_in_communities_and_villages():
    sites = sites_frame(
        [{"village_code": c} for c in ("C1", "C2", "R1", "R2", "X1")],
    )
    units = gpd.GeoDataFrame(
        {
            "level": "village",
            "code": ["C1", "C2", "R1", "R2", "X1"],
            "name": ["东门社区", "西门社区", "李家村", "王家村", "林场"],
            "town": "甲镇",
        },
        geometry=gpd.points_from_xy(range(5), range(5)),
        crs=UTM,
    )
    acts = ledger(
        {("S1", ""): 4, ("S2", ""): 3, ("S3", ""): 2, ("S4", ""): 1, ("S5", ""): 9}, "理论宣讲"
    )
    r = audit(sites, AuditInputs(activities=acts, year=2025), units=units)
    got = [status(r, f"S{k}", "theory_talks") for k in range(1, 6)]
    assert got == ["pass", "fail", "pass", "fail", "no_data"]  # 林场: neither 社区 nor 村
    stats = pd.DataFrame({"code": ["X1"], "kind": ["rural"]})
    r = audit(sites, AuditInputs(activities=acts, unit_stats=stats, year=2025), units=units)
    assert status(r, "S5", "theory_talks") == "pass"


@pytest.mark.parametrize(
    ("population", "projects", "expected"),
    [
        (499_999, 5, "pass"),
        (499_999, 4, "fail"),
        (500_000, 10, "pass"),
        (500_000, 9, "fail"),
    ],
)
def test_centre_brand_projects_switch_at_half_a_million(population, projects, expected):
    sites = sites_frame([{"tier": "centre"}, {"tier": "institute"}, {"tier": "institute"}, {}, {}])
    rows = [("centre", "S1")] * projects + [("institute", "S2")] * 3 + [("institute", "S3")] * 2
    rows += [("station", "S4")]
    table = pd.DataFrame(
        {
            "name": [f"项目{k}" for k in range(len(rows))],
            "level": [lv for lv, _ in rows],
            "site_id": [s for _, s in rows],
            "unit_code": "",
        }
    )
    r = audit(sites, AuditInputs(projects=table), population=population)
    assert status(r, "S1", "brand_projects") == expected
    assert [status(r, s, "brand_projects") for s in ("S2", "S3", "S4", "S5")] == [
        "pass", "fail", "pass", "fail",
    ]  # fmt: skip


def test_brand_projects_without_the_county_population_are_no_data_for_the_centre():
    sites = sites_frame([{"tier": "centre"}])
    table = pd.DataFrame({"name": ["a"] * 12, "level": "centre", "site_id": "S1", "unit_code": ""})
    table["name"] = [f"p{k}" for k in range(12)]
    r = audit(sites, AuditInputs(projects=table))
    assert status(r, "S1", "brand_projects") == "no_data"


@pytest.mark.parametrize(
    ("registered", "required"),
    [(1_000_000, 5), (1_000_001, 6), (1_200_000, 6), (2_000_000, 10), (200_000, 1), (0, 0)],
)
def test_city_projects_are_five_per_million_rounded_up(registered, required):
    assert city_projects_required(registered, AuditRules.from_toml()) == required


@pytest.mark.parametrize(
    ("volunteers", "with_hours", "expected"),
    [
        (150, 76, "pass"),  # exactly 15 %, 50.7 % with hours
        (149, 76, "fail"),  # one short of 15 %
        (150, 75, "fail"),  # exactly half with hours is not "more than half"
    ],
)
def test_volunteers_share_and_hours(volunteers, with_hours, expected):
    sites = sites_frame([{"village_code": "V1"}])
    units = gpd.GeoDataFrame(
        {"level": "village", "code": ["V1"], "name": ["李家村"], "town": "甲镇"},
        geometry=gpd.points_from_xy([0], [0]),
        crs=UTM,
    )
    stats = pd.DataFrame(
        {
            "code": ["V1"],
            "population": [1000.0],
            "volunteers": [float(volunteers)],
            "volunteers_with_hours": [float(with_hours)],
        }
    )
    r = audit(sites, AuditInputs(unit_stats=stats), units=units)
    assert status(r, "county", "volunteers") == expected
    r = audit(
        sites, AuditInputs(unit_stats=stats.assign(volunteers_with_hours=np.nan)), units=units
    )
    assert status(r, "county", "volunteers") == "no_data"


def test_five_haves_of_every_village():
    sites = sites_frame(
        [
            {"village_code": "V1"},
            {"village_code": "V2", "manager": ""},
            {"village_code": "V4"},
        ]
    )
    units = gpd.GeoDataFrame(
        {
            "level": "village",
            "code": ["V1", "V2", "V3", "V4"],
            "name": list("甲乙丙丁"),
            "town": "甲镇",
        },
        geometry=gpd.points_from_xy(range(4), range(4)),
        crs=UTM,
    )
    teams = teams_of({"S1": 1, "S2": 1, "S3": 1})
    acts = ledger({("S1", "队0"): 1, ("S2", "队0"): 1, ("S3", "队0"): 1})
    projects = pd.DataFrame(
        {"name": ["a", "b", "c"], "level": "station", "site_id": ["S1", "S2", ""],
         "unit_code": ["", "", "V4"]}
    )  # fmt: skip
    r = audit(
        sites, AuditInputs(teams=teams, activities=acts, projects=projects, year=2025), units=units
    )
    assert [status(r, v, "five_haves") for v in ("V1", "V2", "V3", "V4")] == [
        "pass", "fail", "fail", "pass",
    ]  # fmt: skip
    found = r.findings.set_index(["where_id", "rule"])["found"]
    assert found[("V2", "five_haves")] == "缺少：有机制"
    assert found[("V3", "five_haves")] == "缺少：有场所、有队伍、有活动、有项目、有机制"
    # Without the project list, a village that lacks nothing known is no data, not a pass.
    r = audit(sites, AuditInputs(teams=teams, activities=acts, year=2025), units=units)
    assert [status(r, v, "five_haves") for v in ("V1", "V2", "V3")] == ["no_data", "fail", "fail"]


def test_circle_share_at_its_threshold():
    sites = sites_frame([{}])
    by_unit = pd.DataFrame(
        {
            "level": ["town", "village", "village"],
            "code": ["T1", "V1", "V2"],
            "name": ["甲镇", "李家村", "王家村"],
            "town": "甲镇",
            "coverage": [0.9, 0.8999, np.nan],
        }
    )
    r = audit(sites, by_unit=by_unit, county_coverage=0.9)
    assert [status(r, c, "circle") for c in ("county", "T1", "V1", "V2")] == [
        "pass", "pass", "fail", "no_data",
    ]  # fmt: skip
    assert status(audit(sites), "county", "circle") == "no_data"


def test_a_venue_needs_a_service_point_within_200_m():
    sites = sites_frame([{"tier": "service_point", "x": 500_000, "y": 3_000_000}])
    venues = gpd.GeoDataFrame(
        {"id": ["V1", "V2"], "name": ["图书馆", "体育馆"], "kind": ["library", "stadium"]},
        geometry=gpd.points_from_xy([500_200, 500_000], [3_000_000, 3_000_201]),
        crs=UTM,
    )
    r = audit(sites, AuditInputs(venues=venues))
    assert status(r, "V1", "venue_points") == "pass"
    assert status(r, "V2", "venue_points") == "fail"
    assert status(audit(sites), "county", "venue_points") == "no_data"


def test_no_data_never_counts_as_a_pass():
    sites = sites_frame([{"rooms": None, "staff": None, "desk": None, "functions": None}] * 3)
    r = audit(sites.assign(id=["A", "B", "C"]))
    assert set(r.sites["verdict"]) == {"no_data"}
    assert (r.findings["status"] != "pass").all()
    for rule, row in r.summary["by_rule"].items():
        assert row["pass"] == 0, rule
    assert compliant_sites(sites.assign(id=["A", "B", "C"]), r).empty


def test_rules_file_changes_the_numbers(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('version = "test"\n[rooms]\nmin = 2\n', encoding="utf-8")
    rules = AuditRules.from_toml(path)
    r = audit(sites_frame([{"rooms": 2}]), rules=rules)
    assert status(r, "S1", "rooms") == "pass"
    assert rules.version == "test" and rules["rooms"]["section"] == "二.7"
    path.write_text("[roooms]\nmin = 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown rule"):
        AuditRules.from_toml(path)


# --- the sample county ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_audit(sample):  # noqa: F811
    region, coverage = sample
    return region, coverage, audit_region(region, coverage, files=AuditFiles.sample())


def test_the_sample_audit_finds_exactly_the_planted_failures(sample_audit):
    _, _, r = sample_audit
    f = r.findings
    found = f[(f["status"] != "pass") & (f["rule"] != "circle")]
    got = set(map(tuple, found[["level", "where_id", "rule", "status"]].to_numpy()))
    planted = pd.read_csv(SAMPLE / "audit_planted.csv", dtype=str)
    assert got == set(map(tuple, planted.to_numpy()))
    assert set(planted["rule"]) == set(r.summary["by_rule"]) - {"circle"}  # every rule planted


def test_the_sample_circle_follows_the_coverage_analysis(sample_audit):
    _, coverage, r = sample_audit
    res = coverage.residents
    for town, group in res.groupby("town"):
        share = (group["population"] * group["covered"]).sum() / group["population"].sum()
        code = str(group["town_code"].iloc[0])
        assert status(r, code, "circle") == ("pass" if share >= 0.9 else "fail"), town
    assert status(r, "青山乡" and "360699201000", "circle") == "fail"


def test_the_sample_ledgers_reject_exactly_the_planted_bad_rows(sample_audit):
    _, _, r = sample_audit
    reasons = r.rejected["reason"].tolist()
    assert len(reasons) == 5
    assert any("outside the audited year 2025" in x for x in reasons)
    assert any("unknown site id 'S9999'" in x for x in reasons)
    assert any("participants -5 is below 0" in x for x in reasons)
    assert any("'2025-13-01' is not a date" in x for x in reasons)
    assert any(x.startswith("duplicate of row") for x in reasons)
    assert set(r.rejected["file"]) == {str(SAMPLE / "activities.csv")}


def test_the_workbook_has_every_sheet_coloured_and_frozen(sample_audit, tmp_path):
    _, _, r = sample_audit
    spot = spot_check(r, 12, seed=7)
    paths = write_audit(r, tmp_path, spot=spot)
    book = load_workbook(paths["xlsx"])
    assert book.sheetnames == [
        AUDIT_SHEETS[k]
        for k in ("county", "town", "village", "site", "team", "projects", "issues", "spot_check")
    ]
    issues = book[AUDIT_SHEETS["issues"]]
    assert issues.freeze_panes == "A2"
    assert issues.max_row - 1 == r.summary["issues"]
    status_col = [c.value for c in issues[1]].index("结果") + 1
    cell = issues.cell(row=2, column=status_col)
    assert cell.value == "不达标" and cell.fill.start_color.rgb.endswith("D73027")
    towns = book[AUDIT_SHEETS["town"]]
    share_col = [c.value for c in towns[1]].index("注册志愿者占比") + 1
    assert towns.cell(row=2, column=share_col).number_format == "0.0%"
    assert paths["json"].exists() and paths["csv_issues"].exists()


def test_spot_checks_are_stratified_and_reproducible(sample_audit):
    _, _, r = sample_audit
    a, b = spot_check(r, 20, seed=1), spot_check(r, 20, seed=1)
    assert a.equals(b) and len(a) == 20 and a["id"].is_unique
    assert not a["id"].equals(spot_check(r, 20, seed=2)["id"])
    strata = r.sites.groupby(["tier", "town"]).size()
    drawn = a.groupby(["tier", "town"]).size()
    expected = strata / strata.sum() * 20
    assert ((drawn - expected.reindex(drawn.index)).abs() < 1).all()
    assert a["reason"].str.contains("种子 1").all()
    with pytest.raises(InputError):
        spot_check(r, 0)


def test_compliant_only_keeps_passing_sites_and_unaudited_tiers(sample_audit):
    region, _, r = sample_audit
    kept = compliant_sites(region.sites, r)
    verdict = r.site_verdict()
    audited = kept[kept["tier"].isin(["centre", "institute", "station"])]
    assert (audited["id"].map(verdict) == "pass").all()
    assert len(audited) == int((verdict == "pass").sum())
    assert (kept["tier"] == "service_point").sum() == (
        region.sites["tier"] == "service_point"
    ).sum()


# --- bad ledgers ----------------------------------------------------------------------------


def test_a_bad_activity_ledger_reports_every_bad_row(write_table):
    header = ["日期", "站点编号", "队伍", "活动类型", "活动名称", "参与人数"]
    rows = [
        ["2025-03-01", "S1", "甲队", "理论宣讲", "a", "30"],
        ["2025/3/2", "S1", "甲队", "宣讲", "b", "30"],
        ["2025年3月3日", "S1", "甲队", "文化活动", "c", "30"],
        ["2024-12-31", "S1", "甲队", "文化活动", "d", "30"],
        ["3月4日", "S1", "甲队", "文化活动", "e", "30"],
        ["2025-03-05", "S404", "甲队", "文化活动", "f", "30"],
        ["2025-03-06", "S1", "甲队", "文化活动", "g", "-3"],
        ["2025-03-01", "S1", "甲队", "理论宣讲", "a", "30"],
    ]
    path = write_table("台账.csv", header, rows, encoding="gbk")
    acts, rejected, year = read_activities(path, site_ids=pd.Series(["S1"]))
    assert year == 2025
    assert acts["title"].tolist() == ["a", "b", "c"]
    assert acts["type"].tolist() == ["theory", "theory", "culture"]
    reasons = dict(zip(rejected["row"], rejected["reason"], strict=True))
    assert reasons.keys() == {5, 6, 7, 8, 9}
    assert "outside the audited year 2025" in reasons[5]
    assert "'3月4日' is not a date" in reasons[6]
    assert "unknown site id 'S404'" in reasons[7]
    assert "participants -3 is below 0" in reasons[8]
    assert reasons[9].startswith("duplicate of row 2")
    acts, rejected, _ = read_activities(path, year=2024, site_ids=pd.Series(["S1"]))
    assert acts["title"].tolist() == ["d"]


def test_a_ledger_without_any_valid_date_is_one_clear_error(write_table):
    path = write_table("a.csv", ["date", "site_id"], [["soon", "S1"], ["later", "S1"]])
    with pytest.raises(InputError, match=r"a\.csv: no row of the activity ledger has a valid date"):
        read_activities(path)


def test_a_workbook_with_several_filled_sheets_is_refused_and_one_sheet_is_read(tmp_path):
    book = Workbook()
    first = book.active
    first.title = "1月"
    first.append(["site_id", "team"])
    first.append(["S1", "甲队"])
    second = book.create_sheet("2月")
    second.append(["site_id", "team"])
    second.append(["S1", "乙队"])
    path = tmp_path / "teams.xlsx"
    book.save(path)
    with pytest.raises(InputError, match=r"has 2 sheets with data \(1月, 2月\)") as err:
        read_teams(path)
    assert "\n" not in str(err.value)
    book.remove(second)
    book.create_sheet("说明")  # an empty sheet does not count
    book.save(path)
    teams, rejected = read_teams(path)
    assert teams["team"].tolist() == ["甲队"] and rejected.empty


def test_unit_figures_reject_impossible_rows(write_table):
    path = write_table(
        "units.csv",
        ["代码", "常住人口", "注册志愿者", "有服务时长志愿者", "城乡类型"],
        [["V1", "1000", "150", "80", "社区"], ["V2", "800", "100", "120", "村"],
         ["V3", "-1", "", "", "村"], ["V4", "500", "50", "20", "海岛"]],
    )  # fmt: skip
    stats, rejected = read_unit_stats(path)
    assert stats["code"].tolist() == ["V1"] and stats["kind"].tolist() == ["community"]
    reasons = dict(zip(rejected["row"], rejected["reason"], strict=True))
    assert "more than volunteers" in reasons[3]
    assert "below 0" in reasons[4]
    assert "neither community" in reasons[5]


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "planner", "audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_servicecircle_audit_with_no_arguments_prints_the_headline(tmp_path):
    done = _run_cli(cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "106 sites audited" in out
    assert "villages meeting the five haves: 93 of 125" in out
    for rule in ("rooms", "five_haves", "venue_points", "volunteers"):
        assert f"  {rule} " in out
    assert (tmp_path / "output" / "audit" / "audit.xlsx").exists()
    assert (tmp_path / "output" / "audit" / "map.html").exists()


def test_the_cli_shows_a_bad_ledger_as_one_error_line(tmp_path):
    book = Workbook()
    book.active.append(["site_id", "team"])
    book.active.append(["S0001", "甲队"])
    other = book.create_sheet("Sheet2")
    other.append(["site_id", "team"])
    other.append(["S0002", "乙队"])
    book.save(tmp_path / "teams.xlsx")
    done = _run_cli("--teams", str(tmp_path / "teams.xlsx"), "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "sheets with data" in lines[0]
    assert "Traceback" not in done.stderr


def test_map_popups_escape_every_user_string():
    import folium

    from planner.audit_map import compliance_layer

    sites = sites_frame([{"name": "<script>alert(1)</script>站", "rooms": 1}])
    sites = sites.to_crs(4326).to_crs(UTM)
    layer = compliance_layer(audit(sites), sites)
    m = folium.Map()
    layer.add_to(m)
    page = m.get_root().render()
    assert "<script>alert(1)" not in page
    (geo,) = [c for c in layer._children.values() if isinstance(c, folium.GeoJson)]
    popup = geo.data["features"][0]["properties"]["popup"]
    assert "<b>&lt;script&gt;alert(1)&lt;/script&gt;站</b>" in popup
    assert "功能室数量" in popup  # the failed rule is in the popup


def test_venues_come_from_osm_tags(tmp_path):
    from planner.ledgers import read_venues

    osm = tmp_path / "venues.osm"
    osm.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="28.26" lon="117.24" version="1"><tag k="amenity" v="library"/><tag k="name" v="县图书馆"/></node>
  <node id="2" lat="28.27" lon="117.25" version="1"><tag k="tourism" v="museum"/><tag k="name" v="县博物馆"/></node>
  <node id="3" lat="28.28" lon="117.26" version="1"><tag k="leisure" v="sports_centre"/></node>
  <node id="4" lat="28.29" lon="117.27" version="1"><tag k="amenity" v="arts_centre"/></node>
  <node id="5" lat="28.30" lon="117.28" version="1"><tag k="amenity" v="school"/></node>
</osm>
""",
        encoding="utf-8",
    )
    venues, rejected = read_venues(osm)
    kinds = dict(zip(venues["id"], venues["kind"], strict=True))
    assert kinds == {
        "osm:node/1": "library",
        "osm:node/2": "museum",
        "osm:node/3": "stadium",
        "osm:node/4": "cultural_centre",
    }
    assert rejected.empty


def test_the_city_needs_five_projects_per_million_registered_people():
    from planner.audit import city_findings

    county = audit(sites_frame([{}]), region_name="甲县")
    ok = city_findings([county], registered_population=1_000_001, city_projects=6, name="某市")
    assert ok.iloc[0]["status"] == "pass" and ok.iloc[0]["required"].startswith(">= 6 个")
    short = city_findings([county], registered_population=1_000_001, city_projects=5)
    assert short.iloc[0]["status"] == "fail"
    assert set(short["level"]) == {"city", "county"}


def test_sites_with_chinese_headers_are_audited(write_table):
    from planner.inputs import read_sites

    path = write_table(
        "站点.csv",
        [
            "编号",
            "名称",
            "层级",
            "经度",
            "纬度",
            "功能室",
            "专职人员",
            "功能",
            "志愿服务站",
            "开放时间",
            "负责人",
        ],
        [
            [
                "S1",
                "李家村站",
                "站",
                "117.2",
                "28.2",
                "3",
                "1",
                "宣讲、教育、文化、健身、科普",
                "有",
                "9-17",
                "王",
            ]
        ],
    )
    sites, rejected = read_sites(path)
    r = audit(sites.to_crs(UTM))
    assert rejected.empty
    for rule in ("rooms", "staff", "functions", "desk"):
        assert status(r, "S1", rule) == "pass", rule


def test_compliant_only_analysis_counts_only_passing_sites(sample_audit):
    from planner.coverage import analyze

    region, coverage, r = sample_audit
    kept = compliant_sites(region.sites, r)
    real = analyze(region.with_sites(kept), service_areas=False)
    assert real.summary["sites_total"] == len(kept) < len(region.sites)
    covered_now = real.residents.set_index("id")["covered"]
    covered_all = coverage.residents.set_index("id")["covered"]
    assert not (covered_now & ~covered_all).any()  # fewer sites never cover anyone new
    assert real.summary["coverage"] < coverage.summary["coverage"]
    assert set(real.residents["nearest_site"].dropna()) <= set(kept["id"])


def test_compliant_only_reports_every_site_it_leaves_out(sample_audit):
    from planner.audit import compliant_region
    from planner.coverage import analyze

    region, _, r = sample_audit
    kept = compliant_region(region, r)
    added = kept.rejected.iloc[len(region.rejected) :]
    assert len(kept.sites) + len(added) == len(region.sites)  # nothing lost
    assert set(added["id"]) == set(region.sites["id"]) - set(kept.sites["id"])
    failing = r.sites.set_index("id")["verdict"].eq("fail")
    for row in added.itertuples():
        assert "--compliant-only" in row.reason
        if failing.get(row.id, False):
            assert "fails the standards audit (" in row.reason
    s = analyze(kept, service_areas=False).summary
    assert s["sites_used"] + s["sites_rejected"] == len(region.sites)


def test_excel_dates_and_a_year_without_activities(write_table):
    from planner.ledgers import parse_dates

    got = parse_dates(pd.Series(["45731", "2025-03-15 00:00:00", "20250315", "2025.3.15", "x"]))
    assert got.iloc[:4].tolist() == [pd.Timestamp("2025-03-15")] * 4 and pd.isna(got.iloc[4])
    path = write_table("a.csv", ["date", "site_id"], [["2025-03-01", "S1"], ["2024-05-01", "S1"]])
    with pytest.raises(
        InputError,
        match=r"has no rows in 2023; it has 2024 \(1 row\), 2025 \(1 row\): give --year 2025",
    ):
        read_activities(path, year=2023)


def test_the_compliance_map_lists_its_layer_after_the_layer_exists(sample_audit):
    # The layer list's script names every layer; one named before it is defined breaks the
    # page (no list, no compliance colours), as the audit map once did.
    import re

    from planner.audit_map import compliance_map

    region, coverage, result = sample_audit
    page = compliance_map(coverage, result, sites=region.sites, units=region.units)
    html = page.get_root().render()
    control = html.index("_layers = {")  # the layer list's names, just before L.control.layers
    block = html[control : html.index("L.control.layers(", control)]
    named = set(re.findall(r"\b((?:feature_group|tile_layer|geo_json)_[0-9a-f]{32})\b", block))
    assert named, "the layer list names no layer"
    for name in named:
        assert html.index(f"var {name} =") < control, name


def test_a_year_with_almost_no_activities_is_refused_naming_the_busy_years(write_table):
    days = pd.date_range("2024-01-01", periods=60, freq="5D").strftime("%Y-%m-%d")
    rows = [[d, "S1"] for d in days] + [["2025-01-02", "S1"]]
    path = write_table("a.csv", ["date", "site_id"], rows)
    want = r"has only 1 row in 2025; it has 2024 \(60 rows\): give --year 2024"
    with pytest.raises(InputError, match=want):
        read_activities(path, year=2025)
    with pytest.raises(InputError, match=want):
        read_activities(path)  # the latest year by default: the same stray row
    acts, rejected, year = read_activities(path, year=2024)
    assert (year, len(acts), len(rejected)) == (2024, 60, 1)


def test_audit_of_a_year_missing_from_the_sample_ledger_is_one_error_line(tmp_path):
    from typer.testing import CliRunner

    from planner.cli import app

    done = CliRunner().invoke(app, ["audit", "--year", "2024", "--out", str(tmp_path / "a")])
    assert done.exit_code == 2, done.output
    errors = [line for line in done.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in done.output
    assert "only 1 row in 2024; it has 2025 (23,326 rows): give --year 2025" in errors[0]
    assert not (tmp_path / "a").exists()


def test_no_theory_talks_fail_even_where_the_unit_kind_is_unknown():
    sites = sites_frame([{"village_code": c} for c in ("X1", "X2", "X3")])
    units = gpd.GeoDataFrame(
        {"level": "village", "code": ["X1", "X2", "X3"], "name": "林场", "town": "甲镇"},
        geometry=gpd.points_from_xy(range(3), range(3)),
        crs=UTM,
    )
    acts = pd.concat(
        [ledger({("S1", ""): 6}), ledger({("S2", ""): 1, ("S3", ""): 3}, "理论宣讲")],
        ignore_index=True,
    )
    r = audit(sites, AuditInputs(activities=acts, year=2025), units=units)
    assert status(r, "S1", "activities") == status(r, "S1", "theory_talks") == "fail"
    f = r.findings.set_index(["where_id", "rule"])
    assert f.loc[("S1", "theory_talks"), "found"] == "0 次"
    assert status(r, "S2", "theory_talks") == "fail"  # 1 < 2, the fewest any kind needs
    assert status(r, "S3", "theory_talks") == "no_data"  # 3: enough in a village, not a 社区
    # without the ledger it stays no data
    r = audit(sites, AuditInputs(year=2025), units=units)
    assert status(r, "S1", "theory_talks") == "no_data"


def test_a_roster_cell_reading_none_or_nan_is_a_missing_team(write_table):
    """Text read as pandas 3's ``str`` columns is cleaned like any other: the cells that
    spreadsheets and exports write for nothing (``None``, ``nan``, spaces) are missing."""
    path = write_table(
        "队伍.csv",
        ["站点编号", "队伍名称", "队员人数"],
        [["S1", "甲队", "20"], ["S1", "None", "12"], ["S1", "nan", "12"], ["S1", "  ", "12"]],
    )
    teams, rejected = read_teams(path, site_ids=pd.Series(["S1"]))
    assert teams["team"].tolist() == ["甲队"]
    assert sorted(rejected["row"]) == [3, 4, 5]
    assert set(rejected["reason"]) == {"missing team name"}
