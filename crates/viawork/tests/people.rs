//! People search and contact lists through the real server: users are provisioned with the
//! admin CLI (which writes the SQLite file directly), the server is started on loopback, and
//! the HTTP API is asked. Covers the search ranking and normalisation end to end, the
//! freshness of the index after a CLI change while serving, cards, and the contact-list and
//! group routes with their errors.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http::{request, sign_in, Reply};
use common::Server;
use serde_json::{json, Value};

const PASSWORD: &str = "S3cret-pass";
const ME: &str = "sip:me@example.com";

/// A directory on a fresh SQLite file, provisioned with the CLI, and a server over it.
struct Env {
    db: String,
    server: Server,
    token: String,
    _dir: tempfile::TempDir,
}

/// `(sip uri, name, extra CLI args)`.
type NewUser<'a> = (&'a str, &'a str, &'a [&'a str]);

fn new_user(db: &str, (uri, name, extra): NewUser<'_>) {
    let mut args = vec![
        "user",
        "new",
        "--sip-uri",
        uri,
        "--name",
        name,
        "--password",
        PASSWORD,
    ];
    args.extend_from_slice(extra);
    common::cli(db, &args);
}

fn env(users: &[NewUser<'_>]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    new_user(&db, (ME, "Me Myself", &[]));
    for u in users {
        new_user(&db, *u);
    }
    let server = Server::start_with(&[("VIAWORK_DATABASE", &db)]);
    let token = sign_in(server.http, ME, PASSWORD);
    Env {
        db,
        server,
        token,
        _dir: dir,
    }
}

impl Env {
    fn http(&self) -> SocketAddr {
        self.server.http
    }

    fn get(&self, path: &str) -> Reply {
        request(self.http(), "GET", path, Some(&self.token), None)
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        request(self.http(), method, path, Some(&self.token), body)
    }

    /// The names found for `query` (URL-encoded here) with their match kinds.
    fn search(&self, query: &str) -> Vec<(String, String)> {
        let r = self.get(&format!("/api/v1/people?query={}", encode(query)));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or_default().to_owned(),
                    p["match"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn error(r: &Reply) -> (u16, String, String) {
    let e = &r.json()["error"];
    (
        r.status,
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["field"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn search_ranks_exact_then_prefix_then_substring_and_folds_names_and_numbers() {
    let env = env(&[
        ("sip:ann@example.com", "Ann Smith", &[]),
        ("sip:alee@example.com", "Annabel Lee", &[]),
        ("sip:jhannah@example.com", "Joanne Hannah", &[]),
        (
            "sip:jgarcia@example.com",
            "José García",
            &[
                "--phone-mobile",
                "+1 425 555 0101",
                "--email",
                "jose.garcia@example.com",
                "--title",
                "Engineer",
            ],
        ),
        ("sip:gone@example.com", "Ann Gone", &["--enabled", "false"]),
    ]);
    assert_eq!(
        env.search("ann"),
        pairs(&[
            ("Ann Smith", "exact"),
            ("Annabel Lee", "prefix"),
            ("Joanne Hannah", "substring"),
        ]),
        "a disabled user is not found"
    );
    for q in [
        "jose",
        "JOSÉ",
        "garcia jose",
        "425 555 0101",
        "(425) 555-0101",
        "+14255550101",
    ] {
        assert_eq!(env.search(q), pairs(&[("José García", "exact")]), "{q}");
    }
    assert_eq!(
        env.search("jose.garcia@exa"),
        pairs(&[("José García", "prefix")])
    );
    let r = env.get("/api/v1/people?query=425555&limit=1");
    let v = r.json();
    assert_eq!(v["moreResultsAvailable"], json!(false));
    let card = &v["results"][0];
    assert_eq!(card["uri"], "sip:jgarcia@example.com");
    assert_eq!(card["title"], "Engineer");
    assert_eq!(card["email"], "jose.garcia@example.com");
    assert_eq!(card["phones"]["mobile"], "+1 425 555 0101");
    assert_eq!(
        card["links"]["presence"],
        "/api/v1/people/sip:jgarcia@example.com/presence"
    );
    let r = env.get("/api/v1/people?query=ann&limit=2");
    assert_eq!(r.json()["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.json()["moreResultsAvailable"], json!(true));
}

#[test]
fn search_and_cards_refuse_bad_input_naming_the_field() {
    let env = env(&[]);
    let long = "a".repeat(257);
    for (path, field) in [
        ("/api/v1/people", "query"),
        ("/api/v1/people?query=", "query"),
        ("/api/v1/people?query=%20-%20", "query"),
        (&*format!("/api/v1/people?query={long}"), "query"),
        ("/api/v1/people?query=a+b+c+d+e+f+g+h+i", "query"),
        ("/api/v1/people?query=ann&limit=0", "limit"),
        ("/api/v1/people?query=ann&limit=101", "limit"),
        ("/api/v1/people?query=ann&limit=ten", "limit"),
        ("/api/v1/people?query=ann&colour=blue", "colour"),
        ("/api/v1/people/alice", "uri"),
    ] {
        let r = env.get(path);
        assert_eq!(
            error(&r),
            (400, "ParameterValidationFailure".into(), field.into()),
            "{path}: {}",
            r.body
        );
    }
    let r = request(env.http(), "GET", "/api/v1/people?query=ann", None, None);
    assert_eq!(r.status, 401);
    let r = env.get("/api/v1/people/sip:nobody@example.com");
    assert_eq!(r.status, 404, "{}", r.body);
    let r = env.get("/api/v1/people/sip:ME@example.com");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"], "Me Myself");
}

#[test]
fn users_changed_by_the_cli_while_serving_are_found_within_the_freshness_bound() {
    let env = env(&[("sip:ann@example.com", "Ann Smith", &[])]);
    assert_eq!(env.search("zoe"), pairs(&[]));
    new_user(
        &env.db,
        (
            "sip:zoe@example.com",
            "Zoë Quinn",
            &["--line-uri", "tel:+14255550177;ext=177"],
        ),
    );
    // The bound is 250 ms plus one reload; allow a loaded machine far more.
    poll(&env, "zoe", |found| {
        found == pairs(&[("Zoë Quinn", "exact")])
    });
    assert_eq!(
        env.search("177"),
        pairs(&[("Zoë Quinn", "exact")]),
        "extension"
    );
    common::cli(
        &env.db,
        &[
            "user",
            "set",
            "--sip-uri",
            "sip:zoe@example.com",
            "--enabled",
            "false",
        ],
    );
    poll(&env, "zoe", |found| found.is_empty());
    let r = env.get("/api/v1/people/sip:zoe@example.com");
    assert_eq!(r.status, 404, "a disabled user has no card: {}", r.body);
}

/// Searches until `done` holds for the results (at most 20 s).
fn poll(env: &Env, query: &str, done: impl Fn(Vec<(String, String)>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = env.search(query);
        if done(found.clone()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "search {query:?} still answers {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn contacts_and_groups_are_added_listed_grouped_and_removed() {
    let env = env(&[
        (
            "sip:bob@example.com",
            "Bob Builder",
            &["--title", "Builder"],
        ),
        ("sip:carol@example.com", "Carol Singer", &[]),
    ]);
    let list = env.get("/api/v1/me/contacts").json();
    assert_eq!(list["contacts"], json!([]));
    assert_eq!(
        list["groups"],
        json!([{"id": "other", "name": "Other Contacts", "default": true, "contacts": []}])
    );
    assert_eq!(list["limits"], json!({"contacts": 1000, "groups": 64}));

    let r = env.send("POST", "/api/v1/me/groups", Some(&json!({"name": "Team"})));
    assert_eq!(r.status, 201, "{}", r.body);
    let team = r.json()["id"].as_str().unwrap().to_owned();
    let r = env.send(
        "POST",
        "/api/v1/me/contacts",
        Some(&json!({"uri": "sip:Bob@Example.com", "groups": [team]})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let bob = r.json();
    assert_eq!(bob["uri"], "sip:bob@example.com");
    assert_eq!(bob["type"], "user");
    assert_eq!(bob["name"], "Bob Builder");
    assert_eq!(bob["groups"], json!([team]));
    assert_eq!(bob["person"]["title"], "Builder");
    let r = env.send(
        "POST",
        "/api/v1/me/contacts",
        Some(&json!({"uri": "sip:carol@example.com"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["groups"], json!(["other"]));
    let r = env.send(
        "POST",
        "/api/v1/me/contacts",
        Some(&json!({"uri": "tel:+1 425 555 0199", "name": "Taxi"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["uri"], "tel:+14255550199");
    assert_eq!(r.json()["type"], "phone");

    // Carol joins the team too; Bob leaves it and so falls into Other Contacts.
    let member = |uri: &str| format!("/api/v1/me/groups/{team}/contacts/{uri}");
    assert_eq!(
        env.send("PUT", &member("sip:carol@example.com"), None)
            .status,
        204
    );
    assert_eq!(
        env.send("PUT", &member("sip:carol@example.com"), None)
            .status,
        204
    );
    assert_eq!(
        env.send("DELETE", &member("sip:bob@example.com"), None)
            .status,
        204
    );
    let r = env.send("DELETE", &member("sip:bob@example.com"), None);
    assert_eq!(r.status, 404, "{}", r.body);
    let groups = env.get("/api/v1/me/groups").json();
    assert_eq!(
        groups["groups"],
        json!([
            {"id": "other", "name": "Other Contacts", "default": true,
             "contacts": ["sip:bob@example.com", "tel:+14255550199"]},
            {"id": team, "name": "Team", "default": false, "contacts": ["sip:carol@example.com"]},
        ])
    );
    // Putting Carol in Other Contacts takes her out of every group.
    assert_eq!(
        env.send(
            "PUT",
            "/api/v1/me/groups/other/contacts/sip:carol@example.com",
            None
        )
        .status,
        204
    );
    let list = env.get("/api/v1/me/contacts").json();
    assert_eq!(list["contacts"][1]["groups"], json!(["other"]));

    let r = env.send(
        "PATCH",
        &format!("/api/v1/me/groups/{team}"),
        Some(&json!({"name": "Crew"})),
    );
    assert_eq!(
        (r.status, r.json()["name"].clone()),
        (200, json!("Crew")),
        "{}",
        r.body
    );
    assert_eq!(
        env.send("DELETE", &format!("/api/v1/me/groups/{team}"), None)
            .status,
        204
    );
    assert_eq!(
        env.send("DELETE", "/api/v1/me/contacts/sip:bob@example.com", None)
            .status,
        204
    );
    assert_eq!(
        env.send("DELETE", "/api/v1/me/contacts/tel:+14255550199", None)
            .status,
        204
    );
    let list = env.get("/api/v1/me/contacts").json();
    let uris: Vec<&str> = list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["uri"].as_str())
        .collect();
    assert_eq!(uris, ["sip:carol@example.com"]);
    assert_eq!(
        list["groups"].as_array().map(Vec::len),
        Some(1),
        "the group is gone"
    );
}

#[test]
fn contact_and_group_errors_name_the_field_or_the_conflict() {
    let env = env(&[("sip:bob@example.com", "Bob Builder", &[])]);
    let post = |body: Value| env.send("POST", "/api/v1/me/contacts", Some(&body));
    assert_eq!(post(json!({"uri": "sip:bob@example.com"})).status, 201);
    let cases: Vec<(Value, (u16, &str, &str))> = vec![
        (
            json!({"uri": "sip:bob@example.com"}),
            (409, "AlreadyExists", "uri"),
        ),
        (
            json!({"uri": "sip:nobody@example.com"}),
            (404, "NotFound", "uri"),
        ),
        (
            json!({"uri": "bob@example.com"}),
            (400, "ParameterValidationFailure", "uri"),
        ),
        (
            json!({"uri": "tel:4255550199"}),
            (400, "ParameterValidationFailure", "uri"),
        ),
        (
            json!({"uri": ME}),
            (400, "ParameterValidationFailure", "uri"),
        ),
        (
            json!({"uri": 5}),
            (400, "ParameterValidationFailure", "uri"),
        ),
        (json!({}), (400, "ParameterValidationFailure", "uri")),
        (
            json!({"uri": "sip:bob@example.com", "colour": 1}),
            (400, "ParameterValidationFailure", "colour"),
        ),
        (
            json!({"uri": "tel:+14255550199", "groups": ["x"]}),
            (400, "ParameterValidationFailure", "groups"),
        ),
        (
            json!({"uri": "tel:+14255550199", "groups": ["999"]}),
            (404, "NotFound", "groups"),
        ),
        (
            json!({"uri": "sip:bob@example.com", "name": "Robert"}),
            (400, "ParameterValidationFailure", "name"),
        ),
    ];
    for (body, (status, code, field)) in cases {
        let r = post(body.clone());
        assert_eq!(
            error(&r),
            (status, code.into(), field.into()),
            "{body}: {}",
            r.body
        );
    }
    let r = env.send("DELETE", "/api/v1/me/contacts/sip:carol@example.com", None);
    assert_eq!(r.status, 404, "{}", r.body);

    let group = |body: Value| env.send("POST", "/api/v1/me/groups", Some(&body));
    assert_eq!(group(json!({"name": "Team"})).status, 201);
    for (body, want) in [
        (json!({"name": "team"}), (409, "AlreadyExists", "name")),
        (
            json!({"name": "Other Contacts"}),
            (409, "AlreadyExists", "name"),
        ),
        (
            json!({"name": " "}),
            (400, "ParameterValidationFailure", "name"),
        ),
        (
            json!({"name": "x".repeat(65)}),
            (400, "ParameterValidationFailure", "name"),
        ),
        (json!({}), (400, "ParameterValidationFailure", "name")),
    ] {
        let r = group(body.clone());
        assert_eq!(
            error(&r),
            (want.0, want.1.into(), want.2.into()),
            "{body}: {}",
            r.body
        );
    }
    for (method, path, body, want) in [
        (
            "PATCH",
            "/api/v1/me/groups/other",
            Some(json!({"name": "X"})),
            (409, "DefaultGroup", ""),
        ),
        (
            "DELETE",
            "/api/v1/me/groups/other",
            None,
            (409, "DefaultGroup", ""),
        ),
        (
            "DELETE",
            "/api/v1/me/groups/999",
            None,
            (404, "NotFound", ""),
        ),
        (
            "DELETE",
            "/api/v1/me/groups/abc",
            None,
            (400, "ParameterValidationFailure", "id"),
        ),
        (
            "PUT",
            "/api/v1/me/groups/999/contacts/sip:bob@example.com",
            None,
            (404, "NotFound", ""),
        ),
        (
            "PUT",
            "/api/v1/me/groups/other/contacts/sip:nobody@example.com",
            None,
            (404, "NotFound", ""),
        ),
    ] {
        let r = env.send(method, path, body.as_ref());
        assert_eq!(
            error(&r),
            (want.0, want.1.into(), want.2.into()),
            "{method} {path}: {}",
            r.body
        );
    }
    // Another user's groups and contacts are not mine.
    new_user(&env.db, ("sip:eve@example.com", "Eve", &[]));
    let eve = sign_in(env.http(), "sip:eve@example.com", PASSWORD);
    let mine = env.get("/api/v1/me/groups").json()["groups"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = request(
        env.http(),
        "DELETE",
        &format!("/api/v1/me/groups/{mine}"),
        Some(&eve),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = request(env.http(), "GET", "/api/v1/me/contacts", Some(&eve), None);
    assert_eq!(r.json()["contacts"], json!([]));
    let r = request(env.http(), "GET", "/api/v1/me/contacts", None, None);
    assert_eq!(r.status, 401);
}

#[test]
fn the_contact_and_group_limits_are_refused_with_409() {
    let env = env(&[]);
    for i in 0..1000 {
        let uri = format!("tel:+1425555{i:04}");
        let r = env.send("POST", "/api/v1/me/contacts", Some(&json!({"uri": uri})));
        assert_eq!(r.status, 201, "contact {i}: {}", r.body);
    }
    let r = env.send(
        "POST",
        "/api/v1/me/contacts",
        Some(&json!({"uri": "tel:+14255559999"})),
    );
    assert_eq!(
        error(&r),
        (409, "TooManyContacts".into(), String::new()),
        "{}",
        r.body
    );
    // Removing one makes room again.
    let r = env.send("DELETE", "/api/v1/me/contacts/tel:+14255550000", None);
    assert_eq!(r.status, 204, "{}", r.body);
    let r = env.send(
        "POST",
        "/api/v1/me/contacts",
        Some(&json!({"uri": "tel:+14255559999"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    for i in 0..64 {
        let r = env.send(
            "POST",
            "/api/v1/me/groups",
            Some(&json!({"name": format!("G{i}")})),
        );
        assert_eq!(r.status, 201, "group {i}: {}", r.body);
    }
    let r = env.send(
        "POST",
        "/api/v1/me/groups",
        Some(&json!({"name": "One more"})),
    );
    assert_eq!(
        error(&r),
        (409, "TooManyGroups".into(), String::new()),
        "{}",
        r.body
    );
}
