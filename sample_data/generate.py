#!/usr/bin/env python3
"""Generate the synthetic sample county "示范县" (Shifan County) used by servicecircle.

Everything here is invented: the county, its towns, villages, roads, residents and
sites do not exist. The generator is deterministic (numpy ``default_rng`` with a fixed
seed, sorted iteration, fixed number formatting), so running it twice gives
byte-identical files::

    .venv/bin/python sample_data/generate.py            # writes next to this script
    .venv/bin/python sample_data/generate.py --out DIR  # writes somewhere else

Outputs: county.osm, units.geojson, residents.csv, sites.csv, candidates.csv and
standards.toml (see README.md in this folder for the columns).

Only the standard library, numpy, shapely and pyproj are used. All geometry is built in
a local transverse-Mercator plane (metres, centred on the county) and converted to
WGS84 when written.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

SEED = 20240615
CENTER_LON, CENTER_LAT = 117.25, 28.26
LOCAL_CRS = (
    f"+proj=tmerc +lat_0={CENTER_LAT} +lon_0={CENTER_LON} +k=1 +x_0=0 +y_0=0 "
    "+ellps=WGS84 +units=m +no_defs"
)
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 117.05, 117.45, 28.10, 28.42
COUNTY_CODE = "360699000000"
COUNTY_NAME = "示范县"
TO_WGS = Transformer.from_crs(LOCAL_CRS, "EPSG:4326", always_xy=True)
TO_LOCAL = Transformer.from_crs("EPSG:4326", LOCAL_CRS, always_xy=True)

SEAT = {"name": "城关镇", "short": "城关", "code3": "001", "kind": "street"}
# Townships in ring order (angle in degrees, counter-clockwise from east).
TOWNSHIPS = [
    {"name": "龙潭镇", "short": "龙潭", "code3": "101", "angle": 0},
    {"name": "双溪镇", "short": "双溪", "code3": "102", "angle": 45},
    {"name": "梅林镇", "short": "梅林", "code3": "103", "angle": 90},
    {"name": "青山乡", "short": "青山", "code3": "201", "angle": 135},
    {"name": "石门镇", "short": "石门", "code3": "104", "angle": 180},
    {"name": "白沙乡", "short": "白沙", "code3": "202", "angle": 225},
    {"name": "黄岗镇", "short": "黄岗", "code3": "105", "angle": 270},
    {"name": "桃源乡", "short": "桃源", "code3": "203", "angle": 315},
]
UNDER_SERVED = ("青山乡", "桃源乡")  # only 2-3 stations each: real coverage gaps
HILL_TOWN = "青山乡"  # holds the disconnected forest track and the 3 far-off residents
VILLAGE_COUNTS = {"龙潭镇": 14, "双溪镇": 13, "梅林镇": 12, "青山乡": 11,
                  "石门镇": 15, "白沙乡": 12, "黄岗镇": 13, "桃源乡": 12}
SEAT_VILLAGES = 5

VILLAGE_STEMS = [
    "上坪", "下坪", "石桥", "枫林", "竹园", "荷塘", "新屋", "塘背", "坑口", "岭下",
    "水口", "大坑", "桥头", "田心", "茶山", "杉树", "松林", "柏树", "源头", "港口",
    "洲上", "湖田", "岗上", "山背", "高坪", "花园", "古城", "官庄", "新塘", "横岗",
    "樟树", "梅溪", "柳溪", "清水", "龙口", "凤凰", "金竹", "银坑", "潭头", "南岭",
    "北山", "东坑", "西岭", "前进", "红星", "和平", "桐木", "麻田", "栗木", "黄泥",
    "白石", "青石", "庙前", "圳上", "陂头", "塘下", "垅口", "坳上", "排上", "坪田",
    "河东", "河西", "沙洲", "渡口", "中洲", "仙岩", "虎山", "鹤田", "丰收", "长岭",
    "长塘", "大塘", "小源", "大源", "西坑", "三门", "五里", "七星", "九龙", "十里",
    "双桥", "新田", "老屋", "前山", "后山", "里坑", "外坑", "江头", "江背", "湾里",
    "洋田", "株林", "桂花", "杨梅", "枧田", "畲下",
    "李家", "王家", "张家", "刘家", "陈家", "杨家", "黄家", "吴家", "徐家", "周家",
    "胡家", "朱家", "何家", "郭家", "罗家", "谢家", "邓家", "彭家", "曾家", "邹家",
    "熊家", "汪家", "程家", "余家", "饶家", "付家", "江家", "夏家", "桂家", "占家",
]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "吴", "徐", "周", "胡", "朱",
            "何", "郭", "罗", "谢", "邓", "彭", "曾", "邹", "熊", "汪", "程", "余"]
GIVEN = ["秀英", "建华", "桂兰", "国平", "玉梅", "志刚", "冬生", "春花", "水根",
         "金莲", "火生", "美华", "长庚", "细妹", "国强", "爱民"]
# Seat communities: name and position in seat-grid coordinates (km, grid-aligned).
SEAT_COMMUNITIES = [
    ("城北社区", -1.0, 1.0), ("北门社区", 0.0, 1.0), ("文昌社区", 1.0, 1.0),
    ("西门社区", -1.1, 0.0), ("中山社区", -0.37, 0.0), ("府前社区", 0.37, 0.0),
    ("东门社区", 1.1, 0.0), ("滨江社区", -1.0, -1.0), ("南门社区", 0.0, -1.0),
    ("城南社区", 1.0, -1.0),
]
SEAT_EW = ["环城南路", "滨江路", "学前街", "中山路", "南门街", "府前街", "人民路",
           "文化路", "北门街", "建设路", "青年路", "育才路", "环城北路"]
SEAT_NS = ["环城西路", "西门路", "公园路", "胜利路", "光明路", "城隍街", "解放路",
           "和平路", "五一路", "新华路", "东风路", "站前路", "环城东路"]
ORD = "一二三四五六"

STANDARDS_TOML = (
    "# Per-tier travel standards: mode (walk, bike, drive) and minutes.\n"
    "# The plan's default is every tier 15 minutes on foot; this example lets the county centre"
    " be reached in 30 minutes by car.\n"
    """\
[default]
mode = "walk"
minutes = 15

