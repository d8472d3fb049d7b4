// The standalone server `next build` writes to .next/standalone/server.js (this is its
// stand-in, copied there by scripts/build.js): plain Node http, no dependencies. It reads
// PORT and HOSTNAME, renders app/page.js, answers the route handlers under app/, and serves
// .next/static/ and public/ when the deploy has put them beside it (as Next's docs say).
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const dir = __dirname;
const manifest = JSON.parse(fs.readFileSync(path.join(dir, '.next', 'server-manifest.json'), 'utf8'));
const page = require('./app/page.js');
const routes = {
  '/healthz': require('./app/healthz/route.js'),
  '/bff/version': require('./app/bff/version/route.js'),
  '/bff/notes': require('./app/bff/notes/route.js'),
};
const TYPES = { '.js': 'application/javascript', '.css': 'text/css', '.txt': 'text/plain', '.html': 'text/html' };

if (manifest.breakMode === 'start') {
  console.error('BREAK=start: the server exits at start');
  process.exit(1);
}

function file(res, root, rel, cache) {
  const full = path.normalize(path.join(root, rel));
  if (!full.startsWith(root + path.sep) || !fs.existsSync(full) || !fs.statSync(full).isFile()) {
    return false;
  }
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(full)] || 'application/octet-stream',
    'Cache-Control': cache,
  });
  res.end(fs.readFileSync(full));
  return true;
}

// Next's incremental cache: a rendered page is written under .next/cache/ (fetch-cache/,
// at most once a second here); where that cannot be written, Next logs it on every render
// and renders again each time, as this does.
let cachedAt = 0;
function cachePage(name, html) {
  if (Date.now() - cachedAt < 1000) return;
  cachedAt = Date.now();
  try {
    const dirname = path.join(dir, '.next', 'cache', 'fetch-cache');
    fs.mkdirSync(dirname, { recursive: true });
    fs.writeFileSync(path.join(dirname, `${name}.json`), JSON.stringify({ version: manifest.version, html }));
  } catch (e) {
    console.error(`Failed to update prerender cache for /${name === 'index' ? '' : name}: ${e.code || e.message}`);
  }
}

function handle(req, res, body) {
  const url = new URL(req.url, 'http://localhost');
  const route = routes[url.pathname];
  if (route) {
    const handler = route[req.method];
    if (!handler) {
      res.writeHead(405, { 'Content-Type': 'text/plain' });
      return res.end('method not allowed\n');
    }
    const [status, type, text] = handler({
      version: manifest.version, broken: manifest.breakMode === 'health', body,
    });
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
    return res.end(text);
  }
  if (url.pathname.startsWith('/_next/static/')) {
    const rel = url.pathname.slice('/_next/static/'.length);
    if (file(res, path.join(dir, '.next', 'static'), rel, 'public, max-age=31536000, immutable')) return;
  } else if (url.pathname === '/') {
    const html = page(manifest);
    cachePage('index', html);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
    return res.end(html);
  } else if (file(res, path.join(dir, 'public'), url.pathname.slice(1), 'public, max-age=3600')) {
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});

const port = Number(process.env.PORT || 3000);
const hostname = process.env.HOSTNAME || '0.0.0.0';
server.listen(port, hostname, () => {
  console.log(`dojangkok frontend ${manifest.version} ready on http://${hostname}:${port}`);
});

// SIGTERM (systemd's stop): stop accepting, answer what is in flight, then exit
process.on('SIGTERM', () => {
  console.log('SIGTERM: finishing the requests in flight');
  server.close(() => process.exit(0));
  if (server.closeIdleConnections) server.closeIdleConnections();
});
