"""One look per system (testbed.report.style): fixed for the methods, deterministic for
other names, the base's colour with other dashes and hollow markers for a bound; real
systems before bounds; coinciding curves found."""

import numpy as np
import pytest

from testbed.report import style
from testbed.report.document import BOUND_POLICIES

TWELVE = ["steppingnet", "anywidth", "slimmable", "static",
          *(f"{s}@{b}" for b in ("budget_oracle", "oracle")
            for s in ("steppingnet", "anywidth", "slimmable", "static"))]


@pytest.mark.parametrize("name", list(style.KNOWN))
def test_a_method_has_one_look_whatever_else_is_drawn(name):
    alone = style.style(name)
    assert alone == style.styles(TWELVE)[name] == style.styles([name, "x", "y"])[name]
    assert (alone.color, alone.marker) == style.KNOWN[name]
    assert alone.linestyle == "-" and not alone.hollow


def test_other_names_are_deterministic_and_distinct():
    names = ["stepping", "slim", "mine", "theirs"]
    first = style.styles(names)
    assert style.styles(list(reversed(names))) == first       # the set decides, not the order
    assert len({(s.color, s.marker) for s in first.values()}) == len(names)
    known = {c for c, _ in style.KNOWN.values()}
    assert not known & {s.color for s in first.values()}


@pytest.mark.parametrize("base", ["steppingnet", "slim"])
def test_a_bound_has_its_systems_colour_and_another_line(base):
    looks = style.styles([base, f"{base}@budget_oracle", f"{base}@oracle"])
    real, budget, oracle = looks[base], looks[f"{base}@budget_oracle"], looks[f"{base}@oracle"]
    for bound in (budget, oracle):
        assert (bound.color, bound.marker) == (real.color, real.marker)
        assert bound.linestyle != real.linestyle and bound.hollow and bound.hatch
        assert bound.line()["markerfacecolor"] == "none"
        assert bound.line()["markersize"] > real.line()["markersize"]
    assert budget.linestyle != oracle.linestyle and budget.hatch != oracle.hatch


def test_every_bound_policy_has_a_look():
    assert set(BOUND_POLICIES) <= set(style.BOUNDS)


def test_split_only_takes_bound_suffixes():
    assert style.split("a@oracle") == ("a", "oracle")
    assert style.split("a@b@budget_oracle") == ("a@b", "budget_oracle")
    assert style.split("a@other") == ("a@other", None)
    assert style.split("@oracle") == ("@oracle", None)


def test_order_puts_bounds_after_real_systems_keeping_each_order():
    names = ["b", "b@oracle", "a", "a@budget_oracle", "b", "c"]
    assert style.order(names) == ["b", "a", "c", "b@oracle", "a@budget_oracle"]
    assert style.order(TWELVE) == TWELVE


def test_twins_names_the_first_equal_curve():
    data = {"a": [1.0, np.nan], "b": [1.0, 2.0], "a@oracle": [1.0, np.nan],
            "c": [1.0, 2.0], "d": [1.0, 2.0, 3.0]}
    assert style.twins(data) == {"a@oracle": "a", "c": "b"}
    assert style.label("c", "b") == "c (identical to b)" and style.label("c") == "c"
