//! Every environment variable ferrotel reads, as a documented constant.
//!
//! Common rules (OpenTelemetry SDK environment variable specification): an empty value is the
//! same as unset, surrounding whitespace is ignored, enum values are case-insensitive, booleans
//! are true only for a case-insensitive `true`, durations are integers in milliseconds and a
//! timeout of `0` means "no limit". Variables ferrotel does not know are ignored. Every size,
//! count and duration has a bound, listed in [`bounds`](crate::bounds).
//!
//! The `FERROTEL_*` variables are ferrotel's own additions; everything else comes from the
//! OpenTelemetry specification.

/// Every variable name above, in the order they are documented, for tools that check names
/// against them (`ferrotel-doctor` suggests the nearest one for a misspelt name). A test keeps
/// the list complete.
pub const ALL: &[&str] = &[
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_RESOURCE_ATTRIBUTES_POD_NAME,
    OTEL_RESOURCE_ATTRIBUTES_NODE_NAME,
    OTEL_RESOURCE_ATTRIBUTES_POD_UID,
    OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE,
    OTEL_LOG_LEVEL,
    OTEL_PROPAGATORS,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_TRACES_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_LOGS_EXPORTER,
    OTEL_BLRP_SCHEDULE_DELAY,
    OTEL_BLRP_EXPORT_TIMEOUT,
    OTEL_BLRP_MAX_QUEUE_SIZE,
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
    OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_METRICS_EXEMPLAR_FILTER,
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    OTEL_EXPORTER_OTLP_METRICS_INSECURE,
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    OTEL_EXPORTER_OTLP_LOGS_HEADERS,
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
    OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    OTEL_EXPORTER_OTLP_LOGS_INSECURE,
    OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
    OTEL_SEMCONV_STABILITY_OPT_IN,
    OTEL_CONFIG_FILE,
    FERROTEL_CONFIG_STRICT,
    FERROTEL_LOG_FORMAT,
    FERROTEL_METRICS_ADDR,
    FERROTEL_METRICS_RATE_LIMIT,
    FERROTEL_METRICS_BURST,
    FERROTEL_METRICS_MAX_CONNECTIONS,
    FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER,
    FERROTEL_NFS_METRICS,
    FERROTEL_STORAGE_METRICS,
    FERROTEL_METRICS_PREFIX,
    FERROTEL_SAMPLING_RULES,
    FERROTEL_RESOURCE_DETECTORS,
    FERROTEL_PROCESS_METRICS,
];

/// Disables the SDK for all signals. Boolean, default `false`.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// Value of the `service.name` resource attribute. Default `unknown_service:<executable>`.
/// Wins over a `service.name` given in [`OTEL_RESOURCE_ATTRIBUTES`].
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Resource attributes as `key1=value1,key2=value2`; values are percent-decoded. A malformed
/// member discards the whole value. Default: none.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// The OpenTelemetry Operator's downward-API variable for `k8s.pod.name` (`metadata.name`),
/// read by the `k8s` resource detector. Default: none.
pub const OTEL_RESOURCE_ATTRIBUTES_POD_NAME: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_NAME";
/// The OpenTelemetry Operator's downward-API variable for `k8s.node.name` (`spec.nodeName`),
/// read by the `k8s` resource detector. Default: none.
pub const OTEL_RESOURCE_ATTRIBUTES_NODE_NAME: &str = "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME";
/// The OpenTelemetry Operator's downward-API variable for `k8s.pod.uid` (`metadata.uid`), read
/// by the `k8s` resource detector. Default: none.
pub const OTEL_RESOURCE_ATTRIBUTES_POD_UID: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_UID";
/// A downward-API variable for `k8s.namespace.name` (`metadata.namespace`) in the Operator's
/// naming, read by the `k8s` resource detector; in a pod the service account's namespace file
/// says the same. Default: none.
pub const OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE: &str = "OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE";
/// Level of ferrotel's own diagnostics: `trace`, `debug`, `info`, `warn`, `error`, `off`.
/// Default `info`.
pub const OTEL_LOG_LEVEL: &str = "OTEL_LOG_LEVEL";
/// Comma-separated propagators: `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `xray`,
/// `none` (`ottrace` is known to the specification but not supported by ferrotel).
/// Default `tracecontext,baggage`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// Sampler: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`,
/// `parentbased_always_off`, `parentbased_traceidratio`, `parentbased_jaeger_remote`,
/// `jaeger_remote`. Default `parentbased_always_on`.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// Sampler argument. For the `traceidratio` samplers a number in `[0, 1]`, default `1.0`; for
/// the `jaeger_remote` samplers `endpoint=<url>,pollingIntervalMs=<ms>,initialSamplingRate=<0..1>`.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Comma-separated trace exporters: `otlp`, `console`, `none` (`zipkin` is known but not
/// supported by ferrotel). Default `otlp`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// Comma-separated metric exporters: `otlp`, `prometheus`, `console`, `none`. Default `otlp`.
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Comma-separated log record exporters: `otlp`, `console`, `none`. Default `otlp`. The log
/// lines ferrotel writes to standard output are not affected.
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";

