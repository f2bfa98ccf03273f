"""The planner notebooks run top to bottom on a fresh machine, offline, and export their files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "servicecircle-test"

# What each notebook must leave in its output folder.
EXPECTED = {
    "01_coverage_analysis": [
        "coverage_by_tier.png",
        "coverage_by_town.png",
        "travel_time_cdf.png",
        "coverage_by_unit.xlsx",
        "coverage.gpkg",
        "map.html",
    ],
    "02_site_selection": [
        "coverage_curve.png",
        "speed_sensitivity.png",
        "proposals.csv",
        "map.html",
        "site_selection.xlsx",
    ],
    "03_bring_your_own_data": [
        "实践站点.xlsx",
        "村人口.xlsx",
        "residents.csv",
        "travel_time_cdf.png",
        "coverage_by_village.png",
        "coverage.gpkg",
    ],
    "04_standards_audit": ["audit.xlsx", "audit.json", "audit_issues.csv", "map.html"],
}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="session")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A kernelspec that runs this interpreter (the venv), whatever other kernels are installed."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "servicecircle tests", "language": "python"})
    )
    return str(root)


@pytest.fixture
def offline_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kernel: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Environment of the kernel: output and cache folders in tmp, no way out to the internet."""
    out = tmp_path / "out"
    monkeypatch.setenv("JUPYTER_PATH", kernel)
    monkeypatch.setenv("SERVICECIRCLE_NOTEBOOK_OUT", str(out))
    cache = tmp_path_factory.getbasetemp() / "notebook-network-cache"
    monkeypatch.setenv("SERVICECIRCLE_CACHE", str(cache))
    # Any HTTP(S) download (osmnx, pyrosm, urllib, requests) fails at once; the kernel's own
    # ZeroMQ sockets are not HTTP and are unaffected.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    return out


def test_there_are_three_planner_notebooks():
    names = [p.stem for p in notebook_paths()]
    assert names == sorted(EXPECTED)


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_headless_and_offline(path: Path, offline_env: Path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=180,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # cwd, as when opened in Jupyter
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}")
    seconds = time.perf_counter() - start

    stderr = "\n".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("name") == "stderr"
    )
    assert "missing from font" not in stderr, (
        f"{path.name}: Chinese glyphs missing in charts:\n{stderr}"
    )
    assert "MissingCJKFontWarning" not in stderr or not _has_cjk_font(), stderr

    folder = offline_env / path.stem
    missing = [name for name in EXPECTED[path.stem] if not (folder / name).is_file()]
    assert not missing, f"{path.name} did not write {missing} into {folder}"
    assert not list(NOTEBOOKS.glob("output*")), "notebooks must not write into the repository"
    print(f"{path.name}: {seconds:.1f} s")


def _has_cjk_font() -> bool:
    import warnings

    from planner.charts import cjk_font

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cjk_font(configure=False) is not None
