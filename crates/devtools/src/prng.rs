//! A fixed-seed SplitMix64: the fixtures must not depend on the OS or on a
//! crate's choice of algorithm, so the generator carries its own.

#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (modulo bias is irrelevant for fixtures).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0)");
        self.next_u64() % bound
    }

    /// A value in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        assert!(low <= high, "between({low}, {high})");
        let span = u64::try_from(high - low + 1).expect("span is positive");
        low + i64::try_from(self.below(span)).expect("span fits in i64")
    }

    /// `count` distinct indices out of `0..len`, in ascending order.
    pub fn choose_indices(&mut self, len: usize, count: usize) -> Vec<usize> {
        assert!(count <= len, "choose {count} of {len}");
        let mut pool: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let remaining = u64::try_from(len - i).expect("usize fits in u64");
            let j = i + usize::try_from(self.below(remaining)).expect("index fits in usize");
            pool.swap(i, j);
        }
        let mut chosen = pool[..count].to_vec();
        chosen.sort_unstable();
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // Reference outputs of Vigna's splitmix64.c seeded with 0.
        let mut rng = SplitMix64::new(0);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            vec![
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn choose_indices_is_distinct_and_sorted() {
        let mut rng = SplitMix64::new(7);
        let picked = rng.choose_indices(122, 40);
        assert_eq!(picked.len(), 40);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert!(picked.iter().all(|&i| i < 122));
    }

    #[test]
    fn between_stays_in_range() {
        let mut rng = SplitMix64::new(99);
        for _ in 0..1000 {
            let v = rng.between(-3, 5);
            assert!((-3..=5).contains(&v));
        }
    }
}
