//! The presence rules with simulated time: the clock is an `Instant` the tests move.

use super::*;

const MIN: Duration = Duration::from_secs(60);

struct World {
    core: PresenceCore,
    t0: Instant,
    now: Instant,
}

fn uri(s: &str) -> UserUri {
    format!("sip:{s}@example.com").parse().unwrap()
}

fn ep(n: u32) -> EndpointId {
    EndpointId(format!("events-{n}"))
}

impl World {
    fn new() -> World {
        let t0 = Instant::now();
        let mut core = PresenceCore::new(PresenceConfig::default(), (t0, 1_000_000));
        for u in ["alice", "bob", "carol"] {
            core.load(&uri(u), Stored::default(), t0);
        }
        World { core, t0, now: t0 }
    }

    fn at(&mut self, offset: Duration) -> Instant {
        self.now = self.t0 + offset;
        self.now
    }

    fn input(&mut self, i: Input) -> Vec<Notice> {
        self.core.handle(i, self.now)
    }

    fn up(&mut self, who: &str, n: u32) -> Vec<Notice> {
        self.input(Input::EndpointUp {
            user: uri(who),
            id: ep(n),
            kind: EndpointKind::ApiClient,
            device: None,
        })
    }

    fn down(&mut self, who: &str, n: u32) -> Vec<Notice> {
        self.input(Input::EndpointDown {
            user: uri(who),
            id: ep(n),
        })
    }

    fn choose(&mut self, who: &str, a: Option<PreferredAvailability>) -> Vec<Notice> {
        self.input(Input::Chose {
            user: uri(who),
            availability: a,
            note: Note::default(),
        })
    }

    fn call(&mut self, who: &str, id: &str, active: bool) -> Vec<Notice> {
        self.input(Input::Call {
            user: uri(who),
            call_id: id.into(),
            active,
        })
    }

    /// What Bob sees of `who`.
    fn seen(&self, who: &str) -> (Availability, Option<Activity>) {
        let p = self
            .core
            .presence_for(&uri("bob"), &uri(who), self.now)
            .unwrap();
        (p.availability, p.activity)
    }

    /// Runs the timers up to `offset`, as the driver would.
    fn run_until(&mut self, offset: Duration) -> Vec<Notice> {
        let end = self.t0 + offset;
        let mut out = Vec::new();
        while let Some(at) = self.core.poll_timeout() {
            if at > end {
                break;
            }
            self.now = at;
            out.extend(self.core.handle_timeout(at));
        }
        self.now = end;
        out
    }
}

#[test]
fn offline_without_endpoints_online_with_any_and_offline_when_the_last_goes() {
    let mut w = World::new();
    assert_eq!(w.seen("alice"), (Availability::Offline, None));
    w.up("alice", 1);
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    w.up("alice", 2);
    w.down("alice", 1);
    assert_eq!(w.seen("alice"), (Availability::Online, None), "one left");
    // A second close of the same endpoint (a racing drop) changes nothing.
    w.down("alice", 1);
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    w.down("alice", 2);
    assert_eq!(w.seen("alice"), (Availability::Offline, None));
    // A chosen availability reads Offline too without an endpoint, and comes back.
    w.choose("alice", Some(PreferredAvailability::Busy));
    assert_eq!(w.seen("alice"), (Availability::Offline, None));
    w.up("alice", 3);
    assert_eq!(w.seen("alice"), (Availability::Busy, None));
}

#[test]
fn idle_online_then_away_and_back_on_activity() {
    let mut w = World::new();
    w.up("alice", 1);
    assert!(w.run_until(5 * MIN - Duration::from_millis(1)).is_empty());
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    let n = w.run_until(5 * MIN);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].presence.availability, Availability::IdleOnline);
    assert_eq!(w.seen("alice"), (Availability::IdleOnline, None));
    w.run_until(10 * MIN);
    assert_eq!(
        w.seen("alice"),
        (Availability::Away, Some(Activity::Inactive))
    );
    w.at(11 * MIN);
    let n = w.input(Input::Activity { user: uri("alice") });
    assert_eq!(n[0].presence.availability, Availability::Online);
    assert_eq!(n[0].presence.last_active_at, Some(1_000_000 + 11 * 60_000));
    // The clock starts again from the new activity.
    w.run_until(15 * MIN);
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    w.run_until(16 * MIN);
    assert_eq!(w.seen("alice"), (Availability::IdleOnline, None));
}

