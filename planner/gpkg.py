"""One GeoPackage for QGIS: every layer, styled like the web map in ``layer_styles``."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import pandas as pd

from planner.tables import FIXED_TIME
from planner.text import LABELS, TIERS, tier_label

if TYPE_CHECKING:
    from planner.coverage import Coverage
    from planner.region import Region
    from planner.siting import Suggestion

log = logging.getLogger(__name__)

# The web map's colours (planner.maps) for the layers that are not tiers.
GAP_COLOR = "#d7301f"
UNCOVERED_COLOR = "#e31a1c"
COVERED_COLOR = "#4d9221"
PROPOSAL_COLOR = "#ff7f00"
TOWN_LINE = "#555555"
VILLAGE_LINE = "#999999"


def _rgba(hex_color: str, alpha: float = 1.0) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _opts(**values: Any) -> str:
    return "".join(
        f'<Option name="{k}" type="QString" value={quoteattr(str(v))}/>' for k, v in values.items()
    )


def _marker(color: str, *, size: float = 2.6, outline: str = "#ffffff", width: float = 0.4) -> str:
    return (
        '<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleMarker" enabled="1" locked="0" pass="0"><Option type="Map">'
        + _opts(
            name="circle",
            color=_rgba(color),
            outline_color=_rgba(outline),
            outline_width=width,
            outline_width_unit="MM",
            size=size,
            size_unit="MM",
        )
        + "</Option></layer></symbol>"
    )


def _fill(color: str, *, alpha: float, line: str, width: float = 0.26, dash: bool = False) -> str:
    return (
        '<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
        + _opts(
            color=_rgba(color, alpha),
            style="solid" if alpha > 0 else "no",
            outline_color=_rgba(line),
            outline_style="dash" if dash else "solid",
            outline_width=width,
            outline_width_unit="MM",
        )
        + "</Option></layer></symbol>"
    )


def _qml(renderer: str, *, label_field: str | None = None, min_scale: float = 0) -> str:
    labels = ""
    if label_field:
        labels = (
            '<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName="{label_field}" fontFamily="Noto Sans CJK SC" fontSize="9" '
            'textColor="30,30,30,255" isExpression="0"><text-buffer bufferDraw="1" '
            'bufferSize="0.8" bufferColor="255,255,255,255"/></text-style>'
            f'<rendering scaleVisibility="{1 if min_scale else 0}" scaleMin="0" '
            f'scaleMax="{min_scale:g}"/><placement placement="1" dist="1"/></settings></labeling>'
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
        '<qgis version="3.28.0" styleCategories="Symbology|Labeling">'
        f"{renderer}{labels}</qgis>"
    )


def _single(symbol: str) -> str:
    return (
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
        f"<symbols>{symbol.format(name='0')}</symbols></renderer-v2>"
    )


def _categorized(attr: str, cats: list[tuple[str, str, str]]) -> str:
    """``cats`` is ``[(value, label, symbol template)]``."""
    head = "".join(
        f'<category value={quoteattr(v)} label={quoteattr(lab)} symbol="{i}" render="true"/>'
        for i, (v, lab, _s) in enumerate(cats)
    )
    syms = "".join(s.format(name=str(i)) for i, (_v, _l, s) in enumerate(cats))
    return (
        f'<renderer-v2 type="categorizedSymbol" attr="{attr}" symbollevels="0" '
        f'enableorderby="0" forceraster="0"><categories>{head}</categories>'
        f"<symbols>{syms}</symbols></renderer-v2>"
    )


def _sld(layer: str, rules: Sequence[tuple[str | None, str | None, str, dict[str, str]]]) -> str:
    """A small SLD 1.1: ``rules`` are ``(attribute, value, geometry kind, css)``."""
    body = []
    for attr, value, kind, css in rules:
        filt = (
            "<ogc:Filter><ogc:PropertyIsEqualTo>"
            f"<ogc:PropertyName>{escape(attr)}</ogc:PropertyName>"
            f"<ogc:Literal>{escape(value or '')}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
            if attr
            else ""
        )
        params = "".join(
            f'<se:SvgParameter name="{k}">{escape(v)}</se:SvgParameter>'
            for k, v in css.items()
            if k.startswith("fill")
        )
        strokes = "".join(
            f'<se:SvgParameter name="{k}">{escape(v)}</se:SvgParameter>'
            for k, v in css.items()
            if k.startswith("stroke")
        )
        fill = f"<se:Fill>{params}</se:Fill>" if params else ""
        stroke = f"<se:Stroke>{strokes}</se:Stroke>" if strokes else ""
        if kind == "point":
            sym = (
                "<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle"
                f"</se:WellKnownName>{fill}{stroke}</se:Mark><se:Size>8</se:Size>"
                "</se:Graphic></se:PointSymbolizer>"
            )
        else:
            sym = f"<se:PolygonSymbolizer>{fill}{stroke}</se:PolygonSymbolizer>"
        name = escape(value or layer)
        body.append(f"<se:Rule><se:Name>{name}</se:Name>{filt}{sym}</se:Rule>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld" '
        'xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se">'
        f"<NamedLayer><se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{escape(layer)}"
        f"</se:Name><se:FeatureTypeStyle>{''.join(body)}</se:FeatureTypeStyle></UserStyle>"
        "</NamedLayer></StyledLayerDescriptor>"
    )


def layer_style(layer: str) -> tuple[str, str]:
    """The QGIS style (QML) and SLD of one of our layers, in the web map's colours."""
    if layer in ("sites", "service_areas"):
        return _tier_style(layer)
    if layer == "residents":
        return _residents_style()
    if layer == "units":
        return _units_style()
    if layer in _SINGLE_STYLES:
        return _single_style(layer)
    msg = f"no style for layer {layer!r}"
    raise ValueError(msg)


