"""Unit tests for utils.optim (chapter 7): update rules, Keras equality, schedules, bad
input."""

import numpy as np
import pytest

from utils import optim

keras = pytest.importorskip("keras")

SHAPES = [(3, 4), (5,)]


def _problem(seed=0, steps=60):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [
        [rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(steps)
    ]
    return w0, grads


def _numpy_run(opt, w0, grads):
    ws = [w.copy() for w in w0]
    for g in grads:
        opt.step(ws, g)
    return ws


def _keras_run(opt, w0, grads):
    vs = [keras.Variable(w) for w in w0]
    for g in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(x) for x in g], vs))
    return [np.asarray(v.numpy()) for v in vs]


K = keras.optimizers
PAIRS = {
    "sgd": (lambda: optim.SGD(0.1), lambda: K.SGD(0.1)),
    "momentum": (lambda: optim.SGD(0.05, 0.9), lambda: K.SGD(0.05, 0.9)),
    "nesterov": (
        lambda: optim.SGD(0.05, 0.9, True),
        lambda: K.SGD(0.05, 0.9, nesterov=True),
    ),
    "sgd_wd": (
        lambda: optim.SGD(0.05, 0.5, weight_decay=0.1),
        lambda: K.SGD(0.05, 0.5, weight_decay=0.1),
    ),
    "rmsprop": (lambda: optim.RMSprop(0.01), lambda: K.RMSprop(0.01)),
    "rmsprop_centered_momentum": (
        lambda: optim.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
        lambda: K.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    ),
    "adam": (lambda: optim.Adam(0.01), lambda: K.Adam(0.01)),
    "adamw": (
        lambda: optim.AdamW(0.01, weight_decay=0.1),
        lambda: K.AdamW(0.01, weight_decay=0.1),
    ),
    "adam_cosine_warmup": (
        lambda: optim.Adam(
            optim.schedule(
                "cosine",
                initial_learning_rate=0.0,
                decay_steps=40,
                warmup_target=0.05,
                warmup_steps=20,
            )
        ),
        lambda: K.Adam(
            K.schedules.CosineDecay(0.0, 40, warmup_target=0.05, warmup_steps=20)
        ),
    ),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_matches_keras_step_by_step(name):
    make_numpy, make_keras = PAIRS[name]
    w0, grads = _problem()
    ours, theirs = (
        _numpy_run(make_numpy(), w0, grads),
        _keras_run(make_keras(), w0, grads),
    )
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_plain_sgd_rule_and_state():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    opt = optim.SGD(0.1)
    opt.step([w], [g])
    np.testing.assert_allclose(w, [0.95, -2.05])
    assert opt.iterations == 1 and opt.state == [{}]


def test_momentum_terminal_velocity_and_conventions_agree_for_constant_lr():
    g = np.array([1.0])
    for nesterov in (False, True):
        wk, wt = np.zeros(1), np.zeros(1)
        keras_form = optim.SGD(0.1, 0.9, nesterov)
        torch_form = optim.SGD(0.1, 0.9, nesterov, convention="pytorch")
        for _ in range(300):
            keras_form.step([wk], [g])
            torch_form.step([wt], [g])
        np.testing.assert_allclose(wk, wt, rtol=1e-12)
        np.testing.assert_allclose(
            keras_form.state[0]["momentum"], -0.1 / (1 - 0.9), rtol=1e-9
        )


def test_conventions_differ_when_lr_changes():
    lr = optim.schedule("piecewise", boundaries=[9], values=[0.1, 0.01])
    g = np.array([1.0])
    wk, wt = np.zeros(1), np.zeros(1)
    a, b = optim.SGD(lr, 0.9), optim.SGD(lr, 0.9, convention="pytorch")
    for _ in range(12):
        a.step([wk], [g])
        b.step([wt], [g])
    assert abs(wk[0] - wt[0]) > 0.1


def test_adam_first_step_is_about_lr_times_sign():
    w = np.zeros(3)
    optim.Adam(0.01).step([w], [np.array([1e-3, -1.0, 1e3])])
    # step = lr * g / (|g| + eps / sqrt(1 - beta_2)): within 0.4% of lr even for |g| =
    # 1e-3
    np.testing.assert_allclose(w, [-0.01, 0.01, -0.01], rtol=4e-3)


def test_adamw_without_gradient_is_exponential_shrink():
    w = np.array([2.0, -0.5])
    opt = optim.AdamW(0.01, weight_decay=0.1)
    for _ in range(50):
        opt.step([w], [np.zeros(2)])
    np.testing.assert_allclose(w, np.array([2.0, -0.5]) * (1 - 0.01 * 0.1) ** 50)


def test_sgd_weight_decay_equals_l2_gradient():
    rng = np.random.default_rng(1)
    w1 = rng.normal(size=4)
    w2 = w1.copy()
    decay, l2 = optim.SGD(0.1, weight_decay=0.3), optim.SGD(0.1)
    for _ in range(20):
        g = rng.normal(size=4)
        l2.step([w2], [g + 0.3 * w2])
        decay.step([w1], [g])
    np.testing.assert_allclose(w1, w2, rtol=1e-12)


def test_run_records_path_and_stops_on_divergence():
    path, losses = optim.run(
        optim.SGD(0.01), optim.quadratic, [1.0, 1.0], 5, curvatures=[1.0, 10.0]
    )
    assert path.shape == (6, 2) and losses.shape == (6,)
    assert np.all(np.diff(losses) < 0)
    _, losses = optim.run(optim.SGD(1.0), optim.rosenbrock, [-1.5, 2.0], 50)
    assert np.isnan(losses[-1])


def test_rosenbrock_gradient_matches_finite_differences():
    w, h = np.array([-0.7, 1.3]), 1e-6
    _, grad = optim.rosenbrock(w)
    num = [
        (optim.rosenbrock(w + h * e)[0] - optim.rosenbrock(w - h * e)[0]) / (2 * h)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(grad, num, rtol=1e-6)
    assert optim.rosenbrock(np.array([1.0, 1.0]))[0] == 0


# --------------------------------------------------------------------------- schedules


def _keras_values(schedule, steps):
    return np.array([float(schedule(int(s))) for s in steps])


def test_schedules_match_keras():
    steps = np.arange(0, 121)
    S = keras.optimizers.schedules
    cases = [
        (
            optim.exponential_decay(steps, 0.1, 25, 0.5, staircase=True),
            S.ExponentialDecay(0.1, 25, 0.5, staircase=True),
        ),
        (
            optim.exponential_decay(steps, 0.1, 25, 0.5),
            S.ExponentialDecay(0.1, 25, 0.5),
        ),
        (
            optim.piecewise_constant(steps, [30, 80], [0.1, 0.01, 0.001]),
            S.PiecewiseConstantDecay([30, 80], [0.1, 0.01, 0.001]),
        ),
        (
            optim.cosine_decay(steps, 0.1, 100, alpha=0.1),
            S.CosineDecay(0.1, 100, alpha=0.1),
        ),
        (
            optim.cosine_decay(steps, 0.0, 90, warmup_target=0.2, warmup_steps=20),
            S.CosineDecay(0.0, 90, warmup_target=0.2, warmup_steps=20),
        ),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(
            ours, _keras_values(theirs, steps), rtol=1e-5, atol=1e-7
        )


def test_one_cycle_shape():
    lr = optim.one_cycle(
        np.arange(101), 100, 0.4, pct_start=0.25, div_factor=10, final_div_factor=100
    )
    assert (
        np.isclose(lr[0], 0.04)
        and np.isclose(lr[25], 0.4)
        and np.isclose(lr[100], 0.4 / 1000)
    )
    assert (
        np.argmax(lr) == 25
        and np.all(np.diff(lr[:26]) > 0)
        and np.all(np.diff(lr[25:]) < 0)
    )


def test_schedule_factory():
    step = optim.schedule(
        "step", initial_learning_rate=1.0, decay_steps=10, decay_rate=0.1
    )
    assert step(9) == 1.0 and np.isclose(step(10), 0.1)
    assert optim.schedule("one_cycle", total_steps=10, max_learning_rate=1.0)(10) < 1e-4


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: optim.SGD(-0.1), "learning_rate must be >= 0"),
        (lambda: optim.SGD("fast"), "learning_rate must be a non-negative number"),
        (lambda: optim.SGD(0.1, momentum=1.0), "momentum must be < 1"),
        (lambda: optim.SGD(0.1, momentum=-0.5), "momentum must be >= 0"),
        (lambda: optim.SGD(0.1, 0.9, nesterov="yes"), "nesterov must be True or False"),
        (lambda: optim.SGD(0.1, convention="jax"), "convention must be one of"),
        (lambda: optim.SGD(0.1, weight_decay=-1e-4), "weight_decay must be >= 0"),
        (lambda: optim.RMSprop(rho=1.0), "rho must be < 1"),
        (lambda: optim.RMSprop(epsilon=0), "epsilon must be > 0"),
        (
            lambda: optim.RMSprop(momentum=1.5),
            "momentum must be <= 1|momentum must be < 1",
        ),
        (lambda: optim.Adam(beta_1=1.0), "beta_1 must be < 1"),
        (lambda: optim.Adam(beta_2=-0.1), "beta_2 must be >= 0"),
        (
            lambda: optim.Adam(learning_rate=float("nan")),
            "learning_rate must be a non-negative number",
        ),
        (lambda: optim.AdamW(weight_decay=None), "AdamW needs a number"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_params_and_grads():
    opt = optim.SGD(0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.zeros(3)], [np.zeros(4)])
    with pytest.raises(ValueError, match="pair up"):
        opt.step([np.zeros(3)], [np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="lists of arrays"):
        opt.step(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="floating-point NumPy array"):
        opt.step([np.zeros(3, dtype=int)], [np.zeros(3)])
    with pytest.raises(ValueError, match="floating-point NumPy array"):
        opt.step([[0.0, 1.0]], [np.zeros(2)])
    opt.step([np.zeros(3)], [np.ones(3)])
    with pytest.raises(ValueError, match="built for parameter shapes"):
        opt.step([np.zeros(2)], [np.ones(2)])


def test_schedule_returning_negative_rate_is_caught():
    opt = optim.SGD(lambda step: -1.0)
    with pytest.raises(ValueError, match="schedule returned"):
        opt.step([np.zeros(1)], [np.ones(1)])


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: optim.schedule("linear", initial_learning_rate=0.1),
            "unknown schedule",
        ),
        (
            lambda: optim.schedule(
                "cosine", initial_learning_rate=0.1, decay_steps=10, warmup=5
            ),
            "unknown argument",
        ),
        (lambda: optim.schedule("cosine", initial_learning_rate=0.1), "missing"),
        (
            lambda: optim.schedule(
                "step",
                initial_learning_rate=0.1,
                decay_steps=10,
                decay_rate=0.5,
                staircase=False,
            ),
            "do not pass staircase",
        ),
        (lambda: optim.exponential_decay(0, 0.1, 0, 0.5), "decay_steps must be > 0"),
        (lambda: optim.exponential_decay(-1, 0.1, 10, 0.5), "step must be >= 0"),
        (
            lambda: optim.piecewise_constant(0, [10, 20], [0.1, 0.01]),
            "one more value than boundaries",
        ),
        (
            lambda: optim.piecewise_constant(0, [20, 10], [0.1, 0.01, 0.001]),
            "strictly increasing",
        ),
        (lambda: optim.cosine_decay(0, 0.1, 100, alpha=2.0), "alpha must be <= 1"),
        (
            lambda: optim.cosine_decay(0, 0.0, 100, warmup_target=0.1),
            "needs warmup_steps",
        ),
        (
            lambda: optim.cosine_decay(0, 0.0, 100, warmup_steps=-3),
            "warmup_steps must be a non-negative int",
        ),
        (lambda: optim.one_cycle(0, 100, 0.1, pct_start=1.0), "pct_start must be < 1"),
        (lambda: optim.one_cycle(0, 0, 0.1), "total_steps must be a positive int"),
        (lambda: optim.quadratic(np.zeros(3), [1.0, 2.0]), "curvatures"),
        (lambda: optim.rosenbrock(np.zeros(3)), "last axis"),
        (
            lambda: optim.run(optim.SGD(0.1), optim.rosenbrock, [0.0, 0.0], -1),
            "steps must be",
        ),
    ],
)
def test_bad_schedule_and_problem_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: optim.piecewise_constant(1, None, [1.0]), "lists of numbers"),
        (lambda: optim.piecewise_constant(1, ["a", "b"], [1, 2, 3]), "boundary"),
        (lambda: optim.schedule(["cosine"]), "unknown schedule"),  # was TypeError
        (lambda: optim.rosenbrock(np.array([True, False])), "bool"),  # was TypeError
        (lambda: optim.quadratic("ab", [1, 2]), "real numbers"),
    ],
)
def test_audit_bad_input_gives_one_clear_valueerror(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_schedules_live_in_one_module():
    from utils import schedules

    assert optim.cosine_decay is schedules.cosine_decay
    assert optim.schedule is schedules.schedule


def test_schedule_step_nan_is_named():
    with pytest.raises(ValueError, match=r">= 0 and finite.*nan"):
        optim.cosine_decay(np.array([1.0, np.nan]), 0.1, 10)


# ------------------------------------------------------- conditioning (chapter 7)


def test_top_eigenvalues_match_a_full_decomposition():
    from utils import landscapes

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 12)) * np.linspace(3, 0.5, 12) + 2.0  # uncentred
    full = np.linalg.eigvalsh(x.T @ x / len(x))[::-1]
    top = landscapes.top_eigenvalues(x, k=3, iterations=200)
    assert top.shape == (3,) and top.dtype == np.float64
    np.testing.assert_allclose(top, full[:3], rtol=1e-8)
    # the same with integer pixels: as_float widens them to float64
    pixels = rng.integers(0, 256, size=(50, 6))
    np.testing.assert_allclose(
        landscapes.top_eigenvalues(pixels, k=1, iterations=200)[0],
        np.linalg.eigvalsh(pixels.T @ pixels / 50.0)[-1],
        rtol=1e-9,
    )


def test_top_eigenvalues_scale_with_the_square_of_the_inputs():
    from utils import landscapes

    x = np.random.default_rng(4).random((200, 10))
    one, scaled = landscapes.top_eigenvalues(x), landscapes.top_eigenvalues(255 * x)
    np.testing.assert_allclose(scaled, 255**2 * one, rtol=1e-9)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda f: f(np.zeros((2, 3, 4))), "2-D array"),
        (lambda f: f(np.zeros((0, 3))), "2-D array"),
        (lambda f: f(np.array([[1.0, np.nan]])), "NaN or infinite"),
        (lambda f: f(np.ones((5, 3)), k=4), "at most the number of features 3"),
        (lambda f: f(np.ones((5, 3)), k=0), "k must be a positive int"),
        (lambda f: f(np.ones((5, 3)), iterations=2.5), "iterations must be"),
        (lambda f: f(np.ones((5, 3), dtype=bool)), "bool"),
    ],
)
def test_top_eigenvalues_bad_input(call, match):
    from utils import landscapes

    with pytest.raises(ValueError, match=match):
        call(landscapes.top_eigenvalues)