/// Delay between two consecutive batch log record exports, in milliseconds. Default `1000`.
pub const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
/// Maximum time a batch log record export may take, in milliseconds; `0` means no limit.
/// Default `30000`.
pub const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";
/// Maximum number of log records waiting in the batch queue. Positive integer, default `2048`.
pub const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// Maximum number of log records in one export. Positive integer, at most
/// [`OTEL_BLRP_MAX_QUEUE_SIZE`], default `512`.
pub const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";

/// Delay between two consecutive batch span exports, in milliseconds. Default `5000`.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Maximum time a batch span export may take, in milliseconds; `0` means no limit.
/// Default `30000`.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Maximum number of spans waiting in the batch queue. Positive integer, default `2048`, at most
/// [`MAX_QUEUE_SIZE`](crate::bounds::MAX_QUEUE_SIZE) (the queue is reserved up front, ~368 bytes
/// a slot).
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Maximum number of spans in one export. Positive integer, at most
/// [`OTEL_BSP_MAX_QUEUE_SIZE`], default `512`.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";

/// Maximum length of any attribute value. Non-negative integer, default: no limit.
pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Maximum number of attributes on any record. Non-negative integer, default `128`.
pub const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
/// Maximum length of a span attribute value. Default: [`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`],
/// else no limit.
pub const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Maximum number of attributes on a span. Default: [`OTEL_ATTRIBUTE_COUNT_LIMIT`], else `128`.
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// Maximum number of events on a span. Non-negative integer, default `128`.
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// Maximum number of links on a span. Non-negative integer, default `128`.
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
/// Maximum number of attributes on a span event. Default: [`OTEL_ATTRIBUTE_COUNT_LIMIT`],
/// else `128`.
pub const OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT";
/// Maximum number of attributes on a span link. Default: [`OTEL_ATTRIBUTE_COUNT_LIMIT`],
/// else `128`.
pub const OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT";

/// Interval between two periodic metric exports, in milliseconds. Default `60000`, at least
/// [`MIN_METRIC_EXPORT_INTERVAL`](crate::bounds::MIN_METRIC_EXPORT_INTERVAL).
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Maximum time a metric export may take, in milliseconds; `0` means no limit.
/// Default `30000`.
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// Exemplar filter: `trace_based`, `always_on`, `always_off`. Default `trace_based`.
pub const OTEL_METRICS_EXEMPLAR_FILTER: &str = "OTEL_METRICS_EXEMPLAR_FILTER";
/// Aggregation temporality asked of the OTLP metric exporter: `cumulative`, `delta`,
/// `lowmemory`. Default `cumulative`.
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// Default histogram aggregation: `explicit_bucket_histogram`,
/// `base2_exponential_bucket_histogram`. Default `explicit_bucket_histogram`.
pub const OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: &str =
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION";

