"use strict";
// The page of `rnnkit serve`: one part per kind of model loaded (GET /api/models). Plain DOM,
// no build step; model and user text is always set as textContent, never as HTML.
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, children = []) => {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

async function post(url, body) {
  const r = await fetch(url, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const data = await r.json();
  if (!r.ok) throw new Error(data.detail || r.statusText);
  return data;
}

function showError(target, e) {
  target.textContent = e.message; target.className = "error";
}

// -- sentiment --------------------------------------------------------------------------------
function colour(p) {  // 0 red, 0.5 pale, 1 green
  const t = Math.abs(p - 0.5) * 2, light = 92 - 42 * t;
  return `hsl(${p >= 0.5 ? 120 : 0}, 60%, ${light}%)`;
}

function drawCurve(values) {
  const c = $("curve"), g = c.getContext("2d"), w = c.width, h = c.height;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#bbb"; g.setLineDash([4, 4]);
  g.beginPath(); g.moveTo(0, h / 2); g.lineTo(w, h / 2); g.stroke(); g.setLineDash([]);
  if (!values.length) return;
  const x = (i) => values.length === 1 ? w / 2 : 6 + (i * (w - 12)) / (values.length - 1);
  const y = (p) => h - 6 - p * (h - 12);
  g.strokeStyle = "#444"; g.beginPath();
  values.forEach((p, i) => (i ? g.lineTo(x(i), y(p)) : g.moveTo(x(i), y(p))));
  g.stroke();
  values.forEach((p, i) => { g.fillStyle = colour(p); g.beginPath(); g.arc(x(i), y(p), 4, 0, 7); g.fill(); });
}

async function readReview() {
  const text = $("text").value;
  $("label").textContent = "reading..."; $("label").className = "";
  const started = performance.now();
  try {
    const body = await post("/api/sentiment", {texts: [text], explain: true});
    const res = body.results[0];
    $("label").textContent = `${res.label} (${res.probability.toFixed(3)})`;
    $("words").replaceChildren(...res.words.map((word, i) => {
      const s = el("span", {textContent: word, title: `P(positive) after "${word}": ${res.trajectory[i].toFixed(3)}`});
      s.style.background = colour(res.trajectory[i]);
      return s;
    }));
    drawCurve(res.trajectory);
    $("model").textContent = `model: ${body.model}`;
    $("note").textContent = `answered in ${Math.round(performance.now() - started)} ms`;
    document.body.dataset.answered = "1";
  } catch (e) {
    showError($("label"), e);
  }
}

// -- next word and generation -----------------------------------------------------------------
let suggestTimer = null, suggestSeq = 0;
async function suggest() {
  const text = $("lm-text").value, seq = ++suggestSeq;
  if (!text.trim()) { $("suggestions").replaceChildren(); return; }
  try {
    const body = await post("/api/next-word", {text, k: 6});
    if (seq !== suggestSeq) return;  // an older answer, after a newer one was asked
    $("suggestions").className = ""; $("suggestions").dataset.for = text;
    $("suggestions").replaceChildren(...body.words.map(({token, probability}) => {
      const b = el("button", {type: "button"}, [token, el("small", {textContent: probability.toFixed(3)})]);
      b.dataset.token = token;
      b.addEventListener("click", () => {
        const t = $("lm-text").value, word = token === "<eos>" ? "\n" : token;
        const sep = body.level === "char" || word === "\n" || /\s$/.test(t) || !t ? "" : " ";
        $("lm-text").value = t + sep + word;
        suggest();
      });
      return b;
    }));
    document.body.dataset.suggested = String(Number(document.body.dataset.suggested || 0) + 1);
  } catch (e) {
    if (seq === suggestSeq) showError($("suggestions"), e);
  }
}

let generation = null, lmLevel = "word";
async function generate() {
  const num = (id) => $(id).value === "" ? null : Number($(id).value);
  const body = {
    prompt: $("gen-prompt").value, length: num("gen-length"), temperature: num("gen-temperature"),
    top_k: num("gen-top-k"), seed: num("gen-seed"),
  };
  generation = new AbortController();
  $("gen-go").disabled = true; $("gen-stop").disabled = false;
  $("gen-out").textContent = body.prompt; $("gen-note").textContent = ""; $("gen-note").className = "note";
  const started = performance.now();
  let tokens = 0, first = null;
  try {
    const r = await fetch("/api/generate", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
      signal: generation.signal,
    });
    if (!r.ok) throw new Error((await r.json()).detail || r.statusText);
    const reader = r.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {  // one server-sent event
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const fields = Object.fromEntries(block.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]));
        const data = JSON.parse(fields.data);
        if (fields.event === "error") throw new Error(data.detail);
        if (fields.event === "end") { document.body.dataset.generated = "1"; continue; }
        if (first === null) {
          first = performance.now() - started;
          // a word-level continuation starts without its space: put one after the prompt
          const t = $("gen-out").textContent;
          if (lmLevel === "word" && t && !/\s$/.test(t) && data.token !== "\n") $("gen-out").textContent += " ";
        }
        $("gen-out").textContent += data.token; tokens += 1;
      }
    }
    const ms = performance.now() - started;
    $("gen-note").textContent = `${tokens} tokens in ${Math.round(ms)} ms (first after ${Math.round(first ?? ms)} ms)`;
  } catch (e) {
    if (e.name !== "AbortError") showError($("gen-note"), e);
  } finally {
    $("gen-go").disabled = false; $("gen-stop").disabled = true;
  }
}

