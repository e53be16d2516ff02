import { testAuthority } from '../../../test/helpers/signing.ts';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LabClock } from '../../../lab/clock/LabClock.ts';
import type { Feature } from '../../cli/types.ts';
import { platform } from '../../platforms/profile.ts';
import { Router, setRouterFeatures } from '../../Router.ts';
import { ContentStore } from '../../storage/ContentStore.ts';
import type { FlashFileSystem } from '../../storage/FlashFileSystem.ts';
import type { TransferClient } from '../../transfer/types.ts';
import { filesystemFeature, localCopy } from './index.ts';

/** Stand-in for the copy feature, which owns `copy` and hands local-to-local copies over. */
const copyForTest: Feature<Router> = {
  name: 'copy-test',
  commands: [{ mode: 'exec', syntax: 'copy <src> <dst>', run: (ctx) => localCopy(ctx, ctx.args.src!, ctx.args.dst!) }],
};

beforeAll(() => setRouterFeatures([filesystemFeature, copyForTest]));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T0 = new Date('2024-03-05T10:04:05Z');

function makeRouter(platformId: 'isr4321' | 'c3900', fsSizes?: Record<string, number>) {
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-fsfeat-'));
  dirs.push(dir);
  const clock = new LabClock({ start: T0, frozen: true });
  const store = new ContentStore(join(dir, 'store'));
  const r = new Router({
    name: 'R1',
    platform: platform(platformId),
    address: '127.0.0.10',
    fsSizes,
    env: {
      clock,
      store,
      stateDir: join(dir, 'r1'),
      servicePort: () => 0,
      transfer: {} as Record<'tftp' | 'ftp', TransferClient>,
      softwareKeys: testAuthority(),
    },
  });
  return { r, clock, store, dir };
}

/** Runs lines in one scripted session; later lines answer the earlier command's questions. */
async function run(r: Router, ...lines: string[]): Promise<string> {
  return r.exec(lines);
}

async function put(fs: FlashFileSystem, path: string, data: Buffer | string) {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const w = fs.createWriter(path, buf.length);
  if (buf.length) await w.write(buf);
  return w.commit();
}

describe('dir', () => {
  it('IOS XE layout: %17d sizes, drwx, right-aligned dates, totals', async () => {
    const { r, clock } = makeRouter('isr4321', { bootflash: 100_000_000 });
    r.system.timezone = { name: 'PDT', offsetMinutes: -420 };
    const bf = r.fs.get('bootflash')!;
    const e1 = await put(bf, 'testimage', Buffer.alloc(794_609));
    clock.advance(86_400_000 * 10);
    const d = bf.mkdir('tracelogs');
    const out = await run(r, 'dir');
    expect(out).toBe(
      [
        'Directory of bootflash:/',
        '',
        `${String(e1.inode).padStart(5)}  -rw-           794609   Mar 5 2024 03:04:05 -07:00  testimage`,
        `${String(d.inode).padStart(5)}  drwx             4096  Mar 15 2024 03:04:05 -07:00  tracelogs`,
        '',
        `100000000 bytes total (${100_000_000 - 794_609 - 4096} bytes free)`,
        '',
      ].join('\n'),
    );
  });

  it('classic layout: %12d sizes and drw-', async () => {
    const { r } = makeRouter('c3900');
    const f0 = r.fs.get('flash0')!;
    const e = await put(f0, 'c3900-universalk9-mz.SPA.150-1.M7.bin', Buffer.alloc(97_794));
    const d = f0.mkdir('config');
    const out = await run(r, 'dir flash:');
    expect(out.split('\n').slice(0, 4)).toEqual([
      'Directory of flash0:/',
      '',
      `${String(e.inode).padStart(5)}  -rw-       97794   Mar 5 2024 10:04:05 +00:00  c3900-universalk9-mz.SPA.150-1.M7.bin`,
      `${String(d.inode).padStart(5)}  drw-           0   Mar 5 2024 10:04:05 +00:00  config`,
    ]);
    expect(out).toContain(`\n2142715904 bytes total (${2142715904 - 97_794} bytes free)\n`);
  });

  it('empty directory, a single file, subdirectories, nvram without dates', async () => {
    const { r } = makeRouter('isr4321', { bootflash: 1_000_000 });
    expect(await run(r, 'dir bootflash:')).toBe('Directory of bootflash:/\n\nNo files in directory\n\n1000000 bytes total (1000000 bytes free)\n');
    const bf = r.fs.get('bootflash')!;
    bf.mkdir('sub');
    await put(bf, 'sub/f.txt', 'abc');
    expect(await run(r, 'dir bootflash:sub/f.txt')).toMatch(/^Directory of bootflash:\/sub\/f\.txt\n\n +\d+  -rw- +3  .*  f\.txt\n\n/);
    expect(await run(r, 'dir bootflash:/sub')).toMatch(/^Directory of bootflash:\/sub\/\n\n.* f\.txt\n/);
    expect(await run(r, 'dir /recursive')).toMatch(/Directory of bootflash:\/\n\n.*sub\n\nDirectory of bootflash:\/sub\/\n\n.*f\.txt\n\n1000000 bytes total/s);
    await r.fs.get('nvram')!.writeText('startup-config', 'hostname R1\n');
    expect(await run(r, 'dir nvram:')).toMatch(/^ +\d+  -rw- +12 +<no date>  startup-config$/m);
    expect((await run(r, 'dir nvram:')).split('\n')[2]).toMatch(/ {12}12 {20}<no date>  startup-config$/);
  });

  it('errors', async () => {
    const { r } = makeRouter('isr4321');
    expect(await run(r, 'dir bootflash:nope')).toBe('%Error opening bootflash:/nope (No such file or directory)\n');
    expect(await run(r, 'dir disk7:')).toBe('%Error opening disk7:/ (No device available)\n');
  });
});

