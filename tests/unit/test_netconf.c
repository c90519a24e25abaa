/* Unit tests for common/netconf.c: the [proxy] and [network] sections as
 * phivault.conf loads them, and the allow-list decision. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static char path[64];

static pv_status
load(struct pv_config *c, const char *text, char *err, size_t errsz)
{
	FILE *f;
	int fd;
	pv_status st;

	strcpy(path, "/tmp/pv-test-net-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	pv_config_defaults(c);
	st = pv_config_load(c, path, err, errsz);
	unlink(path);
	return st;
}

static void
test_defaults(void **state)
{
	struct pv_config c;

	(void)state;
	pv_config_defaults(&c);
	assert_int_equal(c.net.trusted_n, 0); /* PROXY off */
	assert_int_equal(c.net.header_timeout, 3);
	assert_int_equal(c.net.rules_n, 0);
	/* no list: anyone from anywhere, even an unreadable address */
	assert_true(pv_netconf_allows(&c.net, "admin", "root", "203.0.113.1"));
	assert_true(pv_netconf_allows(&c.net, "admin", "root", "unknown"));
}

static void
test_proxy_section(void **state)
{
	struct pv_config c;
	char err[200];
	uint8_t a[PV_IP_BYTES];

	(void)state;
	assert_int_equal(load(&c,
			     "[proxy]\ntrusted = 127.0.0.1, 10.0.0.0/24, ::1\n"
			     "header_timeout = 2s\n",
			     err, sizeof(err)),
	    PV_OK);
	assert_int_equal(c.net.trusted_n, 3);
	assert_int_equal(c.net.header_timeout, 2);
	assert_int_equal(pv_ip_parse("10.0.0.77", a), PV_OK);
	assert_true(pv_netconf_is_trusted(&c.net, a));
	assert_int_equal(pv_ip_parse("10.0.1.1", a), PV_OK);
	assert_false(pv_netconf_is_trusted(&c.net, a));
	/* a repeated key, or an indented continuation line, adds */
	assert_int_equal(load(&c,
			     "[proxy]\ntrusted = 10.0.0.0/8\n"
			     "  192.0.2.1, 192.0.2.2\n"
			     "[proxy]\ntrusted = 192.0.2.3\n",
			     err, sizeof(err)),
	    PV_OK);
	assert_int_equal(c.net.trusted_n, 4);
	assert_int_equal(pv_ip_parse("192.0.2.2", a), PV_OK);
	assert_true(pv_netconf_is_trusted(&c.net, a));
}

static void
expect_rejected(const char *text, const char *why)
{
	struct pv_config c;
	char err[200];

	assert_int_equal(load(&c, text, err, sizeof(err)), PV_EINVAL);
	if (strstr(err, why) == NULL)
		fail_msg("'%s' not in '%s'", why, err);
}

static void
test_fail_closed(void **state)
{
	char big[4096];
	size_t i;

	(void)state;
	expect_rejected("[proxy]\ntrusted = 10.0.0.1/8\n",
	    "not an address or CIDR block: '10.0.0.1/8'");
	expect_rejected("[proxy]\ntrusted =\n", "[proxy] trusted");
	expect_rejected("[proxy]\ntrusted = proxy.example\n", "proxy.example");
	expect_rejected("[proxy]\nheader_timeout = 0\n", "1s to 60s");
	expect_rejected("[proxy]\nheader_timeout = 2m\n", "1s to 60s");
	expect_rejected("[proxy]\ntrusts = 10.0.0.1\n", "unknown setting");
	expect_rejected("[network]\nrole.admins = 10.0.0.0/8\n",
	    "unknown role");
	expect_rejected("[network]\nuser.bad/name = 10.0.0.0/8\n",
	    "not a valid account name");
	expect_rejected("[network]\nuser. = 10.0.0.0/8\n",
	    "not a valid account name");
	expect_rejected("[network]\nadmin = 10.0.0.0/8\n", "expected role.");
	expect_rejected("[network]\ngroup.x = 10.0.0.0/8\n", "expected role.");
	expect_rejected("[network]\nrole.admin = 10.0.0.0/33\n", "10.0.0.0/33");
	expect_rejected("[network]\nrole.admin = 10.0.0.0/8,\n", "role.admin");
	/* too many blocks for one key, over several lines */
	strcpy(big, "[network]\n");
	for (i = 0; i < PV_NET_RULE_BLOCKS_MAX + 1; i++)
		sprintf(big + strlen(big), "role.admin = 10.0.%zu.0/24\n", i);
	expect_rejected(big, "too many blocks");
}

