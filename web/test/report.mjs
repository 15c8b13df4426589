// Browser test of the backtest report: runs `tickpath backtest --html` on
// real klines, opens the file in Debian's chromium (headless, driven by
// playwright-core) straight from disk, and checks that the metrics table,
// the equity and drawdown curves of every strategy, the candles and each
// strategy's fills render and agree with the engine's own JSON table; that
// selecting another strategy redraws its fills; and that the page makes no
// request. Saves a screenshot as the test's artifact.
//
//   node web/test/report.mjs --tickpath BIN --model FILE --klines CSV --out DIR [--chromium PATH]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const chromiumPath = args.chromium ?? "/usr/bin/chromium";
mkdirSync(args.out, { recursive: true });
const fail = (msg) => {
  console.error(`report test: ${msg}`);
  process.exitCode = 1;
};

const html = join(args.out, "backtest.html");
const table = join(args.out, "backtest.json");
execFileSync(args.tickpath, ["backtest", "--klines", args.klines, "--model", args.model, "--from", "2023-01-15",
  "--html", html, "--report", table], { stdio: ["ignore", "ignore", "inherit"] });
const want = JSON.parse(readFileSync(table, "utf8"));
const names = Object.keys(want.strategies);

const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
  const url = pathToFileURL(html).href;
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 30000 });

  // The table: one row per strategy, in the engine's order, with its return.
  const rows = await page.$$eval("#metrics tbody tr", (r) => r.map((x) => [x.dataset.name, x.children[1].textContent]));
  if (JSON.stringify(rows.map((r) => r[0])) !== JSON.stringify(names)) fail(`rows ${JSON.stringify(rows)} vs ${names}`);
  for (const [name, ret] of rows) {
    const expect = `${(want.strategies[name].total_return * 100).toFixed(2)}%`;
    if (ret !== expect) fail(`${name}: return ${ret}, the engine's table says ${expect}`);
  }
  // Curves: one per strategy; candles: one per bar of the window.
  const series = await page.$eval("#equity", (e) => Number(e.dataset.series));
  if (series !== names.length) fail(`${series} equity curves for ${names.length} strategies`);
  const candles = await page.$eval("#candles", (e) => Number(e.dataset.candles));
  if (candles !== want.bars) fail(`${candles} candles for ${want.bars} bars`);

  // Fills of the first strategy, then of each other one when its row is clicked.
  for (const [i, name] of names.entries()) {
    if (i > 0) {
      await page.click(`#metrics tbody tr[data-name="${name}"]`);
      await page.waitForFunction((n) => document.getElementById("candles").dataset.strategy === n, name, { timeout: 5000 });
    }
    const markers = await page.$eval("#candles", (e) => Number(e.dataset.markers));
    const fills = want.strategies[name].fills;
    // Long/flat: every position change is one fill and one marker.
    if (markers !== fills) fail(`${name}: ${markers} markers for ${fills} fills`);
    const selected = await page.$eval("#metrics tr.selected", (r) => r.dataset.name);
    if (selected !== name) fail(`row ${selected} selected, not ${name}`);
  }

  // Every chart has ink.
  for (const id of ["equity", "drawdown", "candles"]) {
    const inked = await page.$$eval(`#${id} canvas`, (cs) => cs.reduce((n, c) => {
      const d = c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data;
      if (d) for (let i = 3; i < d.length; i += 4) n += d[i] > 0 && (d[i - 1] > 60 || d[i - 2] > 60 || d[i - 3] > 60);
      return n;
    }, 0));
    if (inked < 500) fail(`the ${id} chart is blank (${inked} bright pixels)`);
  }

  await page.click(`#metrics tbody tr[data-name="${names[0]}"]`);
  await page.screenshot({ path: join(args.out, "backtest.png"), fullPage: true });
  const foreign = requests.filter((u) => u !== url);
  if (foreign.length) fail(`requests beyond the file itself: ${foreign.join(", ")}`);
  if (errors.length) fail(`page errors: ${errors.join("; ")}`);
  console.log(`report test: ${names.length} strategies, ${candles} candles, screenshot ${join(args.out, "backtest.png")}`);
} catch (e) {
  fail(String(e));
} finally {
  await browser.close();
}
