/**
 * CPU profile of a measured window, for bench/worker.ts --profile. Loaded into a child process with
 * NODE_OPTIONS="--require <this file>" and BENCH_CPU_PROFILE_DIR set: the first SIGWINCH (ignored by default, and not one of the signals Nest shutdown hooks catch) starts V8's
 * sampling profiler in the process, the next one stops it and writes
 * `<BENCH_CPU_PROFILE_DIR>/<BENCH_CPU_PROFILE_NAME or pid>.cpuprofile` (Chrome DevTools format).
 * Plain JavaScript so it loads before any TypeScript hook. Does nothing without the variable.
 */
'use strict';
const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const inspector = require('node:inspector');
  const fs = require('node:fs');
  const path = require('node:path');
  const name = process.env.BENCH_CPU_PROFILE_NAME || String(process.pid);
  const intervalUs = Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US || 500);
  const session = new inspector.Session();
  session.connect();
  let running = false;
  process.on('SIGWINCH', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval: intervalUs }, () =>
          session.post('Profiler.start'),
        ),
      );
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      const file = path.join(dir, `${name}.cpuprofile`);
      if (error) fs.writeFileSync(`${file}.error`, String(error));
      else fs.writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
