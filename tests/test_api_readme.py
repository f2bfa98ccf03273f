"""The README's HTTP API examples work exactly as printed: its curl commands, run by curl
against the server started as the README starts it, answer JSON."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_harness import LocalServer

from api.main import DESCRIPTION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command"),
]

ROOT = Path(__file__).resolve().parents[1]
README_HOST = "127.0.0.1:8000"  # where the README's server listens
JSON_TYPES = ("application/json", "application/geo+json")


def _api_block(text: str) -> str:
    """The first ```bash block after the README's "## HTTP API" heading."""
    after = text.split("\n## HTTP API\n", 1)[1]
    return after.split("```bash\n", 1)[1].split("```", 1)[0]


def _curl_lines(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")  # continuation lines, as the shell reads them
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]


README_BLOCK = _api_block((ROOT / "README.md").read_text(encoding="utf-8"))
README_CURLS = _curl_lines(README_BLOCK)
DOCS_CURLS = _curl_lines(DESCRIPTION.split("```bash\n", 1)[1].split("```", 1)[0])


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    # `servicecircle serve --port 8000 &` as the README prints it: the bundled sample, no key.
    with LocalServer(cli=True) as running:
        yield running


def curl(command: str, server: LocalServer) -> tuple[int, str, str]:
    """Run a printed curl command in bash against ``server``: status, content type, body."""
    command = command.replace(README_HOST, f"127.0.0.1:{server.port}")
    assert command.startswith("curl ")
    # Options only for reading the answer; the request curl sends is the printed one.
    command = "curl -sS -w '\\n%{http_code} %{content_type}' " + command.removeprefix("curl ")
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    body, _, tail = done.stdout.rpartition("\n")
    status, _, content_type = tail.partition(" ")
    return int(status), content_type, body


def test_the_readme_shows_the_api_with_chinese_names() -> None:
    # The server is started as the fixture starts it: the bundled sample, no key.
    serve = next(line for line in README_BLOCK.splitlines() if line.startswith("servicecircle"))
    assert shlex.split(serve, comments=True) == ["servicecircle", "serve", "--port", "8000", "&"]
    # The examples the user tried are still there, in a form HTTP can carry.
    assert len(README_CURLS) >= 7
    assert any("--data-urlencode tier=站" in c and "town=青山乡" in c for c in README_CURLS)
    assert any("/towns/%E9%9D%92%E5%B1%B1%E4%B9%A1/gaps" in c for c in README_CURLS)


@pytest.mark.parametrize(
    "command",
    README_CURLS + DOCS_CURLS,
    ids=[f"readme{i}" for i in range(len(README_CURLS))]
    + [f"docs{i}" for i in range(len(DOCS_CURLS))],
)
def test_every_printed_curl_command_answers_json(server: LocalServer, command: str) -> None:
    status, content_type, body = curl(command, server)
    assert status == 200, (command, status, body[:300])
    assert content_type.startswith(JSON_TYPES), (command, content_type)
    data = json.loads(body)
    assert data, command
    # A name sent with --data-urlencode arrives as the name: the sites are of that tier and town.
    asked = dict(re.findall(r"--data-urlencode (\w+)=(\S+)", command))
    if "/sites" in command:
        assert data["features"], command
        for feature in data["features"]:
            props = feature["properties"]
            assert props["tier_zh"] == asked.get("tier", props["tier_zh"])
            assert props["town"] == asked.get("town", props["town"])


def test_the_percent_encoded_town_path_is_the_town_by_its_code(server: LocalServer) -> None:
    by_name = next(c for c in README_CURLS if "%E9%9D%92%E5%B1%B1%E4%B9%A1/gaps" in c)
    by_code = by_name.replace("%E9%9D%92%E5%B1%B1%E4%B9%A1", "360699201000")
    assert curl(by_name, server) == curl(by_code, server)


def test_a_raw_chinese_query_is_refused_before_the_api_as_the_readme_warns(
    server: LocalServer,
) -> None:
    # What the README used to print, and what it now explains: curl sends a query's bytes as
    # typed, and the HTTP parser refuses non-ASCII bytes in a request line (plain text, 400).
    raw = f'curl "http://{README_HOST}/regions/sample/sites?tier=站&town=青山乡"'
    status, content_type, body = curl(raw, server)
    assert (status, body) == (400, "Invalid HTTP request received.")
    assert content_type.startswith("text/plain")
    readme = " ".join(README_BLOCK.split())
    assert "?tier=站" not in readme  # no printed example sends it raw
    encoded = next(c for c in README_CURLS if "town=青山乡" in c and "/sites" in c)
    assert curl(encoded, server)[0] == 200


def test_the_map_links_open_in_a_browser(server: LocalServer) -> None:
    # A browser percent-encodes the names of a link itself, as httpx does.
    links = re.findall(r"http://\S+/map\b", README_BLOCK)
    assert len(links) == 2 and any("青山乡" in link for link in links)
    for link in links:
        page = httpx.get(link.replace(README_HOST, f"127.0.0.1:{server.port}"), timeout=120)
        assert page.status_code == 200, link
        assert page.headers["content-type"].startswith("text/html")
