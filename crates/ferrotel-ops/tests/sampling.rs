//! Per-operation sampling rules: the kept fraction of each rule within binomial bounds, whole
//! traces only, and the rules configured through FERROTEL_SAMPLING_RULES on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};

use ferrotel::config::{parse_sampling_rules, Env};
use ferrotel::ops::nfs::{NfsSide, NfsStatus, Procedure, Share};
use ferrotel::ops::storage::{StorageInstruments, StorageOperation};
use ferrotel::ops::OpsTelemetry;
use ferrotel::tracer::{Presampler, RuleSampler};
use ferrotel_testkit::Receiver;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use support::*;

const ROOTS: usize = 20_000;

#[test]
fn each_rule_keeps_its_ratio_and_children_follow_their_roots() {
    let rules = parse_sampling_rules(
        "nfs.*[nfs.share=scratch]=0.5,nfs.READ=0.01,nfs.GETATTR=0.001,raft.*=0.1,*=1",
    )
    .unwrap();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(RuleSampler::new(
            &rules,
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        ))
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("rules");
    let cases: [(&str, &str, f64); 6] = [
        ("nfs.READ", "scratch", 0.5),
        ("nfs.READ", "export", 0.01),
        ("nfs.GETATTR", "export", 0.001),
        ("raft.apply", "export", 0.1),
        ("raft.append", "export", 0.1),
        ("storage.put", "export", 1.0),
    ];
    let mut roots_by_case: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for (name, share, _) in cases {
        for _ in 0..ROOTS {
            let root = tracer
                .span_builder(name)
                .with_attributes([KeyValue::new("nfs.share", share)])
                .start(&tracer);
            let root_id = root.span_context().span_id().to_string();
            let cx = Context::new().with_span(root);
            // A child whose name a rule would drop: it must follow its root, not the rule.
            let mut child = tracer.start_with_context("nfs.GETATTR", &cx);
            child.end();
            cx.span().end();
            roots_by_case
                .entry((name.to_owned(), share.to_owned()))
                .or_default()
                .insert(root_id);
        }
    }
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let ids: HashSet<String> = spans
        .iter()
        .map(|s| s.span_context.span_id().to_string())
        .collect();
    let mut kept_roots: HashMap<(String, String), usize> = HashMap::new();
    for span in &spans {
        let parent = span.parent_span_id;
        if parent == opentelemetry::trace::SpanId::INVALID {
            for (case, roots) in &roots_by_case {
                if roots.contains(&span.span_context.span_id().to_string()) {
                    *kept_roots.entry(case.clone()).or_default() += 1;
                }
            }
        } else {
            assert!(
                ids.contains(&parent.to_string()),
                "a child without its parent"
            );
        }
    }
    let children = spans
        .iter()
        .filter(|s| s.parent_span_id != opentelemetry::trace::SpanId::INVALID)
        .count();
    let roots: usize = kept_roots.values().sum();
    assert_eq!(
        children, roots,
        "every kept root has its child, and no child is kept alone"
    );
    for (name, share, ratio) in cases {
        let kept = kept_roots
            .get(&(name.to_owned(), share.to_owned()))
            .copied()
            .unwrap_or(0) as f64;
        let n = ROOTS as f64;
        let sigma = (n * ratio * (1.0 - ratio)).sqrt();
        let expected = n * ratio;
        assert!(
            (kept - expected).abs() <= 4.0 * sigma + 1e-9,
            "{name}[{share}]: kept {kept} of {n}, expected {expected} ± {}",
            4.0 * sigma
        );
    }
}

