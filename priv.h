/*
 * priv.h - giving up, once the server listens and has read its keys, what
 * serving does not need: root (--user, --chroot) and, where the kernel has
 * Landlock, the file system beyond the document root (--sandbox).
 */
#ifndef MTLSD_PRIV_H
#define MTLSD_PRIV_H

#include <stddef.h>

/*
 * Checks the settings before anything is opened: `user` (may be NULL) is
 * looked up now, while /etc/passwd is reachable, and `chroot_dir` (may be
 * NULL) must be a directory; both need root. Returns -1 with one line in
 * `why` otherwise.
 */
int priv_prepare(const char *user, const char *chroot_dir, char *why, size_t why_len);

/*
 * Enters `chroot_dir` (if not NULL), then becomes the user given to
 * priv_prepare() (if any) with only its primary group, and checks that root
 * cannot be had back. Descriptors opened before (listeners, the document
 * root, logs) stay usable; keys read before need not be readable any more.
 * Returns -1 with `why` filled on any failure: the caller must exit.
 */
int priv_drop(const char *chroot_dir, char *why, size_t why_len);

/*
 * Restricts the process with Landlock: files and directories beneath
 * `root_fd`, and beneath the directories of locations with their own root
 * or alias (http_location_dir()), may be read, and so may the files in
 * the directories of the `count` files named in `reread` (what a reload
 * reads again, and the files that replace them); nothing else may be
 * opened, written or created
 * anywhere, and (kernels with the network ABI) no TCP port bound or
 * connected to. Returns the Landlock ABI version applied, 0 when the kernel
 * has no Landlock (nothing is changed), or -1 with `why` filled.
 */
int priv_sandbox(int root_fd, const char *const *reread, size_t count,
    char *why, size_t why_len);

#endif
