//! `stowage-local` as a small server on a shared machine: a client that sends its headers too
//! slowly is cut off, so idle connections cannot pile up.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn idle_connections_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = stowage_local::start(stowage_local::LocalConfig {
        header_timeout: Duration::from_secs(1),
        ..stowage_local::LocalConfig::new(dir.path())
    })
    .await
    .unwrap();
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Half a request line, then nothing.
    slow.write_all(b"GET /openapi.yaml HT").await.unwrap();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // hyper may answer 408 before closing
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection stayed open past the header timeout"
    );

    // A prompt client is served as usual.
    let mut prompt = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    prompt
        .write_all(b"GET /openapi.yaml HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    prompt.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..40.min(answer.len())])
    );
    server.stop().await;
}
