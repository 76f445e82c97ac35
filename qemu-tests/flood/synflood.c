// SPDX-License-Identifier: GPL-2.0
/*
 * synflood DST_IP DST_PORT COUNT [FIRST_SRC]
 *
 * Sends COUNT TCP SYNs to DST_IP:DST_PORT, the i-th from source address FIRST_SRC + i (default
 * 100.64.0.1, so every SYN comes from a different, spoofed address) and a pseudo-random source
 * port, through a raw IPv4 socket in batches (sendmmsg). Prints "sent N in S s (R pps)".
 * For the VM flood test only: run it inside a test network namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256

struct syn {
	struct iphdr ip;
	struct tcphdr tcp;
} __attribute__((packed));

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint16_t *w = p;

	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t rnd_state = 0x12345678;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

int main(int argc, char **argv)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	static struct syn pk[BATCH];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct timespec t0, t1;
	unsigned long count, sent = 0, i;
	uint32_t first = ntohl(inet_addr("100.64.0.1"));
	int fd, sndbuf = 4 << 20;
	double secs;

	if (argc < 4 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: %s DST_IP DST_PORT COUNT [FIRST_SRC]\n", argv[0]);
		return 2;
	}
	count = strtoul(argv[3], NULL, 0);
	if (argc > 4) {
		struct in_addr a;

		if (inet_pton(AF_INET, argv[4], &a) != 1) {
			fprintf(stderr, "bad source address %s\n", argv[4]);
			return 2;
		}
		first = ntohl(a.s_addr);
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = &pk[i];
		iov[i].iov_len = sizeof(pk[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < count) {
		unsigned int n = count - sent < BATCH ? count - sent : BATCH, done = 0;

		for (i = 0; i < n; i++) {
			struct syn *s = &pk[i];
			struct {
				uint32_t saddr, daddr;
				uint8_t zero, proto;
				uint16_t len;
			} ph;
			uint32_t c;

			memset(s, 0, sizeof(*s));
			s->ip.version = 4;
			s->ip.ihl = 5;
			s->ip.ttl = 64;
			s->ip.protocol = IPPROTO_TCP;
			s->ip.tot_len = htons(sizeof(*s));
			s->ip.saddr = htonl(first + sent + i);
			s->ip.daddr = dst.sin_addr.s_addr;
			s->tcp.source = htons(1024 + rnd() % 64000);
			s->tcp.dest = htons(atoi(argv[2]));
			s->tcp.seq = htonl(rnd());
			s->tcp.doff = 5;
			s->tcp.syn = 1;
			s->tcp.window = htons(64240);
			ph.saddr = s->ip.saddr;
			ph.daddr = s->ip.daddr;
			ph.zero = 0;
			ph.proto = IPPROTO_TCP;
			ph.len = htons(sizeof(s->tcp));
			c = sum16(&ph, sizeof(ph), 0);
			s->tcp.check = fold(sum16(&s->tcp, sizeof(s->tcp), c));
		}
		while (done < n) {
			int r = sendmmsg(fd, msgs + done, n - done, 0);

			if (r < 0) {
				if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
					usleep(100);
					continue;
				}
				perror("sendmmsg");
				return 1;
			}
			done += r;
		}
		sent += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("sent %lu in %.1f s (%.0f pps)\n", sent, secs, sent / secs);
	return 0;
}
