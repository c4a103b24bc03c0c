// `guardian archive encrypt | decrypt | verify | rotate | secret`: the archive format (docs/archive-format.md) from
// the command line, so that the owner can recover footage from any archived object with nothing but the secret,
// even without a running Guardian. The secret comes from --secret-file (0600) or stdin, never from an argument
// (arguments are visible to every user in the process list).
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';

import {
  createSecret,
  type DecryptResult,
  decryptFile,
  deriveKek,
  encryptFile,
  type Kek,
  normalizeSecret,
  readSecretFile,
  rewrap,
  verifyFile,
  writeSecretFile,
} from '../shared/archive/format.ts';
import { GuardianError } from '../shared/errors.ts';
import { jsonOption } from './options.ts';
import { fail, printJson } from './output.ts';

interface Range {
  start: number;
  end: number | null;
}

/** `A-B` (inclusive byte offsets) or `A-` (to the end). */
function parseRange(value: string): Range {
  const m = /^(\d+)-(\d*)$/.exec(value.trim());
  const start = m ? Number(m[1]) : Number.NaN;
  const end = m?.[2] ? Number(m[2]) : null;
  if (!m || !Number.isSafeInteger(start) || (end !== null && (!Number.isSafeInteger(end) || end < start)))
    throw new InvalidArgumentError('Expected A-B: inclusive plaintext byte offsets with A <= B (or A- to the end)');
  return { start, end };
}

const secretFileOption = () =>
  new Option(
    '--secret-file <file>',
    'file holding the archive secret (mode 0600); without it the secret is read from stdin',
  );

/** Reads the secret from a TTY without echo (Enter ends it, Ctrl-C aborts). */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new GuardianError('INVALID_ARGUMENT', 'interrupted'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readStdin(limit = 4096): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin) {
    parts.push(chunk as Buffer);
    n += (chunk as Buffer).length;
    if (n > limit) throw new GuardianError('INVALID_ARGUMENT', 'stdin holds more than a secret (over 4 KiB)');
  }
  return Buffer.concat(parts);
}

/** The secret of --secret-file, or of stdin (typed at a prompt when stdin is a terminal). */
async function secretFrom(file: string | undefined): Promise<string> {
  if (file) return readSecretFile(file);
  const text = process.stdin.isTTY ? await promptHidden('Archive secret: ') : (await readStdin()).toString('utf8');
  if (!text.trim())
    throw new GuardianError(
      'INVALID_ARGUMENT',
      'no archive secret: give --secret-file FILE (mode 0600) or pass the secret on stdin',
    );
  return normalizeSecret(text);
}

