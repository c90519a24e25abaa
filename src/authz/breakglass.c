/*
 * breakglass.c — emergency access ("break the glass").
 *
 * A clinician may open a grant for one patient by stating a reason: for
 * a patient not on their care team it opens the record; for one on it,
 * it reaches restricted data they are not cleared for. The grant lasts [authz]
 * break_glass_duration (default 60 min), every access under it carries
 * the grant id in the audit trail, an alert is raised when it opens, and
 * it stays listed in `access-review` until reviewed.
 *
 * A reason must hold at least PV_BREAK_GLASS_REASON_MIN_WORD letters or
 * digits (Unicode categories L and N, from libunistring): one made of
 * spaces, invisible format characters (U+200B, U+3000, U+FEFF...),
 * combining marks, punctuation, private-use or unassigned code points is
 * refused like an empty one (outside review, finding 12).
 *
 * The reason is free text and may itself contain PHI, so it is sealed
 * under the patient's data key (and so is destroyed with the patient by
 * erasure); only its grant id appears in the audit trail.
 */
#include "authz/authz.h"

#include <stdlib.h>
#include <string.h>

static void
reason_ad(const struct pv_grant *g, char *ad, size_t adsz)
{
	PV_IGNORE(pv_snprintf(ad, adsz, "phivault-grant-v1|%lld|%s|%lld",
	    (long long)g->user_id, g->patient_id, (long long)g->created_at));
}

bool
pv_breakglass_reason_is_valid(const char *reason)
{
	size_t rlen = strlen(reason);

	return rlen > 0 && pv_utf8_is_valid(reason, rlen) &&
	    pv_utf8_len(reason) <= PV_BREAK_GLASS_REASON_MAX &&
	    pv_utf8_word_chars(reason) >= PV_BREAK_GLASS_REASON_MIN_WORD;
}

int64_t
pv_breakglass_new_id(void)
{
	unsigned char b[6];
	int64_t id = 0;
	size_t i;

	randombytes_buf(b, sizeof(b));
	for (i = 0; i < sizeof(b); i++)
		id = (id << 8) | b[i];
	return id > 0 ? id : 1;
}

pv_status
pv_breakglass_open(struct pv_vault *v, const struct pv_principal *who,
    const char *patient, const char *reason, int64_t grant_id,
    struct pv_grant *out)
{
	unsigned char *dek = NULL, *sealed = NULL;
	size_t rlen = strlen(reason), slen = 0;
	char ad[160];
	pv_status st;

	memset(out, 0, sizeof(*out));
	if (!pv_breakglass_reason_is_valid(reason) ||
	    !pv_fhir_id_is_valid(patient))
		return PV_EINVAL;
	out->id = grant_id;
	out->user_id = who->user_id;
	out->holder_epoch = who->authz_epoch;
	PV_IGNORE(
	    pv_strlcpy(out->patient_id, patient, sizeof(out->patient_id)));
	out->created_at = pv_now();
	out->expires_at = out->created_at + v->cfg.break_glass_duration;
	dek = pv_secret_alloc(PV_DEK_BYTES);
	sealed = malloc(rlen + PV_AEAD_OVERHEAD);
	if (dek == NULL || sealed == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	reason_ad(out, ad, sizeof(ad));
	if ((st = pv_dek_get(v, patient, false, dek)) != PV_OK ||
	    (st = pv_aead_seal(sealed, &slen, (const unsigned char *)reason,
		 rlen, (const unsigned char *)ad, strlen(ad), dek)) != PV_OK)
		goto done;
	out->reason_sealed = sealed;
	out->reason_sealed_len = slen;
	st = pv_store_grant_insert(v->store, out);
	out->reason_sealed = NULL; /* the row owns the bytes now */
	out->reason_sealed_len = 0;
done:
	free(sealed);
	pv_secret_free(dek, PV_DEK_BYTES);
	return st;
}

pv_status
pv_breakglass_reason(struct pv_vault *v, const struct pv_grant *g, char *out,
    size_t outsz)
{
	unsigned char *dek = NULL;
	char ad[160];
	size_t n = 0;
	pv_status st;

	if (g->reason_sealed == NULL || outsz < g->reason_sealed_len + 1)
		return g->reason_sealed == NULL ? PV_EGONE : PV_ETOOBIG;
	dek = pv_secret_alloc(PV_DEK_BYTES);
	if (dek == NULL)
		return PV_ENOMEM;
	reason_ad(g, ad, sizeof(ad));
	if ((st = pv_dek_get(v, g->patient_id, false, dek)) == PV_OK &&
	    (st = pv_aead_open((unsigned char *)out, &n, g->reason_sealed,
		 g->reason_sealed_len, (const unsigned char *)ad, strlen(ad),
		 dek)) == PV_OK)
		out[n] = '\0';
	pv_secret_free(dek, PV_DEK_BYTES);
	return st;
}
