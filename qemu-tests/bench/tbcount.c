// SPDX-License-Identifier: GPL-2.0
/*
 * tbcount: a QEMU TCG plugin that counts the guest instructions each translation block executes,
 * for `make insnprof` (qemu-tests/bench/insnprof.sh). Under TCG a sampling profiler in the guest
 * sees mostly the idle loop; instruction counts are exact and do not move with the host's load.
 *
 * Control: a thread polls the file given as ctl=PATH every 20 ms. The guest writes "reset" (all
 * counts to zero) or "dump OUT" (one line "PC NINSNS EXECS" per block that ran, merged by start
 * address, to OUT); the plugin empties the file when done, which the guest waits for.
 *
 * Built against QEMU's plugin ABI version 2 with the few functions it uses declared here (their
 * C signatures are QEMU's stable plugin API; qemu-plugin.h is not packaged by Debian).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
enum cb_flags { CB_NO_REGS };

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, vcpu_udata_cb_t cb,
						 enum cb_flags flags, void *userdata);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

__attribute__((visibility("default"))) int qemu_plugin_version = 2;

/* One translation of a block (a block translated again gets a second record). */
struct rec {
	uint64_t pc;
	uint64_t execs;
	uint32_t ninsns;
	struct rec *next;
};

static struct rec *recs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *ctl_path;

static void on_exec(unsigned int vcpu, void *udata)
{
	struct rec *r = udata;

	(void)vcpu;
	__atomic_fetch_add(&r->execs, 1, __ATOMIC_RELAXED);
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct rec *r = calloc(1, sizeof(*r));

	(void)id;
	if (!r)
		return;
	r->pc = qemu_plugin_tb_vaddr(tb);
	r->ninsns = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_lock(&lock);
	r->next = recs;
	recs = r;
	pthread_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, CB_NO_REGS, r);
}

static int by_pc(const void *a, const void *b)
{
	const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static void dump(const char *out)
{
	size_t n = 0, i;
	struct rec *r, **v;
	FILE *f = fopen(out, "w");

	if (!f)
		return;
	pthread_mutex_lock(&lock);
	/* Every record: blocks keep running (and counting) while this copies. */
	for (r = recs; r; r = r->next)
		n++;
	v = calloc(n ? n : 1, sizeof(*v));
	n = 0;
	for (r = recs; r && v; r = r->next)
		v[n++] = r;
	pthread_mutex_unlock(&lock);
	if (v) {
		qsort(v, n, sizeof(*v), by_pc);
		for (i = 0; i < n;) {
			uint64_t pc = v[i]->pc, insns = 0, execs = 0;

			for (; i < n && v[i]->pc == pc; i++) {
				uint64_t e = __atomic_load_n(&v[i]->execs, __ATOMIC_RELAXED);

				insns += e * v[i]->ninsns;
				execs += e;
			}
			if (execs)
				fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", pc, insns, execs);
		}
		free(v);
	}
	fclose(f);
}

static void *poll_ctl(void *arg)
{
	char buf[512];

	(void)arg;
	for (;;) {
		FILE *f = fopen(ctl_path, "r");
		size_t len = 0;

		if (f) {
			len = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[len] = 0;
		if (len) {
			char *nl = strchr(buf, '\n');

			if (nl)
				*nl = 0;
			if (!strcmp(buf, "reset")) {
				pthread_mutex_lock(&lock);
				for (struct rec *r = recs; r; r = r->next)
					__atomic_store_n(&r->execs, 0, __ATOMIC_RELAXED);
				pthread_mutex_unlock(&lock);
			} else if (!strncmp(buf, "dump ", 5)) {
				dump(buf + 5);
			}
			f = fopen(ctl_path, "w");
			if (f)
				fclose(f);
		}
		usleep(20000);
	}
	return NULL;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
							       int argc, char **argv)
{
	pthread_t t;
	int i;

	(void)info;
	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "ctl=", 4))
			ctl_path = argv[i] + 4;
	if (!ctl_path) {
		fprintf(stderr, "tbcount: ctl=PATH required\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
	if (pthread_create(&t, NULL, poll_ctl, NULL))
		return -1;
	pthread_detach(t);
	return 0;
}
