//! End-to-end tests: the client and the server talking to each other through real
//! messages, the published test vectors read from their header text, and garbage.

use super::*;
use proptest::prelude::*;
use sip::headers::{Authorization, TypedHeader};
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const REALM: &str = "example.com";
const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn request(method: Method, uri: &str) -> Message {
    RequestBuilder::new(&method, &uri)
        .header(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKold;rport",
        )
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, "<sip:alice@example.com>;tag=f1")
        .header(HeaderName::To, "<sip:alice@example.com>")
        .header(HeaderName::CallId, "call-1@192.0.2.1")
        .header(HeaderName::CSeq, format_args!("7 {method}"))
        .header(HeaderName::Contact, "<sip:alice@192.0.2.1>")
        .build()
        .unwrap()
}

fn register() -> Message {
    request(Method::Register, "sip:example.com")
}

fn server() -> DigestServer {
    DigestServer::new(REALM, NonceKey::new(b"cluster secret".to_vec()))
}

/// The directory: alice/wonderland in example.com, HA1 for MD5 and SHA-256.
fn lookup(user: &str, realm: &str, alg: Algorithm) -> Option<Ha1> {
    assert!(!alg.is_sess(), "lookups are for base algorithms");
    (user == "alice" && realm == REALM).then(|| ha1(alg, "alice", REALM, "wonderland"))
}

fn with_header(req: &Message, name: HeaderName, value: &str) -> Message {
    req.edit().replace(name, value).finish().unwrap()
}

/// A 401 or 407 written by hand, for servers other than ours.
fn challenge(req: &Message, code: u16, values: &[&str]) -> Message {
    let name = ChallengeKind::from_status(code).unwrap().challenge_header();
    values
        .iter()
        .fold(ResponseBuilder::reply(req, code, Some("t1")), |b, v| {
            b.header(name, v)
        })
        .build()
        .unwrap()
}

fn param(value: &str, name: &str) -> Option<String> {
    Authorization::parse(value)
        .unwrap()
        .params
        .get(name)
        .map(|v| v.into_owned())
}

#[test]
fn rfc_2617_example_read_from_its_header() {
    let header = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
    let c = DigestCredentials::parse(&Authorization::parse(header).unwrap()).unwrap();
    let h = ha1(Algorithm::Md5, &c.username, &c.realm, "Circle Of Life");
    let input = DigestInput {
        algorithm: c.algorithm,
        ha1: &h,
        nonce: &c.nonce,
        method: "GET",
        uri: &c.uri,
        qop: c.qop(),
    };
    assert_eq!(input.response().unwrap(), c.response);
}

#[test]
fn rfc_7616_sha256_example_read_from_its_header() {
    let header = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
    let c = DigestCredentials::parse(&Authorization::parse(header).unwrap()).unwrap();
    assert_eq!(c.algorithm, Algorithm::Sha256);
    let h = ha1(c.algorithm, &c.username, &c.realm, "Circle of Life");
    let input = DigestInput {
        algorithm: c.algorithm,
        ha1: &h,
        nonce: &c.nonce,
        method: "GET",
        uri: &c.uri,
        qop: c.qop(),
    };
    assert_eq!(input.response().unwrap(), c.response);
}

/// Request → 401 → retried request → verified, for a server offering `algorithms`.
fn round_trip(algorithms: &[Algorithm], kind: ChallengeKind) -> (AuthOk, Message) {
    let server = server().with_algorithms(algorithms);
    let req = register();
    let failure = server.verify(&req, kind, lookup, at(T0)).unwrap_err();
    assert_eq!(failure, AuthFailure::Missing);
    let resp = server
        .failure_response(&req, &failure, kind, Some("t1"), at(T0))
        .unwrap();
    assert_eq!(resp.status(), Some(kind.status()));
    let mut client = DigestClient::new("alice", "wonderland");
    let retried = client.retry(&resp, &req, "z9hG4bKnew").unwrap();
    let ok = server.verify(&retried, kind, lookup, at(T0 + 1)).unwrap();
    assert_eq!((ok.username.as_str(), ok.realm.as_str()), ("alice", REALM));
    (ok, retried)
}

