#include "host.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "hostbox.h"
#include "proc.h"
#include "xalloc.h"
#include "banned.h"

#define NET_DIR "/run/slipway/net"

char *host_dir(const char *state_dir, const char *name)
{
	return xasprintf("%s/hosts/%s", state_dir, name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int host_list(const char *state_dir, struct strvec *names, struct sw_err *e)
{
	char *dir = xasprintf("%s/hosts", state_dir);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		int ret = errno == ENOENT ? 0
					  : err_sys(e, "cannot read '%s'", dir);

		free(dir);
		return ret;
	}
	while ((de = readdir(d))) {
		char *root;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		root = xasprintf("%s/%s/root", dir, de->d_name);
		if (fs_is_dir(root))
			strvec_push(names, de->d_name);
		free(root);
	}
	closedir(d);
	free(dir);
	if (names->nr > 1)
		qsort(names->v, names->nr, sizeof(char *), cmp_str);
	return 0;
}

void host_box_release(struct host_box *b)
{
	free(b->address);
	*b = (struct host_box)HOST_BOX_INIT;
}

/* ---- box.json ---- */

static int box_read(const char *hd, struct host_box *b)
{
	char *path = fs_join(hd, "box.json");
	struct json_object *o = json_object_from_file(path), *v;

	free(path);
	host_box_release(b);
	if (!o)
		return -1;
	if (json_object_object_get_ex(o, "pid", &v))
		b->pid = (pid_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "startTime", &v))
		b->start = (unsigned long long)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "mountNamespace", &v))
		b->mntns = (unsigned long long)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "network", &v))
		b->network = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "address", &v) &&
	    json_object_is_type(v, json_type_string))
		b->address = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "startedMs", &v))
		b->started_ms = json_object_get_int64(v);
	json_object_put(o);
	return 0;
}

static int box_write(const char *hd, const struct host_box *b, struct sw_err *e)
{
	struct json_object *o = json_object_new_object();
	char *path = fs_join(hd, "box.json");
	const char *text;
	int ret;

	json_object_object_add(o, "pid", json_object_new_int64(b->pid));
	json_object_object_add(o, "startTime",
			       json_object_new_int64((int64_t)b->start));
	json_object_object_add(o, "mountNamespace",
			       json_object_new_int64((int64_t)b->mntns));
	json_object_object_add(o, "network",
			       json_object_new_boolean(b->network));
	json_object_object_add(o, "address",
			       b->address ? json_object_new_string(b->address)
					  : NULL);
	json_object_object_add(o, "startedMs",
			       json_object_new_int64(b->started_ms));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	ret = fs_replace(path, text, strlen(text), 0644, e);
	json_object_put(o);
	free(path);
	return ret;
}

/* ---- the network ---- */

