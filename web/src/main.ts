// tickpath dashboard: one WebSocket (/ws on the engine's --ui port), a
// snapshot on connect, then deltas at 10 Hz. Everything is drawn from what
// the engine sends: no external fonts, scripts or requests.
import {
  CandlestickSeries,
  LineSeries,
  createChart,
  createSeriesMarkers,
  type IChartApi,
  type SeriesMarker,
  type UTCTimestamp,
} from "lightweight-charts";

interface BarMsg { t: number; o: number; h: number; l: number; c: number; v: number }
interface Frame {
  s: number; t: number; last: number | null; bid: number | null; ask: number | null; bar: BarMsg;
  sma20: number | null; bb_upper: number | null; bb_lower: number | null; position: number; equity: number | null;
  trades: number; bars: number;
}
interface ClosedBar { s: number; bar: BarMsg; sma20: number | null; bb_upper: number | null; bb_lower: number | null }
interface TradeMsg { s: number; t: number; id: number; p: number; q: number; m: 0 | 1 }
interface SignalMsg { s: number; t: number; action: "BUY" | "SELL" | "HOLD"; reason: string; confidence: number; price: number }
interface Stage {
  stage: string; count: number; p50_ns: number; p90_ns: number; p99_ns: number; p999_ns: number; max_ns: number;
  buckets: [number, number][];
}
interface Stats { feed: string; uptime_s: number; counters: Record<string, number | Record<string, number>>; stages: Stage[] }
interface Update {
  type: "snapshot" | "delta"; uptime_s: number; bar_drops: number; tape_drops: number; symbols?: string[];
  frames: Frame[]; bars: ClosedBar[]; signals: SignalMsg[]; trades: TradeMsg[]; stats: Stats;
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const sec = (ms: number) => Math.floor(ms / 1000) as UTCTimestamp;
const minute = (ms: number) => (Math.floor(ms / 60000) * 60) as UTCTimestamp;
const fmt = (v: number | null | undefined, d = 2) => (v == null || !isFinite(v) ? "-" : v.toFixed(d));
const ns = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : v >= 1e3 ? `${(v / 1e3).toFixed(2)} µs` : `${v.toFixed(0)} ns`);

// ---- state, per symbol ----
interface SymbolData {
  bars: Map<number, BarMsg & { sma20: number | null; up: number | null; lo: number | null }>;
  signals: SignalMsg[];
  equity: { time: UTCTimestamp; value: number }[];
  tape: TradeMsg[];
  frame?: Frame;
  firstPrice?: number;
  peakEquity: number;
}
let symbols: string[] = [];
const data: SymbolData[] = [];
let current = 0;
let messages = 0;
const throughput: { time: UTCTimestamp; value: number }[] = [];
let lastFrames: { t: number; n: number } | null = null;

// ---- charts ----
const chartOptions = {
  layout: { background: { color: css("--panel") }, textColor: css("--text"), attributionLogo: false },
  grid: { vertLines: { color: css("--line") }, horzLines: { color: css("--line") } },
  timeScale: { timeVisible: true, secondsVisible: false },
  autoSize: true,
};
const candleChart: IChartApi = createChart($("candles"), chartOptions);
const candles = candleChart.addSeries(CandlestickSeries, {
  upColor: css("--up"), downColor: css("--down"), wickUpColor: css("--up"), wickDownColor: css("--down"), borderVisible: false,
});
const sma = candleChart.addSeries(LineSeries, { color: css("--accent"), lineWidth: 1, priceLineVisible: false });
const bbUp = candleChart.addSeries(LineSeries, { color: "#5c7cfa", lineWidth: 1, priceLineVisible: false });
const bbLo = candleChart.addSeries(LineSeries, { color: "#5c7cfa", lineWidth: 1, priceLineVisible: false });
const markers = createSeriesMarkers(candles, []);
const equityChart = createChart($("equity-chart"), chartOptions);
const equityLine = equityChart.addSeries(LineSeries, { color: css("--up"), lineWidth: 2 });
const tpChart = createChart($("throughput"), { ...chartOptions, timeScale: { timeVisible: true, secondsVisible: true } });
const tpLine = tpChart.addSeries(LineSeries, { color: css("--accent"), lineWidth: 1 });
let lastCandleTime = 0;

function lineData(s: SymbolData, key: "sma20" | "up" | "lo") {
  return [...s.bars.entries()].filter(([, b]) => b[key] != null).map(([t, b]) => ({ time: t as UTCTimestamp, value: b[key] as number }));
}

// A marker where the signal changes side (BUY after SELL or the first of
// either): repeated signals of one side do not clutter the candles.
function markerData(s: SymbolData): SeriesMarker<UTCTimestamp>[] {
  let side = "";
  return s.signals
    .filter((g) => g.action !== "HOLD" && g.action !== side && ((side = g.action), true))
    .map((g) => ({
      time: minute(g.t),
      position: g.action === "BUY" ? "belowBar" : "aboveBar",
      color: g.action === "BUY" ? css("--up") : css("--down"),
      shape: g.action === "BUY" ? "arrowUp" : "arrowDown",
      text: g.action,
    }));
}