[tiers.centre]
mode = "drive"
minutes = 30
"""
)


# --------------------------------------------------------------------------- network
class Net:
    """Nodes (local metres) and ways; node id = index + 1, way id = index + 1."""

    def __init__(self) -> None:
        self.xy: list[tuple[float, float]] = []
        self.ways: list[tuple[list[int], dict[str, str]]] = []

    def node(self, x: float, y: float) -> int:
        self.xy.append((float(x), float(y)))
        return len(self.xy) - 1

    def way(self, nodes: list[int], tags: dict[str, str]) -> int:
        assert len(nodes) >= 2
        self.ways.append((list(nodes), dict(tags)))
        return len(self.ways) - 1

    def p(self, n: int) -> np.ndarray:
        return np.array(self.xy[n])

    def road(self, a: int, b: int, tags: dict[str, str], rng: np.random.Generator,
             step: tuple[float, float] = (50, 80), amp: float = 0.07) -> int:
        """A gently curving road from node a to node b with intermediate nodes."""
        pts = curve(self.p(a), self.p(b), rng.uniform(*step), amp, rng)
        return self.way([a] + [self.node(x, y) for x, y in pts] + [b], tags)


def curve(p0: np.ndarray, p1: np.ndarray, step: float, amp: float,
          rng: np.random.Generator) -> np.ndarray:
    """Interior points of a smooth curve p0 -> p1 (sum of sine bumps across the chord)."""
    vec = p1 - p0
    length = float(np.hypot(*vec))
    n = max(2, math.ceil(length / step))
    t = np.linspace(0.0, 1.0, n + 1)[1:-1]
    d = vec / length
    nrm = np.array([-d[1], d[0]])
    a = rng.normal(0.0, 1.0, 3) * np.array([amp, amp * 0.45, amp * 0.2]) * length
    a = np.clip(a, -2.2 * amp * length, 2.2 * amp * length)
    off = a[0] * np.sin(np.pi * t) + a[1] * np.sin(2 * np.pi * t) + a[2] * np.sin(3 * np.pi * t)
    return p0 + np.outer(t, vec) + np.outer(off, nrm)


def insert_crossings(net: Net) -> int:
    """Add a shared node wherever two ways cross (motorway crossings stay grade-separated)."""
    seg_way, seg_k, seg_a, seg_b = [], [], [], []
    for wi, (nodes, tags) in enumerate(net.ways):
        if tags.get("highway") == "motorway":
            continue
        for k in range(len(nodes) - 1):
            seg_way.append(wi)
            seg_k.append(k)
            seg_a.append(nodes[k])
            seg_b.append(nodes[k + 1])
    xy = np.array(net.xy)
    sa, sb = np.array(seg_a), np.array(seg_b)
    lines = shapely.linestrings(np.stack([xy[sa], xy[sb]], axis=1))
    tree = shapely.STRtree(lines)
    ii, jj = tree.query(lines, predicate="intersects")
    keep = ii < jj
    ii, jj = ii[keep], jj[keep]
    order = np.lexsort((jj, ii))
    ii, jj = ii[order], jj[order]
    inserts: dict[int, list[tuple[float, int]]] = {}
    added = 0
    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        ends_i, ends_j = (seg_a[i], seg_b[i]), (seg_a[j], seg_b[j])
        if set(ends_i) & set(ends_j):
            continue
        p1, p2 = xy[ends_i[0]], xy[ends_i[1]]
        q1, q2 = xy[ends_j[0]], xy[ends_j[1]]
        d1, d2 = p2 - p1, q2 - q1
        den = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(den) < 1e-9:
            continue
        w = q1 - p1
        t = (w[0] * d2[1] - w[1] * d2[0]) / den
        u = (w[0] * d1[1] - w[1] * d1[0]) / den
        li, lj = float(np.hypot(*d1)), float(np.hypot(*d2))
        e_i = ends_i[0] if t * li < 2 else ends_i[1] if (1 - t) * li < 2 else None
        e_j = ends_j[0] if u * lj < 2 else ends_j[1] if (1 - u) * lj < 2 else None
        if e_i is not None and e_j is not None:
            continue
        if e_i is not None:
            inserts.setdefault(j, []).append((u, e_i))
        elif e_j is not None:
            inserts.setdefault(i, []).append((t, e_j))
        else:
            pt = p1 + t * d1
            n = net.node(pt[0], pt[1])
            added += 1
            inserts.setdefault(i, []).append((t, n))
            inserts.setdefault(j, []).append((u, n))
    by_way: dict[int, dict[int, list[tuple[float, int]]]] = {}
    for s, lst in inserts.items():
        by_way.setdefault(seg_way[s], {})[seg_k[s]] = lst
    for wi, per_seg in by_way.items():
        nodes, tags = net.ways[wi]
        out = [nodes[0]]
        for k in range(len(nodes) - 1):
            for _, n in sorted(per_seg.get(k, [])):
                if n != out[-1] and n != nodes[k + 1]:
                    out.append(n)
            out.append(nodes[k + 1])
        net.ways[wi] = (out, tags)
    return added


def components(net: Net) -> list[list[int]]:
    parent = list(range(len(net.xy)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    used = set()
    for nodes, _ in net.ways:
        used.update(nodes)
        for a, b in itertools.pairwise(nodes):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for n in sorted(used):
        groups.setdefault(find(n), []).append(n)
    return sorted(groups.values(), key=len, reverse=True)


# --------------------------------------------------------------------------- geometry
def county_outline(rng: np.random.Generator) -> Polygon:
    th = np.linspace(0, 2 * np.pi, 160, endpoint=False)
    r = np.ones_like(th)
    for k, a in zip((2, 3, 4, 5, 7, 9, 13, 17, 23),
                    (0.04, 0.035, 0.03, 0.02, 0.015, 0.012, 0.008, 0.006, 0.004), strict=True):
        r += a * np.cos(k * th + rng.uniform(0, 2 * np.pi))
    poly = Polygon(np.column_stack([17400 * r * np.cos(th), 16000 * r * np.sin(th)]))
    bx, by = TO_LOCAL.transform([LON_MIN, LON_MAX, LON_MAX, LON_MIN],
                                [LAT_MIN, LAT_MIN, LAT_MAX, LAT_MAX])
    frame = box(max(bx[0], bx[3]) + 400, max(by[0], by[1]) + 400,
                min(bx[1], bx[2]) - 400, min(by[2], by[3]) - 400)
    return shapely.intersection(poly, frame)


def ray_to_boundary(poly: Polygon, origin: np.ndarray, angle_deg: float) -> float:
    a = math.radians(angle_deg)
    far = origin + 60000 * np.array([math.cos(a), math.sin(a)])
    hit = shapely.intersection(LineString([origin, far]), poly.exterior)
    pts = shapely.get_coordinates(hit)
    return float(np.min(np.hypot(*(pts - origin).T)))


def voronoi_cells(points: np.ndarray, clip: Polygon) -> list[Polygon]:
    cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=clip, ordered=True)
    out = []
    for k, cell in enumerate(shapely.get_parts(cells)):
        c = shapely.intersection(cell, clip)
        if c.geom_type != "Polygon":  # keep the part that holds the generator point
            c = next(g for g in shapely.get_parts(c) if g.contains(Point(points[k])))
        assert c.contains(Point(points[k])), "voronoi cell order mismatch"
        out.append(shapely.normalize(c))
    return out


def grid_rot(theta_deg: float) -> np.ndarray:
    a = math.radians(theta_deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def mst(points: np.ndarray) -> list[tuple[int, int]]:
    n = len(points)
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    in_tree = np.zeros(n, bool)
    in_tree[0] = True
    best = dist[0].copy()
    parent = np.zeros(n, int)
    edges = []
    for _ in range(n - 1):
        cand = np.where(in_tree, np.inf, best)
        v = int(np.argmin(cand))
        edges.append((int(parent[v]), v))
        in_tree[v] = True
        upd = dist[v] < best
        best[upd] = dist[v][upd]
        parent[upd] = v
    return edges


# --------------------------------------------------------------------------- builder
def build(rng: np.random.Generator) -> dict:
    net = Net()
    outline = county_outline(rng)

    # ---- town centres and town polygons
    seat_c = np.array([-400.0, 500.0])
    centres = [seat_c]
    for t in TOWNSHIPS:
        ang = t["angle"] + rng.uniform(-9, 9)
        reach = ray_to_boundary(outline, seat_c, ang)
        dist = reach * rng.uniform(0.56, 0.64)
        a = math.radians(ang)
        centres.append(seat_c + dist * np.array([math.cos(a), math.sin(a)]))
    centres = np.array(centres)
    towns = [dict(SEAT)] + [dict(t) for t in TOWNSHIPS]
    for t, c, cell in zip(towns, centres, voronoi_cells(centres, outline), strict=True):
        t["centre"] = c
        t["poly"] = cell
        t["code"] = f"360699{t['code3']}000"
    by_name = {t["name"]: t for t in towns}

    # ---- hill zone (no villages) inside the hill town
    hill_t = by_name[HILL_TOWN]
    inner = hill_t["poly"].buffer(-1300)
    gx, gy = np.meshgrid(np.arange(-20000, 20000, 250.0), np.arange(-20000, 20000, 250.0))
    lattice = np.column_stack([gx.ravel(), gy.ravel()])
    inside = shapely.contains_xy(inner, lattice[:, 0], lattice[:, 1])
    cand = lattice[inside]
    hill = cand[np.argmax(np.hypot(*(cand - hill_t["centre"]).T))]
    hill_r = 3200.0

    # ---- seat street grid (13 x 13 lines, 250 m blocks, 3 segments per block edge)
    seat_rot = grid_rot(8.0)

    def seat_xy(i: float, j: float) -> np.ndarray:
        return seat_c + seat_rot @ np.array([(i - 6) * 250.0, (j - 6) * 250.0])

    corner = {(i, j): net.node(*seat_xy(i, j)) for j in range(13) for i in range(13)}
    oneway_runs = {("ew", 5): 1, ("ew", 7): -1, ("ns", 5): 1, ("ns", 7): -1}
    protected = {("ew", 4, 2), ("ew", 5, 2), ("ns", 8, 2), ("ns", 9, 2)}
    edge_mid: dict[tuple[str, int, int], list[int]] = {}
    for d in ("ew", "ns"):
        for line in range(13):
            names = SEAT_EW if d == "ew" else SEAT_NS
            if line == 6:
                base = {"highway": "primary", "maxspeed": "50", "lanes": "4"}
            elif line in (3, 9):
                base = {"highway": "secondary", "maxspeed": "40"}
            elif line in (0, 12):
                base = {"highway": "tertiary", "maxspeed": "40"}
            else:
                base = {"highway": "residential"}
                if line in (1, 11):
                    base["maxspeed"] = "30"
            present = []
            for k in range(12):
                if (base["highway"] == "residential" and (d, line, k) not in protected
                        and not ((d, line) in oneway_runs and 3 <= k < 9)
                        and rng.random() < 0.06):
                    present.append(False)
                    continue
                present.append(True)
                a = corner[(k, line)] if d == "ew" else corner[(line, k)]
                b = corner[(k + 1, line)] if d == "ew" else corner[(line, k + 1)]
                pa, pb = net.p(a), net.p(b)
                edge_mid[(d, line, k)] = [a] + [net.node(*(pa + (pb - pa) * f))
                                                 for f in (0.25, 0.5, 0.75)] + [b]
            # group into ways: runs of present edges, split at blocks 3 and 9
            k = 0
            while k < 12:
                if not present[k]:
                    k += 1
                    continue
                seg_kind = 0 if k < 3 else 1 if k < 9 else 2
                run = [k]
                while (run[-1] + 1 < 12 and present[run[-1] + 1]
                       and (0 if run[-1] + 1 < 3 else 1 if run[-1] + 1 < 9 else 2) == seg_kind):
                    run.append(run[-1] + 1)
                nodes = edge_mid[(d, line, run[0])][:]
                for kk in run[1:]:
                    nodes += edge_mid[(d, line, kk)][1:]
                tags = dict(base, name=names[line])
                if seg_kind == 1 and (d, line) in oneway_runs:
                    tags["oneway"] = "yes"
                    if oneway_runs[(d, line)] < 0:
                        nodes = nodes[::-1]
                net.way(nodes, dict(sorted(tags.items())))
                k = run[-1] + 1

    # footway / path shortcuts in the seat
    def diag(cells: list[tuple[int, int]], tags: dict[str, str]) -> None:
        nodes = [corner[cells[0]]]
        for c in cells[1:]:
            pa, pb = net.p(nodes[-1]), net.p(corner[c])
            nodes += [net.node(*(pa + (pb - pa) * f)) for f in (1 / 3, 2 / 3)] + [corner[c]]
        net.way(nodes, tags)

    diag([(7, 7), (8, 8), (9, 9)], {"highway": "footway", "name": "人民公园步道"})
    diag([(2, 9), (3, 10)], {"highway": "footway", "name": "学府巷"})
    for (d1, l1, k1), (d2, l2, k2), nm in ((("ew", 4, 2), ("ew", 5, 2), "文庙巷"),
                                         (("ns", 8, 2), ("ns", 9, 2), "书院巷")):
        a, b = edge_mid[(d1, l1, k1)][2], edge_mid[(d2, l2, k2)][2]
        m = net.node(*((net.p(a) + net.p(b)) / 2))
        net.way([a, m, b], {"highway": "footway", "name": nm})
    for (c0, c1, out_dir, nm) in (((0, 4), (0, 8), np.array([-1.0, 0.0]), "护城河步道"),
                                  ((4, 0), (8, 0), np.array([0.0, -1.0]), "滨江绿道")):
        pa, pb = net.p(corner[c0]), net.p(corner[c1])
        t = np.linspace(0, 1, 14)[1:-1]
        off = 70 * np.sin(np.pi * t)
        pts = pa + np.outer(t, pb - pa) + np.outer(off, seat_rot @ out_dir)
        net.way([corner[c0]] + [net.node(*q) for q in pts] + [corner[c1]],
                {"highway": "path", "name": nm})
    seat_perim = [corner[(i, j)] for j in range(13) for i in range(13)
                  if i in (0, 12) or j in (0, 12)]
    seat_grid_nodes = sorted({n for v in edge_mid.values() for n in v})
    towns[0]["perim"] = seat_perim
    towns[0]["grid_nodes"] = seat_grid_nodes

    # ---- township centre grids (4 x 4 lines, 200 m apart, ~600 m across)
    for t in towns[1:]:
        rot = grid_rot(rng.uniform(-15, 15))
        offs = [-300.0, -100.0, 100.0, 300.0]
        cn = {(i, j): net.node(*(t["centre"] + rot @ np.array([offs[i], offs[j]])))
              for j in range(4) for i in range(4)}
        s = t["short"]
        ew_names = ["南街", f"{s}大道", "老街", "北街"]
        ns_names = ["西街", "建设路", "人民路", "东街"]
        gnodes = []
        for d in ("ew", "ns"):
            for line in range(4):
                nodes = []
                for k in range(3):
                    a = cn[(k, line)] if d == "ew" else cn[(line, k)]
                    b = cn[(k + 1, line)] if d == "ew" else cn[(line, k + 1)]
                    pa, pb = net.p(a), net.p(b)
                    mids = [net.node(*(pa + (pb - pa) * f)) for f in (1 / 3, 2 / 3)]
                    nodes += ([a] if k == 0 else []) + mids + [b]
                main = (d == "ew" and line == 1) or (d == "ns" and line == 1)
                tags = {"highway": "tertiary" if main else "residential",
                        "name": (ew_names if d == "ew" else ns_names)[line]}
                if main:
                    tags["maxspeed"] = "40"
                net.way(nodes, tags)
                gnodes += nodes
        t["perim"] = [cn[(i, j)] for j in range(4) for i in range(4)
                      if i in (0, 3) or j in (0, 3)]
        t["grid_nodes"] = sorted(set(gnodes))

    def nearest(cands: list[int], target: np.ndarray) -> int:
        pts = np.array([net.xy[n] for n in cands])
        return cands[int(np.argmin(np.hypot(*(pts - target).T)))]

    # ---- seat <-> township links, ring links between neighbouring townships
    s_refs = iter(["S216", "S318", "S205", "S317"])
    x_refs = iter([f"X{n}" for n in range(101, 140)])
    for k, t in enumerate(towns[1:]):
        a = nearest(seat_perim, t["centre"])
        b = nearest(t["perim"], seat_c)
        if k % 2 == 0:
            tags = {"highway": "secondary", "maxspeed": "60", "ref": next(s_refs)}
        else:
            tags = {"highway": "tertiary", "ref": next(x_refs)}
        tags["name"] = f"城{t['short'][0]}公路"
        t["link"] = net.road(a, b, tags, rng, step=(80, 120), amp=0.05)
    ring = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7), (7, 0)]
    for i, j in ring:
        ti, tj = towns[1 + i], towns[1 + j]
        if ti["name"] in UNDER_SERVED and tj["name"] in UNDER_SERVED:
            continue
        a = nearest(ti["perim"], tj["centre"])
        b = nearest(tj["perim"], ti["centre"])
        net.road(a, b, {"highway": "tertiary", "ref": next(x_refs),
                        "name": f"{ti['short'][0]}{tj['short'][0]}公路"},
                 rng, step=(80, 120), amp=0.06)

    # ---- villages / communities
    stems = list(VILLAGE_STEMS)
    rng.shuffle(stems)
    stems_it = iter(stems)
    all_village_pts: list[np.ndarray] = []
    units = []  # village-level units
    for t in towns:
        t["units"] = []
        if t is towns[0]:
            for nm, u, v in SEAT_COMMUNITIES:
                ju, jv = rng.uniform(-0.3, 0.3, 2)
                pos = seat_xy(6 + u * 4 + ju, 6 + v * 4 + jv)
                t["units"].append({"name": nm, "kind": "community", "pos": pos,
                                   "node": nearest(seat_grid_nodes, pos)})
        else:
            t["units"].append({"name": f"{t['short']}社区", "kind": "community",
                               "pos": t["centre"].copy(),
                               "node": nearest(t["grid_nodes"], t["centre"])})
        n_vill = SEAT_VILLAGES if t is towns[0] else VILLAGE_COUNTS[t["name"]]
        zone = t["poly"].buffer(-450)
        x0, y0, x1, y1 = zone.bounds
        min_centre = 2900 if t is towns[0] else 1400
        spacing, tries, placed = 1900.0, 0, []
        while len(placed) < n_vill:
            tries += 1
            if tries % 500 == 0:
                spacing *= 0.92
            p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            if not shapely.contains_xy(zone, p[0], p[1]):
                continue
            if np.hypot(*(p - t["centre"])) < min_centre or np.hypot(*(p - hill)) < hill_r:
                continue
            if any(np.hypot(*(p - q)) < spacing for q in placed + all_village_pts):
                continue
            placed.append(p)
        all_village_pts += placed
        placed.sort(key=lambda q: (math.atan2(q[1] - t["centre"][1], q[0] - t["centre"][0])))
        for p in placed:
            t["units"].append({"name": next(stems_it) + "村", "kind": "village", "pos": p,
                               "node": net.node(*p)})
        nc = nv = 0
        for u in t["units"]:
            if u["kind"] == "community":
                nc += 1
                u["code"] = f"{t['code'][:9]}{nc:03d}"
            else:
                nv += 1
                u["code"] = f"{t['code'][:9]}{200 + nv:03d}"
            u["town"] = t
            units.append(u)
        cells = voronoi_cells(np.array([u["pos"] for u in t["units"]]), t["poly"])
        for u, c in zip(t["units"], cells, strict=True):
            u["poly"] = c

    # rural roads: minimum spanning tree per town (centre + villages), plus a few loops
    linked: set[tuple[int, int]] = set()
    y_refs = iter([f"Y{n:03d}" for n in range(1, 400)])
    for t in towns:
        vill = [u for u in t["units"] if u["kind"] == "village"]
        pts = np.array([t["centre"]] + [u["pos"] for u in vill])
        for a, b in mst(pts):
            if a > b:
                a, b = b, a
            vb = vill[b - 1]
            if a == 0:
                na = nearest(t["perim"], vb["pos"])
                nm = f"{t['short'][0]}{vb['name'][0]}线"
            else:
                va = vill[a - 1]
                na = va["node"]
                nm = f"{va['name'][0]}{vb['name'][0]}线"
            net.road(na, vb["node"], {"highway": "unclassified", "name": nm,
                                      "ref": next(y_refs)}, rng)
            linked.add((min(na, vb["node"]), max(na, vb["node"])))
    every_v = [u for u in units if u["kind"] == "village"]
    vpts = np.array([u["pos"] for u in every_v])
    for k, u in enumerate(every_v):
        if rng.random() > 0.75:
            continue
        d = np.hypot(*(vpts - u["pos"]).T)
        d[k] = np.inf
        for j in np.argsort(d)[:3]:
            key = (min(u["node"], every_v[j]["node"]), max(u["node"], every_v[j]["node"]))
            if key in linked or d[j] > 3800:
                continue
            v = every_v[j]
            hw = "track" if rng.random() < 0.6 else "unclassified"
            tags = {"highway": hw, "name": f"{u['name'][:2]}至{v['name'][:2]}便道"
                    if hw == "track" else f"{u['name'][0]}{v['name'][0]}线"}
            if hw == "track":
                tags["tracktype"] = "grade3"
            net.road(u["node"], v["node"], tags, rng)
            linked.add(key)
            break
    # village lanes (spurs) around each village centre
    for u in every_v:
        n_sp = int(rng.integers(3, 6))
        base = rng.uniform(0, 2 * np.pi)
        for s in range(n_sp):
            ang = base + s * 2 * np.pi / n_sp + rng.uniform(-0.4, 0.4)
            ln = rng.uniform(300, 800)
            end = u["pos"] + ln * np.array([math.cos(ang), math.sin(ang)])
            if not shapely.contains_xy(u["poly"], end[0], end[1]):
                end = u["pos"] + 0.5 * ln * np.array([math.cos(ang), math.sin(ang)])
            e = net.node(*end)
            if s == 0 or rng.random() < 0.5:
                tags = {"highway": "residential", "name": f"{u['name']}{ORD[s]}组路"}
            else:
                tags = {"highway": "track", "name": f"{u['name']}机耕道", "tracktype": "grade2"}
            net.road(u["node"], e, tags, rng, step=(50, 80), amp=0.1)

    # ---- trunk highway G320 crossing the county west -> east, south of the seat
    south_mid = seat_xy(6, -2.2)
    yw, ye = south_mid[1] - 2600, south_mid[1] - 900
    xw = shapely.get_coordinates(shapely.intersection(
        LineString([(-30000, yw), (south_mid[0], yw)]), outline.exterior))[:, 0].min() + 60
    xe = shapely.get_coordinates(shapely.intersection(
        LineString([(south_mid[0], ye), (30000, ye)]), outline.exterior))[:, 0].max() - 60
    wps = np.array([[xw, yw], [xw * 0.55, yw + 300], [south_mid[0] - 2500, south_mid[1] - 250],
                    south_mid, [south_mid[0] + 3000, south_mid[1] + 150], [xe * 0.6, ye - 200],
                    [xe, ye]])
    trunk_pts = catmull_rom(wps, 130.0)
    trunk_nodes = [net.node(*q) for q in trunk_pts]
    net.way(trunk_nodes, {"highway": "trunk", "name": "320国道", "ref": "G320",
                          "maxspeed": "80", "lanes": "4"})
    for i in (4, 8):  # two connectors from the seat's south edge to the trunk
        a = corner[(i, 0)]
        b = nearest(trunk_nodes, net.p(a))
        net.road(a, b, {"highway": "tertiary", "name": f"{SEAT_NS[i]}南延线",
                        "maxspeed": "40"}, rng, step=(70, 90), amp=0.03)

    # ---- short motorway G60 (two oneway carriageways) from the trunk to 城石公路
    shimen = by_name["石门镇"]
    link_nodes = net.ways[shimen["link"]][0]
    m_end = link_nodes[int(len(link_nodes) * 0.45)]
    m_start = nearest(trunk_nodes, net.p(m_end) + np.array([-4500.0, -3000.0]))
    ps, pe = net.p(m_start), net.p(m_end)
    mid = curve(ps, pe, 120.0, 0.04, rng)
    dvec = (pe - ps) / np.hypot(*(pe - ps))
    nrm = np.array([-dvec[1], dvec[0]])
    tt = np.linspace(0, 1, len(mid) + 2)[1:-1]
    sep = 18 * np.minimum(1.0, 6 * np.minimum(tt, 1 - tt))[:, None] * nrm
    mtags = {"highway": "motorway", "name": "沪昆高速", "ref": "G60", "oneway": "yes",
             "maxspeed": "120", "lanes": "2"}
    net.way([m_start] + [net.node(*q) for q in mid - sep] + [m_end], mtags)
    net.way([m_end] + [net.node(*q) for q in (mid + sep)[::-1]] + [m_start], mtags)

    added = insert_crossings(net)

    # ---- the deliberately disconnected forest track in the hills
    def road_lines(include_motorway: bool = True) -> np.ndarray:
        xy = np.array(net.xy)
        return np.array([LineString(xy[nodes]) for nodes, tags in net.ways
                         if include_motorway or tags.get("highway") != "motorway"])

    lines = road_lines()
    tree = shapely.STRtree(lines)
    hz = hill_t["poly"].buffer(-500)
    cand = lattice[shapely.contains_xy(hz, lattice[:, 0], lattice[:, 1])]
    _, dist = tree.query_nearest(shapely.points(cand), return_distance=True, all_matches=False)
    piece_c = cand[int(np.argmax(dist))]
    assert dist.max() > 1800, f"hill zone too small ({dist.max():.0f} m)"
    ang = rng.uniform(0, np.pi)
    dvec = np.array([math.cos(ang), math.sin(ang)])
    side = np.array([-dvec[1], dvec[0]])
    piece = [net.node(*(piece_c + f * 85 * dvec + 25 * math.sin(f * 1.3) * side))
             for f in (-2, -1, 0, 1, 2)]
    net.way(piece, {"highway": "track", "name": "青山林场便道", "tracktype": "grade4"})
    comps = components(net)
    assert len(comps) == 2 and len(comps[1]) == 5, [len(c) for c in comps]

    # the 3 residents far out in the hills (> 1 km from any road)
    lines = road_lines()
    tree = shapely.STRtree(lines)
    _, dist = tree.query_nearest(shapely.points(cand), return_distance=True, all_matches=False)
    ok = cand[dist > 1050]
    for u in hill_t["units"]:  # far-off homesteads belong to villages, not the town community
        if u["kind"] == "community":
            ok = ok[~shapely.contains_xy(u["poly"], ok[:, 0], ok[:, 1])]
    far: list[np.ndarray] = []
    for k in rng.permutation(len(ok)):
        p = ok[k]
        if all(np.hypot(*(p - q)) > 700 for q in far):
            far.append(p)
        if len(far) == 3:
            break
    assert len(far) == 3

    return {"net": net, "outline": outline, "towns": towns, "units": units,
            "trunk": trunk_nodes, "far": far, "crossings": added, "hill": hill}


def catmull_rom(wps: np.ndarray, step: float) -> np.ndarray:
    """Smooth curve through the waypoints, resampled to (nearly) equal spacing."""
    pts = [wps[0]]
    ext = np.vstack([2 * wps[0] - wps[1], wps, 2 * wps[-1] - wps[-2]])
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        n = max(2, math.ceil(np.hypot(*(p2 - p1)) / step)) * 10
        for t in np.linspace(0, 1, n + 1)[1:]:
            t2, t3 = t * t, t * t * t
            pts.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    dense = np.array(pts)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(dense, axis=0).T))])
    at = np.linspace(0.0, cum[-1], max(2, math.ceil(cum[-1] / step)) + 1)
    return np.column_stack([np.interp(at, cum, dense[:, 0]), np.interp(at, cum, dense[:, 1])])


# --------------------------------------------------------------------------- people & sites
def offset_point(rng: np.random.Generator, p: np.ndarray, rmin: float, rmax: float) -> np.ndarray:
    ang = rng.uniform(0, 2 * np.pi)
    r = rng.uniform(rmin, rmax)
    return p + r * np.array([math.cos(ang), math.sin(ang)])


def place_near(rng, anchors: np.ndarray, poly: Polygon, rmin: float, rmax: float) -> np.ndarray:
    for _ in range(60):
        p = offset_point(rng, anchors[int(rng.integers(len(anchors)))], rmin, rmax)
        if shapely.contains_xy(poly, p[0], p[1]):
            return p
    raise RuntimeError("could not place a point inside its unit")


def people_and_sites(rng: np.random.Generator, world: dict) -> dict:
    net, towns, units = world["net"], world["towns"], world["units"]
    xy = np.array(net.xy)
    usable = np.zeros(len(xy), bool)
    for nodes, tags in net.ways[:-1]:  # the last way is the isolated forest track
        if tags["highway"] != "motorway":
            usable[nodes] = True
    uxy = xy[usable]

    def anchors_for(u: dict, radius: float) -> np.ndarray:
        near = np.hypot(*(uxy - u["pos"]).T) <= radius
        a = uxy[near]
        a = a[shapely.contains_xy(u["poly"], a[:, 0], a[:, 1])]
        assert len(a) >= 3, u["name"]
        return a

    residents = []
    for u in units:
        t = u["town"]
        if u["kind"] == "community" and t is towns[0]:
            n, a, rmax, shape, scale = int(rng.integers(60, 121)), anchors_for(u, 900), 110, 2.2, 27
        elif u["kind"] == "community":
            n, a, rmax, shape, scale = int(rng.integers(40, 71)), anchors_for(u, 600), 150, 2.0, 17
        else:
            n, a, rmax, shape, scale = int(rng.integers(25, 61)), anchors_for(u, 800), 280, 2.0, 13
        for _ in range(n):
            p = place_near(rng, a, u["poly"], 12, rmax)
            pop = int(np.clip(round(3 + rng.gamma(shape, scale)), 3, 120))
            residents.append((p, pop, u))
    for p in world["far"]:
        u = unit_at(units, p)
        residents.append((p, int(rng.integers(4, 10)), u))

    # ---- sites
    sites = []

    def site(name, tier, p, rooms, staff, teams, acts):
        u = unit_at(units, p)
        sites.append({"name": name, "tier": tier, "p": p, "unit": u, "rooms": rooms,
                      "staff": staff, "teams": teams, "acts": acts})

    def near_node(p: np.ndarray) -> np.ndarray:
        return uxy[int(np.argmin(np.hypot(*(uxy - p).T)))]

    seat = towns[0]
    sc = seat["centre"]
    site(f"{COUNTY_NAME}新时代文明实践中心", "中心",
         offset_point(rng, near_node(sc + np.array([180.0, 60.0])), 15, 35), 8, 6, 20, 60)
    for t in towns:
        tier = "institute" if t["name"] == "石门镇" else "所"
        low = t["name"] == "黄岗镇"  # one institute below standard
        site(f"{t['name']}新时代文明实践所", tier,
             offset_point(rng, near_node(t["centre"] + rng.uniform(-120, 120, 2)), 10, 40),
             3 if low else int(rng.integers(4, 8)), 1 if low else int(rng.integers(2, 6)),
             int(rng.integers(5, 16)), 10 if low else int(rng.integers(24, 53)))
    english_station = {"梅林镇": 2, "龙潭镇": 4}  # position among the town's stations
    below = 0
    for t in towns:
        tus = t["units"]
        if t["name"] in UNDER_SERVED:
            keep_n = 2 if t["name"] == HILL_TOWN else 3
            order = sorted(range(len(tus)), key=lambda k: np.hypot(*(tus[k]["pos"] - t["centre"])))
            chosen = sorted(order[:keep_n])
        else:
            chosen = [k for k in range(len(tus)) if tus[k]["kind"] == "community"
                      or rng.random() < 0.86]
        for pos, k in enumerate(chosen):
            u = tus[k]
            tier = "station" if english_station.get(t["name"]) == pos else "站"
            weak = t["name"] not in UNDER_SERVED and below < 6 and rng.random() < 0.08
            below += weak
            site(f"{u['name']}新时代文明实践站", tier,
                 offset_point(rng, net.p(u["node"]), 5, 45),
                 2 if weak else int(rng.integers(2, 6)), 0 if weak else int(rng.integers(1, 4)),
                 1 if weak else int(rng.integers(1, 7)),
                 int(rng.integers(4, 7)) if weak else int(rng.integers(8, 41)))

    def seat_pt(u: float, v: float) -> np.ndarray:
        rot = grid_rot(8.0)
        return offset_point(rng, near_node(sc + rot @ np.array([u, v]) * 1000), 20, 50)

    bases = [
        ("示范县博物馆", seat_pt(-0.6, 0.3), (6, 3, 4, 36)),
        ("示范县图书馆", seat_pt(0.55, -0.35), (5, 3, 5, 40)),
        ("示范县第一中学", seat_pt(-0.95, -0.7), (4, 2, 3, 16)),
        ("示范县赣鄱食品有限公司", offset_point(
            rng, near_node(net.p(world["trunk"][int(len(world["trunk"]) * 0.62)])), 25, 60),
         (3, 1, 2, 12)),
        ("白沙乡革命烈士纪念馆", offset_point(
            rng, net.p(next(u for u in towns[6]["units"] if u["kind"] == "village")["node"]),
            30, 60), (3, 1, 2, 8)),
    ]
    for nm, p, (r, s, tm, ac) in bases:
        site(f"{nm}新时代文明实践基地", "基地", p, r, s, tm, ac)

    def town_pt(t: dict) -> np.ndarray:
        return offset_point(rng, near_node(t["centre"] + rng.uniform(-250, 250, 2)), 15, 45)

    tn = {t["name"]: t for t in towns}
    volunteer = [
        ("城关汽车站", seat_pt(0.1, -1.65)), ("县人民医院", seat_pt(0.9, 0.6)),
        ("城关农贸市场", seat_pt(-0.4, -0.45)), ("人民广场", seat_pt(0.05, 0.2)),
        ("龙潭镇农贸市场", town_pt(tn["龙潭镇"])), ("石门镇汽车站", town_pt(tn["石门镇"])),
        ("双溪镇集贸市场", town_pt(tn["双溪镇"])), ("黄岗镇汽车站", town_pt(tn["黄岗镇"])),
    ]
    for nm, p in volunteer:
        site(f"{nm}志愿服务站点", "志愿服务站点", p, int(rng.integers(2, 4)),
             int(rng.integers(0, 3)), int(rng.integers(1, 6)), int(rng.integers(12, 49)))
    fam_pool = [u for u in units if u["kind"] == "village"
                and u["town"]["name"] not in UNDER_SERVED]
    for k in sorted(rng.choice(len(fam_pool), size=6, replace=False).tolist()):
        u = fam_pool[k]
        person = SURNAMES[int(rng.integers(len(SURNAMES)))] + GIVEN[int(rng.integers(len(GIVEN)))]
        site(f"{u['name']}{person}家庭文明实践站", "家庭站",
             offset_point(rng, anchors_for(u, 700)[0], 20, 60), 2,
             int(rng.integers(0, 2)), int(rng.integers(1, 3)), int(rng.integers(4, 13)))

    # ---- candidate idle buildings
    cands = []
    used_names: set[str] = set()
    kinds = ["idle_school", "idle_house", "idle_factory", "public_venue"]
    zh = {"idle_school": "闲置校舍", "idle_house": "闲置民宅", "idle_factory": "闲置厂房"}
    for t in towns:
        n = 10 if t is towns[0] else 34 if t["name"] in UNDER_SERVED else 12
        tus = t["units"]
        for _ in range(n):
            u = tus[int(rng.integers(len(tus)))]
            kind = kinds[int(rng.choice(4, p=[0.2, 0.4, 0.15, 0.25]))]
            short = u["name"][:-2] if u["name"].endswith("社区") else u["name"][:-1]
            if kind == "idle_school":
                base, rooms = f"原{short}小学校舍", int(rng.integers(2, 11))
            elif kind == "idle_house":
                base = f"{u['name']}闲置民宅（{SURNAMES[int(rng.integers(len(SURNAMES)))]}宅）"
                rooms = int(rng.integers(1, 6))
            elif kind == "idle_factory":
                what = ["砖瓦厂", "农机厂", "竹木加工厂", "茶厂", "碾米厂"][int(rng.integers(5))]
                base, rooms = f"原{short}{what}厂房", int(rng.integers(2, 9))
            else:
                what = ["文化礼堂", "祠堂", "老年活动中心", "农家书屋", "村民议事厅"]
                base, rooms = f"{u['name']}{what[int(rng.integers(5))]}", int(rng.integers(2, 9))
            name, k = base, 2
            while name in used_names:
                name, k = f"{base}{k}号", k + 1
            used_names.add(name)
            if kind in zh and rng.random() < 0.3:
                kind = zh[kind]
            p = place_near(rng, anchors_for(u, 900), u["poly"], 30, 170)
            cands.append({"name": name, "kind": kind, "p": p, "rooms": rooms, "town": t})
    return {"residents": residents, "sites": sites, "cands": cands}


def unit_at(units: list[dict], p: np.ndarray) -> dict:
    for u in units:
        if shapely.contains_xy(u["poly"], p[0], p[1]):
            return u
    raise RuntimeError(f"point {p} outside every unit")


# --------------------------------------------------------------------------- writers
def lonlat(pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, float).reshape(-1, 2)
    lon, lat = TO_WGS.transform(pts[:, 0], pts[:, 1])
    return np.column_stack([lon, lat])


def write_osm(path: Path, net: Net, outline: Polygon) -> tuple[int, int]:
    used = sorted({n for nodes, _ in net.ways for n in nodes})
    ll = lonlat(np.array(net.xy)[used])
    ob = lonlat(np.array(outline.exterior.coords))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<osm version="0.6" generator="servicecircle sample generator">',
             f'  <bounds minlat="{ob[:, 1].min():.7f}" minlon="{ob[:, 0].min():.7f}" '
             f'maxlat="{ob[:, 1].max():.7f}" maxlon="{ob[:, 0].max():.7f}"/>']
    for n, (lo, la) in zip(used, ll, strict=True):
        lines.append(f'  <node id="{n + 1}" lat="{la:.7f}" lon="{lo:.7f}" version="1"/>')
    for wi, (nodes, tags) in enumerate(net.ways):
        lines.append(f'  <way id="{wi + 1}" version="1">')
        lines += [f'    <nd ref="{n + 1}"/>' for n in nodes]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items())]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(used), len(net.ways)


def snap_coverage(polys: list[Polygon]) -> list[Polygon]:
    """Insert every neighbour vertex lying on a polygon's edges, so shared edges match exactly."""
    allv = MultiPoint(np.unique(np.vstack([shapely.get_coordinates(p) for p in polys]), axis=0))
    return [shapely.snap(p, allv, 1e-4) for p in polys]


