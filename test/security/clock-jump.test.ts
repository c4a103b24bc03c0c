// Issue #20's fault suite: clock jumps. Retention deletes by wall-clock age, so before this a jump forward of weeks
// (NTP setting a box without a battery-backed clock, an owner fixing the date) deleted every recording at the next
// sweep. Now a jump is seen against the monotonic clock and deletion by age waits until the clock has been steady;
// recording and events go on. Unit tests of the watch with made-up clocks, then the demo itself under libfaketime
// (Debian's faketime, installed by setup): the wall clock of both its processes jumps 40 days forward mid-run.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ClockWatch } from '../../src/shared/clock.ts';
import { tempDir } from '../helpers.ts';
import { type DemoProcess, recordedSegments, startDemoProcess } from '../support/demo-process.ts';
import { freePort } from '../support/rtsp.ts';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('clock jumps (#20 fault suite)', function () {
  this.timeout(240_000);

  it('the watch: steady by default, a jump either way holds deletion until the clock is steady again', () => {
    let wall = Date.UTC(2026, 11, 1);
    let mono = 0;
    const watch = new ClockWatch(
      10 * 60_000,
      undefined,
      () => wall,
      () => mono,
    );
    const tick = (ms: number, jump = 0) => {
      mono += ms;
      wall += ms + jump;
      return watch.steady();
    };
    assert.equal(tick(30_000), true);
    assert.equal(tick(30_000, 20_000), true, 'drift under a minute is no jump');
    assert.equal(tick(30_000, 40 * DAY), false, 'forward 40 days');
    assert.equal(tick(5 * 60_000), false, 'still settling');
    assert.equal(tick(6 * 60_000), true, 'steady for 10 minutes');
    assert.equal(tick(30_000, -3 * DAY), false, 'back 3 days');
    assert.ok(watch.lastJumpMs < -2 * DAY);
  });

  describe('the demo under libfaketime', () => {
    const dir = tempDir('guardian-clock-');
    const dataDir = join(dir.path, 'data');
    const offset = join(dir.path, 'faketime');
    let demo: DemoProcess | undefined;

    before(function () {
      if (!existsSync(FAKETIME)) {
        console.log('      skipped: libfaketime is not installed (npm run setup installs faketime when run as root)');
        this.skip();
      }
    });
    after(async () => {
      await demo?.stop();
      dir.remove();
    });

    const segments = () => recordedSegments(dataDir);

    it('a jump of 40 days forward deletes no recording and no event; recording goes on', async () => {
      writeFileSync(offset, '+0\n');
      const port = await freePort();
      demo = await startDemoProcess({
        dataDir,
        port,
        password: 'clock-test-password',
        env: {
          GUARDIAN_LOG_LEVEL: 'warn',
          LD_PRELOAD: FAKETIME,
          FAKETIME_TIMESTAMP_FILE: offset,
          FAKETIME_CACHE_DURATION: '1',
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        },
      });
      const { base } = demo;
      // Sessions expire by the wall clock, and 40 days is past their time: logged in again after the jump.
      let cookie = '';
      const logIn = async () => {
        cookie = (await (demo as DemoProcess).login()).cookie;
      };
      await logIn();
      const eventIds = async () => {
        const res = await fetch(`${base}/api/events?limit=500`, { headers: { cookie } });
        assert.equal(res.status, 200);
        return ((await res.json()) as { events: { id: string }[] }).events.map((e) => e.id);
      };
      let events: string[] = [];
      for (let i = 0; i < 160 && (events.length < 1 || segments().length < 2); i++) {
        await sleep(500);
        events = await eventIds();
      }
      const before = segments();
      assert.ok(before.length >= 2 && events.length >= 1, 'segments and events before the jump');

      writeFileSync(offset, '+40d\n'); // the demo keeps recordings 1 day, events 30: all would be past their time
      // Recording retention runs every 30 s, event retention every 60 s: both run at least once after the jump.
      await sleep(65_000);
      for (const f of before) assert.ok(existsSync(f), `${f} kept`);
      await logIn();
      const after = await eventIds();
      for (const id of events) assert.ok(after.includes(id), `event ${id} kept`);
      assert.match(demo.output(), /the clock jumped forward by 40 days: deleting by age waits/);
      const later = segments().filter((f) => !before.includes(f));
      assert.ok(later.length >= 2, `recording goes on (${later.length} new segments)`);
      // Named by the new time (UTC day of now + 40 days, or the next one near midnight).
      const day = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
      const expected = [day(Date.now() + 40 * DAY), day(Date.now() + 41 * DAY), day(Date.now() + 39 * DAY)];
      assert.ok(
        later.some((f) => expected.some((d) => f.includes(d))),
        `new segments carry the new time: ${later.join(', ')}`,
      );
    });
  });
});
