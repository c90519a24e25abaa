/*
 * apply.c — pv_record_apply: the one write service below every front end.
 *
 * Guarantees (see fhir.h for the steps): no change reaches the store
 * before its intent is durable in the audit trail; no change is reported
 * stored unless its transaction committed; a record is never durable
 * without its patient's key; a change that did not happen after its
 * intent leaves a follow-up entry; a lost transaction never lets a later
 * change run on its own (it would commit alone).
 */
#include "fhir/fhir.h"
#include "fhir/records_int.h"
#include "audit/writeahead.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* True for a refusal the caller caused and can fix (not found, gone,
 * version conflict), false for a failure of the server: the follow-up
 * outcome "failed" vs "error" of a change that did not happen. */
static bool
is_refusal(pv_status st)
{
	return st == PV_ENOTFOUND || st == PV_EGONE || st == PV_ECONFLICT;
}

static bool
is_new_patient(const struct pv_change *c)
{
	return c->kind == PV_CHANGE_CREATE && strcmp(c->type, "Patient") == 0;
}

/* Step 0: ids chosen, statuses reset. */
static void
prepare_ids(struct pv_change *cs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct pv_change *c = &cs[i];

		memset(&c->rec, 0, sizeof(c->rec));
		c->status = PV_OK;
		c->is_unaudited = false;
		c->is_lost = false;
		if (c->kind == PV_CHANGE_CREATE && c->id[0] == '\0')
			pv_random_id(c->id);
		if (is_new_patient(c))
			memcpy(c->patient, c->id, sizeof(c->patient));
	}
}

/* Step 1: every intent durable (one group commit); a change whose intent
 * failed gets PV_EUNAVAIL. */
static void
write_intents(struct pv_audit *audit, struct pv_change *cs, size_t n)
{
	const struct pv_audit_event **evs;
	pv_status *st;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (cs[i].intent != NULL)
			k++;
	if (k == 0)
		return;
	evs = calloc(k, sizeof(*evs));
	st = calloc(k, sizeof(*st));
	if (evs == NULL || st == NULL || audit == NULL) {
		for (i = 0; i < n; i++)
			if (cs[i].intent != NULL) {
				cs[i].status = PV_EUNAVAIL;
				cs[i].is_unaudited = true;
			}
		free(evs);
		free(st);
		return;
	}
	for (i = 0, k = 0; i < n; i++)
		if (cs[i].intent != NULL)
			evs[k++] = cs[i].intent;
	PV_IGNORE(pv_audit_intents(audit, evs, k, st));
	for (i = 0, k = 0; i < n; i++)
		if (cs[i].intent != NULL && st[k++] != PV_OK) {
			cs[i].status = PV_EUNAVAIL;
			cs[i].is_unaudited = true;
		}
	free(evs);
	free(st);
}

/* Step 2: the new patients' keys, in one transaction of their own
 * (pv_dek_create). On failure those changes are refused with its
 * status. */
static void
make_keys(struct pv_vault *v, struct pv_change *cs, size_t n)
{
	const char **ids;
	pv_status st;
	size_t i, k = 0;

	if ((ids = calloc(n, sizeof(*ids))) == NULL) {
		st = PV_ENOMEM;
	} else {
		for (i = 0; i < n; i++)
			if (cs[i].status == PV_OK && is_new_patient(&cs[i]))
				ids[k++] = cs[i].patient;
		st = pv_dek_create(v, ids, k);
		free(ids);
	}
	if (st == PV_OK)
		return;
	for (i = 0; i < n; i++)
		if (cs[i].status == PV_OK && is_new_patient(&cs[i]))
			cs[i].status = st;
}

static pv_status
run_change(struct pv_vault *v, struct pv_change *c)
{
	switch (c->kind) {
	case PV_CHANGE_CREATE:
		return pv_record_create_tx(v, c->type,
		    is_new_patient(c) ? NULL : c->patient, c->id, c->res,
		    is_new_patient(c) ? c->creator_id : 0, &c->rec);
	case PV_CHANGE_UPDATE:
		return pv_record_update_tx(v, c->type, c->id, c->if_match,
		    c->res, &c->rec);
	case PV_CHANGE_DELETE:
		return pv_record_delete_tx(v, c->type, c->id, c->if_match,
		    &c->rec);
	}
	return PV_EINVAL;
}

struct one {
	struct pv_vault *v;
	struct pv_change *c;
};

/* One change in its savepoint: kept when it succeeded. */
static bool
run_one(void *arg)
{
	struct one *o = arg;

	o->c->status = run_change(o->v, o->c);
	if (o->c->status != PV_OK)
		pv_record_clear(&o->c->rec);
	return o->c->status == PV_OK;
}

/* The transaction is gone, a savepoint could not be closed or the commit
 * failed: nothing of the batch is stored. */
static void
lose_batch(struct pv_store *s, struct pv_change *cs, size_t n, size_t upto,
    bool *was_tried)
{
	size_t i;

	pv_store_rollback(s);
	pv_log(PV_LOG_ERROR, "store_batch_failed", NULL, (const char *)NULL);
	for (i = 0; i < n; i++) {
		if (!was_tried[i])
			continue;
		/* the failing change itself too, even if it was refused */
		if (cs[i].status == PV_OK || i == upto) {
			pv_record_clear(&cs[i].rec);
			cs[i].status = PV_EIO;
			cs[i].is_lost = true;
		}
	}
}

/* Step 3: one transaction, a savepoint per change, one commit. */
static pv_status
run_changes(struct pv_vault *v, struct pv_change *cs, size_t n)
{
	struct pv_store *s = v->store;
	bool *was_tried;
	pv_status st;
	size_t i, live = 0;

	for (i = 0; i < n; i++)
		if (cs[i].status == PV_OK)
			live++;
	if (live == 0)
		return PV_OK; /* nothing to run: no transaction */
	if ((was_tried = calloc(n, sizeof(*was_tried))) == NULL) {
		for (i = 0; i < n; i++)
			if (cs[i].status == PV_OK)
				cs[i].status = PV_ENOMEM;
		return PV_OK;
	}
	for (i = 0; i < n; i++)
		was_tried[i] = cs[i].status == PV_OK;
	st = pv_store_begin(s);
	for (i = 0; i < n && st == PV_OK; i++) {
		struct one o = { v, &cs[i] };

		if (!was_tried[i])
			continue;
		if ((st = pv_store_in_savepoint(s, run_one, &o)) != PV_OK)
			break;
	}
	if (st == PV_OK)
		st = pv_store_commit(s);
	if (st != PV_OK)
		lose_batch(s, cs, n, i, was_tried);
	free(was_tried);
	return st == PV_OK ? PV_OK : PV_EIO;
}

/* Step 4: a follow-up for every announced change that did not happen. */
static void
write_followups(struct pv_audit *audit, const struct pv_change *cs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct pv_change *c = &cs[i];

		if (c->intent == NULL || c->status == PV_OK || c->is_unaudited)
			continue;
		PV_IGNORE(pv_audit_followup(audit, c->intent,
		    is_refusal(c->status) ? "failed" : "error",
		    c->is_lost ? "write_failed" : pv_status_name(c->status)));
	}
}

pv_status
pv_record_apply(struct pv_vault *v, struct pv_audit *audit,
    struct pv_change *changes, size_t n)
{
	pv_status st;

	if (n == 0)
		return PV_OK;
	prepare_ids(changes, n);
	write_intents(audit, changes, n);
	make_keys(v, changes, n);
	st = run_changes(v, changes, n);
	if (audit != NULL)
		write_followups(audit, changes, n);
	return st;
}
