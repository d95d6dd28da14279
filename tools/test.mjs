#!/usr/bin/env node
// `npm test`: installs the system packages the tests need (Debian, as root), type-checks the whole tree in
// strict mode, runs every test (Vitest: kernels on Dawn in Node, and real headless Chromium), and ends with
// one plain line "N passed, N failed".
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
const BACKPORTS_SOURCE = '/etc/apt/sources.list.d/bookworm-backports.sources';

const log = (line) => process.stdout.write(`[test] ${line}\n`);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get');
const bookworm = existsSync('/etc/os-release') && /VERSION_CODENAME=bookworm/.test(readFileSync('/etc/os-release', 'utf8'));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...opts });
  return r.status === 0;
}

function packageVersion(name) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

// Dawn rejects Debian 12's own Mesa 22 lavapipe; Mesa ≥ 23 (bookworm-backports has 25) works and is 5-10x
// faster than SwiftShader. Chromium brings SwiftShader, which the engine falls back to.
function lavapipeUsable() {
  const version = packageVersion('mesa-vulkan-drivers');
  const major = Number.parseInt(version.split(/[.:]/)[0] ?? '0', 10);
  return existsSync(LAVAPIPE_ICD) && major >= 23;
}

// The PyTorch companion's tests (python/tests) run on Debian's own torch, numpy, PIL and pytest.
const PYTHON = '/usr/bin/python3';
const PYTHON_PACKAGES = ['python3-torch', 'python3-numpy', 'python3-pil', 'python3-pytest'];

function pythonReady() {
  const python = existsSync(PYTHON) ? PYTHON : 'python3';
  return spawnSync(python, ['-c', 'import torch, numpy, PIL, pytest'], { stdio: 'ignore' }).status === 0;
}

function ensureSystemPackages() {
  const missing = pythonReady() ? [] : [...PYTHON_PACKAGES];
  if (!existsSync(CHROMIUM)) missing.push('chromium');
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libvulkan.so.1') && !packageVersion('libvulkan1')) missing.push('libvulkan1');
  const wantLavapipe = !lavapipeUsable();
  if (missing.length === 0 && !wantLavapipe) return;
  if (!isDebian || !isRoot) {
    const advice = [
      missing.length ? `install ${missing.join(', ')} (Debian/Ubuntu: sudo apt-get install -y ${missing.join(' ')})` : '',
      wantLavapipe ? 'optionally install a faster software Vulkan driver: Mesa ≥ 23 lavapipe (Debian 12: sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers)' : '',
    ].filter(Boolean);
    log(`cannot install system packages here (${isDebian ? 'not root' : 'not Debian'}): ${advice.join('; ')}.`);
    if (missing.length) {
      log('the tests need Chromium, a Vulkan loader and Python with torch, numpy, PIL and pytest; install them and run `npm test` again.');
      process.stdout.write('0 passed, 1 failed\n');
      process.exit(1);
    }
    return;
  }
  log(`installing system packages: ${[...missing, wantLavapipe ? 'mesa-vulkan-drivers (backports)' : ''].filter(Boolean).join(', ')}`);
  if (wantLavapipe && bookworm && !existsSync(BACKPORTS_SOURCE)) {
    writeFileSync(
      BACKPORTS_SOURCE,
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
  }
  run('apt-get', ['update', '-qq']);
  if (missing.length && !run('apt-get', ['install', '-y', '-qq', ...missing])) {
    log(`apt-get could not install ${missing.join(', ')}.`);
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  }
  if (wantLavapipe && bookworm && !run('apt-get', ['install', '-y', '-qq', '-t', 'bookworm-backports', 'mesa-vulkan-drivers'])) {
    log('lavapipe from bookworm-backports could not be installed; the tests fall back to SwiftShader (slower).');
  }
}

ensureSystemPackages();

let failedExtra = 0;
log('type-checking (tsc --noEmit, strict)');
if (!run(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'tsconfig.json'])) {
  log('type-check failed');
  failedExtra += 1;
}

const reportDir = mkdtempSync(join(tmpdir(), 'clora-test-'));
// Two passes: the Node tests two files at a time, then the browser tests one at a time. Each browser test
// drives a Chromium whose emulated GPU wants both cores; two at once made the slow ones time out.
const extraArgs = process.argv.slice(2);
const passes = extraArgs.length > 0
  ? [{ name: 'the selected tests', args: extraArgs }]
  : [
      { name: 'the Node tests', args: ['tests/unit', 'tests/reference', 'tests/fuzz', 'tests/soak'] },
      { name: 'the browser tests (headless Chromium, one file at a time)', args: ['tests/e2e', '--maxWorkers=1', '--no-file-parallelism'] },
    ];
let passed = 0;
let failed = 0;
passes.forEach((pass, index) => {
  const reportFile = join(reportDir, `vitest-${index}.json`);
  log(`running ${pass.name} (vitest)`);
  const vitestArgs = ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...pass.args];
  const passOk = run(process.execPath, vitestArgs);
  let passFailed = 0;
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    passed += report.numPassedTests ?? 0;
    passFailed = (report.numFailedTests ?? 0) + countFilesThatDidNotRun(report);
    if (report.numPendingTests || report.numTodoTests) log(`${report.numPendingTests + report.numTodoTests} tests were skipped: nothing may be skipped.`);
    passFailed += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  } else {
    passFailed = 1;
  }
  if (!passOk && passFailed === 0) passFailed = 1; // vitest failed without a failing test (an unhandled error, a crashed worker)
  failed += passFailed;
});
if (extraArgs.length === 0) {
  const python = runPytest(join(reportDir, 'pytest.xml'));
  passed += python.passed;
  failed += python.failed;
}
failed += failedExtra;
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);

// A test file that fails to load or crashes has no test results of its own: count it as one failure.
function countFilesThatDidNotRun(report) {
  return (report.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((t) => t.status === 'failed')).length;
}

// The third pass: `python3 -m pytest -q python/tests` (the PyTorch companion against the engine), counted
// from its JUnit report; a skipped test counts as failed, as in the Vitest passes.
function runPytest(reportFile) {
  log('running the PyTorch companion tests (python3 -m pytest python/tests)');
  const python = existsSync(PYTHON) ? PYTHON : 'python3';
  const ok = run(python, ['-m', 'pytest', '-q', 'python/tests', `--junitxml=${reportFile}`]);
  if (!existsSync(reportFile)) {
    log(`pytest did not run: ${python} needs torch, numpy, PIL and pytest (Debian: apt-get install -y ${PYTHON_PACKAGES.join(' ')}).`);
    return { passed: 0, failed: 1 };
  }
  const suite = /<testsuite\b[^>]*>/.exec(readFileSync(reportFile, 'utf8'))?.[0] ?? '';
  const count = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
  const [tests, failures, errors, skipped] = ['tests', 'failures', 'errors', 'skipped'].map(count);
  if (skipped) log(`${skipped} Python tests were skipped: nothing may be skipped.`);
  const failedTests = failures + errors + skipped;
  return { passed: tests - failedTests, failed: failedTests + (ok || failedTests > 0 ? 0 : 1) };
}