#[test]
fn busy_goes_idle_busy_but_never_away_and_chosen_states_do_not_idle() {
    let mut w = World::new();
    w.up("alice", 1);
    w.choose("alice", Some(PreferredAvailability::Busy));
    w.run_until(5 * MIN);
    assert_eq!(w.seen("alice"), (Availability::IdleBusy, None));
    w.run_until(60 * MIN);
    assert_eq!(w.seen("alice"), (Availability::IdleBusy, None));
    for (chosen, reads) in [
        (
            PreferredAvailability::BeRightBack,
            (Availability::BeRightBack, None),
        ),
        (
            PreferredAvailability::DoNotDisturb,
            (Availability::DoNotDisturb, None),
        ),
        (
            PreferredAvailability::Offwork,
            (Availability::Away, Some(Activity::OffWork)),
        ),
    ] {
        w.at(100 * MIN);
        w.choose("alice", Some(chosen));
        w.run_until(200 * MIN);
        assert_eq!(w.seen("alice"), reads, "{chosen}");
    }
    assert_eq!(w.core.poll_timeout(), None, "nothing left to time");
}

#[test]
fn a_call_makes_the_user_busy_in_a_call_and_back_when_it_ends() {
    let mut w = World::new();
    w.up("alice", 1);
    let n = w.call("alice", "c1", true);
    assert_eq!(n.len(), 1);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    // A second call, then the first ends: still in a call.
    w.call("alice", "c2", true);
    w.call("alice", "c1", false);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    // A long call does not make the user idle.
    w.run_until(30 * MIN);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    w.call("alice", "c2", false);
    // Back to what the rules say without the call: idle by now.
    assert_eq!(
        w.seen("alice"),
        (Availability::Away, Some(Activity::Inactive))
    );
    // Chosen Busy keeps Busy, with and without the activity.
    w.choose("alice", Some(PreferredAvailability::Busy));
    w.call("alice", "c3", true);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    w.call("alice", "c3", false);
    assert_eq!(w.seen("alice"), (Availability::Busy, None));
    // BeRightBack is overridden by a call (the user is plainly back) ...
    w.choose("alice", Some(PreferredAvailability::BeRightBack));
    w.call("alice", "c4", true);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    w.call("alice", "c4", false);
    assert_eq!(w.seen("alice"), (Availability::BeRightBack, None));
}

#[test]
fn do_not_disturb_and_appear_away_are_never_overridden_by_a_call() {
    let mut w = World::new();
    w.up("alice", 1);
    w.choose("alice", Some(PreferredAvailability::DoNotDisturb));
    assert!(w.call("alice", "c1", true).is_empty(), "nothing changes");
    assert_eq!(w.seen("alice"), (Availability::DoNotDisturb, None));
    w.input(Input::Phone {
        user: uri("alice"),
        activity: PhoneActivity::Busy,
    });
    assert_eq!(w.seen("alice"), (Availability::DoNotDisturb, None));
    w.choose("alice", Some(PreferredAvailability::Away));
    assert_eq!(w.seen("alice"), (Availability::Away, None));
    // Back to automatic: the call shows.
    w.choose("alice", None);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    w.call("alice", "c1", false);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::OnThePhone)),
        "the desk phone is still off hook"
    );
}

