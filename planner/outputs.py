"""The outputs people open beside the machine files: Chinese workbooks and the QGIS GeoPackage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.gpkg import write_analysis_gpkg, write_suggestion_gpkg
from planner.tables import write_analysis_tables, write_suggestion_tables


def people_outputs(
    coverage: Any, region: Any, out: str | Path, *, suggestion: Any = None
) -> dict[str, Path]:
    """Write the people's tables and ``servicecircle.gpkg`` into ``out``; return the paths.

    Parameters
    ----------
    coverage, region
        The analysis and its region.
    out
        Output folder.
    suggestion
        A :class:`planner.siting.Suggestion`: then ``proposals.xlsx`` and a GeoPackage with the
        proposals are written instead of the analysis workbook.
    """
    if suggestion is None:
        return write_analysis_tables(coverage, region, out) | write_analysis_gpkg(
            coverage, region, out
        )
    return write_suggestion_tables(suggestion, coverage, region, out) | write_suggestion_gpkg(
        suggestion, coverage, region, out
    )
