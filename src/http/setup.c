/*
 * setup.c — what starting the server reads from the configuration: the
 * TLS files, the listen address, the pool sizes.
 *
 * Guarantees: a listen address is numeric host:port (no name lookup);
 * a relative TLS or policy path is relative to the vault directory; the
 * key file's bytes are returned in memory the caller wipes.
 */
#include "http/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

pv_status
pv_setup_read_file(const char *path, char **out, size_t *len)
{
	struct stat sb;
	char *buf;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PV_EIO;
	if (fstat(fd, &sb) != 0 || sb.st_size <= 0 || sb.st_size > 1 << 20) {
		close(fd);
		return PV_EIO;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return PV_ENOMEM;
	}
	while (off < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)sb.st_size - off);
		if (n <= 0) {
			close(fd);
			free(buf);
			return PV_EIO;
		}
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return PV_OK;
}

pv_status
pv_setup_tls_path(struct pv_vault *v, const char *conf, char *out, size_t outsz)
{
	if (conf[0] == '/')
		return pv_strlcpy(out, conf, outsz);
	return pv_vault_path(v, conf, out, outsz);
}

/* Parses "host:port" / "[v6]:port" into a sockaddr. */
pv_status
pv_setup_parse_listen(const char *listen, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon;
	char *end;
	unsigned long port;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(listen, ':');
	if (colon == NULL)
		return PV_EINVAL;
	hlen = (size_t)(colon - listen);
	if (hlen == 0 || hlen >= sizeof(host))
		return PV_EINVAL;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || colon[1] == '\0' || port > 65535)
		return PV_EINVAL;
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1
		    ? PV_OK
		    : PV_EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? PV_OK : PV_EINVAL;
}

unsigned
pv_setup_pool_size(const struct pv_config *cfg)
{
	long n;

	if (cfg->threads > 0)
		return (unsigned)cfg->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 2;
}

/* Argon2id workers: default half the CPUs, at least one. */
unsigned
pv_setup_hash_workers(const struct pv_config *cfg)
{
	long n;

	if (cfg->hash_workers > 0)
		return (unsigned)cfg->hash_workers;
	n = sysconf(_SC_NPROCESSORS_ONLN) / 2;
	return n > 0 ? (unsigned)n : 1;
}
