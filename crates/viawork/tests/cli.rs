//! The admin command line, end to end: the real `viawork` binary against a temporary SQLite
//! file (and the key flows once against PostgreSQL, on the private test cluster of
//! `common/postgres.rs`). Each test checks what the command prints, its exit status and —
//! for refusals — that nothing changed.

#[path = "common/postgres.rs"]
mod postgres;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use viawork::domain::{Password, PasswordHash, SipCredentials, UserUri};

/// One test's database.
struct Db {
    url: String,
    dir: tempfile::TempDir,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("viawork.db").display());
        Db { url, dir }
    }

    fn postgres() -> Db {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let url = rt.block_on(postgres::database()).url;
        Db {
            url,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs `viawork ARGS --database URL`.
    fn run(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_viawork"))
            .args(args)
            .args(["--database", &self.url])
            .env_remove("VIAWORK_CONFIG")
            .env_remove("VIAWORK_DATABASE")
            .env_remove("VIAWORK_LOG")
            .current_dir(self.dir.path())
            .output()
            .expect("run viawork");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.ok,
            "viawork {args:?} failed: {}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs a command with `--output json` that must succeed; its parsed output.
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(&[args, &["--output", "json"]].concat());
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Runs a command that must be refused; its stderr, which must name `field`. Checks that
    /// the users and policies are unchanged.
    fn refused(&self, args: &[&str], field: &str) -> String {
        let before = self.snapshot();
        let out = self.run(args);
        assert!(!out.ok, "viawork {args:?} should fail: {}", out.stdout);
        assert!(
            out.stderr.contains(field),
            "viawork {args:?}: stderr does not name {field}: {}",
            out.stderr
        );
        assert_eq!(
            self.snapshot(),
            before,
            "viawork {args:?} changed something"
        );
        out.stderr
    }

    /// Users, policies and global rules, for "nothing changed" checks.
    fn snapshot(&self) -> (Value, Value, Value) {
        (
            self.json(&["user", "list"]),
            self.json(&["policy", "get"]),
            self.json(&["dialplan", "rule", "list"]),
        )
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path.display().to_string()
    }
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

const ALICE: &str = "sip:alice@example.com";

fn new_alice(db: &Db) {
    db.ok(&[
        "user",
        "new",
        "--sip-uri",
        ALICE,
        "--name",
        "Alice Smith",
        "--password",
        "S3cret-pass",
        "--email",
        "alice@example.com",
        "--line-uri",
        "tel:+14255550101",
        "--enterprise-voice",
        "--pin",
        "58294",
    ]);
}

fn sip_uris(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|u| u["sipUri"].as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---- flows run on both backends ---------------------------------------------------------

fn user_lifecycle(db: &Db) {
    new_alice(db);
    let out = db.ok(&[
        "user",
        "new",
        "--sip-uri",
        "sip:Bob@Example.com",
        "--name",
        "Bob Jones",
        "--password",
        "another-pass",
        "--role",
        "admin",
        "--title",
        "Engineer",
        "--department",
        "R&D",
        "--office",
        "B/1",
        "--phone-work",
        "+1 425 555 0102",
        "--phone-mobile",
        "+1 206 555 0199",
    ]);
    assert!(out.contains("sip:bob@example.com"), "{out}");

    let alice = db.json(&["user", "get", "--sip-uri", ALICE]);
    assert_eq!(alice["displayName"], "Alice Smith");
    assert_eq!(alice["lineUri"], "tel:+14255550101");
    assert_eq!(alice["enterpriseVoice"], true);
    assert_eq!(alice["passwordSet"], true);
    assert_eq!(alice["sipCredentialsSet"], true);
    assert_eq!(alice["pinSet"], true);
    assert_eq!(alice["effectivePolicy"]["identity"], "Global");
    let text = alice.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("S3cret"),
        "{text}"
    );

    let list = db.json(&["user", "list"]);
    assert_eq!(
        sip_uris(&list),
        ["sip:alice@example.com", "sip:bob@example.com"]
    );
    assert_eq!(
        sip_uris(&db.json(&["user", "list", "--limit", "1"])).len(),
        1
    );
    let table = db.ok(&["user", "list"]);
    assert!(table.starts_with("SIP ADDRESS"), "{table}");

    let set = db.json(&[
        "user",
        "set",
        "--sip-uri",
        ALICE,
        "--enabled",
        "false",
        "--enterprise-voice",
        "false",
        "--title",
        "Director",
        "--line-uri",
        "tel:+14255550100;ext=101",
        "--password",
        "new-password-1",
    ]);
    assert_eq!(set["enabled"], false);
    assert_eq!(set["enterpriseVoice"], false);
    assert_eq!(set["title"], "Director");
    assert_eq!(set["lineUri"], "tel:+14255550100;ext=101");
    assert_eq!(set["displayName"], "Alice Smith");

    db.ok(&["user", "remove", "--sip-uri", "sip:bob@example.com"]);
    assert_eq!(sip_uris(&db.json(&["user", "list"])), [ALICE]);
    db.refused(
        &["user", "get", "--sip-uri", "sip:bob@example.com"],
        "sipUri",
    );
}

fn policies_and_effective_policy(db: &Db) {
    new_alice(db);
    let p = db.json(&[
        "policy",
        "new",
        "--identity",
        "Tag:Sales",
        "--enabled",
        "true",
        "--use-admin-callback-number",
        "true",
        "--admin-callback-number",
        "+14255550199",
    ]);
    assert_eq!(p["identity"], "Tag:Sales");
    assert_eq!(p["adminCallbackNumber"], "+14255550199");

    // Before the grant: the Global policy (disabled) applies, so no callback number.
    let alice = db.json(&["user", "get", "--sip-uri", ALICE]);
    assert_eq!(alice["effectivePolicySource"], "global");
    assert_eq!(alice["callbackNumber"], Value::Null);

    db.ok(&["policy", "grant", "--user", ALICE, "--policy", "Tag:Sales"]);
    let alice = db.json(&["user", "get", "--sip-uri", ALICE]);
    assert_eq!(alice["policyGrant"], "Tag:Sales");
    assert_eq!(alice["effectivePolicy"]["identity"], "Tag:Sales");
    assert_eq!(alice["effectivePolicySource"], "user");
    assert_eq!(alice["callbackNumber"], "tel:+14255550199");
    assert_eq!(alice["callbackNumberSource"], "adminRequired");
    let human = db.ok(&["user", "get", "--sip-uri", ALICE]);
    assert!(human.contains("Tag:Sales (granted)"), "{human}");
    assert!(human.contains("tel:+14255550199"), "{human}");

    // Users may choose: the LineURI is the default callback number.
    db.ok(&[
        "policy",
        "set",
        "--identity",
        "tag:sales",
        "--use-admin-callback-number",
        "false",
        "--admin-callback-number",
        "",
    ]);
    let alice = db.json(&["user", "get", "--sip-uri", ALICE]);
    assert_eq!(alice["callbackNumber"], "tel:+14255550101");
    assert_eq!(alice["callbackNumberSource"], "lineUri");

    // Global: changed, listed first, then reset by remove.
    db.ok(&["policy", "set", "--identity", "Global", "--enabled", "true"]);
    let all = db.json(&["policy", "get"]);
    assert_eq!(all[0]["identity"], "Global");
    assert_eq!(all[0]["enabled"], true);
    assert_eq!(all[1]["identity"], "Tag:Sales");
    let reset = db.json(&["policy", "remove", "--identity", "Global"]);
    assert_eq!(reset["outcome"], "reset");
    assert_eq!(
        db.json(&["policy", "get", "--identity", "Global"])["enabled"],
        false
    );

    // Granting none returns Alice to the global policy; removing a policy clears grants.
    db.ok(&["policy", "grant", "--user", ALICE, "--policy", "none"]);
    assert_eq!(
        db.json(&["user", "get", "--sip-uri", ALICE])["effectivePolicySource"],
        "global"
    );
    db.ok(&["policy", "grant", "--user", ALICE, "--policy", "Sales"]);
    let removed = db.json(&["policy", "remove", "--identity", "Tag:Sales"]);
    assert_eq!(removed["grantsCleared"], 1);
    assert_eq!(
        db.json(&["user", "get", "--sip-uri", ALICE])["policyGrant"],
        Value::Null
    );

    // A site policy applies to the users of the site.
    db.ok(&["policy", "new", "--identity", "Site:Redmond", "--enabled"]);
    db.ok(&["user", "set", "--sip-uri", ALICE, "--site", "Redmond"]);
    let alice = db.json(&["user", "get", "--sip-uri", ALICE]);
    assert_eq!(alice["effectivePolicy"]["identity"], "Site:Redmond");
    assert_eq!(alice["effectivePolicySource"], "site");
}

/// The ViaWork extensions `AllowInternationalCallback` / `AllowPremiumCallback`: set like
/// `--enabled`, shown by `policy get` and in the effective policy, false by default.
fn policy_callback_extensions(db: &Db) {
    let p = db.json(&["policy", "new", "--identity", "Tag:Travel", "--enabled"]);
    assert_eq!(p["allowInternationalCallback"], false);
    assert_eq!(p["allowPremiumCallback"], false);
    let p = db.json(&[
        "policy",
        "set",
        "--identity",
        "tag:travel",
        "--allow-international-callback",
        "true",
        "--allow-premium-callback",
    ]);
    assert_eq!(p["allowInternationalCallback"], true);
    assert_eq!(p["allowPremiumCallback"], true);
    assert_eq!(p["enabled"], true, "other settings are kept");
    let p = db.json(&[
        "policy",
        "set",
        "--identity",
        "Tag:Travel",
        "--allow-premium-callback",
        "false",
    ]);
    assert_eq!(p["allowInternationalCallback"], true);
    assert_eq!(p["allowPremiumCallback"], false);
    let p = db.json(&["policy", "get", "--identity", "Tag:Travel"]);
    assert_eq!(p["allowInternationalCallback"], true);
    assert_eq!(p["allowPremiumCallback"], false);

    let human = db.ok(&["policy", "get", "--identity", "Tag:Travel"]);
    let line = |name: &str| {
        human
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {human}"))
            .split_whitespace()
            .last()
            .map(str::to_owned)
    };
    assert_eq!(line("AllowInternationalCallback").as_deref(), Some("yes"));
    assert_eq!(line("AllowPremiumCallback").as_deref(), Some("no"));
    let table = db.ok(&["policy", "get"]);
    assert!(table.contains("ALLOW INTERNATIONAL"), "{table}");
    assert!(table.contains("ALLOW PREMIUM"), "{table}");
    let all = db.json(&["policy", "get"]);
    assert_eq!(all[0]["identity"], "Global");
    assert_eq!(all[0]["allowInternationalCallback"], false);

    // The effective policy of a user carries them.
    new_alice(db);
    db.ok(&["policy", "grant", "--user", ALICE, "--policy", "Travel"]);
    let alice = db.json(&["user", "get", "--sip-uri", ALICE]);
    assert_eq!(alice["effectivePolicy"]["allowInternationalCallback"], true);
    assert_eq!(alice["effectivePolicy"]["allowPremiumCallback"], false);
    let human = db.ok(&["user", "get", "--sip-uri", ALICE]);
    assert!(human.contains("AllowInternationalCallback"), "{human}");

    // A bad value is refused naming the flag, and changes nothing.
    for flag in ["--allow-international-callback", "--allow-premium-callback"] {
        let e = db.refused(
            &["policy", "set", "--identity", "Tag:Travel", flag, "maybe"],
            flag,
        );
        assert!(e.contains("maybe"), "{e}");
        db.refused(
            &["policy", "new", "--identity", "Tag:Other", flag, "2"],
            flag,
        );
    }
}

fn imports(db: &Db) {
    db.ok(&["policy", "new", "--identity", "Tag:Sales", "--enabled"]);
    let good = db.write(
        "users.csv",
        "#TYPE Microsoft.Rtc.Management.ADConnect.Schema.OCSADUser\r\n\
         \"Identity\",\"SipAddress\",\"DisplayName\",\"LineURI\",\"EnterpriseVoiceEnabled\",\"Enabled\",\"CallViaWorkPolicy\",\"RegistrarPool\"\r\n\
         \"CN=Carol,OU=Users\",\"sip:carol@example.com\",\"Carol Díaz\",\"tel:+14255550103\",\"True\",\"True\",\"Sales\",\"pool01.example.com\"\r\n\
         \"CN=Dan,OU=Users\",\"sip:dan@example.com\",\"Dan O'Brien\",\"\",\"False\",\"False\",\"\",\"pool01.example.com\"\r\n",
    );
    let report = db.json(&["user", "import", &good]);
    assert_eq!(report["committed"], true);
    assert_eq!(report["imported"], 2);
    let carol = db.json(&["user", "get", "--sip-uri", "sip:carol@example.com"]);
    assert_eq!(carol["displayName"], "Carol Díaz");
    assert_eq!(carol["enterpriseVoice"], true);
    assert_eq!(carol["policyGrant"], "Tag:Sales");
    assert_eq!(carol["passwordSet"], false);
    let dan = db.json(&["user", "get", "--sip-uri", "sip:dan@example.com"]);
    assert_eq!(dan["enabled"], false);
    assert_eq!(dan["lineUri"], "");

    let bad = db.write(
        "bad.csv",
        "SipAddress,DisplayName,LineURI,EnterpriseVoiceEnabled,CallViaWorkPolicy\n\
         sip:erin@example.com,Erin,tel:+14255550104,True,\n\
         sip:frank@example.com,Frank,+14255550105,True,\n\
         not-a-uri,Nobody,,False,\n\
         sip:carol@example.com,Carol again,,False,\n\
         sip:gina@example.com,Gina,,maybe,\n\
         sip:hal@example.com,Hal,,False,Tag:Nope\n\
         sip:ivy@example.com,Ivy,,False,\n",
    );
    let before = db.snapshot();
    let out = db.run(&["user", "import", &bad]);
    assert!(
        !out.ok,
        "an import with bad rows and no --skip-bad-rows must fail"
    );
    for expected in [
        "3 ",
        "lineUri",
        "4 ",
        "sipUri",
        "5 ",
        "6 ",
        "enterpriseVoice",
        "7 ",
        "policyName",
    ] {
        assert!(out.stdout.contains(expected), "{expected}: {}", out.stdout);
    }
    assert!(out.stdout.contains("nothing imported"), "{}", out.stdout);
    assert_eq!(db.snapshot(), before, "nothing may be imported");

    let json = db.run(&["user", "import", &bad, "--output", "json"]);
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON report");
    let failed: Vec<(u64, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [
            (3, "lineUri"),
            (4, "sipUri"),
            (5, "sipUri"),
            (6, "enterpriseVoice"),
            (7, "policyName")
        ]
    );

    let report = db.json(&["user", "import", &bad, "--skip-bad-rows"]);
    assert_eq!(report["committed"], true);
    assert_eq!(report["imported"], 2);
    assert_eq!(report["failed"], 5);
    let all = sip_uris(&db.json(&["user", "list"]));
    assert!(all.contains(&"sip:erin@example.com".to_owned()), "{all:?}");
    assert!(all.contains(&"sip:ivy@example.com".to_owned()), "{all:?}");
    assert_eq!(all.len(), 4);

    let policies = db.write(
        "policies.csv",
        "\"Identity\",\"Enabled\",\"UseAdminCallbackNumber\",\"AdminCallbackNumber\"\n\
         \"Global\",\"True\",\"False\",\"\"\n\
         \"Tag:ContosoUser1CvWP\",\"True\",\"True\",\"+15557891234\"\n\
         \"Tag:Sales\",\"False\",\"False\",\"\"\n",
    );
    // Skype's export has no AllowInternationalCallback: an imported policy has it false.
    db.ok(&[
        "policy",
        "set",
        "--identity",
        "Tag:Sales",
        "--allow-international-callback",
    ]);
    let report = db.json(&["policy", "import", &policies]);
    let statuses: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["updated", "created", "updated"]);
    let p = db.json(&["policy", "get", "--identity", "Tag:ContosoUser1CvWP"]);
    assert_eq!(p["adminCallbackNumber"], "+15557891234");
    assert_eq!(p["allowInternationalCallback"], false);
    assert_eq!(p["allowPremiumCallback"], false);
    assert_eq!(
        db.json(&["policy", "get", "--identity", "Tag:Sales"])["allowInternationalCallback"],
        false
    );
    assert_eq!(
        db.json(&["policy", "get", "--identity", "Global"])["enabled"],
        true
    );

    let bad_policies = db.write(
        "bad-policies.csv",
        "Identity,Enabled,UseAdminCallbackNumber,AdminCallbackNumber\n\
         Tag:Good,True,False,\n\
         Bogus,True,False,\n\
         Tag:NoNumber,True,True,\n\
         Tag:BadNumber,True,False,+0123\n",
    );
    let before = db.snapshot();
    let out = db.run(&["policy", "import", &bad_policies]);
    assert!(!out.ok);
    for expected in ["3 ", "identity", "4 ", "adminCallbackNumber", "5 "] {
        assert!(out.stdout.contains(expected), "{expected}: {}", out.stdout);
    }
    assert_eq!(db.snapshot(), before);
}

// ---- SQLite ------------------------------------------------------------------------------

#[test]
fn users_are_created_shown_listed_changed_and_removed() {
    user_lifecycle(&Db::sqlite());
}

#[test]
fn policies_grants_and_the_effective_policy_with_its_callback_number() {
    policies_and_effective_policy(&Db::sqlite());
}

#[test]
fn policy_callback_extensions_are_set_shown_and_refuse_bad_values_naming_the_flag() {
    policy_callback_extensions(&Db::sqlite());
}

#[test]
fn csv_imports_report_bad_rows_by_line_and_import_all_or_only_the_good_ones() {
    imports(&Db::sqlite());
}

#[test]
fn an_import_with_an_initial_password_gives_each_created_user_it_and_their_own_sip_ha1() {
    let db = Db::sqlite();
    let csv = db.write(
        "users.csv",
        "SipAddress,DisplayName\n\
         sip:erin@example.com,Erin\n\
         sip:ivy@example.com,Ivy\n",
    );
    // Refused before anything is read or written, naming the flag's field.
    db.refused(&["user", "import", &csv, "--password", "short"], "password");
    let password = "Initial-pass-2026";
    let report = db.json(&["user", "import", &csv, "--password", password]);
    assert_eq!(report["imported"], 2, "{report}");
    for uri in ["sip:erin@example.com", "sip:ivy@example.com"] {
        let user = db.json(&["user", "get", "--sip-uri", uri]);
        assert_eq!(user["passwordSet"], true, "{user}");
        assert_eq!(user["sipCredentialsSet"], true, "{user}");
    }
    // What is stored: the password verifies against each user's hash, and each user has the
    // HA1s of their own name (the same HA1s for both would not authenticate either).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = viawork::store::open(&db.url).await.expect("store");
        for uri in ["sip:erin@example.com", "sip:ivy@example.com"] {
            let row = store
                .get_user_by_sip_uri(uri)
                .await
                .expect("read")
                .expect("imported");
            let hash = PasswordHash::from_phc(&row.password_hash).expect("a PHC hash");
            assert!(hash.verify(password), "{uri}");
            assert!(!hash.verify("Initial-pass-2027"), "{uri}");
            let user: UserUri = uri.parse().expect("uri");
            let sip = SipCredentials::new(
                &user,
                "example.com",
                &Password::new(password).expect("password"),
            )
            .expect("credentials");
            assert_eq!(row.ha1_md5.as_deref(), Some(sip.ha1_md5().as_str()));
            assert_eq!(row.ha1_sha256.as_deref(), Some(sip.ha1_sha256().as_str()));
        }
    });
}

