"""Synthetic counties written as OSM XML: a grid road network with bends and buildings, points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pyproj import Transformer

from bench.synthetic import CRS, SEEDS, large_network, random_points


def write_county(
    folder: Path,
    n_nodes: int,
    *,
    residents: int,
    sites: int,
    buildings_per_node: float = 0.5,
    seed: int = SEEDS["network"],
) -> dict[str, Path]:
    """Write a county of at least ``n_nodes`` intersections as ``county.osm`` plus point CSVs.

    Every street block is one way with a bend node in its middle (so simplification has work),
    one-way streets carry ``oneway=yes``, primaries ``maxspeed=60``; ``buildings_per_node``
    closed ``building=yes`` ways per intersection make the file look like a real extract, where
    most nodes are no road.

    Returns
    -------
    dict
        ``network``, ``sites`` and ``residents`` paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    network = large_network(seed=seed, n_nodes=n_nodes)
    rng = np.random.default_rng(seed)
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    n = network.n_nodes
    u, v = network.edge_u.astype(np.int64), network.edge_v.astype(np.int64)
    key = u * n + v
    twoway = np.isin(v * n + u, key)
    street = ~twoway | (u < v)  # one way per physical street
    su, sv, hw, oneway = u[street], v[street], network.edge_highway[street], ~twoway[street]
    # A bend node a few metres off the middle of every street.
    mid = 0.5 * (network.node_xy[su] + network.node_xy[sv]) + rng.uniform(-4, 4, (len(su), 2))
    # Buildings: 12 m squares near random intersections.
    n_b = int(buildings_per_node * n)
    corner = network.node_xy[rng.integers(0, n, n_b)] + rng.uniform(15, 40, (n_b, 2))
    square = np.array([[0, 0], [12, 0], [12, 12], [0, 12]], dtype=float)
    b_xy = (corner[:, None, :] + square[None]).reshape(-1, 2)
    xy = np.vstack([network.node_xy, mid, b_xy])
    lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
    ids = np.arange(1, len(xy) + 1)
    mid_id = ids[n : n + len(su)]
    b_id = ids[n + len(su) :].reshape(-1, 4)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="bench">']
    lines += [
        f'<node id="{i}" version="1" lat="{a:.7f}" lon="{o:.7f}"/>'
        for i, a, o in zip(ids.tolist(), lat.tolist(), lon.tolist(), strict=True)
    ]
    way_id = 1
    for a, m, b, h, one in zip(
        (su + 1).tolist(),
        mid_id.tolist(),
        (sv + 1).tolist(),
        hw.tolist(),
        oneway.tolist(),
        strict=True,
    ):
        extra = '<tag k="oneway" v="yes"/>' if one else ""
        if h == "primary":
            extra += '<tag k="maxspeed" v="60"/>'
        lines.append(
            f'<way id="{way_id}" version="1"><nd ref="{a}"/><nd ref="{m}"/><nd ref="{b}"/>'
            f'<tag k="highway" v="{h}"/>{extra}</way>'
        )
        way_id += 1
    for a, b, c, d in b_id.tolist():
        lines.append(
            f'<way id="{way_id}" version="1"><nd ref="{a}"/><nd ref="{b}"/><nd ref="{c}"/>'
            f'<nd ref="{d}"/><nd ref="{a}"/><tag k="building" v="yes"/></way>'
        )
        way_id += 1
    lines.append("</osm>\n")
    paths = {
        "network": folder / "county.osm",
        "sites": folder / "sites.csv",
        "residents": folder / "residents.csv",
    }
    paths["network"].write_text("\n".join(lines), encoding="utf-8")
    share = np.arange(sites) / max(sites, 1)
    tier = np.where(share < 0.02, "中心", np.where(share < 0.2, "所", "站"))
    site_xy = random_points(network, sites, seed=SEEDS["sites"])
    s_lon, s_lat = to_lonlat.transform(site_xy[:, 0], site_xy[:, 1])
    rows = ["id,name,tier,lon,lat"] + [
        f"S{i:05d},site {i},{t},{a:.6f},{b:.6f}"
        for i, (t, a, b) in enumerate(zip(tier.tolist(), s_lon, s_lat, strict=True))
    ]
    paths["sites"].write_text("\n".join(rows) + "\n", encoding="utf-8")
    res_xy = random_points(network, residents, seed=SEEDS["residents"])
    r_lon, r_lat = to_lonlat.transform(res_xy[:, 0], res_xy[:, 1])
    pop = np.random.default_rng(SEEDS["residents"]).integers(1, 60, residents)
    rows = ["id,lon,lat,population"] + [
        f"R{i:07d},{a:.6f},{b:.6f},{p}"
        for i, (a, b, p) in enumerate(zip(r_lon, r_lat, pop.tolist(), strict=True))
    ]
    paths["residents"].write_text("\n".join(rows) + "\n", encoding="utf-8")
    return paths
