// bench/signgen.mjs — pre-generates RFC 9421 signed GET requests for
// bench/signed.sh, one per line, each with its own random nonce (phivault
// accepts a nonce once), so wrk can replay each line exactly once.
//
// usage: node signgen.mjs KEY.pem KEYID BASE_URL IDS_FILE COUNT OUT_FILE
//   KEY.pem   Ed25519 private key (PKCS#8 PEM, e.g. openssl genpkey)
//   BASE_URL  https://127.0.0.1:PORT (the Host wrk will send)
//   IDS_FILE  Observation ids, one per line (cycled)
// Output lines: PATH \t Signature-Input \t Signature
//
// Only node:crypto is used (no npm package): the signature base is the one
// RFC 9421 section 2.5 defines for the components the npm package
// http-message-signatures signs in tests/e2e/node/sign.mjs (@method and
// @target-uri, then created, keyid, nonce, alg), and bench/signed.sh
// checks that phivault accepts a generated request before timing.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [keyFile, keyid, base, idsFile, countArg, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node signgen.mjs KEY.pem KEYID BASE_URL IDS_FILE COUNT OUT_FILE');
  process.exit(2);
}
const key = createPrivateKey(readFileSync(keyFile));
const ids = readFileSync(idsFile, 'utf8').split('\n').filter(Boolean);
const count = Number(countArg);
const created = Math.floor(Date.now() / 1000);
const out = [];
for (let i = 0; i < count; i++) {
  const path = `/fhir/Observation/${ids[i % ids.length]}`;
  const nonce = randomBytes(16).toString('base64url');
  const params = `("@method" "@target-uri");created=${created};keyid="${keyid}";` +
    `nonce="${nonce}";alg="ed25519"`;
  const sigBase = `"@method": GET\n"@target-uri": ${base}${path}\n` +
    `"@signature-params": ${params}`;
  const sig = sign(null, Buffer.from(sigBase), key).toString('base64');
  out.push(`${path}\tsig=${params}\tsig=:${sig}:`);
}
writeFileSync(outFile, out.join('\n') + '\n');
