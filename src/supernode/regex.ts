// Community-name patterns of the `-c` file, matched with the semantics of the tiny-regex-c copy in n2n 3.1.1.
//
// n2n_regex.c: supported are `.` `*` `+` `?` `[..]` `[^..]` and `\s \S \w \W \d \D` (plus `\x` for a literal x);
// `^`, `$` and `|` are not. `*` and `+` are greedy with backtracking, `?` tries "absent" first, and a pattern
// is allowed only when the match that the C code finds first starts at 0 and spans the whole name
// (sn_utils.c: REGISTER_SUPER / QUERY_PEER). We reimplement that search order, because it differs from
// "some full match exists": `ab?` does not admit "ab", since the absent branch already succeeds with length 1.

/** n2n_regex.c: MAX_REGEXP_OBJECTS; a pattern keeps at most 29 symbols (the rest is silently ignored). */
const MAX_SYMBOLS = 30;
/** n2n_regex.c: MAX_CHAR_CLASS_LEN, the byte budget for all [..] classes of one pattern. */
const MAX_CLASS_BYTES = 40;

const Sym = {
  END: 0,
  DOT: 1,
  QUESTION: 2,
  STAR: 3,
  PLUS: 4,
  CHAR: 5,
  CLASS: 6,
  NOT_CLASS: 7,
  DIGIT: 8,
  NOT_DIGIT: 9,
  ALNUM: 10,
  NOT_ALNUM: 11,
  SPACE: 12,
  NOT_SPACE: 13,
} as const;
type Sym = (typeof Sym)[keyof typeof Sym];

interface Symbol {
  type: Sym;
  /** CHAR: the character code (as C's signed char). */
  ch: number;
  /** CLASS / NOT_CLASS: the class body with a 0 before and after it (C reads one byte either side). */
  cls: Int16Array;
  /** Index of the class body's first byte inside `cls`. */
  clsStart: number;
}

const END_SYMBOL: Symbol = { type: Sym.END, ch: 0, cls: new Int16Array(0), clsStart: 0 };

/** C's `char` is signed: bytes ≥ 0x80 compare as negative numbers. */
function signedChar(code: number): number {
  const b = code & 0xff;
  return b > 127 ? b - 256 : b;
}

/** A compiled community pattern; `null` symbols means the C compiler gave up (the pattern never matches). */
export class CommunityPattern {
  readonly source: string;
  private readonly symbols: Symbol[] | null;
  private text: Int16Array = new Int16Array(1);
  private matchLength = 0;

  constructor(source: string) {
    this.source = source;
    this.symbols = compile(source);
  }

  /** True when the whole `name` matches (the admission rule for communities not listed by name). */
  matchesWhole(name: string): boolean {
    if (this.symbols === null || name.length === 0) return false;
    const t = new Int16Array(name.length + 1);
    for (let i = 0; i < name.length; i++) t[i] = signedChar(name.charCodeAt(i));
    this.text = t;
    this.matchLength = 0;
    return this.matchPattern(0, 0) && this.matchLength === name.length;
  }

  private sym(i: number): Symbol {
    return (this.symbols as Symbol[])[i] ?? END_SYMBOL;
  }

  /** matchpattern(): consumes single symbols until a quantifier or the end decides. */
  private matchPattern(p: number, t: number): boolean {
    const pre = this.matchLength;
    const text = this.text;
    for (;;) {
      const cur = this.sym(p);
      const next = this.sym(p + 1);
      if (cur.type === Sym.END || next.type === Sym.QUESTION) return this.matchQuestion(cur, p + 2, t);
      if (next.type === Sym.STAR) return this.matchStar(cur, p + 2, t);
      if (next.type === Sym.PLUS) return this.matchPlus(cur, p + 2, t);
      this.matchLength++;
      if (text[t] === 0 || !matchOne(cur, text[t])) break;
      p++;
      t++;
    }
    this.matchLength = pre;
    return false;
  }

  private matchQuestion(s: Symbol, p: number, t: number): boolean {
    if (s.type === Sym.END) return true;
    if (this.matchPattern(p, t)) return true;
    if (this.text[t] !== 0 && matchOne(s, this.text[t])) {
      if (this.matchPattern(p, t + 1)) {
        this.matchLength++;
        return true;
      }
    }
    return false;
  }

  private matchStar(s: Symbol, p: number, t: number): boolean {
    const pre = this.matchLength;
    const start = t;
    while (this.text[t] !== 0 && matchOne(s, this.text[t])) {
      t++;
      this.matchLength++;
    }
    while (t >= start) {
      if (this.matchPattern(p, t)) return true;
      t--;
      this.matchLength--;
    }
    this.matchLength = pre;
    return false;
  }

  private matchPlus(s: Symbol, p: number, t: number): boolean {
    const start = t;
    while (this.text[t] !== 0 && matchOne(s, this.text[t])) {
      t++;
      this.matchLength++;
    }
    while (t > start) {
      if (this.matchPattern(p, t)) return true;
      t--;
      this.matchLength--;
    }
    return false;
  }
}

