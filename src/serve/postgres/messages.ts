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
