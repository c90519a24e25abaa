/*
 * account.c — creating and changing accounts.
 *
 * Guarantees: an account is created only with a policy-conforming
 * password (or, for a service client, none: it authenticates by
 * signature); disabling an account, changing its role or its
 * permissions deletes every session it holds and ends its break-glass
 * grants in the same transaction, so the change is effective from the
 * server's very next request (seed: least privilege; session
 * management). Each change writes only the columns it changes, so a
 * login finishing meanwhile cannot undo it (login.c).
 */
#include "auth/auth.h"

#include <string.h>

bool
pv_role_needs_mfa(const struct pv_config *cfg, const char *role)
{
	return pv_config_list_has(cfg->mfa_required_roles, role);
}

pv_status
pv_account_create(struct pv_vault *v, const char *name, const char *role,
    const char *patient_id, const char *password, pv_pw_verdict *verdict,
    int64_t *id_out)
{
	struct pv_store *s = v->store;
	struct pv_user u;
	pv_status st;

	*verdict = PV_PW_OK;
	if (!pv_username_is_valid(name) || !pv_role_is_known(role))
		return PV_EINVAL;
	if ((strcmp(role, "patient") == 0) != (patient_id != NULL))
		return PV_EINVAL;
	if (patient_id != NULL && !pv_fhir_id_is_valid(patient_id))
		return PV_EINVAL;
	memset(&u, 0, sizeof(u));
	PV_IGNORE(pv_strlcpy(u.username, name, sizeof(u.username)));
	PV_IGNORE(pv_strlcpy(u.role, role, sizeof(u.role)));
	if (patient_id != NULL)
		PV_IGNORE(
		    pv_strlcpy(u.patient_id, patient_id, sizeof(u.patient_id)));
	u.is_active = true;
	u.created_at = pv_now();
	if (password != NULL) {
		*verdict = pv_password_check(password, name);
		if (*verdict != PV_PW_OK)
			return PV_EINVAL;
		if ((st = pv_password_hash(&v->cfg, password, u.pw_hash,
			 sizeof(u.pw_hash))) != PV_OK)
			return st;
	} else if (strcmp(role, "service") != 0) {
		return PV_EINVAL;
	} else {
		/* Not a valid Argon2 string: no password ever matches. */
		PV_IGNORE(pv_strlcpy(u.pw_hash, "!", sizeof(u.pw_hash)));
	}
	st = pv_store_user_insert(s, &u);
	if (st == PV_OK && id_out != NULL)
		*id_out = u.id;
	return st;
}

/*
 * Applies change() to the account (by name, or by id when name is NULL)
 * and, in the same transaction: bumps its authorization epoch (the
 * update is conditional on the epoch read, so it cannot overwrite a
 * change made meanwhile), drops its sessions and ends its open
 * break-glass grants. A grant was opened under the role and permissions
 * the account had then; any change to them ends it (outside review,
 * finding 10). Only role, active and permissions are written: nothing
 * else of the row read here is written back.
 */
static pv_status
update_and_revoke(struct pv_vault *v, const char *name, int64_t id,
    pv_status (*change)(struct pv_user *, const void *), const void *arg)
{
	struct pv_store *s = v->store;
	struct pv_user u;
	pv_status st;

	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	st = name != NULL ? pv_store_user_get_by_name(s, name, &u)
			  : pv_store_user_get_by_id(s, id, &u);
	if (st != PV_OK)
		goto fail;
	if ((st = change(&u, arg)) != PV_OK)
		goto fail;
	if ((st = pv_store_user_set_access(s, u.id, u.authz_epoch, u.role,
		 u.is_active, u.scopes)) != PV_OK ||
	    (st = pv_store_session_delete_all(s, u.id, NULL)) != PV_OK ||
	    (st = pv_store_grant_end_user(s, u.id, pv_now())) != PV_OK)
		goto fail;
	sodium_memzero(&u, sizeof(u));
	return pv_store_commit(s);
fail:
	pv_store_rollback(s);
	sodium_memzero(&u, sizeof(u));
	return st;
}

static pv_status
set_disabled(struct pv_user *u, const void *arg)
{
	(void)arg;
	u->is_active = false;
	return PV_OK;
}

static pv_status
set_role(struct pv_user *u, const void *arg)
{
	return pv_strlcpy(u->role, arg, sizeof(u->role));
}

pv_status
pv_account_disable(struct pv_vault *v, const char *name)
{
	return update_and_revoke(v, name, 0, set_disabled, NULL);
}

pv_status
pv_account_disable_by_id(struct pv_vault *v, int64_t id)
{
	return update_and_revoke(v, NULL, id, set_disabled, NULL);
}

struct perm_change {
	const char *permission;
	bool grant;
};

/* Staff permissions live in the scopes column as a comma list. */
static pv_status
change_permission(struct pv_user *u, const void *arg)
{
	const struct perm_change *pc = arg;
	bool has = pv_config_list_has(u->scopes, pc->permission);

	if (strcmp(u->role, "service") == 0 || strcmp(u->role, "patient") == 0)
		return PV_EINVAL;
	if (pc->grant && !has) {
		if (pv_csv_append(u->scopes, sizeof(u->scopes), pc->permission,
			strlen(pc->permission)) != PV_OK)
			return PV_ETOOBIG;
	} else if (!pc->grant && has) {
		char out[PV_SCOPES_MAX] = "";
		const char *p = u->scopes;

		while (*p != '\0') {
			size_t len = strcspn(p, ",");

			/* out is no longer than the list it filters */
			if (len > 0 &&
			    !(len == strlen(pc->permission) &&
				strncmp(p, pc->permission, len) == 0))
				PV_IGNORE(
				    pv_csv_append(out, sizeof(out), p, len));
			p += len;
			if (*p == ',')
				p++;
		}
		memcpy(u->scopes, out, sizeof(out));
	}
	return PV_OK;
}

pv_status
pv_account_permission(struct pv_vault *v, const char *name,
    const char *permission, bool grant)
{
	struct perm_change pc = { permission, grant };

	if (strcmp(permission, "restricted") != 0)
		return PV_EINVAL;
	return update_and_revoke(v, name, 0, change_permission, &pc);
}

pv_status
pv_account_set_role(struct pv_vault *v, const char *name, const char *role)
{
	struct pv_user u;
	pv_status st;

	if (!pv_role_is_known(role))
		return PV_EINVAL;
	/* A patient account is defined by its link; other roles have none. */
	if ((st = pv_store_user_get_by_name(v->store, name, &u)) != PV_OK)
		return st;
	if ((strcmp(role, "patient") == 0) != (u.patient_id[0] != '\0'))
		return PV_EINVAL;
	return update_and_revoke(v, name, 0, set_role, role);
}
