/*
 * cmd_import.c — `phivault import DIR FILE.ndjson`: bulk load of FHIR
 * resources (migration from another system, test and benchmark data).
 *
 * Each line is one resource. Patients get new server ids; the file's
 * Patient ids are mapped so the compartment resources that follow (their
 * subject/patient references) land on the right new patient. Everything
 * goes through the same record service as the API (validation, sealing
 * under per-patient keys, blind index, data minimisation), in
 * chunks of 500 lines through pv_record_apply, the write service the
 * HTTP batcher uses (keys of new patients first, then one transaction
 * with a savepoint per line). The import is audited before it starts (and
 * again if it fails); the count is printed.
 */
#include "cli/cli.h"
#include "fhir/fhir.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 500

static const char usage_text[] =
    "usage: phivault import DIR FILE.ndjson [--careteam NAME]\n"
    "\n"
    "Loads FHIR R4 resources, one JSON object per line (Patient, Observation,\n"
    "Condition, Encounter, MedicationRequest, AllergyIntolerance,\n"
    "DocumentReference, Communication). A Patient must come before the\n"
    "resources that reference it. Prints the count loaded and refused.\n"
    "  --careteam NAME  put this clinician, nurse or service client on the\n"
    "                   care team of every imported patient\n";

struct idmap {
	char (*from)[PV_RES_ID_MAX + 1];
	char (*to)[PV_ID_HEX_LEN + 1];
	size_t n, cap;
};

static const char *
map_find(const struct idmap *m, const char *from)
{
	size_t i;

	/* newest first: compartments follow their Patient closely */
	for (i = m->n; i > 0; i--)
		if (strcmp(m->from[i - 1], from) == 0)
			return m->to[i - 1];
	return NULL;
}

static bool
map_add(struct idmap *m, const char *from, const char *to)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 1024;
		void *a = realloc(m->from, nc * sizeof(*m->from));
		void *b;

		if (a == NULL)
			return false;
		m->from = a;
		b = realloc(m->to, nc * sizeof(*m->to));
		if (b == NULL)
			return false;
		m->to = b;
		m->cap = nc;
	}
	if (pv_strlcpy(m->from[m->n], from, sizeof(m->from[0])) != PV_OK)
		return false;
	memcpy(m->to[m->n], to, sizeof(m->to[0]));
	m->n++;
	return true;
}

/* Points subject/patient at the new patient id. */
static void
relink(json_t *res, const char *newpid)
{
	static const char *const keys[] = { "subject", "patient" };
	char ref[PV_ID_HEX_LEN + 16];
	size_t i;

	PV_IGNORE(pv_snprintf(ref, sizeof(ref), "Patient/%s", newpid));
	for (i = 0; i < PV_ARRAY_LEN(keys); i++)
		if (json_object_get(res, keys[i]) != NULL)
			json_object_set_new(json_object_get(res, keys[i]),
			    "reference", json_string(ref));
}

/*
 * Turns one parsed line into a change: validated and minimised as the API
 * does; a Patient gets a new random id (mapped from the file's id), a
 * compartment resource is pointed at its patient's new id. False when
 * the line is refused before any change.
 */
static bool
line_change(struct pv_vault *v, struct idmap *m, json_t *res, int64_t team,
    struct pv_change *c)
{
	const char *type =
		       json_string_value(json_object_get(res, "resourceType")),
		   *why, *old, *mapped;
	char pid[PV_PATIENT_ID_MAX + 1];
	char dropped[8][PV_FHIR_FIELD_MAX];

	memset(c, 0, sizeof(*c));
	if (type == NULL || !pv_fhir_type_is_known(type) ||
	    pv_fhir_check(res, type, pid, sizeof(pid), &why) != PV_OK)
		return false;
	/* The same data minimisation as the API: never stored. */
	(void)pv_fhir_minimize(res, type, v->cfg.drop_fields, dropped,
	    PV_ARRAY_LEN(dropped));
	c->kind = PV_CHANGE_CREATE;
	c->res = res;
	PV_IGNORE(pv_strlcpy(c->type, type, sizeof(c->type)));
	pv_random_id(c->id);
	if (strcmp(type, "Patient") == 0) {
		old = json_string_value(json_object_get(res, "id"));
		c->creator_id = team;
		return old == NULL || map_add(m, old, c->id);
	}
	if ((mapped = map_find(m, pid)) == NULL)
		return false;
	relink(res, mapped);
	PV_IGNORE(pv_strlcpy(c->patient, mapped, sizeof(c->patient)));
	return true;
}

