//! Raft instruments on the wire: three replicas (three "processes", each with its own
//! pipelines) carry proposals through one batched append, replication, commit and apply,
//! and the receiver shows each sampled proposal's trace holding the work of every replica.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;

use ferrotel_ops::raft::{RaftInstruments, Role};
use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::metric::Data;
use ferrotel_testkit::{ReceivedSpan, Receiver};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::Context;
use support::{guard, hex, latest_double, latest_value, metrics_of, NodeTelemetry, WAIT};

const SAMPLED_PROPOSALS: usize = 10;

struct Replica {
    id: u64,
    node: NodeTelemetry,
    raft: RaftInstruments,
}

fn cluster(receiver: &Receiver) -> Vec<Replica> {
    (1..=3)
        .map(|id| {
            let node = NodeTelemetry::new(receiver, &format!("raft-node-{id}"));
            let raft = RaftInstruments::new(&node.telemetry, id);
            Replica { id, node, raft }
        })
        .collect()
}

fn spans_named<'a>(spans: &'a [ReceivedSpan], trace: &str, name: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id_hex() == trace && s.name() == name)
        .collect()
}

fn services(spans: &[&ReceivedSpan]) -> HashSet<String> {
    spans
        .iter()
        .map(|s| s.resource_attr("service.name").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_entries_join_every_proposers_trace_on_every_replica() {
    let receiver = Receiver::start();
    let nodes = cluster(&receiver);
    let leader = &nodes[0];

    // Sampled proposals, each under its own client request span on the leader.
    let client = leader.node.tracer_provider.tracer("client");
    let mut proposals = Vec::new();
    let mut entries: Vec<(u64, Option<Vec<u8>>)> = Vec::new();
    for i in 0..SAMPLED_PROPOSALS {
        let request = client.start("client.write");
        let cx = Context::new().with_span(request);
        let proposal = leader.raft.propose_in(&cx);
        entries.push((i as u64 + 1, Some(proposal.encoded_entry_context())));
        proposals.push((cx, proposal));
    }
    // An unsampled proposal: its upstream caller did not sample.
    let unsampled_parent = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::default(),
        true,
        TraceState::NONE,
    );
    let unsampled = leader
        .raft
        .propose_in(&Context::new().with_remote_span_context(unsampled_parent));
    assert!(!unsampled.entry_context().unwrap().is_sampled());
    entries.push((11, Some(unsampled.encoded_entry_context())));
    // A corrupt context, a foreign version and an entry from an old log without one.
    entries.push((12, Some(vec![0x01, 0xff, 0x00])));
    entries.push((13, Some(vec![0x7f; 28])));
    entries.push((14, None));
    let batch: Vec<(u64, Option<&[u8]>)> =
        entries.iter().map(|(i, c)| (*i, c.as_deref())).collect();
    let total = batch.len() as u64;

    // One batch per operation, as a busy leader would send them.
    leader
        .raft
        .append(Role::Leader, batch.clone())
        .finish(Ok(()));
    let commit = leader.raft.commit(batch.clone());
    for follower in &nodes[1..] {
        leader
            .raft
            .replicate(follower.id, batch.clone())
            .finish(Ok(()));
        follower
            .raft
            .append(Role::Follower, batch.clone())
            .finish(Ok(()));
    }
    commit.finish(Ok(()));
    for replica in &nodes {
        replica.raft.observe_commit(total, total);
        replica.raft.apply(batch.clone()).finish(Ok(()));
    }
    for (i, (_cx, proposal)) in proposals.drain(..).enumerate() {
        proposal.finish(i as u64 + 1);
    }
    unsampled.finish(11);
    leader.raft.propose().fail("not_leader");

    // State reported by the engine, then a re-election (node 2 takes over).
    for replica in &nodes {
        replica.raft.observe_term(1);
        replica.raft.observe_leader(Some(1));
        replica.raft.observe_log_entries(total);
    }
    leader.raft.observe_replication_lag([(2, 0), (3, 4)]);
    for replica in &nodes[1..] {
        replica.raft.observe_leader(None);
        replica.raft.observe_term(2);
        replica.raft.observe_leader(Some(2));
    }
    let mut election = nodes[1].raft.election(2);
    let mut vote = nodes[1].raft.vote(3, 2);
    vote.granted(true);
    vote.finish(Ok(()));
    election.won(true);
    election.finish(Ok(()));

    for replica in &nodes {
        replica.node.flush().await;
    }
    // 10 sampled proposals × (client + propose + commit + 3 appends + 2 replicates + 3
    // applies), plus one root append and one root apply per replica, vote and election.
    let expected = SAMPLED_PROPOSALS * 11 + 6 + 2;
    let spans = receiver.wait_for_spans_async(expected, WAIT).await.unwrap();

    for client_span in spans.iter().filter(|s| s.name() == "client.write") {
        let trace = client_span.trace_id_hex();
        let propose = spans_named(&spans, &trace, "raft.propose");
        assert_eq!(propose.len(), 1);
        let propose_id = propose[0].span_id_hex();
        assert_eq!(
            propose[0].parent_span_id_hex(),
            Some(client_span.span_id_hex())
        );
        for (name, count, replicas) in [
            ("raft.append", 3, 3),
            ("raft.apply", 3, 3),
            ("raft.replicate", 2, 1),
            ("raft.commit", 1, 1),
        ] {
            let found = spans_named(&spans, &trace, name);
            assert_eq!(found.len(), count, "{name} in trace {trace}");
            assert_eq!(services(&found).len(), replicas, "{name}: one per replica");
            for span in &found {
                assert_eq!(
                    span.parent_span_id_hex().as_deref(),
                    Some(propose_id.as_str()),
                    "{name} is a child of the proposal"
                );
                assert_eq!(span.attr("raft.entry.count").as_deref(), Some("14"));
            }
        }
        let roles: HashSet<String> = spans_named(&spans, &trace, "raft.append")
            .iter()
            .map(|s| s.attr("raft.role").unwrap())
            .collect();
        assert_eq!(roles, HashSet::from(["leader".into(), "follower".into()]));
    }
    assert_eq!(
        spans.iter().filter(|s| s.name() == "client.write").count(),
        SAMPLED_PROPOSALS
    );

    // The unsampled proposal left no span anywhere, on any replica.
    assert!(spans
        .iter()
        .all(|s| s.trace_id_hex() != "0af7651916cd43dd8448eb211c80319c"));

    // The entries without a readable context were appended and applied under fresh roots:
    // one per batch per replica.
    for name in ["raft.append", "raft.apply"] {
        let roots: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| s.name() == name && s.parent_span_id_hex().is_none())
            .collect();
        assert_eq!(services(&roots).len(), 3, "{name} roots: {roots:?}");
        assert_eq!(roots.len(), 3);
    }

    // Metrics: the Blixard set and ClaudeFS's, per node.
    let value = |service: &str, name: &str, attrs: &[(&str, &str)]| {
        latest_value(&receiver, service, name, attrs)
    };
    let n1 = "raft-node-1";
    assert_eq!(
        value(n1, "raft.proposals", &[("raft.node.id", "1")]),
        Some(12)
    );
    assert_eq!(
        value(n1, "raft.proposals.failed", &[("error.type", "not_leader")]),
        Some(1)
    );
    for replica in &nodes {
        let s = &replica.node.service;
        assert_eq!(value(s, "raft.committed_entries", &[]), Some(14), "{s}");
        assert_eq!(value(s, "raft.applied_entries", &[]), Some(14), "{s}");
        assert_eq!(value(s, "raft.commit_index", &[]), Some(14), "{s}");
        assert_eq!(value(s, "raft.log.entries", &[]), Some(14), "{s}");
    }
    assert_eq!(value(n1, "raft.term", &[]), Some(1));
    assert_eq!(value("raft-node-2", "raft.term", &[]), Some(2));
    assert_eq!(value(n1, "raft.leader.changes", &[]), Some(1));
    assert_eq!(value("raft-node-2", "raft.leader.changes", &[]), Some(2));
    assert_eq!(value("raft-node-3", "raft.leader.changes", &[]), Some(2));
    assert_eq!(
        value(n1, "raft.replication.lag", &[("raft.peer", "3")]),
        Some(4)
    );
    assert_eq!(
        value(n1, "raft.replication.lag", &[("raft.peer", "2")]),
        Some(0)
    );

    // Every histogram is there, and its exemplars link to exported spans.
    let span_ids: HashSet<String> = spans.iter().map(|s| s.span_id_hex()).collect();
    for (service, name, samples) in [
        (n1, "raft.proposal.duration", 12),
        (n1, "raft.commit.duration", 1),
        (n1, "raft.append.duration", 1),
        ("raft-node-2", "raft.append.duration", 1),
        ("raft-node-3", "raft.apply.duration", 1),
    ] {
        let metric = metrics_of(&receiver, service, name).pop().unwrap();
        let Some(Data::Histogram(h)) = metric.metric.data else {
            panic!("{name} is a histogram")
        };
        let count: u64 = h.data_points.iter().map(|p| p.count).sum();
        assert_eq!(count, samples, "{service} {name}");
        let exemplars: Vec<_> = h.data_points.iter().flat_map(|p| &p.exemplars).collect();
        assert!(!exemplars.is_empty(), "{service} {name} has exemplars");
        for e in exemplars {
            assert!(
                span_ids.contains(&hex(&e.span_id)),
                "{service} {name}: exemplar links to an exported span"
            );
        }
    }
}

