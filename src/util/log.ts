// Injected logger with n2n's trace levels (0 error … 4 debug); costs nothing below the level.

export const LogLevel = { ERROR: 0, WARNING: 1, NORMAL: 2, INFO: 3, DEBUG: 4 } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export interface Logger {
  level: number;
  log(level: number, msg: string): void;
}

/** Discards everything; the default for library users who pass no logger. */
export const silentLogger: Logger = { level: -1, log() {} };

/** Collects lines in memory, for tests. */
export class MemoryLogger implements Logger {
  level: number;
  lines: string[] = [];
  constructor(level = 4) {
    this.level = level;
  }
  log(level: number, msg: string): void {
    if (level <= this.level) this.lines.push(msg);
  }
}
