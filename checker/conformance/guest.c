/*
 * The conformance guest: runs dma-buf conformance cases against the running kernel and
 * prints one machine-readable line per step on stdout (the serial console).
 *
 * Input (a file, one command a line; the host generates it from DSL scenarios):
 *   C NAME                      begin a case (every object of the previous one is gone)
 *   S INDEX OP BUF [KEY=VALUE]  one step: OP on buffer BUF (0, 1, ...)
 *   E                           end the case: signal every fence, close every fd, munmap
 * Output:
 *   @@ case NAME
 *   @@ step INDEX RET ERRNO COUNT    RET the call's return value (-1 on an error; fd: the
 *                                   descriptor, llseek: the offset, poll: revents),
 *                                   ERRNO 0 or the errno, COUNT the buffer's file count
 *                                   from debugfs bufinfo after the step (0 once released,
 *                                   -1 when unknown)
 *   @@ end NAME LEFT                LEFT: dma-bufs still listed in bufinfo after cleanup
 *   @@ done CASES
 *
 * What each OP does from userspace (a buffer is a vgem dumb buffer exported through
 * PRIME, its GEM handle closed at once so that only the process's own fds, vmas and the
 * kernel's poll callbacks hold the file):
 *   export   DRM_IOCTL_MODE_CREATE_DUMB + DRM_IOCTL_PRIME_HANDLE_TO_FD + DRM_IOCTL_GEM_CLOSE,
 *            or with via=udmabuf UDMABUF_CREATE of a sealed memfd; the new fd is a
 *            reference the process holds but has not "installed" yet
 *   fd       the held reference becomes an open fd the other calls use; RET is that
 *            descriptor (the one PRIME_HANDLE_TO_FD's dma_buf_fd returned)
 *   get      dup() of an open fd, held as a reference (file=other: DRM_IOCTL_PRIME_FD_TO_HANDLE
 *            of a memfd, which dma_buf_get refuses);  put  close() of a held reference
 *   close    close() of an open fd (close(-1) when none is open)
 *   mmap     mmap(pages * 4096, PROT_READ|PROT_WRITE, MAP_SHARED, pgoff * 4096); with
 *            pgoff=unaligned offset 1, tail=partial one byte into the last page,
 *            sharing=private MAP_PRIVATE
 *            into a reservation one page longer whose last page stays PROT_NONE, so the
 *            address just past the mapping is never another mapping's
 *   munmap   munmap of the newest mapping
 *   mremap   mremap(pages * 4096, MREMAP_MAYMOVE) of the newest mapping
 *   page_fault  a read of page P of the newest mapping; RET 0, or the VM_FAULT code the
 *            signal stands for: 0x2 (VM_FAULT_SIGBUS) for SIGBUS, 0x40 for SIGSEGV
 *   sync, set_name, export_sync_file, import_sync_file  the dma-buf ioctls (set_name
 *            and sync with pointer=bad pass an address that is never mapped)
 *   llseek   lseek(fd, offset, whence);  poll  poll(fd, POLLIN or POLLOUT, timeout 0),
 *            RET its revents
 * A call through an fd when none is open uses fd -1; poll, which skips a negative fd,
 * uses NOT_OPEN, a descriptor the guest never has open (poll(2) reports it as POLLNVAL).
 *   signal   DRM_IOCTL_VGEM_FENCE_SIGNAL of the pending fences imported with that usage
 * import_sync_file takes a sync file whose fence is pending (a vgem fence attached to a
 * helper buffer, exported with EXPORT_SYNC_FILE) or signalled (exported from an idle
 * helper buffer: the kernel's signalled stub fence).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The DRM and vgem UAPI structures used (include/uapi/drm/drm.h, drm_mode.h,
 * vgem_drm.h), declared here so the program builds without libdrm headers. */
