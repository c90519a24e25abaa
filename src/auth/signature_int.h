/*
 * signature_int.h — what the two halves of the RFC 9421 verifier share:
 * signature.c (parsing Signature-Input, Signature and Content-Digest)
 * and signature_base.c (the signature base and Ed25519 verification).
 * Internal to src/auth.
 *
 * Ownership: a struct wbuf writes into the caller's buffer p (cap bytes)
 * and never allocates.
 */
#ifndef PV_AUTH_SIGNATURE_INT_H
#define PV_AUTH_SIGNATURE_INT_H

#include "auth/signature.h"

/* An append-only, always NUL-terminated output buffer. */
struct wbuf {
	char *p;
	size_t cap; /* >= 1 */
	size_t len;
	bool is_full; /* something did not fit; contents unusable */
};

void sig_wb_init(struct wbuf *w, char *p, size_t cap);
void sig_wb_put(struct wbuf *w, const char *s, size_t n);
void sig_wb_puts(struct wbuf *w, const char *s);
void sig_wb_putc(struct wbuf *w, int ch);
/* RFC 9110 tchar, lowercase letters only (field names are lowercased). */
bool sig_is_lc_tchar(int ch);
/* A component name: a lowercase field name or "@" and a lowercase
 * derived-component name (RFC 9421 section 2.1). */
bool sig_component_name_is_valid(const char *s);

#endif