/// OTLP endpoint for all signals. A base URL: for the HTTP protocols `v1/traces` /
/// `v1/metrics` is appended to its path. Default `http://localhost:4318` (HTTP) or
/// `http://localhost:4317` (gRPC).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// OTLP endpoint for traces, used exactly as given. Default: derived from
/// [`OTEL_EXPORTER_OTLP_ENDPOINT`], else `http://localhost:4318/v1/traces` (HTTP) or
/// `http://localhost:4317` (gRPC).
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// OTLP endpoint for metrics, used exactly as given. Default: derived from
/// [`OTEL_EXPORTER_OTLP_ENDPOINT`], else `http://localhost:4318/v1/metrics` (HTTP) or
/// `http://localhost:4317` (gRPC).
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// OTLP transport protocol for all signals: `grpc`, `http/protobuf`, `http/json`.
/// Default `http/protobuf`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// OTLP transport protocol for traces. Default: [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// OTLP transport protocol for metrics. Default: [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// Headers sent with every OTLP request, `key1=value1,key2=value2`, values percent-decoded.
/// Default: none.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Headers for OTLP trace requests; replaces [`OTEL_EXPORTER_OTLP_HEADERS`] when set.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Headers for OTLP metric requests; replaces [`OTEL_EXPORTER_OTLP_HEADERS`] when set.
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// Maximum time of one OTLP export, in milliseconds; `0` means no limit. Default `10000`.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// OTLP trace export timeout. Default: [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// OTLP metric export timeout. Default: [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// OTLP payload compression: `none`, `gzip`. Default `none`.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// OTLP trace compression. Default: [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// OTLP metric compression. Default: [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub const OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// Boolean, default `false`. Only matters for a gRPC endpoint given without a scheme: `true`
/// connects with plain `http://`, `false` with `https://`.
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// Trace variant of [`OTEL_EXPORTER_OTLP_INSECURE`].
pub const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// Metric variant of [`OTEL_EXPORTER_OTLP_INSECURE`].
pub const OTEL_EXPORTER_OTLP_METRICS_INSECURE: &str = "OTEL_EXPORTER_OTLP_METRICS_INSECURE";
/// Path of a PEM file with the trusted CA certificate(s) for the OTLP server. Default: the
/// system roots.
pub const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// Trace variant of [`OTEL_EXPORTER_OTLP_CERTIFICATE`].
pub const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
/// Metric variant of [`OTEL_EXPORTER_OTLP_CERTIFICATE`].
pub const OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE";
/// Path of a PEM file with the client's private key (mTLS). Default: none.
pub const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// Trace variant of [`OTEL_EXPORTER_OTLP_CLIENT_KEY`].
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
/// Metric variant of [`OTEL_EXPORTER_OTLP_CLIENT_KEY`].
pub const OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY";
/// Path of a PEM file with the client's certificate chain (mTLS). Default: none.
pub const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// Trace variant of [`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`].
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
/// Metric variant of [`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`].
pub const OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE";

/// Per-signal `OTEL_EXPORTER_OTLP_ENDPOINT` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Per-signal `OTEL_EXPORTER_OTLP_PROTOCOL` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// Per-signal `OTEL_EXPORTER_OTLP_HEADERS` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
/// Per-signal `OTEL_EXPORTER_OTLP_TIMEOUT` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
/// Per-signal `OTEL_EXPORTER_OTLP_COMPRESSION` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// Per-signal `OTEL_EXPORTER_OTLP_INSECURE` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_INSECURE: &str = "OTEL_EXPORTER_OTLP_LOGS_INSECURE";
/// Per-signal `OTEL_EXPORTER_OTLP_CERTIFICATE` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE";
/// Per-signal `OTEL_EXPORTER_OTLP_CLIENT_KEY` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY";
/// Per-signal `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` for logs; wins over the generic variable.
pub const OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE";
/// Comma-separated semantic-convention opt-ins. ferrotel reads `rpc` (the v1.44 names, also
/// the default), `rpc/dup` (v1.44 and old names) and `rpc_latest_experimental` (the names of the
/// conventions' next release: `rpc.status_code`); other entries (`http`, `database`, …) belong
/// to other domains and are ignored.
pub const OTEL_SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// Path of a declarative configuration file (YAML, `file_format: "1.1"`, see
/// [`ConfigFile`](crate::ConfigFile)). When set, the file configures everything and the other
/// `OTEL_*` variables are ignored unless the file references them as `${NAME}`.
pub const OTEL_CONFIG_FILE: &str = "OTEL_CONFIG_FILE";

