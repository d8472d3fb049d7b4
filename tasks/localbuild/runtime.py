"""The runtime checks: does what was built run on the host? Pure, no host, no network.

The manual's §2: "로컬 개발환경과 배포 환경 간의 런타임 차이를 사전에 감지불가". Here it is
detected before the host changes, and each mismatch is a :class:`ConfigError` naming both
sides and what to do:

- Java: the class-file version of the jar's main class (its manifest's Start-Class or
  Main-Class) against the Java that runs it on the host; for a host build, what build.gradle
  asks for (toolchain languageVersion, source/targetCompatibility) against the host's JDK.
- Python: every wheel's tags against the tags the host's Python accepts (its version, ABI,
  architecture, glibc), computed with the ``packaging`` library.
- Architecture: native code (ELF) inside an artifact against the host's ``uname -m``.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

from packaging import tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from tasks.errors import ConfigError
from tasks.localbuild.model import HostFacts

ALIASES = {"arm64": "aarch64", "amd64": "x86_64", "x64": "x86_64", "i386": "i686"}
#: ELF e_machine → uname -m
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x28: "armv7l", 0x03: "i686", 0xF3: "riscv64",
                0x15: "ppc64le", 0x16: "s390x"}  # fmt: skip


def machine(name: str) -> str:
    return ALIASES.get(name.lower(), name.lower())


# --- Java --------------------------------------------------------------------------------
def java_feature(line: str) -> int | None:
    """``openjdk version "17.0.9"`` → 17, ``java version "1.8.0_392"`` → 8, ``javac 21`` → 21."""
    m = re.search(r'(?:version\s+"|javac\s+)(\d+)(?:\.(\d+))?', line or "")
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def class_major(data: bytes) -> int:
    if len(data) < 8 or data[:4] != b"\xca\xfe\xba\xbe":
        raise ValueError("not a class file")
    return struct.unpack(">H", data[6:8])[0]


def jar_main(path: str | Path) -> tuple[str, int]:
    """The jar's main class and its class-file major version (Java = major − 44)."""
    with zipfile.ZipFile(path) as jar:
        try:
            text = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
        except KeyError:
            text = ""
        fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.+?)\s*$", text.replace("\r\n ", "").replace("\n ", ""), re.M))  # fmt: skip
        name = fields.get("Start-Class") or fields.get("Main-Class")
        if not name:
            raise ConfigError(f"{Path(path).name} has no Main-Class or Start-Class in its manifest",
                              "build an executable jar (bootJar)")  # fmt: skip
        entry = name.replace(".", "/") + ".class"
        for candidate in (f"BOOT-INF/classes/{entry}", entry):
            if candidate in jar.namelist():
                return name, class_major(jar.read(candidate)[:8])
        raise ConfigError(f"{Path(path).name}: the main class {name} is not in the jar",
                          "check the build's manifest")  # fmt: skip


def check_java(main_class: str, major: int, facts: HostFacts, java: str) -> str:
    """The jar's main class runs on the host's Java; returns what was checked."""
    need, have = major - 44, java_feature(facts.java)
    ours = f"the jar's main class {main_class} is class file {major} (Java {need})"
    if have is None:
        raise ConfigError(
            f"{ours}, and {java} on {facts.alias} did not say its version "
            f"({facts.java or 'no output'})",
            f"install a Java runtime ≥ {need} on {facts.alias}, or fix the backend_java setting",
        )
    if have < need:
        raise ConfigError(
            f"{ours}; {facts.alias} runs Java {have} ({java}: {facts.java}): it would not start",
            f"install a Java ≥ {need} runtime on {facts.alias} (e.g. openjdk-{need}-jre-headless) "
            f"and point backend_java at it, or build for Java {have} (toolchain / --release {have})",
        )
    return f"Java: {ours} ≤ {facts.alias} Java {have}"


