//! SIP over WebSocket (RFC 7118): a WebSocket client offering the `sip` subprotocol sends
//! OPTIONS and gets 200 back over the same connection; a client without the subprotocol
//! is refused at the upgrade.

mod common;

use common::Server;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn options_over_websocket_gets_200() {
    let server = Server::start_with(&[(
        "VIAWORK_SIP_LISTEN",
        "udp:127.0.0.1:0,tcp:127.0.0.1:0,ws:127.0.0.1:0",
    )]);
    let ws_addr = server.ws.expect("ws listener");
    let mut req = format!("ws://{ws_addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "sip");
    let options = "OPTIONS sip:ping@example.com SIP/2.0\r\n\
        Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\n\
        From: <sip:alice@example.com>;tag=ws1\r\nTo: <sip:ping@example.com>\r\n\
        Call-ID: ws-options-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";
    ws.send(Message::Text(options.into())).await.unwrap();
    let reply = loop {
        match ws.next().await.expect("a reply").unwrap() {
            Message::Text(t) => break t.to_string(),
            Message::Binary(b) => break String::from_utf8_lossy(&b).to_string(),
            _ => continue,
        }
    };
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    assert!(reply.contains("Call-ID: ws-options-1\r\n"));
    // The Via's sent-by is a made-up host (as browsers send); received= records the peer.
    assert!(reply.contains("received=127.0.0.1"), "{reply}");
}

#[tokio::test]
async fn upgrade_without_the_sip_subprotocol_is_refused() {
    let server = Server::start_with(&[(
        "VIAWORK_SIP_LISTEN",
        "udp:127.0.0.1:0,tcp:127.0.0.1:0,ws:127.0.0.1:0",
    )]);
    let ws_addr = server.ws.expect("ws listener");
    let err = tokio_tungstenite::connect_async(format!("ws://{ws_addr}/"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
}