/** A bar of megabytes on stderr, for files past 32 MB when stderr is a terminal and the output is not --json. */
function byteBar(what: string, json: boolean | undefined) {
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(done: number, total: number) {
      if (!bar) {
        if (json || process.stderr.isTTY !== true || total < 32e6) return;
        bar = new cliProgress.SingleBar(
          {
            format: `${what} [{bar}] {percentage}% | {value}/{total} MB | ETA {eta}s`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.ceil(total / 1e6), 0);
      }
      bar.update(Math.floor(done / 1e6));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

async function kekOf(file: string | undefined): Promise<Kek> {
  return deriveKek(await secretFrom(file));
}

export function registerArchiveCommands(program: Command): void {
  const archive = program
    .command('archive')
    .description(
      'Encrypted archives of footage (docs/archive-format.md): encrypt, decrypt, verify, rotate the secret, make a recovery secret',
    );

  archive
    .command('encrypt')
    .description('Encrypt a file into an archive')
    .argument('<in>', 'file to encrypt')
    .requiredOption('-o, --output <file>', 'the archive to write (complete or not written at all)')
    .addOption(secretFileOption())
    .addOption(jsonOption())
    .action(async (input: string, opts: { output: string; secretFile?: string; json?: boolean }) => {
      const bar = byteBar('encrypting', opts.json);
      try {
        const kek = await kekOf(opts.secretFile);
        const r = await encryptFile(input, opts.output, kek, { onProgress: (d, t) => bar.update(d, t) });
        bar.stop();
        if (opts.json) printJson({ input, output: opts.output, keyId: kek.keyId, ...r });
        else
          console.log(
            `${opts.output}: ${r.plaintextBytes} bytes encrypted into ${r.ciphertextBytes} (key ${kek.keyId}, sha256 ${r.sha256})`,
          );
      } catch (err) {
        bar.stop();
        fail(err, input);
      }
    });

  archive
    .command('decrypt')
    .description('Decrypt an archive, or a byte range of its plaintext; a failed decrypt writes nothing')
    .argument('<in>', 'the archive')
    .requiredOption('-o, --output <file>', 'where the plaintext goes (written only when every segment authenticated)')
    .addOption(
      new Option('--range <A-B>', 'only plaintext bytes A to B (inclusive offsets; A- = to the end)').argParser(
        parseRange,
      ),
    )
    .addOption(secretFileOption())
    .addOption(jsonOption())
    .action(async (input: string, opts: { output: string; range?: Range; secretFile?: string; json?: boolean }) => {
      const bar = byteBar('decrypting', opts.json);
      try {
        const kek = await kekOf(opts.secretFile);
        let r: DecryptResult;
        try {
          const range = opts.range ? { start: opts.range.start, end: opts.range.end ?? undefined } : undefined;
          r = await decryptFile(input, opts.output, kek, range, { onProgress: (d, t) => bar.update(d, t) });
        } catch (err) {
          // A range past the end is bad input, as a bad option value is (exit 2).
          if (err instanceof GuardianError && err.code === 'RANGE_NOT_SATISFIABLE')
            throw new GuardianError('INVALID_ARGUMENT', `--range: ${err.message}`);
          throw err;
        }
        bar.stop();
        if (opts.json) printJson({ input, output: opts.output, ...r });
        else console.log(`${opts.output}: ${r.bytesWritten} bytes decrypted (the archive holds ${r.plaintextBytes})`);
      } catch (err) {
        bar.stop();
        fail(err, input);
      }
    });

  archive
    .command('verify')
    .description('Authenticate every segment of an archive (nothing is written)')
    .argument('<in>', 'the archive')
    .addOption(secretFileOption())
    .addOption(jsonOption())
    .action(async (input: string, opts: { secretFile?: string; json?: boolean }) => {
      const bar = byteBar('verifying', opts.json);
      try {
        const kek = await kekOf(opts.secretFile);
        const r = await verifyFile(input, kek, { onProgress: (d, t) => bar.update(d, t) });
        bar.stop();
        if (opts.json)
          printJson({
            input,
            ok: true,
            plaintextBytes: r.plaintextBytes,
            segments: r.segments,
            version: r.header.version,
            keyId: r.header.keyId,
            objectId: r.header.objectId,
            kdf: { ...r.header.kdf, salt: r.header.kdf.salt.toString('hex') },
          });
        else
          console.log(
            `${input}: ok, ${r.plaintextBytes} bytes in ${r.segments} segment${r.segments === 1 ? '' : 's'}, all authentic (key ${r.header.keyId})`,
          );
      } catch (err) {
        bar.stop();
        fail(err, input);
      }
    });

  archive
    .command('rotate')
    .description(
      'Re-wrap archives under a new secret: only each header changes, the footage is not re-encrypted (an archive already under the new secret is left as it is)',
    )
    .argument('<in...>', 'archives')
    .requiredOption('--new-secret-file <file>', 'file holding the new secret (mode 0600)')
    .addOption(secretFileOption())
    .addOption(jsonOption())
    .action(async (inputs: string[], opts: { newSecretFile: string; secretFile?: string; json?: boolean }) => {
      let current = inputs[0] ?? '';
      try {
        const newSecret = readSecretFile(opts.newSecretFile);
        const oldSecret = await secretFrom(opts.secretFile);
        const newKek = await deriveKek(newSecret);
        const files = [];
        for (const file of inputs) {
          current = file;
          const r = await rewrap(file, oldSecret, newKek);
          files.push({ file, ...r });
          if (!opts.json)
            console.log(
              r.rotated
                ? `${file}: rotated (key ${r.keyIdBefore} -> ${r.keyIdAfter})`
                : `${file}: already under the new secret`,
            );
        }
        if (opts.json) printJson({ files });
      } catch (err) {
        fail(err, current);
      }
    });

  archive
    .command('secret')
    .description('Generate a recovery secret for the archive and save it to a file (mode 0600); shown once')
    .requiredOption('-o, --output <file>', 'where to save it (an existing file is never replaced)')
    .addOption(jsonOption())
    .action((opts: { output: string; json?: boolean }) => {
      try {
        const secret = createSecret();
        writeSecretFile(opts.output, secret);
        if (opts.json) printJson({ file: opts.output, secret });
        else
          console.log(
            [
              'Your archive recovery secret (shown this once):',
              '',
              `    ${secret}`,
              '',
              'Write it down and keep it somewhere safe, away from this box. Archived footage is encrypted with it:',
              'without this secret nobody, not you and not Guardian, can ever decrypt that footage again. With it you',
              'can recover any archived object on any computer: guardian archive decrypt FILE -o OUT (secret on stdin).',
              `Saved to ${opts.output} (mode 0600).`,
            ].join('\n'),
          );
      } catch (err) {
        fail(err, opts.output);
      }
    });
}
