//! Two samples compared: how many times slower the candidate is than the
//! reference, with an interval, and whether the difference is significant.
//!
//! **The test is Mann-Whitney U** (two-sided, normal approximation with tie
//! and continuity corrections — `scipy.stats.mannwhitneyu(...,
//! method="asymptotic")`), not a bootstrap, because benchmark times are skewed
//! and heavy-tailed (a rank test needs no normality and one slow round does not
//! swing it), and because it is deterministic: the same samples always give the
//! same verdict, so a CI gate never flips on a resampling seed, and it costs
//! one sort instead of thousands of resamples.
//!
//! **The ratio** is the Hodges-Lehmann estimate of the shift between the log
//! times (the median of every pairwise difference `ln y − ln x`), exponentiated,
//! with the distribution-free interval that inverts the same U statistic
//! (order statistics of the pairwise differences). Being the test's own
//! estimator, the interval excludes 1 exactly when the test is significant (up
//! to the continuity correction).

use crate::special::{normal_ppf, normal_sf};
use crate::summary::{Interval, CONFIDENCE};
use crate::StatsError;
use serde::{Deserialize, Serialize};

/// The significance level of the test.
pub const ALPHA: f64 = 1.0 - CONFIDENCE;

/// The candidate against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// How many times the reference's time the candidate takes (> 1: slower).
    pub ratio: f64,
    pub ratio_ci: Interval,
    /// Mann-Whitney's U of the candidate's sample.
    pub u: f64,
    /// Two-sided p-value of the Mann-Whitney U test.
    pub p_value: f64,
}

/// What a comparison says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    NoChange,
}

impl Verdict {
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoChange => "no significant change",
        }
    }
}

impl Comparison {
    /// Significant at [`ALPHA`] and, beyond that, a change larger than
    /// `min_change` (relative; a change below the measurement's own precision
    /// is not one the run can resolve, however many rounds make it
    /// "significant").
    pub fn verdict(&self, min_change: f64) -> Verdict {
        if self.p_value >= ALPHA || (self.ratio - 1.0).abs() <= min_change {
            Verdict::NoChange
        } else if self.ratio > 1.0 && self.ratio_ci.low > 1.0 {
            Verdict::Slower
        } else if self.ratio < 1.0 && self.ratio_ci.high < 1.0 {
            Verdict::Faster
        } else {
            Verdict::NoChange
        }
    }

    /// `--fail-on-regression PCT`: slower, significantly, by more than `pct` percent.
    pub fn regressed(&self, pct: f64, min_change: f64) -> bool {
        self.verdict(min_change) == Verdict::Slower && (self.ratio - 1.0) * 100.0 > pct
    }
}

/// Compares `candidate` against `reference` (positive times).
pub fn compare(reference: &[f64], candidate: &[f64]) -> Result<Comparison, StatsError> {
    for sample in [reference, candidate] {
        if sample.is_empty() {
            return Err(StatsError::Empty);
        }
        if let Some(bad) = sample.iter().find(|s| !s.is_finite() || **s <= 0.0) {
            return Err(StatsError::BadSample(*bad));
        }
    }
    let (u, p_value) = mann_whitney(reference, candidate);
    let (ratio, ratio_ci) = hodges_lehmann_ratio(reference, candidate);
    Ok(Comparison {
        ratio,
        ratio_ci,
        u,
        p_value,
    })
}