/// A group's instruments put `raft.group` on every metric and span; `raft.has_leader`
/// follows the known leader; the replication lag is given in entries and in seconds, the
/// log size in bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_on_every_metric_and_span_with_leader_lag_and_size_gauges() {
    let receiver = Receiver::start();
    let s = "raft-group-1";
    let node = NodeTelemetry::new(&receiver, s);
    let raft = RaftInstruments::in_group(&node.telemetry, 1, "volume-7");
    let started = std::time::Instant::now();

    raft.observe_leader(Some(1));
    raft.observe_term(2);
    let proposal = raft.propose();
    raft.append(Role::Leader, [(1, None), (2, None)])
        .finish(Ok(()));
    raft.leader_appended([(1, None), (2, None)]);
    raft.replicate(2, [(1, None), (2, None)]).finish(Ok(()));
    // Peer 2 holds both entries, peer 3 neither.
    raft.observe_replication(2, [(2, Some(2)), (3, Some(0))]);
    raft.committed_through(2);
    raft.observe_commit(2, 2);
    raft.apply([(1, None), (2, None)]).finish(Ok(()));
    proposal.finish(2);
    raft.propose().fail("not_leader");
    raft.observe_log_entries(2);
    raft.observe_log_bytes(300);
    raft.vote(2, 3).finish(Ok(()));
    node.flush().await;
    receiver
        .wait_for_metric_async("raft.replication.lag.duration", WAIT)
        .await
        .unwrap();

    assert_eq!(latest_value(&receiver, s, "raft.has_leader", &[]), Some(1));
    assert_eq!(latest_value(&receiver, s, "raft.log.size", &[]), Some(300));
    fn peer(p: &str) -> [(&'static str, &str); 1] {
        [("raft.peer", p)]
    }
    assert_eq!(
        latest_value(&receiver, s, "raft.replication.lag", &peer("3")),
        Some(2)
    );
    assert_eq!(
        latest_double(&receiver, s, "raft.replication.lag.duration", &peer("2")),
        Some(0.0),
        "peer 2 lacks nothing"
    );
    let waited = latest_double(&receiver, s, "raft.replication.lag.duration", &peer("3"))
        .expect("peer 3's lag in seconds");
    assert!(
        waited > 0.0 && waited <= started.elapsed().as_secs_f64(),
        "entry 1 has waited since it was appended: {waited}"
    );
    let size = metrics_of(&receiver, s, "raft.log.size").pop().unwrap();
    assert_eq!(size.metric.unit, "By");

    // Every Raft metric point and every span carries the group.
    let mut names = HashSet::new();
    for metric in receiver.metrics() {
        if metric.resource_attr("service.name").as_deref() != Some(s)
            || !metric.name().starts_with("raft.")
        {
            continue;
        }
        let points: Vec<_> = match metric.metric.data.clone().unwrap() {
            Data::Sum(sum) => sum.data_points.into_iter().map(|p| p.attributes).collect(),
            Data::Gauge(g) => g.data_points.into_iter().map(|p| p.attributes).collect(),
            Data::Histogram(h) => h.data_points.into_iter().map(|p| p.attributes).collect(),
            other => panic!("{}: {other:?}", metric.name()),
        };
        for attributes in points {
            assert_eq!(
                ferrotel_testkit::find_attr(&attributes, "raft.group").as_deref(),
                Some("volume-7"),
                "{}",
                metric.name()
            );
        }
        names.insert(metric.name().to_owned());
    }
    for name in [
        "raft.proposals",
        "raft.proposals.failed",
        "raft.has_leader",
        "raft.replication.lag",
        "raft.replication.lag.duration",
        "raft.log.size",
        "raft.append.duration",
        "raft.commit.duration",
    ] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    let spans = receiver.wait_for_spans_async(6, WAIT).await.unwrap();
    for span in &spans {
        assert_eq!(
            span.attr("raft.group").as_deref(),
            Some("volume-7"),
            "{}",
            span.name()
        );
    }

    // Leaderless: 0 until a leader is known again.
    raft.observe_leader(None);
    node.flush().await;
    assert_eq!(latest_value(&receiver, s, "raft.has_leader", &[]), Some(0));
}