// Redraws everything of the current symbol (on switch and on a snapshot).
function redraw() {
  const s = data[current];
  if (!s) return;
  const bars = [...s.bars.entries()].sort((a, b) => a[0] - b[0]);
  candles.setData(bars.map(([t, b]) => ({ time: t as UTCTimestamp, open: b.o, high: b.h, low: b.l, close: b.c })));
  lastCandleTime = bars.length ? bars[bars.length - 1][0] : 0;
  if (s.frame) drawForming(s.frame);
  sma.setData(lineData(s, "sma20"));
  bbUp.setData(lineData(s, "up"));
  bbLo.setData(lineData(s, "lo"));
  markers.setMarkers(markerData(s));
  equityLine.setData(s.equity);
  candleChart.timeScale().fitContent();
  equityChart.timeScale().fitContent();
  $("candles").dataset.bars = String(bars.length);
  renderSide();
}

function drawForming(f: Frame) {
  const t = sec(f.bar.t);
  if (!f.bar.t || t < lastCandleTime || !isFinite(f.bar.o)) return;
  candles.update({ time: t, open: f.bar.o, high: f.bar.h, low: f.bar.l, close: f.bar.c });
  lastCandleTime = t;
}

function renderSide() {
  const s = data[current];
  if (!s) return;
  const f = s.frame;
  $("price").textContent = fmt(f?.last);
  const ch = $("change");
  if (f?.last != null && s.firstPrice) {
    const pct = (f.last / s.firstPrice - 1) * 100;
    ch.textContent = `${pct >= 0 ? "+" : ""}${pct.toFixed(2)}%`;
    ch.className = `change ${pct >= 0 ? "up" : "down"}`;
  }
  $("position").textContent = f ? (f.position > 0 ? "LONG" : f.position < 0 ? "SHORT" : "FLAT") : "-";
  $("equity").textContent = fmt(f?.equity);
  $("drawdown").textContent = f?.equity != null && s.peakEquity > 0 ? `${((f.equity / s.peakEquity - 1) * 100).toFixed(2)}%` : "-";
  const rows = s.signals.slice(-12).reverse().map((g) =>
    `<tr><td>${new Date(g.t).toISOString().slice(11, 19)}</td><td class="${g.action}">${g.action}</td><td>${fmt(g.confidence, 3)}</td><td>${fmt(g.price)}</td></tr>`);
  $("signals").querySelector("tbody")!.innerHTML = rows.join("");
  $("signals").dataset.count = String(s.signals.length);
  // Sells (the buyer was the maker) in red, buys in green.
  $("tape").querySelector("tbody")!.innerHTML = s.tape.slice(-12).reverse()
    .map((e) => `<tr><td>${new Date(e.t).toISOString().slice(11, 23)}</td><td class="${e.m ? "SELL" : "BUY"}">${fmt(e.p)}</td>` +
      `<td>${fmt(e.q, 5)}</td></tr>`).join("");
  $("tape").dataset.count = String(s.tape.length);
}

// ---- latency panel: one canvas per stage, octave buckets on a log axis ----
const MAX_BITS = 37;
function drawHistograms(stages: Stage[]) {
  const box = $("histograms");
  for (const st of stages) {
    if (st.count === 0) continue;
    let fig = box.querySelector<HTMLElement>(`figure[data-stage="${st.stage}"]`);
    if (!fig) {
      fig = document.createElement("figure");
      fig.dataset.stage = st.stage;
      fig.innerHTML = `<figcaption></figcaption><canvas width="400" height="110"></canvas>`;
      box.appendChild(fig);
    }
    fig.querySelector("figcaption")!.textContent =
      `${st.stage}  p50 ${ns(st.p50_ns)} · p99 ${ns(st.p99_ns)} · p99.9 ${ns(st.p999_ns)} · n ${st.count}`;
    const cv = fig.querySelector("canvas")!;
    cv.dataset.count = String(st.count);
    const g = cv.getContext("2d")!;
    const W = cv.width, H = cv.height, pad = 14;
    g.clearRect(0, 0, W, H);
    const x = (bits: number) => (bits / MAX_BITS) * W;
    const max = Math.max(1, ...st.buckets.map(([, c]) => c));
    g.fillStyle = css("--up");
    for (const [ub, c] of st.buckets) {
      const bits = ub === 0 ? 0 : Math.log2(ub + 1);
      const h = (Math.sqrt(c) / Math.sqrt(max)) * (H - pad);
      g.fillRect(x(bits - 1) + 1, H - pad - h, Math.max(1, x(1) - 2), h);
    }
    const mark = (v: number, color: string) => {
      const xx = x(Math.log2(v + 1));
      g.strokeStyle = color;
      g.beginPath(); g.moveTo(xx, 0); g.lineTo(xx, H - pad); g.stroke();
    };
    mark(st.p50_ns, css("--text"));
    mark(st.p99_ns, css("--accent"));
    mark(st.p999_ns, css("--down"));
    g.fillStyle = css("--dim");
    g.font = "10px system-ui";
    for (const [b, label] of [[10, "1µs"], [20, "1ms"], [30, "1s"], [4, "16ns"]] as [number, string][]) g.fillText(label, x(b), H - 2);
  }
}

