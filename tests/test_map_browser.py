"""A real headless Chromium draws the map pages: every layer is on the page, offline too."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from api_harness import LocalServer

from planner.text import TIERS

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (Debian packages chromium and chromium-driver; "
        "`make system` or .ci/run installs them where apt-get is allowed)",
    ),
]

# Every host name fails to resolve, so no tile server is reachable (and nothing downloads):
# the page must fall back to its plain background and still draw every vector layer.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
    "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=10000",
]  # fmt: skip
GAP_COLOR = "#d7301f"
PROPOSAL_COLOR = "#ff7f00"
TOWN = "青山乡"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    cache = tmp_path_factory.getbasetemp() / "servicecircle-cache"
    with LocalServer(cache_dir=cache) as running:
        yield running


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def paths(dom: str, *, fill: str, stroke: str | None = None) -> int:
    """Leaflet SVG shapes drawn with this fill (and stroke) colour."""
    count = 0
    for tag in re.findall(r"<path [^>]*>", dom):
        if "leaflet-interactive" in tag and f'fill="{fill}"' in tag:
            count += stroke is None or f'stroke="{stroke}"' in tag
    return count


def test_the_town_map_draws_every_layer_without_tiles(server: LocalServer, tmp_path: Path) -> None:
    base = f"{server.url}/regions/sample/towns/{quote(TOWN)}"
    with httpx.Client(timeout=60) as client:
        gaps = client.get(f"{base}/gaps").json()["features"]
        sites = client.get(f"{server.url}/regions/sample/sites", params={"town": TOWN}).json()[
            "features"
        ]
    dom = chromium("--dump-dom", f"{base}/map?k=3", tmp=tmp_path).stdout

    assert "leaflet-container" in dom
    assert f"示范县 新时代文明实践 15分钟服务圈 · {TOWN}" in dom
    controls = re.search(r'leaflet-control-layers-overlays">(.*?)</section>', dom, re.S)
    assert controls, "layer control missing"
    for label in ("服务空白区 Gap areas", "未覆盖居民 Uncovered residents",
                  "建议新建站点 Proposed sites", "站 Village/community station"):  # fmt: skip
        assert label in controls.group(1), label
    assert "图例 Legend" in dom
    # No tile server: the plain background is the checked base layer and vectors still drew.
    assert re.search(r'checked="checked"><span> 空白底图 Plain', dom)
    assert paths(dom, fill=GAP_COLOR) == len(gaps) == 16
    for tier in ("institute", "station"):
        expected = sum(f["properties"]["tier"] == tier for f in sites)
        assert paths(dom, fill=TIERS[tier]["color"], stroke="#ffffff") == expected > 0, tier
    assert paths(dom, fill=PROPOSAL_COLOR, stroke="#000000") == 3


def test_the_region_map_is_drawn_and_not_blank(server: LocalServer, tmp_path: Path) -> None:
    from PIL import Image

    url = f"{server.url}/regions/sample/map?k=5"
    with httpx.Client(timeout=60) as client:
        gaps = client.get(f"{server.url}/regions/sample/gaps").json()["features"]
    dom = chromium("--dump-dom", url, tmp=tmp_path).stdout
    assert paths(dom, fill=GAP_COLOR) == len(gaps)
    assert paths(dom, fill=PROPOSAL_COLOR, stroke="#000000") == 5
    assert paths(dom, fill=TIERS["centre"]["color"], stroke="#ffffff") == 1

    shot = tmp_path / "map.png"
    chromium("--window-size=1280,900", f"--screenshot={shot}", url, tmp=tmp_path)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200, "page looks blank"

    def near(rgb: tuple[int, int, int], tol: int = 30) -> int:
        return sum(
            n for n, c in colours if all(abs(a - b) <= tol for a, b in zip(c, rgb, strict=True))
        )

    assert near((0xD7, 0x30, 0x1F)) > 200, "no gap areas on screen"
    assert near((0xFF, 0x7F, 0x00)) > 100, "no proposed sites on screen"
    assert near((0x21, 0x66, 0xAC)) > 50, "no stations on screen"
