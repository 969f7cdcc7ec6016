/*
 * priv.c - dropping root and, on Linux, sandboxing with Landlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http.h"
#include "priv.h"
#include "x509.h"

static struct {
	bool wanted;
	uid_t uid;
	gid_t gid;
	char name[64];
} target;

int
priv_prepare(const char *user, const char *chroot_dir, char *why, size_t why_len)
{
	struct passwd *pw;
	struct stat st;

	if (chroot_dir) {
		if (geteuid() != 0)
			return fail(why, why_len, "--chroot %s: only root can chroot",
			    chroot_dir);
		if (stat(chroot_dir, &st) < 0)
			return fail(why, why_len, "--chroot %s: %s", chroot_dir,
			    strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(why, why_len, "--chroot %s: not a directory", chroot_dir);
	}
	if (!user)
		return 0;
	if (geteuid() != 0)
		return fail(why, why_len, "--user %s: only root can change user", user);
	errno = 0;
	if (!(pw = getpwnam(user)))
		return fail(why, why_len, "--user %s: %s", user,
		    errno ? strerror(errno) : "no such user");
	if (pw->pw_uid == 0)
		return fail(why, why_len, "--user %s: that is root", user);
	target.wanted = true;
	target.uid = pw->pw_uid;
	target.gid = pw->pw_gid;
	snprintf(target.name, sizeof target.name, "%s", user);
	return 0;
}

int
priv_drop(const char *chroot_dir, char *why, size_t why_len)
{
	gid_t groups[2];
	int n;

	if (chroot_dir) {
		if (chroot(chroot_dir) < 0 || chdir("/") < 0)
			return fail(why, why_len, "--chroot %s: %s", chroot_dir,
			    strerror(errno));
	}
	if (!target.wanted)
		return 0;
	/* Groups first: once the user is not root it cannot change them. */
	if (setgroups(1, &target.gid) < 0)
		return fail(why, why_len, "--user %s: setgroups: %s", target.name,
		    strerror(errno));
	if (setresgid(target.gid, target.gid, target.gid) < 0)
		return fail(why, why_len, "--user %s: setgid: %s", target.name,
		    strerror(errno));
	if (setresuid(target.uid, target.uid, target.uid) < 0)
		return fail(why, why_len, "--user %s: setuid: %s", target.name,
		    strerror(errno));
	/* Real, effective and saved IDs are all the user's: root is gone. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0)
		return fail(why, why_len, "--user %s: root could be regained",
		    target.name);
	n = getgroups(2, groups);
	if (getuid() != target.uid || geteuid() != target.uid
	    || getgid() != target.gid || getegid() != target.gid
	    || n != 1 || groups[0] != target.gid)
		return fail(why, why_len, "--user %s: the IDs did not change as asked",
		    target.name);
	return 0;
}

/* ---- Landlock (Linux 5.13 and later) ---- */

/*
 * The kernel's ABI, spelt out here so that the build does not depend on how
 * new the installed kernel headers are; the values never change.
 */
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_ABI1 ((1ULL << 13) - 1)   /* execute .. make_sym */
#define LL_FS_REFER (1ULL << 13)        /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)     /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)    /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)     /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#if defined(__linux__) && defined(SYS_landlock_create_ruleset)
/*
 * Lets the files of `path`'s directory be read; the file alone when that
 * directory is "/", which would open everything.
 */
static int
allow_reread(int ruleset, const char *path)
{
	struct ll_path_beneath_attr beneath;
	char dir[4096], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (dir[0] == '\0' || !realpath(dir, real) || strcmp(real, "/") == 0)
		fd = open(path, O_PATH | O_CLOEXEC);
	else
		fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;       /* a reload would fail anyway */
	beneath.allowed_access = LL_FS_READ_FILE;
	beneath.parent_fd = fd;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH,
	    &beneath, 0);
	close(fd);
	return rc;
}
#endif

int
priv_sandbox(int root_fd, const char *const *reread, size_t count,
    char *why, size_t why_len)
{
#if defined(__linux__) && defined(SYS_landlock_create_ruleset)
	struct ll_ruleset_attr attr = { 0 };
	struct ll_path_beneath_attr beneath;
	size_t attr_size = sizeof attr.handled_access_fs, i;
	long abi;
	int fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	attr.handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof attr;
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (fd < 0)
		return fail(why, why_len, "--sandbox: landlock_create_ruleset: %s",
		    strerror(errno));
	beneath.allowed_access = LL_FS_READ_FILE | LL_FS_READ_DIR;
	beneath.parent_fd = root_fd;
	if (syscall(SYS_landlock_add_rule, fd, LL_RULE_PATH_BENEATH, &beneath, 0) < 0) {
		close(fd);
		return fail(why, why_len, "--sandbox: landlock_add_rule: %s",
		    strerror(errno));
	}
	/* The directories of locations with their own root or alias, likewise. */
	for (i = 0; (beneath.parent_fd = http_location_dir(i)) != -2; i++) {
		if (beneath.parent_fd >= 0 && syscall(SYS_landlock_add_rule, fd,
		    LL_RULE_PATH_BENEATH, &beneath, 0) < 0) {
			close(fd);
			return fail(why, why_len, "--sandbox: landlock_add_rule: %s",
			    strerror(errno));
		}
	}
	for (i = 0; i < count; i++) {
		if (reread[i] && allow_reread(fd, reread[i]) < 0) {
			close(fd);
			return fail(why, why_len, "--sandbox: landlock_add_rule %s: %s",
			    reread[i], strerror(errno));
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0
	    || syscall(SYS_landlock_restrict_self, fd, 0) < 0) {
		close(fd);
		return fail(why, why_len, "--sandbox: landlock_restrict_self: %s",
		    strerror(errno));
	}
	close(fd);
	return (int)abi;
#else
	(void)root_fd;
	(void)reread;
	(void)count;
	(void)why;
	(void)why_len;
	return 0;
#endif
}
