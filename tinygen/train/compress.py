"""`tinygen compress DIR --out DIR2 [--prune F] [--global] [--finetune-epochs N] [--int8]`: the
logic, as functions (the command line calls compress_run).

    report = compress_run("runs/classifier", "runs/classifier-int8", prune=0.5,
                          global_prune=True, finetune_epochs=1, int8=True)

compress_run loads a trained run (config.json + checkpoint.safetensors, as `tinygen eval` does),
evaluates it, and then, in this order:
1. prune (--prune F): the fraction F of the weights of every Linear and Conv layer with the
   smallest magnitude, per layer (L1Unstructured) or, with --global, over all of them together
   (global_unstructured: layers lose different shares);
2. fine-tune (--finetune-epochs N): N epochs of the recipe's own training step on the training
   set, the masks held by the pruning hooks (pruned weights stay 0); the recipe's schedule is
   restarted over these N epochs (the classifier's cosine decays to 0 again);
3. make the pruning permanent (prune.remove): plain weights with exact zeros;
4. quantise (--int8): Conv2d layers static int8, their input qparams calibrated with a
   MinMaxObserver (or a PercentileObserver) over `calibration_batches` training batches; Linear
   layers dynamic int8 (their input qparams from each batch);
then evaluates again and writes DIR2: config.json (DIR's, plus a "compression" entry that
records what was done and which layers are int8), checkpoint.safetensors (int8 weights plus
float32 scales where quantised) and compress.json (the report, also returned).

A compressed run loads as any run (workbench.load_run, for tinygen eval / sample): the recipe
builds the float model, restore_compression swaps in the int8 layers the plan in config.json
names, then the weights load. Pruning needs nothing: its zeros are in the weights.
"""
from __future__ import annotations

import json
import os
import time

from .. import nn
from ..autograd.grad_mode import no_grad
from ..backend.random import fork_rng
from ..io import save
from ..nn.utils import prune as pruning
from ..quantization import (MinMaxObserver, PercentileObserver, QuantizedConv2d, QuantizedLinear,
                            convert, prepare, quantization_plan, quantize_dynamic)
from .errors import UsageError
from .run_folder import CHECKPOINT, CONFIG, module_state, write_json
from .workbench import load_run

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)
OBSERVERS = {"minmax": MinMaxObserver, "percentile": PercentileObserver}
REPORT = "compress.json"


