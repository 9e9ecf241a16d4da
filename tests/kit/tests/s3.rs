//! The throwaway S3 server of the kit (`xb_testkit::s3`): its forwarder cuts and restores
//! connections, its pause hangs requests, dropping it kills moto.
//!
//! They need moto (`scripts/test` installs it) and fail, not skip, without it.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use xb_testkit::s3::S3Server;

/// `host:port` of an `http://host:port` endpoint.
fn addr(endpoint: &str) -> String {
    endpoint.strip_prefix("http://").unwrap().to_string()
}

/// Sends `HEAD /xb-test` on `s` and reads the status line of the answer.
fn status_line(s: &mut TcpStream) -> std::io::Result<String> {
    s.write_all(b"HEAD /xb-test HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

#[test]
fn names_and_variables() {
    let s3 = S3Server::start().expect("moto_server starts (scripts/test installs it)");
    assert_eq!(s3.bucket(), "xb-test");
    assert_eq!(s3.url(""), "s3://xb-test");
    assert_eq!(s3.url("/a/b/"), "s3://xb-test/a/b");
    let env = s3.env();
    let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(get("AWS_ENDPOINT_URL"), Some(s3.endpoint()));
    assert_eq!(get("AWS_REGION").as_deref(), Some("us-east-1"));
    assert!(get("AWS_ACCESS_KEY_ID").is_some() && get("AWS_SECRET_ACCESS_KEY").is_some());
    assert!(s3.endpoint().starts_with("http://127.0.0.1:"));
}

#[test]
fn cut_refuses_and_closes_restore_accepts() {
    let s3 = S3Server::start().expect("moto_server starts");
    let a = addr(&s3.endpoint());
    let mut s = TcpStream::connect(&a).unwrap();
    let line = status_line(&mut s).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "{line:?}");

    // an open connection is closed by the cut
    let mut open = TcpStream::connect(&a).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the forwarder has taken it
    s3.cut();
    assert!(s3.is_cut());
    let mut buf = [0u8; 16];
    match open.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from a cut connection"),
        Err(e) => assert_ne!(e.kind(), ErrorKind::WouldBlock, "still open after the cut"),
    }
    // new connections are refused
    let e = TcpStream::connect(&a).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    s3.cut(); // twice is fine

    s3.restore();
    assert!(!s3.is_cut());
    let mut s = TcpStream::connect(&a).unwrap();
    let line = status_line(&mut s).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
    s3.restore(); // twice is fine
}

#[test]
fn pause_hangs_resume_answers() {
    let s3 = S3Server::start().expect("moto_server starts");
    let a = addr(&s3.endpoint());
    s3.pause();
    let mut s = TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let e = status_line(&mut s).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    s3.resume();
    let mut s = TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let line = status_line(&mut s).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
}

#[test]
fn drop_kills_moto_even_paused() {
    let s3 = S3Server::start().expect("moto_server starts");
    let pid = s3.pid();
    let a = addr(&s3.endpoint());
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    s3.pause();
    drop(s3);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "moto {pid} still there"
    );
    assert!(TcpStream::connect(&a).is_err());
}
