// Error classes with stable codes: WireError for anything read off the network, ConfigError for user input.

/** Stable codes for every way a datagram can fail to decode. */
export const WireErrorCode = {
  /** The datagram ended before a field could be read. */
  TRUNCATED: 'ERR_WIRE_TRUNCATED',
  /** The version byte is not 3. */
  BAD_VERSION: 'ERR_WIRE_BAD_VERSION',
  /** The message type is unknown or not valid here. */
  BAD_TYPE: 'ERR_WIRE_BAD_TYPE',
  /** A length field is out of range (auth token > 48, supernode count > 44, …). */
  BAD_LENGTH: 'ERR_WIRE_BAD_LENGTH',
  /** A field holds a value that is not allowed (unknown sock family, …). */
  BAD_VALUE: 'ERR_WIRE_BAD_VALUE',
  /** Header decryption failed: no key matched, or the checksum is wrong. */
  BAD_HEADER_CRYPTO: 'ERR_WIRE_BAD_HEADER_CRYPTO',
  /** Payload decryption or decompression failed. */
  BAD_PAYLOAD: 'ERR_WIRE_BAD_PAYLOAD',
  /** The time stamp is outside the window or replayed. */
  BAD_STAMP: 'ERR_WIRE_BAD_STAMP',
  /** The value given to an encoder cannot be represented on the wire. */
  UNENCODABLE: 'ERR_WIRE_UNENCODABLE',
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** The one error class for bytes that cannot be decoded. */
export class WireError extends Error {
  readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message: string) {
    // Bad input is routine on the packet path (a flood brings thousands a second): a stack trace for each one
    // showed in flood profiles and tells nothing the code and message do not.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'WireError';
    this.code = code;
  }
}

/** Bad command-line flag, config file line or library option. The message is one line for the user. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Shortcut used by bounds checks: builds the error only on the failure path. */
export function truncated(what: string, need: number, have: number): WireError {
  return new WireError(WireErrorCode.TRUNCATED, `${what}: need ${need} bytes, have ${have}`);
}
