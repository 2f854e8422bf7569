//! One log line per request, with the UserSig redacted.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "tests and benchmarks read files, the clock and the environment, and print"
)]

#[path = "it/support/emulator.rs"]
#[allow(dead_code, reason = "this binary uses a few of the helpers")]
mod emulator_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn requests_are_logged_without_the_usersig() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let sig = emulator_support::sig(emulator_support::APP, "admin");
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let emu = emulator_support::start(emulator_support::config()).await;
                let q = format!(
                    "sdkappid={}&identifier=admin&usersig={sig}&random=1",
                    emulator_support::APP
                );
                emu.raw(
                    "v4/timpush/push",
                    &q,
                    emulator_support::push_body(1).to_string(),
                )
                .await;
                emu.raw("v4/timpush/push", &q, "{}").await;
                emu.stats().await;
                emu.handle.shutdown().await;
            });
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains(&sig), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("POST /v4/timpush/push?")
            && lines[0].contains("usersig=REDACTED")
            && lines[0].contains("ErrorCode 0")
    );
    assert!(lines[1].contains("ErrorCode 90005"));
    assert!(lines[2].contains("GET /emulator/stats -> HTTP 200"));
}
