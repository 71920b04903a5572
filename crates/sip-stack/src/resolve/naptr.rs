//! NAPTR processing for SIP (RFC 3263 §4.1, RFC 3403, RFC 7118 §7): which of the services a
//! domain advertises we can use, in the order the domain wants them tried.

use super::policy::Policy;
use super::records::{is_root, Naptr};
use super::target::is_secure;
use crate::transport::Transport;

/// The transport a NAPTR service field names: `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, `SIP+D2W`,
/// `SIPS+D2W` (case-insensitive). `None` for anything else (`SIP+D2S` is SCTP).
pub fn service_transport(services: &str) -> Option<Transport> {
    let s = services.to_ascii_uppercase();
    Some(match s.as_str() {
        "SIP+D2U" => Transport::Udp,
        "SIP+D2T" => Transport::Tcp,
        "SIPS+D2T" => Transport::Tls,
        "SIP+D2W" => Transport::Ws,
        "SIPS+D2W" => Transport::Wss,
        _ => return None,
    })
}

/// The usable NAPTR records as (transport, SRV name), ordered by order then preference.
///
/// A record is usable when its flag is `S`, its regexp is empty, its replacement is not the
/// root, its service maps to a supported transport and, for a `sips:` URI, that transport
/// is TLS-protected (§4.1: a SIPS client MUST discard services without "SIPS"). All usable
/// records are kept, not just those of the lowest order, so that failover (§4.3) can reach
/// the later ones.
pub fn usable_naptrs(records: &[Naptr], secure: bool, policy: &Policy) -> Vec<(Transport, String)> {
    let mut usable: Vec<(u16, u16, Transport, &str)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter(|r| r.regexp.is_empty())
        .filter(|r| !is_root(&r.replacement))
        .filter_map(|r| {
            let t = service_transport(&r.services)?;
            let ok = policy.supports(t) && (!secure || is_secure(t));
            ok.then_some((r.order, r.preference, t, r.replacement.as_str()))
        })
        .collect();
    usable.sort_by_key(|&(order, preference, _, _)| (order, preference));
    let mut out: Vec<(Transport, String)> = Vec::with_capacity(usable.len());
    for (_, _, t, name) in usable {
        if !out
            .iter()
            .any(|(t2, n2)| *t2 == t && n2.eq_ignore_ascii_case(name))
        {
            out.push((t, name.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Policy {
        Policy::new([
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ])
    }

    #[test]
    fn services_map_to_transports() {
        assert_eq!(service_transport("SIP+D2U"), Some(Transport::Udp));
        assert_eq!(service_transport("sip+d2t"), Some(Transport::Tcp));
        assert_eq!(service_transport("SIPS+D2T"), Some(Transport::Tls));
        assert_eq!(service_transport("SIP+D2W"), Some(Transport::Ws));
        assert_eq!(service_transport("SIPS+D2W"), Some(Transport::Wss));
        assert_eq!(service_transport("SIP+D2S"), None);
        assert_eq!(service_transport("E2U+sip"), None);
    }

    #[test]
    fn records_are_ordered_by_order_then_preference() {
        let records = [
            Naptr::new(20, 10, "S", "SIP+D2U", "_sip._udp.pbx.test."),
            Naptr::new(10, 50, "S", "SIP+D2T", "_sip._tcp.pbx.test."),
            Naptr::new(10, 20, "s", "SIPS+D2T", "_sips._tcp.pbx.test."),
        ];
        let got = usable_naptrs(&records, false, &all());
        assert_eq!(
            got,
            [
                (Transport::Tls, "_sips._tcp.pbx.test.".to_owned()),
                (Transport::Tcp, "_sip._tcp.pbx.test.".to_owned()),
                (Transport::Udp, "_sip._udp.pbx.test.".to_owned()),
            ]
        );
    }

    #[test]
    fn unsupported_transports_are_filtered_out() {
        let records = [
            Naptr::new(10, 10, "S", "SIPS+D2T", "_sips._tcp.pbx.test."),
            Naptr::new(20, 10, "S", "SIP+D2U", "_sip._udp.pbx.test."),
        ];
        let got = usable_naptrs(&records, false, &Policy::new([Transport::Udp]));
        assert_eq!(got, [(Transport::Udp, "_sip._udp.pbx.test.".to_owned())]);
    }

    #[test]
    fn sips_discards_services_without_tls() {
        let records = [
            Naptr::new(10, 10, "S", "SIP+D2U", "_sip._udp.pbx.test."),
            Naptr::new(20, 10, "S", "SIPS+D2W", "_sips._ws.pbx.test."),
            Naptr::new(30, 10, "S", "SIPS+D2T", "_sips._tcp.pbx.test."),
        ];
        let got: Vec<_> = usable_naptrs(&records, true, &all())
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(got, [Transport::Wss, Transport::Tls]);
    }

    #[test]
    fn records_not_meant_for_srv_are_ignored() {
        let mut regexp = Naptr::new(10, 10, "U", "SIP+D2U", ".");
        regexp.regexp = "!^.*$!sip:info@pbx.test!".into();
        let records = [
            regexp,
            Naptr::new(10, 10, "A", "SIP+D2U", "host.pbx.test."),
            Naptr::new(10, 10, "S", "SIP+D2T", "."),
            Naptr::new(10, 10, "", "SIP+D2T", "_sip._tcp.pbx.test."),
        ];
        assert!(usable_naptrs(&records, false, &all()).is_empty());
    }
}
