"""Every shipped baseline recipe validates and matches the SteppingNet recipe it names
(same data pipeline, optimiser, schedule, teacher, targets: budgets that compare)."""

from pathlib import Path

import pytest

from testbed.train.baseline import matched_recipe
from testbed.train.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
BASELINE_RECIPES = sorted(p for m in ("slimmable", "anywidth", "static")
                          for p in RECIPES.glob(f"*-{m}.yaml"))


def partner(path: Path) -> Path:
    """The SteppingNet recipe whose budget the baseline matches (its ``budget_matches``,
    else the same name with ``-steppingnet``)."""
    named = load_recipe(path).params.budget_matches
    return path.with_name(named or path.name.rsplit("-", 1)[0] + "-steppingnet.yaml")


def test_there_are_baseline_recipes_for_every_scale():
    for scale in ("smoke", "cpu", "paper"):
        for m in ("slimmable", "anywidth", "static"):
            assert any(p.name.startswith(scale) and p.name.endswith(f"-{m}.yaml")
                       for p in BASELINE_RECIPES), (scale, m)


def test_every_baseline_recipe_has_its_steppingnet_recipe():
    missing = sorted({partner(p).name for p in BASELINE_RECIPES if not partner(p).is_file()})
    assert not missing, f"baseline recipes name steppingnet recipes that do not exist: {missing}"


@pytest.mark.parametrize("path", BASELINE_RECIPES, ids=lambda p: p.name)
def test_baseline_recipe_matches_its_steppingnet_recipe(path):
    recipe = load_recipe(path)
    assert recipe.method in ("slimmable", "anywidth", "static")
    assert recipe.params.budget_matches, "a baseline recipe must name its steppingnet recipe"
    if not partner(path).is_file():
        pytest.skip(f"{partner(path).name} missing (see the test above)")
    sn = matched_recipe(recipe)
    assert sn.method == "steppingnet"
    assert Path(sn.file).name == partner(path).name
