/*
 * filecache.h - the open-file cache: descriptors of files served recently,
 * kept open so that a request for the same path skips openat2 and close.
 *
 * A fixed table allocated once (file_cache_init); nothing is allocated
 * afterwards. The key is the root's descriptor and the normalised request
 * path ("/dir/" maps to the directory's index file); the value is a
 * descriptor of a regular file and what fstat said of it when it was opened.
 *
 * A hit costs one fstat of the cached descriptor, which the response needs
 * anyway: the entry is dropped when the file has no link left or when its
 * device, inode, link count, mode, size, mtime or ctime changed (a write,
 * chmod, chown, link, unlink or rename of the file changes its ctime). What
 * fstat cannot see, a directory of the path renamed or a symlink in it
 * replaced, is seen by opening the path again: an entry resolved more than
 * FILE_CACHE_RESOLVE_MS ago is dropped and the caller opens the path anew.
 *
 * Several responses may send from one descriptor at once (they pread at
 * their own offsets). Each holds a reference; an entry dropped while
 * referenced leaves the table at once but keeps its descriptor until the
 * last reference is released.
 */
#ifndef MTLSD_FILECACHE_H
#define MTLSD_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FILE_CACHE_PATH_MAX 255     /* longer paths are not cached */
#define FILE_CACHE_RESOLVE_MS 1000  /* a path is opened again after this */

enum file_cache_state { FC_FREE = 0, FC_CACHED, FC_DOOMED };

struct file_cache;

/* One cached file. Public for sizeof and the unit tests; use the functions. */
struct file_cache_entry {
	enum file_cache_state state;
	int fd;
	unsigned refs;              /* responses sending from fd */
	bool referenced;            /* hit since the clock hand passed */
	int root_fd;                /* key, with path */
	uint32_t hash;
	uint32_t next;              /* bucket chain: entry index + 1, 0: end */
	int64_t resolved_ms;        /* when the path was last opened to this file */
	int64_t used_ms;            /* last request or release */
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
	mode_t mode;
	off_t size;
	struct timespec mtime, ctime;
	const char *content_type;
	struct file_cache *cache;
	size_t path_len;
	char path[FILE_CACHE_PATH_MAX + 1];
};

struct file_cache {
	struct file_cache_entry *entries;
	uint32_t *buckets;          /* entry index + 1, 0: empty */
	size_t count;               /* entries; 0: the cache is off */
	size_t bucket_mask;
	size_t hand;                /* the clock hand, for eviction */
	size_t open;                /* descriptors held, doomed ones included */
	int64_t now_ms;             /* the loop's clock, from file_cache_tick() */
	int64_t inactive_ms;
	int64_t next_sweep;         /* INT64_MAX: nothing idle to expire */
};

/* Bytes the table takes per entry at most, for the start-up budget. */
size_t file_cache_entry_bytes(void);

/*
 * Allocates a table of `entries` (0: the cache stays off and every call is a
 * no-op or a miss). Entries idle for `inactive_ms` are closed by
 * file_cache_tick(). Returns -1 if the memory cannot be had.
 */
int file_cache_init(struct file_cache *c, size_t entries, int64_t inactive_ms);

/*
 * The loop's monotonic clock, in ms; call it whenever the loop reads the
 * clock. Closes idle entries not used for inactive_ms, at most once per
 * file_cache_deadline().
 */
void file_cache_tick(struct file_cache *c, int64_t now_ms);

/* When file_cache_tick() has work next; INT64_MAX if never. */
int64_t file_cache_deadline(const struct file_cache *c);

/*
 * Looks up (root_fd, path[0..len)). On a hit, fstat()s the cached
 * descriptor into *st and checks it against what was cached: if the file is
 * unchanged, takes a reference for the caller and returns the entry, whose
 * descriptor the caller may read until file_cache_release(). Otherwise,
 * and when the path is due to be opened again, drops the entry and returns
 * NULL: the caller opens the path itself.
 */
struct file_cache_entry *file_cache_get(struct file_cache *c, int root_fd,
    const char *path, size_t len, struct stat *st);

/*
 * Stores fd, a regular file just opened for (root_fd, path[0..len)) and
 * described by *st, with a reference for the caller. Returns the entry, which
 * now owns fd; or NULL when the path is too long or every entry is in use,
 * and then fd stays the caller's.
 */
struct file_cache_entry *file_cache_put(struct file_cache *c, int root_fd,
    const char *path, size_t len, int fd, const struct stat *st,
    const char *content_type);

/* Gives back a reference from file_cache_get() or file_cache_put(). */
void file_cache_release(struct file_cache_entry *e);

/* Empties the table: idle entries are closed, busy ones doomed. */
void file_cache_flush(struct file_cache *c);

/*
 * Closes every idle entry, for when descriptors ran out. Returns how many
 * descriptors were closed.
 */
size_t file_cache_shed(struct file_cache *c);

#endif