struct drm_mode_create_dumb {
	uint32_t height, width, bpp, flags, handle, pitch;
	uint64_t size;
};
struct drm_prime_handle {
	uint32_t handle, flags;
	int32_t fd;
};
struct drm_gem_close {
	uint32_t handle, pad;
};
struct drm_vgem_fence_attach {
	uint32_t handle, flags, out_fence, pad;
};
struct drm_vgem_fence_signal {
	uint32_t fence, flags;
};
#define DRM_IOCTL_BASE 'd'
#define DRM_IOCTL_GEM_CLOSE _IOW(DRM_IOCTL_BASE, 0x09, struct drm_gem_close)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD _IOWR(DRM_IOCTL_BASE, 0x2d, struct drm_prime_handle)
#define DRM_IOCTL_PRIME_FD_TO_HANDLE _IOWR(DRM_IOCTL_BASE, 0x2e, struct drm_prime_handle)
#define DRM_IOCTL_MODE_CREATE_DUMB _IOWR(DRM_IOCTL_BASE, 0xB2, struct drm_mode_create_dumb)
#define DRM_COMMAND_BASE 0x40
#define DRM_IOCTL_VGEM_FENCE_ATTACH \
	_IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE + 0x1, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL \
	_IOW(DRM_IOCTL_BASE, DRM_COMMAND_BASE + 0x2, struct drm_vgem_fence_signal)
#define VGEM_FENCE_WRITE 0x1
#define DRM_CLOEXEC O_CLOEXEC

#define MAXB 4
#define MAXH 16
#define PAGE 4096
/* a descriptor number never open here: the guest keeps far fewer files (MAXB buffers of
 * MAXH fds and held references each, the DRM device, stdio) */
#define NOT_OPEN 1000

struct pending {
	uint32_t fence, handle;
	int write;
};

struct buf {
	int exported;
	unsigned long ino;
	int held[MAXH], nheld; /* references the process holds (fds not yet installed) */
	int fds[MAXH], nfds;   /* open fds */
	void *vma[MAXH];
	size_t vlen[MAXH];
	void *guard[MAXH]; /* the PROT_NONE page reserved past each mapping */
	int nvma;
	struct pending fences[MAXH];
	int nfences;
};

static int drm = -1;
static unsigned pages = 2;
static struct buf bufs[MAXB];

static int fail(void) { return -errno; }

#define VM_FAULT_SIGBUS 0x2
#define VM_FAULT_SIGSEGV 0x40
static sigjmp_buf fault_jump;
static void on_fault(int sig) { siglongjmp(fault_jump, sig); }

/* Read one byte at p: 0, or the VM_FAULT code of the signal the read raised. */
static long touch(volatile const char *p)
{
	struct sigaction sa = {.sa_handler = on_fault}, old_bus, old_segv;
	long r = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	int sig = sigsetjmp(fault_jump, 1);
	if (!sig)
		(void)*p;
	else
		r = sig == SIGBUS ? VM_FAULT_SIGBUS : VM_FAULT_SIGSEGV;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return r;
}

static void unmap_vma(struct buf *b, int k)
{
	munmap(b->vma[k], b->vlen[k]);
	munmap(b->guard[k], PAGE);
}

static int ret_of(long r) { return r < 0 ? -errno : 0; }

static long count_of(unsigned long ino)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[512];
	long count = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *field[8];
		int n = 0;
		for (char *t = strtok(line, "\t\n"); t && n < 8; t = strtok(NULL, "\t\n"))
			field[n++] = t;
		if (n >= 6 && strtoul(field[5], NULL, 10) == ino && field[0][0] >= '0' &&
		    field[0][0] <= '9')
			count = strtol(field[3], NULL, 10);
	}
	fclose(f);
	return count;
}

static int listed(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "\tvgem\t") || strstr(line, "\tudmabuf\t"))
			n++;
	fclose(f);
	return n;
}

static int create(uint32_t *handle)
{
	struct drm_mode_create_dumb c = {.height = pages, .width = PAGE / 4, .bpp = 32};
	if (ioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &c) < 0)
		return fail();
	*handle = c.handle;
	return 0;
}

static int to_fd(uint32_t handle, int *fd)
{
	struct drm_prime_handle p = {.handle = handle, .flags = DRM_CLOEXEC | O_RDWR};
	if (ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p) < 0)
		return fail();
	*fd = p.fd;
	return 0;
}

static void gem_close(uint32_t handle)
{
	struct drm_gem_close g = {.handle = handle};
	ioctl(drm, DRM_IOCTL_GEM_CLOSE, &g);
}

/* A udmabuf of the memfd's pages: UDMABUF_CREATE (include/uapi/linux/udmabuf.h) on a
 * memfd sealed against shrinking; the memfd is closed at once. */
struct udmabuf_create {
	uint32_t memfd, flags;
	uint64_t offset, size;
};
#define UDMABUF_FLAGS_CLOEXEC 0x01
#define UDMABUF_CREATE _IOW('u', 0x42, struct udmabuf_create)

