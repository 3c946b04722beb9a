"""The initramfs writer (checker/conformance/initramfs.py): newc archives, module
dependencies read from .modinfo, load order."""

from __future__ import annotations

import gzip
import lzma
import struct
from pathlib import Path

import pytest

from checker.conformance import initramfs


def fake_module(depends: str) -> bytes:
    """A minimal ELF64 file with a .modinfo section (and the section-name table)."""
    modinfo = f"license=GPL\0depends={depends}\0name=x\0".encode()
    names = b"\0.modinfo\0.shstrtab\0"
    data_off = 64
    names_off = data_off + len(modinfo)
    shoff = names_off + len(names)
    shoff += -shoff % 8
    header = bytearray(64)
    header[:5] = b"\x7fELF\x02"
    struct.pack_into("<Q", header, 0x28, shoff)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)
    body = bytearray(header) + modinfo + names
    body += b"\0" * (shoff - len(body))

    def sh(name: int, off: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, 1, 0, 0, off, size, 0, 0, 1, 0)

    body += sh(0, 0, 0) + sh(1, data_off, len(modinfo)) + sh(10, names_off, len(names))
    return bytes(body)


def test_modinfo_reads_the_depends_field() -> None:
    info = initramfs.modinfo(fake_module("drm,drm_shmem_helper"))
    assert info["depends"] == "drm,drm_shmem_helper"
    assert info["license"] == "GPL"


def test_modinfo_refuses_what_is_not_elf64() -> None:
    with pytest.raises(initramfs.ModuleError, match="ELF64"):
        initramfs.modinfo(b"not a module")


def test_closure_loads_dependencies_first(tmp_path: Path) -> None:
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "vgem.ko").write_bytes(fake_module("drm_shmem_helper,drm"))
    (tmp_path / "gpu" / "drm_shmem_helper.ko.xz").write_bytes(
        lzma.compress(fake_module("drm")))
    (tmp_path / "drm.ko").write_bytes(fake_module(""))
    order = [name for name, _ in initramfs.closure(tmp_path, ["vgem"])]
    assert order == ["drm", "drm_shmem_helper", "vgem"]


def test_closure_names_a_missing_dependency(tmp_path: Path) -> None:
    (tmp_path / "vgem.ko").write_bytes(fake_module("drm"))
    with pytest.raises(initramfs.ModuleError, match=r"module drm \(vgem\)"):
        initramfs.closure(tmp_path, ["vgem"])


def read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    out, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        content = data[pos:pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, content)


def test_cpio_is_a_newc_archive_with_parent_directories() -> None:
    files = {"bin/busybox": (0o100755, b"\x7fELF..."), "bin/sh": (0o120777, b"busybox"),
             "init": (0o100755, b"#!/bin/sh\n")}
    got = read_newc(initramfs.cpio(files))
    assert got["bin"][0] == 0o040755
    assert got["bin/sh"] == (0o120777, b"busybox")
    assert got["init"] == (0o100755, b"#!/bin/sh\n")


def test_build_packs_init_program_cases_and_modules(tmp_path: Path) -> None:
    mods = tmp_path / "lib" / "modules" / "6.1.0-test" / "kernel"
    mods.mkdir(parents=True)
    (mods / "vgem.ko").write_bytes(fake_module("drm"))
    (mods / "drm.ko").write_bytes(fake_module(""))
    busybox, program = tmp_path / "busybox", tmp_path / "guest"
    busybox.write_bytes(b"bb")
    program.write_bytes(b"prog")
    image = initramfs.build(tmp_path, "6.1.0-test", ["vgem"], busybox, program,
                            "C x\nE\n", 3)
    files = read_newc(gzip.decompress(image))
    assert files["modules.order"][1] == b"drm.ko\nvgem.ko\n"
    assert files["cases.txt"][1] == b"C x\nE\n"
    assert files["pages"][1] == b"3\n"
    assert files["init"][1].decode() == initramfs.INIT
    assert "poweroff -f" in initramfs.INIT
