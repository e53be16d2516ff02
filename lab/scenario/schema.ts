/**
 * The scenario file (lab part L6):
 *
 *   name: Upgrade over TFTP
 *   covers: [S3.5, S3.6]
 *   topology: lab/topologies/default.yml     # optional; the bundled default otherwise
 *   overrides: { topology: { nodes: { r1: { flash: { bootflash: 2MB } } } } }
 *   steps:
 *     - name: copy the new image
 *       cli: { node: r1, send: "copy tftp://tftp/x.bin bootflash:", expect: { contains: "[OK -" } }
 *
 * A step is an object with one kind key (`cli`, `check`, `fault`, ...) and an optional
 * `name`. The loader validates each step against its own kind's schema, so an error points
 * at `steps.3.cli.expect` rather than at "no union member matched"; the union below only
 * serves the JSON Schema that editors read.
 */
import { z } from 'zod';
import { parseSize } from '../../router/image/format.ts';

// ---- small field types ------------------------------------------------------------------

/** SPEC IDs: S2.x, S3.x, S4.x and the lab parts L1–L6. */
export const SPEC_ID = /^(S[234]\.\d{1,2}|L[1-6])$/;

const SpecId = z.string().regex(SPEC_ID, 'expected a SPEC ID like S3.4 or L6');

/** One line or a list of lines. */
const Lines = z
  .union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings' })
  .transform((v) => (typeof v === 'string' ? [v] : v));

/** Compiles `text` or `/text/flags`; throws on a bad pattern. */
export function compilePattern(p: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(p);
  return m ? new RegExp(m[1]!, m[2]) : new RegExp(p);
}

const Pattern = z
  .string()
  .refine((p) => {
    try {
      compilePattern(p);
      return true;
    } catch {
      return false;
    }
  }, 'not a valid regular expression')
  .meta({ description: 'A JavaScript regular expression, or /pattern/flags' });

const Patterns = z.union([Pattern, z.array(Pattern)]).transform((v) => (typeof v === 'string' ? [v] : v));