def geo_ring(coords: np.ndarray) -> list[list[float]]:
    ll = np.round(lonlat(coords), 7)
    out = [ll[0]]
    for q in ll[1:]:
        if not np.array_equal(q, out[-1]):
            out.append(q)
    return [[float(a), float(b)] for a, b in out]


def write_units(path: Path, towns: list[dict], units: list[dict]) -> list[Polygon]:
    polys = snap_coverage([t["poly"] for t in towns] + [u["poly"] for u in units])
    rows = []
    for t, poly in zip(towns, polys[: len(towns)], strict=True):
        rows.append(({"code": t["code"], "name": t["name"], "level": "town",
                      "town_code": t["code"], "town": t["name"]}, poly))
    for u, poly in zip(units, polys[len(towns):], strict=True):
        rows.append(({"code": u["code"], "name": u["name"], "level": "village",
                      "town_code": u["town"]["code"], "town": u["town"]["name"]}, poly))
    feats = []
    out_polys = []
    for props, poly in rows:
        poly = shapely.normalize(poly)
        ext = geo_ring(np.array(poly.exterior.coords))
        holes = [geo_ring(np.array(r.coords)) for r in poly.interiors]
        # GeoJSON (RFC 7946): exterior ring counter-clockwise
        g = shapely.orient_polygons(Polygon(ext, holes))
        out_polys.append(g)
        coords = [[[float(a), float(b)] for a, b in g.exterior.coords]]
        coords += [[[float(a), float(b)] for a, b in r.coords] for r in g.interiors]
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": coords}})
    fc = {"type": "FeatureCollection", "name": "units",
          "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
          "features": feats}
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    text = text.replace('{"type":"Feature"', '\n{"type":"Feature"')
    path.write_text(text + "\n", encoding="utf-8")
    return out_polys


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


