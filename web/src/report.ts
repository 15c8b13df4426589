// tickpath backtest report: drawn from the JSON that `tickpath backtest
// --html` inlines beside this script. Equity and drawdown of every strategy
// on shared charts, a metrics table, and the candles with the selected
// strategy's fills marked. Nothing is fetched.
import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  createChart,
  createSeriesMarkers,
  type IChartApi,
  type LogicalRange,
  type SeriesMarker,
  type UTCTimestamp,
} from "lightweight-charts";
import "./style.css";
import "./report.css";

interface Strategy {
  name: string; total_return: number; sharpe: number; sortino: number; max_drawdown: number; trades: number;
  fills: number; fees: number; final_equity: number; equity: number[];
  fills_at: { t: number[]; price: number[]; from: number[]; to: number[] };
}
interface Report {
  klines: string; model: string; backend: string; fee_bps: number; mode: string; bars: number; first_ms: number;
  last_ms: number; bars_per_candle: number;
  candles: { t: number[]; o: number[]; h: number[]; l: number[]; c: number[]; v: number[] };
  strategies: Strategy[];
}

const report = JSON.parse(document.getElementById("tickpath-backtest")!.textContent!) as Report;
const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const palette: Record<string, string> = { policy: css("--accent"), buy_and_hold: "#8b96a5", macd_crossover: "#5c7cfa", rsi_reversion: "#c678dd" };
const colour = (s: Strategy, i: number) => palette[s.name] ?? ["#56b6c2", "#98c379", "#e06c75"][i % 3];
const pct = (v: number) => (isFinite(v) ? `${(v * 100).toFixed(2)}%` : "-");
const num = (v: number, d = 2) => (isFinite(v) ? v.toFixed(d) : "-");
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
const time = (s: number) => s as UTCTimestamp;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

const root = document.getElementById("report")!;
root.className = "report";
const candleNote = report.bars_per_candle > 1 ? ` · ${report.bars_per_candle} bars per candle` : "";
root.innerHTML = `
  <header><span class="brand">tickpath backtest</span><span>${esc(report.klines)}</span>
    <span class="meta">${iso(report.first_ms)} to ${iso(report.last_ms)} UTC · ${report.bars} bars · fee ${report.fee_bps} bps ·
    ${report.mode}${report.model ? ` · policy ${esc(report.model)} (${esc(report.backend)})` : " · baselines only"} ·
    fills at the next bar's open, no slippage</span></header>
  <section class="panel"><table class="metrics" id="metrics"><thead><tr><th>strategy</th><th>return</th><th>Sharpe</th>
    <th>Sortino</th><th>max drawdown</th><th>trades</th><th>fills</th><th>fees</th><th>final equity</th></tr></thead><tbody></tbody></table></section>
  <section class="panel"><h2>Equity <small>every strategy, from the same cash</small></h2><div id="equity" class="chart equity"></div>
    <h2>Drawdown</h2><div id="drawdown" class="chart drawdown"></div></section>
  <section class="panel"><h2>Candles and fills <small id="fills-of"></small><small>${candleNote}</small></h2>
    <div id="candles" class="chart candles"></div></section>`;

const chartOptions = {
  layout: { background: { color: css("--panel") }, textColor: css("--text"), attributionLogo: false },
  grid: { vertLines: { color: css("--line") }, horzLines: { color: css("--line") } },
  // A fortnight of minutes fits the width: bars may be thinner than a pixel.
  timeScale: { timeVisible: true, secondsVisible: false, minBarSpacing: 0.001 },
  autoSize: true,
};
const c = report.candles;

