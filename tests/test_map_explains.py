"""The offline map explains itself: roads, place names, a search box, and a phone layout.

A real headless Chromium (driven through chromedriver) opens the proposals map written by
``suggest`` with every outside host unresolvable, at desktop and phone size; screenshots are
kept under the test's temporary folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sample import sample  # noqa: F401  (session fixture)

from planner.map_layers import ROAD_CLASSES
from planner.report import write_suggestion
from planner.siting import suggest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="Chromium and chromedriver are not installed (Debian chromium, chromium-driver)",
    ),
]
VILLAGE = "岗上村"  # a village of 青山乡 with nobody covered


@pytest.fixture(scope="module")
def map_file(sample, tmp_path_factory) -> tuple[Path, dict]:  # noqa: F811
    region, coverage = sample
    result = suggest(region, coverage, k=5, method="greedy")
    out = tmp_path_factory.mktemp("suggest-map")
    return write_suggestion(result, coverage, region, out)["map"], result.summary


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_at(driver, url: str, width: int, height: int, *, mobile: bool = False) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.get(url)
    driver.execute_async_script(  # wait for the map to finish its first render
        "var done = arguments[0]; setTimeout(done, 800);"
    )


def visible(driver, css: str) -> int:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".filter(function (e) { return e.offsetParent !== null; }).length;",
        css,
    )


def test_desktop_map_draws_roads_and_names_and_finds_a_village(browser, map_file, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, summary = map_file
    open_at(browser, path.as_uri(), 1400, 900)
    assert browser.execute_script("return [innerWidth, innerHeight]") == [1400, 900]
    # roads: every class drawn in the roads pane, major roads in their own colour
    strokes = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-scRoads-pane path'))"
        ".map(function (p) { return [p.getAttribute('stroke'), p.getAttribute('d').length]; });"
    )
    colours = {c for c, n in strokes if n > 1000}
    assert {c for _t, c, _w in ROAD_CLASSES.values()} <= colours
    major = next(w for _t, c, w in ROAD_CLASSES.values() if c == "#e8a33d")
    assert major > max(w for _t, c, w in ROAD_CLASSES.values() if c != "#e8a33d")
    # town names at the county view; village names wait for a closer zoom
    towns = browser.execute_script(
        "return Array.from(document.querySelectorAll('.sc-label-town'))"
        ".filter(function (e) { return e.offsetParent !== null; })"
        ".map(function (e) { return e.textContent; });"
    )
    assert "青山乡" in towns and len(towns) == 9
    assert "覆盖率 " + f"{summary['coverage_before']:.1%} → {summary['coverage_after']:.1%}" in (
        browser.find_element(By.CLASS_NAME, "sc-title").text
    )
    table = browser.find_element(By.CLASS_NAME, "sc-proposals").text
    assert "新增覆盖人口" in table and "建成后仍有空白区" in table
    browser.save_screenshot(str(tmp_path / "desktop-county.png"))

    box = browser.find_element(By.CLASS_NAME, "sc-search-input")
    box.send_keys("岗上")
    hits = [li.text for li in browser.find_elements(By.CSS_SELECTOR, ".sc-search-results li")]
    assert any(h.startswith(VILLAGE) for h in hits), hits
    box.send_keys(Keys.ENTER)
    browser.execute_async_script("setTimeout(arguments[0], 600);")
    found = browser.execute_script(
        "var c = document.querySelector('.leaflet-container'); return c.dataset.scFound;"
    )
    assert found == VILLAGE
    villages = browser.execute_script(
        "return Array.from(document.querySelectorAll('.sc-label-village'))"
        ".filter(function (e) { return e.offsetParent !== null; })"
        ".map(function (e) { return e.textContent; });"
    )
    assert VILLAGE in villages  # zoomed in on the village: its name is drawn
    assert visible(browser, ".sc-label-site") > 0  # site names show at close zoom
    browser.save_screenshot(str(tmp_path / "desktop-village.png"))
    assert (tmp_path / "desktop-village.png").stat().st_size > 10_000


def test_on_a_phone_the_controls_fold_and_the_map_stays_visible(browser, map_file, tmp_path):
    from selenium.webdriver.common.by import By

    path, _ = map_file
    open_at(browser, path.as_uri(), 390, 844, mobile=True)
    assert browser.execute_script("return innerWidth") == 390
    layers = browser.find_element(By.CLASS_NAME, "leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in layers.get_attribute("class")
    for css in (".sc-legend", ".sc-proposals"):
        assert "sc-folded" in browser.find_element(By.CSS_SELECTOR, css).get_attribute("class")
    # share of the map covered by controls (overlaps counted twice: an upper bound)
    covered, area = browser.execute_script(
        "var c = document.querySelector('.leaflet-container').getBoundingClientRect();"
        "var sum = 0; document.querySelectorAll('.leaflet-control').forEach(function (e) {"
        " var r = e.getBoundingClientRect(); sum += r.width * r.height; });"
        "return [sum, c.width * c.height];"
    )
    assert covered / area <= 0.30, f"controls cover {covered / area:.0%} of the map"
    browser.save_screenshot(str(tmp_path / "phone-folded.png"))
    # a tap opens the layer list and the legend again
    browser.find_element(By.CLASS_NAME, "leaflet-control-layers-toggle").click()
    assert "leaflet-control-layers-expanded" in layers.get_attribute("class")
    browser.find_element(By.CSS_SELECTOR, ".sc-legend > b").click()
    assert "sc-folded" not in browser.find_element(By.CSS_SELECTOR, ".sc-legend").get_attribute(
        "class"
    )
    browser.save_screenshot(str(tmp_path / "phone-open.png"))


def test_a_name_in_the_search_box_is_text_not_markup(browser, sample, tmp_path):  # noqa: F811
    from planner.maps import coverage_map

    region, coverage = sample
    sites = region.sites.copy()
    sites.loc[0, "name"] = "<img src=x onerror=\"document.title='pwned'\">站"
    page = tmp_path / "map.html"
    coverage_map(coverage, sites=sites, units=region.units).save(str(page))
    open_at(browser, page.as_uri() + "#q=" + "img", 1400, 900)
    hits = browser.execute_script(
        "return Array.from(document.querySelectorAll('.sc-search-results li, .leaflet-popup-content'))"
        ".map(function (e) { return e.textContent; });"
    )
    assert any("<img src=x" in h for h in hits), hits  # shown as the text it is
    assert browser.title != "pwned"
