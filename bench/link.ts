// Link benchmark: the edge and the VM in two network namespaces joined through wireguard-go, as in the tunnel test.
// Figures: event delivery latency (queued at the edge → acknowledged by the VM, i.e. stored there) p50/p95, and the
// clip relay's throughput for a 50 MB clip (edge → tunnel → VM → HTTP client), as a ratio to a plain loopback HTTP
// copy of the same bytes measured in the same run.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import YAML from 'yaml';

import { projectRoot } from '../src/shared/paths.ts';
import { wireGuardUnavailable } from '../src/shared/wireguard/interface.ts';
import { createNetnsPair, linkFromHost, netnsUnavailable } from '../test/support/netns.ts';

const guardian = join(projectRoot, 'bin', 'guardian.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Downloads a URL, returning bytes and MB/s. */
async function download(url: string, headers: Record<string, string> = {}): Promise<{ bytes: number; mbps: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Uint8Array).length;
  return { bytes, mbps: bytes / 1e6 / ((performance.now() - t0) / 1000) };
}

export async function benchLink(progress: (m: string) => void) {
  const unavailable = netnsUnavailable() ?? wireGuardUnavailable();
  if (unavailable) return { skipped: unavailable };
  const dir = mkdtempSync(join(tmpdir(), 'guardian-bench-link-'));
  const id = randomBytes(2).toString('hex');
  const subnet = 10 + Math.floor(Math.random() * 200);
  const net = createNetnsPair(subnet);
  const children: ChildProcess[] = [];
  try {
    const owner = linkFromHost(net.a.ns, subnet);
    const vmBase = `http://${owner.nsIp}:8600`;
    const token = randomBytes(24).toString('base64url');
    // The VM archives into S3 (versitygw in its namespace, as in compose) when the test tool is installed.
    const versitygw = join(projectRoot, '.vendor', 'bin', 'versitygw');
    const s3 = existsSync(versitygw);
    const s3Key = { accessKeyId: `bench${id}`, secretAccessKey: randomBytes(18).toString('base64url') };
    writeFileSync(
      join(dir, 'vm.yaml'),
      YAML.stringify({
        ...(s3
          ? {
              archive: {
                store: 's3',
                s3: { endpoint: 'http://127.0.0.1:7070', ...s3Key, forcePathStyle: true },
              },
            }
          : {}),
        dataDir: join(dir, 'vm'),
        http: { host: '0.0.0.0', port: 8600, publicUrl: `http://${net.a.ip}:8600` },
        api: { token },
        grpc: { port: 50051 },
        wireguard: {
          interface: `gbv${id}`,
          address: `10.79.${subnet}.1/24`,
          listenPort: 51820,
          endpoint: `${net.a.ip}:51820`,
        },
      }),
    );
    writeFileSync(join(dir, 'edge.yaml'), YAML.stringify({ dataDir: join(dir, 'edge') }));
    if (s3) {
      mkdirSync(join(dir, 's3'));
      const gw = spawn(
        'ip',
        ['netns', 'exec', net.a.ns, versitygw, '--port', '127.0.0.1:7070', '--quiet', 'posix', join(dir, 's3')],
        {
          env: { ...process.env, ROOT_ACCESS_KEY: s3Key.accessKeyId, ROOT_SECRET_KEY: s3Key.secretAccessKey },
          stdio: 'ignore',
        },
      );
      children.push(gw);
    }
    progress('link: starting the VM and pairing the edge');
    const vm = spawn(
      'ip',
      ['netns', 'exec', net.a.ns, process.execPath, guardian, 'vm', '--config', join(dir, 'vm.yaml')],
      {
        cwd: projectRoot,
        env: { ...process.env, GUARDIAN_LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      },
    );
    children.push(vm);
    for (let i = 0; i < 150; i++) {
      if (
        await fetch(`${vmBase}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await sleep(200);
    }
    const run = (ns: string, args: string[], input?: string) =>
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, guardian, ...args], {
        cwd: projectRoot,
        encoding: 'utf8',
        ...(input ? { input } : {}),
      });
    const { code } = JSON.parse(run(net.a.ns, ['keys', 'pair', '--config', join(dir, 'vm.yaml'), '--json'])) as {
      code: string;
    };
    run(net.b.ns, ['pair', '-', '--config', join(dir, 'edge.yaml'), '--json'], code);

    const clip = join(dir, 'clip.bin');
    writeFileSync(clip, randomBytes(50 * 1024 * 1024));
    progress('link: event delivery through the tunnel');
    const edge = spawn(
      'ip',
      [
        'netns',
        'exec',
        net.b.ns,
        process.execPath,
        '--import',
        'tsx',
        join(projectRoot, 'bench', 'support', 'link_edge.ts'),
        join(dir, 'edge'),
        `gbe${id}`,
        clip,
        '200',
      ],
      { cwd: projectRoot, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.push(edge);
    const report = await new Promise<{ ids: string[]; latencies: number[] }>((resolve, reject) => {
      let out = '';
      edge.stdout?.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
      });
      edge.once('exit', (c) => reject(new Error(`the edge side exited (${c})`)));
    });
    const latencies = report.latencies.slice(10); // the first ones warm up the connection

    progress('link: relaying a 50 MB clip through the tunnel');
    const eventId = report.ids.at(-1) as string;
    const relay: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await download(`${vmBase}/api/events/${eventId}/clip`, { Authorization: `Bearer ${token}` });
      if (r.bytes !== statSync(clip).size) throw new Error(`relayed ${r.bytes} bytes`);
      relay.push(r.mbps);
    }
    progress(
      `link: uploading a 50 MB archive object through the tunnel into ${s3 ? 'S3 (versitygw)' : "the VM's file store"}`,
    );
    edge.stdin?.write('archive\n');
    const archive = await new Promise<{ archiveMBps: number[] }>((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d;
        const line = out.split('\n').find((l) => l.includes('archiveMBps'));
        if (line) {
          edge.stdout?.off('data', onData);
          resolve(JSON.parse(line));
        }
      };
      edge.stdout?.on('data', onData);
      edge.once('exit', (c) => reject(new Error(`the edge side exited (${c})`)));
    });
    progress('link: the same bytes over plain HTTP through the same tunnel');
    // What the tunnel itself carries (wireguard-go on both sides): a plain HTTP server at the edge's tunnel address,
    // read from the VM's namespace.
    const tunnelServer = spawn(
      'ip',
      [
        'netns',
        'exec',
        net.b.ns,
        process.execPath,
        '-e',
        `const fs=require('fs');require('http').createServer((q,r)=>{r.setHeader('Content-Length',fs.statSync(process.argv[1]).size);fs.createReadStream(process.argv[1]).pipe(r)}).listen(9000,'10.79.${subnet}.2',()=>console.log('up'))`,
        clip,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(tunnelServer);
    await new Promise((r) => tunnelServer.stdout?.once('data', r));
    const tunnelRaw: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          net.a.ns,
          process.execPath,
          '-e',
          `(async()=>{const t=performance.now();const r=await fetch('http://10.79.${subnet}.2:9000/');let n=0;for await(const c of r.body)n+=c.length;console.log(n/1e6/((performance.now()-t)/1000))})()`,
        ],
        { encoding: 'utf8' },
      );
      tunnelRaw.push(Number(out.trim()));
    }
    tunnelServer.kill();
    progress('link: the same bytes over plain loopback HTTP');
    const plain = createServer((_req, res) => {
      res.setHeader('Content-Length', statSync(clip).size);
      createReadStream(clip).pipe(res);
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const port = (plain.address() as { port: number }).port;
    const loopback: number[] = [];
    for (let i = 0; i < 3; i++) loopback.push((await download(`http://127.0.0.1:${port}/`)).mbps);
    plain.close();
    edge.stdin?.end();
    const relayMbps = pct(relay, 50);
    const loopbackMbps = pct(loopback, 50);
    return {
      events: latencies.length,
      deliveryMs: { p50: round(pct(latencies, 50)), p95: round(pct(latencies, 95)) },
      relay: {
        clipMB: 50,
        relayMBps: round(relayMbps, 1),
        loopbackMBps: round(loopbackMbps, 1),
        ratioToLoopback: round(relayMbps / loopbackMbps, 3),
        // The tunnel's own capacity here, and how much of it the relay uses.
        tunnelPlainHttpMBps: round(pct(tunnelRaw, 50), 1),
        ratioToTunnel: round(relayMbps / pct(tunnelRaw, 50), 3),
      },
      // Encrypted evidence off the box: edge → tunnel → VM → object store, as a ratio of the relay in the same run.
      archiveUpload: {
        objectMB: 50,
        store: s3 ? 's3 (versitygw, in the VM namespace)' : 'fs',
        uploadMBps: round(pct(archive.archiveMBps, 50), 1),
        ratioToRelay: round(pct(archive.archiveMBps, 50) / relayMbps, 3),
      },
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await sleep(300);
    net.remove();
    spawnSync('rm', ['-f', `/var/run/wireguard/gbv${id}.sock`, `/var/run/wireguard/gbe${id}.sock`]);
    rmSync(dir, { recursive: true, force: true });
  }
}