/** Parses `2h25m`, `90s`, `1.5s`, `500ms`, `1d`; a bare number is seconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  const text = v.trim();
  if (text === '') throw new Error('empty duration');
  const units: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let rest = text;
  while (rest.length) {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)\s*/.exec(rest);
    if (!m) throw new Error(`not a duration: "${text}" (use e.g. 2h25m, 90s, 500ms)`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

const DURATION_MESSAGE = 'expected a duration like 2h25m, 90s or 500ms (a bare number is seconds)';
const Duration = z
  .union([z.number().nonnegative(), z.string()], { error: DURATION_MESSAGE })
  .refine((v) => {
    try {
      parseDuration(v);
      return true;
    } catch {
      return false;
    }
  }, DURATION_MESSAGE)
  .transform((v) => parseDuration(v))
  .meta({ description: 'A duration: 2h25m, 90s, 500ms; a bare number is seconds' });

/** A size, or a `{{ variable }}` filled at run time (free space remembered earlier). */
const SizeOrVar = z
  .union([z.number().int().nonnegative(), z.string()])
  .refine((v) => {
    if (typeof v === 'string' && /\{\{.*\}\}/.test(v)) return true;
    try {
      parseSize(v);
      return true;
    } catch {
      return false;
    }
  }, 'expected a size like 2MB, a byte count, or a {{ variable }}')
  .meta({ description: 'A size (2MB, 512K, bytes) or a {{ variable }}' });

const NodeRef = z.string().min(1).meta({ description: 'A node of the topology' });

// ---- step kinds -------------------------------------------------------------------------

export const ExpectSchema = z
  .strictObject({
    /** Every one of these texts appears in the output. */
    contains: Lines.optional(),
    /** None of these texts appears. */
    notContains: Lines.optional(),
    /** Every one of these patterns matches somewhere in the output. */
    matches: Patterns.optional(),
    /** None of these patterns matches. */
    notMatches: Patterns.optional(),
  })
  .meta({ description: 'What the output must (not) contain; texts may use {{ variables }}' });

const Answer = z.strictObject({
  /** Matched against the question line the router is waiting on. */
  prompt: Pattern,
  /** The answer; an empty string is Enter. */
  send: z.string(),
});

export const CliStepSchema = z
  .strictObject({
    node: NodeRef,
    send: Lines,
    answers: z.array(Answer).optional(),
    /** Text to paste when the router asks for it (`crypto pki authenticate`): its lines, then a blank line. `{{ lab.ca }}` is the lab CA's root. */
    paste: z.string().optional(),
    expect: ExpectSchema.optional(),
    /** Saves the first capture group of a pattern into a variable: `{ md5: "= (\\w+)" }`. */
    remember: z.record(z.string().regex(/^[A-Za-z_][\w]*$/, 'variable names are letters, digits and _'), Pattern).optional(),
    /** Per line sent. */
    timeout: Duration.optional(),
  })
  .meta({ description: 'Send CLI lines to a router over SSH, answer its questions, check the output' });

const ROUTER_SUBJECTS = ['file', 'free', 'bootvar', 'runningImage', 'reload'] as const;

export const RouterCheckSchema = z
  .strictObject({
    node: NodeRef,
    /** A file (`bootflash:x.bin`): `dir`, and `verify /md5` when md5 is given. */
    file: z.string().min(1).optional(),
    /** false: the file must be absent. */
    exists: z.boolean().optional(),
    md5: z.string().optional().meta({ description: '32 hex digits, or {{ md5 server:path }}' }),
    size: SizeOrVar.optional(),
    /** Free space of a file system (`bootflash:`), from `dir`'s totals line. */
    free: z.string().optional(),
    atLeast: SizeOrVar.optional(),
    atMost: SizeOrVar.optional(),
    equals: SizeOrVar.optional(),
    /** Saves the free space into a variable for a later `equals: "{{ name }}"`. */
    remember: z.string().regex(/^[A-Za-z_]\w*$/, 'variable names are letters, digits and _').optional(),
    /** `show bootvar`: the BOOT variable's entries, in order ([] = empty). */
    bootvar: z.union([z.string(), z.array(z.string())]).optional(),
    /** `show version`: `System image file is "<this>"`. */
    runningImage: z.string().optional(),
    /** `show version`: the software version (`16.12.1`), with runningImage or alone. */
    version: z.string().optional(),
    /** `show reload`: whether a reload is pending; `contains` checks its text. */
    reload: z.strictObject({ pending: z.boolean(), contains: Lines.optional() }).optional(),
  })
  .superRefine((c, ctx) => {
    const subjects = ROUTER_SUBJECTS.filter((k) => c[k] !== undefined);
    if (subjects.length === 0 && c.version !== undefined) return;
    if (subjects.length !== 1) {
      ctx.addIssue({ code: 'custom', path: [], message: `a router check names exactly one of ${ROUTER_SUBJECTS.join(', ')} (found ${subjects.length ? subjects.join(', ') : 'none'})` });
    }
    const only = (keys: string[], subject: string) => {
      for (const k of keys) if ((c as Record<string, unknown>)[k] !== undefined && subjects[0] !== subject) ctx.addIssue({ code: 'custom', path: [k], message: `${k} goes with ${subject}` });
    };
    only(['exists', 'md5', 'size'], 'file');
    only(['atLeast', 'atMost', 'equals', 'remember'], 'free');
    if (c.version !== undefined && subjects.length && subjects[0] !== 'runningImage') ctx.addIssue({ code: 'custom', path: ['version'], message: 'version goes with runningImage (or alone)' });
  })
  .meta({ description: 'Check router state through its own CLI, as a user would' });

export const ServerCheckSchema = z
  .strictObject({
    server: NodeRef,
    /** A file under the server's root (FTP: relative to the root, not an account's home). */
    file: z.string().min(1).optional(),
    exists: z.boolean().optional(),
    md5: z.string().optional(),
    size: SizeOrVar.optional(),
    /** The server's log recorded this login. */
    login: z
      .strictObject({
        user: z.string().optional(),
        password: z.string().optional(),
        outcome: z.enum(['ok', 'refused']).optional(),
        /** false: no such login may be in the log. */
        seen: z.boolean().optional(),
      })
      .optional(),
    /** The server's log recorded this transfer. */
    transfer: z
      .strictObject({
        kind: z.enum(['download', 'upload']),
        file: z.string().optional(),
        outcome: z.enum(['ok', 'refused', 'failed', 'dropped']).optional(),
        /** false: no such transfer may be in the log. */
        seen: z.boolean().optional(),
      })
      .optional(),
    /** The newest message in an SMTP sink, read through its Mailpit API (`GET /api/v1/message/latest`). */
    mail: z
      .strictObject({
        subject: z.string().optional(),
        from: z.string().optional(),
        to: z.string().optional(),
        /** Text the body contains. */
        contains: z.string().optional(),
      })
      .optional(),
    /** The server's log recorded an event of its kind's own (`locate` on ida, `message` on smtp). */
    event: z
      .strictObject({
        kind: z.string().min(1),
        /** Text the event's line contains (user, image, subject, recipient…). */
        contains: z.string().optional(),
        outcome: z.string().optional(),
        /** false: no such event may be in the log. */
        seen: z.boolean().optional(),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    const subjects = (['file', 'login', 'transfer', 'event', 'mail'] as const).filter((k) => c[k] !== undefined);
    if (subjects.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `a server check names exactly one of file, login, transfer, event, mail (found ${subjects.length ? subjects.join(', ') : 'none'})` });
    for (const k of ['exists', 'md5', 'size'] as const) if (c[k] !== undefined && c.file === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} goes with file` });
  })
  .meta({ description: 'Check a server: a file in its root, or its log of logins, transfers and events' });

export const CheckStepSchema = z.union([RouterCheckSchema, ServerCheckSchema]);

export const FaultStepSchema = z
  .strictObject({
    node: NodeRef,
    /** Faults as the topology writes them (`wrong-password: true`, `drop-every: 3`). */
    set: z.record(z.string(), z.unknown()).optional(),
    /** Clears every fault on the node. */
    clear: z.literal(true).optional(),
  })
  .refine((f) => (f.set === undefined) !== (f.clear === undefined), 'a fault step either sets faults (set: {...}) or clears them (clear: true)')
  .meta({ description: 'Switch server faults on (set) or off (clear)' });

export const ClockStepSchema = z
  .strictObject({ advance: Duration })
  .meta({ description: 'Advance the lab clock; what falls due fires in order' });

export const WaitStepSchema = z
  .strictObject({
    node: NodeRef,
    for: z.enum(['reload', 'log']),
    /** `log`: the pattern a syslog line must match. */
    pattern: Pattern.optional(),
    /** `reload`: the state the router must come back in. */
    state: z.enum(['running', 'rommon']).optional(),
    timeout: Duration.optional(),
  })
  .meta({ description: 'Wait for a router to come back after a reload, or for a syslog line' });

export const CopyToDeviceSchema = z
  .strictObject({
    node: NodeRef,
    server: NodeRef,
    protocol: z.enum(['tftp', 'ftp']).optional(),
    /** Path on the server (for FTP, relative to the account's home). */
    file: z.string().min(1),
    /** `bootflash:`, `slot0:1:`, `flash0:new.bin`; the router's default file system when omitted. */
    destination: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    /** Run `verify /md5` and compare with the server's file (default true). */
    verify: z.boolean().optional(),
    timeout: Duration.optional(),
  })
  .meta({ description: 'pyATS Clean copy_to_device: copy an image from a server, verify its MD5' });

export const ChangeBootVariableSchema = z
  .strictObject({
    node: NodeRef,
    images: z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? [v] : v)),
    /** `write memory` afterwards (default true). */
    save: z.boolean().optional(),
  })
  .meta({ description: 'pyATS Clean change_boot_variable: boot system, write memory, check show bootvar' });

export const ReloadStepSchema = z
  .strictObject({
    node: NodeRef,
    /** The answer to `System configuration has been modified. Save?` (default no). */
    save: z.boolean().optional(),
    timeout: Duration.optional(),
  })
  .meta({ description: 'pyATS Clean reload: reload, wait for the router, log in again' });

export const VerifyRunningImageSchema = z
  .strictObject({
    node: NodeRef,
    image: z.string().min(1),
  })
  .meta({ description: 'pyATS Clean verify_running_image: show version names this image' });

export const MailStepSchema = z
  .strictObject({
    /** An smtp node. */
    server: NodeRef,
    from: z.string().min(1),
    to: z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? [v] : v)),
    subject: z.string(),
    text: z.string().default(''),
    /** `refused`: the sink must turn it away (a fault is on). Default `accepted`. */
    outcome: z.enum(['accepted', 'refused']).optional(),
  })
  .meta({ description: 'Send a message to an SMTP sink (nodemailer over a real socket)' });

export const STEP_KINDS = {
  cli: CliStepSchema,
  check: CheckStepSchema,
  fault: FaultStepSchema,
  clock: ClockStepSchema,
  wait: WaitStepSchema,
  copy_to_device: CopyToDeviceSchema,
  change_boot_variable: ChangeBootVariableSchema,
  reload: ReloadStepSchema,
  verify_running_image: VerifyRunningImageSchema,
  mail: MailStepSchema,
} as const;

export type StepKind = keyof typeof STEP_KINDS;
export const STEP_KIND_NAMES = Object.keys(STEP_KINDS) as StepKind[];

/** `{ name?, <kind>: {...} }` for one kind. */
export function stepSchema<K extends StepKind>(kind: K) {
  return z.strictObject({ name: z.string().optional(), [kind]: STEP_KINDS[kind] } as { name: z.ZodOptional<z.ZodString> } & Record<K, (typeof STEP_KINDS)[K]>);
}

export type CliStep = z.output<typeof CliStepSchema>;
export type RouterCheck = z.output<typeof RouterCheckSchema>;
export type ServerCheck = z.output<typeof ServerCheckSchema>;
export type FaultStep = z.output<typeof FaultStepSchema>;
export type ClockStep = z.output<typeof ClockStepSchema>;
export type WaitStep = z.output<typeof WaitStepSchema>;
export type CopyToDeviceStep = z.output<typeof CopyToDeviceSchema>;
export type ChangeBootVariableStep = z.output<typeof ChangeBootVariableSchema>;
export type ReloadStep = z.output<typeof ReloadStepSchema>;
export type VerifyRunningImageStep = z.output<typeof VerifyRunningImageSchema>;
export type MailStep = z.output<typeof MailStepSchema>;
export type Expect = z.output<typeof ExpectSchema>;

/** A validated step: its kind, its spec, and where it was written. */
export type Step = { name?: string; line?: number; index: number } & (
  | { kind: 'cli'; spec: CliStep }
  | { kind: 'check'; spec: RouterCheck | ServerCheck }
  | { kind: 'fault'; spec: FaultStep }
  | { kind: 'clock'; spec: ClockStep }
  | { kind: 'wait'; spec: WaitStep }
  | { kind: 'copy_to_device'; spec: CopyToDeviceStep }
  | { kind: 'change_boot_variable'; spec: ChangeBootVariableStep }
  | { kind: 'reload'; spec: ReloadStep }
  | { kind: 'verify_running_image'; spec: VerifyRunningImageStep }
  | { kind: 'mail'; spec: MailStep }
);

// ---- the file ---------------------------------------------------------------------------

const HeadFields = {
  name: z.string().min(1),
  description: z.string().optional(),
  covers: z.array(SpecId).min(1, 'name at least one SPEC ID this scenario covers'),
  /** Topology file, relative to the scenario file; the bundled default when omitted. */
  topology: z.string().optional(),
  /** A partial topology deep-merged over it (objects merge key by key; lists replace). */
  overrides: z.record(z.string(), z.unknown()).optional(),
  /** Variables for `{{ name }}` in texts. */
  vars: z.record(z.string().regex(/^[A-Za-z_]\w*$/), z.union([z.string(), z.number()])).optional(),
};

/** The file with steps left unchecked: the loader checks each step on its own. */
export const ScenarioHeadSchema = z.strictObject({ ...HeadFields, steps: z.array(z.unknown()).min(1, 'a scenario needs at least one step') });

/** The whole file, for the JSON Schema export. */
export const ScenarioFileSchema = z
  .strictObject({
    ...HeadFields,
    steps: z.array(z.union(STEP_KIND_NAMES.map((k) => stepSchema(k)) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])).min(1),
  })
  .meta({ title: 'flashlab scenario', description: 'Steps run against a flashlab lab, with the SPEC IDs they cover (lab part L6).' });

export interface Scenario {
  name: string;
  description?: string;
  covers: string[];
  file: string;
  /** The topology the scenario runs on, overrides merged in (raw, as the loader accepts it). */
  topology: Record<string, unknown>;
  /** Where the topology came from (for messages). */
  topologyFile: string;
  vars: Record<string, string>;
  steps: Step[];
}

/** The scenario file's JSON Schema (`flashlab schema scenario`). */
export function scenarioJsonSchema(): Record<string, unknown> {
  // `input`: editors check what people write (durations as "2h25m"), not what the loader makes of it.
  return z.toJSONSchema(ScenarioFileSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
}