describe('show <fs>:', () => {
  it('IOS XE: recursive Linux paths, zero-padded days, available/used', async () => {
    const { r } = makeRouter('isr4321', { bootflash: 10_000_000 });
    const bf = r.fs.get('bootflash')!;
    await put(bf, 'isr4300.bin', Buffer.alloc(486_645));
    bf.mkdir('tracelogs');
    await put(bf, 'tracelogs/a.log', Buffer.alloc(37_855));
    const out = await run(r, 'show bootflash:');
    expect(out).toBe(
      [
        '-#- --length-- ---------date/time--------- path',
        '  1       4096 Mar 05 2024 10:04:05 +00:00 /bootflash/',
        '  2     486645 Mar 05 2024 10:04:05 +00:00 /bootflash/isr4300.bin',
        '  3       4096 Mar 05 2024 10:04:05 +00:00 /bootflash/tracelogs/',
        '  4      37855 Mar 05 2024 10:04:05 +00:00 /bootflash/tracelogs/a.log',
        '',
        `${bf.freeBytes} bytes available (${486_645 + 4096 + 37_855} bytes used)`,
        '',
      ].join('\n'),
    );
    // `flash:` is bootflash here; `show flash` without the colon works too.
    expect(await run(r, 'show flash:')).toBe(out);
    expect(await run(r, 'show flash')).toBe(out);
  });

  it('classic: relative paths, left-aligned index', async () => {
    const { r } = makeRouter('c3900');
    await put(r.fs.get('flash0')!, 'img.bin', Buffer.alloc(97_794));
    const lines = (await run(r, 'show flash0:')).split('\n');
    expect(lines[0]).toBe('-#- --length-- -----date/time------ path');
    // `%-3d` index then `%11d` length, as on a real ISR G2 (`1     50022380 ...`).
    expect(lines[1]).toBe('1        97794 Mar 05 2024 10:04:05 +00:00 img.bin');
    expect(lines[3]).toBe(`${2142715904 - 97_794} bytes available (97794 bytes used)`);
  });

  it('class-B partitions in the seed format, deleted files marked until squeeze', async () => {
    const { r } = makeRouter('c3900', { slot0: 8_388_608 });
    const p1 = r.fs.get('slot0:1')!;
    await put(p1, 'your-ios', Buffer.alloc(1_711_088));
    await put(p1, 'old', Buffer.alloc(100));
    p1.delete('old');
    expect(await run(r, 'show slot0: partition 1')).toBe(
      [
        'PCMCIA Slot0 flash directory, partition 1:',
        'File  Length   Name/status',
        '  1   1711088  your-ios',
        '  2   100      old [deleted]',
        `[${1_711_152 + 164} bytes used, ${4_194_304 - 1_711_152 - 164} available, 4194304 total]`,
        '8192K bytes of processor board PCMCIA Slot0 flash (Read/Write)',
        '',
      ].join('\n'),
    );
    expect(await run(r, 'show slot0: partition 2')).toContain('PCMCIA Slot0 flash directory, partition 2:\nFile  Length   Name/status\n[0 bytes used, 4194304 available, 4194304 total]');
    // squeeze gives the deleted file's space back.
    expect(await run(r, 'squeeze slot0:')).toBe('All deleted files will be removed. Continue? [confirm]\nSqueeze operation may take a while. Continue? [confirm]\n\nSqueeze of slot0:1 complete\n');
    // Without a partition, every partition in turn and the card's size once.
    expect(await run(r, 'show slot0:')).toBe(
      [
        'PCMCIA Slot0 flash directory, partition 1:',
        'File  Length   Name/status',
        '  1   1711088  your-ios',
        '[1711152 bytes used, 2483152 available, 4194304 total]',
        '',
        'PCMCIA Slot0 flash directory, partition 2:',
        'File  Length   Name/status',
        '[0 bytes used, 4194304 available, 4194304 total]',
        '8192K bytes of processor board PCMCIA Slot0 flash (Read/Write)',
        '',
      ].join('\n'),
    );
  });

  it('a device this platform lacks is an invalid keyword', async () => {
    const { r } = makeRouter('isr4321');
    expect(await run(r, 'show slot0:')).toBe("        ^\n% Invalid input detected at '^' marker.\n\n");
  });
});