def _tier_style(layer: str) -> tuple[str, str]:
    """Sites (labelled points) or service areas (light fills), one colour per tier."""
    if layer == "sites":
        cats = [
            (
                t,
                tier_label(t),
                _marker(i["color"], size=3.6 if t in ("centre", "institute") else 2.6),
            )
            for t, i in TIERS.items()
        ]
        rules = [
            ("tier", t, "point", {"fill": i["color"], "stroke": "#ffffff"})
            for t, i in TIERS.items()
        ]
        return _qml(_categorized("tier", cats), label_field="name", min_scale=50000), _sld(
            layer, rules
        )
    cats = [
        (t, tier_label(t), _fill(i["color"], alpha=0.18, line=i["color"])) for t, i in TIERS.items()
    ]
    rules = [
        (
            "tier",
            t,
            "polygon",
            {"fill": i["color"], "fill-opacity": "0.18", "stroke": i["color"]},
        )
        for t, i in TIERS.items()
    ]
    return _qml(_categorized("tier", cats)), _sld(layer, rules)


def _residents_style() -> tuple[str, str]:
    """Residents as small dots: green covered, red uncovered."""
    cats = [
        (
            "1",
            "已覆盖 Covered",
            _marker(COVERED_COLOR, size=1.2, outline=COVERED_COLOR, width=0),
        ),
        (
            "0",
            LABELS["uncovered"],
            _marker(UNCOVERED_COLOR, size=1.6, outline=UNCOVERED_COLOR, width=0),
        ),
    ]
    rules = [
        ("covered", "1", "point", {"fill": COVERED_COLOR}),
        ("covered", "0", "point", {"fill": UNCOVERED_COLOR}),
    ]
    return _qml(_categorized("covered", cats)), _sld("residents", rules)


def _units_style() -> tuple[str, str]:
    """Town outlines dashed, village outlines thin, both labelled with their names."""
    cats = [
        ("town", "乡镇 Town", _fill(TOWN_LINE, alpha=0, line=TOWN_LINE, width=0.5, dash=True)),
        (
            "village",
            "村（社区） Village",
            _fill(VILLAGE_LINE, alpha=0, line=VILLAGE_LINE, width=0.2),
        ),
    ]
    rules = [
        (
            "level",
            "town",
            "polygon",
            {"stroke": TOWN_LINE, "stroke-width": "1.5", "stroke-dasharray": "4 4"},
        ),
        ("level", "village", "polygon", {"stroke": VILLAGE_LINE, "stroke-width": "0.8"}),
    ]
    return _qml(_categorized("level", cats), label_field="name"), _sld("units", rules)


_SINGLE_STYLES = ("gaps", "proposals", "added_service_areas")
"""The layers drawn with one symbol."""


def _single_style(layer: str) -> tuple[str, str]:
    """Gap areas (red fill), proposals (labelled orange points) or their added areas."""
    if layer == "gaps":
        sym = _fill(GAP_COLOR, alpha=0.35, line=GAP_COLOR, width=0.5)
        css = {"fill": GAP_COLOR, "fill-opacity": "0.35", "stroke": GAP_COLOR}
        return _qml(_single(sym)), _sld(layer, [(None, None, "polygon", css)])
    if layer == "proposals":
        sym = _marker(PROPOSAL_COLOR, size=4, outline="#000000", width=0.5)
        css = {"fill": PROPOSAL_COLOR, "stroke": "#000000"}
        return _qml(_single(sym), label_field="name"), _sld(layer, [(None, None, "point", css)])
    sym = _fill(PROPOSAL_COLOR, alpha=0.25, line=PROPOSAL_COLOR, dash=True)
    css = {"fill": PROPOSAL_COLOR, "fill-opacity": "0.25", "stroke": PROPOSAL_COLOR}
    return _qml(_single(sym)), _sld(layer, [(None, None, "polygon", css)])