AUDIT_YEAR = 2025
NAMED_TEAMS = [  # the county centre's 17 named teams (the plan, 三.2)
    "理论政策宣讲", "文化文艺服务", "社科普及惠民", "助学支教", "医疗健身", "科学普及",
    "法律服务", "卫生环保", "扶难解困", "文明倡导", "心理关爱", "应急救援", "便民服务",
    "敬老爱老", "关爱未成年人", "美德健康生活方式", "移风易俗",
]
# How the centre's roster writes them: some by an alias, one by a near-miss spelling.
CENTRE_ROSTER = {"法律服务": "普法", "心理关爱": "心理健康", "医疗健身": "医疗卫生健身"}
CENTRE_MISSING = "应急救援"  # planted: the centre has no emergency-rescue team
CENTRE_EXTRA = ["巾帼", "青年", "退役军人"]
FUNCTION_STYLES = [
    "理论宣讲、教育服务、文化活动、体育健身、科学普及",
    "理论宣讲;教育服务;文化活动;体育健身;科学普及",
    "theory, education, culture, sport, science",
    "宣讲、教育、文化、健身、科普",
]
STATION_TYPES = ["文化活动", "教育服务", "体育健身", "科学普及", "其他"]


def is_audited(tier: str) -> bool:
    return tier in ("中心", "所", "institute", "站", "station")


