"""What an ELF file asks of the dynamic loader, read with pyelftools without running anything:
DT_NEEDED sonames, DT_RPATH, DT_RUNPATH, its class and machine (a 64-bit x86 binary cannot
load a 32-bit or arm64 library of the same name, and ld.so skips such files)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class ElfInfo:
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    elfclass: int  # 32 or 64
    machine: str  # EM_X86_64, EM_AARCH64, …
    interpreter: str | None  # PT_INTERP: the loader an executable names (None for libraries)
    soname: str | None = None  # DT_SONAME: the name a library is asked for by (libpq.so.5)


@contextmanager
def _opened(path: Path) -> Iterator[ELFFile | None]:
    """``path`` opened as an ELFFile (None when it does not start with the ELF magic)."""
    with open(path, "rb") as fh:
        if fh.read(4) != ELF_MAGIC:
            yield None
            return
        fh.seek(0)
        yield ELFFile(fh)


def read_elf(path: Path) -> ElfInfo | None:
    """The dynamic-linking facts of ``path``, or None when it is not a readable ELF file."""
    try:
        with open(path, "rb") as fh:
            return read_elf_stream(fh)
    except OSError:
        return None


def read_elf_stream(fh: BinaryIO) -> ElfInfo | None:
    """``read_elf`` of an open, seekable file (a member of a layer tar): None when not ELF."""
    try:
        if fh.read(4) != ELF_MAGIC:
            return None
        fh.seek(0)
        elf = ELFFile(fh)
        needed: list[str] = []
        rpath: list[str] = []
        runpath: list[str] = []
        interp = None
        soname = None
        for segment in elf.iter_segments():  # segments, not sections: a dozen headers, not dozens
            if segment.header.p_type == "PT_INTERP":
                interp = segment.get_interp_name()  # type: ignore[attr-defined]
            elif isinstance(segment, DynamicSegment):
                for tag in segment.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(tag.needed)  # type: ignore[attr-defined]
                    elif tag.entry.d_tag == "DT_RPATH":
                        rpath.extend(p for p in tag.rpath.split(":") if p)  # type: ignore[attr-defined]
                    elif tag.entry.d_tag == "DT_RUNPATH":
                        runpath.extend(p for p in tag.runpath.split(":") if p)  # type: ignore[attr-defined]
                    elif tag.entry.d_tag == "DT_SONAME":
                        soname = tag.soname  # type: ignore[attr-defined]
        return ElfInfo(tuple(needed), tuple(rpath), tuple(runpath), elf.elfclass, elf["e_machine"], interp, soname)
    except (ELFError, OSError, ValueError, KeyError, AttributeError, UnicodeDecodeError):
        return None


def elf_kind(path: Path) -> tuple[int, str] | None:
    """(class, machine) of an ELF file, cheaply (header only); None when not ELF."""
    try:
        with _opened(path) as elf:
            return None if elf is None else (elf.elfclass, elf["e_machine"])
    except (ELFError, OSError, ValueError):
        return None
