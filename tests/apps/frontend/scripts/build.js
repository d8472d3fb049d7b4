#!/usr/bin/env node
// Dependency-free stand-in for `react-scripts build`: writes build/index.html and hashed
// assets under build/static/. VERSION is stamped into the page; BREAK selects a fault.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build');

function readTrimmed(name) {
  const file = path.join(root, name);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
}

// CRA-style environment: REACT_APP_* from .env, overridden by the real environment.
function loadEnv() {
  const env = {};
  const file = path.join(root, '.env');
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
      const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
      if (match && !line.trim().startsWith('#')) {
        env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
      }
    }
  }
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('REACT_APP_')) {
      env[key] = value;
    }
  }
  return env;
}

function hashed(relDir, base, ext, content) {
  const hash = crypto.createHash('sha256').update(content).digest('hex').slice(0, 8);
  return path.posix.join(relDir, `${base}.${hash}.${ext}`);
}

function copyDir(from, to, skip) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst, new Set());
    else fs.copyFileSync(src, dst);
  }
}

function main() {
  const version = readTrimmed('VERSION');
  const breakMode = readTrimmed('BREAK');
  console.log('Creating an optimized production build...');

  if (!version) {
    console.error('Failed to compile.\n\nVERSION file is missing or empty.');
    return 1;
  }
  if (breakMode === 'build') {
    console.error(
      'Failed to compile.\n\n' +
        'src/index.js\n' +
        '  Line 1:1:  Simulated compile error (BREAK=build)\n',
    );
    return 1;
  }

  const env = loadEnv();
  const apiUrl = (env.REACT_APP_API_URL || '').replace(/\/+$/, '');
  const js = fs
    .readFileSync(path.join(root, 'src', 'index.js'), 'utf8')
    .replace('__REACT_APP_API_URL__', JSON.stringify(apiUrl))
    .replace('__VERSION__', JSON.stringify(version));
  const css = fs.readFileSync(path.join(root, 'src', 'index.css'), 'utf8');
  const mainJs = hashed('static/js', 'main', 'js', js);
  const mainCss = hashed('static/css', 'main', 'css', css);
  const html = fs
    .readFileSync(path.join(root, 'public', 'index.html'), 'utf8')
    .replaceAll('%VERSION%', version)
    .replaceAll('%MAIN_JS%', '/' + mainJs)
    .replaceAll('%MAIN_CSS%', '/' + mainCss);

  fs.rmSync(buildDir, { recursive: true, force: true });
  copyDir(path.join(root, 'public'), buildDir, new Set(['index.html']));
  const outputs = { [mainJs]: js, [mainCss]: css };
  for (const [rel, content] of Object.entries(outputs)) {
    fs.mkdirSync(path.join(buildDir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(buildDir, rel), content);
  }
  const manifest = {
    files: { 'main.js': '/' + mainJs, 'main.css': '/' + mainCss, 'index.html': '/index.html' },
    entrypoints: [mainCss, mainJs],
    version,
  };
  if (breakMode === 'health') {
    // The fault: everything builds, but the page itself is missing.
    delete manifest.files['index.html'];
  } else {
    fs.writeFileSync(path.join(buildDir, 'index.html'), html);
  }
  fs.writeFileSync(
    path.join(buildDir, 'asset-manifest.json'),
    JSON.stringify(manifest, null, 2) + '\n',
  );

  console.log('Compiled successfully.\n\nFile sizes after gzip:\n');
  for (const [rel, content] of Object.entries(outputs)) {
    const size = (zlib.gzipSync(content).length / 1024).toFixed(2);
    console.log(`  ${(size + ' kB').padEnd(10)} build/${rel}`);
  }
  console.log(`\nThe build folder is ready to be deployed (dojangkok frontend ${version}).`);
  return 0;
}

process.exitCode = main();