static int run_ip(const char *const *argv, struct sw_err *e)
{
	static const char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
					   NULL };
	struct proc_opts po = PROC_OPTS_INIT;
	char msg[512];
	int p[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	po.argv = argv;
	po.env = env;
	po.out_fd = p[1];
	if (proc_spawn(&po, &pid, e) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	while ((n = read(p[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	close(p[0]);
	msg[got] = '\0';
	while (got > 0 && (msg[got - 1] == '\n' || msg[got - 1] == ' '))
		msg[--got] = '\0';
	st = proc_wait(pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	return err_set(e, ERR_SYSTEM, "%s %s %s: %s", argv[0], argv[1], argv[2],
		       got ? msg : "failed");
}

static int bridge_ensure(struct sw_err *e)
{
	static const char *const add[] = { "ip",   "link",   "add", HOST_BRIDGE,
					   "type", "bridge", NULL };
	static const char *const addr[] = { "ip",  "addr",
					    "add", HOST_GATEWAY "/16",
					    "dev", HOST_BRIDGE,
					    NULL };
	static const char *const up[] = { "ip",	       "link", "set",
					  HOST_BRIDGE, "up",   NULL };
	struct sw_err ignored = SW_ERR_INIT;

	if (if_nametoindex(HOST_BRIDGE))
		return 0;
	if (run_ip(add, e) < 0) {
		if (!if_nametoindex(HOST_BRIDGE)) /* not another slipway's */
			return -1;
		return 0;
	}
	run_ip(addr, &ignored);
	return run_ip(up, e);
}

/* The addresses are taken and released under one lock. */
static int net_lock(struct sw_err *e)
{
	int fd;

	if (fs_mkdir_p(NET_DIR, 0755, e) < 0)
		return -1;
	fd = open(NET_DIR "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_sys(e, "cannot open '%s'", NET_DIR "/.lock");
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return err_sys(e, "cannot lock '%s'", NET_DIR "/.lock");
		}
	return fd;
}

/* Take an address: create NET_DIR/<address> naming pid and start. */
static int address_take(const char *addr, pid_t pid, unsigned long long start)
{
	char *path = xasprintf("%s/%s", NET_DIR, addr);
	char line[64];
	int fd, n;

	for (int tries = 0; tries < 2; tries++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0)
			break;
		if (errno != EEXIST)
			break;
		/* taken: by a live host? */
		{
			FILE *f = fopen(path, "re");
			int opid = 0;
			unsigned long long ostart = 0;

			if (f) {
				if (fscanf(f, "%d %llu", &opid, &ostart) != 2)
					opid = 0;
				fclose(f);
			}
			if (hostbox_alive(opid, ostart))
				break;
			unlink(path); /* its host died without a stop */
		}
	}
	free(path);
	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof(line), "%d %llu\n", (int)pid, start);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void address_release(const char *addr, pid_t pid,
			    unsigned long long start)
{
	struct sw_err ignored = SW_ERR_INIT;
	int lock = net_lock(&ignored);
	char *path = xasprintf("%s/%s", NET_DIR, addr);
	FILE *f = fopen(path, "re");
	int opid = 0;
	unsigned long long ostart = 0;

	if (f) {
		if (fscanf(f, "%d %llu", &opid, &ostart) == 2 && opid == pid &&
		    ostart == start)
			unlink(path);
		fclose(f);
	}
	free(path);
	if (lock >= 0)
		close(lock);
}

static char *address_pick_locked(const char *hd, pid_t pid,
				 unsigned long long start, struct sw_err *e)
{
	char *pref_path = fs_join(hd, "address"), *pref = NULL;
	size_t len;
	struct sw_err ignored = SW_ERR_INIT;

	if (fs_read_file(pref_path, 64, &pref, &len, &ignored) == 0) {
		struct in_addr a;

		pref[strcspn(pref, "\n")] = '\0';
		if (inet_pton(AF_INET, pref, &a) == 1 &&
		    !strncmp(pref, "10.213.", 7) &&
		    strcmp(pref, HOST_GATEWAY) &&
		    address_take(pref, pid, start) == 0) {
			free(pref_path);
			return pref;
		}
		free(pref);
	}
	free(pref_path);
	for (unsigned i = 2; i < 65535; i++) {
		char addr[32];

		if ((i & 255) == 0 || (i & 255) == 255)
			continue;
		snprintf(addr, sizeof(addr), "10.213.%u.%u", i >> 8, i & 255);
		if (address_take(addr, pid, start) == 0)
			return xstrdup(addr);
	}
	err_set(e, ERR_SYSTEM, "no free address in 10.213.0.0/16");
	return NULL;
}

static char *address_pick(const char *hd, pid_t pid, unsigned long long start,
			  struct sw_err *e)
{
	int lock = net_lock(e);
	char *addr;

	if (lock < 0)
		return NULL;
	addr = address_pick_locked(hd, pid, start, e);
	close(lock);
	return addr;
}

static int set_addr(int fd, unsigned long req, const char *ifname,
		    const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ifr.ifr_addr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	return ioctl(fd, req, &ifr);
}

/* In a child inside the host's network namespace: eth0 up at addr. */
static int inside_config(pid_t holder, const char *addr)
{
	char path[64];
	struct ifreq ifr;
	struct rtentry rt;
	struct sockaddr_in *sin;
	int ns, fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
		return 1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	if (set_addr(fd, SIOCSIFADDR, "eth0", addr) < 0 ||
	    set_addr(fd, SIOCSIFNETMASK, "eth0", "255.255.0.0") < 0)
		return 3;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return 4;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return 4;
	memset(&rt, 0, sizeof(rt));
	sin = (struct sockaddr_in *)(void *)&rt.rt_dst;
	sin->sin_family = AF_INET;
	sin = (struct sockaddr_in *)(void *)&rt.rt_genmask;
	sin->sin_family = AF_INET;
	sin = (struct sockaddr_in *)(void *)&rt.rt_gateway;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, HOST_GATEWAY, &sin->sin_addr);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(fd, SIOCADDRT, &rt) < 0)
		return 5;
	return 0;
}

static int net_attach(const char *hd, struct host_box *b, struct sw_err *e)
{
	static const char *const what[] = { "",
					    "cannot enter its network",
					    "cannot open a socket",
					    "cannot set the address of eth0",
					    "cannot bring up eth0",
					    "cannot add the default route" };
	char veth[IF_NAMESIZE], nspid[24];
	const char *add[] = { "ip",   "link", "add",  veth,    "type", "veth",
			      "peer", "name", "eth0", "netns", nspid,  NULL };
	const char *set[] = { "ip",	"link",	     "set", veth,
			      "master", HOST_BRIDGE, "up",  NULL };
	pid_t pid;
	int st;

	if (bridge_ensure(e) < 0)
		return -1;
	b->address = address_pick(hd, b->pid, b->start, e);
	if (!b->address)
		return -1;
	snprintf(veth, sizeof(veth), "sw%d", (int)b->pid);
	snprintf(nspid, sizeof(nspid), "%d", (int)b->pid);
	if (run_ip(add, e) < 0 || run_ip(set, e) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return err_sys(e, "cannot fork");
	if (pid == 0)
		_exit(inside_config(b->pid, b->address));
	st = proc_wait(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		int i = WIFEXITED(st) ? WEXITSTATUS(st) : 0;

		return err_set(e, ERR_SYSTEM, "its network: %s",
			       i > 0 && i < 6 ? what[i] : "failed");
	}
	return 0;
}

/* ---- the box ---- */

static unsigned long long ns_inode(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

static int lock_dir(const char *hd, struct sw_err *e)
{
	char *path = fs_join(hd, "box.lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		err_sys(e, "cannot open '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return err_sys(e, "cannot lock the host");
		}
	return fd;
}

void host_box_get(const char *state_dir, const char *name, struct host_box *b)
{
	char *hd = host_dir(state_dir, name);

	if (box_read(hd, b) == 0 && !hostbox_alive(b->pid, b->start))
		host_box_release(b); /* not running */
	free(hd);
}

int host_box_ensure(const char *state_dir, const char *name, bool network,
		    struct host_box *b, bool *started, struct sw_err *e)
{
	struct hostbox_opts o = HOSTBOX_OPTS_INIT;
	char *hd = host_dir(state_dir, name);
	char *root = fs_join(hd, "root"), *work = fs_join(hd, "work");
	char *ar = fs_join(hd, "deployment-root"), *pref;
	int lock = -1, ret = -1;

	*started = false;
	if (fs_mkdir_p(root, 0755, e) < 0 || fs_mkdir_p(work, 0700, e) < 0 ||
	    fs_mkdir_p(ar, 0755, e) < 0)
		goto out;
	lock = lock_dir(hd, e);
	if (lock < 0)
		goto out;
	if (box_read(hd, b) == 0) {
		if (hostbox_alive(b->pid, b->start)) {
			ret = 0;
			goto out;
		}
		/* it died without a stop: its claim on an address goes */
		if (b->address)
			address_release(b->address, b->pid, b->start);
		host_box_release(b);
	}
	o.name = name;
	o.root = root;
	o.work = work;
	o.agent_root = ar;
	o.network = network;
	if (hostbox_start(&o, &b->pid, e) < 0)
		goto out;
	b->start = hostbox_starttime(b->pid);
	b->mntns = ns_inode(b->pid);
	b->network = network;
	if (!b->start || !b->mntns) {
		err_set(e, ERR_SYSTEM, "its sandbox ended as it started");
		goto fail;
	}
	b->started_ms = proc_wall_ms();
	if (network && net_attach(hd, b, e) < 0)
		goto fail;
	if (box_write(hd, b, e) < 0)
		goto fail;
	if (b->address) {
		struct sw_err ignored = SW_ERR_INIT;

		pref = fs_join(hd, "address");
		fs_replace(pref, b->address, strlen(b->address), 0644,
			   &ignored);
		free(pref);
	}
	*started = true;
	ret = 0;
	goto out;
fail:
	hostbox_stop(b->pid, b->start, 0, &(struct sw_err)SW_ERR_INIT);
	if (b->address)
		address_release(b->address, b->pid, b->start);
	host_box_release(b);
out:
	if (lock >= 0)
		close(lock);
	free(hd);
	free(root);
	free(work);
	free(ar);
	return ret;
}

int host_box_stop(const char *state_dir, const char *name, struct sw_err *e)
{
	struct host_box b = HOST_BOX_INIT;
	char *hd = host_dir(state_dir, name), *path;
	int lock = lock_dir(hd, e), ret = -1;

	if (lock < 0)
		goto out;
	if (box_read(hd, &b) < 0) {
		ret = 0;
		goto out;
	}
	if (hostbox_stop(b.pid, b.start, 5000, e) < 0) {
		err_prefix(e, "host %s", name);
		goto out;
	}
	if (b.address)
		address_release(b.address, b.pid, b.start);
	path = fs_join(hd, "box.json");
	unlink(path);
	free(path);
	ret = 0;
out:
	if (lock >= 0)
		close(lock);
	host_box_release(&b);
	free(hd);
	return ret;
}