#[test]
fn md5_round_trip_and_the_retried_request_is_a_new_transaction_of_the_same_call() {
    let (ok, retried) = round_trip(&[Algorithm::Md5], ChallengeKind::Www);
    assert_eq!(ok.algorithm, Algorithm::Md5);
    let req = register();
    assert_eq!(retried.call_id().unwrap(), req.call_id().unwrap());
    assert_eq!(retried.from_header().unwrap().tag(), Some("f1"));
    assert_eq!(retried.cseq().unwrap().seq, 8);
    assert_eq!(retried.cseq().unwrap().method(), Method::Register);
    let via = retried.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bKnew"));
    assert_eq!(via.rport(), Some(None));
    assert_eq!(via.port, Some(5060));
    assert_eq!(
        retried.get(HeaderName::Contact),
        req.get(HeaderName::Contact)
    );
    retried.validate().unwrap();
}

#[test]
fn sha256_round_trip_is_preferred_when_both_are_offered() {
    let (ok, _) = round_trip(&[Algorithm::Md5, Algorithm::Sha256], ChallengeKind::Www);
    assert_eq!(ok.algorithm, Algorithm::Sha256);
}

#[test]
fn sess_variants_round_trip() {
    for alg in [Algorithm::Md5Sess, Algorithm::Sha256Sess] {
        let (ok, _) = round_trip(&[alg], ChallengeKind::Www);
        assert_eq!(ok.algorithm, alg);
    }
}

#[test]
fn proxy_round_trip_keeps_credentials_for_other_realms() {
    let (ok, _) = round_trip(&[Algorithm::Sha256], ChallengeKind::Proxy);
    assert_eq!(ok.algorithm, Algorithm::Sha256);
    let server = server();
    let other = r#"Digest username="a", realm="upstream.net", nonce="x", uri="sip:example.com", response="00""#;
    let req = with_header(&register(), HeaderName::ProxyAuthorization, other);
    assert_eq!(
        server.verify(&req, ChallengeKind::Proxy, lookup, at(T0)),
        Err(AuthFailure::WrongRealm {
            realm: "upstream.net".into()
        })
    );
    let resp = server
        .challenge_response(&req, ChallengeKind::Proxy, false, None, at(T0))
        .unwrap();
    let mut client = DigestClient::new("alice", "wonderland");
    let retried = client.retry(&resp, &req, "z9hG4bK2").unwrap();
    let lines: Vec<&str> = retried.get_all(HeaderName::ProxyAuthorization).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], other);
    assert!(retried.get(HeaderName::Authorization).is_none());
    server
        .verify(&retried, ChallengeKind::Proxy, lookup, at(T0))
        .unwrap();
}

#[test]
fn challenges_list_sha256_first_with_one_header_per_algorithm() {
    let resp = server()
        .challenge_response(&register(), ChallengeKind::Www, false, Some("t1"), at(T0))
        .unwrap();
    let values: Vec<&str> = resp.get_all(HeaderName::WwwAuthenticate).collect();
    assert_eq!(values.len(), 2);
    assert!(values[0].contains("algorithm=SHA-256"), "{}", values[0]);
    assert!(values[1].contains("algorithm=MD5"), "{}", values[1]);
    assert!(values
        .iter()
        .all(|v| v.contains("qop=\"auth\"") && !v.contains("stale")));
    assert_eq!(resp.to_header().unwrap().tag(), Some("t1"));
    assert_eq!(resp.reason(), "Unauthorized");
}

#[test]
fn stale_nonce_with_the_right_password_gets_stale_true_and_the_client_retries() {
    let server = server().with_nonce_lifetime(Duration::from_secs(60));
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let mut client = DigestClient::new("alice", "wonderland");
    let retried = client.retry(&resp, &req, "z9hG4bK2").unwrap();
    let late = at(T0 + 61);
    let failure = server
        .verify(&retried, ChallengeKind::Www, lookup, late)
        .unwrap_err();
    assert_eq!(failure, AuthFailure::StaleNonce);
    assert_eq!(failure.answer(), Answer::Challenge { stale: true });
    let stale = server
        .failure_response(&retried, &failure, ChallengeKind::Www, None, late)
        .unwrap();
    assert!(stale
        .get(HeaderName::WwwAuthenticate)
        .unwrap()
        .contains("stale=true"));
    // A stale challenge with a new nonce is not a rejection.
    let again = client.retry(&stale, &retried, "z9hG4bK3").unwrap();
    assert_eq!(again.cseq().unwrap().seq, 9);
    assert_eq!(again.get_all(HeaderName::Authorization).count(), 1);
    server
        .verify(&again, ChallengeKind::Www, lookup, late)
        .unwrap();
}

