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
            raise ConfigError(f"{Path(path).name}의 manifest에 Main-Class나 Start-Class가 없습니다",
                              "실행 가능한 jar(bootJar)로 빌드하십시오")  # fmt: skip
        entry = name.replace(".", "/") + ".class"
        for candidate in (f"BOOT-INF/classes/{entry}", entry):
            if candidate in jar.namelist():
                return name, class_major(jar.read(candidate)[:8])
        raise ConfigError(f"{Path(path).name}: jar 안에 main 클래스 {name}이(가) 없습니다",
                          "빌드의 manifest를 확인하십시오")  # fmt: skip


def check_java(main_class: str, major: int, facts: HostFacts, java: str) -> str:
    """The jar's main class runs on the host's Java; returns what was checked."""
    need, have = major - 44, java_feature(facts.java)
    ours = f"jar의 main 클래스 {main_class}: class file {major} (Java {need})"
    if have is None:
        raise ConfigError(
            f"{ours}. 그런데 {facts.alias}의 {java}가 버전을 알려 주지 않았습니다 "
            f"({facts.java or '출력 없음'})",
            f"{facts.alias}에 Java {need} 이상의 런타임을 설치하거나 backend_java 설정을 고치십시오",
        )
    if have < need:
        raise ConfigError(
            f"{ours}. {facts.alias}의 Java는 {have}입니다({java}: {facts.java}): 실행되지 않습니다",
            f"{facts.alias}에 Java {need} 이상의 런타임(예: openjdk-{need}-jre-headless)을 "
            f"설치하고 backend_java가 그것을 가리키게 하거나, Java {have}용으로 빌드하십시오 "
            f"(toolchain / --release {have})",
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
            f"{facts.alias}에 JDK가 없어(javac 없음) 그곳에서 빌드할 수 없습니다",
            f"--build-on=local을 쓰거나(jar를 여기서 빌드하므로 {facts.alias}에는 Java 런타임만 "
            "있으면 됩니다) 그 호스트에 JDK를 설치하십시오",
        )
    if asked is None:
        return "Java: build.gradle에 Java 버전이 없습니다 (확인 안 함)"
    need, what = asked
    for label, line in (("JDK", facts.javac), (java, facts.java)):
        have = java_feature(line)
        if have is not None and have < need:
            raise ConfigError(
                f"build.gradle은 Java {need}을(를) 요구하는데({what}) {facts.alias}의 {label}은(는) "
                f"Java {have}입니다 ({line})",
                f"{facts.alias}에 Java {need} JDK/JRE를 설치하거나, --build-on=local을 쓰고 그 "
                f"호스트에는 Java {need} 이상의 런타임을 두십시오",
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
    glibc = f", glibc {py['glibc']}" if py.get("glibc") else ", glibc 없음"
    return f"{alias}의 Python {py.get('version')} ({py.get('abi')}, {py.get('machine')}{glibc})"


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
        raise ConfigError(f"{alias}의 Python 정보를 읽지 못했습니다",
                          "그 호스트에서 python3(또는 AI venv)가 실행되는지 확인하십시오")  # fmt: skip
    accepted, bad = python_tags(py), []
    for name in sorted(names):
        try:
            _, _, _, found = parse_wheel_filename(name)
        except InvalidWheelFilename:
            bad.append(f"{name} (wheel이 아님: {alias}에서 빌드해야 합니다)")
            continue
        if not any(str(t) in accepted for t in found):
            bad.append(f"{name} ({', '.join(sorted(str(t) for t in found))})")
    if bad:
        raise ConfigError(
            f"wheelhouse의 파일 {len(names)}개 중 {len(bad)}개가 {describe(py, alias)}에 맞지 "
            "않습니다: " + "; ".join(bad[:3]) + (" …" if len(bad) > 3 else ""),
            "그 Python에 맞는 wheelhouse를 만드십시오(로컬 빌드는 호스트의 --python-version, "
            "--abi, --platform으로 pip에 wheel을 요청합니다). 아니면 호스트에 맞는 Python을 "
            "설치하십시오",
        )
    return f"Python: wheel {len(names)}개가 {describe(py, alias)}에 맞습니다"


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
            f"{what}에 {m}용 네이티브 코드가 있습니다 ({f}{f' 외 {len(bad) - 1}개' if len(bad) > 1 else ''}). "
            f"{facts.alias}는 {facts.machine}입니다",
            f"{facts.machine}용으로 빌드하거나({facts.machine} 머신에서, 또는 크로스 컴파일) "
            "--build-on=host를 쓰십시오",
        )
    if not found:
        return f"아키텍처: {what}에 네이티브 코드 없음"
    return f"아키텍처: {what}의 네이티브 파일 {len(found)}개가 {facts.machine}용입니다"


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
            f"{facts.alias}에 node가 없어 그곳에서 프론트엔드를 빌드할 수 없습니다",
            "--build-on=local을 쓰거나(정적 빌드를 여기서 만들어 보냅니다) 그 호스트에 Node.js를 "
            "설치하십시오",
        )
    try:
        wanted = str(json.loads(package_json or "{}").get("engines", {}).get("node", ""))
    except ValueError:
        wanted = ""
    have = re.match(r"v?(\d+)", facts.node)
    need = re.fullmatch(r"\s*>=?\s*v?(\d+)(?:\.\d+)*\s*", wanted)
    if need and have and int(have.group(1)) < int(need.group(1)):
        raise ConfigError(
            f"package.json은 node {wanted}을(를) 요구하는데 {facts.alias}에는 {facts.node}가 있습니다",
            f"그 호스트에 node {need.group(1)} 이상을 설치하거나 --build-on=local을 쓰십시오",
        )
    return f"node: {facts.alias} {facts.node}" + (f" (engines {wanted} 충족)" if wanted else "")
