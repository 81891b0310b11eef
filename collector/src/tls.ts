/** The collector's TLS certificate and key, read and checked at start so a bad pair fails loudly. */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** PEM certificate chain and private key. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

/** Read `--tls-cert` and `--tls-key`; errors name the file and what is wrong with it. */
export function loadTls(certFile: string, keyFile: string): TlsFiles {
  const read = (what: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`TLS ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const cert = read('certificate', certFile);
  const key = read('key', keyFile);
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`TLS certificate ${certFile}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error(`TLS key ${keyFile}: no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)`);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`TLS certificate ${certFile} with key ${keyFile}: ${(err as Error).message}`);
  }
  return { cert, key };
}
