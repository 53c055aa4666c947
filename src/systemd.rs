//! Telling a service manager how the daemon is (systemd's `Type=notify` protocol): ready
//! once the state is open and the server listens, alive at every heartbeat (for
//! `WatchdogSec=`), stopping when it stops. One datagram to the socket `NOTIFY_SOCKET`
//! names; without it (not run by systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=…`) when a manager
/// listens. Failures are logged once as a warning: the daemon's work does not depend on it.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        let path = path.to_string_lossy();
        match path.strip_prefix('@') {
            // An abstract socket (Linux).
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &address)
            }
            None => socket.send_to(state.as_bytes(), &*path),
        }
    });
    if let Err(e) = sent {
        tracing::warn!("cannot tell the service manager `{state}`: {e}");
    }
}

/// Whether the manager watches this process (`WatchdogSec=`): then each heartbeat says it
/// lives.
pub fn watched() -> bool {
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_none_or(|pid| pid == std::process::id());
    for_us
        && std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.parse::<u64>().ok())
            .is_some_and(|usec| usec > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listening_manager_gets_the_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = super::UnixDatagram::bind(&path).unwrap();
        // The variable is read per call; this test alone sets it.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        super::notify("READY=1");
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        let mut buf = [0u8; 64];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
