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

# Columns of the tables people read (planner.tables): Chinese header, English header, number
# format (pct: share shown as percent with one decimal; int: thousands separators; min: minutes
# with one decimal; text) and what the column means.
COLUMNS: dict[str, dict[str, str]] = {
    "level": {"zh": "级别", "en": "Level", "fmt": "text", "note": "乡镇或村（社区）"},
    "code": {"zh": "代码", "en": "Code", "fmt": "text", "note": "行政区划代码"},
    "name": {"zh": "名称", "en": "Name", "fmt": "text", "note": "单元、站点或候选点名称"},
    "town": {"zh": "乡镇/街道", "en": "Town", "fmt": "text", "note": "所属乡镇（街道）"},
    "village": {"zh": "村/社区", "en": "Village", "fmt": "text", "note": "所属村（社区）"},
    "residents": {
        "zh": "居民点数",
        "en": "Resident points",
        "fmt": "int",
        "note": "居民点（户或组）个数",
    },
    "population": {"zh": "人口", "en": "Population", "fmt": "int", "note": "居民人数"},
    "population_covered": {
        "zh": "已覆盖人口",
        "en": "Population covered",
        "fmt": "int",
        "note": "按标准时间内可到达任一站点的人口",
    },
    "population_uncovered": {
        "zh": "未覆盖人口",
        "en": "Population uncovered",
        "fmt": "int",
        "note": "按标准时间内到不了任何站点的人口",
    },
    "coverage": {
        "zh": "覆盖率",
        "en": "Coverage",
        "fmt": "pct",
        "note": "已覆盖人口占总人口的比例",
    },
    "mean_minutes": {
        "zh": "平均用时（分钟）",
        "en": "Mean minutes",
        "fmt": "min",
        "note": "居民到最近站点的平均用时（按人口加权）",
    },
    "max_minutes": {
        "zh": "最长用时（分钟）",
        "en": "Max minutes",
        "fmt": "min",
        "note": "居民到最近站点的最长用时",
    },
    "tier": {
        "zh": "层级",
        "en": "Tier",
        "fmt": "text",
        "note": "中心、所、站、基地、志愿服务站点、家庭站",
    },
    "label": {"zh": "层级全称", "en": "Tier label", "fmt": "text", "note": "层级的中英文名称"},
    "mode": {"zh": "出行方式", "en": "Mode", "fmt": "text", "note": "步行、骑行或驾车"},
    "minutes": {
        "zh": "标准（分钟）",
        "en": "Minutes",
        "fmt": "min",
        "note": "服务圈时间标准或到最近站点用时",
    },
    "sites": {"zh": "站点数", "en": "Sites", "fmt": "int", "note": "该层级站点个数"},
    "gap_id": {
        "zh": "空白区编号",
        "en": "Gap id",
        "fmt": "text",
        "note": "相邻未覆盖居民组成的空白区",
    },
    "centroid_lon": {"zh": "中心经度", "en": "Centroid lon", "fmt": "coord", "note": "WGS84 经度"},
    "centroid_lat": {"zh": "中心纬度", "en": "Centroid lat", "fmt": "coord", "note": "WGS84 纬度"},
    "nearest_site": {
        "zh": "最近站点编号",
        "en": "Nearest site",
        "fmt": "text",
        "note": "用时最短的站点编号",
    },
    "nearest_site_name": {
        "zh": "最近站点",
        "en": "Nearest site name",
        "fmt": "text",
        "note": "用时最短的站点名称",
    },
    "nearest_tier": {
        "zh": "最近站点层级",
        "en": "Nearest tier",
        "fmt": "text",
        "note": "用时最短站点的层级",
    },
    "minutes_min": {
        "zh": "最短用时（分钟）",
        "en": "Minutes (min)",
        "fmt": "min",
        "note": "空白区内居民到最近站点的最短用时",
    },
    "minutes_mean": {
        "zh": "平均用时（分钟）",
        "en": "Minutes (mean)",
        "fmt": "min",
        "note": "空白区内居民到最近站点的平均用时",
    },
    "rank": {"zh": "序号", "en": "Rank", "fmt": "int", "note": "选址顺序（先选的新增覆盖最多）"},
    "candidate_id": {
        "zh": "候选点编号",
        "en": "Candidate id",
        "fmt": "text",
        "note": "候选建筑编号",
    },
    "kind": {"zh": "类型", "en": "Kind", "fmt": "text", "note": "候选建筑类型（中文）"},
    "kind_input": {
        "zh": "原填类型",
        "en": "Kind as given",
        "fmt": "text",
        "note": "输入文件中填写的类型，原样保留",
    },
    "rooms": {"zh": "功能室", "en": "Rooms", "fmt": "int", "note": "功能室个数（要求至少 3 个）"},
    "population_newly_covered": {
        "zh": "新增覆盖人口",
        "en": "Newly covered",
        "fmt": "int",
        "note": "该站点建成后新增覆盖的人口",
    },
    "cumulative_newly_covered": {
        "zh": "累计新增覆盖",
        "en": "Cumulative newly covered",
        "fmt": "int",
        "note": "到该序号为止累计新增覆盖人口",
    },
    "lon": {"zh": "经度", "en": "Lon", "fmt": "coord", "note": "WGS84 经度"},
    "lat": {"zh": "纬度", "en": "Lat", "fmt": "coord", "note": "WGS84 纬度"},
    "unit": {"zh": "单元", "en": "Unit", "fmt": "text", "note": "乡镇或村（社区）"},
    "before": {"zh": "变化前", "en": "Before", "fmt": "pct", "note": "情景实施前的覆盖率"},
    "after": {"zh": "变化后", "en": "After", "fmt": "pct", "note": "情景实施后的覆盖率"},
    "change": {"zh": "变化", "en": "Change", "fmt": "pctpt", "note": "变化后减变化前（百分点）"},
    "population_before": {
        "zh": "变化前覆盖人口",
        "en": "Covered before",
        "fmt": "int",
        "note": "情景实施前已覆盖人口",
    },
    "population_after": {
        "zh": "变化后覆盖人口",
        "en": "Covered after",
        "fmt": "int",
        "note": "情景实施后已覆盖人口",
    },
    "population_lost": {
        "zh": "失去覆盖人口",
        "en": "Population losing coverage",
        "fmt": "int",
        "note": "情景实施后不再被覆盖的人口",
    },
    "population_gained": {
        "zh": "新获覆盖人口",
        "en": "Population gaining coverage",
        "fmt": "int",
        "note": "情景实施后新被覆盖的人口",
    },
    "sites_before": {
        "zh": "变化前站点数",
        "en": "Sites before",
        "fmt": "int",
        "note": "情景实施前该层级站点个数",
    },
    "sites_after": {
        "zh": "变化后站点数",
        "en": "Sites after",
        "fmt": "int",
        "note": "情景实施后该层级站点个数",
    },
    "id": {"zh": "编号", "en": "Id", "fmt": "text", "note": "居民点编号"},
    "change_kind": {"zh": "变化", "en": "Change", "fmt": "text", "note": "失去覆盖或新获覆盖"},
    "site_before": {
        "zh": "原最近站点",
        "en": "Nearest site before",
        "fmt": "text",
        "note": "情景实施前用时最短的站点",
    },
    "site_after": {
        "zh": "现最近站点",
        "en": "Nearest site after",
        "fmt": "text",
        "note": "情景实施后用时最短的站点",
    },
    "minutes_before": {
        "zh": "原用时（分钟）",
        "en": "Minutes before",
        "fmt": "min",
        "note": "情景实施前到最近站点用时",
    },
    "minutes_after": {
        "zh": "现用时（分钟）",
        "en": "Minutes after",
        "fmt": "min",
        "note": "情景实施后到最近站点用时",
    },
}

