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


# --- standards audit (planner.audit) --------------------------------------------------------

# Kinds of activity in the ledger (活动台账); the audit counts theory talks and trainings.
ACTIVITY_TYPES: dict[str, dict[str, str]] = {
    "theory": {"zh": "理论宣讲", "en": "Theory/policy talk"},
    "training": {"zh": "培训", "en": "Training"},
    "education": {"zh": "教育服务", "en": "Education"},
    "culture": {"zh": "文化活动", "en": "Culture"},
    "sport": {"zh": "体育健身", "en": "Sport/fitness"},
    "science": {"zh": "科学普及", "en": "Science"},
    "other": {"zh": "其他", "en": "Other"},
}
ACTIVITY_TYPE_ALIASES: dict[str, str] = {
    **{key: key for key in ACTIVITY_TYPES},
    **{v["zh"]: k for k, v in ACTIVITY_TYPES.items()},
    "理论政策宣讲": "theory",
    "政策宣讲": "theory",
    "宣讲": "theory",
    "理论学习": "theory",
    "talk": "theory",
    "theory_talk": "theory",
    "policy_talk": "theory",
    "集中培训": "training",
    "业务培训": "training",
    "志愿者培训": "training",
    "教育": "education",
    "助学支教": "education",
    "文化": "culture",
    "文艺": "culture",
    "文艺演出": "culture",
    "体育": "sport",
    "健身": "sport",
    "fitness": "sport",
    "科普": "science",
    "科普宣传": "science",
}

# The five functions the rooms of a site must cover (二.7), in Chinese and English.
FUNCTION_ALIASES: dict[str, str] = {
    "理论宣讲": "理论宣讲",
    "理论": "理论宣讲",
    "宣讲": "理论宣讲",
    "theory": "理论宣讲",
    "theory_talks": "理论宣讲",
    "教育服务": "教育服务",
    "教育": "教育服务",
    "education": "教育服务",
    "文化活动": "文化活动",
    "文化": "文化活动",
    "culture": "文化活动",
    "体育健身": "体育健身",
    "体育": "体育健身",
    "健身": "体育健身",
    "sport": "体育健身",
    "sports": "体育健身",
    "fitness": "体育健身",
    "科学普及": "科学普及",
    "科普": "科学普及",
    "science": "科学普及",
}

YES_NO: dict[str, bool] = {
    **dict.fromkeys(["yes", "y", "true", "1", "是", "有", "已设", "运行", "正常"], True),
    **dict.fromkeys(["no", "n", "false", "0", "否", "无", "没有", "未设", "停用"], False),
}

# Unit kinds for theory talks: communities (社区) need more than rural villages (村).
UNIT_KIND_ALIASES: dict[str, str] = {
    **dict.fromkeys(["community", "urban", "社区", "城市", "城镇", "居委会"], "community"),
    **dict.fromkeys(["rural", "village", "村", "农村", "行政村", "村委会"], "rural"),
}

# Brand-project levels: a tier, or the city when several counties are audited together.
PROJECT_LEVEL_ALIASES: dict[str, str] = {
    "city": "city",
    "市": "city",
    "市级": "city",
    "县": "centre",
    "县级": "centre",
    "乡镇": "institute",
    "乡镇级": "institute",
    "村": "station",
    "村级": "station",
    "社区": "station",
}

# Public cultural venues that need a volunteer service point nearby (二.5).
VENUE_KINDS: dict[str, dict[str, str]] = {
    "library": {"zh": "图书馆", "en": "Library"},
    "museum": {"zh": "博物馆", "en": "Museum"},
    "cultural_centre": {"zh": "文化馆", "en": "Cultural centre"},
    "stadium": {"zh": "体育场馆", "en": "Stadium / sports centre"},
}
VENUE_KIND_ALIASES: dict[str, str] = {
    **{key: key for key in VENUE_KINDS},
    "图书馆": "library",
    "博物馆": "museum",
    "纪念馆": "museum",
    "文化馆": "cultural_centre",
    "文化中心": "cultural_centre",
    "文化站": "cultural_centre",
    "arts_centre": "cultural_centre",
    "community_centre": "cultural_centre",
    "cultural_center": "cultural_centre",
    "体育馆": "stadium",
    "体育场": "stadium",
    "体育中心": "stadium",
    "sports_centre": "stadium",
    "sports_center": "stadium",
}