/// The same test through the instruments, which decide with a `Presampler` before building
/// (a dropped root never reaches the SDK's builder): each rule's ratio holds, and a storage
/// child follows its NFS root although a rule would drop `storage.*` roots.
#[test]
fn instruments_deciding_first_keep_each_ratio_and_whole_traces() {
    let rules = parse_sampling_rules(
        "nfs.*[nfs.share=scratch]=0.5,nfs.READ=0.01,nfs.GETATTR=0.001,storage.*=0,*=1",
    )
    .unwrap();
    let presampler = Presampler::new(RuleSampler::new(
        &rules,
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
    ));
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(presampler.sampler())
        .with_id_generator(presampler.id_generator())
        .with_simple_exporter(exporter.clone())
        .build();
    let telemetry =
        OpsTelemetry::new(Some(&provider), None, Default::default()).with_presampler(presampler);
    let nfs = ferrotel::ops::nfs::NfsInstruments::new(
        &telemetry,
        NfsSide::Server,
        Default::default(),
        "ferrotel",
    );
    let storage = StorageInstruments::new(&telemetry, "memory", Default::default());
    let cases = [
        (Procedure::Read, Share::new("scratch"), 0.5),
        (Procedure::Read, Share::new("export"), 0.01),
        (Procedure::Getattr, Share::new("export"), 0.001),
    ];
    for (procedure, share, _) in &cases {
        for _ in 0..ROOTS {
            let op = nfs.start_in(*procedure, share, &Context::new());
            let child = storage.start_in(StorageOperation::Get, "k", op.context());
            // Every span, kept or not, carries a valid context to propagate.
            assert!(op.context().span().span_context().is_valid());
            child.finish(Ok(1));
            op.finish(NfsStatus::OK, 1);
        }
    }
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == opentelemetry::trace::SpanId::INVALID)
        .collect();
    let root_ids: HashSet<_> = roots.iter().map(|s| s.span_context.span_id()).collect();
    let children = spans.len() - roots.len();
    assert_eq!(children, roots.len(), "one storage child per kept root");
    for child in spans
        .iter()
        .filter(|s| s.parent_span_id != opentelemetry::trace::SpanId::INVALID)
    {
        assert_eq!(child.name, "storage.get");
        assert!(
            root_ids.contains(&child.parent_span_id),
            "a child without its parent"
        );
    }
    for (procedure, share, ratio) in &cases {
        let kept = roots
            .iter()
            .filter(|s| {
                s.name == procedure.span_name()
                    && s.attributes.iter().any(|kv| {
                        kv.key.as_str() == "nfs.share" && kv.value.as_str() == share.as_str()
                    })
            })
            .count() as f64;
        let n = ROOTS as f64;
        let sigma = (n * ratio * (1.0 - ratio)).sqrt();
        assert!(
            (kept - n * ratio).abs() <= 4.0 * sigma + 1e-9,
            "{}[{share}]: kept {kept} of {n}, expected {} ± {}",
            procedure.span_name(),
            n * ratio,
            4.0 * sigma
        );
    }
}

#[test]
fn rules_from_the_environment_reach_the_wire() {
    let receiver = Receiver::start();
    let telemetry = guard(
        &receiver,
        &[("FERROTEL_SAMPLING_RULES", "nfs.GETATTR=0,*=1")],
    );
    let nfs = telemetry.ops().nfs(NfsSide::Server);
    let share = Share::new("/export");
    for _ in 0..50 {
        nfs.start(Procedure::Getattr, &share)
            .finish(NfsStatus::OK, 0);
    }
    nfs.start(Procedure::Read, &share).finish(NfsStatus::OK, 1);
    flush_and_wait(&telemetry, &receiver, 1, "nfs.server.request.duration");
    assert_eq!(spans_named(&receiver, "nfs.READ").len(), 1);
    assert!(spans_named(&receiver, "nfs.GETATTR").is_empty());
    // The unsampled GETATTRs are still counted, without exemplars.
    let durations = histogram(&receiver, "nfs.server.request.duration");
    let getattr = durations
        .iter()
        .find(|p| attrs(&p.attributes).iter().any(|(_, v)| v == "GETATTR"))
        .unwrap();
    assert_eq!(getattr.count, 50);
    assert!(getattr.exemplars.is_empty());
}

#[test]
fn a_bad_rule_names_the_variable_the_rule_and_the_grammar() {
    let env = Env::from_pairs([("FERROTEL_SAMPLING_RULES", "nfs.READ=0.1,raft.*=7")]);
    let resolved = ferrotel::config::Config::builder().resolve(&env).unwrap();
    assert!(
        resolved.config.ops.sampling_rules.is_empty(),
        "the whole value is discarded"
    );
    let issue = resolved.issues[0].to_string();
    assert!(issue.contains("FERROTEL_SAMPLING_RULES"), "{issue}");
    assert!(issue.contains("raft.*=7"), "{issue}");
    assert!(
        issue.contains("NAME_GLOB[ATTRIBUTE=VALUE]=RATIO"),
        "{issue}"
    );
    let strict = ferrotel::config::Config::builder()
        .strict(true)
        .resolve(&env);
    assert!(strict.is_err(), "strict mode refuses it");
}