#[test]
fn published_activities_follow_skype_precedence() {
    let mut w = World::new();
    w.up("alice", 1);
    w.up("alice", 2);
    let publish = |w: &mut World, n, a| {
        w.input(Input::EndpointPublished {
            user: uri("alice"),
            id: ep(n),
            activity: a,
        })
    };
    publish(&mut w, 1, Some(EndpointActivity::InAMeeting));
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InAMeeting))
    );
    w.call("alice", "c1", true);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    publish(&mut w, 2, Some(EndpointActivity::InAConference));
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InAConference))
    );
    publish(&mut w, 2, Some(EndpointActivity::Presenting));
    assert_eq!(
        w.seen("alice"),
        (Availability::DoNotDisturb, Some(Activity::Presenting))
    );
    // The presenting endpoint goes: what it published goes with it.
    w.down("alice", 2);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
}

#[test]
fn changes_reach_watchers_and_the_users_own_clients_once() {
    let mut w = World::new();
    w.up("alice", 1);
    w.up("bob", 2);
    let got = w
        .core
        .subscribe(&uri("bob"), &[uri("alice"), uri("carol")], w.now)
        .unwrap();
    assert_eq!(got[0].1.availability, Availability::Online);
    assert_eq!(got[1].1.availability, Availability::Offline);
    let n = w.choose("alice", Some(PreferredAvailability::Busy));
    assert_eq!(n.len(), 1);
    let mut to = n[0].to.clone();
    to.sort();
    assert_eq!(to, vec![uri("alice"), uri("bob")]);
    // The same presence again is no news; nor is a new last-active time.
    assert!(w
        .choose("alice", Some(PreferredAvailability::Busy))
        .is_empty());
    w.at(MIN);
    assert!(w.input(Input::Activity { user: uri("alice") }).is_empty());
    // A note is news.
    let n = w.input(Input::Chose {
        user: uri("alice"),
        availability: Some(PreferredAvailability::Busy),
        note: "Back on Monday".parse().unwrap(),
    });
    assert_eq!(n[0].presence.note.as_str(), "Back on Monday");
    // Unsubscribed: Bob hears no more.
    assert_eq!(w.core.unsubscribe(&uri("bob"), Some(&[uri("alice")])), 1);
    let n = w.choose("alice", Some(PreferredAvailability::Online));
    assert_eq!(n[0].to, vec![uri("alice")]);
    assert_eq!(w.core.watching(&uri("bob")), vec![uri("carol")]);
}

#[test]
fn a_blocked_watcher_sees_offline_and_hears_nothing_more() {
    let mut w = World::new();
    w.up("alice", 1);
    w.up("bob", 2);
    w.core
        .subscribe(&uri("bob"), &[uri("alice")], w.now)
        .unwrap();
    w.input(Input::Chose {
        user: uri("alice"),
        availability: Some(PreferredAvailability::Busy),
        note: "secret plans".parse().unwrap(),
    });
    let n = w.input(Input::Block {
        user: uri("alice"),
        other: uri("bob"),
        blocked: true,
    });
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].hidden_to, vec![uri("bob")]);
    assert!(n[0].to.is_empty());
    assert_eq!(
        w.core.presence_for(&uri("bob"), &uri("alice"), w.now),
        Some(Presence::hidden())
    );
    // Carol still sees Alice.
    assert_eq!(
        w.core
            .presence_for(&uri("carol"), &uri("alice"), w.now)
            .unwrap()
            .availability,
        Availability::Busy
    );
    // Later changes are not sent to Bob at all.
    let n = w.call("alice", "c1", true);
    assert_eq!(n[0].to, vec![uri("alice")]);
    assert!(n[0].hidden_to.is_empty());
    // A fresh subscription shows Offline too.
    let got = w
        .core
        .subscribe(&uri("bob"), &[uri("alice")], w.now)
        .unwrap();
    assert_eq!(got[0].1, Presence::hidden());
    // Unblocked: Bob gets the real presence at once.
    let n = w.input(Input::Block {
        user: uri("alice"),
        other: uri("bob"),
        blocked: false,
    });
    assert_eq!(n[0].to, vec![uri("bob")]);
    assert_eq!(n[0].presence.activity, Some(Activity::InACall));
    assert_eq!(w.core.blocked_by(&uri("alice")), Vec::<UserUri>::new());
}

