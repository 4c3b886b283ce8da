//! The k-shot split every learner of the project uses (the trainer's `train --init`, the
//! k-shot benchmark, the board's `device-learn`): `k` examples of each class picked by a
//! seed to learn from, all the others held out to measure on. It reads only the labels, so
//! it splits any labelled set.
//!
//! 1. The indices `0..n` are shuffled by nn-core's seeded generator (Fisher–Yates, the
//!    generator every learner shuffles with), so the same seed picks the same examples
//!    everywhere.
//! 2. Walking the shuffled order, an example is kept while its class has fewer than `k` kept
//!    ([`held_out_fraction`]: fewer than its quota).
//! 3. Both parts are returned in ascending index order.

use nn_core::train::Rng;

/// Why a set cannot be split `k` ways.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// `k` is 0: nothing would be learned from.
    #[error("0 examples per class leaves nothing to learn from; take at least 1")]
    NoShots,
    /// A class present in the set has `k` examples or fewer: none would be held out.
    #[error(
        "class {class} has {found} examples; {k} per class to learn from leaves none of it held \
         out (take fewer)"
    )]
    TooFew {
        /// The class (its label).
        class: u8,
        /// Its examples in the set.
        found: usize,
        /// The examples per class asked for.
        k: usize,
    },
}

/// The two parts of a set: indices into it, each in ascending order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// `k` examples of every class present, to learn from.
    pub shots: Vec<usize>,
    /// Every other example.
    pub held_out: Vec<usize>,
}

/// `k` examples of each class among `labels`, picked by `seed` (see the module docs), and
/// the rest held out. Classes absent from `labels` are not asked for.
///
/// # Errors
/// [`SplitError::NoShots`] for `k == 0`; [`SplitError::TooFew`] for a class with `k` or fewer
/// examples, which would hold none of it out.
pub fn k_shot(labels: &[u8], k: usize, seed: u64) -> Result<Split, SplitError> {
    if k == 0 {
        return Err(SplitError::NoShots);
    }
    let mut count = [0usize; 256];
    for &l in labels {
        count[usize::from(l)] += 1;
    }
    if let Some((class, &found)) = count.iter().enumerate().find(|&(_, &c)| c > 0 && c <= k) {
        return Err(SplitError::TooFew {
            class: class as u8,
            found,
            k,
        });
    }
    Ok(pick(labels, |_| k, seed))
}

/// Every class split by `seed` as [`k_shot`] splits it, `1/parts` of its examples (rounded
/// down, at least one) held out and the rest kept: the split for a set without a `k`.
///
/// # Errors
/// [`SplitError::NoShots`] for `parts` below 2 (it would keep nothing, or hold out nothing).
pub fn held_out_fraction(labels: &[u8], parts: usize, seed: u64) -> Result<Split, SplitError> {
    if parts < 2 {
        return Err(SplitError::NoShots);
    }
    Ok(pick(labels, |n| n - (n / parts).max(1), seed))
}

/// Steps 1–3 of the module docs, keeping `quota(n)` examples of a class of `n`.
fn pick(labels: &[u8], quota: impl Fn(usize) -> usize, seed: u64) -> Split {
    let mut count = [0usize; 256];
    for &l in labels {
        count[usize::from(l)] += 1;
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    Rng::new(seed).shuffle(&mut order);
    let mut left = count.map(|n| if n > 0 { quota(n) } else { 0 });
    let mut keep = vec![false; labels.len()];
    for i in order {
        let class = usize::from(labels[i]);
        if left[class] > 0 {
            left[class] -= 1;
            keep[i] = true;
        }
    }
    let mut split = Split::default();
    for (i, kept) in keep.into_iter().enumerate() {
        if kept {
            split.shots.push(i);
        } else {
            split.held_out.push(i);
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<u8> {
        // 3 classes of 6, 7 and 5 examples, interleaved.
        let mut l = Vec::new();
        for i in 0..16u8 {
            l.push(i % 3);
        }
        l.extend([1, 1]);
        l
    }

    #[test]
    fn k_of_each_class_are_kept_and_every_other_example_is_held_out() {
        let labels = labels();
        let split = k_shot(&labels, 2, 7).unwrap();
        for class in 0..3u8 {
            let kept = split.shots.iter().filter(|&&i| labels[i] == class).count();
            assert_eq!(kept, 2, "class {class}");
        }
        let mut all: Vec<usize> = split.shots.iter().chain(&split.held_out).copied().collect();
        assert!(split.shots.is_sorted() && split.held_out.is_sorted());
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
    }

    #[test]
    fn the_seed_decides_the_pick_and_the_same_seed_picks_the_same() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        let a = k_shot(&labels, 10, 1).unwrap();
        assert_eq!(a, k_shot(&labels, 10, 1).unwrap());
        assert_ne!(a.shots, k_shot(&labels, 10, 2).unwrap().shots);
        // Not simply the first k of each class.
        assert_ne!(a.shots, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_fraction_holds_out_a_fifth_of_each_class_and_at_least_one() {
        let labels = labels();
        let split = held_out_fraction(&labels, 5, 3).unwrap();
        let held = |c: u8| split.held_out.iter().filter(|&&i| labels[i] == c).count();
        // 6, 7 and 5 examples: a fifth rounded down, at least one.
        assert_eq!([held(0), held(1), held(2)], [1, 1, 1]);
        assert_eq!(split.shots.len() + split.held_out.len(), labels.len());
        let many: Vec<u8> = (0..100).map(|i| (i % 2) as u8).collect();
        assert_eq!(held_out_fraction(&many, 5, 3).unwrap().held_out.len(), 20);
        assert_eq!(held_out_fraction(&many, 1, 3), Err(SplitError::NoShots));
    }

    #[test]
    fn a_class_too_small_to_hold_any_out_and_k_zero_are_refused() {
        let labels = labels();
        assert_eq!(k_shot(&labels, 0, 1), Err(SplitError::NoShots));
        // Class 0 has 6 examples (0, 3, ..., 15).
        assert_eq!(
            k_shot(&labels, 6, 1),
            Err(SplitError::TooFew {
                class: 0,
                found: 6,
                k: 6
            })
        );
        assert!(k_shot(&labels, 4, 1).is_ok());
    }
}
