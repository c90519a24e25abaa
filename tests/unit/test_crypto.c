/* Unit tests for crypto/: AEAD context binding, keyring wrap/rotate/retire,
 * key-file permission checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"

static int
setup(void **state)
{
	(void)state;
	return pv_crypto_init() == PV_OK ? 0 : -1;
}

static void
test_aead_roundtrip_and_binding(void **state)
{
	unsigned char key[PV_KEY_BYTES], key2[PV_KEY_BYTES];
	unsigned char ct[256], pt[256];
	const char *msg = "{\"resourceType\":\"Patient\"}";
	size_t clen, plen;

	(void)state;
	pv_random_bytes(key, sizeof(key));
	pv_random_bytes(key2, sizeof(key2));
	assert_int_equal(pv_aead_seal(ct, &clen, (const unsigned char *)msg,
			     strlen(msg), (const unsigned char *)"ad1", 3, key),
	    PV_OK);
	assert_int_equal(clen, strlen(msg) + pv_aead_overhead());
	assert_int_equal(pv_aead_open(pt, &plen, ct, clen,
			     (const unsigned char *)"ad1", 3, key),
	    PV_OK);
	assert_int_equal(plen, strlen(msg));
	assert_memory_equal(pt, msg, plen);
	/* Other context, other key, flipped byte: all fail closed. */
	assert_int_equal(pv_aead_open(pt, &plen, ct, clen,
			     (const unsigned char *)"ad2", 3, key),
	    PV_ECRYPTO);
	assert_int_equal(pv_aead_open(pt, &plen, ct, clen,
			     (const unsigned char *)"ad1", 3, key2),
	    PV_ECRYPTO);
	ct[clen / 2] ^= 1;
	assert_int_equal(pv_aead_open(pt, &plen, ct, clen,
			     (const unsigned char *)"ad1", 3, key),
	    PV_ECRYPTO);
	assert_int_equal(pv_aead_open(pt, &plen, ct, 5,
			     (const unsigned char *)"ad1", 3, key),
	    PV_ECRYPTO);
}

static void
test_nonces_are_fresh(void **state)
{
	unsigned char key[PV_KEY_BYTES], a[64], b[64];
	size_t la, lb;

	(void)state;
	pv_random_bytes(key, sizeof(key));
	assert_int_equal(pv_aead_seal(a, &la, (const unsigned char *)"x", 1,
			     NULL, 0, key),
	    PV_OK);
	assert_int_equal(pv_aead_seal(b, &lb, (const unsigned char *)"x", 1,
			     NULL, 0, key),
	    PV_OK);
	assert_int_equal(la, lb);
	assert_memory_not_equal(a, b, la);
}

static char keydir[64];

static void
make_keydir(void)
{
	strcpy(keydir, "/tmp/pv-test-keys-XXXXXX");
	assert_non_null(mkdtemp(keydir));
}

static void
rm_keydir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
	assert_int_equal(system(cmd), 0);
}

static void
test_keyring_wrap_rotate_retire(void **state)
{
	struct pv_keyring *kr;
	unsigned char dek[PV_DEK_BYTES], w1[PV_WRAPPED_DEK_BYTES],
	    w2[PV_WRAPPED_DEK_BYTES];
	unsigned char *out = pv_secret_alloc(PV_DEK_BYTES);
	uint32_t v1, v2, nv, versions[8];

	(void)state;
	make_keydir();
	assert_int_equal(pv_keyring_create(keydir), PV_OK);
	assert_int_equal(pv_keyring_open(keydir, &kr), PV_OK);
	assert_int_equal(pv_keyring_current(kr), 1);
	pv_random_bytes(dek, sizeof(dek));
	assert_int_equal(pv_keyring_wrap(kr, "patient-a", dek, w1, &v1), PV_OK);
	assert_int_equal(v1, 1);
	assert_int_equal(pv_keyring_unwrap(kr, "patient-a", v1, w1, out),
	    PV_OK);
	assert_memory_equal(out, dek, PV_DEK_BYTES);
	/* A wrapped key copied to another patient or version does not open. */
	assert_int_equal(pv_keyring_unwrap(kr, "patient-b", v1, w1, out),
	    PV_ECRYPTO);

	assert_int_equal(pv_keyring_add_version(kr, &nv), PV_OK);
	assert_int_equal(nv, 2);
	assert_int_equal(pv_keyring_current(kr), 2);
	assert_int_equal(pv_keyring_wrap(kr, "patient-a", dek, w2, &v2), PV_OK);
	assert_int_equal(v2, 2);
	assert_int_equal(pv_keyring_unwrap(kr, "patient-a", 1, w2, out),
	    PV_ECRYPTO);
	assert_int_equal(pv_keyring_unwrap(kr, "patient-a", 2, w2, out), PV_OK);
	assert_int_equal(pv_keyring_versions(kr, versions, 8), 2);

	assert_int_equal(pv_keyring_retire(kr, 2), PV_EINVAL); /* current */
	assert_int_equal(pv_keyring_retire(kr, 1), PV_OK);
	assert_int_equal(pv_keyring_unwrap(kr, "patient-a", 1, w1, out),
	    PV_ENOTFOUND);
	assert_int_equal(pv_keyring_versions(kr, versions, 8), 1);
	pv_keyring_close(kr);
	pv_secret_free(out, PV_DEK_BYTES);
	rm_keydir();
}

static void
test_keyfile_modes(void **state)
{
	unsigned char k[PV_KEY_BYTES] = { 1 }, *out;
	char path[128];

	(void)state;
	make_keydir();
	snprintf(path, sizeof(path), "%s/k.key", keydir);
	out = pv_secret_alloc(PV_KEY_BYTES);
	assert_int_equal(pv_keyfile_create(path, k, sizeof(k)), PV_OK);
	assert_int_equal(pv_keyfile_create(path, k, sizeof(k)), PV_EEXISTS);
	assert_int_equal(pv_keyfile_read(path, out, PV_KEY_BYTES), PV_OK);
	assert_int_equal(pv_keyfile_read(path, out, 16), PV_EDENIED);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pv_keyfile_read(path, out, PV_KEY_BYTES), PV_EDENIED);
	assert_int_equal(pv_keyfile_destroy(path, PV_KEY_BYTES), PV_OK);
	assert_int_equal(access(path, F_OK), -1);
	pv_secret_free(out, PV_KEY_BYTES);
	rm_keydir();
}

static void
test_encodings(void **state)
{
	unsigned char raw[5] = { 0xfb, 0xff, 0x00, 0x10, 0x20 }, back[8];
	char b64[16];
	size_t n;

	(void)state;
	assert_int_equal(pv_b64_encode(raw, 5, b64, sizeof(b64)), PV_OK);
	assert_string_equal(b64, "+/8AECA=");
	assert_int_equal(pv_b64_decode(b64, back, sizeof(back), &n), PV_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(back, raw, 5);
	assert_int_equal(pv_b64url_encode(raw, 5, b64, sizeof(b64)), PV_OK);
	assert_string_equal(b64, "-_8AECA");
	assert_int_equal(pv_b64_decode("!!!", back, sizeof(back), &n),
	    PV_EINVAL);
	assert_int_equal(pv_b64_encode(raw, 5, b64, 4), PV_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aead_roundtrip_and_binding),
		cmocka_unit_test(test_nonces_are_fresh),
		cmocka_unit_test(test_keyring_wrap_rotate_retire),
		cmocka_unit_test(test_keyfile_modes),
		cmocka_unit_test(test_encodings),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
