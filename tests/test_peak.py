"""benchmarks/peak.py: the matrix-multiply peak and the share of it training reaches."""

import math

import pytest

from benchmarks import peak


def test_peak_fraction_is_six_macs_times_rate_over_peak():
    # airbench94's cpu widths: about 119 MFLOP a training image was the issue's figure
    macs = 19.8e6
    assert peak.peak_fraction(macs, 1_324, 347e9) == pytest.approx(
        6 * macs * 1_324 / 347e9
    )
    assert peak.peak_fraction(1, 1, 6) == 1.0


@pytest.mark.parametrize(
    "args, name",
    [
        ((0, 1, 1), "forward_macs_per_image"),
        ((1, -2, 1), "images_per_second"),
        ((1, 1, math.nan), "peak_flops"),
        ((1, 1, "3e11"), "peak_flops"),
    ],
)
def test_peak_fraction_names_the_bad_argument(args, name):
    with pytest.raises(ValueError, match=name):
        peak.peak_fraction(*args)


def test_numpy_matmul_rate_is_positive_and_plausible():
    flops = peak.matmul_flops("numpy", n=128, repeats=3)
    # any CPU of this century multiplies at more than 100 MFLOP/s and less than 100 TF
    assert 1e8 < flops < 1e14


def test_measure_peak_reports_the_best_library_and_skips_missing_ones(monkeypatch):
    rates = {"numpy": 2e9, "tensorflow": 5e9}

    def fake(library, n, repeats):
        if library == "torch":
            raise ImportError("No module named 'torch'")
        return rates[library]

    monkeypatch.setattr(peak, "matmul_flops", fake)
    out = peak.measure_peak(n=64, repeats=2)
    assert out["peak_flops"] == 5e9 and out["library"] == "tensorflow"
    assert set(out["flops"]) == {"numpy", "tensorflow"} and "torch" in out["skipped"]


def test_measure_peak_without_any_library_is_an_error(monkeypatch):
    def missing(library, n, repeats):
        raise ImportError(library)

    monkeypatch.setattr(peak, "matmul_flops", missing)
    with pytest.raises(RuntimeError, match="no library"):
        peak.measure_peak()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"library": "jax"}, "library must be one of"),
        ({"n": 8}, "n must be an int >= 16"),
        ({"repeats": 0}, "repeats must be an int >= 1"),
    ],
)
def test_matmul_flops_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        peak.matmul_flops(**{"n": 32, "repeats": 1, **kwargs})