GRADLE = (
    (r"targetCompatibility\s*=\s*(?:JavaVersion\.VERSION_|['\"])?(?:1[._])?(\d+)", "targetCompatibility"),
    (r"languageVersion(?:\.set\()?\s*=?\s*JavaLanguageVersion\.of\(\s*(\d+)\s*\)", "toolchain languageVersion"),
    (r"sourceCompatibility\s*=\s*(?:JavaVersion\.VERSION_|['\"])?(?:1[._])?(\d+)", "sourceCompatibility"),
    (r"options\.release(?:\.set\()?\s*=?\s*\(?\s*(\d+)", "options.release"),
)  # fmt: skip


def gradle_java(text: str) -> tuple[int, str] | None:
    """The Java version build.gradle asks for, and where it says so (the first found of
    targetCompatibility, toolchain languageVersion, sourceCompatibility, options.release)."""
    for pattern, what in GRADLE:
        m = re.search(pattern, text)
        if m:
            return int(m.group(1)), what
    return None


def check_gradle(text: str, facts: HostFacts, java: str) -> str:
    """A host build: the host's JDK can compile what build.gradle asks for, and its Java
    can run it."""
    asked = gradle_java(text)
    if not facts.javac:
        raise ConfigError(
            f"{facts.alias} has no JDK (no javac): a build there cannot run",
            f"use --build-on=local (the jar is built here; {facts.alias} needs only a Java runtime), "
            "or install a JDK there",
        )
    if asked is None:
        return "Java: build.gradle names no Java version (not checked)"
    need, what = asked
    for label, line in (("JDK", facts.javac), (java, facts.java)):
        have = java_feature(line)
        if have is not None and have < need:
            raise ConfigError(
                f"build.gradle asks for Java {need} ({what}); {facts.alias}'s {label} is "
                f"Java {have} ({line})",
                f"install a Java {need} JDK/JRE on {facts.alias}, or use --build-on=local and "
                f"a Java ≥ {need} runtime there",
            )
    return f"Java: build.gradle {what} {need} ≤ {facts.alias} {facts.javac}, {facts.java}"


# --- Python ------------------------------------------------------------------------------
def linux_platforms(arch: str, glibc: str) -> list[str]:
    """The platform tags a Linux host accepts, most specific first (PEP 600)."""
    arch = machine(arch)
    out = []
    if glibc:
        major, minor = (int(x) for x in glibc.split(".")[:2])
        lowest = 5 if arch in ("x86_64", "i686") else 17
        for m in range(minor, lowest - 1, -1):
            out.append(f"manylinux_{major}_{m}_{arch}")
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(m)
            if legacy and (m == 17 or arch in ("x86_64", "i686")):
                out.append(f"{legacy}_{arch}")
    return [*out, f"linux_{arch}"]


def python_tags(py: dict) -> set[str]:
    """Every wheel tag the host's Python accepts."""
    version = tuple(int(x) for x in py["version"].split(".")[:2])
    plats = linux_platforms(py.get("machine", ""), py.get("glibc", ""))
    impl, abi = py.get("implementation", "cp"), py.get("abi", "")
    if impl == "cp":
        found = list(tags.cpython_tags(version, abis=[abi], platforms=plats))
    else:
        found = list(tags.generic_tags(f"{impl}{version[0]}{version[1]}", [abi], plats))
    found += tags.compatible_tags(version, f"{impl}{version[0]}{version[1]}", plats)
    return {str(t) for t in found}


def describe(py: dict, alias: str) -> str:
    glibc = f", glibc {py['glibc']}" if py.get("glibc") else ", no glibc"
    return f"{alias}'s Python {py.get('version')} ({py.get('abi')}, {py.get('machine')}{glibc})"


def download_args(py: dict) -> list[str]:
    """``pip download`` options that fetch wheels for the host's Python, not this one."""
    args = ["--only-binary=:all:", "--python-version", py["version"],
            "--implementation", py.get("implementation", "cp")]  # fmt: skip
    for abi in (py.get("abi"), "abi3", "none"):
        args += ["--abi", abi]
    for plat in linux_platforms(py.get("machine", ""), py.get("glibc", "")):
        args += ["--platform", plat]
    return args


