// Solvent dashboard: reads the HTTP API with the key of this tab and refreshes when the
// WebSocket stream says something changed. No build step, no dependencies.
"use strict";

const RISKIEST = 10;      // rows of the riskiest-accounts table
const EVENTS = 20;        // rows of the recent-events table
const REFRESH_MS = 300;   // changes within this window refresh the page once
const STATES = ["healthy", "margin_call", "liquidation", "bankrupt"];
let key = null;
let socket = null;
let refreshTimer = null;
let retryDelay = 1000;

const $ = (id) => document.getElementById(id);
const usd = (x) => (x === null || x === undefined ? "-" : x.toFixed(2));
const ratio = (x) => (x === null || x === undefined ? "-" : x.toFixed(4));
const percent = (x) => (x === null || x === undefined ? "-" : (100 * x).toFixed(1) + " %");

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + key } });
  if (r.status === 404) return null;  // an endpoint this service does not offer
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.field + ": " + body.error.message : r.statusText);
  return body;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

// Riskiest first: no margin ratio (equity <= 0) before any ratio, then the highest ratio.
function riskOrder(a, b) {
  const ra = a.margin_ratio === null ? Infinity : a.margin_ratio;
  const rb = b.margin_ratio === null ? Infinity : b.margin_ratio;
  return rb - ra || a.account.localeCompare(b.account);
}

function renderAccounts(data) {
  for (const s of STATES) $("state-" + s).textContent = String(data.states[s] ?? 0);
  const seen = new Set();
  const units = data.accounts.filter((a) => {
    const unit = a.margin_unit.join(",");
    if (seen.has(unit)) return false;  // one row per margin unit
    seen.add(unit);
    return true;
  });
  units.sort(riskOrder);
  const body = $("riskiest").querySelector("tbody");
  body.replaceChildren();
  for (const a of units.slice(0, RISKIEST)) {
    const tr = document.createElement("tr");
    tr.dataset.account = a.account;
    cell(tr, a.account);
    cell(tr, a.state).className = a.state;
    cell(tr, usd(a.equity_usd));
    cell(tr, usd(a.maintenance_margin_usd));
    cell(tr, ratio(a.margin_ratio));
    cell(tr, percent(a.liquidation_distance));
    body.appendChild(tr);
  }
}

function renderInsurance(fund) {
  const svg = $("insurance-chart");
  svg.replaceChildren();
  if (fund === null) {
    $("insurance-now").textContent = "-";
    return;
  }
  $("insurance-now").textContent = usd(fund.value_usd);
  const points = fund.history.map((h) => h.value_usd);
  if (points.length < 1) return;
  const lo = Math.min(0, ...points), hi = Math.max(...points, lo + 1);
  const x = (i) => (points.length === 1 ? 300 : (600 * i) / (points.length - 1));
  const y = (v) => 155 - (150 * (v - lo)) / (hi - lo);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.map((v, i) => x(i) + "," + y(v)).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1565c0");
  line.setAttribute("stroke-width", "2");
  svg.appendChild(line);
}

// Liquidations (and the ADL fills they carry), newest first; read incrementally with `since`.
let recentEvents = [];
let eventsNext = 0;

async function loadEvents() {
  for (;;) {
    const page = await api("/v1/events?since=" + eventsNext);
    if (page === null) return null;  // a service without the real-time engine's events
    const wanted = page.events.filter((e) => e.kind === "liquidation" || (e.detail && e.detail.adl));
    recentEvents = recentEvents.concat(wanted).slice(-EVENTS);
    if (page.next === eventsNext) return recentEvents;
    eventsNext = page.next;
  }
}

function renderEvents(events) {
  const body = $("events").querySelector("tbody");
  body.replaceChildren();
  if (events === null) return;
  for (const e of events.slice().reverse()) {
    const tr = document.createElement("tr");
    cell(tr, String(e.seq));
    cell(tr, e.time ?? "");
    cell(tr, e.kind);
    cell(tr, e.account ?? "");
    cell(tr, JSON.stringify(e.detail ?? {}));
    body.appendChild(tr);
  }
}

function renderMarket(market) {
  $("as-of").textContent = "market: " + market.as_of;
  const box = $("surfaces");
  box.replaceChildren();
  for (const [underlying, s] of Object.entries(market.vol_surface)) {
    const h = document.createElement("h3");
    h.textContent = underlying + " implied volatility (%), rows: expiry, columns: ln(K/F)";
    const table = document.createElement("table");
    table.className = "surface";
    table.id = "surface-" + underlying;
    const head = document.createElement("tr");
    cell(head, "expiry");
    for (const k of s.log_moneyness) cell(head, k.toFixed(1));
    table.appendChild(head);
    s.implied_vol.forEach((row, i) => {
      const tr = document.createElement("tr");
      cell(tr, s.expiries[i].slice(0, 10));
      for (const v of row) {
        const td = cell(tr, v === null ? "-" : (100 * v).toFixed(1));
        if (v !== null) td.style.background = "hsl(" + Math.max(0, 220 - 200 * v) + ",70%,90%)";
      }
      table.appendChild(tr);
    });
    box.append(h, table);
  }
}

async function refresh() {
  try {
    const [accounts, market, fund, events] = await Promise.all([
      api("/v1/accounts?riskiest=" + RISKIEST), api("/v1/market"), api("/v1/insurance-fund"), loadEvents(),
    ]);
    renderAccounts(accounts);
    renderMarket(market);
    renderInsurance(fund);
    renderEvents(events);
    showError("");
    $("board").hidden = false;
    document.body.dataset.refreshed = String(Date.now());
  } catch (err) {
    showError(String(err.message || err));
  }
}

function scheduleRefresh() {
  if (refreshTimer !== null) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, REFRESH_MS);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(scheme + location.host + "/v1/stream");
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", key: key }));
  socket.onmessage = (msg) => {
    const event = JSON.parse(msg.data);
    if (event.type === "hello") {
      $("live-status").textContent = "live";
      $("live-status").className = "status on";
      retryDelay = 1000;
      scheduleRefresh();
    } else if (event.type === "error") {
      showError(event.error.field + ": " + event.error.message);
    } else {
      scheduleRefresh();
    }
  };
  socket.onclose = () => {
    $("live-status").textContent = "offline";
    $("live-status").className = "status off";
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(30000, retryDelay * 2);
  };
}

function start(k) {
  key = k;
  sessionStorage.setItem("solvent-key", k);
  $("login").hidden = true;
  refresh();
  connect();
}

(function main() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) history.replaceState(null, "", location.pathname);  // keep it out of the address bar
  const k = fromHash || sessionStorage.getItem("solvent-key");
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    start($("key-input").value.trim());
  });
  if (k) start(k); else $("login").hidden = false;
})();