static int udmabuf_export(int *fd)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC), r = 0;
	int mfd = memfd_create("conformance", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (dev < 0 || mfd < 0 || ftruncate(mfd, (off_t)pages * PAGE) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		r = fail();
	} else {
		struct udmabuf_create c = {.memfd = (uint32_t)mfd, .flags = UDMABUF_FLAGS_CLOEXEC,
					   .size = (uint64_t)pages * PAGE};
		*fd = ioctl(dev, UDMABUF_CREATE, &c);
		if (*fd < 0)
			r = fail();
	}
	if (mfd >= 0)
		close(mfd);
	if (dev >= 0)
		close(dev);
	return r;
}

static int open_fd(struct buf *b) { return b->nfds ? b->fds[b->nfds - 1] : -1; }

static const char *arg(int argc, char **argv, const char *key)
{
	size_t k = strlen(key);
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
			return argv[i] + k + 1;
	return NULL;
}

static long num(int argc, char **argv, const char *key, long dflt)
{
	const char *v = arg(argc, argv, key);
	return v ? strtol(v, NULL, 0) : dflt;
}

/* An unsigned 64-bit parameter (ioctl flags up to the field's top bit). */
static uint64_t unum(int argc, char **argv, const char *key, uint64_t dflt)
{
	const char *v = arg(argc, argv, key);
	return v ? strtoull(v, NULL, 0) : dflt;
}

/*
 * mmap's argument domain: pgoff=unaligned is an offset inside the first page,
 * tail=partial a length one byte into its last page, sharing=private MAP_PRIVATE.
 */
static void mmap_domain(int argc, char **argv, size_t *len, off_t *off, int *share)
{
	const char *pgoff = arg(argc, argv, "pgoff");
	const char *tail = arg(argc, argv, "tail");
	const char *sharing = arg(argc, argv, "sharing");

	if (pgoff && !strcmp(pgoff, "unaligned"))
		*off = 1;
	if (tail && !strcmp(tail, "partial") && *len)
		*len -= PAGE - 1;
	if (sharing && !strcmp(sharing, "private"))
		*share = MAP_PRIVATE;
}

/*
 * get with file=other: dma_buf_get of an open fd that is not a dma-buf (a memfd), through
 * DRM_IOCTL_PRIME_FD_TO_HANDLE (drm_gem_prime_fd_to_handle calls dma_buf_get).
 */
static int get_other_file(void)
{
	int mfd = memfd_create("not-a-dma-buf", MFD_CLOEXEC);
	if (mfd < 0)
		return fail();
	struct drm_prime_handle p = {.fd = mfd};
	int r = ret_of(ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p));
	close(mfd);
	return r;
}

/* pointer=bad: an address below mmap_min_addr, never mapped */
static int bad_pointer(int argc, char **argv)
{
	const char *ptr = arg(argc, argv, "pointer");
	return ptr && !strcmp(ptr, "bad");
}
#define BAD_ADDRESS 16

/* A sync file whose fence is pending (write != 0 records it in *p) or signalled. */
static int sync_file(int pending, struct pending *p, int *out)
{
	uint32_t handle;
	int fd = -1, r = create(&handle);
	if (r)
		return r;
	if (pending) {
		struct drm_vgem_fence_attach a = {.handle = handle, .flags = VGEM_FENCE_WRITE};
		if (ioctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &a) < 0) {
			r = fail();
			gem_close(handle);
			return r;
		}
		p->fence = a.out_fence;
		p->handle = handle;
	}
	r = to_fd(handle, &fd);
	if (!pending)
		gem_close(handle);
	if (r)
		return r;
	/* a reader waits for the writers: the sync file holds the vgem fence (or the stub) */
	struct dma_buf_export_sync_file e = {.flags = DMA_BUF_SYNC_READ, .fd = -1};
	r = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) < 0 ? fail() : 0;
	close(fd);
	*out = e.fd;
	return r;
}

static void signal_fence(struct pending *p)
{
	struct drm_vgem_fence_signal s = {.fence = p->fence};
	ioctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s);
	gem_close(p->handle);
}

