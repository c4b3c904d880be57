/**
 * The framing of the PostgreSQL frontend/backend protocol, version 3.0 (PostgreSQL
 * documentation, "Frontend/Backend Protocol", sections "Message Flow" and "Message Formats"):
 * reading frontend messages out of a byte stream, and writing backend messages.
 *
 * Every message but the first of a connection is a type byte, an Int32 length (itself
 * included, the type byte not) and the body. The first (startup, SSLRequest, GSSENCRequest,
 * CancelRequest) has no type byte: Int32 length, Int32 code, body. Integers are big-endian;
 * strings are NUL-terminated UTF-8 (`String` in the docs).
 */

import type { Cell } from '../../engine/reader.js';

/**
 * How `MessageWriter.dataRows` writes the cells of a column: `integer` (a number or bigint of
 * an integer type, text format), `double` (a number of a float8 column, text format), `text` (a
 * string, text format: its UTF-8 bytes), `other` (through the caller's encoder).
 */
export const FieldKind = { other: 0, integer: 1, double: 2, text: 3 } as const;

/** The protocol version 3.0 of a StartupMessage. */
export const PROTOCOL_3 = 196608;
/** Codes of the untyped first messages ("Message Formats": SSLRequest, GSSENCRequest, CancelRequest). */
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** Longest message accepted from a client, bytes (a bigger length is a protocol violation). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** A violation of the protocol by the client (SQLSTATE 08P01): the connection is closed after the error is sent. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

/** A startup-phase message: `code` (PROTOCOL_3, SSL_REQUEST...) and the body after it. */
export interface StartupPacket {
  code: number;
  body: Buffer;
}

/** A typed frontend message: its type byte as a character (`Q`, `P`, `B`...) and its body. */
export interface FrontendMessage {
  type: string;
  body: Buffer;
}

/**
 * Accumulates bytes from a socket and cuts them into messages. `startup` is true until the
 * first typed message is expected (after the startup packet). Errors: ProtocolViolation for a
 * length out of range.
 */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** Appends received bytes. */
  push(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
  }

  /** The next untyped startup packet, or undefined until it is complete. */
  nextStartup(): StartupPacket | undefined {
    if (this.buffer.length < 8) return undefined;
    const length = this.buffer.readInt32BE(0);
    if (length < 8 || length > 10_000) throw new ProtocolViolation(`invalid startup packet length ${length}`);
    if (this.buffer.length < length) return undefined;
    const packet = { code: this.buffer.readInt32BE(4), body: this.buffer.subarray(8, length) };
    this.buffer = this.buffer.subarray(length);
    return packet;
  }

  /** The next typed message, or undefined until it is complete. */
  next(): FrontendMessage | undefined {
    if (this.buffer.length < 5) return undefined;
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > MAX_MESSAGE_BYTES) throw new ProtocolViolation(`invalid message length ${length}`);
    if (this.buffer.length < length + 1) return undefined;
    const message = { type: String.fromCharCode(this.buffer[0]!), body: this.buffer.subarray(5, length + 1) };
    this.buffer = this.buffer.subarray(length + 1);
    return message;
  }

  /** Bytes received but not yet cut into messages. */
  get pending(): number {
    return this.buffer.length;
  }
}

/** Reads the fields of one message body in order. Errors: ProtocolViolation when the body is shorter than its fields. */
export class BodyReader {
  private at = 0;

  constructor(private readonly body: Buffer) {}

  private need(n: number): void {
    if (this.at + n > this.body.length) throw new ProtocolViolation('message shorter than its fields');
  }

  int16(): number {
    this.need(2);
    const v = this.body.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.body.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  byte(): string {
    this.need(1);
    return String.fromCharCode(this.body[this.at++]!);
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.body.indexOf(0, this.at);
    if (end < 0) throw new ProtocolViolation('unterminated string in message');
    const s = this.body.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }

  /** `n` bytes (a view of the body). */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.body.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }

  /** The bytes not read yet. */
  rest(): Buffer {
    const b = this.body.subarray(this.at);
    this.at = this.body.length;
    return b;
  }
}

/**
 * Builds backend messages into one buffer: `begin(type)`, fields, `end()`; `take()` returns
 * what was built and starts over. Used for whole batches (a chunk of DataRows is one write).
 */
export class MessageWriter {
  private buf: Buffer = Buffer.allocUnsafe(8192);
  private at = 0;
  private start = -1;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** Starts a message of type `type` (one character). */
  begin(type: string): this {
    this.room(5);
    this.buf[this.at] = type.charCodeAt(0);
    this.start = this.at + 1;
    this.at += 5;
    return this;
  }

