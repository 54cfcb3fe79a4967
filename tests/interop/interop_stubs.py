"""Generates the Python stubs for the interop tests into a temporary directory and imports them.

Usage from the other scripts: `stubs = interop_stubs.load(protos_dir, std_protos_dir)`.
The standard health/reflection protos live under `grpc/...`, which would shadow the installed `grpc`
package if imported as a package, so only their message modules are generated and they are loaded by
file path under private module names.
"""
import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
import types

from grpc_tools import protoc


def _load_by_path(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(protos_dir, std_protos_dir):
    out = tempfile.mkdtemp(prefix="optout-interop-stubs-")
    atexit.register(shutil.rmtree, out, True)
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    includes = ["-I" + protos_dir, "-I" + std_protos_dir]
    if os.path.isdir(well_known):
        includes.append("-I" + well_known)
    args = ["protoc"] + includes + ["--python_out=" + out, "--grpc_python_out=" + out, "interop_test.proto"]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed for interop_test.proto: " + " ".join(args))
    std = ["grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto"]
    if protoc.main(["protoc"] + includes + ["--python_out=" + out] + std) != 0:
        raise RuntimeError("protoc failed for the standard protos")
    sys.path.insert(0, out)
    stubs = types.SimpleNamespace()
    stubs.pb2 = importlib.import_module("interop_test_pb2")
    stubs.pb2_grpc = importlib.import_module("interop_test_pb2_grpc")
    stubs.health = _load_by_path("optout_health_v1_pb2", os.path.join(out, "grpc/health/v1/health_pb2.py"))
    stubs.reflection_v1 = _load_by_path("optout_reflection_v1_pb2", os.path.join(out, "grpc/reflection/v1/reflection_pb2.py"))
    stubs.reflection_v1alpha = _load_by_path("optout_reflection_v1alpha_pb2", os.path.join(out, "grpc/reflection/v1alpha/reflection_pb2.py"))
    stubs.out_dir = out
    return stubs