def analysis_layers(coverage: Coverage, region: Region) -> dict[str, gpd.GeoDataFrame]:
    """The layers of an analysis: sites, residents with minutes, units with coverage, gaps, areas."""
    layers: dict[str, gpd.GeoDataFrame] = {}
    sites = region.sites.assign(tier_zh=region.sites["tier"].map(lambda t: TIERS[t]["zh"]))
    layers["sites"] = sites
    layers["residents"] = coverage.in_wgs84("residents")
    if region.units is not None and len(region.units):
        stats = coverage.by_unit.drop(columns=["name", "town"], errors="ignore")
        stats = stats.assign(code=stats["code"].astype(str))
        units = region.units.assign(code=region.units["code"].astype(str))
        units = units.merge(stats, on=["level", "code"], how="left")
        layers["units"] = gpd.GeoDataFrame(units, geometry="geometry", crs=region.units.crs)
    layers["gaps"] = coverage.in_wgs84("gaps")
    layers["service_areas"] = coverage.in_wgs84("service_areas")
    return layers


def _plain_value(value: Any) -> Any:
    # Object columns hold Python values of one kind per column in our layers; anything
    # else (ids that are numbers in one row and text in another) is written as text.
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def gpkg_ready(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in WGS84 with a column named ``fid`` (QGIS exports carry one, often as text)
    renamed ``fid_input``: GeoPackage keeps ``fid`` for its own feature ids."""
    clash = {c: f"{c}_input" for c in frame.columns if str(c).lower() == "fid"}
    return frame.rename(columns=clash).to_crs(4326)


def write_styled_geopackage(layers: dict[str, gpd.GeoDataFrame | None], path: str | Path) -> Path:
    """Write every non-empty layer to ``path`` (WGS84) with its style in ``layer_styles``.

    Parameters
    ----------
    layers
        Layer name -> frame; names must be ones :func:`layer_style` knows.
    path
        The ``.gpkg`` file (replaced when it exists).

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    written = []
    for name, frame in layers.items():
        if frame is None or not len(frame):
            continue
        frame = gpkg_ready(frame.drop(columns=[c for c in ("source_row",) if c in frame]))
        for col in frame.columns:
            if col != frame.geometry.name and frame[col].dtype == object:
                frame[col] = frame[col].map(_plain_value)
                if frame[col].isna().all():  # no type to infer: store as text
                    frame[col] = frame[col].astype("string")
        # GDAL's Arrow writer: a county's 100,000 residents in 1.3 s, not 2.9 s feature by
        # feature (same file: fields, types, values, spatial index).
        frame.to_file(path, layer=name, driver="GPKG", use_arrow=True)
        written.append(name)
    with sqlite3.connect(path) as db:
        geom = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        db.execute(
            "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),"
            " f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,"
            " useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),"
            " update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"
        )
        # One fixed time stamp: the same layers give the same bytes (when the run happened
        # is in summary.json's run record).
        now = FIXED_TIME
        db.execute(
            "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, last_change)"
            " VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
            (now,),
        )
        for name in written:
            qml, sld = layer_style(name)
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name,"
                " f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description,"
                " owner, update_time) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', ?)",
                (name, geom.get(name, "geom"), name, qml, sld, "servicecircle", now),
            )
        db.execute("UPDATE gpkg_contents SET last_change = ?", (now,))
    log.info("wrote %s with layers %s", path, written)
    return path


def write_analysis_gpkg(coverage: Coverage, region: Region, out: str | Path) -> dict[str, Path]:
    """``servicecircle.gpkg`` of an analysis in ``out``."""
    path = write_styled_geopackage(
        analysis_layers(coverage, region), Path(out) / "servicecircle.gpkg"
    )
    return {"gpkg": path}


def write_suggestion_gpkg(
    suggestion: Suggestion, coverage: Coverage, region: Region, out: str | Path
) -> dict[str, Path]:
    """``servicecircle.gpkg`` of a suggestion: the analysis layers plus proposals and their areas."""
    layers = analysis_layers(coverage, region)
    props = suggestion.proposals
    layers["proposals"] = props
    layers["added_service_areas"] = suggestion.added_areas
    return {"gpkg": write_styled_geopackage(layers, Path(out) / "servicecircle.gpkg")}
