// `guardian config example | docs | check`. The example config and docs/configuration.md are generated from the
// schema's descriptions and defaults (src/shared/config.ts), so they cannot drift from what the code accepts; a
// test checks that the checked-in docs equal `guardian config docs`.
import { resolve } from 'node:path';

import type { Command } from 'commander';
import YAML from 'yaml';

import { configSchema, jsonSchemaOf, loadConfig, type SchemaNode } from '../shared/config.ts';
import { jsonOption } from './options.ts';
import { printJson } from './output.ts';
import { configOrExit } from './process.ts';

const sentence = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}${text.endsWith('.') ? '' : '.'}`;

// zod gives every integer the safe-integer range; only real limits are worth saying.
const limit = (n: number | undefined) => (n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);

/** What a value may be, in words: "a whole number from 0 to 65535", "one of continuous, events". */
function accepted(node: SchemaNode): string {
  if (node.enum) return `one of ${node.enum.join(', ')}`;
  const [min, max] = [limit(node.minimum), limit(node.maximum)];
  const kind = node.type === 'integer' ? 'a whole number' : 'a number';
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind}, at least ${min}`;
  return '';
}

function comment(node: SchemaNode, required: boolean, pad: string): string[] {
  const range = accepted(node);
  const text = [
    node.description ? sentence(node.description) : '',
    range ? sentence(range) : '',
    required ? 'Required.' : '',
  ]
    .filter(Boolean)
    .join(' ');
  // Wrap at about 110 columns.
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && pad.length + 2 + line.length + word.length >= 110) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => `${pad}# ${l}`);
}

/** `key: value` as YAML at the given indent; short lists (points, names) on one line. */
function yamlEntry(key: string, value: unknown, pad: string): string[] {
  const doc = new YAML.Document({ [key]: value });
  YAML.visit(doc, {
    Seq(_, seq) {
      if (seq.items.every((i) => YAML.isScalar(i) || YAML.isSeq(i))) seq.flow = true;
    },
  });
  return doc
    .toString({ lineWidth: 0, flowCollectionPadding: false })
    .trimEnd()
    .split('\n')
    .map((l) => pad + l);
}

function exampleLines(node: SchemaNode, depth: number): string[] {
  const pad = '  '.repeat(depth);
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const required = node.required?.includes(key) === true && child.default === undefined;
    if (depth === 0) out.push('');
    out.push(...comment(child, required, pad));
    // An optional section without a default (http.tls.acme): shown commented out, left unset.
    if (child.properties && !required && child.default === undefined) {
      out.push(`${pad}# ${key}:`, ...exampleLines(child, 1).map((l) => `${pad}# ${l}`));
      continue;
    }
    if (child.properties) {
      out.push(`${pad}${key}:`, ...exampleLines(child, depth + 1));
      continue;
    }
    const example = child.examples?.[0];
    if (child.default === undefined && example !== undefined) {
      out.push(...yamlEntry(key, example, pad));
      continue;
    }
    if (child.default === undefined) {
      out.push(`${pad}# ${key}: (not set)`); // optional, with no default: shown, left unset
      continue;
    }
    // An empty default with an example (cameras): show the example commented out, then the default.
    const empty = typeof child.default === 'object' && child.default && !Object.keys(child.default).length;
    if (empty && example !== undefined)
      out.push(`${pad}# For example:`, ...yamlEntry(key, example, `${pad}#   `).map((l) => l.trimEnd()));
    out.push(...yamlEntry(key, child.default, pad));
  }
  return out;
}

export function exampleConfig(): string {
  const header = [
    '# Guardian edge configuration: guardian edge --config FILE. Printed by `guardian config example`; every key is',
    '# documented in docs/configuration.md. Only dataDir is required; all other values shown are the defaults.',
    '# Environment variables override any key, e.g. GUARDIAN_CONFIG__HTTP__PORT=8081 sets http.port.',
  ];
  return `${[...header, ...exampleLines(jsonSchemaOf(configSchema), 0)].join('\n')}\n`;
}

