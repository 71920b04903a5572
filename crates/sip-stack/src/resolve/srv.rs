//! SRV processing (RFC 2782, RFC 3263 §4.2): the SRV owner name for each transport and the
//! order to try the servers in — by priority, and by weighted random draw within a priority.

use super::records::{is_root, Srv};
use crate::transport::Transport;
use rand::Rng;

/// The SRV owner name for `transport` at `domain`: `_sip._udp`, `_sip._tcp`, `_sips._tcp`
/// (RFC 3263 §4.1) and `_sip._ws`, `_sips._ws` (RFC 7118 §7).
pub fn srv_name(transport: Transport, domain: &str) -> String {
    let prefix = match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
        Transport::Ws => "_sip._ws",
        Transport::Wss => "_sips._ws",
    };
    format!("{prefix}.{domain}")
}

/// The records in the order to try them (RFC 2782 "Usage rules"): lowest priority first;
/// within a priority, repeatedly draw a record with probability proportional to its weight
/// (zero-weight records go first in the running sum, so they are drawn only rarely).
/// Records whose target is `.` ("service decidedly not available") are dropped.
pub fn order_srv<R: Rng + ?Sized>(records: &[Srv], rng: &mut R) -> Vec<Srv> {
    let mut usable: Vec<&Srv> = records.iter().filter(|r| !is_root(&r.target)).collect();
    usable.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(usable.len());
    for group in usable.chunk_by(|a, b| a.priority == b.priority) {
        let mut group = group.to_vec();
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = rng.random_range(0..=total);
            let mut running = 0u32;
            let index = group
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(index).clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn targets(v: &[Srv]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn names_follow_rfc_3263_and_7118() {
        assert_eq!(srv_name(Transport::Udp, "pbx.test"), "_sip._udp.pbx.test");
        assert_eq!(srv_name(Transport::Tcp, "pbx.test"), "_sip._tcp.pbx.test");
        assert_eq!(srv_name(Transport::Tls, "pbx.test"), "_sips._tcp.pbx.test");
        assert_eq!(srv_name(Transport::Ws, "pbx.test"), "_sip._ws.pbx.test");
        assert_eq!(srv_name(Transport::Wss, "pbx.test."), "_sips._ws.pbx.test.");
    }

    #[test]
    fn lower_priority_always_comes_first() {
        let records = [
            Srv::new(20, 100, 5060, "c"),
            Srv::new(10, 1, 5060, "a"),
            Srv::new(30, 0, 5060, "d"),
            Srv::new(10, 1, 5060, "b"),
        ];
        for seed in 0..200 {
            let got = order_srv(&records, &mut StdRng::seed_from_u64(seed));
            assert_eq!(&targets(&got)[2..], ["c", "d"]);
            assert!(targets(&got)[..2].contains(&"a") && targets(&got)[..2].contains(&"b"));
        }
    }

    #[test]
    fn weights_60_40_split_first_picks_statistically() {
        let records = [
            Srv::new(10, 60, 5060, "sixty"),
            Srv::new(10, 40, 5060, "forty"),
        ];
        let mut rng = StdRng::seed_from_u64(3263);
        let draws = 20_000;
        let sixty_first = (0..draws)
            .filter(|_| order_srv(&records, &mut rng)[0].target == "sixty")
            .count();
        let share = sixty_first as f64 / draws as f64;
        assert!(
            (share - 0.6).abs() < 0.015,
            "share of the 60-weight server first: {share}"
        );
    }

    #[test]
    fn three_way_weights_are_honoured() {
        let records = [
            Srv::new(1, 10, 5060, "ten"),
            Srv::new(1, 30, 5060, "thirty"),
            Srv::new(1, 60, 5060, "sixty"),
        ];
        let mut rng = StdRng::seed_from_u64(2782);
        let draws = 30_000;
        let mut firsts = [0usize; 3];
        for _ in 0..draws {
            match order_srv(&records, &mut rng)[0].target.as_str() {
                "ten" => firsts[0] += 1,
                "thirty" => firsts[1] += 1,
                _ => firsts[2] += 1,
            }
        }
        for (count, expected) in firsts.iter().zip([0.1, 0.3, 0.6]) {
            let share = *count as f64 / draws as f64;
            assert!((share - expected).abs() < 0.015, "{firsts:?}");
        }
    }

    #[test]
    fn zero_weight_records_are_rarely_first() {
        // Running sums are [0, 10]; the draw is uniform on 0..=10, so the zero-weight
        // record is first only when the draw is 0: 1 time in 11.
        let records = [Srv::new(1, 10, 5060, "ten"), Srv::new(1, 0, 5060, "zero")];
        let mut rng = StdRng::seed_from_u64(7);
        let draws = 22_000;
        let zero_first = (0..draws)
            .filter(|_| order_srv(&records, &mut rng)[0].target == "zero")
            .count();
        let share = zero_first as f64 / draws as f64;
        assert!((share - 1.0 / 11.0).abs() < 0.01, "{share}");
    }

    #[test]
    fn all_zero_weights_keep_the_listed_order() {
        let records = [
            Srv::new(1, 0, 5060, "a"),
            Srv::new(1, 0, 5060, "b"),
            Srv::new(1, 0, 5060, "c"),
        ];
        let got = order_srv(&records, &mut StdRng::seed_from_u64(1));
        assert_eq!(targets(&got), ["a", "b", "c"]);
    }

    #[test]
    fn root_targets_mean_no_service() {
        let records = [Srv::new(0, 0, 0, "."), Srv::new(10, 5, 5060, "a")];
        let got = order_srv(&records, &mut StdRng::seed_from_u64(1));
        assert_eq!(targets(&got), ["a"]);
        assert!(order_srv(&records[..1], &mut StdRng::seed_from_u64(1)).is_empty());
    }

    #[test]
    fn same_seed_same_order() {
        let records: Vec<Srv> = (0..8)
            .map(|i| Srv::new(1, 10 + i, 5060, &format!("h{i}")))
            .collect();
        let a = order_srv(&records, &mut StdRng::seed_from_u64(99));
        let b = order_srv(&records, &mut StdRng::seed_from_u64(99));
        assert_eq!(a, b);
    }

    proptest! {
        #[test]
        fn ordering_is_a_priority_sorted_permutation(
            recs in proptest::collection::vec((0u16..4, any::<u16>(), 0u8..6), 0..12),
            seed in any::<u64>(),
        ) {
            let records: Vec<Srv> = recs
                .iter()
                .map(|&(p, w, t)| Srv::new(p, w, 5060, &format!("h{t}")))
                .collect();
            let got = order_srv(&records, &mut StdRng::seed_from_u64(seed));
            prop_assert_eq!(got.len(), records.len());
            prop_assert!(got.windows(2).all(|w| w[0].priority <= w[1].priority));
            let mut a = records.clone();
            let mut b = got.clone();
            let key = |r: &Srv| (r.priority, r.weight, r.target.clone());
            a.sort_by_key(key);
            b.sort_by_key(key);
            prop_assert_eq!(a, b);
        }
    }
}
