#!/usr/bin/env node
// Dependency-free stand-in for `next build` with `output: 'standalone'`: writes
// .next/BUILD_ID, the content-hashed client assets under .next/static/, and the standalone
// server under .next/standalone/ (server.js with the app it runs). Like Next, it leaves
// .next/static and public/ out of .next/standalone: the deploy copies them beside server.js.
// VERSION is stamped in; NEXT_PUBLIC_* from .env are inlined; BREAK selects a fault.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, '.next');

// A file of the app's, trimmed ('' when there is none).
const text = (name) => (fs.existsSync(path.join(root, name)) ? fs.readFileSync(path.join(root, name), 'utf8').trim() : '');

// Next's public environment: NEXT_PUBLIC_* from .env (KEY=value lines, quotes dropped), then
// from the environment, which wins.
function publicEnv() {
  const fromFile = text('.env')
    .split(/\r?\n/)
    .map((line) => /^\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*$/.exec(line))
    .filter((m) => m && m[1].startsWith('NEXT_PUBLIC_'))
    .map((m) => [m[1], m[2].replace(/^(['"])(.*)\1$/, '$2')]);
  const fromEnv = Object.entries(process.env).filter(([k]) => k.startsWith('NEXT_PUBLIC_'));
  return Object.fromEntries([...fromFile, ...fromEnv]);
}

function hashed(dir, base, ext, content) {
  const hash = crypto.createHash('sha256').update(content).digest('hex').slice(0, 16);
  const rel = `${dir}/${base}-${hash}.${ext}`;
  fs.mkdirSync(path.join(out, 'static', dir), { recursive: true });
  fs.writeFileSync(path.join(out, 'static', rel), content);
  return rel;
}

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst);
    else if (entry.name.endsWith('.js')) fs.copyFileSync(src, dst);
  }
}

function main() {
  const [version, breakMode] = [text('VERSION'), text('BREAK')];
  console.log('   ▲ Next.js (stand-in)\n   Creating an optimized production build ...');
  const failure = !version ? 'no VERSION file'
    : breakMode === 'build' ? 'Failed to compile.\n./app/page.js\nBREAK=build: the build fails on purpose' : '';
  if (failure) {
    console.error(failure);
    process.exit(1);
  }
  fs.rmSync(out, { recursive: true, force: true });
  const env = publicEnv();
  const buildId = crypto.createHash('sha256').update(version + Date.now()).digest('hex').slice(0, 21);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'BUILD_ID'), buildId);
  const client = fs.readFileSync(path.join(root, 'app', 'client.js'), 'utf8');
  const assets = {
    js: hashed('chunks', 'main', 'js', `/* ${version} */\n${client}`),
    css: hashed('css', 'app', 'css', fs.readFileSync(path.join(root, 'app', 'styles.css'))),
  };
  const standalone = path.join(out, 'standalone');
  copyDir(path.join(root, 'app'), path.join(standalone, 'app'));
  fs.copyFileSync(path.join(root, 'scripts', 'server.js'), path.join(standalone, 'server.js'));
  fs.copyFileSync(path.join(root, 'package.json'), path.join(standalone, 'package.json'));
  fs.mkdirSync(path.join(standalone, '.next'), { recursive: true });
  const manifest = { version, buildId, assets, apiUrl: env.NEXT_PUBLIC_API_URL || '', breakMode };
  fs.writeFileSync(path.join(standalone, '.next', 'server-manifest.json'), JSON.stringify(manifest));
  console.log(`   ✓ Compiled successfully\n   Standalone server: .next/standalone/server.js (${version})`);
}

main();