describe('show file systems', () => {
  it('prints the measured columns, default row with aliases, network rows', async () => {
    const { r } = makeRouter('isr4321');
    await put(r.fs.get('nvram')!, 'startup-config', 'x'.repeat(1000));
    const out = await run(r, 'show file systems');
    expect(out).toBe(
      [
        'File Systems:',
        '',
        '       Size(b)       Free(b)      Type  Flags  Prefixes',
        '*   7194697728    7194697728      disk     rw   bootflash: flash:',
        '    8017412096    8017412096  usbflash     rw   usbflash0:',
        '      33554432      33553432     nvram     rw   nvram:',
        '             -             -   network     rw   tftp:',
        '             -             -   network     rw   ftp:',
        '             -             -   network     rw   http:',
        '             -             -   network     rw   scp:',
        '             -             -   network     rw   https:',
        '',
      ].join('\n'),
    );
    // Column ends as measured on the real fixture: 14, 28, 38, 45.
    const row = out.split('\n')[3]!;
    expect(row.indexOf('7194697728') + 10).toBe(14);
    expect(row.lastIndexOf('7194697728') + 10).toBe(28);
    expect(row.indexOf('disk') + 4).toBe(38);
    expect(row.indexOf('rw') + 2).toBe(45);
  });
});

describe('delete, rename, mkdir, rmdir', () => {
  it('delete asks for the name and confirmation, then removes the file', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    await put(bf, 'memleak.tcl', 'puts hi');
    const free = bf.freeBytes;
    expect(await run(r, 'delete bootflash:memleak.tcl', '', '')).toBe('Delete filename [memleak.tcl]? \nDelete bootflash:/memleak.tcl? [confirm]\n');
    expect(bf.stat('memleak.tcl')).toBeUndefined();
    expect(bf.freeBytes).toBe(free + 7);
  });

  it('delete declined keeps the file; /force asks nothing and prints nothing', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    await put(bf, 'a', 'a');
    await run(r, 'delete a', '', 'n');
    expect(bf.stat('a')).toBeDefined();
    expect(await run(r, 'delete /force bootflash:a')).toBe('');
    expect(bf.stat('a')).toBeUndefined();
  });

  it('delete errors; directories need /recursive', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    expect(await run(r, 'delete /force bootflash:x')).toBe('%Error deleting bootflash:/x (No such file or directory)\n');
    expect(await run(r, 'delete bootflash:x', '')).toBe('Delete filename [x]? \n%Error deleting bootflash:/x (No such file or directory)\n');
    bf.mkdir('d');
    await put(bf, 'd/f', 'f');
    expect(await run(r, 'delete /force bootflash:d')).toBe('%Error deleting bootflash:/d (Is a directory)\n');
    expect(await run(r, 'delete /force /recursive bootflash:d')).toBe('');
    expect(bf.walk()).toEqual([]);
  });

  it('a different answer to Delete filename names another file', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    await put(bf, 'a', 'a');
    await put(bf, 'b', 'b');
    expect(await run(r, 'delete bootflash:a', 'b', '')).toBe('Delete filename [a]? b\nDelete bootflash:/b? [confirm]\n');
    expect(bf.walk().map((e) => e.name)).toEqual(['a']);
  });

  it('rename asks Destination filename and keeps the file', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    const e = await put(bf, 'a', 'content');
    expect(await run(r, 'rename bootflash:a bootflash:b', '')).toBe('Destination filename [b]? \n');
    expect(bf.stat('b')?.inode).toBe(e.inode);
    expect(bf.stat('a')).toBeUndefined();
    expect(await run(r, 'rename bootflash:a bootflash:c', '')).toBe('%Error renaming bootflash:/a (No such file or directory)\n');
  });

  it('mkdir and rmdir with their dialogs', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    expect(await run(r, 'mkdir bootflash:d', '')).toBe('Create directory filename [d]? \nCreated dir bootflash:/d\n');
    expect(bf.stat('d')?.isDir).toBe(true);
    expect(await run(r, 'mkdir bootflash:d', '')).toBe('Create directory filename [d]? \n%Error Creating dir bootflash:/d (File exists)\n');
    await put(bf, 'd/x', 'x');
    expect(await run(r, 'rmdir bootflash:d', '', '')).toBe(
      'Remove directory filename [d]? \nDelete bootflash:d? [confirm]\n%Error Removing dir bootflash:d (Directory not empty)\n',
    );
    bf.delete('d/x');
    expect(await run(r, 'rmdir bootflash:d', '', '')).toBe('Remove directory filename [d]? \nDelete bootflash:d? [confirm]\nRemoved dir bootflash:d\n');
    expect(bf.stat('d')).toBeUndefined();
  });

  it('classic IOS words a non-empty rmdir its own way', async () => {
    const { r } = makeRouter('c3900');
    const u = r.fs.get('usbflash0')!;
    u.mkdir('back');
    await put(u, 'back/f', 'f');
    expect(await run(r, 'rmdir usbflash0:back', '', '')).toContain("%Error Removing dir usbflash0:back (Can't delete a directory that has files in it)");
  });
});

