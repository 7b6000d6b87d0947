/*
 * sockshim.c: an LD_PRELOAD shim for the SSH tests that makes socket
 * conditions certain which are otherwise rare or a matter of timing. Built
 * by the test that needs it (tests/lib/shim.sh), preloaded into the daemon
 * only. Each behaviour is off unless its variable is set:
 *
 *  SHIM_EAGAIN_LEN=N SHIM_PORT=P
 *	A send() of exactly N bytes on the TCP connection to port P fails with
 *	EAGAIN, as when the send buffer is full at that moment; the next send
 *	of that size goes through, so every other such send is refused. With
 *	aes*-ctr and hmac-sha2-256, N = 48 is every SSH packet of up to 7 bytes
 *	of payload: CHANNEL_EOF, CHANNEL_CLOSE, CHANNEL_FAILURE.
 *  SHIM_LOG=FILE
 *	A line in FILE for each send refused, so a test can tell that the
 *	condition it is about really happened.
 *  SHIM_SNDBUF=N
 *	Every socket that accept() or accept4() returns gets SO_SNDBUF N: the
 *	bytes the kernel holds toward a local client stay few and fixed
 *	(autotuning grows the buffer to several MiB otherwise).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

static size_t eagain_len;
static int eagain_port;
static const char *log_path;
static int sndbuf;
static int refused_last;

__attribute__((constructor)) static void shim_init(void)
{
	const char *v;

	if ((v = getenv("SHIM_EAGAIN_LEN")) != NULL)
		eagain_len = (size_t)strtoul(v, NULL, 10);
	if ((v = getenv("SHIM_PORT")) != NULL)
		eagain_port = atoi(v);
	if ((v = getenv("SHIM_SNDBUF")) != NULL)
		sndbuf = atoi(v);
	log_path = getenv("SHIM_LOG");
}

static int to_port(int fd, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port) == port;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port;
	return 0;
}

static void note(size_t len)
{
	char line[64];
	int fd, n;

	if (!log_path)
		return;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "refused send of %zu bytes\n", len);
	if (write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	static ssize_t (*real_send)(int, const void *, size_t, int);

	if (!real_send)
		real_send = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	if (eagain_len && len == eagain_len && to_port(fd, eagain_port)) {
		refused_last = !refused_last;
		if (refused_last) {
			note(len);
			errno = EAGAIN;
			return -1;
		}
	}
	return real_send(fd, buf, len, flags);
}

static int shrink(int fd)
{
	if (fd >= 0 && sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return fd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	static int (*real_accept)(int, struct sockaddr *, socklen_t *);

	if (!real_accept)
		real_accept =
		    (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
	return shrink(real_accept(fd, addr, len));
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);

	if (!real_accept4)
		real_accept4 =
		    (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
	return shrink(real_accept4(fd, addr, len, flags));
}
