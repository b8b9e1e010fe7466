#!/usr/bin/env node
// Produce span events to Kafka as an outside producer would: kafkajs + avsc,
// SpanEvent in the Confluent wire format (magic byte 0, 4-byte schema id),
// keyed by trace_id. Input: JSON Lines span events (dagprof loadgen --loadgen.output).
//   node produce_spans.js BROKERS TOPIC SCHEMA.avsc SCHEMA_ID SPANS.jsonl
'use strict';
const fs = require('fs');
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
const avro = require('avsc');

async function main() {
  const [brokers, topic, schemaPath, schemaId, spansPath] = process.argv.slice(2);
  const type = avro.Type.forSchema(JSON.parse(fs.readFileSync(schemaPath, 'utf8')), { wrapUnions: false });
  const header = Buffer.alloc(5);
  header.writeUInt32BE(Number(schemaId), 1);
  const messages = fs.readFileSync(spansPath, 'utf8').split('\n').filter((l) => l.trim()).map((line) => {
    const span = JSON.parse(line);
    return { key: span.trace_id, value: Buffer.concat([header, type.toBuffer(span)]) };
  });
  const kafka = new Kafka({ clientId: 'dagprof-test-producer', brokers: brokers.split(','), logLevel: logLevel.ERROR });
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 500)
    await producer.send({ topic, compression: CompressionTypes.GZIP, messages: messages.slice(i, i + 500) });
  await producer.disconnect();
  process.stdout.write('produced ' + messages.length + '\n');
}

main().catch((e) => { process.stderr.write((e.stack || e.message) + '\n'); process.exit(1); });