describe('more, cd, pwd', () => {
  it('more prints text files and refuses missing ones', async () => {
    const { r } = makeRouter('isr4321');
    await put(r.fs.get('bootflash')!, 'cfg.txt', 'hostname R9\n!\nend\n');
    expect(await run(r, 'more bootflash:cfg.txt')).toBe('hostname R9\n!\nend\n');
    expect(await run(r, 'more bootflash:none')).toBe('%Error opening bootflash:/none (No such file or directory)\n');
  });

  it('cd changes where bare names resolve; pwd shows it', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    bf.mkdir('tracelogs');
    await put(bf, 'tracelogs/x.log', 'log');
    expect(await run(r, 'pwd')).toBe('bootflash:/\n');
    expect(await run(r, 'cd bootflash:tracelogs', 'pwd', 'more x.log', 'cd', 'pwd')).toBe('bootflash:/tracelogs/\nlog\nbootflash:/\n');
    expect(await run(r, 'cd usbflash0:', 'pwd')).toBe('usbflash0:/\n');
    expect(await run(r, 'cd bootflash:nope')).toBe('%Error changing directory to bootflash:/nope (No such file or directory)\n');
  });
});

describe('verify /md5', () => {
  it('prints dots, Done! and the real md5', async () => {
    const { r } = makeRouter('isr4321');
    const data = randomBytes(300_000);
    await put(r.fs.get('bootflash')!, 'test1.bin', data);
    const md5 = createHash('md5').update(data).digest('hex');
    expect(await run(r, 'verify /md5 bootflash:test1.bin')).toBe(`.Done!\nverify /md5 (bootflash:test1.bin) = ${md5}\n`);
    expect(await run(r, `verify /md5 bootflash:test1.bin ${md5}`)).toBe(`.Done!\nVerified (bootflash:test1.bin) = ${md5}\n`);
    const wrong = '0'.repeat(32);
    expect(await run(r, `verify /md5 bootflash:test1.bin ${wrong}`)).toBe(
      `.Done!\n%Error verifying bootflash:test1.bin\nComputed signature = ${md5}\nSubmitted signature = ${wrong}\n`,
    );
    expect(await run(r, 'verify /md5 bootflash:none')).toBe('%Error opening bootflash:/none (No such file or directory)\n');
    // No file named: IOS asks for it.
    expect(await run(r, 'verify /md5 bootflash:', 'test1.bin')).toBe(`Verify filename []? test1.bin\n.Done!\nverify /md5 (bootflash:test1.bin) = ${md5}\n`);
  });
});

