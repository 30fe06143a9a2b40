//! NFS instruments on the wire: spans, both naming profiles' metrics and exemplars, after a
//! known sequence of procedures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel::ops::nfs::{NfsSide, NfsStatus, Procedure, Share};
use ferrotel_testkit::Receiver;
use support::*;

/// 3 READs of 4 KiB, one WRITE of 8 KiB, a LOOKUP that finds nothing, a GETATTR on a stale
/// handle, and a READ dropped before it finished.
fn run_sequence(nfs: &ferrotel::ops::nfs::NfsInstruments, share: &Share) {
    for _ in 0..3 {
        nfs.start(Procedure::Read, share)
            .finish(NfsStatus::OK, 4096);
    }
    nfs.start(Procedure::Write, share)
        .finish(NfsStatus::OK, 8192);
    nfs.start(Procedure::Lookup, share)
        .finish(NfsStatus::NOENT, 0);
    nfs.start(Procedure::Getattr, share)
        .finish(NfsStatus::STALE, 0);
    drop(nfs.start(Procedure::Read, share));
}

#[test]
fn server_spans_carry_the_onc_rpc_attributes_and_the_status_rules() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[]);
    let nfs = telemetry.ops().nfs(NfsSide::Server);
    run_sequence(&nfs, &Share::new("/export"));
    flush_and_wait(&telemetry, &receiver, 7, "nfs.server.request.duration");

    let reads = spans_named(&receiver, "nfs.READ");
    assert_eq!(reads.len(), 4);
    let read = &reads[0];
    assert_eq!(read.span.kind, 2, "SERVER kind");
    for (key, value) in [
        ("onc_rpc.program.name", "nfs"),
        ("onc_rpc.version", "3"),
        ("onc_rpc.procedure.name", "READ"),
        ("onc_rpc.procedure.number", "6"),
        ("nfs.share", "/export"),
        ("nfs.status", "NFS3_OK"),
        ("nfs.io.bytes", "4096"),
    ] {
        assert_eq!(read.attr(key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(read.attr("error.type"), None);

    // A NOENT is the client's business: error.type, but no error status on the server.
    let lookup = &spans_named(&receiver, "nfs.LOOKUP")[0];
    assert_eq!(lookup.attr("error.type").as_deref(), Some("NFS3ERR_NOENT"));
    assert_eq!(lookup.span.status.as_ref().map(|s| s.code).unwrap_or(0), 0);
    let stale = &spans_named(&receiver, "nfs.GETATTR")[0];
    assert_eq!(stale.attr("nfs.status").as_deref(), Some("NFS3ERR_STALE"));
    // The dropped READ is recorded as cancelled.
    assert_eq!(
        reads
            .iter()
            .filter(|s| s.attr("error.type").as_deref() == Some("cancelled"))
            .count(),
        1
    );
    assert_eq!(
        spans_named(&receiver, "nfs.WRITE")[0]
            .attr("nfs.io.bytes")
            .as_deref(),
        Some("8192")
    );
}

#[test]
fn a_server_fault_is_an_error_and_every_client_failure_is() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[]);
    let share = Share::new("/export");
    telemetry
        .ops()
        .nfs(NfsSide::Server)
        .start(Procedure::Write, &share)
        .finish(NfsStatus::IO, 0);
    let client = telemetry.ops().nfs(NfsSide::Client);
    client
        .start(Procedure::Lookup, &share)
        .finish(NfsStatus::NOENT, 0);
    flush_and_wait(&telemetry, &receiver, 2, "nfs.client.request.duration");
    let write = &spans_named(&receiver, "nfs.WRITE")[0];
    assert_eq!(
        write.span.status.as_ref().unwrap().code,
        2,
        "server fault = Error"
    );
    let lookup = &spans_named(&receiver, "nfs.LOOKUP")[0];
    assert_eq!(lookup.span.kind, 3, "CLIENT kind");
    assert_eq!(
        lookup.span.status.as_ref().unwrap().code,
        2,
        "client: any failure"
    );
    let (points, _) = numbers(&receiver, "nfs.client.procedure.count");
    let point = point_with(
        &points,
        |p| &p.attributes,
        &[
            ("onc_rpc.version", "3"),
            ("onc_rpc.procedure.name", "LOOKUP"),
            ("error.type", "NFS3ERR_NOENT"),
        ],
    );
    assert_eq!(int(point), 1);
}

