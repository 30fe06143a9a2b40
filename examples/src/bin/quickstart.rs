//! The smallest service: `ferrotel::init()`, nested spans, logs inside them, a histogram.
//!
//! ```text
//! cargo run --release --bin quickstart                    # no endpoint: console exporter
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
//!     cargo run --release --bin quickstart                # to a collector or Jaeger
//! ```

use std::time::{Duration, Instant};

use ferrotel::config::{vars, MetricsExporter, TracesExporter};
use ferrotel::opentelemetry::{global, KeyValue};
use tracing::{info, info_span, warn};

fn main() {
    let telemetry = ferrotel::builder()
        .service_name("quickstart")
        .configure(|config| {
            if endpoint_configured() {
                config
            } else {
                // Nowhere to send OTLP: show the spans and metrics on the console instead.
                config
                    .traces_exporter(vec![TracesExporter::Console])
                    .metrics_exporter(vec![MetricsExporter::Console])
            }
        })
        .try_init();
    let telemetry = match telemetry {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("quickstart: {err}");
            std::process::exit(2);
        }
    };

    let latency = global::meter("quickstart")
        .f64_histogram("quickstart.request.duration")
        .with_unit("s")
        .with_description("How long one request of the quickstart took.")
        .build();

    for request in 0..3u64 {
        let started = Instant::now();
        let span = info_span!("handle_request", request);
        let _entered = span.enter();
        info!(request, "request received");
        {
            let _lookup = info_span!("lookup", key = request * 7).entered();
            std::thread::sleep(Duration::from_millis(2 + request));
            info!("key found");
        }
        {
            let _write = info_span!("write", bytes = 4096).entered();
            std::thread::sleep(Duration::from_millis(1));
            if request == 2 {
                warn!("write was slow");
            }
        }
        latency.record(
            started.elapsed().as_secs_f64(),
            &[KeyValue::new("outcome", "ok")],
        );
    }

    let report = telemetry.shutdown();
    for problem in &report.problems {
        eprintln!("quickstart: {problem}");
    }
    println!(
        "quickstart: 3 requests traced; telemetry flushed in {:?}",
        report.elapsed
    );
}

/// Whether any OTLP endpoint variable or a configuration file is set (then that export is what
/// the user wants).
fn endpoint_configured() -> bool {
    [
        vars::OTEL_EXPORTER_OTLP_ENDPOINT,
        vars::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        vars::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
        vars::OTEL_TRACES_EXPORTER,
        // A configuration file says where everything goes.
        vars::OTEL_CONFIG_FILE,
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()))
}
