// go-echo: Go's own gRPC unary echo, bare and with otelgrpc's stats handlers, as the second
// anchor for ferrotel-bench-grpc. It measures a peer's overhead on its own
// stack: report the ratio otelgrpc ÷ bare, not absolute speed.
//
//	go-echo [-in-flight 16] [-seconds 3] [-warmup 0.5] [-requests N] [-modes bare,otelgrpc]
//
// Each mode serves /ferrotel.echo.v1.Echo/Unary on 127.0.0.1 and calls it over one
// grpc.ClientConn (one HTTP/2 connection) from N closed-loop callers, in this one process. The
// messages are wrapperspb.StringValue, wire-identical to ferrotel-testkit's EchoRequest/EchoReply
// (string field 1), carrying "ping" as the Rust bench does.
//
// otelgrpc mode: otelgrpc.NewServerHandler() and otelgrpc.NewClientHandler() with an SDK tracer
// provider (AlwaysSample, batch span processor with its defaults, an exporter whose ExportSpans
// returns nil) and the W3C trace-context + baggage propagator. Metrics stay on the global no-op
// meter provider (the Rust no-op cases export no metrics either).
//
// CPU is getrusage(RUSAGE_SELF) user+system over the measured window, divided by the requests
// that completed in it. Output, one line per mode and one ratio line, key=value:
//
//	go-echo mode=bare in_flight=16 requests=… seconds=… req_per_s=… cpu_us_per_req=…
//	go-echo mode=otelgrpc in_flight=16 requests=… seconds=… req_per_s=… cpu_us_per_req=…
//	go-echo ratio=otelgrpc/bare throughput=… cpu_per_req=…
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const method = "/ferrotel.echo.v1.Echo/Unary"

// echoServer is the hand-written service: no generated code, one unary method.
type echoServer interface {
	Unary(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

type echo struct{}

func (echo) Unary(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(in.GetValue()), nil
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "ferrotel.echo.v1.Echo",
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			if intercept == nil {
				return srv.(echoServer).Unary(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: method}
			return intercept(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(echoServer).Unary(ctx, req.(*wrapperspb.StringValue))
			})
		},
	}},
	Metadata: "echo.proto",
}

// noopExporter drops every batch: the Rust bench's "no-op export".
type noopExporter struct{}

func (noopExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (noopExporter) Shutdown(context.Context) error                             { return nil }

type plan struct {
	inFlight int
	warmup   time.Duration
	measure  time.Duration
	requests int64 // > 0: a fixed count instead of the window
}

type result struct {
	requests int64
	seconds  float64
	cpu      time.Duration
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runMode(mode string, p plan) (result, error) {
	var serverOpts []grpc.ServerOption
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	var tp *sdktrace.TracerProvider
	if mode == "otelgrpc" {
		tp = sdktrace.NewTracerProvider(
			sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithBatcher(noopExporter{}),
		)
		prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		serverOpts = append(serverOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))
		dialOpts = append(dialOpts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))
	} else if mode != "bare" {
		return result{}, fmt.Errorf("unknown mode %q (bare, otelgrpc)", mode)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := grpc.NewServer(serverOpts...)
	srv.RegisterService(&serviceDesc, echo{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), dialOpts...)
	if err != nil {
		return result{}, err
	}
	defer conn.Close()

	call := func() error {
		out := new(wrapperspb.StringValue)
		return conn.Invoke(context.Background(), method, wrapperspb.String("ping"), out)
	}
	// One call first so that the connection is up before the clock starts.
	if err := call(); err != nil {
		return result{}, err
	}

	var (
		measuring atomic.Bool
		stop      atomic.Bool
		counted   atomic.Int64
		budget    atomic.Int64
		firstErr  atomic.Value
		wg        sync.WaitGroup
	)
	budget.Store(p.requests)
	for i := 0; i < p.inFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				// -requests counts the calls started in the measured part; the window counts
				// the calls that complete in it.
				startedIn := measuring.Load()
				if p.requests > 0 && startedIn && budget.Add(-1) < 0 {
					return
				}
				if err := call(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					stop.Store(true)
					return
				}
				if (p.requests > 0 && startedIn) || (p.requests == 0 && measuring.Load()) {
					counted.Add(1)
				}
			}
		}()
	}

	time.Sleep(p.warmup)
	cpu0, t0 := cpuNow(), time.Now()
	measuring.Store(true)
	var n int64
	var elapsed time.Duration
	if p.requests > 0 {
		wg.Wait()
		elapsed = time.Since(t0)
		n = counted.Load()
	} else {
		time.Sleep(p.measure)
		n = counted.Load()
		elapsed = time.Since(t0)
	}
	cpu := cpuNow() - cpu0
	stop.Store(true)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok && err != nil {
		return result{}, fmt.Errorf("%s: %w", mode, err)
	}
	if tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}
	return result{requests: n, seconds: elapsed.Seconds(), cpu: cpu}, nil
}

func main() {
	inFlight := flag.Int("in-flight", 16, "closed-loop callers")
	seconds := flag.Float64("seconds", 3, "measured window per mode")
	warmup := flag.Float64("warmup", 0.5, "warm-up per mode")
	requests := flag.Int64("requests", 0, "a fixed number of measured requests instead of -seconds")
	modes := flag.String("modes", "bare,otelgrpc", "modes to run, in order")
	flag.Parse()
	if *inFlight <= 0 || *seconds <= 0 || *warmup < 0 || *requests < 0 {
		fmt.Fprintln(os.Stderr, "go-echo: -in-flight and -seconds must be positive, -warmup and -requests not negative")
		os.Exit(2)
	}
	p := plan{
		inFlight: *inFlight,
		warmup:   time.Duration(*warmup * float64(time.Second)),
		measure:  time.Duration(*seconds * float64(time.Second)),
		requests: *requests,
	}
	got := map[string]result{}
	for _, mode := range strings.Split(*modes, ",") {
		mode = strings.TrimSpace(mode)
		r, err := runMode(mode, p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-echo:", err)
			os.Exit(1)
		}
		got[mode] = r
		rate, cpuPer := 0.0, 0.0
		if r.seconds > 0 {
			rate = float64(r.requests) / r.seconds
		}
		if r.requests > 0 {
			cpuPer = float64(r.cpu.Microseconds()) / float64(r.requests)
		}
		fmt.Printf("go-echo mode=%s in_flight=%d requests=%d seconds=%.3f req_per_s=%.0f cpu_us_per_req=%.2f\n",
			mode, p.inFlight, r.requests, r.seconds, rate, cpuPer)
	}
	b, okB := got["bare"]
	o, okO := got["otelgrpc"]
	if okB && okO && b.requests > 0 && o.requests > 0 {
		rate := func(r result) float64 { return float64(r.requests) / r.seconds }
		cpuPer := func(r result) float64 { return r.cpu.Seconds() / float64(r.requests) }
		fmt.Printf("go-echo ratio=otelgrpc/bare throughput=%.3f cpu_per_req=%.3f\n",
			rate(o)/rate(b), cpuPer(o)/cpuPer(b))
	}
}
