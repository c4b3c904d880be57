import { allows, scramVerifiers, type KeyVerifier, type Scope } from '../api-keys.js';
import type { AuthFailures } from '../auth.js';
import type { MetadataStore } from '../../metadata/store.js';
import type { Connection } from './connection.js';
import { BodyReader, MessageWriter, writeError } from './messages.js';
import { ScramFailure, ScramServer } from './scram.js';

/** What authentication needs: the key store, the key verifier (with its cache) and the failed-attempt counter shared with HTTP. */
export interface KeyAuthority {
  store: MetadataStore;
  verifier: KeyVerifier;
  failures: AuthFailures;
}

/** The key a client authenticated with. */
export interface AuthenticatedKey {
  id: string;
  scope: Scope;
}

/** AuthenticationRequest codes ("Message Formats" → Authentication*). */
const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

/**
 * Authenticates a client that sent its StartupMessage ("Message Flow" → "Start-up"; "SASL
 * Authentication"): the password is an API key of scope read or higher, the user name is free.
 * Over TLS the server asks for the password in clear (AuthenticationCleartextPassword: every
 * key works); without TLS it runs SCRAM-SHA-256 (AuthenticationSASL: keys with a stored SCRAM
 * verifier, i.e. created by this version or later). On success it sends AuthenticationOk and
 * returns the key; on failure it sends a FATAL ErrorResponse 28P01, counts the failure toward
 * the address's limit (blocked addresses get 28P01 at once) and returns undefined.
 */
export async function authenticate(conn: Connection, user: string, authority: KeyAuthority): Promise<AuthenticatedKey | undefined> {
  const ip = conn.remoteAddress;
  const w = new MessageWriter();
  const refuse = async (message: string, hint?: string): Promise<undefined> => {
    writeError(w, { severity: 'FATAL', code: '28P01', message, ...(hint ? { hint } : {}) });
    await conn.write(w.take());
    return undefined;
  };
  const failed = async (): Promise<undefined> => {
    authority.failures.fail(ip);
    return refuse(`password authentication failed for user ${JSON.stringify(user)}`, 'the password is an ingot API key of scope read or higher (ingot keys create --scope read)');
  };
  const blocked = authority.failures.blockedFor(ip);
  if (blocked !== undefined) return refuse(`too many failed authentication attempts from this address; try again in ${Math.ceil(blocked / 1000)} s`);

  if (conn.encrypted) {
    await conn.write(w.begin('R').int32(AUTH_CLEARTEXT).end().take());
    const m = await conn.read();
    if (!m || m.type !== 'p') return m ? failed() : undefined;
    const key = new BodyReader(m.body).cstring();
    const found = await authority.verifier.verify(key);
    if (!found || !allows(found.scope, 'read')) return failed();
    await conn.write(w.begin('R').int32(AUTH_OK).end().take());
    return found;
  }

  await conn.write(w.begin('R').int32(AUTH_SASL).cstring('SCRAM-SHA-256').byte('\0').end().take());
  const initial = await conn.read();
  if (!initial) return undefined;
  if (initial.type !== 'p') return failed();
  const scram = new ScramServer();
  try {
    const r = new BodyReader(initial.body);
    const mechanism = r.cstring();
    if (mechanism !== 'SCRAM-SHA-256') return refuse(`SASL mechanism ${mechanism} is not supported (SCRAM-SHA-256 is)`);
    const length = r.int32();
    const first = length < 0 ? '' : r.bytes(length).toString('utf8');
    const serverFirst = scram.first(first);
    await conn.write(w.begin('R').int32(AUTH_SASL_CONTINUE).bytes(Buffer.from(serverFirst)).end().take());
    const response = await conn.read();
    if (!response) return undefined;
    if (response.type !== 'p') return failed();
    const { match, serverFinal } = scram.final(response.body.toString('utf8'), await scramVerifiers(authority.store));
    if (!allows(match.scope, 'read')) return failed();
    await conn.write(w.begin('R').int32(AUTH_SASL_FINAL).bytes(Buffer.from(serverFinal)).end().begin('R').int32(AUTH_OK).end().take());
    return { id: match.id, scope: match.scope };
  } catch (err) {
    if (err instanceof ScramFailure) return failed();
    throw err;
  }
}