def compress_run(src, out, prune=None, global_prune=False, finetune_epochs=0, int8=False,
                 calibration_batches=10, observer="minmax", log=print):
    """Compress the trained run in `src` into `out` (see the module docs); returns the report:
    metrics before and after (and after each step), sparsity of the prunable weights, sizes of
    checkpoint.safetensors in bytes before and after, and the seconds it took."""
    _check_options(src, out, prune, finetune_epochs, observer)
    t0 = time.perf_counter()
    bench = load_run(src)
    recipe = bench.recipe
    report = {"source": os.path.abspath(src), "out": os.path.abspath(out),
              "model": bench.run.model, "prune": prune, "global": bool(global_prune),
              "finetune_epochs": int(finetune_epochs), "int8": bool(int8),
              "metrics_before": evaluate(bench)}
    log(f"compress: {src} ({bench.run.model}) before: {_fmt(report['metrics_before'])}")
    if prune:
        _prune(recipe.modules, prune, global_prune)
        report["metrics_after_prune"] = evaluate(bench)
        log(f"compress: pruned {prune:.0%}{' globally' if global_prune else ' per layer'}: "
            f"{_fmt(report['metrics_after_prune'])}")
    if finetune_epochs:
        finetune(bench, finetune_epochs, log)
        report["metrics_after_finetune"] = evaluate(bench)
    for module in recipe.modules.values():
        _remove_pruning(module)
    plans = {}
    if int8:
        plans = quantize_recipe(bench, calibration_batches, OBSERVERS[observer])
        report["int8_layers"] = plans
    report["metrics_after"] = evaluate(bench)
    report["sparsity"] = sparsity(recipe.modules)
    _write_run(bench, src, out, report, plans, observer, calibration_batches)
    report["size_before_bytes"] = os.path.getsize(os.path.join(src, CHECKPOINT))
    report["size_after_bytes"] = os.path.getsize(os.path.join(out, CHECKPOINT))
    report["size_ratio"] = report["size_before_bytes"] / report["size_after_bytes"]
    report["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(os.path.join(out, REPORT), report)
    log(f"compress: after: {_fmt(report['metrics_after'])}; sparsity {report['sparsity']:.1%}; "
        f"{report['size_before_bytes']} -> {report['size_after_bytes']} bytes "
        f"({report['size_ratio']:.2f}x smaller); {out}")
    return report


def _check_options(src, out, prune, finetune_epochs, observer):
    if os.path.abspath(src) == os.path.abspath(out):
        raise UsageError(f"--out {out}: must differ from the source run {src}")
    if os.path.exists(os.path.join(out, CONFIG)):
        raise UsageError(f"--out {out}: holds a run already; name a new folder")
    if prune is not None and not 0.0 < float(prune) < 1.0:
        raise UsageError(f"--prune {prune}: the fraction of weights to prune, in (0, 1)")
    if int(finetune_epochs) < 0:
        raise UsageError(f"--finetune-epochs {finetune_epochs}: must be >= 0")
    if observer not in OBSERVERS:
        raise UsageError(f"--observer {observer}: expected one of {', '.join(sorted(OBSERVERS))}")


def _fmt(metrics):
    return "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())


def evaluate(bench):
    """The recipe's test metrics, in eval mode, on the RNG stream `tinygen eval` uses (so the
    VAE's sampled latents are the same before and after compression)."""
    recipe = bench.recipe
    recipe.eval()
    with fork_rng(bench.run.seed + 7), no_grad():
        return recipe.evaluate(bench.data.test)


def prunable_weights(modules):
    """(layer, "weight") for every Linear and Conv layer of the run's modules."""
    return [(m, "weight") for module in modules.values() for m in module.modules()
            if isinstance(m, PRUNABLE)]


def _prune(modules, amount, global_prune):
    weights = prunable_weights(modules)
    if global_prune:
        pruning.global_unstructured(weights, pruning_method=pruning.L1Unstructured,
                                    amount=float(amount))
    else:
        for layer, name in weights:
            pruning.l1_unstructured(layer, name, amount=float(amount))


def _remove_pruning(module):
    for layer in module.modules():
        for hook in list(layer._forward_pre_hooks.values()):
            if isinstance(hook, pruning.BasePruningMethod):
                pruning.remove(layer, hook._tensor_name)


def finetune(bench, epochs, log=print):
    """`epochs` epochs of the recipe's training step over the run's training loader, with the
    recipe's schedule restarted over them; logs the mean of each logged loss per epoch."""
    recipe = bench.recipe
    recipe.configure(epochs * len(bench.loader))
    recipe.train()
    step = 0
    for epoch in range(epochs):
        sums = {}
        for batch in bench.loader:
            for k, v in recipe.train_step(batch, step).items():
                sums[k] = sums.get(k, 0.0) + v
            step += 1
        means = {k: v / len(bench.loader) for k, v in sums.items()}
        log(f"compress: fine-tune epoch {epoch + 1}/{epochs}: {_fmt(means)}")
    recipe.eval()


def quantize_recipe(bench, calibration_batches, observer=MinMaxObserver):
    """Quantise the run's modules in place: Linear layers dynamic; Conv2d layers static,
    calibrated on the first `calibration_batches` training batches, in the modules that take
    the batch's images (a classifier, a VAE; a GAN's generator, which takes noise, gets dynamic
    int8 convs instead). Returns {module key: quantization_plan}."""
    recipe = bench.recipe
    recipe.eval()
    batches = []
    for batch in bench.loader:
        if len(batches) >= calibration_batches:
            break
        batches.append(batch[0])
    static = {key for key, module in recipe.modules.items() if _takes(module, batches[0])}
    for key in static:
        prepare(recipe.modules[key], {nn.Conv2d}, observer=observer, inplace=True)
    with no_grad():
        for x in batches:
            for key in static:
                recipe.modules[key](x)
    plans = {}
    for key, module in recipe.modules.items():
        if key in static:
            convert(module, inplace=True)
        quantize_dynamic(module, {nn.Linear} if key in static else {nn.Linear, nn.Conv2d},
                         inplace=True)
        plans[key] = quantization_plan(module)
    return plans


def _takes(module, x):
    """Whether module(x) runs (a recipe's modules do not say what they take)."""
    try:
        with no_grad():
            module(x)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def sparsity(modules):
    """The fraction of exact zeros in the weights of the Linear and Conv layers (float or int8)."""
    kinds = PRUNABLE + (QuantizedLinear, QuantizedConv2d)
    zeros = total = 0
    for module in modules.values():
        for m in module.modules():
            if isinstance(m, kinds):
                w = m.weight_orig * m.weight_mask if hasattr(m, "weight_mask") else m.weight
                zeros += int((w == 0).sum().item())
                total += w.numel()
    return zeros / max(total, 1)


def _write_run(bench, src, out, report, plans, observer, calibration_batches):
    """out/config.json (src's plus "compression") and out/checkpoint.safetensors."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(src, CONFIG)) as f:
        config = json.load(f)
    config["out"] = out
    config["compression"] = {
        "source": report["source"], "prune": report["prune"], "global": report["global"],
        "finetune_epochs": report["finetune_epochs"], "int8": report["int8"],
        "int8_plan": plans, "observer": observer if plans else None,
        "calibration_batches": calibration_batches if plans else None}
    save(module_state(bench.recipe.modules), os.path.join(out, CHECKPOINT))
    write_json(os.path.join(out, CONFIG), config)