// Equity and drawdown: one line per strategy.
const equityChart = createChart(document.getElementById("equity")!, chartOptions);
const ddChart = createChart(document.getElementById("drawdown")!, chartOptions);
let drawn = 0;
report.strategies.forEach((s, i) => {
  const line = equityChart.addSeries(LineSeries, { color: colour(s, i), lineWidth: s.name === "policy" ? 2 : 1, title: s.name });
  line.setData(s.equity.map((v, k) => ({ time: time(c.t[k]), value: v })));
  let peak = -Infinity;
  const dd = ddChart.addSeries(LineSeries, { color: colour(s, i), lineWidth: 1, priceFormat: { type: "percent" } });
  dd.setData(s.equity.map((v, k) => ((peak = Math.max(peak, v)), { time: time(c.t[k]), value: (v / peak - 1) * 100 })));
  if (s.equity.length) drawn++;
});
document.getElementById("equity")!.dataset.series = String(drawn);

// Candles, volume and the selected strategy's fills.
const candleChart = createChart(document.getElementById("candles")!, chartOptions);
const candles = candleChart.addSeries(CandlestickSeries, {
  upColor: css("--up"), downColor: css("--down"), wickUpColor: css("--up"), wickDownColor: css("--down"), borderVisible: false,
});
candles.setData(c.t.map((t, k) => ({ time: time(t), open: c.o[k], high: c.h[k], low: c.l[k], close: c.c[k] })));
const volume = candleChart.addSeries(HistogramSeries, { color: "#2a313c", priceScaleId: "volume", priceFormat: { type: "volume" } });
candleChart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.85, bottom: 0 } });
volume.setData(c.t.map((t, k) => ({ time: time(t), value: c.v[k] })));
document.getElementById("candles")!.dataset.candles = String(c.t.length);
const markers = createSeriesMarkers(candles, []);

// Labelled while few enough to read; arrows alone past that.
function fillMarkers(s: Strategy): SeriesMarker<UTCTimestamp>[] {
  const f = s.fills_at;
  const labelled = f.t.length <= 200;
  return f.t.map((t, k) => {
    const up = f.to[k] > f.from[k];
    const label = f.to[k] === 1 ? "BUY" : f.to[k] === -1 ? "SHORT" : f.from[k] === 1 ? "SELL" : "COVER";
    return {
      time: time(t), position: up ? "belowBar" : "aboveBar", color: up ? css("--up") : css("--down"),
      shape: up ? "arrowUp" : "arrowDown", text: labelled ? label : "",
    };
  });
}

function select(i: number) {
  const s = report.strategies[i];
  const m = fillMarkers(s);
  markers.setMarkers(m);
  document.getElementById("fills-of")!.textContent = `${s.name}: ${m.length} fills (click a row of the table for another strategy)`;
  document.getElementById("candles")!.dataset.markers = String(m.length);
  document.getElementById("candles")!.dataset.strategy = s.name;
  document.querySelectorAll("#metrics tbody tr").forEach((r, k) => r.classList.toggle("selected", k === i));
}

document.querySelector("#metrics tbody")!.innerHTML = report.strategies
  .map((s, i) => `<tr data-name="${esc(s.name)}"><td><span class="swatch" style="background:${colour(s, i)}"></span>${esc(s.name)}</td>
    <td class="${s.total_return >= 0 ? "pos" : "neg"}">${pct(s.total_return)}</td><td>${num(s.sharpe)}</td><td>${num(s.sortino)}</td>
    <td>${pct(s.max_drawdown)}</td><td>${s.trades}</td><td>${s.fills}</td><td>${num(s.fees)}</td><td>${num(s.final_equity)}</td></tr>`)
  .join("");
document.querySelectorAll<HTMLElement>("#metrics tbody tr").forEach((r, i) => r.addEventListener("click", () => select(i)));
select(0);

// The three charts share one time axis: scrolling or zooming one moves the others.
const charts: IChartApi[] = [equityChart, ddChart, candleChart];
let syncing = false;
for (const ch of charts) {
  ch.timeScale().subscribeVisibleLogicalRangeChange((r: LogicalRange | null) => {
    if (syncing || !r) return;
    syncing = true;
    for (const other of charts) if (other !== ch) other.timeScale().setVisibleLogicalRange(r);
    syncing = false;
  });
}
for (const ch of charts) ch.timeScale().fitContent();
document.body.dataset.ready = "1";
