// tsn2n status page: reads GET api/v1/status every REFRESH_MS and renders it; text only (textContent), no HTML from data.

/** How often the page asks the daemon again. */
const REFRESH_MS = 2000;
/** A token given as #token=… in the URL (never sent in the URL itself) goes into the Authorization header. */
const TOKEN = new URLSearchParams(location.hash.slice(1)).get('token');
const KIB = 1024;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const S_PER_MIN = 60;
const S_PER_HOUR = 3600;
const S_PER_DAY = 86400;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bytes(n) {
  let v = n;
  let i = 0;
  while (v >= KIB && i < UNITS.length - 1) {
    v /= KIB;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${UNITS[i]}`;
}

function duration(s) {
  if (s < S_PER_MIN) return `${s}s`;
  if (s < S_PER_HOUR) return `${Math.floor(s / S_PER_MIN)}m ${s % S_PER_MIN}s`;
  if (s < S_PER_DAY) return `${Math.floor(s / S_PER_HOUR)}h ${Math.floor((s % S_PER_HOUR) / S_PER_MIN)}m`;
  return `${Math.floor(s / S_PER_DAY)}d ${Math.floor((s % S_PER_DAY) / S_PER_HOUR)}h`;
}

function ago(now, t) {
  return t ? `${duration(Math.max(0, now - t))} ago` : 'never';
}

function rtt(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

function badge(text, cls) {
  return el('span', text, `badge ${cls}`);
}

function card(title, rows) {
  const c = el('div', undefined, 'card');
  c.append(el('h3', title));
  const dl = el('dl');
  for (const [k, v] of rows) {
    dl.append(el('dt', k));
    const dd = el('dd');
    if (v instanceof Node) dd.append(v);
    else dd.textContent = v === null || v === undefined || v === '' ? '–' : String(v);
    dl.append(dd);
  }
  c.append(dl);
  return c;
}

/** Fills a table: columns [title, cell(row) → text or Node, class]. */
function table(id, columns, rows, key) {
  const t = $(id);
  const head = el('tr');
  for (const [title] of columns) head.append(el('th', title));
  t.tHead.replaceChildren(head);
  const body = rows.map((r) => {
    const tr = el('tr');
    if (key) tr.dataset.key = key(r);
    for (const [, cell, cls] of columns) {
      const v = cell(r);
      const td = el('td', undefined, cls);
      if (v instanceof Node) td.append(v);
      else td.textContent = v === null || v === undefined || v === '' ? '–' : String(v);
      tr.append(td);
    }
    return tr;
  });
  t.tBodies[0].replaceChildren(...body);
}

function show(id, on) {
  $(id).hidden = !on;
}

function renderEdge(s) {
  $('kind').textContent = 'tsn2n edge';
  $('title').textContent = `${s.mac}  ${s.ip}`;
  document.title = `tsn2n edge ${s.ip || s.mac}`;
  const t = s.traffic;
  const p2pPeers = s.peers.filter((p) => p.path === 'p2p').length;
  $('cards').replaceChildren(
    card('Node', [
      ['community', s.headerEncryption ? '(header encrypted)' : s.community],
      ['device', s.device],
      ['state', s.state],
      ['uptime', duration(Math.max(0, s.now - s.startTime))],
      ['version', s.version],
    ]),
    card('Supernode', [
      ['registered', badge(s.registered ? 'yes' : 'no', s.registered ? 'yes' : 'no')],
      ['with', s.supernode],
      ['public address', s.publicAddr ?? 'unknown'],
      ['last answer', ago(s.now, s.lastSuper)],
    ]),
    card('Traffic', [
      ['p2p tx', `${t.p2p.txPackets} pkts, ${bytes(t.p2p.txBytes)}`],
      ['p2p rx', `${t.p2p.rxPackets} pkts, ${bytes(t.p2p.rxBytes)}`],
      ['relay tx', `${t.relay.txPackets} pkts, ${bytes(t.relay.txBytes)}`],
      ['relay rx', `${t.relay.rxPackets} pkts, ${bytes(t.relay.rxBytes)}`],
      ['peers', `${p2pPeers} p2p, ${s.peers.length - p2pPeers} relay`],
    ]),
  );
  show('supernodes-section', true);
  table(
    'supernodes',
    [
      ['address', (x) => x.address, 'mono'],
      ['', (x) => (x.current ? badge('current', 'p2p') : '')],
      ['MAC', (x) => x.mac, 'mono'],
      ['version', (x) => x.version],
      ['selection', (x) => x.selection],
      ['last seen', (x) => ago(s.now, x.lastSeen)],
    ],
    s.supernodes,
  );
  show('communities-section', false);
  show('federation-section', false);
  show('peers-section', true);
  $('peers-title').textContent = `Peers (${s.peers.length})`;
  show('peers-empty', s.peers.length === 0);
  table(
    'peers',
    [
      ['MAC', (p) => p.mac, 'mono'],
      ['IP', (p) => p.ip, 'mono'],
      ['path', (p) => badge(p.path, p.path)],
      ['address', (p) => p.sockaddr, 'mono'],
      ['RTT', (p) => rtt(p.rttMs), 'num'],
      ['last seen', (p) => ago(s.now, p.lastSeen)],
      ['description', (p) => p.desc],
    ],
    s.peers,
    (p) => p.mac,
  );
}

function renderSupernode(s) {
  $('kind').textContent = 'tsn2n supernode';
  $('title').textContent = `${s.mac}  ${s.listen}`;
  document.title = `tsn2n supernode ${s.listen}`;
  const st = s.stats;
  $('cards').replaceChildren(
    card('Node', [
      ['listening', s.listen],
      ['uptime', duration(Math.max(0, s.now - s.startTime))],
      ['federation', `${s.federation.name} (${s.federation.peers.length} peers)`],
      ['version', s.version],
    ]),
    card('Relay', [
      ['unicast', st.forwarded],
      ['broadcast', st.broadcast],
      ['received', st.rxPackets],
      ['last forward', ago(s.now, st.lastForward)],
    ]),
    card('Registrations', [
      ['edges', s.edges.length],
      ['ok', st.registrationsOk],
      ['refused', st.registrationsNak],
      ['last', ago(s.now, st.lastRegistration)],
    ]),
  );
  show('supernodes-section', false);
  show('communities-section', true);
  table(
    'communities',
    [
      ['name', (c) => c.name, 'mono'],
      ['edges', (c) => c.edges, 'num'],
      ['subnet', (c) => c.subnet, 'mono'],
      ['kind', (c) => (c.purgeable ? 'created' : 'fixed')],
    ],
    s.communities,
  );
  show('peers-section', true);
  $('peers-title').textContent = `Edges (${s.edges.length})`;
  show('peers-empty', s.edges.length === 0);
  table(
    'peers',
    [
      ['community', (e) => e.community, 'mono'],
      ['MAC', (e) => e.mac, 'mono'],
      ['IP', (e) => e.ip, 'mono'],
      ['address', (e) => e.sockaddr, 'mono'],
      ['proto', (e) => e.proto],
      ['last seen', (e) => ago(s.now, e.lastSeen)],
      ['description', (e) => e.desc],
    ],
    s.edges,
    (e) => e.mac,
  );
  show('federation-section', s.federation.peers.length > 0);
  table(
    'federation',
    [
      ['address', (p) => p.sockaddr, 'mono'],
      ['MAC', (p) => p.mac, 'mono'],
      ['configured', (p) => (p.configured ? 'yes (-l)' : 'learnt')],
      ['last seen', (p) => ago(s.now, p.lastSeen)],
    ],
    s.federation.peers,
  );
}

async function refresh() {
  try {
    const headers = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
    const r = await fetch('api/v1/status', { headers, cache: 'no-store' });
    if (!r.ok)
      throw new Error(
        r.status === 401 ? 'token required: open the page as …/#token=YOUR_TOKEN' : `HTTP ${r.status}`,
      );
    const s = await r.json();
    if (s.kind === 'edge') renderEdge(s);
    else renderSupernode(s);
    $('error').hidden = true;
    $('live').classList.remove('stale');
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    $('footer').textContent = `tsn2n ${s.version} · api/v1/status · metrics at /metrics`;
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('error').textContent = `cannot read the status: ${err.message}`;
    $('error').hidden = false;
    $('live').classList.add('stale');
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
