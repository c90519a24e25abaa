/*
 * retention.c — retention policies and purge.
 *
 * Seed: "Implement data retention policies" and "Secure data disposal".
 * [retention] maps a resource type (or "*") to how long a resource is
 * kept after its last update. `phivault purge` and the server's periodic
 * job (every [retention] purge_interval) run the same function:
 *   - an expired resource has every version deleted (secure_delete);
 *   - when a patient's Patient resource and every resource in their
 *     compartment have expired, the patient is crypto-shredded: the data
 *     key is destroyed, so the patient's data in any backup is gone too;
 *   - a patient under legal hold is left untouched;
 *   - a patient already crypto-shredded (keys.db has its tombstone) is
 *     left untouched too: erasure keeps one empty, deleted row per
 *     resource so reads answer 410, and those rows expire like any
 *     other. Shredding such a patient again destroyed nothing and wrote
 *     a new "purge.patient" entry on every run (outside review, issue
 *     13, finding 16), so the purge is idempotent: a second run over
 *     the same data changes nothing and audits nothing;
 *   - every purge leaves an audit entry (action "purge", reason
 *     "retention"), and the run returns counts for the report.
 */
#include "lifecycle/lifecycle.h"
#include "audit/audit.h"
#include "fhir/fhir.h"

#include <stdlib.h>
#include <string.h>

static int64_t
keep_for(const struct pv_config *cfg, const char *type)
{
	int64_t any = -1;
	size_t i;

	for (i = 0; i < cfg->retention_n; i++) {
		if (strcmp(cfg->retention[i].type, type) == 0)
			return cfg->retention[i].keep_seconds;
		if (strcmp(cfg->retention[i].type, "*") == 0)
			any = cfg->retention[i].keep_seconds;
	}
	return any; /* -1: keep forever */
}

struct item {
	char type[PV_TYPE_MAX + 1];
	char id[PV_RES_ID_MAX + 1];
	bool is_expired;
	bool is_deleted;
};

/* The resources of one patient, collected by the scan (ordered by patient). */
struct patient_batch {
	char patient[PV_PATIENT_ID_MAX + 1];
	struct item *items;
	size_t n, cap;
};

struct purge_ctx {
	struct pv_vault *v;
	struct pv_audit *audit;
	int64_t now;
	bool dry_run;
	void (*cb)(void *, const char *, const char *, const char *,
	    const char *);
	void *arg;
	struct pv_purge_report *rep;
	struct patient_batch b;
	pv_status st;
};

