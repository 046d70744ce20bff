//! Log capture scoped to one test.
//!
//! One subscriber is installed for the whole test binary (SQLite runs its statements on
//! threads of sqlx's own, which only a global subscriber sees), but it writes each line to
//! the capture of the test the line belongs to, or nowhere:
//!
//! 1. a line logged inside the span a capture opened (sqlx's SQLite threads enter the span
//!    of the statement's caller, and tasks instrumented with `in_current_span` carry it)
//!    goes to that capture;
//! 2. otherwise a line logged on the thread that started a capture goes to it (libtest runs
//!    each test on a thread of its own; the test's future is polled there).
//!
//! A task the test spawns without `in_current_span` on another worker thread is not
//! captured.

use std::cell::RefCell;
use std::io;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::Subscriber;
use tracing::span::{Attributes, EnteredSpan, Id};
use tracing::subscriber::Interest;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter, Layer as _, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// The name of the span each capture opens on its test's thread.
const SPAN_NAME: &str = "captured";

/// The log lines of one test (cheap to clone; every clone reads the same lines).
#[derive(Clone, Debug)]
pub struct Logs(Arc<Capture>);

#[derive(Debug)]
struct Capture {
    filter: Targets,
    lines: Mutex<Vec<u8>>,
}

impl Logs {
    /// Everything captured so far, as text.
    pub fn text(&self) -> String {
        let lines = self.0.lines.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&lines).into_owned()
    }
}

thread_local! {
    /// The capture of the test running on this thread, and its span, entered for as long as
    /// the thread lives.
    static THREAD: RefCell<Option<(Logs, EnteredSpan)>> = const { RefCell::new(None) };
    /// The capture a span being created belongs to.
    static OPENING: RefCell<Option<Logs>> = const { RefCell::new(None) };
    /// The capture the event being written goes to.
    static WRITING: RefCell<Option<Logs>> = const { RefCell::new(None) };
}

/// Starts capturing the log lines of the calling test that pass `filter` (directives such
/// as `trace` or `info,sqlx=warn,sqlx_sessions=debug`, matched by target prefix, the longest
/// match winning), or returns the test's capture when it already has one (whatever filter
/// that one has). Call it on the test's own thread, before the work it observes.
///
/// # Panics
/// On a malformed `filter`, or when another global subscriber is installed.
pub fn capture_logs(filter: &str) -> Logs {
    if let Some(logs) = THREAD.with(|t| t.borrow().as_ref().map(|(logs, _)| logs.clone())) {
        return logs;
    }
    install();
    let logs = Logs(Arc::new(Capture {
        filter: Targets::from_str(filter)
            .unwrap_or_else(|e| panic!("bad log filter `{filter}`: {e}")),
        lines: Mutex::new(Vec::new()),
    }));
    OPENING.with(|o| *o.borrow_mut() = Some(logs.clone()));
    let span = tracing::error_span!(SPAN_NAME).entered();
    OPENING.with(|o| o.borrow_mut().take());
    THREAD.with(|t| *t.borrow_mut() = Some((logs.clone(), span)));
    logs
}

fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(RouteWriter)
            .with_filter(Route);
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other global subscriber in a test binary that captures logs");
    });
}

/// Decides, per event, which capture (if any) it goes to.
struct Route;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Filter<S> for Route {
    fn enabled(&self, meta: &tracing::Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if meta.is_span() {
            // Every span is recorded, so that an event inside a capture's span finds it.
            return true;
        }
        let in_span = cx.lookup_current().and_then(|span| {
            span.scope()
                .find_map(|s| s.extensions().get::<Logs>().cloned())
        });
        let logs = in_span.or_else(|| THREAD.with(|t| t.borrow().as_ref().map(|(l, _)| l.clone())));
        match logs {
            Some(logs) if logs.0.filter.would_enable(meta.target(), meta.level()) => {
                WRITING.with(|w| *w.borrow_mut() = Some(logs));
                true
            }
            _ => false,
        }
    }

    fn callsite_enabled(&self, _: &'static tracing::Metadata<'static>) -> Interest {
        // Which test a line belongs to is known only when it is logged.
        Interest::sometimes()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, cx: Context<'_, S>) {
        if attrs.metadata().name() != SPAN_NAME {
            return;
        }
        if let (Some(logs), Some(span)) = (OPENING.with(|o| o.borrow().clone()), cx.span(id)) {
            span.extensions_mut().insert(logs);
        }
    }
}

/// Writes each formatted line to the capture [`Route`] chose for it.
struct RouteWriter;

impl<'a> MakeWriter<'a> for RouteWriter {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(WRITING.with(|w| w.borrow().clone()))
    }
}

struct CaptureWriter(Option<Logs>);

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(logs) = &self.0 {
            logs.0
                .lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::capture_logs;

    #[test]
    fn a_test_sees_its_own_lines_only() {
        let logs = capture_logs("debug");
        tracing::debug!("mine");
        tracing::trace!("below the filter");
        let other = std::thread::spawn(|| {
            let theirs = capture_logs("debug");
            tracing::debug!("theirs");
            theirs.text()
        })
        .join()
        .unwrap();
        let text = logs.text();
        assert!(text.contains("mine"), "{text}");
        assert!(!text.contains("below the filter"), "{text}");
        assert!(!text.contains("theirs"), "{text}");
        assert!(
            other.contains("theirs") && !other.contains("mine"),
            "{other}"
        );
        assert!(
            capture_logs("trace").text().contains("mine"),
            "one capture per test"
        );
    }

    #[test]
    fn lines_of_other_threads_inside_the_span_are_captured() {
        let logs = capture_logs("info");
        let span = tracing::Span::current();
        std::thread::spawn(move || span.in_scope(|| tracing::info!("from a worker")))
            .join()
            .unwrap();
        std::thread::spawn(|| tracing::info!("from a stranger"))
            .join()
            .unwrap();
        let text = logs.text();
        assert!(text.contains("from a worker"), "{text}");
        assert!(!text.contains("from a stranger"), "{text}");
    }
}
