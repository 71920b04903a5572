//! A minimal SIP OPTIONS probe over UDP, used to learn that Kamailio is up (OPTIONS to the
//! PBX itself: 200) and that a phone is registered and reachable through it (OPTIONS to
//! `sip:EXT@pbx`: 200 from baresip, 480 while it is not registered).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;

/// Sends one OPTIONS for `request_uri` to `pbx` and returns the final status code, or
/// `None` if none arrives within `wait`.
pub(crate) async fn options(
    pbx: SocketAddr,
    request_uri: &str,
    wait: Duration,
) -> std::io::Result<Option<u16>> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let local = socket.local_addr()?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let call_id = format!("lab-probe-{}-{n}@127.0.0.1", std::process::id());
    let request = format!(
        "OPTIONS {request_uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-lab-{}-{n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:lab-probe@{local}>;tag=lab{n}\r\n\
         To: <{request_uri}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        std::process::id()
    );
    socket.send_to(request.as_bytes(), pbx).await?;
    let mut buf = vec![0u8; 65535];
    let outcome = tokio::time::timeout(wait, async {
        loop {
            let (len, _) = socket.recv_from(&mut buf).await?;
            let text = String::from_utf8_lossy(&buf[..len]);
            // Only a final response to this very request counts (1xx may precede it).
            if !text.contains(&call_id) {
                continue;
            }
            match status_of(&text) {
                Some(code) if code >= 200 => return Ok::<_, std::io::Error>(code),
                _ => continue,
            }
        }
    })
    .await;
    match outcome {
        Ok(code) => code.map(Some),
        Err(_elapsed) => Ok(None),
    }
}

fn status_of(response: &str) -> Option<u16> {
    response.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_code() {
        assert_eq!(
            status_of("SIP/2.0 480 Temporarily Unavailable\r\n"),
            Some(480)
        );
        assert_eq!(status_of("OPTIONS sip:x SIP/2.0\r\n"), None);
    }

    #[tokio::test]
    async fn no_answer_is_none_after_the_wait() {
        // A bound socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let got = options(addr, "sip:127.0.0.1", Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(got, None);
    }
}
