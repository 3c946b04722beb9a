"""The kernels the conformance cases run on: Debian's own packages, pinned.

A new kernel version is one line here. ``profile`` is the model profile whose predictions
the kernel's answers are compared with; ``exporters`` are the model exporters whose kernel
drivers it has (``gem_prime``: vgem, loaded as a module; ``udmabuf``: /dev/udmabuf, built in
where the kernel's config has CONFIG_UDMABUF=y).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kernel:
    name: str  # what the table and --kernel call it
    package: str  # the Debian binary package that holds vmlinuz and the modules
    version: str  # the package version, pinned
    release: str  # the kernel release (the directory under lib/modules)
    profile: str  # the model profile it is compared with
    exporters: tuple[str, ...] = ("gem_prime",)  # the exporters a case can use on it

    @property
    def deb(self) -> str:
        """``PACKAGE=VERSION`` as ``apt-get download`` takes it."""
        return f"{self.package}={self.version}"


KERNELS: tuple[Kernel, ...] = (
    # bookworm (main): Linux 6.1 LTS
    Kernel("6.1", "linux-image-6.1.0-50-amd64-unsigned", "6.1.176-1", "6.1.0-50-amd64",
           "v6.1"),
    # bookworm-security: Linux 6.12 LTS, built for bookworm (with CONFIG_UDMABUF=y)
    Kernel("6.12", "linux-image-6.12.118+deb12-amd64-unsigned", "6.12.118-1~deb12u1",
           "6.12.118+deb12-amd64", "v6.2-6.15", ("gem_prime", "udmabuf")),
)

# The modules the guest loads (with their dependencies, from each module's .modinfo)
MODULES = ("vgem",)


def kernel(name: str) -> Kernel:
    for k in KERNELS:
        if k.name == name:
            return k
    known = ", ".join(k.name for k in KERNELS)
    raise KeyError(f"no kernel {name!r}; known: {known}")
