//! Logs and progress at the edge: `tracing` events to stderr as text or JSON lines, and on a
//! terminal a spinner per running stage (indicatif).
//!
//! The library marks its stages with spans named `stage` carrying a `stage` field
//! (`info_span!("stage", stage = "layers")`); each stage's end is logged with its busy and
//! idle time. `RUST_LOG` (tracing's env-filter syntax) chooses what is shown; the default is
//! `info`.

use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (with spinners on a terminal).
    #[default]
    Text,
    /// One JSON object per line (for journald, Loki, Elastic...).
    Json,
}

/// Installs the global subscriber. Calling it twice is harmless (the second does nothing).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let bars =
        (format == LogFormat::Text && std::io::stderr().is_terminal()).then(MultiProgress::new);
    let writer = StderrAroundBars(bars.clone());
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_span_events(FmtSpan::CLOSE)
                    .with_ansi(bars.is_some())
                    .with_writer(writer),
            )
            .with(bars.map(StageSpinners))
            .try_init(),
    };
}

/// Writes to stderr, hiding the spinners meanwhile so lines and bars do not interleave.
#[derive(Clone)]
struct StderrAroundBars(Option<MultiProgress>);

/// One log line's buffer, written out whole on drop.
struct LineWriter {
    buf: Vec<u8>,
    bars: Option<MultiProgress>,
}

impl Write for LineWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let out = |buf: &[u8]| {
            let _ = std::io::stderr().lock().write_all(buf);
        };
        match &self.bars {
            Some(m) => m.suspend(|| out(&self.buf)),
            None => out(&self.buf),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrAroundBars {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            buf: Vec::with_capacity(256),
            bars: self.0.clone(),
        }
    }
}

/// A spinner for each open `stage` span.
struct StageSpinners(MultiProgress);

/// Reads a span's `stage` field.
struct StageName(Option<String>);

impl Visit for StageName {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "stage" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "stage" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StageSpinners {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "stage" {
            return;
        }
        let mut name = StageName(None);
        attrs.record(&mut name);
        let bar = self.0.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(name.0.unwrap_or_default());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(bar);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(bar) = span.extensions_mut().remove::<ProgressBar>() {
                bar.finish_and_clear();
                self.0.remove(&bar);
            }
        }
    }
}
