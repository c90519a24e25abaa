/*
 * tlscert.c — the self-signed development certificate `init` writes.
 *
 * An ECDSA P-256 key and an X.509 v3 certificate for localhost and
 * 127.0.0.1, valid one year, made with GnuTLS (the TLS library the server
 * runs on). Production vaults replace tls/cert.pem and tls/key.pem with
 * certificates from their own CA; nothing else changes.
 */
#include "crypto/crypto.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static pv_status
write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	size_t off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return PV_EIO;
	while (off < n) {
		ssize_t w = write(fd, (const char *)data + off, n - off);
		if (w <= 0) {
			close(fd);
			return PV_EIO;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		close(fd);
		return PV_EIO;
	}
	close(fd);
	return PV_OK;
}

static int
fill_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	static const unsigned char loopback[4] = { 127, 0, 0, 1 };
	unsigned char serial[16];
	time_t now = time(NULL);
	int rc;

	randombytes_buf(serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive INTEGER */
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) <
		0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now - 60)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, now + 365 * 86400)) <
		0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt,
		 GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9)) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
		 "localhost", 9, GNUTLS_FSAN_SET)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt,
		 GNUTLS_SAN_IPADDRESS, loopback, 4, GNUTLS_FSAN_APPEND)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
		 GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
		 GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
		return rc;
	return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

pv_status
pv_tlscert_generate(const char *cert_path, const char *key_path)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kpem = { NULL, 0 }, cpem = { NULL, 0 };
	pv_status st = PV_EINTERNAL;

	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		goto done;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    fill_cert(crt, key) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
		GNUTLS_PKCS_PLAIN, &kpem) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem) < 0)
		goto done;
	if ((st = write_file(key_path, kpem.data, kpem.size, 0600)) != PV_OK)
		goto done;
	st = write_file(cert_path, cpem.data, cpem.size, 0600);
done:
	if (kpem.data != NULL) {
		sodium_memzero(kpem.data, kpem.size);
		gnutls_free(kpem.data);
	}
	gnutls_free(cpem.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return st;
}

pv_status
pv_tlscert_expiry(const char *cert_path, int64_t *not_after)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	pv_status st = PV_EINVAL;
	time_t t;

	if (gnutls_load_file(cert_path, &pem) < 0)
		return PV_EIO;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) >= 0 &&
	    (t = gnutls_x509_crt_get_expiration_time(crt)) != (time_t)-1) {
		*not_after = (int64_t)t;
		st = PV_OK;
	}
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	return st;
}