# Sheet names and the words of the 说明 (notes) sheet.
TABLE_WORDS: dict[str, str] = {
    "notes_sheet": "说明",
    "by_unit": "分单元 By unit",
    "by_tier": "分层级 By tier",
    "gaps": "空白区 Gaps",
    "worst": "最差单元 Worst units",
    "proposals": "建议站点 Proposals",
    "remaining_gaps": "剩余空白区 Remaining gaps",
    "changes": "覆盖变化 Changes",
    "residents_changed": "变化居民 Residents",
    "notes_title": "{title}：表格说明 About these tables",
    "col_sheet": "工作表 Sheet",
    "col_zh": "列名 Column",
    "col_en": "英文列名 English",
    "col_note": "含义 Meaning",
    "options_title": "本次运行参数 Options of this run",
    "option": "参数 Option",
    "value": "取值 Value",
    "machine_note": "机器可读的 CSV/JSON 文件保留英文列名与层级、类型代码（如 station、idle_factory）。",
    "lost": "失去覆盖",
    "gained": "新获覆盖",
    "any_tier": "任一层级",
    "town_level": "乡镇",
    "village_level": "村（社区）",
}

# Words of a scenario table's action column (compared after normalise_token).
SCENARIO_ACTIONS: dict[str, str] = {
    "close": "close",
    "关闭": "close",
    "撤销": "close",
    "撤并": "close",
    "add": "add",
    "新增": "add",
    "新建": "add",
    "retier": "retier",
    "调整层级": "retier",
    "改层级": "retier",
    "升级": "retier",
}

