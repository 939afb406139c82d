"""Which tensors cross the boundary between stage graphs (DESIGN §3), decided from the
step assignments alone, before any graph is built.

Units of a layer are kept in one fixed *canonical order*: by step, then by index. After
stage k the state of layer l holds the units with step <= k in that order, so stage k's
``state.<layer>`` is ``concat(state_in.<layer>, new units)``. A stage takes
``state_in.<layer>`` only when it reads the old units (the next layer has new units) or
must pass them on; it outputs ``state.<layer>`` only when a later stage takes it. The
last hidden layer's state is never carried (the classifier is additive) and the last
stage outputs only ``logits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StatePlan:
    takes: tuple[tuple[bool, ...], ...]   # takes[k-1][i]: stage k has input state_in.<layer i>
    gives: tuple[tuple[bool, ...], ...]   # gives[k-1][i]: stage k has output state.<layer i>


def canonical_order(steps: np.ndarray, k: int) -> np.ndarray:
    """Indices of the units with step <= k, sorted by step then index."""
    order = np.argsort(steps, kind="stable")
    return order[steps[order] <= k]


def new_units(steps: np.ndarray, k: int) -> np.ndarray:
    return np.flatnonzero(steps == k)


def plan_states(hidden_steps: list[np.ndarray], num_steps: int) -> StatePlan:
    """Work backwards from the last stage: a stage gives what the next one takes."""
    n_layers = len(hidden_steps)
    takes: list[tuple[bool, ...]] = [()] * num_steps
    gives: list[tuple[bool, ...]] = [()] * num_steps
    after = (False,) * n_layers
    for k in range(num_steps, 0, -1):
        gives[k - 1] = after
        takes[k - 1] = tuple(_takes(hidden_steps, i, k, after[i]) for i in range(n_layers))
        after = takes[k - 1]
    return StatePlan(tuple(takes), tuple(gives))


def _takes(hidden_steps: list[np.ndarray], i: int, k: int, must_pass_on: bool) -> bool:
    has_old = bool(np.any(hidden_steps[i] < k))
    reads = i + 1 < len(hidden_steps) and bool(np.any(hidden_steps[i + 1] == k))
    return has_old and (reads or must_pass_on)
