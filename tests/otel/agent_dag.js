#!/usr/bin/env node
// agent_dag.js -- a small agent DAG traced with the OpenTelemetry JS SDK and
// produced to Kafka exactly as the Collector's kafka exporter writes it.
//
//   node tests/otel/agent_dag.js --bootstrap HOST:PORT --topic dag-spans
//        --variant genai|openinference --encoding otlp_proto|otlp_json --out FILE.jsonl
//
// The spans are made by @opentelemetry/sdk-trace-base (BasicTracerProvider,
// InMemorySpanExporter) and serialised by @opentelemetry/otlp-transformer's
// ProtobufTraceSerializer / JsonTraceSerializer: one ExportTraceServiceRequest
// per Kafka message, keyed by trace id (partition_traces_by_id). The same DAG
// is written to FILE as SpanEvent JSON Lines (SPEC §1), from the same
// description, so `dagprof profile FILE` is the expected profile.
//
// The DAG: a workflow root; agents plan -> {search, analyze} -> write; each
// agent makes chat calls with token usage; search runs a tool. The genai
// variant uses the GenAI semantic conventions and dag.depends_on; the
// openinference variant uses OpenInference attributes and span links.
'use strict';
const path = require('path');
const fs = require('fs');
const mods = path.join(__dirname, '..', 'js', 'node_modules');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } =
  require(path.join(mods, '@opentelemetry/sdk-trace-base'));
const { ProtobufTraceSerializer, JsonTraceSerializer } =
  require(path.join(mods, '@opentelemetry/otlp-transformer'));
const { resourceFromAttributes } = require(path.join(mods, '@opentelemetry/resources'));
const api = require(path.join(mods, '@opentelemetry/api'));
const { Kafka, logLevel } = require(path.join(mods, 'kafkajs'));

function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    if (!a[i].startsWith('--') || a[i + 1] === undefined) throw new Error(`bad argument ${a[i]}`);
    out[a[i].slice(2)] = a[i + 1];
  }
  for (const k of ['bootstrap', 'topic', 'variant', 'encoding', 'out'])
    if (!out[k]) throw new Error(`--${k} is required`);
  if (!['genai', 'openinference'].includes(out.variant)) throw new Error('--variant genai|openinference');
  if (!['otlp_proto', 'otlp_json'].includes(out.encoding)) throw new Error('--encoding otlp_proto|otlp_json');
  return out;
}

// Times in microseconds after the run start (2025-06-01T00:00:00Z).
const T0_US = 1748736000000000;
const DAG = {
  dag: 'research-dag', start: 0, end: 9_000_000,
  nodes: [
    { id: 'plan', start: 10_000, end: 1_510_000, deps: [],
      calls: [{ model: 'claude-sonnet-4-5', provider: 'anthropic', start: 20_000, end: 1_500_000,
                input: 2400, output: 350, cache_read: 1200, cache_write: 0, reasoning: 0 }] },
    { id: 'search', start: 1_520_000, end: 3_900_000, deps: ['plan'],
      calls: [{ model: 'gpt-4o', provider: 'openai', start: 1_530_000, end: 2_400_000,
                input: 1800, output: 120, cache_read: 0, cache_write: 0, reasoning: 0 }],
      tools: [{ name: 'web_search', start: 2_410_000, end: 3_880_000 }] },
    { id: 'analyze', start: 1_525_000, end: 6_200_000, deps: ['plan'],
      calls: [{ model: 'claude-sonnet-4-5', provider: 'anthropic', start: 1_530_000, end: 6_150_000,
                input: 9000, output: 1600, cache_read: 0, cache_write: 3000, reasoning: 400 }] },
    { id: 'write', start: 6_230_000, end: 8_950_000, deps: ['search', 'analyze'],
      calls: [{ model: 'claude-haiku-4-5', provider: 'anthropic', start: 6_240_000, end: 8_900_000,
                input: 5200, output: 2100, cache_read: 2600, cache_write: 0, reasoning: 0 }] },
  ],
};

const hr = (us) => { const t = T0_US + us; return [Math.floor(t / 1e6), (t % 1e6) * 1000]; };