/// U of `y` against `x` and the two-sided asymptotic p-value.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, false))
        .chain(y.iter().map(|&v| (v, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let (mut rank_sum_y, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let count = (j - i + 1) as f64;
        // Ranks i+1 ..= j+1, averaged.
        let rank = (i + j + 2) as f64 / 2.0;
        rank_sum_y += rank * all[i..=j].iter().filter(|e| e.1).count() as f64;
        ties += count.powi(3) - count;
        i = j + 1;
    }
    let u_y = rank_sum_y - n2 * (n2 + 1.0) / 2.0;
    let u = u_y.max(n1 * n2 - u_y);
    let nf = n1 + n2;
    let sigma = (n1 * n2 / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)))).sqrt();
    let p = if sigma > 0.0 {
        let z = (u - n1 * n2 / 2.0 - 0.5) / sigma;
        (2.0 * normal_sf(z)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    (u_y, p)
}

/// exp of the Hodges-Lehmann shift of `ln y` from `ln x`, and its interval.
pub fn hodges_lehmann_ratio(x: &[f64], y: &[f64]) -> (f64, Interval) {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mut d: Vec<f64> = Vec::with_capacity(x.len() * y.len());
    for yv in y {
        let ly = yv.ln();
        d.extend(lx.iter().map(|l| ly - l));
    }
    d.sort_by(f64::total_cmp);
    let m = d.len();
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let estimate = crate::summary::percentile(&d, 0.5);
    let z = normal_ppf(1.0 - ALPHA / 2.0);
    let k = (n1 * n2 / 2.0 - z * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    let (low, high) = if k < 1.0 {
        (d[0], d[m - 1])
    } else {
        // 1-based order statistics k and m − k + 1.
        let k = k as usize;
        (d[k - 1], d[m - k])
    };
    (
        estimate.exp(),
        Interval {
            low: low.exp(),
            high: high.exp(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_and_p_match_scipy() {
        // scipy.stats.mannwhitneyu(y, x, method="asymptotic") with
        // x = [1..=10], y = [6..=15] (ties at 6..=10): U = 87.5, p = 0.005075392315273923.
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let y: Vec<f64> = (6..=15).map(f64::from).collect();
        let (u, p) = mann_whitney(&x, &y);
        assert_eq!(u, 87.5);
        assert!((p - 0.005_075_392_315_273_923).abs() < 1e-12, "{p}");
    }

    #[test]
    fn identical_samples_are_no_change() {
        let x: Vec<f64> = (1..=30).map(|i| 1.0 + f64::from(i) * 0.001).collect();
        let c = compare(&x, &x).unwrap();
        assert!((c.ratio - 1.0).abs() < 1e-12);
        assert!(c.ratio_ci.low <= 1.0 && c.ratio_ci.high >= 1.0);
        assert!(c.p_value > 0.9);
        assert_eq!(c.verdict(0.0), Verdict::NoChange);
        assert!(!c.regressed(5.0, 0.0));
    }

    #[test]
    fn ten_times_the_work_is_a_ratio_of_ten() {
        let x: Vec<f64> = (0..20).map(|i| 1.0 + f64::from(i % 5) * 0.01).collect();
        let y: Vec<f64> = x.iter().map(|v| v * 10.0).collect();
        let c = compare(&x, &y).unwrap();
        assert!((c.ratio - 10.0).abs() < 1e-9, "{}", c.ratio);
        assert!(c.ratio_ci.low <= 10.0 && c.ratio_ci.high >= 10.0);
        assert!(c.p_value < 1e-6);
        assert_eq!(c.verdict(0.02), Verdict::Slower);
        assert!(c.regressed(5.0, 0.02));
        assert!(!c.regressed(1000.0, 0.02));
        let back = compare(&y, &x).unwrap();
        assert_eq!(back.verdict(0.02), Verdict::Faster);
    }

    #[test]
    fn a_change_below_the_floor_is_no_change() {
        let x: Vec<f64> = (0..50).map(|i| 1.0 + f64::from(i) * 1e-4).collect();
        let y: Vec<f64> = x.iter().map(|v| v * 1.01).collect();
        let c = compare(&x, &y).unwrap();
        assert!(c.p_value < ALPHA);
        assert_eq!(c.verdict(0.0), Verdict::Slower);
        assert_eq!(c.verdict(0.02), Verdict::NoChange);
    }

    #[test]
    fn bad_samples_are_errors() {
        assert!(compare(&[], &[1.0]).is_err());
        assert!(compare(&[0.0], &[1.0]).is_err());
    }
}
