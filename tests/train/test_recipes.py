"""Recipes: every shipped YAML validates; bad keys and types are one clear ConfigError."""

import dataclasses
import json

import pytest

from testbed.errors import ConfigError
from testbed.train.recipe import PAPER_TARGETS, PAPER_WIDTH, load_recipe, parse_recipe, recipe_dict

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    r = load_recipe(path)
    assert r.name == path.stem and r.params is not None
    assert recipe_dict(r)[r.method] == json.loads(json.dumps(dataclasses.asdict(r.params)))


MINIMAL = {"name": "x", "method": "steppingnet", "arch": "lenet3c1l", "dataset": "cifar10"}


def test_paper_defaults_fill_in():
    r = parse_recipe(dict(MINIMAL))
    assert r.width == PAPER_WIDTH["lenet3c1l"] and r.targets == PAPER_TARGETS["lenet3c1l"]
    p = r.params
    assert (p.iterations, p.beta, p.importance_growth, p.gamma) == (300, 0.9, 1.5, 0.4)
    assert p.lr_suppression and p.distillation


@pytest.mark.parametrize("change,field", [
    ({"steppingnet": {"iterations": "many"}}, "steppingnet.iterations"),
    ({"steppingnet": {"betta": 0.9}}, "steppingnet.betta"),
    ({"optimizer": {"lr": -1}}, "optimizer.lr"),
    ({"schedule": "sawtooth"}, "schedule.kind"),
    ({"targets": [0.5, 0.3]}, "targets"),
    ({"wdith": 2.0}, "wdith"),
    ({"arch": "resnet"}, "arch"),
    ({"method": "nope"}, "method"),
    ({"steppingnet": {"lr_suppression": "yes"}}, "steppingnet.lr_suppression"),
])
def test_bad_recipes_name_the_field(change, field):
    with pytest.raises(ConfigError) as err:
        parse_recipe({**MINIMAL, **change}, "r.yaml")
    assert err.value.file == "r.yaml" and err.value.where == field
