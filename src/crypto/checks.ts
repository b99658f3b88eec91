// Argument checks shared by the cipher and hash files: ranges inside a buffer and whole-block lengths.

/** Throws RangeError unless buf[off, off+len) lies inside the buffer. */
export function checkRange(cipher: string, buf: Uint8Array, off: number, len: number, what: string): void {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new RangeError(`${cipher}: ${what} range ${off}+${len} outside ${buf.length} bytes`);
  }
}

/** Throws RangeError unless len is a whole number of blocks. */
export function checkBlocks(cipher: string, len: number, blockBytes: number): void {
  if (len % blockBytes !== 0) {
    throw new RangeError(`${cipher}: CBC length ${len} is not a multiple of ${blockBytes}`);
  }
}
