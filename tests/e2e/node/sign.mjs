// sign.mjs — signs one HTTP request with the npm package
// http-message-signatures (RFC 9421; a client phivault did not write) and
// prints the headers to send, one per line ("Name: value").
//
// usage: node sign.mjs METHOD URL KEYID PRIVATE_KEY_PEM [BODY_FILE]
//   env SIG_CREATED=<unix seconds> overrides `created` (tests send stale
//   and future signatures); SIG_NONCE overrides the random nonce.
import { readFileSync } from 'node:fs';
import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { httpbis } from 'http-message-signatures';

const [method, url, keyid, keyFile, bodyFile] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile));
const headers = {};
const fields = ['@method', '@target-uri'];
if (bodyFile) {
  const body = readFileSync(bodyFile);
  const digest = createHash('sha256').update(body).digest('base64');
  headers['content-digest'] = `sha-256=:${digest}:`;
  headers['content-type'] = 'application/fhir+json';
  fields.push('content-digest');
}
const created = process.env.SIG_CREATED
  ? new Date(Number(process.env.SIG_CREATED) * 1000) : new Date();
const signed = await httpbis.signMessage({
  key: {
    id: keyid,
    alg: 'ed25519',
    sign: async (data) => sign(null, data, key),
  },
  fields,
  params: ['created', 'keyid', 'nonce', 'alg'],
  paramValues: {
    created,
    nonce: process.env.SIG_NONCE ?? randomBytes(16).toString('base64url'),
  },
}, { method, url, headers });
for (const [name, value] of Object.entries(signed.headers)) {
  console.log(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
}
