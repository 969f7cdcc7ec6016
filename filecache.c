/*
 * filecache.c - the open-file cache (see filecache.h).
 *
 * Entries hang from a power-of-two bucket array by index; eviction is a
 * clock (second chance) over the entries, skipping those in use.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecache.h"

#define SWEEP_SLACK_MS 1000         /* entries expiring this close are closed together */

size_t
file_cache_entry_bytes(void)
{
	/* The bucket array is rounded up to a power of two: two words at most. */
	return sizeof(struct file_cache_entry) + 2 * sizeof(uint32_t);
}

int
file_cache_init(struct file_cache *c, size_t entries, int64_t inactive_ms)
{
	size_t buckets = 1;

	memset(c, 0, sizeof *c);
	c->inactive_ms = inactive_ms;
	c->next_sweep = INT64_MAX;
	if (entries == 0)
		return 0;
	while (buckets < entries)
		buckets <<= 1;
	c->entries = calloc(entries, sizeof *c->entries);
	c->buckets = calloc(buckets, sizeof *c->buckets);
	if (!c->entries || !c->buckets) {
		free(c->entries);
		free(c->buckets);
		c->entries = NULL;
		c->buckets = NULL;
		return -1;
	}
	c->count = entries;
	c->bucket_mask = buckets - 1;
	return 0;
}

/* FNV-1a over the root's descriptor and the path. */
static uint32_t
hash_key(int root_fd, const char *path, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	h = (h ^ (uint32_t)root_fd) * 16777619u;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)path[i]) * 16777619u;
	return h;
}

static uint32_t *
bucket_of(struct file_cache *c, uint32_t hash)
{
	return &c->buckets[hash & c->bucket_mask];
}

static struct file_cache_entry *
find(struct file_cache *c, int root_fd, uint32_t hash, const char *path, size_t len)
{
	uint32_t i = *bucket_of(c, hash);

	while (i != 0) {
		struct file_cache_entry *e = &c->entries[i - 1];

		if (e->hash == hash && e->root_fd == root_fd && e->path_len == len
		    && memcmp(e->path, path, len) == 0)
			return e;
		i = e->next;
	}
	return NULL;
}

static void
unlink_entry(struct file_cache *c, struct file_cache_entry *e)
{
	uint32_t *link = bucket_of(c, e->hash);
	uint32_t self = (uint32_t)(e - c->entries) + 1;

	while (*link != self)
		link = &c->entries[*link - 1].next;
	*link = e->next;
	e->next = 0;
}

static void
close_entry(struct file_cache *c, struct file_cache_entry *e)
{
	close(e->fd);
	e->fd = -1;
	e->state = FC_FREE;
	c->open--;
}

/* Out of the table; the descriptor goes now, or with the last reference. */
static void
drop(struct file_cache *c, struct file_cache_entry *e)
{
	unlink_entry(c, e);
	if (e->refs == 0)
		close_entry(c, e);
	else
		e->state = FC_DOOMED;
}

static void
schedule_sweep(struct file_cache *c, const struct file_cache_entry *e)
{
	int64_t due = e->used_ms + c->inactive_ms + SWEEP_SLACK_MS;

	if (due < c->next_sweep)
		c->next_sweep = due;
}

void
file_cache_tick(struct file_cache *c, int64_t now_ms)
{
	size_t i;
	int64_t next = INT64_MAX;

	c->now_ms = now_ms;
	if (now_ms < c->next_sweep)
		return;
	for (i = 0; i < c->count; i++) {
		struct file_cache_entry *e = &c->entries[i];
		int64_t expires = e->used_ms + c->inactive_ms;

		if (e->state != FC_CACHED || e->refs > 0)
			continue;       /* a release schedules the busy ones */
		if (expires <= now_ms)
			drop(c, e);
		else if (expires + SWEEP_SLACK_MS < next)
			next = expires + SWEEP_SLACK_MS;
	}
	c->next_sweep = next;
}

int64_t
file_cache_deadline(const struct file_cache *c)
{
	return c->next_sweep;
}

