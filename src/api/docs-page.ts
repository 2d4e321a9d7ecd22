/**
 * A self-contained HTML page that renders the OpenAPI document for people: operations grouped by
 * tag, their parameters, bodies and responses, and the schemas. No scripts, no CDN: it is built
 * on the server from the same document that /openapi.json serves.
 */

type Json = Record<string, unknown>;

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function schemaText(schema: unknown, depth = 0): string {
  if (!schema || typeof schema !== 'object') return '';
  const s = schema as Json;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() ?? '';
    return `<a href="#schema-${esc(name)}">${esc(name)}</a>`;
  }
  if (depth > 6) return '…';
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const)
    if (Array.isArray(s[k]))
      return (s[k] as unknown[]).map((x) => schemaText(x, depth + 1)).join(k === 'allOf' ? ' & ' : ' | ');
  if (Array.isArray(s.enum))
    return (s.enum as unknown[]).map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(' | ');
  if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  if (s.type === 'array') return `${schemaText(s.items, depth + 1)}[]`;
  if (s.type === 'object' && s.properties) {
    const required = new Set((s.required as string[] | undefined) ?? []);
    const rows = Object.entries(s.properties as Json).map(
      ([k, v]) =>
        `<li><code>${esc(k)}</code>${required.has(k) ? '' : '?'}: ${schemaText(v, depth + 1)}${
          (v as Json).description ? ` <span class="d">— ${esc((v as Json).description)}</span>` : ''
        }</li>`,
    );
    return `object <ul>${rows.join('')}</ul>`;
  }
  const type = Array.isArray(s.type) ? (s.type as string[]).join(' | ') : String(s.type ?? 'any');
  const limits = ['minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'default']
    .filter((k) => s[k] !== undefined)
    .map((k) => `${k} ${esc(JSON.stringify(s[k]))}`);
  return `${esc(type)}${limits.length ? ` <span class="d">(${limits.join(', ')})</span>` : ''}`;
}

/** Renders the document as one HTML page. */
export function renderApiPage(doc: Json): string {
  const info = (doc.info ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  const ops: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = ((op.parameters as Json[] | undefined) ?? [])
        .map((p) => `<li><code>${esc(p.name)}</code> (${esc(p.in)}): ${schemaText(p.schema)}</li>`)
        .join('');
      const body = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.[
        'application/json'
      ] as Json | undefined;
      const responses = Object.entries((op.responses ?? {}) as Record<string, Json>)
        .map(([code, r]) => {
          const content = (r.content ?? {}) as Record<string, Json>;
          const schema = Object.values(content)[0]?.schema;
          return `<li><b>${esc(code)}</b> ${esc(r.description)}${schema ? `: ${schemaText(schema)}` : ''}</li>`;
        })
        .join('');
      ops.push(`<section class="op"><h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary ?? '')} <span class="d">${esc(op.description ?? '')}</span></p>
${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ''}
${body ? `<h4>Body</h4><div>${schemaText(body.schema)}</div>` : ''}
<h4>Responses</h4><ul>${responses}</ul></section>`);
    }
  }
  const schemas = Object.entries((((doc.components ?? {}) as Json).schemas ?? {}) as Json)
    .map(([name, s]) => `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${schemaText(s)}</section>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px}.op{border-top:1px solid #ddd;padding:.3em 0}
.m{display:inline-block;min-width:4.2em;text-align:center;color:#fff;border-radius:3px;padding:0 .3em;font-size:.85em}
.get{background:#2b7bb9}.post{background:#2f9e44}.put{background:#e8590c}.delete{background:#c92a2a}
.d{color:#666}ul{margin:.2em 0}h4{margin:.4em 0 .1em}</style></head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1><p>${esc(info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Send <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<h2>Operations</h2>${ops.join('\n')}<h2>Schemas</h2>${schemas}</body></html>`;
}
