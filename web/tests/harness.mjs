// Shared by the browser tests: starts the already built `lagesbild` binary on the demo data
// (a fresh SQLite file per test file, port 0), creates tokens, and opens pages in Debian's
// headless Chromium with every non-loopback request blocked, so nothing leaves the machine
// (the base map's tiles fail, as they would offline, and the data layers must draw anyway).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.join(here, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export function binary() {
  if (process.env.LAGESBILD_BIN) return process.env.LAGESBILD_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(homedir(), '.cache', 'lagesbild', 'target');
  const bin = path.join(target, 'debug', 'lagesbild');
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it first (cargo build), or set CARGO_TARGET_DIR or LAGESBILD_BIN`);
  }
  return bin;
}

/**
 * Starts `lagesbild --db <tmp> demo --addr 127.0.0.1:0`. `roles` lists the tokens to create
 * first (`lagesbild token create --role R`); they are returned by role. `imports` lists
 * `lagesbild import …` argument lists to run before the server starts, e.g.
 * `[['osm', file, '--anywhere']]`: a database that holds imported data is served as it is,
 * without the demo dataset.
 */
export async function startServer({ roles = [], imports = [], env: extra = {} } = {}) {
  const bin = binary();
  const dir = mkdtempSync(path.join(tmpdir(), 'lagesbild-web-'));
  const db = path.join(dir, 'demo.sqlite');
  const env = { ...process.env, NO_COLOR: '1', LAGESBILD_LOG: process.env.LAGESBILD_LOG || 'info,sqlx=warn', ...extra };
  for (const args of imports) {
    execFileSync(bin, ['--db', db, 'import', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const tokens = {};
  for (const role of roles) {
    tokens[role] = execFileSync(bin, ['--db', db, 'token', 'create', '--role', role, '--label', 'browser test'], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  }
  const child = spawn(bin, ['--db', db, 'demo', '--addr', '127.0.0.1:0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = [];
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${log.join('\n')}`)), 60_000);
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      log.push(line);
      if (log.length > 400) log.shift();
      const m = line.match(/serving Lägesbild at (http:\/\/[^\s/]+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before serving:\n${log.join('\n')}`));
    });
  });
  return {
    url,
    db,
    tokens,
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r();
          }, 5000);
          child.on('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * A fresh browser context (own storage) whose requests outside loopback are aborted.
 * `token` signs the page in by putting it in sessionStorage before any script runs.
 */
/**
 * A new browser context. Every request it makes passes through Playwright's interception, which
 * aborts those that would leave loopback (the base map's tiles); `intercept: false` leaves the
 * browser's own network path alone, for timings as a user meets them — the server must then
 * point everything at loopback (LAGESBILD_TILE_URL).
 */
export async function openContext(browser, { token, viewport = { width: 1280, height: 860 }, mobile = false, intercept = true } = {}) {
  const context = await browser.newContext({
    viewport,
    isMobile: mobile,
    hasTouch: mobile,
    locale: 'sv-SE',
    timezoneId: 'Europe/Stockholm',
    acceptDownloads: true,
  });
  const blocked = [];
  if (intercept) await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === 'http:' || u.protocol === 'https:') && !LOOPBACK.has(u.hostname)) {
      blocked.push(u.href);
      return route.abort('internetdisconnected');
    }
    return route.continue();
  });
  if (token) {
    await context.addInitScript((t) => {
      // about:blank (a new tab before it navigates) has no storage of its own.
      try {
        sessionStorage.setItem('lagesbild.token', t);
      } catch {}
    }, token);
  }
  context.blocked = blocked;
  return context;
}

/** Waits until a layer in the panel is drawn (state ready) and returns its feature count. */
export async function layerReady(page, id, timeout = 15_000) {
  const sel = `[data-layer="${id}"][data-state="ready"]`;
  await page.waitForSelector(sel, { timeout, state: 'attached' });
  return Number(await page.getAttribute(sel, 'data-count'));
}

export async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Collects console errors and failed loopback requests, for assertions and diagnostics. */
export function watchPage(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/ERR_INTERNET_DISCONNECTED|net::ERR_FAILED/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}