/* Up to BATCH parsed lines (NULL: unparsable) and their changes. */
struct chunk {
	json_t *res[BATCH];
	struct pv_change ch[BATCH];
	size_t n;
};

static void
chunk_clear(struct chunk *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		json_decref(ch->res[i]);
	ch->n = 0;
}

/* Reads up to BATCH lines into ch; 0 at the end of the input. */
static size_t
chunk_read(FILE *f, char **line, size_t *cap, struct chunk *ch)
{
	ssize_t len;

	ch->n = 0;
	while (ch->n < BATCH && (len = getline(line, cap, f)) > 0) {
		ch->res[ch->n] = json_loadb(*line, (size_t)len,
		    JSON_REJECT_DUPLICATES, NULL);
		ch->n++;
	}
	return ch->n;
}

/*
 * One chunk through the write service (pv_record_apply: the new
 * patients' keys first, then one transaction with a savepoint per line,
 * so a refused line leaves nothing behind). The run's intent entry was
 * written before the first chunk (pv_cli_begin); the lines carry none.
 * Adds what loaded and what was refused once the chunk is committed.
 */
static pv_status
chunk_load(struct pv_vault *v, struct idmap *m, struct chunk *ch, int64_t team,
    size_t *loaded, size_t *refused)
{
	struct pv_change cs[BATCH];
	size_t i, k = 0, nr = 0, nl = 0;
	pv_status st;

	for (i = 0; i < ch->n; i++) {
		if (ch->res[i] != NULL &&
		    line_change(v, m, ch->res[i], team, &cs[k]))
			k++;
		else
			nr++;
	}
	st = pv_record_apply(v, NULL, cs, k);
	for (i = 0; i < k; i++) {
		if (cs[i].status == PV_OK)
			nl++;
		else
			nr++;
		pv_record_clear(&cs[i].rec);
	}
	if (st != PV_OK)
		return st;
	*loaded += nl;
	*refused += nr;
	return PV_OK;
}

int
cmd_import(int argc, char **argv)
{
	static const char *const names[] = { "careteam" };
	const char *pos[2], *o[1];
	struct idmap m = { NULL, NULL, 0, 0 };
	int64_t team = 0;
	struct pv_cli_change *c;
	struct pv_vault *v;
	struct pv_store *s;
	char *line = NULL;
	size_t npos, cap = 0, loaded = 0, refused = 0;
	struct chunk *ch;
	pv_status st = PV_OK;
	FILE *f;
	int rc = PV_EXIT_FAIL;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, names, o, 1, NULL, NULL, 0, pos, 2,
		&npos) ||
	    npos != 2) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if ((f = fopen(pos[1], "r")) == NULL) {
		fprintf(stderr, "phivault: cannot read the input file\n");
		return PV_EXIT_FAIL;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK) {
		fclose(f);
		return PV_EXIT_FAIL;
	}
	s = v->store;
	if ((c = pv_cli_begin(v, "import", NULL, NULL, NULL)) == NULL) {
		fclose(f);
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	if (o[0] != NULL) {
		struct pv_user u;

		if (pv_store_user_get_by_name(s, o[0], &u) != PV_OK ||
		    !pv_role_may_join_careteam(u.role)) {
			fprintf(stderr,
			    "phivault: --careteam needs a clinician, "
			    "nurse or service account\n");
			pv_cli_end(c, PV_EINVAL);
			fclose(f);
			pv_vault_close(v);
			return PV_EXIT_USAGE;
		}
		team = u.id;
	}
	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		pv_cli_end(c, PV_ENOMEM);
		fclose(f);
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	while (st == PV_OK && chunk_read(f, &line, &cap, ch) > 0) {
		st = chunk_load(v, &m, ch, team, &loaded, &refused);
		chunk_clear(ch);
		if (st == PV_OK && isatty(STDERR_FILENO))
			fprintf(stderr, "\rloaded %zu", loaded);
	}
	free(ch);
	if (line != NULL)
		sodium_memzero(line, cap);
	free(line);
	fclose(f);
	free(m.from);
	free(m.to);
	pv_cli_end(c, st);
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (st == PV_OK) {
		printf("imported %zu resources, refused %zu\n", loaded,
		    refused);
		rc = refused == 0 ? PV_EXIT_OK : PV_EXIT_FAIL;
	} else {
		fprintf(stderr,
		    "phivault: import failed (%s); the %zu "
		    "resources of the chunks before the failure are stored\n",
		    pv_status_name(st), loaded);
	}
	pv_vault_close(v);
	return rc;
}
