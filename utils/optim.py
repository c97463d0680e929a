"""Optimizers and learning-rate schedules in NumPy, written to match Keras 3 step by step.

Chapter 7 ("Optimizers") explains every update rule here and asserts that each class
reproduces the corresponding ``keras.optimizers`` class over many steps, and that each
schedule function reproduces ``keras.optimizers.schedules``.

The optimizers keep their state explicitly (``opt.state``: one dict of arrays per parameter,
plus ``opt.iterations``) and update a list of NumPy arrays in place::

    opt = Adam(learning_rate=1e-3)
    for _ in range(100):
        opt.step(params, grads_of(params))

The learning rate may be a number or a schedule, i.e. any callable ``step -> learning rate``
evaluated at ``opt.iterations`` (0 for the first update), exactly as Keras does. All arithmetic
happens in each parameter's own dtype, so float32 parameters follow Keras' float32 arithmetic.

The module also has the test functions of the chapter (:func:`quadratic`, :func:`rosenbrock`),
a driver (:func:`run`) and :func:`one_cycle`, a schedule that Keras does not ship.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adam", "AdamW",
    "exponential_decay", "piecewise_constant", "cosine_decay", "one_cycle", "schedule",
    "quadratic", "rosenbrock", "run",
]


# --------------------------------------------------------------------------- argument checks

def _check_number(value, name: str, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a float after checking it is a finite real number in the given range."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}")
    return value


def _check_learning_rate(learning_rate):
    """A learning rate is a non-negative number or a callable schedule ``step -> rate``."""
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, Real) or not math.isfinite(learning_rate):
        raise ValueError(
            f"learning_rate must be a non-negative number or a schedule (a callable step -> rate), got {learning_rate!r}"
        )
    if learning_rate < 0:
        raise ValueError(f"learning_rate must be >= 0 (a negative rate climbs the loss), got {learning_rate:g}")
    return float(learning_rate)


def _check_steps(value, name: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} int, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- optimizers

class Optimizer:
    """Base class: learning rate (number or schedule), decoupled weight decay, step counter, state.

    Subclasses implement :meth:`_init_state` (the zero state of one parameter) and
    :meth:`_update` (one update of one parameter, in place). :meth:`step` checks the inputs,
    applies Keras' decoupled weight decay ``w <- w - lr * weight_decay * w`` before the update
    (chapter 7, "Weight decay is not L2 for Adam") and advances :attr:`iterations`.
    """

    def __init__(self, learning_rate=0.01, *, weight_decay=None):
        self.learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = None if weight_decay is None else _check_number(weight_decay, "weight_decay", low=0)
        self.iterations = 0
        self.state: list[dict[str, np.ndarray]] | None = None
        self._shapes: list[tuple] | None = None

    def current_learning_rate(self) -> float:
        """The learning rate the next :meth:`step` uses (a schedule is evaluated at :attr:`iterations`)."""
        lr = self.learning_rate
        if callable(lr):
            lr = float(np.asarray(lr(self.iterations)))
            if not math.isfinite(lr) or lr < 0:
                raise ValueError(f"the learning-rate schedule returned {lr!r} at step {self.iterations}; it must be >= 0")
        return lr

    def _init_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict, lr) -> None:
        raise NotImplementedError

    def _check(self, params, grads) -> tuple[list, list]:
        if isinstance(params, np.ndarray) or isinstance(grads, np.ndarray):
            raise ValueError("params and grads must be lists of arrays (wrap a single array: [w], [g])")
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameter arrays but {len(grads)} gradient arrays; they must pair up")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise ValueError(
                    f"params[{i}] must be a floating-point NumPy array (it is updated in place), got {type(p).__name__}"
                    + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else "")
                )
        grads = [np.asarray(g) for g in grads]
        for i, (p, g) in enumerate(zip(params, grads)):
            if p.shape != g.shape:
                raise ValueError(f"params[{i}] has shape {p.shape} but grads[{i}] has shape {g.shape}; they must match")
        shapes = [p.shape for p in params]
        if self._shapes is not None and shapes != self._shapes:
            raise ValueError(
                f"this optimizer was built for parameter shapes {self._shapes}, got {shapes}; use a new optimizer"
            )
        return params, grads

    def step(self, params, grads) -> list[np.ndarray]:
        """Update every array in ``params`` in place with its gradient in ``grads``; return ``params``."""
        params, grads = self._check(params, grads)
        if self.state is None:
            self._shapes = [p.shape for p in params]
            self.state = [self._init_state(p) for p in params]
        lr = self.current_learning_rate()
        for p, g, s in zip(params, grads, self.state):
            dtype = p.dtype.type
            lr_t, g = dtype(lr), g.astype(p.dtype, copy=False)
            if self.weight_decay is not None:  # decoupled weight decay, applied first (as Keras does)
                p -= p * dtype(self.weight_decay) * lr_t
            self._update(p, g, s, lr_t)
        self.iterations += 1
        return params

    def __repr__(self) -> str:
        keys = [k for k in vars(self) if not k.startswith("_") and k not in ("state", "iterations")]
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in keys) + ")"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum; Keras' ``keras.optimizers.SGD``.

    ``convention="keras"`` (default) keeps a velocity that already contains the learning rate::

        m <- momentum * m - lr * g
        w <- w + m                              (nesterov=False)
        w <- w + momentum * m - lr * g          (nesterov=True)

    ``convention="pytorch"`` keeps a buffer of raw gradients, as ``torch.optim.SGD`` does::

        b <- momentum * b + g
        w <- w - lr * b                         (nesterov=False)
        w <- w - lr * (g + momentum * b)        (nesterov=True)

    With a constant learning rate the two are the same algorithm (``m = -lr * b``); when the
    learning rate changes they differ (chapter 7, "Keras and PyTorch momentum").
    With ``momentum=0`` this is plain (mini-batch) gradient descent.
    """

    CONVENTIONS = ("keras", "pytorch")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, *, convention="keras", weight_decay=None):
        super().__init__(learning_rate, weight_decay=weight_decay)
        self.momentum = _check_number(momentum, "momentum", low=0, high=1, high_open=True)
        if not isinstance(nesterov, bool):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = nesterov
        if convention not in self.CONVENTIONS:
            raise ValueError(f"convention must be one of {self.CONVENTIONS}, got {convention!r}")
        self.convention = convention

    def _init_state(self, p):
        return {"momentum": np.zeros_like(p)} if self.momentum else {}

    def _update(self, p, g, s, lr):
        if not self.momentum:
            p -= g * lr
            return
        mu, m = p.dtype.type(self.momentum), s["momentum"]
        if self.convention == "keras":
            m[...] = m * mu - g * lr
            p += (m * mu - g * lr) if self.nesterov else m
        else:
            m[...] = m * mu + g
            p -= lr * ((g + mu * m) if self.nesterov else m)


