"""Hyperparameter search on a budget: spaces, samplers, successive halving, Hyperband.

Chapter 17 ("Automatic learning") explains every function here.

- A *search space* is a dict ``name -> dimension``: :class:`LogUniform` (a learning
  rate, a weight decay), :class:`Uniform`, :class:`Choice` (a width, a depth,
  augmentation on or off). :func:`sample_configs` draws configurations at random,
  :func:`grid_configs` lays a grid over the same space.
- :func:`halving_rungs` is successive halving's rung arithmetic in the form of Li et
  al. (2017): ``n_i = floor(n / eta^i)`` configurations get ``r_i = r_min * eta^i``
  budget units each. :func:`budget_rungs` is Jamieson & Talwalkar's (2016) form, where a
  total budget ``B`` is split evenly between ``ceil(log_eta n)`` rounds.
  :func:`hyperband_brackets` lists Hyperband's brackets (Li et al. 2017, Table 1).
- :func:`run_halving` and :func:`run_random` are the run loops: they call an objective
  ``objective(trial, budget) -> score`` (higher is better), charge what it costs, and
  stop before a total budget is overrun. A :class:`Trial` carries its configuration,
  its own seed and a ``state`` slot where an objective keeps what it needs to resume
  (a network's weights), so a promoted configuration trains on instead of restarting.

Budgets are integers in the objective's unit (training steps in chapter 17). Every
random choice comes from ``numpy.random.default_rng(seed)``: the same seed gives the
same configurations, the same trial seeds and, with a deterministic objective, the
same result.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "LogUniform",
    "Uniform",
    "Choice",
    "Trial",
    "check_space",
    "sample_configs",
    "grid_configs",
    "halving_rungs",
    "budget_rungs",
    "hyperband_brackets",
    "run_halving",
    "run_random",
    "run_hyperband",
]


def _pos_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _eta(eta) -> int:
    if isinstance(eta, bool) or not isinstance(eta, (int, np.integer)) or eta < 2:
        raise ValueError(
            f"eta (the reduction factor) must be an int >= 2, got {eta!r}: each rung "
            "keeps 1/eta of the configurations, so eta = 1 would keep them all"
        )
    return int(eta)


@dataclass(frozen=True)
class LogUniform:
    """A positive real drawn uniformly in ``log(value)`` between ``low`` and ``high``.

    For scale parameters such as a learning rate, where 1e-3 to 1e-2 matters as much
    as 1e-2 to 1e-1. Raises ``ValueError`` unless ``0 < low < high``. Chapter 17.
    """

    low: float
    high: float

    def __post_init__(self):
        if not (0 < self.low < self.high):
            raise ValueError(
                f"LogUniform needs 0 < low < high, got {self.low}, {self.high}"
            )

    def sample(self, rng) -> float:
        return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))

    def grid(self, k: int) -> list:
        edges = np.linspace(np.log(self.low), np.log(self.high), k + 1)
        return [float(v) for v in np.exp((edges[:-1] + edges[1:]) / 2)]


@dataclass(frozen=True)
class Uniform:
    """A real drawn uniformly between ``low`` and ``high`` (``low < high``).

    Chapter 17.
    """

    low: float
    high: float

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got {self.low}, {self.high}")

    def sample(self, rng) -> float:
        return float(rng.uniform(self.low, self.high))

    def grid(self, k: int) -> list:
        edges = np.linspace(self.low, self.high, k + 1)
        return [float(v) for v in (edges[:-1] + edges[1:]) / 2]


@dataclass(frozen=True)
class Choice:
    """One of a finite list of ``values`` (widths, depths, on/off), equally likely.

    ``grid(k)`` returns every value whatever ``k`` is (a grid cannot interpolate a
    choice). Raises ``ValueError`` for an empty list. Chapter 17.
    """

    values: tuple

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("Choice needs at least one value, got an empty list")

    def sample(self, rng):
        value = self.values[int(rng.integers(len(self.values)))]
        return value.item() if isinstance(value, np.generic) else value

    def grid(self, k: int) -> list:
        return list(self.values)


@dataclass
class Trial:
    """One configuration under evaluation: ``config`` (a dict), ``seed`` (its own int
    seed for weights and batches), ``spent`` (budget units already trained), ``state``
    (whatever the objective keeps to resume) and ``scores`` (``{budget: score}``).
    Chapter 17."""

    index: int
    config: dict
    seed: int
    spent: int = 0
    state: object = None
    scores: dict = field(default_factory=dict)


def check_space(space) -> dict:
    """Check a search space ``{name: dimension}`` and return it.

    Raises ``ValueError`` for an empty space or a dimension that is not a
    :class:`LogUniform`, :class:`Uniform` or :class:`Choice`. Chapter 17.
    """
    if not isinstance(space, dict) or not space:
        raise ValueError(
            f"space must be a non-empty dict name -> dimension, got {space!r}: add "
            "e.g. {'lr': LogUniform(1e-3, 1e-1)}"
        )
    for name, dim in space.items():
        if not isinstance(dim, (LogUniform, Uniform, Choice)):
            raise ValueError(
                f"space[{name!r}] must be LogUniform, Uniform or Choice, got {dim!r}"
            )
    return space


def sample_configs(space, n: int, seed: int = 0) -> list[dict]:
    """``n`` configurations drawn independently from ``space`` (random search).

    Returns a list of ``n`` dicts with the space's keys, the same for the same
    ``seed``. Raises ``ValueError`` as :func:`check_space`, or for ``n < 1``.
    Bergstra & Bengio (2012). Chapter 17.
    """
    check_space(space)
    rng = np.random.default_rng(_pos_int(seed, "seed", 0))
    return [
        {name: dim.sample(rng) for name, dim in space.items()}
        for _ in range(_pos_int(n, "n"))
    ]


def grid_configs(space, points: int) -> list[dict]:
    """Every combination of ``points`` values per real dimension (all values of a
    :class:`Choice`), in a fixed order. A real dimension's values are the centres of
    ``points`` equal cells (in log for :class:`LogUniform`), so a grid never sits on
    the edges of the range. Returns ``prod(k_d)`` dicts. Raises
    ``ValueError`` as :func:`check_space`, or for ``points < 1``. Chapter 17."""
    check_space(space)
    k = _pos_int(points, "points")
    axes = [dim.grid(k) for dim in space.values()]
    return [dict(zip(space, values)) for values in itertools.product(*axes)]


def halving_rungs(n: int, r_min: int, eta: int = 3, r_max: int | None = None):
    """Successive halving's rungs: ``[(n_i, r_i), ...]`` for ``i = 0, 1, ...``.

    ``n`` configurations start with ``r_min`` budget units each; after every rung the
    best ``n_i = floor(n / eta^i)`` go on with ``r_i = r_min * eta^i`` units (the total
    each survivor has trained, not the increment). The rungs stop when one
    configuration is left, or before ``r_i`` would pass ``r_max``. Returns a list of
    ``(n_i, r_i)`` int pairs. Raises ``ValueError`` for ``n < 1``, ``r_min < 1``,
    ``eta`` not an int >= 2, or ``r_max < r_min`` (a budget too small for one rung).
    Li et al. (2017), the inner loop of Hyperband. Chapter 17.
    """
    n, r_min, eta = _pos_int(n, "n"), _pos_int(r_min, "r_min"), _eta(eta)
    if r_max is not None and _pos_int(r_max, "r_max") < r_min:
        raise ValueError(
            f"r_max={r_max} is below r_min={r_min}: the budget is too small for one "
            "rung; raise r_max or lower r_min"
        )
    rungs, i = [], 0
    while True:
        n_i, r_i = n // eta**i, r_min * eta**i
        if n_i < 1 or (r_max is not None and r_i > r_max):
            break
        rungs.append((n_i, r_i))
        if n_i == 1:
            break
        i += 1
    return rungs


def budget_rungs(n: int, budget: int, eta: int = 2):
    """Jamieson & Talwalkar's (2016) successive halving under a total ``budget``.

    There are ``R = ceil(log_eta n)`` rounds; round ``k`` keeps ``n_k =
    ceil(n / eta^k)`` configurations and gives each ``floor(budget / (n_k R))``
    *more* units, so every round spends at most ``budget / R``. Returns
    ``[(n_k, units_k), ...]``. Raises ``ValueError`` for ``n < 2``, ``eta`` not an
    int >= 2, or a budget that gives a configuration less than one unit in the first
    round. Chapter 17.
    """
    n, eta = _pos_int(n, "n", 2), _eta(eta)
    budget = _pos_int(budget, "budget")
    rounds = math.ceil(math.log(n) / math.log(eta) - 1e-12)
    if budget // (n * rounds) < 1:
        raise ValueError(
            f"budget={budget} is too small for one rung: {n} configurations x {rounds} "
            f"rounds need at least {n * rounds} units"
        )
    out, alive = [], n
    for _ in range(rounds):
        out.append((alive, budget // (alive * rounds)))
        alive = math.ceil(alive / eta)
    return out


def hyperband_brackets(r_max: int, eta: int = 3):
    """Hyperband's brackets for a maximum budget ``r_max`` per configuration.

    With ``s_max = floor(log_eta r_max)``, bracket ``s = s_max, ..., 0`` starts
    ``n = ceil((s_max + 1) eta^s / (s + 1))`` configurations at ``r = r_max eta^-s``
    and runs successive halving on them (:func:`halving_rungs`). Returns a list of
    ``(s, rungs)`` with ``rungs`` as in :func:`halving_rungs`. Raises ``ValueError``
    for ``r_max < 1`` or ``eta`` not an int >= 2. Li et al. (2017), Algorithm 1 and
    Table 1 (``r_max = 81, eta = 3``). Chapter 17.
    """
    r_max, eta = _pos_int(r_max, "r_max"), _eta(eta)
    s_max = 0
    while eta ** (s_max + 1) <= r_max:
        s_max += 1
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) * eta**s / (s + 1))
        r = r_max // eta**s
        rungs = [(n // eta**i, r * eta**i) for i in range(s + 1)]
        brackets.append((s, rungs))
    return brackets


def _charge(trial: Trial, budget: int, resume: bool) -> int:
    return budget - trial.spent if resume else budget


def run_halving(
    objective, configs, r_min, eta=3, *, seed=0, resume=True, budget=None, r_max=None
):
    """Successive halving over ``configs`` with rungs from :func:`halving_rungs`.

    ``objective(trial, r)`` trains ``trial`` up to ``r`` units in all and returns a
    score (higher is better). With ``resume=True`` a promoted trial is charged only
    the extra ``r - trial.spent`` units (its ``state`` lets it continue); otherwise the
    full ``r``. Ties keep the earlier trial. ``budget`` (optional) caps the total
    charge: rungs that would overrun it are refused upfront with ``ValueError``;
    ``r_max`` (optional) stops the rungs before a configuration would pass it.
    Returns ``dict(best=Trial, trials=[Trial], spent=int, rungs=[(n_i, r_i)],
    history=[(cumulative units, best score so far)])``. Li et al. (2017). Chapter 17.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("configs is empty: sample some with sample_configs first")
    rungs = halving_rungs(len(configs), r_min, eta, r_max)
    cost = sum(
        n * (r - (rungs[i - 1][1] if i and resume else 0))
        for i, (n, r) in enumerate(rungs)
    )
    if budget is not None and cost > budget:
        raise ValueError(
            f"these rungs cost {cost} units but budget={budget}: use fewer "
            "configurations, a smaller r_min or a larger eta"
        )
    rng = np.random.default_rng(_pos_int(seed, "seed", 0))
    seeds = rng.integers(0, 2**31 - 1, size=len(configs))
    trials = [Trial(i, dict(c), int(s)) for i, (c, s) in enumerate(zip(configs, seeds))]
    alive, spent, best, history = trials, 0, -np.inf, []
    for n_i, r_i in rungs:
        alive = alive[:n_i]
        for trial in alive:
            spent += _charge(trial, r_i, resume)
            score = float(objective(trial, r_i))
            trial.spent, trial.scores[r_i] = r_i, score
            best = max(best, score)
            history.append((spent, best))
        alive = sorted(alive, key=lambda t: -t.scores[r_i])  # stable: ties keep order
    return dict(best=alive[0], trials=trials, spent=spent, rungs=rungs, history=history)


