/**
 * The small status page of the architecture: pipelines with state, lag, throughput, position and
 * last error, refreshed every two seconds. Static HTML plus a short script that calls the same REST
 * API with a bearer token the operator pastes once (kept in sessionStorage only); the page itself
 * holds no data and needs no auth. Every value is written with textContent: nothing from the API is
 * interpreted as HTML.
 */
export function renderStatusPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Otterflow status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
 table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}
 th{background:#f4f4f4} .running{color:#0a7d28} .paused{color:#9a6700} .failed{color:#c62828} .stopped{color:#666}
 .err{color:#c62828;max-width:40em} code{font-size:12px} #msg{color:#c62828}
</style></head>
<body>
<h1>Otterflow pipelines</h1>
<p><label>API token: <input id="token" type="password" size="40" autocomplete="off"></label>
 <button id="save">Use</button> <span id="msg"></span> · <a href="/docs">API</a></p>
<table><thead><tr><th>pipeline</th><th>state</th><th>lag</th><th>rows/s</th><th>rows applied</th>
<th>position</th><th>region</th><th>worker</th><th>last error / warnings</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const tokenInput = document.getElementById('token');
const msg = document.getElementById('msg');
// A link may carry the token in the fragment (never sent to the server); it is moved to sessionStorage
// and removed from the address bar at once.
if (location.hash.startsWith('#token=')) {
  sessionStorage.setItem('otterflowToken', decodeURIComponent(location.hash.slice(7)));
  history.replaceState(null, '', location.pathname);
}
tokenInput.value = sessionStorage.getItem('otterflowToken') || '';
document.getElementById('save').onclick = () => { sessionStorage.setItem('otterflowToken', tokenInput.value); refresh(); };
async function api(path) {
  const res = await fetch(path, { headers: { authorization: 'Bearer ' + (sessionStorage.getItem('otterflowToken') || '') } });
  if (!res.ok) throw new Error(res.status + ' ' + ((await res.json().catch(() => ({}))).detail || res.statusText));
  return res.json();
}
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }
function pos(p) { return p ? (p.file || '') + ':' + p.pos + (p.gtid ? ' (' + p.gtid + ')' : '') : ''; }
async function refresh() {
  try {
    const list = await api('/v1/pipelines');
    const items = Array.isArray(list) ? list : (list.pipelines || list.items || []);
    const body = document.getElementById('rows');
    const rows = [];
    for (const p of items) {
      const s = await api('/v1/pipelines/' + encodeURIComponent(p.name) + '/status').catch((e) => ({ name: p.name, state: 'unknown', lastError: { message: e.message } }));
      const tr = document.createElement('tr');
      cell(tr, s.name);
      cell(tr, s.state, s.state);
      cell(tr, s.lagMs === undefined ? '' : s.lagMs + ' ms');
      cell(tr, s.rowsPerSecond === undefined ? '' : String(s.rowsPerSecond));
      cell(tr, String(s.rowsApplied ?? ''));
      cell(tr, pos(s.position));
      cell(tr, s.region || '');
      cell(tr, s.worker || '');
      cell(tr, s.lastError ? s.lastError.message + (s.lastError.where ? ' at ' + s.lastError.where : '') : (s.warnings || []).join(' | '), s.lastError ? 'err' : '');
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    msg.textContent = '';
  } catch (e) { msg.textContent = String(e.message || e); }
}
refresh(); setInterval(refresh, 2000);
</script>
</body></html>`;
}
