// n2n configuration files (spec §11.3): one option per line, turned into argv-style tokens for commander.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../util/errors.js';

/** Which program's rules apply: the edge keeps the whole rest of a line as the value, the supernode one word. */
export type ConfigMode = 'edge' | 'supernode';

/** How getopt treats an option's argument. */
type Arity = 'none' | 'required' | 'optional';

/** tsn2n's own options of both programs (cli/observe.ts). */
const OBSERVABILITY_ARITY: Record<string, Arity> = {
  '--http': 'required',
  '--http-token': 'required',
  '--on-event': 'required',
};

/** Options whose value is the whole rest of the line in both programs (a command with its arguments). */
const WHOLE_LINE_OPTIONS = new Set(['--on-event']);

/**
 * Argument arity of every option, from the getopt strings and long-option tables of 3.1.1
 * (edge.c: loadFromCLI / long_options, supernode.c: loadFromCLI / long_options). Needed because a config line
 * like `-f x` or `-A 3` makes getopt ignore the second word, and commander must not see it as an argument.
 */
const ARITY: Record<ConfigMode, Record<string, Arity>> = {
  edge: {
    ...shortArity('k:a:c:Eu:g:m:M:s:d:l:p:fvhrt:i:I:J:P:S::DL:z::A::Hn:R:e:T:x:'),
    '--community': 'required',
    '--supernode-list': 'required',
    '--tap-device': 'required',
    '--euid': 'required',
    '--egid': 'required',
    '--verbose': 'none',
    '--help': 'none',
    '--select-rtt': 'none',
    '--select-mac': 'none',
    '--management-password': 'required',
    '--no-port-forwarding': 'none',
    ...OBSERVABILITY_ARITY,
  },
  supernode: {
    ...shortArity('p:l:t:a:c:F:vhMV:m:fu:g:'),
    '--communities': 'required',
    '--foreground': 'none',
    '--local-port': 'required',
    '--mgmt-port': 'required',
    '--autoip': 'required',
    '--verbose': 'none',
    '--help': 'none',
    '--management-password': 'required',
    ...OBSERVABILITY_ARITY,
  },
};

/** Expands a getopt option string (`a:` required, `a::` optional, `a` flag) into `-a` → arity. */
function shortArity(spec: string): Record<string, Arity> {
  const out: Record<string, Arity> = {};
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    let arity: Arity = 'none';
    if (spec[i + 1] === ':') {
      if (spec[i + 2] === ':') {
        arity = 'optional';
        i += 2;
      } else {
        arity = 'required';
        i += 1;
      }
    }
    out[`-${c}`] = arity;
  }
  return out;
}

/** Characters n2n's trim() removes from both ends of a line (supernode.c / edge.c: trim). */
function isTrimChar(c: string): boolean {
  return (
    c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f' || c === '"' || c === "'"
  );
}

/** n2n's trim(): whitespace and both kinds of quotes off both ends. */
export function trimConfigText(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isTrimChar(s[a])) a++;
  while (b > a && isTrimChar(s[b - 1])) b--;
  return s.slice(a, b);
}

/** One meaningful config line split like the C code does, before arity rules are applied. */
export interface ConfigLine {
  /** 1-based line number in the file. */
  line: number;
  /** The option word, e.g. `-c`, `--community`, `-A3`. */
  option: string;
  /** The argument word(s), if the line has any. */
  value?: string;
}

/**
 * Splits config text into option lines (spec §11.3): trim, skip lines shorter than 2 characters or starting
 * with `#`, the option runs up to the first space, tab or `=`; the rest is the value (edge: the whole rest,
 * trimmed; supernode: the next space/tab-delimited word).
 */
export function splitConfigText(text: string, mode: ConfigMode): ConfigLine[] {
  const out: ConfigLine[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = trimConfigText(lines[n]);
    if (line.length < 2 || line[0] === '#') continue;
    // strtok(line, "\t =") — the line is already trimmed, so the first token starts at 0 unless it begins
    // with '=' (then strtok skips the leading delimiters).
    let start = 0;
    while (start < line.length && isOptionDelimiter(line[start])) start++;
    let end = start;
    while (end < line.length && !isOptionDelimiter(line[end])) end++;
    if (end === start) continue;
    const option = line.slice(start, end);
    // The delimiter that ended the option is consumed, like strtok's NUL.
    const rest = end < line.length ? line.slice(end + 1) : '';
    let value: string | undefined;
    if (mode === 'edge' || WHOLE_LINE_OPTIONS.has(option)) {
      // strtok(NULL, "") then trim(): the whole remainder.
      const v = trimConfigText(rest);
      value = rest.length > 0 && v.length > 0 ? v : undefined;
    } else {
      // strtok(NULL, "\t "): skip blanks, then one word.
      const m = /^[\t ]*([^\t ]+)/.exec(rest);
      value = m ? m[1] : undefined;
    }
    out.push({ line: n + 1, option, value });
  }
  return out;
}

function isOptionDelimiter(c: string): boolean {
  return c === ' ' || c === '\t' || c === '=';
}

/** Finds the arity of an option word; a short option with attached text (`-A3`, `-cname`) counts as attached. */
function arityOf(option: string, mode: ConfigMode): { arity: Arity; attached: boolean } | undefined {
  const table = ARITY[mode];
  if (option.startsWith('--')) {
    const a = table[option];
    return a === undefined ? undefined : { arity: a, attached: false };
  }
  if (option.length < 2 || option[0] !== '-') return undefined;
  const a = table[option.slice(0, 2)];
  if (a === undefined) return undefined;
  return { arity: a, attached: option.length > 2 };
}

/**
 * Turns config text into argv-style tokens. The value of an option that takes none, or of an option whose
 * argument is optional and not attached, is dropped (getopt ignores it too). Words that are not options
 * (no leading `-`) are ignored like getopt's non-option arguments. Unknown options are passed through so
 * the command-line parser reports them.
 */
export function configTextToArgs(text: string, mode: ConfigMode): string[] {
  const args: string[] = [];
  for (const l of splitConfigText(text, mode)) {
    if (l.option[0] !== '-' || l.option === '-' || l.option === '--') continue;
    const kind = arityOf(l.option, mode);
    if (kind === undefined) {
      args.push(l.option);
      if (l.value !== undefined) args.push(l.value);
      continue;
    }
    if (kind.arity === 'required' && !kind.attached) {
      args.push(l.option);
      if (l.value !== undefined) args.push(l.value);
    } else {
      // Flags, attached arguments (`-A3`, `-cname`) and optional arguments written apart (ignored by getopt).
      args.push(l.option);
    }
  }
  return args;
}

/**
 * Reads an n2n config file for `mode` and returns its options as argv-style tokens, ready to be parsed
 * before the remaining command-line options (which override them). Throws ConfigError when unreadable.
 */
export function loadConfigFile(path: string, mode: ConfigMode): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `config file ${path} not found` : `cannot read config file ${path}: ${code ?? err}`,
    );
  }
  return configTextToArgs(text, mode);
}