def audit_data(rng: np.random.Generator, world: dict, extra: dict) -> dict:
    """Site attributes, team rosters, the 2025 activity ledger, brand projects, unit figures
    and venues, with planted failures of every audit rule (a second random stream, so the
    original files do not change)."""
    sites = extra["sites"]
    ids = [f"S{k + 1:04d}" for k in range(len(sites))]
    tier_of = {sid: s["tier"] for sid, s in zip(ids, sites, strict=True)}
    centre = [sid for sid in ids if tier_of[sid] == "中心"]
    institutes = [sid for sid in ids if tier_of[sid] in ("所", "institute")]
    stations = [sid for sid in ids if tier_of[sid] in ("站", "station")]
    by_id = dict(zip(ids, sites, strict=True))
    weak = [sid for sid in stations if by_id[sid]["acts"] <= 6]  # the 6 stations below standard
    healthy = [sid for sid in stations if sid not in weak and by_id[sid]["rooms"] >= 3
               and by_id[sid]["staff"] >= 1]
    picks = [healthy[int(i)] for i in rng.choice(len(healthy), size=14, replace=False)]
    no_function, no_desk, blank_desk = picks[0:3], picks[3:5], picks[5]
    no_manager, two_teams, no_teams = picks[6], picks[7:10], picks[10]
    no_project, acts_11, acts_12 = picks[11], picks[12], picks[13]
    community = [sid for sid in healthy if by_id[sid]["unit"]["kind"] == "community"
                 and sid not in picks]
    rural = [sid for sid in healthy if by_id[sid]["unit"]["kind"] == "village" and sid not in picks]
    talks_3, talks_4 = community[0], community[1]
    talks_1, talks_2 = rural[0], rural[1]
    inst_few_teams, inst_few_projects = institutes[3], institutes[5]
    huanggang = next(sid for sid in institutes if by_id[sid]["name"].startswith("黄岗镇"))
    inst_lazy_team = institutes[1]
    planted: list[tuple[str, str, str, str]] = []  # level, where_id, rule, status

    def person() -> str:
        return SURNAMES[int(rng.integers(len(SURNAMES)))] + GIVEN[int(rng.integers(len(GIVEN)))]

    # ---- site attributes
    attrs = {}
    for sid in ids:
        s = by_id[sid]
        functions = FUNCTION_STYLES[int(rng.integers(len(FUNCTION_STYLES)))]
        if sid in no_function:
            functions = "理论宣讲、教育服务、文化活动、体育健身"
        desk = ["是", "有", "yes"][int(rng.integers(3))]
        desk = "否" if sid in no_desk else "" if sid == blank_desk else desk
        manager = "" if sid == no_manager else person()
        attrs[sid] = {"functions": functions, "desk": desk,
                      "open_hours": "周二至周日 9:00-17:00", "manager": manager,
                      "phone": f"0793-{int(rng.integers(5200000, 5299999))}"}
        if not is_audited(s["tier"]):
            continue
        if s["rooms"] < 3:
            planted.append(("site", sid, "rooms", "fail"))
        need_staff = {"中心": 5, "所": 2, "institute": 2}.get(s["tier"], 1)
        if s["staff"] < need_staff:
            planted.append(("site", sid, "staff", "fail"))
        if sid in no_function:
            planted.append(("site", sid, "functions", "fail"))
        if sid in no_desk:
            planted.append(("site", sid, "desk", "fail"))
        if sid == blank_desk:
            planted.append(("site", sid, "desk", "no_data"))

    # ---- team rosters
    teams: list[list] = []
    team_of: dict[str, list[str]] = {}
    for sid in ids:
        s = by_id[sid]
        town = s["unit"]["town"]["name"]
        if s["tier"] == "中心":
            names = [f"{COUNTY_NAME}{CENTRE_ROSTER.get(n, n)}志愿服务队"
                     for n in NAMED_TEAMS if n != CENTRE_MISSING]
            names += [f"{COUNTY_NAME}{x}志愿服务队" for x in CENTRE_EXTRA]
            planted.append(("site", sid, "teams", "fail"))
        elif s["tier"] in ("所", "institute"):
            n = 4 if sid == inst_few_teams else int(rng.integers(5, 9))
            names = [f"{town}{NAMED_TEAMS[(k * 3) % 17]}志愿服务队" for k in range(n)]
            if n < 5:
                planted.append(("site", sid, "teams", "fail"))
        elif s["tier"] in ("站", "station"):
            n = 1 if sid in weak else 2 if sid in two_teams else 0 if sid == no_teams \
                else int(rng.integers(3, 6))
            stem = s["unit"]["name"]
            names = [f"{stem}{['文明实践', '巾帼', '青年', '党员', '老年'][k]}志愿服务队"
                     for k in range(n)]
            if n < 3:
                planted.append(("site", sid, "teams", "fail"))
        else:
            names = [f"{s['name'][:4]}志愿服务队"]
        team_of[sid] = names
        for name in names:
            teams.append([sid, name, int(rng.integers(8, 61))])

    # ---- activity ledger
    days = np.arange(np.datetime64(f"{AUDIT_YEAR}-01-01"), np.datetime64(f"{AUDIT_YEAR + 1}-01-01"))
    acts: list[list] = []

    def log(sid: str, team: str, kind: str, k: int) -> None:
        day = str(days[int(rng.integers(len(days)))])
        title = f"{by_id[sid]['name'].split('新时代文明实践')[0]}{kind}第{k}期"
        people = int(rng.integers(8, 160))
        acts.append([day, sid, team, kind, title, people,
                     f"{people * float(rng.uniform(0.5, 3.0)) / 4:.1f}"])

    for sid in ids:
        s = by_id[sid]
        names = team_of[sid]
        if s["tier"] in ("中心", "所", "institute"):
            total = 0
            for ti, team in enumerate(names):
                n = int(rng.integers(13, 21))
                if sid == huanggang:
                    n = 2
                elif sid == inst_lazy_team and ti == 0:
                    n = 11
                elif s["tier"] == "中心" and ti == 9:
                    n = 12  # exactly the minimum: passes
                for k in range(n):
                    kind = "理论宣讲" if k % 4 == 0 else STATION_TYPES[k % 5]
                    if s["tier"] == "中心" and ti == 0 and k == 0:
                        kind = "培训"  # the centre's only training: one short of the plan
                    log(sid, team, kind, k + 1)
                if n < 12:
                    planted.append(("team", f"{sid}/{team}", "team_activity", "fail"))
                total += n
            if total < 12:
                planted.append(("site", sid, "activities", "fail"))
            if s["tier"] == "中心":
                planted.append(("site", sid, "training", "fail"))
            continue
        if s["tier"] in ("站", "station"):
            kind_u = s["unit"]["kind"]
            theory = int(rng.integers(5, 13)) if kind_u == "community" else int(rng.integers(3, 9))
            total = int(rng.integers(60, 420))
            if sid in weak:
                total = s["acts"]
                theory = 4 if kind_u == "community" else 2
            elif sid == acts_11:
                total, theory = 11, min(theory, 5)
            elif sid == acts_12:
                total, theory = 12, min(theory, 5)
            theory = {talks_3: 3, talks_4: 4, talks_1: 1, talks_2: 2}.get(sid, theory)
            if total < 12:
                planted.append(("site", sid, "activities", "fail"))
            if theory < (4 if kind_u == "community" else 2):
                planted.append(("site", sid, "theory_talks", "fail"))
        else:
            theory, total = 0, int(rng.integers(30, 150))
        for k in range(total):
            team = names[k % len(names)] if names else ""
            kind = ["理论宣讲", "理论政策宣讲"][k % 2] if k < theory else \
                STATION_TYPES[int(rng.integers(len(STATION_TYPES)))]
            log(sid, team, kind, k + 1)
    acts.sort(key=lambda r: (r[0], r[1], r[2], r[4]))
    # planted bad rows: every one is rejected with its reason and counts for nothing
    first = acts[100]
    bad = [
        [f"{AUDIT_YEAR - 1}-12-31", first[1], first[2], "文化活动", "跨年晚会", 120, "60.0"],
        [first[0], "S9999", "", "文化活动", "不存在站点的活动", 30, "10.0"],
        [first[0], first[1], first[2], "文化活动", "人数写错的活动", -5, "2.0"],
        [f"{AUDIT_YEAR}-13-01", first[1], first[2], "文化活动", "日期写错的活动", 30, "10.0"],
        list(first),  # a duplicated row
    ]
    acts[200:200] = bad

    # ---- brand projects
    projects: list[list] = []
    for sid in ids:
        s = by_id[sid]
        if s["tier"] == "中心":
            n, level = 4, "县级"  # the county has < 500,000 people: needs 5
            planted.append(("site", sid, "brand_projects", "fail"))
        elif s["tier"] in ("所", "institute"):
            n, level = (2 if sid == inst_few_projects else int(rng.integers(3, 5))), "乡镇级"
            if n < 3:
                planted.append(("site", sid, "brand_projects", "fail"))
        elif s["tier"] in ("站", "station"):
            n, level = (0 if sid == no_project else int(rng.integers(1, 3))), "村级"
            if n < 1:
                planted.append(("site", sid, "brand_projects", "fail"))
        else:
            continue
        for k in range(n):
            where = [sid, ""]
            if level == "村级" and k == 1:  # some projects name the village, not the site
                where = ["", s["unit"]["code"]]
            projects.append([f"{s['name'].split('新时代文明实践')[0]}{['红色宣讲', '邻里守望', '书香', '好家风'][k % 4]}"
                             f"{'工程' if k % 2 else '行动'}", level, *where])

    # ---- five haves: every village and community
    station_at: dict[str, list[str]] = {}
    for sid in stations:
        station_at.setdefault(by_id[sid]["unit"]["code"], []).append(sid)
    for u in world["units"]:
        here = station_at.get(u["code"], [])
        lacks = (not here or all(sid in (no_teams, no_project, no_manager) for sid in here))
        if lacks:
            planted.append(("village", u["code"], "five_haves", "fail"))

    # ---- unit figures: population from the residents; volunteers; community or rural
    pop: dict[str, int] = {}
    for _, p, u in extra["residents"]:
        pop[u["code"]] = pop.get(u["code"], 0) + p
    stats = []
    for u in world["units"]:
        p = pop.get(u["code"], 0)
        vol = int(round(p * float(rng.uniform(0.16, 0.19))))
        hours = int(round(vol * float(rng.uniform(0.44, 0.52))))
        stats.append([u["code"], u["name"], p, int(round(p * float(rng.uniform(1.02, 1.2)))),
                      vol, hours, "社区" if u["kind"] == "community" else "村"])
    tot_p = sum(r[2] for r in stats)
    tot_v = sum(r[4] for r in stats)
    tot_h = sum(r[5] for r in stats)
    assert tot_v >= 0.15 * tot_p and tot_h <= 0.5 * tot_v, (tot_p, tot_v, tot_h)
    planted.append(("county", "county", "volunteers", "fail"))

    # ---- venues: three with a service point nearby, the stadium far from every one
    points = {s["name"][:-6]: s["p"] for s in sites if s["tier"] == "志愿服务站点"}
    venues = []
    for name, kind, near, off in (("示范县图书馆", "图书馆", "人民广场", (90.0, 40.0)),
                                  ("示范县博物馆", "museum", "城关农贸市场", (-60.0, 100.0)),
                                  ("示范县文化馆", "文化馆", "县人民医院", (120.0, -30.0))):
        venues.append((name, kind, points[near] + np.array(off)))
    sc = world["towns"][0]["centre"]
    stadium = sc + grid_rot(8.0) @ np.array([1300.0, -900.0])
    gap = min(float(np.hypot(*(stadium - q))) for q in points.values())
    assert gap > 450, gap
    venues.append(("示范县体育馆", "体育馆", stadium))
    planted.append(("venue", "V4", "venue_points", "fail"))
    return {"attrs": attrs, "teams": teams, "activities": acts, "projects": projects,
            "unit_stats": stats, "venues": venues, "planted": sorted(set(planted)),
            "rejected_rows": len(bad)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    world = build(rng)
    extra = people_and_sites(rng, world)
    net = world["net"]

    n_nodes, n_ways = write_osm(out / "county.osm", net, world["outline"])
    polys = write_units(out / "units.geojson", world["towns"], world["units"])
    assert all(p.is_valid for p in polys)

    ledgers = audit_data(np.random.default_rng(SEED + 11), world, extra)
    res = extra["residents"]
    rll = lonlat(np.array([r[0] for r in res]))
    write_csv(out / "residents.csv",
              ["id", "lon", "lat", "population", "town", "village", "town_code", "village_code"],
              [[f"R{k + 1:06d}", f"{lo:.6f}", f"{la:.6f}", pop, u["town"]["name"], u["name"],
                u["town"]["code"], u["code"]]
               for k, ((_, pop, u), (lo, la)) in enumerate(zip(res, rll, strict=True))])
    sites = extra["sites"]
    sll = lonlat(np.array([s["p"] for s in sites]))
    write_csv(out / "sites.csv",
              ["id", "name", "tier", "lon", "lat", "town", "town_code", "village_code", "rooms",
               "staff", "volunteer_teams", "activities_per_year", "functions", "desk",
               "open_hours", "manager", "phone"],
              [[f"S{k + 1:04d}", s["name"], s["tier"], f"{lo:.6f}", f"{la:.6f}",
                s["unit"]["town"]["name"], s["unit"]["town"]["code"], s["unit"]["code"],
                s["rooms"], s["staff"], s["teams"], s["acts"],
                *ledgers["attrs"][f"S{k + 1:04d}"].values()]
               for k, (s, (lo, la)) in enumerate(zip(sites, sll, strict=True))])
    cands = extra["cands"]
    cll = lonlat(np.array([c["p"] for c in cands]))
    write_csv(out / "candidates.csv", ["id", "name", "kind", "lon", "lat", "rooms", "town"],
              [[f"C{k + 1:04d}", c["name"], c["kind"], f"{lo:.6f}", f"{la:.6f}", c["rooms"],
                c["town"]["name"]]
               for k, (c, (lo, la)) in enumerate(zip(cands, cll, strict=True))])
    (out / "standards.toml").write_text(STANDARDS_TOML, encoding="utf-8")
    write_csv(out / "teams.csv", ["site_id", "team", "members"], ledgers["teams"])
    write_csv(out / "activities.csv",
              ["date", "site_id", "team", "type", "title", "participants", "volunteer_hours"],
              ledgers["activities"])
    write_csv(out / "projects.csv", ["name", "level", "site_id", "unit_code"],
              ledgers["projects"])
    write_csv(out / "unit_stats.csv",
              ["code", "name", "population", "registered_population", "volunteers",
               "volunteers_with_hours", "kind"], ledgers["unit_stats"])
    vll = lonlat(np.array([v[2] for v in ledgers["venues"]]))
    write_csv(out / "venues.csv", ["id", "name", "kind", "lon", "lat"],
              [[f"V{k + 1}", nm, kind, f"{lo:.6f}", f"{la:.6f}"]
               for k, ((nm, kind, _), (lo, la)) in enumerate(zip(ledgers["venues"], vll,
                                                                  strict=True))])
    write_csv(out / "audit_planted.csv", ["level", "where_id", "rule", "status"],
              ledgers["planted"])

    n_vill = sum(u["kind"] == "village" for u in world["units"])
    n_comm = sum(u["kind"] == "community" for u in world["units"])
    tiers: dict[str, int] = {}
    for s in sites:
        tiers[s["tier"]] = tiers.get(s["tier"], 0) + 1
    print(f"osm: {n_nodes} nodes, {n_ways} ways ({world['crossings']} crossing nodes added)")
    print(f"units: {len(world['towns'])} towns, {n_comm} communities, {n_vill} villages")
    print(f"residents: {len(res)} points, population {sum(r[1] for r in res)}")
    print(f"sites: {len(sites)} {tiers}")
    print(f"candidates: {len(cands)}")
    print(f"audit: {len(ledgers['teams'])} teams, {len(ledgers['activities'])} ledger rows "
          f"({ledgers['rejected_rows']} planted bad rows), {len(ledgers['projects'])} projects, "
          f"{len(ledgers['planted'])} planted findings")


if __name__ == "__main__":
    main()