#[test]
fn stale_nonce_with_a_wrong_password_is_not_called_stale() {
    let server = server().with_nonce_lifetime(Duration::from_secs(60));
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let retried = DigestClient::new("alice", "guess")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    assert!(matches!(
        server.verify(&retried, ChallengeKind::Www, lookup, at(T0 + 61)),
        Err(AuthFailure::WrongResponse { .. })
    ));
}

#[test]
fn tampered_nonce_is_bad_and_never_reaches_the_directory() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let retried = DigestClient::new("alice", "wonderland")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    let value = retried.get(HeaderName::Authorization).unwrap();
    let nonce = param(value, "nonce").unwrap();
    // Claim the nonce was issued later than it was.
    let later = format!("{:016x}{}", T0 + 1000, &nonce[16..]);
    let tampered = with_header(
        &retried,
        HeaderName::Authorization,
        &value.replace(&nonce, &later),
    );
    let failure = server
        .verify(
            &tampered,
            ChallengeKind::Www,
            |_, _, _| panic!("looked up"),
            at(T0 + 500),
        )
        .unwrap_err();
    assert_eq!(failure, AuthFailure::BadNonce);
    assert_eq!(failure.answer(), Answer::Challenge { stale: false });
    // A nonce from a server with another secret.
    let foreign = DigestServer::new(REALM, NonceKey::new(b"other".to_vec()));
    assert_eq!(
        foreign.verify(&retried, ChallengeKind::Www, lookup, at(T0)),
        Err(AuthFailure::BadNonce)
    );
}

#[test]
fn wrong_password_is_challenged_again_and_the_client_stops() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let mut client = DigestClient::new("alice", "guess");
    let retried = client.retry(&resp, &req, "z9hG4bK2").unwrap();
    let failure = server
        .verify(&retried, ChallengeKind::Www, lookup, at(T0))
        .unwrap_err();
    assert_eq!(
        failure,
        AuthFailure::WrongResponse {
            username: "alice".into()
        }
    );
    let again = server
        .failure_response(&retried, &failure, ChallengeKind::Www, None, at(T0))
        .unwrap();
    assert_eq!(again.status(), Some(401));
    assert_eq!(
        client.retry(&again, &retried, "z9hG4bK3").unwrap_err(),
        ClientError::CredentialsRejected {
            realm: REALM.into()
        }
    );
}

#[test]
fn unknown_user_looks_like_a_wrong_password_to_the_client() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let retried = DigestClient::new("mallory", "x")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    let failure = server
        .verify(&retried, ChallengeKind::Www, lookup, at(T0))
        .unwrap_err();
    assert_eq!(
        failure,
        AuthFailure::UnknownUser {
            username: "mallory".into()
        }
    );
    assert_eq!(failure.status(ChallengeKind::Www), 401);
}

#[test]
fn credentials_for_another_realm_are_wrong_realm() {
    let other = DigestServer::new("other.org", NonceKey::new(b"cluster secret".to_vec()));
    let req = register();
    let resp = other
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let retried = DigestClient::new("alice", "wonderland")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    let failure = server()
        .verify(&retried, ChallengeKind::Www, lookup, at(T0))
        .unwrap_err();
    assert_eq!(
        failure,
        AuthFailure::WrongRealm {
            realm: "other.org".into()
        }
    );
    assert_eq!(failure.answer(), Answer::Challenge { stale: false });
}