/// openraft's metrics channel snapshots become the Raft gauges and counters.
#[cfg(feature = "openraft")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_metrics_snapshots_become_raft_gauges() {
    use ferrotel_ops::raft::openraft::{follow_metrics, observe_metrics};
    use openraft::{BasicNode, CommittedLeaderId, LogId, RaftMetrics};

    let receiver = Receiver::start();
    let node = NodeTelemetry::new(&receiver, "raft-openraft-1");
    let raft = RaftInstruments::new(&node.telemetry, 1);
    let log_id = |term, index| LogId::new(CommittedLeaderId::new(term, 1), index);

    let mut m = RaftMetrics::<u64, BasicNode>::new_initial(1);
    m.current_term = 1;
    m.current_leader = Some(2);
    observe_metrics(&raft, &m);
    m.current_term = 3;
    m.current_leader = Some(1);
    m.last_log_index = Some(9);
    m.purged = Some(log_id(3, 1));
    m.replication = Some(
        [
            (1, Some(log_id(3, 9))),
            (2, Some(log_id(3, 9))),
            (3, Some(log_id(3, 5))),
        ]
        .into_iter()
        .collect(),
    );
    // Through the watch channel, as `Raft::metrics()` delivers them; the same snapshot
    // again changes nothing, and the follower ends when the sender (the node) is gone.
    let (tx, rx) = tokio::sync::watch::channel(m.clone());
    let follower = tokio::spawn(follow_metrics(raft.clone(), rx));
    tx.send(m.clone()).unwrap();
    drop(tx);
    follower.await.unwrap();
    observe_metrics(&raft, &m);
    node.flush().await;
    receiver
        .wait_for_metric_async("raft.replication.lag", WAIT)
        .await
        .unwrap();

    let s = "raft-openraft-1";
    let value = |name: &str, attrs: &[(&str, &str)]| latest_value(&receiver, s, name, attrs);
    assert_eq!(value("raft.term", &[]), Some(3));
    assert_eq!(value("raft.leader.changes", &[]), Some(2));
    assert_eq!(value("raft.log.entries", &[]), Some(8), "indexes 2..=9");
    assert_eq!(
        value("raft.replication.lag", &[("raft.peer", "2")]),
        Some(0)
    );
    assert_eq!(
        value("raft.replication.lag", &[("raft.peer", "3")]),
        Some(4)
    );
    assert_eq!(
        value("raft.replication.lag", &[("raft.peer", "1")]),
        None,
        "not itself"
    );
}

#[test]
fn raft_roots_carry_the_random_flag_sampled_or_not() {
    for sampler in ["always_on", "always_off"] {
        let receiver = Receiver::start();
        let telemetry = guard(&receiver, &[("OTEL_TRACES_SAMPLER", sampler)]);
        let raft = RaftInstruments::new(&telemetry.ops(), 1);
        // A proposal with no parent is a root: the entry carries 0x02 to every replica.
        let proposal = raft.propose_in(&opentelemetry::Context::new());
        let entry = proposal.entry_context().expect("a valid context");
        assert_eq!(
            entry.flags() & 0x02,
            0x02,
            "{sampler}: {:#04x}",
            entry.flags()
        );
        assert_eq!(entry.is_sampled(), sampler == "always_on");
        proposal.finish(1);
    }
}
