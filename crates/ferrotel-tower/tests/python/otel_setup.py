"""The Python process's OpenTelemetry SDK, configured only from the standard environment.

The Rust test sets OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT (its in-process receiver),
OTEL_EXPORTER_OTLP_INSECURE=true and OTEL_PROPAGATORS=tracecontext,baggage.
"""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def install() -> TracerProvider:
    """Installs a global tracer provider exporting over OTLP/gRPC and returns it.

    It must be global: GrpcInstrumentorClient builds its interceptor from the global provider
    (the `tracer_provider` given to `instrument()` is not passed on to the channel wrapper).
    The exporter is built here, before any instrumentor runs, and the SDK suppresses
    instrumentation while exporting, so the exporter's own gRPC calls make no spans.
    """
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
