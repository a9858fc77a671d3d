"""The benchmark statistics (`rust/benchstats`, reached through `dbtest._core`)
checked against values numpy and scipy compute independently from the same
samples."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from scipy import stats

from dbtest import _core

SIZES = [1, 2, 5, 6, 7, 19, 20, 33, 99, 100, 257]


def summary(samples: np.ndarray) -> dict[str, Any]:
    return json.loads(_core.bench_summary([float(x) for x in samples]))


def compare(reference: np.ndarray, candidate: np.ndarray, min_change: float = 0.0) -> dict[str, Any]:
    return json.loads(_core.bench_compare([float(x) for x in reference], [float(x) for x in candidate], min_change))


def timing_like(n: int, seed: int) -> np.ndarray:
    """Skewed, positive, with the odd slow round: like real round times."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(mean=np.log(1e-3), sigma=0.05, size=n)
    if n >= 10:
        x[rng.integers(0, n, size=max(1, n // 20))] *= rng.uniform(1.2, 3.0)
    return x


@pytest.mark.parametrize("n", SIZES)
def test_summary_matches_numpy_and_scipy(n: int) -> None:
    x = timing_like(n, seed=n)
    s = summary(x)
    assert s["n"] == n
    assert s["min"] == pytest.approx(x.min(), rel=1e-12)
    assert s["max"] == pytest.approx(x.max(), rel=1e-12)
    assert s["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert s["median"] == pytest.approx(np.median(x), rel=1e-12)
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    assert (s["p25"], s["p50"], s["p75"]) == pytest.approx((q25, q50, q75), rel=1e-12)
    assert s["iqr"] == pytest.approx(q75 - q25, rel=1e-9, abs=1e-18)
    assert s["stddev"] == pytest.approx(x.std(ddof=1) if n > 1 else 0.0, rel=1e-9, abs=1e-18)
    assert s["ops"] == pytest.approx(1 / x.mean(), rel=1e-12)
    if n >= 20:
        assert s["p95"] == pytest.approx(np.percentile(x, 95), rel=1e-12)
    else:
        assert s["p95"] is None
    if n >= 100:
        assert s["p99"] == pytest.approx(np.percentile(x, 99), rel=1e-12)
    else:
        assert s["p99"] is None

    iqr = q75 - q25
    beyond = np.maximum(q25 - x, x - q75)
    assert s["outliers"]["severe"] == int((beyond > 3 * iqr).sum())
    assert s["outliers"]["mild"] == int(((beyond > 1.5 * iqr) & (beyond <= 3 * iqr)).sum())

    if n > 1:
        low, high = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
        assert (s["mean_ci"]["low"], s["mean_ci"]["high"]) == pytest.approx((low, high), rel=1e-9)
    if n >= 6:
        ci = stats.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(0.95)
        assert (s["median_ci"]["low"], s["median_ci"]["high"]) == (ci.low, ci.high)
        rel = (ci.high - ci.low) / 2 / np.median(x)
        assert s["median_rel_ci"] == pytest.approx(rel, rel=1e-9)
    else:
        # No pair of order statistics covers the median with 95% below 6 samples.
        assert (s["median_ci"]["low"], s["median_ci"]["high"]) == (x.min(), x.max())


def test_outliers_are_counted_by_tukeys_fences() -> None:
    x = np.array([1, 2, 3, 4, 5, 6, 7, 8, 15, 30], dtype=float)
    s = summary(x)
    assert s["outliers"] == {"mild": 1, "severe": 1}


@pytest.mark.parametrize(
    ("n1", "n2", "factor"), [(5, 5, 1.0), (8, 12, 1.03), (30, 30, 1.0), (40, 25, 1.1), (60, 90, 10)]
)
def test_comparison_matches_scipy_and_numpy(n1: int, n2: int, factor: float) -> None:
    x = timing_like(n1, seed=1000 + n1)
    y = timing_like(n2, seed=2000 + n2) * factor
    c = compare(x, y)["comparison"]
    expected = stats.mannwhitneyu(y, x, method="asymptotic", alternative="two-sided")
    assert c["u"] == pytest.approx(expected.statistic, rel=1e-12)
    assert c["p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)

    # Hodges-Lehmann on the log times, with the order statistics that invert U.
    d = np.sort((np.log(y)[:, None] - np.log(x)[None, :]).ravel())
    assert c["ratio"] == pytest.approx(np.exp(np.median(d)), rel=1e-9)
    k = int(np.floor(n1 * n2 / 2 - stats.norm.ppf(0.975) * np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)))
    low, high = (d[0], d[-1]) if k < 1 else (d[k - 1], d[len(d) - k])
    assert (c["ratio_ci"]["low"], c["ratio_ci"]["high"]) == pytest.approx((np.exp(low), np.exp(high)), rel=1e-9)


def test_verdicts() -> None:
    x = timing_like(40, seed=7)
    same = compare(x, x * 1.0, 0.02)
    assert same["verdict"] == "no_change"
    slower = compare(x, x * 10, 0.02)
    assert slower["verdict"] == "slower"
    assert slower["comparison"]["ratio"] == pytest.approx(10, rel=1e-9)
    assert compare(x * 10, x, 0.02)["verdict"] == "faster"
    # Significant, but within the precision floor.
    assert compare(x, x * 1.01, 0.02)["verdict"] == "no_change"


def test_bad_samples_are_value_errors() -> None:
    with pytest.raises(ValueError, match="no samples"):
        _core.bench_summary([])
    with pytest.raises(ValueError, match="not a positive finite"):
        _core.bench_compare([1.0], [0.0])
