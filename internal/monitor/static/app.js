// The rampart dashboard: draws the site's diagram from /api/diagram, then
// keeps it alive with /api/state (figures, health, alerts) and draws the
// history from /api/charts. No library: plain DOM and SVG.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const PALETTE = ['#38bdf8', '#a78bfa', '#f472b6', '#34d399', '#fbbf24', '#fb7185', '#60a5fa', '#c084fc', '#2dd4bf', '#facc15', '#f97316', '#4ade80'];

const ui = { diagram: null, range: '15m', colors: {}, interval: 5, lastState: 0, servers: {}, edges: {} };

class AuthError extends Error {}

function el(tag, attrs, parent, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  if (parent) parent.appendChild(n);
  return n;
}

function h(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, opts || {}));
  if (r.status === 401) throw new AuthError('not logged in');
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.status === 204 ? null : r.json();
}

// --- formatting: a missing figure is a gap, shown as a dash, never 0 ---

const known = (v) => v !== null && v !== undefined && Number.isFinite(v);

function fmtRate(v) {
  if (!known(v)) return '–';
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k/s';
  if (v >= 100) return v.toFixed(0) + '/s';
  if (v >= 10) return v.toFixed(1) + '/s';
  return v.toFixed(2) + '/s';
}

function fmtNum(v) {
  if (!known(v)) return '–';
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(1) + 'k';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function fmtDur(s) {
  if (!known(s)) return '–';
  if (s < 0.001) return (s * 1e6).toFixed(0) + ' µs';
  if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + ' ms';
  return s.toFixed(2) + ' s';
}

function fmtPct(v) {
  if (!known(v)) return '–';
  if (v === 0) return '0%';
  return (v * 100).toFixed(v < 0.01 ? 2 : 1) + '%';
}

function fmtBytes(v) {
  if (!known(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return v.toFixed(v >= 100 ? 0 : 1) + ' ' + units[i];
}

function fmtCores(v) { return known(v) ? v.toFixed(v >= 1 ? 2 : 3) : '–'; }

function ago(ts) {
  const s = Math.max(0, Math.round((Date.now() - new Date(ts).getTime()) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm ago';
}

// --- icons, drawn once into <defs> ---

function defs(svg) {
  const d = el('defs', {}, svg);
  const sym = (id, vb, body) => {
    const s = el('symbol', { id, viewBox: vb }, d);
    s.innerHTML = body;
  };
  sym('i-lb', '0 0 24 24', '<path d="M12 1 23 12 12 23 1 12Z" fill="#7cc21a"/><circle cx="12" cy="12" r="3.6" fill="#7dd3fc" stroke="#fff" stroke-width="1"/><path d="M12 3.5v4.2M12 16.3v4.2M3.5 12h4.2M16.3 12h4.2" stroke="#fff" stroke-width="1.6" stroke-linecap="round"/>');
  sym('i-web', '0 0 24 24', '<path d="M12 1.5 21.5 7v10L12 22.5 2.5 17V7Z" fill="#16a34a"/><path d="M7.5 8.5h9M7.5 12h9M7.5 15.5h6" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>');
  sym('i-app', '0 0 24 24', '<rect x="4" y="2" width="16" height="20" rx="2" fill="#1e40af"/><rect x="6.5" y="5" width="11" height="3" rx="1" fill="#93c5fd"/><rect x="6.5" y="10" width="11" height="3" rx="1" fill="#93c5fd"/><circle cx="8" cy="17.5" r="1.3" fill="#4ade80"/><path d="M11 17.5h6" stroke="#93c5fd" stroke-width="1.6" stroke-linecap="round"/>');
  sym('i-db', '0 0 24 24', '<path d="M3.5 5.5v13c0 2 3.8 3.5 8.5 3.5s8.5-1.5 8.5-3.5v-13" fill="#0e7490"/><ellipse cx="12" cy="5.5" rx="8.5" ry="3.5" fill="#22d3ee"/><path d="M3.5 11c0 2 3.8 3.5 8.5 3.5s8.5-1.5 8.5-3.5" fill="none" stroke="#67e8f9" stroke-width="1.2"/>');
  sym('i-monitor', '0 0 24 24', '<rect x="2" y="3" width="20" height="15" rx="2.5" fill="#6d28d9"/><path d="M5 14l4-4 3 3 5-6 2 2" fill="none" stroke="#ddd6fe" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/><path d="M8 21h8" stroke="#a78bfa" stroke-width="2" stroke-linecap="round"/>');
  sym('i-fw', '0 0 24 24', '<rect x="2" y="8" width="16" height="14" rx="1.5" fill="#1f2937" stroke="#4b5563"/><path d="M2 12.5h16M2 17h16M7 8v4.5M13 8v4.5M10 12.5V17M4.5 17v5M15.5 17v5" stroke="#6b7280" stroke-width="1"/><path d="M19 22c-3 0-4.5-2-4.5-4.2 0-2.6 2.6-3.4 2.2-6.3 2.4 1.2 3.4 3.2 3 5 .8-.4 1.2-1.3 1.2-2.2 1.5 1.4 2.1 2.8 2.1 4 0 2.4-1.6 3.7-4 3.7Z" fill="#f97316"/><path d="M19 22c-1.2 0-2-.8-2-1.9 0-1.2 1.1-1.7 1-3 1.4.7 2 1.7 1.8 2.6.4-.2.6-.5.6-.9.6.6.8 1.2.8 1.7 0 .9-.9 1.5-2.2 1.5Z" fill="#fde047"/>');
  sym('i-lock', '0 0 24 24', '<rect x="4" y="10" width="16" height="12" rx="2.5"/><path d="M8 10V7a4 4 0 0 1 8 0v3" fill="none" stroke="currentColor" stroke-width="2.4"/>');
  sym('i-unlock', '0 0 24 24', '<rect x="4" y="10" width="16" height="12" rx="2.5"/><path d="M8 10V7a4 4 0 0 1 7.7-1.5" fill="none" stroke="currentColor" stroke-width="2.4"/>');
  sym('i-pc', '0 0 48 48', '<rect x="4" y="5" width="40" height="28" rx="3" fill="#cbd5e1"/><rect x="7.5" y="8.5" width="33" height="21" rx="1.5" fill="#0f172a"/><path d="M11 14h14M11 18.5h20M11 23h10" stroke="#38bdf8" stroke-width="2" stroke-linecap="round"/><path d="M19 33h10l2 7H17Z" fill="#94a3b8"/><rect x="12" y="40" width="24" height="3.5" rx="1.5" fill="#cbd5e1"/>');
}

const ROLE_ICON = { lb: 'i-lb', web: 'i-web', app: 'i-app', db: 'i-db', monitor: 'i-monitor' };

// --- the diagram ---

function drawDiagram(d) {
  const svg = $('diagram');
  svg.textContent = '';
  svg.setAttribute('viewBox', `0 0 ${d.width} ${d.height}`);
  defs(svg);
  $('site-domain').textContent = d.domain;
  const pol = $('policy');
  pol.textContent = d.policy === 'reencrypt' ? 'mTLS on every hop' : 'TLS ends at the lb';
  pol.className = 'pill ' + (d.policy === 'reencrypt' ? 'mtls' : 'plain');

  d.servers.forEach((s, i) => { ui.colors[s.name] = PALETTE[i % PALETTE.length]; });

  const edges = el('g', { class: 'edges' }, svg);
  const labels = el('g', { class: 'labels' });
  for (const e of d.edges) {
    const scrape = e.service === 'admin';
    const plain = e.protection === 'plaintext';
    const cls = ['edge', scrape ? 'scrape' : '', plain ? 'plain' : '', e.self ? 'self' : ''].join(' ');
    const g = el('g', { class: 'flow', 'data-edge': e.id }, edges);
    const title = `${e.from} → ${e.to}: ${e.service} on port ${e.port}, ${e.protection}`;
    el('title', {}, g, title);
    const base = el('path', { d: e.path, class: cls }, g);
    const pulse = el('path', { d: e.path, class: 'pulse' + (plain ? ' plain' : '') + (scrape ? ' scrape' : '') }, g);
    let label = null;
    if (e.label) {
      label = el('g', { class: 'edge-label', transform: `translate(${e.lx},${e.ly})` }, labels);
      el('title', {}, label, title);
      el('rect', { x: -34, y: -11, width: 68, height: 22, rx: 11 }, label);
      const lockColor = plain ? 'unlock' : 'lock';
      el('use', { href: '#i-' + lockColor, x: -29, y: -6, width: 12, height: 12, class: lockColor }, label);
      el('text', { x: 5, y: 4, 'text-anchor': 'middle', class: 'edge-qps' }, label, '–');
    }
    ui.edges[e.id] = { e, base, pulse, label, cls };
  }

  // The clients, where the seed draws its computer.
  const c = d.clients;
  const cg = el('g', { class: 'clients' }, svg);
  el('use', { href: '#i-pc', x: c.x + (c.w - 64) / 2, y: c.y, width: 64, height: 64 }, cg);
  el('text', { x: c.x + c.w / 2, y: c.y + 80, class: 'clients-name' }, cg, 'clients');
  el('text', { x: c.x + c.w / 2, y: c.y + 95, class: 'clients-sub' }, cg, d.domain);

  for (const s of d.servers) drawServer(svg, s, d.firewall);
  svg.appendChild(labels);
}

function drawServer(svg, s, firewall) {
  const g = el('g', { class: 'srv unknown', 'data-server': s.name }, svg);
  el('title', {}, g, `${s.name} (${s.address}): ${s.roles.join(', ')}`);
  el('rect', { x: s.x, y: s.y, width: s.w, height: s.h, rx: 12, class: 'srv-box' }, g);
  el('path', { d: `M${s.x},${s.y + 40} v-28 a12,12 0 0 1 12,-12 h${s.w - 24} a12,12 0 0 1 12,12 v28 Z`, class: 'srv-head' }, g);
  el('circle', { cx: s.x + 16, cy: s.y + 20, r: 5, class: 'srv-dot' }, g);
  el('text', { x: s.x + 28, y: s.y + 18, class: 'srv-name' }, g, s.name);
  el('text', { x: s.x + 28, y: s.y + 33, class: 'srv-addr' }, g, s.address);
  const health = el('text', { x: s.x + s.w - 12, y: s.y + 18, class: 'role-sub' }, g, '');
  const res = el('text', { x: s.x + s.w - 12, y: s.y + 33, class: 'role-sub' }, g, '');
  const rows = {};
  s.roles.forEach((r, i) => {
    const y = s.rows[r];
    if (i > 0) el('line', { x1: s.x + 28, x2: s.x + s.w - 10, y1: y - 15, y2: y - 15, class: 'role-sep' }, g);
    el('use', { href: '#' + ROLE_ICON[r], x: s.x + 28, y: y - 10, width: 20, height: 20 }, g);
    el('text', { x: s.x + 54, y: y + 4, class: 'role-name' }, g, r);
    const fig = el('text', { x: s.x + 150, y: y + 4, class: 'role-fig qps', 'data-server': s.name, 'data-role': r }, g, '–');
    const sub = el('text', { x: s.x + s.w - 12, y: y + 4, class: 'role-sub' }, g, '');
    rows[r] = { fig, sub };
  });
  if (firewall) el('use', { href: '#i-fw', x: s.x - 14, y: s.y - 14, width: 28, height: 28 }, g);
  const badge = el('g', { class: 'badge', visibility: 'hidden' }, g);
  el('circle', { cx: s.x + s.w, cy: s.y, r: 10, class: 'badge-bg' }, badge);
  const badgeText = el('text', { x: s.x + s.w, y: s.y + 4, class: 'badge-tx' }, badge, '0');
  ui.servers[s.name] = { g, rows, health, res, badge, badgeText, box: s };
}

function updateDiagram(st) {
  const byName = {};
  for (const s of st.servers) byName[s.name] = s;
  const upCount = st.servers.filter((s) => s.health === 'up').length;
  for (const [name, v] of Object.entries(ui.servers)) {
    const s = byName[name];
    if (!s) continue;
    v.g.setAttribute('class', 'srv ' + s.health);
    v.health.textContent = s.health === 'up' ? 'up' : s.health === 'down' ? 'DOWN' : '…';
    v.res.textContent = known(s.cpu) ? `${fmtCores(s.cpu)} cpu · ${fmtBytes(s.memory)}` : '';
    for (const [role, row] of Object.entries(v.rows)) {
      const f = (s.by_role || {})[role];
      if (f) {
        row.fig.textContent = fmtRate(f.qps);
        row.sub.textContent = known(f.p99) ? 'p99 ' + fmtDur(f.p99) : '';
      } else if (role === 'db') {
        row.fig.textContent = known(s.db_qps) ? fmtRate(s.db_qps) : '–';
        row.sub.textContent = known(s.db_qps) ? 'queries' : '';
      } else if (role === 'monitor') {
        row.fig.textContent = `${upCount}/${st.servers.length}`;
        row.sub.textContent = 'up';
      }
    }
    v.badge.setAttribute('visibility', s.firing > 0 ? 'visible' : 'hidden');
    v.badgeText.textContent = String(s.firing);
  }
  for (const f of st.flows) {
    const v = ui.edges[f.id];
    if (!v) continue;
    const idle = !known(f.qps) || f.qps === 0;
    const stateCls = f.state === 'ok' ? (idle ? 'idle' : 'ok') : f.state;
    v.base.setAttribute('class', v.cls + ' ' + stateCls);
    const moving = f.state === 'ok' && !idle;
    v.pulse.classList.toggle('on', moving);
    if (moving) {
      // Faster dots for more traffic, on a log scale so 1/s and 1000/s
      // both read.
      const dur = Math.min(6, Math.max(0.5, 6 / Math.log2(2 + f.qps)));
      v.pulse.style.animationDuration = dur.toFixed(2) + 's';
    }
    if (v.label) {
      v.label.setAttribute('class', 'edge-label ' + stateCls);
      v.label.querySelector('.edge-qps').textContent =
        f.state === 'down' ? 'down' : f.state === 'ejected' ? 'ejected' : fmtRate(f.qps);
    }
  }
}

function updateTiers(st) {
  const box = $('tiers');
  box.textContent = '';
  for (const t of st.tiers) {
    const d = h('div', 'tier');
    const name = h('div', 'tier-name');
    name.append(h('span', '', t.role + ' tier'), h('span', '', `${t.up}/${t.servers} up`));
    const figs = h('div', 'tier-figs');
    if (t.role === 'db' || t.role === 'monitor') {
      figs.append(h('span', 'muted', t.role === 'db' ? 'database' : 'collector'));
    } else {
      figs.append(h('b', '', fmtRate(t.qps)), ' · p50 ' + fmtDur(t.p50) + ' · p99 ' + fmtDur(t.p99) + ' · 5xx ' + fmtPct(t.error_ratio));
    }
    d.append(name, figs);
    box.append(d);
  }
}

function updateKPIs(st) {
  $('site-qps').textContent = fmtRate(st.site.qps);
  $('site-p50').textContent = fmtDur(st.site.p50);
  $('site-p99').textContent = fmtDur(st.site.p99);
  $('site-errors').textContent = fmtPct(st.site.error_ratio);
  const up = st.servers.filter((s) => s.health === 'up').length;
  $('site-up').textContent = `${up}/${st.servers.length}`;
  $('site-up').parentElement.className = 'kpi ' + (up === st.servers.length ? 'good' : 'bad');
  const firing = st.alerts.filter((a) => a.state === 'firing').length;
  $('site-alerts').textContent = String(firing);
  $('site-alerts').parentElement.className = 'kpi kpi-alerts ' + (firing ? 'bad' : 'good');
  $('site-errors').parentElement.className = 'kpi ' + (known(st.site.error_ratio) && st.site.error_ratio > 0.05 ? 'bad' : '');
}

function alertItem(a) {
  const li = h('li', `alert ${a.severity} ${a.state}`);
  li.dataset.rule = a.rule;
  li.dataset.server = (a.labels || {}).server || '';
  const head = h('div', 'alert-head');
  head.append(h('span', '', a.rule), h('span', 'alert-state', a.state));
  const labels = Object.entries(a.labels || {}).map(([k, v]) => `${k}=${v}`).join(' ');
  const when = a.state === 'resolved' ? `resolved ${ago(a.ended)}` : a.state === 'firing' ? `firing since ${ago(a.fired)}` : `pending since ${ago(a.since)}`;
  li.append(head, h('div', 'alert-labels', labels), h('div', 'alert-sum', `${a.summary} (${when})`));
  return li;
}

function updateAlerts(st) {
  const ul = $('alerts');
  ul.textContent = '';
  if (st.alerts.length === 0) {
    const li = h('li', 'all-clear', '✓ No alerts. Every rule is quiet.');
    ul.append(li);
  }
  for (const a of st.alerts) ul.append(alertItem(a));
  $('alert-count').textContent = st.alerts.length ? `${st.alerts.filter((a) => a.state === 'firing').length} firing, ${st.alerts.filter((a) => a.state === 'pending').length} pending` : '';
  const res = $('resolved');
  res.textContent = '';
  for (const a of st.resolved || []) res.append(alertItem(a));
  $('resolved-wrap').hidden = !(st.resolved || []).length;
}

function updateFindings(st) {
  const ul = $('findings');
  const fs = st.findings || [];
  $('finding-count').textContent = fs.length ? `${fs.length} finding${fs.length > 1 ? 's' : ''}` : '';
  if (ul.dataset.count === String(fs.length)) return;
  ul.dataset.count = String(fs.length);
  ul.textContent = '';
  if (!fs.length) ul.append(h('li', 'all-clear', '✓ The design review finds nothing.'));
  for (const f of fs) {
    const li = h('li', 'finding ' + f.severity);
    li.append(h('div', 'finding-title', f.title), h('div', 'finding-id', `${f.id} · ${f.severity}${f.servers && f.servers.length ? ' · ' + f.servers.join(', ') : ''}`));
    const det = h('details');
    det.append(h('summary', '', 'why, and the fix'), h('p', '', f.why), h('p', '', 'Fix: ' + f.fix));
    li.append(det);
    ul.append(li);
  }
}

// --- charts ---

const CHARTS = [
  { key: 'qps', title: 'Requests per second', fmt: fmtNum },
  { key: 'p50', title: 'Latency, p50', fmt: fmtDur },
  { key: 'p99', title: 'Latency, p99', fmt: fmtDur },
  { key: 'error_ratio', title: 'Errors (5xx share)', fmt: fmtPct },
  { key: 'cpu', title: 'CPU (cores, rampart process)', fmt: fmtCores },
  { key: 'memory', title: 'Memory (resident)', fmt: fmtBytes },
];

function drawLegend() {
  const box = $('series-legend');
  box.textContent = '';
  for (const [name, color] of Object.entries(ui.colors)) {
    const s = h('span');
    const sw = h('i');
    sw.style.background = color;
    s.append(sw, name);
    box.append(s);
  }
}

function drawCharts(data) {
  data.times = data.times || [];
  const box = $('charts');
  box.textContent = '';
  const W = 600, H = 150, L = 52, R = 8, T = 8, B = 20;
  // The axis spans at least five minutes and at most the range, so a site
  // that just started grows in from the right instead of being stretched.
  const full = data.range === '1h' ? 3600e3 : 900e3;
  const t1 = data.times.length ? data.times[data.times.length - 1] : Date.now();
  const have = data.times.length ? t1 - data.times[0] : 0;
  const span = Math.min(full, Math.max(300e3, have));
  const t0 = t1 - span;
  const spanText = span >= 3600e3 ? 'last hour' : `last ${Math.round(span / 60e3)} minutes`;
  for (const spec of CHARTS) {
    const card = h('div', 'chart');
    card.dataset.chart = spec.key;
    const title = h('div', 'chart-title');
    const lastVals = [];
    let ymax = 0;
    for (const [name, se] of Object.entries(data.servers)) {
      const vals = se[spec.key] || [];
      for (const v of vals) if (known(v)) ymax = Math.max(ymax, v);
      const lv = [...vals].reverse().find(known);
      if (known(lv)) lastVals.push(lv);
    }
    title.append(h('b', '', spec.title), h('span', '', spanText));
    card.append(title);
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' });
    ymax = ymax > 0 ? ymax * 1.15 : 1;
    const x = (t) => L + (W - L - R) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
    const y = (v) => T + (H - T - B) * (1 - v / ymax);
    for (let i = 0; i <= 3; i++) {
      const v = (ymax * i) / 3;
      el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }, svg);
      el('text', { x: L - 6, y: y(v) + 3, 'text-anchor': 'end', class: 'axis' }, svg, spec.fmt(v));
    }
    if (t1 > t0) {
      for (const frac of [0, 1 / 3, 2 / 3, 1]) {
        const t = t0 + (t1 - t0) * frac;
        const d = new Date(t);
        el('text', { x: x(t), y: H - 5, 'text-anchor': frac === 0 ? 'start' : frac === 1 ? 'end' : 'middle', class: 'axis' },
          svg, d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false }));
      }
    }
    for (const [name, se] of Object.entries(data.servers)) {
      const vals = se[spec.key];
      if (!vals) continue;
      let d = '', pen = false;
      vals.forEach((v, i) => {
        if (!known(v) || data.times[i] < t0) { pen = false; return; } // a lost scrape is a gap
        d += (pen ? 'L' : 'M') + x(data.times[i]).toFixed(1) + ',' + y(v).toFixed(1);
        pen = true;
      });
      if (d) el('path', { d, class: 'line', stroke: ui.colors[name] || '#94a3b8', 'data-server': name }, svg);
    }
    card.append(svg);
    box.append(card);
  }
}

// --- the loop ---

async function refreshState() {
  const st = await api('/api/state');
  ui.interval = st.interval;
  ui.lastState = Date.now();
  updateKPIs(st);
  updateDiagram(st);
  updateTiers(st);
  updateAlerts(st);
  updateFindings(st);
  $('footer').textContent = `Scraped every ${st.interval}s; figures over the last ${st.window}s. ` +
    `History: ${st.memory.series} series, within a bound of ${fmtBytes(st.memory.bound)}.`;
}

async function refreshCharts() {
  drawCharts(await api('/api/charts?range=' + ui.range));
}

function every(ms, fn) {
  const tick = async () => {
    try { await fn(); } catch (e) {
      if (e instanceof AuthError) { showLogin(); return; }
      $('updated').textContent = 'collector unreachable: ' + e.message;
    }
    setTimeout(tick, ms());
  };
  tick();
}

function showLogin(msg) {
  $('login').hidden = false;
  if (msg) { $('login-error').textContent = msg; $('login-error').hidden = false; }
  $('login-token').focus();
}

async function login(token) {
  await api('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
}

async function run() {
  ui.diagram = await api('/api/diagram');
  drawDiagram(ui.diagram);
  drawLegend();
  every(() => (ui.interval <= 1 ? 1000 : 2000), refreshState);
  every(() => Math.max(ui.interval, 5) * 1000, refreshCharts);
  setInterval(() => {
    if (ui.lastState) $('updated').textContent = 'updated ' + ago(ui.lastState);
  }, 1000);
}

async function start() {
  document.querySelectorAll('.range button').forEach((b) => b.addEventListener('click', () => {
    document.querySelectorAll('.range button').forEach((x) => x.classList.toggle('on', x === b));
    ui.range = b.dataset.range;
    refreshCharts().catch(() => {});
  }));
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await login($('login-token').value.trim());
      $('login').hidden = true;
      await run();
    } catch (e) {
      showLogin(e instanceof AuthError ? 'That token is not right.' : e.message);
    }
  });
  // The token arrives in the fragment, which no server sees; use it once
  // and take it out of the address bar and the history.
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    history.replaceState(null, '', location.pathname);
    try { await login(decodeURIComponent(m[1])); } catch (e) { /* falls through to the form */ }
  }
  try {
    await run();
  } catch (e) {
    if (e instanceof AuthError) showLogin(); else $('updated').textContent = e.message;
  }
}

start();
