/*
 * state.c — the resume state of an audit writer (DIR/audit/state): the
 * size, end offset, chain and compact Merkle range after its last write,
 * rewritten in place, so that a short-lived CLI command appends without
 * re-reading the whole log.
 *
 * Only a hint, and an authenticated one: it carries an HMAC-SHA-256
 * under a key derived from the audit-signing key's seed (kept in secret
 * memory, wiped at close), because a writer resumes after the state's
 * end without re-reading what lies before it. An unkeyed checksum (the
 * v1 format) let anyone with file access write a state that pointed a
 * CLI writer past forged entries, which it would then have signed over
 * (review finding 5). A state whose MAC, magic or bounds do not fit the
 * log is ignored and the log is read from the start.
 */
#include "audit/log_int.h"
#include "common/log.h"

#include <stddef.h>
#include <string.h>

#define STATE_MAGIC "phivault-audit-state-v2"
#define STATE_KEY_LABEL "phivault-audit-state-key-v1"

pv_status
audit_state_key(struct pv_audit *a, const unsigned char *sign_sk)
{
	/* A KDF of the signing key's seed (its first 32 bytes). */
	if ((a->state_key = pv_secret_alloc(PV_KEY_BYTES)) == NULL)
		return PV_ENOMEM;
	pv_hmac_sha256(a->state_key, sign_sk, STATE_KEY_LABEL,
	    sizeof(STATE_KEY_LABEL) - 1);
	return PV_OK;
}

struct state_rec {
	char magic[32];
	uint64_t size;
	int64_t end;
	unsigned char chain[PV_AUDIT_HASH_BYTES];
	struct pv_merkle_compact compact;
	unsigned char mac[PV_AUDIT_HASH_BYTES]; /* HMAC of the above */
};

/* The state's MAC: HMAC-SHA-256 under the key derived at open. */
static void
state_mac(const struct pv_audit *a, const struct state_rec *s,
    unsigned char mac[PV_AUDIT_HASH_BYTES])
{
	pv_hmac_sha256(mac, a->state_key, s, offsetof(struct state_rec, mac));
}

void
audit_state_write(struct pv_audit *a)
{
	struct state_rec s;

	if (a->m->fn->state_save == NULL)
		return;
	memset(&s, 0, sizeof(s));
	strcpy(s.magic, STATE_MAGIC);
	s.size = a->size;
	s.end = (int64_t)a->end;
	memcpy(s.chain, a->chain, sizeof(s.chain));
	s.compact = a->compact;
	state_mac(a, &s, s.mac);
	a->m->fn->state_save(a->m, &s, sizeof(s));
}

/*
 * Loads the hint if its MAC holds (only a holder of the signing key wrote
 * it, after a signed write) and it is no longer than the log.
 */
bool
audit_state_read(struct pv_audit *a)
{
	struct state_rec s;
	unsigned char mac[PV_AUDIT_HASH_BYTES];
	off_t size;

	if (a->m->fn->state_load == NULL ||
	    !a->m->fn->state_load(a->m, &s, sizeof(s)))
		return false;
	state_mac(a, &s, mac);
	if (memchr(s.magic, '\0', sizeof(s.magic)) == NULL ||
	    strcmp(s.magic, STATE_MAGIC) != 0 ||
	    sodium_memcmp(mac, s.mac, sizeof(mac)) != 0 ||
	    a->m->fn->size(a->m, &size) != PV_OK || s.end > size || s.end < 0 ||
	    s.compact.size != s.size)
		return false;
	/* The byte before the resume point must end a line. */
	if (s.end > 0) {
		char c;
		if (a->m->fn->read(a->m, &c, 1, (off_t)s.end - 1) != PV_OK ||
		    c != '\n')
			return false;
	}
	a->size = s.size;
	a->end = (off_t)s.end;
	memcpy(a->chain, s.chain, sizeof(a->chain));
	a->compact = s.compact;
	return true;
}
