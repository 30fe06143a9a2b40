//! A real three-node openraft cluster in one process: the traced storage, state machine and
//! network wrappers, real elections, and what reaches the receiver from every node.
#![cfg(feature = "openraft")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use ferrotel_ops::raft::openraft::{
    client_write, follow_metrics, observe_metrics, Traced, TracedLogStore, TracedNetworkFactory,
    TracedStateMachine,
};
use ferrotel_ops::raft::RaftInstruments;
use ferrotel_testkit::{ReceivedSpan, Receiver};
use openraft::{Config, Raft};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::Context;
use support::openraft_mem::{MemLog, MemRaft, MemStateMachine, Router, TypeConfig};
use support::{latest_double, latest_value, NodeTelemetry, WAIT};

struct Node {
    id: u64,
    telemetry: NodeTelemetry,
    instruments: RaftInstruments,
    raft: MemRaft,
    state_machine: MemStateMachine,
}

struct Cluster {
    router: Router,
    nodes: Vec<Node>,
}

/// The size the tests give every log entry, so the log size is a multiple of it.
const ENTRY_BYTES: u64 = 100;

fn service(id: u64) -> String {
    format!("openraft-node-{id}")
}

/// Three traced nodes; node 1 initializes the cluster and wins the first (real) election.
async fn cluster(receiver: &Receiver) -> Cluster {
    let config = Config {
        heartbeat_interval: 100,
        election_timeout_min: 1500,
        election_timeout_max: 3000,
        // Small batches, so a follower that falls behind catches up in multi-entry appends.
        max_payload_entries: 4,
        // Purged logs are gone at once, so a lagging follower needs a snapshot.
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Default::default()
    };
    let config = Arc::new(config.validate().unwrap());
    let router = Router::default();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        let telemetry = NodeTelemetry::new(receiver, &service(id));
        let instruments = RaftInstruments::new(&telemetry.telemetry, id);
        let state_machine = MemStateMachine::default();
        let raft = Raft::new(
            id,
            Arc::clone(&config),
            TracedNetworkFactory::new(router.network(id), instruments.clone()),
            TracedLogStore::new(MemLog::default(), instruments.clone())
                .with_entry_size(|_: &openraft::Entry<TypeConfig>| ENTRY_BYTES),
            TracedStateMachine::new(state_machine.clone(), instruments.clone()),
        )
        .await
        .unwrap();
        tokio::spawn(follow_metrics(instruments.clone(), raft.metrics()));
        router.add(id, raft.clone());
        router.serve_traced(
            id,
            instruments.clone(),
            telemetry.tracer_provider.tracer("transport"),
        );
        nodes.push(Node {
            id,
            telemetry,
            instruments,
            raft,
            state_machine,
        });
    }
    nodes[0]
        .raft
        .initialize(BTreeSet::from([1, 2, 3]))
        .await
        .unwrap();
    for node in &nodes {
        node.raft
            .wait(Some(WAIT))
            .current_leader(1, "node 1 elected")
            .await
            .unwrap();
    }
    Cluster { router, nodes }
}

/// A write through `client_write` on `node`, inside its own sampled `client.write` span:
/// (trace id, client span id, log index).
async fn sampled_write(node: &Node, value: u64) -> (String, String, u64) {
    let client = node.telemetry.tracer_provider.tracer("client");
    let cx = Context::new().with_span(client.start("client.write"));
    let (trace, span) = {
        let sc = cx.span().span_context().clone();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    };
    let response = client_write(&node.raft, &node.instruments, value)
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    (trace, span, response.log_id.index)
}

async fn wait_applied(nodes: &[&Node], index: u64) {
    for node in nodes {
        node.raft
            .wait(Some(WAIT))
            .applied_index_at_least(Some(index), "applied")
            .await
            .unwrap();
    }
}

/// Waits until `leader` knows `peer` holds the log up to `index`: every RPC that brought it
/// there has returned, so its span has ended.
async fn wait_matched(leader: &Node, peer: u64, index: u64) {
    leader
        .raft
        .wait(Some(WAIT))
        .metrics(
            |m| {
                m.replication
                    .as_ref()
                    .and_then(|r| r.get(&peer).cloned().flatten())
                    .is_some_and(|matched| matched.index >= index)
            },
            "peer caught up",
        )
        .await
        .unwrap();
}