/** re_compile(): symbols, or null when the class budget overflows. */
function compile(pattern: string): Symbol[] | null {
  const src: number[] = [];
  for (let i = 0; i < pattern.length; i++) src.push(signedChar(pattern.charCodeAt(i)));
  src.push(0);
  const out: Symbol[] = [];
  // One class buffer per pattern, index 0 stays 0 (the byte C reads before the first class).
  const classBuf = new Int16Array(MAX_CLASS_BYTES + 2);
  let classIdx = 1;
  let i = 0;
  while (src[i] !== 0 && out.length + 1 < MAX_SYMBOLS) {
    const c = src[i];
    const sym: Symbol = { type: Sym.CHAR, ch: c, cls: classBuf, clsStart: 0 };
    switch (String.fromCharCode(c & 0xff)) {
      case '.':
        sym.type = Sym.DOT;
        break;
      case '*':
        sym.type = Sym.STAR;
        break;
      case '+':
        sym.type = Sym.PLUS;
        break;
      case '?':
        sym.type = Sym.QUESTION;
        break;
      case '\\':
        if (src[i + 1] !== 0) {
          i++;
          sym.type = escapeType(src[i]);
          sym.ch = src[i];
        } else {
          // A trailing backslash produces an unset symbol in C, which ends the pattern.
          sym.type = Sym.END;
        }
        break;
      case '[': {
        const begin = classIdx;
        if (src[i + 1] === '^'.charCodeAt(0)) {
          sym.type = Sym.NOT_CLASS;
          i++;
        } else {
          sym.type = Sym.CLASS;
        }
        while (src[++i] !== ']'.charCodeAt(0) && src[i] !== 0) {
          if (src[i] === '\\'.charCodeAt(0)) {
            if (classIdx >= MAX_CLASS_BYTES - 1) return null;
            classBuf[classIdx++] = src[i++];
          } else if (classIdx >= MAX_CLASS_BYTES) {
            return null;
          }
          classBuf[classIdx++] = src[i];
        }
        if (classIdx >= MAX_CLASS_BYTES) return null;
        classBuf[classIdx++] = 0;
        sym.clsStart = begin;
        // A missing ']' stops at the end of the pattern.
        if (src[i] === 0) i--;
        break;
      }
      default:
        break;
    }
    out.push(sym);
    i++;
  }
  return out;
}

function escapeType(c: number): Sym {
  switch (String.fromCharCode(c & 0xff)) {
    case 'd':
      return Sym.DIGIT;
    case 'D':
      return Sym.NOT_DIGIT;
    case 'w':
      return Sym.ALNUM;
    case 'W':
      return Sym.NOT_ALNUM;
    case 's':
      return Sym.SPACE;
    case 'S':
      return Sym.NOT_SPACE;
    default:
      return Sym.CHAR;
  }
}

const C0 = '0'.charCodeAt(0);
const C9 = '9'.charCodeAt(0);
const LA = 'a'.charCodeAt(0);
const LZ = 'z'.charCodeAt(0);
const UA = 'A'.charCodeAt(0);
const UZ = 'Z'.charCodeAt(0);
const UNDERSCORE = '_'.charCodeAt(0);
const DASH = '-'.charCodeAt(0);
const BACKSLASH = '\\'.charCodeAt(0);
const LF = 10;
const CR = 13;

function isDigit(c: number): boolean {
  return c >= C0 && c <= C9;
}

function isAlnum(c: number): boolean {
  return c === UNDERSCORE || (c >= LA && c <= LZ) || (c >= UA && c <= UZ) || isDigit(c);
}

function isSpace(c: number): boolean {
  // ' ', \t, \n, \v, \f, \r
  return c === 32 || (c >= 9 && c <= 13);
}

function matchOne(s: Symbol, c: number): boolean {
  switch (s.type) {
    case Sym.DOT:
      return c !== LF && c !== CR;
    case Sym.CLASS:
      return matchClass(c, s.cls, s.clsStart);
    case Sym.NOT_CLASS:
      return !matchClass(c, s.cls, s.clsStart);
    case Sym.DIGIT:
      return isDigit(c);
    case Sym.NOT_DIGIT:
      return !isDigit(c);
    case Sym.ALNUM:
      return isAlnum(c);
    case Sym.NOT_ALNUM:
      return !isAlnum(c);
    case Sym.SPACE:
      return isSpace(c);
    case Sym.NOT_SPACE:
      return !isSpace(c);
    default:
      return s.ch === c;
  }
}

function isMetaLetter(c: number): boolean {
  const ch = String.fromCharCode(c & 0xff);
  return ch === 's' || ch === 'S' || ch === 'w' || ch === 'W' || ch === 'd' || ch === 'D';
}

function matchMeta(c: number, m: number): boolean {
  switch (String.fromCharCode(m & 0xff)) {
    case 'd':
      return isDigit(c);
    case 'D':
      return !isDigit(c);
    case 'w':
      return isAlnum(c);
    case 'W':
      return !isAlnum(c);
    case 's':
      return isSpace(c);
    case 'S':
      return !isSpace(c);
    default:
      return c === m;
  }
}

/** matchcharclass(): walks the class body one byte at a time, the terminating 0 included. */
function matchClass(c: number, b: Int16Array, start: number): boolean {
  let i = start;
  for (;;) {
    const here = b[i];
    if (
      c !== DASH &&
      here !== 0 &&
      here !== DASH &&
      b[i + 1] === DASH &&
      b[i + 2] !== 0 &&
      c >= here &&
      c <= b[i + 2]
    ) {
      return true;
    }
    if (here === BACKSLASH) {
      i++;
      if (matchMeta(c, b[i])) return true;
      if (c === b[i] && !isMetaLetter(c)) return true;
    } else if (c === here) {
      // A '-' only counts as a literal at either end of the class.
      if (c === DASH) return b[i - 1] === 0 || b[i + 1] === 0;
      return true;
    }
    if (b[i] === 0) return false;
    i++;
  }
}

/** True if the community-file word is a pattern rather than a fixed name (sn_utils.c: strpbrk ".*+?[]\\"). */
export function isCommunityPattern(word: string): boolean {
  return /[.*+?[\]\\]/.test(word);
}
