//! What each request gets: routing, content negotiation, the rate limit, and the bounded,
//! off-thread collection.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::rate_limit::TokenBucket;
use crate::render::{
    render_openmetrics, render_prometheus_text, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE,
};
use crate::MetricsSource;

/// The path serving the metrics.
pub(crate) const METRICS_PATH: &str = "/metrics";
/// The path answering `ok` while the server runs.
pub(crate) const HEALTH_PATH: &str = "/health";
/// The path of the index page, which links the other two.
pub(crate) const INDEX_PATH: &str = "/";

const PLAIN_TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// The index page: fixed text with relative links, so it holds nothing a request can inject.
const INDEX_PAGE: &str = "<!DOCTYPE html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>ferrotel</title></head>
<body>
<h1>ferrotel</h1>
<ul>
<li><a href=\"metrics\">/metrics</a>: the metrics, for Prometheus</li>
<li><a href=\"health\">/health</a>: ok while the service runs</li>
</ul>
</body>
</html>
";

/// Everything a request handler needs, shared by all connections.
pub(crate) struct Shared {
    pub(crate) source: MetricsSource,
    pub(crate) limiter: TokenBucket,
    pub(crate) collect_timeout: Duration,
    /// One collection at a time: a source that hangs holds this permit, so later scrapes
    /// time out (503) instead of piling up blocking threads.
    pub(crate) collecting: Arc<Semaphore>,
}

/// Which text format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenMetrics,
    PrometheusText,
    /// The protobuf exposition: what Prometheus asks for with native histograms on.
    Protobuf,
}

/// Answers one request; never fails (errors become status codes).
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let known = path == METRICS_PATH || path == HEALTH_PATH || path == INDEX_PATH;
    if !known {
        return Ok(respond(StatusCode::NOT_FOUND, PLAIN_TEXT, "not found\n"));
    }
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        let mut response = respond(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN_TEXT,
            "method not allowed\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    if path == HEALTH_PATH {
        // Not rate limited: probes must keep seeing a live server while scrapes are throttled.
        return Ok(respond(StatusCode::OK, PLAIN_TEXT, "ok"));
    }
    if path == INDEX_PATH {
        // Fixed text, not rate limited: it costs no collection (hyper leaves a HEAD's body out).
        return Ok(respond(StatusCode::OK, HTML, INDEX_PAGE));
    }
    if !shared.limiter.try_acquire() {
        let mut response = respond(
            StatusCode::TOO_MANY_REQUESTS,
            PLAIN_TEXT,
            "too many requests\n",
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(response);
    }
    let format = negotiate(request.headers());
    let content_type = match format {
        Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        Format::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
        Format::Protobuf => crate::PROTOBUF_CONTENT_TYPE,
    };
    if method == Method::HEAD {
        // HEAD says what a GET would return without paying for a collection.
        return Ok(respond(StatusCode::OK, content_type, Bytes::new()));
    }
    Ok(match collect(&shared, format).await {
        Ok(body) => respond(StatusCode::OK, content_type, body),
        Err(Failure::TimedOut) => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            PLAIN_TEXT,
            "metrics collection timed out\n",
        ),
        Err(Failure::Crashed) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            PLAIN_TEXT,
            "metrics collection failed\n",
        ),
    })
}

enum Failure {
    TimedOut,
    Crashed,
}

/// Collects and renders on the blocking pool, bounded by the collect timeout (waiting for a
/// previous collection included).
async fn collect(shared: &Shared, format: Format) -> Result<Bytes, Failure> {
    let deadline = Instant::now() + shared.collect_timeout;
    let permit = match timeout_at(deadline, shared.collecting.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_closed)) => return Err(Failure::Crashed),
        Err(_elapsed) => return Err(Failure::TimedOut),
    };
    let source = shared.source.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let request = source();
        match format {
            Format::OpenMetrics => Bytes::from(render_openmetrics(&request)),
            Format::PrometheusText => Bytes::from(render_prometheus_text(&request)),
            Format::Protobuf => Bytes::from(crate::render_protobuf(&request)),
        }
    });
    match timeout_at(deadline, task).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_panicked_or_cancelled)) => Err(Failure::Crashed),
        Err(_elapsed) => Err(Failure::TimedOut),
    }
}

/// The format of the `Accept` media range with the highest quality among those served
/// (the first listed on a tie): the protobuf exposition
/// (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
/// encoding=delimited`, which Prometheus asks for first with native histograms on),
/// OpenMetrics (which it asks for with exemplar storage), or Prometheus text otherwise.
fn negotiate(headers: &HeaderMap) -> Format {
    let mut best: Option<(f32, Format)> = None;
    let ranges = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let params: Vec<(String, String)> = parts
            .filter_map(|param| param.split_once('='))
            .map(|(name, value)| {
                (
                    name.trim().to_ascii_lowercase(),
                    value.trim().trim_matches('"').to_owned(),
                )
            })
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let format = if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else if media.eq_ignore_ascii_case("application/vnd.google.protobuf")
            && param("proto") == Some("io.prometheus.client.MetricFamily")
            && param("encoding") == Some("delimited")
        {
            Format::Protobuf
        } else {
            continue;
        };
        let quality = param("q").map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, format));
        }
    }
    best.map_or(Format::PrometheusText, |(_, format)| format)
}

/// The headers every answer carries, hyper's own error answers included (see
/// [`TrackIdle`](crate::idle::TrackIdle)).
pub(crate) const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("x-xss-protection", "1; mode=block"),
];

/// A response with the body and the headers every response carries.
fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_for(accept: &str) -> Format {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_str(accept).unwrap_or(HeaderValue::from_static("")),
        );
        negotiate(&headers)
    }

    #[test]
    fn accept_negotiation() {
        // What Prometheus 2.42 sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(format_for(prometheus), Format::OpenMetrics);
        assert_eq!(
            format_for("Application/OpenMetrics-Text"),
            Format::OpenMetrics
        );
        assert_eq!(
            format_for("text/plain;version=0.0.4"),
            Format::PrometheusText
        );
        assert_eq!(format_for("*/*"), Format::PrometheusText);
        assert_eq!(
            format_for("application/openmetrics-text;q=0"),
            Format::PrometheusText
        );
        assert_eq!(negotiate(&HeaderMap::new()), Format::PrometheusText);
        // What Prometheus 3 sends with native histograms on, and the same preferring text.
        let native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(format_for(native), Format::Protobuf);
        let text_first = "application/openmetrics-text;version=1.0.0;q=0.5,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4";
        assert_eq!(format_for(text_first), Format::OpenMetrics);
        assert_eq!(
            format_for("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily"),
            Format::PrometheusText,
            "only the delimited encoding is served"
        );
    }
}