// -- forecast ---------------------------------------------------------------------------------
const PALETTE = {naive: "#999", seasonal_naive: "#c80", drift: "#7a5", ets: "#a5c", arima: "#5ac"};

function drawForecast(res) {
  const W = 900, H = 320, L = 56, R = 12, T = 12, B = 28;
  const hist = res.history, fc = res.forecast, n = hist.length, h = fc.mean.length;
  const lines = [hist, fc.mean, fc.lower, fc.upper, ...Object.values(res.baselines).map((b) => b.mean)];
  const all = lines.flat().filter(Number.isFinite);
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi === lo) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
  const x = (i) => L + (i * (W - L - R)) / Math.max(n + h - 1, 1);
  const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo);
  const path = (vals, start) => vals.map((v, i) => `${i ? "L" : "M"}${x(start + i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img"});
  for (let k = 0; k <= 4; k++) {  // horizontal grid with values
    const v = lo + ((hi - lo) * k) / 4;
    root.append(svg("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eee"}));
    const t = svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#666"});
    t.textContent = Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(3);
    root.append(t);
  }
  const periods = [...(res.history_periods || []), ...(fc.periods || [])];
  if (periods.length) {
    for (const [i, anchor] of [[0, "start"], [n - 1, "middle"], [n + h - 1, "end"]]) {
      const t = svg("text", {x: x(i), y: H - 8, "text-anchor": anchor, "font-size": 11, fill: "#666"});
      t.textContent = periods[i] ?? ""; root.append(t);
    }
  }
  // the interval: upper edge forward, lower edge back (joined to the last observed value)
  const band = [...fc.upper.map((v, i) => [n + i, v]), ...fc.lower.map((v, i) => [n + i, v]).reverse()];
  root.append(svg("path", {d: band.map(([i, v], k) => `${k ? "L" : "M"}${x(i)},${y(v)}`).join("") + "Z", fill: "rgba(40,90,200,0.18)", class: "interval"}));
  root.append(svg("line", {x1: x(n - 0.5), x2: x(n - 0.5), y1: T, y2: H - B, stroke: "#ccc", "stroke-dasharray": "3 3"}));
  root.append(svg("path", {d: path(hist, 0), fill: "none", stroke: "#222", "stroke-width": 1.6, class: "history"}));
  for (const [name, b] of Object.entries(res.baselines)) {
    root.append(svg("path", {d: path([hist[n - 1], ...b.mean], n - 1), fill: "none", stroke: PALETTE[name] || "#888", "stroke-width": 1.3, "stroke-dasharray": "5 4", class: "baseline"}));
  }
  root.append(svg("path", {d: path([hist[n - 1], ...fc.mean], n - 1), fill: "none", stroke: "#1f57c8", "stroke-width": 2.2, class: "forecast"}));
  const legend = el("div", {className: "legend"});
  const item = (name, color) => { const i = el("i"); i.style.borderColor = color; return el("span", {}, [i, name]); };
  legend.append(item("history", "#222"), item(`rnnkit (${fc.level}% interval shaded)`, "#1f57c8"));
  for (const name of Object.keys(res.baselines)) legend.append(item(name, PALETTE[name] || "#888"));
  $("fc-chart").replaceChildren(root, legend);
}

async function forecast() {
  const raw = $("fc-values").value.trim();
  const body = {model: $("fc-model").value, level: Number($("fc-level").value) || 80};
  if ($("fc-horizon").value) body.horizon = Number($("fc-horizon").value);
  if (raw) body.series = raw.split(/[\s,;]+/).filter(Boolean).map(Number);
  $("fc-note").textContent = "forecasting..."; $("fc-note").className = "note";
  try {
    const res = await post("/api/forecast", body);
    drawForecast(res);
    const what = res.series ? `after the saved series ${res.series}` : `after the ${res.history.length} values shown`;
    $("fc-note").textContent = `${res.forecast.mean.length} periods ${what}; model ${res.model}`;
    document.body.dataset.forecast = "1";
  } catch (e) {
    showError($("fc-note"), e);
  }
}

// -- translation ------------------------------------------------------------------------------
function attentionTable(att) {
  const head = el("tr", {}, [el("th"), ...att.source.map((w) => el("th", {scope: "col", textContent: w}))]);
  const rows = att.output.map((word, i) => el("tr", {}, [
    el("th", {scope: "row", textContent: word}),
    ...att.weights[i].map((w) => {
      const td = el("td", {textContent: w.toFixed(2), title: `${word} <- ${w.toFixed(3)}`});
      td.style.background = `rgba(31,87,200,${w.toFixed(3)})`;
      td.style.color = w > 0.5 ? "#fff" : "#333";
      return td;
    }),
  ]));
  return el("table", {className: "attention"}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
}

async function translate() {
  $("tr-out").textContent = "translating..."; $("tr-out").className = "";
  try {
    const body = await post("/api/translate", {texts: [$("tr-text").value], beam: Number($("tr-beam").value) || 1});
    const res = body.results[0];
    $("tr-out").textContent = res.translation;
    $("tr-attention").replaceChildren(...(res.attention ? [
      el("p", {className: "note", textContent: body.beam > 1 ? "attention of the greedy decoding:" : "attention:"}),
      attentionTable(res.attention),
    ] : [el("p", {className: "note", textContent: "this model has no attention"})]));
    document.body.dataset.translated = "1";
  } catch (e) {
    showError($("tr-out"), e);
  }
}

// -- start: show the parts of the loaded models -----------------------------------------------
async function start() {
  let models = [];
  try {
    models = await (await fetch("/api/models")).json();
  } catch (e) {
    showError($("loaded"), e); return;
  }
  const of = (task) => models.filter((m) => m.task === task);
  $("loaded").textContent = models.length
    ? "Loaded: " + models.map((m) => `${m.name} (${m.task.replace("_", " ")})`).join(", ")
    : "";
  $("none").hidden = models.length > 0;
  if (of("sentiment").length) {
    $("sentiment").hidden = false;
    $("go").addEventListener("click", readReview);
  }
  if (of("language_model").length) {
    $("language").hidden = false;
    lmLevel = of("language_model")[0].config.level;
    $("lm-text").addEventListener("input", () => { clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 200); });
    $("gen-go").addEventListener("click", generate);
    $("gen-stop").addEventListener("click", () => generation && generation.abort());
    suggest();
  }
  if (of("forecast").length) {
    $("forecast").hidden = false;
    $("fc-model").replaceChildren(...of("forecast").map((m) => el("option", {value: m.name, textContent: `${m.name} (${m.config.series ?? "series"})`})));
    $("fc-horizon").placeholder = String(of("forecast")[0].config.trained_horizon);
    $("fc-go").addEventListener("click", forecast);
  }
  if (of("translate").length) {
    $("translate").hidden = false;
    $("tr-go").addEventListener("click", translate);
  }
  if (of("lab").length) {
    $("lab").hidden = false;
    $("lab-plots").replaceChildren(...of("lab").flatMap((m) => Object.entries(m.plots).map(([file, url]) =>
      el("figure", {}, [el("img", {src: url, alt: `${m.name}/${file}`}), el("figcaption", {className: "note", textContent: `${m.name}/${file}`})]))));
  }
  document.body.dataset.ready = "1";
}
start();
