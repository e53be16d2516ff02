import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomLoopback } from '../../test/helpers/net.ts';
import { SmtpService } from './SmtpService.ts';

const address = randomLoopback();
const dir = join(mkdtempSync(join(tmpdir(), 'smtp-test-')), 'messages');
let svc: SmtpService;
const api = (path: string, init?: RequestInit) => fetch(`http://${address}:${svc.apiPort}${path}`, init);

function send(subject: string, to = 'ops@lab.local') {
  const t = nodemailer.createTransport({ host: address, port: svc.port, secure: false, ignoreTLS: true });
  return t.sendMail({ from: 'r1@lab.local', to, bcc: 'audit@lab.local', subject, text: `Body of ${subject}` });
}

/** A raw SMTP conversation: lines sent one by one, every reply line collected. */
function converse(lines: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const s = connect({ host: address, port: svc.port });
    let buf = '';
    const queue = [...lines];
    s.on('data', (d) => {
      buf += d.toString();
      const next = queue.shift();
      if (next === undefined) s.end();
      else s.write(`${next}\r\n`);
    });
    s.on('close', () => ok(buf));
    s.on('error', fail);
  });
}

beforeAll(async () => {
  svc = new SmtpService({ address, port: 0, apiPort: 0, dir });
  await svc.start();
});
afterAll(() => svc.stop());

describe('SMTP sink with a Mailpit API', () => {
  it('keeps a message and serves it as Mailpit does (latest, headers, raw, list, search)', async () => {
    await send('Auto Upgrade status for r1');
    const latest = (await (await api('/api/v1/message/latest')).json()) as Record<string, unknown>;
    expect(latest).toMatchObject({ Subject: 'Auto Upgrade status for r1', From: { Name: '', Address: 'r1@lab.local' }, To: [{ Name: '', Address: 'ops@lab.local' }], Bcc: [{ Name: '', Address: 'audit@lab.local' }] });
    expect(String(latest.Text)).toContain('Body of Auto Upgrade status for r1');
    const headers = (await (await api(`/api/v1/message/${latest.ID as string}/headers`)).json()) as Record<string, string[]>;
    expect(headers.Subject).toEqual(['Auto Upgrade status for r1']);
    expect(await (await api(`/api/v1/message/${latest.ID as string}/raw`)).text()).toMatch(/^[\s\S]*Subject: Auto Upgrade status for r1/);
    await send('second');
    const list = (await (await api('/api/v1/messages')).json()) as { total: number; messages_count: number; messages: { Subject: string; Read: boolean }[] };
    expect(list.total).toBe(2);
    expect(list.messages.map((m) => [m.Subject, m.Read])).toEqual([['second', false], ['Auto Upgrade status for r1', true]]);
    const found = (await (await api(`/api/v1/search?query=${encodeURIComponent('subject:"Auto Upgrade" to:ops@lab.local')}`)).json()) as { messages_count: number };
    expect(found.messages_count).toBe(1);
    expect((await api('/api/v1/search?query=')).status).toBe(400);
    expect((await api('/api/v1/message/nope')).status).toBe(404);
  });

  it('keeps messages on disk: a new sink on the same folder reads them', async () => {
    const again = new SmtpService({ address, port: 0, apiPort: 0, dir });
    expect(again.sink.list().map((m) => m.Subject)).toContain('second');
  });

  it('deletes one, then all', async () => {
    const id = (await (await api('/api/v1/message/latest')).json()) as { ID: string };
    expect(await (await api('/api/v1/messages', { method: 'DELETE', body: JSON.stringify({ IDs: [id.ID] }) })).text()).toBe('ok');
    expect(((await (await api('/api/v1/messages')).json()) as { total: number }).total).toBe(1);
    await api('/api/v1/messages', { method: 'DELETE' });
    expect(((await (await api('/api/v1/messages')).json()) as { total: number }).total).toBe(0);
  });

  it('chaos: Mailpit triggers through the API answer with their code and text, and reset with {}', async () => {
    const set = await api('/api/v1/chaos', { method: 'PUT', body: JSON.stringify({ Recipient: { ErrorCode: 550, Probability: 100 } }) });
    expect(await set.json()).toMatchObject({ Recipient: { ErrorCode: 550, Probability: 100 }, Sender: { Probability: 0 } });
    await expect(send('refused')).rejects.toThrow(/550 Chaos recipient error/);
    await api('/api/v1/chaos', { method: 'PUT', body: '{}' });
    expect(((await (await api('/api/v1/chaos')).json()) as { Recipient: { Probability: number } }).Recipient.Probability).toBe(0);
    expect((await api('/api/v1/chaos', { method: 'PUT', body: JSON.stringify({ Sender: { ErrorCode: 200, Probability: 100 } }) })).status).toBe(400);
  });

  it('faults: refuse and disconnect', async () => {
    svc.setFaults({ refuse: true });
    await expect(send('x')).rejects.toThrow(/554/);
    svc.setFaults({ disconnect: true });
    await expect(send('x')).rejects.toThrow();
    svc.setFaults({});
    expect(svc.sink.list().map((m) => m.Subject)).not.toContain('x');
  });

  it('garbage gets SMTP errors and stores nothing', async () => {
    const before = svc.sink.list().length;
    const out = await converse(['EHLO x', 'HELLO?', 'MAIL FROM:<<<', 'RCPT TO:<a@b>', 'DATA', 'QUIT']);
    expect(out).toMatch(/^500 .*/m);
    expect(out).toMatch(/^503 .*/m);
    expect(out).toMatch(/^221 /m);
    expect(svc.sink.list().length).toBe(before);
  });
});
