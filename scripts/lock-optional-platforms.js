#!/usr/bin/env node
/**
 * Adds to package-lock.json the platform-gated optional packages of @swc/core that the npm
 * registry reachable here does not serve (darwin, win32, other linux CPUs). A lockfile made with
 * full registry access lists them; without them `npm ci` refuses the lock. They are optional and
 * gated by os/cpu, so npm never fetches them on a machine they do not fit.
 * Run after `npm install` changes the lock: node scripts/lock-optional-platforms.js
 */
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.resolve(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const PLATFORM = /-(darwin|linux|win32)-(x64|arm64|arm|ia32|ppc64|s390x)(?:-(gnu|musl|gnueabihf|msvc))?$/;
let added = 0;
for (const [where, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const match = PLATFORM.exec(name);
    if (lock.packages[key] || !match || !/^\d+\.\d+\.\d+$/.test(version)) continue;
    const [, os, cpu, abi] = match;
    lock.packages[key] = {
      version,
      cpu: [cpu],
      dev: entry.dev,
      license: entry.license,
      optional: true,
      os: [os],
      ...(abi === 'gnu' || abi === 'gnueabihf'
        ? { libc: ['glibc'] }
        : abi === 'musl'
          ? { libc: ['musl'] }
          : {}),
      engines: { node: '>=10' },
    };
    if (lock.packages[key].dev === undefined) delete lock.packages[key].dev;
    added++;
    void where;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-optional-platforms: added ${added} entries`);
