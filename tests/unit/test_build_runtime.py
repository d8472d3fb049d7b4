"""The runtime checks of the second method (tasks/localbuild/runtime.py): pure, no host."""

import struct
import zipfile
from pathlib import Path

import pytest

from tasks.errors import ConfigError
from tasks.localbuild import facts, runtime
from tasks.localbuild.model import HostFacts

APPS = Path(__file__).resolve().parents[1] / "apps"
PY311 = {"version": "3.11", "implementation": "cp", "abi": "cp311", "machine": "x86_64",
         "glibc": "2.36"}  # fmt: skip


def host(**kw) -> HostFacts:
    base = {"alias": "cpu", "os": "Ubuntu 24.04 LTS", "machine": "aarch64",
            "java": 'openjdk version "17.0.9" 2023-10-17', "javac": "javac 17.0.9"}  # fmt: skip
    return HostFacts(**{**base, **kw})


def class_bytes(major: int) -> bytes:
    return b"\xca\xfe\xba\xbe" + struct.pack(">HH", 0, major) + b"\x00" * 8


def make_jar(path: Path, major: int, boot: bool = False, native: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as jar:
        if boot:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: "
                         "org.springframework.boot.loader.launch.JarLauncher\nStart-Class: kr.a.App\n")  # fmt: skip
            jar.writestr("BOOT-INF/classes/kr/a/App.class", class_bytes(major))
            jar.writestr(
                "org/springframework/boot/loader/launch/JarLauncher.class", class_bytes(52)
            )
        else:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: kr.a.App\n")
            jar.writestr("kr/a/App.class", class_bytes(major))
        if native is not None:
            jar.writestr("META-INF/native/libx.so", native)
    return path


def elf(machine_code: int) -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + struct.pack("<H", machine_code) + b"\x00" * 40


@pytest.mark.parametrize("line, want", [
    ('openjdk version "17.0.9" 2023-10-17', 17), ('java version "1.8.0_392"', 8),
    ('openjdk version "21" 2023-09-19', 21), ("javac 11.0.22", 11), ("bash: java: not found", None),
])  # fmt: skip
def test_java_versions_as_java_prints_them(line, want):
    assert runtime.java_feature(line) == want


@pytest.mark.parametrize("boot", [False, True])
def test_the_main_class_of_a_jar_and_its_class_file_version(tmp_path, boot):
    assert runtime.jar_main(make_jar(tmp_path / "a.jar", 61, boot)) == ("kr.a.App", 61)


def test_a_jar_for_a_newer_java_is_refused_naming_both_sides():
    with pytest.raises(ConfigError) as err:
        runtime.check_java("kr.a.App", 65, host(java='openjdk version "17.0.9"'), "/usr/bin/java")
    text = str(err.value)
    assert "class file 65 (Java 21)" in text and "cpu의 Java는 17입니다" in text
    assert "openjdk-21-jre-headless" in err.value.fix
    assert "Java 17" in runtime.check_java("kr.a.App", 61, host(), "/usr/bin/java")


def test_a_host_whose_java_says_nothing_is_refused():
    with pytest.raises(ConfigError, match="버전을 알려 주지 않았습니다"):
        runtime.check_java("kr.a.App", 61, host(java="bash: /usr/bin/java: not found"), "java")


def test_what_build_gradle_asks_for():
    sample = (APPS / "backend" / "build.gradle").read_text()
    assert runtime.gradle_java(sample) == (17, "toolchain languageVersion")
    assert runtime.gradle_java("sourceCompatibility = '1.8'") == (8, "sourceCompatibility")
    assert runtime.gradle_java("java { targetCompatibility = JavaVersion.VERSION_21 }")[0] == 21
    kts = "java { toolchain { languageVersion.set(JavaLanguageVersion.of(21)) } }"
    assert runtime.gradle_java(kts) == (21, "toolchain languageVersion")
    assert runtime.gradle_java("plugins { id 'java' }") is None


def test_a_host_build_needs_a_jdk_as_new_as_build_gradle_asks():
    gradle = (APPS / "backend" / "build.gradle").read_text()
    assert "17" in runtime.check_gradle(gradle, host(), "/usr/bin/java")
    with pytest.raises(ConfigError, match="JDK가 없어"):
        runtime.check_gradle(gradle, host(javac=""), "/usr/bin/java")
    with pytest.raises(ConfigError) as err:
        runtime.check_gradle(gradle, host(javac="javac 11.0.2"), "/usr/bin/java")
    assert "Java 17을(를) 요구하는데" in str(err.value) and "Java 11" in str(err.value)


