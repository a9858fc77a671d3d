//! One member's statistics from its raw samples (seconds per operation).

use crate::special::{binom_cdf, t_ppf};
use crate::StatsError;
use serde::{Deserialize, Serialize};

/// The confidence level of every interval this crate reports.
pub const CONFIDENCE: f64 = 0.95;

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Outliers by Tukey's fences: *mild* lie beyond 1.5 IQR from the quartiles
/// but within 3 IQR, *severe* beyond 3 IQR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outliers {
    pub mild: usize,
    pub severe: usize,
}

/// Statistics of one sample of per-operation times (seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    /// Sample standard deviation (n − 1 in the denominator); 0 for one sample.
    pub stddev: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    /// Only from 20 samples: below that it is an extrapolation.
    pub p95: Option<f64>,
    /// Only from 100 samples.
    pub p99: Option<f64>,
    pub iqr: f64,
    pub outliers: Outliers,
    /// Student's t interval of the mean.
    pub mean_ci: Interval,
    /// The distribution-free interval of the median from order statistics
    /// (binomial ranks, as `scipy.stats.quantile_test(...).confidence_interval()`);
    /// below 6 samples no pair of order statistics reaches 95%, and the
    /// interval is the whole range [min, max].
    pub median_ci: Interval,
    /// Half the width of the median's interval over the median: the precision
    /// the adaptive round count aims at.
    pub median_rel_ci: f64,
    /// Operations per second: 1 / mean (0 when every sample is 0).
    pub ops: f64,
}