#[test]
fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let db = Db::sqlite();
    new_alice(&db);
    let new = |uri: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "user",
            "new",
            "--sip-uri",
            uri,
            "--name",
            "Zed",
            "--password",
            "long-enough-1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let refuse = |args: Vec<String>, field: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        db.refused(&args, field)
    };
    // Duplicate SIP URI, in any case.
    let e = refuse(new("sip:ALICE@example.com", &[]), "sipUri");
    assert!(e.contains("already exists"), "{e}");
    refuse(new("alice@example.com", &[]), "sipUri");
    refuse(
        new("sip:zed@example.com", &["--line-uri", "+14255550101"]),
        "lineUri",
    );
    refuse(
        new("sip:zed@example.com", &["--line-uri", "tel:555"]),
        "lineUri",
    );
    refuse(
        new("sip:zed@example.com", &["--email", "not-an-email"]),
        "email",
    );
    refuse(new("sip:zed@example.com", &["--role", "root"]), "role");
    refuse(new("sip:zed@example.com", &["--pin", "12345"]), "pin");
    refuse(new("sip:zed@example.com", &["--pin", "11111"]), "pin");
    refuse(new("sip:zed@example.com", &["--pin", "123"]), "pin");
    let long = "x".repeat(10 * 1024);
    refuse(new("sip:zed@example.com", &["--title", &long]), "title");
    db.refused(
        &[
            "user",
            "new",
            "--sip-uri",
            "sip:zed@example.com",
            "--name",
            &long,
            "--password",
            "long-enough-1",
        ],
        "displayName",
    );
    db.refused(
        &[
            "user",
            "new",
            "--sip-uri",
            "sip:zed@example.com",
            "--name",
            "Zed",
            "--password",
            "short",
        ],
        "password",
    );
    db.refused(
        &["user", "set", "--sip-uri", ALICE, "--password", "short"],
        "password",
    );
    db.refused(
        &["user", "set", "--sip-uri", ALICE, "--line-uri", "sip:x"],
        "lineUri",
    );
    // Policies, grants and routing.
    db.refused(&["policy", "new", "--identity", "Global"], "identity");
    db.refused(&["policy", "new", "--identity", "Sales"], "identity");
    db.refused(&["policy", "new", "--identity", "Tag:Sa;les"], "identity");
    db.refused(
        &[
            "policy",
            "new",
            "--identity",
            "Tag:X",
            "--admin-callback-number",
            "+0123",
        ],
        "adminCallbackNumber",
    );
    db.refused(
        &[
            "policy",
            "new",
            "--identity",
            "Tag:X",
            "--use-admin-callback-number",
        ],
        "adminCallbackNumber",
    );
    db.ok(&["policy", "new", "--identity", "Tag:Sales"]);
    db.refused(&["policy", "new", "--identity", "tag:sales"], "identity");
    db.refused(
        &["policy", "grant", "--user", ALICE, "--policy", "Tag:Nope"],
        "policyName",
    );
    db.refused(
        &["policy", "grant", "--user", ALICE, "--policy", "Global"],
        "policyName",
    );
    db.refused(
        &[
            "policy",
            "grant",
            "--user",
            "sip:nobody@example.com",
            "--policy",
            "Tag:Sales",
        ],
        "sipUri",
    );
    db.refused(
        &["routing", "set", "--call-via-work-caller-id", "5551234567"],
        "callViaWorkCallerId",
    );
    db.refused(
        &[
            "dialplan",
            "rule",
            "new",
            "--name",
            "x",
            "--pattern",
            "(",
            "--translation",
            "+1",
        ],
        "pattern",
    );
    // JSON errors name the field too.
    let out = db.run(&[
        "user",
        "new",
        "--sip-uri",
        ALICE,
        "--name",
        "A",
        "--password",
        "long-enough-1",
        "--output",
        "json",
    ]);
    let err: Value = serde_json::from_str(out.stderr.trim()).expect("JSON error");
    assert_eq!(err["error"]["field"], "sipUri");
    assert_eq!(err["error"]["kind"], "conflict");
}