def test_the_host_s_python_accepts_its_own_wheels_and_no_other():
    tags = runtime.python_tags(PY311)
    for ok in ("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64",
               "cp37-abi3-manylinux_2_28_x86_64", "py3-none-any", "cp311-none-linux_x86_64"):  # fmt: skip
        assert ok in tags
    for bad in ("cp312-cp312-manylinux_2_17_x86_64", "cp311-cp311-manylinux_2_17_aarch64",
                "cp311-cp311-manylinux_2_39_x86_64", "cp311-cp311-win_amd64"):  # fmt: skip
        assert bad not in tags


def test_a_wheelhouse_for_the_wrong_python_is_refused_naming_both_sides():
    good = [
        "fastapi-0.1-py3-none-any.whl",
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]
    assert "wheel 2개가 gpu의 Python 3.11" in runtime.check_wheels(good, PY311, "gpu")
    wrong = [*good, "pydantic_core-2.0-cp312-cp312-manylinux_2_17_x86_64.whl"]
    with pytest.raises(ConfigError) as err:
        runtime.check_wheels(wrong, PY311, "gpu")
    assert "cp312-cp312-manylinux_2_17_x86_64" in str(err.value)
    assert "gpu의 Python 3.11 (cp311, x86_64, glibc 2.36)" in str(err.value)
    with pytest.raises(ConfigError, match="aarch64"):
        runtime.check_wheels(["x-1-cp311-cp311-manylinux_2_17_aarch64.whl"], PY311, "gpu")
    with pytest.raises(ConfigError, match="wheel이 아님"):
        runtime.check_wheels(["x-1.0.tar.gz"], PY311, "gpu")


def test_pip_is_asked_for_the_host_s_python_not_this_one():
    args = runtime.download_args({**PY311, "machine": "aarch64", "glibc": "2.39"})
    text = " ".join(args)
    assert "--only-binary=:all:" in args and "--python-version 3.11" in text
    assert "--abi cp311" in text and "--platform manylinux_2_39_aarch64" in text
    assert "--platform manylinux2014_aarch64" in text and "x86_64" not in text


def test_native_code_for_another_architecture_is_refused(tmp_path):
    assert runtime.elf_machine(elf(0xB7)) == "aarch64"
    assert runtime.elf_machine(b"#!/bin/sh\n" + b" " * 20) is None
    jar = make_jar(tmp_path / "n.jar", 61, native=elf(0x3E))
    found = runtime.jar_natives(jar)
    assert found == [("META-INF/native/libx.so", "x86_64")]
    with pytest.raises(ConfigError) as err:
        runtime.check_natives(found, host(machine="aarch64"), "the jar")
    assert "x86_64용 네이티브 코드가 있습니다" in str(err.value) and "cpu는 aarch64입니다" in str(
        err.value
    )
    assert "네이티브 파일 2개" not in runtime.check_natives(found, host(machine="x86_64"), "jar")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "addon.node").write_bytes(elf(0xB7))
    assert runtime.tree_natives(tmp_path / "t") == [("addon.node", "aarch64")]


def test_a_host_build_of_the_frontend_needs_node_as_new_as_engines():
    pkg = (APPS / "frontend" / "package.json").read_text()  # engines.node >=18
    assert "v20" in runtime.check_node(pkg, host(node="v20.11.0"))
    with pytest.raises(ConfigError, match="node가 없어"):
        runtime.check_node(pkg, host(node=""))
    with pytest.raises(ConfigError, match="node >=18을\\(를\\) 요구하는데"):
        runtime.check_node(pkg, host(node="v16.20.0"))


def test_host_facts_are_read_from_one_command():
    out = "\n".join([
        "@@fact os Ubuntu 24.04.1 LTS", "@@fact machine aarch64", "@@fact rsync yes",
        "@@fact origin https://github.com/o/backend.git",
        '@@fact java openjdk version "17.0.12" 2024-07-16', "@@fact javac javac 17.0.12",
        '@@fact python {"version": "3.12", "implementation": "cpython", "soabi": '
        '"cpython-312-aarch64-linux-gnu", "machine": "aarch64", "glibc": "2.39"}',
    ])  # fmt: skip
    f = facts.parse("cpu", out)
    assert (f.os, f.machine, f.rsync, f.origin) == (
        "Ubuntu 24.04.1 LTS", "aarch64", True, "https://github.com/o/backend.git")  # fmt: skip
    assert runtime.java_feature(f.java) == 17 and f.javac.startswith("javac 17")
    assert f.python["abi"] == "cp312" and f.python["implementation"] == "cp"
    assert facts.parse("gpu", "@@fact machine x86_64").python == {}
