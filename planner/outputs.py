"""The outputs people open beside the machine files: Chinese workbooks and the QGIS GeoPackage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from planner.gpkg import write_analysis_gpkg, write_suggestion_gpkg
from planner.tables import write_analysis_tables, write_suggestion_tables

if TYPE_CHECKING:
    from planner.coverage import Coverage
    from planner.region import Region
    from planner.siting import Suggestion


def after_proposals(suggestion: Suggestion, coverage: Coverage, region: Region) -> Coverage:
    """The coverage once ``suggestion``'s proposals are built (for the gaps that remain)."""
    from planner.scenario import Scenario, compare

    props = suggestion.proposals
    if props is None or not len(props):
        return coverage
    add = props.rename(columns={"candidate_id": "id"})[["id", "name", "geometry"]]
    add = add.assign(tier=suggestion.summary["tier"])
    return compare(region, Scenario(add=add), before=coverage).after


def people_outputs(
    coverage: Coverage,
    region: Region,
    out: str | Path,
    *,
    suggestion: Suggestion | None = None,
    after: Coverage | None = None,
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
    after
        The coverage once the proposals are built (:func:`after_proposals`): its gaps are
        listed as the gaps that remain.
    """
    if suggestion is None:
        return write_analysis_tables(coverage, region, out) | write_analysis_gpkg(
            coverage, region, out
        )
    remaining = None if after is None else after.gaps
    tables = write_suggestion_tables(suggestion, coverage, region, out, remaining_gaps=remaining)
    return tables | write_suggestion_gpkg(suggestion, coverage, region, out)
