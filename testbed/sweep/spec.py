"""SWEEP.yaml -> a validated :class:`SweepSpec` and its grid points.

```yaml
name: brake-deadlines            # optional, default: the file's stem
base: autonomous_brake.yaml      # scenario, relative to this file
duration_s: 20                   # optional: overrides every point's duration_s
grid:                            # dotted paths into the scenario -> lists of values
  workload.0.deadline_ms: [10, 20, 40]
  seed: [1, 2, 3]
```

Every combination of the grid's values is one point, in a fixed order (the first key
varies slowest), so point ``i`` is the same on every executor and every run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError

KEYS = ("name", "base", "duration_s", "grid")


@dataclass(frozen=True)
class Point:
    index: int
    params: dict          # dotted path -> value

    @property
    def key(self) -> str:
        """Stable identity of the point's parameters (for resuming)."""
        text = json.dumps(self.params, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SweepSpec:
    path: Path
    name: str
    base: Path
    duration_s: float | None
    grid: dict             # dotted path -> tuple of values

    def points(self) -> list[Point]:
        keys = list(self.grid)
        combos = itertools.product(*(self.grid[k] for k in keys))
        return [Point(i, dict(zip(keys, values))) for i, values in enumerate(combos)]


def load_sweep(path: str | Path) -> SweepSpec:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, None, "an existing sweep YAML file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(path, None, f"valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, None, "a mapping with base: and grid:", raw)
    for key in raw:
        if key not in KEYS:
            raise ConfigError(path, str(key), f"a known key ({', '.join(KEYS)})", key)
    return SweepSpec(path, _name(raw, path), _base(raw, path), _duration(raw, path),
                     _grid(raw, path))


def _name(raw: dict, path: Path) -> str:
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(path, "name", "a non-empty name without '/'", name)
    return name


def _base(raw: dict, path: Path) -> Path:
    base = raw.get("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(path, "base", "a scenario file path (relative to the sweep file)", base)
    full = (path.parent / base).resolve()
    if not full.is_file():
        raise ConfigError(path, "base", "an existing scenario file", str(full))
    return full


def _duration(raw: dict, path: Path) -> float | None:
    value = raw.get("duration_s")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(path, "duration_s", "a number of seconds > 0", value)
    return float(value)


def _grid(raw: dict, path: Path) -> dict:
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(path, "grid", "a mapping of dotted scenario paths to lists of values", grid)
    out = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key or key.startswith(".") or key.endswith("."):
            raise ConfigError(path, f"grid.{key}", "a dotted path like workload.0.deadline_ms", key)
        if not isinstance(values, list) or not values:
            raise ConfigError(path, f"grid.{key}", "a non-empty list of values", values)
        out[key] = tuple(values)
    return out