static void
test_allows(void **state)
{
	struct pv_config c;
	char err[200];

	(void)state;
	assert_int_equal(load(&c,
			     "[network]\nrole.admin = 10.0.0.0/8, ::1/128\n"
			     "user.alice = 10.1.0.0/16\n"
			     "client.feed = 192.0.2.7\n",
			     err, sizeof(err)),
	    PV_OK);
	assert_int_equal(c.net.rules_n, 3);
	/* the role's list */
	assert_true(pv_netconf_allows(&c.net, "admin", "root", "10.9.9.9"));
	assert_true(pv_netconf_allows(&c.net, "admin", "root", "::1"));
	assert_true(
	    pv_netconf_allows(&c.net, "admin", "root", "::ffff:10.9.9.9"));
	assert_false(pv_netconf_allows(&c.net, "admin", "root", "127.0.0.1"));
	/* role and account lists both apply: they only narrow */
	assert_true(pv_netconf_allows(&c.net, "admin", "alice", "10.1.2.3"));
	assert_false(pv_netconf_allows(&c.net, "admin", "alice", "10.2.0.1"));
	assert_false(pv_netconf_allows(&c.net, "admin", "alice", "::1"));
	/* an account list alone */
	assert_true(
	    pv_netconf_allows(&c.net, "clinician", "alice", "10.1.0.1"));
	assert_false(
	    pv_netconf_allows(&c.net, "clinician", "alice", "10.2.0.1"));
	/* client.NAME and user.NAME name the same account */
	assert_true(pv_netconf_allows(&c.net, "service", "feed", "192.0.2.7"));
	assert_false(pv_netconf_allows(&c.net, "service", "feed", "192.0.2.8"));
	/* nobody else is restricted */
	assert_true(
	    pv_netconf_allows(&c.net, "clinician", "bob", "203.0.113.5"));
	/* names are exact, not prefixes */
	assert_true(
	    pv_netconf_allows(&c.net, "clinician", "alice2", "1.1.1.1"));
	/* fail closed on an address that cannot be read */
	assert_false(pv_netconf_allows(&c.net, "admin", "root", "unknown"));
	assert_false(pv_netconf_allows(&c.net, "admin", "root", NULL));
	assert_false(pv_netconf_allows(&c.net, "admin", "root", ""));
}

static void
test_repeated_key(void **state)
{
	struct pv_config c;
	char err[200];

	(void)state;
	/* user.alice and client.alice are one account's list; another rule
	 * in between makes the first one's blocks move, not mix */
	assert_int_equal(load(&c,
			     "[network]\nuser.alice = 10.0.0.0/8\n"
			     "role.nurse = 10.0.0.0/8, 192.0.2.0/24\n"
			     "[network]\nclient.alice = 192.0.2.0/24\n"
			     "  198.51.100.0/24\n",
			     err, sizeof(err)),
	    PV_OK);
	assert_int_equal(c.net.rules_n, 2);
	assert_int_equal(c.net.rules[0].n, 3);
	assert_true(pv_netconf_allows(&c.net, "nurse", "alice", "10.0.0.1"));
	assert_true(pv_netconf_allows(&c.net, "nurse", "alice", "192.0.2.1"));
	assert_false(
	    pv_netconf_allows(&c.net, "nurse", "alice", "198.51.100.1"));
	assert_true(
	    pv_netconf_allows(&c.net, "clinician", "alice", "198.51.100.1"));
	assert_false(pv_netconf_allows(&c.net, "nurse", "bob", "198.51.100.1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_proxy_section),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_allows),
		cmocka_unit_test(test_repeated_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