describe('verify /sha512', () => {
  it('gives the real SHA-512 on IOS XE, in the /md5 line shapes', async () => {
    const { r } = makeRouter('isr4321');
    const data = randomBytes(100_000);
    await put(r.fs.get('bootflash')!, 'img.bin', data);
    const sha = createHash('sha512').update(data).digest('hex');
    expect(await run(r, 'verify /sha512 bootflash:img.bin')).toBe(`.Done!\nverify /sha512 (bootflash:img.bin) = ${sha}\n`);
    expect(await run(r, `verify /sha512 bootflash:img.bin ${sha}`)).toBe(`.Done!\nVerified (bootflash:img.bin) = ${sha}\n`);
  });
  it('does not exist on the classic IOS 15 platform', async () => {
    const { r } = makeRouter('c3900');
    expect(await run(r, 'verify /sha512 flash0:x')).toContain("% Invalid input detected at '^' marker.");
  });
});

describe('squeeze', () => {
  it('is a successful no-op on a file system that frees space on delete', async () => {
    const { r } = makeRouter('isr4321');
    expect(await run(r, 'squeeze bootflash:', '', '')).toBe(
      'All deleted files will be removed. Continue? [confirm]\nSqueeze operation may take a while. Continue? [confirm]\n\nSqueeze of bootflash complete\n',
    );
    expect(await run(r, 'squeeze /nolog bootflash:')).toMatch(/^%Warning: Using \/nolog option would render squeeze operation uninterruptible\.\n.*\n.*\n\nSqueeze of bootflash completed in \d+\.\d{3} secs \.\n$/);
  });
});

describe('local copy', () => {
  it('copies between devices with the IOS dialog and timing line', async () => {
    const { r, store } = makeRouter('isr4321');
    const data = randomBytes(200_000);
    await put(r.fs.get('bootflash')!, 'img.bin', data);
    const out = await run(r, 'copy bootflash:img.bin usbflash0:', '');
    expect(out).toMatch(/^Destination filename \[img\.bin\]\? \nCopy in progress\.\.\.C+\n200000 bytes copied in \d+\.\d{3} secs \(\d+ bytes\/sec\)\n$/);
    const usb = r.fs.get('usbflash0')!;
    expect(usb.stat('img.bin')?.size).toBe(200_000);
    expect(await usb.md5('img.bin')).toBe(createHash('md5').update(data).digest('hex'));
    // One blob for both copies.
    expect(readdirSync(store.blobDir).filter((n) => !n.endsWith('.md5'))).toHaveLength(1);
  });

  it('asks before overwriting; file prompt quiet asks nothing', async () => {
    const { r } = makeRouter('isr4321');
    const bf = r.fs.get('bootflash')!;
    await put(bf, 'a', 'new');
    await put(r.fs.get('usbflash0')!, 'a', 'old');
    const out = await run(r, 'copy bootflash:a usbflash0:a', '', 'n');
    expect(out).toBe('Destination filename [a]? \n%Warning:There is a file already existing with this name \nDo you want to over write? [confirm]n\n');
    expect(await r.fs.get('usbflash0')!.readText('a')).toBe('old');
    r.system.filePrompt = 'quiet';
    expect(await run(r, 'copy bootflash:a usbflash0:a')).toMatch(/^Copy in progress\.\.\.C\n3 bytes copied in/);
    expect(await r.fs.get('usbflash0')!.readText('a')).toBe('new');
  });

  it('a 2 MB flash refuses a 3 MB copy and keeps nothing (classic wording)', async () => {
    const { r } = makeRouter('c3900', { flash1: 2 * 1024 * 1024 });
    await put(r.fs.get('flash0')!, 'big.bin', randomBytes(3 * 1024 * 1024));
    const f1 = r.fs.get('flash1')!;
    const out = await run(r, 'copy flash0:big.bin flash1:', '');
    expect(out).toBe('Destination filename [big.bin]? \n%Error copying flash0:/big.bin (Not enough space on device)\n');
    expect(f1.walk()).toEqual([]);
    expect(f1.freeBytes).toBe(2 * 1024 * 1024);
    expect(await run(r, 'dir flash1:')).toContain('No files in directory');
  });

  it('IOS XE says No space left on device', async () => {
    const { r } = makeRouter('isr4321', { usbflash0: 2 * 1024 * 1024 });
    await put(r.fs.get('bootflash')!, 'big.bin', Buffer.alloc(3 * 1024 * 1024));
    const out = await run(r, 'copy bootflash:big.bin usbflash0:big.bin', '');
    expect(out).toBe('Destination filename [big.bin]? \n%Error copying bootflash:/big.bin (No space left on device)\n');
    expect(r.fs.get('usbflash0')!.walk()).toEqual([]);
  });

  it('missing source', async () => {
    const { r } = makeRouter('isr4321');
    expect(await run(r, 'copy bootflash:none usbflash0:')).toBe('%Error opening bootflash:/none (No such file or directory)\n');
  });
});
