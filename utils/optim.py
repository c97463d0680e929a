"""Optimizers in NumPy, written to match Keras 3 step by step.

Chapter 7 ("Optimizers") explains every update rule here and asserts that each class
reproduces the corresponding ``keras.optimizers`` class over many steps. The
learning-rate schedules live in :mod:`utils.schedules` and are re-exported here
(``optim.cosine_decay``).

The optimizers keep their state explicitly (``opt.state``: one dict of arrays per
parameter, plus ``opt.iterations``) and update a list of NumPy arrays in place::

    opt = Adam(learning_rate=1e-3)
    for _ in range(100):
        opt.step(params, grads_of(params))

The learning rate may be a number or a schedule, i.e. any callable ``step -> learning
rate`` evaluated at ``opt.iterations`` (0 for the first update), exactly as Keras does.
All arithmetic happens in each parameter's own dtype, so float32 parameters follow
Keras' float32 arithmetic.

The chapter's test functions (:func:`quadratic`, :func:`rosenbrock`) and driver
(:func:`run`) live in :mod:`utils.landscapes` and are re-exported here too. Bad
arguments raise one ``ValueError`` naming what to fix.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from utils.landscapes import quadratic, rosenbrock, run  # noqa: F401  (optim.run)
from utils.schedules import (  # noqa: F401  (re-exported: chapter 7 writes optim.cosine_decay)
    SCHEDULES,
    cosine_decay,
    exponential_decay,
    one_cycle,
    piecewise_constant,
    schedule,
)
from utils.shapes import as_float, check_finite, real_number

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "exponential_decay",
    "piecewise_constant",
    "cosine_decay",
    "one_cycle",
    "schedule",
    "quadratic",
    "rosenbrock",
    "run",
]


# ---------------------------------------------------------------------- argument checks


def _fraction(value, name: str) -> float:
    """A decay factor such as momentum, rho or beta: a number in [0, 1)."""
    return real_number(value, name, low=0, high=1, high_open=True)


def _check_learning_rate(learning_rate):
    """A learning rate is a non-negative number or a callable schedule ``step ->
    rate``."""
    if callable(learning_rate):
        return learning_rate
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, Real)
        or not math.isfinite(learning_rate)
    ):
        raise ValueError(
            "learning_rate must be a non-negative number or a schedule (a callable "
            f"step -> rate), got {learning_rate!r}"
        )
    if learning_rate < 0:
        raise ValueError(
            "learning_rate must be >= 0 (a negative rate climbs the loss), got "
            f"{learning_rate:g}"
        )
    return float(learning_rate)


# --------------------------------------------------------------------------- optimizers


class Optimizer:
    """Base class: learning rate (number or schedule), decoupled weight decay, step
    counter, state.

    Subclasses implement :meth:`_init_state` (the zero state of one parameter) and
    :meth:`_update` (one update of one parameter, in place). :meth:`step` checks the
    inputs, applies Keras' decoupled weight decay ``w <- w - lr * weight_decay * w``
    before the update (chapter 7, "Weight decay is not L2 for Adam") and advances
    :attr:`iterations`.

    :meth:`step` raises ``ValueError`` when params are not float NumPy arrays (they are

    updated in place), when params and grads do not pair up in number or shape, when

    the shapes differ from the first call, when a gradient holds NaN or inf, or when a

    schedule returns a negative rate.

    Constructors raise ``ValueError`` for out-of-range hyper-parameters.

    """

    def __init__(self, learning_rate=0.01, *, weight_decay=None):
        self.learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = (
            None
            if weight_decay is None
            else real_number(weight_decay, "weight_decay", low=0)
        )
        self.iterations = 0
        self.state: list[dict[str, np.ndarray]] | None = None
        self._shapes: list[tuple] | None = None

    def current_learning_rate(self) -> float:
        """The learning rate the next :meth:`step` uses (a schedule is evaluated at
        :attr:`iterations`)."""
        lr = self.learning_rate
        if callable(lr):
            lr = float(np.asarray(lr(self.iterations)))
            if not math.isfinite(lr) or lr < 0:
                raise ValueError(
                    f"the learning-rate schedule returned {lr!r} at step "
                    f"{self.iterations}; it must be >= 0"
                )
        return lr

    def _init_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict, lr) -> None:
        raise NotImplementedError

    def _check(self, params, grads) -> tuple[list, list]:
        if isinstance(params, np.ndarray) or isinstance(grads, np.ndarray):
            raise ValueError(
                "params and grads must be lists of arrays (wrap a single array: [w], "
                "[g])"
            )
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(
                f"got {len(params)} parameter arrays but {len(grads)} gradient arrays; "
                "they must pair up"
            )
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise ValueError(
                    f"params[{i}] must be a floating-point NumPy array (it is updated "
                    f"in place), got {type(p).__name__}"
                    + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else "")
                )
        grads = [
            check_finite(
                as_float(g, f"grads[{i}]"),
                f"grads[{i}]",
                hint="a NaN or inf gradient would poison the weights for good: the "
                "training diverged (lower the learning rate) or the loss overflowed",
            )
            for i, g in enumerate(grads)
        ]
        for i, (p, g) in enumerate(zip(params, grads)):
            if p.shape != g.shape:
                raise ValueError(
                    f"params[{i}] has shape {p.shape} but grads[{i}] has shape "
                    f"{g.shape}; they must match"
                )
        shapes = [p.shape for p in params]
        if self._shapes is not None and shapes != self._shapes:
            raise ValueError(
                f"this optimizer was built for parameter shapes {self._shapes}, got "
                f"{shapes}; use a new optimizer"
            )
        return params, grads

    def step(self, params, grads) -> list[np.ndarray]:
        """Update every array in ``params`` in place with its gradient in ``grads``;
        return ``params``."""
        params, grads = self._check(params, grads)
        if self.state is None:
            self._shapes = [p.shape for p in params]
            self.state = [self._init_state(p) for p in params]
        lr = self.current_learning_rate()
        for p, g, s in zip(params, grads, self.state):
            dtype = p.dtype.type
            lr_t, g = dtype(lr), g.astype(p.dtype, copy=False)
            if (
                self.weight_decay is not None
            ):  # decoupled weight decay, applied first (as Keras does)
                p -= p * dtype(self.weight_decay) * lr_t
            self._update(p, g, s, lr_t)
        self.iterations += 1
        return params

    def __repr__(self) -> str:
        keys = [
            k
            for k in vars(self)
            if not k.startswith("_") and k not in ("state", "iterations")
        ]
        return (
            f"{type(self).__name__}("
            + ", ".join(f"{k}={getattr(self, k)!r}" for k in keys)
            + ")"
        )


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum; Keras'
    ``keras.optimizers.SGD``.

    ``convention="keras"`` (default) keeps a velocity that already contains the learning
    rate::

        m <- momentum * m - lr * g
        w <- w + m                              (nesterov=False)
        w <- w + momentum * m - lr * g          (nesterov=True)

    ``convention="pytorch"`` keeps a buffer of raw gradients, as ``torch.optim.SGD``
    does::

        b <- momentum * b + g
        w <- w - lr * b                         (nesterov=False)
        w <- w - lr * (g + momentum * b)        (nesterov=True)

    With a constant learning rate the two are the same algorithm (``m = -lr * b``); when
    the learning rate changes they differ (chapter 7, "Keras and PyTorch momentum").
    With ``momentum=0`` this is plain (mini-batch) gradient descent. Raises
    ``ValueError`` for a negative learning rate, a momentum outside [0, 1), a non-bool
    ``nesterov`` or an unknown convention.
    """

    CONVENTIONS = ("keras", "pytorch")

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        *,
        convention="keras",
        weight_decay=None,
    ):
        super().__init__(learning_rate, weight_decay=weight_decay)
        self.momentum = _fraction(momentum, "momentum")
        if not isinstance(nesterov, bool):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = nesterov
        if convention not in self.CONVENTIONS:
            raise ValueError(
                f"convention must be one of {self.CONVENTIONS}, got {convention!r}"
            )
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
    """RMSprop as in ``keras.optimizers.RMSprop`` (Tieleman & Hinton's rule, Keras'
    epsilon placement)::

        v <- rho * v + (1 - rho) * g**2
        a <- rho * a + (1 - rho) * g            (centered=True only)
        d <- v + eps        or  v - a**2 + eps  (centered)
        step = lr * g / sqrt(d)
        w <- w - step                            (momentum=0)
        b <- momentum * b + step;  w <- w - b    (momentum>0)

    Note that ``eps`` sits *inside* the square root (PyTorch adds it outside). Raises
    ``ValueError`` for ``rho`` or ``momentum`` outside [0, 1), a non-positive
    ``epsilon`` or a non-bool ``centered``. Chapter 7 (RMSprop).
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        *,
        weight_decay=None,
    ):
        super().__init__(learning_rate, weight_decay=weight_decay)
        self.rho = _fraction(rho, "rho")
        self.momentum = _fraction(momentum, "momentum")
        self.epsilon = real_number(epsilon, "epsilon", low=0, low_open=True)
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

    The bias correction is folded into ``alpha``, so ``eps`` (default 1e-7) is added to
    the *uncorrected* ``sqrt(v)``; PyTorch adds its 1e-8 to the corrected one. Raises
    ``ValueError`` for betas outside [0, 1) or a non-positive ``epsilon``. Chapter 7
    (Adam).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        *,
        weight_decay=None,
    ):
        super().__init__(learning_rate, weight_decay=weight_decay)
        self.beta_1 = _fraction(beta_1, "beta_1")
        self.beta_2 = _fraction(beta_2, "beta_2")
        self.epsilon = real_number(epsilon, "epsilon", low=0, low_open=True)

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
    """Adam with decoupled weight decay, ``keras.optimizers.AdamW`` (Loshchilov &
    Hutter).

    Every step first shrinks the weights, ``w <- w - lr * weight_decay * w``, then takes
    the Adam step of the loss gradient alone. Keras' default ``weight_decay`` is 0.004.
    Raises ``ValueError`` for ``weight_decay=None`` and as :class:`Adam`. Chapter 7
    (weight decay).
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
    ):
        if weight_decay is None:
            raise ValueError(
                "AdamW needs a number for weight_decay (use Adam for no decay)"
            )
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay
        )