# Team names people write for the 17 named teams of the county centre (after normalise_token).
TEAM_ALIASES: dict[str, str] = {
    "理论宣讲": "理论政策宣讲",
    "政策宣讲": "理论政策宣讲",
    "文艺服务": "文化文艺服务",
    "文化服务": "文化文艺服务",
    "社科普及": "社科普及惠民",
    "支教助学": "助学支教",
    "医疗卫生": "医疗健身",
    "健康义诊": "医疗健身",
    "科普": "科学普及",
    "法律援助": "法律服务",
    "普法": "法律服务",
    "环保": "卫生环保",
    "环境卫生": "卫生环保",
    "扶贫济困": "扶难解困",
    "帮困": "扶难解困",
    "文明劝导": "文明倡导",
    "心理咨询": "心理关爱",
    "心理健康": "心理关爱",
    "应急": "应急救援",
    "救援": "应急救援",
    "便民": "便民服务",
    "敬老": "敬老爱老",
    "助老": "敬老爱老",
    "关爱青少年": "关爱未成年人",
    "未成年人": "关爱未成年人",
    "健康生活": "美德健康生活方式",
    "移风易俗倡导": "移风易俗",
}

AUDIT_STATUS: dict[str, dict[str, str]] = {
    "pass": {"zh": "达标", "en": "pass", "color": "#1a9850"},
    "fail": {"zh": "不达标", "en": "fail", "color": "#d73027"},
    "no_data": {"zh": "缺少数据", "en": "no data", "color": "#9e9e9e"},
}

AUDIT_RULES: dict[str, dict[str, str]] = {
    "rooms": {"zh": "功能室数量", "en": "Function rooms"},
    "functions": {"zh": "功能室功能", "en": "Room functions"},
    "desk": {"zh": "志愿服务站", "en": "Volunteer service desk"},
    "staff": {"zh": "专职人员", "en": "Full-time staff"},
    "teams": {"zh": "志愿服务队伍", "en": "Volunteer teams"},
    "team_activity": {"zh": "队伍年活动次数", "en": "Activities per team"},
    "activities": {"zh": "年活动次数", "en": "Activities a year"},
    "theory_talks": {"zh": "理论宣讲次数", "en": "Theory talks"},
    "volunteers": {"zh": "注册志愿者", "en": "Registered volunteers"},
    "brand_projects": {"zh": "品牌项目", "en": "Brand projects"},
    "training": {"zh": "集中培训", "en": "Trainings"},
    "five_haves": {"zh": "五有", "en": "Five haves"},
    "circle": {"zh": "15分钟服务圈覆盖", "en": "15-minute circle"},
    "venue_points": {"zh": "场馆志愿服务点", "en": "Service point at venue"},
}

AUDIT_LEVELS: dict[str, str] = {
    "county": "县",
    "town": "乡镇",
    "village": "村社区",
    "site": "站点",
    "team": "队伍",
    "venue": "场馆",
    "city": "市",
}

