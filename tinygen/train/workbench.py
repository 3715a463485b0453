"""The workbench: the training loop around a Recipe, and everything a run writes.

    OUT/config.json               the run settings (RunConfig) and the model's config
    OUT/metrics.jsonl             one JSON object a line: step, epoch, split, named metrics
    OUT/checkpoint.safetensors    model weights (a plain state dict; GANs prefix each module)
    OUT/optimizer.safetensors     optimiser and scheduler states, beside it
    OUT/trainer.json              where the run stands: step, epoch, data order, RNG state
    OUT/samples.png, curves.png   a sample grid and the loss curves, each epoch
    OUT/eval.json                 `tinygen eval`'s metrics

Resume is exact: the checkpoint holds the model, the optimisers, the DataLoader's position in its
shuffled epoch and the global RNG, so a resumed run's losses equal those of an uninterrupted run
with the same seed, bit for bit on the CPU. Evaluation and sampling run on a forked RNG, so they
never shift the training stream. Every file is written atomically (temporary name, then rename).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import time

from .recipe import RunConfig

CHECKPOINT = "checkpoint.safetensors"
OPTIMIZER = "optimizer.safetensors"
TRAINER = "trainer.json"


def write_json_atomic(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def fork_rng(seed):
    """Run a block on a fresh seeded CPU generator, then put the training stream back."""
    from ..backend import random as R
    saved = dict(R._generators), R._seed
    R.manual_seed(seed)
    try:
        yield
    finally:
        R._generators.clear()
        R._generators.update(saved[0])
        R._seed = saved[1]


def module_state(modules):
    """One state dict for a run's modules: plain keys for one module, `name.` prefixes for more."""
    if len(modules) == 1:
        return next(iter(modules.values())).state_dict()
    return {f"{name}.{k}": v for name, m in modules.items() for k, v in m.state_dict().items()}


def load_module_state(modules, weights):
    if len(modules) == 1:
        next(iter(modules.values())).load_state_dict(weights)
        return
    for name, m in modules.items():
        prefix = name + "."
        m.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})


