/*
 * bundle: unpack a deployment bundle (a revision) into a fresh directory,
 * the deployment's `deployment-archive`, as the CodeDeploy agent's
 * DownloadBundle step does, but without trusting the archive.
 *
 *   struct bundle_opts o = BUNDLE_OPTS_INIT;
 *   struct bundle_info info = BUNDLE_INFO_INIT;
 *   struct sw_err e = SW_ERR_INIT;
 *
 *   if (bundle_unpack("app.zip", ".../d-123/deployment-archive", &o, &info,
 *                     &e) < 0) {
 *           fprintf(stderr, "error: %s\n", e.msg);    -- e.code: 3 or 111
 *           ...
 *   }
 *   ... info.kind, info.appspec (full path of the appspec found) ...
 *   bundle_info_release(&info);
 *
 * Bundles: a directory (copied as it is, never hoisted, as the agent copies
 * a local directory without unpacking it), a zip, a tar or a gzip-compressed
 * tar. The kind is taken from the content, never from the file name.
 *
 * Hoisting (the agent's "Stripping leading directory"): when the unpacked
 * archive's root holds exactly one entry, that entry is a directory, and
 * that directory holds an entry whose name contains "appspec" (any case),
 * the directory's contents become the root. A dotfile next to the wrapper
 * (even .DS_Store) means no hoisting, as with the agent.
 *
 * Safety: every entry is checked in a first pass over the archive headers,
 * before anything is written: '..' components, absolute names, empty or
 * over-long names, devices, fifos, sockets, symbolic links that resolve
 * (through the bundle's other links) outside the bundle or to an absolute
 * path, hard links to anything but an earlier regular file, entries under
 * a symbolic link or a file of the bundle, a duplicate that changes an
 * entry's type, and the entry and byte bounds are all refused with
 * ERR_SPEC and a one-line message naming the entry.
 *
 * Bombs: the bytes of regular files are bounded (max_bytes), and so is
 * their ratio to the archive's size (max_ratio), both from the sizes the
 * headers declare in the first pass and from the bytes really written in
 * the second (headers can lie); the entry that passes a bound is named. A
 * zip is read through its central directory, as unzip does: one whose
 * central directory is missing or cut short is refused. The second pass
 * extracts into a private temporary directory beside dest (checking every
 * entry again, never following a link while writing) and renames it into
 * place only when everything passed: on any error dest does not exist and
 * nothing is left beside it.
 *
 * What is kept: file and directory modes (masked to 07777, setuid and
 * setgid dropped unless keep_setid), mtimes of files, links and
 * directories. Owners are not applied: the agent runs as root and installs
 * the files as root; the unpacked tree belongs to whoever runs slipway.
 * dest itself gets mode 0755 whatever the archive says of its root or of
 * a hoisted wrapper.
 */
#ifndef SW_BUNDLE_H
#define SW_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum bundle_kind {
	BUNDLE_UNKNOWN = 0,
	BUNDLE_DIRECTORY,
	BUNDLE_ZIP,
	BUNDLE_TAR,
	BUNDLE_TGZ,
};

struct bundle_opts {
	/* Refuse a bundle with more entries than this, the parent
	 * directories they imply included (0: the default). */
	uint64_t max_entries;
	/* Refuse a bundle whose regular files add up to more bytes
	 * than this, uncompressed (0: the default). */
	uint64_t max_bytes;
	/* Refuse an archive whose regular files add up to more than this
	 * many times its own size, once they pass BUNDLE_RATIO_FLOOR
	 * (0: the default). */
	uint64_t max_ratio;
	/* Keep setuid and setgid bits (dropped by default). */
	bool keep_setid;
	/* The appspec's name (NULL: "appspec.yml"); appspec.yaml, then
	 * appspec.yml are tried after it, as the agent does. */
	const char *appspec_name;
	/* Any archive, not a revision: no appspec wanted, never hoisted
	 * (info->appspec NULL); a pipeline's S3 source object. */
	bool no_appspec;
	/* A directory bundle's regular files are hard-linked, not copied
	 * (fs_link_tree): a bundle unpacked once for a deployment's local
	 * hosts, with the same options, whose files nobody writes. */
	bool link_files;
};

#define BUNDLE_MAX_ENTRIES 1000000ULL
#define BUNDLE_MAX_BYTES (10ULL << 30)
/* Deflate and gzip cannot pass about 1030:1; only a file of one repeated
 * byte comes near it. */
#define BUNDLE_MAX_RATIO 1000ULL
/* Below this many bytes unpacked, the ratio is not judged: a small
 * archive of a few empty or zero-filled files is no bomb. */
#define BUNDLE_RATIO_FLOOR (1ULL << 20)

#define BUNDLE_OPTS_INIT                                                       \
	{                                                                      \
		.max_entries = BUNDLE_MAX_ENTRIES,                             \
		.max_bytes = BUNDLE_MAX_BYTES, .max_ratio = BUNDLE_MAX_RATIO   \
	}

struct bundle_info {
	enum bundle_kind kind;
	/* Entries listed (not the root "./" nor implied parents). */
	uint64_t entries;
	/* Bytes of regular files written. */
	uint64_t bytes;
	/* A wrapper directory was hoisted; wrapper is its name (owned). */
	bool hoisted;
	char *wrapper;
	/* Full path of the appspec found under dest (owned). */
	char *appspec;
};

#define BUNDLE_INFO_INIT                                                       \
	{                                                                      \
		.kind = BUNDLE_UNKNOWN                                         \
	}

/*
 * Unpack bundle into dest, which must not exist (its parent is created if
 * needed). o may be NULL for the defaults; info may be NULL. On success
 * info is filled (release it with bundle_info_release). A bundle without
 * an appspec at its root (after hoisting) is refused with ERR_SPEC. Fails
 * with ERR_SPEC for a bad or hostile bundle, ERR_SYSTEM for the disk; in
 * both cases dest is absent and info holds nothing to release.
 */
int bundle_unpack(const char *bundle, const char *dest,
		  const struct bundle_opts *o, struct bundle_info *info,
		  struct sw_err *e);

/*
 * The kind of bundle at path, from its content: a directory, or what the
 * first header of the archive says. Anything else is ERR_SPEC with a
 * message naming what was found ("xz-compressed data", "a 7-zip archive",
 * "an empty file"); a missing path is ERR_SYSTEM.
 */
int bundle_detect(const char *path, enum bundle_kind *kind, struct sw_err *e);

/* "directory", "zip", "tar", "tgz" ("unknown" for BUNDLE_UNKNOWN). */
const char *bundle_kind_name(enum bundle_kind kind);

/* Free what info owns and reset it; NULL is a no-op. */
void bundle_info_release(struct bundle_info *info);

#endif