#[test]
fn semconv_profile_metrics_after_a_known_sequence() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[("FERROTEL_NFS_METRICS", "semconv")]);
    run_sequence(
        &telemetry.ops().nfs(NfsSide::Server),
        &Share::new("/export"),
    );
    let connection = telemetry.ops().nfs(NfsSide::Server).connection_opened();
    drop(connection);
    telemetry
        .ops()
        .nfs(NfsSide::Server)
        .observe_max_connections(64);
    flush_and_wait(&telemetry, &receiver, 7, "nfs.server.request.duration");

    let durations = histogram(&receiver, "nfs.server.request.duration");
    let base = [
        ("onc_rpc.program.name", "nfs"),
        ("onc_rpc.version", "3"),
        ("nfs.share", "/export"),
    ];
    let with = |procedure: &'static str, error: Option<&'static str>| {
        let mut pairs: Vec<(&str, &str)> = base.to_vec();
        pairs.push(("onc_rpc.procedure.name", procedure));
        if let Some(error) = error {
            pairs.push(("error.type", error));
        }
        pairs
    };
    let reads = point_with(&durations, |p| &p.attributes, &with("READ", None));
    assert_eq!(reads.count, 3);
    assert_eq!(
        reads.explicit_bounds,
        ferrotel::ops::names::nfs::DURATION_BUCKETS.to_vec()
    );
    assert_eq!(
        point_with(
            &durations,
            |p| &p.attributes,
            &with("READ", Some("cancelled"))
        )
        .count,
        1
    );
    assert_eq!(
        point_with(
            &durations,
            |p| &p.attributes,
            &with("LOOKUP", Some("NFS3ERR_NOENT"))
        )
        .count,
        1
    );
    // Every duration point carries exemplars naming exported spans (all were sampled).
    let exemplars = exemplars_link_to_spans(&receiver, &durations);
    assert!(exemplars.len() >= durations.len(), "{exemplars:?}");

    let (count, monotonic) = numbers(&receiver, "nfs.server.procedure.count");
    assert!(monotonic);
    let writes = point_with(
        &count,
        |p| &p.attributes,
        &[
            ("onc_rpc.version", "3"),
            ("onc_rpc.procedure.name", "WRITE"),
        ],
    );
    assert_eq!(int(writes), 1);

    let (io, _) = numbers(&receiver, "nfs.server.io");
    let sent = point_with(
        &io,
        |p| &p.attributes,
        &[("network.io.direction", "transmit")],
    );
    assert_eq!(int(sent), 3 * 4096);
    let received = point_with(
        &io,
        |p| &p.attributes,
        &[("network.io.direction", "receive")],
    );
    assert_eq!(int(received), 8192);

    let (stale, _) = numbers(&receiver, "nfs.server.fh.stale.count");
    assert_eq!(stale.iter().map(int).sum::<i64>(), 1);

    let (active, monotonic) = numbers(&receiver, "nfs.server.request.active");
    assert!(!monotonic);
    assert!(
        active.iter().all(|p| int(p) == 0),
        "nothing in flight at the end"
    );

    let (accepted, _) = numbers(&receiver, "nfs.server.net.tcp.connection.accepted");
    assert_eq!(accepted.iter().map(int).sum::<i64>(), 1);
    let (open, _) = numbers(&receiver, "nfs.server.connection.active");
    assert_eq!(open.iter().map(int).sum::<i64>(), 0);
    let (max, _) = numbers(&receiver, "nfs.server.connection.max");
    assert_eq!(max.iter().map(int).collect::<Vec<_>>(), [64]);
    let (closed, _) = numbers(&receiver, "nfs.server.connection.closed");
    assert_eq!(
        int(point_with(
            &closed,
            |p| &p.attributes,
            &[("nfs.close_reason", "client")]
        )),
        1
    );
}

