//! RFC 3263 §4 decisions, driven through [`Resolution`] with hand-made record sets.

use super::*;
use crate::transport::{Peer, Transport};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{IpAddr, SocketAddr};

fn rng() -> StdRng {
    StdRng::seed_from_u64(3263)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn peer(addr: &str, transport: Transport) -> Peer {
    Peer::new(
        addr.parse::<SocketAddr>().expect("test socket address"),
        transport,
    )
}

fn target(uri: &str) -> Target {
    Target::from_uri(&sip::Uri::parse(uri).expect("test URI")).expect("test target")
}

fn all_transports() -> Policy {
    Policy::new([
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ])
}

/// Runs a resolution against `zone`, recording the questions asked.
fn run(zone: &Zone, uri: &str, policy: &Policy) -> (Result<Plan, ResolveError>, Vec<Query>) {
    let mut asked = Vec::new();
    let mut r = match Resolution::new(target(uri), policy.clone()) {
        Ok(r) => r,
        Err(e) => return (Err(e), asked),
    };
    while let Some(q) = r.queries().first().cloned() {
        asked.push(q.clone());
        let a = zone.answer(&q);
        r.answer(&q, a);
    }
    assert!(r.is_complete());
    (r.finish(&mut rng()), asked)
}

fn peers(zone: &Zone, uri: &str, policy: &Policy) -> Vec<Peer> {
    run(zone, uri, policy).0.expect("resolves").into_peers()
}

/// The example of RFC 3263 §4.1, extended with addresses and a second server per transport.
fn example_zone() -> Zone {
    Zone::new()
        .naptr(
            "pbx.test",
            Naptr::new(50, 50, "s", "SIPS+D2T", "_sips._tcp.pbx.test."),
        )
        .naptr(
            "pbx.test",
            Naptr::new(90, 50, "s", "SIP+D2T", "_sip._tcp.pbx.test."),
        )
        .naptr(
            "pbx.test",
            Naptr::new(100, 50, "s", "SIP+D2U", "_sip._udp.pbx.test."),
        )
        .srv(
            "_sips._tcp.pbx.test",
            Srv::new(0, 0, 5061, "tls1.pbx.test."),
        )
        .srv("_sip._tcp.pbx.test", Srv::new(0, 0, 5060, "tcp1.pbx.test."))
        .srv(
            "_sip._udp.pbx.test",
            Srv::new(10, 0, 5060, "udp2.pbx.test."),
        )
        .srv("_sip._udp.pbx.test", Srv::new(0, 0, 5070, "udp1.pbx.test."))
        .address("tls1.pbx.test", ip("192.0.2.1"))
        .address("tcp1.pbx.test", ip("192.0.2.2"))
        .address("udp1.pbx.test", ip("192.0.2.3"))
        .address("udp2.pbx.test", ip("192.0.2.4"))
        .address("udp2.pbx.test", ip("2001:db8::4"))
        .address("pbx.test", ip("192.0.2.99"))
}

#[test]
fn numeric_ipv4_is_used_with_udp_and_5060() {
    let (plan, asked) = run(&Zone::new(), "sip:alice@192.0.2.10", &Policy::default());
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("192.0.2.10:5060", Transport::Udp)]
    );
    assert!(asked.is_empty(), "no DNS for a numeric target: {asked:?}");
}

#[test]
fn numeric_sips_uses_tls_and_5061() {
    let got = peers(&Zone::new(), "sips:alice@[2001:db8::1]", &all_transports());
    assert_eq!(got, [peer("[2001:db8::1]:5061", Transport::Tls)]);
}

#[test]
fn numeric_ip_keeps_port_and_transport_param() {
    let got = peers(
        &Zone::new(),
        "sip:192.0.2.10:5080;transport=tcp",
        &all_transports(),
    );
    assert_eq!(got, [peer("192.0.2.10:5080", Transport::Tcp)]);
}

#[test]
fn numeric_maddr_wins_over_the_domain() {
    let (plan, asked) = run(
        &example_zone(),
        "sip:pbx.test;maddr=198.51.100.7",
        &all_transports(),
    );
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("198.51.100.7:5060", Transport::Udp)]
    );
    assert!(asked.is_empty());
}