def run_random(objective, configs, r, *, seed=0, budget=None):
    """Random (or grid) search: each of ``configs`` trained for ``r`` units, until
    ``budget`` (optional) would be overrun. Returns the same dict as
    :func:`run_halving` (``rungs = [(trials run, r)]``). Raises ``ValueError`` for an
    empty ``configs`` or a budget below ``r`` (too small for one trial). Chapter 17.
    """
    configs = list(configs)
    r = _pos_int(r, "r")
    if not configs:
        raise ValueError("configs is empty: sample some with sample_configs first")
    if budget is not None and _pos_int(budget, "budget") < r:
        raise ValueError(f"budget={budget} is too small for one trial of r={r} units")
    n = len(configs) if budget is None else min(len(configs), budget // r)
    seeds = np.random.default_rng(_pos_int(seed, "seed", 0)).integers(0, 2**31 - 1, n)
    trials = [Trial(i, dict(c), int(s)) for i, (c, s) in enumerate(zip(configs, seeds))]
    spent, best, history = 0, -np.inf, []
    for trial in trials:
        score = float(objective(trial, r))
        spent += r
        trial.spent, trial.scores[r] = r, score
        best = max(best, score)
        history.append((spent, best))
    top = max(trials, key=lambda t: (t.scores[r], -t.index))
    return dict(best=top, trials=trials, spent=spent, rungs=[(n, r)], history=history)


def _final(trial: Trial) -> float:
    return trial.scores[max(trial.scores)]


def run_hyperband(objective, space, r_max, eta=3, *, seed=0, resume=True):
    """Hyperband: successive halving in every bracket of :func:`hyperband_brackets`.

    Each bracket samples its own configurations from ``space`` (seeded from ``seed``
    and the bracket) and runs :func:`run_halving` on them, capped at ``r_max``.
    Returns ``dict(best=Trial, spent=int, brackets=[run_halving's dict per
    bracket], history=[(cumulative units, best so far)])``. Raises ``ValueError`` as
    :func:`check_space` and :func:`hyperband_brackets`. Li et al. (2017),
    Algorithm 1. Chapter 17.
    """
    check_space(space)
    out, spent, best, history = [], 0, None, []
    for s, rungs in hyperband_brackets(r_max, eta):
        configs = sample_configs(space, rungs[0][0], seed=seed * 1000 + s)
        res = run_halving(
            objective,
            configs,
            rungs[0][1],
            eta,
            seed=seed * 1000 + s,
            resume=resume,
            r_max=r_max,
        )
        out.append(res)
        history += [
            (spent + u, max(b, history[-1][1]) if history else b)
            for u, b in res["history"]
        ]
        spent += res["spent"]
        top = res["best"]
        if best is None or _final(top) > _final(best):
            best = top
    return dict(best=best, spent=spent, brackets=out, history=history)
