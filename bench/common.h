/* Helpers shared by the C benchmark programs (rcgc_bench.c, boehm_bench.c). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double ms_since(uint64_t t0, uint64_t t1) { return (double)(t1 - t0) / 1e6; }

/* Resident set size of this process in bytes (/proc/self/statm, second field). */
static inline long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident * (long long)sysconf(_SC_PAGESIZE);
}

static inline void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* The result line the harness parses: RESULT {"key": value, ...}.
 * result_begin(); result_num("ms", 1.5); result_int("found", 2); result_end(); */
static int result_first_field;
static inline void result_begin(void) {
    fputs("RESULT {", stdout);
    result_first_field = 1;
}
static inline void result_sep(void) {
    if (!result_first_field) fputs(", ", stdout);
    result_first_field = 0;
}
static inline void result_num(const char *k, double v) {
    result_sep();
    printf("\"%s\": %.6f", k, v);
}
static inline void result_int(const char *k, long long v) {
    result_sep();
    printf("\"%s\": %lld", k, v);
}
static inline void result_str(const char *k, const char *v) {
    result_sep();
    printf("\"%s\": \"%s\"", k, v);
}
static inline void result_end(void) {
    fputs("}\n", stdout);
    fflush(stdout);
}

/* Default sizes: DESIGN.md's workloads. */
#define N_CYCLES2 500000L     /* 2-cycles: 1,000,000 objects */
#define N_SELFCYCLE 1000000L
#define N_LIST 1000000L
#define TREE_DEPTH 19         /* 2^20 - 1 = 1,048,575 nodes */
#define N_CHURN 10000000L
#define N_RCOPS 100000000L
#define BT_DEPTH 18

static inline long arg_long(int argc, char **argv, int i, long dflt) {
    if (argc > i && strcmp(argv[i], "-") != 0) return strtol(argv[i], NULL, 10);
    return dflt;
}

#endif