static long step(const char *op, struct buf *b, int argc, char **argv, int *err)
{
	long r = 0;
	*err = 0;
	errno = 0;
	if (b->nheld >= MAXH || b->nfds >= MAXH || b->nvma >= MAXH || b->nfences >= MAXH) {
		*err = E2BIG; /* more objects than the guest keeps track of */
		return -1;
	}
	if (!strcmp(op, "export")) {
		const char *via = arg(argc, argv, "via");
		int fd = -1;
		struct stat st;
		if (via && !strcmp(via, "udmabuf")) {
			r = udmabuf_export(&fd);
		} else {
			uint32_t handle;
			r = create(&handle);
			if (!r) {
				r = to_fd(handle, &fd);
				gem_close(handle);
			}
		}
		if (!r) {
			fstat(fd, &st);
			b->ino = st.st_ino;
			b->exported = 1;
			b->held[b->nheld++] = fd;
		}
	} else if (!strcmp(op, "fd")) {
		if (b->nheld) {
			b->fds[b->nfds++] = b->held[--b->nheld];
			r = b->fds[b->nfds - 1];
		} else {
			r = -EBADF;
		}
	} else if (!strcmp(op, "get") && arg(argc, argv, "file")) {
		r = get_other_file();
	} else if (!strcmp(op, "get")) {
		int fd = dup(open_fd(b));
		r = ret_of(fd);
		if (fd >= 0)
			b->held[b->nheld++] = fd;
	} else if (!strcmp(op, "put")) {
		r = b->nheld ? ret_of(close(b->held[--b->nheld])) : -EBADF;
	} else if (!strcmp(op, "close")) {
		r = ret_of(close(open_fd(b)));
		if (b->nfds)
			b->nfds--;
	} else if (!strcmp(op, "mmap")) {
		size_t len = (size_t)num(argc, argv, "pages", 1) * PAGE;
		off_t off = (off_t)num(argc, argv, "pgoff", 0) * PAGE;
		int share = MAP_SHARED;
		mmap_domain(argc, argv, &len, &off, &share);
		size_t whole = (len + PAGE - 1) / PAGE * PAGE;
		char *at = mmap(NULL, whole + PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (at == MAP_FAILED)
			return fail();
		void *p = mmap(at, len, PROT_READ | PROT_WRITE, share | MAP_FIXED, open_fd(b), off);
		if (p == MAP_FAILED) {
			r = -errno;
			munmap(at, whole + PAGE);
		} else {
			b->vma[b->nvma] = p;
			b->guard[b->nvma] = at + whole;
			b->vlen[b->nvma++] = whole;
		}
	} else if (!strcmp(op, "munmap")) {
		if (b->nvma) {
			b->nvma--;
			r = ret_of(munmap(b->vma[b->nvma], b->vlen[b->nvma]));
			munmap(b->guard[b->nvma], PAGE);
		} else {
			r = -EINVAL;
		}
	} else if (!strcmp(op, "mremap")) {
		if (b->nvma) {
			int k = b->nvma - 1;
			size_t len = (size_t)num(argc, argv, "pages", 1) * PAGE;
			void *p = mremap(b->vma[k], b->vlen[k], len, MREMAP_MAYMOVE);
			if (p == MAP_FAILED) {
				r = -errno;
			} else {
				b->vma[k] = p;
				b->vlen[k] = len;
			}
		} else {
			r = -EINVAL;
		}
	} else if (!strcmp(op, "page_fault")) {
		if (b->nvma)
			r = touch((const char *)b->vma[b->nvma - 1] + num(argc, argv, "page", 0) * PAGE);
		else
			r = -EINVAL;
	} else if (!strcmp(op, "sync")) {
		struct dma_buf_sync s = {.flags = unum(argc, argv, "flags", 0)};
		void *at = bad_pointer(argc, argv) ? (void *)BAD_ADDRESS : (void *)&s;
		r = ret_of(ioctl(open_fd(b), DMA_BUF_IOCTL_SYNC, at));
	} else if (!strcmp(op, "set_name")) {
		static char name[8192];
		long n = num(argc, argv, "length", 1);
		if (n < 0 || n >= (long)sizeof name)
			n = sizeof name - 1;
		memset(name, 'a', (size_t)n);
		name[n] = 0;
		const char *ptr = arg(argc, argv, "pointer");
		/* pointer=bad: an address below mmap_min_addr, never mapped */
		uint64_t at = ptr && !strcmp(ptr, "bad") ? 16 : (uint64_t)(uintptr_t)name;
		r = ret_of(ioctl(open_fd(b), DMA_BUF_SET_NAME_B, at));
	} else if (!strcmp(op, "llseek")) {
		const char *w = arg(argc, argv, "whence");
		int whence = !w ? SEEK_SET : !strcmp(w, "SEEK_END") ? SEEK_END
			     : !strcmp(w, "SEEK_CUR") ? SEEK_CUR : SEEK_SET;
		off_t o = lseek(open_fd(b), (off_t)num(argc, argv, "offset", 0), whence);
		r = o < 0 ? -errno : (long)o;
	} else if (!strcmp(op, "export_sync_file")) {
		struct dma_buf_export_sync_file e = {.flags = (uint32_t)unum(argc, argv, "flags", 0),
						     .fd = -1};
		r = ret_of(ioctl(open_fd(b), DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e));
		if (!r)
			close(e.fd);
	} else if (!strcmp(op, "import_sync_file")) {
		const char *f = arg(argc, argv, "fence");
		int pending = !f || strcmp(f, "signalled");
		struct pending p = {0};
		int sf = -1;
		uint32_t flags = (uint32_t)unum(argc, argv, "flags", 0);
		r = sync_file(pending, &p, &sf);
		if (!r) {
			struct dma_buf_import_sync_file i = {.flags = flags, .fd = sf};
			r = ret_of(ioctl(open_fd(b), DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &i));
			close(sf);
		}
		if (pending && p.handle) {
			p.write = (flags & DMA_BUF_SYNC_WRITE) != 0;
			b->fences[b->nfences++] = p;
		}
	} else if (!strcmp(op, "poll")) {
		const char *e = arg(argc, argv, "events");
		/* with no fd open, one that is not open: poll(2) reports it as POLLNVAL */
		struct pollfd pf = {.fd = b->nfds ? open_fd(b) : NOT_OPEN,
				    .events = e && !strcmp(e, "EPOLLOUT") ? POLLOUT : POLLIN};
		int n = poll(&pf, 1, 0);
		r = n < 0 ? -errno : pf.revents;
	} else if (!strcmp(op, "signal")) {
		const char *u = arg(argc, argv, "usage");
		int write = u && !strcmp(u, "WRITE");
		for (int i = 0; i < b->nfences;)
			if (b->fences[i].write == write) {
				signal_fence(&b->fences[i]);
				b->fences[i] = b->fences[--b->nfences];
			} else {
				i++;
			}
	} else {
		r = -ENOSYS;
	}
	if (r < 0) {
		*err = (int)-r;
		return -1;
	}
	return r;
}

static void cleanup(void)
{
	for (int i = 0; i < MAXB; i++) {
		struct buf *b = &bufs[i];
		for (int k = 0; k < b->nfences; k++)
			signal_fence(&b->fences[k]);
		while (b->nvma--)
			unmap_vma(b, b->nvma);
		while (b->nfds--)
			close(b->fds[b->nfds]);
		while (b->nheld--)
			close(b->held[b->nheld]);
		memset(b, 0, sizeof *b);
	}
}

int main(int argc, char **argv)
{
	char line[1024], name[256] = "";
	int cases = 0;
	FILE *in;
	if (argc < 2 || !(in = fopen(argv[1], "r"))) {
		printf("@@ error cannot read the case file\n");
		return 1;
	}
	if (argc > 2)
		pages = (unsigned)atoi(argv[2]);
	drm = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (drm < 0) {
		printf("@@ error cannot open /dev/dri/card0: %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, in)) {
		char *tok[16];
		int n = 0;
		for (char *t = strtok(line, " \n"); t && n < 16; t = strtok(NULL, " \n"))
			tok[n++] = t;
		if (!n)
			continue;
		if (!strcmp(tok[0], "C") && n >= 2) {
			snprintf(name, sizeof name, "%s", tok[1]);
			printf("@@ case %s\n", name);
		} else if (!strcmp(tok[0], "S") && n >= 4) {
			int err, bi = atoi(tok[3]);
			if (bi < 0 || bi >= MAXB) {
				printf("@@ error buffer %d: the guest keeps at most %d\n", bi, MAXB);
				return 1;
			}
			struct buf *b = &bufs[bi];
			long r = step(tok[2], b, n - 4, tok + 4, &err);
			long c = b->exported ? count_of(b->ino) : -1;
			printf("@@ step %s %ld %d %ld\n", tok[1], r, err, c);
		} else if (!strcmp(tok[0], "E")) {
			cleanup();
			printf("@@ end %s %d\n", name, listed());
			cases++;
		}
	}
	printf("@@ done %d\n", cases);
	return 0;
}