#[test]
fn unknown_scheme_is_treated_as_no_credentials() {
    let req = with_header(
        &register(),
        HeaderName::Authorization,
        "NoOneKnowsThisScheme opaque-data=here",
    );
    let server = server();
    let failure = server
        .verify(&req, ChallengeKind::Www, lookup, at(T0))
        .unwrap_err();
    assert_eq!(
        failure,
        AuthFailure::UnknownScheme {
            scheme: "NoOneKnowsThisScheme".into()
        }
    );
    let resp = server
        .failure_response(&req, &failure, ChallengeKind::Www, None, at(T0))
        .unwrap();
    assert_eq!(resp.status(), Some(401));
    // The client answers it: its request carried no Digest credentials for the realm.
    let mut client = DigestClient::new("alice", "wonderland");
    let retried = client.retry(&resp, &req, "z9hG4bK2").unwrap();
    server
        .verify(&retried, ChallengeKind::Www, lookup, at(T0))
        .unwrap();
}

#[test]
fn malformed_credentials_get_400_naming_the_field() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let retried = DigestClient::new("alice", "wonderland")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    let value = retried.get(HeaderName::Authorization).unwrap().to_owned();
    let uri = param(&value, "uri").unwrap();
    let cases = [
        (
            value.replace(&format!("uri=\"{uri}\""), "uri=\"sip:elsewhere.com\""),
            "uri does not match the Request-URI",
        ),
        (value.replace("nc=00000001", "nc=xyz"), "nc"),
        (value.replace("username=\"alice\", ", ""), "username"),
        (
            "Digest realm=\"example.com\", username=\"alice\"".to_owned(),
            "nonce",
        ),
        ("Digest realm=\"unterminated".to_owned(), "header syntax"),
    ];
    for (header, what) in cases {
        let bad = with_header(&retried, HeaderName::Authorization, &header);
        let failure = server
            .verify(&bad, ChallengeKind::Www, lookup, at(T0))
            .unwrap_err();
        assert_eq!(failure, AuthFailure::Malformed { what }, "{header}");
        let resp = server
            .failure_response(&bad, &failure, ChallengeKind::Www, None, at(T0))
            .unwrap();
        assert_eq!(resp.status(), Some(400));
        assert!(resp.reason().contains(what), "{}", resp.reason());
    }
    // A response hashed for another method is simply wrong.
    let invite = request(Method::Invite, "sip:example.com");
    let moved = with_header(&invite, HeaderName::Authorization, &value);
    assert!(matches!(
        server.verify(&moved, ChallengeKind::Www, lookup, at(T0)),
        Err(AuthFailure::WrongResponse { .. })
    ));
}

#[test]
fn algorithms_the_server_does_not_offer_are_refused() {
    let req = register();
    let md5_only = server().with_algorithms(&[Algorithm::Md5]);
    let resp = server()
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let retried = DigestClient::new("alice", "wonderland")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    assert_eq!(
        md5_only.verify(&retried, ChallengeKind::Www, lookup, at(T0)),
        Err(AuthFailure::Unsupported {
            what: "algorithm",
            value: "SHA-256".into()
        })
    );
}