/// ferrotel: boolean, default `false`. `true` turns every invalid value into an error instead
/// of a warning (see [`ConfigBuilder::strict`](crate::ConfigBuilder::strict)).
pub const FERROTEL_CONFIG_STRICT: &str = "FERROTEL_CONFIG_STRICT";
/// ferrotel: format of ferrotel's own diagnostics, `text` or `json`. Default `text`.
pub const FERROTEL_LOG_FORMAT: &str = "FERROTEL_LOG_FORMAT";
/// ferrotel: socket address the Prometheus / metrics endpoint listens on. Default
/// `127.0.0.1:9464`.
pub const FERROTEL_METRICS_ADDR: &str = "FERROTEL_METRICS_ADDR";
/// ferrotel: scrapes of `/metrics` admitted per second on average; more get `429`. `0` turns
/// the limit off. Non-negative integer up to
/// [`MAX_METRICS_SCRAPES`](crate::bounds::MAX_METRICS_SCRAPES), default `10`.
pub const FERROTEL_METRICS_RATE_LIMIT: &str = "FERROTEL_METRICS_RATE_LIMIT";
/// ferrotel: scrapes of `/metrics` admitted back to back before
/// [`FERROTEL_METRICS_RATE_LIMIT`] applies. Positive integer up to
/// [`MAX_METRICS_SCRAPES`](crate::bounds::MAX_METRICS_SCRAPES), default `20`.
pub const FERROTEL_METRICS_BURST: &str = "FERROTEL_METRICS_BURST";
/// ferrotel: connections the `/metrics` endpoint serves at once. Positive integer up to
/// [`MAX_METRICS_CONNECTIONS`](crate::bounds::MAX_METRICS_CONNECTIONS), default `16`.
pub const FERROTEL_METRICS_MAX_CONNECTIONS: &str = "FERROTEL_METRICS_MAX_CONNECTIONS";
/// ferrotel: connections one peer address may hold to the `/metrics` endpoint. `0` turns the
/// bound off. Non-negative integer up to
/// [`MAX_METRICS_CONNECTIONS`](crate::bounds::MAX_METRICS_CONNECTIONS), default `4`.
pub const FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER: &str =
    "FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER";
/// ferrotel: the NFS metric names, `semconv` (default: the semantic conventions'
/// `nfs.server.*` names, ferrotel's own where there are none) or `dittofs` (the DittoFS set).
pub const FERROTEL_NFS_METRICS: &str = "FERROTEL_NFS_METRICS";
/// ferrotel: the storage metric names, `semconv` (default) or `blixard` (adds
/// `storage_reads_total`, `storage_writes_total` and the read/write durations).
pub const FERROTEL_STORAGE_METRICS: &str = "FERROTEL_STORAGE_METRICS";
/// ferrotel: the prefix of the DittoFS-style metric names (`{prefix}_nfs_requests_total`).
/// Default `ferrotel`.
pub const FERROTEL_METRICS_PREFIX: &str = "FERROTEL_METRICS_PREFIX";
/// ferrotel: per-operation sampling rules for root spans, first match wins, e.g.
/// `nfs.READ=0.01,nfs.GETATTR=0.001,raft.*=0.1,*=1` (see
/// [`SAMPLING_RULES_GRAMMAR`](crate::SAMPLING_RULES_GRAMMAR)). A child always follows its parent.
/// Default: none, the configured sampler decides.
pub const FERROTEL_SAMPLING_RULES: &str = "FERROTEL_SAMPLING_RULES";

/// ferrotel: the resource detectors, a comma list of `service`, `host`, `process`,
/// `container`, `k8s` or `none` (the `…_RESOURCE_DETECTORS` shape of the Java and JavaScript
/// SDKs; the specification has no such variable). Default: all five, as none reads anything
/// secret (the process command line is never read). Detected attributes lose to
/// [`OTEL_RESOURCE_ATTRIBUTES`] and to code; see [`detect`](crate::detect).
pub const FERROTEL_RESOURCE_DETECTORS: &str = "FERROTEL_RESOURCE_DETECTORS";
/// ferrotel: boolean, default `true`. Whether the process and runtime metrics (`process.*`,
/// the memory and descriptor limits, the Tokio runtime's figures) are reported with the
/// other metrics.
pub const FERROTEL_PROCESS_METRICS: &str = "FERROTEL_PROCESS_METRICS";

