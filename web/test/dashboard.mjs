// Browser test of the dashboard: starts the engine on a synthetic market
// with --ui, opens the page in Debian's chromium (headless, driven by
// playwright-core), and checks that candles, signals and the per-stage
// latency histograms render and update, and that switching symbol works.
// Saves a screenshot as the test's artifact.
//
//   node web/test/dashboard.mjs --tickpath BIN --model FILE --out DIR [--chromium PATH]
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const chromiumPath = args.chromium ?? "/usr/bin/chromium";
mkdirSync(args.out, { recursive: true });

const fail = (msg) => {
  console.error(`dashboard test: ${msg}`);
  process.exitCode = 1;
};

const engine = spawn(
  args.tickpath,
  ["run", "--feed", "synthetic", "--symbols", "BTCUSDT,ETHUSDT", "--messages", "3000000", "--pace", "40000",
   "--rate", "60", "--model", args.model, "--policy-on", "bar", "--ui", "0", "--quiet", "--no-mlock"],
  { stdio: ["ignore", "ignore", "pipe"] },
);
let stderr = "";
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no dashboard line from the engine in 60 s: ${stderr}`)), 60000);
  engine.stderr.on("data", (d) => {
    stderr += d;
    const m = /dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
    if (m) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
  engine.on("exit", (code) => reject(new Error(`the engine exited (${code}) before serving: ${stderr}`)));
});

const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`);

  // The stream arrives and the symbol switcher fills from the snapshot.
  await page.waitForFunction(() => Number(document.body.dataset.messages ?? 0) >= 5, null, { timeout: 30000 });
  const options = await page.$$eval("#symbol option", (o) => o.map((x) => x.textContent));
  if (JSON.stringify(options) !== JSON.stringify(["BTCUSDT", "ETHUSDT"])) fail(`symbols ${JSON.stringify(options)}`);

  // Candles: bars closed and drawn (the chart's canvases exist and the count grows).
  await page.waitForFunction(() => Number(document.getElementById("candles").dataset.bars ?? 0) >= 3, null, { timeout: 60000 });
  const bars1 = await page.$eval("#candles", (e) => Number(e.dataset.bars));
  if ((await page.$$("#candles canvas")).length === 0) fail("no candle canvas");

  // Signals: BUY/SELL/HOLD rows with a confidence.
  await page.waitForFunction(() => Number(document.getElementById("signals").dataset.count ?? 0) >= 1, null, { timeout: 60000 });
  const firstRow = await page.$eval("#signals tbody tr", (r) => r.textContent);
  if (!/(BUY|SELL|HOLD)/.test(firstRow)) fail(`signal row "${firstRow}"`);

  // The tape: trades with a time, a price and a quantity.
  await page.waitForFunction(() => Number(document.getElementById("tape").dataset.count ?? 0) >= 5, null, { timeout: 30000 });
  const tapeRow = await page.$$eval("#tape tbody tr:first-child td", (t) => t.map((x) => x.textContent));
  if (!(tapeRow.length === 3 && /^\d\d:\d\d:\d\d\.\d{3}$/.test(tapeRow[0]) && Number(tapeRow[1]) > 0 && Number(tapeRow[2]) > 0))
    fail(`tape row ${JSON.stringify(tapeRow)}`);

  // Latency histograms: one per active stage, and their counts move.
  const counts = () => page.$$eval("#histograms figure", (f) => f.map((x) => [x.dataset.stage, Number(x.querySelector("canvas").dataset.count)]));
  const h1 = Object.fromEntries(await counts());
  for (const st of ["parse", "queue", "indicators", "end_to_end"]) if (!(h1[st] > 0)) fail(`no histogram for ${st}`);
  await page.waitForTimeout(1500);
  const h2 = Object.fromEntries(await counts());
  if (!(h2.parse > h1.parse)) fail(`the parse histogram did not update (${h1.parse} -> ${h2.parse})`);
  const caption = await page.$eval('#histograms figure[data-stage="parse"] figcaption', (c) => c.textContent);
  if (!/p50 .* p99 .* p99\.9/.test(caption)) fail(`histogram caption "${caption}"`);
  // Its canvas has pixels drawn.
  const inked = await page.$eval('#histograms figure[data-stage="parse"] canvas', (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
    return n;
  });
  if (inked < 100) fail(`the parse histogram canvas is blank (${inked} pixels)`);

  // Candles keep coming.
  await page.waitForFunction((b) => Number(document.getElementById("candles").dataset.bars) > b, bars1, { timeout: 60000 });

  // Switch symbol: the page redraws from that symbol's data.
  const priceBefore = await page.$eval("#price", (e) => e.textContent);
  await page.selectOption("#symbol", "1");
  await page.waitForFunction(() => document.body.dataset.symbol === "ETHUSDT", null, { timeout: 5000 });
  await page.waitForFunction(() => Number(document.getElementById("candles").dataset.bars ?? 0) >= 1, null, { timeout: 30000 });
  const priceAfter = await page.$eval("#price", (e) => e.textContent);
  if (priceAfter === priceBefore) fail(`the price did not change on switching symbol (${priceBefore})`);

  await page.screenshot({ path: join(args.out, "dashboard.png"), fullPage: true });
  // Nothing fetched from anywhere but the engine.
  const foreign = requests.filter((u) => !u.startsWith(`http://127.0.0.1:${port}/`) && !u.startsWith(`ws://127.0.0.1:${port}/`));
  if (foreign.length) fail(`requests outside the engine: ${foreign.join(", ")}`);
  if (errors.length) fail(`page errors: ${errors.join("; ")}`);
  console.log(`dashboard test: ${bars1}+ bars, histograms ${Object.keys(h2).join(" ")}, screenshot ${join(args.out, "dashboard.png")}`);
} catch (e) {
  fail(String(e));
} finally {
  await browser.close();
  engine.kill("SIGINT");
}
