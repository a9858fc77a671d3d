//! The one rule for tests without a recorded duration.

/// Whether a number can stand for a duration. Anything else (NaN, infinities,
/// negative values from a hand-edited file) counts as unknown rather than
/// being allowed to poison an estimate or the duration-balanced partition.
pub fn is_duration(seconds: f64) -> bool {
    seconds.is_finite() && seconds >= 0.0
}

/// What a test with no recorded duration counts as: the mean of the recorded
/// ones, `None` when none is. Values that are not durations (negative, NaN,
/// infinite) are left out. The sum is taken in ascending order, so the result
/// is the same bit for bit whatever order the durations come in (a shard
/// partition must not depend on it).
pub fn mean_duration(recorded: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut known: Vec<f64> = recorded.into_iter().filter(|d| is_duration(*d)).collect();
    if known.is_empty() {
        return None;
    }
    known.sort_unstable_by(f64::total_cmp);
    Some(known.iter().sum::<f64>() / known.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_the_usable_durations() {
        assert_eq!(
            mean_duration([1.0, 2.0, f64::NAN, -1.0, f64::INFINITY]),
            Some(1.5)
        );
        assert_eq!(mean_duration([]), None);
        assert_eq!(mean_duration([f64::NAN]), None);
    }

    #[test]
    fn the_order_of_the_durations_does_not_change_a_bit() {
        let values = [0.1, 1e-9, 3.3, 7e5, 0.2, 1e-3, 42.0, 0.7];
        let forward = mean_duration(values).map(f64::to_bits);
        let mut reversed = values;
        reversed.reverse();
        assert_eq!(mean_duration(reversed).map(f64::to_bits), forward);
        let mut rotated = values;
        rotated.rotate_left(3);
        assert_eq!(mean_duration(rotated).map(f64::to_bits), forward);
    }
}
