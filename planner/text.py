"""User-facing words in Chinese and English, kept in one place so both stay in step."""

from __future__ import annotations

# Tier keys are the stable identifiers used in files, the API and code; the labels are for people.
TIERS: dict[str, dict[str, str]] = {
    "centre": {"zh": "中心", "en": "County centre", "color": "#b2182b"},
    "institute": {"zh": "所", "en": "Township institute", "color": "#ef8a62"},
    "station": {"zh": "站", "en": "Village/community station", "color": "#2166ac"},
    "base": {"zh": "基地", "en": "Practice base", "color": "#762a83"},
    "service_point": {"zh": "志愿服务站点", "en": "Volunteer service point", "color": "#1b7837"},
    "family": {"zh": "家庭站", "en": "Family station", "color": "#8c510a"},
}

# Everything a user might write in a tier column, normalised (lower case, no spaces).
TIER_ALIASES: dict[str, str] = {
    **{key: key for key in TIERS},
    "center": "centre",
    "county_centre": "centre",
    "county_center": "centre",
    "中心": "centre",
    "县中心": "centre",
    "实践中心": "centre",
    "新时代文明实践中心": "centre",
    "所": "institute",
    "实践所": "institute",
    "新时代文明实践所": "institute",
    "township_institute": "institute",
    "站": "station",
    "实践站": "station",
    "新时代文明实践站": "station",
    "village_station": "station",
    "community_station": "station",
    "基地": "base",
    "实践基地": "base",
    "practice_base": "base",
    "志愿服务站点": "service_point",
    "志愿服务站": "service_point",
    "志愿服务岗": "service_point",
    "志愿服务站点/岗": "service_point",
    "服务点": "service_point",
    "service_point": "service_point",
    "servicepoint": "service_point",
    "volunteer_service_point": "service_point",
    "家庭站": "family",
    "family_station": "family",
}

CANDIDATE_KINDS: dict[str, dict[str, str]] = {
    "idle_school": {"zh": "闲置校舍", "en": "Idle school building"},
    "idle_house": {"zh": "闲置民宅", "en": "Idle house"},
    "idle_factory": {"zh": "闲置厂房", "en": "Idle factory"},
    "public_venue": {"zh": "公共场所", "en": "Public venue"},
    "other": {"zh": "其他", "en": "Other"},
}

KIND_ALIASES: dict[str, str] = {
    **{key: key for key in CANDIDATE_KINDS},
    "school": "idle_school",
    "闲置校舍": "idle_school",
    "校舍": "idle_school",
    "house": "idle_house",
    "闲置民宅": "idle_house",
    "民宅": "idle_house",
    "factory": "idle_factory",
    "闲置厂房": "idle_factory",
    "厂房": "idle_factory",
    "venue": "public_venue",
    "公共场所": "public_venue",
    "公共空间": "public_venue",
    "其他": "other",
}

MODES: dict[str, dict[str, str]] = {
    "walk": {"zh": "步行", "en": "on foot"},
    "bike": {"zh": "骑行", "en": "by bike"},
    "drive": {"zh": "驾车", "en": "by car"},
}

# Labels on maps and in spreadsheets (Chinese first: county officials read these).
LABELS: dict[str, str] = {
    "map_title": "{region} 新时代文明实践 15分钟服务圈",
    "legend_title": "图例 Legend",
    "service_areas": "服务范围 Service areas",
    "uncovered": "未覆盖居民 Uncovered residents",
    "gaps": "服务空白区 Gap areas",
    "proposals": "建议新建站点 Proposed sites",
    "new_areas": "新增服务范围 Added service areas",
    "boundaries": "行政边界 Boundaries",
    "site": "站点",
    "tier": "层级",
    "name": "名称",
    "population": "人口",
    "minutes": "分钟",
    "nearest_site": "最近站点",
    "town": "乡镇/街道",
    "village": "村/社区",
    "coverage": "覆盖率",
    "kind": "类型",
    "rooms": "功能室",
    "newly_covered": "新增覆盖人口",
    "no_tiles": "底图不可用时仍可查看矢量图层",
    "plain_background": "空白底图 Plain",
    "osm_background": "OpenStreetMap 底图",
    "gap_id": "空白区",
    "code": "代码",
    "site_id": "编号",
    "rank": "序号",
    "served": "服务人口",
    "standard": "标准",
    "villages": "村/社区边界 Villages",
    "minutes_to_site": "到最近站点分钟",
    "tier_zh": "层级",
    "mode_minutes": "{mode} {minutes:g} 分钟",
}


def tier_label(tier: str) -> str:
    """Return the bilingual label of a tier key, e.g. ``"站 Village/community station"``."""
    info = TIERS.get(tier)
    if info is None:
        return tier
    return f"{info['zh']} {info['en']}"


def normalise_token(value: object) -> str:
    """Lower-case a free-text category value and drop spaces, dashes and the like."""
    return str(value).strip().lower().replace(" ", "_").replace("-", "_")


# Chart titles and axes (matplotlib; planner.charts).
CHART_LABELS: dict[str, str] = {
    "coverage_pct": "人口覆盖率 Population covered (%)",
    "tier": "层级 Tier",
    "any_tier": "任一层级 Any tier",
    "within": "≤{minutes:g} 分钟 min",
    "all_line": "{whole} 整体 Overall {share:.1%}",
    "by_unit_title": "{region} 各{unit}{mode}可达覆盖率 Coverage by {en}",
    "by_tier_title": "{region} 各层级站点{mode}可达覆盖率 Coverage by tier",
    "cdf_title": (
        "{region} 居民到最近站点的{mode}时间（按人口加权）\n"
        "Travel time to the nearest site, weighted by population"
    ),
    "cdf_x": "{mode}时间 Travel time (分钟 min)",
    "cdf_y": "居民累计比例 Share of residents (%)",
    "standard": "标准 {minutes:g} 分钟",
    "curve_title": (
        "新增站点数与覆盖率（每个新站点的边际效益）\n"
        "Coverage vs number of new sites (marginal value of each site)"
    ),
    "curve_x": "新增站点数 Number of new sites (个)",
    "curve_y": "人口覆盖率 Population covered (%)",
    "curve_y_weight": "新增覆盖 Newly covered ({weight})",
    "curve_gain": "该站点新增覆盖人口 Newly covered by this site (人 persons)",
    "curve_exact": "精确解 Exact (MILP)",
    "curve_greedy": "贪心 Greedy",
    "curve_gain_bars": "边际新增人口 Marginal gain",
    "curve_before": "现状 Now {share:.1%}",
    "curve_reachable": "候选点最多可达 Reachable with all candidates {share:.1%}",
    "speed_title": "步行速度敏感性：{minutes:g} 分钟覆盖率 Walking-speed sensitivity",
    "speed_x": "步行速度 Walking speed (公里/小时 km/h)",
    "speed_tick": "{speed:.1f}\n({metres:,.0f} 米 m)",
    "speed_before": "现有站点 Existing sites",
    "speed_after": "加新建站点 With proposed sites",
}

UNIT_LEVELS: dict[str, dict[str, str]] = {
    "town": {"zh": "乡镇", "en": "town", "axis": "乡镇 Town"},
    "village": {"zh": "村（社区）", "en": "village", "axis": "村（社区） Village / community"},
}

# A province run: spreadsheet sheets and the state of each county.
PROVINCE: dict[str, str] = {
    "sheet_counties": "counties 县市区",
    "sheet_failed": "failed 失败",
    "done": "done 已完成",
    "skipped": "unchanged, skipped 未变化 跳过",
    "failed": "failed 失败",
}