async fn flush(nodes: &[&Node]) {
    for node in nodes {
        node.telemetry.flush().await;
    }
}

fn in_trace<'a>(spans: &'a [ReceivedSpan], trace: &str, name: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id_hex() == trace && s.name() == name)
        .collect()
}

fn node_ids(spans: &[&ReceivedSpan]) -> BTreeSet<String> {
    spans
        .iter()
        .map(|s| s.attr("raft.node.id").unwrap())
        .collect()
}

fn all_nodes(ids: &[u64]) -> BTreeSet<String> {
    ids.iter().map(u64::to_string).collect()
}

/// Checks that `trace` holds one proposal (a child of `client_span`) and, as its children,
/// the append and apply of the entry at `index` on every node of `ids`. Returns the
/// proposal's span id.
fn assert_whole(
    spans: &[ReceivedSpan],
    trace: &str,
    client_span: &str,
    index: u64,
    ids: &[u64],
) -> String {
    let propose = in_trace(spans, trace, "raft.propose");
    assert_eq!(propose.len(), 1, "one proposal in {trace}");
    assert_eq!(
        propose[0].parent_span_id_hex().as_deref(),
        Some(client_span)
    );
    assert_eq!(
        propose[0].attr("raft.log.index"),
        Some(index.to_string()),
        "the proposal names its entry"
    );
    let propose_id = propose[0].span_id_hex();
    for name in ["raft.append", "raft.apply"] {
        let found = in_trace(spans, trace, name);
        assert_eq!(
            node_ids(&found),
            all_nodes(ids),
            "{name} on every node, {trace}"
        );
        for span in &found {
            let parent = span.parent_span_id_hex();
            if name == "raft.append" && span.attr("raft.role").as_deref() == Some("follower") {
                assert_follower_append(spans, span, &propose_id);
            } else {
                assert_eq!(
                    parent.as_deref(),
                    Some(propose_id.as_str()),
                    "{name} is a child of the proposal"
                );
            }
            assert_eq!(span.attr("raft.log.index"), Some(index.to_string()));
            assert_eq!(span.attr("error.type"), None, "{name} succeeded");
        }
    }
    propose_id
}

