"""The objectives chapter 17 searches: a synthetic one and a small CIFAR-10 CNN.

- :func:`toy_score`: a cheap synthetic objective over ``x0 .. x4`` in ``[0, 1]`` where
  only ``x0`` and ``x1`` matter much, with a budget that changes the ranking (a
  configuration that learns fast can end lower), so a thousand searches cost nothing.
- :class:`CifarObjective`: a small CNN (``depth`` blocks of 3x3 convolution, ReLU and
  2x2 max-pool, then global average pooling and a linear classifier) trained with SGD,
  momentum 0.9, L2 weight decay and optional flips and shifts, written as plain
  TensorFlow on a list of weight tensors, so a trial's state is just tensors and a
  promoted trial trains on from where it stopped. :func:`keras_twin` builds the same
  network in Keras 3 with the same weights (the chapter asserts equal logits).
- :func:`lr_range_test`: Smith's (2017) learning-rate range test on the same network.

Chapter 17.
"""

from __future__ import annotations

import numpy as np

from .search import Trial

__all__ = [
    "toy_score",
    "CifarObjective",
    "init_params",
    "keras_twin",
    "lr_range_test",
    "ema",
]

TOY_OPTIMUM = (0.62, 0.41)  # where x0, x1 peak
DEFAULTS = dict(lr=0.05, wd=5e-4, width=16, depth=2, augment=False)


def toy_score(config: dict, budget: int | None = None, seed: int = 0) -> float:
    """The synthetic objective: a score in about ``[0, 1]``, higher is better.

    ``config`` holds ``x0 .. x4`` in ``[0, 1]``. The final quality is a bump of width
    0.12 around :data:`TOY_OPTIMUM` in ``(x0, x1)`` plus ``0.02 x_j`` for each other
    ``x_j`` (they hardly matter). With a ``budget`` (int units > 0) the score is the
    quality times ``1 - exp(-budget / tau)``, where ``tau = 4 + 60 x0`` (a larger
    ``x0`` learns more slowly, so small budgets favour small ``x0``), plus Gaussian
    noise of scale ``0.02 / sqrt(budget)`` seeded by ``seed``; ``budget=None`` gives
    the noise-free final quality. Raises ``ValueError`` for a missing or out-of-range
    ``x_j`` or a budget < 1. Chapter 17.
    """
    x = []
    for j in range(5):
        v = config.get(f"x{j}")
        if v is None or not 0 <= v <= 1:
            raise ValueError(f"config['x{j}'] must be in [0, 1], got {v!r}")
        x.append(float(v))
    d2 = (x[0] - TOY_OPTIMUM[0]) ** 2 + (x[1] - TOY_OPTIMUM[1]) ** 2
    quality = 0.9 * np.exp(-d2 / (2 * 0.12**2)) + 0.02 * sum(x[2:])
    if budget is None:
        return float(quality)
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, np.integer))
        or budget < 1
    ):
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    tau = 4 + 60 * x[0]
    noise = np.random.default_rng(seed).normal() * 0.02 / np.sqrt(budget)
    return float(quality * (1 - np.exp(-budget / tau)) + noise)


def _config(config: dict) -> dict:
    out = {**DEFAULTS, **config}
    if not out["lr"] > 0 or out["wd"] < 0:
        raise ValueError(
            f"lr must be > 0 and wd >= 0, got lr={out['lr']}, wd={out['wd']}"
        )
    for key in ("width", "depth"):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"config[{key!r}] must be an int >= 1, got {v!r}")
    if out["depth"] > 4:
        raise ValueError(f"depth must be <= 4 for 32x32 images, got {out['depth']}")
    return out


def init_params(width: int, depth: int, seed: int) -> list:
    """He-normal weights of the CNN: ``[k_1, b_1, ..., k_depth, b_depth, W, b]``.

    Block ``i`` (from 0) has ``width * 2^i`` channels and a ``(3, 3, c_in, c_out)``
    float32 kernel; ``W`` is ``(c_last, 10)``. Seeded NumPy, so the same on every
    machine. Raises ``ValueError`` as the config check. Chapter 17.
    """
    _config(dict(width=width, depth=depth))
    rng = np.random.default_rng(seed)
    params, c_in = [], 3
    for i in range(depth):
        c_out = width * 2**i
        std = np.sqrt(2.0 / (9 * c_in))
        params += [rng.normal(0, std, (3, 3, c_in, c_out)), np.zeros(c_out)]
        c_in = c_out
    params += [rng.normal(0, np.sqrt(1.0 / c_in), (c_in, 10)), np.zeros(10)]
    return [p.astype(np.float32) for p in params]


