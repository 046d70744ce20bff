//! A background task that deletes expired sessions on an interval.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::error::error_chain;
use crate::store::SessionStore;

/// The handle of a running pruner, to keep for as long as pruning should run. [`Pruner::stop`] ends it and waits for the task;
/// dropping the handle ends it too. A round in progress is abandoned between statements:
/// each batch is its own `DELETE`, so nothing is left half-done.
#[derive(Debug)]
#[must_use = "dropping the handle stops the pruner at once: keep it while the application runs"]
pub struct Pruner {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SessionStore {
    /// Starts a tokio task that runs [`SessionStore::delete_expired`] every `interval`
    /// (the first round right away). Each round is logged with `tracing`; a database error
    /// is logged and the task carries on at the next round.
    pub fn spawn_pruner(&self, interval: Duration) -> Pruner {
        let store = self.clone();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticker.tick() => {}
                }
                let table = &store.spec().table;
                let round = store.delete_expired();
                tokio::select! {
                    _ = &mut stopped => break,
                    result = round => match result {
                        Ok(deleted) => tracing::info!(table = %table, deleted, "pruned expired sessions"),
                        Err(error) => tracing::warn!(table = %table, error = %error_chain(&error), "pruning failed; retrying next round"),
                    },
                }
            }
            tracing::debug!(table = %store.spec().table, "pruner stopped");
        }
        // Its log lines carry the span of the code that started it.
        .in_current_span());
        Pruner {
            stop: Some(stop),
            task: Some(task),
        }
    }
}

impl Pruner {
    /// Stops the pruner and waits for its task to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Pruner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