#[test]
fn explicit_port_skips_naptr_and_srv() {
    let (plan, asked) = run(&example_zone(), "sip:pbx.test:5090", &all_transports());
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("192.0.2.99:5090", Transport::Udp)]
    );
    assert_eq!(
        asked,
        [
            Query::new("pbx.test", RecordType::A),
            Query::new("pbx.test", RecordType::Aaaa)
        ]
    );
}

#[test]
fn explicit_port_on_sips_means_tls() {
    let got = peers(&example_zone(), "sips:pbx.test:5091", &all_transports());
    assert_eq!(got, [peer("192.0.2.99:5091", Transport::Tls)]);
}

#[test]
fn transport_param_queries_that_srv_only() {
    let (plan, asked) = run(
        &example_zone(),
        "sip:pbx.test;transport=tcp",
        &all_transports(),
    );
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("192.0.2.2:5060", Transport::Tcp)]
    );
    assert_eq!(asked[0], Query::new("_sip._tcp.pbx.test", RecordType::Srv));
    assert!(asked.iter().all(|q| q.rtype != RecordType::Naptr));
}

#[test]
fn transport_param_without_srv_falls_back_to_default_port() {
    let zone = Zone::new().address("pbx.test", ip("192.0.2.99"));
    let got = peers(&zone, "sip:pbx.test;transport=tcp", &all_transports());
    assert_eq!(got, [peer("192.0.2.99:5060", Transport::Tcp)]);
    let got = peers(&zone, "sips:pbx.test;transport=tcp", &all_transports());
    assert_eq!(got, [peer("192.0.2.99:5061", Transport::Tls)]);
}

#[test]
fn naptr_then_srv_then_addresses_in_order() {
    let got = peers(&example_zone(), "sip:pbx.test", &all_transports());
    assert_eq!(
        got,
        [
            peer("192.0.2.1:5061", Transport::Tls),
            peer("192.0.2.2:5060", Transport::Tcp),
            peer("192.0.2.3:5070", Transport::Udp),
            peer("192.0.2.4:5060", Transport::Udp),
            peer("[2001:db8::4]:5060", Transport::Udp),
        ]
    );
}

#[test]
fn naptr_services_we_lack_are_skipped() {
    let got = peers(
        &example_zone(),
        "sip:pbx.test",
        &Policy::new([Transport::Udp]),
    );
    assert_eq!(
        got,
        [
            peer("192.0.2.3:5070", Transport::Udp),
            peer("192.0.2.4:5060", Transport::Udp),
            peer("[2001:db8::4]:5060", Transport::Udp),
        ]
    );
}

#[test]
fn sips_keeps_only_tls_services() {
    let got = peers(&example_zone(), "sips:pbx.test", &all_transports());
    assert_eq!(got, [peer("192.0.2.1:5061", Transport::Tls)]);
}

#[test]
fn without_usable_naptr_srv_is_queried_in_our_preference_order() {
    let zone = Zone::new()
        .naptr(
            "pbx.test",
            Naptr::new(10, 10, "s", "SIP+D2S", "_sip._sctp.pbx.test."),
        )
        .srv("_sip._udp.pbx.test", Srv::new(0, 0, 5060, "udp.pbx.test"))
        .srv("_sip._tcp.pbx.test", Srv::new(0, 0, 5060, "tcp.pbx.test"))
        .address("udp.pbx.test", ip("192.0.2.3"))
        .address("tcp.pbx.test", ip("192.0.2.2"));
    let policy = Policy::new([Transport::Tcp, Transport::Udp]);
    let (plan, asked) = run(&zone, "sip:pbx.test", &policy);
    assert_eq!(
        plan.unwrap().into_peers(),
        [
            peer("192.0.2.2:5060", Transport::Tcp),
            peer("192.0.2.3:5060", Transport::Udp)
        ]
    );
    assert_eq!(
        &asked[..3],
        [
            Query::new("pbx.test", RecordType::Naptr),
            Query::new("_sip._tcp.pbx.test", RecordType::Srv),
            Query::new("_sip._udp.pbx.test", RecordType::Srv),
        ]
    );
}

