// /docs: a self-contained API reference page rendered from /openapi.json (no CDN, works offline).
import { Hono } from 'hono';

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Coffer API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem 2rem;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;margin-top:2rem}
.op{border:1px solid #e3e3e3;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
.get{color:#1a7f37}.post{color:#0969da}.put{color:#9a6700}.patch{color:#8250df}.delete{color:#cf222e}
code{font-family:monospace}pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:13px}
summary{cursor:pointer}
</style></head><body><h1>Coffer API</h1><p id="info"></p><div id="ops">Loading /openapi.json…</div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  document.getElementById('info').textContent=(doc.info.description||'')+' Version '+doc.info.version+'. Authenticate with Authorization: Bearer <API key or access token>.';
  const byTag={};
  for(const [path,item] of Object.entries(doc.paths))for(const [method,op] of Object.entries(item)){
    (byTag[(op.tags||['Other'])[0]] ||= []).push({path,method,op});}
  const root=document.getElementById('ops');root.textContent='';
  const el=(t,cls,txt)=>{const e=document.createElement(t);if(cls)e.className=cls;if(txt!=null)e.textContent=txt;return e;};
  for(const [tag,ops] of Object.entries(byTag)){
    root.append(el('h2',null,tag));
    for(const {path,method,op} of ops){
      const d=el('details','op');const s=el('summary');
      s.append(el('span','m '+method,method.toUpperCase()),el('code',null,path),document.createTextNode(' — '+(op.summary||'')));
      d.append(s,el('pre',null,JSON.stringify({parameters:op.parameters,requestBody:op.requestBody,responses:op.responses},null,2)));
      root.append(d);}}
});
</script></body></html>`;

export function docsRoutes() {
  const r = new Hono();
  r.get('/docs', (c) => c.html(PAGE));
  return r;
}
