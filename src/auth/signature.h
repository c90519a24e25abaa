/*
 * signature.h — RFC 9421 HTTP Message Signatures (Ed25519 only) and
 * RFC 9530 Content-Digest, verification side, transport independent.
 *
 * Private to the auth subsystem and the HTTP layer that drives it. This
 * module knows header strings and bytes, not sockets, clocks or nonce
 * caches: the caller decides which signature label it wants, which
 * components must be covered, whether `created`/`expires` are acceptable
 * and whether the nonce was seen before. See signature.c for the exact
 * grammar accepted and the threat model.
 *
 * Typical use by the HTTP layer, in this order:
 *
 *	struct pv_sig_params p;
 *	if (pv_sig_parse(sig_input, sig, NULL, &p) != PV_OK) -> 401
 *	if (!pv_sig_covers(&p, "@method") || ... || !p.has_created) -> 401
 *	time window on p.created / p.expires, replay check on p.nonce
 *	look up the public key by p.keyid
 *	if (pv_sig_verify_ed25519(&p, &req, pk) != PV_OK) -> 401
 *	after reading the body:
 *	if (pv_sig_check_content_digest(cd_field, body, len) != PV_OK) -> 401
 *
 * Every function borrows its arguments for the duration of the call and
 * keeps no pointer to them; nothing here allocates or holds global state,
 * so all of it is thread-safe.
 */
#ifndef PV_AUTH_SIGNATURE_H
#define PV_AUTH_SIGNATURE_H

#include "common/pv.h"

/* Limits. Anything over a limit is refused with PV_EINVAL. */
#define PV_SIG_INPUT_MAX 2048 /* Signature-Input field bytes */
#define PV_SIG_SIGNATURE_MAX 2048 /* Signature field bytes */
#define PV_SIG_DIGEST_FIELD_MAX 1024 /* Content-Digest field bytes */
#define PV_SIG_MAX_MEMBERS 8 /* dictionary members per field */
#define PV_SIG_MAX_COMPONENTS 16 /* covered components per signature */
#define PV_SIG_COMPONENT_MAX 63 /* bytes of one component name */
#define PV_SIG_LABEL_MAX 63 /* bytes of a dictionary key */
#define PV_SIG_NONCE_MAX 128 /* bytes of the nonce parameter */
#define PV_SIG_KEYID_MAX 128 /* bytes of the keyid parameter */
#define PV_SIG_TAG_MAX 128 /* bytes of the tag parameter */
#define PV_SIG_ALG_MAX 31 /* bytes of the alg parameter */
#define PV_SIG_BASE_MAX 8192 /* bytes of a signature base */
#define PV_SIG_TARGET_URI_MAX 4096 /* bytes of the target URI */
#define PV_SIG_ED25519_BYTES 64 /* an Ed25519 signature */
#define PV_SIG_ED25519_PK_BYTES 32 /* an Ed25519 public key */

/*
 * One signature, as selected by pv_sig_parse. Strings are NUL-terminated
 * and hold the decoded sf-string values (escapes removed). params_raw is
 * the canonical RFC 8941 re-serialization of the inner list and its
 * parameters, which is what the "@signature-params" line must carry.
 */
struct pv_sig_params {
	char label[PV_SIG_LABEL_MAX + 1]; /* e.g. "sig1" */
	char components[PV_SIG_MAX_COMPONENTS][PV_SIG_COMPONENT_MAX + 1];
	size_t components_n; /* in signed order, no duplicates */
	int64_t created; /* seconds since the epoch, >= 0 */
	bool has_created;
	int64_t expires; /* seconds since the epoch, >= 0 */
	bool has_expires;
	char nonce[PV_SIG_NONCE_MAX + 1];
	bool has_nonce;
	char keyid[PV_SIG_KEYID_MAX + 1];
	bool has_keyid;
	char alg[PV_SIG_ALG_MAX + 1];
	bool has_alg;
	char tag[PV_SIG_TAG_MAX + 1];
	bool has_tag;
	char params_raw[PV_SIG_INPUT_MAX];
	unsigned char sig[PV_SIG_ED25519_BYTES];
};

