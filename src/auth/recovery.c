/*
 * recovery.c — MFA recovery codes, the way back in when the
 * authenticator is lost.
 *
 * Recovery codes: 10 random codes of 50 bits, stored as HMAC-SHA-256
 * under a vault subkey (peppered), each consumable once. Issuing a new
 * set replaces the old one; the codes themselves are returned once, to
 * the caller's buffer, and never stored.
 *
 * Defends against: theft of the recovery table (only keyed hashes are
 * kept), reuse of a code.
 */
#include "auth/auth.h"

#include <string.h>

static void
recovery_hash(struct pv_vault *v, int64_t user_id, const char *code,
    unsigned char out[PV_HASH_BYTES])
{
	unsigned char key[PV_KEY_BYTES];
	char buf[64];

	pv_vault_subkey(v, "recovery", 1, key);
	PV_IGNORE(
	    pv_snprintf(buf, sizeof(buf), "%lld|%s", (long long)user_id, code));
	pv_hmac_sha256(out, key, buf, strlen(buf));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(buf, sizeof(buf));
}

pv_status
pv_recovery_issue(struct pv_vault *v, int64_t user_id,
    char out[PV_RECOVERY_CODES][PV_RECOVERY_CODE_LEN + 1])
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char hashes[PV_RECOVERY_CODES][PV_HASH_BYTES];
	size_t i, j;

	for (i = 0; i < PV_RECOVERY_CODES; i++) {
		for (j = 0; j < PV_RECOVERY_CODE_LEN; j++)
			out[i][j] = j == 5 ? '-'
					   : alphabet[randombytes_uniform(
						 sizeof(alphabet) - 1)];
		out[i][PV_RECOVERY_CODE_LEN] = '\0';
		recovery_hash(v, user_id, out[i], hashes[i]);
	}
	return pv_store_recovery_replace(v->store, user_id,
	    (const unsigned char(*)[PV_HASH_BYTES])hashes, PV_RECOVERY_CODES);
}

pv_status
pv_recovery_use(struct pv_vault *v, int64_t user_id, const char *code)
{
	unsigned char h[PV_HASH_BYTES];
	pv_status st;

	if (code == NULL || strlen(code) != PV_RECOVERY_CODE_LEN)
		return PV_EAUTH;
	recovery_hash(v, user_id, code, h);
	st = pv_store_recovery_consume(v->store, user_id, h, pv_now());
	return st == PV_ENOTFOUND ? PV_EAUTH : st;
}
