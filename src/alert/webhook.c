/*
 * webhook.c — the HTTP(S) webhook alert sink.
 *
 * One delivery thread drains a bounded ring of rendered alerts and POSTs
 * each as application/json with libcurl (TLS verification on; [alerts]
 * webhook_cafile may name the CA of a private receiver). A failed POST is
 * retried with exponential backoff (0.5 s doubling, 5 attempts). When the
 * ring is full the oldest alert is dropped and counted
 * (phivault_alerts_dropped_total): the file and syslog sinks still have
 * it. pv_webhook_send never blocks on the network.
 */
#include "alert/alert.h"
#include "common/log.h"
#include "common/metrics.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 1024
#define ATTEMPTS 5
#define TIMEOUT_MS 5000L

struct pv_webhook {
	char url[PV_CONF_STR_MAX];
	char cafile[PV_CONF_STR_MAX];
	pthread_mutex_t lock;
	pthread_cond_t cv;
	char *ring[RING];
	size_t head, n;
	bool is_stopping;
	time_t stop_deadline; /* drain at most this long at stop */
	pthread_t thread;
};

pv_status pv_webhook_start(const char *url, const char *cafile,
    struct pv_webhook **out);
void pv_webhook_send(struct pv_webhook *w, const char *json);
void pv_webhook_stop(struct pv_webhook *w);

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

static bool
post(struct pv_webhook *w, CURL *c, const char *body)
{
	struct curl_slist *h =
	    curl_slist_append(NULL, "Content-Type: application/json");
	long code = 0;
	CURLcode rc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	    w->is_stopping ? 1000L : TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (w->cafile[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, w->cafile);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	return rc == CURLE_OK && code >= 200 && code < 300;
}

/* Sleeps up to ms, waking early when stopping. Caller holds the lock. */
static void
wait_ms(struct pv_webhook *w, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (!w->is_stopping)
		pthread_cond_timedwait(&w->cv, &w->lock, &ts);
}

static void *
deliver(void *arg)
{
	struct pv_webhook *w = arg;
	CURL *c = curl_easy_init();

	pthread_mutex_lock(&w->lock);
	for (;;) {
		char *body;
		long backoff = 500;
		int i;
		bool ok = false;

		while (w->n == 0 && !w->is_stopping)
			pthread_cond_wait(&w->cv, &w->lock);
		if (w->n == 0 ||
		    (w->is_stopping && time(NULL) > w->stop_deadline))
			break;
		body = w->ring[w->head];
		w->ring[w->head] = NULL;
		w->head = (w->head + 1) % RING;
		w->n--;
		for (i = 0; i < ATTEMPTS && !ok && c != NULL; i++) {
			pthread_mutex_unlock(&w->lock);
			ok = post(w, c, body);
			pthread_mutex_lock(&w->lock);
			if (!ok && i + 1 < ATTEMPTS && !w->is_stopping) {
				wait_ms(w, backoff);
				backoff *= 2;
			}
			if (w->is_stopping && !ok)
				break;
		}
		if (!ok) {
			pv_metric_inc(PV_M_ALERTS_DROPPED);
			pv_log(PV_LOG_WARN, "alert_webhook_failed", NULL,
			    (const char *)NULL);
		}
		free(body);
	}
	pthread_mutex_unlock(&w->lock);
	if (c != NULL)
		curl_easy_cleanup(c);
	return NULL;
}

pv_status
pv_webhook_start(const char *url, const char *cafile, struct pv_webhook **out)
{
	struct pv_webhook *w;

	*out = NULL;
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return PV_EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return PV_ENOMEM;
	if (pv_strlcpy(w->url, url, sizeof(w->url)) != PV_OK ||
	    (cafile != NULL &&
		pv_strlcpy(w->cafile, cafile, sizeof(w->cafile)) != PV_OK)) {
		free(w);
		return PV_EINVAL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, deliver, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return PV_EINTERNAL;
	}
	*out = w;
	return PV_OK;
}

void
pv_webhook_send(struct pv_webhook *w, const char *json)
{
	char *copy;

	if (w == NULL || (copy = strdup(json)) == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->n == RING) { /* full: drop the oldest */
		free(w->ring[w->head]);
		w->ring[w->head] = NULL;
		w->head = (w->head + 1) % RING;
		w->n--;
		pv_metric_inc(PV_M_ALERTS_DROPPED);
	}
	w->ring[(w->head + w->n) % RING] = copy;
	w->n++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

void
pv_webhook_stop(struct pv_webhook *w)
{
	size_t i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->is_stopping = true;
	w->stop_deadline = time(NULL) + 2;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (i = 0; i < RING; i++)
		free(w->ring[i]);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	free(w);
	curl_global_cleanup();
}
