"""Cost of parameter-efficient fine-tuning against full fine-tuning, measured in one run.

    python benchmarks/peft_efficiency.py [--quick] [--fold 0] [--seed 0]

Data: the embedded UCI HAPT (``hapt_embedded``: 6 channels, 200-sample windows, 12 classes), one
fold of its 10 subject groups: the fold's test subjects are seen once, at the end; whole training
subjects are held out for validation; z-scores are fitted on the training subjects only.

Part 1 — LoRA (r = 4, 8, 16) and QLoRA (r = 8) on a masked-autoencoder transformer (``mae``,
preset small), against full fine-tuning of the same checkpoint. The MAE is pretrained without
labels on the fold's training subjects (``harbench.pretrain.pretrain``). Published (LoRA/QLoRA
on an MAE, LODO over five datasets): trainable parameters 0.07x, GPU memory 0.32x, training time
0.43x of full fine-tuning, macro-F1 on par.

Part 2 — LoRA-Edge (``lora_edge``) on a 1-D ResNet (``resnet1d``) against full fine-tuning. The
"pre-trained" CNN is trained fully (supervised) on half of the training subjects (the source
subjects); both methods then adapt it to the other half (the target subjects), validated on the
held-out validation subjects and tested on the fold's test subjects: an adaptation to new people.
Published: at most 1.49% of the parameters trained, macro-F1 within 4.7 points of full
fine-tuning, 1.4-3.8x faster convergence to a target F1.

Every fine-tuning run uses ``harbench.train.fit`` (AdamW, no early stopping, so all methods run
the same epochs). Peak training memory is measured on 20 AdamW steps of the same adapted model at
the same batch size, without the validation passes (whose batch of 512 windows would set the
peak whatever the method trains): on the CPU in a spawned process of its own
(``harbench.measure.memory.peak_rss_of``; baseline = the child after its imports, with its data
loaded), on a GPU as ``torch.cuda.max_memory_allocated``.
The analytic breakdown (weights, gradients, AdamW state, saved activations at the batch size)
comes from ``harbench.measure.memory.training_memory_breakdown``. Fit time is the wall time of
``fit``; time-to-target is the wall time until validation macro-F1 first reaches 95% of the
lower of the two runs' best (``harbench.measure.timing.convergence_speedup``).

``--quick`` caps the windows and epochs so the whole script runs in a few minutes on 2 CPU cores;
its numbers show that the pipeline works, not the converged figures.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

import harbench
from harbench import plugins
from harbench.data.normalise import ZScore
from harbench.data.protocols import make_folds, validation_split
from harbench.measure import memory, timing
from harbench.train import TrainConfig, evaluate, fit, set_train_mode, to_tensors

DATASET = "hapt_embedded"
PROTOCOL = {"name": "subject_groups", "groups": 10}
MAE_PARAMS = {"preset": "small"}
CNN_MODEL = "resnet1d"
LORA_RANKS = (4, 8, 16)
QLORA_RANK = 8
PUBLISHED = {"trainable": 0.07, "memory": 0.32, "fit_time": 0.43,
             "edge_share": 0.0149, "edge_gap": 4.7, "edge_speedup": (1.4, 3.8)}
MIB = float(1 << 20)
# imported in every measured child before its baseline, so no method pays for a lazy import
PRELOAD = ("peft", "bitsandbytes", "tensorly", "tensorly.decomposition")
MEMORY_STEPS = 20  # training steps in the child process whose peak memory is measured


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few windows and epochs (minutes)")
    parser.add_argument("--fold", type=int, default=0, help="subject-group fold (0-9)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs")
    parser.add_argument("--pretrain-epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="full fine-tuning learning rate")
    parser.add_argument("--adapter-lr", type=float, default=3e-3,
                        help="learning rate of the adapter methods (LoRA, QLoRA, LoRA-Edge)")
    args = parser.parse_args(argv)
    quick = {"epochs": 3, "pretrain_epochs": 2, "cap_train": 1000, "cap_val": 300}
    full = {"epochs": 30, "pretrain_epochs": 30, "cap_train": None, "cap_val": None}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def device_description() -> tuple[torch.device, str]:
    if torch.cuda.is_available():
        return torch.device("cuda"), f"cuda ({torch.cuda.get_device_name(0)})"
    return torch.device("cpu"), f"cpu ({torch.get_num_threads()} threads)"


# ---- data -------------------------------------------------------------------------------------


def _cap(index: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    if cap is None or len(index) <= cap:
        return index
    return np.sort(rng.choice(index, size=cap, replace=False))


def _arrays(windows, index: np.ndarray, norm: ZScore) -> dict[str, np.ndarray]:
    return {"X": norm.apply(np.asarray(windows.X[index])), "y": windows.y[index].astype(np.int64)}


def load_fold(args: argparse.Namespace) -> dict[str, Any]:
    """The fold's splits (normalised numpy arrays), for both parts of the benchmark."""
    windows = harbench.load_windows(DATASET)
    fold = make_folds(windows, PROTOCOL)[args.fold]
    rng = np.random.default_rng(args.seed)
    train, val = validation_split(windows, fold.train, 0.15, args.seed)
    norm = ZScore.fit(np.asarray(windows.X[fold.train]))
    # part 2: source subjects (supervised pre-training) and target subjects (adaptation)
    subjects = np.unique(windows.subject[train])
    source_subjects = rng.choice(subjects, size=len(subjects) // 2, replace=False)
    is_source = np.isin(windows.subject[train], source_subjects)
    return {
        "classes": len(windows.classes),
        "channels": windows.X.shape[2],
        "window": windows.X.shape[1],
        "test_subjects": sorted(int(s) for s in np.unique(windows.subject[fold.test])),
        "unlabelled": norm.apply(np.asarray(windows.X[_cap(fold.train, args.cap_train, rng)])),
        "train": _arrays(windows, _cap(train, args.cap_train, rng), norm),
        "val": _arrays(windows, _cap(val, args.cap_val, rng), norm),
        "test": _arrays(windows, fold.test, norm),
        "source": _arrays(windows, _cap(train[is_source], args.cap_train, rng), norm),
        "target": _arrays(windows, _cap(train[~is_source], args.cap_train, rng), norm),
    }


# ---- one fine-tuning run (runs in a child process on the CPU) ---------------------------------


def build_adapted(job: dict[str, Any]) -> torch.nn.Module:
    """The backbone, with the job's starting weights, adapted by the job's method."""
    from harbench.pretrain import strip_pretraining

    torch.manual_seed(job["seed"])
    model = harbench.build_model(job["model"], channels=job["channels"], window=job["window"],
                                 classes=job["classes"], **job["model_params"])
    state = {k: torch.from_numpy(v) for k, v in job["state"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise RuntimeError(f"checkpoint keys the model lacks: {unexpected[:5]}")
    strip_pretraining(model)
    return harbench.adapt(model, job["method"], **job["method_params"])


def finetune_job(job: dict[str, Any]) -> dict[str, Any]:
    """Adapt, train and test one method; returns its curves, fit time and test macro-F1."""
    device = torch.device(job["device"])
    model = build_adapted(job).to(device)
    train = tuple(t.to(device) for t in to_tensors(job["train"]["X"], job["train"]["y"]))
    val = tuple(t.to(device) for t in to_tensors(job["val"]["X"], job["val"]["y"]))
    config = TrainConfig(epochs=job["epochs"], batch_size=job["batch_size"], lr=job["lr"],
                         patience=job["epochs"] + 1)
    bn_frozen = getattr(model, "harbench_bn_policy", "update") == "frozen"
    result = fit(model, train, val, config, n_classes=job["classes"], bn_frozen=bn_frozen,
                 seed=job["seed"])
    test = evaluate(model, *(t.to(device) for t in to_tensors(job["test"]["X"],
                                                             job["test"]["y"])), job["classes"])
    out = {"curves": result.curves, "fit_seconds": result.fit_seconds,
           "test_f1": float(test["macro_f1"]), "epochs": len(result.curves)}
    if job.get("keep_state"):
        out["state"] = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return out


def training_steps_job(job: dict[str, Any]) -> int:
    """``MEMORY_STEPS`` AdamW steps of the adapted model on training batches, no evaluation.

    This is what the peak-memory figure measures: validation passes (``predict`` on 512 windows
    at once, without autograd) would otherwise set the peak, whatever the method trains.
    """
    device = torch.device(job["device"])
    model = build_adapted(job).to(device)
    X, y = (t.to(device) for t in to_tensors(job["train"]["X"], job["train"]["y"]))
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=job["lr"])
    set_train_mode(model, getattr(model, "harbench_bn_policy", "update") == "frozen")
    batch = job["batch_size"]
    for step in range(MEMORY_STEPS):
        start = (step * batch) % max(1, len(y) - batch)
        loss = torch.nn.functional.cross_entropy(model(X[start:start + batch]),
                                                 y[start:start + batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return MEMORY_STEPS


def run_measured(job: dict[str, Any]) -> dict[str, Any]:
    """``finetune_job``, the peak memory of its training steps, and the analytic breakdown."""
    started = time.perf_counter()
    peak = memory.peak_training_memory(training_steps_job, job, device=job["device"],
                                       preload=PRELOAD)
    out = finetune_job(job)
    out.update(peak_bytes=peak.extra_bytes, peak_kind=peak.kind,
               wall_seconds=time.perf_counter() - started)
    model = build_adapted(job)
    example = torch.from_numpy(job["train"]["X"][: job["batch_size"]])
    base = harbench.build_model(job["model"], channels=job["channels"], window=job["window"],
                                classes=job["classes"], **job["model_params"])
    from harbench.pretrain import strip_pretraining

    base_params = memory.parameter_summary(strip_pretraining(base))["total"]
    out["params"] = memory.parameter_summary(model, reference_params=base_params)
    out["breakdown"] = memory.training_memory_breakdown(
        model, example, bn_frozen=getattr(model, "harbench_bn_policy", "update") == "frozen")
    out["adapter_bytes"] = memory.adapter_bytes(
        plugins.get("methods", job["method"]).adapter_state(model))
    return out


def make_job(args, data, *, model, model_params, state, method, method_params, train, val,
             device, lr) -> dict[str, Any]:
    return {
        "model": model, "model_params": model_params, "state": state, "method": method,
        "method_params": method_params, "train": train, "val": val, "test": data["test"],
        "classes": data["classes"], "channels": data["channels"], "window": data["window"],
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": lr, "seed": args.seed,
        "device": device.type,
    }


# ---- reporting --------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def print_part1(rows: dict[str, dict[str, Any]]) -> None:
    ref = rows["full"]
    print("\nPart 1: LoRA / QLoRA on the MAE vs full fine-tuning (ratios = method / full)")
    head = (f"{'method':<10} {'trainable':>10} {'ratio':>6} {'peak MiB':>9} {'ratio':>6} "
            f"{'analytic MiB':>12} {'ratio':>6} {'frozen KiB':>10} {'fit s':>7} {'ratio':>6} "
            f"{'test F1':>8} {'dF1 pts':>8}")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        total = r["breakdown"]["total"]
        print(
            f"{name:<10} {r['params']['trainable']:>10} "
            f"{ratio(r['params']['trainable'], ref['params']['trainable']):>6} "
            f"{r['peak_bytes'] / MIB:>9.1f} {ratio(r['peak_bytes'], ref['peak_bytes']):>6} "
            f"{total / MIB:>12.2f} {ratio(total, ref['breakdown']['total']):>6} "
            f"{r['breakdown']['frozen_weights'] / 1024:>10.1f} "
            f"{r['fit_seconds']:>7.1f} {ratio(r['fit_seconds'], ref['fit_seconds']):>6} "
            f"{r['test_f1']:>8.3f} {100 * (r['test_f1'] - ref['test_f1']):>+8.1f}"
        )
    print(f"published: trainable {PUBLISHED['trainable']}, memory {PUBLISHED['memory']} (GPU), "
          f"fit time {PUBLISHED['fit_time']}, macro-F1 on par")
    for name, r in rows.items():
        parts = ", ".join(f"{k} {v / MIB:.2f}" for k, v in r["breakdown"].items() if k != "total")
        adapter = r["adapter_bytes"] / 1024
        print(f"  analytic {name}: {parts} MiB; adapter on disk {adapter:.1f} KiB")


def print_part2(full: dict[str, Any], edge: dict[str, Any], source_f1: float,
                checks: dict[str, Any]) -> None:
    speed = timing.convergence_speedup(full["curves"], edge["curves"])
    print(f"\nPart 2: LoRA-Edge on {CNN_MODEL} vs full fine-tuning (source-subject model "
          "adapted to target subjects)")
    print(f"  source model test macro-F1 (before adaptation): {source_f1:.3f}")
    for name, r in (("full", full), ("lora_edge", edge)):
        print(f"  {name:<10} trainable {r['params']['trainable']:>7} "
              f"({100 * r['params']['share']:.2f}% of the backbone), test F1 {r['test_f1']:.3f}, "
              f"fit {r['fit_seconds']:.1f} s, peak {r['peak_bytes'] / MIB:.1f} MiB, "
              f"analytic {r['breakdown']['total'] / MIB:.2f} MiB")
    gap = 100 * (full["test_f1"] - edge["test_f1"])
    print(f"  trainable share {100 * edge['params']['share']:.2f}% "
          f"(published <= {100 * PUBLISHED['edge_share']:.2f}%)")
    print(f"  F1 gap to full fine-tuning {gap:+.1f} points (published <= {PUBLISHED['edge_gap']})")
    low, high = PUBLISHED["edge_speedup"]
    if speed["time_ratio"] is None:
        print(f"  time-to-target: not reached by both runs (target {speed['target']})")
    else:
        print(f"  time to val F1 {speed['target']:.3f}: full {speed['reference_seconds']:.1f} s, "
              f"lora_edge {speed['method_seconds']:.1f} s -> speed-up {speed['time_ratio']:.2f}x "
              f"(in epochs {speed['epoch_ratio']:.2f}x; published {low}-{high}x)")
    print(f"  fused model: params {checks['params']} (base {checks['base_params']}), MACs "
          f"{checks['macs']} (base {checks['base_macs']}), max |fused - unfused| "
          f"{checks['max_diff']:.2e}, latency b1/b64 ms fused "
          f"{checks['latency'][1] * 1e3:.2f}/{checks['latency'][64] * 1e3:.2f} vs base "
          f"{checks['base_latency'][1] * 1e3:.2f}/{checks['base_latency'][64] * 1e3:.2f}")


# ---- the two parts ----------------------------------------------------------------------------


def part1(args, data, device) -> None:
    from harbench.pretrain import pretrain

    torch.manual_seed(args.seed)
    mae = harbench.build_model("mae", channels=data["channels"], window=data["window"],
                               classes=data["classes"], **MAE_PARAMS)
    started = time.perf_counter()
    state, curves = pretrain(mae, data["unlabelled"], epochs=args.pretrain_epochs,
                             seed=args.seed, device=device)
    print(f"MAE pretrained on {len(data['unlabelled'])} unlabelled training windows: "
          f"{args.pretrain_epochs} epochs, loss {curves[0]['loss']:.3f} -> "
          f"{curves[-1]['loss']:.3f}, {time.perf_counter() - started:.0f} s")
    state = {k: v.numpy() for k, v in state.items()}
    methods = [("full", "full", {}, args.lr)]
    methods += [(f"lora r{r}", "lora", {"r": r, "alpha": 2 * r}, args.adapter_lr)
                for r in LORA_RANKS]
    methods += [(f"qlora r{QLORA_RANK}", "qlora", {"r": QLORA_RANK, "alpha": 2 * QLORA_RANK},
                 args.adapter_lr)]
    rows = {}
    for label, method, params, lr in methods:
        job = make_job(args, data, model="mae", model_params=MAE_PARAMS, state=state,
                       method=method, method_params=params, train=data["train"],
                       val=data["val"], device=device, lr=lr)
        rows[label] = run_measured(job)
        print(f"  {label}: test F1 {rows[label]['test_f1']:.3f}, "
              f"{rows[label]['wall_seconds']:.0f} s", flush=True)
    print_part1(rows)


def part2(args, data, device) -> None:
    source_job = make_job(args, data, model=CNN_MODEL, model_params={}, state={},
                          method="full", method_params={}, train=data["source"],
                          val=data["val"], device=device, lr=args.lr)
    source_job["keep_state"] = True
    source = finetune_job(source_job)
    print(f"\n{CNN_MODEL} trained fully on {len(data['source']['y'])} source-subject windows: "
          f"test F1 {source['test_f1']:.3f}")
    rows = {}
    for method, lr in (("full", args.lr), ("lora_edge", args.adapter_lr)):
        job = make_job(args, data, model=CNN_MODEL, model_params={}, state=source["state"],
                       method=method, method_params={}, train=data["target"],
                       val=data["val"], device=device, lr=lr)
        rows[method] = run_measured(job)
        print(f"  {method}: test F1 {rows[method]['test_f1']:.3f}, "
              f"{rows[method]['wall_seconds']:.0f} s", flush=True)
    print_part2(rows["full"], rows["lora_edge"], source["test_f1"], fusion_checks(args, data, job))


def fusion_checks(args, data, job: dict[str, Any]) -> dict[str, Any]:
    """The fused LoRA-Edge model against the unfused one and the plain backbone."""
    model = build_adapted(job)
    with torch.no_grad():  # a non-zero update, as after training
        for name, p in model.named_parameters():
            if name.endswith(".update"):
                p.normal_(0.0, 0.05)
    model.eval()
    fused = harbench.merge(model)
    base = harbench.build_model(CNN_MODEL, channels=data["channels"], window=data["window"],
                                classes=data["classes"])
    x = torch.from_numpy(data["test"]["X"][:64])
    with torch.no_grad():
        diff = float((fused(x) - model(x)).abs().max())
    shape = {"window": data["window"], "channels": data["channels"]}
    counts, base_counts = harbench.count(fused, **shape), harbench.count(base, **shape)
    repeats, warmup = (10, 3) if args.quick else (30, 5)
    base_latency = timing.latency(base, **shape, repeats=repeats, warmup=warmup)
    return {
        "params": counts["params"], "base_params": base_counts["params"],
        "macs": counts["macs"], "base_macs": base_counts["macs"], "max_diff": diff,
        "latency": timing.latency(fused, **shape, repeats=repeats, warmup=warmup),
        "base_latency": base_latency,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device, description = device_description()
    print(f"device: {description}; torch {torch.__version__}; quick={args.quick}; "
          f"epochs {args.epochs}, pretrain epochs {args.pretrain_epochs}, batch {args.batch_size}, "
          f"lr full {args.lr}, adapters {args.adapter_lr}")
    started = time.perf_counter()
    data = load_fold(args)
    print(f"{DATASET} fold {args.fold}: test subjects {data['test_subjects']}; windows train "
          f"{len(data['train']['y'])}, val {len(data['val']['y'])}, test {len(data['test']['y'])}"
          f"; part 2 source {len(data['source']['y'])}, target {len(data['target']['y'])}")
    part1(args, data, device)
    part2(args, data, device)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
