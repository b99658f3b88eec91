// Reader for upstream n2n `tests/*.expected` files: hexdump sections and `name: key = value` lines.
import { readFileSync } from 'node:fs';

// A hexdump line: "010: 00 01 ... 0f   |ascii|" (offset, up to 16 bytes, optional ASCII column).
const HEX_LINE = /^([0-9a-f]+):((?: {1,2}[0-9a-f]{2})+)/;
// A scalar line: "pearson_hash_64: output = 0xb2d98fa82ea108be".
const VALUE_LINE = /^(.+?) = (.*)$/;

/**
 * Hexdump sections of an upstream `.expected` file. The key is the heading line that precedes
 * the dump with its trailing ':' removed, e.g. "pearson_hash_256: output",
 * "environment: input size = 0x200", "generate_shared_secret: input: prv". A heading that occurs
 * again (e.g. "ascii_to_bin: output" in several files) gets " #2", " #3", ... appended.
 */
export function readExpectedSections(file: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let heading: string | undefined;
  let bytes: number[] = [];
  const flush = (): void => {
    if (heading !== undefined && bytes.length > 0) {
      let key = heading;
      for (let n = 2; out.has(key); n++) key = `${heading} #${n}`;
      out.set(key, Uint8Array.from(bytes));
    }
    bytes = [];
  };
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = HEX_LINE.exec(line);
    if (m) {
      const offset = Number.parseInt(m[1], 16);
      if (offset !== bytes.length)
        throw new Error(`${file}: hexdump offset ${m[1]} after ${bytes.length} bytes`);
      for (const h of m[2].trim().split(/ +/)) bytes.push(Number.parseInt(h, 16));
      continue;
    }
    flush();
    heading = line.trim() === '' ? undefined : line.trim().replace(/:$/, '');
  }
  flush();
  return out;
}

/** Scalar lines `<heading> = <value>` of an upstream `.expected` file, keyed by the heading. */
export function readExpectedValues(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (HEX_LINE.test(line)) continue;
    const m = VALUE_LINE.exec(line.trim());
    if (m) {
      let key = m[1];
      for (let n = 2; out.has(key); n++) key = `${m[1]} #${n}`;
      out.set(key, m[2]);
    }
  }
  return out;
}
