/**
 * The OpenTelemetry SDK, loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set (main.ts imports
 * this module on demand): without it no SDK code runs and no span is made. Spans are batched
 * to the collector over OTLP/HTTP (JSON). The exporter also reads the standard
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TIMEOUT; the sampler OTEL_TRACES_SAMPLER.
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TracingConfig } from '../config';

export interface Tracing {
  tracer: Tracer;
  /** Sends the spans still batched and stops: the last step of a shutdown. */
  shutdown(): Promise<void>;
}

export function startTracing(config: TracingConfig, serviceVersion: string): Tracing {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': serviceVersion }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.endpoint}/v1/traces` }))],
  });
  // The async-hooks context manager (spans follow the request through awaits) and the W3C
  // traceparent propagator; both are process-wide in the OpenTelemetry API.
  provider.register();
  return {
    tracer: provider.getTracer('tams-gateway', serviceVersion),
    async shutdown() {
      await provider.shutdown();
      // Leaves the API as it was, so another gateway in the process can start tracing again.
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
