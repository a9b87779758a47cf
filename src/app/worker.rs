//! The background worker: one thread running a smol executor. It asks the app for due jobs,
//! runs each blocking job on smol's blocking pool (`unblock`), and sleeps until the next
//! deadline or until woken. This is the only place background work is triggered.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;

/// Upper bound on one sleep, so that a wall-clock jump is noticed within this time even when no
/// deadline is near. Waking costs no flash write.
const MAX_SLEEP_SECS: i64 = 30;

/// Starts the worker thread. It runs until `shutdown` receives a message (or its sender is
/// dropped), then writes a final checkpoint.
pub(crate) fn spawn(
    app: Arc<App>,
    woken: smol::channel::Receiver<()>,
    shutdown: smol::channel::Receiver<()>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lango-worker".into())
        .spawn(move || {
            let executor = smol::LocalExecutor::new();
            smol::block_on(executor.run(run(&executor, app, woken, shutdown)));
        })
}

async fn run(
    executor: &smol::LocalExecutor<'_>,
    app: Arc<App>,
    woken: smol::channel::Receiver<()>,
    shutdown: smol::channel::Receiver<()>,
) {
    loop {
        for job in app.due_jobs() {
            let app = app.clone();
            executor
                .spawn(async move {
                    let app2 = app.clone();
                    smol::unblock(move || app2.run(job)).await;
                    // Finishing a job can make more work due (a push leads to a poll).
                    app.due_jobs_wake();
                })
                .detach();
        }
        let now = app.time().now;
        let wait = (app.next_wake() - now).clamp(0, MAX_SLEEP_SECS);
        // Sleep at least a little so that a job that keeps failing cannot spin the CPU.
        let wait = Duration::from_secs(wait as u64).max(Duration::from_millis(200));
        let stop = async {
            let _ = shutdown.recv().await;
            true
        };
        let wake = async {
            let _ = woken.recv().await;
            // Drain bursts of wake-ups into one pass.
            while woken.try_recv().is_ok() {}
            false
        };
        let sleep = async {
            smol::Timer::after(wait).await;
            false
        };
        if smol::future::or(stop, smol::future::or(wake, sleep)).await {
            break;
        }
    }
    if let Err(e) = smol::unblock(move || app.checkpoint(true)).await {
        log::error!("final checkpoint: {e}");
    }
}
