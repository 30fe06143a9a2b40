"""A Python gRPC client instrumented with GrpcInstrumentorClient calling Echo/Unary once.

usage: echo_client.py STUBS_DIR TARGET MESSAGE

The call runs inside a root INTERNAL span `interop-client`, with the baggage
`interop.from=python`. Prints `reply=`, `trace_id=` and `root_span_id=` lines (ids in
lowercase hex), then flushes its spans before exiting.
"""

import sys

import grpc
from opentelemetry import baggage, context, trace
from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, filters

import otel_setup


def main():
    stubs, target, message = sys.argv[1:4]
    sys.path.insert(0, stubs)
    import echo_pb2
    import echo_pb2_grpc

    provider = otel_setup.install()
    # Only the echo service: no span for any other channel this process might open.
    GrpcInstrumentorClient(filter_=filters.service_name("ferrotel.echo.v1.Echo")).instrument()

    tracer = trace.get_tracer("ferrotel.interop")
    token = context.attach(baggage.set_baggage("interop.from", "python"))
    try:
        with tracer.start_as_current_span("interop-client") as root:
            with grpc.insecure_channel(target) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                reply = stub.Unary(echo_pb2.EchoRequest(message=message), timeout=10)
            ids = root.get_span_context()
    finally:
        context.detach(token)
    print(f"reply={reply.message}")
    print(f"trace_id={ids.trace_id:032x}")
    print(f"root_span_id={ids.span_id:016x}", flush=True)
    provider.shutdown()


if __name__ == "__main__":
    main()
