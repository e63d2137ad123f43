/*
 * Trees as tar files (see blob.h), over libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "fs.h"
#include "hash.h"
#include "lazylib.h"
#include "xalloc.h"
#include "banned.h"

int blob_is_digest(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		      (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 64;
}

/* An absolute name, or one with a ".." part. */
static bool bad_name(const char *s)
{
	if (*s == '/')
		return true;
	for (const char *p = s; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return true;
	}
	return false;
}

int blob_pack(const char *dir, const char *tar, char hex[65], struct sw_err *e)
{
	struct archive *disk, *w;
	struct archive_entry *ent = NULL;
	char *tmp;
	int ret = -1, rc;

	if (lazylib_need("archive", e) < 0)
		return -1;
	disk = archive_read_disk_new();
	w = archive_write_new();
	tmp = fs_tmp_name(tar);
	archive_read_disk_set_standard_lookup(disk);
	archive_read_disk_set_symlink_physical(disk);
	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_filename(w, tmp) != ARCHIVE_OK) {
		err_set(e, ERR_SYSTEM, "%s: %s", tmp, archive_error_string(w));
		goto out;
	}
	if (archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
		err_set(e, ERR_SYSTEM, "%s: %s", dir,
			archive_error_string(disk));
		goto out;
	}
	ent = archive_entry_new();
	while ((rc = archive_read_next_header2(disk, ent)) == ARCHIVE_OK) {
		const char *src = archive_entry_sourcepath(ent);
		const char *name = archive_entry_pathname(ent);
		char buf[65536];
		ssize_t n;
		int fd;

		archive_read_disk_descend(disk);
		/* names relative to dir, without a cwd to change */
		if (strncmp(name, dir, strlen(dir)) || name[strlen(dir)] != '/')
			continue;
		archive_entry_copy_pathname(ent, name + strlen(dir) + 1);
		archive_entry_set_uid(ent, 0);
		archive_entry_set_gid(ent, 0);
		archive_entry_set_uname(ent, NULL);
		archive_entry_set_gname(ent, NULL);
		if (archive_write_header(w, ent) != ARCHIVE_OK) {
			err_set(e, ERR_SYSTEM, "%s: %s", tar,
				archive_error_string(w));
			goto out;
		}
		if (archive_entry_filetype(ent) != AE_IFREG)
			continue;
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && err_sys(e, "%s/%s", dir, src))
			goto out;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			archive_write_data(w, buf, (size_t)n);
		close(fd);
	}
	if (rc != ARCHIVE_EOF) {
		err_set(e, ERR_SYSTEM, "%s: %s", dir,
			archive_error_string(disk));
		goto out;
	}
	if (archive_write_close(w) != ARCHIVE_OK) {
		err_set(e, ERR_SYSTEM, "%s: %s", tar, archive_error_string(w));
		goto out;
	}
	if (hash_file_sha256(tmp, hex, e) < 0)
		goto out;
	if (rename(tmp, tar) < 0 && err_sys(e, "rename '%s'", tar))
		goto out;
	ret = 0;
out:
	archive_entry_free(ent);
	archive_read_free(disk);
	archive_write_free(w);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

int blob_unpack(const char *tar, const char *dest, struct sw_err *e)
{
	struct archive *a, *d;
	struct archive_entry *ent;
	char *tmp;
	int ret = -1, rc;

	if (lazylib_need("archive", e) < 0)
		return -1;
	a = archive_read_new();
	d = archive_write_disk_new();
	tmp = fs_tmp_name(dest);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(
		d, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
			   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			   ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if (fs_mkdir_p(tmp, 0755, e) < 0)
		goto out;
	if (archive_read_open_filename(a, tar, 65536) != ARCHIVE_OK) {
		err_set(e, ERR_SPEC, "%s: %s", tar, archive_error_string(a));
		goto out;
	}
	while ((rc = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);
		const char *link = archive_entry_hardlink(ent);
		char *path;
		const void *buf;
		size_t len;
		la_int64_t off;

		/* names are made absolute under tmp: check them first */
		if (!name || bad_name(name) || (link && bad_name(link))) {
			err_set(e, ERR_SPEC, "%s: refused entry '%s'", tar,
				name ? name : "");
			goto out;
		}
		path = fs_join(tmp, name);
		if (link) {
			char *l = fs_join(tmp, link);

			archive_entry_copy_hardlink(ent, l);
			free(l);
		}

		archive_entry_set_pathname(ent, path);
		free(path);
		if (archive_write_header(d, ent) != ARCHIVE_OK) {
			err_set(e, ERR_SPEC, "%s: %s", tar,
				archive_error_string(d));
			goto out;
		}
		while (archive_read_data_block(a, &buf, &len, &off) ==
		       ARCHIVE_OK)
			if (archive_write_data_block(d, buf, len, off) !=
			    ARCHIVE_OK) {
				err_set(e, ERR_SYSTEM, "%s: %s", dest,
					archive_error_string(d));
				goto out;
			}
		archive_write_finish_entry(d);
	}
	if (rc != ARCHIVE_EOF) {
		err_set(e, ERR_SPEC, "%s: %s", tar, archive_error_string(a));
		goto out;
	}
	if (archive_write_close(d) != ARCHIVE_OK) {
		err_set(e, ERR_SYSTEM, "%s: %s", dest, archive_error_string(d));
		goto out;
	}
	if (rename(tmp, dest) < 0 && err_sys(e, "rename '%s'", dest))
		goto out;
	ret = 0;
out:
	archive_read_free(a);
	archive_write_free(d);
	if (ret < 0) {
		struct sw_err ignore = SW_ERR_INIT;

		fs_remove_tree(tmp, &ignore);
	}
	free(tmp);
	return ret;
}
