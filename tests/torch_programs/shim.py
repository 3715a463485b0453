"""The import shim: PyTorch programs run unchanged on tinygen (issue #14).

    with torch_shim():                     # `import torch` now gives tinygen
        run_program("programs/mnist/main.py", ["--epochs", "1"])

Inside the block, `torch` and the submodules programs import (torch.nn, torch.nn.functional,
torch.nn.utils.rnn, torch.optim, torch.optim.lr_scheduler, torch.utils.data,
torch.distributions, ...) are the tinygen modules of the same names (torch.utils.tensorboard
only once a program imports it), and `torchvision` is the small local stand-in under
standins/ (datasets.MNIST and FakeData, transforms, utils.save_image, models.resnet18), written
against `torch` so it runs on either. Any other `torch.*` import fails with a clear error rather
than loading a second copy of a tinygen module. On exit sys.modules is put back as it was, so
tests that use the real torch afterwards still get it. `torch_shim(backend="torch")` maps only
torchvision (the real torch stays): it checks that a program is a genuine PyTorch program.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import io
import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDINS = HERE / "standins"
PROGRAMS = HERE / "programs"

# torch module -> tinygen module
MODULES = {
    "torch": "tinygen",
    "torch.nn": "tinygen.nn",
    "torch.nn.functional": "tinygen.nn.functional",
    "torch.nn.init": "tinygen.nn.init",
    "torch.nn.utils": "tinygen.nn.utils",
    "torch.nn.utils.rnn": "tinygen.nn.utils.rnn",
    "torch.nn.utils.parametrize": "tinygen.nn.utils.parametrize",
    "torch.nn.utils.parametrizations": "tinygen.nn.utils.parametrizations",
    "torch.nn.utils.prune": "tinygen.nn.utils.prune",
    "torch.nn.utils.stateless": "tinygen.nn.utils.stateless",
    "torch.nn.parameter": "tinygen.nn.parameter",
    "torch.nn.parallel": "tinygen.nn.parallel",
    "torch.optim": "tinygen.optim",
    "torch.optim.lr_scheduler": "tinygen.optim.lr_scheduler",
    "torch.optim.swa_utils": "tinygen.optim.swa_utils",
    "torch.optim.optimizer": "tinygen.optim.optimizer",
    "torch.utils": "tinygen.utils",
    "torch.utils.checkpoint": "tinygen.utils.checkpoint",
    "torch.utils.data": "tinygen.data",
    "torch.utils.data.dataloader": "tinygen.data.dataloader",
    "torch.utils.data.dataset": "tinygen.data.dataset",
    "torch.utils.data.sampler": "tinygen.data.sampler",
    "torch.utils.data.distributed": "tinygen.data.distributed",
    "torch.distributions": "tinygen.distributions",
    "torch.distributions.constraints": "tinygen.distributions.constraints",
    "torch.distributions.kl": "tinygen.distributions.kl",
    "torch.distributions.transforms": "tinygen.distributions.transforms",
    "torch.autograd": "tinygen.autograd",
    "torch.autograd.function": "tinygen.autograd.function",
    "torch.autograd.functional": "tinygen.autograd.functional",
    "torch.autograd.grad_mode": "tinygen.autograd.grad_mode",
    "torch.amp": "tinygen.amp",
    "torch.func": "tinygen.func",
    "torch.linalg": "tinygen.linalg",
    "torch.special": "tinygen.special",
    "torch.jit": "tinygen.jit",
    "torch.testing": "tinygen.testing",
    "torch.distributed": "tinygen.distributed",
    "torch.quantization": "tinygen.quantization",
    "torch.backends": "tinygen.backends",
    "torch.backends.cudnn": "tinygen.backends.cudnn",
    "torch.backends.mps": "tinygen.backends.mps",
    "torch.cuda": "tinygen.cuda",
    "torch.compiler": "tinygen.compiler",
    "torch.xpu": "tinygen.xpu",
    "torch.random": "tinygen.random",
}
# mapped only when a program imports them (tensorboardX takes a second and a half to import)
LAZY_MODULES = {
    "torch.utils.tensorboard": "tinygen.utils.tensorboard",
}


class _Alias(importlib.abc.Loader):
    """Loads a torch name as the tinygen module itself (the same object, not a second copy)."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _Refuse(importlib.abc.MetaPathFinder):
    """LAZY_MODULES on first import; any other torch.* module outside MODULES: a clear error,
    not a second copy of tinygen's."""

    def find_spec(self, name, path=None, target=None):
        if name in LAZY_MODULES:
            return importlib.util.spec_from_loader(name, _Alias(LAZY_MODULES[name]))
        if name.startswith("torch.") and name not in sys.modules:
            raise ModuleNotFoundError(f"torch shim: tinygen has no module for {name!r} (mapped: "
                                      f"{', '.join(sorted({**MODULES, **LAZY_MODULES}))})",
                                      name=name)
        return None


def _is_ours(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _load_torchvision():
    spec = importlib.util.spec_from_file_location(
        "torchvision", STANDINS / "torchvision" / "__init__.py",
        submodule_search_locations=[str(STANDINS / "torchvision")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["torchvision"] = module
    spec.loader.exec_module(module)


@contextlib.contextmanager
def torch_shim(backend="tinygen"):
    prefixes = ["torchvision"] + (["torch"] if backend == "tinygen" else [])
    saved = {k: v for k, v in sys.modules.items() if _is_ours(k, prefixes)}
    for name in saved:
        del sys.modules[name]
    refuse = _Refuse()
    try:
        if backend == "tinygen":
            for torch_name, tinygen_name in MODULES.items():
                sys.modules[torch_name] = importlib.import_module(tinygen_name)
            sys.meta_path.insert(0, refuse)
        _load_torchvision()
        yield
    finally:
        if refuse in sys.meta_path:
            sys.meta_path.remove(refuse)
        for name in [k for k in sys.modules if _is_ours(k, prefixes)]:
            del sys.modules[name]
        sys.modules.update(saved)


def run_program(path, argv, cwd, local_modules=()):
    """Run the script at `path` as `python path argv...` would, in `cwd`; returns its stdout.

    local_modules: names the program imports from its own folder (`import data, model`); they
    are dropped from sys.modules afterwards so the next program gets its own."""
    path = Path(path).resolve()
    saved_argv, saved_cwd, saved_path = sys.argv, os.getcwd(), list(sys.path)
    saved_local = {name: sys.modules.pop(name) for name in local_modules if name in sys.modules}
    out = io.StringIO()
    try:
        sys.argv = [str(path), *argv]
        sys.path.insert(0, str(path.parent))
        os.chdir(cwd)
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_path(str(path), run_name="__main__")
            except SystemExit as stop:
                if stop.code not in (0, None):
                    raise RuntimeError(f"{path.name} exited with {stop.code}:\n"
                                       f"{out.getvalue()}") from None
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.chdir(saved_cwd)
        for name in local_modules:
            sys.modules.pop(name, None)
        sys.modules.update(saved_local)
    return out.getvalue()