/// The span ids `span` links to.
fn links(span: &ReceivedSpan) -> Vec<String> {
    span.span
        .links
        .iter()
        .map(|l| l.span_id.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
}

/// A follower's append is the child of the AppendEntries server span of its own node that
/// delivered it, linked to the proposal, or (its entry rode in another trace's RPC) the
/// proposal's child, linked to that server span.
fn assert_follower_append(spans: &[ReceivedSpan], append: &ReceivedSpan, propose_id: &str) {
    let node = append.attr("raft.node.id").unwrap();
    let own_server = |id: &str| {
        spans.iter().any(|s| {
            s.span_id_hex() == id
                && s.name() == "raft.AppendEntries"
                && s.resource_attr("service.name") == Some(service(node.parse().unwrap()))
        })
    };
    let parent = append.parent_span_id_hex().unwrap();
    let links = links(append);
    if parent == propose_id {
        assert!(
            links.iter().any(|l| own_server(l)),
            "node {node}'s append links to the RPC that delivered it: {links:?}"
        );
    } else {
        assert!(
            own_server(&parent),
            "node {node}'s append is a child of its own AppendEntries server span"
        );
        assert_eq!(
            links,
            vec![propose_id.to_string()],
            "and links to the proposal"
        );
    }
}

/// On every node, the span current while the state machine applied `value` was that node's
/// `raft.apply` of the entry, in the write's trace.
fn assert_applied_under_apply(spans: &[ReceivedSpan], nodes: &[Node], trace: &str, value: u64) {
    for node in nodes {
        let under = node
            .state_machine
            .applied_under()
            .into_iter()
            .find(|(v, _)| *v == value)
            .map(|(_, sc)| sc)
            .unwrap();
        let apply = spans
            .iter()
            .find(|s| s.span_id_hex() == under.span_id().to_string())
            .unwrap_or_else(|| {
                panic!(
                    "node {}: the current span when {value} was applied",
                    node.id
                )
            });
        assert_eq!(apply.name(), "raft.apply", "node {}", node.id);
        assert_eq!(apply.trace_id_hex(), trace);
        assert_eq!(apply.attr("raft.node.id"), Some(node.id.to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_whole_on_all_three_nodes_even_when_batched() {
    let receiver = Receiver::start();
    let Cluster { router, nodes } = cluster(&receiver).await;
    let (leader, lagging) = (&nodes[0], &nodes[2]);

    // Node 3 falls behind (cut off, kept from campaigning meanwhile), so it later receives
    // the writes in batches of up to `max_payload_entries`.
    lagging.raft.runtime_config().elect(false);
    router.cut_off(lagging.id);
    let mut writes = Vec::new();
    for value in 0..12u64 {
        let leader_raft = leader.raft.clone();
        let instruments = leader.instruments.clone();
        let client = leader.telemetry.tracer_provider.tracer("client");
        writes.push(tokio::spawn(async move {
            let cx = Context::new().with_span(client.start("client.write"));
            let sc = cx.span().span_context().clone();
            let response = client_write(&leader_raft, &instruments, 100 + value)
                .with_context(cx.clone())
                .await
                .unwrap();
            cx.span().end();
            (
                sc.trace_id().to_string(),
                sc.span_id().to_string(),
                response.log_id.index,
                100 + value,
            )
        }));
    }
    let mut done = Vec::new();
    for write in writes {
        done.push(write.await.unwrap());
    }
    let last = done.iter().map(|(_, _, index, _)| *index).max().unwrap();
    router.restore(lagging.id);
    wait_applied(&nodes.iter().collect::<Vec<_>>(), last).await;
    // The leader's replicate spans end when node 3's answers arrive.
    wait_matched(leader, lagging.id, last).await;
    lagging.raft.runtime_config().elect(true);
    flush(&nodes.iter().collect::<Vec<_>>()).await;
    // Per write at least: client, propose, 3 appends, 3 applies, 2 replicates.
    let spans = receiver
        .wait_for_spans_async(done.len() * 10, WAIT)
        .await
        .unwrap();

    let mut multi_entry_appends_on_node_3 = 0;
    let mut replicate_ids = HashSet::new();
    let (mut under_rpc, mut linked_to_rpc) = (0, 0);
    for (trace, client_span, index, value) in &done {
        let propose_id = assert_whole(&spans, trace, client_span, *index, &[1, 2, 3]);
        assert_applied_under_apply(&spans, &nodes, trace, *value);
        for append in in_trace(&spans, trace, "raft.append") {
            if append.attr("raft.role").as_deref() == Some("follower") {
                if append.parent_span_id_hex().as_deref() == Some(propose_id.as_str()) {
                    linked_to_rpc += 1;
                } else {
                    under_rpc += 1;
                }
            }
        }
        let appends = in_trace(&spans, trace, "raft.append");
        assert_eq!(appends.len(), 3, "one append per node in {trace}");
        for span in &appends {
            let role = span.attr("raft.role").unwrap();
            let expected = if span.attr("raft.node.id").as_deref() == Some("1") {
                "leader"
            } else {
                "follower"
            };
            assert_eq!(role, expected);
            if span.attr("raft.node.id").as_deref() == Some("3")
                && span
                    .attr("raft.entry.count")
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    > 1
            {
                multi_entry_appends_on_node_3 += 1;
            }
        }
        // The leader replicated the entry to both followers; attempts while node 3 was cut
        // off are in the trace too, failed.
        let replicates = in_trace(&spans, trace, "raft.replicate");
        let delivered: Vec<&ReceivedSpan> = replicates
            .iter()
            .copied()
            .filter(|s| s.attr("error.type").is_none())
            .collect();
        let peers: BTreeSet<String> = delivered
            .iter()
            .map(|s| s.attr("raft.peer").unwrap())
            .collect();
        assert_eq!(peers, all_nodes(&[2, 3]), "replicated to both, {trace}");
        for span in &replicates {
            assert_eq!(span.attr("raft.node.id").as_deref(), Some("1"));
            if let Some(error) = span.attr("error.type") {
                assert_eq!(span.attr("raft.peer").as_deref(), Some("3"));
                assert!(
                    ["unreachable", "cancelled", "timeout"].contains(&error.as_str()),
                    "{error}"
                );
            }
        }
        replicate_ids.extend(replicates.iter().map(|s| s.span_id_hex()));
        // The leader waited for the entry's commit: a commit span on node 1, in the trace.
        let commits = in_trace(&spans, trace, "raft.commit");
        assert_eq!(commits.len(), 1, "one commit wait in {trace}");
        assert_eq!(commits[0].attr("raft.node.id").as_deref(), Some("1"));
        assert_eq!(commits[0].attr("error.type"), None, "{trace}");
    }
    assert!(
        multi_entry_appends_on_node_3 > 0,
        "node 3 appended the backlog in batches"
    );
    // Both cases of the rule occurred: an append under the RPC of its own trace, and one
    // whose entry rode in another trace's RPC.
    assert!(
        under_rpc > 0 && linked_to_rpc > 0,
        "{under_rpc} {linked_to_rpc}"
    );
    // The router (standing in for a client layer) saw a replicate span as the current
    // context of the AppendEntries calls it carried.
    assert!(router
        .append_contexts()
        .iter()
        .any(|sc| replicate_ids.contains(&sc.span_id().to_string())));
    let expected: Vec<u64> = (100..112).collect();
    for node in &nodes {
        let mut values = node.state_machine.values();
        values.sort_unstable();
        assert_eq!(values, expected, "node {} applied every write", node.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_proposal_leaves_no_raft_span_on_any_node() {
    let receiver = Receiver::start();
    let Cluster { nodes, .. } = cluster(&receiver).await;
    let leader = &nodes[0];
    let unsampled_trace = "0af7651916cd43dd8448eb211c80319c";
    let parent = SpanContext::new(
        TraceId::from_hex(unsampled_trace).unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::default(),
        true,
        TraceState::NONE,
    );
    let response = client_write(&leader.raft, &leader.instruments, 7)
        .with_context(Context::new().with_remote_span_context(parent))
        .await
        .unwrap();
    let unsampled_index = response.log_id.index;
    // A sampled write after it, so the spans of the unsampled one would have had time and
    // a flush to arrive.
    let (trace, client_span, index) = sampled_write(leader, 8).await;
    let all: Vec<&Node> = nodes.iter().collect();
    wait_applied(&all, index).await;
    flush(&all).await;
    let spans = receiver.wait_for_spans_async(8, WAIT).await.unwrap();

    assert_whole(&spans, &trace, &client_span, index, &[1, 2, 3]);
    assert!(
        spans.iter().all(|s| s.trace_id_hex() != unsampled_trace),
        "no span of the unsampled trace"
    );
    assert!(
        spans.iter().all(|s| !(s.name().starts_with("raft.")
            && s.attr("raft.log.index") == Some(unsampled_index.to_string()))),
        "no raft span for the unsampled entry, on any node"
    );
    for node in &nodes {
        assert_eq!(node.state_machine.values(), vec![7, 8], "node {}", node.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_a_corrupt_context_applies_under_a_fresh_root() {
    let receiver = Receiver::start();
    let Cluster { nodes, .. } = cluster(&receiver).await;
    let leader = &nodes[0];
    let corrupt = Traced {
        context: vec![0x01, 0xff, 0x00],
        data: 42,
    };
    let response = leader.raft.client_write(corrupt).await.unwrap();
    let index = response.log_id.index;
    let all: Vec<&Node> = nodes.iter().collect();
    wait_applied(&all, index).await;
    flush(&all).await;
    receiver.wait_for_spans_async(6, WAIT).await.unwrap();
    let spans = receiver.spans();

    for node in &nodes {
        assert_eq!(node.state_machine.values(), vec![42], "node {}", node.id);
        // The nodes' sampler (parent-based, always on) records the fresh roots.
        for name in ["raft.append", "raft.apply"] {
            let roots: Vec<&ReceivedSpan> = spans
                .iter()
                .filter(|s| {
                    s.name() == name
                        && s.attr("raft.node.id") == Some(node.id.to_string())
                        && s.attr("raft.log.index") == Some(index.to_string())
                })
                .collect();
            assert_eq!(roots.len(), 1, "{name} on node {}", node.id);
            assert_eq!(roots[0].parent_span_id_hex(), None, "a fresh root");
            assert_eq!(roots[0].attr("error.type"), None);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_leader_fails_a_new_one_is_elected_and_writes_continue() {
    let receiver = Receiver::start();
    let Cluster { router, nodes } = cluster(&receiver).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let (_, _, index) = sampled_write(&nodes[0], 1).await;
    wait_applied(&all, index).await;
    let first_term = nodes[0].raft.metrics().borrow().current_term;

    router.cut_off(1);
    nodes[0].raft.shutdown().await.unwrap();
    let elected = nodes[1]
        .raft
        .wait(Some(WAIT))
        .metrics(|m| m.current_leader.is_some_and(|l| l != 1), "a new leader")
        .await
        .unwrap();
    let new_leader = elected.current_leader.unwrap();
    let leader = nodes.iter().find(|n| n.id == new_leader).unwrap();
    let survivors: Vec<&Node> = nodes[1..].iter().collect();
    let (trace, client_span, index) = sampled_write(leader, 2).await;
    wait_applied(&survivors, index).await;
    for node in &survivors {
        node.raft
            .wait(Some(WAIT))
            .current_leader(new_leader, "every survivor follows the new leader")
            .await
            .unwrap();
        assert_eq!(node.state_machine.values(), vec![1, 2]);
        // `follow_metrics` may be a snapshot behind; observing the current one again
        // changes nothing it already saw.
        observe_metrics(&node.instruments, &node.raft.metrics().borrow());
    }
    flush(&survivors).await;
    let spans = receiver.wait_for_spans_async(8, WAIT).await.unwrap();
    assert_whole(&spans, &trace, &client_span, index, &[2, 3]);
    let new_term = elected.current_term;
    let won: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| {
            s.name() == "raft.election"
                && s.attr("raft.node.id") == Some(new_leader.to_string())
                && s.attr("raft.election.won").as_deref() == Some("true")
        })
        .collect();
    assert_eq!(won.len(), 1, "node {new_leader} won one election");
    assert_eq!(won[0].attr("raft.term"), Some(new_term.to_string()));
    let votes: BTreeSet<String> = spans
        .iter()
        .filter(|s| {
            s.name() == "raft.vote"
                && s.attr("raft.node.id") == Some(new_leader.to_string())
                && s.attr("raft.term") == Some(new_term.to_string())
                && s.attr("raft.vote.granted").as_deref() == Some("true")
        })
        .map(|s| s.attr("raft.peer").unwrap())
        .collect();
    assert!(!votes.is_empty(), "a vote granted to node {new_leader}");

    for node in &survivors {
        let s = service(node.id);
        let term = node.raft.metrics().borrow().current_term;
        assert!(term > first_term, "a new term after the election");
        assert_eq!(
            latest_value(&receiver, &s, "raft.term", &[]),
            Some(term as i64),
            "{s}"
        );
        assert_eq!(
            latest_value(&receiver, &s, "raft.leader.changes", &[]),
            Some(2),
            "{s}: node 1, then node {new_leader}"
        );
        assert!(latest_value(&receiver, &s, "raft.applied_entries", &[]).unwrap() >= 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_a_purged_log_gets_a_traced_snapshot() {
    let receiver = Receiver::start();
    let Cluster { router, nodes } = cluster(&receiver).await;
    let (leader, lagging) = (&nodes[0], &nodes[2]);
    lagging.raft.runtime_config().elect(false);
    router.cut_off(lagging.id);
    let mut last = 0;
    for value in 1..=3 {
        last = sampled_write(leader, value).await.2;
    }
    leader.raft.trigger().snapshot().await.unwrap();
    leader
        .raft
        .wait(Some(WAIT))
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= last),
            "snapshot built",
        )
        .await
        .unwrap();
    leader.raft.trigger().purge_log(last).await.unwrap();
    leader
        .raft
        .wait(Some(WAIT))
        .metrics(|m| m.purged.is_some_and(|p| p.index >= last), "log purged")
        .await
        .unwrap();
    router.restore(lagging.id);
    wait_applied(&[lagging], last).await;
    wait_matched(leader, lagging.id, last).await;
    lagging.raft.runtime_config().elect(true);
    assert_eq!(
        lagging.state_machine.values(),
        vec![1, 2, 3],
        "from the snapshot"
    );
    let all: Vec<&Node> = nodes.iter().collect();
    flush(&all).await;
    receiver.wait_for_spans_async(3, WAIT).await.unwrap();
    let spans = receiver.spans();
    let snapshots = |node: u64, operation: &str| {
        spans
            .iter()
            .filter(|s| {
                s.name() == "raft.snapshot"
                    && s.attr("raft.node.id") == Some(node.to_string())
                    && s.attr("raft.snapshot.operation").as_deref() == Some(operation)
                    && s.attr("error.type").is_none()
            })
            .count()
    };
    assert!(snapshots(1, "build") >= 1, "built on the leader");
    assert!(snapshots(1, "send") >= 1, "sent by the leader");
    assert_eq!(snapshots(3, "install"), 1, "installed on node 3");
}

/// openraft's RPCs carrying `Traced` data can cross a service's own network (this test is
/// the compiler's check of the bounds).
#[test]
fn openraft_rpcs_carrying_traced_data_are_serializable() {
    fn serializable<T: serde::Serialize + serde::de::DeserializeOwned>() {}
    serializable::<Traced<u64>>();
    serializable::<openraft::raft::AppendEntriesRequest<TypeConfig>>();
    serializable::<openraft::raft::InstallSnapshotRequest<TypeConfig>>();
}

/// A follower cut off from the leader lags in entries and in seconds, the others do not;
/// every node knows a leader, and the log size follows the entries appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_follower_lags_in_entries_and_seconds() {
    let receiver = Receiver::start();
    let Cluster { router, nodes } = cluster(&receiver).await;
    let (leader, lagging) = (&nodes[0], &nodes[2]);
    let (_, _, index) = sampled_write(leader, 1).await;
    wait_applied(&nodes.iter().collect::<Vec<_>>(), index).await;
    router.cut_off(lagging.id);
    let cut_at = std::time::Instant::now();
    let mut last = index;
    for value in 2..=3 {
        last = sampled_write(leader, value).await.2;
    }
    wait_matched(leader, 2, last).await;

    // The gauges follow the metrics channel: poll until they show the cut.
    let s = service(leader.id);
    let peer = |p: u64| [("raft.peer", p.to_string())];
    let lag = |p: u64, name: &str| {
        let attrs = peer(p);
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        (
            latest_value(&receiver, &s, "raft.replication.lag", &attrs),
            latest_double(&receiver, &s, name, &attrs),
        )
    };
    let deadline = std::time::Instant::now() + WAIT;
    let (behind, waited) = loop {
        flush(&[leader]).await;
        let (entries_2, seconds_2) = lag(2, "raft.replication.lag.duration");
        let (entries_3, seconds_3) = lag(3, "raft.replication.lag.duration");
        if entries_2 == Some(0) && seconds_2 == Some(0.0) && entries_3 >= Some(2) {
            break (entries_3, seconds_3);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "peer 2 {entries_2:?}/{seconds_2:?}, peer 3 {entries_3:?}/{seconds_3:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(behind >= Some(2), "{behind:?}");
    let waited = waited.expect("the lagging peer's lag in seconds");
    assert!(
        waited > 0.0 && waited <= cut_at.elapsed().as_secs_f64(),
        "the oldest entry peer 3 lacks was appended after the cut: {waited}"
    );
    flush(&[&nodes[1]]).await;
    for node in &nodes[..2] {
        assert_eq!(
            latest_value(&receiver, &service(node.id), "raft.has_leader", &[]),
            Some(1),
            "node {}",
            node.id
        );
    }
    let size = latest_value(&receiver, &s, "raft.log.size", &[]).expect("the log size");
    assert!(
        size > 0 && (size as u64).is_multiple_of(ENTRY_BYTES),
        "{ENTRY_BYTES} bytes an entry: {size}"
    );
    router.restore(lagging.id);
}