#[test]
fn rfc_2069_challenge_without_qop_round_trips() {
    let server = server().with_algorithms(&[Algorithm::Md5]);
    let req = register();
    let nonce = NonceKey::new(b"cluster secret".to_vec()).issue(REALM, at(T0));
    let resp = challenge(
        &req,
        401,
        &[&format!(r#"Digest realm="{REALM}", nonce="{nonce}""#)],
    );
    let retried = DigestClient::new("alice", "wonderland")
        .retry(&resp, &req, "z9hG4bK2")
        .unwrap();
    let value = retried.get(HeaderName::Authorization).unwrap();
    assert_eq!(param(value, "qop"), None);
    assert_eq!(param(value, "cnonce"), None);
    assert_eq!(param(value, "nc"), None);
    server
        .verify(&retried, ChallengeKind::Www, lookup, at(T0))
        .unwrap();
}

#[test]
fn nc_counts_uses_of_one_nonce_and_cnonces_differ() {
    let mut client = DigestClient::new("alice", "wonderland");
    let offer = r#"Digest realm="pbx", nonce="fixed", qop="auth", opaque="op1""#;
    let first = register();
    let resp = challenge(&first, 401, &[offer]);
    let (name, a) = client.authorization(&resp, &first).unwrap();
    assert_eq!(name, HeaderName::Authorization);
    assert_eq!(param(&a, "nc").as_deref(), Some("00000001"));
    assert_eq!(param(&a, "opaque").as_deref(), Some("op1"));
    // Another request challenged with the same nonce (servers reuse nonces per client).
    let second = request(Method::Options, "sip:pbx");
    let (_, b) = client
        .authorization(&challenge(&second, 401, &[offer]), &second)
        .unwrap();
    assert_eq!(param(&b, "nc").as_deref(), Some("00000002"));
    assert_ne!(param(&a, "cnonce"), param(&b, "cnonce"));
    // A refresh sent with credentials up front.
    let (_, c) = client.authorize(&register()).unwrap();
    assert_eq!(param(&c, "nc").as_deref(), Some("00000003"));
    assert_eq!(param(&c, "nonce").as_deref(), Some("fixed"));
    // A new nonce starts again at 1.
    let offer2 = r#"Digest realm="pbx", nonce="fresh", qop="auth""#;
    let (_, d) = client
        .authorization(&challenge(&first, 401, &[offer2]), &first)
        .unwrap();
    assert_eq!(param(&d, "nc").as_deref(), Some("00000001"));
}

#[test]
fn preemptive_credentials_are_accepted_by_the_server() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let mut client = DigestClient::new("alice", "wonderland");
    assert!(client.authorize(&req).is_none());
    client.retry(&resp, &req, "z9hG4bK2").unwrap();
    let (name, value) = client.authorize(&req).unwrap();
    let refresh = with_header(&req, name, &value);
    assert_eq!(param(&value, "nc").as_deref(), Some("00000002"));
    server
        .verify(&refresh, ChallengeKind::Www, lookup, at(T0 + 10))
        .unwrap();
}

#[test]
fn client_refuses_to_loop_on_the_same_nonce() {
    let mut client = DigestClient::new("alice", "wonderland");
    let req = register();
    let offer = r#"Digest realm="pbx", nonce="n1", qop="auth""#;
    let retried = client
        .retry(&challenge(&req, 401, &[offer]), &req, "z9hG4bK2")
        .unwrap();
    let rejected = ClientError::CredentialsRejected {
        realm: "pbx".into(),
    };
    assert_eq!(
        client
            .retry(&challenge(&retried, 401, &[offer]), &retried, "z9hG4bK3")
            .unwrap_err(),
        rejected.clone()
    );
    // stale=true with the very nonce we answered would loop too.
    let same_stale = r#"Digest realm="pbx", nonce="n1", qop="auth", stale=true"#;
    assert_eq!(
        client
            .retry(
                &challenge(&retried, 401, &[same_stale]),
                &retried,
                "z9hG4bK3"
            )
            .unwrap_err(),
        rejected.clone()
    );
    // A new nonce without stale: the credentials were rejected.
    let new_nonce = r#"Digest realm="pbx", nonce="n2", qop="auth""#;
    assert_eq!(
        client
            .retry(
                &challenge(&retried, 401, &[new_nonce]),
                &retried,
                "z9hG4bK3"
            )
            .unwrap_err(),
        rejected
    );
    // A new nonce with stale=true is answered.
    let new_stale = r#"Digest realm="pbx", nonce="n2", qop="auth", stale=true"#;
    client
        .retry(
            &challenge(&retried, 401, &[new_stale]),
            &retried,
            "z9hG4bK3",
        )
        .unwrap();
}

#[test]
fn client_chooses_the_strongest_challenge_it_supports() {
    let mut client = DigestClient::new("alice", "wonderland");
    let req = register();
    let md5 = r#"Digest realm="pbx", nonce="n", algorithm=MD5, qop="auth""#;
    let sha = r#"Digest realm="pbx", nonce="n", algorithm=SHA-256, qop="auth""#;
    let exotic = r#"Digest realm="pbx", nonce="n", algorithm=SHA-512-256, qop="auth""#;
    let pick = |client: &mut DigestClient, offers: &[&str]| {
        client
            .authorization(&challenge(&req, 407, offers), &req)
            .map(|(name, v)| (name, param(&v, "algorithm").unwrap()))
    };
    assert_eq!(
        pick(&mut client, &[md5, sha]).unwrap(),
        (HeaderName::ProxyAuthorization, "SHA-256".to_owned())
    );
    assert_eq!(pick(&mut client, &[exotic, md5]).unwrap().1, "MD5");
    let none = pick(&mut client, &[exotic, "Basic realm=\"pbx\"", "garbage \""]).unwrap_err();
    match none {
        ClientError::NoUsableChallenge { offered } => assert_eq!(offered.len(), 3, "{offered:?}"),
        other => panic!("{other:?}"),
    }
    let ok = ResponseBuilder::reply(&req, 200, Some("t"))
        .build()
        .unwrap();
    assert_eq!(
        client.authorization(&ok, &req).unwrap_err(),
        ClientError::NotAChallenge { status: Some(200) }
    );
}

#[test]
fn client_with_stored_ha1_answers_only_its_realm_and_algorithms() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let md5_only = DigestClient::from_ha1("alice", REALM).with_ha1(
        Algorithm::Md5,
        ha1(Algorithm::Md5, "alice", REALM, "wonderland"),
    );
    let retried = md5_only.clone().retry(&resp, &req, "z9hG4bK2").unwrap();
    assert_eq!(
        server
            .verify(&retried, ChallengeKind::Www, lookup, at(T0))
            .unwrap()
            .algorithm,
        Algorithm::Md5
    );
    let elsewhere = DigestClient::from_ha1("alice", "other.org").with_ha1(
        Algorithm::Sha256,
        ha1(Algorithm::Sha256, "alice", "other.org", "wonderland"),
    );
    assert!(matches!(
        elsewhere.clone().retry(&resp, &req, "z9hG4bK2"),
        Err(ClientError::NoUsableChallenge { .. })
    ));
    assert!(!format!("{md5_only:?}").contains("wonderland"));
}