#[test]
fn sql_looking_and_unicode_text_is_stored_verbatim() {
    let db = Db::sqlite();
    let sql = "Robert'); DROP TABLE users;--";
    for (uri, name) in [
        ("sip:bobby@example.com", sql),
        ("sip:dmitry@example.com", "Дмитрий Иванов"),
        ("sip:wang@example.com", "王秀英"),
        ("sip:jose@example.com", "José Ñúñez 👩‍💻"),
    ] {
        db.ok(&[
            "user",
            "new",
            "--sip-uri",
            uri,
            "--name",
            name,
            "--password",
            "long-enough-1",
            "--department",
            "1' OR '1'='1",
        ]);
        let u = db.json(&["user", "get", "--sip-uri", uri]);
        assert_eq!(u["displayName"], name);
        assert_eq!(u["department"], "1' OR '1'='1");
    }
    assert_eq!(sip_uris(&db.json(&["user", "list"])).len(), 4);
    let table = db.ok(&["user", "list"]);
    assert!(table.contains("王秀英") && table.contains(sql), "{table}");
}

#[test]
fn routing_caller_id_is_set_and_shown() {
    let db = Db::sqlite();
    assert_eq!(
        db.json(&["routing", "get"])["callViaWorkCallerId"],
        Value::Null
    );
    db.ok(&[
        "routing",
        "set",
        "--call-via-work-caller-id",
        "+1 555 123 4567",
    ]);
    assert_eq!(
        db.json(&["routing", "get"])["callViaWorkCallerId"],
        "+15551234567"
    );
    assert!(db.ok(&["routing", "get"]).contains("+15551234567"));
    db.ok(&["routing", "set", "--call-via-work-caller-id", "none"]);
    assert_eq!(
        db.json(&["routing", "get"])["callViaWorkCallerId"],
        Value::Null
    );
}

