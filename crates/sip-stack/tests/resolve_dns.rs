//! RFC 3263 over real DNS on loopback: a tiny authoritative server for `pbx.test.` runs in
//! the test on 127.0.0.1, and [`DnsResolver`] is pointed at it. No query leaves the host.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NAPTR, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType as Wire};
use sip_stack::resolve::{
    Answer, DnsResolver, Naptr, Policy, Query, RecordType, ResolveError, Srv, Zone,
};
use sip_stack::transport::{Peer, Transport};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// An authoritative DNS server on 127.0.0.1 answering from a [`Zone`].
struct TestDns {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<(String, Wire)>>>,
    task: JoinHandle<()>,
}

impl TestDns {
    /// Serves `zone`; names in `servfail` get SERVFAIL.
    async fn start(zone: Zone, servfail: &[&str]) -> TestDns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = socket.local_addr().expect("local addr");
        assert!(addr.ip().is_loopback());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let servfail: Vec<String> = servfail.iter().map(|s| fold(s)).collect();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(request) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let response = respond(&zone, &servfail, &request, &log);
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        TestDns { addr, asked, task }
    }

    fn resolver(&self) -> DnsResolver {
        DnsResolver::with_name_servers(vec![self.addr])
    }

    fn asked(&self) -> Vec<(String, Wire)> {
        self.asked.lock().expect("log lock").clone()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fold(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn respond(
    zone: &Zone,
    servfail: &[String],
    request: &Message,
    log: &Mutex<Vec<(String, Wire)>>,
) -> Message {
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired());
    for q in request.queries() {
        response.add_query(q.clone());
        let name = q.name().to_ascii();
        if let Ok(mut log) = log.lock() {
            log.push((fold(&name), q.query_type()));
        }
        if servfail.contains(&fold(&name)) {
            response.set_response_code(ResponseCode::ServFail);
            continue;
        }
        let rtype = match q.query_type() {
            Wire::NAPTR => RecordType::Naptr,
            Wire::SRV => RecordType::Srv,
            Wire::A => RecordType::A,
            Wire::AAAA => RecordType::Aaaa,
            _ => continue,
        };
        let owner = q.name().clone();
        let record = |rdata: RData| Record::from_rdata(owner.clone(), 60, rdata);
        let dns_name = |s: &str| Name::from_ascii(s).expect("zone names are valid");
        match zone.answer(&Query::new(name.clone(), rtype)) {
            Ok(Answer::Naptr(records)) => {
                for r in records {
                    response.add_answer(record(RData::NAPTR(NAPTR::new(
                        r.order,
                        r.preference,
                        r.flags.as_bytes().into(),
                        r.services.as_bytes().into(),
                        r.regexp.as_bytes().into(),
                        dns_name(&r.replacement),
                    ))));
                }
            }
            Ok(Answer::Srv(records)) => {
                for r in records {
                    response.add_answer(record(RData::SRV(SRV::new(
                        r.priority,
                        r.weight,
                        r.port,
                        dns_name(&r.target),
                    ))));
                }
            }
            Ok(Answer::A(v4)) => {
                for a in v4 {
                    response.add_answer(record(RData::A(A(a))));
                }
            }
            Ok(Answer::Aaaa(v6)) => {
                for a in v6 {
                    response.add_answer(record(RData::AAAA(AAAA(a))));
                }
            }
            Err(_) if !zone.contains_name(&name) => {
                response.set_response_code(ResponseCode::NXDomain);
            }
            Err(_) => {} // NODATA: NOERROR with no answers.
        }
    }
    response
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn peer(addr: &str, transport: Transport) -> Peer {
    Peer::new(addr.parse().expect("test socket address"), transport)
}

fn uri(s: &str) -> sip::Uri<'_> {
    sip::Uri::parse(s).expect("test URI")
}

fn pbx_zone() -> Zone {
    Zone::new()
        .naptr(
            "pbx.test",
            Naptr::new(10, 50, "s", "SIPS+D2T", "_sips._tcp.pbx.test."),
        )
        .naptr(
            "pbx.test",
            Naptr::new(20, 50, "s", "SIP+D2T", "_sip._tcp.pbx.test."),
        )
        .naptr(
            "pbx.test",
            Naptr::new(30, 50, "s", "SIP+D2U", "_sip._udp.pbx.test."),
        )
        .srv(
            "_sips._tcp.pbx.test",
            Srv::new(10, 0, 5061, "edge.pbx.test."),
        )
        .srv(
            "_sip._tcp.pbx.test",
            Srv::new(10, 0, 5060, "edge.pbx.test."),
        )
        .srv(
            "_sip._udp.pbx.test",
            Srv::new(20, 0, 5060, "backup.pbx.test."),
        )
        .srv(
            "_sip._udp.pbx.test",
            Srv::new(10, 0, 5060, "primary.pbx.test."),
        )
        .address("edge.pbx.test", ip("127.0.0.10"))
        .address("edge.pbx.test", ip("::1"))
        .address("primary.pbx.test", ip("127.0.0.11"))
        .address("backup.pbx.test", ip("127.0.0.12"))
        .address("pbx.test", ip("127.0.0.99"))
}

fn all_transports() -> Policy {
    Policy::new([Transport::Udp, Transport::Tcp, Transport::Tls])
}

#[tokio::test]
async fn naptr_srv_and_addresses_are_chained_in_order() {
    let dns = TestDns::start(pbx_zone(), &[]).await;
    let plan = dns
        .resolver()
        .resolve_uri(&uri("sip:alice@pbx.test"), &all_transports())
        .await;
    assert_eq!(
        plan.expect("resolves").into_peers(),
        [
            peer("127.0.0.10:5061", Transport::Tls),
            peer("[::1]:5061", Transport::Tls),
            peer("127.0.0.10:5060", Transport::Tcp),
            peer("[::1]:5060", Transport::Tcp),
            peer("127.0.0.11:5060", Transport::Udp),
            peer("127.0.0.12:5060", Transport::Udp),
        ]
    );
    let asked = dns.asked();
    assert_eq!(asked[0], ("pbx.test".to_owned(), Wire::NAPTR));
    assert!(asked.contains(&("_sip._udp.pbx.test".to_owned(), Wire::SRV)));
    assert!(asked.contains(&("edge.pbx.test".to_owned(), Wire::AAAA)));
}

#[tokio::test]
async fn srv_priorities_give_the_failover_order() {
    let dns = TestDns::start(pbx_zone(), &[]).await;
    let mut plan = dns
        .resolver()
        .resolve_uri(&uri("sip:pbx.test;transport=udp"), &Policy::default())
        .await
        .expect("resolves");
    assert_eq!(plan.server_name(), Some("pbx.test"));
    assert_eq!(plan.next(), Some(peer("127.0.0.11:5060", Transport::Udp)));
    // The primary timed out: fail over.
    assert_eq!(plan.next(), Some(peer("127.0.0.12:5060", Transport::Udp)));
    assert_eq!(plan.next(), None);
    assert!(dns.asked().iter().all(|(_, t)| *t != Wire::NAPTR));
}

#[tokio::test]
async fn without_naptr_srv_is_tried_per_supported_transport() {
    let zone = Zone::new()
        .srv("_sip._tcp.pbx.test", Srv::new(10, 0, 5070, "tcp.pbx.test."))
        .srv("_sip._udp.pbx.test", Srv::new(10, 0, 5080, "udp.pbx.test."))
        .address("tcp.pbx.test", ip("127.0.0.21"))
        .address("udp.pbx.test", ip("127.0.0.22"));
    let dns = TestDns::start(zone, &[]).await;
    let policy = Policy::new([Transport::Tcp, Transport::Udp]);
    let plan = dns
        .resolver()
        .resolve_uri(&uri("sip:pbx.test"), &policy)
        .await;
    assert_eq!(
        plan.expect("resolves").into_peers(),
        [
            peer("127.0.0.21:5070", Transport::Tcp),
            peer("127.0.0.22:5080", Transport::Udp)
        ]
    );
}

#[tokio::test]
async fn without_srv_the_domain_is_used_on_the_default_port() {
    let zone = Zone::new().address("pbx.test", ip("127.0.0.99"));
    let dns = TestDns::start(zone, &[]).await;
    let plan = dns
        .resolver()
        .resolve_uri(&uri("sip:pbx.test"), &Policy::default())
        .await;
    assert_eq!(
        plan.expect("resolves").into_peers(),
        [peer("127.0.0.99:5060", Transport::Udp)]
    );
}

#[tokio::test]
async fn explicit_port_skips_naptr_and_srv() {
    let dns = TestDns::start(pbx_zone(), &[]).await;
    let plan = dns
        .resolver()
        .resolve_uri(&uri("sip:pbx.test:5099"), &Policy::default())
        .await;
    assert_eq!(
        plan.expect("resolves").into_peers(),
        [peer("127.0.0.99:5099", Transport::Udp)]
    );
    let mut types: Vec<Wire> = dns.asked().into_iter().map(|(_, t)| t).collect();
    types.sort_by_key(|t| u16::from(*t));
    assert_eq!(types, [Wire::A, Wire::AAAA]);
}

#[tokio::test]
async fn nxdomain_is_a_clear_no_records_error() {
    let dns = TestDns::start(pbx_zone(), &[]).await;
    let err = dns
        .resolver()
        .resolve_uri(&uri("sip:bob@nowhere.test"), &Policy::default())
        .await
        .expect_err("nothing there");
    assert!(
        matches!(&err, ResolveError::NoRecords { name } if name == "nowhere.test"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "no SIP server found in DNS for nowhere.test (no usable NAPTR, SRV, A or AAAA records)"
    );
}

#[tokio::test]
async fn server_failure_is_a_lookup_error_naming_the_query() {
    let dns = TestDns::start(Zone::new(), &["broken.test"]).await;
    let err = dns
        .resolver()
        .resolve_uri(&uri("sip:broken.test:5060"), &Policy::default())
        .await
        .expect_err("SERVFAIL");
    match err {
        ResolveError::Lookup { name, rtype, .. } => {
            assert_eq!(name, "broken.test");
            assert!(matches!(rtype, RecordType::A | RecordType::Aaaa));
        }
        other => panic!("expected Lookup, got {other:?}"),
    }
}

#[tokio::test]
async fn a_numeric_uri_needs_no_dns() {
    let dns = TestDns::start(pbx_zone(), &[]).await;
    let plan = dns
        .resolver()
        .resolve_uri(&uri("sips:[::1]"), &all_transports())
        .await;
    assert_eq!(
        plan.expect("resolves").into_peers(),
        [peer("[::1]:5061", Transport::Tls)]
    );
    assert!(dns.asked().is_empty());
}

#[tokio::test]
async fn resolution_futures_can_be_spawned() {
    let dns = TestDns::start(pbx_zone(), &[]).await;
    let resolver = dns.resolver();
    let task = tokio::spawn(async move {
        let target = sip_stack::resolve::Target::domain("pbx.test", false);
        resolver.resolve(&target, &Policy::default()).await
    });
    let plan = task.await.expect("task ran").expect("resolves");
    assert_eq!(plan.peers()[0], peer("127.0.0.10:5060", Transport::Tcp));
}