#[test]
fn subscriptions_are_bounded_and_all_or_nothing() {
    let t0 = Instant::now();
    let config = PresenceConfig {
        max_subscriptions: 2,
        ..PresenceConfig::default()
    };
    let mut core = PresenceCore::new(config, (t0, 0));
    for u in ["alice", "bob", "carol", "dave"] {
        core.load(&uri(u), Stored::default(), t0);
    }
    core.subscribe(&uri("alice"), &[uri("bob"), uri("bob")], t0)
        .unwrap();
    assert_eq!(
        core.subscribe(&uri("alice"), &[uri("carol"), uri("dave")], t0),
        Err(SubscribeError::LimitExceeded { max: 2 })
    );
    assert_eq!(core.watching(&uri("alice")), vec![uri("bob")], "none added");
    // Watching someone again does not count twice.
    core.subscribe(&uri("alice"), &[uri("bob"), uri("carol")], t0)
        .unwrap();
    assert_eq!(
        core.subscribe(&uri("alice"), &[uri("nobody")], t0),
        Err(SubscribeError::Unknown(uri("nobody")))
    );
}

#[test]
fn subscriptions_outlive_the_last_endpoint_only_for_the_grace() {
    let mut w = World::new();
    w.up("bob", 1);
    w.core
        .subscribe(&uri("bob"), &[uri("alice")], w.now)
        .unwrap();
    w.at(MIN);
    w.down("bob", 1);
    // Back within the grace: still subscribed.
    w.run_until(MIN + 9 * MIN);
    w.up("bob", 2);
    w.run_until(30 * MIN);
    assert_eq!(w.core.watching(&uri("bob")), vec![uri("alice")]);
    w.down("bob", 2);
    w.run_until(40 * MIN - Duration::from_millis(1));
    assert_eq!(w.core.watching(&uri("bob")), vec![uri("alice")]);
    w.run_until(40 * MIN);
    assert!(w.core.watching(&uri("bob")).is_empty(), "dropped");
    let n = w.up("alice", 3);
    assert_eq!(n[0].to, vec![uri("alice")], "Bob no longer hears");
}

#[test]
fn calls_seen_before_the_user_is_loaded_count_once_loaded() {
    let t0 = Instant::now();
    let mut core = PresenceCore::new(PresenceConfig::default(), (t0, 0));
    core.handle(
        Input::Call {
            user: uri("alice"),
            call_id: "c1".into(),
            active: true,
        },
        t0,
    );
    assert!(!core.is_loaded(&uri("alice")));
    assert_eq!(core.presence_for(&uri("bob"), &uri("alice"), t0), None);
    core.load(&uri("alice"), Stored::default(), t0);
    core.handle(
        Input::EndpointUp {
            user: uri("alice"),
            id: ep(1),
            kind: EndpointKind::Sip,
            device: None,
        },
        t0,
    );
    assert_eq!(
        core.presence_for(&uri("bob"), &uri("alice"), t0)
            .unwrap()
            .activity,
        Some(Activity::InACall)
    );
}

// ---- SIP clients' publications (RFC 3903) ------------------------------------------------

impl World {
    /// A SIP registration of `who` from `device`.
    fn registered(&mut self, who: &str, n: u32, device: &str) -> Vec<Notice> {
        self.input(Input::EndpointUp {
            user: uri(who),
            id: EndpointId(format!("sip-contact {n}")),
            kind: EndpointKind::Sip,
            device: Some(device.into()),
        })
    }

    fn publish(
        &mut self,
        who: &str,
        publication: &str,
        device: &str,
        activity: Option<EndpointActivity>,
    ) -> Vec<Notice> {
        self.input(Input::Publication {
            user: uri(who),
            id: EndpointId(publication.into()),
            device: device.into(),
            activity,
        })
    }

    fn unpublish(&mut self, who: &str, publication: &str) -> Vec<Notice> {
        self.input(Input::EndpointDown {
            user: uri(who),
            id: EndpointId(publication.into()),
        })
    }
}