/// The names of the nine OTLP settings of one layer: its variables, or (for messages) its
/// code settings.
pub(crate) struct OtlpNames {
    pub(crate) endpoint: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) headers: &'static str,
    pub(crate) timeout: &'static str,
    pub(crate) compression: &'static str,
    pub(crate) insecure: &'static str,
    pub(crate) certificate: &'static str,
    pub(crate) client_key: &'static str,
    pub(crate) client_certificate: &'static str,
}

/// The names of a batch processor's four settings: its variables, or its code settings.
pub(crate) struct BatchNames {
    pub(crate) schedule_delay: &'static str,
    pub(crate) export_timeout: &'static str,
    pub(crate) max_queue_size: &'static str,
    pub(crate) max_export_batch_size: &'static str,
}

/// The variables of one signal's pipeline: the one table that the variable resolution (OTLP
/// and batch settings) and the configuration file's translation read.
pub(crate) struct SignalVars {
    /// `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`.
    pub(crate) exporter: &'static str,
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*`.
    pub(crate) otlp: OtlpNames,
    /// The batch processor's variables; metrics are read periodically, not batched.
    pub(crate) batch: Option<&'static BatchNames>,
}

/// The generic `OTEL_EXPORTER_OTLP_*` variables, below every signal's own.
pub(crate) const OTLP: OtlpNames = OtlpNames {
    endpoint: OTEL_EXPORTER_OTLP_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_COMPRESSION,
    insecure: OTEL_EXPORTER_OTLP_INSECURE,
    certificate: OTEL_EXPORTER_OTLP_CERTIFICATE,
    client_key: OTEL_EXPORTER_OTLP_CLIENT_KEY,
    client_certificate: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
};

/// The batch span processor's `OTEL_BSP_*`.
pub(crate) const SPAN_BATCH: BatchNames = BatchNames {
    schedule_delay: OTEL_BSP_SCHEDULE_DELAY,
    export_timeout: OTEL_BSP_EXPORT_TIMEOUT,
    max_queue_size: OTEL_BSP_MAX_QUEUE_SIZE,
    max_export_batch_size: OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
};

/// The batch log record processor's `OTEL_BLRP_*`.
pub(crate) const LOG_BATCH: BatchNames = BatchNames {
    schedule_delay: OTEL_BLRP_SCHEDULE_DELAY,
    export_timeout: OTEL_BLRP_EXPORT_TIMEOUT,
    max_queue_size: OTEL_BLRP_MAX_QUEUE_SIZE,
    max_export_batch_size: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
};

/// Traces.
pub(crate) const TRACES: SignalVars = SignalVars {
    exporter: OTEL_TRACES_EXPORTER,
    otlp: OtlpNames {
        endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
        headers: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
        timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
        compression: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
        insecure: OTEL_EXPORTER_OTLP_TRACES_INSECURE,
        certificate: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
        client_key: OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
        client_certificate: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    },
    batch: Some(&SPAN_BATCH),
};

/// Metrics.
pub(crate) const METRICS: SignalVars = SignalVars {
    exporter: OTEL_METRICS_EXPORTER,
    otlp: OtlpNames {
        endpoint: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
        protocol: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
        headers: OTEL_EXPORTER_OTLP_METRICS_HEADERS,
        timeout: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
        compression: OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
        insecure: OTEL_EXPORTER_OTLP_METRICS_INSECURE,
        certificate: OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
        client_key: OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
        client_certificate: OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
    },
    batch: None,
};

/// Logs.
pub(crate) const LOGS: SignalVars = SignalVars {
    exporter: OTEL_LOGS_EXPORTER,
    otlp: OtlpNames {
        endpoint: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
        protocol: OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
        headers: OTEL_EXPORTER_OTLP_LOGS_HEADERS,
        timeout: OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
        compression: OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
        insecure: OTEL_EXPORTER_OTLP_LOGS_INSECURE,
        certificate: OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
        client_key: OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
        client_certificate: OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
    },
    batch: Some(&LOG_BATCH),
};
