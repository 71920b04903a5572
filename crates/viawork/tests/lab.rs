//! The lab PBX with real peers on loopback: Kamailio routes by extension and by E.164
//! number, baresip phones register, ring, answer and talk, and the recordings prove who
//! heard whom. Needs the Debian packages `kamailio` and `baresip-core` (scripts/test.sh
//! installs them); without them the tests fail, naming what to install.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use viawork::lab::{self, goertzel, read_wav, EventKind, Lab, LabConfig, LabError, PhoneConfig};

const EVENT: Duration = Duration::from_secs(10);

/// Starts a lab in `dir` with `(extension, name, tone_hz, auto_answer)` phones on free
/// loopback ports.
async fn start_lab(
    dir: &Path,
    phones: &[(&str, &str, u32, bool)],
    viawork: Option<SocketAddr>,
) -> Lab {
    // A port found free can be taken by a test running in parallel before Kamailio or
    // baresip binds it: then try again with other ports.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut spans = vec![1u16];
        spans.extend(phones.iter().flat_map(|_| [2u16, 1]));
        let ports = lab::free_ports(&spans).expect("free loopback ports");
        let config = LabConfig {
            dir: dir.to_path_buf(),
            pbx: SocketAddr::from(([127, 0, 0, 1], ports[0])),
            viawork,
            phones: phones
                .iter()
                .enumerate()
                .map(|(i, &(ext, name, tone, auto))| PhoneConfig {
                    extension: ext.into(),
                    name: name.into(),
                    sip_port: ports[1 + 2 * i],
                    ctrl_port: ports[2 + 2 * i],
                    tone_hz: tone,
                    auto_answer: auto,
                })
                .collect(),
        };
        match Lab::start(config).await {
            Ok(lab) => return lab,
            Err(LabError::PortInUse { .. }) if attempts < 3 => continue,
            Err(e) => panic!("the lab PBX did not start: {e}"),
        }
    }
}

/// `unwrap` that shows a lab error as text: its log tails are multi-line.
trait Must<T> {
    fn must(self) -> T;
}

