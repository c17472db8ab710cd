//! A bounded collector for a stream of problems that may be unbounded (every
//! rejected row of a hostile file): the first `cap` are kept to be shown,
//! the rest are only counted, so memory stays bounded whatever the input.

/// Problems a command keeps to print (import rejections, verify failures);
/// past these it only counts them.
pub const KEPT_PROBLEMS: usize = 1_000;

/// The first `cap` items pushed, and how many were pushed in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capped<T> {
    kept: Vec<T>,
    total: u64,
    cap: usize,
}

impl<T> Capped<T> {
    /// Keeps at most `cap` items.
    pub fn new(cap: usize) -> Capped<T> {
        Capped {
            kept: Vec::new(),
            total: 0,
            cap,
        }
    }

    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.kept.len() < self.cap {
            self.kept.push(item);
        }
    }

    /// The first items pushed, at most `cap` of them, in order.
    pub fn kept(&self) -> &[T] {
        &self.kept
    }

    /// Every item pushed, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Items counted but not kept.
    pub fn omitted(&self) -> u64 {
        self.total - self.kept.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Counts `n` items that an earlier collector already dropped.
    pub fn count_omitted(&mut self, n: u64) {
        self.total += n;
    }

    /// The kept items, in order.
    pub fn into_kept(self) -> Vec<T> {
        self.kept
    }
}

impl<T> Extend<T> for Capped<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Capped;

    /// (cap, items pushed) → (kept, total, omitted).
    fn check(cap: usize, pushed: u64, expected: (&[u64], u64, u64)) {
        let mut c = Capped::new(cap);
        c.extend(0..pushed);
        assert_eq!(
            (c.kept(), c.total(), c.omitted()),
            expected,
            "cap {cap}, {pushed} pushed"
        );
        assert_eq!(c.is_empty(), pushed == 0);
    }

    #[test]
    fn keeps_the_first_cap_items_and_counts_all() {
        check(3, 0, (&[], 0, 0));
        check(3, 2, (&[0, 1], 2, 0));
        check(3, 3, (&[0, 1, 2], 3, 0));
        check(3, 5, (&[0, 1, 2], 5, 2));
        check(0, 4, (&[], 4, 4));
        let mut c = Capped::new(2);
        c.extend(0..3_u64);
        c.count_omitted(5);
        assert_eq!((c.total(), c.omitted()), (8, 6));
        assert_eq!(c.into_kept(), vec![0, 1]);
    }
}
