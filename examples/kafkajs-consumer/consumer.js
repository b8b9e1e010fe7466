#!/usr/bin/env node
// A dagprof subscriber in Node.js: kafkajs + avsc, no other codec, nothing of
// dagprof's own. Copy it and replace `handle` with what your team does with a
// profile or a recommendation (a dashboard, an alert, an autoscaler).
//
// It reads `dag-profiles` and `dag-recommendations` in every output format
// dagprof writes (output.format):
//   json       JSON.parse
//   avro       bare Avro: decoded with the schema the record's `dagprof.schema`
//              header names (the .avsc files in schemas/)
//   confluent  byte 0 + 4-byte schema id + Avro: the schema fetched from the
//              Schema Registry by id (--registry URL), or the local .avsc
//              the header names when no registry is given
// The header `dagprof.format` says which; without it (older dagprof) the
// first byte does: '{' is JSON, 0 followed by a known schema id Confluent.
//
// Compression: kafkajs reads none (dagprof's default output.compression) and
// gzip by itself; snappy, lz4 and zstd need a codec package registered with
// kafkajs's CompressionCodecs (kafkajs-snappy, kafkajs-lz4, @kafkajs/zstd).
//
//   node consumer.js --brokers 127.0.0.1:9092 [--registry http://127.0.0.1:8081]
//        [--schemas DIR] [--topics dag-profiles,dag-recommendations]
//        [--group ID] [--from-beginning] [--idle-ms N]
// Prints one JSON line per record: {"topic", "format", "schema", "value"},
// where value is the record as `dagprof profile --format json` prints a
// profile (a recommendation: the fields of recommendation.avsc).
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');
const { Kafka, logLevel } = require('kafkajs');
const avro = require('avsc');

function parseArgs(argv) {
  const opt = {
    brokers: '127.0.0.1:9092',
    topics: 'dag-profiles,dag-recommendations',
    schemas: path.join(__dirname, '..', '..', 'schemas'),
    group: 'dagprof-example-' + process.pid,
    registry: null,
    fromBeginning: false,
    idleMs: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--from-beginning') opt.fromBeginning = true;
    else if (a === '--brokers') opt.brokers = argv[++i];
    else if (a === '--topics') opt.topics = argv[++i];
    else if (a === '--schemas') opt.schemas = argv[++i];
    else if (a === '--group') opt.group = argv[++i];
    else if (a === '--registry') opt.registry = argv[++i].replace(/\/+$/, '');
    else if (a === '--idle-ms') opt.idleMs = Number(argv[++i]);
    else throw new Error('unknown argument ' + a);
  }
  return opt;
}

// Longs as JS numbers: dagprof's figures (microseconds, tokens) stay below 2^53.
function parseSchema(text) {
  return avro.Type.forSchema(JSON.parse(text), { wrapUnions: false });
}

// Local schemas by full name, from the .avsc files.
function localSchemas(dir) {
  const byName = {};
  for (const file of ['profile.avsc', 'recommendation.avsc']) {
    const schema = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    byName[(schema.namespace ? schema.namespace + '.' : '') + schema.name] =
      parseSchema(JSON.stringify(schema));
  }
  return byName;
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    (url.startsWith('https:') ? https : http).get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(url + ': HTTP ' + res.statusCode + ' ' + body));
        else resolve(JSON.parse(body));
      });
    }).on('error', reject);
  });
}

function header(message, name) {
  const v = message.headers && message.headers[name];
  return v === undefined ? null : v.toString();
}

class Decoder {
  constructor(opt) {
    this.registry = opt.registry;
    this.local = localSchemas(opt.schemas);
    this.byId = new Map(); // registry schema id -> type
  }

  async typeForId(id, schemaName) {
    if (this.byId.has(id)) return this.byId.get(id);
    let type;
    if (this.registry) {
      const answer = await getJson(this.registry + '/schemas/ids/' + id);
      type = parseSchema(answer.schema);
    } else {
      type = this.local[schemaName];
      if (!type) throw new Error('schema id ' + id + ': no registry given and no local schema ' + schemaName);
    }
    this.byId.set(id, type);
    return type;
  }

  // -> {format, schema, value}
  async decode(message) {
    const value = message.value;
    const schemaHeader = header(message, 'dagprof.schema'); // "dagprof.Profile;crc64-avro=..."
    const schemaName = schemaHeader ? schemaHeader.split(';')[0] : null;
    let format = header(message, 'dagprof.format');
    if (!format) format = value[0] === 0x7b ? 'json' : value[0] === 0 && value.length > 5 ? 'confluent' : 'avro';
    if (format === 'json') return { format, schema: schemaName, value: JSON.parse(value.toString('utf8')) };
    if (format === 'confluent') {
      if (value[0] !== 0 || value.length < 5) throw new Error('not Confluent-framed');
      const type = await this.typeForId(value.readUInt32BE(1), schemaName);
      return { format, schema: schemaName, value: type.fromBuffer(value.subarray(5)) };
    }
    const type = this.local[schemaName];
    if (!type) throw new Error('bare Avro record without a known dagprof.schema header');
    return { format, schema: schemaName, value: type.fromBuffer(value) };
  }
}

// Replace with your own handling. Records are at-least-once: deduplicate
// profiles on profile_id (the same revision may be delivered twice).
function handle(topic, record) {
  process.stdout.write(JSON.stringify({ topic, format: record.format, schema: record.schema,
                                        value: record.value }) + '\n');
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const decoder = new Decoder(opt);
  const kafka = new Kafka({ clientId: 'dagprof-example', brokers: opt.brokers.split(','),
                            logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId: opt.group });
  let last = Date.now();
  let failed = 0;
  await consumer.connect();
  for (const topic of opt.topics.split(','))
    await consumer.subscribe({ topic, fromBeginning: opt.fromBeginning });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      last = Date.now();
      try {
        handle(topic, await decoder.decode(message));
      } catch (e) {
        failed++;
        process.stderr.write(`cannot decode ${topic} [${partition}] offset ${message.offset}: ${e.message}\n`);
      }
    },
  });
  const stop = async () => {
    await consumer.disconnect();
    process.exit(failed ? 1 : 0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opt.idleMs > 0) {
    const timer = setInterval(() => {
      if (Date.now() - last > opt.idleMs) {
        clearInterval(timer);
        stop();
      }
    }, 100);
  }
}

main().catch((e) => {
  process.stderr.write('consumer: ' + (e.stack || e.message) + '\n');
  process.exit(1);
});