#[test]
fn dial_plan_rules_are_ordered_per_scope_and_tested() {
    let db = Db::sqlite();
    new_alice(&db);
    let rule = |extra: &[&str]| {
        db.ok(&[&["dialplan", "rule", "new"], extra].concat());
    };
    rule(&[
        "--name",
        "NA-10",
        "--pattern",
        r"^(\d{10})$",
        "--translation",
        "+1$1",
    ]);
    rule(&[
        "--name",
        "Local-7",
        "--pattern",
        r"^(\d{7})$",
        "--translation",
        "+1425$1",
    ]);
    rule(&[
        "--name",
        "Ext",
        "--pattern",
        r"^(\d{3})$",
        "--translation",
        "$1",
        "--internal-extension",
        "--position",
        "0",
    ]);
    let names: Vec<String> = db
        .json(&["dialplan", "rule", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Ext", "NA-10", "Local-7"]);
    db.refused(
        &[
            "dialplan",
            "rule",
            "new",
            "--name",
            "na-10",
            "--pattern",
            "1",
            "--translation",
            "+1",
        ],
        "name",
    );

    let t = db.json(&["dialplan", "test", "--user", ALICE, "--number", "555-0101"]);
    assert_eq!(t["dialPlan"], "global");
    assert_eq!(t["normalized"]["ruleName"], "Local-7");
    assert_eq!(t["normalized"]["result"]["value"], "+14255550101");
    assert_eq!(t["trials"].as_array().unwrap().len(), 3);
    let human = db.ok(&["dialplan", "test", "--number", "101"]);
    assert!(human.contains("101 (rule Ext)"), "{human}");
    let failed = db.json(&["dialplan", "test", "--number", "12"]);
    assert_eq!(failed["normalized"], Value::Null);
    assert!(db
        .ok(&["dialplan", "test", "--number", "12"])
        .contains("NormalizationFailed"));

    // Alice's own plan replaces the global one for her.
    rule(&[
        "--name",
        "UK",
        "--pattern",
        r"^0(\d{10})$",
        "--translation",
        "+44$1",
        "--user",
        ALICE,
    ]);
    let t = db.json(&[
        "dialplan",
        "test",
        "--user",
        ALICE,
        "--number",
        "02071234567",
    ]);
    assert_eq!(t["dialPlan"], ALICE);
    assert_eq!(t["normalized"]["result"]["value"], "+442071234567");
    assert_eq!(
        db.json(&["dialplan", "rule", "list", "--user", ALICE])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    db.ok(&[
        "dialplan", "rule", "remove", "--name", "uk", "--user", ALICE,
    ]);
    // Set changes only what it is given, in place.
    db.ok(&[
        "dialplan",
        "rule",
        "set",
        "--name",
        "local-7",
        "--new-name",
        "Local",
        "--translation",
        "+1206$1",
    ]);
    let rules = db.json(&["dialplan", "rule", "list"]);
    assert_eq!(rules[2]["name"], "Local");
    assert_eq!(rules[2]["pattern"], r"^(\d{7})$");
    assert_eq!(rules[2]["translation"], "+1206$1");
    db.refused(
        &[
            "dialplan",
            "rule",
            "set",
            "--name",
            "Local",
            "--pattern",
            "(",
        ],
        "pattern",
    );
    db.refused(
        &[
            "dialplan",
            "rule",
            "set",
            "--name",
            "Local",
            "--new-name",
            "ext",
        ],
        "name",
    );
    db.refused(
        &[
            "dialplan",
            "rule",
            "set",
            "--name",
            "Nope",
            "--pattern",
            "1",
        ],
        "name",
    );
    db.ok(&["dialplan", "rule", "remove", "--name", "Ext"]);
    db.refused(&["dialplan", "rule", "remove", "--name", "Ext"], "name");
    assert_eq!(
        db.json(&["dialplan", "rule", "list"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn the_database_comes_from_the_config_file_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("from-config.db");
    let config = dir.path().join("viawork.toml");
    std::fs::write(
        &config,
        format!("database = \"sqlite://{}\"\n", db_path.display()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_viawork"))
        .args(["routing", "get", "--config"])
        .arg(&config)
        .env_remove("VIAWORK_DATABASE")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(Path::new(&db_path).exists());
}

// ---- PostgreSQL --------------------------------------------------------------------------

#[test]
fn key_flows_work_on_postgres() {
    let db = Db::postgres();
    user_lifecycle(&db);
    db.ok(&["user", "remove", "--sip-uri", ALICE]);
    policies_and_effective_policy(&db);
    let db = Db::postgres();
    policy_callback_extensions(&db);
    let db = Db::postgres();
    imports(&db);
    db.refused(
        &[
            "user",
            "new",
            "--sip-uri",
            "sip:carol@example.com",
            "--name",
            "C",
            "--password",
            "long-enough-1",
        ],
        "sipUri",
    );
}
