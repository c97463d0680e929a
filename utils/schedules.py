"""Learning-rate schedules in NumPy, each equal to its ``keras.optimizers.schedules``
class.

Chapter 7 ("Optimizers", section "Learning-rate schedules") plots every schedule here
and asserts it against Keras 3: :func:`exponential_decay` (and its staircase "step
decay"), :func:`piecewise_constant`, :func:`cosine_decay` (with optional linear
warm-up), and :func:`one_cycle` (Smith, 2018), which Keras does not ship.
:func:`schedule` builds one by name as a callable ``step -> learning rate`` that the
optimizers of :mod:`utils.optim` accept as ``learning_rate`` (``optim`` re-exports
everything here).

``step`` counts optimizer updates from 0 and may be an int or an array of them; every
function returns float64 learning rates of the shape of ``step``. Bad arguments raise
one ``ValueError`` naming the argument and the allowed range.
"""

from __future__ import annotations

import inspect

import numpy as np

from utils.shapes import as_float, positive_int, real_number

__all__ = [
    "exponential_decay",
    "piecewise_constant",
    "cosine_decay",
    "one_cycle",
    "schedule",
    "SCHEDULES",
]


def _steps(step) -> np.ndarray:
    step = as_float(step, "step", np.float64)
    if np.any(step < 0) or not np.all(np.isfinite(step)):
        bad = step if step.ndim == 0 else step[~(np.isfinite(step) & (step >= 0))][:3]
        raise ValueError(
            f"step must be >= 0 and finite (optimizer steps count from 0), got {bad}"
        )
    return step


def exponential_decay(
    step, initial_learning_rate, decay_steps, decay_rate, staircase=False
):
    """``lr0 * decay_rate ** (step / decay_steps)``; with ``staircase`` the exponent is
    floored.

    Matches ``keras.optimizers.schedules.ExponentialDecay``. The staircase version is
    the classic "step decay" (divide by a constant every ``decay_steps`` steps).
    ``step`` may be an array. ``step`` is an int or an array of them (>= 0); returns
    float64 of its shape. Raises ``ValueError`` for a negative or non-finite step or an
    argument out of range. Chapter 7 (schedules).
    """
    lr0 = real_number(initial_learning_rate, "initial_learning_rate", low=0)
    decay_steps = real_number(decay_steps, "decay_steps", low=0, low_open=True)
    decay_rate = real_number(decay_rate, "decay_rate", low=0, low_open=True)
    p = _steps(step) / decay_steps
    if staircase:
        p = np.floor(p)
    return lr0 * decay_rate**p