class RMSprop(Optimizer):
    """RMSprop as in ``keras.optimizers.RMSprop`` (Tieleman & Hinton's rule, Keras' epsilon placement)::

        v <- rho * v + (1 - rho) * g**2
        a <- rho * a + (1 - rho) * g            (centered=True only)
        d <- v + eps        or  v - a**2 + eps  (centered)
        step = lr * g / sqrt(d)
        w <- w - step                            (momentum=0)
        b <- momentum * b + step;  w <- w - b    (momentum>0)

    Note that ``eps`` sits *inside* the square root (PyTorch adds it outside).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, *, weight_decay=None):
        super().__init__(learning_rate, weight_decay=weight_decay)
        self.rho = _check_number(rho, "rho", low=0, high=1, high_open=True)
        self.momentum = _check_number(momentum, "momentum", low=0, high=1, high_open=True)
        self.epsilon = _check_number(epsilon, "epsilon", low=0, low_open=True)
        if not isinstance(centered, bool):
            raise ValueError(f"centered must be True or False, got {centered!r}")
        self.centered = centered

    def _init_state(self, p):
        s = {"velocity": np.zeros_like(p)}
        if self.momentum > 0:
            s["momentum"] = np.zeros_like(p)
        if self.centered:
            s["average_gradient"] = np.zeros_like(p)
        return s

    def _update(self, p, g, s, lr):
        t = p.dtype.type
        rho, eps = t(self.rho), t(self.epsilon)
        v = s["velocity"]
        v[...] = rho * v + t(1 - self.rho) * (g * g)
        if self.centered:
            a = s["average_gradient"]
            a[...] = rho * a + t(1 - self.rho) * g
            denominator = v - a * a + eps
        else:
            denominator = v + eps
        increment = lr * g / np.sqrt(denominator)
        if self.momentum > 0:
            b = s["momentum"]
            b[...] = t(self.momentum) * b + increment
            p -= b
        else:
            p -= increment


class Adam(Optimizer):
    """Adam as in ``keras.optimizers.Adam`` (Kingma & Ba's rule with "epsilon hat")::

        t = iterations + 1
        m <- m + (1 - beta_1) * (g - m)
        v <- v + (1 - beta_2) * (g**2 - v)
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w <- w - alpha * m / (sqrt(v) + eps)

    The bias correction is folded into ``alpha``, so ``eps`` (default 1e-7) is added to the
    *uncorrected* ``sqrt(v)``; PyTorch adds its 1e-8 to the corrected one.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, weight_decay=None):
        super().__init__(learning_rate, weight_decay=weight_decay)
        self.beta_1 = _check_number(beta_1, "beta_1", low=0, high=1, high_open=True)
        self.beta_2 = _check_number(beta_2, "beta_2", low=0, high=1, high_open=True)
        self.epsilon = _check_number(epsilon, "epsilon", low=0, low_open=True)

    def _init_state(self, p):
        return {"momentum": np.zeros_like(p), "velocity": np.zeros_like(p)}

    def _update(self, p, g, s, lr):
        t = p.dtype.type
        step = t(self.iterations + 1)
        b1, b2 = t(self.beta_1), t(self.beta_2)
        alpha = lr * np.sqrt(t(1) - b2**step) / (t(1) - b1**step)
        m, v = s["momentum"], s["velocity"]
        m += (g - m) * t(1 - self.beta_1)
        v += (g * g - v) * t(1 - self.beta_2)
        p -= (m * alpha) / (np.sqrt(v) + t(self.epsilon))