# Sheet names and column headers of audit.xlsx (officials read Chinese).
AUDIT_SHEETS: dict[str, str] = {
    "county": "县汇总",
    "town": "乡镇",
    "village": "村社区",
    "site": "站点",
    "team": "队伍",
    "projects": "品牌项目",
    "issues": "问题清单",
    "spot_check": "抽查名单",
}
AUDIT_HEADERS: dict[str, str] = {
    "level": "层级",
    "where_id": "编号",
    "where": "对象",
    "tier": "站点层级",
    "town": "乡镇",
    "village": "村社区",
    "rule": "规则",
    "rule_zh": "检查项",
    "status": "结果",
    "required": "标准要求",
    "found": "实际情况",
    "section": "方案条款",
    "decided_by": "所需数据",
    "site_id": "站点编号",
    "name": "名称",
    "team": "队伍",
    "members": "人数",
    "activities": "年活动次数",
    "verdict": "综合结果",
    "failed_rules": "未达标项",
    "reason": "抽取原因",
    "share": "比例",
    "population": "人口",
    "volunteers": "注册志愿者",
    "volunteers_with_hours": "有时长志愿者",
    "coverage": "服务圈覆盖率",
    "five_haves": "五有",
    "sites": "站点数",
    "passed": "达标数",
    "failed": "不达标数",
    "no_data": "缺少数据数",
    "level_zh": "项目级别",
    "code": "代码",
    "volunteer_share": "注册志愿者占比",
    "with_hours_share": "有时长志愿者占比",
    "issues": "问题数",
    "teams": "队伍数",
    "five_haves_detail": "五有情况",
    "counted_for": "计入站点",
    "unit_code": "单位代码",
    "participants": "参与人数",
    "id": "编号",
    "village_code": "村社区代码",
    "rooms": "功能室(间)",
    "staff": "专职人员(人)",
    "functions": "功能",
    "desk": "志愿服务站(有/无)",
    "open_hours": "开放时间",
    "manager": "负责人",
    "villages": "村社区数",
    "circle": "服务圈",
    "source_row": "原表行号",
    "phone": "电话",
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
    # a province run's summary: one row per county
    "region": {"zh": "县市区", "en": "Region", "fmt": "text", "note": "配置中的县（市、区）名称"},
    "residents_total": {
        "zh": "居民点数",
        "en": "Resident points",
        "fmt": "int",
        "note": "读入的居民点个数",
    },
    "sites_total": {"zh": "站点数", "en": "Sites", "fmt": "int", "note": "读入的站点个数"},
    "population_total": {"zh": "总人口", "en": "Population", "fmt": "int", "note": "居民总人数"},
    "gaps": {"zh": "空白区数", "en": "Gap areas", "fmt": "int", "note": "未覆盖居民连片区域个数"},
    "population_in_gaps": {
        "zh": "空白区人口",
        "en": "Population in gaps",
        "fmt": "int",
        "note": "空白区内的未覆盖人口",
    },
    "gini_minutes": {
        "zh": "用时基尼系数",
        "en": "Gini of minutes",
        "fmt": "min",
        "note": "居民到最近站点用时的基尼系数（0 为完全均衡）",
    },
    "residents_rejected": {
        "zh": "拒收居民行",
        "en": "Residents rejected",
        "fmt": "int",
        "note": "居民文件中未能使用的行（原因见该县 rejected.csv）",
    },
    "sites_rejected": {
        "zh": "拒收站点行",
        "en": "Sites rejected",
        "fmt": "int",
        "note": "站点文件中未能使用的行（原因见该县 rejected.csv）",
    },
    "seconds": {"zh": "用时（秒）", "en": "Seconds", "fmt": "min", "note": "本次分析该县所用时间"},
    "cpu_seconds": {
        "zh": "CPU 时间（秒）",
        "en": "CPU seconds",
        "fmt": "min",
        "note": "分析该县所用的 CPU 时间",
    },
    "status": {
        "zh": "状态",
        "en": "Status",
        "fmt": "text",
        "note": "已完成；未变化、跳过（沿用上次结果）；或失败",
    },
    "error": {"zh": "错误", "en": "Error", "fmt": "text", "note": "该县未能分析的原因"},
    "folder": {
        "zh": "输出文件夹",
        "en": "Folder",
        "fmt": "text",
        "note": "该县全部输出所在文件夹（失败的县为空：没有输出）",
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
    "roads_main_only": "主要道路 Main roads (小路未画出 minor roads left out at this size)",
    "tianditu_vector": "天地图 矢量 Tianditu map",
    "tianditu_imagery": "天地图 影像 Tianditu imagery",
    "search": "搜索站点、村、候选点",
    "no_match": "未找到",
    "town": "乡镇",
    "village": "村/社区",
    "candidate": "候选点",
    "proposals_table": "建议新建站点 Proposals",
    "before_after": "覆盖率 {before:.1%} → {after:.1%}",
    "uncovered_change": "未覆盖 {before:,} → {after:,}",
    "remaining": "建成后仍有空白区 {n} 处，{people:,} 人",
    "page_proposals": "建议新建站点",
    "page_audit": "{region} 新时代文明实践站点达标检查",
}

# Words of the printable town report (planner.town_report).
REPORT_WORDS: dict[str, str] = {
    "standards": "站点标准达标情况（{passed} 达标 / {failed} 不达标 / {no_data} 缺少数据）",
    "verdict": "结果",
    "failed_rules": "未达标项",
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
    "no_site": "—（无可达站点）",
    "gap_villages": "{village}等{n}村",
}

# A province run: spreadsheet sheets and the state of each county.
PROVINCE: dict[str, str] = {
    "title": "各县市区15分钟服务圈覆盖汇总",
    "sheet_counties": "县市区 Counties",
    "sheet_failed": "失败 Failed",
    "config": "配置 Config",
    "maps": "地图 Maps",
    "done": "done 已完成",
    "skipped": "unchanged, skipped 未变化 跳过",
    "failed": "failed 失败",
}

# What `audit` prints for a rule with nothing to judge (e.g. the five haves without villages).
AUDIT_NOTHING: dict[str, str] = {
    "rule": "无可判断对象 no data: nothing to judge",
    "five_haves": (
        "无村（社区）边界，无法判断五有 no data: no village or community boundaries to judge; "
        "give --units with village polygons"
    ),
}

# An option named in a message: the flag a command-line user types, then the name a Python
# caller (or an API request) passes, so the words are right for both.
OPTION_HINTS: dict[str, str] = {
    "allow_unknown_rooms": "--min-rooms 0 (min_rooms=0 in Python and the API)",
    "population_bound": "--max-population N (bound=N of warn_population in Python)",
}

# Why a candidate building is left out of a suggestion (excluded_candidates.csv ``reason``,
# the error when none is left); the English reads after a count ("12 in another town").
CANDIDATE_REASONS: dict[str, dict[str, str]] = {
    "kind": {"en": "kind not allowed", "zh": "类型不在所选之列"},
    "rooms_unknown": {
        "en": "rooms unknown, at least {min_rooms:g} required; to allow, use "
        + OPTION_HINTS["allow_unknown_rooms"],
        "zh": "功能室数量不明（至少需 {min_rooms:g} 间）",
    },
    "few_rooms": {
        "en": "fewer than {min_rooms:g} function rooms",
        "zh": "功能室少于 {min_rooms:g} 间",
    },
    "far": {
        "en": "farther than {max_snap_m:g} m from a road usable {mode}",
        "zh": "距可用道路超过 {max_snap_m:g} 米",
    },
    "town_unknown": {
        "en": "town unknown (give the candidates a town column, or boundaries with --units)",
        "zh": "所属乡镇不明（请在候选点表中填写乡镇，或提供行政边界）",
    },
    "other_town": {"en": "in another town", "zh": "位于其他乡镇"},
    "no_usable": {"en": "no usable candidates among {total}", "zh": "{total} 个候选点均不可用"},
}

# Coordinates in the system the inputs came in, beside WGS84 (planner.coords.input_coord_columns).
COLUMNS.update(
    {
        f"{axis}_{system}": {
            "zh": f"{zh}({name})",
            "en": f"{en} ({name})",
            "fmt": "coord",
            "note": f"{name} {zh}（{maps}用此坐标，可直接粘贴）",
        }
        for system, name, maps in (
            ("gcj02", "GCJ-02", "高德、腾讯地图"),
            ("bd09", "BD-09", "百度地图"),
        )
        for axis, zh, en in (
            ("lon", "经度", "Lon"),
            ("lat", "纬度", "Lat"),
            ("centroid_lon", "中心经度", "Centroid lon"),
            ("centroid_lat", "中心纬度", "Centroid lat"),
        )
    }
)
