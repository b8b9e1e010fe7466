// report_browser.js -- the HTML report in a real browser.
//
// node report_browser.js DAGPROF FIXTURES OUTDIR
//
// Renders pages with `dagprof profile --format html` and opens each in
// Debian's headless Chromium (puppeteer-core): the example trace, a 1k-node
// trace (generated here: layers of 10 nodes, each depending on two nodes of
// the previous layer) at the default row limit and with every row shown, and
// a trace whose node ids, models, dag id and attributes are hostile. Asserts
// no console error, no page error, no dialog; one Gantt row per node or per
// shown node with the aggregate row accounting for the rest; the critical
// path marked as in the profile's JSON; and for the hostile trace that no
// script ran and the names read back verbatim. Screenshots go to OUTDIR.
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const puppeteer = require('puppeteer-core');

const [dagprof, fixtures, outdir] = process.argv.slice(2);
if (!dagprof || !fixtures || !outdir) {
  console.error('usage: node report_browser.js DAGPROF FIXTURES OUTDIR');
  process.exit(2);
}
fs.mkdirSync(outdir, { recursive: true });

function profile(file, format, extra = []) {
  return execFileSync(dagprof, ['profile', '--format', format, ...extra, file],
    { maxBuffer: 1 << 28, env: { ...process.env, NO_COLOR: '1' } }).toString('utf8');
}

function span(fields) {
  return JSON.stringify({ trace_id: 't1k', status: 'ok', attempt: 0, ...fields });
}

