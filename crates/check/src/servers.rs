//! Real servers for tests that need them, started on free ports and stopped on drop.
//!
//! A test that needs a server it cannot find skips itself: it prints why and returns, rather
//! than fail on a machine that lacks the server. `.ci/run` installs them, so CI always runs
//! these tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when this returns; bind it soon).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding a loopback port")
}

/// A `redis-server` of the test's own, without persistence.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>`
    pub url: String,
    child: Child,
}

impl RedisServer {
    /// Starts `redis-server` on a free port, or returns `None` (after printing why) when the
    /// binary is missing.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_on(free_port())
    }

    /// Starts `redis-server` on `port` (to bring a killed server back at the same address).
    pub fn start_on(port: u16) -> Option<RedisServer> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) => {
                eprintln!("SKIPPED: this test needs `redis-server` on PATH ({error}).");
                eprintln!("         Install it (Debian: apt install redis-server) to run it.");
                return None;
            }
        };
        let server = RedisServer {
            url: format!("redis://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Stops the server, as if Redis went down.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
