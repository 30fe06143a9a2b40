//! Log lines that name their trace: the `tracing_subscriber::fmt` layer in text or JSON (see
//! [`super::json`]), each line with the OpenTelemetry `trace_id` and `span_id` of the span an
//! event is written in.
//!
//! `tracing_subscriber::fmt` alone never prints that id (it lives in tracing-opentelemetry's span
//! extensions); here it is on every line, matching the exported span.

use std::fmt::{self, Write as _};
use std::io;
use std::sync::{Arc, OnceLock};

use ferrotel_config::redact::Redactor;
use ferrotel_config::{Env, LogFormat};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::dispatcher::WeakDispatch;

use super::fields::PlainFields;
use super::json::{JsonLine, JsonSpanFields};
use crate::tracer::Level2Tracer;
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::Layered;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The subscriber the log layer sits on when tracing is on: the registry, the filter and the
/// OpenTelemetry layer.
pub(crate) type Traced = Layered<
    OpenTelemetryLayer<Layered<GlobalFilter, Registry>, Level2Tracer>,
    Layered<GlobalFilter, Registry>,
>;

/// The log layer in the configured format. Each format has its own span field formatter (the
/// JSON line reads span fields back as JSON), so the two are two layer types behind one box.
pub(crate) fn fmt_layer<S>(
    format: LogFormat,
    service: &str,
    dispatch: DispatchCell,
    writer: BoxMakeWriter,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    match format {
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonSpanFields)
                .event_format(JsonLine::new(service, dispatch))
                .with_writer(writer),
        ),
        _ => Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .fmt_fields(PlainFields)
                .event_format(TextLine::new(dispatch))
                .with_writer(writer),
        ),
    }
}

/// The variable that, when set, replaces the filter built from `OTEL_LOG_LEVEL`.
pub const RUST_LOG: &str = "RUST_LOG";

/// Noisy transport crates stay at `warn` unless `RUST_LOG` says otherwise.
const QUIET_DEPENDENCIES: &str = "h2=warn,hyper=warn,hyper_util=warn,tonic=warn,tower=warn,\
reqwest=warn,rustls=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn,opentelemetry=warn";

/// The filter every layer uses: `RUST_LOG` when set and valid, else the `OTEL_LOG_LEVEL`
/// level. Read and checked once; each layer gets its own [`EnvFilter`] from it, since a
/// per-layer filter is owned by its layer.
pub(crate) struct FilterSpec {
    directives: String,
}

impl FilterSpec {
    /// The filter of `env`, and a note when `RUST_LOG` was refused.
    pub(crate) fn read(env: &Env, level: &str) -> (Self, Option<String>) {
        let fallback = || format!("{level},{QUIET_DEPENDENCIES}");
        let (directives, note) = match env.get(RUST_LOG) {
            Some(directives) => match EnvFilter::builder().parse(directives) {
                Ok(_) => (directives.to_owned(), None),
                Err(err) => (
                    fallback(),
                    Some(format!(
                        "RUST_LOG={directives:?} is not a valid filter ({err}); using \
                         OTEL_LOG_LEVEL={level}"
                    )),
                ),
            },
            None => (fallback(), None),
        };
        (Self { directives }, note)
    }

    /// A new filter with these directives, secret-bearing targets always off.
    pub(crate) fn build(&self) -> EnvFilter {
        without_secret_targets(EnvFilter::builder().parse_lossy(&self.directives))
    }

    /// The filter as one layer in front of all the others.
    pub(crate) fn global(&self) -> GlobalFilter {
        GlobalFilter {
            // Only a directive with a span or field part (`target[span{field=value}]=level`)
            // is dynamic; without a `[` every directive is a target and a level.
            dynamic: self.directives.contains('['),
            filter: self.build(),
        }
    }
}

/// An [`EnvFilter`] in front of every layer. Its span hooks keep the state of dynamic
/// directives (which spans match, which are entered), under a lock per call; with only static
/// directives there is no such state, so the hooks are not called: the same decisions, without
/// four lock-and-lookup calls per span.
pub(crate) struct GlobalFilter {
    filter: EnvFilter,
    dynamic: bool,
}

