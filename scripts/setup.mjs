#!/usr/bin/env node
// Idempotent bootstrap: system packages, npm dependencies, the native addon. Runs before `npm test` and `npm run demo`,
// so a fresh clone needs nothing but Node and npm. Uses only Node's standard library (node_modules may not exist yet).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
// --sanitize: also the sanitizer addon (npm test); --sanitize-only: just that (npm run build:native:sanitize, and
// test/security/native-fuzz.test.ts when the addon is older than native/).
const sanitizeOnly = process.argv.includes('--sanitize-only');
const sanitize = sanitizeOnly || process.argv.includes('--sanitize');
const log = (msg) => {
  if (!quiet) console.log(`[setup] ${msg}`);
};

// Debian/Ubuntu packages, by what needs them.
const APT_PACKAGES = {
  'native media core': [
    'pkg-config',
    'cmake',
    'g++',
    'make',
    'libavformat-dev',
    'libavcodec-dev',
    'libavutil-dev',
    'libswscale-dev',
    'libavdevice-dev',
  ],
  'tests and benchmarks (ffprobe/ffmpeg as references)': ['ffmpeg'],
  'tests (GStreamer RTSP test server, network namespaces)': [
    'python3-gi',
    'gir1.2-gst-rtsp-server-1.0',
    'gstreamer1.0-plugins-base',
    'gstreamer1.0-plugins-good',
    'gstreamer1.0-plugins-bad',
    'iproute2',
    'openssl',
  ],
  'browser tests of the web UI': ['chromium'],
  'tunnel to the owner server (wireguard-go: kernels without WireGuard)': ['wireguard-tools', 'wireguard-go'],
  'fault suite (clock jumps under libfaketime)': ['faketime'],
  "training the anomaly autoencoder (Debian's PyTorch for /usr/bin/python3; ONNX metadata)": [
    'python3-torch',
    'python3-onnx',
  ],
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`[setup] failed: ${cmd} ${args.join(' ')} (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function missingAptPackages() {
  const wanted = [...new Set(Object.values(APT_PACKAGES).flat())];
  if (spawnSync('dpkg-query', ['--version'], { stdio: 'ignore' }).status !== 0)
    return { wanted, missing: [], dpkg: false };
  const missing = wanted.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', `-f=\${Status}`, p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
  return { wanted, missing, dpkg: true };
}

function ensureAptPackages() {
  const { missing, dpkg } = missingAptPackages();
  if (!dpkg) {
    log(
      'not a Debian/Ubuntu system: make sure FFmpeg development libraries, pkg-config, cmake and a C++17 compiler are installed',
    );
    return;
  }
  if (missing.length === 0) return;
  const line = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(
      `[setup] missing system packages: ${missing.join(' ')}\n[setup] install them with:\n  sudo apt-get update && sudo ${line}`,
    );
    process.exit(1);
  }
  log(`installing system packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

function hashFiles(files) {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f);
    if (existsSync(f)) h.update(readFileSync(f));
  }
  return h.digest('hex');
}

