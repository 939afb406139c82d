"""Training: the ``train`` arrow of the pipeline (dataset -> checkpoint ``OUT/model.pt``).

A recipe (:mod:`.recipe`, YAML -> frozen dataclasses) names a method; the runner
(:mod:`.runner`) loads the data, gets the teacher (:mod:`.teacher`), builds a
:class:`~.runner.Context` and calls the method registered in :data:`.runner.METHODS`
(``steppingnet`` here; ``anywidth``, ``slimmable``, ``static`` in sibling modules). Shared
helpers (schedule, LR suppression, distillation, evaluation, resumable state, batch
streams) live in :mod:`.common`.

A method is one module ``testbed/train/<method>.py`` that registers its recipe section
(``@SECTIONS.register(name)`` on a frozen dataclass) and its trainer
(``@METHODS.register(name)`` on ``fn(ctx) -> TrainResult``); :func:`import_methods` imports
them so that both registries are complete before a recipe is validated.
"""

from __future__ import annotations

import importlib

#: Modules ``testbed.train.<name>`` that hold a training method (the method has that name).
METHOD_MODULES = ("steppingnet", "anywidth", "slimmable", "static")


def import_methods() -> None:
    """Import every method module that exists (a missing one is simply not offered)."""
    for name in METHOD_MODULES:
        full = f"{__name__}.{name}"
        try:
            importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name != full:
                raise
