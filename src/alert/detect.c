/*
 * detect.c — intrusion detection rules over what the server sees.
 *
 *   brute_force          an account locked out by failed logins
 *   credential_stuffing  one address failing logins on many accounts
 *                        ([alerts] stuffing_accounts distinct names)
 *   snooping             one actor reaching an unusual number of distinct
 *                        patients ([alerts] snoop_patients within
 *                        snoop_window)
 * (replay, forged signatures, break-glass, decrypt failures and audit
 * verification failures are raised where they are detected.)
 *
 * State is in memory and bounded: fixed tables with least-recently-seen
 * eviction. Each rule fires once per key per window (no alert storms).
 */
#include "alert/alert.h"
#include "crypto/crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ACTORS 4096
#define ADDRS 4096
#define SEEN_MAX 256 /* distinct patients remembered per actor */

struct actor_state {
	int64_t actor;
	int64_t window_start;
	uint64_t seen[SEEN_MAX];
	size_t n;
	bool has_fired;
	int64_t last;
};

struct addr_state {
	char ip[64];
	int64_t fired_at;
};

struct pv_detect {
	pthread_mutex_t lock;
	struct pv_alerts *alerts;
	int64_t snoop_n, snoop_window, stuffing_n;
	struct actor_state *actors;
	struct addr_state *addrs;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

pv_status
pv_detect_new(const struct pv_config *cfg, struct pv_alerts *a,
    struct pv_detect **out)
{
	struct pv_detect *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return PV_ENOMEM;
	d->actors = calloc(ACTORS, sizeof(*d->actors));
	d->addrs = calloc(ADDRS, sizeof(*d->addrs));
	if (d->actors == NULL || d->addrs == NULL) {
		pv_detect_free(d);
		return PV_ENOMEM;
	}
	d->alerts = a;
	d->snoop_n =
	    cfg->snoop_patients < SEEN_MAX ? cfg->snoop_patients : SEEN_MAX;
	d->snoop_window = cfg->snoop_window;
	d->stuffing_n = cfg->stuffing_accounts;
	randombytes_buf(d->hkey, sizeof(d->hkey));
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return PV_OK;
}

void
pv_detect_free(struct pv_detect *d)
{
	if (d == NULL)
		return;
	free(d->actors);
	free(d->addrs);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static uint64_t
h64(const struct pv_detect *d, const char *s)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)s, strlen(s), d->hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

void
pv_detect_lockout(struct pv_detect *d, int64_t user_id, const char *ip,
    const char *rid)
{
	if (d == NULL)
		return;
	pv_alert(d->alerts, "brute_force", "high", rid,
	    json_pack("{s:I, s:s}", "actor", (json_int_t)user_id, "source",
		ip));
}

void
pv_detect_failed_logins(struct pv_detect *d, const char *ip,
    int64_t distinct_accounts, int64_t now, const char *rid)
{
	struct addr_state *a;

	if (d == NULL || distinct_accounts < d->stuffing_n)
		return;
	pthread_mutex_lock(&d->lock);
	a = &d->addrs[h64(d, ip) % ADDRS];
	if (strcmp(a->ip, ip) == 0 && now - a->fired_at < 600) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	PV_IGNORE(pv_strlcpy(a->ip, ip, sizeof(a->ip)));
	a->fired_at = now;
	pthread_mutex_unlock(&d->lock);
	pv_alert(d->alerts, "credential_stuffing", "high", rid,
	    json_pack("{s:s, s:I}", "source", ip, "distinct_accounts",
		(json_int_t)distinct_accounts));
}

void
pv_detect_patient_access(struct pv_detect *d, int64_t actor,
    const char *patient, int64_t now, const char *rid)
{
	struct actor_state *s;
	uint64_t ph;
	size_t i;
	bool fire = false;
	int64_t count = 0;

	if (d == NULL || actor <= 0 || patient == NULL || patient[0] == '\0')
		return;
	ph = h64(d, patient);
	pthread_mutex_lock(&d->lock);
	s = &d->actors[(uint64_t)actor % ACTORS];
	if (s->actor != actor || now - s->window_start >= d->snoop_window) {
		memset(s, 0, sizeof(*s));
		s->actor = actor;
		s->window_start = now;
	}
	s->last = now;
	for (i = 0; i < s->n && s->seen[i] != ph; i++)
		;
	if (i == s->n && s->n < SEEN_MAX) {
		s->seen[s->n++] = ph;
		if ((int64_t)s->n >= d->snoop_n && !s->has_fired) {
			s->has_fired = true;
			fire = true;
			count = (int64_t)s->n;
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (fire)
		pv_alert(d->alerts, "snooping", "high", rid,
		    json_pack("{s:I, s:I, s:I}", "actor", (json_int_t)actor,
			"distinct_patients", (json_int_t)count,
			"window_seconds", (json_int_t)d->snoop_window));
}
