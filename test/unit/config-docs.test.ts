// The example config and docs/configuration.md are generated from the schema; they must be current and valid.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import YAML from 'yaml';

import { configDocs, exampleConfig } from '../../src/commands/config.ts';
import { configJsonSchema, validateConfig } from '../../src/shared/config.ts';
import { projectRoot } from '../../src/shared/paths.ts';

/** Every leaf key of the JSON Schema, as dotted paths (map entries and list items as their own keys). */
function leafKeys(node: Record<string, unknown>, path = ''): string[] {
  const props = node.properties as Record<string, Record<string, unknown>> | undefined;
  if (!props) return [path];
  return Object.entries(props).flatMap(([k, child]) => leafKeys(child, path ? `${path}.${k}` : k));
}

describe('configuration example and docs', () => {
  it('docs/configuration.md is what `guardian config docs` generates (run it to update the file)', () => {
    const checkedIn = readFileSync(join(projectRoot, 'docs', 'configuration.md'), 'utf8');
    assert.equal(checkedIn, configDocs());
  });

  it('documents every key, with a description', () => {
    const docs = configDocs();
    for (const key of leafKeys(configJsonSchema() as Record<string, unknown>))
      assert.match(docs, new RegExp(`^\\| \`${key.replace(/\./g, '\\.')}\` \\|.*\\| [A-Z].+ \\|$`, 'm'), key);
  });

  it('the example is a valid configuration that spells out every default, each key commented', () => {
    const text = exampleConfig();
    const parsed = YAML.parse(text);
    assert.deepEqual(parsed, validateConfig(parsed)); // nothing left to fill in: every default is written out
    assert.equal(parsed.dataDir, '/var/lib/guardian');
    const lines = text.split('\n');
    for (const [n, line] of lines.entries())
      if (/^[a-zA-Z]+:/.test(line)) assert.match(lines[n - 1] ?? '', /^#/, `a comment above ${line}`);
    assert.match(text, /# For example:\n# {3}cameras:\n# {5}front-door:/);
  });
});