const PHONE: &str = "udp:192.0.2.7:5060";

#[test]
fn a_phone_publishing_plain_open_changes_nothing_and_never_overrides_do_not_disturb() {
    let mut w = World::new();
    w.up("alice", 1);
    w.choose("alice", Some(PreferredAvailability::DoNotDisturb));
    w.registered("alice", 2, PHONE);
    // The phone starts up and publishes "open": still Do Not Disturb, and no notice.
    let n = w.publish("alice", "pub-1", PHONE, None);
    assert!(n.is_empty(), "{n:?}");
    assert_eq!(w.seen("alice"), (Availability::DoNotDisturb, None));
    // Neither does an explicit state from the device.
    w.publish("alice", "pub-1", PHONE, Some(EndpointActivity::OnThePhone));
    assert_eq!(w.seen("alice"), (Availability::DoNotDisturb, None));
    // Back to automatic: plain open reads Online, the phone's call reads Busy.
    w.publish("alice", "pub-1", PHONE, None);
    w.choose("alice", None);
    assert_eq!(w.seen("alice"), (Availability::Online, None));
}

#[test]
fn a_published_busy_or_on_the_phone_makes_the_user_busy_until_the_device_says_otherwise() {
    let mut w = World::new();
    w.registered("alice", 1, PHONE);
    w.up("alice", 2);
    let n = w.publish("alice", "pub-1", PHONE, Some(EndpointActivity::OnThePhone));
    assert_eq!(n.len(), 1);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::OnThePhone))
    );
    w.publish("alice", "pub-1", PHONE, Some(EndpointActivity::Busy));
    assert_eq!(w.seen("alice"), (Availability::Busy, None));
    // A Call Via Work call still shows as one.
    w.call("alice", "c1", true);
    assert_eq!(
        w.seen("alice"),
        (Availability::Busy, Some(Activity::InACall))
    );
    w.call("alice", "c1", false);
    // Busy from a device idles like a chosen Busy.
    w.run_until(PresenceConfig::default().idle_after);
    assert_eq!(w.seen("alice"), (Availability::IdleBusy, None));
    // The publication ends (expiry or removal): back to the chosen (automatic) state.
    w.unpublish("alice", "pub-1");
    assert_eq!(w.seen("alice").0, Availability::IdleOnline);
}

#[test]
fn a_phone_publishing_closed_or_away_speaks_for_its_own_registration_only() {
    let mut w = World::new();
    w.registered("alice", 1, PHONE);
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    // Its only device says it cannot be reached: Offline, although it is registered.
    w.publish("alice", "pub-1", PHONE, Some(EndpointActivity::Unavailable));
    assert_eq!(w.seen("alice"), (Availability::Offline, None));
    // Away on every device that counts: Away.
    w.publish("alice", "pub-1", PHONE, Some(EndpointActivity::Away));
    assert_eq!(w.seen("alice"), (Availability::Away, None));
    // Another device that says nothing more is available: Online.
    w.up("alice", 2);
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    w.down("alice", 2);
    // The publication removed: the registration counts on its own again.
    w.unpublish("alice", "pub-1");
    assert_eq!(w.seen("alice"), (Availability::Online, None));
    // A presence-only client elsewhere saying closed does not hide the registered phone.
    w.publish(
        "alice",
        "pub-2",
        "tcp:198.51.100.1:40000",
        Some(EndpointActivity::Unavailable),
    );
    assert_eq!(w.seen("alice"), (Availability::Online, None));
}

#[test]
fn a_publication_alone_signs_the_user_in() {
    let mut w = World::new();
    assert_eq!(w.seen("alice").0, Availability::Offline);
    w.publish("alice", "pub-1", PHONE, None);
    assert_eq!(w.seen("alice").0, Availability::Online);
    w.unpublish("alice", "pub-1");
    assert_eq!(w.seen("alice").0, Availability::Offline);
}