class _StopOnCtrlC:
    """The first Ctrl-C asks the loop to stop after the current step (then it checkpoints); a
    second one interrupts at once. Only in the main thread, where Python delivers signals."""

    def __init__(self, progress):
        self.progress = progress
        self.requested = False
        self.previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.progress.write("Ctrl-C: finishing this step, then saving a checkpoint "
                            "(Ctrl-C again to quit at once)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


class Progress:
    """tqdm on a terminal; plain lines (every `every` steps) elsewhere, e.g. in CI logs."""

    def __init__(self, total, start, desc, every=100):
        self.tty = sys.stderr.isatty()
        self.every = every
        self.bar = None
        self.t0 = time.perf_counter()
        self.start = start
        if self.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True)
        self.total = total

    def update(self, step, metrics):
        text = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(text, refresh=False)
        elif step % self.every == 0 or step == self.total:
            rate = (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)
            print(f"step {step}/{self.total}  {text}  ({rate:.1f} steps/s)", flush=True)

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Workbench:
    """Train, evaluate and sample one Recipe in one output folder."""

    def __init__(self, recipe_cls, run: RunConfig):
        self.recipe_cls = recipe_cls
        self.run = run
        self.out = run.out or os.path.join("runs", run.model)
        self.metrics_path = os.path.join(self.out, "metrics.jsonl")

    # -- building -------------------------------------------------------------------------------
    def build(self):
        import tinygen as tg
        from ..data import DataLoader
        from .datasets import load_data
        tg.manual_seed(self.run.seed)
        cls = self.recipe_cls
        data_name = self.run.data or cls.default_data
        self.data = load_data(data_name, cls, self.run.data_dir, self.run.options)
        self.recipe = cls(self.run, self.data)
        if self.run.device != "cpu":
            for m in self.recipe.modules.values():
                m.to(self.run.device)
        batch_size = self.recipe.setting("batch_size")
        if hasattr(self.recipe, "make_loader"):          # text models: random windows
            self.loader = self.recipe.make_loader(batch_size, self.run.seed)
        else:
            self.loader = DataLoader(self.data.train, batch_size=batch_size, shuffle=True,
                                     drop_last=cls.drop_last, seed=self.run.seed,
                                     device=None if self.run.device == "cpu" else self.run.device)
        epochs, steps = self.run.epochs, self.run.steps
        if steps is None and epochs is None:
            steps = self.recipe.setting("steps")
        if steps is None:
            epochs = epochs or self.recipe.setting("epochs")
            steps = epochs * len(self.loader)
        self.total_steps = steps
        self.recipe.configure(steps)
        self.step = 0
        return self

    # -- checkpoints ----------------------------------------------------------------------------

    def save_checkpoint(self, epoch_done):
        import tinygen as tg
        from ..backend import random as R
        os.makedirs(self.out, exist_ok=True)
        tg.save(module_state(self.recipe.modules), os.path.join(self.out, CHECKPOINT))
        tg.save({"step": self.step,
                 "optimizers": {k: o.state_dict() for k, o in self.recipe.optimizers.items()},
                 "schedulers": {k: s.state_dict() for k, s in self.recipe.schedulers.items()}},
                os.path.join(self.out, OPTIMIZER))
        write_json_atomic(os.path.join(self.out, TRAINER), {
            "step": self.step, "epoch_done": epoch_done, "total_steps": self.total_steps,
            "loader": self.loader.state_dict(), "rng": R.get_state(), "seed": R.initial_seed(),
        })

    def load_checkpoint(self):
        import tinygen as tg
        from ..backend import random as R
        path = os.path.join(self.out, TRAINER)
        if not os.path.exists(path):
            raise FileNotFoundError(f"--resume: no {TRAINER} in {self.out}; nothing to resume")
        with open(path) as f:
            state = json.load(f)
        load_module_state(self.recipe.modules, tg.load(os.path.join(self.out, CHECKPOINT)))
        opt = tg.load(os.path.join(self.out, OPTIMIZER))
        if int(opt["step"]) != int(state["step"]):
            raise RuntimeError(f"{self.out}: {OPTIMIZER} is from step {opt['step']} but "
                               f"{TRAINER} from step {state['step']}; the checkpoint is torn")
        for k, o in self.recipe.optimizers.items():
            o.load_state_dict(opt["optimizers"][k])
        for k, s in self.recipe.schedulers.items():
            s.load_state_dict(opt["schedulers"][k])
        self.loader.load_state_dict(state["loader"])
        R.manual_seed(state["seed"])
        R.set_state(state["rng"])
        self.step = int(state["step"])
        self._truncate_metrics(self.step)
        return state

    def _truncate_metrics(self, step):
        """Drop log lines written after the checkpoint: the resumed run writes them again."""
        from .plots import read_metrics
        rows = [r for r in read_metrics(self.metrics_path) if r["step"] <= step]
        tmp = self.metrics_path + ".tmp"
        with open(tmp, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        os.replace(tmp, self.metrics_path)

    def log(self, row):
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, resume=False):
        self.build()
        os.makedirs(self.out, exist_ok=True)
        if resume:
            self.load_checkpoint()
        else:
            if os.path.exists(self.metrics_path):
                os.remove(self.metrics_path)
        config = dataclasses.asdict(self.run)
        config["resolved"] = {k: self.recipe.setting(k) for k in ("batch_size", "lr", "epochs")}
        config["total_steps"] = self.total_steps
        config["data"] = self.data.name
        if hasattr(self.recipe, "config"):
            config["model_config"] = dataclasses.asdict(self.recipe.config)
        write_json_atomic(os.path.join(self.out, "config.json"), config)

        per_epoch = len(self.loader)
        progress = Progress(self.total_steps, self.step, self.run.model,
                            every=max(self.run.log_every * 10, 1))
        t0 = time.perf_counter()
        epoch_done = self.step // per_epoch
        with _StopOnCtrlC(progress) as stop:
            try:
                self.recipe.train()
                while self.step < self.total_steps and not stop.requested:
                    for batch in self.loader:
                        metrics = self.recipe.train_step(batch, self.step)
                        self.step += 1
                        epoch = (self.step - 1) // per_epoch
                        if self.step % self.run.log_every == 0 or self.step == self.total_steps:
                            self.log({"step": self.step, "epoch": epoch, "split": "train", **metrics})
                        progress.update(self.step, metrics)
                        if self.step >= self.total_steps or stop.requested:
                            break
                    if self.step % per_epoch == 0 or self.step >= self.total_steps:
                        epoch_done = self.step // per_epoch
                        self._end_of_epoch(epoch_done, progress)
            except KeyboardInterrupt:         # a second Ctrl-C: out now, mid-step, no checkpoint
                progress.close()
                print(f"\nstopped mid-step; the last checkpoint in {self.out} is kept",
                      file=sys.stderr)
                return 130
        if stop.requested and self.step < self.total_steps:
            progress.close()
            self.save_checkpoint(epoch_done)
            print(f"\ninterrupted at step {self.step}: checkpoint saved in {self.out}; continue "
                  f"with `tinygen train {self.run.model} --out {self.out} --resume`",
                  file=sys.stderr)
            return 130
        progress.close()
        elapsed = time.perf_counter() - t0
        print(f"done: {self.step} steps in {elapsed:.1f}s; results in {self.out}")
        return 0

    def _end_of_epoch(self, epoch_done, progress):
        from .plots import plot_curves
        self.recipe.eval()
        with fork_rng(self.run.seed + 1000 + epoch_done):
            import tinygen as tg
            with tg.no_grad():
                metrics = self.recipe.evaluate(self.data.test)
                try:
                    self.recipe.write_samples(os.path.join(self.out, "samples.png"))
                except NotImplementedError:
                    pass
        self.recipe.train()
        if metrics:
            self.log({"step": self.step, "epoch": epoch_done - 1, "split": "test", **metrics})
            where = (f"epoch {epoch_done}" if self.step % len(self.loader) == 0
                     else f"step {self.step}")
            progress.write(f"{where}: " + "  ".join(
                f"{k}={v:.4f}" for k, v in metrics.items()))
        plot_curves(self.metrics_path, os.path.join(self.out, "curves.png"), title=self.run.model)
        self.save_checkpoint(epoch_done)


def load_run(out, device=None):
    """Rebuild a trained run from its folder (config.json + checkpoint) for eval and sample."""
    from ..models import RECIPES
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    run = RunConfig(**{k: v for k, v in config.items() if k in fields})
    run.out = out
    if device is not None:
        run.device = device
    bench = Workbench(RECIPES[run.model], run).build()
    import tinygen as tg
    load_module_state(bench.recipe.modules, tg.load(os.path.join(out, CHECKPOINT)))
    bench.recipe.eval()
    return bench