/** The type column of the docs: "whole number, 0 to 65535", "text matching `^…$`". */
function typeText(node: SchemaNode): string {
  if (node.enum) return `one of ${node.enum.map((v) => `\`${v}\``).join(', ')}`;
  switch (node.type) {
    case 'integer':
    case 'number': {
      const [min, max] = [limit(node.minimum), limit(node.maximum)];
      const kind = node.type === 'integer' ? 'whole number' : 'number';
      if (min !== undefined && max !== undefined) return `${kind}, ${min} to ${max}`;
      return min !== undefined ? `${kind}, at least ${min}` : kind;
    }
    case 'string':
      if (node.format === 'starts_with')
        return `text starting with \`${node.pattern?.slice(1, -2).replace(/\\/g, '')}\``;
      return node.pattern ? `text matching \`${node.pattern}\`` : 'text';
    case 'boolean':
      return '`true` or `false`';
    case 'array':
      if (node.items?.description) return `list, each ${node.items.description}`;
      return node.items?.type === 'string' ? 'list of text' : 'list';
    default:
      return 'mapping';
  }
}

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

function docRows(node: SchemaNode, path: string, rows: Row[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const name = path ? `${path}.${key}` : key;
    if (child.properties) {
      docRows(child, name, rows);
      continue;
    }
    const required = node.required?.includes(key) === true && child.default === undefined;
    const value = child.default === undefined ? (required ? 'required' : '') : `\`${JSON.stringify(child.default)}\``;
    const entries = typeof child.additionalProperties === 'object' ? child.additionalProperties : undefined;
    // A map's entries are documented under a placeholder named after the map: cameras.<camera>.zones.
    const placeholder = `<${key.replace(/e?s$/, '')}>`;
    rows.push({
      key: `\`${name}\``,
      type: entries ? `mapping of \`${placeholder}\` to settings` : typeText(child),
      default: value,
      description: child.description ? sentence(child.description) : '',
    });
    if (entries) docRows(entries, `${name}.${placeholder}`, rows);
    if (child.items?.properties) docRows(child.items, `${name}[]`, rows);
  }
}

export function configDocs(): string {
  const root = jsonSchemaOf(configSchema);
  const out = [
    '# Configuration',
    '',
    '<!-- Generated by `guardian config docs` from src/shared/config.ts; do not edit by hand (a test compares them). -->',
    '',
    'The edge reads one YAML file: `guardian edge --config /etc/guardian/config.yaml`. Only `dataDir` is required;',
    'every other key has the default shown below. `guardian config example` prints a commented file with every key,',
    'and `guardian config check --config FILE` validates one (it lists every problem and exits with status 2).',
    '',
    'Environment variables override any key: `GUARDIAN_CONFIG__` followed by the path in capitals, `__` between',
    'levels and `_` between words, e.g. `GUARDIAN_CONFIG__HTTP__PORT=8081` or',
    '`GUARDIAN_CONFIG__EVENTS__END_AFTER_SECONDS=12`. Values are read as JSON when they parse as JSON.',
    '',
    'Cameras are not added in this file: add them in the web UI (Cameras page) or with `POST /api/cameras`. The',
    "`cameras` key only holds each camera's zones, masks and record mode, by camera id.",
    '',
    'Logs go to stderr: readable lines on a terminal, JSON lines otherwise (`GUARDIAN_LOG_FORMAT=json` or `pretty`',
    'chooses); `GUARDIAN_LOG_LEVEL` sets the level (default `info`).',
  ];
  for (const [key, section] of Object.entries(root.properties ?? {})) {
    out.push('', `## \`${key}\``, '');
    if (section.properties && section.description) out.push(`${sentence(section.description)}`, '');
    const rows: Row[] = [];
    docRows({ properties: { [key]: section }, ...(root.required ? { required: root.required } : {}) }, '', rows);
    out.push('| Key | Type | Default | Description |', '| --- | --- | --- | --- |');
    for (const r of rows)
      out.push(`| ${[r.key, r.type, r.default, r.description].map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  out.push('', '## Example', '', '```yaml', exampleConfig().trimEnd(), '```');
  return `${out.join('\n')}\n`;
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description("The edge's configuration file: example, docs and checks");
  config
    .command('example')
    .description('Print a commented example configuration with every key and its default')
    .action(() => void process.stdout.write(exampleConfig()));
  config
    .command('docs')
    .description('Print the reference of every configuration key (docs/configuration.md) as Markdown')
    .action(() => void process.stdout.write(configDocs()));
  config
    .command('check')
    .description('Validate a configuration file (with GUARDIAN_CONFIG__ overrides); every problem is listed, exit 2')
    .requiredOption('--config <file>', 'YAML configuration')
    .addOption(jsonOption())
    .action((opts: { config: string; json?: boolean }) => {
      const file = resolve(opts.config);
      const valid = configOrExit(() => loadConfig(file), file);
      if (opts.json)
        printJson(valid); // the configuration as the edge would run it, defaults filled in
      else console.log(`${file}: valid`);
    });
}
