"""The sweep report's paired differences: per grid setting, seed by seed, against the
reference system."""

import pytest

from testbed.sweep.report import paired


def rows():
    out = []
    for deadline, base in ((8, 0.50), (30, 0.60)):
        for seed, (ref, other) in enumerate(((base, base - 0.01), (base + 0.1, base + 0.06),
                                             (base - 0.1, base - 0.13)), start=1):
            out.append({"system": "sn", "seed": seed, "workload.0.deadline_ms": deadline,
                        "accuracy_at_deadline": ref})
            out.append({"system": "static", "seed": seed, "workload.0.deadline_ms": deadline,
                        "accuracy_at_deadline": other})
    return out


def test_paired_differences_per_setting_match_a_hand_computation():
    grid = ["workload.0.deadline_ms", "seed"]
    diffs = paired(rows(), grid, "sn", "accuracy_at_deadline")
    assert list(diffs) == [(8,), (30,)]  # numeric order, the seed is not a setting
    d = diffs[(8,)]["static"]
    # differences -0.01, -0.04, -0.03: mean -0.02667, sd 0.01528, t(2 df) = 4.303
    assert d.mean == pytest.approx(-0.026667, abs=1e-6) and d.n == 3
    half = 4.303 * 0.0152753 / 3 ** 0.5
    assert d.ci == pytest.approx((-0.026667 - half, -0.026667 + half), abs=1e-5)
    assert "sn" not in diffs[(8,)]
