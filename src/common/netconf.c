/*
 * netconf.c — the [proxy] and [network] sections (see netconf.h).
 *
 * Guarantees: a role key names a known role, an account key a valid
 * account name; every block parses strictly (cidr.c); the tables are
 * bounded (a full table is a configuration error, never a silent drop);
 * the decision fails closed on an address it cannot read. Reasons
 * written to err are constant text plus the key and at most 40 bytes of
 * the offending block.
 */
#include "common/netconf.h"
#include "common/config.h"

#include <string.h>

void
pv_netconf_defaults(struct pv_netconf *nc)
{
	memset(nc, 0, sizeof(*nc));
	nc->header_timeout = 3;
}

static pv_status
refuse(char *err, size_t errsz, const char *section, const char *key,
    const char *why, const char *bad)
{
	if (pv_snprintf(err, errsz, "[%s] %.80s: %s%s%.40s%s", section, key,
		why, bad[0] != '\0' ? " '" : "", bad,
		bad[0] != '\0' ? "'" : "") != PV_OK)
		PV_IGNORE(pv_strlcpy(err, "invalid network setting", errsz));
	return PV_EINVAL;
}

static pv_status
set_proxy(struct pv_netconf *nc, const char *key, const char *value, char *err,
    size_t errsz)
{
	char bad[PV_CIDR_TEXT_MAX];
	int64_t secs;
	size_t n;
	pv_status st;

	if (strcmp(key, "trusted") == 0) {
		/* A repeated or continued key adds to the list. */
		st = pv_cidr_list_parse(value, nc->trusted + nc->trusted_n,
		    PV_NET_TRUSTED_MAX - nc->trusted_n, &n, bad, sizeof(bad));
		if (st == PV_OK) {
			nc->trusted_n += n;
			return PV_OK;
		}
		return refuse(err, errsz, "proxy", key,
		    st == PV_ETOOBIG ? "too many blocks at"
				     : "not an address or CIDR block:",
		    bad);
	}
	if (strcmp(key, "header_timeout") == 0) {
		if (pv_config_parse_duration(value, &secs) != PV_OK ||
		    secs < 1 || secs > 60)
			return refuse(err, errsz, "proxy", key,
			    "expected a duration of 1s to 60s", "");
		nc->header_timeout = secs;
		return PV_OK;
	}
	return refuse(err, errsz, "proxy", key, "unknown setting", "");
}

/* The rule for (kind, name): the existing one, else a new empty one. */
static struct pv_net_rule *
rule_slot(struct pv_netconf *nc, enum pv_net_kind kind, const char *name)
{
	struct pv_net_rule *r;
	size_t i;

	for (i = 0; i < nc->rules_n; i++)
		if (nc->rules[i].kind == kind &&
		    strcmp(nc->rules[i].name, name) == 0)
			return &nc->rules[i];
	if (nc->rules_n >= PV_NET_RULES_MAX)
		return NULL;
	r = &nc->rules[nc->rules_n++];
	memset(r, 0, sizeof(*r));
	r->kind = (uint8_t)kind;
	PV_IGNORE(pv_strlcpy(r->name, name, sizeof(r->name)));
	r->first = (uint16_t)nc->blocks_n;
	return r;
}

/* Makes r's blocks the last of the table, so more can follow them (a
 * repeated key): moved to the end when another rule came after. */
static bool
rule_to_end(struct pv_netconf *nc, struct pv_net_rule *r)
{
	if ((size_t)r->first + r->n == nc->blocks_n)
		return true;
	if (nc->blocks_n + r->n > PV_NET_BLOCKS_MAX)
		return false;
	memcpy(nc->blocks + nc->blocks_n, nc->blocks + r->first,
	    r->n * sizeof(nc->blocks[0]));
	r->first = (uint16_t)nc->blocks_n;
	nc->blocks_n += r->n;
	return true;
}

static pv_status
set_network(struct pv_netconf *nc, const char *key, const char *value,
    char *err, size_t errsz)
{
	const char *dot = strchr(key, '.'), *name;
	struct pv_net_rule *r;
	enum pv_net_kind kind;
	char bad[PV_CIDR_TEXT_MAX];
	size_t n, room;
	pv_status st;

	if (dot == NULL)
		return refuse(err, errsz, "network", key,
		    "expected role.NAME, user.NAME or client.NAME", "");
	name = dot + 1;
	if ((size_t)(dot - key) == 4 && strncmp(key, "role", 4) == 0) {
		if (!pv_role_is_known(name))
			return refuse(err, errsz, "network", key,
			    "unknown role", "");
		kind = PV_NET_ROLE;
	} else if (((size_t)(dot - key) == 4 && strncmp(key, "user", 4) == 0) ||
	    ((size_t)(dot - key) == 6 && strncmp(key, "client", 6) == 0)) {
		/* Users and service clients share one name space. */
		if (!pv_username_is_valid(name))
			return refuse(err, errsz, "network", key,
			    "not a valid account name", "");
		kind = PV_NET_ACCOUNT;
	} else {
		return refuse(err, errsz, "network", key,
		    "expected role.NAME, user.NAME or client.NAME", "");
	}
	if ((r = rule_slot(nc, kind, name)) == NULL)
		return refuse(err, errsz, "network", key,
		    "too many [network] keys", "");
	/* A repeated or continued key adds to its list. */
	if (!rule_to_end(nc, r))
		return refuse(err, errsz, "network", key,
		    "too many blocks in [network]", "");
	room = PV_NET_BLOCKS_MAX - nc->blocks_n;
	if (room > (size_t)PV_NET_RULE_BLOCKS_MAX - r->n)
		room = (size_t)PV_NET_RULE_BLOCKS_MAX - r->n;
	st = pv_cidr_list_parse(value, nc->blocks + nc->blocks_n, room, &n, bad,
	    sizeof(bad));
	if (st != PV_OK)
		return refuse(err, errsz, "network", key,
		    st == PV_ETOOBIG ? "too many blocks at"
				     : "not an address or CIDR block:",
		    bad);
	r->n = (uint16_t)(r->n + n);
	nc->blocks_n += n;
	return PV_OK;
}

pv_status
pv_netconf_set(struct pv_netconf *nc, const char *section, const char *key,
    const char *value, char *err, size_t errsz)
{
	if (strcmp(section, "proxy") == 0)
		return set_proxy(nc, key, value, err, errsz);
	return set_network(nc, key, value, err, errsz);
}

bool
pv_netconf_is_trusted(const struct pv_netconf *nc,
    const uint8_t ip[PV_IP_BYTES])
{
	return pv_cidr_list_contains(nc->trusted, nc->trusted_n, ip);
}

bool
pv_netconf_allows(const struct pv_netconf *nc, const char *role,
    const char *account, const char *ip)
{
	uint8_t addr[PV_IP_BYTES];
	bool has_addr = pv_ip_parse(ip, addr) == PV_OK;
	size_t i;

	for (i = 0; i < nc->rules_n; i++) {
		const struct pv_net_rule *r = &nc->rules[i];
		const char *who = r->kind == PV_NET_ROLE ? role : account;

		if (who == NULL || strcmp(r->name, who) != 0)
			continue;
		if (!has_addr ||
		    !pv_cidr_list_contains(nc->blocks + r->first, r->n, addr))
			return false;
	}
	return true;
}
