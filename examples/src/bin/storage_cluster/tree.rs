//! One trace, as received over OTLP, drawn as a tree: indentation by parent, then the span's
//! name, process, kind, duration, status and the attributes that tell the story.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use ferrotel_testkit::ReceivedSpan;

/// The attributes shown, in this order, when a span has them.
const SHOWN: &[&str] = &[
    "nfs.status",
    "nfs.io.bytes",
    "rpc.response.status_code",
    "error.type",
    "server.port",
    "raft.role",
    "raft.peer",
    "raft.term",
    "raft.log.index",
    "raft.entry.count",
    "raft.vote.granted",
    "raft.election.won",
    "storage.backend",
    "storage.io.bytes",
];

/// Whether the spans form one whole trace: one root, every other span's parent present.
pub(crate) fn is_whole(spans: &[ReceivedSpan]) -> bool {
    let ids: HashSet<String> = spans.iter().map(ReceivedSpan::span_id_hex).collect();
    let roots = spans
        .iter()
        .filter(|s| s.parent_span_id_hex().is_none())
        .count();
    roots == 1
        && spans
            .iter()
            .filter_map(ReceivedSpan::parent_span_id_hex)
            .all(|parent| ids.contains(&parent))
}

/// Whether the trace shows a WRITE's whole story, as a reader should first see it: whole,
/// from the gateway and all three nodes, each follower's append under the AppendEntries
/// server span (of that node, in this trace) that carried the entry, every `storage.*` span
/// under its node's `raft.apply`, and no span ending after a parent of its own process.
pub(crate) fn representative(spans: &[ReceivedSpan]) -> bool {
    if !is_whole(spans) {
        return false;
    }
    let by_id: HashMap<String, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id_hex(), s)).collect();
    let parent = |s: &ReceivedSpan| {
        s.parent_span_id_hex()
            .and_then(|p| by_id.get(&p).copied())
            .filter(|p| process(p) == process(s))
    };
    let instances: BTreeSet<String> = spans
        .iter()
        .filter_map(|s| s.resource_attr("service.instance.id"))
        .collect();
    let everywhere = |name: &str| {
        ["node-1", "node-2", "node-3"].iter().all(|node| {
            spans.iter().any(|s| {
                s.name() == name && s.resource_attr("service.instance.id").as_deref() == Some(*node)
            })
        })
    };
    let appends_carried = spans
        .iter()
        .filter(|s| s.name() == "raft.append" && s.attr("raft.role").as_deref() == Some("follower"))
        .all(|s| parent(s).is_some_and(|p| p.span.kind == 2));
    let stores_nested = spans
        .iter()
        .filter(|s| s.name().starts_with("storage."))
        .all(|s| parent(s).is_some_and(|p| p.name() == "raft.apply"));
    let inside = spans
        .iter()
        .all(|s| parent(s).is_none_or(|p| s.span.end_time_unix_nano <= p.span.end_time_unix_nano));
    instances.contains("gateway")
        && everywhere("raft.append")
        && everywhere("raft.apply")
        && appends_carried
        && stores_nested
        && inside
}

/// Draws the trace. Spans whose parent did not arrive are drawn as roots, and said so.
pub(crate) fn render(spans: &[ReceivedSpan]) -> String {
    let mut out = String::new();
    if spans.is_empty() {
        out.push_str("  (no spans of this trace arrived)\n");
        return out;
    }
    let ids: HashSet<String> = spans.iter().map(ReceivedSpan::span_id_hex).collect();
    let mut children: HashMap<Option<String>, Vec<&ReceivedSpan>> = HashMap::new();
    for span in spans {
        let parent = span.parent_span_id_hex().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(span);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.span.start_time_unix_nano, s.span.end_time_unix_nano));
    }
    let processes: BTreeSet<String> = spans.iter().map(process).collect();
    let _ = writeln!(
        out,
        "trace {} — {} spans, {} processes: {}",
        spans[0].trace_id_hex(),
        spans.len(),
        processes.len(),
        processes.into_iter().collect::<Vec<_>>().join(", ")
    );
    let roots = children.get(&None).cloned().unwrap_or_default();
    let start = roots
        .iter()
        .map(|s| s.span.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    for root in &roots {
        draw(&mut out, root, &children, "", "", start);
    }
    if !is_whole(spans) {
        out.push_str(
            "(incomplete: spans of this trace did not arrive; see the export warnings above)\n",
        );
    }
    out
}

fn draw(
    out: &mut String,
    span: &ReceivedSpan,
    children: &HashMap<Option<String>, Vec<&ReceivedSpan>>,
    lead: &str,
    rest: &str,
    trace_start: u64,
) {
    let orphan = lead.is_empty() && span.parent_span_id_hex().is_some();
    let _ = writeln!(out, "{lead}{}", line(span, trace_start, orphan));
    let Some(kids) = children.get(&Some(span.span_id_hex())) else {
        return;
    };
    for (i, kid) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        let (branch, more) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        draw(
            out,
            kid,
            children,
            &format!("{rest}{branch}"),
            &format!("{rest}{more}"),
            trace_start,
        );
    }
}

fn line(span: &ReceivedSpan, trace_start: u64, orphan: bool) -> String {
    let s = &span.span;
    let duration_ms = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) as f64 / 1e6;
    let offset_ms = s.start_time_unix_nano.saturating_sub(trace_start) as f64 / 1e6;
    let kind = match s.kind {
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "internal",
    };
    let status = match &s.status {
        Some(st) if st.code == 2 && st.message.is_empty() => "ERROR".to_string(),
        Some(st) if st.code == 2 => format!("ERROR({})", st.message),
        Some(st) if st.code == 1 => "OK".to_string(),
        _ => "UNSET".to_string(),
    };
    let mut text = format!(
        "{} [{}] {kind} +{offset_ms:.2}ms {duration_ms:.2}ms {status}",
        span.name(),
        process(span),
    );
    if orphan {
        text.push_str(" (its parent span did not arrive)");
    }
    for key in SHOWN {
        if let Some(value) = span.attr(key) {
            let _ = write!(text, " {key}={value}");
        }
    }
    text
}

/// `service.name/service.instance.id`.
fn process(span: &ReceivedSpan) -> String {
    let name = span
        .resource_attr("service.name")
        .unwrap_or_else(|| "?".into());
    match span.resource_attr("service.instance.id") {
        Some(instance) => format!("{name}/{instance}"),
        None => name,
    }
}
