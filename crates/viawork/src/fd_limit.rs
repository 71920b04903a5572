//! The open-file limit of the server process. Every connected client holds a socket (an
//! event stream, a SIP connection), so the common default soft limit of 1,024 caps a
//! server at about a thousand clients: past it `accept` fails with `EMFILE` and new
//! clients hang, though the hard limit (what the administrator allows) is usually far
//! higher. So `serve` raises its soft limit to the hard one at start, as nginx's
//! `worker_rlimit_nofile` or Go's runtime do; a lower hard limit is the administrator's
//! choice (`LimitNOFILE=` in a systemd unit, `ulimit -Hn`) and is kept.
//!
//! [`target`] decides (pure); [`raise`] reads and sets the limit.

/// The most a soft limit is raised to when the hard limit is unlimited: Linux's default
/// `fs.nr_open`, and far above what one server needs.
pub const UNLIMITED_CAP: u64 = 1 << 20;

/// The soft limit to set, given the current soft and hard limits (`None` = unlimited), or
/// `None` to leave it as it is.
pub fn target(soft: Option<u64>, hard: Option<u64>) -> Option<u64> {
    let soft = soft?;
    let want = hard.map_or(UNLIMITED_CAP, |h| h.min(UNLIMITED_CAP));
    (want > soft).then_some(want)
}

/// What [`raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Raised from the first soft limit to the second.
    Raised(u64, u64),
    /// Already at the hard limit (or unlimited): the limit it is at, `None` if unlimited.
    Unchanged(Option<u64>),
    /// The system refused (the error), at the first soft limit.
    Refused(u64, std::io::ErrorKind),
}

/// Below this many open files `serve` warns: a few thousand clients is a small site.
pub const LOW: u64 = 4096;

/// Raises this process's soft open-file limit to its hard limit (capped at
/// [`UNLIMITED_CAP`]). Does nothing on systems without `setrlimit`.
pub fn raise() -> Outcome {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let now = getrlimit(Resource::Nofile);
        let Some(want) = target(now.current, now.maximum) else {
            return Outcome::Unchanged(now.current);
        };
        let from = now.current.unwrap_or(0);
        match setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: now.maximum,
            },
        ) {
            Ok(()) => Outcome::Raised(from, want),
            Err(e) => Outcome::Refused(from, std::io::Error::from(e).kind()),
        }
    }
    #[cfg(not(unix))]
    {
        Outcome::Unchanged(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_goes_up_to_the_hard_one() {
        assert_eq!(target(Some(1024), Some(524_288)), Some(524_288));
        assert_eq!(target(Some(1024), Some(4096)), Some(4096));
    }

    #[test]
    fn an_unlimited_hard_limit_is_capped() {
        assert_eq!(target(Some(1024), None), Some(UNLIMITED_CAP));
        assert_eq!(target(Some(1024), Some(u64::MAX >> 1)), Some(UNLIMITED_CAP));
    }

    #[test]
    fn a_limit_already_at_the_hard_one_or_above_the_cap_is_left_alone() {
        assert_eq!(target(Some(4096), Some(4096)), None);
        assert_eq!(target(None, None), None);
        assert_eq!(target(Some(2 * UNLIMITED_CAP), None), None);
    }

    #[cfg(unix)]
    #[test]
    fn raising_leaves_this_process_at_its_hard_limit() {
        // Only upward, so it cannot starve the other tests of this binary.
        raise();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(
            target(now.current, now.maximum),
            None,
            "soft {:?}, hard {:?}",
            now.current,
            now.maximum
        );
    }
}
