// The checked-in TypeScript types of the link protocol match proto/ (regenerate with `npm run proto`), and events
// survive the trip through the wire format unchanged.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { fromWireEvent, linkPackage, toWireEvent } from '../../src/shared/link/proto.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { tempDir } from '../helpers.ts';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('link protocol', () => {
  it('the checked-in generated types are what `npm run proto` makes from proto/', function () {
    this.timeout(30_000);
    const dir = tempDir();
    try {
      const script = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).scripts.proto as string;
      const [bin, ...args] = script.replace('src/shared/link/generated', dir.path).split(' ');
      execFileSync(join(projectRoot, 'node_modules', '.bin', bin as string), args, { cwd: projectRoot });
      const checkedIn = join(projectRoot, 'src', 'shared', 'link', 'generated');
      const fresh = files(dir.path)
        .map((f) => relative(dir.path, f))
        .sort();
      assert.deepEqual(
        files(checkedIn)
          .map((f) => relative(checkedIn, f))
          .sort(),
        fresh,
      );
      for (const f of fresh)
        assert.equal(
          readFileSync(join(checkedIn, f), 'utf8'),
          readFileSync(join(dir.path, f), 'utf8'),
          `${f} is stale`,
        );
    } finally {
      dir.remove();
    }
  });

  it('an event goes through protobuf bytes unchanged, open or ended', () => {
    const push = linkPackage().EdgeLink.service.PushEvents;
    const open = {
      id: '01JABCDEFGHJKMNPQRSTVWXYZ0',
      cameraId: 'porch',
      trackId: 4,
      label: 'person',
      labels: ['person', 'dog'],
      zones: ['drive'],
      startMs: 1_795_000_000_123,
      endMs: null,
      maxScore: 0.912345678,
      meanScore: 0.5,
      detections: 17,
      boxPath: [
        [1_795_000_000_123, 1.5, 2, 300, 400],
        [1_795_000_000_323, 2, 3, 301, 401],
      ],
      protected: true,
      updatedMs: 1_795_000_000_400,
      hasSnapshot: true,
      hasClip: false,
      severity: null,
      verdict: null,
      secondOpinion: null,
    };
    const rated = {
      ...open,
      endMs: 1_795_000_009_000,
      hasClip: true,
      severity: 'critical',
      verdict: 'confirmed' as const,
      secondOpinion: { verdict: 'false_positive' as const, score: 0.125 },
    };
    for (const e of [open, rated]) {
      const bytes = push.requestSerialize({ events: [{ deliveryId: 3, kind: 'event.end', event: toWireEvent(e) }] });
      const back = push.requestDeserialize(bytes);
      assert.equal(back.events[0]?.deliveryId, 3);
      assert.deepEqual(fromWireEvent(back.events[0]?.event as NonNullable<(typeof back.events)[0]['event']>), e);
    }
  });
});
