/*
 * client.c — service clients (machine to machine).
 *
 * A service client is an account of role "service" that holds no
 * password: it signs each request (RFC 9421, Ed25519) with a private key
 * it keeps; phivault stores only the public key, under a random key id,
 * and the SMART scopes that narrow what the role allows.
 */
#include "auth/auth.h"
#include "authz/authz.h"

#include <string.h>

pv_status
pv_client_add(struct pv_vault *v, const char *name, const char *scopes,
    const unsigned char pk[PV_SIGN_PK_BYTES],
    char key_id_out[PV_ID_HEX_LEN + 1])
{
	struct pv_user u;
	pv_status st;

	if (!pv_username_is_valid(name) || strlen(scopes) >= PV_SCOPES_MAX ||
	    !pv_scopes_valid(scopes))
		return PV_EINVAL;
	memset(&u, 0, sizeof(u));
	PV_IGNORE(pv_strlcpy(u.username, name, sizeof(u.username)));
	PV_IGNORE(pv_strlcpy(u.role, "service", sizeof(u.role)));
	PV_IGNORE(pv_strlcpy(u.pw_hash, "!", sizeof(u.pw_hash)));
	PV_IGNORE(pv_strlcpy(u.scopes, scopes, sizeof(u.scopes)));
	u.is_active = true;
	u.created_at = pv_now();
	pv_random_id(u.key_id);
	memcpy(u.pubkey, pk, PV_SIGN_PK_BYTES);
	u.has_pubkey = true;
	if ((st = pv_store_user_insert(v->store, &u)) != PV_OK)
		return st;
	memcpy(key_id_out, u.key_id, PV_ID_HEX_LEN + 1);
	return PV_OK;
}