  /** Ends the current message, writing its length. */
  end(): this {
    this.buf.writeInt32BE(this.at - this.start, this.start);
    this.start = -1;
    return this;
  }

  int16(v: number): this {
    this.room(2);
    this.buf.writeInt16BE(v, this.at);
    this.at += 2;
    return this;
  }

  int32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v, this.at);
    this.at += 4;
    return this;
  }

  byte(c: string): this {
    this.room(1);
    this.buf[this.at++] = c.charCodeAt(0);
    return this;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(s: string): this {
    const n = Buffer.byteLength(s);
    this.room(n + 1);
    this.buf.write(s, this.at, 'utf8');
    this.at += n;
    this.buf[this.at++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }

  /** An Int32 length then the bytes of `value` (a DataRow or Bind field); null is length -1. */
  field(value: Uint8Array | string | null): this {
    if (value === null) return this.int32(-1);
    if (typeof value === 'string') {
      // one pass over the text: room for its longest UTF-8 form, the length written after it;
      // short ASCII text (most values) byte by byte, which is cheaper than a call into the encoder
      const n = value.length;
      this.room(4 + n * 3);
      const buf = this.buf;
      let at = this.at + 4;
      let ascii = n <= 64;
      for (let j = 0; ascii && j < n; j++) {
        const c = value.charCodeAt(j);
        if (c > 127) ascii = false;
        else buf[at++] = c;
      }
      if (!ascii) at = this.at + 4 + buf.write(value, this.at + 4, 'utf8');
      buf.writeInt32BE(at - this.at - 4, this.at);
      this.at = at;
      return this;
    }
    this.int32(value.length);
    return this.bytes(value);
  }

  /**
   * Appends one DataRow message (`D`, "Message Formats") per row of `rows[start..end)`, each
   * cell written as `fields[i]` says for its column (`FieldKind`): integers, doubles and text in
   * the text format straight into the buffer (digits written here; a double's text is
   * `String(v)`; text as its UTF-8 bytes), any other cell, or a cell of an unexpected JS type, as
   * `other(cell, column)` gives its bytes. NULL is length -1. A row whose `other` throws is
   * dropped whole (the rows before it stay) and the error thrown.
   */
  dataRows(rows: readonly (readonly Cell[])[], start: number, end: number, fields: Uint8Array, other: (c: Exclude<Cell, null>, column: number) => Uint8Array | string): void {
    const width = fields.length;
    for (let r = start; r < end; r++) {
      const row = rows[r]!;
      const mark = this.at;
      this.room(7);
      this.buf[this.at] = 0x44; // 'D'
      const lengthAt = this.at + 1;
      this.at += 5;
      this.buf[this.at++] = width >>> 8;
      this.buf[this.at++] = width & 0xff;
      try {
        for (let i = 0; i < width; i++) {
          const c = row[i]!;
          if (c === null) {
            this.room(4);
            this.buf.writeInt32BE(-1, this.at);
            this.at += 4;
            continue;
          }
          switch (fields[i]) {
            case FieldKind.integer:
              if (typeof c === 'number' && c <= 999_999_999_999_999 && c >= -999_999_999_999_999 && Number.isInteger(c)) {
                this.integerField(c);
                continue;
              }
              if (typeof c === 'bigint') {
                const v = Number(c);
                if (v <= 999_999_999_999_999 && v >= -999_999_999_999_999) this.integerField(v);
                else this.textField(c.toString());
                continue;
              }
              break;
            case FieldKind.double:
              if (typeof c === 'number') {
                if (!this.decimalField(c)) this.textField(c === c ? (c === Infinity ? 'Infinity' : c === -Infinity ? '-Infinity' : String(c)) : 'NaN');
                continue;
              }
              break;
            case FieldKind.text:
              if (typeof c === 'string') {
                this.textField(c);
                continue;
              }
              break;
          }
          this.field(other(c, i));
        }
      } catch (err) {
        this.at = mark;
        this.start = -1;
        throw err;
      }
      const n = this.at - lengthAt;
      this.buf[lengthAt] = n >>> 24;
      this.buf[lengthAt + 1] = (n >>> 16) & 0xff;
      this.buf[lengthAt + 2] = (n >>> 8) & 0xff;
      this.buf[lengthAt + 3] = n & 0xff;
    }
  }

  /** A field of the decimal digits of integer `v` (|v| < 10^15). */
  private integerField(v: number): void {
    this.room(4 + 17);
    const buf = this.buf;
    let at = this.at + 4;
    let n = v;
    if (n < 0) {
      buf[at++] = 0x2d; // '-'
      n = -n;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    at += digits;
    for (let j = at - 1, x = n; j >= at - digits; j--) {
      const q = Math.floor(x / 10);
      buf[j] = 0x30 + (x - q * 10);
      x = q;
    }
    const len = at - this.at - 4;
    buf[this.at] = 0;
    buf[this.at + 1] = 0;
    buf[this.at + 2] = len >>> 8;
    buf[this.at + 3] = len & 0xff;
    this.at = at;
  }

  /**
   * A field of double `v`'s text when it has at most 6 decimals and |v| < 10^9 (most measures,
   * prices and rates), written without a string: the text `String(v)` gives (the shortest
   * decimal that reads back as `v`, plain notation), found as the integer m = round(|v| * 10^d)
   * for the smallest d with m / 10^d === |v| (a decimal with fewer digits would have been found
   * at a smaller d; at |v| < 10^9 two decimals 10^-6 apart are never the same double). False,
   * nothing written, for another value (the caller writes `String(v)`).
   */
  private decimalField(v: number): boolean {
    const a = v < 0 ? -v : v;
    if (!(a < 1e9)) return false;
    let scale = 1;
    let d = 0;
    let m = 0;
    for (; d <= 6; d++, scale *= 10) {
      m = Math.round(a * scale);
      if (m / scale === a) break;
    }
    if (d > 6) return false;
    this.room(4 + 18);
    const buf = this.buf;
    let at = this.at + 4;
    if (v < 0 && m !== 0) buf[at++] = 0x2d; // '-'
    let digits = 1;
    for (let x = m; x >= 10; x = Math.floor(x / 10)) digits++;
    // leading zeros of a value below 1 (0.05: m = 5, d = 2)
    if (digits <= d) digits = d + 1;
    const end = at + digits + (d > 0 ? 1 : 0);
    let j = end - 1;
    for (let k = 0, x = m; k < digits; k++) {
      if (k === d && d > 0) buf[j--] = 0x2e; // '.'
      const q = Math.floor(x / 10);
      buf[j--] = 0x30 + (x - q * 10);
      x = q;
    }
    const len = end - this.at - 4;
    buf[this.at] = 0;
    buf[this.at + 1] = 0;
    buf[this.at + 2] = 0;
    buf[this.at + 3] = len;
    this.at = end;
    return true;
  }

  /** A field of the UTF-8 bytes of `value` (as `field`, with the length written by hand). */
  private textField(value: string): void {
    const n = value.length;
    this.room(4 + n * 3);
    const buf = this.buf;
    const begin = this.at + 4;
    let at = begin;
    let ascii = n <= 64;
    for (let j = 0; ascii && j < n; j++) {
      const c = value.charCodeAt(j);
      if (c > 127) ascii = false;
      else buf[at++] = c;
    }
    if (!ascii) at = begin + buf.write(value, begin, 'utf8');
    const len = at - begin;
    buf[this.at] = len >>> 24;
    buf[this.at + 1] = (len >>> 16) & 0xff;
    buf[this.at + 2] = (len >>> 8) & 0xff;
    buf[this.at + 3] = len & 0xff;
    this.at = at;
  }

  /** Where the next message would start: `rewind` to it drops what was built since. */
  mark(): number {
    return this.at;
  }

  /** Drops what was built since `mark` (a message left half-built by a failure). */
  rewind(mark: number): void {
    this.at = mark;
    this.start = -1;
  }

  /** Bytes built so far. */
  get size(): number {
    return this.at;
  }

  /** What was built (a copy), the writer emptied. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at));
    this.at = 0;
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(8192);
    return out;
  }
}

/** Fields of an ErrorResponse or NoticeResponse ("Error and Notice Message Fields"). */
export interface ErrorFields {
  /** `ERROR`, `FATAL`, `NOTICE`... */
  severity: string;
  /** The SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the query text. */
  position?: number;
}

/** Appends an ErrorResponse (`E`) or, with `notice`, a NoticeResponse (`N`). */
export function writeError(w: MessageWriter, e: ErrorFields, notice = false): void {
  w.begin(notice ? 'N' : 'E').byte('S').cstring(e.severity).byte('V').cstring(e.severity).byte('C').cstring(e.code).byte('M').cstring(e.message);
  if (e.detail) w.byte('D').cstring(e.detail);
  if (e.hint) w.byte('H').cstring(e.hint);
  if (e.position !== undefined) w.byte('P').cstring(String(e.position));
  w.byte('\0').end();
}