// 1,000 nodes in 100 layers; each node an llm call, node i % 7 == 3 a retry.
function write1k(file) {
  const lines = [];
  const t0 = 1714564800000000;
  lines.push(span({ span_id: 'run', kind: 'run', dag_id: 'thousand', start_us: t0, end_us: t0 + 101e6 }));
  for (let i = 0; i < 1000; i++) {
    const layer = Math.floor(i / 10), col = i % 10;
    const id = `n${String(i).padStart(4, '0')}`;
    const start = t0 + layer * 1e6 + col * 1000, end = start + 900000 - col * 5000;
    const deps = layer ? [`n${String((layer - 1) * 10 + col).padStart(4, '0')}`,
      `n${String((layer - 1) * 10 + (col + 3) % 10).padStart(4, '0')}`] : [];
    if (i % 7 === 3) {
      lines.push(span({ span_id: `${id}-a0`, parent_span_id: 'run', node_id: id, kind: 'node',
        start_us: start, end_us: start + 100000, status: 'error', depends_on: deps }));
      lines.push(span({ span_id: id, parent_span_id: 'run', node_id: id, kind: 'node',
        start_us: start + 100000, end_us: end, attempt: 1, depends_on: deps }));
    } else {
      lines.push(span({ span_id: id, parent_span_id: 'run', node_id: id, kind: 'node',
        start_us: start, end_us: end, depends_on: deps }));
    }
    lines.push(span({ span_id: `${id}-llm`, parent_span_id: id, kind: 'llm', start_us: start + 1000,
      end_us: start + 50000, model: i % 3 ? 'claude-sonnet-4-5' : 'gpt-4o-mini',
      input_tokens: 1000 + i, output_tokens: 200 + i % 700 }));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

// Every name an injection; the page must show them as text and run nothing.
const HOSTILE = [
  '<script>window.__xss=1</script>',
  '<img src=x onerror="window.__xss=2">',
  '"><svg onload="window.__xss=3"><x a="',
  "'><b onmouseover='window.__xss=4'>",
  '</style><script>alert(5)</script>',
  '</title></svg><script>window.__xss=6</script>',
  '&amp; &lt;not an entity&gt; &#x3c;',
  '数据处理节点🚀',
];
function writeHostile(file) {
  const t0 = 1714564800000000;
  const lines = [span({ trace_id: 'tx', span_id: 'run', kind: 'run', dag_id: '<script>alert("dag")</script>',
    start_us: t0, end_us: t0 + 10e6, attributes: { '<script>': '</script><script>alert(7)</script>' } })];
  HOSTILE.forEach((id, i) => {
    lines.push(span({ trace_id: 'tx', span_id: `s${i}`, parent_span_id: 'run', node_id: id, kind: 'node',
      start_us: t0 + i * 1e6, end_us: t0 + (i + 1) * 1e6, depends_on: i ? [HOSTILE[i - 1]] : [],
      attributes: { note: '<script>window.__xss=8</script>' } }));
    lines.push(span({ trace_id: 'tx', span_id: `l${i}`, parent_span_id: `s${i}`, kind: 'llm',
      start_us: t0 + i * 1e6 + 1, end_us: t0 + i * 1e6 + 500000,
      model: `<script>window.__xss=9</script>${i}`, input_tokens: 10, output_tokens: 5 }));
  });
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

async function open(browser, file, shot) {
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`); });
  await page.setViewport({ width: 1100, height: 900 });
  await page.goto('file://' + file, { waitUntil: 'load', timeout: 600000 });
  await page.screenshot({ path: path.join(outdir, shot), fullPage: false });
  return { page, problems };
}

async function rows(page) {
  return page.evaluate(() => ({
    rows: document.querySelectorAll('svg.gantt g.gantt-row:not(.aggregate)').length,
    aggregate: [...document.querySelectorAll('svg.gantt g.gantt-row.aggregate')].map((g) => Number(g.dataset.count)),
    critical: document.querySelectorAll('svg.gantt g.gantt-row[data-critical="true"]').length,
    criticalClass: document.querySelectorAll('svg.gantt g.gantt-row.crit').length,
    dagCritical: document.querySelectorAll('svg.dag g.dag-node[data-critical="true"]').length,
    criticalEdges: document.querySelectorAll('svg.dag path.edge.crit').length,
    xss: window.__xss,
  }));
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu'],
    protocolTimeout: 600000,
  });
  try {
    // the example trace
    const example = path.join(fixtures, 'code_review_dag.jsonl');
    const exampleJson = JSON.parse(profile(example, 'json'));
    const exampleHtml = path.join(outdir, 'example.html');
    fs.writeFileSync(exampleHtml, profile(example, 'html'));
    {
      const { page, problems } = await open(browser, exampleHtml, 'example.png');
      await page.screenshot({ path: path.join(outdir, 'example-full.png'), fullPage: true });
      const r = await rows(page);
      assert.deepEqual(problems, []);
      assert.equal(r.rows, exampleJson.nodes.length);
      assert.equal(r.rows, 5);
      assert.deepEqual(r.aggregate, []);
      assert.equal(r.critical, exampleJson.critical_path.length);
      assert.equal(r.critical, 4);
      assert.equal(r.criticalClass, 4);
      assert.equal(r.dagCritical, 4);
      assert.equal(r.criticalEdges, 3);
      const retried = await page.$$eval('g.gantt-row[data-retries="1"] rect.attempt', (a) => a.length);
      assert.equal(retried, 2, 'review-performance: two attempts, two bars');
      const wall = await page.$eval('[data-figure="wall time"]', (e) => e.textContent);
      assert.equal(wall, '45.2 s');
      await page.close();
      console.log('ok example: 5 rows, 4 critical');
    }

    // 1,000 nodes
    const big = path.join(outdir, 'thousand.jsonl');
    write1k(big);
    const bigJson = JSON.parse(profile(big, 'json'));
    assert.equal(bigJson.nodes.length, 1000);
    const crit = bigJson.critical_path.length;
    for (const [maxRows, name] of [[null, 'thousand.html'], [1000, 'thousand-all.html']]) {
      const file = path.join(outdir, name);
      const html = profile(big, 'html', maxRows ? ['--html.max.rows', String(maxRows)] : []);
      fs.writeFileSync(file, html);
      const { page, problems } = await open(browser, file, name.replace('.html', '.png'));
      const r = await rows(page);
      assert.deepEqual(problems, []);
      const shown = maxRows || 200;
      assert.equal(r.rows, shown);
      assert.deepEqual(r.aggregate, shown < 1000 ? [1000 - shown] : []);
      assert.equal(r.rows + r.aggregate.reduce((a, b) => a + b, 0), 1000);
      assert.equal(r.critical, crit);
      assert.equal(r.dagCritical, crit);
      assert.equal(r.criticalEdges, crit - 1);
      // every critical node is among the shown rows
      const labels = await page.$$eval('svg.gantt g.gantt-row.crit text.label', (t) => t.map((x) => x.textContent));
      assert.deepEqual(labels.sort(), [...bigJson.critical_path].sort());
      await page.close();
      console.log(`ok 1k nodes (${maxRows || 'default'} rows): ${r.rows} rows + ${r.aggregate} aggregated, ` +
        `${crit} critical, ${html.length} bytes`);
    }

    // hostile names
    const hostile = path.join(outdir, 'hostile.jsonl');
    writeHostile(hostile);
    const hostileHtml = path.join(outdir, 'hostile.html');
    fs.writeFileSync(hostileHtml, profile(hostile, 'html'));
    {
      const { page, problems } = await open(browser, hostileHtml, 'hostile.png');
      const r = await rows(page);
      assert.deepEqual(problems, [], 'no script ran, nothing was blocked, nothing was requested');
      assert.equal(r.xss, undefined);
      assert.equal(r.rows, HOSTILE.length);
      const dom = await page.evaluate(() => ({
        scripts: document.querySelectorAll('script').length,
        handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
        injected: document.querySelectorAll('img, b, x, svg svg').length,
        tooltips: [...document.querySelectorAll('svg.gantt g.gantt-row > title')].map((t) => t.textContent.split('\n')[0]),
        title: document.title,
        heading: document.querySelector('h1 .mono').textContent,
        models: [...document.querySelectorAll('table[data-chart="cost-model"] td.mono')].map((t) => t.textContent),
      }));
      assert.equal(dom.scripts, 0);
      assert.equal(dom.handlers, 0);
      assert.equal(dom.injected, 0);
      assert.deepEqual([...dom.tooltips].sort(), [...HOSTILE].sort(), 'every name read back verbatim');
      assert.equal(dom.heading, '<script>alert("dag")</script>');
      assert.ok(dom.title.includes('<script>alert("dag")</script>'));
      assert.equal(dom.models.length, HOSTILE.length);
      for (const m of dom.models)
        assert.equal(m, '<script>window.__xss=9</scr…', 'cut at 28 columns, as text');
      // the wide name is cut by display width: 数据处理节点🚀 is 14 columns, the label 28
      const wide = await page.$$eval('svg.gantt text.label', (t) => t.map((x) => x.textContent));
      assert.ok(wide.includes('数据处理节点🚀'));
      // a mouse over every row runs nothing either
      for (const g of await page.$$('svg.gantt g.gantt-row'))
        await g.hover();
      assert.equal(await page.evaluate(() => window.__xss), undefined);
      assert.deepEqual(problems, []);
      await page.close();
      console.log('ok hostile names: rendered as text, no script ran');
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