static void
audit_purge(struct purge_ctx *c, const char *type, const char *id,
    const char *patient, const char *action)
{
	struct pv_audit_event ev;

	if (c->audit == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	PV_IGNORE(pv_strlcpy(ev.role, "system", sizeof(ev.role)));
	PV_IGNORE(pv_strlcpy(ev.action, action, sizeof(ev.action)));
	PV_IGNORE(pv_strlcpy(ev.type, type, sizeof(ev.type)));
	PV_IGNORE(pv_strlcpy(ev.id, id, sizeof(ev.id)));
	PV_IGNORE(pv_strlcpy(ev.patient, patient, sizeof(ev.patient)));
	PV_IGNORE(pv_strlcpy(ev.src, "retention", sizeof(ev.src)));
	pv_random_id(ev.rid);
	ev.outcome = "allowed";
	ev.reason = "retention";
	if (pv_audit_append(c->audit, &ev) != PV_OK && c->st == PV_OK)
		c->st = PV_EUNAVAIL; /* stop: nothing unaudited happens */
}

static void
decide(struct purge_ctx *c, const char *type, const char *id,
    const char *patient, const char *what)
{
	if (c->cb != NULL)
		c->cb(c->arg, type, id, patient, what);
}

/* Applies retention to one patient's collected resources. */
static void
flush_patient(struct purge_ctx *c)
{
	struct patient_batch *b = &c->b;
	struct pv_store *s = c->v->store;
	bool held = false, all_expired = b->n > 0, has_patient = false;
	bool has_expired = false, is_shredded = false;
	size_t i;

	if (b->n == 0 || c->st != PV_OK)
		goto done;
	for (i = 0; i < b->n; i++) {
		if (!b->items[i].is_expired && !b->items[i].is_deleted)
			all_expired = false;
		if (b->items[i].is_expired)
			has_expired = true;
		if (strcmp(b->items[i].type, "Patient") == 0)
			has_patient = b->items[i].is_expired;
	}
	/* Already erased: its rows are keyless tombstones, nothing to do
	 * (looked up only when something expired, the rare case). */
	if (has_expired &&
	    pv_patient_is_erased(c->v, b->patient, &is_shredded) != PV_OK) {
		c->st = PV_EIO;
		goto done;
	}
	if (is_shredded)
		goto done;
	if (pv_store_hold_has(s, b->patient, &held) != PV_OK) {
		c->st = PV_EIO;
		goto done;
	}
	if (held) {
		for (i = 0; i < b->n; i++)
			if (b->items[i].is_expired && !b->items[i].is_deleted)
				c->rep->held_skipped++;
		decide(c, "Patient", b->patient, b->patient, "held");
		goto done;
	}
	if (all_expired && has_patient) {
		decide(c, "Patient", b->patient, b->patient, "shred");
		if (!c->dry_run) {
			audit_purge(c, "Patient", b->patient, b->patient,
			    "purge.patient");
			if (c->st == PV_OK &&
			    pv_erase_patient(c->v, b->patient) != PV_OK)
				c->st = PV_EIO;
		}
		c->rep->patients_shredded++;
		goto done;
	}
	for (i = 0; i < b->n && c->st == PV_OK; i++) {
		struct item *it = &b->items[i];

		if (!it->is_expired || strcmp(it->type, "Patient") == 0)
			continue; /* a living compartment keeps its Patient */
		decide(c, it->type, it->id, b->patient, "purge");
		c->rep->resources_purged++;
		if (c->dry_run)
			continue;
		audit_purge(c, it->type, it->id, b->patient, "purge");
		if (c->st == PV_OK &&
		    pv_store_resource_purge(s, it->type, it->id) != PV_OK)
			c->st = PV_EIO;
	}
done:
	b->n = 0;
}

static bool
each(void *arg, struct pv_record *rec, pv_status st)
{
	struct purge_ctx *c = arg;
	struct patient_batch *b = &c->b;
	int64_t keep;
	struct item *it;

	(void)st;
	if (strcmp(rec->patient, b->patient) != 0) {
		flush_patient(c);
		PV_IGNORE(
		    pv_strlcpy(b->patient, rec->patient, sizeof(b->patient)));
	}
	if (c->st != PV_OK)
		return false;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 64;
		struct item *ni = realloc(b->items, nc * sizeof(*ni));

		if (ni == NULL) {
			c->st = PV_ENOMEM;
			return false;
		}
		b->items = ni;
		b->cap = nc;
	}
	it = &b->items[b->n++];
	memcpy(it->type, rec->type, sizeof(it->type));
	memcpy(it->id, rec->id, sizeof(it->id));
	keep = keep_for(&c->v->cfg, rec->type);
	it->is_deleted = rec->is_deleted;
	it->is_expired = keep >= 0 && rec->updated_at + keep <= c->now;
	c->rep->examined++;
	return true;
}

pv_status
pv_retention_purge(struct pv_vault *v, struct pv_audit *audit, int64_t now,
    bool dry_run,
    void (*cb)(void *arg, const char *type, const char *id, const char *patient,
	const char *what),
    void *arg, struct pv_purge_report *rep)
{
	struct purge_ctx c;
	pv_status st;

	memset(rep, 0, sizeof(*rep));
	memset(&c, 0, sizeof(c));
	c.v = v;
	c.audit = audit;
	c.now = now;
	c.dry_run = dry_run;
	c.cb = cb;
	c.arg = arg;
	c.rep = rep;
	if (v->cfg.retention_n == 0)
		return PV_OK;
	if (!dry_run && audit == NULL)
		return PV_EINVAL;
	/* Metadata only: retention never needs to decrypt. */
	st = pv_record_scan(v, false, each, &c);
	if (st == PV_OK)
		flush_patient(&c);
	free(c.b.items);
	if (st == PV_OK && !dry_run)
		PV_IGNORE(pv_store_compact(v->store));
	return st != PV_OK ? st : c.st;
}
