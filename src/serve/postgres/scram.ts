import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SCRAM-SHA-256 (RFC 5802 with SHA-256, RFC 7677) as PostgreSQL's SASL authentication uses it
 * (PostgreSQL documentation, "Frontend/Backend Protocol" → "SASL Authentication" →
 * "SCRAM-SHA-256 Authentication"): no channel binding, the user name of the client-first
 * message ignored.
 *
 * The password is an API key. The server must send its salt before it knows which key the client
 * holds, so every key's verifier is made with the same salt (`KEY_SALT`) and iteration count;
 * the client's proof is then checked against each active key's verifier in turn. A shared salt
 * costs nothing here: keys are 256 random bits, out of reach of any dictionary.
 */

/** PBKDF2 iterations of the verifiers (PostgreSQL's default `scram_iterations`). */
export const ITERATIONS = 4096;
/** The salt of every API key's verifier (16 bytes). */
export const KEY_SALT = createHash('sha256').update('ingot api key scram salt').digest().subarray(0, 16);

/** What the server keeps of a password: `StoredKey = H(ClientKey)` and `ServerKey`, 32 bytes each. */
export interface ScramVerifier {
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** The verifier of `password` with `KEY_SALT` and `ITERATIONS` (RFC 5802 §3: SaltedPassword, ClientKey, StoredKey, ServerKey). */
export function scramVerifier(password: string, salt: Buffer = KEY_SALT, iterations = ITERATIONS): ScramVerifier {
  const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256');
  return { storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

/** A failed exchange: the message says why (the client sees only 28P01). */
export class ScramFailure extends Error {
  override readonly name = 'ScramFailure';
}

/**
 * The server side of one SCRAM-SHA-256 exchange: `first(clientFirst)` → server-first message;
 * `final(clientFinal, candidates)` → the candidate whose verifier the proof matches and the
 * server-final message (`v=` signature). Errors: ScramFailure for a malformed message, a
 * channel-binding request, a nonce mismatch or a proof that matches no candidate.
 */
export class ScramServer {
  /** `options` fix the salt, iteration count and server nonce (tests against RFC 7677's example); by default `KEY_SALT`, `ITERATIONS` and 18 random bytes. */
  constructor(private readonly options: { salt?: Buffer; iterations?: number; serverNonce?: string } = {}) {}

  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2 = '';

  /** Reads the client-first message; returns the server-first message (`r=<nonce>,s=<salt>,i=<iterations>`). */
  first(message: string): string {
    const m = /^([ny]|p=[^,]*),([^,]*),(.*)$/.exec(message);
    if (!m) throw new ScramFailure('malformed SCRAM client-first message');
    if (m[1]!.startsWith('p')) throw new ScramFailure('channel binding is not supported (connect with channel_binding=disable or prefer)');
    this.gs2 = `${m[1]},${m[2]},`;
    this.clientFirstBare = m[3]!;
    const clientNonce = /(?:^|,)r=([^,]+)/.exec(this.clientFirstBare)?.[1];
    if (!clientNonce) throw new ScramFailure('SCRAM client-first message without a nonce');
    this.nonce = clientNonce + (this.options.serverNonce ?? randomBytes(18).toString('base64'));
    this.serverFirst = `r=${this.nonce},s=${(this.options.salt ?? KEY_SALT).toString('base64')},i=${this.options.iterations ?? ITERATIONS}`;
    return this.serverFirst;
  }

  /** Checks the client-final message against `candidates`; returns the match and the server-final message. */
  final<T extends ScramVerifier>(message: string, candidates: T[]): { match: T; serverFinal: string } {
    const m = /^c=([^,]*),r=([^,]*)(?:,.*)?,p=([^,]*)$/.exec(message);
    if (!m) throw new ScramFailure('malformed SCRAM client-final message');
    if (Buffer.from(m[1]!, 'base64').toString('latin1') !== this.gs2) throw new ScramFailure('SCRAM channel binding data does not match');
    if (m[2] !== this.nonce) throw new ScramFailure('SCRAM nonce does not match');
    const withoutProof = message.slice(0, message.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const proof = Buffer.from(m[3]!, 'base64');
    if (proof.length !== 32) throw new ScramFailure('SCRAM proof of the wrong length');
    for (const c of candidates) {
      const signature = hmac(c.storedKey, authMessage);
      const clientKey = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
      if (timingSafeEqual(sha256(clientKey), c.storedKey)) {
        return { match: c, serverFinal: `v=${hmac(c.serverKey, authMessage).toString('base64')}` };
      }
    }
    throw new ScramFailure('the password matches no active API key');
  }
}
