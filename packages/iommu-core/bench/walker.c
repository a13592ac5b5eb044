/*
 * The native yardstick of `pnpm bench` (iommu-core): a plain radix page table in C doing the same
 * stores as the JavaScript cases "map 256x4K in one call" and "unmap 256x4K in one call", with the
 * same timing protocol (64 ranges 4 MiB apart per round, setup outside the timed window, median
 * round). bench/run.mjs compiles it with the system cc and prints JS/C ratios from the same run:
 * absolute times on shared VMs swing too much to compare with a number measured elsewhere.
 *
 * Four levels of 512 64-bit entries, one descent per call that keeps its leaf table while the
 * run stays inside it; a present entry stops a map (the engine's conflict check), an empty one
 * stops an unmap. No reach counters or accounting: the ratio shows what the model's bookkeeping
 * and layers cost on top of the bare stores.
 *
 * usage: walker PAGES ROUNDS   ->   {"pages":256,"map_ns":...,"unmap_ns":...}
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRIES 512
#define RANGES 64
#define WARMUP 100

typedef uint64_t entry_t;

static entry_t *table_new(void)
{
	entry_t *t = aligned_alloc(4096, ENTRIES * sizeof(entry_t));
	if (!t) { perror("aligned_alloc"); exit(1); }
	memset(t, 0, ENTRIES * sizeof(entry_t));
	return t;
}

/* The level-0 table holding page `va`, allocating the path to it on the way down. */
static entry_t *descend(entry_t *top, uint64_t va)
{
	entry_t *t = top;
	for (int shift = 27; shift > 0; shift -= 9) {
		entry_t *e = &t[(va >> shift) & (ENTRIES - 1)];
		if (*e == 0) *e = (entry_t)(uintptr_t)table_new() | 1;
		t = (entry_t *)(uintptr_t)(*e & ~(entry_t)0xfff);
	}
	return t;
}

static long map_pages(entry_t *top, uint64_t va, uint64_t pfn, long n)
{
	long done = 0;
	while (done < n) {
		entry_t *t = descend(top, va + done);
		long i = (long)((va + done) & (ENTRIES - 1));
		for (; i < ENTRIES && done < n; i++, done++) {
			if (t[i] != 0) return -16;
			t[i] = ((pfn + done) << 12) | 3;
		}
	}
	return done;
}

static long unmap_pages(entry_t *top, uint64_t va, long n)
{
	long done = 0;
	while (done < n) {
		entry_t *t = descend(top, va + done);
		long i = (long)((va + done) & (ENTRIES - 1));
		for (; i < ENTRIES && done < n; i++, done++) {
			if (t[i] == 0) return done;
			t[i] = 0;
		}
	}
	return done;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static uint64_t range_va(int k) { return 0x100000 + (uint64_t)k * 1024; }

int main(int argc, char **argv)
{
	long pages = argc > 1 ? atol(argv[1]) : 256;
	int rounds = argc > 2 ? atoi(argv[2]) : 300;
	if (pages < 1 || pages > 1024 || rounds < 1) { fprintf(stderr, "usage: walker PAGES(1..1024) ROUNDS\n"); return 2; }
	entry_t *top = table_new();
	double *map_s = malloc(sizeof(double) * rounds), *unmap_s = malloc(sizeof(double) * rounds);
	volatile long sink = 0;
	for (int r = 0; r < rounds + WARMUP; r++) {
		double t0 = now_ns();
		for (int k = 0; k < RANGES; k++) sink += map_pages(top, range_va(k), 1 + (uint64_t)k * 1024, pages);
		double t1 = now_ns();
		for (int k = 0; k < RANGES; k++) sink += unmap_pages(top, range_va(k), pages);
		double t2 = now_ns();
		if (r >= WARMUP) { map_s[r - WARMUP] = (t1 - t0) / RANGES; unmap_s[r - WARMUP] = (t2 - t1) / RANGES; }
	}
	qsort(map_s, rounds, sizeof(double), cmp_double);
	qsort(unmap_s, rounds, sizeof(double), cmp_double);
	printf("{\"pages\":%ld,\"map_ns\":%.1f,\"unmap_ns\":%.1f,\"sink\":%ld}\n", pages, map_s[rounds / 2], unmap_s[rounds / 2], (long)sink);
	return 0;
}
