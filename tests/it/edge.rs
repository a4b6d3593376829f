//! The app's own listener, exposed without a proxy: a slow sender is cut off, and connections
//! past the cap wait instead of being served.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use b24_status::http::listen::{Edge, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn listening(edge: Edge) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(serve(listener, router, std::future::pending(), edge));
    address
}

/// Sends one whole request on `stream` and reads its answer's first bytes.
async fn ask(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: app\r\n\r\n")
        .await
        .expect("write");
    let mut answer = [0u8; 256];
    let read = stream.read(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let address = listening(Edge {
        connections: 16,
        header_timeout: Duration::from_millis(500),
    })
    .await;
    let mut slow = TcpStream::connect(address).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: app\r\nX-Slow: ")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server closed the connection");
    let mut whole = TcpStream::connect(address).await.expect("connect");
    assert!(ask(&mut whole).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_place() {
    let address = listening(Edge {
        connections: 2,
        header_timeout: Duration::from_secs(30),
    })
    .await;
    let mut first = TcpStream::connect(address).await.expect("connect");
    let mut second = TcpStream::connect(address).await.expect("connect");
    assert!(ask(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(ask(&mut second).await.starts_with("HTTP/1.1 200"));
    let mut third = TcpStream::connect(address)
        .await
        .expect("the kernel queues it");
    let waiting = tokio::time::timeout(Duration::from_millis(500), ask(&mut third)).await;
    assert!(
        waiting.is_err(),
        "not served while two connections are open"
    );
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(10), async {
        let mut answer = [0u8; 64];
        let read = third.read(&mut answer).await.expect("read");
        String::from_utf8_lossy(&answer[..read]).into_owned()
    })
    .await
    .expect("served once a place is free");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
}