#[test]
fn sips_without_naptr_queries_only_secure_srv() {
    let zone = Zone::new()
        .srv("_sips._tcp.pbx.test", Srv::new(0, 0, 5061, "tls.pbx.test"))
        .srv("_sip._udp.pbx.test", Srv::new(0, 0, 5060, "udp.pbx.test"))
        .address("tls.pbx.test", ip("192.0.2.1"))
        .address("udp.pbx.test", ip("192.0.2.3"));
    let (plan, asked) = run(&zone, "sips:pbx.test", &all_transports());
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("192.0.2.1:5061", Transport::Tls)]
    );
    let srv: Vec<&str> = asked
        .iter()
        .filter(|q| q.rtype == RecordType::Srv)
        .map(|q| q.name.as_str())
        .collect();
    assert_eq!(srv, ["_sips._tcp.pbx.test", "_sips._ws.pbx.test"]);
}

#[test]
fn without_srv_the_host_is_used_with_udp_5060() {
    let zone = Zone::new()
        .address("pbx.test", ip("192.0.2.99"))
        .address("pbx.test", ip("2001:db8::99"));
    let got = peers(&zone, "sip:pbx.test", &Policy::default());
    assert_eq!(
        got,
        [
            peer("192.0.2.99:5060", Transport::Udp),
            peer("[2001:db8::99]:5060", Transport::Udp)
        ]
    );
}

#[test]
fn without_srv_a_sips_host_is_used_with_tls_5061() {
    let zone = Zone::new().address("pbx.test", ip("192.0.2.99"));
    let got = peers(&zone, "sips:pbx.test", &all_transports());
    assert_eq!(got, [peer("192.0.2.99:5061", Transport::Tls)]);
}

#[test]
fn naptr_without_srv_falls_back_to_the_naptr_transport() {
    let zone = Zone::new()
        .naptr(
            "pbx.test",
            Naptr::new(10, 10, "s", "SIP+D2T", "_sip._tcp.pbx.test."),
        )
        .address("pbx.test", ip("192.0.2.99"));
    let got = peers(&zone, "sip:pbx.test", &all_transports());
    assert_eq!(got, [peer("192.0.2.99:5060", Transport::Tcp)]);
}

#[test]
fn address_families_follow_the_policy() {
    let zone = Zone::new()
        .address("pbx.test", ip("192.0.2.99"))
        .address("pbx.test", ip("2001:db8::99"));
    let v6 = Policy::default().with_families(AddressFamilies::PreferV6);
    assert_eq!(
        peers(&zone, "sip:pbx.test:5060", &v6),
        [
            peer("[2001:db8::99]:5060", Transport::Udp),
            peer("192.0.2.99:5060", Transport::Udp)
        ]
    );
    let v4only = Policy::default().with_families(AddressFamilies::V4Only);
    let (plan, asked) = run(&zone, "sip:pbx.test:5060", &v4only);
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("192.0.2.99:5060", Transport::Udp)]
    );
    assert!(asked.iter().all(|q| q.rtype != RecordType::Aaaa));
    let v6only = Policy::default().with_families(AddressFamilies::V6Only);
    assert!(matches!(
        run(&Zone::new(), "sip:192.0.2.1", &v6only).0,
        Err(ResolveError::NoRecords { .. })
    ));
}

#[test]
fn srv_priority_orders_failover_and_weights_share_the_load() {
    let zone = Zone::new()
        .srv(
            "_sip._udp.pbx.test",
            Srv::new(20, 0, 5060, "backup.pbx.test"),
        )
        .srv("_sip._udp.pbx.test", Srv::new(10, 60, 5060, "a.pbx.test"))
        .srv("_sip._udp.pbx.test", Srv::new(10, 40, 5060, "b.pbx.test"))
        .address("a.pbx.test", ip("192.0.2.1"))
        .address("b.pbx.test", ip("192.0.2.2"))
        .address("backup.pbx.test", ip("192.0.2.3"));
    let t = target("sip:pbx.test;transport=udp");
    let mut rng = StdRng::seed_from_u64(42);
    let draws = 5_000;
    let mut a_first = 0;
    for _ in 0..draws {
        let got = zone
            .resolve(&t, &Policy::default(), &mut rng)
            .unwrap()
            .into_peers();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], peer("192.0.2.3:5060", Transport::Udp));
        if got[0].addr.ip() == ip("192.0.2.1") {
            a_first += 1;
        }
    }
    let share = f64::from(a_first) / f64::from(draws);
    assert!((share - 0.6).abs() < 0.03, "{share}");
}