// Node's own headers (include/node) so that nothing is downloaded by the native build.
function nodeDir() {
  for (const dir of [process.env.npm_config_nodedir, join(dirname(process.execPath), '..'), '/usr', '/usr/local']) {
    if (dir && existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return undefined;
}

function ensureNpmDependencies() {
  const stamp = join(root, 'node_modules', '.guardian-lock-hash');
  const want = hashFiles([join(root, 'package-lock.json'), join(root, 'package.json')]);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log('installing npm dependencies (npm ci)');
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  const nd = nodeDir();
  if (nd) env.npm_config_nodedir = nd;
  run('npm', ['ci', '--no-audit', '--no-fund'], { env });
  writeFileSync(stamp, want);
}

function listFiles(dir) {
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

function ensureNativeBuild() {
  const out = join(root, 'build', 'Release', 'guardian.node');
  const stamp = join(root, 'build', '.guardian-native-hash');
  const want = hashFiles([...listFiles(join(root, 'native')), join(root, 'CMakeLists.txt'), process.version]);
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log('building the native addon (cmake-js)');
  const env = { ...process.env };
  const nd = nodeDir();
  if (nd) env.npm_config_nodedir = nd;
  run(join(root, 'node_modules', '.bin', 'cmake-js'), ['compile', '--directory', root, '--out', join(root, 'build')], {
    env,
  });
  mkdirSync(dirname(stamp), { recursive: true });
  writeFileSync(stamp, want);
}

// The AddressSanitizer + UndefinedBehaviorSanitizer addon (CMake option GUARDIAN_SANITIZE) in build-sanitize/, for
// test/security/native-fuzz.test.ts; build/ is never touched. Rebuilt when native/, CMakeLists.txt, Node or the
// compiler change (hash stamp), under a lock so that two test runs never build in the same directory at once.
function ensureSanitizeBuild() {
  const dir = join(root, 'build-sanitize');
  const out = join(dir, 'Release', 'guardian.node');
  const stamp = join(dir, '.guardian-native-hash');
  const cxx = process.env.CXX || 'c++';
  const compiler = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
  const asan = spawnSync(cxx, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const missing =
    compiler.status !== 0 ? `no C++ compiler (${cxx})` : !asan.startsWith('/') || !existsSync(asan) ? 'no libasan' : '';
  if (missing) {
    // With --sanitize (npm test) a warning: the fuzz test skips itself and says why.
    console.error(`[setup] ${sanitizeOnly ? 'error' : 'warning'}: ${missing}, so the sanitizer addon is not built`);
    if (sanitizeOnly) process.exitCode = 1;
    return;
  }
  const want = () =>
    hashFiles([...listFiles(join(root, 'native')), join(root, 'CMakeLists.txt'), process.version, compiler.stdout]);
  const fresh = () => existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want();
  if (fresh()) return;
  const lock = `${dir}.lock`;
  for (const started = Date.now(); ; ) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A lock older than 20 minutes is left from a killed build.
      if (Date.now() - statSync(lock).mtimeMs > 20 * 60_000 || Date.now() - started > 20 * 60_000)
        rmSync(lock, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
  try {
    if (fresh()) return; // built by whoever held the lock
    log('building the sanitizer addon into build-sanitize/ (cmake-js, GUARDIAN_SANITIZE=ON)');
    const hash = want();
    const env = { ...process.env };
    const nd = nodeDir();
    if (nd) env.npm_config_nodedir = nd;
    const args = ['compile', '--directory', root, '--out', dir, '--CDGUARDIAN_SANITIZE=ON'];
    const r = spawnSync(join(root, 'node_modules', '.bin', 'cmake-js'), args, {
      stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
      cwd: root,
      env,
    });
    if (r.status !== 0) {
      console.error(`[setup] failed: cmake-js ${args.join(' ')} (exit ${r.status ?? r.signal})`);
      process.exitCode = 1;
      return;
    }
    writeFileSync(stamp, hash);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// OpenVINO runtime for the openvino inference backend: the C API libraries from the pinned PyPI wheel, unpacked into
// .vendor/openvino/libs, and its headers into .vendor/openvino/include (the detect bench compiles a small C program
// against the C API, bench/support/ov_plain.c). Python is used only here, to download and unzip; nothing needs it at
// run time. The stamp names the layout too, so a .vendor/openvino from before the headers is refreshed.
const OPENVINO_VERSION = '2026.4.1';
const OPENVINO_STAMP = `${OPENVINO_VERSION} include`;

function findPip() {
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0) return py;
  }
  return undefined;
}

function ensureOpenVino() {
  const dir = join(root, '.vendor', 'openvino');
  const stamp = join(dir, 'VERSION');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === OPENVINO_STAMP) return;
  if (process.env.GUARDIAN_SKIP_OPENVINO === '1') return;
  const py = findPip();
  if (!py) {
    console.error(
      '[setup] warning: no python3 with pip, so the OpenVINO backend is unavailable (apt-get install python3-pip)',
    );
    return;
  }
  log(`downloading the OpenVINO ${OPENVINO_VERSION} runtime (PyPI wheel)`);
  const wheels = join(dir, 'wheel');
  mkdirSync(wheels, { recursive: true });
  const arch = process.arch === 'arm64' ? 'manylinux_2_31_aarch64' : 'manylinux_2_28_x86_64';
  const dl = spawnSync(
    py,
    [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--only-binary=:all:',
      '--python-version',
      '3.11',
      '--platform',
      arch,
      '-d',
      wheels,
      `openvino==${OPENVINO_VERSION}`,
    ],
    { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' },
  );
  const wheel = existsSync(wheels) ? readdirSync(wheels).find((f) => f.endsWith('.whl')) : undefined;
  if (dl.status !== 0 || !wheel) {
    console.error('[setup] warning: could not download the OpenVINO wheel; the OpenVINO backend is unavailable');
    return;
  }
  const unzip = `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.startswith('openvino/libs/') or n.startswith('openvino/include/'):
        z.extract(n, sys.argv[2])`;
  run(py, ['-c', unzip, join(wheels, wheel), join(dir, 'unpacked')]);
  for (const sub of ['libs', 'include']) {
    spawnSync('rm', ['-rf', join(dir, sub)]);
    run('mv', [join(dir, 'unpacked', 'openvino', sub), join(dir, sub)]);
  }
  spawnSync('rm', ['-rf', wheels, join(dir, 'unpacked')]);
  writeFileSync(stamp, `${OPENVINO_STAMP}\n`);
}

// Test tools built from Go sources into .vendor/bin (go install with GOBIN): versitygw, a real S3 server the VM
// archive's tests run against with its posix backend; Pebble, Let's Encrypt's ACME test CA, and its DNS server, for
// the ACME certificate tests. Without Go they are skipped, and so are the tests needing them.
const GO_TOOLS = [
  { name: 'versitygw', module: 'github.com/versity/versitygw/cmd/versitygw', version: 'v1.7.0' },
  { name: 'pebble', module: 'github.com/letsencrypt/pebble/v2/cmd/pebble', version: 'v2.10.3' },
  {
    name: 'pebble-challtestsrv',
    module: 'github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv',
    version: 'v2.10.3',
  },
];

function findGo() {
  for (const go of ['go', '/usr/local/go/bin/go', '/usr/lib/go/bin/go']) {
    if (spawnSync(go, ['version'], { stdio: 'ignore' }).status === 0) return go;
  }
  return undefined;
}

function ensureGoTools() {
  const bin = join(root, '.vendor', 'bin');
  for (const tool of GO_TOOLS) {
    const stamp = join(bin, `.${tool.name}.version`);
    if (existsSync(join(bin, tool.name)) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === tool.version)
      continue;
    if (process.env.GUARDIAN_SKIP_GO_TOOLS === '1') continue;
    const go = findGo();
    if (!go) {
      console.error(
        `[setup] warning: no Go toolchain, so ${tool.name} is not installed and the tests that need it are skipped (install Go >= 1.24, then npm run setup)`,
      );
      continue;
    }
    log(`installing ${tool.name} ${tool.version} into .vendor/bin (go install)`);
    mkdirSync(bin, { recursive: true });
    const r = spawnSync(go, ['install', `${tool.module}@${tool.version}`], {
      env: { ...process.env, GOBIN: bin },
      stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    });
    if (r.status !== 0) {
      console.error(
        `[setup] warning: go install ${tool.module}@${tool.version} failed; the tests that need it are skipped`,
      );
      continue;
    }
    writeFileSync(stamp, `${tool.version}\n`);
  }
}

// Test tools of this repository written in Go, built into .vendor/bin when their sources change: faultfs, the FUSE
// fault layer of the disk-fault tests (this kernel has no device-mapper for dm-error).
const LOCAL_GO_TOOLS = [{ name: 'faultfs', dir: join(root, 'test', 'support', 'faultfs') }];

function ensureLocalGoTools() {
  const bin = join(root, '.vendor', 'bin');
  for (const tool of LOCAL_GO_TOOLS) {
    const h = createHash('sha256');
    for (const f of listTree(tool.dir)) h.update(f).update(readFileSync(f));
    const hash = h.digest('hex');
    const stamp = join(bin, `.${tool.name}.hash`);
    if (existsSync(join(bin, tool.name)) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) continue;
    const go = findGo();
    if (!go) {
      console.error(
        `[setup] warning: no Go toolchain, so ${tool.name} is not built and the tests that need it are skipped`,
      );
      continue;
    }
    log(`building ${tool.name} into .vendor/bin (go build)`);
    mkdirSync(bin, { recursive: true });
    const r = spawnSync(go, ['build', '-o', join(bin, tool.name), '.'], {
      cwd: tool.dir,
      stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    });
    if (r.status !== 0) {
      console.error(`[setup] warning: building ${tool.name} failed; the tests that need it are skipped`);
      continue;
    }
    writeFileSync(stamp, `${hash}\n`);
  }
}

function listTree(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTree(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

// The web UI: React + Vite, built into dist/ui when its sources change.
function ensureUiBuild() {
  const out = join(root, 'dist', 'ui', 'index.html');
  const stamp = join(root, 'dist', '.guardian-ui-hash');
  const want = hashFiles([...listTree(join(root, 'web')), join(root, 'package-lock.json')]);
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log('building the web UI (vite)');
  run(join(root, 'node_modules', '.bin', 'vite'), [
    'build',
    '--config',
    join(root, 'web', 'vite.config.ts'),
    '--logLevel',
    'warn',
  ]);
  writeFileSync(stamp, want);
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 17)) {
    console.error(`[setup] Node.js >= 20.17 is required (this is ${process.version})`);
    process.exit(1);
  }
}

checkNode();
if (sanitizeOnly) {
  ensureSanitizeBuild();
  process.exit();
}
ensureAptPackages();
ensureNpmDependencies();
ensureNativeBuild();
if (sanitize) ensureSanitizeBuild();
if (process.exitCode) process.exit();
ensureOpenVino();
ensureGoTools();
ensureLocalGoTools();
ensureUiBuild();
try {
  const v = execFileSync(
    process.execPath,
    [
      '-e',
      `console.log(JSON.stringify(require(${JSON.stringify(join(root, 'build', 'Release', 'guardian.node'))}).versions))`,
    ],
    { encoding: 'utf8' },
  );
  log(`ready (libav ${v.trim()})`);
} catch (err) {
  console.error(`[setup] the native addon does not load: ${err.message}`);
  process.exit(1);
}