def piecewise_constant(step, boundaries, values):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``...

    Matches ``keras.optimizers.schedules.PiecewiseConstantDecay`` (note the ``<=``: the
    new value starts one step *after* each boundary). ``step`` is an int or an array of
    them (>= 0); returns float64 of its shape. Raises ``ValueError`` for a negative or
    non-finite step or an argument out of range. Chapter 7 (schedules). Boundaries must
    be strictly increasing numbers, with one more value than boundaries.
    """
    if not all(isinstance(a, (list, tuple, np.ndarray)) for a in (boundaries, values)):
        raise ValueError(
            f"boundaries and values must be lists of numbers, got {boundaries!r} and "
            f"{values!r}"
        )
    boundaries = [real_number(b, "every boundary", low=0) for b in boundaries]
    values = list(values)
    if len(values) != len(boundaries) + 1 or not boundaries:
        raise ValueError(
            "need at least one boundary and exactly one more value than boundaries, "
            f"got {len(boundaries)} "
            f"boundaries and {len(values)} values"
        )
    if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must be strictly increasing, got {boundaries}")
    for v in values:
        real_number(v, "every value", low=0)
    step = _steps(step)
    index = np.searchsorted(np.asarray(boundaries, dtype=float), step, side="left")
    return np.asarray(values, dtype=float)[index]


def cosine_decay(
    step,
    initial_learning_rate,
    decay_steps,
    alpha=0.0,
    warmup_target=None,
    warmup_steps=0,
):
    """Optional linear warm-up, then a half cosine;
    ``keras.optimizers.schedules.CosineDecay``.

    Without ``warmup_target``: ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, T) /
    T)) + alpha)`` with ``T = decay_steps``. With it, the rate rises linearly from
    ``lr0`` to ``warmup_target`` over ``warmup_steps`` steps and then decays from
    ``warmup_target`` in the same cosine shape. ``step`` is an int or an array of them
    (>= 0); returns float64 of its shape. Raises ``ValueError`` for a negative or
    non-finite step or an argument out of range. Chapter 7 (schedules).
    """
    lr0 = real_number(initial_learning_rate, "initial_learning_rate", low=0)
    decay_steps = real_number(decay_steps, "decay_steps", low=0, low_open=True)
    alpha = real_number(alpha, "alpha", low=0, high=1)
    warmup_steps = positive_int(warmup_steps, "warmup_steps", allow_zero=True)
    step = _steps(step)

    def decay(s, start):
        return start * (
            (1 - alpha) * 0.5 * (1 + np.cos(np.pi * s / decay_steps)) + alpha
        )

    if warmup_target is None:
        return decay(np.minimum(step, decay_steps), lr0)
    target = real_number(warmup_target, "warmup_target", low=0)
    if warmup_steps == 0:
        raise ValueError("warmup_target needs warmup_steps >= 1")
    step = np.minimum(step, decay_steps + warmup_steps)
    warm = lr0 + (target - lr0) * step / warmup_steps
    return np.where(step < warmup_steps, warm, decay(step - warmup_steps, target))


def one_cycle(
    step,
    total_steps,
    max_learning_rate,
    pct_start=0.3,
    div_factor=25.0,
    final_div_factor=1e4,
):
    """Smith's one-cycle policy (cosine form): up from ``max/div`` to ``max``, then down
    to ``max/(div*final)``.

    The rate rises over the first ``pct_start * total_steps`` steps and anneals over the
    rest, both along half cosines. Keras has no built-in one-cycle schedule; chapter 7
    plots this one and an exercise wraps it in a
    ``keras.optimizers.schedules.LearningRateSchedule``. Raises ``ValueError`` for a
    ``total_steps`` that is not a positive int or an argument out of range.
    """
    total = positive_int(total_steps, "total_steps")
    top = real_number(max_learning_rate, "max_learning_rate", low=0, low_open=True)
    pct = real_number(
        pct_start, "pct_start", low=0, high=1, low_open=True, high_open=True
    )
    div = real_number(div_factor, "div_factor", low=1)
    final = real_number(final_div_factor, "final_div_factor", low=1)
    step = np.minimum(_steps(step), total)
    start, end = top / div, top / (div * final)
    up = pct * total

    def cos_interp(a, b, frac):  # a at frac=0, b at frac=1
        return b + (a - b) * 0.5 * (1 + np.cos(np.pi * np.clip(frac, 0, 1)))

    rising = cos_interp(start, top, step / up)
    falling = cos_interp(top, end, (step - up) / (total - up))
    return np.where(step <= up, rising, falling)


SCHEDULES = {
    "exponential": exponential_decay,
    "step": exponential_decay,  # staircase=True forced below
    "piecewise": piecewise_constant,
    "cosine": cosine_decay,
    "one_cycle": one_cycle,
}


def schedule(name: str, **kwargs):
    """A schedule ``step -> learning rate`` by name, usable as an optimizer's
    ``learning_rate``.

    ``name`` is one of ``"exponential"``, ``"step"`` (exponential with
    ``staircase=True``), ``"piecewise"``, ``"cosine"``, ``"one_cycle"``; ``kwargs`` are
    the arguments of the corresponding function except ``step``. Unknown names or
    arguments raise ``ValueError`` at once, and so do bad values (the schedule is
    evaluated at step 0 to check them). Chapter 7 (schedules).
    """
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ValueError(
            f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}"
        )
    fn = SCHEDULES[name]
    allowed = [p for p in inspect.signature(fn).parameters if p != "step"]
    if name == "step":
        if "staircase" in kwargs:
            raise ValueError(
                "the 'step' schedule is staircase exponential decay; do not pass "
                "staircase"
            )
        kwargs = {**kwargs, "staircase": True}
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"schedule {name!r} got unknown argument(s) {unknown}; it takes {allowed}"
        )
    try:
        inspect.signature(fn).bind(0, **kwargs)
    except TypeError as e:
        raise ValueError(f"schedule {name!r}: {e}; it takes {allowed}") from None

    def lr_at(step):
        return fn(step, **kwargs)

    lr_at(0)  # validate the values now rather than at the first optimizer step
    lr_at.__name__ = f"{name}_schedule"
    return lr_at