#[test]
fn duplicate_servers_appear_once() {
    let zone = Zone::new()
        .srv("_sip._udp.pbx.test", Srv::new(10, 0, 5060, "a.pbx.test"))
        .srv("_sip._udp.pbx.test", Srv::new(20, 0, 5060, "A.PBX.TEST."))
        .address("a.pbx.test", ip("192.0.2.1"));
    let got = peers(&zone, "sip:pbx.test;transport=udp", &Policy::default());
    assert_eq!(got, [peer("192.0.2.1:5060", Transport::Udp)]);
}

#[test]
fn numeric_srv_targets_are_used_without_lookup() {
    let zone = Zone::new().srv("_sip._udp.pbx.test", Srv::new(10, 0, 5062, "192.0.2.8"));
    let (plan, asked) = run(&zone, "sip:pbx.test;transport=udp", &Policy::default());
    assert_eq!(
        plan.unwrap().into_peers(),
        [peer("192.0.2.8:5062", Transport::Udp)]
    );
    assert_eq!(asked.len(), 1);
}

#[test]
fn nxdomain_is_a_no_records_error_naming_the_domain() {
    let (plan, _) = run(&Zone::new(), "sip:nowhere.test", &Policy::default());
    match plan {
        Err(e @ ResolveError::NoRecords { .. }) => {
            assert!(e.to_string().contains("nowhere.test"), "{e}");
        }
        other => panic!("expected NoRecords, got {other:?}"),
    }
}

#[test]
fn srv_root_target_means_no_service_and_no_address_fallback() {
    let zone = Zone::new()
        .srv("_sip._udp.pbx.test", Srv::new(0, 0, 0, "."))
        .address("pbx.test", ip("192.0.2.99"));
    let (plan, asked) = run(&zone, "sip:pbx.test;transport=udp", &Policy::default());
    assert!(matches!(plan, Err(ResolveError::NoRecords { .. })));
    assert_eq!(asked.len(), 1);
}

#[test]
fn failed_queries_are_reported_only_when_nothing_is_found() {
    let broken = |r: &mut Resolution, ok: &Zone| {
        while let Some(q) = r.queries().first().cloned() {
            let a = if q.rtype == RecordType::Naptr {
                Err(QueryError::Failed("SERVFAIL".into()))
            } else {
                ok.answer(&q)
            };
            r.answer(&q, a);
        }
    };
    let mut r = Resolution::new(target("sip:pbx.test"), Policy::default()).unwrap();
    broken(&mut r, &Zone::new());
    match r.finish(&mut rng()) {
        Err(ResolveError::Lookup { name, rtype, .. }) => {
            assert_eq!((name.as_str(), rtype), ("pbx.test", RecordType::Naptr));
        }
        other => panic!("expected Lookup, got {other:?}"),
    }
    let mut r = Resolution::new(target("sip:pbx.test"), Policy::default()).unwrap();
    broken(&mut r, &example_zone());
    assert_eq!(
        r.finish(&mut rng()).unwrap().len(),
        4,
        "SRV still found after a NAPTR failure"
    );
}

#[test]
fn stray_and_mistyped_answers_are_ignored() {
    let mut r = Resolution::new(target("sip:pbx.test:5060"), Policy::default()).unwrap();
    r.answer(
        &Query::new("other.test", RecordType::A),
        Ok(Answer::A(vec!["192.0.2.50".parse().unwrap()])),
    );
    let q = r.queries()[0].clone();
    r.answer(&q, Ok(Answer::Aaaa(vec!["2001:db8::50".parse().unwrap()])));
    r.answer(&q, Ok(Answer::A(vec!["192.0.2.51".parse().unwrap()])));
    let q = r.queries()[0].clone();
    r.answer(&q, Ok(Answer::A(vec!["192.0.2.52".parse().unwrap()])));
    assert!(r.is_complete());
    assert!(matches!(
        r.finish(&mut rng()),
        Err(ResolveError::NoRecords { .. })
    ));
}