class AdamW(Adam):
    """Adam with decoupled weight decay, ``keras.optimizers.AdamW`` (Loshchilov & Hutter).

    Every step first shrinks the weights, ``w <- w - lr * weight_decay * w``, then takes the
    Adam step of the loss gradient alone. Keras' default ``weight_decay`` is 0.004.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        if weight_decay is None:
            raise ValueError("AdamW needs a number for weight_decay (use Adam for no decay)")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay)


# --------------------------------------------------------------------------- schedules

def _steps(step) -> np.ndarray:
    step = np.asarray(step, dtype=float)
    if np.any(step < 0) or not np.all(np.isfinite(step)):
        raise ValueError("step must be >= 0 (optimizer steps count from 0)")
    return step


def exponential_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    """``lr0 * decay_rate ** (step / decay_steps)``; with ``staircase`` the exponent is floored.

    Matches ``keras.optimizers.schedules.ExponentialDecay``. The staircase version is the classic
    "step decay" (divide by a constant every ``decay_steps`` steps). ``step`` may be an array.
    """
    lr0 = _check_number(initial_learning_rate, "initial_learning_rate", low=0)
    decay_steps = _check_number(decay_steps, "decay_steps", low=0, low_open=True)
    decay_rate = _check_number(decay_rate, "decay_rate", low=0, low_open=True)
    p = _steps(step) / decay_steps
    if staircase:
        p = np.floor(p)
    return lr0 * decay_rate**p


def piecewise_constant(step, boundaries, values):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``...

    Matches ``keras.optimizers.schedules.PiecewiseConstantDecay`` (note the ``<=``: the new value
    starts one step *after* each boundary).
    """
    boundaries, values = list(boundaries), list(values)
    if len(values) != len(boundaries) + 1 or not boundaries:
        raise ValueError(
            f"need at least one boundary and exactly one more value than boundaries, got {len(boundaries)} "
            f"boundaries and {len(values)} values"
        )
    if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must be strictly increasing, got {boundaries}")
    for v in values:
        _check_number(v, "every value", low=0)
    step = _steps(step)
    index = np.searchsorted(np.asarray(boundaries, dtype=float), step, side="left")
    return np.asarray(values, dtype=float)[index]


def cosine_decay(step, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    """Optional linear warm-up, then a half cosine; ``keras.optimizers.schedules.CosineDecay``.

    Without ``warmup_target``: ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, T) / T)) + alpha)``
    with ``T = decay_steps``. With it, the rate rises linearly from ``lr0`` to ``warmup_target`` over
    ``warmup_steps`` steps and then decays from ``warmup_target`` in the same cosine shape.
    """
    lr0 = _check_number(initial_learning_rate, "initial_learning_rate", low=0)
    decay_steps = _check_number(decay_steps, "decay_steps", low=0, low_open=True)
    alpha = _check_number(alpha, "alpha", low=0, high=1)
    warmup_steps = _check_steps(warmup_steps, "warmup_steps", allow_zero=True)
    step = _steps(step)

    def decay(s, start):
        return start * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * s / decay_steps)) + alpha)

    if warmup_target is None:
        return decay(np.minimum(step, decay_steps), lr0)
    target = _check_number(warmup_target, "warmup_target", low=0)
    if warmup_steps == 0:
        raise ValueError("warmup_target needs warmup_steps >= 1")
    step = np.minimum(step, decay_steps + warmup_steps)
    warm = lr0 + (target - lr0) * step / warmup_steps
    return np.where(step < warmup_steps, warm, decay(step - warmup_steps, target))


