"""Per-tier travel standards: which mode and how many minutes make a site "within reach"."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner.errors import InputError, read_toml
from planner.text import MODES, TIERS

WALK_KMH = 4.0
"""Default walking speed: about 1,000 m in 15 minutes (GB 50180-2018's 15-minute life circle)."""

DEFAULT_SPEEDS_KMH: dict[str, float] = {"walk": WALK_KMH, "bike": 12.0, "drive": 30.0}


@dataclass(frozen=True)
class TierStandard:
    """How one tier must be reached: by ``mode`` within ``minutes``."""

    mode: str = "walk"
    minutes: float = 15.0
    speed_kmh: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            msg = f"unknown travel mode {self.mode!r}: use one of {', '.join(MODES)}"
            raise InputError(msg)
        if not 0 < self.minutes <= 240:
            msg = f"minutes must be more than 0 and at most 240, got {self.minutes!r}"
            raise InputError(msg)
        if self.speed_kmh is not None and not 0.5 <= self.speed_kmh <= 130:
            msg = f"speed must be between 0.5 and 130 km/h, got {self.speed_kmh!r}"
            raise InputError(msg)


@dataclass(frozen=True)
class Standards:
    """Travel standards for every tier, plus the thresholds reported side by side.

    Parameters
    ----------
    default
        The standard for tiers not listed in ``tiers``.
    tiers
        Per-tier overrides, keyed by tier key (``"centre"``, ``"station"`` ...).
    thresholds
        Minutes at which coverage is also reported (answered from the same search).
    max_snap_m
        Points farther than this from any road are reported as unreachable.
    """

    default: TierStandard = field(default_factory=TierStandard)
    tiers: dict[str, TierStandard] = field(default_factory=dict)
    thresholds: tuple[float, ...] = (5.0, 10.0, 15.0)
    max_snap_m: float = 500.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tiers) - set(TIERS))
        if unknown:
            msg = f"unknown tier(s) {unknown} in standards: use {', '.join(TIERS)}"
            raise InputError(msg)
        if not 0 < self.max_snap_m <= 10_000:
            msg = f"max snap distance must be more than 0 and at most 10000 m, got {self.max_snap_m!r}"
            raise InputError(msg)

    def for_tier(self, tier: str) -> TierStandard:
        """Return the standard that applies to ``tier``."""
        return self.tiers.get(tier, self.default)

    def override(
        self,
        *,
        mode: str | None = None,
        minutes: float | None = None,
        speed_kmh: float | None = None,
        max_snap_m: float | None = None,
    ) -> Standards:
        """Return a copy where the given values replace those of every tier (CLI flags)."""
        if mode is None and minutes is None and speed_kmh is None:
            tiers = self.tiers
            default = self.default
        else:

            def patch(std: TierStandard) -> TierStandard:
                new_mode = mode or std.mode
                # A speed set for one mode (say walking) must not carry over to another.
                kept = std.speed_kmh if new_mode == std.mode else None
                return TierStandard(
                    mode=new_mode,
                    minutes=minutes if minutes is not None else std.minutes,
                    speed_kmh=speed_kmh if speed_kmh is not None else kept,
                )

            default = patch(self.default)
            tiers = {k: patch(v) for k, v in self.tiers.items()}
        thresholds = self.thresholds
        if minutes is not None and minutes not in thresholds:
            thresholds = tuple(sorted({*thresholds, float(minutes)}))
        return replace(
            self,
            default=default,
            tiers=tiers,
            thresholds=thresholds,
            max_snap_m=max_snap_m if max_snap_m is not None else self.max_snap_m,
        )

    def speed_of(self, std: TierStandard) -> float | None:
        """Speed in km/h for a standard; ``None`` for driving on imputed road speeds."""
        if std.speed_kmh is not None:
            return std.speed_kmh
        return None if std.mode == "drive" else DEFAULT_SPEEDS_KMH[std.mode]

    @classmethod
    def from_toml(cls, path: str | Path) -> Standards:
        """Read standards from a TOML file with ``[default]`` and ``[tiers.<tier>]`` tables."""
        path = Path(path)
        data = read_toml(path, what="standards file")
        try:
            default = TierStandard(**data.get("default", {}))
            tiers = {k: TierStandard(**v) for k, v in data.get("tiers", {}).items()}
            extra: dict[str, Any] = {}  # thresholds (a tuple) and max_snap_m (a float) when given
            if "thresholds" in data:
                extra["thresholds"] = tuple(float(t) for t in data["thresholds"])
            if "max_snap_m" in data:
                extra["max_snap_m"] = float(data["max_snap_m"])
            return cls(default=default, tiers=tiers, **extra)
        except TypeError as exc:
            msg = f"{path}: unexpected key in standards ({exc}); allowed: mode, minutes, speed_kmh"
            raise InputError(msg) from None
        except InputError as exc:
            msg = f"{path}: {exc}"
            raise InputError(msg) from None
