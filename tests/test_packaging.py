"""The wheel ships the bundled sample and every module: setuptools' own file list, the installed
package found through importlib.resources, and a checkout run without installing; the package's
names load on first use."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import warnings
from importlib import resources
from pathlib import Path

import pytest
from conftest import first_line_of_python
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

import planner
from planner.region import RegionFiles, sample_dir

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every file setuptools' ``build_py`` puts in the wheel, as paths inside the wheel.

    Computed on a copy of the sources, so that setuptools' bookkeeping (``*.egg-info``) never
    lands in the repository.
    """
    copy = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    for name in ("planner", "api", "sample_data"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    here = Path.cwd()
    os.chdir(copy)  # setuptools resolves the package folders from the working directory
    try:
        dist = Distribution({"script_name": "setup.py"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "[tool.setuptools] is beta" in older setuptools
            apply_configuration(dist, copy / "pyproject.toml")
        build_py = dist.get_command_obj("build_py")
        build_py.ensure_finalized()
        outputs = build_py.get_outputs(include_bytecode=False)
        lib = Path(build_py.build_lib)
        return {Path(p).relative_to(lib).as_posix() for p in outputs}
    finally:
        os.chdir(here)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_the_wheel_ships_the_sample(wheel_files):
    shipped = {f"planner/sample_data/{p.relative_to(SAMPLE).as_posix()}" for p in _files(SAMPLE)}
    assert "planner/sample_data/county.osm" in shipped
    assert shipped <= wheel_files, sorted(shipped - wheel_files)
    # nothing of the sample lands at the top level of site-packages
    assert not [f for f in wheel_files if f.startswith("sample_data/")]


def test_the_wheel_ships_every_module_and_data_file(wheel_files):
    # The package list in pyproject.toml is explicit: a new folder must be added to it.
    ours = [p for top in ("planner", "api") for p in _files(ROOT / top)]
    missing = sorted(
        p.relative_to(ROOT).as_posix()
        for p in ours
        if p.relative_to(ROOT).as_posix() not in wheel_files
    )
    assert len(ours) > 50 and not missing, missing


def test_the_sample_is_found_as_package_data():
    folder = sample_dir()
    assert folder == resources.files("planner.sample_data")
    files = RegionFiles.sample()
    for path in (files.network, files.sites, files.residents, files.units, files.candidates):
        assert path is not None and Path(path).parent == folder and Path(path).is_file()
    # the same sample as the repository's (an editable install points at it)
    assert (folder / "sites.csv").read_bytes() == (SAMPLE / "sites.csv").read_bytes()
    # or an explicit folder
    assert RegionFiles.sample(SAMPLE).sites == SAMPLE / "sites.csv"


def test_a_checkout_that_is_not_installed_says_what_to_do(tmp_path):
    # -S: no site-packages processing and so no editable-install hook; the dependencies come
    # from PYTHONPATH (this process's folders), the code from the checkout itself.
    path = [str(ROOT), *(p for p in sys.path if p and Path(p).is_dir())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, "-S", "-m", "planner", "analyze", "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    text = " ".join((done.stdout + done.stderr).split())
    assert "error: bundled sample not found: planner.sample_data is not installed" in text
    assert "Traceback" not in text
    assert not (tmp_path / "out").exists()


def _stub_names() -> dict[str, str | None]:
    """``{name: module}`` of the re-exports in ``planner/__init__.pyi`` (module None: the name
    is a submodule), read independently."""
    tree = ast.parse((ROOT / "planner" / "__init__.pyi").read_text(encoding="utf-8"))
    return {
        alias.name: node.module and f"planner.{node.module}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_every_public_name_loads_from_the_module_the_stub_names():
    names = _stub_names()
    assert len(names) > 35 and set(planner.__all__) == set(names)
    for name, module in names.items():
        if module is None:  # a submodule, as a bare `import planner` always gave it
            assert getattr(planner, name) is importlib.import_module(f"planner.{name}"), name
        else:
            assert getattr(planner, name) is getattr(importlib.import_module(module), name), name
    assert set(names) <= set(dir(planner))
    with pytest.raises(AttributeError, match="no_such_name"):
        planner.no_such_name  # noqa: B018


def test_the_province_command_loads_no_map_code_until_a_map_is_drawn():
    """``import planner`` and everything a county without maps uses leave folium unloaded;
    the first map name used loads it (in a fresh process, as the command runs)."""
    code = (
        "import sys\n"
        "import planner, planner.cli, planner.province, planner.report\n"
        "from planner import Region, analyze, write_analysis\n"
        "before = 'folium' in sys.modules\n"
        "from planner import coverage_map\n"
        "print(before, 'folium' in sys.modules)\n"
    )
    assert first_line_of_python(code, timeout=120) == "False True"
