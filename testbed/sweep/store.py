"""The sweep's results on disk: ``rows.jsonl`` (one JSON row per grid point × system,
appended and flushed as each point finishes) and ``failures.jsonl`` (one row per failed
point with its parameters and the error). Reading them back tells which points are done,
so an interrupted sweep resumes where it stopped; a torn last line (a kill mid-write) is
ignored and that point simply runs again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROWS = "rows.jsonl"
FAILURES = "failures.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    """Every complete row of a JSON Lines file (a torn last line is dropped)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class Store:
    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self._repair(out / ROWS)
        self._repair(out / FAILURES)

    @staticmethod
    def _repair(path: Path) -> None:
        """Drop a torn last line so appended rows start on a line of their own."""
        if path.is_file():
            rows = read_jsonl(path)
            text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
            if text != path.read_text():
                tmp = path.with_suffix(".tmp")
                tmp.write_text(text)
                os.replace(tmp, path)

    def drop_stale(self, inputs: str) -> int:
        """Remove rows computed from other inputs (another fingerprint, or none); return
        how many were removed."""
        path = self.out / ROWS
        rows = read_jsonl(path)
        keep = [r for r in rows if r.get("inputs") == inputs]
        if len(keep) != len(rows):
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))
            os.replace(tmp, path)
        return len(rows) - len(keep)

    def done_keys(self) -> set[str]:
        return {r["point_key"] for r in read_jsonl(self.out / ROWS)}

    def append(self, rows: list[dict]) -> None:
        self._append(self.out / ROWS, rows)

    def fail(self, row: dict) -> None:
        self._append(self.out / FAILURES, [row])

    def clear_failures(self) -> None:
        (self.out / FAILURES).unlink(missing_ok=True)

    @staticmethod
    def _append(path: Path, rows: list[dict]) -> None:
        # One write of whole lines: a point's rows land together or (torn) not at all.
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        with open(path, "a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def rows(self) -> list[dict]:
        return read_jsonl(self.out / ROWS)

    def failures(self) -> list[dict]:
        return read_jsonl(self.out / FAILURES)
