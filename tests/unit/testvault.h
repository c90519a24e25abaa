/*
 * testvault.h — a real vault in a temp directory for unit tests (no mocks:
 * the SQLite store, keyring and key files are the production code).
 */
#ifndef PV_TESTS_TESTVAULT_H
#define PV_TESTS_TESTVAULT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vault.h"
#include "fhir/fhir.h"

static char tv_dir[128];

/* Creates and opens a vault; extra_conf (may be NULL) is appended. */
static inline struct pv_vault *
tv_open(const char *extra_conf)
{
	struct pv_vault *v = NULL;
	char err[256], path[200];
	FILE *f;

	strcpy(tv_dir, "/tmp/pv-unit-XXXXXX");
	if (mkdtemp(tv_dir) == NULL)
		return NULL;
	strcat(tv_dir, "/v");
	if (pv_crypto_init() != PV_OK ||
	    pv_vault_create(tv_dir, err, sizeof(err)) != PV_OK)
		return NULL;
	if (extra_conf != NULL) {
		snprintf(path, sizeof(path), "%s/phivault.conf", tv_dir);
		f = fopen(path, "a");
		if (f == NULL)
			return NULL;
		fputs(extra_conf, f);
		fclose(f);
	}
	if (pv_vault_open(tv_dir, &v, err, sizeof(err)) != PV_OK) {
		fprintf(stderr, "tv_open: %s\n", err);
		return NULL;
	}
	return v;
}

static inline void
tv_close(struct pv_vault *v)
{
	char cmd[256];

	pv_vault_close(v);
	tv_dir[strlen(tv_dir) - 2] = '\0';	/* strip "/v" */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tv_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "tv_close: cleanup failed\n");
}

/* A create change of res (borrowed) for pv_record_apply. */
static inline struct pv_change
tv_create_change(const char *type, const char *id, const char *patient,
    json_t *res)
{
	struct pv_change c;

	memset(&c, 0, sizeof(c));
	c.kind = PV_CHANGE_CREATE;
	snprintf(c.type, sizeof(c.type), "%s", type);
	snprintf(c.id, sizeof(c.id), "%s", id != NULL ? id : "");
	snprintf(c.patient, sizeof(c.patient), "%s",
	    patient != NULL ? patient : "");
	c.res = res;
	return c;
}

/* Creates an empty Patient with the given id through the write service
 * (its key first, then the record). */
static inline pv_status
tv_create_patient(struct pv_vault *v, const char *id)
{
	json_t *res = json_pack("{s:s}", "resourceType", "Patient");
	struct pv_change c = tv_create_change("Patient", id, NULL, res);
	pv_status st = pv_record_apply(v, NULL, &c, 1);

	if (st == PV_OK)
		st = c.status;
	pv_record_clear(&c.rec);
	json_decref(res);
	return st;
}

#endif