/*
 * The parts of a request the signature base is built from. All strings
 * are borrowed and NUL-terminated.
 *
 * target_uri is the absolute target URI (RFC 9110 section 7.1) exactly as
 * the client sent it, scheme and authority included, percent-encoding
 * untouched: for an origin-form request line "GET /a%20b?x=y HTTP/1.1"
 * over TLS with "Host: 127.0.0.1:8443" it is
 * "https://127.0.0.1:8443/a%20b?x=y". @authority, @scheme, @path, @query
 * and @request-target are all derived from it, so they cannot disagree.
 *
 * header returns the field value for a lowercase field name, or NULL when
 * the request has no such field. When the field occurs on several lines
 * it must return the values joined with ", " in the order received
 * (RFC 9421 section 2.1). The returned string must stay valid until the
 * calling function returns.
 */
struct pv_sig_request {
	const char *method; /* "GET", case kept */
	const char *target_uri;
	const char *(*header)(void *arg, const char *lcname);
	void *header_arg;
};

/*
 * Parses the Signature-Input and Signature fields (RFC 8941 dictionaries)
 * and selects one signature: the one named label, or, when label is NULL,
 * the only one present (PV_EINVAL if either field has several members).
 * Both fields are validated in full, even members not selected.
 * Strict: bounded lengths, no duplicate labels, parameters or components,
 * only the RFC 9421 signature parameters (created, expires, nonce, alg,
 * keyid, tag) with their RFC types, no component parameters (;sf, ;key,
 * ;bs, ;req, ;name, ;tr), lowercase component names, and a signature of
 * exactly 64 bytes. Returns PV_OK or PV_EINVAL; on error *out is zeroed.
 * Accepting the syntax says nothing about authenticity: call
 * pv_sig_verify_ed25519 next.
 */
PV_MUST_CHECK pv_status pv_sig_parse(const char *sig_input,
    const char *signature, const char *label, struct pv_sig_params *out);

/*
 * Builds the RFC 9421 section 2.5 signature base of p over req into out
 * (outsz bytes; PV_SIG_BASE_MAX + 1 is always enough), NUL-terminated;
 * *outlen is its length without the NUL. Supports the derived components
 * @method, @target-uri, @authority, @scheme, @path, @query and
 * @request-target, and plain header fields. Returns PV_EINVAL when a
 * covered field is missing, a value holds a byte outside printable ASCII
 * and HTAB (no CR/LF injection), the derived component is unknown or the
 * target URI is malformed; PV_EINVAL too when the base would not fit.
 */
PV_MUST_CHECK pv_status pv_sig_base(const struct pv_sig_params *p,
    const struct pv_sig_request *req, char *out, size_t outsz, size_t *outlen);

/*
 * Verifies p->sig over the signature base of p and req with the Ed25519
 * public key pk. Returns PV_OK when it verifies, PV_ECRYPTO when it does
 * not, PV_EINVAL when it cannot be checked (base not buildable, or an alg
 * parameter other than "ed25519"). Any status but PV_OK is a failure.
 */
PV_MUST_CHECK pv_status pv_sig_verify_ed25519(const struct pv_sig_params *p,
    const struct pv_sig_request *req,
    const unsigned char pk[PV_SIG_ED25519_PK_BYTES]);

/*
 * RFC 9530: checks that the Content-Digest field value (a dictionary such
 * as "sha-256=:<base64>:, sha-512=:<base64>:") holds a sha-256 member equal
 * to SHA-256 of the len bytes of body (body may be NULL when len is 0).
 * Other algorithms are syntax-checked and ignored. Returns PV_OK,
 * PV_ECRYPTO on a mismatch, PV_EINVAL when the field is malformed or has
 * no sha-256 member.
 */
PV_MUST_CHECK pv_status pv_sig_check_content_digest(const char *field,
    const unsigned char *body, size_t len);

/* True when p covers the component, by exact name (e.g. "content-digest"). */
bool pv_sig_covers(const struct pv_sig_params *p, const char *component);

#endif