#[test]
fn dittofs_profile_is_the_dittofs_set_exactly() {
    let receiver = Receiver::start();
    let telemetry = guard(
        &receiver,
        &[
            ("FERROTEL_NFS_METRICS", "dittofs"),
            ("FERROTEL_METRICS_PREFIX", "dittofs"),
        ],
    );
    let nfs = telemetry.ops().nfs(NfsSide::Server);
    let share = Share::new("/export");
    run_sequence(&nfs, &share);
    let (a, b) = (nfs.connection_opened(), nfs.connection_opened());
    drop(a);
    b.force_close();
    nfs.observe_max_connections(64);
    flush_and_wait(&telemetry, &receiver, 7, "dittofs_nfs_request_duration");

    let (requests, monotonic) = numbers(&receiver, "dittofs_nfs_requests_total");
    assert!(monotonic);
    let req = |procedure, status, code| {
        int(point_with(
            &requests,
            |p| &p.attributes,
            &[
                ("procedure", procedure),
                ("share", "/export"),
                ("status", status),
                ("error_code", code),
            ],
        ))
    };
    assert_eq!(req("READ", "success", ""), 3);
    assert_eq!(req("READ", "error", "cancelled"), 1);
    assert_eq!(req("WRITE", "success", ""), 1);
    assert_eq!(req("LOOKUP", "error", "NFS3ERR_NOENT"), 1);
    assert_eq!(req("GETATTR", "error", "NFS3ERR_STALE"), 1);

    let durations = histogram(&receiver, "dittofs_nfs_request_duration");
    let reads = point_with(
        &durations,
        |p| &p.attributes,
        &[("procedure", "READ"), ("share", "/export")],
    );
    assert_eq!(reads.count, 4);
    assert_eq!(
        reads.explicit_bounds,
        vec![1.0, 10.0, 100.0, 1000.0, 10000.0]
    );
    let unit = receiver
        .metrics()
        .into_iter()
        .find(|m| m.name() == "dittofs_nfs_request_duration")
        .unwrap()
        .metric
        .unit;
    assert_eq!(unit, "ms", "so Prometheus names it _milliseconds");
    exemplars_link_to_spans(&receiver, &durations);

    let sizes = histogram(&receiver, "dittofs_nfs_operation_size");
    let read_sizes = point_with(
        &sizes,
        |p| &p.attributes,
        &[("operation", "read"), ("share", "/export")],
    );
    assert_eq!(read_sizes.count, 3);
    assert_eq!(
        read_sizes.explicit_bounds,
        vec![4096.0, 65536.0, 1048576.0, 10485760.0]
    );
    assert_eq!(
        read_sizes.bucket_counts[0], 3,
        "4096 falls in the first (<= 4 KiB) bucket"
    );

    let (bytes, _) = numbers(&receiver, "dittofs_nfs_bytes_transferred_total");
    assert_eq!(
        int(point_with(
            &bytes,
            |p| &p.attributes,
            &[
                ("procedure", "READ"),
                ("share", "/export"),
                ("direction", "read")
            ]
        )),
        3 * 4096
    );
    assert_eq!(
        int(point_with(
            &bytes,
            |p| &p.attributes,
            &[
                ("procedure", "WRITE"),
                ("share", "/export"),
                ("direction", "write")
            ]
        )),
        8192
    );
    let (in_flight, _) = numbers(&receiver, "dittofs_nfs_requests_in_flight");
    assert!(in_flight.iter().all(|p| int(p) == 0));

    let total = |name: &str| numbers(&receiver, name).0.iter().map(int).sum::<i64>();
    assert_eq!(total("dittofs_nfs_connections_accepted_total"), 2);
    assert_eq!(total("dittofs_nfs_connections_closed_total"), 2);
    assert_eq!(total("dittofs_nfs_connections_force_closed_total"), 1);
    assert_eq!(total("dittofs_nfs_active_connections"), 0);
    the_documented_labels_are_the_emitted_ones(&receiver);
    // No semconv name leaks into the DittoFS profile.
    assert!(
        !names(&receiver).iter().any(|n| n.starts_with("nfs.")),
        "{:?}",
        names(&receiver)
    );
}

#[test]
fn an_op_context_parents_the_work_done_under_it() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[]);
    let nfs = telemetry.ops().nfs(NfsSide::Server);
    let store = telemetry.ops().storage("memory");
    let op = nfs.start(Procedure::Write, &Share::new("/export"));
    store
        .start_in(
            ferrotel::ops::storage::StorageOperation::Put,
            "k",
            op.context(),
        )
        .finish(Ok(10));
    op.finish(NfsStatus::OK, 10);
    flush_and_wait(&telemetry, &receiver, 2, "storage.operation.duration");
    let write = &spans_named(&receiver, "nfs.WRITE")[0];
    let put = &spans_named(&receiver, "storage.put")[0];
    assert_eq!(put.trace_id_hex(), write.trace_id_hex());
    assert_eq!(put.parent_span_id_hex(), Some(write.span_id_hex()));
}

/// The `traceparent` the W3C propagator writes for `cx`.
fn traceparent(cx: &opentelemetry::Context) -> String {
    use opentelemetry::propagation::TextMapPropagator as _;
    let mut carrier = std::collections::HashMap::new();
    ferrotel::propagators::w3c::TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier.remove("traceparent").unwrap_or_default()
}

