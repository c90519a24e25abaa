/*
 * netconf.h — the [proxy] and [network] sections of phivault.conf: which
 * peers may speak the PROXY protocol, and from which addresses an
 * account may act (docs/CONFIG.md).
 *
 *   [proxy]
 *   trusted = 10.0.0.5/32, 10.0.0.6/32   ; PROXY v2 only from these
 *   header_timeout = 3s                  ; to send the whole header
 *
 *   [network]
 *   role.admin = 10.20.0.0/16, ::1/128   ; every admin account
 *   user.alice = 192.0.2.0/24            ; the account named alice
 *   client.lab-feed = 198.51.100.7       ; a service client (same thing:
 *                                        ; accounts share one namespace)
 *
 * The rule of [network]: every list that names the caller — its role's
 * and its account's — must contain the caller's address (after PROXY);
 * a caller no list names may act from anywhere. Lists only narrow.
 * A list key given again (or continued on an indented line, which inih
 * hands over as the same key again) adds to its list: one INI line holds
 * at most 200 bytes. Blocks are parsed by cidr.h (strict: a typo stops
 * start-up).
 *
 * Plain data inside struct pv_config: no pointers, nothing to free.
 */
#ifndef PV_COMMON_NETCONF_H
#define PV_COMMON_NETCONF_H

#include "common/cidr.h"
#include "common/domain.h"

#define PV_NET_TRUSTED_MAX 64 /* blocks in [proxy] trusted */
#define PV_NET_RULES_MAX 64 /* keys in [network] */
#define PV_NET_BLOCKS_MAX 512 /* blocks of all [network] keys together */
#define PV_NET_RULE_BLOCKS_MAX 32 /* blocks of one [network] key */

enum pv_net_kind { PV_NET_ROLE = 1, PV_NET_ACCOUNT };

struct pv_net_rule {
	uint8_t kind; /* enum pv_net_kind */
	char name[PV_USERNAME_MAX + 1]; /* role or account name */
	uint16_t first, n; /* blocks[first .. first + n) */
};

struct pv_netconf {
	/* [proxy] */
	struct pv_cidr trusted[PV_NET_TRUSTED_MAX];
	size_t trusted_n; /* 0: the PROXY protocol is off */
	int64_t header_timeout; /* seconds to send the header */
	/* [network] */
	struct pv_net_rule rules[PV_NET_RULES_MAX];
	size_t rules_n;
	struct pv_cidr blocks[PV_NET_BLOCKS_MAX];
	size_t blocks_n;
};

/* Defaults: no trusted proxy, no allow-list, header_timeout 3 s. */
void pv_netconf_defaults(struct pv_netconf *nc);

/*
 * One key of [proxy] or [network] (section names which). PV_EINVAL with
 * a one-line reason in err for an unknown key, a bad value or a full
 * table; the reason names the key and at most the offending block (no
 * secrets live here).
 */
PV_MUST_CHECK pv_status pv_netconf_set(struct pv_netconf *nc,
    const char *section, const char *key, const char *value, char *err,
    size_t errsz);

/* True when ip (16-byte form, cidr.h) is inside [proxy] trusted. */
bool pv_netconf_is_trusted(const struct pv_netconf *nc,
    const uint8_t ip[PV_IP_BYTES]);

/*
 * The [network] decision for an account (its role and name) acting from
 * ip (text form, e.g. "10.0.0.7" or "::1"): true when every list naming
 * the role or the account contains ip. Fails closed: when a list applies
 * and ip does not parse (NULL, "unknown"), false.
 */
bool pv_netconf_allows(const struct pv_netconf *nc, const char *role,
    const char *account, const char *ip);

#endif