def check_wheels(names: list[str], py: dict, alias: str) -> str:
    """Every file of the wheelhouse is a wheel the host's Python can install."""
    if not py:
        raise ConfigError(f"could not read the Python on {alias}",
                          "check that python3 (or the AI venv) runs there")  # fmt: skip
    accepted, bad = python_tags(py), []
    for name in sorted(names):
        try:
            _, _, _, found = parse_wheel_filename(name)
        except InvalidWheelFilename:
            bad.append(f"{name} (not a wheel: {alias} would have to build it)")
            continue
        if not any(str(t) in accepted for t in found):
            bad.append(f"{name} ({', '.join(sorted(str(t) for t in found))})")
    if bad:
        raise ConfigError(
            f"{len(bad)} of {len(names)} files in the wheelhouse do not fit {describe(py, alias)}: "
            + "; ".join(bad[:3])
            + (" …" if len(bad) > 3 else ""),
            "make the wheelhouse for that Python (a local build asks pip for wheels with the "
            "host's --python-version, --abi and --platform), or install a matching Python there",
        )
    return f"Python: {len(names)} wheels fit {describe(py, alias)}"


# --- native code -------------------------------------------------------------------------
def elf_machine(head: bytes) -> str | None:
    """The architecture of an ELF file from its first 20 bytes (None: not ELF)."""
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "<" if head[5] == 1 else ">"
    code = struct.unpack(order + "H", head[18:20])[0]
    return ELF_MACHINES.get(code, f"e_machine {code:#x}")


def check_natives(found: list[tuple[str, str]], facts: HostFacts, what: str) -> str:
    """``found``: (file, its ELF architecture) in the artifact; all must be the host's."""
    host = machine(facts.machine)
    bad = [(f, m) for f, m in found if machine(m) != host]
    if bad:
        f, m = bad[0]
        raise ConfigError(
            f"{what} has native code for {m} ({f}{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}); "
            f"{facts.alias} is {facts.machine}",
            f"build it for {facts.machine} (on a {facts.machine} machine, or cross-compiled), "
            "or use --build-on=host",
        )
    if not found:
        return f"architecture: no native code in {what}"
    return f"architecture: {len(found)} native file(s) in {what} are {facts.machine}"


def jar_natives(path: str | Path) -> list[tuple[str, str]]:
    out = []
    with zipfile.ZipFile(path) as jar:
        for info in jar.infolist():
            if info.filename.endswith((".so", ".jnilib")) or ".so." in info.filename:
                with jar.open(info) as fh:
                    arch = elf_machine(fh.read(20))
                if arch:
                    out.append((info.filename, arch))
    return out


def tree_natives(root: str | Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and not p.is_symlink():
            with p.open("rb") as fh:
                arch = elf_machine(fh.read(20))
            if arch:
                out.append((str(p.relative_to(root)), arch))
    return out


# --- Node (a host build of the frontend) -------------------------------------------------
def check_node(package_json: str, facts: HostFacts) -> str:
    """A host build needs node; package.json's ``engines.node`` (``>=N``) is checked."""
    if not facts.node:
        raise ConfigError(
            f"{facts.alias} has no node: a frontend build there cannot run",
            "use --build-on=local (the static build is made here and sent), or install Node.js",
        )
    try:
        wanted = str(json.loads(package_json or "{}").get("engines", {}).get("node", ""))
    except ValueError:
        wanted = ""
    have = re.match(r"v?(\d+)", facts.node)
    need = re.fullmatch(r"\s*>=?\s*v?(\d+)(?:\.\d+)*\s*", wanted)
    if need and have and int(have.group(1)) < int(need.group(1)):
        raise ConfigError(
            f"package.json asks for node {wanted}; {facts.alias} has {facts.node}",
            f"install node {need.group(1)} or newer there, or use --build-on=local",
        )
    return f"node: {facts.alias} {facts.node}" + (f" fits engines {wanted}" if wanted else "")