#[test]
fn ops_roots_carry_the_random_flag_sampled_or_not() {
    use opentelemetry::trace::TraceContextExt as _;
    for (sampler, flags) in [("always_on", "03"), ("always_off", "02")] {
        let receiver = Receiver::start();
        let telemetry = guard(&receiver, &[("OTEL_TRACES_SAMPLER", sampler)]);
        let nfs = telemetry.ops().nfs(NfsSide::Server);
        let store = telemetry.ops().storage("memory");
        let op = nfs.start_in(
            Procedure::Read,
            &Share::new("/export"),
            &opentelemetry::Context::new(),
        );
        let put = store.start_in(
            ferrotel::ops::storage::StorageOperation::Put,
            "k",
            &opentelemetry::Context::new(),
        );
        for (what, cx) in [("nfs root", op.context()), ("storage root", put.context())] {
            let header = traceparent(cx);
            assert!(
                header.ends_with(&format!("-{flags}")),
                "{sampler} {what}: {header}"
            );
            let entry =
                ferrotel::ops::raft::EntryContext::from_span_context(cx.span().span_context())
                    .expect("a valid context");
            assert_eq!(
                entry.flags() & 0x02,
                0x02,
                "{sampler} {what}: entry context"
            );
        }
        // A child of an ops root keeps the flag, whether the sampler keeps it or not.
        let child = store.start_in(
            ferrotel::ops::storage::StorageOperation::Get,
            "k",
            op.context(),
        );
        assert!(
            traceparent(child.context()).ends_with(&format!("-{flags}")),
            "{sampler}: {}",
            traceparent(child.context())
        );
        child.finish(Ok(1));
        put.finish(Ok(1));
        op.finish(NfsStatus::OK, 1);
        if sampler == "always_on" {
            // And so does what reaches the wire.
            flush_and_wait(&telemetry, &receiver, 3, "storage.operation.duration");
            for span in receiver.spans() {
                assert_eq!(span.span.flags & 0x02, 0x02, "{}", span.name());
            }
        }
    }
}

/// Every `{prefix}_name{labels}` that `names::nfs::dittofs` documents is emitted with exactly
/// those label keys on every point.
fn the_documented_labels_are_the_emitted_ones(receiver: &Receiver) {
    use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let source = include_str!("../src/names/nfs.rs");
    let module = source
        .split("pub mod dittofs")
        .nth(1)
        .expect("names/nfs.rs has the dittofs module");
    let mut checked = 0;
    for line in module.lines().filter(|l| l.trim_start().starts_with("///")) {
        let Some((_, documented)) = line.split_once("`{prefix}_") else {
            continue;
        };
        let documented = documented.split('`').next().unwrap_or_default();
        let (name, labels) = match documented.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (documented, ""),
        };
        let mut expected: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
        expected.sort_unstable();
        // The OTLP name lacks the unit suffix Prometheus adds.
        let otlp = format!(
            "dittofs_{}",
            name.trim_end_matches("_milliseconds")
                .trim_end_matches("_bytes")
        );
        let metric = receiver
            .metrics()
            .into_iter()
            .rev()
            .find(|m| m.name() == otlp)
            .unwrap_or_else(|| panic!("{otlp} (documented as {documented}) was not emitted"));
        let points: Vec<Vec<(String, String)>> = match metric.metric.data.unwrap() {
            Data::Sum(sum) => sum
                .data_points
                .iter()
                .map(|p| attrs(&p.attributes))
                .collect(),
            Data::Gauge(g) => g.data_points.iter().map(|p| attrs(&p.attributes)).collect(),
            Data::Histogram(h) => h.data_points.iter().map(|p| attrs(&p.attributes)).collect(),
            other => panic!("{otlp}: unexpected {other:?}"),
        };
        let keys: Vec<Vec<String>> = points
            .into_iter()
            .map(|pairs| {
                let mut keys: Vec<String> = pairs.into_iter().map(|(k, _)| k).collect();
                keys.sort_unstable();
                keys
            })
            .collect();
        assert!(!keys.is_empty(), "{otlp}: no points");
        for emitted in keys {
            assert_eq!(emitted, expected, "{otlp}: documented as {documented}");
        }
        checked += 1;
    }
    assert_eq!(
        checked, 10,
        "every DittoFS name is documented with its labels"
    );
}