# Words of the comparison (planner.scenario_report).
COMPARE_WORDS: dict[str, str] = {
    "title": "{region} 情景对比：覆盖率 {before:.1%} → {after:.1%}",
    "sub": "失去覆盖 {lost:,} 人 · 新获覆盖 {gained:,} 人",
    "lost": "失去覆盖的居民 Losing coverage",
    "gained": "新获覆盖的居民 Gaining coverage",
    "closed": "关闭的站点 Closed sites",
    "added": "新增的站点 Added sites",
    "legend": "情景变化 Changes",
}

# Words of the map additions (planner.map_layers).
MAP_WORDS: dict[str, str] = {
    "roads": "道路 Roads",
    "tianditu_vector": "天地图 矢量 Tianditu map",
    "tianditu_imagery": "天地图 影像 Tianditu imagery",
    "search": "搜索站点、村、候选点",
    "no_match": "未找到",
    "town": "乡镇",
    "village": "村/社区",
    "candidate": "候选点",
    "proposals_table": "建议新建站点 Proposals",
    "before_after": "覆盖率 {before:.1%} → {after:.1%}",
    "remaining": "建成后仍有空白区 {n} 处，{people:,} 人",
}

# Words of the printable town report (planner.town_report).
REPORT_WORDS: dict[str, str] = {
    "title": "{region} {town} 新时代文明实践 15分钟服务圈报告",
    "meta": "乡镇代码 {code} · 标准 {rule} · 生成日期 {day}",
    "coverage": "覆盖率",
    "population": "人口",
    "covered": "已覆盖人口",
    "uncovered": "未覆盖人口",
    "gaps": "服务空白区",
    "by_tier": "各层级覆盖情况",
    "tier": "层级",
    "rule": "标准",
    "villages": "各村（社区）未覆盖人口排名",
    "village": "村/社区",
    "mean_minutes": "平均用时（分钟）",
    "gap_list": "服务空白区（人口最多的前 15 个）",
    "gap": "空白区",
    "nearest": "最近站点",
    "minutes": "最短用时（分钟）",
    "proposals": "建议新建站点（覆盖率 {before:.1%} → {after:.1%}）",
    "rank": "序号",
    "name": "名称",
    "kind": "类型",
    "newly": "新增覆盖人口",
    "proposed": "建议新建",
    "no_proposals": "未提出新建站点",
    "footer": "由 servicecircle 按实际道路网络计算；覆盖指在标准时间内可到达站点。",
}
