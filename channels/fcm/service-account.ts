/**
 * Reads and checks a Firebase service-account JSON file once, at channel creation, so a wrong
 * path or a broken file stops start-up with a clear message instead of failing every send.
 * Only the fields the channel needs are read: project_id, client_email, private_key (RSA, PEM).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';

export interface ServiceAccount {
  projectId: string;
  clientEmail: string;
  privateKey: KeyObject;
}

const text = (json: Record<string, unknown>, key: string): string | undefined => {
  const value = json[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

/** Throws an Error saying what is wrong with the file at `path` (unreadable, not JSON, missing fields, bad key). */
export function readServiceAccount(path: string): ServiceAccount {
  let raw: string;
  try {
    raw = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the service-account file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`the service-account file ${path} is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`the service-account file ${path} is not a JSON object`);
  const record = json as Record<string, unknown>;
  const projectId = text(record, 'project_id');
  const clientEmail = text(record, 'client_email');
  const privateKey = text(record, 'private_key');
  const missing = [projectId ? undefined : 'project_id', clientEmail ? undefined : 'client_email', privateKey ? undefined : 'private_key'].filter(Boolean);
  if (!projectId || !clientEmail || !privateKey) throw new Error(`the service-account file ${path} lacks ${missing.join(', ')}`);
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch {
    throw new Error(`the service-account file ${path} has a private_key that is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`the service-account file ${path} has a private_key that is not an RSA key`);
  return { projectId, clientEmail, privateKey: key };
}