def _tf():
    import tensorflow as tf

    return tf


def forward(params, x):
    """Logits ``(N, 10)`` of the CNN for float32 images ``x`` ``(N, 32, 32, 3)``.

    Chapter 17.
    """
    tf = _tf()
    h = x
    for k, b in zip(params[:-2:2], params[1:-2:2]):
        h = tf.nn.relu(tf.nn.conv2d(h, k, 1, "SAME") + b)
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
    return tf.reduce_mean(h, axis=(1, 2)) @ params[-2] + params[-1]


_STEP = {}


def _step_fn():
    """One SGD-with-momentum step, traced once per network shape."""
    if "fn" not in _STEP:
        tf = _tf()

        @tf.function(reduce_retracing=True)
        def step(params, moms, x, y, lr, wd):
            with tf.GradientTape() as tape:
                tape.watch(params)
                logits = forward(params, x)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
                )
            grads = tape.gradient(loss, params)
            new_p, new_m = [], []
            for p, m, g in zip(params, moms, grads):
                m = 0.9 * m + g + wd * p
                new_p.append(p - lr * m)
                new_m.append(m)
            return new_p, new_m, loss

        _STEP["fn"] = step
    return _STEP["fn"]


def _augment(x, rng):
    """Random horizontal flips and shifts of up to 2 pixels (zero padding)."""
    flip = rng.random(len(x)) < 0.5
    x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    pad = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    dy, dx = rng.integers(0, 5, (2, len(x)))
    return np.stack(
        [pad[i, a : a + 32, b : b + 32] for i, (a, b) in enumerate(zip(dy, dx))]
    )


class CifarObjective:
    """Train-and-validate a CNN configuration for a number of SGD steps.

    ``data = dict(x_train, y_train, x_val, y_val, x_test, y_test)`` holds float32
    standardized NHWC images and int labels ``(N,)``. Calling ``objective(trial,
    steps)`` trains ``trial`` (a :class:`utils.search.Trial`; its ``config`` has
    ``lr``, ``wd``, ``width``, ``depth``, ``augment``, defaults in :data:`DEFAULTS`)
    until it has taken ``steps`` steps in all, resuming from ``trial.state``, and
    returns its validation accuracy. ``steps_done`` counts every step taken (the
    compute spent); :meth:`test_accuracy` scores a trial on the test split, which a
    search must never call. Raises ``ValueError`` for a bad config or ``steps`` below
    what the trial has already trained. Chapter 17.
    """

    def __init__(self, data: dict, batch_size: int = 64):
        missing = {"x_train", "y_train", "x_val", "y_val", "x_test", "y_test"} - set(
            data
        )
        if missing:
            raise ValueError(f"data lacks {sorted(missing)}")
        self.data, self.batch_size, self.steps_done = data, int(batch_size), 0

    def __call__(self, trial: Trial, steps: int) -> float:
        tf = _tf()
        cfg = _config(trial.config)
        if trial.state is None:
            params = init_params(cfg["width"], cfg["depth"], trial.seed)
            moms = [np.zeros_like(p) for p in params]
            trial.state = dict(
                params=[tf.constant(p) for p in params],
                moms=[tf.constant(m) for m in moms],
                rng=np.random.default_rng(trial.seed + 1),
                done=0,
            )
        st = trial.state
        if steps < st["done"]:
            raise ValueError(f"steps={steps} is below the {st['done']} already trained")
        x, y, n = self.data["x_train"], self.data["y_train"], len(self.data["y_train"])
        lr, wd = tf.constant(cfg["lr"], tf.float32), tf.constant(cfg["wd"], tf.float32)
        step = _step_fn()
        for _ in range(steps - st["done"]):
            idx = st["rng"].integers(0, n, self.batch_size)
            xb = _augment(x[idx], st["rng"]) if cfg["augment"] else x[idx]
            st["params"], st["moms"], loss = step(
                st["params"], st["moms"], tf.constant(xb), tf.constant(y[idx]), lr, wd
            )
        self.steps_done += steps - st["done"]
        st["done"] = steps
        return self.accuracy(st["params"], "val")

    def accuracy(self, params, split: str) -> float:
        """Accuracy of weights ``params`` on ``split`` ("val" or "test"); NaN-safe."""
        x, y = self.data[f"x_{split}"], self.data[f"y_{split}"]
        right = 0
        for i in range(0, len(x), 500):
            logits = forward(params, x[i : i + 500]).numpy()
            right += int((np.nan_to_num(logits).argmax(1) == y[i : i + 500]).sum())
        return right / len(x)

    def test_accuracy(self, trial: Trial) -> float:
        """The trial's test accuracy: for the report after the search, never in it."""
        return self.accuracy(trial.state["params"], "test")


