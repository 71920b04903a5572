//! Fresh branch parameters (RFC 3261 §8.1.1.7): the magic cookie `z9hG4bK` followed by
//! enough randomness to be unique in space and time, which is what lets
//! the matching rules identify a transaction by its branch alone.

use rand::Rng;

/// The RFC 3261 branch prefix (`sip` keeps its own copy private to the Via parser).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A new branch: `z9hG4bK` and 96 random bits in hex.
pub fn new_branch() -> String {
    let mut rng = rand::rng();
    let (a, b): (u64, u32) = (rng.random(), rng.random());
    format!("{MAGIC_COOKIE}{a:016x}{b:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_carry_the_cookie_and_differ() {
        let (a, b) = (new_branch(), new_branch());
        assert!(a.starts_with("z9hG4bK") && a.len() == 7 + 24);
        assert_ne!(a, b);
    }
}
