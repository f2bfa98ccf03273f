"""Hostile and careless use: names never run as script, outputs are complete or absent, every
bad input is one clear line, the API bounds the work one request can ask for."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pandas as pd
import pytest
from api_harness import LocalServer
from conftest import SAMPLE, TOWN_NODES_M, TOWN_WAYS, lonlat, osm_xml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_map_browser import CHROMIUM, FLAGS
from typer.testing import CliRunner

from planner.cli import app
from planner.coverage import analyze
from planner.errors import InputError
from planner.inputs import read_residents, read_sites
from planner.maps import coverage_map, esc
from planner.region import Region
from planner.report import neutralise, output_folder, write_csv, write_xlsx
from planner.siting import suggest

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "hardening-key-0123"

# Names that run as script when a page inserts them as HTML.
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">"
SVG = "<svg onload=\"document.body.setAttribute('data-pwned','svg')\"></svg>"
SCRIPT = "<script>document.body.setAttribute('data-pwned','script')</script>"
QUOTE = "\" onmouseover=\"document.body.setAttribute('data-pwned','attr')\" x=\""
HOSTILE = [IMG, SVG, SCRIPT, QUOTE]
# Names a spreadsheet would run as formulas.
FORMULAS = ['=HYPERLINK("http://evil.example","点我")', "=1+1", "+1+1", "-2+3", "@SUM(A1)"]

runner = CliRunner()


def cli(*args: str) -> Any:
    """Run the command in-process (real typer app); return the result."""
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_error_line(result: Any, *words: str) -> str:
    """Exit 2 with exactly one ``error:`` line naming ``words`` and no traceback."""
    text = result.output
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, text
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


# --- a small town with hostile names ----------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 1 x 1 km town whose sites, villages and towns are named to attack their readers."""
    d = tmp_path_factory.mktemp("hostile-town")
    nodes = {nid: lonlat(*xy) for nid, xy in TOWN_NODES_M.items()}
    (d / "town.osm").write_text(osm_xml(nodes, TOWN_WAYS), encoding="utf-8")
    sites = [
        ["S1", IMG, "station", *lonlat(0, 0)],
        ["S2", SVG, "institute", *lonlat(1000, 1000)],
        ["S3", FORMULAS[0], "station", *lonlat(500, 500)],
    ]
    _write_csv(d / "sites.csv", ["id", "name", "tier", "lon", "lat"], sites)
    residents = [
        [f"R{i}", 100 + i, SCRIPT, FORMULAS[i % len(FORMULAS)], *lonlat(x, y)]
        for i, (x, y) in enumerate(
            [(100, 0), (400, 500), (900, 1000), (1400, 0), (1450, 100), (1400, 50), (250, 1000)]
        )
    ]
    _write_csv(
        d / "residents.csv", ["id", "population", "town", "village", "lon", "lat"], residents
    )
    candidates = [
        ["C1", QUOTE, "idle_school", 4, *lonlat(1000, 0)],
        ["C2", IMG, "idle_house", 3, *lonlat(1000, 500)],
    ]
    _write_csv(d / "candidates.csv", ["id", "name", "kind", "rooms", "lon", "lat"], candidates)
    return {
        "network": d / "town.osm",
        "sites": d / "sites.csv",
        "residents": d / "residents.csv",
        "candidates": d / "candidates.csv",
        "dir": d,
    }