impl Summary {
    /// The statistics of `samples` (any order; every value finite and ≥ 0).
    pub fn of(samples: &[f64]) -> Result<Summary, StatsError> {
        if samples.is_empty() {
            return Err(StatsError::Empty);
        }
        if let Some(bad) = samples.iter().find(|s| !s.is_finite() || **s < 0.0) {
            return Err(StatsError::BadSample(*bad));
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let nf = n as f64;
        let mean = sorted.iter().sum::<f64>() / nf;
        let stddev = if n > 1 {
            (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt()
        } else {
            0.0
        };
        let p25 = percentile(&sorted, 0.25);
        let p50 = percentile(&sorted, 0.5);
        let p75 = percentile(&sorted, 0.75);
        let iqr = p75 - p25;
        let median_ci = median_interval(&sorted);
        let mean_ci = if n > 1 {
            let half = t_ppf(1.0 - (1.0 - CONFIDENCE) / 2.0, nf - 1.0) * stddev / nf.sqrt();
            Interval {
                low: mean - half,
                high: mean + half,
            }
        } else {
            Interval {
                low: mean,
                high: mean,
            }
        };
        Ok(Summary {
            n,
            min: sorted[0],
            max: sorted[n - 1],
            mean,
            median: p50,
            stddev,
            p25,
            p50,
            p75,
            p95: (n >= 20).then(|| percentile(&sorted, 0.95)),
            p99: (n >= 100).then(|| percentile(&sorted, 0.99)),
            iqr,
            outliers: outliers(&sorted, p25, p75),
            mean_ci,
            median_ci,
            median_rel_ci: if p50 > 0.0 {
                (median_ci.high - median_ci.low) / 2.0 / p50
            } else {
                0.0
            },
            // 0 for a sample of zero times (JSON has no infinity).
            ops: if mean > 0.0 { 1.0 / mean } else { 0.0 },
        })
    }
}

/// The `q` quantile of sorted data by linear interpolation between order
/// statistics (numpy's default, Hyndman & Fan type 7).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn outliers(sorted: &[f64], q1: f64, q3: f64) -> Outliers {
    let iqr = q3 - q1;
    let mut out = Outliers::default();
    for &x in sorted {
        let distance = if x < q1 {
            q1 - x
        } else if x > q3 {
            x - q3
        } else {
            continue;
        };
        if distance > 3.0 * iqr {
            out.severe += 1;
        } else if distance > 1.5 * iqr {
            out.mild += 1;
        }
    }
    out
}

/// The median's distribution-free interval: order statistics at the ranks
/// where the binomial B(n, ½) leaves (1 − CONFIDENCE)/2 in each tail.
fn median_interval(sorted: &[f64]) -> Interval {
    let n = sorted.len();
    let whole = Interval {
        low: sorted[0],
        high: sorted[n - 1],
    };
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let n64 = n as u64;
    // ppf(tail): the least k with CDF(k) ≥ tail; the low bound is x[k − 1].
    let Some(k_low) = (0..=n as i64).find(|&k| binom_cdf(k, n64, 0.5) >= tail) else {
        return whole;
    };
    // isf(tail): the least k with P(X > k) ≤ tail; the high bound is x[k].
    let Some(k_high) = (0..=n as i64).find(|&k| 1.0 - binom_cdf(k, n64, 0.5) <= tail) else {
        return whole;
    };
    if k_low < 1 || k_high as usize >= n {
        return whole;
    }
    Interval {
        low: sorted[k_low as usize - 1],
        high: sorted[k_high as usize],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
    }

    #[test]
    fn known_values_of_a_small_sample() {
        // numpy: np.percentile(x, [25, 50, 75]) = [2.75, 4.5, 6.25], mean 4.5,
        // std(ddof=1) = 2.449489742783178; t.ppf(.975, 7) = 2.364624251592785.
        let x = [8.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let s = Summary::of(&x).unwrap();
        assert_eq!((s.n, s.min, s.max), (8, 1.0, 8.0));
        assert!(close(s.mean, 4.5));
        assert!(close(s.median, 4.5));
        assert!(close(s.p25, 2.75) && close(s.p75, 6.25) && close(s.iqr, 3.5));
        assert!(close(s.stddev, 2.449_489_742_783_178));
        let half = 2.364_624_251_592_785 * 2.449_489_742_783_178 / 8f64.sqrt();
        assert!(close(s.mean_ci.low, 4.5 - half) && close(s.mean_ci.high, 4.5 + half));
        // binom(8, .5): ppf(.025) = 1 → x[0]; isf(.025) = 7 → x[7].
        assert_eq!((s.median_ci.low, s.median_ci.high), (1.0, 8.0));
        assert_eq!(s.p95, None);
        assert_eq!(s.p99, None);
        assert_eq!(s.outliers, Outliers::default());
        assert!(close(s.ops, 1.0 / 4.5));
    }

    #[test]
    fn tukey_fences_tell_mild_from_severe() {
        // 1..=8, 15, 30: quartiles 3.25 and 7.75 (numpy), IQR 4.5; 15 lies 7.25
        // above Q3 (mild: beyond 6.75, within 13.5), 30 lies 22.25 above (severe).
        let mut x: Vec<f64> = (1..=8).map(f64::from).collect();
        x.extend([15.0, 30.0]);
        let s = Summary::of(&x).unwrap();
        assert!(close(s.p25, 3.25) && close(s.p75, 7.75));
        assert_eq!(s.outliers, Outliers { mild: 1, severe: 1 });
    }

    #[test]
    fn high_percentiles_need_enough_samples() {
        let x: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = Summary::of(&x).unwrap();
        // np.percentile(range(1, 21), 95) = 19.05
        assert!(close(s.p95.unwrap(), 19.05));
        assert_eq!(s.p99, None);
        let x: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of(&x).unwrap();
        assert!(close(s.p99.unwrap(), 99.01));
        // binom(100, .5): ppf(.025) = 40 → x[39] = 40; isf(.025) = 60 → x[60] = 61.
        assert_eq!((s.median_ci.low, s.median_ci.high), (40.0, 61.0));
    }

    #[test]
    fn tiny_samples_have_the_whole_range_as_the_median_interval() {
        let s = Summary::of(&[3.0, 1.0, 2.0, 5.0, 4.0]).unwrap();
        assert_eq!((s.median_ci.low, s.median_ci.high), (1.0, 5.0));
        let one = Summary::of(&[2.0]).unwrap();
        assert_eq!(
            (one.stddev, one.mean_ci.low, one.mean_ci.high),
            (0.0, 2.0, 2.0)
        );
    }

    #[test]
    fn bad_samples_are_errors() {
        assert!(matches!(Summary::of(&[]), Err(StatsError::Empty)));
        assert!(matches!(
            Summary::of(&[1.0, f64::NAN]),
            Err(StatsError::BadSample(_))
        ));
        assert!(matches!(
            Summary::of(&[-1.0]),
            Err(StatsError::BadSample(_))
        ));
    }
}