def keras_twin(params):
    """The same CNN as a Keras 3 ``Sequential`` holding ``params`` (from
    :func:`init_params` or a trained trial): Conv2D/ReLU/MaxPooling2D blocks, then
    GlobalAveragePooling2D and Dense(10) logits. Chapter 17."""
    import keras

    L = keras.layers
    layers = [keras.Input((32, 32, 3))]
    for k in params[:-2:2]:
        layers += [
            L.Conv2D(k.shape[-1], 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
        ]
    layers += [L.GlobalAveragePooling2D(), L.Dense(10)]
    model = keras.Sequential(layers)
    model.set_weights([np.asarray(p) for p in params])
    return model


def lr_range_test(
    objective: CifarObjective,
    config: dict,
    steps: int,
    lr_min=1e-4,
    lr_max=3.0,
    seed: int = 0,
):
    """Smith's (2017) range test: one run whose learning rate grows geometrically
    from ``lr_min`` to ``lr_max`` over ``steps`` steps. Returns ``(lrs, losses)``,
    two float arrays of length ``steps`` (the training loss of each step's batch;
    a diverged step is ``inf``). The steps are charged to ``objective.steps_done``.
    Raises ``ValueError`` for ``steps < 2`` or ``0 < lr_min < lr_max`` not holding.
    Chapter 17.
    """
    tf = _tf()
    if not (isinstance(steps, (int, np.integer)) and steps >= 2):
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not 0 < lr_min < lr_max:
        raise ValueError(f"need 0 < lr_min < lr_max, got {lr_min}, {lr_max}")
    cfg = _config(config)
    params = [tf.constant(p) for p in init_params(cfg["width"], cfg["depth"], seed)]
    moms = [tf.zeros_like(p) for p in params]
    rng, x, y = (
        np.random.default_rng(seed + 1),
        objective.data["x_train"],
        objective.data["y_train"],
    )
    lrs = np.geomspace(lr_min, lr_max, steps)
    losses = np.full(steps, np.inf)
    step = _step_fn()
    for i, lr in enumerate(lrs):
        idx = rng.integers(0, len(y), objective.batch_size)
        params, moms, loss = step(
            params,
            moms,
            tf.constant(x[idx]),
            tf.constant(y[idx]),
            tf.constant(lr, tf.float32),
            tf.constant(cfg["wd"], tf.float32),
        )
        objective.steps_done += 1
        loss = float(loss)
        if not np.isfinite(loss):
            break
        losses[i] = loss
    return lrs, losses


def ema(values, beta: float = 0.8) -> np.ndarray:
    """Bias-corrected exponential moving average of a 1-D float array (the smoothing
    range tests use): ``a_t = beta a_{t-1} + (1 - beta) v_t``, divided by
    ``1 - beta^(t+1)``. Returns a float array of the same length. Raises
    ``ValueError`` for ``beta`` outside ``[0, 1)`` or an empty input. Chapter 17.
    """
    v = np.asarray(values, dtype=float).ravel()
    if not 0 <= beta < 1 or v.size == 0:
        raise ValueError(f"need 0 <= beta < 1 and some values, got {beta=}, {v.size=}")
    out, avg = np.empty_like(v), 0.0
    for i, x in enumerate(v):
        avg = beta * avg + (1 - beta) * x
        out[i] = avg / (1 - beta ** (i + 1))
    return out
