"""Moving units between subnets: the structural step of SteppingNet's construction (§III-A1).

After each training round, subnet j = 1..K hands its lowest-scoring units (eq. 3,
:mod:`.importance`) to subnet j+1 (K+1 = unused). Every subnet follows a straight line
from the expanded network's dense MACs ``F`` (all units in subnet 1) to its target
``T_j`` over the N moving iterations: after iteration t it should hold
``T_j + (F - T_j) (1 - (t+1)/N)``, so it moves the paper's per-iteration quota
``(F - T_j) / N`` on average. Each iteration subnet j moves what it holds above its line
(nothing if it is at or below it): a coarse unit that overshoots one iteration's share
(a LeNet-5 conv2 filter is 5% of the original MACs, a conv1 filter 9%) is paid back by
the next iterations instead of every iteration moving at least one unit and the
construction finishing early; pruning counts as progress. Subnet j can only give away
units of its own stage, so its stage grows as the gap between the lines of subnets j-1
and j does (a subnet gives units on only once that gap warrants it). In the last
iteration every subnet moves exactly ``M_j - T_j`` (within a tolerance window, refined
over a few rounds), so every subnet ends at its target.

Whenever subnet j hands units on, stage j+1 first gets units (stage j's lowest-scoring)
in every hidden layer after the first until it holds ``K - j`` there, and no stage
gives away its floor of a layer (:func:`seeds`, :func:`floors`, :class:`Candidates`):
one unit, and in later stages' deeper layers a number growing with the stage's MAC
share. A stage without units in a deeper layer has no path to the classifier, so its
step would change no prediction while its MACs count (found on the LeNet-5 cpu run,
where stages 3-4 ended with conv units only); one with a single unit there funnels its
new features through one channel (LeNet-3C1L's stage 4 of 35% of the MACs: +0.03
points).

Units are taken in ascending score order until the moved MACs just exceed the amount,
skipping a unit that would take the subnet below its target by more than half the
tolerance. Scores of different layers are put on one scale first (recipe
``score_normalization``, default "per_mac": importance per MAC the unit costs; "rank":
percentiles within the stage's units of each layer; see
:func:`.importance.selection_scores`). A
moved unit loses its synapses into units of smaller subnets automatically (the synapse
rule is derived from the steps, see :mod:`testbed.nets.nested`) and its pruned synapses
are revived. MACs are measured with :mod:`testbed.cost`; the selection prices a unit by the live
weights it takes out of subnet j (from the same synapse rule, :func:`weight_stage`) and
updates the prices of its neighbours as units are taken, so the selected total is what
subnet j loses; the last iteration still re-measures and refines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..cost import LayerCost, dense_macs, weight_stage
from .importance import Importance, selection_scores
from .prune import revive

@dataclass(frozen=True)
class MoveRules:
    """Which of our additions to §III-A the moves use (recipe switches, issue 19; all off =
    the paper as written). ``schedule``: "lines" (every subnet moves what it holds above
    its own straight MAC line) or "quota" (the paper: every subnet above its target moves
    the same quota ``(F - T_1) / N`` per iteration, a larger subnet only once it holds
    more than a quota beyond the next smaller one). ``seeds``: later stages get a unit in
    every deeper layer first (:func:`seeds`). ``floors``: later stages keep a floor of
    units per layer (:func:`floors`; off: one unit, so that no subnet loses a layer).
    ``calibration``: the last iteration brings every subnet to its target in measured
    rounds and :func:`calibrate` fixes what coarse units leave off."""
    schedule: str = "lines"
    seeds: bool = True
    floors: bool = True
    calibration: bool = True


FINAL_ROUNDS = 3      # measure-and-move rounds in the last iteration (pruning may shift counts)
FLOOR_SHARE = 0.5     # a later stage keeps >= this x its MAC share x the layer's units (floors)


def floors(net, targets: list[float]) -> list[list[int]]:
    """[stage][hidden layer]: how many units stage j keeps in layer i, whatever their
    scores (our addition). Stage 1 and every stage's first layer: 1 (a stage never
    empties a layer it holds). A later stage j, in every layer after the first:
    ``ceil(FLOOR_SHARE * (T_j - T_{j-1}) / T_K * units)``, so the units that carry its
    new features to the classifier grow with its MACs. Without it, cheap fc units flowed
    through the later stages to "unused" by score rank, leaving stages of 25-30% of the
    MACs with one fc1 and one fc2 unit (LeNet-5) or one conv3 unit (LeNet-3C1L), and
    steps that changed almost no prediction."""
    out = []
    for j in range(1, net.num_steps + 1):
        share = (targets[j - 1] - (targets[j - 2] if j > 1 else 0.0)) / targets[-1]
        out.append([1 if j == 1 or i == 0 else
                    max(1, int(np.ceil(FLOOR_SHARE * share * layer.step.numel())))
                    for i, layer in enumerate(net.hidden)])
    return out


def pair_counts(layer: LayerCost) -> np.ndarray:
    """[out_units, in_units]: live weights (allowed by the synapse rule, not pruned)
    between each output unit and each input unit of a layer."""
    live = weight_stage(layer) > 0
    if layer.keep is not None:
        live = live & layer.keep
    return live.reshape(layer.geom.out_units, len(layer.in_steps), -1).sum(-1).astype(np.float64)


class Candidates:
    """The units of stage j (flat arrays ``layer``, ``unit``, ``score``, ``cost``) with the
    MACs subnet j loses when each one moves: its live incoming weights plus its live
    outgoing weights into stage-j units (or the classifier). :meth:`take` updates the
    neighbours' costs, so the running total of taken costs is exact. The best-scoring
    unit of every layer is never a candidate: a stage never empties a layer it holds
    (subnet 1 must keep every layer; a later stage with no units in a deeper layer could
    not reach the classifier, its units would be dead weight). The next ``keep[i] - 1``
    (see :func:`floors`) are ``floored``: they move only as :func:`seeds` of the next
    stage (a stage at its floor must still seed the next one: in the per_mac LeNet-5 run
    stage 3 held 29 fc2 units, under its floor of 30, so stage 4 got none and its step
    changed no prediction)."""

    def __init__(self, net, importance: Importance, j: int, growth: float,
                 keep: list[int] | None = None):
        layers, scores = net.cost_layers(), selection_scores(importance, j, growth)
        # weighted pair counts of every weight layer: MACs of each (out unit, in unit) pair
        self.pairs = [pair_counts(c) * c.geom.macs_per_weight for c in layers]
        self.index, rows = [], []
        for i, layer in enumerate(net.hidden):
            units = torch.nonzero(layer.step == j).flatten().cpu().numpy()
            s = scores[i].cpu().numpy()[units]
            nxt = self.pairs[i + 1]
            if not layers[i + 1].geom.classifier:
                nxt = nxt[np.asarray(layers[i + 1].out_steps) == j]
            cost = self.pairs[i].sum(1)[units] + nxt.sum(0)[units]
            if importance.normalization == "rank" and len(units):
                s = (np.argsort(np.argsort(s, kind="stable"), kind="stable") + 0.5) / len(units)
            elif importance.normalization == "per_mac":
                s = s / np.maximum(cost, 1.0)
            floored = np.zeros(len(units), dtype=bool)
            if len(units):
                rest = np.argsort(-s, kind="stable")[1:]
                s, units, cost = s[rest], units[rest], cost[rest]
                floored = np.arange(len(units)) < (keep[i] if keep else 1) - 1
            flat = np.full(layer.step.numel(), -1)
            flat[units] = np.arange(len(rows), len(rows) + len(units))
            self.index.append(flat)
            rows += list(zip([i] * len(units), units, s, cost, floored))
        cols = list(zip(*rows)) if rows else [(), (), (), (), ()]
        self.layer, self.unit = np.array(cols[0], int), np.array(cols[1], int)
        self.score, self.cost = np.array(cols[2], float), np.array(cols[3], float)
        self.floored = np.array(cols[4], bool)

    def take(self, c: int) -> float:
        """Mark candidate c moved; return its cost and re-price its neighbours."""
        i, u, cost = self.layer[c], self.unit[c], float(self.cost[c])
        if i + 1 < len(self.index):           # stage-j consumers lose their synapse from u
            self._discount(i + 1, self.pairs[i + 1][:, u])
        if i > 0:                             # stage-j producers no longer feed u in subnet j
            self._discount(i - 1, self.pairs[i][u, :])
        return cost

    def _discount(self, layer: int, amounts: np.ndarray) -> None:
        flat = self.index[layer]
        mine = flat >= 0
        self.cost[flat[mine]] -= amounts[mine]


def seeds(c: Candidates, net, j: int, next_keep: list[int] | None = None) -> list[int]:
    """Candidates to hand on first so that every stage after j holds a unit in every
    hidden layer but the first: stage j+1 gets its lowest-scoring units until it holds
    ``K - j`` in each such layer (one to keep, one to seed each later stage when it hands
    on in turn), as far as stage j can spare them. A stage's units in layer i then feed
    its own units in every later layer up to the classifier, so its step adds to the
    prediction. With ``next_keep`` (stage j+1's :func:`floors`; one unit per layer when
    floors are off, which changes nothing) it gets up to its floor if that is more:
    under ``score_normalization: per_mac`` the cheap fc units stay in the small stages,
    and LeNet-5's stage 4 received a single fc2 unit (its step changed 3 of 2,000
    predictions). The first layer needs no seed (later
    layers read smaller stages' units of it), nor the last subnet (it sheds to
    "unused")."""
    if j >= net.num_steps:
        return []
    out, want = [], net.num_steps - j
    for i, layer in enumerate(net.hidden[1:], start=1):
        floor = next_keep[i] if next_keep else 0
        need = max(want, floor) - int((layer.step == j + 1).sum())
        mine = np.flatnonzero(c.layer == i)       # floored units included
        if need > 0 and len(mine):
            out += [int(u) for u in mine[np.argsort(c.score[mine], kind="stable")[:need]]]
    return out


def select(c: Candidates, amount: float, limit: float, forced: list[int] = ()) -> list[int]:
    """Candidates to move: in ascending score order until their costs just exceed
    ``amount`` (this iteration's share), skipping a unit that would pass ``limit`` (the
    most that may leave without taking the subnet below its target - tolerance/2; all
    in MACs of subnet j). ``forced`` candidates (:func:`seeds`) go first, each within the
    limit. A coarse unit (e.g. a LeNet-5 conv1 filter, 9% of the original MACs) moves
    when its score's turn comes, even if it alone exceeds the share (later iterations'
    shares shrink accordingly); one that no longer fits at the end is left to
    :func:`calibrate`."""
    order = np.argsort(c.score, kind="stable")
    taken, total = np.zeros(len(order), dtype=bool), 0.0
    for i in forced:
        if total + c.cost[i] <= limit:
            taken[i], total = True, total + c.take(i)
    for i in order:
        if total >= amount:
            break
        if not taken[i] and not c.floored[i] and total + c.cost[i] <= limit:
            taken[i], total = True, total + c.take(i)
    return [int(i) for i in order if taken[i]]


@torch.no_grad()
def move(net, layer_ids: np.ndarray, unit_ids: np.ndarray, j: int) -> None:
    """Move the given units from stage j to stage j+1 and revive their pruned synapses."""
    for i in np.unique(layer_ids):
        units = torch.as_tensor(unit_ids[layer_ids == i], device=net.hidden[i].step.device)
        net.hidden[i].step[units] = j + 1
        revive(net, int(i), units)


def move_from(net, importance: Importance, j: int, growth: float, amount: float,
              surplus: float, target: float, tolerance: float,
              keep: list[int] | None = None, next_keep: list[int] | None = None,
              seeded: bool = True) -> int:
    """Move stage j's lowest-scoring units worth ``amount`` MACs (see :func:`select`),
    keeping ``keep[i]`` units of each layer i, :func:`seeds` first when ``seeded``
    (up to stage j+1's floors ``next_keep``; None for the last stage); return how many
    moved."""
    if amount <= 0 or surplus <= tolerance / 2:
        return 0
    c = Candidates(net, importance, j, growth, keep)
    limit = net.subnet_macs()[j - 1] - target + tolerance / 2
    chosen = select(c, amount, limit, seeds(c, net, j, next_keep) if seeded else [])
    move(net, c.layer[chosen], c.unit[chosen], j)
    return len(chosen)


def construction_moves(net, importance: Importance, targets: list[float], t: int, n_iter: int,
                       growth: float, tolerance: float, rules: MoveRules = MoveRules()
                       ) -> list[int]:
    """All moves of iteration t (0-based) of ``n_iter`` moving iterations; ``targets`` and
    ``tolerance`` in MACs. With ``rules.calibration``, from iteration ``n_iter - 1`` on
    (the settle iterations of a recipe with ``settle_iterations``, see
    :mod:`.steppingnet`) every call brings every subnet to its target (usually no move
    once there). Returns the number of units each subnet gave away."""
    if rules.calibration and t >= n_iter - 1:
        return _final_moves(net, importance, targets, growth, tolerance, rules)
    full = dense_macs([layer.geom for layer in net.layers()])
    keep = _keep(net, targets, rules)
    quota = (full - targets[0]) / n_iter
    moved = []
    for j in range(1, net.num_steps + 1):
        macs = net.subnet_macs()
        if rules.schedule == "quota":
            gives = j == 1 or macs[j - 1] - macs[j - 2] > quota
            amount = min(quota, macs[j - 1] - targets[j - 1]) if gives else 0.0
        else:
            amount = macs[j - 1] - (targets[j - 1] + (full - targets[j - 1]) * (1.0 - (t + 1) / n_iter))
        moved.append(move_from(net, importance, j, growth, amount, macs[j - 1] - targets[j - 1],
                               targets[j - 1], tolerance, *_floors_at(keep, j), rules.seeds))
    return moved


def _floors_at(keep: list[list[int]], j: int) -> tuple[list[int], list[int] | None]:
    """Stage j's floors and stage j+1's (None when j is the last stage)."""
    return keep[j - 1], keep[j] if j < len(keep) else None


def _keep(net, targets: list[float], rules: MoveRules) -> list[list[int]]:
    """Units per stage and layer that never move: :func:`floors`, or one of each."""
    return floors(net, targets) if rules.floors else [[1] * len(net.hidden)] * net.num_steps


def _final_moves(net, importance: Importance, targets: list[float], growth: float,
                 tolerance: float, rules: MoveRules = MoveRules()) -> list[int]:
    """Last iteration: bring every subnet to its target, measuring after every round,
    then calibrate what coarse units left off target (:func:`calibrate`)."""
    moved, keep = [0] * net.num_steps, _keep(net, targets, rules)
    for _ in range(FINAL_ROUNDS):
        for j in range(1, net.num_steps + 1):
            surplus = net.subnet_macs()[j - 1] - targets[j - 1]
            moved[j - 1] += move_from(net, importance, j, growth, surplus, surplus,
                                      targets[j - 1], tolerance, *_floors_at(keep, j),
                                      rules.seeds)
    for j, m in enumerate(_calibrate_all(net, importance, targets, growth, tolerance, keep)):
        moved[j] += m
    return moved


def target_misses(net, targets: list[float], tolerance: float) -> list[float]:
    """MACs by which each subnet misses its target's window (target +- tolerance/2)."""
    return [max(0.0, abs(m - t) - tolerance / 2) for m, t in zip(net.subnet_macs(), targets)]


def _calibrate_all(net, importance: Importance, targets: list[float], growth: float,
                   tolerance: float, keep: list[list[int]]) -> list[int]:
    """:func:`calibrate` every subnet, smallest first, in two ways from the same assignment,
    keeping the one that lands closer to the targets: the smaller worst miss
    (:func:`target_misses`), then the smaller total, then the guarded one. Guarded: no
    move may take a larger subnet below its target. Unguarded:
    each subnet is brought to its own target and the larger ones, calibrated after it,
    repair what its moves cost them (calibrating subnet j never changes a smaller one).
    The guard alone can strand a subnet above its target: on a 6-iteration LeNet-5 smoke
    run the one conv1 filter that could leave subnet 2 (30% target, at 37%) cut synapses
    that subnet 3 needed, so no move was allowed."""
    start = _snapshot(net)
    tries = []
    for guarded in (True, False):
        _restore(net, start)
        moved = [calibrate(net, importance, j, growth, targets[j - 1], tolerance, keep,
                           targets=targets if guarded else None)
                 for j in range(1, net.num_steps + 1)]
        miss = target_misses(net, targets, tolerance)
        tries.append((max(miss), sum(miss), not guarded, moved, _snapshot(net)))
    *_, moved, assignment = min(tries, key=lambda t: t[:3])
    _restore(net, assignment)
    return moved


@torch.no_grad()
def calibrate(net, importance: Importance, j: int, growth: float, target: float,
              tolerance: float, keep: list[list[int]] | None = None, max_tries: int = 400,
              targets: list[float] | None = None) -> int:
    """Our addition for coarse units (the paper does not say how it lands on targets):
    if subnet j is still above target + tolerance/2, its lowest-scoring unit that gets
    it below moves on; if it is below target - tolerance/2, units of larger stages that
    fit come back to stage j, one at a time, measured exactly: stage j+1's best-scoring
    first, then stage j+2's and so on to "unused" (a stage may hold only one fine unit
    per layer when coarse units overshoot, e.g. LeNet-5's conv1 filters), never a
    stage's floor of a layer (``keep[stage][layer]``, :func:`floors`; default 1 unit, see
    :class:`Candidates`). Subnets below j keep their MACs, so calling this for j = 1..K
    in order settles them one by one. With ``targets`` (all K, in MACs) a move that
    would take a larger subnet below its target - tolerance/2 (or further below it) is
    refused: a unit brought back to stage j loses its synapses from stages j+1.., and one
    moved on cuts its synapses into stage-j units of every larger subnet (issue 19: two
    LeNet-5 ablations ended 3.6 and 5-7 points under their targets). Returns units
    moved out minus units moved back."""
    half, steps, last = tolerance / 2, [layer.step for layer in net.hidden], net.num_steps
    harms = _harms_larger(net, j, half, targets)
    moved = 0
    if net.subnet_macs()[j - 1] > target + half:
        c = Candidates(net, importance, j, growth, keep[j - 1] if keep else None)
        over = net.subnet_macs()[j - 1] - target - half
        for i in [i for i in np.argsort(c.score, kind="stable")
                  if c.cost[i] >= over and not c.floored[i]]:
            if _try_move(net, c.layer[i], c.unit[i], j, harms):
                moved += 1
                break
    scores = selection_scores(importance, j, growth)
    back = [(int(s[u]), -float(scores[i][u]), i, int(u)) for i, s in enumerate(steps)
            for u in torch.nonzero(s > j).flatten().tolist()]
    for m, _, i, u in sorted(back)[:max_tries]:
        if net.subnet_macs()[j - 1] >= target - half:
            break
        if m <= last and int((steps[i] == m).sum()) <= (keep[m - 1][i] if keep else 1):
            continue                  # stage m keeps its floor of every layer
        steps[i][u] = j
        if net.subnet_macs()[j - 1] > target + half or harms():
            steps[i][u] = m
        else:
            moved -= 1
    if net.subnet_macs()[j - 1] < target - half:
        moved += _swap_in(net, importance, j, growth, target, tolerance, keep, harms)
    return moved


SWAP_TRIES = 8        # coarse units _swap_in tries, best-scoring first


@torch.no_grad()
def _swap_in(net, importance: Importance, j: int, growth: float, target: float,
             tolerance: float, keep: list[list[int]] | None, harms) -> int:
    """Subnet j is below target - tolerance/2 and every unit of a larger stage that
    would fit has come back: only coarse units are left there (the long LeNet-5 run
    ended with subnet 4 at 78.3% of 85%: all fc and conv2 units in use, "unused" holding
    only conv1 filters of 8.8-10.1% each). Bring back the best-scoring one whose return
    overshoots, then hand on stage j's lowest-scoring finer units (:func:`select`) until
    subnet j is within the window; keep the first such swap that lands there without
    harming a larger subnet, undo the others. Stage j's floors (:func:`floors`) hold if
    they can; if no swap lands with them, it may shed below them down to one unit per
    layer (the target is a promise, the floors a heuristic of ours: in that run stage 4
    held exactly its floors). Returns units moved out minus units moved back."""
    half, steps, last = tolerance / 2, [layer.step for layer in net.hidden], net.num_steps
    scores = selection_scores(importance, j, growth)
    back = sorted((-float(scores[i][u]), i, int(u)) for i, s in enumerate(steps)
                  for u in torch.nonzero(s > j).flatten().tolist())
    floors_first = [keep[j - 1], None] if keep else [None]
    for floor in floors_first:
        for _, i, u in back[:SWAP_TRIES]:
            m = int(steps[i][u])
            if m <= last and int((steps[i] == m).sum()) <= (keep[m - 1][i] if keep else 1):
                continue
            saved = _snapshot(net)
            steps[i][u] = j
            over = net.subnet_macs()[j - 1] - target
            chosen = []
            if over > half:
                c = Candidates(net, importance, j, growth, floor)
                chosen = select(c, over - half, over + half)
                move(net, c.layer[chosen], c.unit[chosen], j)
            if abs(net.subnet_macs()[j - 1] - target) <= half and not harms():
                return len(chosen) - 1
            _restore(net, saved)
    return 0


def _snapshot(net) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    return ([layer.step.clone() for layer in net.hidden],
            [layer.keep.clone() for layer in net.layers()])


def _restore(net, saved) -> None:
    for layer, step in zip(net.hidden, saved[0]):
        layer.step.copy_(step)
    for layer, keep in zip(net.layers(), saved[1]):
        layer.keep.copy_(keep)


def _harms_larger(net, j: int, half: float, targets: list[float] | None):
    """A check, armed now: does the net's current assignment leave a subnet larger than
    j below its target - ``half`` and below where it stood when the check was armed?"""
    if targets is None:
        return lambda: False
    before = net.subnet_macs()

    def harms() -> bool:
        now = net.subnet_macs()
        return any(now[k] < targets[k] - half and now[k] < before[k]
                   for k in range(j, net.num_steps))
    return harms


def _try_move(net, layer: int, unit: int, j: int, harms) -> bool:
    """Move one unit from stage j to j+1 (:func:`move`) unless ``harms()`` says that takes
    a larger subnet below its target; then undo it (steps and revived synapses)."""
    layers = net.layers()
    saved = (layers[layer].keep.clone(), layers[layer + 1].keep.clone())
    move(net, np.array([layer]), np.array([unit]), j)
    if not harms():
        return True
    net.hidden[layer].step[unit] = j
    layers[layer].keep.copy_(saved[0])
    layers[layer + 1].keep.copy_(saved[1])
    return False