impl<T> Must<T> for Result<T, LabError> {
    fn must(self) -> T {
        self.unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Amplitude of `freq` in what a recording holds.
fn tone_in(path: &Path, freq: f32) -> f32 {
    let wav = read_wav(path).expect("read recording");
    goertzel(&wav.channel(0), wav.sample_rate, freq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_an_e164_number_rings_the_extension_and_each_phone_hears_the_other() {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("viawork-lab-")
        .tempdir()
        .expect("temp dir");
    let lab = start_lab(
        dir.path(),
        &[("0101", "Alice", 440, true), ("0102", "Bob", 880, true)],
        None,
    )
    .await;
    let registered = started.elapsed();
    let (alice, bob) = (lab.phone("0101"), lab.phone("0102"));
    assert_eq!(alice.sip_uri(), format!("sip:0101@{}", lab.pbx()));

    // Bob's number in the plan, not his extension: the PBX maps +1425555NNNN to NNNN.
    alice.dial(&lab.uri("+14255550102")).await.must();

    let answered = bob.wait_for(EventKind::CallEstablished, EVENT).await.must();
    assert_eq!(answered.direction.as_deref(), Some("incoming"));
    assert_eq!(
        answered.peer_user(),
        Some("0101"),
        "caller ID: {answered:?}"
    );
    assert_eq!(answered.peer_name.as_deref(), Some("Alice"));
    let connected = alice
        .wait_for(EventKind::CallEstablished, EVENT)
        .await
        .must();
    assert_eq!(connected.direction.as_deref(), Some("outgoing"));
    assert_eq!(connected.peer_user(), Some("+14255550102"));
    let bob_log = std::fs::read_to_string(bob.log_path()).unwrap();
    assert!(
        bob_log.contains("answering call on line 1 from sip:0101@"),
        "{bob_log}"
    );
    assert!(alice.list_calls().await.must().contains("ESTABLISHED"));

    // Let audio flow until both recordings hold a second of it.
    let second = Duration::from_secs(1);
    let heard_by_bob = bob.wait_for_recording(second, EVENT).await.must();
    let heard_by_alice = alice.wait_for_recording(second, EVENT).await.must();

    alice.hangup().await.must();
    let closed = alice.wait_for(EventKind::CallClosed, EVENT).await.must();
    assert_eq!(closed.call_id, connected.call_id);
    let closed = bob.wait_for(EventKind::CallClosed, EVENT).await.must();
    assert_eq!(closed.call_id, answered.call_id);

    // Bob heard Alice's 440 Hz and not his own 880 Hz; Alice the reverse.
    let (b440, b880) = (tone_in(&heard_by_bob, 440.0), tone_in(&heard_by_bob, 880.0));
    let (a440, a880) = (
        tone_in(&heard_by_alice, 440.0),
        tone_in(&heard_by_alice, 880.0),
    );
    eprintln!(
        "lab: registered in {registered:?}, done in {:?}; bob heard 440 Hz {b440:.3} / \
         880 Hz {b880:.3}, alice heard 440 Hz {a440:.3} / 880 Hz {a880:.3}",
        started.elapsed()
    );
    assert!(b440 > 0.05 && b440 > 10.0 * b880, "bob: {b440} {b880}");
    assert!(a880 > 0.05 && a880 > 10.0 * a440, "alice: {a440} {a880}");
}

/// Sends an OPTIONS from `socket` and returns the status of the final response.
fn options(socket: &UdpSocket, pbx: SocketAddr, ruri: &str) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let local = socket.local_addr().unwrap();
    let call_id = format!("lab-test-{n}-{}", local.port());
    let request = format!(
        "OPTIONS {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-lab-test-{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:test@{local}>;tag=t{n}\r\nTo: <{ruri}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    socket.send_to(request.as_bytes(), pbx).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 65535];
    loop {
        let (n, _) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no answer to OPTIONS {ruri}: {e}"));
        let text = String::from_utf8_lossy(&buf[..n]);
        if text.contains(&call_id) {
            let code: u16 = text.get(8..11).and_then(|c| c.parse().ok()).unwrap();
            if code >= 200 {
                return code;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pbx_routes_by_number_plan_forwards_unknown_numbers_to_viawork_and_rings_manual_phones()
{
    let dir = tempfile::Builder::new()
        .prefix("viawork-lab-")
        .tempdir()
        .expect("temp dir");
    // ViaWork stand-in: a socket that records what the PBX forwards to it.
    let viawork = UdpSocket::bind("127.0.0.1:0").unwrap();
    let viawork_addr = viawork.local_addr().unwrap();
    let lab = start_lab(
        dir.path(),
        &[("0101", "Alice", 440, true), ("0103", "Carol", 660, false)],
        Some(viawork_addr),
    )
    .await;
    let pbx = lab.pbx();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();

    // Keep-alive to the PBX itself, and each form of a number reaching the phone.
    assert_eq!(options(&probe, pbx, &format!("sip:{pbx}")), 200);
    for user in ["0101", "+14255550101", "14255550101"] {
        assert_eq!(options(&probe, pbx, &lab.uri(user)), 200, "{user}");
    }

    // A number the PBX does not know goes to ViaWork with its user part kept.
    let to_viawork = std::thread::spawn({
        let probe = probe.try_clone().unwrap();
        move || options(&probe, pbx, &format!("sip:+14255559999@{pbx}"))
    });
    viawork
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 65535];
    let (n, from) = viawork.recv_from(&mut buf).expect("forwarded to ViaWork");
    let forwarded = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(from, pbx);
    assert!(
        forwarded.starts_with(&format!(
            "OPTIONS sip:+14255559999@{viawork_addr} SIP/2.0\r\n"
        )),
        "{forwarded}"
    );
    // Answer it as ViaWork would, through the PBX (top Via is the PBX's).
    let response = forwarded.replacen(
        &format!("OPTIONS sip:+14255559999@{viawork_addr} SIP/2.0"),
        "SIP/2.0 200 OK",
        1,
    );
    viawork.send_to(response.as_bytes(), pbx).unwrap();
    assert_eq!(to_viawork.join().unwrap(), 200);
    // From ViaWork itself, an unknown number is not sent back to ViaWork: 404.
    assert_eq!(
        options(&viawork, pbx, &format!("sip:+14255559999@{pbx}")),
        404
    );

    // A phone without auto-answer rings; answered, both ends are connected, and the
    // callee's BYE goes back through the PBX's Record-Route.
    let (alice, carol) = (lab.phone("0101"), lab.phone("0103"));
    alice.dial(&lab.uri("0103")).await.must();
    let ringing = carol.wait_for(EventKind::CallIncoming, EVENT).await.must();
    assert_eq!(ringing.peer_user(), Some("0101"));
    alice.wait_for(EventKind::CallRinging, EVENT).await.must();
    carol.answer().await.must();
    carol
        .wait_for(EventKind::CallEstablished, EVENT)
        .await
        .must();
    alice
        .wait_for(EventKind::CallEstablished, EVENT)
        .await
        .must();
    carol.hangup().await.must();
    carol.wait_for(EventKind::CallClosed, EVENT).await.must();
    alice.wait_for(EventKind::CallClosed, EVENT).await.must();
}
