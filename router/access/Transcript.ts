/**
 * A scripted vty session that reads like a terminal transcript (`flashlab exec`): it logs in
 * as a real user at the privilege that user gets, types `enable` with the secret when the
 * user starts below 15, echoes each line after the prompt with its output below, and answers
 * a question only from the answers it was given (or with the defaults under `yes`). Without
 * one it stops at the question and says so. `refused` tells whether IOS refused a line.
 */
import type { Dialog } from '../cli/dialogs.ts';
import type { Router } from '../Router.ts';

export interface TranscriptOptions {
  user: string;
  /** The enable secret to type when the login privilege is below 15 (undefined: stay there). */
  enableSecret?: string;
  /** Answers to questions, in order. */
  answers?: string[];
  /** Answer every other question as Enter would: confirm, the default, `yes` to yes/no. */
  yes?: boolean;
}

export interface TranscriptResult {
  text: string;
  /** A line was refused (`% Invalid input…`, `%Error …`): the CLI's non-zero exit. */
  refused: boolean;
  /** The question nobody answered; the transcript stopped there. */
  stoppedAt?: string;
}

/** IOS's error lines start with `%`; `%Warning` precedes a question and is no refusal. */
const REFUSAL = /^% ?(?!Warning)\S/m;

export async function runTranscript(router: Router, lines: string[], o: TranscriptOptions): Promise<TranscriptResult> {
  if (!router.system.users.has(o.user)) {
    throw new Error(`no user "${o.user}" on ${router.name}; users: ${[...router.system.users.keys()].join(', ')}`);
  }
  if (router.state !== 'running') throw new Error(`${router.name} is ${router.state}, not running`);
  let text = '';
  let question: Dialog | undefined;
  let wake: (() => void) | undefined;
  const session = router.openSession({
    user: o.user,
    lineName: 'vty0',
    peer: '127.0.0.1',
    interactive: true,
    out: (t) => (text += t),
    onQuestion: (d) => {
      question = d;
      wake?.();
    },
  });
  session.terminal.length = 0;
  const answers = [...(o.answers ?? [])];
  let refusedFrom = 0;
  let refused = false;

  /** Types a line and waits until the session wants the next one or asks a question. */
  const type = async (line: string, echo: string | null = line): Promise<void> => {
    // A secret is not echoed; the session ends its line itself.
    if (echo !== null) text += `${echo}\n`;
    question = undefined;
    const asked = new Promise<void>((r) => (wake = r));
    session.submit(line);
    // After submit: the session is busy now, so idle() waits for this line to finish.
    await Promise.race([session.idle(), asked]);
    wake = undefined;
  };

  const answerQuestions = async (): Promise<string | undefined> => {
    while (question && !session.isClosed) {
      const d = question;
      const typed = answers.length ? answers.shift()! : o.yes ? defaultAnswer(d) : undefined;
      if (typed === undefined) return promptText(text);
      // A secret is typed, not shown.
      await type(typed, d.kind === 'secret' ? null : typed);
    }
    return undefined;
  };

  try {
    session.showPrompt();
    if (session.privilege < 15 && o.enableSecret !== undefined) {
      await type('enable');
      if (question?.kind === 'secret') await type(o.enableSecret, null);
    }
    for (const line of lines) {
      if (session.isClosed) break;
      refusedFrom = text.length;
      await type(line);
      const stopped = await answerQuestions();
      refused ||= REFUSAL.test(text.slice(refusedFrom));
      if (stopped !== undefined) return { text, refused, stoppedAt: stopped };
    }
    return { text, refused };
  } finally {
    session.close();
  }
}

function defaultAnswer(d: Dialog): string | undefined {
  switch (d.kind) {
    case 'confirm':
      return '';
    case 'yesno':
      return 'yes';
    case 'default':
    case 'field':
      return '';
    case 'secret':
      return undefined;
  }
}

/** The question as the terminal shows it: the text after the last newline. */
function promptText(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}
