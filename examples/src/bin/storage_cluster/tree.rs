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

/// What [`representative`] needs of a span, from the embedded receiver or Jaeger's API.
pub(crate) struct Shape {
    id: String,
    parent: Option<String>,
    name: String,
    /// `service.instance.id`.
    instance: String,
    server: bool,
    follower: bool,
    /// End time, in any unit shared by the trace's spans.
    end: u64,
}

impl Shape {
    fn of(span: &ReceivedSpan) -> Shape {
        Shape {
            id: span.span_id_hex(),
            parent: span.parent_span_id_hex(),
            name: span.name().to_string(),
            instance: span
                .resource_attr("service.instance.id")
                .unwrap_or_default(),
            server: span.span.kind == 2,
            follower: span.attr("raft.role").as_deref() == Some("follower"),
            end: span.span.end_time_unix_nano,
        }
    }
}

/// The spans of one trace of Jaeger's `/api/traces/{id}` answer (`data[0]`).
pub(crate) fn jaeger_shapes(trace: &serde_json::Value) -> Vec<Shape> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let tag = |tags: &serde_json::Value, key: &str| {
        tags.as_array()
            .into_iter()
            .flatten()
            .find(|t| t["key"] == key)
            .map(|t| text(&t["value"]))
    };
    let instances: HashMap<String, String> = trace["processes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, p)| {
            (
                id.clone(),
                tag(&p["tags"], "service.instance.id").unwrap_or_default(),
            )
        })
        .collect();
    trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Shape {
            id: text(&s["spanID"]),
            parent: s["references"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["refType"] == "CHILD_OF")
                .map(|r| text(&r["spanID"])),
            name: text(&s["operationName"]),
            instance: instances
                .get(&text(&s["processID"]))
                .cloned()
                .unwrap_or_default(),
            server: tag(&s["tags"], "span.kind").as_deref() == Some("server"),
            follower: tag(&s["tags"], "raft.role").as_deref() == Some("follower"),
            end: s["startTime"].as_u64().unwrap_or(0) + s["duration"].as_u64().unwrap_or(0),
        })
        .collect()
}

/// Whether the trace at the receiver shows a WRITE's whole story (see [`representative_shape`]).
pub(crate) fn representative(spans: &[ReceivedSpan]) -> bool {
    let shapes: Vec<Shape> = spans.iter().map(Shape::of).collect();
    representative_shape(&shapes)
}

/// Whether the trace shows a WRITE's whole story, as a reader should first see it: whole,
/// from the gateway and all three nodes, each follower's append under the AppendEntries
/// server span (of that node, in this trace) that carried the entry, every `storage.*` span
/// under its node's `raft.apply`, and no span ending after a parent of its own process.
pub(crate) fn representative_shape(spans: &[Shape]) -> bool {
    let by_id: HashMap<&str, &Shape> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let roots = spans.iter().filter(|s| s.parent.is_none()).count();
    let whole = roots == 1
        && spans
            .iter()
            .filter_map(|s| s.parent.as_deref())
            .all(|p| by_id.contains_key(p));
    let parent = |s: &Shape| {
        s.parent
            .as_deref()
            .and_then(|p| by_id.get(p).copied())
            .filter(|p| p.instance == s.instance)
    };
    let everywhere = |name: &str| {
        ["node-1", "node-2", "node-3"]
            .iter()
            .all(|node| spans.iter().any(|s| s.name == name && s.instance == *node))
    };
    let appends_carried = spans
        .iter()
        .filter(|s| s.name == "raft.append" && s.follower)
        .all(|s| parent(s).is_some_and(|p| p.server));
    let stores_nested = spans
        .iter()
        .filter(|s| s.name.starts_with("storage."))
        .all(|s| parent(s).is_some_and(|p| p.name == "raft.apply"));
    let inside = spans
        .iter()
        .all(|s| parent(s).is_none_or(|p| s.end <= p.end));
    whole
        && spans.iter().any(|s| s.instance == "gateway")
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