impl<S> Layer<S> for GlobalFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        Layer::<S>::register_callsite(&self.filter, metadata)
    }

    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        Layer::<S>::enabled(&self.filter, metadata, cx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Layer::<S>::max_level_hint(&self.filter)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if self.dynamic {
            Layer::<S>::on_new_span(&self.filter, attrs, id, cx);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if self.dynamic {
            Layer::<S>::on_record(&self.filter, id, values, cx);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        if self.dynamic {
            Layer::<S>::on_enter(&self.filter, id, cx);
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        if self.dynamic {
            Layer::<S>::on_exit(&self.filter, id, cx);
        }
    }

    fn on_close(&self, id: tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        if self.dynamic {
            Layer::<S>::on_close(&self.filter, id, cx);
        }
    }
}

/// Where the formatter finds the dispatcher it runs in. `tracing::dispatcher::get_default`
/// answers "none" while an event is being dispatched, so the dispatcher is handed over once
/// it exists.
pub(crate) type DispatchCell = Arc<OnceLock<WeakDispatch>>;

/// The log layer's filter: `filter`, and when `events_only`, no spans at all.
pub(crate) fn log_filter<S>(filter: EnvFilter, events_only: bool) -> impl Filter<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // The hint matters: without one the combined filter has none, the global maximum level
    // becomes TRACE, and every trace!/debug! callsite of h2, hyper and tonic is evaluated
    // per call instead of being switched off once.
    filter.and(
        tracing_subscriber::filter::filter_fn(move |meta| !events_only || meta.is_event())
            .with_max_level_hint(tracing::level_filters::LevelFilter::TRACE),
    )
}

/// The stock text format with the trace and span ids appended.
struct TextLine {
    dispatch: DispatchCell,
    text: format::Format<format::Full>,
}

impl TextLine {
    fn new(dispatch: DispatchCell) -> Self {
        Self {
            dispatch,
            text: format::Format::default().with_ansi(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = self
            .dispatch
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| current_ids(ctx, &dispatch));
        let mut line = String::with_capacity(256);
        self.text.format_event(ctx, Writer::new(&mut line), event)?;
        if let Some((trace_id, span_id)) = ids {
            let body = line.trim_end_matches('\n').len();
            line.truncate(body);
            writeln!(line, " trace_id={trace_id} span_id={span_id}")?;
        }
        writer.write_str(&line)
    }
}

/// The OpenTelemetry ids of the span the event belongs to, when it has a valid one.
pub(super) fn current_ids<S, N>(
    ctx: &FmtContext<'_, S, N>,
    dispatch: &tracing::Dispatch,
) -> Option<(TraceId, SpanId)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let span = ctx.event_scope()?.next().or_else(|| ctx.lookup_current())?;
    let id = span.id();
    drop(span);
    let cx = tracing_opentelemetry::get_otel_context(&id, dispatch)?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
}

/// Dependency targets whose debug and trace events name connection keys (the endpoint's
/// authority, userinfo included): held at `info` whatever `RUST_LOG` says. The scrubbing writer
/// ([`scrubbing`]) catches what a filter cannot know about.
const SECRET_BEARING_TARGETS: &[&str] = &["hyper_util::client::legacy::pool=info"];

/// `filter` with [`SECRET_BEARING_TARGETS`] held at `info`.
pub(crate) fn without_secret_targets(mut filter: EnvFilter) -> EnvFilter {
    for directive in SECRET_BEARING_TARGETS {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// A log writer that scrubs the configuration's secrets (header values, endpoint userinfo and
/// queries) out of every line, whoever wrote it: ferrotel, the SDK or a dependency.
pub(crate) fn scrubbing(inner: BoxMakeWriter, redactor: Redactor) -> BoxMakeWriter {
    if redactor.is_empty() {
        return inner;
    }
    BoxMakeWriter::new(Scrubbing {
        inner,
        redactor: Arc::new(redactor),
    })
}

struct Scrubbing {
    inner: BoxMakeWriter,
    redactor: Arc<Redactor>,
}

impl<'a> MakeWriter<'a> for Scrubbing {
    type Writer = ScrubbingWriter<Box<dyn io::Write + 'a>>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter {
            inner: self.inner.make_writer(),
            redactor: Arc::clone(&self.redactor),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        ScrubbingWriter {
            inner: self.inner.make_writer_for(meta),
            redactor: Arc::clone(&self.redactor),
        }
    }
}

/// Scrubs each write: the formatter writes one whole line per call.
pub(crate) struct ScrubbingWriter<W> {
    inner: W,
    redactor: Arc<Redactor>,
}

impl<W: io::Write> io::Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        match self.redactor.scrub(&text) {
            std::borrow::Cow::Borrowed(_) => self.inner.write_all(buf)?,
            std::borrow::Cow::Owned(clean) => self.inner.write_all(clean.as_bytes())?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test's failure is its panic
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::FilterSpec;
    use ferrotel_config::Env;

    /// Collects the messages of the events that reach it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Message<'a>(&'a mut Vec<String>);
            impl tracing::field::Visit for Message<'_> {
                fn record_debug(
                    &mut self,
                    field: &tracing::field::Field,
                    value: &dyn std::fmt::Debug,
                ) {
                    if field.name() == "message" {
                        self.0.push(format!("{value:?}"));
                    }
                }
            }
            event.record(&mut Message(&mut self.0.lock().unwrap()));
        }
    }

    /// What the global filter of `directives` lets through, for the same events in and out of
    /// a span named `outer`.
    fn admitted(directives: &str) -> Vec<String> {
        let (spec, note) = FilterSpec::read(&Env::from_pairs([("RUST_LOG", directives)]), "info");
        assert_eq!(note, None);
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(spec.global())
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("debug outside");
            tracing::warn!("warn outside");
            tracing::warn_span!("outer").in_scope(|| {
                tracing::debug!("debug inside");
                tracing::warn!("warn inside");
            });
            tracing::debug!("debug after");
        });
        let seen = seen.0.lock().unwrap().clone();
        seen
    }

    #[test]
    fn the_global_filter_keeps_static_and_span_directives() {
        assert_eq!(admitted("warn"), ["warn outside", "warn inside"]);
        assert_eq!(
            admitted("debug"),
            [
                "debug outside",
                "warn outside",
                "debug inside",
                "warn inside",
                "debug after"
            ]
        );
        // A span directive needs the filter's span hooks: debug inside `outer` only.
        assert_eq!(
            admitted("warn,[outer]=debug"),
            ["warn outside", "debug inside", "warn inside"]
        );
    }
}