function drawCounters(st: Stats) {
  const c = st.counters;
  const n = (k: string) => (typeof c[k] === "number" ? (c[k] as number) : 0);
  const rejects = typeof c.rejects_total === "object" ? Object.values(c.rejects_total).reduce((a, b) => a + b, 0) : 0;
  $("counters").textContent =
    `${st.feed} · ${st.uptime_s.toFixed(0)} s · frames ${n("frames_total")} · rejects ${rejects} · ring drops ${n("ring_drops_total")}` +
    ` · duplicates ${n("duplicates_total")} · depth gaps ${n("depth_gaps_total")} · signals ${n("signals_total")}` +
    (c.open_connections != null ? ` · connections ${n("open_connections")}` : "");
  const frames = n("frames_total");
  if (lastFrames && st.uptime_s > lastFrames.t) {
    const t = Math.floor(st.uptime_s) as UTCTimestamp;
    const rate = (frames - lastFrames.n) / (st.uptime_s - lastFrames.t);
    if (!throughput.length || t > throughput[throughput.length - 1].time) {
      throughput.push({ time: t, value: rate });
      tpLine.update(throughput[throughput.length - 1]);
      lastFrames = { t: st.uptime_s, n: frames };
    }
  } else if (!lastFrames) {
    lastFrames = { t: st.uptime_s, n: frames };
  }
}

// ---- the stream ----
function apply(u: Update) {
  if (u.type === "snapshot" && u.symbols) {
    symbols = u.symbols;
    data.length = 0;
    for (let i = 0; i < symbols.length; ++i) data.push({ bars: new Map(), signals: [], equity: [], tape: [], peakEquity: 0 });
    const sel = $<HTMLSelectElement>("symbol");
    sel.innerHTML = symbols.map((s, i) => `<option value="${i}">${s}</option>`).join("");
    sel.value = String(current < symbols.length ? current : 0);
  }
  for (const b of u.bars) {
    const s = data[b.s];
    if (!s) continue;
    const t = sec(b.bar.t);
    s.bars.set(t, { ...b.bar, sma20: b.sma20, up: b.bb_upper, lo: b.bb_lower });
    if (s.bars.size > 2000) s.bars.delete(Math.min(...s.bars.keys()));
    if (b.s === current && u.type === "delta" && t >= lastCandleTime) {
      candles.update({ time: t, open: b.bar.o, high: b.bar.h, low: b.bar.l, close: b.bar.c });
      lastCandleTime = t;
      if (b.sma20 != null) sma.update({ time: t, value: b.sma20 });
      if (b.bb_upper != null) bbUp.update({ time: t, value: b.bb_upper });
      if (b.bb_lower != null) bbLo.update({ time: t, value: b.bb_lower });
      $("candles").dataset.bars = String(s.bars.size);
    }
  }
  for (const t of u.trades ?? []) {
    const s = data[t.s];
    if (!s) continue;
    s.tape.push(t);
    if (s.tape.length > 200) s.tape.shift();
  }
  let newMarkers = false;
  for (const g of u.signals) {
    const s = data[g.s];
    if (!s) continue;
    s.signals.push(g);
    if (s.signals.length > 1000) s.signals.shift();
    newMarkers ||= g.s === current && g.action !== "HOLD";
  }
  for (const f of u.frames) {
    const s = data[f.s];
    if (!s) continue;
    s.frame = f;
    if (f.last != null && s.firstPrice === undefined) s.firstPrice = f.last;
    if (f.equity != null && f.t > 0) {
      const t = sec(f.t);
      s.peakEquity = Math.max(s.peakEquity, f.equity);
      if (!s.equity.length || t > s.equity[s.equity.length - 1].time) {
        s.equity.push({ time: t, value: f.equity });
        if (f.s === current && u.type === "delta") equityLine.update(s.equity[s.equity.length - 1]);
      }
    }
    if (f.s === current && u.type === "delta") drawForming(f);
  }
  if (u.type === "snapshot") redraw();
  else {
    if (newMarkers) markers.setMarkers(markerData(data[current]));
    renderSide();
  }
  drawHistograms(u.stats.stages);
  drawCounters(u.stats);
  document.body.dataset.messages = String(++messages);
}

$<HTMLSelectElement>("symbol").addEventListener("change", (e) => {
  current = Number((e.target as HTMLSelectElement).value);
  redraw();
  document.body.dataset.symbol = symbols[current];
});

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  const status = $("status");
  ws.onopen = () => (status.textContent = "live");
  ws.onmessage = (m) => apply(JSON.parse(m.data as string) as Update);
  ws.onclose = () => {
    status.textContent = "disconnected: retrying";
    setTimeout(connect, 2000);
  };
}
connect();
