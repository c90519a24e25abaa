/*
 * principal.h — who is making a request: the one value authorization
 * decides on.
 *
 * auth/ establishes a principal (a session in session.c, a signature in
 * http/sigauth.c) and authz/ reads it; the struct lives here, under
 * authz/, so the decision does not depend on how the caller proved who
 * it is. Plain data: no pointers, nothing to free; the fixed buffers are
 * sized by the store's limits.
 */
#ifndef PV_AUTHZ_PRINCIPAL_H
#define PV_AUTHZ_PRINCIPAL_H

#include "store/store.h"

/* Who is making a request, as established by a session or a signature. */
struct pv_principal {
	int64_t user_id;
	char username[PV_USERNAME_MAX + 1];
	char role[PV_ROLE_MAX + 1];
	char patient_id[PV_PATIENT_ID_MAX + 1]; /* patient accounts */
	char session_id[PV_SESSION_ID_LEN + 1]; /* "" for signatures */
	char scopes[PV_SCOPES_MAX]; /* service clients */
	bool has_mfa; /* TOTP enrolled */
	bool is_mfa_satisfied; /* MFA done, or not required */
	bool is_signed; /* authenticated by RFC 9421 */
	int64_t session_expires_at;
	int64_t authz_epoch; /* the account's, when authenticated:
			      * changes made on its behalf are
			      * conditional on it */
};

#endif