def one_cycle(step, total_steps, max_learning_rate, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    """Smith's one-cycle policy (cosine form): up from ``max/div`` to ``max``, then down to ``max/(div*final)``.

    The rate rises over the first ``pct_start * total_steps`` steps and anneals over the rest, both
    along half cosines. Keras has no built-in one-cycle schedule; chapter 7 plots this one and an
    exercise wraps it in a ``keras.optimizers.schedules.LearningRateSchedule``.
    """
    total = _check_steps(total_steps, "total_steps")
    top = _check_number(max_learning_rate, "max_learning_rate", low=0, low_open=True)
    pct = _check_number(pct_start, "pct_start", low=0, high=1, low_open=True, high_open=True)
    div = _check_number(div_factor, "div_factor", low=1)
    final = _check_number(final_div_factor, "final_div_factor", low=1)
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
    """A schedule ``step -> learning rate`` by name, usable as an optimizer's ``learning_rate``.

    ``name`` is one of ``"exponential"``, ``"step"`` (exponential with ``staircase=True``),
    ``"piecewise"``, ``"cosine"``, ``"one_cycle"``; ``kwargs`` are the arguments of the
    corresponding function except ``step``. Unknown names or arguments raise ``ValueError``
    at once, and so do bad values (the schedule is evaluated at step 0 to check them).
    """
    import inspect

    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    fn = SCHEDULES[name]
    allowed = [p for p in inspect.signature(fn).parameters if p != "step"]
    if name == "step":
        if "staircase" in kwargs:
            raise ValueError("the 'step' schedule is staircase exponential decay; do not pass staircase")
        kwargs = {**kwargs, "staircase": True}
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"schedule {name!r} got unknown argument(s) {unknown}; it takes {allowed}")
    try:
        inspect.signature(fn).bind(0, **kwargs)
    except TypeError as e:
        raise ValueError(f"schedule {name!r}: {e}; it takes {allowed}") from None

    def lr_at(step):
        return fn(step, **kwargs)

    lr_at(0)  # validate the values now rather than at the first optimizer step
    lr_at.__name__ = f"{name}_schedule"
    return lr_at


# --------------------------------------------------------------------------- test problems

def quadratic(w, curvatures):
    """``f(w) = 0.5 * sum(c_i * w_i**2)`` and its gradient ``c * w``; minimum 0 at ``w = 0``.

    The curvatures are the Hessian's eigenvalues; their ratio max/min is the condition number
    that makes gradient descent zig-zag (chapter 7). Works on the last axis of ``w``.
    """
    w, c = np.asarray(w), np.asarray(curvatures, dtype=float)
    if w.shape[-1:] != c.shape:
        raise ValueError(f"w has {w.shape[-1] if w.ndim else 0} coordinates but there are {c.size} curvatures")
    return 0.5 * np.sum(c * w * w, axis=-1), c * w


def rosenbrock(w, a=1.0, b=100.0):
    """Rosenbrock's banana ``f(x, y) = (a - x)**2 + b * (y - x**2)**2`` and its gradient; minimum 0 at ``(a, a**2)``."""
    w = np.asarray(w)
    if w.shape[-1:] != (2,):
        raise ValueError(f"rosenbrock takes points (x, y) on the last axis, got shape {w.shape}")
    x, y = w[..., 0], w[..., 1]
    f = (a - x) ** 2 + b * (y - x * x) ** 2
    grad = np.stack([-2 * (a - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)], axis=-1)
    return f, grad


def run(optimizer: Optimizer, fn, w0, steps: int, **fn_kwargs):
    """Minimise ``fn`` (returning ``(loss, grad)``) from ``w0`` for ``steps`` steps.

    Returns ``(path, losses)``: the ``steps + 1`` points visited (starting with ``w0``) and the
    loss at each of them. Stops early, padding with ``nan``, if the iterate overflows (divergence).
    """
    steps = _check_steps(steps, "steps", allow_zero=True)
    w = np.array(w0, dtype=float)
    path = np.full((steps + 1, *w.shape), np.nan)
    losses = np.full(steps + 1, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            loss, grad = fn(w, **fn_kwargs)
            if not np.isfinite(loss) or not np.all(np.isfinite(w)):
                break
            path[k], losses[k] = w, loss
            if k < steps:
                optimizer.step([w], [grad])
    return path, losses