#[test]
fn retry_needs_a_usable_branch() {
    let server = server();
    let req = register();
    let resp = server
        .challenge_response(&req, ChallengeKind::Www, false, None, at(T0))
        .unwrap();
    let mut client = DigestClient::new("alice", "wonderland");
    assert_eq!(
        client.retry(&resp, &req, "bad branch").unwrap_err(),
        ClientError::BadRequest { what: "branch" }
    );
}

proptest! {
    #[test]
    fn server_never_panics_on_random_credentials(value in any::<String>(), soup in digest_soup()) {
        let server = server();
        for v in [value.as_str(), soup.as_str()] {
            let built = register().edit().replace(HeaderName::Authorization, v).finish();
            if let Ok(req) = built {
                if let Err(f) = server.verify(&req, ChallengeKind::Www, lookup, at(T0)) {
                    let _ = f.status(ChallengeKind::Www);
                    let _ = server.failure_response(&req, &f, ChallengeKind::Www, None, at(T0));
                }
            }
        }
    }

    #[test]
    fn client_never_panics_on_random_challenges(value in any::<String>(), soup in digest_soup()) {
        let req = register();
        let mut client = DigestClient::new("alice", "wonderland");
        for v in [value.as_str(), soup.as_str()] {
            let resp = ResponseBuilder::reply(&req, 401, None)
                .header(HeaderName::WwwAuthenticate, v)
                .build();
            if let Ok(resp) = resp {
                let _ = client.retry(&resp, &req, "z9hG4bK2");
                let _ = client.authorize(&req);
            }
        }
    }
}

/// `Digest` followed by plausible and implausible parameters.
fn digest_soup() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "realm",
        "nonce",
        "username",
        "uri",
        "response",
        "algorithm",
        "qop",
        "nc",
        "cnonce",
        "opaque",
        "stale",
        "userhash",
        "",
        "x",
    ]);
    let value = prop_oneof![
        Just("\"example.com\"".to_owned()),
        Just("SHA-256-sess".to_owned()),
        Just("auth".to_owned()),
        Just("\"auth,auth-int\"".to_owned()),
        Just("00000001".to_owned()),
        Just("true".to_owned()),
        "[0-9a-f]{0,70}",
        "\"[^\"\\\\]{0,20}\"",
        ".{0,12}",
    ];
    (prop::bool::ANY, prop::collection::vec((name, value), 0..10)).prop_map(|(digest, params)| {
        let params: Vec<String> = params
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!(
            "{} {}",
            if digest { "Digest" } else { "digest" },
            params.join(", ")
        )
    })
}