def town_flags(town: dict[str, Path]) -> list[str]:
    return [
        "--network", str(town["network"]), "--sites", str(town["sites"]),
        "--residents", str(town["residents"]), "--cache-dir", str(town["dir"] / "cache"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def town_run(town: dict[str, Path]) -> Path:
    """``analyze`` of the hostile town through the command line."""
    out = town["dir"] / "out"
    result = cli("analyze", *town_flags(town), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def town_suggest(town: dict[str, Path]) -> Path:
    out = town["dir"] / "suggest"
    result = cli(
        "suggest", *town_flags(town), "--candidates", str(town["candidates"]),
        "--k", "2", "--min-rooms", "0", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


# --- 1. names never run as script -----------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_esc_turns_every_hostile_name_into_text(name: str) -> None:
    escaped = esc(name)
    assert "<" not in escaped and ">" not in escaped and '"' not in escaped
    assert html.unescape(escaped) == name
    assert esc(3) == 3 and esc(None) is None and esc(2.5) == 2.5


@pytest.mark.parametrize("which", ["analyze", "suggest"])
def test_hostile_names_are_escaped_in_every_map_file(
    which: str, town_run: Path, town_suggest: Path
) -> None:
    page = ((town_run if which == "analyze" else town_suggest) / "map.html").read_text("utf-8")
    for name in HOSTILE:
        assert name not in page  # never raw
    shown = [IMG, SVG, QUOTE] if which == "suggest" else [IMG, SVG]
    for name in shown:  # escaped, inside the page's JSON (where "&" is written \u0026)
        assert json.dumps(esc(name))[1:-1].replace("&", "\\u0026") in page


PROBE = """
<script>
window.addEventListener('load', function () { setTimeout(function () {
  var seen = [];
  function look() {
    document.querySelectorAll('.leaflet-tooltip, .leaflet-popup-content, .sc-title, .sc-legend')
      .forEach(function (el) { seen.push(el.textContent); });
  }
  for (var k in window) {
    var o; try { o = window[k]; } catch (e) { continue; }
    if (!o || !(o instanceof L.FeatureGroup) || !o.eachLayer) continue;
    o.eachLayer(function (l) {
      var at = l.getLatLng ? l.getLatLng() : (l.getBounds ? l.getBounds().getCenter() : null);
      if (!at) return;
      l.fire('mouseover', {latlng: at}, true); look();
      l.fire('click', {latlng: at}, true); look();
    });
  }
  look();
  document.body.setAttribute('data-seen', JSON.stringify(seen));
}, 300); });
</script>
"""


def probe_page(page: Path, tmp: Path) -> tuple[str, str]:
    """Open every tooltip and popup of a page in headless Chromium; return (DOM, texts)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    probed = tmp / f"probed-{page.parent.name}-{page.name}"
    probed.write_text(page.read_text("utf-8").replace("</body>", PROBE + "</body>"), "utf-8")
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--dump-dom", probed.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    seen = re.search(r'data-seen="([^"]*)"', dom)
    assert seen, "the probe did not run"
    return dom, "\n".join(json.loads(html.unescape(seen.group(1))))


@pytest.mark.slow
def test_the_probe_catches_a_name_inserted_as_html(tmp_path: Path) -> None:
    # The control: the same browser and probe do see a payload that a page inserts unescaped.
    page = tmp_path / "control.html"
    page.write_text(
        "<html><body><div id=t></div><script>var L = {FeatureGroup: function () {}};"
        f"document.getElementById('t').innerHTML = {json.dumps(IMG)};</script></body></html>",
        "utf-8",
    )
    dom, _ = probe_page(page, tmp_path)
    assert 'data-pwned="img"' in dom


@pytest.mark.slow
@pytest.mark.parametrize("which", ["analyze", "suggest"])
def test_no_hostile_name_runs_in_chromium(
    which: str, town_run: Path, town_suggest: Path, tmp_path: Path
) -> None:
    out = town_run if which == "analyze" else town_suggest
    dom, seen = probe_page(out / "map.html", tmp_path)
    assert 'data-pwned="' not in dom  # (the names themselves mention it, as text)
    # Tooltips and popups were opened and show the names as text.
    assert IMG in seen and SVG in seen
    if which == "suggest":
        assert QUOTE in seen  # a candidate's popup


def test_titles_and_notes_are_escaped_too(town_run: Path) -> None:
    region = Region.from_files(
        network=town_run.parent / "town.osm",
        sites=town_run.parent / "sites.csv",
        residents=town_run.parent / "residents.csv",
        cache_dir=town_run.parent / "cache",
    )
    cov = analyze(region)
    page = (
        coverage_map(cov, sites=region.sites, title=IMG, note=SVG, town=SCRIPT).get_root().render()
    )
    assert IMG not in page and SVG not in page and SCRIPT not in page
    boxes = [json.loads(m) for m in re.findall(r"div.innerHTML = (\".*?\");", page)]
    assert any(esc(IMG) in box and esc(SVG) in box and esc(SCRIPT) in box for box in boxes)


# --- 2. outputs complete or absent ----------------------------------------------------------


def digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def run_cli(*args: str, cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SERVICECIRCLE_CACHE": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "planner", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run started in the background (`make test &`) ignores SIGINT, and children
        # inherit that: give the command the disposition a user's terminal gives it.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_at(args: list[str], cache: Path, stage: str | None, sig: int) -> tuple[int, str]:
    """Start a run, wait for ``stage`` in its log (None: at once), send ``sig``."""
    proc = run_cli(*args, cache=cache)
    log = []
    if stage is not None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            if stage in line:
                break
    proc.send_signal(sig)
    _, rest = proc.communicate(timeout=60)
    return proc.returncode, "".join(log) + rest


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One complete ``analyze`` of the sample into a folder, and the hashes of its files."""
    d = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.getbasetemp() / "servicecircle-cache"
    out = d / "out"
    proc = run_cli("analyze", "--out", str(out), cache=cache)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return {"out": out, "cache": cache, "hashes": digest(out), "dir": d}


def test_a_second_run_gives_byte_identical_outputs(baseline: dict[str, Any]) -> None:
    again = baseline["dir"] / "again"
    proc = run_cli("analyze", "--out", str(again), cache=baseline["cache"])
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    first, second = baseline["hashes"], digest(again)
    assert set(first) == set(second) >= {"map.html", "coverage_by_unit.xlsx", "summary.json"}
    differ = {name for name in first if first[name] != second[name]}
    assert differ <= {"summary.json"}
    # ... and summary.json differs only in the documented time stamp.
    a = json.loads((baseline["out"] / "summary.json").read_text("utf-8"))
    b = json.loads((again / "summary.json").read_text("utf-8"))
    a["run"].pop("created"), b["run"].pop("created")
    assert a == b


def test_summary_traces_the_run(baseline: dict[str, Any]) -> None:
    run = json.loads((baseline["out"] / "summary.json").read_text("utf-8"))["run"]
    assert run["command"] == "analyze" and run["version"]
    sites = SAMPLE / "sites.csv"
    assert run["inputs"]["sites"]["sha256"] == hashlib.sha256(sites.read_bytes()).hexdigest()
    assert run["inputs"]["network"]["bytes"] == (SAMPLE / "county.osm").stat().st_size
    # the content's digest taken once, when the network was loaded (not its cache key)
    osm = hashlib.sha256((SAMPLE / "county.osm").read_bytes()).hexdigest()
    assert run["inputs"]["network"]["sha256"] == osm
    assert "max_snap_m" in run["options"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "sig"),
    [
        ("writing outputs", signal.SIGINT),
        ("travel times", signal.SIGINT),
        ("writing outputs", signal.SIGKILL),
        ("gap areas", signal.SIGKILL),
    ],
    ids=["sigint-writing", "sigint-early", "sigkill-writing", "sigkill-middle"],
)
def test_an_interrupted_rerun_leaves_the_previous_outputs_untouched(
    baseline: dict[str, Any], stage: str, sig: int
) -> None:
    out = baseline["out"]
    code, log = interrupt_at(["analyze", "--out", str(out)], baseline["cache"], stage, sig)
    assert code != 0
    assert digest(out) == baseline["hashes"]  # every previous file, unchanged
    if sig == signal.SIGINT:
        assert "interrupted" in log and "Traceback" not in log
        assert code == 130
        assert leftovers(out) == []
    else:  # SIGKILL cannot be caught: the next run into the folder removes what is left
        with pytest.raises(RuntimeError), output_folder(out):
            raise RuntimeError
        assert leftovers(out) == []
        assert digest(out) == baseline["hashes"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_first_run_leaves_no_folder(baseline: dict[str, Any], sig: int) -> None:
    out = baseline["dir"] / f"fresh-{sig}"
    interrupt_at(["analyze", "--out", str(out)], baseline["cache"], "writing outputs", sig)
    assert not out.exists()


def test_a_folder_caught_between_the_two_renames_is_restored(tmp_path: Path) -> None:
    out = tmp_path / "out"
    previous = tmp_path / ".out.previous-abc" / "out"
    previous.mkdir(parents=True)
    (previous / "summary.json").write_text("{}", "utf-8")
    with pytest.raises(KeyboardInterrupt), output_folder(out) as tmp:
        (tmp / "summary.json").write_text("partial", "utf-8")
        raise KeyboardInterrupt
    assert (out / "summary.json").read_text("utf-8") == "{}"
    assert leftovers(out) == []


def test_files_being_carried_over_when_killed_are_put_back(tmp_path: Path) -> None:
    # Killed while moving the user's own files into the new folder: the next run puts them
    # back before removing the partial folder.
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}", "utf-8")
    partial = tmp_path / ".out.partial-xyz"
    (partial / "suggest").mkdir(parents=True)
    (partial / "suggest" / "map.html").write_text("suggest map", "utf-8")
    (partial / "summary.json").write_text("new", "utf-8")
    (partial / ".carried-over").write_text("suggest\n", "utf-8")
    with pytest.raises(RuntimeError), output_folder(out):
        raise RuntimeError
    assert (out / "suggest" / "map.html").read_text("utf-8") == "suggest map"
    assert (out / "summary.json").read_text("utf-8") == "{}"
    assert leftovers(out) == []


def test_other_files_in_the_folder_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "output"
    (out / "suggest").mkdir(parents=True)
    (out / "suggest" / "map.html").write_text("suggest map", "utf-8")
    (out / "notes.txt").write_text("mine", "utf-8")
    (out / "map.html").write_text("old map", "utf-8")
    (out / "rejected.csv").write_text("old", "utf-8")
    with output_folder(out, owns=["map.html", "rejected.csv"]) as tmp:
        (tmp / "map.html").write_text("new map", "utf-8")
    assert (out / "map.html").read_text("utf-8") == "new map"
    assert not (out / "rejected.csv").exists()  # a stale output of this command
    assert (out / "suggest" / "map.html").read_text("utf-8") == "suggest map"
    assert (out / "notes.txt").read_text("utf-8") == "mine"


# --- 3. a bad --out fails at once, in one line ------------------------------------------------


def test_out_that_is_a_file(town: dict[str, Path]) -> None:
    target = town["dir"] / "a-file.txt"
    target.write_text("x", "utf-8")
    one_error_line(cli("analyze", *town_flags(town), "--out", str(target)), "is a file")


def test_out_under_a_file(town: dict[str, Path]) -> None:
    target = town["dir"] / "another-file.txt"
    target.write_text("x", "utf-8")
    result = cli("analyze", *town_flags(town), "--out", str(target / "sub" / "out"))
    one_error_line(result, "is a file")


def test_out_on_a_read_only_file_system(town: dict[str, Path]) -> None:
    # /proc cannot hold folders, even for root (for whom chmod 555 means nothing).
    one_error_line(cli("analyze", *town_flags(town), "--out", "/proc/servicecircle/out"), "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder(town: dict[str, Path], tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        one_error_line(cli("analyze", *town_flags(town), "--out", str(locked / "out")), "--out")
    finally:
        locked.chmod(0o755)


def test_suggest_checks_out_before_solving(town: dict[str, Path]) -> None:
    target = town["dir"] / "suggest-file.txt"
    target.write_text("x", "utf-8")
    result = cli("suggest", *town_flags(town), "--candidates", str(town["candidates"]),
                 "--out", str(target))  # fmt: skip
    one_error_line(result, "is a file")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_time_limit_is_checked_as_the_api_checks_it(value: str, town: dict[str, Path]) -> None:
    result = cli("suggest", *town_flags(town), "--time-limit", value, "--out", "/tmp/x")
    one_error_line(result, "time limit must be a positive number of seconds")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["suggest", "--k", "abc"], ["--k"]),
        (["analyze", "--no-such-flag"], ["--no-such-flag"]),
        (["analyze", "--out"], ["--out"]),
    ],
    ids=["bad-value", "unknown-flag", "missing-value"],
)
def test_a_wrong_flag_is_one_line_too(args: list[str], words: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "planner", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    for word in words:
        assert word in lines[0]


# --- 4. serve: every config error is one line -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[regions]]\nid = "bad id!"\nsample = true\n', ["id"]),
        ("[[regions]]\nsample = true\n[security]\napi_key = \"short\"\n", ["api_key"]),
        ("this is = not [ toml", ["not a valid TOML file"]),
        ('[[regions]]\nsample = "yes please"\n[limits]\nmax_k = "many"\n', ["max_k"]),
        ("[[regions]]\nsample = true\n[surprise]\nx = 1\n", ["surprise"]),
        ('[[regions]]\nnetwork = "sites.csv"\nsites = "sites.csv"\nresidents = "sites.csv"\n',
         ["road network"]),
    ],
    ids=["bad-id", "short-key", "not-toml", "wrong-types", "unknown-table", "not-a-network"],
)  # fmt: skip
def test_serve_config_errors(text: str, words: list[str], tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text("id,name\n1,a\n", "utf-8")
    config = tmp_path / "regions.toml"
    config.write_text(text, "utf-8")
    one_error_line(cli("serve", "--config", str(config), "--port", "1"), *words)


def test_serve_refuses_several_workers() -> None:
    one_error_line(cli("serve", "--workers", "2"), "--workers 2")


def test_serve_missing_config(tmp_path: Path) -> None:
    one_error_line(cli("serve", "--config", str(tmp_path / "nope.toml")), "not found")


# --- 5. rows never silently dropped; spreadsheet formulas stay text -------------------------


@pytest.fixture(scope="module")
def two_sheets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's 125 sites split over two sheets (60 + 65), plus a sheet of notes."""
    sites = pd.read_csv(SAMPLE / "sites.csv", dtype=str)
    path = tmp_path_factory.mktemp("xlsx") / "sites.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        sites.iloc[:60].to_excel(xl, sheet_name="城区", index=False)
        sites.iloc[60:].to_excel(xl, sheet_name="乡镇", index=False)
        pd.DataFrame({"说明": ["内部备注"]}).to_excel(xl, sheet_name="备注", index=False)
    return path


def test_every_sheet_with_the_columns_is_read(
    two_sheets: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sites, rejected = read_sites(two_sheets)
    assert len(sites) == 125 and len(rejected) == 0
    assert sites["sheet"].value_counts().to_dict() == {"城区": 60, "乡镇": 65}
    assert "城区" in caplog.text and "乡镇" in caplog.text  # which sheets were read
    assert "备注" in caplog.text  # the sheet with data but other columns is named


def test_one_sheet_when_asked(two_sheets: Path) -> None:
    sites, _ = read_sites(two_sheets, sheet="乡镇")
    assert len(sites) == 65
    with pytest.raises(InputError, match="no sheet '山区'"):
        read_sites(two_sheets, sheet="山区")


@pytest.mark.parametrize("name", FORMULAS)
def test_csv_cells_that_would_be_formulas_are_neutralised(name: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv(pd.DataFrame({"village": [name, "安全村"], "population": [-5, 3]}), path)
    rows = list(csv.reader(path.read_text("utf-8-sig").splitlines()))
    assert rows[1][0] == "'" + name and rows[2][0] == "安全村"
    assert rows[1][1] == "-5"  # numbers stay numbers


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(-5, 5),
            st.floats(allow_nan=True),
            st.sampled_from([*FORMULAS, "安全村", "", "a=b", "'=x"]),
            st.text(max_size=4),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_neutralise_judges_each_cell_as_a_cell_by_cell_rule_would(cells: list[Any]) -> None:
    """Values are judged once per distinct value: the same cells change as one by one."""
    frame = pd.DataFrame({"c": pd.Series(cells, dtype=object), "n": range(len(cells))})
    got = neutralise(frame)["c"].tolist()
    starts = ("=", "+", "-", "@", "\t", "\r")
    want = [f"'{v}" if isinstance(v, str) and v.startswith(starts) else v for v in cells]
    assert [repr(v) for v in got] == [repr(v) for v in want]


def test_xlsx_cells_are_text_never_formulas(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_xlsx({"村": pd.DataFrame({"village": FORMULAS, "n": range(len(FORMULAS))})}, path)
    sheet = openpyxl.load_workbook(path).active
    cells = [sheet.cell(row=i + 2, column=1) for i in range(len(FORMULAS))]
    assert [c.value for c in cells] == FORMULAS
    assert {c.data_type for c in cells} == {"s"}


def test_analyze_outputs_carry_no_live_formula(town_run: Path) -> None:
    book = openpyxl.load_workbook(town_run / "coverage_by_unit.xlsx")
    kinds = {c.data_type for ws in book.worksheets for row in ws.iter_rows() for c in row}
    assert "f" not in kinds
    values = {c.value for ws in book.worksheets for row in ws.iter_rows() for c in row}
    assert "=1+1" in values  # kept as the village's name
    for name in ("residents.csv", "coverage_by_unit.csv"):
        text = (town_run / name).read_text("utf-8-sig")
        for row in csv.reader(text.splitlines()):
            for cell in row:
                assert not cell.startswith(("=", "+", "@")), (name, cell)


# --- 6. whole layers that cannot be right --------------------------------------------------


def test_degrees_declared_as_metres_stop_with_the_cause(town: dict[str, Path]) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"id": f"S{i}", "name": "站", "tier": "station"},
            "geometry": {"type": "Point", "coordinates": list(lonlat(500 * i, 0))},
        }
        for i in range(3)
    ]
    path = town["dir"] / "sites_3857.geojson"
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    collection = {"type": "FeatureCollection", "crs": crs, "features": features}
    path.write_text(json.dumps(collection), "utf-8")
    flags = [f for f in town_flags(town)]
    flags[flags.index("--sites") + 1] = str(path)
    one_error_line(cli("analyze", *flags, "--out", str(town["dir"] / "o3857")), "EPSG:3857")


def test_swapped_axes_stop_with_the_cause(town: dict[str, Path]) -> None:
    rows = [[f"S{i}", "站", "station", lonlat(500 * i, 0)[1], lonlat(500 * i, 0)[0]]
            for i in range(3)]  # fmt: skip
    path = _write_csv(town["dir"] / "swapped.csv", ["id", "name", "tier", "lon", "lat"], rows)
    flags = town_flags(town)
    flags[flags.index("--sites") + 1] = str(path)
    one_error_line(cli("analyze", *flags, "--out", str(town["dir"] / "oswap")), "swapped")


def test_sites_of_another_county_stop_with_the_cause(town: dict[str, Path]) -> None:
    rows = [[f"S{i}", "站", "station", *lonlat(500 * i, 0, origin=(113.0, 23.0))]
            for i in range(3)]  # fmt: skip
    path = _write_csv(town["dir"] / "far.csv", ["id", "name", "tier", "lon", "lat"], rows)
    flags = town_flags(town)
    flags[flags.index("--sites") + 1] = str(path)
    one_error_line(cli("analyze", *flags, "--out", str(town["dir"] / "ofar")), "wrong file")


def test_residents_shifted_off_the_roads_suggest_gcj02(town: dict[str, Path]) -> None:
    rows = [[f"R{i}", 10, *lonlat(250, 250 + 10 * i)] for i in range(5)]  # block interiors
    rows += [[f"Q{i}", 10, *lonlat(750, 750 + 10 * i)] for i in range(5)]
    path = _write_csv(town["dir"] / "offroad.csv", ["id", "population", "lon", "lat"], rows)
    flags = town_flags(town)
    flags[flags.index("--residents") + 1] = str(path)
    result = cli("analyze", *flags, "--max-snap-m", "100", "--out", str(town["dir"] / "ogcj"))
    one_error_line(result, "GCJ-02", "resident points")


@pytest.mark.parametrize("population", ["1e308", "1e18", "2000000000"])
def test_an_impossible_population_is_a_rejected_row(population: str, tmp_path: Path) -> None:
    rows = [["R1", population, *lonlat(0, 0)], ["R2", "12", *lonlat(10, 0)]]
    path = _write_csv(tmp_path / "res.csv", ["id", "population", "lon", "lat"], rows)
    residents, rejected = read_residents(path)
    assert list(residents["id"]) == ["R2"]
    assert "more than 1,000,000,000 people" in rejected["reason"].iloc[0]


def test_a_large_population_is_run_with_a_warning(
    town: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    rows = [["R1", "250000", *lonlat(100, 0)], ["R2", "12", *lonlat(400, 500)]]
    path = _write_csv(town["dir"] / "big.csv", ["id", "population", "lon", "lat"], rows)
    flags = town_flags(town)
    flags[flags.index("--residents") + 1] = str(path)
    out = town["dir"] / "obig"
    result = cli("analyze", *flags, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "250,000" in caplog.text and "--max-population" in caplog.text
    caplog.clear()
    quiet = cli("analyze", *flags, "--max-population", "1e6", "--out", str(out))
    assert quiet.exit_code == 0 and "250,000" not in caplog.text
    one_error_line(cli("analyze", *flags, "--max-population", "0", "--out", str(out)),
                   "--max-population")  # fmt: skip


def test_unreachable_sites_are_not_counted_as_used(town: dict[str, Path]) -> None:
    rows = [
        ["S1", "近", "station", *lonlat(0, 0)],
        ["S2", "近二", "station", *lonlat(1000, 1000)],
        ["S9", "远", "station", *lonlat(2200, 2200)],  # 1.7 km from any road
    ]
    path = _write_csv(town["dir"] / "one_far.csv", ["id", "name", "tier", "lon", "lat"], rows)
    flags = town_flags(town)
    flags[flags.index("--sites") + 1] = str(path)
    out = town["dir"] / "ofarsite"
    result = cli("analyze", *flags, "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert (summary["sites_total"], summary["sites_used"], summary["sites_rejected"]) == (3, 2, 1)
    assert summary["by_tier"]["station"]["sites"] == 2
    assert "2 sites used (1 rejected)" in result.output


def test_boundaries_elsewhere_are_warned(
    town: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    x0, y0 = lonlat(0, 0, origin=(-10.0, 5.0))  # off West Africa
    x1, y1 = lonlat(500, 500, origin=(-10.0, 5.0))
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    units = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "某镇", "level": "town", "code": "360000000000"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = town["dir"] / "units_far.geojson"
    path.write_text(json.dumps(units, ensure_ascii=False), "utf-8")
    result = cli("analyze", *town_flags(town), "--units", str(path),
                 "--out", str(town["dir"] / "ounits"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "do not overlap the road network" in caplog.text


# --- 7. the API: bounded work, one key rule, one error shape ---------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The sample county with hostile site and candidate names, a key and tight limits."""
    d = tmp_path_factory.mktemp("hostile-api")
    sites = pd.read_csv(SAMPLE / "sites.csv", dtype=str)
    sites.loc[: len(HOSTILE) - 1, "name"] = HOSTILE
    sites.to_csv(d / "sites.csv", index=False)
    cands = pd.read_csv(SAMPLE / "candidates.csv", dtype=str)
    cands["name"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(cands))]
    cands.to_csv(d / "candidates.csv", index=False)
    config = d / "regions.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [[regions]]
            id = "hostile"
            name = "示范县"
            network = "{SAMPLE / "county.osm"}"
            sites = "sites.csv"
            residents = "{SAMPLE / "residents.csv"}"
            units = "{SAMPLE / "units.geojson"}"
            candidates = "candidates.csv"

            [limits]
            max_body_bytes = 4096
            max_isochrone_work = 300000
            max_concurrent_suggest = 1
            suggest_node_limit = 500

            [security]
            api_key = "{API_KEY}"

            [cors]
            origins = ["https://dashboard.example.org"]
            """
        ),
        encoding="utf-8",
    )
    cache = tmp_path_factory.getbasetemp() / "servicecircle-cache"
    with LocalServer(config=config, cache_dir=cache, cli=True) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


KEY = {"X-API-Key": API_KEY}
CENTRE = {"lon": 117.247640, "lat": 28.264903}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.mark.slow
def test_api_map_escapes_names_and_sends_a_policy(client: httpx.Client) -> None:
    page = client.get("/regions/hostile/map", params={"k": 3}, headers=KEY)
    assert page.status_code == 200
    text = page.text
    for name in HOSTILE:
        assert name not in text
    policy = page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "sha256-" in policy and "default-src 'none'" in policy


@pytest.mark.slow
def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    body = {"locations": [[117.24, 28.26]] * 400}  # ~8 kB
    err = error_of(client.post("/regions/hostile/isochrone", json=body, headers=KEY), 413,
                   "payload_too_large")  # fmt: skip
    assert err["detail"]["limit"] == "max_body_bytes"


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"locations": ['
        for _ in range(500):
            yield b"[117.24, 28.26],"
        yield b"[117.24, 28.26]]}"

    response = client.post(
        "/regions/hostile/isochrone",
        content=chunks(),
        headers={**KEY, "Content-Type": "application/json"},
    )
    error_of(response, 413, "payload_too_large")


@pytest.mark.slow
def test_isochrone_work_is_budgeted(client: httpx.Client) -> None:
    # 2,888 edges: 5 points x 30 min = 433,200 > 300,000; 1 point x 15 min fits.
    body = {"locations": [[CENTRE["lon"], CENTRE["lat"]]] * 5, "minutes": 30}
    err = error_of(client.post("/regions/hostile/isochrone", json=body, headers=KEY), 422,
                   "limit_exceeded")  # fmt: skip
    assert err["detail"]["limit"] == "max_isochrone_work"
    assert err["detail"]["value"] == 5 * 30 * err["detail"]["edges"]
    ok = client.get("/regions/hostile/isochrone", params={**CENTRE, "minutes": 15}, headers=KEY)
    assert ok.status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/regions/hostile/isochrone", CENTRE),
        ("POST", "/regions/hostile/isochrone", None),
        ("GET", "/regions/hostile/map", {"k": 2}),
        ("GET", "/regions/hostile/towns/青山乡/map", {"k": 1}),
        ("POST", "/regions/hostile/suggest", None),
        ("GET", "/regions/hostile/towns/青山乡/gaps", {"minutes": 20}),
        ("GET", "/regions/hostile/gaps", {"mode": "bike"}),
    ],
)
def test_every_computing_endpoint_needs_the_key(
    client: httpx.Client, method: str, path: str, params: dict[str, Any] | None
) -> None:
    body = {"locations": [[CENTRE["lon"], CENTRE["lat"]]]} if "isochrone" in path else {"k": 1}
    kwargs: dict[str, Any] = {"params": params} if method == "GET" else {"json": body}
    error_of(client.request(method, path, **kwargs), 401, "unauthorized")
    wrong = {"X-API-Key": "not-the-key-at-all"}
    error_of(client.request(method, path, headers=wrong, **kwargs), 401, "unauthorized")


@pytest.mark.slow
def test_gaps_under_the_regions_own_standards_need_no_key(client: httpx.Client) -> None:
    for params in ({}, {"tier": "站"}):
        assert client.get("/regions/hostile/towns/青山乡/gaps", params=params).status_code == 200
    keyed = client.get("/regions/hostile/towns/青山乡/gaps", params={"minutes": 20}, headers=KEY)
    assert keyed.status_code == 200


@pytest.mark.slow
def test_a_map_without_the_key_shows_no_proposals(client: httpx.Client) -> None:
    page = client.get("/regions/hostile/towns/青山乡/map")
    assert page.status_code == 200 and "建议新建站点 Proposed sites" not in page.text
    keyed = client.get("/regions/hostile/towns/青山乡/map", params={"key": API_KEY, "k": 1})
    assert keyed.status_code == 200 and "建议新建站点 Proposed sites" in keyed.text
    error_of(client.get("/regions/hostile/map", params={"key": "wrong-key-123"}), 401,
             "unauthorized")  # fmt: skip


@pytest.mark.slow
def test_concurrent_work_beyond_the_cap_is_429(client: httpx.Client, server: LocalServer) -> None:
    # One slot: isochrones and suggestions asked for at the same moment cannot all run.
    barrier = threading.Barrier(6)
    answers: list[httpx.Response] = []

    def ask(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            barrier.wait()
            if i % 2:
                body = {"target": 0.80 + 0.01 * i, "method": "exact"}
                answers.append(c.post("/regions/hostile/suggest", json=body, headers=KEY))
            else:
                pts = [[117.20 + 0.01 * i + 0.001 * j, 28.26] for j in range(2)]
                body = {"locations": pts, "minutes": 20, "mode": "walk"}
                answers.append(c.post("/regions/hostile/isochrone", json=body, headers=KEY))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert 429 in codes, codes
    for r in answers:
        if r.status_code == 429:
            err = error_of(r, 429, "busy")
            assert r.headers["retry-after"] and err["detail"]["limit"] == "max_concurrent_suggest"
        else:
            assert r.status_code in (200, 422), r.text


@pytest.mark.slow
def test_a_refused_cors_preflight_uses_the_error_shape(client: httpx.Client) -> None:
    response = client.options(
        "/regions/hostile/suggest",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    err = error_of(response, 403, "cors_refused")
    assert err["detail"]["origin"] == "https://elsewhere.example"


@pytest.mark.slow
def test_the_api_refuses_what_the_cli_refuses(client: httpx.Client) -> None:
    err = error_of(
        client.post("/regions/hostile/suggest", json={"k": 1, "min_rooms": -1}, headers=KEY),
        422, "validation_error",
    )  # fmt: skip
    assert err["detail"][0]["field"] == "min_rooms"
    for bad in (-1, 0):
        error_of(client.post("/regions/hostile/suggest", json={"k": 1, "time_limit": bad},
                             headers=KEY), 422, "validation_error")  # fmt: skip


@pytest.mark.slow
def test_the_solver_limit_is_deterministic_and_stated(client: httpx.Client) -> None:
    data = client.post("/regions/hostile/suggest", json={"k": 3}, headers=KEY).json()
    assert data["summary"]["node_limit"] == 500
    assert data["summary"]["time_limit"] > 0


def test_a_node_limit_gives_the_same_answer_every_time(town: dict[str, Path]) -> None:
    region = Region.from_files(
        network=town["network"], sites=town["sites"], residents=town["residents"],
        candidates=town["candidates"], cache_dir=town["dir"] / "cache",
    )  # fmt: skip
    runs = [
        suggest(region, k=1, min_rooms=0, node_limit=1, time_limit=60).proposals["candidate_id"]
        for _ in range(2)
    ]
    assert list(runs[0]) == list(runs[1])
    with pytest.raises(InputError, match="node limit"):
        suggest(region, k=1, node_limit=0)


@pytest.mark.slow
@pytest.mark.parametrize(("path", "marker"), [("/docs", "opblock"), ("/redoc", "api-content")])
def test_docs_render_offline_in_chromium(
    server: LocalServer, tmp_path: Path, path: str, marker: str
) -> None:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
           server.url + path]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert marker in dom, dom[:2000]
    assert "/regions/{region}/suggest" in re.sub(r"<[^>]+>", "", dom)
    page = httpx.get(server.url + path, timeout=30).text
    assert "cdn.jsdelivr.net" not in page and "fonts.googleapis" not in page