function build(variant) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'agent-fleet' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('agent-dag-test', '1.0.0');
  const genai = variant === 'genai';
  const ok = { code: api.SpanStatusCode.OK };
  const events = [];
  const event = (span, fields) => {
    const c = span.spanContext();
    events.push(Object.assign({ trace_id: c.traceId, span_id: c.spanId, status: 'ok' }, fields));
  };

  const rootAttrs = genai ? { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.agent.name': DAG.dag }
                          : { 'openinference.span.kind': 'CHAIN' };
  const root = tracer.startSpan(DAG.dag, { startTime: hr(DAG.start), attributes: rootAttrs });
  const rootCtx = api.trace.setSpan(api.context.active(), root);
  const nodeSpans = {};
  for (const n of DAG.nodes) {
    const attrs = genai ? { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': n.id }
                        : { 'openinference.span.kind': 'AGENT' };
    // genai declares dependencies with dag.depends_on; openinference links
    // each agent to the agents it waits for (span links to node spans)
    if (genai && n.deps.length) attrs['dag.depends_on'] = n.deps;
    const links = genai ? [] : n.deps.map((d) => ({ context: nodeSpans[d].spanContext() }));
    const span = tracer.startSpan(n.id, { startTime: hr(n.start), attributes: attrs, links }, rootCtx);
    nodeSpans[n.id] = span;
    const ctx = api.trace.setSpan(rootCtx, span);
    for (const c of n.calls) {
      const a = genai ? {
        'gen_ai.operation.name': 'chat', 'gen_ai.request.model': c.model, 'gen_ai.response.model': c.model,
        'gen_ai.provider.name': c.provider, 'gen_ai.usage.input_tokens': c.input,
        'gen_ai.usage.output_tokens': c.output,
      } : {
        'openinference.span.kind': 'LLM', 'llm.model_name': c.model, 'llm.provider': c.provider,
        'llm.token_count.prompt': c.input, 'llm.token_count.completion': c.output,
      };
      if (c.cache_read) a[genai ? 'gen_ai.usage.cache_read.input_tokens' : 'llm.token_count.prompt_details.cache_read'] = c.cache_read;
      if (c.cache_write) a[genai ? 'gen_ai.usage.cache_creation.input_tokens' : 'llm.token_count.prompt_details.cache_write'] = c.cache_write;
      if (c.reasoning) a[genai ? 'gen_ai.usage.reasoning.output_tokens' : 'llm.token_count.completion_details.reasoning'] = c.reasoning;
      const name = `chat ${c.model}`;
      const s = tracer.startSpan(name, { startTime: hr(c.start), attributes: a }, ctx);
      s.setStatus(ok);
      s.end(hr(c.end));
      event(s, { parent_span_id: span.spanContext().spanId, kind: 'llm', name, start_us: T0_US + c.start,
                 end_us: T0_US + c.end, model: c.model, provider: c.provider, input_tokens: c.input,
                 output_tokens: c.output, cache_read_tokens: c.cache_read, cache_write_tokens: c.cache_write,
                 reasoning_tokens: c.reasoning });
    }
    for (const t of n.tools || []) {
      const a = genai ? { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': t.name }
                      : { 'openinference.span.kind': 'TOOL', 'tool.name': t.name };
      const name = `execute_tool ${t.name}`;
      const s = tracer.startSpan(name, { startTime: hr(t.start), attributes: a }, ctx);
      s.setStatus(ok);
      s.end(hr(t.end));
      event(s, { parent_span_id: span.spanContext().spanId, kind: 'tool', name, start_us: T0_US + t.start,
                 end_us: T0_US + t.end, tool_name: t.name });
    }
    span.setStatus(ok);
    span.end(hr(n.end));
    event(span, { parent_span_id: root.spanContext().spanId, kind: 'node', name: n.id, node_id: n.id,
                  depends_on: n.deps, start_us: T0_US + n.start, end_us: T0_US + n.end });
  }
  root.setStatus(ok);
  root.end(hr(DAG.end));
  event(root, { kind: 'run', name: DAG.dag, dag_id: DAG.dag, start_us: T0_US + DAG.start, end_us: T0_US + DAG.end });
  return { spans: exporter.getFinishedSpans(), events, traceId: root.spanContext().traceId };
}

async function main() {
  const opt = args();
  const { spans, events, traceId } = build(opt.variant);
  const serializer = opt.encoding === 'otlp_proto' ? ProtobufTraceSerializer : JsonTraceSerializer;
  const value = Buffer.from(serializer.serializeRequest(spans));
  fs.writeFileSync(opt.out, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const kafka = new Kafka({ clientId: 'agent-dag-test', brokers: opt.bootstrap.split(','), logLevel: logLevel.ERROR });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: opt.topic, acks: -1, messages: [{ key: traceId, value }] });
  await producer.disconnect();
  process.stdout.write(`trace_id=${traceId} spans=${spans.length} bytes=${value.length}\n`);
}

main().catch((e) => { process.stderr.write(`agent_dag.js: ${e.stack || e}\n`); process.exit(1); });