#[test]
fn finishing_early_uses_what_is_known() {
    let r = Resolution::new(target("sip:pbx.test"), Policy::default()).unwrap();
    assert!(!r.is_complete());
    assert!(matches!(
        r.finish(&mut rng()),
        Err(ResolveError::NoRecords { .. })
    ));
}

#[test]
fn unsupported_transports_are_refused_up_front() {
    let udp_only = Policy::new([Transport::Udp]);
    assert!(matches!(
        run(&Zone::new(), "sip:pbx.test;transport=tcp", &udp_only).0,
        Err(ResolveError::UnsupportedTransport { transport }) if transport == "TCP"
    ));
    assert!(matches!(
        run(&Zone::new(), "sips:pbx.test", &udp_only).0,
        Err(ResolveError::UnsupportedTransport { .. })
    ));
    let insecure = Target {
        transport: Some(Transport::Udp),
        ..Target::domain("pbx.test", true)
    };
    assert!(matches!(
        Resolution::new(insecure, all_transports()),
        Err(ResolveError::InsecureTransport { .. })
    ));
}

#[test]
fn plan_names_the_domain_for_tls() {
    let plan = run(&example_zone(), "sips:pbx.test", &all_transports())
        .0
        .unwrap();
    assert_eq!(plan.server_name(), Some("pbx.test"));
    let plan = run(&Zone::new(), "sips:192.0.2.1", &all_transports())
        .0
        .unwrap();
    assert_eq!(plan.server_name(), None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("pbx.test".to_owned()),
            Just("_sip._udp.pbx.test".to_owned()),
            Just("_sip._tcp.pbx.test.".to_owned()),
            Just("_sips._tcp.pbx.test".to_owned()),
            Just("h1.pbx.test".to_owned()),
            Just("h2.pbx.test.".to_owned()),
            Just(".".to_owned()),
            Just("192.0.2.9".to_owned()),
        ]
    }

    fn zone() -> impl Strategy<Value = Zone> {
        let naptr = (
            name(),
            0u16..3,
            0u16..3,
            prop_oneof![Just("s"), Just("a")],
            prop_oneof![
                Just("SIP+D2U"),
                Just("SIP+D2T"),
                Just("SIPS+D2T"),
                Just("X")
            ],
            name(),
        );
        let srv = (name(), 0u16..3, 0u16..5, any::<u16>(), name());
        let addr = (name(), any::<[u8; 4]>(), any::<bool>());
        (
            proptest::collection::vec(naptr, 0..4),
            proptest::collection::vec(srv, 0..6),
            proptest::collection::vec(addr, 0..6),
        )
            .prop_map(|(naptrs, srvs, addrs)| {
                let mut z = Zone::new();
                for (owner, o, p, f, s, r) in naptrs {
                    z = z.naptr(&owner, Naptr::new(o, p, f, s, &r));
                }
                for (owner, p, w, port, t) in srvs {
                    z = z.srv(&owner, Srv::new(p, w, port, &t));
                }
                for (owner, b, v6) in addrs {
                    let ip = if v6 {
                        IpAddr::from([
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, b[0], b[1], b[2], b[3],
                        ])
                    } else {
                        IpAddr::from(b)
                    };
                    z = z.address(&owner, ip);
                }
                z
            })
    }

    proptest! {
        #[test]
        fn any_zone_resolves_without_panicking_to_supported_peers(
            zone in zone(),
            uri in prop_oneof![
                Just("sip:pbx.test"), Just("sips:pbx.test"), Just("sip:pbx.test;transport=tcp"),
                Just("sip:pbx.test:5080"), Just("sips:h1.pbx.test"),
            ],
            seed in any::<u64>(),
        ) {
            let policy = Policy::new([Transport::Udp, Transport::Tcp, Transport::Tls]);
            let t = target(uri);
            let plan = zone.resolve(&t, &policy, &mut StdRng::seed_from_u64(seed));
            if let Ok(plan) = plan {
                let peers = plan.into_peers();
                prop_assert!(!peers.is_empty());
                for (i, p) in peers.iter().enumerate() {
                    prop_assert!(policy.supports(p.transport));
                    prop_assert!(!t.secure || p.transport == Transport::Tls);
                    prop_assert!(!peers[..i].contains(p));
                }
            }
        }
    }
}