static bool
unchanged(const struct file_cache_entry *e, const struct stat *st)
{
	return st->st_nlink != 0 && st->st_nlink == e->nlink
	    && st->st_dev == e->dev && st->st_ino == e->ino
	    && st->st_mode == e->mode && st->st_size == e->size
	    && st->st_mtim.tv_sec == e->mtime.tv_sec
	    && st->st_mtim.tv_nsec == e->mtime.tv_nsec
	    && st->st_ctim.tv_sec == e->ctime.tv_sec
	    && st->st_ctim.tv_nsec == e->ctime.tv_nsec;
}

struct file_cache_entry *
file_cache_get(struct file_cache *c, int root_fd, const char *path, size_t len,
    struct stat *st)
{
	struct file_cache_entry *e;

	if (c->count == 0 || len > FILE_CACHE_PATH_MAX)
		return NULL;
	if (!(e = find(c, root_fd, hash_key(root_fd, path, len), path, len)))
		return NULL;
	if (c->now_ms - e->resolved_ms > FILE_CACHE_RESOLVE_MS
	    || fstat(e->fd, st) < 0 || !unchanged(e, st)) {
		drop(c, e);
		return NULL;
	}
	e->refs++;
	e->referenced = true;
	e->used_ms = c->now_ms;
	return e;
}

/*
 * A free entry, or the first idle one the clock hand finds not hit since
 * it last passed (evicted). NULL when all are in use.
 */
static struct file_cache_entry *
take_entry(struct file_cache *c)
{
	size_t steps;

	for (steps = 0; steps < 2 * c->count; steps++) {
		struct file_cache_entry *e = &c->entries[c->hand];

		c->hand = c->hand + 1 == c->count ? 0 : c->hand + 1;
		if (e->state == FC_FREE)
			return e;
		if (e->state == FC_DOOMED || e->refs > 0)
			continue;
		if (e->referenced) {
			e->referenced = false;
			continue;
		}
		drop(c, e);
		return e;
	}
	return NULL;
}

struct file_cache_entry *
file_cache_put(struct file_cache *c, int root_fd, const char *path, size_t len,
    int fd, const struct stat *st, const char *content_type)
{
	struct file_cache_entry *e;
	uint32_t hash, *bucket;

	if (c->count == 0 || len > FILE_CACHE_PATH_MAX)
		return NULL;
	hash = hash_key(root_fd, path, len);
	if ((e = find(c, root_fd, hash, path, len)))
		drop(c, e);     /* the caller opened the path anew */
	if (!(e = take_entry(c)))
		return NULL;
	e->state = FC_CACHED;
	e->fd = fd;
	e->refs = 1;
	e->referenced = false;
	e->root_fd = root_fd;
	e->hash = hash;
	e->resolved_ms = c->now_ms;
	e->used_ms = c->now_ms;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->nlink = st->st_nlink;
	e->mode = st->st_mode;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->content_type = content_type;
	e->cache = c;
	e->path_len = len;
	memcpy(e->path, path, len);
	e->path[len] = '\0';
	bucket = bucket_of(c, hash);
	e->next = *bucket;
	*bucket = (uint32_t)(e - c->entries) + 1;
	c->open++;
	return e;
}

void
file_cache_release(struct file_cache_entry *e)
{
	struct file_cache *c = e->cache;

	if (--e->refs > 0)
		return;
	if (e->state == FC_DOOMED) {
		close_entry(c, e);
		return;
	}
	e->used_ms = c->now_ms;
	schedule_sweep(c, e);
}

void
file_cache_flush(struct file_cache *c)
{
	size_t i;

	for (i = 0; i < c->count; i++)
		if (c->entries[i].state == FC_CACHED)
			drop(c, &c->entries[i]);
}

size_t
file_cache_shed(struct file_cache *c)
{
	size_t i, closed = 0;

	for (i = 0; i < c->count; i++)
		if (c->entries[i].state == FC_CACHED && c->entries[i].refs == 0) {
			drop(c, &c->entries[i]);
			closed++;
		}
	return closed;
}
