import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { MessageReader, ProtocolViolation, type FrontendMessage, type StartupPacket } from './messages.js';

/**
 * One client connection of the PostgreSQL protocol server as an ordered stream of messages:
 * `readStartup`/`read` resolve with the next complete message (null once the client is gone),
 * `write` resolves when the socket can take more (backpressure: a slow client slows the query,
 * memory stays flat), `startTls` upgrades the socket after an SSLRequest ("Message Flow" →
 * "SSL Session Encryption").
 */
export class Connection {
  private readonly reader = new MessageReader();
  private waiter: (() => void) | undefined;
  private ended = false;
  private error: Error | undefined;
  /** Whether the connection is encrypted (TLS). */
  encrypted = false;
  private onData = (d: Buffer): void => {
    this.reader.push(d);
    this.wake();
  };
  private onEnd = (): void => {
    this.ended = true;
    this.wake();
  };
  private onError = (err: Error): void => {
    this.error = err;
    this.ended = true;
    this.wake();
  };

  constructor(private socket: Socket) {
    this.listen();
  }

  /** The client's address (for the failed-authentication limit). */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }

  /** Whether the client has gone (or the socket failed). */
  get closed(): boolean {
    return this.ended;
  }

  private listen(): void {
    this.socket.on('data', this.onData).on('end', this.onEnd).on('close', this.onEnd).on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async until<T>(take: () => T | undefined): Promise<T | null> {
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** The next startup-phase packet (no type byte), or null when the client left. Errors: ProtocolViolation. */
  readStartup(): Promise<StartupPacket | null> {
    return this.until(() => this.reader.nextStartup());
  }

  /** The next typed message, or null when the client left. Errors: ProtocolViolation. */
  read(): Promise<FrontendMessage | null> {
    return this.until(() => this.reader.next());
  }

  /** Writes `data`; resolves when the socket's buffer has room again. */
  async write(data: Buffer): Promise<void> {
    if (this.ended || data.length === 0) return;
    if (!this.socket.write(data)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done).off('close', done);
          resolve();
        };
        this.socket.on('drain', done).on('close', done);
      });
    }
  }

  /**
   * Upgrades the connection to TLS with `context` (the server has answered `S` to an
   * SSLRequest). Errors: ProtocolViolation when the client sent bytes after its SSLRequest
   * before the handshake (they would be unencrypted).
   */
  async startTls(context: tls.SecureContext): Promise<void> {
    if (this.reader.pending > 0) throw new ProtocolViolation('unencrypted data after SSLRequest');
    this.socket.off('data', this.onData).off('end', this.onEnd).off('close', this.onEnd).off('error', this.onError);
    const secure = new tls.TLSSocket(this.socket, { isServer: true, secureContext: context });
    this.socket = secure;
    this.encrypted = true;
    this.listen();
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('error', reject);
      secure.once('close', () => resolve());
    });
  }

  /** Ends the connection after what was written. */
  close(): void {
    this.ended = true;
    this.socket.end();
    this.wake();
  }

  /** Destroys the socket at once. */
  destroy(): void {
    this.ended = true;
    this.socket.destroy();
    this.wake();
  }

  /** The socket's error, if it failed. */
  get failure(): Error | undefined {
    return this.error;
  }
}
