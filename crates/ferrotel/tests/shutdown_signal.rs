//! `ferrotel::shutdown_signal()` resolves on SIGTERM as on SIGINT, with the signal that came,
//! and the process lives on to flush. The signals are sent to this very process: its handlers
//! are installed by the call, before `kill` runs.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
#![cfg(unix)]

use ferrotel::StopSignal;

fn send(signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_and_sigint_each_resolve_it() {
    let stop = ferrotel::shutdown_signal();
    send("-TERM");
    assert_eq!(stop.await, StopSignal::Terminate);
    assert_eq!(StopSignal::Terminate.exit_code(), 143);

    let stop = ferrotel::shutdown_signal();
    send("-INT");
    let signal = stop.await;
    assert_eq!(signal, StopSignal::Interrupt);
    assert_eq!(signal.to_string(), "SIGINT");
    assert_eq!(signal.exit_code(), 130);
}
